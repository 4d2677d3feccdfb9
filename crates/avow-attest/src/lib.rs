//! Verification of mobile app attestation evidence.
//!
//! The crate takes evidence bytes, trust anchors and the verification time as parameters and
//! returns typed results. It opens no socket, reads no file and never looks at the system clock,
//! so real evidence can be verified at the time it was valid.
//!
//! Supported evidence:
//!
//! - Apple App Attest attestation objects and assertions ([`app_attest`]).
//!
//! What it deliberately does not do:
//!
//! - Nonce bookkeeping and counter storage: the caller consumes its nonces and stores the
//!   counter of a [`app_attest::VerifiedAssertion`] atomically.
//! - Revocation: Apple's App Attest certificates carry no revocation information.
//! - App Attest receipts are kept as bytes in [`app_attest::VerifiedAttestation`] but not parsed.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

pub mod android_key;
pub mod app_attest;
mod cbor;
pub mod device_key;
pub mod encoding;
mod error;
mod expected;
pub mod huawei_safety_detect;
mod jws;
pub mod play_integrity;
mod report;
mod roots;
pub mod safetynet;
pub mod verdict;
mod x509;

pub use error::Error;
pub use expected::{
    CertificateDigests, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_FUTURE_SKEW_SECS, Freshness,
};
pub use report::{CheckOutcome, CheckReport};
pub use roots::Roots;
pub use rustls_pki_types::UnixTime;

/// Returns the SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
