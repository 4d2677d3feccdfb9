//! Assertions: valid ones verify with their counter, and each mutation or wrong input fails
//! exactly the check it targets.

use avow_attest::Error;
use avow_attest::app_attest::{
    AppId, AssertionCheck, AssertionInput, MAX_ASSERTION_LEN, verify_assertion,
};
use avow_testgen::{
    AssertionMutation, AssertionSpec, AttestationMutation, SimulatedDevice, sha256,
};

use super::{
    APP_ID, Assertion, Attestation, OTHER_APP_ID, assert_failures, assert_structure_failure,
};

/// Asserts that the assertion is rejected with `error` and that `check` is the only check that
/// failed.
fn assert_only_assertion_failure(assertion: &Assertion, check: AssertionCheck, error: Error) {
    assert_eq!(assertion.verify().unwrap_err(), error);
    assert_failures(
        assertion.report().outcomes(),
        &AssertionCheck::ALL,
        &[(check, error)],
    );
}

/// Asserts that the assertion is rejected with `error` while decoding and that every other
/// check was skipped.
fn assert_assertion_structure_failure(assertion: &Assertion, error: Error) {
    assert_eq!(assertion.verify().unwrap_err(), error);
    assert_structure_failure(assertion.report().outcomes(), &AssertionCheck::ALL, &error);
}

// === valid assertions ===

#[test]
fn assertion_valid_verifies() {
    let assertion = Assertion::with_mutation(AssertionMutation::None);
    assert_eq!(assertion.verify().unwrap().counter(), 1);
    assert_failures(assertion.report().outcomes(), &AssertionCheck::ALL, &[]);
}

#[test]
fn assertion_extension_map_verifies() {
    let mut spec = AssertionSpec::new(APP_ID, sha256(b"request body"), 9);
    spec.extension_map = true;
    let assertion = Assertion::generate(&spec);
    assert_eq!(assertion.verify().unwrap().counter(), 9);
}

#[test]
fn assertion_maximum_counter_verifies() {
    let assertion = Assertion::generate(&AssertionSpec::new(
        APP_ID,
        sha256(b"request body"),
        u32::MAX,
    ));
    assert_eq!(assertion.stored_counter, u32::MAX - 1);
    assert_eq!(assertion.verify().unwrap().counter(), u32::MAX);
}

#[test]
fn assertion_with_attested_key_verifies() {
    let attestation = Attestation::development(AttestationMutation::None);
    let verified = attestation.verify().unwrap();
    let app_id = attestation.app_id.clone();

    // Three requests in a row, each stored counter the previous assertion's counter.
    let mut stored_counter = 0;
    for (counter, body) in [(1, "first"), (2, "second"), (5, "third")] {
        let client_data_hash = sha256(body.as_bytes());
        let bytes =
            attestation
                .device
                .assertion(&AssertionSpec::new(APP_ID, client_data_hash, counter));
        let input = AssertionInput {
            assertion: &bytes,
            client_data_hash: &client_data_hash,
            app_id: &app_id,
            public_key: verified.public_key(),
            stored_counter,
        };
        let accepted = verify_assertion(&input).unwrap();
        assert_eq!(accepted.counter(), counter, "{body}");
        stored_counter = accepted.counter();
    }
}

// === mutations ===

#[test]
fn assertion_wrong_rp_id_rejected() {
    let assertion = Assertion::with_mutation(AssertionMutation::RpIdOf(OTHER_APP_ID.to_owned()));
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::AppId,
        Error::AppIdMismatch {
            expected: APP_ID.to_owned(),
        },
    );
}

#[test]
fn assertion_signature_over_wrong_message_rejected() {
    let assertion = Assertion::with_mutation(AssertionMutation::SignatureOverWrongMessage);
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Signature,
        Error::SignatureInvalid,
    );
}

#[test]
fn assertion_signature_by_other_key_rejected() {
    let assertion = Assertion::with_mutation(AssertionMutation::SignatureByOtherKey);
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Signature,
        Error::SignatureInvalid,
    );
}

#[test]
fn assertion_raw_signature_rejected() {
    // iOS sends ASN.1 DER signatures, and the 64-byte r ‖ s form is not accepted in their place.
    let assertion = Assertion::with_mutation(AssertionMutation::RawSignature);
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Signature,
        Error::SignatureInvalid,
    );
}

#[test]
fn assertion_truncated_auth_data_rejected() {
    let assertion = Assertion::with_mutation(AssertionMutation::TruncatedAuthData);
    assert_assertion_structure_failure(
        &assertion,
        Error::InvalidAuthenticatorData {
            detail: "shorter than the 37-byte header",
        },
    );
}

#[test]
fn assertion_truncated_extension_map_rejected() {
    let mut spec = AssertionSpec::new(APP_ID, sha256(b"request body"), 1)
        .with_mutation(AssertionMutation::TruncatedAuthData);
    spec.extension_map = true;
    let assertion = Assertion::generate(&spec);
    assert_assertion_structure_failure(
        &assertion,
        Error::MalformedCbor {
            what: "authenticator data extensions",
            detail: "input ends inside an item".to_owned(),
        },
    );
}

// === caller inputs ===

#[test]
fn assertion_equal_counter_rejected() {
    let mut assertion = Assertion::with_mutation(AssertionMutation::None);
    assertion.stored_counter = 1;
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Counter,
        Error::CounterNotIncreased {
            stored: 1,
            received: 1,
        },
    );
}

#[test]
fn assertion_lower_counter_rejected() {
    let mut assertion =
        Assertion::generate(&AssertionSpec::new(APP_ID, sha256(b"request body"), 5));
    assertion.stored_counter = 10;
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Counter,
        Error::CounterNotIncreased {
            stored: 10,
            received: 5,
        },
    );
}

#[test]
fn assertion_wrong_public_key_rejected() {
    let mut assertion = Assertion::with_mutation(AssertionMutation::None);
    assertion.public_key = SimulatedDevice::new().public_key();
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Signature,
        Error::SignatureInvalid,
    );
}

#[test]
fn assertion_wrong_client_data_hash_rejected() {
    let mut assertion = Assertion::with_mutation(AssertionMutation::None);
    assertion.client_data_hash = sha256(b"another request body").to_vec();
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::Signature,
        Error::SignatureInvalid,
    );
}

#[test]
fn assertion_other_expected_app_id_rejected() {
    let mut assertion = Assertion::with_mutation(AssertionMutation::None);
    assertion.app_id = AppId::parse(OTHER_APP_ID).unwrap();
    assert_only_assertion_failure(
        &assertion,
        AssertionCheck::AppId,
        Error::AppIdMismatch {
            expected: OTHER_APP_ID.to_owned(),
        },
    );
}

// === structure ===

#[test]
fn assertion_oversized_input_rejected() {
    let mut assertion = Assertion::with_mutation(AssertionMutation::None);
    assertion.assertion.resize(MAX_ASSERTION_LEN + 1, 0);
    assert_assertion_structure_failure(
        &assertion,
        Error::InputTooLarge {
            what: "assertion",
            len: MAX_ASSERTION_LEN + 1,
            max: MAX_ASSERTION_LEN,
        },
    );
}

#[test]
fn assertion_trailing_cbor_bytes_rejected() {
    let mut assertion = Assertion::with_mutation(AssertionMutation::None);
    assertion.assertion.push(0x00);
    assert_assertion_structure_failure(
        &assertion,
        Error::TrailingBytes {
            what: "assertion",
            len: 1,
        },
    );
}
