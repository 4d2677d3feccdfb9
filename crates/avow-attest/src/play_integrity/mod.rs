//! Google Play Integrity: integrity tokens decrypted and verified locally, and verdicts that
//! Google has already decoded.
//!
//! Two entry points share one set of payload checks:
//!
//! - [`verify_token`] takes the integrity token of a request. The token is a compact JWE
//!   (`A256KW` key wrapping, `A256GCM` content encryption) whose plaintext is a compact JWS
//!   signed `ES256`. The app's decryption key and verification key come from the Play Console,
//!   where the developer chose to manage the response encryption keys.
//! - [`verify_decoded_payload`] takes the JSON that Google's `decodeIntegrityToken` endpoint
//!   returned. The caller makes that call, because this crate does no I/O. Google has
//!   decrypted and verified the token, so only the payload checks run.
//!
//! The payload checks follow Google's "Integrity verdicts" page
//! (<https://developer.android.com/google/play/integrity/verdicts>), in its order:
//! `requestDetails` first (package name, nonce or request hash, timestamp), then
//! `appIntegrity` (package name, signing certificate digests, version code). The labels in
//! `deviceIntegrity`, `accountDetails`, `environmentDetails` and `testingDetails` never make
//! verification fail. They become the [`Verdict`], and policy decides.
//!
//! The token carries no expiry, so freshness comes from `requestDetails.timestampMillis`
//! alone, checked against the caller's [`Freshness`] window.

mod jwe;
mod payload;
mod verified;
mod verify;

use std::fmt;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use zeroize::Zeroizing;

pub use payload::{
    AppLicensingVerdict, AppRecognitionVerdict, AppsDetectedLabel, DeviceActivityLevel,
    DeviceRecognitionLabel, PlayProtectVerdict,
};
pub use verified::VerifiedPlayIntegrity;
pub use verify::{
    PlayIntegrityCheck, PlayIntegrityReport, verify_decoded_payload, verify_decoded_payload_report,
    verify_token, verify_token_report,
};

#[cfg(doc)]
use crate::verdict::Verdict;
pub use crate::{
    CertificateDigests, CheckOutcome, CheckReport, DEFAULT_MAX_AGE_SECS,
    DEFAULT_MAX_FUTURE_SKEW_SECS, Freshness,
};
use crate::{Error, encoding::decode_base64_any};

/// Largest integrity token accepted, in bytes of text. A generated token carrying every
/// documented verdict (760 bytes of JSON) is about 1.6 KiB, so the limit leaves room for the
/// optional verdicts Google adds over time.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Largest decoded payload accepted, in bytes of JSON, whether it comes from a token or from
/// `decodeIntegrityToken`.
pub const MAX_PAYLOAD_LEN: usize = 16 * 1024;

/// DER prefix of a SubjectPublicKeyInfo for an EC key on the named curve P-256
/// (`id-ecPublicKey`, `prime256v1`); the 65-byte uncompressed point follows it. DER is
/// canonical, so every such key starts with exactly these bytes.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The app's response encryption keys, as the Play Console gives them.
///
/// `Debug` prints no key material, and the decryption key is zeroed on drop.
#[derive(Clone)]
pub struct PlayIntegrityKeys {
    decryption_key: Zeroizing<[u8; 32]>,
    verification_key: [u8; 65],
}

impl PlayIntegrityKeys {
    /// Builds the keys from the decryption key (32 bytes, the AES-256 key-encryption key) and
    /// the verification key (DER SubjectPublicKeyInfo of a P-256 public key).
    ///
    /// # Errors
    ///
    /// [`Error::MalformedKey`] when the decryption key is not 32 bytes, or the verification key
    /// is not a P-256 SubjectPublicKeyInfo whose point lies on the curve.
    pub fn new(decryption_key: &[u8], verification_key_spki: &[u8]) -> Result<Self, Error> {
        let decryption_key: [u8; 32] =
            decryption_key.try_into().map_err(|_| Error::MalformedKey {
                which: "decryption key",
                detail: "not 32 bytes (an AES-256 key)",
            })?;
        let point: [u8; 65] = verification_key_spki
            .strip_prefix(P256_SPKI_PREFIX.as_slice())
            .and_then(|point| point.try_into().ok())
            .ok_or(Error::MalformedKey {
                which: "verification key",
                detail: "not a DER SubjectPublicKeyInfo of a P-256 key",
            })?;
        ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).map_err(|_| Error::MalformedKey {
            which: "verification key",
            detail: "the point is not on the P-256 curve",
        })?;
        Ok(Self {
            decryption_key: Zeroizing::new(decryption_key),
            verification_key: point,
        })
    }

    /// Builds the keys from the base64 text that the Play Console shows, in any base64 variant.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedKey`] when a key is not base64, or as for [`PlayIntegrityKeys::new`].
    pub fn from_base64(decryption_key: &str, verification_key: &str) -> Result<Self, Error> {
        let decryption_key =
            Zeroizing::new(
                decode_base64_any(decryption_key).map_err(|_| Error::MalformedKey {
                    which: "decryption key",
                    detail: "not base64",
                })?,
            );
        let verification_key =
            decode_base64_any(verification_key).map_err(|_| Error::MalformedKey {
                which: "verification key",
                detail: "not base64",
            })?;
        Self::new(&decryption_key, &verification_key)
    }

    /// Returns the verification key as an uncompressed SEC1 P-256 point.
    pub fn verification_key_point(&self) -> &[u8; 65] {
        &self.verification_key
    }

    pub(crate) fn decryption_key(&self) -> &[u8; 32] {
        &self.decryption_key
    }
}

impl fmt::Debug for PlayIntegrityKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityKeys").finish_non_exhaustive()
    }
}

/// The binding of a request to the server: the value the app passed to Play Integrity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBinding<'a> {
    /// Classic requests: the server-issued nonce bytes, compared with
    /// `requestDetails.nonce`.
    Nonce(&'a [u8]),
    /// Standard requests: the request hash bytes, compared with `requestDetails.requestHash`.
    RequestHash(&'a [u8]),
}

impl<'a> RequestBinding<'a> {
    pub(crate) fn field(self) -> &'static str {
        match self {
            Self::Nonce(_) => "requestDetails.nonce",
            Self::RequestHash(_) => "requestDetails.requestHash",
        }
    }

    pub(crate) fn expected(self) -> &'a [u8] {
        match self {
            Self::Nonce(bytes) | Self::RequestHash(bytes) => bytes,
        }
    }
}

/// The server's expectation of a verdict: the app, the request binding, and optional limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpectedRequest<'a> {
    /// The app's package name, compared with `requestDetails.requestPackageName` and
    /// `appIntegrity.packageName`.
    pub package_name: &'a str,
    /// The nonce or request hash the app passed to Play Integrity.
    pub binding: RequestBinding<'a>,
    /// The registered signing certificate digests. Every digest in
    /// `appIntegrity.certificateSha256Digest` must be registered. With
    /// [`CertificateDigests::NotCompared`], Google's `appRecognitionVerdict` alone decides
    /// whether the app is genuine: a re-signed app shows as `UNRECOGNIZED_VERSION`, which the
    /// verdict reports as
    /// [`AppIntegrity::Unrecognized`](crate::verdict::AppIntegrity::Unrecognized), not as an
    /// error.
    pub certificate_digests: CertificateDigests<'a>,
    /// The lowest `appIntegrity.versionCode` accepted, when there is one.
    pub min_version_code: Option<i64>,
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn generated_spki() -> Vec<u8> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(key.public_key().as_ref());
        spki
    }

    #[test]
    fn keys_parse_from_base64() {
        let spki = generated_spki();
        let keys =
            PlayIntegrityKeys::from_base64(&STANDARD.encode([7u8; 32]), &STANDARD.encode(&spki))
                .unwrap();
        assert_eq!(keys.decryption_key(), &[7u8; 32]);
        assert_eq!(keys.verification_key_point().as_slice(), &spki[26..]);
    }

    #[test]
    fn short_decryption_key_rejected() {
        let error = PlayIntegrityKeys::new(&[0u8; 16], &generated_spki()).unwrap_err();
        assert_eq!(
            error,
            Error::MalformedKey {
                which: "decryption key",
                detail: "not 32 bytes (an AES-256 key)",
            }
        );
    }

    #[test]
    fn point_off_curve_rejected() {
        let mut spki = generated_spki();
        let last = spki.len() - 1;
        spki[last] ^= 0x01;
        let error = PlayIntegrityKeys::new(&[0u8; 32], &spki).unwrap_err();
        assert_eq!(
            error,
            Error::MalformedKey {
                which: "verification key",
                detail: "the point is not on the P-256 curve",
            }
        );
    }

    #[test]
    fn other_curve_or_truncated_spki_rejected() {
        let not_p256 = Error::MalformedKey {
            which: "verification key",
            detail: "not a DER SubjectPublicKeyInfo of a P-256 key",
        };
        let mut spki = generated_spki();
        // The last byte of the curve OID: 1.2.840.10045.3.1.7 becomes 1.2.840.10045.3.1.6.
        spki[22] ^= 0x01;
        assert_eq!(
            PlayIntegrityKeys::new(&[0u8; 32], &spki).unwrap_err(),
            not_p256
        );
        let spki = generated_spki();
        assert_eq!(
            PlayIntegrityKeys::new(&[0u8; 32], &spki[..90]).unwrap_err(),
            not_p256
        );
    }

    #[test]
    fn debug_prints_no_key_material() {
        let keys = PlayIntegrityKeys::new(&[7u8; 32], &generated_spki()).unwrap();
        assert_eq!(format!("{keys:?}"), "PlayIntegrityKeys { .. }");
    }
}
