//! Huawei SysIntegrity results: the decoded payload of Huawei's documentation sample, then
//! generated results with one mutation per check.
//!
//! No signed SysIntegrity result is public, so the signature and chain steps run on generated
//! results only. The vectors live outside the repository. Tests find them through
//! `AVOW_VECTORS_DIR`, falling back to `../shared/vectors` next to the repository, and print
//! that they were skipped when neither exists.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use avow_attest::Error;
use avow_attest::huawei_safety_detect::{
    CertificateDigests, Freshness, Roots, SysIntegrityCheck, SysIntegrityInput,
    SysIntegrityPayload, SysIntegrityReport, VerifiedSysIntegrity, verify_sys_integrity,
    verify_sys_integrity_report,
};
use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel};
use avow_testgen::{
    LeafName, Padding, ResultMutation, SysIntegrityAlgorithm, SysIntegrityGenerator,
    SysIntegritySpec,
};
use common::{VERIFICATION_SECS, utc_date, verification_time};

// === the documentation sample ===

fn vectors_dir() -> Option<PathBuf> {
    common::vectors_dir("huawei", "Huawei")
}

fn sample_payload(dir: &std::path::Path) -> SysIntegrityPayload {
    let json = std::fs::read(dir.join("huawei/hms-sysintegrity-doc-sample-payload.json")).unwrap();
    SysIntegrityPayload::from_json(&json).unwrap()
}

#[test]
fn sample_payload_decodes() {
    let Some(dir) = vectors_dir() else { return };
    let payload = sample_payload(&dir);
    assert_eq!(
        payload.package_name(),
        Some("com.huawei.hms.safetydetectsample")
    );
    assert_eq!(payload.nonce(), Some("R2Rra24fVm5xa2Mg"));
    assert_eq!(payload.timestamp_ms(), Some(1_571_708_929_141));
    assert_eq!(payload.certificate_digests().len(), 1);
    assert!(!payload.basic_integrity());
}

#[test]
fn huawei_failing_payload_left_to_policy() {
    let Some(dir) = vectors_dir() else { return };
    // Policy decides whether a bank rejects this device and a retailer accepts it. This test
    // checks the verdict that policy receives.
    let verdict = sample_payload(&dir).verdict(AppIntegrity::Unevaluated);
    assert_eq!(verdict.provider, Provider::HuaweiSafetyDetect);
    assert_eq!(verdict.trust, TrustLevel::Platform);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert_eq!(verdict.risk_flags, vec![RiskFlag::Rooted]);
    assert_eq!(verdict.evidence_time_ms, Some(1_571_708_929_141));
}

// === generated results ===

const PACKAGE: &str = "com.example.bank";
const NONCE: [u8; 24] = [0x24; 24];
const SIGNING_DIGEST: [u8; 32] = [0x3d; 32];

/// One test PKI per leaf form, because RSA key generation is slow in debug builds.
static COMMON_NAME_ONLY: LazyLock<SysIntegrityGenerator> =
    LazyLock::new(|| SysIntegrityGenerator::new(LeafName::CommonNameOnly));
static WITH_ALT_NAME: LazyLock<SysIntegrityGenerator> =
    LazyLock::new(|| SysIntegrityGenerator::new(LeafName::SubjectAltName));

/// Returns a valid specification of a result produced 30 seconds before verification.
fn spec() -> SysIntegritySpec {
    SysIntegritySpec::new(
        NONCE,
        VERIFICATION_SECS * 1000 - 30_000,
        PACKAGE,
        vec![SIGNING_DIGEST],
    )
}

fn roots_of(generator: &SysIntegrityGenerator) -> Roots {
    common::roots_of(generator.signer())
}

fn input(jws: &str) -> SysIntegrityInput<'_> {
    SysIntegrityInput {
        jws,
        expected_nonce: &NONCE,
        package_name: PACKAGE,
        certificate_digests: CertificateDigests::Registered(&[SIGNING_DIGEST]),
        freshness: Freshness::default(),
    }
}

fn report_with(generator: &SysIntegrityGenerator, spec: &SysIntegritySpec) -> SysIntegrityReport {
    let jws = generator.result(spec);
    verify_sys_integrity_report(&input(&jws), &roots_of(generator), verification_time())
}

fn report(spec: &SysIntegritySpec) -> SysIntegrityReport {
    report_with(&COMMON_NAME_ONLY, spec)
}

fn verify(spec: &SysIntegritySpec) -> Result<VerifiedSysIntegrity, Error> {
    report(spec).into_result()
}

/// Asserts that `check` failed with `error` and every other check passed.
fn assert_only_failure(report: &SysIntegrityReport, check: SysIntegrityCheck, error: &Error) {
    common::assert_only_failure(report, &SysIntegrityCheck::ALL, check, error);
}

#[test]
fn generated_result_verifies() {
    let jws = COMMON_NAME_ONLY.result(&spec());
    assert!(jws.contains('='), "the default result keeps base64 padding");
    let verified = verify_sys_integrity(
        &input(&jws),
        &roots_of(&COMMON_NAME_ONLY),
        verification_time(),
    )
    .unwrap();
    assert_eq!(verified.nonce(), NONCE);
    assert_eq!(verified.package_name(), PACKAGE);
    assert_eq!(verified.timestamp_ms(), VERIFICATION_SECS * 1000 - 30_000);
    let verdict = verified.verdict();
    assert_eq!(verdict.provider, Provider::HuaweiSafetyDetect);
    assert_eq!(verdict.trust, TrustLevel::Platform);
    assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
    assert!(verdict.risk_flags.is_empty());
}

#[test]
fn every_algorithm_padding_and_leaf_form_verifies() {
    for generator in [&*COMMON_NAME_ONLY, &*WITH_ALT_NAME] {
        for algorithm in [SysIntegrityAlgorithm::Rs256, SysIntegrityAlgorithm::Ps256] {
            for padding in [Padding::Padded, Padding::Unpadded] {
                let mut spec = spec();
                spec.algorithm = algorithm;
                spec.padding = padding;
                report_with(generator, &spec)
                    .into_result()
                    .unwrap_or_else(|error| panic!("{algorithm:?} {padding:?}: {error}"));
            }
        }
    }
}

#[test]
fn failing_device_without_digests_verifies() {
    let mut spec = spec();
    spec.payload.basic_integrity = false;
    spec.payload.certificate_digests.clear();
    spec.payload.advice = Some("RESTORE_TO_FACTORY_ROM".to_owned());
    let verdict = verify(&spec).unwrap().verdict();
    assert_eq!(verdict.app_integrity, AppIntegrity::Unevaluated);
    assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
    assert_eq!(verdict.risk_flags, vec![RiskFlag::Rooted]);
}

#[test]
fn wrong_nonce_fails_nonce_check() {
    let report = report(&spec().with_mutation(ResultMutation::Nonce(vec![0x25; 24])));
    assert_only_failure(
        &report,
        SysIntegrityCheck::Nonce,
        &Error::NonceMismatch { field: "nonce" },
    );
}

#[test]
fn wrong_package_fails_package_check() {
    let report =
        report(&spec().with_mutation(ResultMutation::PackageName("com.example.other".to_owned())));
    assert_only_failure(
        &report,
        SysIntegrityCheck::PackageName,
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
        SysIntegrityCheck::CertificateDigest,
        &Error::CertificateDigestMismatch,
    );
}

#[test]
fn stale_timestamp_fails_timestamp_check() {
    let timestamp_ms = (VERIFICATION_SECS - 3600) * 1000;
    let report = report(&spec().with_mutation(ResultMutation::TimestampMs(timestamp_ms)));
    assert_only_failure(
        &report,
        SysIntegrityCheck::Timestamp,
        &Error::EvidenceTooOld {
            timestamp_ms,
            now_ms: VERIFICATION_SECS * 1000,
            max_age_ms: 600_000,
        },
    );
}

#[test]
fn other_host_fails_chain_check() {
    for generator in [&*COMMON_NAME_ONLY, &*WITH_ALT_NAME] {
        let report = report_with(
            generator,
            &spec().with_mutation(ResultMutation::LeafHost(
                "sysintegrity.example.com".to_owned(),
            )),
        );
        assert_only_failure(
            &report,
            SysIntegrityCheck::CertificateChain,
            &Error::CertificateNameMismatch {
                expected: "sysintegrity.platform.hicloud.com".to_owned(),
            },
        );
    }
}

#[test]
fn common_name_ignored_when_alt_name_present() {
    let report = report(&spec().with_mutation(ResultMutation::LeafAltName(
        "sysintegrity.example.com".to_owned(),
    )));
    assert_only_failure(
        &report,
        SysIntegrityCheck::CertificateChain,
        &Error::CertificateNameMismatch {
            expected: "sysintegrity.platform.hicloud.com".to_owned(),
        },
    );
}

#[test]
fn other_algorithms_fail_structure_check() {
    for alg in ["RS512", "ES256", "none"] {
        let report = report(&spec().with_mutation(ResultMutation::Algorithm(alg.to_owned())));
        assert_eq!(
            report.first_failure(),
            Some((
                SysIntegrityCheck::Structure,
                &Error::JwsAlgorithmNotAllowed {
                    received: alg.to_owned()
                }
            )),
            "{alg}"
        );
    }
}

#[test]
fn changed_signature_fails_signature_check() {
    let report = report(&spec().with_mutation(ResultMutation::Signature));
    assert_only_failure(
        &report,
        SysIntegrityCheck::Signature,
        &Error::JwsSignatureInvalid,
    );
}

#[test]
fn missing_fields_fail_their_checks() {
    for (member, check) in [
        ("nonce", SysIntegrityCheck::Nonce),
        ("timestampMs", SysIntegrityCheck::Timestamp),
        ("apkPackageName", SysIntegrityCheck::PackageName),
    ] {
        let report = report(&spec().with_mutation(ResultMutation::MissingField(member)));
        assert_only_failure(&report, check, &Error::MissingField { what: member });
    }
}

#[test]
fn huawei_roots_reject_test_chain() {
    let jws = COMMON_NAME_ONLY.result(&spec());
    let report =
        verify_sys_integrity_report(&input(&jws), &Roots::huawei_cbg(), verification_time());
    assert_only_failure(
        &report,
        SysIntegrityCheck::CertificateChain,
        &Error::UnknownIssuer,
    );
}

#[test]
fn expired_leaf_fails_chain_check() {
    let generator = SysIntegrityGenerator::with_leaf_validity(
        LeafName::CommonNameOnly,
        utc_date(2024, 1, 1),
        utc_date(2025, 1, 1),
    );
    let error = report_with(&generator, &spec()).into_result().unwrap_err();
    assert_eq!(
        error,
        Error::CertificateExpired {
            which: "leaf",
            time: VERIFICATION_SECS,
            not_after: 1_735_689_600,
        }
    );
}
