//! Benchmark of Huawei SysIntegrity result verification.
//!
//! - `sys_integrity_verify_generated`: a result from `avow-testgen` (RS256, padded base64url
//!   parts, a leaf named by its common name only), chained through an RSA intermediate to a
//!   fresh test root. No signed real result is public.
//!
//! The benchmark first checks that its input verifies, so the loop measures the success path.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use avow_attest::UnixTime;
use avow_attest::huawei_safety_detect::{
    CertificateDigests, Freshness, Roots, SysIntegrityInput, verify_sys_integrity,
};
use avow_testgen::{LeafName, SysIntegrityGenerator, SysIntegritySpec};

/// 2025-06-01T00:00:00Z, inside the generated leaf's validity (2024-01-01 to 2049-12-31).
const VERIFY_SECS: u64 = 1_748_736_000;

fn bench_generated(c: &mut Criterion) {
    let generator = SysIntegrityGenerator::new(LeafName::CommonNameOnly);
    let mut roots = Roots::empty();
    roots
        .add_der(generator.signer().root_der())
        .expect("generated root is a valid trust anchor");
    let nonce = [0x24u8; 24];
    let digest = [0x3du8; 32];
    let spec = SysIntegritySpec::new(
        nonce,
        VERIFY_SECS * 1000 - 30_000,
        "com.example.bench",
        vec![digest],
    );
    let jws = generator.result(&spec);
    let digests = [digest];
    let input = SysIntegrityInput {
        jws: &jws,
        expected_nonce: &nonce,
        package_name: "com.example.bench",
        certificate_digests: CertificateDigests::Registered(&digests),
        freshness: Freshness::default(),
    };
    let now = UnixTime::since_unix_epoch(Duration::from_secs(VERIFY_SECS));
    verify_sys_integrity(&input, &roots, now).expect("the generated result verifies");
    c.bench_function("sys_integrity_verify_generated", |b| {
        b.iter(|| verify_sys_integrity(black_box(&input), black_box(&roots), now))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_generated
}
criterion_main!(benches);
