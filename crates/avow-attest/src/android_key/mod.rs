//! Android key attestation: the certificate chain of a Keystore key generated with
//! `setAttestationChallenge(nonce)`, as `KeyStore.getCertificateChain(alias)` returns it.
//!
//! The steps follow Google's "Verify hardware-backed key pairs with key attestation"
//! (<https://developer.android.com/privacy-and-security/security-key-attestation>), in the
//! order of [`AndroidKeyCheck`]:
//!
//! 1. the chain verifies, certificate by certificate, up to one of Google's hardware
//!    attestation roots at the verification time (step 3 of Google's list);
//! 2. no certificate of the chain is on the operator's copy of Google's status list (step 4);
//! 3. only the leaf carries the attestation extension (step 6: a later copy of the extension
//!    could come from a key the attacker controls);
//! 4. the leaf's extension is one well-formed `KeyDescription` (step 6);
//! 5. its values match the request: the challenge is the server's nonce, the calling app is
//!    the expected package, signed with a registered certificate (step 7).
//!
//! Since Google moved devices that use Remote Key Provisioning to the P-384 root in 2026, their
//! chains end at an intermediate and omit the root. A chain is valid when it leads to a
//! configured anchor, whether or not the root itself is in the list.
//!
//! A key held in software, an unlocked bootloader or an unverified boot state does not fail
//! verification: the evidence is still authentic, and [`VerifiedAndroidKey::verdict`] reports
//! it as [`TrustLevel::Software`](crate::verdict::TrustLevel::Software) or a lower
//! [`DeviceIntegrity`](crate::verdict::DeviceIntegrity) for policy to decide.
//!
//! Not covered:
//!
//! - Chains made with an app-generated attestation key (`setAttestKey`, Android 12+): the
//!   key's own attestation certificate then sits between the leaf and Google's chain with a
//!   second extension, which [`AndroidKeyCheck::ExtensionPlacement`] rejects.
//! - The provisioning information extension (1.3.6.1.4.1.11129.2.1.30) of RKP chains is not
//!   read.
//! - Freshness comes from the single-use nonce alone. The key's `creationDateTime` is set by
//!   the device clock and is only reported as the verdict's evidence time.

mod der;
mod key_description;
mod signature;
mod status_list;
mod verify;

pub use key_description::{
    AttestationApplicationId, AttestationPackageInfo, AuthorizationList, KeyDescription,
    RootOfTrust, SecurityLevel, VerifiedBootState,
};
pub use signature::{MAX_SIGNED_MESSAGE_LEN, verify_key_signature};
pub use status_list::{MAX_STATUS_LIST_LEN, StatusEntry, StatusList, serial_hex};
pub use verify::{
    AndroidKeyCheck, AndroidKeyReport, VerifiedAndroidKey, verify_android_key,
    verify_android_key_report,
};

pub use crate::{CertificateDigests, CheckOutcome, CheckReport, Roots};

/// Google's current RSA hardware attestation root (provenance in `roots/README.md`).
pub(crate) const GOOGLE_HARDWARE_ATTESTATION_ROOT_RSA_PEM: &[u8] =
    include_bytes!("roots/Google_Hardware_Attestation_Root_RSA_2022.pem");

/// Google's ECDSA P-384 root "Key Attestation CA1" (provenance in `roots/README.md`).
pub(crate) const GOOGLE_KEY_ATTESTATION_CA1_PEM: &[u8] =
    include_bytes!("roots/Google_Key_Attestation_CA1.pem");

/// The OID of the key attestation extension, 1.3.6.1.4.1.11129.2.1.17, as dotted decimal.
pub const KEY_ATTESTATION_EXTENSION_OID: &str = "1.3.6.1.4.1.11129.2.1.17";

/// Largest DER certificate accepted in a chain. Real ones are under 2 KiB, root included.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;

/// The inputs of one verification: a received chain and the values it must match.
#[derive(Clone, Copy, Debug)]
pub struct AndroidKeyInput<'a> {
    /// The DER certificates from `KeyStore.getCertificateChain`, leaf first.
    pub certificate_chain: &'a [Vec<u8>],
    /// The nonce the server issued and the app passed to `setAttestationChallenge`, as bytes.
    pub expected_nonce: &'a [u8],
    /// The app's package name.
    pub package_name: &'a str,
    /// The app's registered signing certificate digests. One of the digests in
    /// `attestationApplicationId` must be registered, so an empty registered list accepts no
    /// app. With [`CertificateDigests::NotCompared`], [`AndroidKeyCheck::SigningCertificate`]
    /// reports [`CheckOutcome::Skipped`] and the verdict reports
    /// [`AppIntegrity::Unevaluated`](crate::verdict::AppIntegrity::Unevaluated).
    pub signing_certificates: CertificateDigests<'a>,
    /// The revocation source for the chain's serial numbers.
    pub revocation: Revocation<'a>,
}

/// The source of revocation information.
#[derive(Clone, Copy, Debug)]
pub enum Revocation<'a> {
    /// Revocation is not checked, and [`AndroidKeyCheck::Revocation`] reports
    /// [`CheckOutcome::Skipped`].
    NotChecked,
    /// Every certificate of the chain is looked up in this status list.
    StatusList(&'a StatusList),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_roots_load() {
        assert_eq!(Roots::google_hardware_attestation().len(), 2);
    }
}
