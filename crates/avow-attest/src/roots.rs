//! Sets of trust anchors, loaded from the PEM files compiled into the crate or given by the
//! operator.

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, TrustAnchor};

use crate::Error;

/// A set of trust anchors that a provider's certificate chains must lead to.
#[derive(Clone, Debug)]
pub struct Roots {
    anchors: Vec<TrustAnchor<'static>>,
    /// Chains already verified against exactly these anchors. Clones share it; adding an anchor
    /// gives the set a fresh one, because a chain valid under more anchors proves nothing under
    /// fewer.
    verified_chains: std::sync::Arc<crate::x509::ChainCache>,
}

impl Roots {
    /// Returns the set containing only Apple's App Attestation Root CA.
    pub fn apple() -> Self {
        Self::compiled_in(crate::app_attest::APPLE_APP_ATTESTATION_ROOT_CA_PEM)
    }

    /// Returns the set containing only GlobalSign Root CA (R1), the root of SafetyNet chains.
    pub fn globalsign() -> Self {
        Self::compiled_in(crate::safetynet::GLOBALSIGN_ROOT_CA_PEM)
    }

    /// Returns the set containing only GlobalSign Root CA - R2, the root of SafetyNet chains
    /// before 2021.
    ///
    /// R2 expired on 2021-12-15, so this set only verifies stored historic evidence at a
    /// verification time before that date. It is not part of [`Roots::globalsign`].
    pub fn globalsign_r2_historic() -> Self {
        Self::compiled_in(crate::safetynet::GLOBALSIGN_ROOT_CA_R2_PEM)
    }

    /// Returns the set containing Huawei CBG Root CA and Huawei CBG Root CA G2, the roots of
    /// HMS Safety Detect SysIntegrity chains.
    pub fn huawei_cbg() -> Self {
        let mut roots = Self::compiled_in(crate::huawei_safety_detect::HUAWEI_CBG_ROOT_CA_PEM);
        roots.extend(&Self::compiled_in(
            crate::huawei_safety_detect::HUAWEI_CBG_ROOT_CA_G2_PEM,
        ));
        roots
    }

    /// Returns Google's hardware attestation roots for Android key attestation: the RSA root
    /// and the ECDSA P-384 root "Key Attestation CA1".
    pub fn google_hardware_attestation() -> Self {
        let mut roots =
            Self::compiled_in(crate::android_key::GOOGLE_HARDWARE_ATTESTATION_ROOT_RSA_PEM);
        roots.extend(&Self::compiled_in(
            crate::android_key::GOOGLE_KEY_ATTESTATION_CA1_PEM,
        ));
        roots
    }

    /// Builds a set from a PEM file compiled into the crate. Each such file is parsed by the
    /// crate's own tests, so this cannot fail at run time.
    pub(crate) fn compiled_in(pem: &[u8]) -> Self {
        let mut roots = Self::empty();
        #[allow(clippy::expect_used)]
        roots
            .add_pem(pem)
            .expect("compiled-in roots are valid PEM certificates");
        roots
    }

    /// Returns an empty set, to which [`Roots::add_der`] or [`Roots::add_pem`] add anchors.
    pub fn empty() -> Self {
        Self {
            anchors: Vec::new(),
            verified_chains: std::sync::Arc::default(),
        }
    }

    /// Adds one DER certificate as a trust anchor.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), Error> {
        let certificate = CertificateDer::from_slice(der);
        let anchor = webpki::anchor_from_trusted_cert(&certificate)
            .map_err(|_| Error::MalformedCertificate { which: "root" })?;
        self.anchors.push(anchor.to_owned());
        self.verified_chains = std::sync::Arc::default();
        Ok(())
    }

    /// Adds every certificate of a PEM text as a trust anchor. Returns how many were added.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, Error> {
        let mut added = 0;
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate =
                certificate.map_err(|_| Error::MalformedCertificate { which: "root" })?;
            self.add_der(&certificate)?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::MalformedCertificate { which: "root" });
        }
        Ok(added)
    }

    /// Adds every anchor of another set.
    pub fn extend(&mut self, other: &Self) {
        self.anchors.extend(other.anchors.iter().cloned());
        self.verified_chains = std::sync::Arc::default();
    }

    /// Returns how many anchors the set holds.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Returns whether the set contains no anchor.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    pub(crate) fn verified_chains(&self) -> &crate::x509::ChainCache {
        &self.verified_chains
    }

    pub(crate) fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_root_loads() {
        assert_eq!(Roots::apple().len(), 1);
    }

    #[test]
    fn pem_without_certificate_rejected() {
        let error = Roots::empty().add_pem(b"not a certificate").unwrap_err();
        assert_eq!(error.reason(), "malformed_certificate");
    }

    #[test]
    fn extend_adds_anchors() {
        let mut roots = Roots::empty();
        roots.extend(&Roots::apple());
        roots.extend(&Roots::apple());
        assert_eq!(roots.len(), 2);
    }
}
