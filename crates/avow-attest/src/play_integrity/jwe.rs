//! Compact JWE decryption (RFC 7516) restricted to `A256KW` key wrapping with `A256GCM`
//! content encryption, the only combination Play Integrity uses.
//!
//! The steps follow RFC 7516 section 5.2. The five base64url parts are split and the header is
//! checked. The content encryption key is unwrapped with AES key wrap (RFC 3394). The
//! ciphertext is then decrypted with AES-256-GCM, using the 96-bit IV, the 128-bit tag, and the
//! ASCII text of the encoded protected header as additional authenticated data.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

use crate::Error;

/// The only key management algorithm accepted.
pub(crate) const ALGORITHM: &str = "A256KW";
/// The only content encryption algorithm accepted.
pub(crate) const ENCRYPTION: &str = "A256GCM";

/// An AES-256 content encryption key wrapped with RFC 3394: the key plus one 8-byte block.
const WRAPPED_KEY_LEN: usize = 32 + 8;
/// AES-GCM initialisation vector length for JWE (RFC 7518 section 5.3).
const IV_LEN: usize = 12;
/// AES-GCM authentication tag length for JWE (RFC 7518 section 5.3).
const TAG_LEN: usize = 16;

/// The protected header members that matter here. Other members (`kid`, `typ`) are ignored;
/// duplicate members are rejected by serde.
#[derive(Deserialize)]
struct Header {
    alg: String,
    enc: String,
    #[serde(default, deserialize_with = "present")]
    zip: bool,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// Decrypts a compact JWE with the AES-256 key-encryption key and returns the plaintext.
///
/// The caller has already bounded the token length.
pub(crate) fn decrypt(token: &str, key_encryption_key: &[u8; 32]) -> Result<Vec<u8>, Error> {
    let mut parts = token.trim().split('.');
    let (Some(header), Some(encrypted_key), Some(iv), Some(ciphertext), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(Error::MalformedJwe {
            detail: "not five dot-separated parts",
        });
    };

    let header_json = decode(header, "header is not base64url")?;
    let parsed: Header = serde_json::from_slice(&header_json).map_err(|_| Error::MalformedJwe {
        detail: "header is not a JSON object with string alg and enc",
    })?;
    if parsed.alg != ALGORITHM {
        return Err(Error::JweAlgorithmNotAllowed {
            member: "alg",
            received: parsed.alg,
        });
    }
    if parsed.enc != ENCRYPTION {
        return Err(Error::JweAlgorithmNotAllowed {
            member: "enc",
            received: parsed.enc,
        });
    }
    // Compressed plaintext would need a DEFLATE decoder and invites decompression bombs;
    // Google does not compress, so `zip` is rejected rather than ignored. Extensions named in
    // `crit` must be understood (RFC 7516 section 4.1.13), and none are.
    if parsed.zip {
        return Err(Error::JweHeaderNotAllowed { member: "zip" });
    }
    if parsed.crit {
        return Err(Error::JweHeaderNotAllowed { member: "crit" });
    }

    let encrypted_key = decode(encrypted_key, "encrypted key is not base64url")?;
    let iv = decode(iv, "IV is not base64url")?;
    let mut in_out = decode(ciphertext, "ciphertext is not base64url")?;
    let tag = decode(tag, "tag is not base64url")?;
    if encrypted_key.len() != WRAPPED_KEY_LEN {
        return Err(Error::MalformedJwe {
            detail: "encrypted key is not 40 bytes (a wrapped AES-256 key)",
        });
    }
    let iv: [u8; IV_LEN] = iv.as_slice().try_into().map_err(|_| Error::MalformedJwe {
        detail: "IV is not 12 bytes",
    })?;
    if tag.len() != TAG_LEN {
        return Err(Error::MalformedJwe {
            detail: "tag is not 16 bytes",
        });
    }

    let content_key = unwrap_key(key_encryption_key, &encrypted_key)?;
    // Invariant: `content_key` is 32 bytes, the key length of AES-256-GCM.
    let key = UnboundKey::new(&AES_256_GCM, content_key.as_slice())
        .map(LessSafeKey::new)
        .map_err(|_| Error::JweDecryptionFailed)?;
    in_out.extend_from_slice(&tag);
    let plaintext_len = key
        .open_in_place(
            Nonce::assume_unique_for_key(iv),
            Aad::from(header.as_bytes()),
            &mut in_out,
        )
        .map_err(|_| Error::JweDecryptionFailed)?
        .len();
    in_out.truncate(plaintext_len);
    Ok(in_out)
}

/// Unwraps an AES-256 content encryption key with RFC 3394 AES key wrap.
///
/// Fails when the integrity check value does not match, which is what a wrong key-encryption
/// key or a changed wrapped key produces.
pub(crate) fn unwrap_key(
    key_encryption_key: &[u8; 32],
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let kek = AesKek::new(&AES_256, key_encryption_key).map_err(|_| Error::JweKeyUnwrapFailed)?;
    let mut key = Zeroizing::new([0u8; 32]);
    let unwrapped_len = kek
        .unwrap(wrapped, key.as_mut_slice())
        .map_err(|_| Error::JweKeyUnwrapFailed)?
        .len();
    if unwrapped_len != key.len() {
        return Err(Error::JweKeyUnwrapFailed);
    }
    Ok(key)
}

fn decode(part: &str, detail: &'static str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::MalformedJwe { detail })
}

/// Deserializes any value, including `null`, as "the member is present".
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};

    use super::*;

    /// RFC 3394 section 4.6: 256 bits of key data wrapped with a 256-bit KEK.
    const RFC3394_KEK: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    const RFC3394_KEY_DATA: &str =
        "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F";
    const RFC3394_CIPHERTEXT: &str =
        "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21";

    const HEADER: &str = r#"{"alg":"A256KW","enc":"A256GCM"}"#;

    fn kek_from_hex(text: &str) -> [u8; 32] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    /// The five decoded parts of a JWE, so tests can change one and encode again.
    #[derive(Clone)]
    struct Parts {
        header: String,
        encrypted_key: Vec<u8>,
        iv: Vec<u8>,
        ciphertext: Vec<u8>,
        tag: Vec<u8>,
    }

    impl Parts {
        fn compact(&self) -> String {
            [
                URL_SAFE_NO_PAD.encode(&self.header),
                URL_SAFE_NO_PAD.encode(&self.encrypted_key),
                URL_SAFE_NO_PAD.encode(&self.iv),
                URL_SAFE_NO_PAD.encode(&self.ciphertext),
                URL_SAFE_NO_PAD.encode(&self.tag),
            ]
            .join(".")
        }
    }

    /// Encrypts `plaintext` as a compact JWE, independently of the code under test: AES key
    /// wrap of a random content key, then AES-256-GCM with the encoded header as AAD.
    fn encrypt(header: &str, kek: &[u8; 32], plaintext: &[u8]) -> Parts {
        let rng = SystemRandom::new();
        let mut content_key = [0u8; 32];
        rng.fill(&mut content_key).unwrap();
        let mut iv = [0u8; IV_LEN];
        rng.fill(&mut iv).unwrap();

        let mut encrypted_key = vec![0u8; WRAPPED_KEY_LEN];
        AesKek::new(&AES_256, kek)
            .unwrap()
            .wrap(&content_key, &mut encrypted_key)
            .unwrap();

        let encoded_header = URL_SAFE_NO_PAD.encode(header);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &content_key).unwrap());
        let mut ciphertext = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv),
                Aad::from(encoded_header.as_bytes()),
                &mut ciphertext,
            )
            .unwrap();
        Parts {
            header: header.to_owned(),
            encrypted_key,
            iv: iv.to_vec(),
            ciphertext,
            tag: tag.as_ref().to_vec(),
        }
    }

    #[test]
    fn rfc3394_section_4_6_unwraps() {
        let kek = kek_from_hex(RFC3394_KEK);
        let wrapped = hex::decode(RFC3394_CIPHERTEXT).unwrap();
        let key = unwrap_key(&kek, &wrapped).unwrap();
        assert_eq!(key.to_vec(), hex::decode(RFC3394_KEY_DATA).unwrap());
    }

    #[test]
    fn rfc3394_section_4_6_wraps_to_published_ciphertext() {
        // Checks the wrap direction used by the test encryptor against the same vector.
        let kek = kek_from_hex(RFC3394_KEK);
        let key_data = hex::decode(RFC3394_KEY_DATA).unwrap();
        let mut wrapped = vec![0u8; WRAPPED_KEY_LEN];
        AesKek::new(&AES_256, &kek)
            .unwrap()
            .wrap(&key_data, &mut wrapped)
            .unwrap();
        assert_eq!(wrapped, hex::decode(RFC3394_CIPHERTEXT).unwrap());
    }

    #[test]
    fn rfc3394_unwrap_with_other_kek_fails() {
        let mut kek = kek_from_hex(RFC3394_KEK);
        kek[0] ^= 0x80;
        let wrapped = hex::decode(RFC3394_CIPHERTEXT).unwrap();
        assert_eq!(
            unwrap_key(&kek, &wrapped).unwrap_err(),
            Error::JweKeyUnwrapFailed
        );
    }

    #[test]
    fn round_trip_decrypts() {
        let kek = [0x42u8; 32];
        let plaintext = b"header.payload.signature";
        let token = encrypt(HEADER, &kek, plaintext).compact();
        assert_eq!(decrypt(&token, &kek).unwrap(), plaintext);
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let kek = [0x42u8; 32];
        let token = encrypt(HEADER, &kek, b"").compact();
        assert_eq!(decrypt(&token, &kek).unwrap(), b"");
    }

    #[test]
    fn other_kek_fails_unwrap() {
        let token = encrypt(HEADER, &[0x42u8; 32], b"secret").compact();
        assert_eq!(
            decrypt(&token, &[0x43u8; 32]).unwrap_err(),
            Error::JweKeyUnwrapFailed
        );
    }

    #[test]
    fn every_encrypted_key_byte_flip_fails_unwrap() {
        let kek = [0x42u8; 32];
        let parts = encrypt(HEADER, &kek, b"secret");
        for index in 0..parts.encrypted_key.len() {
            let mut changed = parts.clone();
            changed.encrypted_key[index] ^= 0x01;
            assert_eq!(
                decrypt(&changed.compact(), &kek).unwrap_err(),
                Error::JweKeyUnwrapFailed,
                "byte {index}"
            );
        }
    }

    #[test]
    fn iv_ciphertext_tag_flips_fail_decryption() {
        let kek = [0x42u8; 32];
        let parts = encrypt(HEADER, &kek, b"a plaintext of some length");
        type Field = fn(&mut Parts) -> &mut Vec<u8>;
        let fields: [(&str, Field); 3] = [
            ("iv", |parts| &mut parts.iv),
            ("ciphertext", |parts| &mut parts.ciphertext),
            ("tag", |parts| &mut parts.tag),
        ];
        for (name, field) in fields {
            let len = field(&mut parts.clone()).len();
            for index in 0..len {
                let mut changed = parts.clone();
                field(&mut changed)[index] ^= 0x01;
                assert_eq!(
                    decrypt(&changed.compact(), &kek).unwrap_err(),
                    Error::JweDecryptionFailed,
                    "{name} byte {index}"
                );
            }
        }
    }

    #[test]
    fn equivalent_header_text_fails_decryption() {
        // The AAD is the encoded header text, so even a header with the same meaning but
        // other bytes (here a space) must fail authentication.
        let kek = [0x42u8; 32];
        let mut parts = encrypt(HEADER, &kek, b"secret");
        parts.header = r#"{"alg":"A256KW", "enc":"A256GCM"}"#.to_owned();
        assert_eq!(
            decrypt(&parts.compact(), &kek).unwrap_err(),
            Error::JweDecryptionFailed
        );
    }

    #[test]
    fn every_header_byte_flip_fails() {
        let kek = [0x42u8; 32];
        let parts = encrypt(HEADER, &kek, b"secret");
        for index in 0..parts.header.len() {
            let mut bytes = parts.header.clone().into_bytes();
            bytes[index] ^= 0x01;
            let mut changed = parts.clone();
            changed.header = String::from_utf8(bytes).unwrap();
            let error = decrypt(&changed.compact(), &kek).unwrap_err();
            // A flipped byte breaks the JSON, changes a name or value, or changes the AAD.
            assert!(
                matches!(
                    error,
                    Error::MalformedJwe { .. }
                        | Error::JweAlgorithmNotAllowed { .. }
                        | Error::JweDecryptionFailed
                ),
                "byte {index}: {error:?}"
            );
        }
    }

    #[test]
    fn other_algorithms_rejected() {
        let kek = [0x42u8; 32];
        for (header, member, received) in [
            (r#"{"alg":"A128KW","enc":"A256GCM"}"#, "alg", "A128KW"),
            (r#"{"alg":"dir","enc":"A256GCM"}"#, "alg", "dir"),
            (r#"{"alg":"A256KW","enc":"A128GCM"}"#, "enc", "A128GCM"),
            (
                r#"{"alg":"A256KW","enc":"A128CBC-HS256"}"#,
                "enc",
                "A128CBC-HS256",
            ),
        ] {
            let token = encrypt(header, &kek, b"secret").compact();
            assert_eq!(
                decrypt(&token, &kek).unwrap_err(),
                Error::JweAlgorithmNotAllowed {
                    member,
                    received: received.to_owned(),
                },
                "{header}"
            );
        }
    }

    #[test]
    fn zip_and_crit_rejected() {
        let kek = [0x42u8; 32];
        for (header, member) in [
            (r#"{"alg":"A256KW","enc":"A256GCM","zip":"DEF"}"#, "zip"),
            (r#"{"alg":"A256KW","enc":"A256GCM","zip":null}"#, "zip"),
            (r#"{"alg":"A256KW","enc":"A256GCM","crit":["exp"]}"#, "crit"),
        ] {
            let token = encrypt(header, &kek, b"secret").compact();
            assert_eq!(
                decrypt(&token, &kek).unwrap_err(),
                Error::JweHeaderNotAllowed { member },
                "{header}"
            );
        }
    }

    #[test]
    fn unknown_header_members_ignored() {
        let kek = [0x42u8; 32];
        let header = r#"{"kid":"1","alg":"A256KW","typ":"JWT","enc":"A256GCM"}"#;
        let token = encrypt(header, &kek, b"secret").compact();
        assert_eq!(decrypt(&token, &kek).unwrap(), b"secret");
    }

    #[test]
    fn duplicate_header_member_rejected() {
        let kek = [0x42u8; 32];
        let header = r#"{"alg":"A256KW","enc":"A256GCM","alg":"A256KW"}"#;
        let token = encrypt(header, &kek, b"secret").compact();
        assert_eq!(decrypt(&token, &kek).unwrap_err().reason(), "malformed_jwe");
    }

    #[test]
    fn wrong_part_count_and_sizes_rejected() {
        let kek = [0x42u8; 32];
        let parts = encrypt(HEADER, &kek, b"secret");
        let token = parts.compact();
        let (four_parts, _) = token.rsplit_once('.').unwrap();
        let cases = [
            (four_parts.to_owned(), "not five dot-separated parts"),
            (format!("{token}.x"), "not five dot-separated parts"),
            (
                token.replacen('.', ".*", 1),
                "encrypted key is not base64url",
            ),
        ];
        for (token, detail) in cases {
            assert_eq!(
                decrypt(&token, &kek).unwrap_err(),
                Error::MalformedJwe { detail },
                "{detail}"
            );
        }

        let mut short_iv = parts.clone();
        short_iv.iv.pop();
        assert_eq!(
            decrypt(&short_iv.compact(), &kek).unwrap_err(),
            Error::MalformedJwe {
                detail: "IV is not 12 bytes"
            }
        );
        let mut short_tag = parts.clone();
        short_tag.tag.pop();
        assert_eq!(
            decrypt(&short_tag.compact(), &kek).unwrap_err(),
            Error::MalformedJwe {
                detail: "tag is not 16 bytes"
            }
        );
        let mut short_key = parts;
        short_key.encrypted_key.truncate(24);
        assert_eq!(
            decrypt(&short_key.compact(), &kek).unwrap_err(),
            Error::MalformedJwe {
                detail: "encrypted key is not 40 bytes (a wrapped AES-256 key)"
            }
        );
    }
}
