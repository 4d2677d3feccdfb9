//! Valid attestations, and one test per mutation of the authenticator data, the certificate
//! nonce and the caller's inputs.

use avow_attest::Error;
use avow_attest::app_attest::{AppId, AttestationCheck, Environment, Extensions, Roots};
use avow_attest::encoding::decode_base64_any;
use avow_testgen::{
    AttestationMutation, IOS_EXTENSION_BUNDLE_VERSION, IOS_EXTENSION_VALIDATION_CATEGORY,
    PLACEHOLDER_RECEIPT, SimulatedDevice, sha256,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::{
    APP_ID, Attestation, OTHER_APP_ID, assert_failures, assert_only_attestation_failure, spec,
    unix_seconds,
};

// === valid attestations ===

#[test]
fn attestation_development_verifies() {
    let attestation = Attestation::development(AttestationMutation::None);
    let verified = attestation.verify().unwrap();
    assert_eq!(*verified.key_id(), attestation.device.key_id());
    assert_eq!(*verified.public_key(), attestation.device.public_key());
    assert_eq!(verified.environment(), Environment::Development);
    assert_eq!(verified.receipt(), PLACEHOLDER_RECEIPT);
    assert_eq!(verified.extensions(), None);
    assert_eq!(
        verified.certificate_not_after(),
        unix_seconds(attestation.spec.leaf_not_after)
    );
}

#[test]
fn attestation_production_verifies() {
    let attestation = Attestation::generate(spec(avow_testgen::Environment::Production));
    let verified = attestation.verify().unwrap();
    assert_eq!(*verified.key_id(), attestation.device.key_id());
    assert_eq!(*verified.public_key(), attestation.device.public_key());
    assert_eq!(verified.environment(), Environment::Production);
    assert_eq!(verified.receipt(), PLACEHOLDER_RECEIPT);
    assert_eq!(verified.extensions(), None);
}

#[test]
fn attestation_report_all_passed() {
    let attestation = Attestation::development(AttestationMutation::None);
    let report = attestation.report();
    assert_failures(report.outcomes(), &AttestationCheck::ALL, &[]);
    assert_eq!(report.first_failure(), None);
    assert_eq!(report.into_result().unwrap(), attestation.verify().unwrap());
}

#[test]
fn attestation_root_from_pem_verifies() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    let mut roots = Roots::empty();
    assert_eq!(roots.add_pem(attestation.pki.root_pem().as_bytes()), Ok(1));
    attestation.roots = roots;
    assert!(attestation.verify().is_ok());
}

#[test]
fn attestation_cose_map_reordered_verifies() {
    let attestation = Attestation::development(AttestationMutation::CoseMapReordered);
    let verified = attestation.verify().unwrap();
    assert_eq!(*verified.public_key(), attestation.device.public_key());
}

#[test]
fn attestation_extension_map_without_ed_flag_verifies() {
    let attestation =
        Attestation::development(AttestationMutation::ExtensionMap { ed_flag: false });
    let verified = attestation.verify().unwrap();
    assert_eq!(verified.extensions(), Some(&ios_extensions()));
    assert_eq!(*verified.key_id(), attestation.device.key_id());
}

#[test]
fn attestation_extension_map_with_ed_flag_verifies() {
    let attestation = Attestation::development(AttestationMutation::ExtensionMap { ed_flag: true });
    let verified = attestation.verify().unwrap();
    assert_eq!(verified.extensions(), Some(&ios_extensions()));
    assert_eq!(*verified.key_id(), attestation.device.key_id());
}

fn ios_extensions() -> Extensions {
    Extensions {
        bundle_version: Some(IOS_EXTENSION_BUNDLE_VERSION.to_owned()),
        validation_category: Some(IOS_EXTENSION_VALIDATION_CATEGORY.to_vec()),
    }
}

#[test]
fn attestation_key_id_base64_variants_accepted() {
    // Only a key id whose standard base64 contains '+' or '/' has a distinct URL-safe form.
    // About three keys in four qualify, so the bounded search finds one in practice.
    let mut attestation = (0..64)
        .map(|_| Attestation::development(AttestationMutation::None))
        .find(|attestation| STANDARD.encode(&attestation.key_id).contains(['+', '/']))
        .expect("no key id with '+' or '/' in 64 generated keys");
    let key_id = attestation.device.key_id();
    let encodings = [
        STANDARD.encode(key_id),
        STANDARD_NO_PAD.encode(key_id),
        URL_SAFE.encode(key_id),
        URL_SAFE_NO_PAD.encode(key_id),
    ];
    for encoded in encodings {
        attestation.key_id = decode_base64_any(&encoded).unwrap();
        let verified = attestation
            .verify()
            .unwrap_or_else(|error| panic!("{encoded}: {error}"));
        assert_eq!(*verified.key_id(), key_id, "{encoded}");
    }
}

// === authenticator data ===

#[test]
fn attestation_wrong_rp_id_rejected() {
    let attestation =
        Attestation::development(AttestationMutation::RpIdOf(OTHER_APP_ID.to_owned()));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::AppId,
        Error::AppIdMismatch {
            expected: APP_ID.to_owned(),
        },
    );
}

#[test]
fn attestation_other_expected_app_id_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.app_id = AppId::parse(OTHER_APP_ID).unwrap();
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::AppId,
        Error::AppIdMismatch {
            expected: OTHER_APP_ID.to_owned(),
        },
    );
}

#[test]
fn attestation_wrong_counter_rejected() {
    let attestation = Attestation::development(AttestationMutation::Counter(7));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::Counter,
        Error::CounterNotZero { received: 7 },
    );
}

#[test]
fn attestation_unknown_aaguid_rejected() {
    let attestation = Attestation::development(AttestationMutation::Aaguid(*b"not-an-app-attst"));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::Environment,
        Error::EnvironmentMismatch {
            expected: "development",
            received: "unknown",
        },
    );
}

#[test]
fn attestation_production_aaguid_in_development_rejected() {
    let aaguid = avow_testgen::Environment::Production.aaguid();
    let attestation = Attestation::development(AttestationMutation::Aaguid(aaguid));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::Environment,
        Error::EnvironmentMismatch {
            expected: "development",
            received: "production",
        },
    );
}

#[test]
fn attestation_development_aaguid_in_production_rejected() {
    let aaguid = avow_testgen::Environment::Development.aaguid();
    let attestation = Attestation::generate(
        spec(avow_testgen::Environment::Production)
            .with_mutation(AttestationMutation::Aaguid(aaguid)),
    );
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::Environment,
        Error::EnvironmentMismatch {
            expected: "production",
            received: "development",
        },
    );
}

#[test]
fn attestation_wrong_credential_id_rejected() {
    let attestation = Attestation::development(AttestationMutation::CredentialId(vec![0x5a; 32]));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CredentialId,
        Error::CredentialIdMismatch,
    );
}

#[test]
fn attestation_short_credential_id_rejected() {
    let attestation = Attestation::development(AttestationMutation::CredentialId(vec![0x5a; 16]));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CredentialId,
        Error::CredentialIdMismatch,
    );
}

#[test]
fn attestation_cose_key_of_other_key_rejected() {
    let attestation = Attestation::development(AttestationMutation::CosePublicKeyOfAnotherKey);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::PublicKey,
        Error::PublicKeyMismatch,
    );
}

// === certificate nonce ===

#[test]
fn attestation_wrong_cert_nonce_rejected() {
    let attestation = Attestation::development(AttestationMutation::CertNonce([0x11; 32]));
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateNonce,
        Error::CertificateNonceMismatch,
    );
}

#[test]
fn attestation_missing_nonce_extension_rejected() {
    let attestation = Attestation::development(AttestationMutation::NoNonceExtension);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateNonce,
        Error::CertificateNonceMissing,
    );
}

#[test]
fn attestation_malformed_nonce_extension_rejected() {
    let attestation = Attestation::development(AttestationMutation::MalformedNonceExtension);
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateNonce,
        Error::CertificateNonceMalformed,
    );
}

#[test]
fn attestation_wrong_client_data_hash_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.client_data_hash = sha256(b"another challenge").to_vec();
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateNonce,
        Error::CertificateNonceMismatch,
    );
}

#[test]
fn attestation_raw_challenge_as_client_data_hash_rejected() {
    // The generator hashed the challenge, so passing the challenge itself must not verify.
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.client_data_hash = b"attestation challenge".to_vec();
    assert_only_attestation_failure(
        &attestation,
        AttestationCheck::CertificateNonce,
        Error::CertificateNonceMismatch,
    );
}

// === key id ===

#[test]
fn attestation_wrong_key_id_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.key_id = SimulatedDevice::new().key_id().to_vec();
    assert_eq!(attestation.verify().unwrap_err(), Error::KeyIdMismatch);
    // The key id input is compared with the certificate key and with the credential id, so
    // both checks fail.
    assert_failures(
        attestation.report().outcomes(),
        &AttestationCheck::ALL,
        &[
            (AttestationCheck::KeyId, Error::KeyIdMismatch),
            (AttestationCheck::CredentialId, Error::CredentialIdMismatch),
        ],
    );
}

#[test]
fn attestation_truncated_key_id_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.key_id.truncate(31);
    assert_eq!(attestation.verify().unwrap_err(), Error::KeyIdMismatch);
    assert_failures(
        attestation.report().outcomes(),
        &AttestationCheck::ALL,
        &[
            (AttestationCheck::KeyId, Error::KeyIdMismatch),
            (AttestationCheck::CredentialId, Error::CredentialIdMismatch),
        ],
    );
}
