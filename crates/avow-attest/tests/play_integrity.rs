//! Play Integrity verification: tokens from `avow-testgen` with one mutation per check, the
//! mapping of Google's labels onto the common verdict, field reports, and the public vectors.
//!
//! Generated tokens are encrypted and signed with test keys that `avow-testgen` creates per
//! test. The public vectors live outside the repository and are skipped, with a note on stderr,
//! when the vectors folder is not found.

#[path = "play_integrity/decryption.rs"]
mod decryption;
#[path = "play_integrity/field_reports.rs"]
mod field_reports;
#[path = "play_integrity/payload.rs"]
mod payload;
#[path = "play_integrity/vectors.rs"]
mod vectors;
#[path = "play_integrity/verdict.rs"]
mod verdict;

use std::time::Duration;

use avow_attest::play_integrity::{
    CertificateDigests, CheckOutcome, ExpectedRequest, Freshness, PlayIntegrityCheck,
    PlayIntegrityKeys, PlayIntegrityReport, RequestBinding, VerifiedPlayIntegrity,
    verify_decoded_payload, verify_decoded_payload_report, verify_token, verify_token_report,
};
use avow_attest::{Error, UnixTime};
use avow_testgen::play_integrity::{
    PlayIntegrityIssuer, PlayIntegrityMutation, PlayIntegritySpec, default_certificate_digest,
};

/// The package name of every generated verdict.
const PACKAGE: &str = "com.example.bank";

/// The verification time of generated tokens: 2025-06-01T00:00:00Z, Unix seconds.
const NOW_SECS: u64 = 1_748_736_000;

/// How long before the verification time the generated verdicts are made, milliseconds.
const TOKEN_AGE_MS: u64 = 2_000;

fn unix(seconds: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(seconds))
}

/// Returns the server-issued nonce of generated classic requests.
fn nonce() -> Vec<u8> {
    (0u8..32).map(|byte| byte.wrapping_mul(29) ^ 0x5c).collect()
}

/// The expectation a test verifies against, owned so tests can change one part.
#[derive(Clone, Debug)]
enum Binding {
    Nonce(Vec<u8>),
    RequestHash(Vec<u8>),
}

/// A generated verdict with every input needed to verify it. Tests change one field to break
/// one input.
struct Fixture {
    issuer: PlayIntegrityIssuer,
    spec: PlayIntegritySpec,
    keys: PlayIntegrityKeys,
    package: String,
    binding: Binding,
    registered: Option<Vec<[u8; 32]>>,
    min_version_code: Option<i64>,
    now_secs: u64,
    freshness: Freshness,
}

impl Fixture {
    /// Generates a valid classic-request verdict, two seconds old at the verification time.
    fn classic() -> Self {
        let spec = PlayIntegritySpec::classic(PACKAGE, &nonce(), NOW_SECS * 1000 - TOKEN_AGE_MS);
        Self::new(spec, Binding::Nonce(nonce()))
    }

    /// Generates a valid classic-request verdict with one mutation.
    fn with(mutation: PlayIntegrityMutation) -> Self {
        let mut fixture = Self::classic();
        fixture.spec.mutation = mutation;
        fixture
    }

    /// Generates a valid classic-request verdict whose spec `change` edits.
    fn with_spec(change: impl FnOnce(&mut PlayIntegritySpec)) -> Self {
        let mut fixture = Self::classic();
        change(&mut fixture.spec);
        fixture
    }

    /// Generates a valid standard-request verdict whose request hash is a lowercase hex
    /// SHA-256.
    fn standard() -> Self {
        let hash = avow_attest::sha256(b"POST /transfer amount=10");
        let spec =
            PlayIntegritySpec::standard(PACKAGE, hex::encode(hash), NOW_SECS * 1000 - TOKEN_AGE_MS);
        Self::new(spec, Binding::RequestHash(hash.to_vec()))
    }

    fn new(spec: PlayIntegritySpec, binding: Binding) -> Self {
        let issuer = PlayIntegrityIssuer::new();
        let keys =
            PlayIntegrityKeys::new(&issuer.decryption_key(), &issuer.verification_key_spki())
                .unwrap();
        Self {
            issuer,
            spec,
            keys,
            package: PACKAGE.to_owned(),
            binding,
            registered: Some(vec![default_certificate_digest()]),
            min_version_code: None,
            now_secs: NOW_SECS,
            freshness: Freshness::default(),
        }
    }

    fn token(&self) -> String {
        self.issuer.token(&self.spec)
    }

    fn expected(&self) -> ExpectedRequest<'_> {
        ExpectedRequest {
            package_name: &self.package,
            binding: match &self.binding {
                Binding::Nonce(bytes) => RequestBinding::Nonce(bytes),
                Binding::RequestHash(bytes) => RequestBinding::RequestHash(bytes),
            },
            certificate_digests: match &self.registered {
                Some(digests) => CertificateDigests::Registered(digests),
                None => CertificateDigests::NotCompared,
            },
            min_version_code: self.min_version_code,
        }
    }

    fn verify(&self) -> Result<VerifiedPlayIntegrity, Error> {
        verify_token(
            &self.token(),
            &self.keys,
            &self.expected(),
            unix(self.now_secs),
            self.freshness,
        )
    }

    fn report(&self) -> PlayIntegrityReport {
        verify_token_report(
            &self.token(),
            &self.keys,
            &self.expected(),
            unix(self.now_secs),
            self.freshness,
        )
    }

    /// Verifies the same payload as `decodeIntegrityToken` would return it.
    fn verify_decoded(&self) -> Result<VerifiedPlayIntegrity, Error> {
        verify_decoded_payload(
            self.spec.decoded_response().as_bytes(),
            &self.expected(),
            unix(self.now_secs),
            self.freshness,
        )
    }

    fn decoded_report(&self) -> PlayIntegrityReport {
        verify_decoded_payload_report(
            self.spec.decoded_response().as_bytes(),
            &self.expected(),
            unix(self.now_secs),
            self.freshness,
        )
    }
}

/// Asserts that the checks ran in the order of `all`, that `failed` failed with `error`, and
/// that every other check passed.
fn assert_only_failure(
    report: &PlayIntegrityReport,
    all: &[PlayIntegrityCheck],
    failed: PlayIntegrityCheck,
    error: &Error,
) {
    let checks: Vec<_> = report.outcomes().iter().map(|(check, _)| *check).collect();
    assert_eq!(checks, all);
    for (check, outcome) in report.outcomes() {
        if *check == failed {
            assert_eq!(*outcome, CheckOutcome::Failed(error.clone()), "{check:?}");
        } else {
            assert_eq!(*outcome, CheckOutcome::Passed, "{check:?}");
        }
    }
}

/// Asserts that a payload check fails with `error` alone, both in a token and in the decoded
/// payload, and that verification returns that error.
fn assert_payload_failure(fixture: &Fixture, check: PlayIntegrityCheck, error: Error) {
    assert_only_failure(&fixture.report(), &PlayIntegrityCheck::TOKEN, check, &error);
    assert_only_failure(
        &fixture.decoded_report(),
        &PlayIntegrityCheck::DECODED,
        check,
        &error,
    );
    assert_eq!(fixture.verify().unwrap_err(), error);
    assert_eq!(fixture.verify_decoded().unwrap_err(), error);
}

/// Asserts that `check` failed with `error` and every later check was skipped.
fn assert_fails_and_skips_rest(
    report: &PlayIntegrityReport,
    all: &[PlayIntegrityCheck],
    failed: PlayIntegrityCheck,
    error: &Error,
) {
    let position = all.iter().position(|check| *check == failed).unwrap();
    let outcomes = report.outcomes();
    assert_eq!(outcomes.len(), all.len());
    for (index, (check, outcome)) in outcomes.iter().enumerate() {
        assert_eq!(*check, all[index]);
        let expected = match index.cmp(&position) {
            std::cmp::Ordering::Less => CheckOutcome::Passed,
            std::cmp::Ordering::Equal => CheckOutcome::Failed(error.clone()),
            std::cmp::Ordering::Greater => CheckOutcome::Skipped,
        };
        assert_eq!(*outcome, expected, "{check:?}");
    }
}
