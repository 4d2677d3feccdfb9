//! Verification of the evidence in one `POST /v1/attest` request, provider by provider, into
//! one combined verdict.
//!
//! Every provider's evidence is bound to the request's nonce: App Attest through
//! `clientDataHash` = SHA-256(nonce), the others by carrying the 32 nonce bytes themselves
//! (Play Integrity `nonce`, SafetyNet and Huawei `nonce`, the Android attestation challenge) or
//! by signing them (Avow's device key). Apple DeviceCheck carries no nonce, so it only counts
//! next to evidence that does.

use avow_attest::app_attest::{self, AppId, AttestationInput, Environment};
use avow_attest::encoding::decode_base64_any;
use avow_attest::verdict::{Provider, Verdict};
use avow_attest::{
    CertificateDigests, Error as EvidenceFailure, Freshness, UnixTime, android_key, device_key,
};
use avow_attest::{huawei_safety_detect, play_integrity, safetynet};
use avow_store::App;
use serde::Deserialize;

use crate::AppState;
use crate::providers::{FailureKind, ProviderError};

/// Installers counted as official stores for Android device-key measurements.
const OFFICIAL_ANDROID_INSTALLERS: &[&str] = &["com.android.vending"];
/// Distribution channels counted as official for iOS device-key measurements.
const OFFICIAL_IOS_INSTALLERS: &[&str] = &["app_store", "testflight"];
/// Name of the app secret that contains the Play Integrity keys.
pub const PLAY_INTEGRITY_KEYS_SECRET: &str = "play_integrity_keys";

/// Evidence by provider. Several members make a tandem request with one combined verdict.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Apple App Attest attestation (iOS).
    pub app_attest: Option<AppAttestEvidence>,
    /// Google Play Integrity verdict token (Android).
    pub play_integrity: Option<PlayIntegrityEvidence>,
    /// Android key attestation certificate chain (Android).
    pub android_key: Option<AndroidKeyEvidence>,
    /// Google SafetyNet attestation result (Android, legacy).
    pub safetynet: Option<JwsEvidence>,
    /// Huawei Safety Detect SysIntegrity result (Android without Google Play Services).
    pub huawei_safety_detect: Option<JwsEvidence>,
    /// Apple DeviceCheck device token (iOS, only next to other evidence).
    pub device_check: Option<DeviceCheckEvidence>,
    /// Avow's own device key registration (any platform).
    pub device_key: Option<DeviceKeyEvidence>,
}

/// Apple App Attest attestation evidence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAttestEvidence {
    /// The key id returned by `generateKey`, in any base64 variant.
    pub key_id: String,
    /// The attestation object returned by `attestKey`, in any base64 variant.
    pub attestation_object: String,
}

/// A Play Integrity token: exactly one of the two members.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayIntegrityEvidence {
    /// A classic request's token, verified locally with the app's registered keys. The app
    /// passes the base64url nonce as the request nonce.
    pub token: Option<String>,
    /// A standard request's token, decoded by Google's `decodeIntegrityToken`. The app passes
    /// the base64url nonce as the request hash.
    pub standard_token: Option<String>,
}

/// An Android key attestation certificate chain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AndroidKeyEvidence {
    /// DER certificates in any base64 variant, leaf first, as `KeyStore.getCertificateChain`
    /// returns them.
    pub certificate_chain: Vec<String>,
}

/// A compact JWS from SafetyNet or Huawei Safety Detect.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwsEvidence {
    /// The JWS as the provider returned it.
    pub jws: String,
}

/// An Apple DeviceCheck device token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCheckEvidence {
    /// The token from `DCDevice.generateToken`, base64.
    pub device_token: String,
}

/// An Avow device-key registration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceKeyEvidence {
    /// The install's public key, a DER SubjectPublicKeyInfo of a P-256 key, in any base64
    /// variant.
    pub public_key: String,
    /// The exact measurement JSON bytes the device signed, in any base64 variant.
    pub measurement: String,
    /// The DER ECDSA signature over the registration message, in any base64 variant.
    pub signature: String,
}

/// The key an install proves possession of on later refreshes.
#[derive(Clone, Debug)]
pub struct InstallKey {
    /// The provider that vouched for the key.
    pub provider: Provider,
    /// The key id the install is stored under: the App Attest key id, or SHA-256 of the key's
    /// SubjectPublicKeyInfo for the other providers.
    pub key_id: Vec<u8>,
    /// The public key: an uncompressed point for App Attest, a DER SubjectPublicKeyInfo
    /// otherwise.
    pub public_key: Vec<u8>,
    /// The App Attest environment, for App Attest keys.
    pub environment: Option<Environment>,
    /// Apple's receipt, for App Attest keys.
    pub receipt: Vec<u8>,
    /// The app version the key's evidence reports, when it reports one.
    pub app_version: Option<String>,
}

/// The verified evidence of one request.
#[derive(Clone, Debug)]
pub struct VerifiedEvidence {
    /// One verdict per provider, in request order.
    pub verdicts: Vec<Verdict>,
    /// The combined verdict.
    pub combined: Verdict,
    /// The key of the install, when the evidence carries one.
    pub key: Option<InstallKey>,
    /// DeviceCheck's two bits, when DeviceCheck evidence was sent and Apple has bits for the
    /// device.
    pub device_check_bits: Option<(bool, bool)>,
    /// Every provider whose evidence passed, in request order, DeviceCheck included.
    pub providers: Vec<Provider>,
    /// The app version the evidence reports: Play Integrity's version code, App Attest's
    /// bundle version, or the device key's measured version, in that order of preference.
    pub app_version: Option<String>,
}

/// Failures that stop the evidence of a request from being accepted.
#[derive(Debug)]
pub enum EvidenceError {
    /// The request is malformed or does not fit the app: 400 with this reason and message.
    BadRequest(&'static str, String),
    /// A provider's evidence failed verification.
    Rejected(Provider, EvidenceFailure),
    /// A provider rejected the evidence on its own servers (DeviceCheck, Google decoding).
    ProviderRejected(Provider, ProviderError),
    /// A provider could not be reached or is throttling.
    ProviderUnavailable(Provider, ProviderError),
    /// A fault of this server.
    Internal(String),
}

/// Verifies every member of `evidence` against `app` and `nonce` at `now`.
pub async fn verify(
    state: &AppState,
    app: &App,
    evidence: &Evidence,
    nonce: &[u8],
    now: i64,
) -> Result<VerifiedEvidence, EvidenceError> {
    check_members(app, evidence)?;
    let time = unix(now);
    let window = state.config.evidence.freshness();
    let freshness = Freshness {
        max_age_secs: window.max_age_secs,
        max_future_skew_secs: window.max_future_skew_secs,
    };
    let digests = digests_of(app);
    let mut verdicts = Vec::new();
    let mut key = None;

    let mut play_integrity_version = None;
    if let Some(evidence) = &evidence.app_attest {
        let (verdict, install_key) = verify_app_attest(state, app, evidence, nonce, time)?;
        verdicts.push(verdict);
        key = Some(install_key);
    }
    if let Some(evidence) = &evidence.play_integrity {
        let (verdict, version) =
            verify_play_integrity(state, app, evidence, nonce, time, freshness).await?;
        verdicts.push(verdict);
        play_integrity_version = version;
    }
    if let Some(evidence) = &evidence.android_key {
        let (verdict, install_key) = verify_android_key(state, app, evidence, nonce, time)?;
        verdicts.push(verdict);
        key = Some(install_key);
    }
    // SafetyNet and SysIntegrity results share one format and one input type.
    let result_input = |jws| safetynet::ResultInput {
        jws,
        expected_nonce: nonce,
        package_name: &app.package_name,
        certificate_digests: CertificateDigests::registered_or_not_compared(&digests),
        freshness,
    };
    if let Some(evidence) = &evidence.safetynet {
        let input = result_input(&evidence.jws);
        let verified = safetynet::verify_safetynet(&input, &state.providers.safetynet_roots, time)
            .map_err(|error| EvidenceError::Rejected(Provider::SafetyNet, error))?;
        verdicts.push(verified.verdict());
    }
    if let Some(evidence) = &evidence.huawei_safety_detect {
        let input = result_input(&evidence.jws);
        let verified =
            huawei_safety_detect::verify_sys_integrity(&input, &state.providers.huawei_roots, time)
                .map_err(|error| EvidenceError::Rejected(Provider::HuaweiSafetyDetect, error))?;
        verdicts.push(verified.verdict());
    }
    if let Some(evidence) = &evidence.device_key {
        let (verdict, install_key) = verify_device_key(app, evidence, nonce)?;
        verdicts.push(verdict);
        key = Some(install_key);
    }
    let mut providers: Vec<Provider> = verdicts.iter().map(|verdict| verdict.provider).collect();
    let mut device_check_bits = None;
    if let Some(evidence) = &evidence.device_check {
        device_check_bits = verify_device_check(state, evidence).await?;
        providers.push(Provider::AppleDeviceCheck);
    }

    let combined = Verdict::combine(&verdicts).ok_or_else(|| {
        EvidenceError::BadRequest("missing_evidence", "evidence has no member".to_owned())
    })?;
    let app_version =
        play_integrity_version.or_else(|| key.as_ref().and_then(|key| key.app_version.clone()));
    Ok(VerifiedEvidence {
        verdicts,
        combined,
        key,
        device_check_bits,
        providers,
        app_version,
    })
}

/// Checks the shape of the evidence before the nonce is consumed: the members fit the app and
/// each other, and every encoded field decodes.
pub fn precheck(app: &App, evidence: &Evidence) -> Result<(), EvidenceError> {
    check_members(app, evidence)?;
    if let Some(evidence) = &evidence.app_attest {
        decode_fixed(&evidence.key_id, 32, "invalid_key_id", KEY_ID_MESSAGE)?;
        decode(
            &evidence.attestation_object,
            "invalid_attestation_encoding",
            ATTESTATION_ENCODING_MESSAGE,
        )?;
    }
    if let Some(evidence) = &evidence.device_key {
        for field in [
            &evidence.public_key,
            &evidence.measurement,
            &evidence.signature,
        ] {
            decode(
                field,
                "invalid_device_key_encoding",
                DEVICE_KEY_ENCODING_MESSAGE,
            )?;
        }
    }
    if let Some(evidence) = &evidence.android_key {
        decode_chain(evidence)?;
    }
    Ok(())
}

const KEY_ID_MESSAGE: &str = "key_id must be the 32-byte App Attest key id, in base64";
const ATTESTATION_ENCODING_MESSAGE: &str = "evidence.app_attest.attestation_object is not base64";
const DEVICE_KEY_ENCODING_MESSAGE: &str = "evidence.device_key members must be base64";

/// Checks that the members fit the app's platform and each other.
fn check_members(app: &App, evidence: &Evidence) -> Result<(), EvidenceError> {
    let ios_only = [
        ("app_attest", evidence.app_attest.is_some()),
        ("device_check", evidence.device_check.is_some()),
    ];
    let android_only = [
        ("play_integrity", evidence.play_integrity.is_some()),
        ("android_key", evidence.android_key.is_some()),
        ("safetynet", evidence.safetynet.is_some()),
        (
            "huawei_safety_detect",
            evidence.huawei_safety_detect.is_some(),
        ),
    ];
    let foreign = match app.platform.as_str() {
        "ios" => android_only.iter().find(|(_, present)| *present),
        _ => ios_only.iter().find(|(_, present)| *present),
    };
    if let Some((member, _)) = foreign {
        return Err(EvidenceError::BadRequest(
            "provider_not_for_platform",
            format!("evidence.{member} does not apply to {} apps", app.platform),
        ));
    }

    let keys = [
        evidence.app_attest.is_some(),
        evidence.android_key.is_some(),
        evidence.device_key.is_some(),
    ]
    .into_iter()
    .filter(|present| *present)
    .count();
    if keys > 1 {
        return Err(EvidenceError::BadRequest(
            "multiple_install_keys",
            "send at most one of evidence.app_attest, evidence.android_key and \
             evidence.device_key: each registers the install's key"
                .to_owned(),
        ));
    }
    let attesting = keys
        + usize::from(evidence.play_integrity.is_some())
        + usize::from(evidence.safetynet.is_some())
        + usize::from(evidence.huawei_safety_detect.is_some());
    if attesting == 0 {
        let message = if evidence.device_check.is_some() {
            "evidence.device_check carries no nonce, so it only counts next to other evidence"
        } else {
            "evidence must contain at least one provider's evidence"
        };
        return Err(EvidenceError::BadRequest(
            "missing_evidence",
            message.to_owned(),
        ));
    }
    Ok(())
}

fn verify_app_attest(
    state: &AppState,
    app: &App,
    evidence: &AppAttestEvidence,
    nonce: &[u8],
    time: UnixTime,
) -> Result<(Verdict, InstallKey), EvidenceError> {
    let app_id = AppId::parse(&app.id)
        .ok_or_else(|| EvidenceError::Internal(format!("stored app id {:?} is invalid", app.id)))?;
    let environment = Environment::parse(&app.environment).ok_or_else(|| {
        EvidenceError::Internal(format!("stored environment of {:?} is invalid", app.id))
    })?;
    let key_id = decode_fixed(
        &evidence.key_id,
        32,
        "invalid_key_id",
        "key_id must be the 32-byte App Attest key id, in base64",
    )?;
    let attestation_object = decode(
        &evidence.attestation_object,
        "invalid_attestation_encoding",
        "evidence.app_attest.attestation_object is not base64",
    )?;
    let client_data_hash = avow_attest::sha256(nonce);
    let input = AttestationInput {
        attestation_object: &attestation_object,
        key_id: &key_id,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        environment,
    };
    let verified = app_attest::verify_attestation(&input, &state.app_attest_roots, time)
        .map_err(|error| EvidenceError::Rejected(Provider::AppAttest, error))?;
    let verdict = verified_app_attest_verdict(&verified);
    let key = InstallKey {
        provider: Provider::AppAttest,
        key_id: verified.key_id().to_vec(),
        public_key: verified.public_key().to_vec(),
        environment: Some(verified.environment()),
        receipt: verified.receipt().to_vec(),
        app_version: verified
            .extensions()
            .and_then(|extensions| extensions.bundle_version.clone()),
    };
    Ok((verdict, key))
}

/// App Attest proves a genuine app on a genuine Apple device with a Secure Enclave key.
fn verified_app_attest_verdict(_verified: &app_attest::VerifiedAttestation) -> Verdict {
    use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, TrustLevel};
    Verdict::new(
        Provider::AppAttest,
        TrustLevel::Hardware,
        AppIntegrity::Recognized,
        DeviceIntegrity::Strong,
        Vec::new(),
        None,
    )
}

async fn verify_play_integrity(
    state: &AppState,
    app: &App,
    evidence: &PlayIntegrityEvidence,
    nonce: &[u8],
    time: UnixTime,
    freshness: Freshness,
) -> Result<(Verdict, Option<String>), EvidenceError> {
    let digests = digests_of(app);
    let certificate_digests = CertificateDigests::registered_or_not_compared(&digests);
    let rejected = |error| EvidenceError::Rejected(Provider::PlayIntegrity, error);
    match (&evidence.token, &evidence.standard_token) {
        (Some(token), None) => {
            let keys = play_integrity_keys(state, app).await?;
            let expected = play_integrity::ExpectedRequest {
                package_name: &app.package_name,
                binding: play_integrity::RequestBinding::Nonce(nonce),
                certificate_digests,
                min_version_code: app.min_version_code,
            };
            let verified = play_integrity::verify_token(token, &keys, &expected, time, freshness)
                .map_err(rejected)?;
            Ok((
                verified.verdict().clone(),
                verified.version_code().map(|code| code.to_string()),
            ))
        }
        (None, Some(token)) => {
            let Some(decoder) = &state.providers.play_integrity_decoder else {
                return Err(EvidenceError::BadRequest(
                    "play_integrity_decoding_not_configured",
                    "standard Play Integrity tokens need [play_integrity] service_account_file \
                     in the server configuration"
                        .to_owned(),
                ));
            };
            let payload = decoder
                .decode(&app.package_name, token)
                .await
                .map_err(|error| provider_error(Provider::PlayIntegrity, error))?;
            let json = serde_json::to_vec(&payload)
                .map_err(|error| EvidenceError::Internal(error.to_string()))?;
            let expected = play_integrity::ExpectedRequest {
                package_name: &app.package_name,
                binding: play_integrity::RequestBinding::RequestHash(nonce),
                certificate_digests,
                min_version_code: app.min_version_code,
            };
            let verified =
                play_integrity::verify_decoded_payload(&json, &expected, time, freshness)
                    .map_err(rejected)?;
            Ok((
                verified.verdict().clone(),
                verified.version_code().map(|code| code.to_string()),
            ))
        }
        _ => Err(EvidenceError::BadRequest(
            "invalid_play_integrity_evidence",
            "evidence.play_integrity must contain exactly one of token and standard_token"
                .to_owned(),
        )),
    }
}

async fn play_integrity_keys(
    state: &AppState,
    app: &App,
) -> Result<play_integrity::PlayIntegrityKeys, EvidenceError> {
    let sealed = state
        .store
        .app_secret(&app.id, PLAY_INTEGRITY_KEYS_SECRET)
        .await
        .map_err(|error| EvidenceError::Internal(error.to_string()))?
        .ok_or_else(|| {
            EvidenceError::BadRequest(
                "play_integrity_keys_not_configured",
                format!(
                    "app {:?} has no Play Integrity keys; register them with `avow app \
                     set-play-integrity-keys`",
                    app.id
                ),
            )
        })?;
    let keys = state
        .master_key
        .open(
            &sealed,
            secret_context(&app.id, PLAY_INTEGRITY_KEYS_SECRET).as_bytes(),
        )
        .ok_or_else(|| EvidenceError::Internal("Play Integrity keys do not decrypt".to_owned()))?;
    let stored: StoredPlayIntegrityKeys = serde_json::from_slice(&keys)
        .map_err(|error| EvidenceError::Internal(error.to_string()))?;
    play_integrity::PlayIntegrityKeys::from_base64(&stored.decryption_key, &stored.verification_key)
        .map_err(|error| EvidenceError::Internal(error.to_string()))
}

/// The Play Integrity keys as sealed in the store.
#[derive(serde::Serialize, Deserialize)]
pub struct StoredPlayIntegrityKeys {
    /// The AES-256 decryption key, base64.
    pub decryption_key: String,
    /// The verification key, a DER SubjectPublicKeyInfo in base64.
    pub verification_key: String,
}

/// Returns the associated data that binds a sealed app secret to its app and name.
pub fn secret_context(app_id: &str, name: &str) -> String {
    format!("app-secret\0{app_id}\0{name}")
}

fn verify_android_key(
    state: &AppState,
    app: &App,
    evidence: &AndroidKeyEvidence,
    nonce: &[u8],
    time: UnixTime,
) -> Result<(Verdict, InstallKey), EvidenceError> {
    let chain = decode_chain(evidence)?;
    let digests = digests_of(app);
    let signing_certificates = CertificateDigests::registered_or_not_compared(&digests);
    let revocation = match &state.providers.android_status_list {
        Some(list) => android_key::Revocation::StatusList(list),
        None => android_key::Revocation::NotChecked,
    };
    let input = android_key::AndroidKeyInput {
        certificate_chain: &chain,
        expected_nonce: nonce,
        package_name: &app.package_name,
        signing_certificates,
        revocation,
    };
    let verified =
        android_key::verify_android_key(&input, &state.providers.android_key_roots, time)
            .map_err(|error| EvidenceError::Rejected(Provider::AndroidKeyAttestation, error))?;
    let public_key = verified.public_key_spki().to_vec();
    let key = InstallKey {
        provider: Provider::AndroidKeyAttestation,
        key_id: avow_attest::sha256(&public_key).to_vec(),
        public_key,
        environment: None,
        receipt: Vec::new(),
        app_version: verified
            .key_description()
            .attestation_application_id()
            .and_then(|application| {
                application
                    .package_infos
                    .iter()
                    .find(|info| info.package_name == app.package_name.as_bytes())
            })
            .map(|info| info.version.to_string()),
    };
    Ok((verified.verdict(), key))
}

fn decode_chain(evidence: &AndroidKeyEvidence) -> Result<Vec<Vec<u8>>, EvidenceError> {
    if evidence.certificate_chain.is_empty() || evidence.certificate_chain.len() > 10 {
        return Err(EvidenceError::BadRequest(
            "invalid_certificate_chain",
            "evidence.android_key.certificate_chain must contain 1 to 10 certificates".to_owned(),
        ));
    }
    evidence
        .certificate_chain
        .iter()
        .map(|certificate| {
            decode(
                certificate,
                "invalid_certificate_chain",
                "evidence.android_key.certificate_chain entries must be base64 DER certificates",
            )
        })
        .collect()
}

fn verify_device_key(
    app: &App,
    evidence: &DeviceKeyEvidence,
    nonce: &[u8],
) -> Result<(Verdict, InstallKey), EvidenceError> {
    let bad = DEVICE_KEY_ENCODING_MESSAGE;
    let public_key = decode(&evidence.public_key, "invalid_device_key_encoding", bad)?;
    let measurement = decode(&evidence.measurement, "invalid_device_key_encoding", bad)?;
    let signature = decode(&evidence.signature, "invalid_device_key_encoding", bad)?;
    let (expected_app_id, installers) = match app.platform.as_str() {
        "ios" => (app.bundle_id.as_str(), OFFICIAL_IOS_INSTALLERS),
        _ => (app.package_name.as_str(), OFFICIAL_ANDROID_INSTALLERS),
    };
    let digests: Vec<Vec<u8>> = app.certificate_digests.clone();
    let input = device_key::RegistrationInput {
        public_key: &public_key,
        measurement: &measurement,
        signature: &signature,
        nonce,
        expected_app_id,
        certificate_digests: &digests,
        official_installers: installers,
    };
    let verified = device_key::verify_registration(&input)
        .map_err(|error| EvidenceError::Rejected(Provider::AvowDeviceKey, error))?;
    let key = InstallKey {
        provider: Provider::AvowDeviceKey,
        key_id: verified.key_id().to_vec(),
        public_key: verified.public_key().to_vec(),
        environment: None,
        receipt: Vec::new(),
        app_version: verified.measurement().app_version.clone(),
    };
    Ok((verified.verdict().clone(), key))
}

async fn verify_device_check(
    state: &AppState,
    evidence: &DeviceCheckEvidence,
) -> Result<Option<(bool, bool)>, EvidenceError> {
    let Some(client) = &state.providers.device_check else {
        return Err(EvidenceError::BadRequest(
            "device_check_not_configured",
            "DeviceCheck needs [device_check] in the server configuration".to_owned(),
        ));
    };
    if evidence.device_token.is_empty() || evidence.device_token.len() > 8 * 1024 {
        return Err(EvidenceError::BadRequest(
            "invalid_device_token",
            "evidence.device_check.device_token must be 1 to 8192 characters".to_owned(),
        ));
    }
    let provider = Provider::AppleDeviceCheck;
    client
        .validate(&evidence.device_token)
        .await
        .map_err(|error| provider_error(provider, error))?;
    let bits = client
        .query_two_bits(&evidence.device_token)
        .await
        .map_err(|error| provider_error(provider, error))?;
    Ok(bits.into_bits().map(|bits| (bits.bit0, bits.bit1)))
}

fn provider_error(provider: Provider, error: ProviderError) -> EvidenceError {
    match error.kind() {
        FailureKind::Outage => EvidenceError::ProviderUnavailable(provider, error),
        FailureKind::Rejection => EvidenceError::ProviderRejected(provider, error),
        // Our own credentials or settings are wrong: the device is not to blame.
        FailureKind::Misconfiguration => EvidenceError::Internal(format!(
            "{} client misconfigured: {error}",
            provider.as_str()
        )),
    }
}

fn digests_of(app: &App) -> Vec<[u8; 32]> {
    app.certificate_digests
        .iter()
        .filter_map(|digest| <[u8; 32]>::try_from(digest.as_slice()).ok())
        .collect()
}

fn decode(encoded: &str, reason: &'static str, message: &str) -> Result<Vec<u8>, EvidenceError> {
    decode_base64_any(encoded).map_err(|_| EvidenceError::BadRequest(reason, message.to_owned()))
}

fn decode_fixed(
    encoded: &str,
    len: usize,
    reason: &'static str,
    message: &str,
) -> Result<Vec<u8>, EvidenceError> {
    match decode_base64_any(encoded) {
        Ok(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(EvidenceError::BadRequest(reason, message.to_owned())),
    }
}

fn unix(seconds: i64) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(seconds).unwrap_or(0),
    ))
}

/// Trust anchors, revocation data and clients for the providers other than App Attest.
pub struct Providers {
    /// Roots for SafetyNet chains.
    pub safetynet_roots: avow_attest::Roots,
    /// Roots for Huawei Safety Detect chains.
    pub huawei_roots: avow_attest::Roots,
    /// Roots for Android key attestation chains.
    pub android_key_roots: avow_attest::Roots,
    /// Google's attestation status list, when the operator supplies one.
    pub android_status_list: Option<android_key::StatusList>,
    /// The client of Google's `decodeIntegrityToken`, when configured.
    pub play_integrity_decoder: Option<crate::providers::play_integrity::PlayIntegrityDecoder>,
    /// The client of Apple's DeviceCheck API, when configured.
    pub device_check: Option<crate::providers::device_check::DeviceCheckClient>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("safetynet_roots", &self.safetynet_roots.len())
            .field("huawei_roots", &self.huawei_roots.len())
            .field("android_key_roots", &self.android_key_roots.len())
            .field("android_status_list", &self.android_status_list.is_some())
            .field(
                "play_integrity_decoder",
                &self.play_integrity_decoder.is_some(),
            )
            .field("device_check", &self.device_check.is_some())
            .finish()
    }
}

impl Providers {
    /// Loads the compiled-in roots, the configured extra roots and status list, and builds the
    /// configured clients.
    pub fn from_config(config: &crate::Config) -> Result<Self, String> {
        let mut safetynet_roots = avow_attest::Roots::globalsign();
        add_roots(&mut safetynet_roots, &config.safetynet.extra_roots)?;
        let mut huawei_roots = avow_attest::Roots::huawei_cbg();
        add_roots(&mut huawei_roots, &config.huawei_safety_detect.extra_roots)?;
        let mut android_key_roots = avow_attest::Roots::google_hardware_attestation();
        add_roots(&mut android_key_roots, &config.android_key.extra_roots)?;
        let android_status_list = match &config.android_key.status_list_file {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
                Some(
                    android_key::StatusList::parse(&bytes)
                        .map_err(|error| format!("{}: {error}", path.display()))?,
                )
            }
            None => None,
        };
        let play_integrity_decoder =
            crate::providers::play_integrity::PlayIntegritySettings::from_config(
                &config.play_integrity,
            )
            .map_err(|error| format!("[play_integrity]: {error}"))?
            .map(crate::providers::play_integrity::PlayIntegrityDecoder::new)
            .transpose()
            .map_err(|error| format!("[play_integrity]: {error}"))?;
        let device_check =
            crate::providers::device_check::DeviceCheckSettings::from_config(&config.device_check)
                .map_err(|error| format!("[device_check]: {error}"))?
                .map(crate::providers::device_check::DeviceCheckClient::new)
                .transpose()
                .map_err(|error| format!("[device_check]: {error}"))?;
        Ok(Self {
            safetynet_roots,
            huawei_roots,
            android_key_roots,
            android_status_list,
            play_integrity_decoder,
            device_check,
        })
    }
}

fn add_roots(roots: &mut avow_attest::Roots, paths: &[std::path::PathBuf]) -> Result<(), String> {
    for path in paths {
        let pem = std::fs::read(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        roots
            .add_pem(&pem)
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(())
}
