//! Google SafetyNet Attestation results (legacy).
//!
//! Google turned SafetyNet Attestation down in January 2025, so new devices no longer produce
//! results. This module is for stored evidence and for WebAuthn `android-safetynet`
//! attestations, whose `attStmt.response` is such a result. Google's description of the
//! format and of the server-side checks is at
//! <https://developer.android.com/training/safetynet/attestation>.
//!
//! A result is a compact JWS signed with RS256. The checks, in the order [`SafetyNetCheck`]
//! lists them:
//!
//! 1. The JWS is three base64url parts, its header names `RS256` and carries an `x5c` chain
//!    (leaf first), and its payload is a JSON object.
//! 2. The chain leads to a trusted root at the verification time ([`Roots::globalsign`] by
//!    default) and the leaf is issued for `attest.android.com`. No revocation list is
//!    fetched: the verifier does no I/O.
//! 3. The JWS signature verifies with the leaf's key.
//! 4. `nonce` decodes (any base64 variant) to the nonce bytes the server issued.
//! 5. `timestampMs` lies in the [`Freshness`] window around the verification time.
//! 6. `apkPackageName` is the app's package name.
//! 7. Every `apkCertificateDigestSha256` entry is a registered signing certificate digest.
//!
//! A device that fails Google's integrity checks is not an error: the result verifies and its
//! [`VerifiedSafetyNet::verdict`] reports [`DeviceIntegrity::None`] and the advice as risk
//! flags, so policy decides. `apkDigestSha256` is not checked.

mod payload;
pub(crate) mod procedure;

use rustls_pki_types::UnixTime;

pub(crate) use self::payload::Response;
pub use self::payload::{Advice, EvaluationType, ResultPayload};
use self::procedure::{HostName, Padding, Procedure};
pub use self::procedure::{ResultInput, VerifiedResult};
use crate::Error;
use crate::jws::JwsAlgorithm;
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, Verdict};
pub use crate::{
    CertificateDigests, CheckOutcome, CheckReport, DEFAULT_MAX_AGE_SECS,
    DEFAULT_MAX_FUTURE_SKEW_SECS, Freshness, Roots,
};

/// GlobalSign Root CA (R1), the root of current SafetyNet chains (provenance in
/// `roots/README.md`).
pub(crate) const GLOBALSIGN_ROOT_CA_PEM: &[u8] = include_bytes!("roots/GlobalSign_Root_CA.pem");

/// GlobalSign Root CA - R2, the root of SafetyNet chains before 2021, expired 2021-12-15.
pub(crate) const GLOBALSIGN_ROOT_CA_R2_PEM: &[u8] =
    include_bytes!("roots/GlobalSign_Root_CA_R2.pem");

/// The host name Google's signing certificate is issued for.
pub const SAFETYNET_HOST: &str = "attest.android.com";

/// Largest result accepted, in bytes. Real ones are about 8 KiB, most of it the certificate
/// chain.
pub const MAX_JWS_LEN: usize = 32 * 1024;

const PROCEDURE: Procedure = Procedure {
    what: "SafetyNet payload",
    result: "SafetyNet result",
    max_len: MAX_JWS_LEN,
    algorithms: &[JwsAlgorithm::Rs256],
    padding: Padding::Forbidden,
    host: SAFETYNET_HOST,
    host_name: HostName::SubjectAltName,
};

/// Google SafetyNet, as the vendor parameter of the types shared with Huawei SysIntegrity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafetyNet {}

/// The caller's inputs for one SafetyNet result.
pub type SafetyNetInput<'a> = ResultInput<'a>;

procedure::check_enum! {
    /// The checks of a SafetyNet result, in the order they run.
    pub enum SafetyNetCheck {
        /// The JWS decodes: three base64url parts, `alg` RS256, an `x5c` chain and a JSON
        /// payload.
        Structure => "compact JWS, alg RS256, x5c chain, JSON payload",
        /// `x5c` chains to a trusted root at the verification time and the leaf is issued for
        /// `attest.android.com`.
        CertificateChain =>
            "x5c chains to a trusted root at the verification time, leaf for attest.android.com",
    }
}

/// The outcome of every check of one result.
pub type SafetyNetReport = CheckReport<SafetyNetCheck, VerifiedSafetyNet>;

/// A SafetyNet result that passed every check. Only this crate constructs it.
pub type VerifiedSafetyNet = VerifiedResult<SafetyNet>;

impl VerifiedSafetyNet {
    /// The result in the common vocabulary: the app is recognised when its signing
    /// certificate digests were compared and matched, and unevaluated otherwise.
    pub fn verdict(&self) -> Verdict {
        self.payload().verdict(self.app_integrity)
    }
}

/// A decoded SafetyNet payload with Google's labels. Decoding checks nothing but the format.
pub type SafetyNetPayload = ResultPayload<SafetyNet>;

impl SafetyNetPayload {
    /// Decodes the JSON payload of a result. Absent labels read as "not met".
    ///
    /// # Errors
    ///
    /// [`Error::MalformedPayload`] when the JSON is invalid, a member has the wrong type or
    /// appears twice, or a certificate digest is not base64 of 32 bytes.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        Response::from_json(json, PROCEDURE.what).map(Self::new)
    }

    /// `ctsProfileMatch`; false when absent.
    pub fn cts_profile_match(&self) -> bool {
        self.response.cts_profile_match
    }

    /// `evaluationType` entries.
    pub fn evaluation_types(&self) -> &[EvaluationType] {
        &self.response.evaluation_types
    }

    /// `error`, which Google sets when it could not evaluate the device.
    pub fn error(&self) -> Option<&str> {
        self.response.error.as_deref()
    }

    /// Maps Google's labels onto the common verdict, with `app_integrity` as established by
    /// the caller. This verifies nothing: use it on a payload whose signature, nonce and app
    /// were verified, as [`VerifiedSafetyNet::verdict`] does.
    ///
    /// `ctsProfileMatch` and `basicIntegrity` give [`DeviceIntegrity::Device`], or
    /// [`DeviceIntegrity::Strong`] when `evaluationType` includes `HARDWARE_BACKED`.
    /// `basicIntegrity` alone gives [`DeviceIntegrity::Basic`], anything else
    /// [`DeviceIntegrity::None`]. Advice `LOCK_BOOTLOADER` and `RESTORE_TO_FACTORY_ROM` become
    /// the risk flags `BootloaderUnlocked` and `Rooted`.
    pub fn verdict(&self, app_integrity: AppIntegrity) -> Verdict {
        self.verdict_with(Provider::SafetyNet, app_integrity, self.device_integrity())
    }

    fn device_integrity(&self) -> DeviceIntegrity {
        self.response.safetynet_device_integrity()
    }
}

/// Verifies a SafetyNet result and returns its verified content.
///
/// # Errors
///
/// The [`Error`] of the first failed [`SafetyNetCheck`].
pub fn verify_safetynet(
    input: &SafetyNetInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> Result<VerifiedSafetyNet, Error> {
    verify_safetynet_report(input, roots, now).into_result()
}

/// Runs every check of a SafetyNet result and reports each outcome.
///
/// When the JWS cannot be decoded, [`SafetyNetCheck::Structure`] fails and every other check
/// is [`CheckOutcome::Skipped`].
pub fn verify_safetynet_report(
    input: &SafetyNetInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> SafetyNetReport {
    procedure::run(&PROCEDURE, input, roots, now)
}

#[cfg(test)]
mod tests {
    use super::procedure::Step;
    use super::*;
    use crate::verdict::TrustLevel;

    #[test]
    fn checks_and_steps_correspond() {
        for check in SafetyNetCheck::ALL {
            assert_eq!(SafetyNetCheck::from(Step::from(check)), check);
        }
        assert_eq!(SafetyNetCheck::ALL.len(), procedure::STEPS.len());
        for (check, step) in SafetyNetCheck::ALL.iter().zip(procedure::STEPS) {
            assert_eq!(Step::from(*check), step);
        }
    }

    #[test]
    fn roots_load() {
        assert_eq!(Roots::globalsign().len(), 1);
        assert_eq!(Roots::globalsign_r2_historic().len(), 1);
    }

    #[test]
    fn payload_verdict_uses_labels() {
        let payload = SafetyNetPayload::from_json(
            br#"{"ctsProfileMatch":false,"basicIntegrity":true,"advice":"LOCK_BOOTLOADER","timestampMs":5}"#,
        )
        .unwrap();
        let verdict = payload.verdict(AppIntegrity::Unevaluated);
        assert_eq!(verdict.provider, Provider::SafetyNet);
        assert_eq!(verdict.trust, TrustLevel::Platform);
        assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
        assert_eq!(
            verdict.risk_flags,
            vec![crate::verdict::RiskFlag::BootloaderUnlocked]
        );
        assert_eq!(verdict.evidence_time_ms, Some(5));
    }
}
