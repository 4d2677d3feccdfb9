//! App Attest evidence from `avow-testgen`, signed by a test PKI: valid evidence verifies, and
//! each generator mutation makes the verification step it targets fail while the other steps
//! still pass.
//!
//! The test chain is signed with ECDSA P-384/SHA-384, which the verifier accepts alongside
//! Apple's P-384/SHA-256.

#[path = "generated/assertion.rs"]
mod assertion;
#[path = "generated/attestation.rs"]
mod attestation;
#[path = "generated/chain.rs"]
mod chain;
#[path = "generated/structure.rs"]
mod structure;

use std::fmt::Debug;
use std::time::Duration;

use avow_attest::app_attest::{
    AppId, AssertionInput, AssertionReport, AttestationCheck, AttestationInput, AttestationReport,
    CheckOutcome, Environment, Roots, VerifiedAssertion, VerifiedAttestation, verify_assertion,
    verify_assertion_report, verify_attestation, verify_attestation_report,
};
use avow_attest::{Error, UnixTime};
use avow_testgen::{
    AssertionMutation, AssertionSpec, AttestationMutation, AttestationSpec, SimulatedDevice,
    TestPki, sha256,
};
use time::{Date, Month, OffsetDateTime};

/// The App ID of every generated key.
const APP_ID: &str = "TEAMID1234.com.example.app";

/// An App ID of the same team that the generated keys do not belong to.
const OTHER_APP_ID: &str = "TEAMID1234.com.example.other";

/// Returns midnight UTC of a calendar day.
fn date(year: i32, month: Month, day: u8) -> OffsetDateTime {
    Date::from_calendar_date(year, month, day)
        .unwrap()
        .midnight()
        .assume_utc()
}

fn unix_time(time: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(unix_seconds(time)))
}

fn unix_seconds(time: OffsetDateTime) -> u64 {
    u64::try_from(time.unix_timestamp()).unwrap()
}

/// Returns the verification time of the tests, 2025-06-01, inside the default leaf validity
/// (2024-01-01 to 2049-12-31) and the CA validity (2020-01-01 to 2049-12-31).
fn verification_time() -> UnixTime {
    unix_time(date(2025, Month::June, 1))
}

fn verifier_environment(environment: avow_testgen::Environment) -> Environment {
    match environment {
        avow_testgen::Environment::Development => Environment::Development,
        avow_testgen::Environment::Production => Environment::Production,
    }
}

/// A generated attestation object with every input needed to verify it. Tests change one
/// field to break one input.
struct Attestation {
    pki: TestPki,
    device: SimulatedDevice,
    spec: AttestationSpec,
    object: Vec<u8>,
    key_id: Vec<u8>,
    client_data_hash: Vec<u8>,
    app_id: AppId,
    environment: Environment,
    roots: Roots,
    time: UnixTime,
}

impl Attestation {
    /// Generates an object for `spec` with a fresh PKI and device, and trusts the PKI's root.
    fn generate(spec: AttestationSpec) -> Self {
        let pki = TestPki::new();
        let device = SimulatedDevice::new();
        let object = device.attestation(&pki, &spec);
        let mut roots = Roots::empty();
        roots.add_der(pki.root_der()).unwrap();
        Self {
            key_id: device.key_id().to_vec(),
            client_data_hash: spec.client_data_hash.clone(),
            app_id: AppId::parse(&spec.app_id).unwrap(),
            environment: verifier_environment(spec.environment),
            roots,
            time: verification_time(),
            pki,
            device,
            spec,
            object,
        }
    }

    /// Generates a development-environment object with one mutation.
    fn development(mutation: AttestationMutation) -> Self {
        Self::generate(spec(avow_testgen::Environment::Development).with_mutation(mutation))
    }

    fn input(&self) -> AttestationInput<'_> {
        AttestationInput {
            attestation_object: &self.object,
            key_id: &self.key_id,
            client_data_hash: &self.client_data_hash,
            app_id: &self.app_id,
            environment: self.environment,
        }
    }

    fn verify(&self) -> Result<VerifiedAttestation, Error> {
        verify_attestation(&self.input(), &self.roots, self.time)
    }

    fn report(&self) -> AttestationReport {
        verify_attestation_report(&self.input(), &self.roots, self.time)
    }
}

/// Returns the specification of a valid attestation in `environment`.
fn spec(environment: avow_testgen::Environment) -> AttestationSpec {
    AttestationSpec::new(APP_ID, sha256(b"attestation challenge"), environment)
}

/// A generated assertion with every input needed to verify it. Tests change one field to break
/// one input.
struct Assertion {
    assertion: Vec<u8>,
    client_data_hash: Vec<u8>,
    app_id: AppId,
    public_key: [u8; 65],
    stored_counter: u32,
}

impl Assertion {
    /// Generates an assertion for `spec` with a fresh device, checked against a stored counter
    /// one below the assertion's.
    fn generate(spec: &AssertionSpec) -> Self {
        let device = SimulatedDevice::new();
        Self {
            assertion: device.assertion(spec),
            client_data_hash: spec.client_data_hash.clone(),
            app_id: AppId::parse(&spec.app_id).unwrap(),
            public_key: device.public_key(),
            stored_counter: spec.counter - 1,
        }
    }

    /// Generates an assertion with counter 1 and one mutation.
    fn with_mutation(mutation: AssertionMutation) -> Self {
        Self::generate(
            &AssertionSpec::new(APP_ID, sha256(b"request body"), 1).with_mutation(mutation),
        )
    }

    fn input(&self) -> AssertionInput<'_> {
        AssertionInput {
            assertion: &self.assertion,
            client_data_hash: &self.client_data_hash,
            app_id: &self.app_id,
            public_key: &self.public_key,
            stored_counter: self.stored_counter,
        }
    }

    fn verify(&self) -> Result<VerifiedAssertion, Error> {
        verify_assertion(&self.input())
    }

    fn report(&self) -> AssertionReport {
        verify_assertion_report(&self.input())
    }
}

/// Asserts that the checks run in the order of `all`, that each check in `failures` failed with
/// its error, and that every other check passed.
fn assert_failures<C: Copy + Debug + PartialEq>(
    outcomes: &[(C, CheckOutcome)],
    all: &[C],
    failures: &[(C, Error)],
) {
    let checks: Vec<C> = outcomes.iter().map(|(check, _)| *check).collect();
    assert_eq!(checks, all);
    for (check, outcome) in outcomes {
        match failures.iter().find(|(failed, _)| failed == check) {
            Some((_, error)) => {
                assert_eq!(*outcome, CheckOutcome::Failed(error.clone()), "{check:?}");
            }
            None => assert_eq!(*outcome, CheckOutcome::Passed, "{check:?}"),
        }
    }
}

/// Asserts that the first check (decoding) failed with `error` and every other check was
/// skipped.
fn assert_structure_failure<C: Copy + Debug + PartialEq>(
    outcomes: &[(C, CheckOutcome)],
    all: &[C],
    error: &Error,
) {
    let checks: Vec<C> = outcomes.iter().map(|(check, _)| *check).collect();
    assert_eq!(checks, all);
    assert_eq!(outcomes[0].1, CheckOutcome::Failed(error.clone()));
    for (check, outcome) in &outcomes[1..] {
        assert_eq!(*outcome, CheckOutcome::Skipped, "{check:?}");
    }
}

/// Asserts that the attestation is rejected with `error` and that `check` is the only check
/// that failed.
fn assert_only_attestation_failure(
    attestation: &Attestation,
    check: AttestationCheck,
    error: Error,
) {
    assert_eq!(attestation.verify().unwrap_err(), error);
    assert_failures(
        attestation.report().outcomes(),
        &AttestationCheck::ALL,
        &[(check, error)],
    );
}

/// Asserts that the attestation is rejected with `error` while decoding and that every other
/// check was skipped.
fn assert_attestation_structure_failure(attestation: &Attestation, error: Error) {
    assert_eq!(attestation.verify().unwrap_err(), error);
    assert_structure_failure(
        attestation.report().outcomes(),
        &AttestationCheck::ALL,
        &error,
    );
}
