//! Pin-signing keys: the ES256 signer on the server and the public keys built into apps.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    ParsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::SubjectPublicKeyInfoDer;
use rustls_pki_types::pem::PemObject as _;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::DocumentError;

/// DER prefix of a SubjectPublicKeyInfo holding an uncompressed P-256 point: SEQUENCE,
/// AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, BIT STRING of 66 bytes (no unused bits).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Length of an uncompressed SEC1 P-256 point: `0x04 || x || y`.
const P256_POINT_LEN: usize = 65;

/// A public key that verifies pin documents: a P-256 key for ES256, named by its RFC 7638
/// JWK thumbprint, which is the `kid` the signer puts in every document header.
#[derive(Clone)]
pub struct PinPublicKey {
    kid: String,
    point: [u8; P256_POINT_LEN],
    parsed: ParsedPublicKey,
}

impl fmt::Debug for PinPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinPublicKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PinPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.point == other.point
    }
}

impl Eq for PinPublicKey {}

impl PinPublicKey {
    /// Builds the key from an uncompressed SEC1 point (65 bytes starting with `0x04`).
    ///
    /// # Errors
    ///
    /// [`DocumentError::UnsupportedKey`] when the bytes are not an uncompressed point on P-256.
    pub fn from_sec1_point(point: &[u8]) -> Result<Self, DocumentError> {
        let unsupported = |detail: &'static str| DocumentError::UnsupportedKey { detail };
        let point: [u8; P256_POINT_LEN] = point
            .try_into()
            .map_err(|_| unsupported("expected a 65-byte uncompressed P-256 point"))?;
        if point[0] != 0x04 {
            return Err(unsupported(
                "expected an uncompressed point (first byte 0x04)",
            ));
        }
        let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .map_err(|_| unsupported("the point is not on the P-256 curve"))?;
        Ok(Self {
            kid: thumbprint(&point),
            point,
            parsed,
        })
    }

    /// Builds the key from a DER SubjectPublicKeyInfo of a P-256 key (uncompressed point,
    /// named curve), the form `openssl pkey -pubout -outform der` writes.
    ///
    /// # Errors
    ///
    /// [`DocumentError::UnsupportedKey`] for any other key or encoding.
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, DocumentError> {
        let point = spki.strip_prefix(P256_SPKI_PREFIX.as_slice()).ok_or(
            DocumentError::UnsupportedKey {
                detail: "expected the SubjectPublicKeyInfo of an uncompressed P-256 key",
            },
        )?;
        Self::from_sec1_point(point)
    }

    /// Builds the key from a PEM `PUBLIC KEY` block holding a P-256 SubjectPublicKeyInfo.
    ///
    /// # Errors
    ///
    /// [`DocumentError::UnsupportedKey`] when the text holds no `PUBLIC KEY` block or the key is
    /// not a P-256 key.
    pub fn from_spki_pem(pem: &str) -> Result<Self, DocumentError> {
        let der = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
            DocumentError::UnsupportedKey {
                detail: "expected a PEM block of type PUBLIC KEY",
            }
        })?;
        Self::from_spki_der(der.as_ref())
    }

    /// Builds the key from a JWK with `kty` `EC` and `crv` `P-256`.
    ///
    /// When the JWK has `alg`, it must be `ES256`. When it has `kid`, it must be the key's
    /// RFC 7638 thumbprint, because that is the only `kid` a [`PinDocumentSigner`] writes.
    ///
    /// # Errors
    ///
    /// [`DocumentError::UnsupportedKey`] for any other key, or a `kid` that is not the thumbprint.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, DocumentError> {
        let unsupported = |detail: &'static str| DocumentError::UnsupportedKey { detail };
        if jwk.kty != "EC" || jwk.crv != "P-256" {
            return Err(unsupported("expected a JWK with kty EC and crv P-256"));
        }
        if jwk
            .alg
            .as_deref()
            .is_some_and(|alg| alg != super::ALGORITHM)
        {
            return Err(unsupported("the JWK's alg is not ES256"));
        }
        let x = decode_coordinate(&jwk.x).ok_or(unsupported("x is not 32 bytes of base64url"))?;
        let y = decode_coordinate(&jwk.y).ok_or(unsupported("y is not 32 bytes of base64url"))?;
        let mut point = [0u8; P256_POINT_LEN];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        let key = Self::from_sec1_point(&point)?;
        if jwk.kid.as_deref().is_some_and(|kid| kid != key.kid) {
            return Err(unsupported(
                "the JWK's kid is not its RFC 7638 thumbprint, which signers use as kid",
            ));
        }
        Ok(key)
    }

    /// Returns the key id: the RFC 7638 JWK thumbprint (base64url SHA-256).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the uncompressed SEC1 point.
    pub fn sec1_point(&self) -> &[u8] {
        &self.point
    }

    /// Returns the DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.point);
        der
    }

    /// Returns the key as a JWK with `kid`, `alg` `ES256` and `use` `sig`.
    pub fn to_jwk(&self) -> Jwk {
        let (x, y) = coordinates(&self.point);
        Jwk {
            kty: "EC".to_owned(),
            crv: "P-256".to_owned(),
            x: URL_SAFE_NO_PAD.encode(x),
            y: URL_SAFE_NO_PAD.encode(y),
            kid: Some(self.kid.clone()),
            alg: Some(super::ALGORITHM.to_owned()),
            use_: Some("sig".to_owned()),
        }
    }

    /// Checks an ES256 signature (64 bytes, `r || s`) over `message`.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }
}

/// A public key in JWK form (RFC 7517), as the server publishes the pin-signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type, `EC` for pin-signing keys.
    pub kty: String,
    /// Curve, `P-256` for pin-signing keys.
    pub crv: String,
    /// X coordinate, base64url without padding.
    pub x: String,
    /// Y coordinate, base64url without padding.
    pub y: String,
    /// Key id: the RFC 7638 thumbprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Algorithm: `ES256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use: `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// The ES256 key that signs pin documents.
///
/// It is separate from the token signing keys, so that a token key leaking or rotating never
/// touches the pins apps trust. The `kid` is the RFC 7638 thumbprint of the public key.
pub struct PinDocumentSigner {
    key_pair: EcdsaKeyPair,
    public_key: PinPublicKey,
    rng: SystemRandom,
}

impl fmt::Debug for PinDocumentSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinDocumentSigner")
            .field("kid", &self.public_key.kid)
            .finish_non_exhaustive()
    }
}

impl PinDocumentSigner {
    /// Generates a new P-256 key. Returns the signer and its PKCS#8 document, which the caller
    /// stores (encrypted) to load the key again with [`PinDocumentSigner::from_pkcs8`].
    ///
    /// # Errors
    ///
    /// [`DocumentError::KeyRejected`] when the crypto backend fails.
    pub fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), DocumentError> {
        let rng = SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| DocumentError::KeyRejected)?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        let signer = Self::from_pkcs8(&pkcs8)?;
        Ok((signer, pkcs8))
    }

    /// Loads a P-256 key from a PKCS#8 document.
    ///
    /// # Errors
    ///
    /// [`DocumentError::KeyRejected`] when the document is not a P-256 PKCS#8 private key.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, DocumentError> {
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| DocumentError::KeyRejected)?;
        let public_key = PinPublicKey::from_sec1_point(key_pair.public_key().as_ref())?;
        Ok(Self {
            key_pair,
            public_key,
            rng: SystemRandom::new(),
        })
    }

    /// Returns the key id: the RFC 7638 JWK thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.public_key.kid
    }

    /// Returns the public key, to build into apps or publish as a JWK.
    pub fn public_key(&self) -> &PinPublicKey {
        &self.public_key
    }

    /// Signs `message` with ES256 and returns the 64-byte `r || s` signature.
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, DocumentError> {
        let signature = self
            .key_pair
            .sign(&self.rng, message)
            .map_err(|_| DocumentError::KeyRejected)?;
        Ok(signature.as_ref().to_vec())
    }
}

/// RFC 7638 thumbprint of a P-256 key: base64url SHA-256 of the JSON object with exactly the
/// members `crv`, `kty`, `x`, `y`, in that (lexicographic) order, without white space.
///
/// NOTE: avow-token computes the same thumbprint for token keys. The two crates do not share
/// it because the pin key is deliberately independent of the token crate, and the function is
/// a few lines.
fn thumbprint(point: &[u8; P256_POINT_LEN]) -> String {
    let (x, y) = coordinates(point);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x),
        URL_SAFE_NO_PAD.encode(y),
    );
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
}

fn coordinates(point: &[u8; P256_POINT_LEN]) -> (&[u8], &[u8]) {
    let (_, coordinates) = point.split_at(1);
    coordinates.split_at(32)
}

fn decode_coordinate(text: &str) -> Option<[u8; 32]> {
    URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()
}
