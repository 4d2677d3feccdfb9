//! Benchmarks of Android key attestation.
//!
//! - `android_key_verify`: a generated four-certificate chain (EC P-384 root and
//!   intermediate, P-256 attestation certificate and leaf), the shape of an RKP chain with its
//!   root, checked against a status list of 1 000 serial numbers.
//! - `android_key_verify_rsa_root`: the same with an RSA 2048 root, the shape of chains that end
//!   at Google's RSA root.
//! - `android_key_signature`: one refresh signature by the attested P-256 key.
//!
//! Every benchmark first checks that its input verifies, so the loop measures the success path.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use avow_attest::UnixTime;
use avow_attest::android_key::{
    AndroidKeyInput, CertificateDigests, Revocation, Roots, StatusList, verify_android_key,
    verify_key_signature,
};
use avow_testgen::android_key::{
    AndroidDeviceKey, AndroidKeyPki, AndroidKeySpec, RootKeyType, StatusListEntry, status_list_json,
};

/// 2025-06-01T00:00:00Z, inside the generated certificates' validity.
const VERIFY_TIME_SECS: u64 = 1_748_736_000;

const PACKAGE: &str = "com.example.bench";
const DIGEST: [u8; 32] = [0x11; 32];
const NONCE: [u8; 32] = [0x7e; 32];

fn status_list() -> StatusList {
    let entries: Vec<StatusListEntry> = (1u64..=1_000)
        .map(|index| StatusListEntry {
            serial_hex: format!("{:x}", index * 0x1_0000_0001),
            status: "REVOKED".to_owned(),
            reason: "KEY_COMPROMISE".to_owned(),
        })
        .collect();
    StatusList::parse(&status_list_json(&entries)).expect("generated status list parses")
}

fn bench_chain(c: &mut Criterion, name: &str, root_key_type: RootKeyType) {
    let pki = AndroidKeyPki::new(root_key_type);
    let device = AndroidDeviceKey::new();
    let chain = pki.chain(
        &device,
        &AndroidKeySpec::new(NONCE.to_vec(), PACKAGE, DIGEST),
    );
    let mut roots = Roots::empty();
    roots
        .add_der(pki.root_der())
        .expect("generated root is a valid trust anchor");
    let list = status_list();
    let digests = [DIGEST];
    let input = AndroidKeyInput {
        certificate_chain: &chain.certificates,
        expected_nonce: &NONCE,
        package_name: PACKAGE,
        signing_certificates: CertificateDigests::Registered(&digests),
        revocation: Revocation::StatusList(&list),
    };
    let now = UnixTime::since_unix_epoch(Duration::from_secs(VERIFY_TIME_SECS));
    verify_android_key(&input, &roots, now).expect("generated chain verifies");

    c.bench_function(name, |b| {
        b.iter(|| verify_android_key(black_box(&input), black_box(&roots), black_box(now)));
    });
}

fn bench_verify(c: &mut Criterion) {
    bench_chain(c, "android_key_verify", RootKeyType::EcP384);
    bench_chain(c, "android_key_verify_rsa_root", RootKeyType::Rsa2048);
}

fn bench_signature(c: &mut Criterion) {
    let device = AndroidDeviceKey::new();
    let spki = device.public_key_spki();
    let message = b"fresh server nonce, 32 bytes ok!";
    let signature = device.sign(message);
    verify_key_signature(&spki, message, &signature).expect("fresh signature verifies");

    c.bench_function("android_key_signature", |b| {
        b.iter(|| {
            verify_key_signature(black_box(&spki), black_box(message), black_box(&signature))
        });
    });
}

/// Five seconds and 50 samples per benchmark keep a run to about a minute on two cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_verify, bench_signature
}
criterion_main!(benches);
