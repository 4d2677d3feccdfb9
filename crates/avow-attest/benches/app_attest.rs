//! Benchmarks of App Attest verification and of the ECDSA primitives it is built on.
//!
//! - `attestation_verify`: a valid attestation object from `avow-testgen`, chained to a fresh
//!   test root. It runs on any machine.
//! - `attestation_verify_apple_sample`: Apple's documentation sample attestation, verified at a
//!   time inside its certificate's validity. It runs only when the vectors folder is found
//!   (`AVOW_VECTORS_DIR`, else `../shared/vectors` next to the repository).
//! - `assertion_verify`: a valid assertion from `avow-testgen`.
//! - `p256_verify_raw`, `p384_verify_raw`: one aws-lc-rs ECDSA verification, the unit in which
//!   the costs above can be counted.
//!
//! Every benchmark first checks that its input verifies, so the loop measures the success path.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair as _,
    UnparsedPublicKey,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use avow_attest::UnixTime;
use avow_attest::app_attest::{
    AppId, AssertionInput, AttestationInput, Environment, Roots, verify_assertion,
    verify_attestation,
};
use avow_attest::encoding::decode_base64_any;
use avow_testgen::{AssertionSpec, AttestationSpec, SimulatedDevice, TestPki, sha256};

const TEAM_ID: &str = "TEAMID1234";
const BUNDLE_ID: &str = "com.example.bench";

/// Verification time for generated evidence, inside the test leaf's default validity
/// (2024-01-01 to 2049-12-31).
const GENERATED_VERIFY_TIME: &str = "2025-06-01T00:00:00Z";

/// Verification time for Apple's sample: its credential certificate is valid from
/// 2024-04-17T16:14:53Z to 2024-04-20T16:14:53Z.
const APPLE_SAMPLE_VERIFY_TIME: &str = "2024-04-18T12:00:00Z";
const APPLE_SAMPLE_FILE: &str = "apple-doc-sample-attestation.json";
const APPLE_SAMPLE_APP_ID: &str = "0352187391.com.apple.example_app_attest";

/// The message signed in the raw ECDSA benchmarks: 32 bytes, the size of the hash App Attest
/// assertions sign.
const RAW_MESSAGE: &[u8; 32] = b"avow benchmark message 32 bytes!";

fn unix_time(rfc3339: &str) -> UnixTime {
    let time = OffsetDateTime::parse(rfc3339, &Rfc3339).expect("constant is an RFC 3339 time");
    let seconds = u64::try_from(time.unix_timestamp()).expect("constant is after 1970");
    UnixTime::since_unix_epoch(Duration::from_secs(seconds))
}

fn bench_attestation_generated(c: &mut Criterion) {
    let pki = TestPki::new();
    let mut roots = Roots::empty();
    roots
        .add_der(pki.root_der())
        .expect("generated root is a valid trust anchor");
    let device = SimulatedDevice::new();
    let app_id = AppId::new(TEAM_ID, BUNDLE_ID);
    let client_data_hash = sha256(b"benchmark challenge");
    let spec = AttestationSpec::new(
        app_id.as_str(),
        client_data_hash,
        avow_testgen::Environment::Production,
    );
    let object = device.attestation(&pki, &spec);
    let key_id = device.key_id();
    let input = AttestationInput {
        attestation_object: &object,
        key_id: &key_id,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        environment: Environment::Production,
    };
    let now = unix_time(GENERATED_VERIFY_TIME);
    verify_attestation(&input, &roots, now).expect("generated attestation verifies");

    c.bench_function("attestation_verify", |b| {
        b.iter(|| verify_attestation(black_box(&input), black_box(&roots), black_box(now)));
    });
}

fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    dir.join("app-attest")
        .join(APPLE_SAMPLE_FILE)
        .is_file()
        .then_some(dir)
}

fn json_text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{APPLE_SAMPLE_FILE}: string field {key} missing"))
}

fn bench_attestation_apple_sample(c: &mut Criterion) {
    let Some(dir) = vectors_dir() else {
        println!(
            "attestation_verify_apple_sample: skipped, {APPLE_SAMPLE_FILE} not found \
             (set AVOW_VECTORS_DIR to the vectors folder)"
        );
        return;
    };
    let path = dir.join("app-attest").join(APPLE_SAMPLE_FILE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let sample: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("invalid JSON in {}: {error}", path.display()));

    let object = decode_base64_any(json_text(&sample, "attestation_base64"))
        .expect("attestation_base64 is base64");
    let key_id =
        decode_base64_any(json_text(&sample, "keyId_base64")).expect("keyId_base64 is base64");
    // Apple's sample passes the challenge bytes themselves as clientDataHash, without hashing.
    let client_data_hash = json_text(&sample, "clientDataHash_utf8")
        .as_bytes()
        .to_vec();
    let app_id = AppId::parse(APPLE_SAMPLE_APP_ID).expect("constant App ID");
    let roots = Roots::apple();
    let input = AttestationInput {
        attestation_object: &object,
        key_id: &key_id,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        environment: Environment::Production,
    };
    let now = unix_time(APPLE_SAMPLE_VERIFY_TIME);
    verify_attestation(&input, &roots, now).expect("Apple's sample attestation verifies");

    c.bench_function("attestation_verify_apple_sample", |b| {
        b.iter(|| verify_attestation(black_box(&input), black_box(&roots), black_box(now)));
    });
}

fn bench_assertion(c: &mut Criterion) {
    let device = SimulatedDevice::new();
    let app_id = AppId::new(TEAM_ID, BUNDLE_ID);
    let client_data_hash = sha256(br#"{"challenge":"benchmark"}"#);
    let assertion = device.assertion(&AssertionSpec::new(app_id.as_str(), client_data_hash, 1));
    let public_key = device.public_key();
    let input = AssertionInput {
        assertion: &assertion,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        public_key: &public_key,
        stored_counter: 0,
    };
    verify_assertion(&input).expect("generated assertion verifies");

    c.bench_function("assertion_verify", |b| {
        b.iter(|| verify_assertion(black_box(&input)));
    });
}

/// Benchmarks one ECDSA verification of a DER signature, including the parsing of the public
/// point that `UnparsedPublicKey` does on every call, as the verifiers above do.
fn bench_raw_verify(
    c: &mut Criterion,
    name: &str,
    signing: &'static EcdsaSigningAlgorithm,
    verification: &'static EcdsaVerificationAlgorithm,
) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("ECDSA key generation succeeds");
    let key_pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).expect("generated key loads");
    let signature = key_pair
        .sign(&rng, RAW_MESSAGE)
        .expect("ECDSA signing succeeds");
    let public_key = key_pair.public_key().as_ref().to_vec();
    let key = UnparsedPublicKey::new(verification, &public_key);
    key.verify(RAW_MESSAGE, signature.as_ref())
        .expect("fresh signature verifies");

    c.bench_function(name, |b| {
        b.iter(|| {
            black_box(&key)
                .verify(black_box(RAW_MESSAGE), black_box(signature.as_ref()))
                .is_ok()
        });
    });
}

fn bench_primitives(c: &mut Criterion) {
    bench_raw_verify(
        c,
        "p256_verify_raw",
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &signature::ECDSA_P256_SHA256_ASN1,
    );
    // The test PKI signs with P-384/SHA-384, while Apple's intermediate uses P-384/SHA-256.
    // Hashing a certificate body costs little next to the P-384 point arithmetic.
    bench_raw_verify(
        c,
        "p384_verify_raw",
        &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
        &signature::ECDSA_P384_SHA384_ASN1,
    );
}

/// Five seconds and 50 samples per benchmark keep a run of this file under a minute once built.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_attestation_generated, bench_attestation_apple_sample, bench_assertion,
        bench_primitives
}
criterion_main!(benches);
