//! Benchmarks of SafetyNet result verification.
//!
//! - `safetynet_verify_real`: the real 2021 result from a WebAuthn registration, with its
//!   three-certificate RSA chain to GlobalSign Root CA, verified at its capture time. It runs
//!   only when the vectors folder is found (`AVOW_VECTORS_DIR`, else `../shared/vectors` next
//!   to the repository).
//! - `safetynet_verify_generated`: a result from `avow-testgen`, chained through an RSA
//!   intermediate to a fresh test root. It runs on any machine.
//! - `safetynet_verify_real_cold`, `safetynet_verify_generated_cold`: the same two results,
//!   each iteration with a fresh `Roots` built outside the timed part.
//! - `rsa2048_verify_raw`, `rsa4096_verify_raw`: one aws-lc-rs RSASSA-PKCS1-v1_5 SHA-256
//!   verification, the unit in which the costs above can be counted.
//!
//! In the first two, the check before the loop puts the chain into the chain cache of
//! `Roots`, so every iteration finds it there and verifies only the JWS signature and the
//! payload. The `_cold` variants verify the chain in full each time, as for the first result
//! whose chain is not in the cache yet.
//!
//! Every benchmark first checks that its input verifies, so the loop measures the success path.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use avow_attest::UnixTime;
use avow_attest::encoding::decode_base64_any;
use avow_attest::safetynet::{
    CertificateDigests, Freshness, Roots, SafetyNetInput, SafetyNetPayload, verify_safetynet,
};
use avow_testgen::{SafetyNetGenerator, SafetyNetSpec};

const REAL_FILE: &str = "pywebauthn-real-2021-jws.txt";

/// A few seconds after the real result's timestampMs (2021-09-03T21:07:20Z).
const REAL_VERIFY_SECS: u64 = 1_630_703_245;

/// 2025-06-01T00:00:00Z, inside the generated leaf's validity (2024-01-01 to 2049-12-31).
const GENERATED_VERIFY_SECS: u64 = 1_748_736_000;

fn vectors_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    dir.join("safetynet").is_dir().then_some(dir)
}

fn bench_real(c: &mut Criterion) {
    let Some(dir) = vectors_dir() else {
        println!(
            "safetynet_verify_real: skipped, {REAL_FILE} not found \
             (set AVOW_VECTORS_DIR to the vectors folder)"
        );
        return;
    };
    let path = dir.join("safetynet").join(REAL_FILE);
    let jws = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
        .trim()
        .to_owned();

    // The nonce as the server would have recorded it: the one in the payload.
    let payload_part = jws
        .split('.')
        .nth(1)
        .expect("the result has a payload part");
    let payload = SafetyNetPayload::from_json(
        &URL_SAFE_NO_PAD
            .decode(payload_part)
            .expect("the payload part is base64url"),
    )
    .expect("the payload is JSON");
    let nonce = decode_base64_any(payload.nonce().expect("the payload has a nonce"))
        .expect("the nonce is base64");

    let input = SafetyNetInput {
        jws: &jws,
        expected_nonce: &nonce,
        package_name: "com.google.android.gms",
        certificate_digests: CertificateDigests::Registered(payload.certificate_digests()),
        freshness: Freshness::default(),
    };
    let roots = Roots::globalsign();
    let now = UnixTime::since_unix_epoch(Duration::from_secs(REAL_VERIFY_SECS));
    verify_safetynet(&input, &roots, now).expect("the real result verifies");
    c.bench_function("safetynet_verify_real", |b| {
        b.iter(|| verify_safetynet(black_box(&input), black_box(&roots), now))
    });

    // The routine returns the `Roots` so that criterion drops it after the timed part.
    c.bench_function("safetynet_verify_real_cold", |b| {
        b.iter_batched(
            Roots::globalsign,
            |fresh| (verify_safetynet(black_box(&input), &fresh, now), fresh),
            BatchSize::SmallInput,
        )
    });
}

fn bench_generated(c: &mut Criterion) {
    let generator = SafetyNetGenerator::new();
    let mut roots = Roots::empty();
    roots
        .add_der(generator.signer().root_der())
        .expect("generated root is a valid trust anchor");
    let nonce = [0x42u8; 32];
    let digest = [0x5cu8; 32];
    let spec = SafetyNetSpec::new(
        nonce,
        GENERATED_VERIFY_SECS * 1000 - 30_000,
        "com.example.bench",
        vec![digest],
    );
    let jws = generator.result(&spec);
    let digests = [digest];
    let input = SafetyNetInput {
        jws: &jws,
        expected_nonce: &nonce,
        package_name: "com.example.bench",
        certificate_digests: CertificateDigests::Registered(&digests),
        freshness: Freshness::default(),
    };
    let now = UnixTime::since_unix_epoch(Duration::from_secs(GENERATED_VERIFY_SECS));
    verify_safetynet(&input, &roots, now).expect("the generated result verifies");
    c.bench_function("safetynet_verify_generated", |b| {
        b.iter(|| verify_safetynet(black_box(&input), black_box(&roots), now))
    });

    let fresh_roots = || {
        let mut fresh = Roots::empty();
        fresh
            .add_der(generator.signer().root_der())
            .expect("generated root is a valid trust anchor");
        fresh
    };
    c.bench_function("safetynet_verify_generated_cold", |b| {
        b.iter_batched(
            fresh_roots,
            |fresh| (verify_safetynet(black_box(&input), &fresh, now), fresh),
            BatchSize::SmallInput,
        )
    });
}

/// The message signed in the raw RSA benchmarks: 32 bytes, as in the raw ECDSA benchmarks of
/// `app_attest.rs`.
const RAW_MESSAGE: &[u8; 32] = b"avow benchmark message 32 bytes!";

/// Benchmarks one RSASSA-PKCS1-v1_5 SHA-256 verification with a fresh key of `size`,
/// including the parsing of the PKCS#1 public key that `UnparsedPublicKey` does on every
/// call, as the JWS and certificate checks do.
fn bench_raw_rsa_verify(c: &mut Criterion, name: &str, size: KeySize) {
    let key_pair = RsaKeyPair::generate(size).expect("RSA key generation succeeds");
    let mut signature = vec![0u8; key_pair.public_modulus_len()];
    key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            RAW_MESSAGE,
            &mut signature,
        )
        .expect("RSA signing succeeds");
    let public_key = key_pair.public_key().as_ref().to_vec();
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_key);
    key.verify(RAW_MESSAGE, &signature)
        .expect("fresh signature verifies");

    c.bench_function(name, |b| {
        b.iter(|| {
            black_box(&key)
                .verify(black_box(RAW_MESSAGE), black_box(&signature))
                .is_ok()
        });
    });
}

fn bench_raw(c: &mut Criterion) {
    bench_raw_rsa_verify(c, "rsa2048_verify_raw", KeySize::Rsa2048);
    bench_raw_rsa_verify(c, "rsa4096_verify_raw", KeySize::Rsa4096);
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_real, bench_generated, bench_raw
}
criterion_main!(benches);
