//! The simulated iOS device: a P-256 key standing in for a Secure Enclave App Attest key.

use std::fmt;

use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
};

use crate::pki::TestPki;
use crate::{AssertionSpec, AttestationSpec, assertion, attestation, sha256};

/// A simulated iOS device holding one App Attest key, a P-256 key pair.
///
/// Its [`Debug`] output shows the key id only, never the private key.
pub struct SimulatedDevice {
    /// Signs with ECDSA P-256 SHA-256 and returns ASN.1 DER signatures, as iOS does.
    der_signer: EcdsaKeyPair,
    /// The same key, returning fixed-width `r ‖ s` signatures.
    fixed_signer: EcdsaKeyPair,
    /// The key as an unencrypted PKCS#8 v1 document.
    pkcs8: Vec<u8>,
}

impl SimulatedDevice {
    /// Generates a device with a fresh random P-256 key.
    ///
    /// # Panics
    ///
    /// Panics if key generation fails, which happens only when the system random number
    /// generator fails.
    pub fn new() -> Self {
        // Generation and PKCS#8 export of a P-256 key only fail when aws-lc-rs cannot get
        // randomness.
        let key_pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .expect("P-256 key generation failed");
        let pkcs8 = key_pair
            .to_pkcs8v1()
            .expect("PKCS#8 export of a fresh P-256 key failed");
        // The document was just produced by aws-lc-rs from a valid P-256 key.
        Self::from_pkcs8(pkcs8.as_ref()).expect("aws-lc-rs rejected its own PKCS#8 document")
    }

    /// Loads a device key from an unencrypted PKCS#8 document, such as the one that
    /// [`SimulatedDevice::pkcs8_der`] returns.
    ///
    /// # Errors
    ///
    /// Returns aws-lc-rs's [`KeyRejected`] if the document is not a valid P-256 private key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyRejected> {
        let der_signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)?;
        let fixed_signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)?;
        Ok(Self {
            der_signer,
            fixed_signer,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// Returns the private key as an unencrypted PKCS#8 document (DER).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Returns the public key as the 65-byte uncompressed point 0x04 ‖ x ‖ y.
    pub fn public_key(&self) -> [u8; 65] {
        let mut point = [0u8; 65];
        // aws-lc-rs returns P-256 public keys as 65-byte uncompressed points.
        point.copy_from_slice(self.der_signer.public_key().as_ref());
        point
    }

    /// Returns the key id: the SHA-256 of the uncompressed public point. iOS hands it to the
    /// app as standard base64.
    pub fn key_id(&self) -> [u8; 32] {
        sha256(&self.public_key())
    }

    /// Builds an attestation object (CBOR) for this device's key, with a credential
    /// certificate issued by `pki`.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator fails, or if the mutation is
    /// [`AttestationMutation::CredentialId`](crate::AttestationMutation::CredentialId) with
    /// more than 65 535 bytes.
    pub fn attestation(&self, pki: &TestPki, spec: &AttestationSpec) -> Vec<u8> {
        attestation::build(self, pki, spec)
    }

    /// Builds an assertion (CBOR) signed by this device's key.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator fails.
    pub fn assertion(&self, spec: &AssertionSpec) -> Vec<u8> {
        assertion::build(self, spec)
    }

    /// Signs `message` with ECDSA P-256 SHA-256 and returns the ASN.1 DER signature.
    pub(crate) fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        sign(&self.der_signer, message)
    }

    /// Signs `message` with ECDSA P-256 SHA-256 and returns the 64-byte `r ‖ s` signature.
    pub(crate) fn sign_fixed(&self, message: &[u8]) -> Vec<u8> {
        sign(&self.fixed_signer, message)
    }
}

impl Default for SimulatedDevice {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SimulatedDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedDevice")
            .field("key_id", &hex::encode(self.key_id()))
            .finish_non_exhaustive()
    }
}

fn sign(key_pair: &EcdsaKeyPair, message: &[u8]) -> Vec<u8> {
    // ECDSA signing with a loaded key fails only when aws-lc-rs cannot get randomness.
    key_pair
        .sign(&SystemRandom::new(), message)
        .expect("ECDSA P-256 signing failed")
        .as_ref()
        .to_vec()
}
