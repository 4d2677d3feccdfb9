//! The payload checks, which run the same way for a decrypted token and for a payload that
//! Google decoded: one generated mutation or one changed expectation per check.

use avow_attest::Error;
use avow_attest::play_integrity::{CheckOutcome, PlayIntegrityCheck};
use avow_attest::verdict::AppIntegrity;
use avow_testgen::play_integrity::PlayIntegrityMutation;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Binding, Fixture, NOW_SECS, PACKAGE, TOKEN_AGE_MS, assert_payload_failure, nonce};

const OTHER_PACKAGE: &str = "com.example.other";

#[test]
fn payload_that_is_not_json_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::PayloadText("not json".to_owned()));
    let report = fixture.report();
    let (check, error) = report.first_failure().unwrap();
    assert_eq!(check, PlayIntegrityCheck::Payload);
    assert_eq!(error.reason(), "malformed_payload");
    let skipped = report
        .outcomes()
        .iter()
        .filter(|(_, outcome)| *outcome == CheckOutcome::Skipped)
        .count();
    assert_eq!(skipped, 6);
}

#[test]
fn decoded_payload_that_is_not_json_rejected() {
    let fixture = Fixture::classic();
    let error = avow_attest::play_integrity::verify_decoded_payload(
        b"{\"tokenPayloadExternal\":",
        &fixture.expected(),
        super::unix(NOW_SECS),
        fixture.freshness,
    )
    .unwrap_err();
    assert_eq!(error.reason(), "malformed_payload");
}

#[test]
fn request_package_name_mismatch_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::RequestPackageName(
        OTHER_PACKAGE.to_owned(),
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::RequestPackageName,
        Error::PackageNameMismatch {
            field: "requestDetails.requestPackageName",
            expected: PACKAGE.to_owned(),
            received: OTHER_PACKAGE.to_owned(),
        },
    );
}

#[test]
fn request_package_name_missing_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField(
        "requestDetails.requestPackageName",
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::RequestPackageName,
        Error::MissingField {
            what: "requestDetails.requestPackageName",
        },
    );
}

#[test]
fn verdict_for_other_app_rejected() {
    // The verdict is for another app; the expectation names ours.
    let mut fixture = Fixture::classic();
    fixture.package = OTHER_PACKAGE.to_owned();
    let error = fixture.verify().unwrap_err();
    assert_eq!(
        error,
        Error::PackageNameMismatch {
            field: "requestDetails.requestPackageName",
            expected: OTHER_PACKAGE.to_owned(),
            received: PACKAGE.to_owned(),
        }
    );
    let report = fixture.report();
    let failed: Vec<_> = report
        .outcomes()
        .iter()
        .filter(|(_, outcome)| matches!(outcome, CheckOutcome::Failed(_)))
        .map(|(check, _)| *check)
        .collect();
    assert_eq!(
        failed,
        [
            PlayIntegrityCheck::RequestPackageName,
            PlayIntegrityCheck::AppPackageName
        ]
    );
}

#[test]
fn app_package_name_mismatch_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::AppPackageName(
        OTHER_PACKAGE.to_owned(),
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::AppPackageName,
        Error::PackageNameMismatch {
            field: "appIntegrity.packageName",
            expected: PACKAGE.to_owned(),
            received: OTHER_PACKAGE.to_owned(),
        },
    );
}

#[test]
fn app_package_name_missing_for_evaluated_app_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField(
        "appIntegrity.packageName",
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::AppPackageName,
        Error::MissingField {
            what: "appIntegrity.packageName",
        },
    );
}

#[test]
fn nonce_mismatch_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::Nonce(STANDARD.encode([0u8; 32])));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::NonceMismatch {
            field: "requestDetails.nonce",
        },
    );
}

#[test]
fn other_expected_nonce_rejected() {
    let mut fixture = Fixture::classic();
    let mut other = nonce();
    other[31] ^= 0x01;
    fixture.binding = Binding::Nonce(other);
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::NonceMismatch {
            field: "requestDetails.nonce",
        },
    );
}

#[test]
fn nonce_that_is_not_base64_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::Nonce("not base64!".to_owned()));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::NonceMismatch {
            field: "requestDetails.nonce",
        },
    );
}

#[test]
fn nonce_missing_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField("requestDetails.nonce"));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::MissingField {
            what: "requestDetails.nonce",
        },
    );
}

#[test]
fn standard_request_hash_in_hex_verifies() {
    let fixture = Fixture::standard();
    assert!(fixture.verify().is_ok());
    assert!(fixture.verify_decoded().is_ok());
}

#[test]
fn standard_request_hash_in_uppercase_hex_verifies() {
    let mut fixture = Fixture::standard();
    let Binding::RequestHash(hash) = fixture.binding.clone() else {
        unreachable!("standard fixtures bind a request hash");
    };
    fixture.spec.mutation = PlayIntegrityMutation::Nonce(hex::encode_upper(&hash));
    assert!(fixture.verify().is_ok());
}

#[test]
fn request_hash_mismatch_rejected() {
    let mut fixture = Fixture::standard();
    fixture.binding =
        Binding::RequestHash(avow_attest::sha256(b"POST /transfer amount=1000").to_vec());
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::NonceMismatch {
            field: "requestDetails.requestHash",
        },
    );
}

#[test]
fn classic_verdict_checked_as_standard_rejected() {
    // A classic verdict has no requestHash; expecting one must not fall back to the nonce.
    let mut fixture = Fixture::classic();
    fixture.binding = Binding::RequestHash(nonce());
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::MissingField {
            what: "requestDetails.requestHash",
        },
    );
}

#[test]
fn empty_expected_nonce_never_matches() {
    let mut fixture = Fixture::with(PlayIntegrityMutation::Nonce(String::new()));
    fixture.binding = Binding::Nonce(Vec::new());
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Nonce,
        Error::NonceMismatch {
            field: "requestDetails.nonce",
        },
    );
}

#[test]
fn verdict_older_than_max_age_rejected() {
    let mut fixture = Fixture::classic();
    let max_age_ms = fixture.freshness.max_age_secs * 1000;
    // The verdict is two seconds old at NOW_SECS, so it reaches the maximum age exactly two
    // seconds before NOW_SECS + max age, and is one second too old a second later.
    fixture.now_secs = NOW_SECS + fixture.freshness.max_age_secs - 2;
    assert!(fixture.verify().is_ok(), "at the edge of the window");
    fixture.now_secs = NOW_SECS + fixture.freshness.max_age_secs - 1;
    let timestamp_ms = NOW_SECS * 1000 - TOKEN_AGE_MS;
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Timestamp,
        Error::EvidenceTooOld {
            timestamp_ms,
            now_ms: fixture.now_secs * 1000,
            max_age_ms,
        },
    );
}

#[test]
fn verdict_from_future_rejected() {
    let mut fixture = Fixture::classic();
    let skew_secs = fixture.freshness.max_future_skew_secs;
    fixture.spec.timestamp_ms = (NOW_SECS + skew_secs) * 1000;
    assert!(fixture.verify().is_ok(), "at the edge of the skew");
    fixture.spec.timestamp_ms = (NOW_SECS + skew_secs) * 1000 + 1;
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Timestamp,
        Error::EvidenceFromFuture {
            timestamp_ms: (NOW_SECS + skew_secs) * 1000 + 1,
            now_ms: NOW_SECS * 1000,
            max_skew_ms: skew_secs * 1000,
        },
    );
}

#[test]
fn shorter_max_age_rejects_same_verdict() {
    let mut fixture = Fixture::classic();
    fixture.freshness.max_age_secs = 1;
    assert_eq!(fixture.verify().unwrap_err().reason(), "evidence_too_old");
}

#[test]
fn timestamp_as_json_number_verifies() {
    let fixture = Fixture::with(PlayIntegrityMutation::TimestampAsNumber);
    assert_eq!(
        fixture.verify().unwrap().timestamp_ms(),
        NOW_SECS * 1000 - TOKEN_AGE_MS
    );
}

#[test]
fn timestamp_missing_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField(
        "requestDetails.timestampMillis",
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::Timestamp,
        Error::MissingField {
            what: "requestDetails.timestampMillis",
        },
    );
}

#[test]
fn request_details_missing_fails_every_request_check() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField("requestDetails"));
    assert_eq!(
        fixture.verify().unwrap_err(),
        Error::MissingField {
            what: "requestDetails.requestPackageName"
        }
    );
    let report = fixture.report();
    for check in [
        PlayIntegrityCheck::RequestPackageName,
        PlayIntegrityCheck::Nonce,
        PlayIntegrityCheck::Timestamp,
    ] {
        let outcome = &report
            .outcomes()
            .iter()
            .find(|(candidate, _)| *candidate == check)
            .unwrap()
            .1;
        assert!(matches!(outcome, CheckOutcome::Failed(_)), "{check:?}");
    }
}

#[test]
fn unregistered_certificate_digest_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::CertificateDigest(
        avow_attest::sha256(b"a re-signed copy of the app"),
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::CertificateDigest,
        Error::CertificateDigestMismatch,
    );
}

#[test]
fn one_unregistered_digest_among_several_rejected() {
    let fixture = Fixture::with_spec(|spec| {
        spec.certificate_digests
            .push(avow_attest::sha256(b"an extra signer"));
    });
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::CertificateDigest,
        Error::CertificateDigestMismatch,
    );
}

#[test]
fn rotated_certificate_with_both_digests_registered_verifies() {
    let rotated = avow_attest::sha256(b"the rotated signing certificate");
    let mut fixture = Fixture::with_spec(|spec| spec.certificate_digests = vec![rotated]);
    fixture.registered = Some(vec![
        avow_testgen::play_integrity::default_certificate_digest(),
        rotated,
    ]);
    assert!(fixture.verify().is_ok());
}

#[test]
fn missing_digests_for_evaluated_app_rejected() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField(
        "appIntegrity.certificateSha256Digest",
    ));
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::CertificateDigest,
        Error::CertificateDigestMismatch,
    );
}

#[test]
fn digests_not_compared_when_not_registered() {
    let mut fixture = Fixture::with(PlayIntegrityMutation::CertificateDigest(
        avow_attest::sha256(b"any signer"),
    ));
    fixture.registered = None;
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().app_integrity, AppIntegrity::Recognized);
}

#[test]
fn version_code_below_minimum_rejected() {
    let mut fixture = Fixture::with(PlayIntegrityMutation::VersionCode(41));
    fixture.min_version_code = Some(42);
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::VersionCode,
        Error::VersionCodeTooLow {
            minimum: 42,
            received: 41,
        },
    );
}

#[test]
fn version_code_at_minimum_verifies() {
    let mut fixture = Fixture::classic();
    fixture.min_version_code = Some(42);
    assert_eq!(fixture.verify().unwrap().version_code(), Some(42));
}

#[test]
fn version_code_missing_with_minimum_rejected() {
    let mut fixture = Fixture::with(PlayIntegrityMutation::RemoveField(
        "appIntegrity.versionCode",
    ));
    fixture.min_version_code = Some(1);
    assert_payload_failure(
        &fixture,
        PlayIntegrityCheck::VersionCode,
        Error::MissingField {
            what: "appIntegrity.versionCode",
        },
    );
}

#[test]
fn unevaluated_app_without_details_verifies() {
    // Google leaves out the app's package name, digests and version code when it did not
    // evaluate the app. That is a verdict for policy, not a verification failure.
    let mut fixture = Fixture::with_spec(|spec| {
        spec.app_recognition_verdict = Some("UNEVALUATED".to_owned());
        spec.mutation = PlayIntegrityMutation::RemoveField("appIntegrity.packageName");
        spec.certificate_digests.clear();
        spec.version_code = None;
    });
    fixture.min_version_code = Some(100);
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().app_integrity, AppIntegrity::Unevaluated);
    assert!(verified.certificate_sha256_digests().is_empty());
    assert!(fixture.verify_decoded().is_ok());
}

#[test]
fn verdict_without_app_integrity_verifies_as_unevaluated() {
    let fixture = Fixture::with(PlayIntegrityMutation::RemoveField("appIntegrity"));
    let verified = fixture.verify().unwrap();
    assert_eq!(verified.verdict().app_integrity, AppIntegrity::Unevaluated);
    assert_eq!(verified.app_recognition_verdict(), None);
}

#[test]
fn decoded_payload_without_wrapper_verifies() {
    let fixture = Fixture::classic();
    let bare = fixture.spec.payload().to_string();
    let verified = avow_attest::play_integrity::verify_decoded_payload(
        bare.as_bytes(),
        &fixture.expected(),
        super::unix(NOW_SECS),
        fixture.freshness,
    )
    .unwrap();
    assert_eq!(verified, fixture.verify_decoded().unwrap());
}

#[test]
fn token_and_decoded_paths_agree() {
    let fixture = Fixture::classic();
    assert_eq!(fixture.verify().unwrap(), fixture.verify_decoded().unwrap());
    let decoded = fixture.decoded_report();
    let checks: Vec<_> = decoded.outcomes().iter().map(|(check, _)| *check).collect();
    assert_eq!(checks, PlayIntegrityCheck::DECODED);
}
