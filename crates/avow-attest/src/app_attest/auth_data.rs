//! Authenticator data as App Attest lays it out.
//!
//! ```text
//! rpIdHash (32) | flags (1) | signCount (4, big-endian)
//!   [ aaguid (16) | credentialIdLength (2, big-endian) | credentialId | COSE_Key ]   attestations
//!   [ extension map (CBOR) ]                                                          recent iOS
//! ```

use ciborium::value::Value;

use crate::Error;
use crate::cbor;

/// Flag bit: attested credential data follows the counter.
const FLAG_ATTESTED_CREDENTIAL_DATA: u8 = 0x40;
/// Flag bit: an extension map ends the authenticator data.
const FLAG_EXTENSION_DATA: u8 = 0x80;

const RP_ID_HASH_LEN: usize = 32;
const HEADER_LEN: usize = RP_ID_HASH_LEN + 1 + 4;
const AAGUID_LEN: usize = 16;
/// App Attest credential ids are SHA-256 hashes.
const MAX_CREDENTIAL_ID_LEN: usize = 1023;

/// The fixed header present in every authenticator data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) rp_id_hash: [u8; 32],
    pub(crate) flags: u8,
    pub(crate) counter: u32,
}

/// Authenticator data of an attestation, with its attested credential data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttestationAuthData {
    pub(crate) header: Header,
    pub(crate) aaguid: [u8; AAGUID_LEN],
    pub(crate) credential_id: Vec<u8>,
    /// The credential public key as an uncompressed SEC1 point (`04 ‖ x ‖ y`).
    pub(crate) credential_public_key: [u8; 65],
    pub(crate) extensions: Option<Extensions>,
}

/// Authenticator data of an assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AssertionAuthData {
    pub(crate) header: Header,
    pub(crate) extensions: Option<Extensions>,
}

/// The extension map that recent iOS versions append to authenticator data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// `apple_bundle_version_01`: the app's bundle version, when present.
    pub bundle_version: Option<String>,
    /// `apple_validation_category_01`: the raw category value, when present.
    pub validation_category: Option<Vec<u8>>,
}

fn split_header(input: &[u8]) -> Result<(Header, &[u8]), Error> {
    let Some((header, rest)) = input.split_first_chunk::<HEADER_LEN>() else {
        return Err(Error::InvalidAuthenticatorData {
            detail: "shorter than the 37-byte header",
        });
    };
    let (rp_id_hash, tail) =
        header
            .split_first_chunk::<RP_ID_HASH_LEN>()
            .ok_or(Error::InvalidAuthenticatorData {
                detail: "shorter than the 37-byte header",
            })?;
    let [flags, c0, c1, c2, c3] =
        <[u8; 5]>::try_from(tail).map_err(|_| Error::InvalidAuthenticatorData {
            detail: "shorter than the 37-byte header",
        })?;
    let header = Header {
        rp_id_hash: *rp_id_hash,
        flags,
        counter: u32::from_be_bytes([c0, c1, c2, c3]),
    };
    Ok((header, rest))
}

/// Parses the authenticator data of an attestation.
pub(crate) fn parse_attestation(input: &[u8]) -> Result<AttestationAuthData, Error> {
    let (header, rest) = split_header(input)?;
    if header.flags & FLAG_ATTESTED_CREDENTIAL_DATA == 0 {
        return Err(Error::InvalidAuthenticatorData {
            detail: "attested credential data flag is not set",
        });
    }

    let Some((aaguid, rest)) = rest.split_first_chunk::<AAGUID_LEN>() else {
        return Err(Error::InvalidAuthenticatorData {
            detail: "truncated before the end of the AAGUID",
        });
    };
    let Some((length, rest)) = rest.split_first_chunk::<2>() else {
        return Err(Error::InvalidAuthenticatorData {
            detail: "truncated before the credential id length",
        });
    };
    let credential_id_len = usize::from(u16::from_be_bytes(*length));
    if credential_id_len > MAX_CREDENTIAL_ID_LEN || credential_id_len > rest.len() {
        return Err(Error::InvalidAuthenticatorData {
            detail: "credential id length exceeds the data",
        });
    }
    let (credential_id, rest) = rest.split_at(credential_id_len);

    let (cose_key, rest) = cbor::decode_prefix(rest, "credential public key")?;
    let credential_public_key = parse_cose_key(&cose_key)?;
    let extensions = parse_extensions(header.flags, rest)?;

    Ok(AttestationAuthData {
        header,
        aaguid: *aaguid,
        credential_id: credential_id.to_vec(),
        credential_public_key,
        extensions,
    })
}

/// Parses the authenticator data of an assertion.
///
/// App Attest sets the attested-credential-data flag in assertions even though no credential
/// data follows, so the flag is ignored here.
pub(crate) fn parse_assertion(input: &[u8]) -> Result<AssertionAuthData, Error> {
    let (header, rest) = split_header(input)?;
    let extensions = parse_extensions(header.flags, rest)?;
    Ok(AssertionAuthData { header, extensions })
}

/// Parses what follows the credential data: nothing, or exactly one CBOR map.
///
/// iOS releases from 2026 append the map while leaving the extension-data flag clear, so the
/// map is accepted whatever the flag is. A flag set with no map is rejected.
fn parse_extensions(flags: u8, rest: &[u8]) -> Result<Option<Extensions>, Error> {
    if rest.is_empty() {
        if flags & FLAG_EXTENSION_DATA != 0 {
            return Err(Error::InvalidAuthenticatorData {
                detail: "extension data flag is set but no extension map follows",
            });
        }
        return Ok(None);
    }
    if rest.first().is_some_and(|first| first >> 5 != 5) {
        return Err(Error::TrailingBytes {
            what: "authenticator data",
            len: rest.len(),
        });
    }
    let map = cbor::decode_exact(rest, "authenticator data extensions")?;
    let entries = cbor::as_map(&map, "authenticator data extensions")?;
    let mut extensions = Extensions::default();
    for (key, value) in entries {
        let Value::Text(key) = key else {
            return Err(Error::InvalidAuthenticatorData {
                detail: "extension map key is not a text string",
            });
        };
        match (key.as_str(), value) {
            ("apple_bundle_version_01", Value::Text(text)) => {
                extensions.bundle_version = Some(text.clone());
            }
            ("apple_validation_category_01", Value::Bytes(bytes)) => {
                extensions.validation_category = Some(bytes.clone());
            }
            ("apple_validation_category_01", Value::Text(text)) => {
                extensions.validation_category = Some(text.as_bytes().to_vec());
            }
            ("apple_bundle_version_01" | "apple_validation_category_01", _) => {
                return Err(Error::InvalidAuthenticatorData {
                    detail: "extension value has an unexpected type",
                });
            }
            // Unknown extensions are covered by the certificate nonce, so they are kept out of
            // the verdict but do not fail verification.
            _ => {}
        }
    }
    Ok(Some(extensions))
}

/// COSE key labels and values (RFC 9052, RFC 9053).
const COSE_KTY: i64 = 1;
const COSE_ALG: i64 = 3;
const COSE_EC2_CRV: i64 = -1;
const COSE_EC2_X: i64 = -2;
const COSE_EC2_Y: i64 = -3;
const COSE_KTY_EC2: i64 = 2;
const COSE_ALG_ES256: i64 = -7;
const COSE_CRV_P256: i64 = 1;

/// Converts a COSE EC2 P-256 key to an uncompressed SEC1 point, whatever the order of its
/// entries.
fn parse_cose_key(key: &Value) -> Result<[u8; 65], Error> {
    let entries = cbor::as_map(key, "credential public key")?;
    for (label, _) in entries {
        let known = matches!(label, Value::Integer(integer)
            if [COSE_KTY, COSE_ALG, COSE_EC2_CRV, COSE_EC2_X, COSE_EC2_Y]
                .iter()
                .any(|known| i128::from(*integer) == i128::from(*known)));
        if !known {
            return Err(Error::UnsupportedCredentialKey {
                detail: "unexpected COSE key parameter",
            });
        }
    }
    let integer = |label: i64| match cbor::integer_key(entries, label) {
        Some(Value::Integer(value)) => Some(i128::from(*value)),
        _ => None,
    };
    if integer(COSE_KTY) != Some(COSE_KTY_EC2.into()) {
        return Err(Error::UnsupportedCredentialKey {
            detail: "key type is not EC2",
        });
    }
    if integer(COSE_ALG) != Some(COSE_ALG_ES256.into()) {
        return Err(Error::UnsupportedCredentialKey {
            detail: "algorithm is not ES256",
        });
    }
    if integer(COSE_EC2_CRV) != Some(COSE_CRV_P256.into()) {
        return Err(Error::UnsupportedCredentialKey {
            detail: "curve is not P-256",
        });
    }
    let coordinate = |label: i64| match cbor::integer_key(entries, label) {
        Some(Value::Bytes(bytes)) => <[u8; 32]>::try_from(bytes.as_slice()).ok(),
        _ => None,
    };
    let (Some(x), Some(y)) = (coordinate(COSE_EC2_X), coordinate(COSE_EC2_Y)) else {
        return Err(Error::UnsupportedCredentialKey {
            detail: "coordinates are missing or not 32 bytes",
        });
    };
    let mut point = [0u8; 65];
    point[0] = 0x04;
    point[1..33].copy_from_slice(&x);
    point[33..].copy_from_slice(&y);
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8, counter: u32) -> Vec<u8> {
        let mut data = vec![7u8; 32];
        data.push(flags);
        data.extend_from_slice(&counter.to_be_bytes());
        data
    }

    #[test]
    fn assertion_header_parsed() {
        let parsed = parse_assertion(&header(0x40, 3)).unwrap();
        assert_eq!(parsed.header.counter, 3);
        assert_eq!(parsed.header.rp_id_hash, [7u8; 32]);
        assert_eq!(parsed.extensions, None);
    }

    #[test]
    fn short_header_rejected() {
        let error = parse_assertion(&[0u8; 36]).unwrap_err();
        assert_eq!(error.reason(), "invalid_authenticator_data");
    }

    #[test]
    fn assertion_extension_map_accepted_with_flag_clear() {
        let mut data = header(0x40, 1);
        // {"apple_bundle_version_01": "1"}
        data.push(0xa1);
        data.push(0x77);
        data.extend_from_slice(b"apple_bundle_version_01");
        data.extend_from_slice(&[0x61, b'1']);
        let parsed = parse_assertion(&data).unwrap();
        assert_eq!(
            parsed.extensions.unwrap().bundle_version.as_deref(),
            Some("1")
        );
    }

    #[test]
    fn assertion_trailing_junk_rejected() {
        let mut data = header(0x40, 1);
        data.extend_from_slice(&[0x01, 0x02]);
        let error = parse_assertion(&data).unwrap_err();
        assert_eq!(error.reason(), "trailing_bytes");
    }

    #[test]
    fn extension_flag_without_map_rejected() {
        let error = parse_assertion(&header(0xc0, 1)).unwrap_err();
        assert_eq!(error.reason(), "invalid_authenticator_data");
    }

    #[test]
    fn credential_id_length_beyond_data_rejected() {
        let mut data = header(0x40, 0);
        data.extend_from_slice(&[0u8; 16]);
        data.extend_from_slice(&[0x00, 0x40]);
        data.extend_from_slice(&[1u8; 10]);
        let error = parse_attestation(&data).unwrap_err();
        assert_eq!(error.reason(), "invalid_authenticator_data");
    }
}
