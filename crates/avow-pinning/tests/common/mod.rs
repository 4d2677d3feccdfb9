//! Helpers shared by the tests on the real certificate chains.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use avow_pinning::{
    CertificateDer, CertificateRole, ChainCertificate, ServerName, TrustStore, UnixTime,
    certificates_from_pem,
};

const DAY: u64 = 86_400;

/// Returns the `chains/` vectors folder, or prints why the calling test is skipped and returns
/// `None`.
pub(crate) fn chains_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    let chains = dir.join("chains");
    if chains.join("README.md").is_file() {
        Some(chains)
    } else {
        eprintln!(
            "skipped: certificate chain vectors not found at {} (set AVOW_VECTORS_DIR to the \
             vectors folder)",
            chains.display()
        );
        None
    }
}

/// Reads every certificate of a PEM file under `chains/`.
pub(crate) fn load(chains: &Path, file: &str) -> Vec<CertificateDer<'static>> {
    let pem = std::fs::read(chains.join(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
    certificates_from_pem(&pem).unwrap_or_else(|err| panic!("{file}: {err}"))
}

/// Reads the single certificate of a PEM file under `chains/`.
pub(crate) fn load_one(chains: &Path, file: &str) -> CertificateDer<'static> {
    let mut certs = load(chains, file);
    assert_eq!(certs.len(), 1, "{file} should hold one certificate");
    certs.remove(0)
}

/// Builds a trust store from PEM files under `chains/`.
pub(crate) fn store(chains: &Path, files: &[&str]) -> TrustStore {
    let mut store = TrustStore::empty();
    for file in files {
        for cert in load(chains, file) {
            store.add_certificate_der(cert).unwrap();
        }
    }
    store
}

/// Builds a store of every root in `roots/` still in the Mozilla bundle, plus ISRG Root X2.
pub(crate) fn current_roots(chains: &Path) -> TrustStore {
    let mut files: Vec<String> = std::fs::read_dir(chains.join("roots"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".pem") && !name.starts_with("removed-"))
        .map(|name| format!("roots/{name}"))
        .collect();
    files.sort();
    files.push("letsencrypt/isrg-root-x2.pem".into());
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    store(chains, &files)
}

/// Returns the time one day after the leaf's notBefore, inside the validity of every
/// certificate of the real chains.
pub(crate) fn inside_validity(leaf: &CertificateDer<'_>) -> UnixTime {
    let info =
        ChainCertificate::from_certificate_der(leaf.as_ref(), CertificateRole::Leaf).unwrap();
    seconds(info.not_before.unwrap() + DAY)
}

pub(crate) fn seconds(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

pub(crate) fn server_name(host: &str) -> ServerName<'static> {
    ServerName::try_from(host.to_owned()).unwrap()
}

/// 2025-06-01T00:00:00Z: inside the validity of every generated certificate.
pub(crate) const GENERATED_NOW: u64 = 1_748_736_000;

/// A generated CA: its certificate and an issuer that signs with its key.
pub(crate) struct TestCa {
    pub(crate) cert: CertificateDer<'static>,
    pub(crate) issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    /// Generates a self-signed root.
    pub(crate) fn root(name: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.self_signed(&key).unwrap().der().clone();
        Self {
            cert,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// Generates an intermediate CA issued by `self`.
    pub(crate) fn intermediate(&self, name: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.signed_by(&key, &self.issuer).unwrap().der().clone();
        Self {
            cert,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// Issues a certificate for the same name and key as `ca` (a cross-sign).
    pub(crate) fn cross_sign(&self, ca: &Self, name: &str) -> CertificateDer<'static> {
        ca_params(name)
            .signed_by(ca.issuer.key(), &self.issuer)
            .unwrap()
            .der()
            .clone()
    }

    /// Issues a leaf for `host` with the given key.
    pub(crate) fn leaf_with_key(
        &self,
        host: &str,
        key: &rcgen::KeyPair,
    ) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2026, 1, 1);
        params
            .extended_key_usages
            .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        params.signed_by(key, &self.issuer).unwrap().der().clone()
    }

    /// Issues a leaf for `host` with a new P-256 key.
    pub(crate) fn leaf(&self, host: &str) -> CertificateDer<'static> {
        self.leaf_with_key(host, &rcgen::KeyPair::generate().unwrap())
    }
}

fn ca_params(name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2040, 1, 1);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params
}

/// Builds a trust store of the given generated roots.
pub(crate) fn store_of(roots: &[&CertificateDer<'static>]) -> TrustStore {
    let mut store = TrustStore::empty();
    for root in roots {
        store.add_certificate_der((*root).clone()).unwrap();
    }
    store
}
