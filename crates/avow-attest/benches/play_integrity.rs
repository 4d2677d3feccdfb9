//! Benchmarks of Play Integrity verification.
//!
//! - `play_integrity_verify_token`: a classic-request token from `avow-testgen`, decrypted
//!   (AES key unwrap, AES-256-GCM) and verified (ES256) with its keys, then its payload checked.
//! - `play_integrity_verify_decoded`: the same verdict as `decodeIntegrityToken` returns it,
//!   so only the JSON parse and the payload checks run.
//!
//! Every benchmark first checks that its input verifies, so the loop measures the success path.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use avow_attest::UnixTime;
use avow_attest::play_integrity::{
    CertificateDigests, ExpectedRequest, Freshness, PlayIntegrityKeys, RequestBinding,
    verify_decoded_payload, verify_token,
};
use avow_testgen::play_integrity::{
    PlayIntegrityIssuer, PlayIntegritySpec, default_certificate_digest,
};

const PACKAGE: &str = "com.example.bench";

/// The verification time, 2025-06-01T00:00:00Z, Unix seconds.
const NOW_SECS: u64 = 1_748_736_000;

fn bench_play_integrity(c: &mut Criterion) {
    let issuer = PlayIntegrityIssuer::new();
    let nonce = [0x5au8; 32];
    let spec = PlayIntegritySpec::classic(PACKAGE, &nonce, NOW_SECS * 1000 - 2_000);
    let token = issuer.token(&spec);
    let decoded = spec.decoded_response();
    let keys = PlayIntegrityKeys::new(&issuer.decryption_key(), &issuer.verification_key_spki())
        .expect("generated keys are valid");
    let digests = [default_certificate_digest()];
    let expected = ExpectedRequest {
        package_name: PACKAGE,
        binding: RequestBinding::Nonce(&nonce),
        certificate_digests: CertificateDigests::Registered(&digests),
        min_version_code: Some(1),
    };
    let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS));
    let freshness = Freshness::default();
    verify_token(&token, &keys, &expected, now, freshness).expect("generated token verifies");
    verify_decoded_payload(decoded.as_bytes(), &expected, now, freshness)
        .expect("generated payload verifies");

    c.bench_function("play_integrity_verify_token", |b| {
        b.iter(|| {
            verify_token(
                black_box(&token),
                black_box(&keys),
                black_box(&expected),
                black_box(now),
                freshness,
            )
        });
    });
    c.bench_function("play_integrity_verify_decoded", |b| {
        b.iter(|| {
            verify_decoded_payload(
                black_box(decoded.as_bytes()),
                black_box(&expected),
                black_box(now),
                freshness,
            )
        });
    });
}

/// Five seconds and 50 samples per benchmark keep a run under half a minute on two cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_play_integrity
}
criterion_main!(benches);
