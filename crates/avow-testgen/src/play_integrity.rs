//! Play Integrity tokens shaped like Google's: a verdict payload signed as a compact JWS
//! (`ES256`) and encrypted as a compact JWE (`A256KW` key wrapping, `A256GCM` content
//! encryption), with test keys in place of the app's Play Console keys.
//!
//! [`PlayIntegrityIssuer`] plays Google's part for one app. It contains the response encryption
//! key (AES-256) and the signing key (P-256). It exposes the keys a verifier is configured
//! with: the decryption key, and the verification key as DER SubjectPublicKeyInfo.
//! [`PlayIntegritySpec`] describes the verdict, which the issuer turns into a token and which
//! [`PlayIntegritySpec::decoded_response`] turns into the JSON that `decodeIntegrityToken`
//! returns.
//!
//! ```
//! use avow_testgen::play_integrity::{PlayIntegrityIssuer, PlayIntegritySpec};
//!
//! let issuer = PlayIntegrityIssuer::new();
//! let spec = PlayIntegritySpec::classic("com.example.app", &[7u8; 32], 1_750_000_000_000);
//! let token = issuer.token(&spec);
//! assert_eq!(token.split('.').count(), 5);
//! assert_eq!(issuer.verification_key_spki().len(), 91);
//! ```

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrap as _};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::sha256;

/// DER prefix of a SubjectPublicKeyInfo for a P-256 key (`id-ecPublicKey`, `prime256v1`);
/// the 65-byte uncompressed point follows it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The JWE protected header Google uses.
const JWE_HEADER: &str = r#"{"alg":"A256KW","enc":"A256GCM"}"#;

/// The JWS protected header Google uses.
const JWS_HEADER: &str = r#"{"alg":"ES256"}"#;

/// Returns the SHA-256 digest of the stand-in signing certificate that [`PlayIntegritySpec`]
/// puts in `appIntegrity.certificateSha256Digest` by default.
pub fn default_certificate_digest() -> [u8; 32] {
    sha256(b"avow-testgen app signing certificate")
}

/// The binding of a request to the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlayRequest {
    /// A classic request: `requestDetails.nonce`, as text.
    Classic {
        /// The nonce text as the app passed it (base64url without padding on Android).
        nonce: String,
    },
    /// A standard request: `requestDetails.requestHash`, as text.
    Standard {
        /// The request hash text as the app passed it, such as a hex SHA-256.
        request_hash: String,
    },
}

/// The description of a verdict payload and of the token that carries it.
///
/// [`PlayIntegritySpec::classic`] and [`PlayIntegritySpec::standard`] give a valid verdict
/// from Google Play for a recognised app on a certified device. Set
/// [`PlayIntegritySpec::mutation`] to break one verification step, or change the label fields
/// to describe another device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayIntegritySpec {
    /// `requestDetails.requestPackageName` and `appIntegrity.packageName`.
    pub package_name: String,
    /// The nonce or request hash.
    pub request: PlayRequest,
    /// `requestDetails.timestampMillis`, Unix milliseconds, written as a JSON string.
    pub timestamp_ms: u64,
    /// `appIntegrity.appRecognitionVerdict`; `None` leaves the whole `appIntegrity` object
    /// out. Defaults to `PLAY_RECOGNIZED`.
    pub app_recognition_verdict: Option<String>,
    /// `appIntegrity.certificateSha256Digest`, written as base64url. Defaults to
    /// [`default_certificate_digest`].
    pub certificate_digests: Vec<[u8; 32]>,
    /// `appIntegrity.versionCode`, written as a JSON string. Defaults to 42.
    pub version_code: Option<i64>,
    /// `deviceIntegrity.deviceRecognitionVerdict`. Defaults to `MEETS_DEVICE_INTEGRITY`.
    pub device_labels: Vec<String>,
    /// `deviceIntegrity.recentDeviceActivity.deviceActivityLevel`. Defaults to absent.
    pub device_activity_level: Option<String>,
    /// `accountDetails.appLicensingVerdict`. Defaults to `LICENSED`.
    pub app_licensing_verdict: Option<String>,
    /// `environmentDetails.playProtectVerdict`. Defaults to absent.
    pub play_protect_verdict: Option<String>,
    /// `environmentDetails.appAccessRiskVerdict.appsDetected`. Defaults to absent.
    pub apps_detected: Option<Vec<String>>,
    /// The single defect to build into the token. Defaults to [`PlayIntegrityMutation::None`].
    pub mutation: PlayIntegrityMutation,
}

impl PlayIntegritySpec {
    /// Creates the specification of a valid classic-request verdict. The nonce is written as
    /// base64url without padding, as Android apps encode it.
    pub fn classic(package_name: impl Into<String>, nonce: &[u8], timestamp_ms: u64) -> Self {
        Self::new(
            package_name.into(),
            PlayRequest::Classic {
                nonce: URL_SAFE_NO_PAD.encode(nonce),
            },
            timestamp_ms,
        )
    }

    /// Creates the specification of a valid standard-request verdict.
    pub fn standard(
        package_name: impl Into<String>,
        request_hash: impl Into<String>,
        timestamp_ms: u64,
    ) -> Self {
        Self::new(
            package_name.into(),
            PlayRequest::Standard {
                request_hash: request_hash.into(),
            },
            timestamp_ms,
        )
    }

    fn new(package_name: String, request: PlayRequest, timestamp_ms: u64) -> Self {
        Self {
            package_name,
            request,
            timestamp_ms,
            app_recognition_verdict: Some("PLAY_RECOGNIZED".to_owned()),
            certificate_digests: vec![default_certificate_digest()],
            version_code: Some(42),
            device_labels: vec!["MEETS_DEVICE_INTEGRITY".to_owned()],
            device_activity_level: None,
            app_licensing_verdict: Some("LICENSED".to_owned()),
            play_protect_verdict: None,
            apps_detected: None,
            mutation: PlayIntegrityMutation::None,
        }
    }

    /// Returns this specification with `mutation` in place of the current one.
    #[must_use]
    pub fn with_mutation(mut self, mutation: PlayIntegrityMutation) -> Self {
        self.mutation = mutation;
        self
    }

    /// Returns the verdict payload as JSON, with any payload mutation applied.
    pub fn payload(&self) -> Value {
        let mut request_details = Map::new();
        request_details.insert("requestPackageName".into(), json!(self.package_name));
        match &self.request {
            PlayRequest::Classic { nonce } => request_details.insert("nonce".into(), json!(nonce)),
            PlayRequest::Standard { request_hash } => {
                request_details.insert("requestHash".into(), json!(request_hash))
            }
        };
        request_details.insert(
            "timestampMillis".into(),
            json!(self.timestamp_ms.to_string()),
        );

        let mut payload = Map::new();
        payload.insert("requestDetails".into(), Value::Object(request_details));
        if let Some(verdict) = &self.app_recognition_verdict {
            let mut app = Map::new();
            app.insert("appRecognitionVerdict".into(), json!(verdict));
            app.insert("packageName".into(), json!(self.package_name));
            let digests: Vec<String> = self
                .certificate_digests
                .iter()
                .map(|digest| URL_SAFE_NO_PAD.encode(digest))
                .collect();
            app.insert("certificateSha256Digest".into(), json!(digests));
            if let Some(version_code) = self.version_code {
                app.insert("versionCode".into(), json!(version_code.to_string()));
            }
            payload.insert("appIntegrity".into(), Value::Object(app));
        }

        let mut device = Map::new();
        device.insert("deviceRecognitionVerdict".into(), json!(self.device_labels));
        if let Some(level) = &self.device_activity_level {
            device.insert(
                "recentDeviceActivity".into(),
                json!({ "deviceActivityLevel": level }),
            );
        }
        payload.insert("deviceIntegrity".into(), Value::Object(device));

        if let Some(licensing) = &self.app_licensing_verdict {
            payload.insert(
                "accountDetails".into(),
                json!({ "appLicensingVerdict": licensing }),
            );
        }
        let mut environment = Map::new();
        if let Some(play_protect) = &self.play_protect_verdict {
            environment.insert("playProtectVerdict".into(), json!(play_protect));
        }
        if let Some(apps) = &self.apps_detected {
            environment.insert(
                "appAccessRiskVerdict".into(),
                json!({ "appsDetected": apps }),
            );
        }
        if !environment.is_empty() {
            payload.insert("environmentDetails".into(), Value::Object(environment));
        }

        let mut payload = Value::Object(payload);
        self.mutation.apply_to_payload(&mut payload);
        payload
    }

    /// Returns the payload as `decodeIntegrityToken` returns it: wrapped in
    /// `tokenPayloadExternal`.
    pub fn decoded_response(&self) -> String {
        json!({ "tokenPayloadExternal": self.payload() }).to_string()
    }
}

/// One deliberate change to a token or its payload.
///
/// Each variant breaks exactly one verification step and leaves everything else consistent.
/// Variants documented as valid produce evidence that a correct verifier accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PlayIntegrityMutation {
    /// No change: a valid token.
    #[default]
    None,
    /// `requestDetails.requestPackageName` and `appIntegrity.packageName` are this value.
    AppAndRequestPackageName(String),
    /// `appIntegrity.packageName` is this value; `requestDetails` keeps the spec's name.
    AppPackageName(String),
    /// `appIntegrity.certificateSha256Digest` is this single digest.
    CertificateDigest([u8; 32]),
    /// Valid: `deviceIntegrity.deviceRecognitionVerdict` is an empty array.
    EmptyDeviceLabels,
    /// The JWE header's `alg` is this value; the key is still wrapped with A256KW.
    JweAlgorithm(String),
    /// The JWE header contains `"zip":"DEF"`, although the plaintext is not compressed.
    JweCompression,
    /// The JWE header's `enc` is this value; the content is still encrypted with A256GCM.
    JweEncryption(String),
    /// The JWS header's `alg` is this value; the signature is still ES256.
    JwsAlgorithm(String),
    /// `requestDetails.nonce` or `requestDetails.requestHash` is this text.
    Nonce(String),
    /// The content key is wrapped with another, random AES key instead of the issuer's.
    OtherDecryptionKey,
    /// The JWS is signed with another, random P-256 key instead of the issuer's.
    OtherSigningKey,
    /// The signed JWS payload is this text instead of the verdict JSON.
    PayloadText(String),
    /// The field at this dotted path (such as `requestDetails.nonce`) is removed.
    RemoveField(&'static str),
    /// `requestDetails.requestPackageName` is this value; `appIntegrity` keeps the spec's name.
    RequestPackageName(String),
    /// One byte of the ciphertext is flipped.
    TamperedCiphertext,
    /// One byte of the wrapped content key is flipped.
    TamperedEncryptedKey,
    /// One byte of the IV is flipped.
    TamperedIv,
    /// One byte of the authentication tag is flipped.
    TamperedTag,
    /// Valid: `testingDetails.isTestingResponse` is true.
    TestingResponse,
    /// Valid: `requestDetails.timestampMillis` is a JSON number instead of a string.
    TimestampAsNumber,
    /// The token ends after its fourth part, as a token cut off by a log line limit does.
    Truncated,
    /// `appIntegrity.versionCode` is this value.
    VersionCode(i64),
}

impl PlayIntegrityMutation {
    fn apply_to_payload(&self, payload: &mut Value) {
        match self {
            Self::AppAndRequestPackageName(name) => {
                payload["requestDetails"]["requestPackageName"] = json!(name);
                payload["appIntegrity"]["packageName"] = json!(name);
            }
            Self::AppPackageName(name) => payload["appIntegrity"]["packageName"] = json!(name),
            Self::CertificateDigest(digest) => {
                payload["appIntegrity"]["certificateSha256Digest"] =
                    json!([URL_SAFE_NO_PAD.encode(digest)]);
            }
            Self::EmptyDeviceLabels => {
                payload["deviceIntegrity"]["deviceRecognitionVerdict"] = json!([]);
            }
            Self::Nonce(text) => {
                let details = &mut payload["requestDetails"];
                let field = if details.get("nonce").is_some() {
                    "nonce"
                } else {
                    "requestHash"
                };
                details[field] = json!(text);
            }
            Self::RemoveField(path) => remove_path(payload, path),
            Self::RequestPackageName(name) => {
                payload["requestDetails"]["requestPackageName"] = json!(name);
            }
            Self::TestingResponse => {
                payload["testingDetails"] = json!({ "isTestingResponse": true });
            }
            Self::TimestampAsNumber => {
                let details = &mut payload["requestDetails"];
                let number = details["timestampMillis"]
                    .as_str()
                    .and_then(|text| text.parse::<u64>().ok());
                details["timestampMillis"] = json!(number);
            }
            Self::VersionCode(version_code) => {
                payload["appIntegrity"]["versionCode"] = json!(version_code.to_string());
            }
            _ => {}
        }
    }
}

/// Removes the member at a dotted path; a path that does not exist changes nothing.
fn remove_path(value: &mut Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (Some(parent), last),
        None => (None, path),
    };
    let mut target = value;
    if let Some(parent) = parent {
        for segment in parent.split('.') {
            match target.get_mut(segment) {
                Some(next) => target = next,
                None => return,
            }
        }
    }
    if let Some(object) = target.as_object_mut() {
        object.remove(last);
    }
}

/// Google's side of Play Integrity for one app: the response encryption key and the signing
/// key.
///
/// Its [`Debug`] output shows no key material.
pub struct PlayIntegrityIssuer {
    decryption_key: [u8; 32],
    signing_key: EcdsaKeyPair,
}

impl PlayIntegrityIssuer {
    /// Generates an issuer with a fresh random AES-256 key and P-256 key.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator fails.
    pub fn new() -> Self {
        let mut decryption_key = [0u8; 32];
        fill_random(&mut decryption_key);
        Self::with_decryption_key(decryption_key)
    }

    /// Creates an issuer that encrypts with `decryption_key` (such as a published test key)
    /// and signs with a fresh random P-256 key.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator fails.
    pub fn with_decryption_key(decryption_key: [u8; 32]) -> Self {
        Self {
            decryption_key,
            signing_key: generate_p256(),
        }
    }

    /// Returns the AES-256 key a verifier decrypts tokens with.
    pub fn decryption_key(&self) -> [u8; 32] {
        self.decryption_key
    }

    /// Returns the verification key as the uncompressed point 0x04 ‖ x ‖ y.
    pub fn verification_key_point(&self) -> [u8; 65] {
        let mut point = [0u8; 65];
        // aws-lc-rs returns P-256 public keys as 65-byte uncompressed points.
        point.copy_from_slice(self.signing_key.public_key().as_ref());
        point
    }

    /// Returns the verification key as DER SubjectPublicKeyInfo, the form the Play Console
    /// gives (in base64).
    pub fn verification_key_spki(&self) -> Vec<u8> {
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(&self.verification_key_point());
        spki
    }

    /// Builds the compact JWE token for `spec`, with its mutation applied.
    ///
    /// # Panics
    ///
    /// Panics if the system random number generator fails.
    pub fn token(&self, spec: &PlayIntegritySpec) -> String {
        let mutation = &spec.mutation;
        let payload = match mutation {
            PlayIntegrityMutation::PayloadText(text) => text.clone(),
            _ => spec.payload().to_string(),
        };

        let jws_header = match mutation {
            PlayIntegrityMutation::JwsAlgorithm(alg) => json!({ "alg": alg }).to_string(),
            _ => JWS_HEADER.to_owned(),
        };
        let other_signer;
        let signer = if *mutation == PlayIntegrityMutation::OtherSigningKey {
            other_signer = generate_p256();
            &other_signer
        } else {
            &self.signing_key
        };
        let jws = sign_jws(signer, &jws_header, &payload);

        let jwe_header = match mutation {
            PlayIntegrityMutation::JweAlgorithm(alg) => {
                json!({ "alg": alg, "enc": "A256GCM" }).to_string()
            }
            PlayIntegrityMutation::JweEncryption(enc) => {
                json!({ "alg": "A256KW", "enc": enc }).to_string()
            }
            PlayIntegrityMutation::JweCompression => {
                r#"{"alg":"A256KW","enc":"A256GCM","zip":"DEF"}"#.to_owned()
            }
            _ => JWE_HEADER.to_owned(),
        };
        let mut key_encryption_key = self.decryption_key;
        if *mutation == PlayIntegrityMutation::OtherDecryptionKey {
            fill_random(&mut key_encryption_key);
        }
        let mut parts = encrypt_jwe(&key_encryption_key, &jwe_header, jws.as_bytes());

        match mutation {
            PlayIntegrityMutation::TamperedEncryptedKey => {
                flip_middle_byte(&mut parts.encrypted_key)
            }
            PlayIntegrityMutation::TamperedIv => flip_middle_byte(&mut parts.iv),
            PlayIntegrityMutation::TamperedCiphertext => flip_middle_byte(&mut parts.ciphertext),
            PlayIntegrityMutation::TamperedTag => flip_middle_byte(&mut parts.tag),
            _ => {}
        }
        let token = parts.compact();
        if *mutation == PlayIntegrityMutation::Truncated {
            // Four parts remain: the cut removes the tag and the dot before it.
            let cut = token.rfind('.').unwrap_or(token.len());
            return token[..cut].to_owned();
        }
        token
    }
}

impl Default for PlayIntegrityIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PlayIntegrityIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayIntegrityIssuer")
            .finish_non_exhaustive()
    }
}

/// The decoded parts of a compact JWE.
struct JweParts {
    encoded_header: String,
    encrypted_key: Vec<u8>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

impl JweParts {
    fn compact(&self) -> String {
        [
            self.encoded_header.clone(),
            URL_SAFE_NO_PAD.encode(&self.encrypted_key),
            URL_SAFE_NO_PAD.encode(&self.iv),
            URL_SAFE_NO_PAD.encode(&self.ciphertext),
            URL_SAFE_NO_PAD.encode(&self.tag),
        ]
        .join(".")
    }
}

/// Encrypts `plaintext` with a random content key wrapped by `key_encryption_key` (RFC 3394),
/// using AES-256-GCM with a random 96-bit IV and the encoded header as additional data.
fn encrypt_jwe(key_encryption_key: &[u8; 32], header: &str, plaintext: &[u8]) -> JweParts {
    let mut content_key = [0u8; 32];
    fill_random(&mut content_key);
    let mut iv = [0u8; 12];
    fill_random(&mut iv);

    let mut encrypted_key = vec![0u8; content_key.len() + 8];
    // A 32-byte key-encryption key and a 32-byte key to wrap are valid AES-256 key wrap inputs.
    AesKek::new(&AES_256, key_encryption_key)
        .and_then(|kek| kek.wrap(&content_key, &mut encrypted_key).map(|_| ()))
        .expect("AES-256 key wrap of a 32-byte key failed");

    let encoded_header = URL_SAFE_NO_PAD.encode(header);
    // A 32-byte key is a valid AES-256-GCM key.
    let key = UnboundKey::new(&AES_256_GCM, &content_key)
        .map(LessSafeKey::new)
        .expect("AES-256-GCM rejected a 32-byte key");
    let mut ciphertext = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(iv),
            Aad::from(encoded_header.as_bytes()),
            &mut ciphertext,
        )
        .expect("AES-256-GCM sealing failed");
    JweParts {
        encoded_header,
        encrypted_key,
        iv: iv.to_vec(),
        ciphertext,
        tag: tag.as_ref().to_vec(),
    }
}

fn sign_jws(key: &EcdsaKeyPair, header: &str, payload: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .expect("ECDSA P-256 signing failed");
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    )
}

fn generate_p256() -> EcdsaKeyPair {
    // Generation of a P-256 key only fails when aws-lc-rs cannot get randomness.
    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key generation failed")
}

fn fill_random(bytes: &mut [u8]) {
    SystemRandom::new()
        .fill(bytes)
        .expect("system random number generator failed");
}

fn flip_middle_byte(bytes: &mut [u8]) {
    let middle = bytes.len() / 2;
    if let Some(byte) = bytes.get_mut(middle) {
        *byte ^= 0x01;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_payload_has_google_field_names() {
        let spec = PlayIntegritySpec::classic("com.example.app", &[1, 2, 3], 1_700_000_000_123);
        let payload = spec.payload();
        assert_eq!(payload["requestDetails"]["nonce"], "AQID");
        assert_eq!(
            payload["requestDetails"]["timestampMillis"],
            "1700000000123"
        );
        assert_eq!(
            payload["appIntegrity"]["appRecognitionVerdict"],
            "PLAY_RECOGNIZED"
        );
        assert_eq!(payload["appIntegrity"]["versionCode"], "42");
        assert_eq!(
            payload["deviceIntegrity"]["deviceRecognitionVerdict"][0],
            "MEETS_DEVICE_INTEGRITY"
        );
        assert!(payload.get("environmentDetails").is_none());
    }

    #[test]
    fn remove_field_removes_nested_member() {
        let spec = PlayIntegritySpec::standard("com.example.app", "abcd", 1).with_mutation(
            PlayIntegrityMutation::RemoveField("requestDetails.requestHash"),
        );
        let payload = spec.payload();
        assert!(payload["requestDetails"].get("requestHash").is_none());
        assert!(payload["requestDetails"].get("timestampMillis").is_some());
    }

    #[test]
    fn token_has_five_parts_and_google_headers() {
        let issuer = PlayIntegrityIssuer::new();
        let token = issuer.token(&PlayIntegritySpec::classic("com.example.app", &[9; 32], 1));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 5);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[0]).unwrap(),
            JWE_HEADER.as_bytes()
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[1]).unwrap().len(), 40);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 12);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[4]).unwrap().len(), 16);
    }

    #[test]
    fn truncated_token_has_four_parts() {
        let issuer = PlayIntegrityIssuer::new();
        let spec = PlayIntegritySpec::classic("com.example.app", &[9; 32], 1)
            .with_mutation(PlayIntegrityMutation::Truncated);
        assert_eq!(issuer.token(&spec).split('.').count(), 4);
    }

    #[test]
    fn spki_wraps_the_point() {
        let issuer = PlayIntegrityIssuer::new();
        let spki = issuer.verification_key_spki();
        assert_eq!(&spki[..26], P256_SPKI_PREFIX.as_slice());
        assert_eq!(&spki[26..], issuer.verification_key_point().as_slice());
        assert_eq!(format!("{issuer:?}"), "PlayIntegrityIssuer { .. }");
    }
}
