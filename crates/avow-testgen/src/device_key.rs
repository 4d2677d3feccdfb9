//! A simulated install of Avow's own device key: the fallback for devices with no platform
//! attestation.
//!
//! The messages follow Avow's SDK protocol: the registration signs
//! `"avow-device-key-registration-v1" 0x00 ‖ nonce ‖ SHA-256(measurement)` and a refresh signs
//! `"avow-key-refresh-v1" 0x00 ‖ nonce`, both with ECDSA P-256 and SHA-256 in DER form.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

use crate::sha256;

const REGISTRATION_CONTEXT: &[u8] = b"avow-device-key-registration-v1\0";
const REFRESH_CONTEXT: &[u8] = b"avow-key-refresh-v1\0";

/// DER prefix of a P-256 SubjectPublicKeyInfo; the 65-byte point follows it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// An install with a P-256 device key.
pub struct DeviceKeyInstall {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for DeviceKeyInstall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKeyInstall").finish_non_exhaustive()
    }
}

impl Default for DeviceKeyInstall {
    fn default() -> Self {
        Self::new()
    }
}

impl DeviceKeyInstall {
    /// Creates an install with a fresh key.
    ///
    /// # Panics
    ///
    /// When the system random generator fails.
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("system random generator works");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref())
            .expect("a freshly generated key parses");
        Self { key, rng }
    }

    /// Returns the public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_spki(&self) -> Vec<u8> {
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(self.key.public_key().as_ref());
        spki
    }

    /// Returns the key id Avow stores the install under: SHA-256 of the SubjectPublicKeyInfo.
    pub fn key_id(&self) -> [u8; 32] {
        sha256(&self.public_key_spki())
    }

    /// Signs a registration of `measurement` (the exact JSON bytes sent) for `nonce`.
    pub fn sign_registration(&self, nonce: &[u8], measurement: &[u8]) -> Vec<u8> {
        let mut message = REGISTRATION_CONTEXT.to_vec();
        message.extend_from_slice(nonce);
        message.extend_from_slice(&sha256(measurement));
        self.sign(&message)
    }

    /// Signs a refresh for `nonce`.
    pub fn sign_refresh(&self, nonce: &[u8]) -> Vec<u8> {
        let mut message = REFRESH_CONTEXT.to_vec();
        message.extend_from_slice(nonce);
        self.sign(&message)
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key
            .sign(&self.rng, message)
            .expect("signing with a valid key works")
            .as_ref()
            .to_vec()
    }
}

/// Builds a measurement JSON document as the SDK would send it.
pub fn measurement_json(
    app_id: &str,
    signing_certificate_sha256: Option<&[u8; 32]>,
    installer: &str,
    root_detected: bool,
) -> Vec<u8> {
    use base64::Engine as _;
    let mut document = serde_json::json!({
        "app_id": app_id,
        "installer": installer,
        "app_version": "1.0.0",
        "debuggable": false,
        "hooking_detected": false,
        "root_detected": root_detected,
        "emulator_detected": false,
    });
    if let Some(digest) = signing_certificate_sha256 {
        document["signing_certificate_sha256"] = base64::engine::general_purpose::STANDARD
            .encode(digest)
            .into();
    }
    serde_json::to_vec(&document).expect("a JSON value serialises")
}
