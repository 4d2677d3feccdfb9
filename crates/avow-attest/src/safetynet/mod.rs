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
pub use self::payload::{
    Advice, CertificateDigests, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_FUTURE_SKEW_SECS, EvaluationType,
    Freshness,
};
use self::procedure::{Expected, HostName, Padding, Procedure, Step};
use crate::Error;
use crate::jws::JwsAlgorithm;
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, TrustLevel, Verdict};
pub use crate::{CheckOutcome, Roots};

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
    max_len: MAX_JWS_LEN,
    algorithms: &[JwsAlgorithm::Rs256],
    padding: Padding::Forbidden,
    host: SAFETYNET_HOST,
    host_name: HostName::SubjectAltName,
};

/// The caller's inputs for one SafetyNet result.
#[derive(Clone, Copy, Debug)]
pub struct SafetyNetInput<'a> {
    /// The compact JWS returned by `SafetyNetClient.attest`.
    pub jws: &'a str,
    /// The nonce bytes the server issued, which the app passed to `attest`. For WebAuthn, the
    /// SHA-256 of authenticator data ‖ client data hash.
    pub expected_nonce: &'a [u8],
    /// The app's package name.
    pub package_name: &'a str,
    /// The app's registered signing certificate digests.
    pub certificate_digests: CertificateDigests<'a>,
    /// The window in which `timestampMs` must lie.
    pub freshness: Freshness,
}

/// The checks of a SafetyNet result, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SafetyNetCheck {
    /// The JWS decodes: three base64url parts, `alg` RS256, an `x5c` chain and a JSON payload.
    Structure,
    /// `x5c` chains to a trusted root at the verification time and the leaf is issued for
    /// `attest.android.com`.
    CertificateChain,
    /// The JWS signature verifies with the leaf certificate's key.
    Signature,
    /// `nonce` decodes to the expected nonce bytes.
    Nonce,
    /// `timestampMs` lies in the freshness window.
    Timestamp,
    /// `apkPackageName` equals the app's package name.
    PackageName,
    /// Every `apkCertificateDigestSha256` entry is a registered digest.
    CertificateDigest,
}

impl SafetyNetCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 7] = [
        Self::Structure,
        Self::CertificateChain,
        Self::Signature,
        Self::Nonce,
        Self::Timestamp,
        Self::PackageName,
        Self::CertificateDigest,
    ];

    /// Returns the snake_case name of the check.
    pub fn name(self) -> &'static str {
        Step::from(self).name()
    }

    /// Returns a one-line description of what the check requires.
    pub fn description(self) -> &'static str {
        match self {
            Self::Structure => "compact JWS, alg RS256, x5c chain, JSON payload",
            Self::CertificateChain => {
                "x5c chains to a trusted root at the verification time, leaf for attest.android.com"
            }
            Self::Signature => "JWS signature verifies with the leaf certificate's key",
            Self::Nonce => "nonce = the nonce the server issued",
            Self::Timestamp => "timestampMs within the freshness window",
            Self::PackageName => "apkPackageName = the app's package name",
            Self::CertificateDigest => {
                "apkCertificateDigestSha256 entries are registered digests, when any are registered"
            }
        }
    }
}

impl From<SafetyNetCheck> for Step {
    fn from(check: SafetyNetCheck) -> Self {
        match check {
            SafetyNetCheck::Structure => Self::Structure,
            SafetyNetCheck::CertificateChain => Self::CertificateChain,
            SafetyNetCheck::Signature => Self::Signature,
            SafetyNetCheck::Nonce => Self::Nonce,
            SafetyNetCheck::Timestamp => Self::Timestamp,
            SafetyNetCheck::PackageName => Self::PackageName,
            SafetyNetCheck::CertificateDigest => Self::CertificateDigest,
        }
    }
}

impl From<Step> for SafetyNetCheck {
    fn from(step: Step) -> Self {
        match step {
            Step::Structure => Self::Structure,
            Step::CertificateChain => Self::CertificateChain,
            Step::Signature => Self::Signature,
            Step::Nonce => Self::Nonce,
            Step::Timestamp => Self::Timestamp,
            Step::PackageName => Self::PackageName,
            Step::CertificateDigest => Self::CertificateDigest,
        }
    }
}

/// The outcome of every check of one result.
#[derive(Clone, Debug)]
pub struct SafetyNetReport {
    outcomes: Vec<(SafetyNetCheck, CheckOutcome)>,
    verified: Option<VerifiedSafetyNet>,
}

impl SafetyNetReport {
    /// Returns each check with its outcome, in the order the checks run.
    pub fn outcomes(&self) -> &[(SafetyNetCheck, CheckOutcome)] {
        &self.outcomes
    }

    /// Returns the first failed check and its error.
    pub fn first_failure(&self) -> Option<(SafetyNetCheck, &Error)> {
        self.outcomes
            .iter()
            .find_map(|(check, outcome)| match outcome {
                CheckOutcome::Failed(error) => Some((*check, error)),
                _ => None,
            })
    }

    /// Returns the verified result, or the error of the first failed check.
    pub fn into_result(self) -> Result<VerifiedSafetyNet, Error> {
        if let Some((_, error)) = self.first_failure() {
            return Err(error.clone());
        }
        self.verified.ok_or(Error::MissingField {
            what: "SafetyNet result",
        })
    }
}

/// A SafetyNet result that passed every check. Only this crate constructs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSafetyNet {
    payload: SafetyNetPayload,
    nonce: Vec<u8>,
    timestamp_ms: u64,
    package_name: String,
    app_integrity: AppIntegrity,
}

impl VerifiedSafetyNet {
    /// The nonce bytes, equal to the expected nonce.
    pub fn nonce(&self) -> &[u8] {
        &self.nonce
    }

    /// When Google produced the result, Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The app's package name.
    pub fn package_name(&self) -> &str {
        &self.package_name
    }

    /// The payload with Google's labels.
    pub fn payload(&self) -> &SafetyNetPayload {
        &self.payload
    }

    /// The result in the common vocabulary: the app is recognised when its signing
    /// certificate digests were compared and matched, and unevaluated otherwise.
    pub fn verdict(&self) -> Verdict {
        self.payload.verdict(self.app_integrity)
    }
}

/// A decoded SafetyNet payload with Google's labels. Decoding checks nothing but the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetyNetPayload {
    response: Response,
}

impl SafetyNetPayload {
    /// Decodes the JSON payload of a result. Absent labels read as "not met".
    ///
    /// # Errors
    ///
    /// [`Error::MalformedPayload`] when the JSON is invalid, a member has the wrong type or
    /// appears twice, or a certificate digest is not base64 of 32 bytes.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        Response::from_json(json, PROCEDURE.what).map(|response| Self { response })
    }

    /// `nonce` as sent.
    pub fn nonce(&self) -> Option<&str> {
        self.response.nonce.as_deref()
    }

    /// `timestampMs`.
    pub fn timestamp_ms(&self) -> Option<u64> {
        self.response.timestamp_ms
    }

    /// `apkPackageName`.
    pub fn package_name(&self) -> Option<&str> {
        self.response.package_name.as_deref()
    }

    /// `apkCertificateDigestSha256`, decoded; empty when absent.
    pub fn certificate_digests(&self) -> &[[u8; 32]] {
        &self.response.certificate_digests
    }

    /// `ctsProfileMatch`; false when absent.
    pub fn cts_profile_match(&self) -> bool {
        self.response.cts_profile_match
    }

    /// `basicIntegrity`; false when absent.
    pub fn basic_integrity(&self) -> bool {
        self.response.basic_integrity
    }

    /// `evaluationType` entries.
    pub fn evaluation_types(&self) -> &[EvaluationType] {
        &self.response.evaluation_types
    }

    /// `advice` entries.
    pub fn advice(&self) -> &[Advice] {
        &self.response.advice
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
        Verdict::new(
            Provider::SafetyNet,
            TrustLevel::Platform,
            app_integrity,
            self.device_integrity(),
            self.response.risk_flags(),
            self.response.timestamp_ms,
        )
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
    let expected = Expected {
        nonce: input.expected_nonce,
        package_name: input.package_name,
        certificate_digests: input.certificate_digests,
        freshness: input.freshness,
    };
    let outcome = procedure::run(&PROCEDURE, input.jws, &expected, roots, now);
    SafetyNetReport {
        outcomes: outcome
            .steps
            .into_iter()
            .map(|(step, outcome)| (SafetyNetCheck::from(step), outcome))
            .collect(),
        verified: outcome.passed.map(|passed| VerifiedSafetyNet {
            payload: SafetyNetPayload {
                response: passed.response,
            },
            nonce: passed.nonce,
            timestamp_ms: passed.timestamp_ms,
            package_name: passed.package_name,
            app_integrity: passed.app_integrity,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
