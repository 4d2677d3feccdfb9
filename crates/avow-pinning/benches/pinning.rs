//! Benchmarks of the work done per API domain check.
//!
//! - `pin_from_certificate`: parsing a certificate and hashing its SPKI.
//! - `validate_path_generated`: path validation of a generated leaf → intermediate → root
//!   chain (P-256). It runs on any machine.
//! - `validate_path_letsencrypt`: path validation of a real letsencrypt.org chain against ISRG
//!   Root X1. It runs only when the vectors folder is found (`AVOW_VECTORS_DIR`, else
//!   `../shared/vectors` next to the repository).
//! - `gate_check`: the publish gate on one validated path and a three-pin set.
//!
//! Each benchmark first checks that its input succeeds, so the loop measures the success path.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

use avow_pinning::gate::{self, GateInput};
use avow_pinning::{
    CertificateDer, HostPattern, Pin, PinEntry, PinRole, PinSet, ServerName, TrustStore, UnixTime,
    certificates_from_pem,
};

/// 2025-06-01T00:00:00Z, inside the generated certificates' validity.
const NOW: u64 = 1_748_736_000;

struct Generated {
    served: Vec<CertificateDer<'static>>,
    store: TrustStore,
    root: CertificateDer<'static>,
}

fn generated() -> Generated {
    let ca = |name: &str| {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
    };
    let root_key = rcgen::KeyPair::generate().unwrap();
    let root_params = ca("Bench Root");
    let root = root_params.self_signed(&root_key).unwrap().der().clone();
    let root_issuer = rcgen::Issuer::new(root_params, root_key);
    let issuing_key = rcgen::KeyPair::generate().unwrap();
    let issuing_params = ca("Bench Issuing CA");
    let issuing = issuing_params
        .signed_by(&issuing_key, &root_issuer)
        .unwrap()
        .der()
        .clone();
    let issuing_issuer = rcgen::Issuer::new(issuing_params, issuing_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["api.example.com".into()])
        .unwrap()
        .signed_by(&leaf_key, &issuing_issuer)
        .unwrap()
        .der()
        .clone();
    let mut store = TrustStore::empty();
    store.add_certificate_der(root.clone()).unwrap();
    Generated {
        served: vec![leaf, issuing],
        store,
        root,
    }
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

fn bench_generated(c: &mut Criterion) {
    let chain = generated();
    let host = ServerName::try_from("api.example.com").unwrap();
    let leaf = chain.served[0].clone();
    Pin::from_certificate_der(leaf.as_ref()).unwrap();
    c.bench_function("pin_from_certificate", |b| {
        b.iter(|| Pin::from_certificate_der(black_box(leaf.as_ref())).unwrap())
    });

    chain.store.validate(&chain.served, &host, at(NOW)).unwrap();
    c.bench_function("validate_path_generated", |b| {
        b.iter(|| {
            chain
                .store
                .validate(black_box(&chain.served), &host, at(NOW))
                .unwrap()
        })
    });

    let paths = [chain.store.validate(&chain.served, &host, at(NOW)).unwrap()];
    let mut set = PinSet::new(HostPattern::parse("api.example.com").unwrap(), NOW + 86_400);
    set.add(PinEntry::new(
        Pin::from_certificate_der(chain.root.as_ref()).unwrap(),
        PinRole::Root,
    ))
    .unwrap()
    .add_pin(Pin::from_digest([1; 32]), PinRole::Backup)
    .unwrap()
    .add_pin(Pin::from_digest([2; 32]), PinRole::Root)
    .unwrap();
    let input = GateInput::new(&set, &paths, NOW + 86_400, NOW);
    assert!(gate::check(&input).passes());
    c.bench_function("gate_check", |b| b.iter(|| gate::check(black_box(&input))));
}

fn bench_letsencrypt(c: &mut Criterion) {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    let chains = dir.join("chains");
    let (Ok(served), Ok(root)) = (
        std::fs::read(chains.join("sites/letsencrypt.org_2025-01-31_via-E6.chain.pem")),
        std::fs::read(chains.join("letsencrypt/isrg-root-x1.pem")),
    ) else {
        eprintln!(
            "skipped: validate_path_letsencrypt, vectors not found at {} (set AVOW_VECTORS_DIR \
             to the vectors folder)",
            chains.display()
        );
        return;
    };
    let served = certificates_from_pem(&served).unwrap();
    let store = TrustStore::from_pem(&root).unwrap();
    let host = ServerName::try_from("letsencrypt.org").unwrap();
    // 2025-02-06T00:00:00Z, inside the leaf's validity (2025-02-05 to 2025-05-06).
    let now = at(1_738_800_000);
    store.validate(&served, &host, now).unwrap();
    c.bench_function("validate_path_letsencrypt", |b| {
        b.iter(|| store.validate(black_box(&served), &host, now).unwrap())
    });
}

criterion_group!(benches, bench_generated, bench_letsencrypt);
criterion_main!(benches);
