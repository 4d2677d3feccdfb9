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
