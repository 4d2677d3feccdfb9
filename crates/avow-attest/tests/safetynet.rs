//! SafetyNet results: the real, public 2021 result from a WebAuthn registration and Duo's test
//! CA results, then generated results with one mutation per check.
//!
//! The vectors live outside the repository. Tests find them through `AVOW_VECTORS_DIR`, falling
//! back to `../shared/vectors` next to the repository, and print that they were skipped when
//! neither exists.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use avow_attest::safetynet::{
    CertificateDigests, CheckOutcome, Freshness, Roots, SafetyNetCheck, SafetyNetInput,
    SafetyNetPayload, SafetyNetReport, VerifiedSafetyNet, verify_safetynet,
    verify_safetynet_report,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel};
use avow_attest::{Error, UnixTime, sha256};
use avow_testgen::{ResultMutation, SafetyNetGenerator, SafetyNetSpec};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{VERIFICATION_SECS, utc_date, verification_time};
use serde_json::Value;

// === real vectors ===

fn vectors_dir() -> Option<PathBuf> {
    common::vectors_dir("safetynet", "SafetyNet")
}

fn at(rfc3339: &str) -> UnixTime {
    let time = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .unwrap();
    UnixTime::since_unix_epoch(Duration::from_secs(
        u64::try_from(time.unix_timestamp()).unwrap(),
    ))
}

fn read_text(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("safetynet").join(name))
        .unwrap()
        .trim()
        .to_owned()
}

/// Decodes the payload part of a JWS without verifying anything.
fn payload_of(jws: &str) -> SafetyNetPayload {
    let part = jws.split('.').nth(1).unwrap();
    SafetyNetPayload::from_json(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The package of the WebAuthn authenticator in Google Play services.
const GMS_PACKAGE: &str = "com.google.android.gms";

/// The real result from py_webauthn's Android registration, with the inputs to verify it.
struct RealResult {
    jws: String,
    /// SHA-256(authData ‖ SHA-256(clientDataJSON)), the nonce WebAuthn prescribes.
    nonce: Vec<u8>,
    /// The JWS inside the WebAuthn attestation object, to compare with the file.
    webauthn_response: Vec<u8>,
}

impl RealResult {
    fn load(dir: &std::path::Path) -> Self {
        let jws = read_text(dir, "pywebauthn-real-2021-jws.txt");
        let registration: Value = serde_json::from_str(&read_text(
            dir,
            "pywebauthn-real-2021-webauthn-registration.json",
        ))
        .unwrap();

        let decode = |key: &str| {
            avow_attest::encoding::decode_base64_any(registration[key].as_str().unwrap()).unwrap()
        };
        let object: ciborium::Value =
            ciborium::from_reader(decode("attestationObject_base64url").as_slice()).unwrap();
        let entries = object.as_map().unwrap();
        let member = |entries: &[(ciborium::Value, ciborium::Value)], key: &str| {
            entries
                .iter()
                .find(|(name, _)| name.as_text() == Some(key))
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| panic!("{key} missing"))
        };
        let auth_data = member(entries, "authData").into_bytes().unwrap();
        let statement = member(entries, "attStmt");
        let webauthn_response = member(statement.as_map().unwrap(), "response")
            .into_bytes()
            .unwrap();

        let mut message = auth_data;
        message.extend_from_slice(&sha256(&decode("clientDataJSON_base64url")));
        Self {
            jws,
            nonce: sha256(&message).to_vec(),
            webauthn_response,
        }
    }

    fn input(&self) -> SafetyNetInput<'_> {
        SafetyNetInput {
            jws: &self.jws,
            expected_nonce: &self.nonce,
            package_name: GMS_PACKAGE,
            certificate_digests: CertificateDigests::NotCompared,
            freshness: Freshness::default(),
        }
    }
}

/// Returns a time a few seconds after the result's timestampMs (2021-09-03T21:07:20.057Z).
fn real_capture_time() -> UnixTime {
    at("2021-09-03T21:07:25Z")
}

/// Returns a window wide enough for every time the leaf is valid (2021-07-19 to 2021-10-17).
fn wide_window() -> Freshness {
    Freshness {
        max_age_secs: 60 * 24 * 3600,
        max_future_skew_secs: 3 * 24 * 3600,
    }
}

#[test]
fn real_result_valid_at_capture_time() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let verified =
        verify_safetynet(&real.input(), &Roots::globalsign(), real_capture_time()).unwrap();
    assert_eq!(verified.nonce(), real.nonce);
    assert_eq!(verified.package_name(), GMS_PACKAGE);
    assert_eq!(
        Some(verified.timestamp_ms()),
        payload_of(&real.jws).timestamp_ms()
    );
    let verdict = verified.verdict();
    assert_eq!(verdict.provider, Provider::SafetyNet);
    assert_eq!(verdict.trust, TrustLevel::Platform);
    assert_eq!(verdict.app_integrity, AppIntegrity::Unevaluated);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
    assert!(verdict.risk_flags.is_empty());
    assert_eq!(verdict.evidence_time_ms, Some(verified.timestamp_ms()));
}

#[test]
fn real_result_is_the_webauthn_response() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    assert_eq!(real.webauthn_response, real.jws.as_bytes());
}

#[test]
fn real_result_valid_across_leaf_validity() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let input = SafetyNetInput {
        freshness: wide_window(),
        ..real.input()
    };
    for time in ["2021-09-01T00:00:00Z", "2021-10-17T00:00:00Z"] {
        verify_safetynet(&input, &Roots::globalsign(), at(time))
            .unwrap_or_else(|error| panic!("{time}: {error}"));
    }
}

#[test]
fn real_result_registered_digest_recognized() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let digests = payload_of(&real.jws).certificate_digests().to_vec();
    assert_eq!(digests.len(), 1);
    let input = SafetyNetInput {
        certificate_digests: CertificateDigests::Registered(&digests),
        ..real.input()
    };
    let verified = verify_safetynet(&input, &Roots::globalsign(), real_capture_time()).unwrap();
    assert_eq!(verified.verdict().app_integrity, AppIntegrity::Recognized);

    let other = [[7u8; 32]];
    let input = SafetyNetInput {
        certificate_digests: CertificateDigests::Registered(&other),
        ..real.input()
    };
    let error = verify_safetynet(&input, &Roots::globalsign(), real_capture_time()).unwrap_err();
    assert_eq!(error, Error::CertificateDigestMismatch);
}

#[test]
fn real_result_other_nonce_rejected() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let mut nonce = real.nonce.clone();
    nonce[0] ^= 1;
    let input = SafetyNetInput {
        expected_nonce: &nonce,
        ..real.input()
    };
    let error = verify_safetynet(&input, &Roots::globalsign(), real_capture_time()).unwrap_err();
    assert_eq!(error, Error::NonceMismatch { field: "nonce" });
}

#[test]
fn real_result_other_package_rejected() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let input = SafetyNetInput {
        package_name: "com.example.bank",
        ..real.input()
    };
    let error = verify_safetynet(&input, &Roots::globalsign(), real_capture_time()).unwrap_err();
    assert_eq!(
        error,
        Error::PackageNameMismatch {
            field: "apkPackageName",
            expected: "com.example.bank".to_owned(),
            received: GMS_PACKAGE.to_owned(),
        }
    );
}

#[test]
fn real_result_expired_after_leaf() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let input = SafetyNetInput {
        freshness: wide_window(),
        ..real.input()
    };
    let error =
        verify_safetynet(&input, &Roots::globalsign(), at("2021-10-18T00:00:00Z")).unwrap_err();
    let Error::CertificateExpired { which, .. } = error else {
        panic!("expected an expired certificate, got {error:?}");
    };
    assert_eq!(which, "leaf");
}

#[test]
fn real_result_stale_with_default_window() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let error = verify_safetynet(
        &real.input(),
        &Roots::globalsign(),
        at("2021-09-04T00:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(error.reason(), "evidence_too_old");
}

#[test]
fn chain_via_r1_accepted_with_r2_only_rejected() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    let error = verify_safetynet(
        &real.input(),
        &Roots::globalsign_r2_historic(),
        real_capture_time(),
    )
    .unwrap_err();
    assert_eq!(error, Error::UnknownIssuer);

    verify_safetynet(&real.input(), &Roots::globalsign(), real_capture_time()).unwrap();

    // Path building tries every anchor, so adding R2 to R1 changes nothing.
    let mut both = Roots::globalsign();
    both.extend(&Roots::globalsign_r2_historic());
    verify_safetynet(&real.input(), &both, real_capture_time()).unwrap();
}

#[test]
fn chain_validated_offline_without_crl_fetch() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    // The leaf names a CRL distribution point that an online validator would fetch.
    let x5c: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(real.jws.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let leaf = avow_attest::encoding::decode_base64_any(x5c["x5c"][0].as_str().unwrap()).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&leaf).unwrap();
    let has_crl_distribution_point = leaf.extensions().iter().any(|extension| {
        extension.oid == x509_parser::oid_registry::OID_X509_EXT_CRL_DISTRIBUTION_POINTS
    });
    assert!(has_crl_distribution_point);

    // The verifier does no I/O: it takes the roots and the time as arguments and never
    // fetches the CRL, so the result verifies with no network at all.
    verify_safetynet(&real.input(), &Roots::globalsign(), real_capture_time()).unwrap();
}

#[test]
fn jws_truncated_by_logcat_malformed() {
    let Some(dir) = vectors_dir() else { return };
    let real = RealResult::load(&dir);
    // logcat cuts long lines at about 4 KB.
    let truncated: String = real.jws.chars().take(4024).collect();
    let input = SafetyNetInput {
        jws: &truncated,
        ..real.input()
    };
    let report = verify_safetynet_report(&input, &Roots::globalsign(), real_capture_time());
    let Some((SafetyNetCheck::Structure, Error::MalformedJws { .. })) = report.first_failure()
    else {
        panic!("expected a malformed JWS, got {:?}", report.first_failure());
    };
    assert!(
        report.outcomes()[1..]
            .iter()
            .all(|(_, outcome)| *outcome == CheckOutcome::Skipped)
    );
}

/// Duo's test results: a leaf for attest.android.com issued by their own "SafetynetTestCA".
const TEST_CA_RESULTS: [&str; 2] = [
    "pywebauthn-testca-only_fail_cts_check.jws.txt",
    "pywebauthn-testca-fail.jws.txt",
];

#[test]
fn test_ca_results_rejected_with_google_roots() {
    let Some(dir) = vectors_dir() else { return };
    for file in TEST_CA_RESULTS {
        let jws = read_text(&dir, file);
        let payload = payload_of(&jws);
        let nonce = avow_attest::encoding::decode_base64_any(payload.nonce().unwrap()).unwrap();
        let input = SafetyNetInput {
            jws: &jws,
            expected_nonce: &nonce,
            package_name: payload.package_name().unwrap(),
            certificate_digests: CertificateDigests::NotCompared,
            freshness: Freshness {
                max_age_secs: 60,
                max_future_skew_secs: 60,
            },
        };
        let time =
            UnixTime::since_unix_epoch(Duration::from_millis(payload.timestamp_ms().unwrap()));
        let report = verify_safetynet_report(&input, &Roots::globalsign(), time);
        // The leaf is an X.509 version 1 certificate without extensions, and webpki accepts
        // only version 3 end-entity certificates. Its CA is neither in x5c nor a Google root,
        // so the host name in its common name does not make the result trusted.
        assert_eq!(
            report.first_failure(),
            Some((
                SafetyNetCheck::CertificateChain,
                &Error::MalformedCertificate { which: "leaf" }
            )),
            "{file}"
        );
        // Everything but the chain holds: the signature matches the leaf's key and the
        // payload fields match the inputs taken from it.
        for (check, outcome) in report.outcomes() {
            if *check != SafetyNetCheck::CertificateChain {
                assert_eq!(*outcome, CheckOutcome::Passed, "{file} {check:?}");
            }
        }
        assert!(report.into_result().is_err());
    }
}

#[test]
fn test_ca_payload_verdicts() {
    let Some(dir) = vectors_dir() else { return };
    // The payloads as policy would see them if the test CA were trusted: (a) passes a basic
    // integrity policy and fails a CTS (certified device) policy, (b) fails both.
    let only_basic =
        payload_of(&read_text(&dir, TEST_CA_RESULTS[0])).verdict(AppIntegrity::Unevaluated);
    assert_eq!(only_basic.device_integrity, DeviceIntegrity::Basic);
    assert!(only_basic.device_integrity < DeviceIntegrity::Device);
    assert_eq!(only_basic.risk_flags, vec![RiskFlag::BootloaderUnlocked]);

    let failing =
        payload_of(&read_text(&dir, TEST_CA_RESULTS[1])).verdict(AppIntegrity::Unevaluated);
    assert_eq!(failing.device_integrity, DeviceIntegrity::None);
    assert!(failing.device_integrity < DeviceIntegrity::Basic);
    assert_eq!(failing.risk_flags, vec![RiskFlag::Rooted]);
}

// === generated results ===

const PACKAGE: &str = "com.example.bank";
const NONCE: [u8; 32] = [0x42; 32];
const SIGNING_DIGEST: [u8; 32] = [0x5c; 32];

/// One test PKI for all tests here, because RSA key generation is slow in debug builds.
static GENERATOR: LazyLock<SafetyNetGenerator> = LazyLock::new(SafetyNetGenerator::new);

/// Returns a valid specification of a result produced 30 seconds before verification.
fn spec() -> SafetyNetSpec {
    SafetyNetSpec::new(
        NONCE,
        VERIFICATION_SECS * 1000 - 30_000,
        PACKAGE,
        vec![SIGNING_DIGEST],
    )
}

fn roots_of(generator: &SafetyNetGenerator) -> Roots {
    common::roots_of(generator.signer())
}

fn input(jws: &str) -> SafetyNetInput<'_> {
    SafetyNetInput {
        jws,
        expected_nonce: &NONCE,
        package_name: PACKAGE,
        certificate_digests: CertificateDigests::Registered(&[SIGNING_DIGEST]),
        freshness: Freshness::default(),
    }
}

fn report(spec: &SafetyNetSpec) -> SafetyNetReport {
    let jws = GENERATOR.result(spec);
    verify_safetynet_report(&input(&jws), &roots_of(&GENERATOR), verification_time())
}

fn verify(spec: &SafetyNetSpec) -> Result<VerifiedSafetyNet, Error> {
    report(spec).into_result()
}

/// Asserts that `check` failed with `error` and every other check passed.
fn assert_only_failure(report: &SafetyNetReport, check: SafetyNetCheck, error: &Error) {
    common::assert_only_failure(report, &SafetyNetCheck::ALL, check, error);
}

#[test]
fn generated_result_verifies() {
    let report = report(&spec());
    assert!(
        report
            .outcomes()
            .iter()
            .all(|(_, outcome)| *outcome == CheckOutcome::Passed)
    );
    let verified = report.into_result().unwrap();
    assert_eq!(verified.nonce(), NONCE);
    assert_eq!(verified.package_name(), PACKAGE);
    assert_eq!(verified.timestamp_ms(), VERIFICATION_SECS * 1000 - 30_000);
    assert_eq!(verified.payload().certificate_digests(), [SIGNING_DIGEST]);
    let verdict = verified.verdict();
    assert_eq!(verdict.provider, Provider::SafetyNet);
    assert_eq!(verdict.trust, TrustLevel::Platform);
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Device);
    assert!(verdict.risk_flags.is_empty());
}

#[test]
fn hardware_backed_evaluation_is_strong() {
    let mut spec = spec();
    spec.evaluation_type = Some("BASIC,HARDWARE_BACKED".to_owned());
    let verdict = verify(&spec).unwrap().verdict();
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Strong);
}

#[test]
fn basic_only_device_verifies_as_basic() {
    let mut spec = spec();
    spec.cts_profile_match = false;
    spec.payload.advice = Some("LOCK_BOOTLOADER".to_owned());
    let verdict = verify(&spec).unwrap().verdict();
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
    assert_eq!(verdict.risk_flags, vec![RiskFlag::BootloaderUnlocked]);
}

#[test]
fn failing_device_without_digests_verifies() {
    let mut spec = spec();
    spec.cts_profile_match = false;
    spec.payload.basic_integrity = false;
    spec.payload.certificate_digests.clear();
    spec.payload.advice = Some("RESTORE_TO_FACTORY_ROM".to_owned());
    let verified = verify(&spec).unwrap();
    assert!(verified.payload().certificate_digests().is_empty());
    let verdict = verified.verdict();
    assert_eq!(verdict.app_integrity, AppIntegrity::Unevaluated);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert_eq!(verdict.risk_flags, vec![RiskFlag::Rooted]);
}

#[test]
fn digests_not_compared_is_unevaluated() {
    let jws = GENERATOR.result(&spec());
    let input = SafetyNetInput {
        certificate_digests: CertificateDigests::NotCompared,
        ..input(&jws)
    };
    let verified = verify_safetynet(&input, &roots_of(&GENERATOR), verification_time()).unwrap();
    assert_eq!(verified.verdict().app_integrity, AppIntegrity::Unevaluated);
}

#[test]
fn nonce_compared_as_bytes() {
    // The payload carries standard base64 with '+' and '/' for these bytes; the check
    // compares the decoded bytes.
    let nonce: Vec<u8> = (0xf8..=0xff).cycle().take(32).collect();
    let mut spec = spec();
    spec.payload.nonce = nonce.clone();
    let jws = GENERATOR.result(&spec);
    let input = SafetyNetInput {
        expected_nonce: &nonce,
        ..input(&jws)
    };
    verify_safetynet(&input, &roots_of(&GENERATOR), verification_time()).unwrap();
}

#[test]
fn wrong_nonce_fails_nonce_check() {
    let report = report(&spec().with_mutation(ResultMutation::Nonce(vec![0x43; 32])));
    assert_only_failure(
        &report,
        SafetyNetCheck::Nonce,
        &Error::NonceMismatch { field: "nonce" },
    );
}

#[test]
fn wrong_package_fails_package_check() {
    let report =
        report(&spec().with_mutation(ResultMutation::PackageName("com.example.other".to_owned())));
    assert_only_failure(
        &report,
        SafetyNetCheck::PackageName,
        &Error::PackageNameMismatch {
            field: "apkPackageName",
            expected: PACKAGE.to_owned(),
            received: "com.example.other".to_owned(),
        },
    );
}

#[test]
fn wrong_signing_digest_fails_digest_check() {
    let report = report(&spec().with_mutation(ResultMutation::CertificateDigest([0x11; 32])));
    assert_only_failure(
        &report,
        SafetyNetCheck::CertificateDigest,
        &Error::CertificateDigestMismatch,
    );
}

#[test]
fn old_timestamp_fails_timestamp_check() {
    let timestamp_ms = (VERIFICATION_SECS - 601) * 1000;
    let report = report(&spec().with_mutation(ResultMutation::TimestampMs(timestamp_ms)));
    assert_only_failure(
        &report,
        SafetyNetCheck::Timestamp,
        &Error::EvidenceTooOld {
            timestamp_ms,
            now_ms: VERIFICATION_SECS * 1000,
            max_age_ms: 600_000,
        },
    );
}

#[test]
fn future_timestamp_fails_timestamp_check() {
    let timestamp_ms = (VERIFICATION_SECS + 61) * 1000;
    let report = report(&spec().with_mutation(ResultMutation::TimestampMs(timestamp_ms)));
    assert_only_failure(
        &report,
        SafetyNetCheck::Timestamp,
        &Error::EvidenceFromFuture {
            timestamp_ms,
            now_ms: VERIFICATION_SECS * 1000,
            max_skew_ms: 60_000,
        },
    );
}

#[test]
fn window_edges_accepted() {
    for timestamp_ms in [
        (VERIFICATION_SECS - 600) * 1000,
        (VERIFICATION_SECS + 60) * 1000,
    ] {
        verify(&spec().with_mutation(ResultMutation::TimestampMs(timestamp_ms)))
            .unwrap_or_else(|error| panic!("{timestamp_ms}: {error}"));
    }
}

#[test]
fn other_host_fails_chain_check() {
    let report =
        report(&spec().with_mutation(ResultMutation::LeafHost("attest.example.com".to_owned())));
    assert_only_failure(
        &report,
        SafetyNetCheck::CertificateChain,
        &Error::CertificateNameMismatch {
            expected: "attest.android.com".to_owned(),
        },
    );
}

#[test]
fn common_name_alone_not_enough_for_safetynet() {
    // The common name is attest.android.com but the subject alternative name is not: webpki
    // checks only subject alternative names.
    let report =
        report(&spec().with_mutation(ResultMutation::LeafAltName("attest.example.com".to_owned())));
    assert_only_failure(
        &report,
        SafetyNetCheck::CertificateChain,
        &Error::CertificateNameMismatch {
            expected: "attest.android.com".to_owned(),
        },
    );
}

#[test]
fn other_algorithms_fail_structure_check() {
    for alg in ["PS256", "RS512", "ES256", "none"] {
        let report = report(&spec().with_mutation(ResultMutation::Algorithm(alg.to_owned())));
        assert_eq!(
            report.first_failure(),
            Some((
                SafetyNetCheck::Structure,
                &Error::JwsAlgorithmNotAllowed {
                    received: alg.to_owned()
                }
            )),
            "{alg}"
        );
        assert!(
            report.outcomes()[1..]
                .iter()
                .all(|(_, outcome)| *outcome == CheckOutcome::Skipped),
            "{alg}"
        );
    }
}

#[test]
fn changed_signature_fails_signature_check() {
    let report = report(&spec().with_mutation(ResultMutation::Signature));
    assert_only_failure(
        &report,
        SafetyNetCheck::Signature,
        &Error::JwsSignatureInvalid,
    );
}

#[test]
fn missing_fields_fail_their_checks() {
    for (member, check) in [
        ("nonce", SafetyNetCheck::Nonce),
        ("timestampMs", SafetyNetCheck::Timestamp),
        ("apkPackageName", SafetyNetCheck::PackageName),
    ] {
        let report = report(&spec().with_mutation(ResultMutation::MissingField(member)));
        assert_only_failure(&report, check, &Error::MissingField { what: member });
    }
}

#[test]
fn missing_labels_mean_not_met() {
    for (member, level) in [
        ("basicIntegrity", DeviceIntegrity::None),
        ("ctsProfileMatch", DeviceIntegrity::Basic),
    ] {
        let verdict = verify(&spec().with_mutation(ResultMutation::MissingField(member)))
            .unwrap()
            .verdict();
        assert_eq!(verdict.device_integrity, level, "{member}");
    }
}

#[test]
fn other_test_root_fails_chain_check() {
    let other = SafetyNetGenerator::new();
    let jws = GENERATOR.result(&spec());
    let report = verify_safetynet_report(&input(&jws), &roots_of(&other), verification_time());
    // Both test PKIs use the same names, so webpki finds the issuer by name and the
    // signature check fails.
    assert_only_failure(
        &report,
        SafetyNetCheck::CertificateChain,
        &Error::CertificateSignatureInvalid,
    );
}

#[test]
fn google_roots_reject_test_chain() {
    let jws = GENERATOR.result(&spec());
    let report = verify_safetynet_report(&input(&jws), &Roots::globalsign(), verification_time());
    assert_only_failure(
        &report,
        SafetyNetCheck::CertificateChain,
        &Error::UnknownIssuer,
    );
}

#[test]
fn expired_leaf_fails_chain_check() {
    let generator =
        SafetyNetGenerator::with_leaf_validity(utc_date(2024, 1, 1), utc_date(2025, 1, 1));
    let jws = generator.result(&spec());
    let error =
        verify_safetynet(&input(&jws), &roots_of(&generator), verification_time()).unwrap_err();
    assert_eq!(
        error,
        Error::CertificateExpired {
            which: "leaf",
            time: VERIFICATION_SECS,
            not_after: 1_735_689_600,
        }
    );
}

#[test]
fn oversized_and_one_dot_results_malformed() {
    let jws = GENERATOR.result(&spec());
    let (first, _) = jws.split_once('.').unwrap();
    let one_dot = format!("{first}.{}", "A".repeat(10));
    let error =
        verify_safetynet(&input(&one_dot), &roots_of(&GENERATOR), verification_time()).unwrap_err();
    assert_eq!(error.reason(), "malformed_jws");

    let oversized = format!("{jws}{}", " ".repeat(avow_attest::safetynet::MAX_JWS_LEN));
    let error = verify_safetynet(
        &input(&oversized),
        &roots_of(&GENERATOR),
        verification_time(),
    )
    .unwrap_err();
    assert_eq!(error.reason(), "input_too_large");
}
