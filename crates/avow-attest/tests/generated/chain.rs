//! The certificate chain: its shape, its trust anchor and its validity at the verification
//! time.

use avow_attest::Error;
use avow_attest::app_attest::{AttestationCheck, Roots};
use avow_testgen::{AttestationMutation, TestPki};
use time::Month;

use super::{
    Attestation, assert_failures, assert_only_attestation_failure, date, spec, unix_seconds,
    unix_time,
};

#[test]
fn attestation_leaf_from_other_pki_rejected() {
    // Both PKIs share subject names, so the chain fails on a signature, not as an unknown issuer.
    let attestation = Attestation::development(AttestationMutation::LeafSignedByOtherPki);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::CertificateSignatureInvalid,
    );
}

#[test]
fn attestation_other_pki_root_rejected() {
    // Both PKIs share subject names, so the chain fails on a signature, not as an unknown issuer.
    let mut attestation = Attestation::development(AttestationMutation::None);
    let mut roots = Roots::empty();
    roots.add_der(TestPki::new().root_der()).unwrap();
    attestation.roots = roots;
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::CertificateSignatureInvalid,
    );
}

#[test]
fn attestation_empty_roots_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.roots = Roots::empty();
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::UnknownIssuer,
    );
}

#[test]
fn attestation_apple_root_rejects_test_chain() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.roots = Roots::apple();
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::UnknownIssuer,
    );
}

#[test]
fn attestation_only_leaf_in_x5c_rejected() {
    let attestation = Attestation::development(AttestationMutation::OnlyLeafInX5c);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::CertificateChainLength {
            len: 1,
            expected: 2,
        },
    );
}

#[test]
fn attestation_x5c_reversed_rejected() {
    let attestation = Attestation::development(AttestationMutation::X5cReversed);
    let chain_error = Error::CertificateChainInvalid {
        detail: "CaUsedAsEndEntity".to_owned(),
    };
    assert_eq!(attestation.verify().unwrap_err(), chain_error);
    // The first certificate is taken as the credential certificate, so with the intermediate
    // in its place every check that reads that certificate fails too: it has no nonce
    // extension and a P-384 key.
    assert_failures(
        attestation.report().outcomes(),
        &AttestationCheck::ALL,
        &[
            (AttestationCheck::CertificateChain, chain_error),
            (
                AttestationCheck::CertificateNonce,
                Error::CertificateNonceMissing,
            ),
            (AttestationCheck::KeyId, Error::UnsupportedCertificateKey),
            (
                AttestationCheck::PublicKey,
                Error::UnsupportedCertificateKey,
            ),
        ],
    );
}

#[test]
fn attestation_before_leaf_not_before_rejected() {
    let mut spec = spec(avow_testgen::Environment::Development);
    spec.leaf_not_before = date(2025, Month::January, 1);
    spec.leaf_not_after = date(2026, Month::January, 1);
    let mut attestation = Attestation::generate(spec);
    let time = date(2024, Month::December, 31);
    attestation.time = unix_time(time);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::CertificateNotYetValid {
            which: "leaf",
            time: unix_seconds(time),
            not_before: unix_seconds(date(2025, Month::January, 1)),
        },
    );
}

#[test]
fn attestation_after_leaf_not_after_rejected() {
    let mut spec = spec(avow_testgen::Environment::Development);
    spec.leaf_not_before = date(2025, Month::January, 1);
    spec.leaf_not_after = date(2026, Month::January, 1);
    let mut attestation = Attestation::generate(spec);
    let time = date(2026, Month::January, 2);
    attestation.time = unix_time(time);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::CertificateExpired {
            which: "leaf",
            time: unix_seconds(time),
            not_after: unix_seconds(date(2026, Month::January, 1)),
        },
    );
}

#[test]
fn attestation_inside_leaf_validity_verifies() {
    let mut spec = spec(avow_testgen::Environment::Development);
    spec.leaf_not_before = date(2025, Month::January, 1);
    spec.leaf_not_after = date(2026, Month::January, 1);
    let mut attestation = Attestation::generate(spec);
    for time in [
        date(2025, Month::January, 1),
        date(2025, Month::July, 1),
        date(2026, Month::January, 1),
    ] {
        attestation.time = unix_time(time);
        assert!(attestation.verify().is_ok(), "{time}");
    }
}

#[test]
fn attestation_after_intermediate_not_after_rejected() {
    // The test CAs are valid until 2049-12-31, so a leaf that outlives them is checked at a
    // time when only the intermediate has expired.
    let mut spec = spec(avow_testgen::Environment::Development);
    spec.leaf_not_after = date(2055, Month::January, 1);
    let mut attestation = Attestation::generate(spec);
    let time = date(2050, Month::June, 1);
    attestation.time = unix_time(time);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateChain,
        Error::CertificateExpired {
            which: "intermediate or root",
            time: unix_seconds(time),
            not_after: unix_seconds(date(2049, Month::December, 31)),
        },
    );
}
