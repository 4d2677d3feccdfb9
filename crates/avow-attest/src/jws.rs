//! Compact JWS (RFC 7515) parsing and signature checks for provider evidence.
//!
//! Only the algorithms a provider is known to use are accepted, and the caller names them:
//! the header's `alg` selects among those, never beyond. Headers that point at keys elsewhere
//! (`jku`, `x5u`, `jwk`) are ignored; the key comes from `x5c` checked against pinned roots,
//! or from configuration.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use crate::Error;

/// JWS signature algorithms used by attestation providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JwsAlgorithm {
    /// ECDSA P-256 with SHA-256, signature as `r ‖ s` (64 bytes).
    Es256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
}

impl JwsAlgorithm {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "PS256" => Some(Self::Ps256),
            "RS256" => Some(Self::Rs256),
            _ => None,
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            Self::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

/// The header members providers use. Duplicate members are rejected by serde.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Header {
    pub(crate) alg: String,
    /// Certificate chain, leaf first, each in standard base64 DER (RFC 7515 section 4.1.6).
    #[serde(default)]
    pub(crate) x5c: Vec<String>,
}

/// A parsed compact JWS whose signature is not verified yet.
#[derive(Clone, Debug)]
pub(crate) struct Jws {
    pub(crate) header: Header,
    algorithm: JwsAlgorithm,
    signing_input: Vec<u8>,
    pub(crate) payload: Vec<u8>,
    signature: Vec<u8>,
}

/// base64url that accepts parts with or without `=` padding.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Jws {
    /// Parses `token`, requiring its `alg` to be one of `allowed`.
    pub(crate) fn parse(
        token: &str,
        max_len: usize,
        allowed: &[JwsAlgorithm],
    ) -> Result<Self, Error> {
        Self::parse_with(token, max_len, allowed, &URL_SAFE_NO_PAD)
    }

    /// Parses `token` like [`Jws::parse`], but also accepts parts that end in `=` padding.
    /// RFC 7515 forbids padding, but Huawei's SysIntegrity results are reported to carry it.
    /// The signing input stays the header and payload text as received.
    pub(crate) fn parse_allowing_padding(
        token: &str,
        max_len: usize,
        allowed: &[JwsAlgorithm],
    ) -> Result<Self, Error> {
        Self::parse_with(token, max_len, allowed, &URL_SAFE_ANY_PADDING)
    }

    fn parse_with(
        token: &str,
        max_len: usize,
        allowed: &[JwsAlgorithm],
        base64url: &GeneralPurpose,
    ) -> Result<Self, Error> {
        if token.len() > max_len {
            return Err(Error::InputTooLarge {
                what: "JWS",
                len: token.len(),
                max: max_len,
            });
        }
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::MalformedJws {
                detail: "not three dot-separated parts",
            });
        };
        let decode = |part: &str, detail| {
            base64url
                .decode(part)
                .map_err(|_| Error::MalformedJws { detail })
        };
        let header_bytes = decode(header, "header is not base64url")?;
        let payload_bytes = decode(payload, "payload is not base64url")?;
        let signature_bytes = decode(signature, "signature is not base64url")?;
        let parsed: Header =
            serde_json::from_slice(&header_bytes).map_err(|_| Error::MalformedJws {
                detail: "header is not a JSON object with a string alg",
            })?;
        let algorithm = JwsAlgorithm::from_name(&parsed.alg)
            .filter(|algorithm| allowed.contains(algorithm))
            .ok_or_else(|| Error::JwsAlgorithmNotAllowed {
                received: parsed.alg.clone(),
            })?;
        let signing_input = token
            .get(..header.len() + 1 + payload.len())
            .ok_or(Error::MalformedJws {
                detail: "not three dot-separated parts",
            })?
            .as_bytes()
            .to_vec();
        Ok(Self {
            header: parsed,
            algorithm,
            signing_input,
            payload: payload_bytes,
            signature: signature_bytes,
        })
    }

    /// Decodes the `x5c` chain to DER certificates, leaf first.
    pub(crate) fn x5c_der(&self) -> Result<Vec<Vec<u8>>, Error> {
        if self.header.x5c.is_empty() {
            return Err(Error::MalformedJws {
                detail: "header has no x5c certificate chain",
            });
        }
        self.header
            .x5c
            .iter()
            .map(|certificate| {
                STANDARD
                    .decode(certificate)
                    .map_err(|_| Error::MalformedJws {
                        detail: "x5c entry is not standard base64",
                    })
            })
            .collect()
    }

    /// Verifies the signature with the subject public key of a DER certificate.
    pub(crate) fn verify_with_certificate(&self, certificate_der: &[u8]) -> Result<(), Error> {
        let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der)
            .map_err(|_| Error::MalformedCertificate { which: "leaf" })?;
        let key = certificate.public_key().subject_public_key.data.as_ref();
        self.verify_with_key(key)
    }

    /// Verifies the signature with a raw public key: an uncompressed SEC1 point for ES256, a
    /// PKCS#1 `RSAPublicKey` for RS256 and PS256.
    pub(crate) fn verify_with_key(&self, key: &[u8]) -> Result<(), Error> {
        UnparsedPublicKey::new(self.algorithm.verification(), key)
            .verify(&self.signing_input, &self.signature)
            .map_err(|_| Error::JwsSignatureInvalid)
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

    use super::*;

    fn signed(header: &str, payload: &str) -> (String, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = key.sign(&rng, input.as_bytes()).unwrap();
        (
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())),
            key.public_key().as_ref().to_vec(),
        )
    }

    #[test]
    fn es256_signature_verifies() {
        let (token, key) = signed(r#"{"alg":"ES256"}"#, r#"{"a":1}"#);
        let jws = Jws::parse(&token, 4096, &[JwsAlgorithm::Es256]).unwrap();
        assert_eq!(jws.payload, br#"{"a":1}"#);
        assert!(jws.verify_with_key(&key).is_ok());
    }

    #[test]
    fn changed_payload_fails_signature() {
        let (token, key) = signed(r#"{"alg":"ES256"}"#, r#"{"a":1}"#);
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = URL_SAFE_NO_PAD.encode(r#"{"a":2}"#);
        parts[1] = &other;
        let jws = Jws::parse(&parts.join("."), 4096, &[JwsAlgorithm::Es256]).unwrap();
        assert_eq!(jws.verify_with_key(&key), Err(Error::JwsSignatureInvalid));
    }

    #[test]
    fn algorithm_outside_allowed_set_rejected() {
        let (token, _) = signed(r#"{"alg":"ES256"}"#, "{}");
        let error = Jws::parse(&token, 4096, &[JwsAlgorithm::Rs256]).unwrap_err();
        assert_eq!(error.reason(), "jws_algorithm_not_allowed");
        let (token, _) = signed(r#"{"alg":"none"}"#, "{}");
        let error = Jws::parse(&token, 4096, &[JwsAlgorithm::Es256]).unwrap_err();
        assert_eq!(error.reason(), "jws_algorithm_not_allowed");
    }

    #[test]
    fn truncated_and_oversized_rejected() {
        let (token, _) = signed(r#"{"alg":"ES256"}"#, "{}");
        let (first, _) = token.rsplit_once('.').unwrap();
        let error = Jws::parse(first, 4096, &[JwsAlgorithm::Es256]).unwrap_err();
        assert_eq!(error.reason(), "malformed_jws");
        let error = Jws::parse(&token, 10, &[JwsAlgorithm::Es256]).unwrap_err();
        assert_eq!(error.reason(), "input_too_large");
    }

    #[test]
    fn padding_accepted_only_when_allowed() {
        // A 22-byte header encodes to 30 characters, which padding completes with "==".
        let (token, key) = signed(r#"{"alg":"ES256","x":12}"#, r#"{"a":12}"#);
        let parts: Vec<&str> = token.split('.').collect();
        let padded = format!("{}==.{}.{}", parts[0], parts[1], parts[2]);
        let error = Jws::parse(&padded, 4096, &[JwsAlgorithm::Es256]).unwrap_err();
        assert_eq!(error.reason(), "malformed_jws");
        let jws = Jws::parse_allowing_padding(&padded, 4096, &[JwsAlgorithm::Es256]).unwrap();
        assert_eq!(jws.payload, br#"{"a":12}"#);
        // The signing input is the text as received, so a signature over the unpadded header
        // does not verify once padding is added.
        assert_eq!(jws.verify_with_key(&key), Err(Error::JwsSignatureInvalid));
        let unpadded = Jws::parse_allowing_padding(&token, 4096, &[JwsAlgorithm::Es256]).unwrap();
        assert!(unpadded.verify_with_key(&key).is_ok());
    }

    #[test]
    fn duplicate_header_member_rejected() {
        let (token, _) = signed(r#"{"alg":"ES256","alg":"none"}"#, "{}");
        let error = Jws::parse(&token, 4096, &[JwsAlgorithm::Es256]).unwrap_err();
        assert_eq!(error.reason(), "malformed_jws");
    }

    #[test]
    fn missing_x5c_rejected() {
        let (token, _) = signed(r#"{"alg":"ES256"}"#, "{}");
        let jws = Jws::parse(&token, 4096, &[JwsAlgorithm::Es256]).unwrap();
        assert_eq!(jws.x5c_der().unwrap_err().reason(), "malformed_jws");
    }
}
