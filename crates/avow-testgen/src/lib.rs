//! Test PKI and simulated iOS devices that produce format-exact Apple App Attest evidence.
//!
//! Avow's verifier tests need evidence that is byte-for-byte shaped like what an iPhone sends,
//! but signed by keys the tests control. This crate generates it:
//!
//! - [`TestPki`] is a root and an intermediate CA shaped like Apple's App Attestation chain
//!   (P-384 keys, `CA:TRUE`, `keyCertSign`), with fresh random keys on every call to
//!   [`TestPki::new`].
//! - [`SimulatedDevice`] contains a P-256 device key in place of a Secure Enclave key. It builds
//!   attestation objects ([`SimulatedDevice::attestation`]) and assertions
//!   ([`SimulatedDevice::assertion`]).
//! - [`AttestationSpec`] and [`AssertionSpec`] describe the evidence. Their `mutation` field
//!   selects at most one deliberate defect ([`AttestationMutation`], [`AssertionMutation`]), so a
//!   test can make exactly one verification step fail while every other step still passes.
//!
//! ```
//! use avow_testgen::{AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
//!
//! let pki = TestPki::new();
//! let device = SimulatedDevice::new();
//! let client_data_hash = sha256(b"server-issued challenge");
//! let spec = AttestationSpec::new(
//!     "TEAMID1234.com.example.app",
//!     client_data_hash,
//!     Environment::Development,
//! );
//! let attestation_object = device.attestation(&pki, &spec);
//! assert_eq!(attestation_object[0], 0xa3); // a CBOR map with three entries
//! ```
//!
//! The generated objects differ from Apple's in two documented ways: the `receipt` is a fixed
//! placeholder rather than a signed PKCS#7 receipt, and the intermediate signs the credential
//! certificate with ECDSA-with-SHA384 instead of ECDSA-with-SHA256 (see [`TestPki`]).

#![forbid(unsafe_code)]

pub mod android_key;
mod assertion;
mod attestation;
mod cbor;
mod device;
pub mod device_key;
pub mod huawei;
pub mod mmdb;
mod pki;
pub mod play_integrity;
pub mod safetynet;

use aws_lc_rs::digest;

pub use crate::assertion::{AssertionMutation, AssertionSpec};
pub use crate::attestation::{
    AttestationMutation, AttestationSpec, Environment, IOS_EXTENSION_BUNDLE_VERSION,
    IOS_EXTENSION_VALIDATION_CATEGORY, PLACEHOLDER_RECEIPT,
};
pub use crate::device::SimulatedDevice;
pub use crate::huawei::{SysIntegrityAlgorithm, SysIntegrityGenerator, SysIntegritySpec};
pub use crate::pki::TestPki;
pub use crate::safetynet::{
    LeafName, Padding, ResultMutation, ResultPayload, ResultSigner, SafetyNetGenerator,
    SafetyNetSpec,
};

/// The `fmt` value of an App Attest attestation object.
pub const APP_ATTEST_FORMAT: &str = "apple-appattest";

/// The OID of Apple's certificate extension that carries the expected certificate nonce,
/// SHA-256(authData ‖ clientDataHash), as dotted decimal.
pub const NONCE_EXTENSION_OID: &str = "1.2.840.113635.100.8.2";

/// The first six bytes of the nonce extension value: `SEQUENCE { [1] EXPLICIT OCTET STRING }`
/// with a 32-byte octet string. The 32 nonce bytes follow them.
pub const NONCE_EXTENSION_PREFIX: [u8; 6] = [0x30, 0x24, 0xa1, 0x22, 0x04, 0x20];

/// Computes the SHA-256 digest of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Computes the `rpIdHash` for an App ID (`TEAMID.bundle.identifier`): the SHA-256 of its UTF-8
/// bytes.
pub fn app_id_hash(app_id: &str) -> [u8; 32] {
    sha256(app_id.as_bytes())
}

/// Computes the expected certificate nonce that Apple puts in the credential certificate:
/// SHA-256(authData ‖ clientDataHash).
pub fn expected_cert_nonce(auth_data: &[u8], client_data_hash: &[u8]) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(auth_data);
    context.update(client_data_hash);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

#[cfg(test)]
mod tests;
