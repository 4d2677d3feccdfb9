//! Certificate chain validation shared by the providers whose evidence carries a chain.
//!
//! Path building and signature checks are delegated to `rustls-webpki`, with the verification
//! time passed in. This module adds what webpki leaves out: which certificate of the chain an
//! expiry error is about, and a bound on the chain length.

use rustls_pki_types::{CertificateDer, ServerName, SignatureVerificationAlgorithm, UnixTime};
use webpki::{EndEntityCert, KeyUsage, aws_lc_rs as algorithms};

use crate::{Error, Roots};

/// Maximum number of certificates accepted in evidence, leaf included.
pub(crate) const MAX_CHAIN_LEN: usize = 8;

/// ECDSA algorithms found on App Attest and Android chains.
pub(crate) static ECDSA_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    algorithms::ECDSA_P256_SHA256,
    algorithms::ECDSA_P256_SHA384,
    algorithms::ECDSA_P384_SHA256,
    algorithms::ECDSA_P384_SHA384,
];

/// ECDSA and RSA algorithms, for chains issued by public CAs (SafetyNet, Huawei, Android's RSA
/// attestation root).
pub(crate) static ECDSA_AND_RSA_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    algorithms::ECDSA_P256_SHA256,
    algorithms::ECDSA_P256_SHA384,
    algorithms::ECDSA_P384_SHA256,
    algorithms::ECDSA_P384_SHA384,
    algorithms::RSA_PKCS1_2048_8192_SHA256,
    algorithms::RSA_PKCS1_2048_8192_SHA384,
    algorithms::RSA_PKCS1_2048_8192_SHA512,
    algorithms::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    algorithms::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    algorithms::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Verifies that `leaf` chains through some of `intermediates` to an anchor of `roots` at
/// `now`.
///
/// Without `dns_name`, the extended key usage rule is "client authentication if any EKU is
/// present". With `dns_name`, the leaf is a host certificate, such as SafetyNet's
/// `attest.android.com` leaf with only the server authentication EKU. The rule then becomes
/// "server authentication if any EKU is present", and the leaf must also be valid for that
/// name in its subject alternative names, as webpki checks it.
pub(crate) fn verify_chain(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    roots: &Roots,
    now: UnixTime,
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    dns_name: Option<&str>,
) -> Result<(), Error> {
    let count = 1 + intermediates.len();
    if count > MAX_CHAIN_LEN {
        return Err(Error::CertificateChainLength {
            len: count,
            expected: MAX_CHAIN_LEN,
        });
    }
    // Chains issued to a host (SafetyNet, Huawei) are the same for every device for days, so a
    // chain already verified against these anchors is looked up instead of verified again.
    // Per-device chains (App Attest, Android keys) are never repeated and skip the cache.
    let cache_key = dns_name.map(|name| ChainCache::key(leaf, intermediates, name));
    if let Some(key) = &cache_key
        && roots.verified_chains().contains(key, now.as_secs())
    {
        return Ok(());
    }
    verify_chain_uncached(leaf, intermediates, roots, now, algorithms, dns_name)?;
    if let Some(key) = cache_key
        && let Some(window) = common_validity(leaf, intermediates)
    {
        roots.verified_chains().insert(key, window);
    }
    Ok(())
}

fn verify_chain_uncached(
    leaf: &[u8],
    intermediates: &[Vec<u8>],
    roots: &Roots,
    now: UnixTime,
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    dns_name: Option<&str>,
) -> Result<(), Error> {
    let leaf_der = CertificateDer::from_slice(leaf);
    let end_entity = EndEntityCert::try_from(&leaf_der)
        .map_err(|_| Error::MalformedCertificate { which: "leaf" })?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from_slice(der))
        .collect();
    let usage = match dns_name {
        Some(_) => KeyUsage::server_auth(),
        None => KeyUsage::client_auth(),
    };
    end_entity
        .verify_for_usage(
            algorithms,
            roots.anchors(),
            &intermediates,
            now,
            usage,
            None,
            None,
        )
        .map_err(|error| {
            let bounds = validity_bounds(leaf);
            // webpki reports the failing time but not the certificate, so the leaf is
            // recognised by its validity bounds.
            Error::from_webpki(error, |bound| match bounds {
                Some((not_before, not_after)) if bound == not_before || bound == not_after => {
                    "leaf"
                }
                _ => "intermediate or root",
            })
        })?;

    if let Some(dns_name) = dns_name {
        let name = ServerName::try_from(dns_name).map_err(|_| Error::CertificateNameMismatch {
            expected: dns_name.to_owned(),
        })?;
        end_entity
            .verify_is_valid_for_subject_name(&name)
            .map_err(|_| Error::CertificateNameMismatch {
                expected: dns_name.to_owned(),
            })?;
    }
    Ok(())
}

/// Returns a certificate's notBefore and notAfter in Unix seconds.
pub(crate) fn validity_bounds(der: &[u8]) -> Option<(u64, u64)> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = certificate.validity();
    let not_before = u64::try_from(validity.not_before.timestamp()).ok()?;
    let not_after = u64::try_from(validity.not_after.timestamp()).ok()?;
    Some((not_before, not_after))
}

/// Returns the time window in which every certificate given is valid: the latest notBefore and
/// the earliest notAfter, in Unix seconds.
fn common_validity(leaf: &[u8], intermediates: &[Vec<u8>]) -> Option<(u64, u64)> {
    let mut window = validity_bounds(leaf)?;
    for certificate in intermediates {
        let (not_before, not_after) = validity_bounds(certificate)?;
        window = (window.0.max(not_before), window.1.min(not_after));
    }
    Some(window)
}

/// Maximum number of chains a [`ChainCache`] remembers; it starts over when full.
const CHAIN_CACHE_CAPACITY: usize = 256;

/// Chains that passed path validation for a host, with the window in which all their
/// certificates are valid.
///
/// A hit stands for a full validation: same bytes, same host, same anchors (the cache belongs to
/// one [`Roots`] value), and a verification time inside the window. Revocation is not checked
/// by the verifiers, so caching loses nothing there.
#[derive(Debug, Default)]
pub(crate) struct ChainCache {
    entries: std::sync::Mutex<std::collections::HashMap<[u8; 32], (u64, u64)>>,
}

impl ChainCache {
    fn key(leaf: &[u8], intermediates: &[Vec<u8>], dns_name: &str) -> [u8; 32] {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in std::iter::once(dns_name.as_bytes())
            .chain(std::iter::once(leaf))
            .chain(intermediates.iter().map(Vec::as_slice))
        {
            // Length prefixes keep different splits of the same bytes apart.
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(context.finish().as_ref());
        key
    }

    fn contains(&self, key: &[u8; 32], now: u64) -> bool {
        self.entries.lock().is_ok_and(|entries| {
            entries
                .get(key)
                .is_some_and(|(not_before, not_after)| *not_before <= now && now <= *not_after)
        })
    }

    fn insert(&self, key: [u8; 32], window: (u64, u64)) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CHAIN_CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(key, window);
        }
    }
}
