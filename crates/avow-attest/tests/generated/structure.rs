//! Attestation objects that fail to decode: wrong format, strict CBOR rules, sizes and garbage.
//! Every later check is skipped for them.

use std::fmt::Debug;

use avow_attest::app_attest::{
    AppId, AssertionCheck, AssertionInput, AttestationCheck, AttestationInput, CheckOutcome,
    Environment, MAX_ATTESTATION_LEN, Roots, verify_assertion_report, verify_attestation_report,
};
use avow_attest::{Error, sha256};
use avow_testgen::{AttestationMutation, SimulatedDevice};

use super::{
    APP_ID, Attestation, assert_attestation_structure_failure, assert_failures, verification_time,
};

#[test]
fn attestation_wrong_format_rejected() {
    let attestation = Attestation::development(AttestationMutation::WrongFormat);
    assert_attestation_structure_failure(
        &attestation,
        Error::UnsupportedFormat {
            expected: "apple-appattest",
            received: "packed".to_owned(),
        },
    );
}

#[test]
fn attestation_missing_receipt_rejected() {
    let attestation = Attestation::development(AttestationMutation::MissingReceipt);
    assert_attestation_structure_failure(
        &attestation,
        Error::MissingField {
            what: "attStmt.receipt",
        },
    );
}

#[test]
fn attestation_trailing_auth_data_bytes_rejected() {
    let junk = vec![0x01, 0x02, 0x03];
    let attestation = Attestation::development(AttestationMutation::TrailingAuthDataBytes(junk));
    assert_attestation_structure_failure(
        &attestation,
        Error::TrailingBytes {
            what: "authenticator data",
            len: 3,
        },
    );
}

#[test]
fn attestation_bytes_after_extension_map_rejected() {
    // An empty map, which alone would be a valid extension map, followed by one byte.
    let junk = vec![0xa0, 0x00];
    let attestation = Attestation::development(AttestationMutation::TrailingAuthDataBytes(junk));
    assert_attestation_structure_failure(
        &attestation,
        Error::TrailingBytes {
            what: "authenticator data extensions",
            len: 1,
        },
    );
}

#[test]
fn attestation_truncated_extension_map_rejected() {
    // A map header announcing one entry, with no entry.
    let junk = vec![0xa1];
    let attestation = Attestation::development(AttestationMutation::TrailingAuthDataBytes(junk));
    assert_attestation_structure_failure(
        &attestation,
        Error::MalformedCbor {
            what: "authenticator data extensions",
            detail: "input ends inside an item".to_owned(),
        },
    );
}

#[test]
fn attestation_duplicate_top_level_key_rejected() {
    let attestation = Attestation::development(AttestationMutation::DuplicateTopLevelKey);
    assert_attestation_structure_failure(
        &attestation,
        Error::CborDuplicateKey {
            what: "attestation object",
            key: "\"fmt\"".to_owned(),
        },
    );
}

#[test]
fn attestation_trailing_cbor_bytes_rejected() {
    let attestation = Attestation::development(AttestationMutation::TrailingCborBytes);
    assert_attestation_structure_failure(
        &attestation,
        Error::TrailingBytes {
            what: "attestation object",
            len: 1,
        },
    );
}

#[test]
fn attestation_indefinite_length_map_verifies() {
    // Indefinite-length encoding is accepted: the signatures cover the authenticator data and
    // the certificates, not the framing of the top-level map, so a re-framed object carries
    // the same verified content.
    let attestation = Attestation::development(AttestationMutation::IndefiniteLength);
    assert_eq!(attestation.object[0], 0xbf);
    let verified = attestation.verify().unwrap();
    assert_eq!(*verified.key_id(), attestation.device.key_id());
    assert_failures(attestation.report().outcomes(), &AttestationCheck::ALL, &[]);
}

#[test]
fn attestation_truncated_object_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.object.pop();
    assert_attestation_structure_failure(
        &attestation,
        Error::MalformedCbor {
            what: "attestation object",
            detail: "input ends inside an item".to_owned(),
        },
    );
}

#[test]
fn attestation_half_object_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    let half = attestation.object.len() / 2;
    attestation.object.truncate(half);
    assert_attestation_structure_failure(
        &attestation,
        Error::MalformedCbor {
            what: "attestation object",
            detail: "input ends inside an item".to_owned(),
        },
    );
}

#[test]
fn attestation_oversized_input_rejected() {
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.object.resize(MAX_ATTESTATION_LEN + 1, 0);
    assert_attestation_structure_failure(
        &attestation,
        Error::InputTooLarge {
            what: "attestation object",
            len: MAX_ATTESTATION_LEN + 1,
            max: MAX_ATTESTATION_LEN,
        },
    );
}

#[test]
fn attestation_maximum_size_input_decoded() {
    // At the limit the object is decoded, and the padding is reported as trailing bytes.
    let mut attestation = Attestation::development(AttestationMutation::None);
    let original_len = attestation.object.len();
    attestation.object.resize(MAX_ATTESTATION_LEN, 0);
    assert_attestation_structure_failure(
        &attestation,
        Error::TrailingBytes {
            what: "attestation object",
            len: MAX_ATTESTATION_LEN - original_len,
        },
    );
}

#[test]
fn attestation_deeply_nested_cbor_rejected() {
    // {"fmt": "apple-appattest", "attStmt": [[[ … {} … ]]]} with 64 nested arrays.
    let mut object = vec![0xa2, 0x63];
    object.extend_from_slice(b"fmt");
    object.push(0x6f);
    object.extend_from_slice(b"apple-appattest");
    object.push(0x67);
    object.extend_from_slice(b"attStmt");
    object.extend_from_slice(&[0x81; 64]);
    object.push(0xa0);
    let mut attestation = Attestation::development(AttestationMutation::None);
    attestation.object = object;
    assert_attestation_structure_failure(
        &attestation,
        Error::CborTooDeep {
            what: "attestation object",
            // The verifier's nesting limit.
            max_depth: 16,
        },
    );
}

#[test]
fn garbage_bytes_fail_structure_only() {
    let app_id = AppId::parse(APP_ID).unwrap();
    let public_key = SimulatedDevice::new().public_key();
    let key_id = sha256(&public_key);
    let client_data_hash = sha256(b"challenge");
    let roots = Roots::empty();

    // 64 deterministic pseudo-random inputs of 1 to 256 bytes, built from a SHA-256 chain.
    let mut block = sha256(b"garbage seed");
    for case in 0..64usize {
        let mut garbage = Vec::new();
        for _ in 0..=(case % 8) {
            block = sha256(&block);
            garbage.extend_from_slice(&block);
        }
        garbage.truncate(1 + (case * 37) % garbage.len());

        let input = AttestationInput {
            attestation_object: &garbage,
            key_id: &key_id,
            client_data_hash: &client_data_hash,
            app_id: &app_id,
            environment: Environment::Development,
        };
        let report = verify_attestation_report(&input, &roots, verification_time());
        assert_only_structure_failed(report.outcomes(), AttestationCheck::Structure, case);

        let input = AssertionInput {
            assertion: &garbage,
            client_data_hash: &client_data_hash,
            app_id: &app_id,
            public_key: &public_key,
            stored_counter: 0,
        };
        let report = verify_assertion_report(&input);
        assert_only_structure_failed(report.outcomes(), AssertionCheck::Structure, case);
    }
}

/// Asserts that `structure` failed, with any error, and every other check was skipped.
fn assert_only_structure_failed<C: Copy + Debug + PartialEq>(
    outcomes: &[(C, CheckOutcome)],
    structure: C,
    case: usize,
) {
    let (first_check, first_outcome) = &outcomes[0];
    assert_eq!(*first_check, structure, "case {case}");
    assert!(
        matches!(first_outcome, CheckOutcome::Failed(_)),
        "case {case}: {first_outcome:?}"
    );
    for (check, outcome) in &outcomes[1..] {
        assert_eq!(*outcome, CheckOutcome::Skipped, "case {case}: {check:?}");
    }
}
