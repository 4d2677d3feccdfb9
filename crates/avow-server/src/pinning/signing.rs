//! The pin-signing key: an ES256 key that signs pin documents and nothing else.
//!
//! It is separate from the token signing keys, so rotating or losing a token key never changes
//! the key that apps build in to check their pins. The first start creates it, and the database
//! stores its PKCS#8 document sealed with the master key. The associated data of the seal is
//! `avow-pin-signing-key:` followed by the kid, so a sealed token key cannot be swapped in.

use avow_pinning::document::Jwk;
use avow_pinning::{PinDocumentSigner, PinPublicKey};
use avow_store::{SigningKey, Store, StoreError};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::keys::{KeyError, MasterKey, SealedSigner, load_or_create_signers};

/// Prefix of the associated data that binds a sealed pin-signing key to its kid.
const SEAL_CONTEXT: &str = "avow-pin-signing-key:";

/// Line length of base64 in PEM text (RFC 7468).
const PEM_LINE_LEN: usize = 64;

/// The pin-signing keys: the newest signs, and all of them verify.
#[derive(Debug)]
pub struct PinKeyRing {
    signer: PinDocumentSigner,
    public_keys: Vec<PinPublicKey>,
}

impl PinKeyRing {
    /// Loads every stored pin-signing key, creating and storing the first one when there is
    /// none.
    pub async fn load_or_create(
        store: &dyn Store,
        master_key: &MasterKey,
        now: i64,
    ) -> Result<Self, KeyError> {
        let signers = load_or_create_signers::<PinDocumentSigner>(store, master_key, now).await?;
        let public_keys = signers
            .iter()
            .map(|signer| signer.public_key().clone())
            .collect();
        // The store returns keys newest first.
        let signer = signers
            .into_iter()
            .next()
            .ok_or(KeyError::Crypto("no pin-signing key"))?;
        Ok(Self {
            signer,
            public_keys,
        })
    }

    /// Returns the key that signs new documents.
    pub fn signer(&self) -> &PinDocumentSigner {
        &self.signer
    }

    /// Returns every public key, the signing one first.
    pub fn public_keys(&self) -> &[PinPublicKey] {
        &self.public_keys
    }

    /// Returns the public key that signs new documents as a JWK.
    pub fn jwk(&self) -> Jwk {
        self.signer.public_key().to_jwk()
    }

    /// Returns the public key that signs new documents as a PEM `PUBLIC KEY` (SPKI).
    pub fn pem(&self) -> String {
        spki_pem(&self.signer.public_key().to_spki_der())
    }
}

#[async_trait::async_trait]
impl SealedSigner for PinDocumentSigner {
    const ALGORITHM: &'static str = avow_pinning::document::ALGORITHM;

    fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), KeyError> {
        Self::generate().map_err(|_| KeyError::Crypto("pin-signing key generation failed"))
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Option<Self> {
        Self::from_pkcs8(pkcs8).ok()
    }

    fn kid(&self) -> &str {
        Self::kid(self)
    }

    fn public_key_bytes(&self) -> Vec<u8> {
        self.public_key().sec1_point().to_vec()
    }

    fn associated_data(kid: &str) -> Vec<u8> {
        format!("{SEAL_CONTEXT}{kid}").into_bytes()
    }

    async fn stored_keys(store: &dyn Store) -> Result<Vec<SigningKey>, StoreError> {
        store.pin_signing_keys().await
    }

    async fn insert_key(store: &dyn Store, key: &SigningKey) -> Result<(), StoreError> {
        store.insert_pin_signing_key(key).await
    }
}

/// Encodes a DER SubjectPublicKeyInfo as PEM text.
fn spki_pem(der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in encoded.as_bytes().chunks(PEM_LINE_LEN) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use avow_store::SqliteStore;

    async fn store(dir: &std::path::Path) -> SqliteStore {
        SqliteStore::open(&dir.join("avow.db")).await.unwrap()
    }

    #[tokio::test]
    async fn key_created_once_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let master = MasterKey::load_or_create(dir.path(), None).unwrap();

        let first = PinKeyRing::load_or_create(&store, &master, 100)
            .await
            .unwrap();
        let second = PinKeyRing::load_or_create(&store, &master, 200)
            .await
            .unwrap();

        assert_eq!(first.signer().kid(), second.signer().kid());
        assert_eq!(store.pin_signing_keys().await.unwrap().len(), 1);
        // The token key table stays untouched.
        assert!(store.signing_keys().await.unwrap().is_empty());
        assert_eq!(first.jwk().kid.as_deref(), Some(first.signer().kid()));
    }

    #[tokio::test]
    async fn other_master_key_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let master = MasterKey::load_or_create(dir.path(), None).unwrap();
        PinKeyRing::load_or_create(&store, &master, 100)
            .await
            .unwrap();

        let other_dir = tempfile::tempdir().unwrap();
        let other = MasterKey::load_or_create(other_dir.path(), None).unwrap();
        let error = PinKeyRing::load_or_create(&store, &other, 100)
            .await
            .unwrap_err();

        assert!(matches!(error, KeyError::WrongMasterKey { .. }), "{error}");
    }

    #[tokio::test]
    async fn pem_holds_the_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let master = MasterKey::load_or_create(dir.path(), None).unwrap();
        let ring = PinKeyRing::load_or_create(&store, &master, 100)
            .await
            .unwrap();

        let pem = ring.pem();
        let parsed = PinPublicKey::from_spki_pem(&pem).unwrap();

        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
        assert_eq!(parsed.kid(), ring.signer().kid());
    }
}
