//! Signatures by an attested key, for refreshes after the first attestation.

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer as _;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::Error;

/// Largest message accepted by [`verify_key_signature`].
pub const MAX_SIGNED_MESSAGE_LEN: usize = 64 * 1024;

/// Verifies a signature made with an attested key.
///
/// `public_key_spki_der` is the DER SubjectPublicKeyInfo from
/// [`VerifiedAndroidKey::public_key_spki`](super::VerifiedAndroidKey::public_key_spki).
/// Supported keys and signatures, the forms Android Keystore produces:
///
/// - EC P-256 with ECDSA over SHA-256, the signature DER-encoded (`SHA256withECDSA`);
/// - RSA (2048 to 8192 bits) with PKCS#1 v1.5 over SHA-256 (`SHA256withRSA`).
///
/// # Errors
///
/// [`Error::UnsupportedPublicKey`] for another key type or a malformed key,
/// [`Error::InputTooLarge`] for a message above [`MAX_SIGNED_MESSAGE_LEN`], and
/// [`Error::KeySignatureInvalid`] when the signature does not verify.
pub fn verify_key_signature(
    public_key_spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    if message.len() > MAX_SIGNED_MESSAGE_LEN {
        return Err(Error::InputTooLarge {
            what: "signed message",
            len: message.len(),
            max: MAX_SIGNED_MESSAGE_LEN,
        });
    }
    let (rest, spki) = SubjectPublicKeyInfo::from_der(public_key_spki_der).map_err(|_| {
        Error::UnsupportedPublicKey {
            detail: "not a DER SubjectPublicKeyInfo",
        }
    })?;
    if !rest.is_empty() {
        return Err(Error::UnsupportedPublicKey {
            detail: "bytes follow the SubjectPublicKeyInfo",
        });
    }
    let key_bits = spki.subject_public_key.data.as_ref();
    let algorithm = &spki.algorithm.algorithm;
    let key = if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok());
        if curve != Some(OID_EC_P256) {
            return Err(Error::UnsupportedPublicKey {
                detail: "EC keys other than P-256 are not supported",
            });
        }
        UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, key_bits)
    } else if *algorithm == OID_PKCS1_RSAENCRYPTION {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, key_bits)
    } else {
        return Err(Error::UnsupportedPublicKey {
            detail: "only EC P-256 and RSA keys are supported",
        });
    };
    key.verify(message, signature)
        .map_err(|_| Error::KeySignatureInvalid)
}
