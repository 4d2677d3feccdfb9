//! The master key and the token signing keys it protects.
//!
//! The master key is 32 random bytes. It comes from `AVOW_MASTER_KEY` (base64) or from the file
//! `master.key` in the data directory, which the first start creates with mode 0600. Signing
//! keys are stored in the database as PKCS#8 documents sealed with AES-256-GCM under the master
//! key, with the key id as associated data, so a sealed key cannot be moved to another id.

use std::io::Write as _;
use std::path::Path;

use avow_attest::encoding::decode_base64_any;
use avow_store::{SigningKey, Store, StoreError};
use avow_token::{Jwks, TokenSigner};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use zeroize::Zeroizing;

/// Environment variable holding the master key in base64.
pub const MASTER_KEY_ENV: &str = "AVOW_MASTER_KEY";
/// Name of the master key file in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Failures to load or create the keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key in the environment or the file is not 32 bytes of base64.
    #[error("master key from {source_name} is invalid: expected 32 bytes in base64")]
    InvalidMasterKey {
        /// The key's origin: the variable name or the file path.
        source_name: String,
    },
    /// The master key file could not be read or written.
    #[error("cannot access master key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A stored signing key cannot be decrypted with this master key.
    #[error(
        "signing key {kid} cannot be decrypted: the master key differs from the one that \
         sealed it (check {MASTER_KEY_ENV} or the master.key file)"
    )]
    WrongMasterKey {
        /// The key id.
        kid: String,
    },
    /// A decrypted signing key is not a valid P-256 PKCS#8 document.
    #[error("signing key {kid} is not a valid P-256 key")]
    InvalidSigningKey {
        /// The key id.
        kid: String,
    },
    /// The crypto backend failed.
    #[error("crypto backend failure: {0}")]
    Crypto(&'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The 32-byte master key.
pub struct MasterKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Loads the master key from `from_env` when set, else from the file in `data_dir`,
    /// creating that file with a fresh random key (mode 0600) when it does not exist.
    pub fn load_or_create(data_dir: &Path, from_env: Option<String>) -> Result<Self, KeyError> {
        if let Some(encoded) = from_env {
            let encoded = Zeroizing::new(encoded);
            return Self::from_base64(&encoded, MASTER_KEY_ENV);
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        let io_error = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Self::from_base64(text.trim(), &path.display().to_string())
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; 32]);
                aws_lc_rs::rand::fill(bytes.as_mut())
                    .map_err(|_| KeyError::Crypto("random generator failed"))?;
                let encoded = Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()),
                );
                let mut file = create_private_file(&path).map_err(io_error)?;
                file.write_all(encoded.as_bytes()).map_err(io_error)?;
                file.write_all(b"\n").map_err(io_error)?;
                file.sync_all().map_err(io_error)?;
                Self::from_bytes(bytes.as_ref())
            }
            Err(error) => Err(io_error(error)),
        }
    }

    fn from_base64(encoded: &str, source_name: &str) -> Result<Self, KeyError> {
        let invalid = || KeyError::InvalidMasterKey {
            source_name: source_name.to_owned(),
        };
        let bytes = Zeroizing::new(decode_base64_any(encoded).map_err(|_| invalid())?);
        if bytes.len() != 32 {
            return Err(invalid());
        }
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| KeyError::Crypto("AES-256-GCM key rejected"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// Seals `plaintext` with `associated` as associated data: random nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| KeyError::Crypto("random generator failed"))?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated),
                &mut sealed,
            )
            .map_err(|_| KeyError::Crypto("AES-256-GCM seal failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] produced. Returns `None` when the key or the associated
    /// data differ or the bytes were changed.
    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, ciphertext) = sealed.split_first_chunk::<NONCE_LEN>()?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plaintext = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(associated),
                &mut buffer,
            )
            .ok()?;
        Some(Zeroizing::new(plaintext.to_vec()))
    }
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// The token signing keys: the newest signs, all are published.
#[derive(Debug)]
pub struct KeyRing {
    signer: TokenSigner,
    jwks: Jwks,
}

impl KeyRing {
    /// Loads every stored signing key, creating and storing the first one when there is none.
    pub async fn load_or_create(
        store: &dyn Store,
        master_key: &MasterKey,
        now: i64,
    ) -> Result<Self, KeyError> {
        let signers = load_or_create_signers::<TokenSigner>(store, master_key, now).await?;
        let jwks = Jwks {
            keys: signers
                .iter()
                .map(TokenSigner::jwk)
                .collect::<Result<_, _>>()
                .map_err(|_| KeyError::Crypto("public key export failed"))?,
        };
        // The store returns keys newest first.
        let signer = signers
            .into_iter()
            .next()
            .ok_or(KeyError::Crypto("no signing key"))?;
        Ok(Self { signer, jwks })
    }

    /// Returns the key that signs new tokens.
    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    /// Returns every public key, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}

// === sealed signing keys ===

/// A kind of ES256 signer whose PKCS#8 document the store keeps sealed with the master key.
///
/// Token keys and pin-signing keys live in separate tables and use different associated data,
/// but they are created, stored and opened the same way.
#[async_trait::async_trait]
pub(crate) trait SealedSigner: Sized + Send {
    /// The value of the stored `algorithm` column.
    const ALGORITHM: &'static str;

    /// Generates a new key, returning the signer and its PKCS#8 document.
    fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), KeyError>;

    /// Parses a decrypted PKCS#8 document, returning `None` when it is not a valid key.
    fn from_pkcs8(pkcs8: &[u8]) -> Option<Self>;

    /// Returns the key id, which the seal binds through [`SealedSigner::associated_data`].
    fn kid(&self) -> &str;

    /// Returns the public key bytes stored next to the sealed private key.
    fn public_key_bytes(&self) -> Vec<u8>;

    /// Returns the associated data that binds a sealed key to `kid` and to this kind of key.
    fn associated_data(kid: &str) -> Vec<u8>;

    /// Lists the stored keys of this kind, newest first.
    async fn stored_keys(store: &dyn Store) -> Result<Vec<SigningKey>, StoreError>;

    /// Stores a new key of this kind.
    async fn insert_key(store: &dyn Store, key: &SigningKey) -> Result<(), StoreError>;
}

#[async_trait::async_trait]
impl SealedSigner for TokenSigner {
    const ALGORITHM: &'static str = avow_token::ALGORITHM;

    fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), KeyError> {
        Self::generate().map_err(|_| KeyError::Crypto("key generation failed"))
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Option<Self> {
        Self::from_pkcs8(pkcs8).ok()
    }

    fn kid(&self) -> &str {
        Self::kid(self)
    }

    fn public_key_bytes(&self) -> Vec<u8> {
        self.public_key().to_vec()
    }

    fn associated_data(kid: &str) -> Vec<u8> {
        kid.as_bytes().to_vec()
    }

    async fn stored_keys(store: &dyn Store) -> Result<Vec<SigningKey>, StoreError> {
        store.signing_keys().await
    }

    async fn insert_key(store: &dyn Store, key: &SigningKey) -> Result<(), StoreError> {
        store.insert_signing_key(key).await
    }
}

/// Loads and opens every stored key of kind `S`, newest first, creating and storing the first
/// one when there is none. The returned list is never empty unless the store loses the key it
/// just stored.
pub(crate) async fn load_or_create_signers<S: SealedSigner>(
    store: &dyn Store,
    master_key: &MasterKey,
    now: i64,
) -> Result<Vec<S>, KeyError> {
    let mut stored = S::stored_keys(store).await?;
    if stored.is_empty() {
        let (signer, pkcs8) = S::generate()?;
        let key = SigningKey {
            kid: signer.kid().to_owned(),
            algorithm: S::ALGORITHM.to_owned(),
            encrypted_private_key: master_key.seal(&pkcs8, &S::associated_data(signer.kid()))?,
            public_key: signer.public_key_bytes(),
            created_at: now,
        };
        match S::insert_key(store, &key).await {
            // Another instance sharing the database may have created its first key at the
            // same moment. Both keys are then valid, and the newest signs.
            Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
            Err(error) => return Err(error.into()),
        }
        stored = S::stored_keys(store).await?;
    }

    let mut signers = Vec::with_capacity(stored.len());
    for key in &stored {
        let pkcs8 = master_key
            .open(&key.encrypted_private_key, &S::associated_data(&key.kid))
            .ok_or_else(|| KeyError::WrongMasterKey {
                kid: key.kid.clone(),
            })?;
        let signer = S::from_pkcs8(&pkcs8).ok_or_else(|| KeyError::InvalidSigningKey {
            kid: key.kid.clone(),
        })?;
        if signer.kid() != key.kid {
            return Err(KeyError::InvalidSigningKey {
                kid: key.kid.clone(),
            });
        }
        signers.push(signer);
    }
    Ok(signers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_file_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(dir.path(), None).unwrap();
        let path = dir.path().join(MASTER_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sealed = first.seal(b"secret", b"kid").unwrap();
        let second = MasterKey::load_or_create(dir.path(), None).unwrap();
        assert_eq!(second.open(&sealed, b"kid").unwrap().as_slice(), b"secret");
    }

    #[test]
    fn sealed_key_bound_to_associated_data() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load_or_create(dir.path(), None).unwrap();
        let sealed = key.seal(b"secret", b"kid-1").unwrap();
        assert!(key.open(&sealed, b"kid-2").is_none());
    }

    #[test]
    fn env_master_key_used_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let key = MasterKey::load_or_create(dir.path(), Some(encoded)).unwrap();
        assert!(key.seal(b"x", b"y").is_ok());
        assert!(!dir.path().join(MASTER_KEY_FILE).exists());

        let error = MasterKey::load_or_create(dir.path(), Some("c2hvcnQ=".to_owned())).unwrap_err();
        assert!(error.to_string().contains(MASTER_KEY_ENV), "{error}");
        assert!(!error.to_string().contains("c2hvcnQ"), "{error}");
    }
}
