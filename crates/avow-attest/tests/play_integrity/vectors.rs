//! Public Play Integrity material: two real decoded verdicts, verified at the time they were
//! made and rejected when one input changes, and a published pair of test keys.
//!
//! The vectors live outside the repository. Tests find them through `AVOW_VECTORS_DIR`, falling
//! back to `../shared/vectors` next to the repository, and print that they were skipped when
//! neither exists.

use std::path::PathBuf;

use avow_attest::encoding::decode_base64_any;
use avow_attest::play_integrity::{
    AppLicensingVerdict, AppRecognitionVerdict, CertificateDigests, DeviceRecognitionLabel,
    ExpectedRequest, Freshness, PlayIntegrityKeys, RequestBinding, VerifiedPlayIntegrity,
    verify_decoded_payload, verify_token,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity};
use avow_attest::{Error, UnixTime};
use avow_testgen::play_integrity::{PlayIntegrityIssuer, PlayIntegritySpec};
use serde_json::Value;

use super::{PACKAGE, nonce, unix};

/// P1: a standard request from a debug build, decoded by Google.
const UNFACD_FILE: &str = "unfacd-standard-decoded-verdict.json";
const UNFACD_PACKAGE: &str = "com.unfacd.android.debug";
const UNFACD_REQUEST_HASH_HEX: &str =
    "660d4942502883584065ed5cb68c6538d0766674d53dfac5a50f3fb7be525434";
const UNFACD_DIGEST: &str = "RIyAfqhCrsbF_26eEtgyXA7JsUh1xDjxuCM1sLcFJiQ";
/// `timestampMillis` of P1, 2024-08-31T10:25:36.456Z.
const UNFACD_TIMESTAMP_MS: u64 = 1_725_099_936_456;

/// P2: Google's sample output of a classic request.
const GOOGLE_SAMPLE_FILE: &str = "google-sample-classic-decoded-verdict.json";
const GOOGLE_SAMPLE_PACKAGE: &str = "com.test.android.integritysample";
const GOOGLE_SAMPLE_NONCE: &str = "SafetyNetSample1654058651834";
const GOOGLE_SAMPLE_DIGEST: &str = "pnpa8e8eCArtvmaf49bJE1f5iG5-XLSU6w1U9ZvI96g";
/// `timestampMillis` of P2, 2022-06-01T04:44:17.132Z.
const GOOGLE_SAMPLE_TIMESTAMP_MS: u64 = 1_654_058_657_132;

/// P4: test keys published by an open-source attestation gateway.
const TEST_KEYS_FILE: &str = "worldcoin-test-keys.json";

fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    let folder = dir.join("play-integrity");
    if folder.is_dir() {
        Some(folder)
    } else {
        eprintln!(
            "skipped: Play Integrity vectors not found at {} (set AVOW_VECTORS_DIR to the vectors folder)",
            folder.display()
        );
        None
    }
}

fn read(name: &str) -> Option<Vec<u8>> {
    let path = vectors_dir()?.join(name);
    Some(std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display())))
}

/// Returns one second after `timestamp_ms`, the verification time of a vector.
fn just_after(timestamp_ms: u64) -> UnixTime {
    unix(timestamp_ms / 1000 + 1)
}

fn digest(text: &str) -> [u8; 32] {
    decode_base64_any(text).unwrap().try_into().unwrap()
}

fn verify_decoded(
    json: &[u8],
    package: &str,
    binding: RequestBinding<'_>,
    digests: &[[u8; 32]],
    now: UnixTime,
) -> Result<VerifiedPlayIntegrity, Error> {
    let expected = ExpectedRequest {
        package_name: package,
        binding,
        certificate_digests: CertificateDigests::Registered(digests),
        min_version_code: None,
    };
    verify_decoded_payload(json, &expected, now, Freshness::default())
}

#[test]
fn unfacd_verdict_verifies_at_its_time() {
    let Some(json) = read(UNFACD_FILE) else {
        return;
    };
    let hash = hex::decode(UNFACD_REQUEST_HASH_HEX).unwrap();
    let verified = verify_decoded(
        &json,
        UNFACD_PACKAGE,
        RequestBinding::RequestHash(&hash),
        &[digest(UNFACD_DIGEST)],
        just_after(UNFACD_TIMESTAMP_MS),
    )
    .unwrap();

    let verdict = verified.verdict();
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
    assert_eq!(verdict.app_integrity, AppIntegrity::Unrecognized);
    assert!(verdict.risk_flags.is_empty());
    assert_eq!(verdict.evidence_time_ms, Some(UNFACD_TIMESTAMP_MS));
    assert_eq!(
        verified.app_recognition_verdict(),
        Some(&AppRecognitionVerdict::UnrecognizedVersion)
    );
    assert_eq!(
        verified.device_recognition_labels(),
        [DeviceRecognitionLabel::MeetsDeviceIntegrity]
    );
    assert_eq!(
        verified.app_licensing_verdict(),
        Some(&AppLicensingVerdict::Unevaluated)
    );
    assert_eq!(verified.version_code(), Some(7902));
    assert_eq!(verified.request_package_name(), UNFACD_PACKAGE);
}

#[test]
fn unfacd_verdict_rejected_on_changed_input() {
    let Some(json) = read(UNFACD_FILE) else {
        return;
    };
    let hash = hex::decode(UNFACD_REQUEST_HASH_HEX).unwrap();
    let digests = [digest(UNFACD_DIGEST)];
    let binding = RequestBinding::RequestHash(&hash);
    let at = just_after(UNFACD_TIMESTAMP_MS);

    let max_age_secs = Freshness::default().max_age_secs;
    let too_late = unix(UNFACD_TIMESTAMP_MS / 1000 + max_age_secs + 1);
    let error = verify_decoded(&json, UNFACD_PACKAGE, binding, &digests, too_late).unwrap_err();
    assert_eq!(
        error,
        Error::EvidenceTooOld {
            timestamp_ms: UNFACD_TIMESTAMP_MS,
            now_ms: (UNFACD_TIMESTAMP_MS / 1000 + max_age_secs + 1) * 1000,
            max_age_ms: max_age_secs * 1000,
        }
    );

    let error = verify_decoded(&json, "com.unfacd.android", binding, &digests, at).unwrap_err();
    assert_eq!(
        error,
        Error::PackageNameMismatch {
            field: "requestDetails.requestPackageName",
            expected: "com.unfacd.android".to_owned(),
            received: UNFACD_PACKAGE.to_owned(),
        }
    );

    let mut other_hash = hash.clone();
    other_hash[0] ^= 0x01;
    let error = verify_decoded(
        &json,
        UNFACD_PACKAGE,
        RequestBinding::RequestHash(&other_hash),
        &digests,
        at,
    )
    .unwrap_err();
    assert_eq!(
        error,
        Error::NonceMismatch {
            field: "requestDetails.requestHash"
        }
    );

    let other_digests = [avow_attest::sha256(b"release signing certificate")];
    let error = verify_decoded(&json, UNFACD_PACKAGE, binding, &other_digests, at).unwrap_err();
    assert_eq!(error, Error::CertificateDigestMismatch);
}

#[test]
fn google_sample_verifies_at_its_time() {
    let Some(json) = read(GOOGLE_SAMPLE_FILE) else {
        return;
    };
    let nonce = decode_base64_any(GOOGLE_SAMPLE_NONCE).unwrap();
    let verified = verify_decoded(
        &json,
        GOOGLE_SAMPLE_PACKAGE,
        RequestBinding::Nonce(&nonce),
        &[digest(GOOGLE_SAMPLE_DIGEST)],
        just_after(GOOGLE_SAMPLE_TIMESTAMP_MS),
    )
    .unwrap();
    let verdict = verified.verdict();
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
    assert!(verdict.risk_flags.is_empty());
    assert_eq!(
        verified.app_licensing_verdict(),
        Some(&AppLicensingVerdict::Licensed)
    );
    assert_eq!(verified.version_code(), Some(4));
    assert_eq!(verified.timestamp_ms(), GOOGLE_SAMPLE_TIMESTAMP_MS);
}

#[test]
fn google_sample_rejected_on_changed_input() {
    let Some(json) = read(GOOGLE_SAMPLE_FILE) else {
        return;
    };
    let nonce = decode_base64_any(GOOGLE_SAMPLE_NONCE).unwrap();
    let binding = RequestBinding::Nonce(&nonce);
    let digests = [digest(GOOGLE_SAMPLE_DIGEST)];
    let at = just_after(GOOGLE_SAMPLE_TIMESTAMP_MS);

    let other_digests = [avow_attest::sha256(b"another signing certificate")];
    let error =
        verify_decoded(&json, GOOGLE_SAMPLE_PACKAGE, binding, &other_digests, at).unwrap_err();
    assert_eq!(error, Error::CertificateDigestMismatch);

    let other_nonce = decode_base64_any("SafetyNetSample1654058651835").unwrap();
    let error = verify_decoded(
        &json,
        GOOGLE_SAMPLE_PACKAGE,
        RequestBinding::Nonce(&other_nonce),
        &digests,
        at,
    )
    .unwrap_err();
    assert_eq!(
        error,
        Error::NonceMismatch {
            field: "requestDetails.nonce"
        }
    );

    let error = verify_decoded(&json, PACKAGE, binding, &digests, at).unwrap_err();
    assert_eq!(error.reason(), "package_name_mismatch");

    // Verified today, the 2022 verdict is far too old.
    let error = verify_decoded(
        &json,
        GOOGLE_SAMPLE_PACKAGE,
        binding,
        &digests,
        unix(1_750_000_000),
    )
    .unwrap_err();
    assert_eq!(error.reason(), "evidence_too_old");
}

/// Reads the published test keys: the AES-256 decryption key (32 ASCII bytes, base64) and a
/// P-256 verification key (SPKI, base64), plus a second AES key for negative tests.
fn test_keys() -> Option<(String, String, Vec<u8>)> {
    let json: Value = serde_json::from_slice(&read(TEST_KEYS_FILE)?).unwrap();
    let text = |key: &str| {
        json[key]
            .as_str()
            .unwrap_or_else(|| panic!("{TEST_KEYS_FILE}: {key} missing"))
            .to_owned()
    };
    Some((
        text("ANDROID_OUTER_JWE_PRIVATE_KEY_base64"),
        text("ANDROID_INNER_JWS_PUBLIC_KEY_spki_der_base64"),
        text("other_A256KW_key_used_for_negative_test").into_bytes(),
    ))
}

#[test]
fn published_test_keys_decrypt_token() {
    let Some((decryption_key_b64, verification_key_b64, other_key)) = test_keys() else {
        return;
    };
    let decryption_key: [u8; 32] = decode_base64_any(&decryption_key_b64)
        .unwrap()
        .try_into()
        .unwrap();

    // The published verification key has no private key, so the token is signed with a
    // generated key and checked against that key's SPKI.
    let issuer = PlayIntegrityIssuer::with_decryption_key(decryption_key);
    let spec = PlayIntegritySpec::classic(PACKAGE, &nonce(), super::NOW_SECS * 1000);
    let token = issuer.token(&spec);
    let nonce = nonce();
    let digests = [avow_testgen::play_integrity::default_certificate_digest()];
    let expected = ExpectedRequest {
        package_name: PACKAGE,
        binding: RequestBinding::Nonce(&nonce),
        certificate_digests: CertificateDigests::Registered(&digests),
        min_version_code: None,
    };
    let now = unix(super::NOW_SECS);
    let keys = PlayIntegrityKeys::new(&decryption_key, &issuer.verification_key_spki()).unwrap();
    assert!(verify_token(&token, &keys, &expected, now, Freshness::default()).is_ok());

    // The published second AES key does not unwrap the content key.
    let other_keys = PlayIntegrityKeys::new(&other_key, &issuer.verification_key_spki()).unwrap();
    assert_eq!(
        verify_token(&token, &other_keys, &expected, now, Freshness::default()).unwrap_err(),
        Error::JweKeyUnwrapFailed
    );

    // The published pair parses as the Play Console's base64 form, and the published
    // verification key rejects the generated signature.
    let published =
        PlayIntegrityKeys::from_base64(&decryption_key_b64, &verification_key_b64).unwrap();
    assert_eq!(published.verification_key_point()[0], 0x04);
    assert_eq!(
        verify_token(&token, &published, &expected, now, Freshness::default()).unwrap_err(),
        Error::JwsSignatureInvalid
    );
}
