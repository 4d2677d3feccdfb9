//! Huawei HMS Safety Detect SysIntegrity results.
//!
//! SysIntegrity is the device integrity check of HMS Core, for devices without Google Play
//! services. Its result copies SafetyNet's format: a compact JWS whose `x5c` leaf is issued
//! for `sysintegrity.platform.hicloud.com`, with a payload that has `nonce`, `timestampMs`,
//! `apkPackageName`, `apkCertificateDigestSha256`, `basicIntegrity` and `advice`. Huawei's
//! server sample (`HMS-Core/hms-safetydetect-demo-android`,
//! `SafetyDetect-SysIntegrity-Server-Sample`) describes the checks; they run in the order
//! [`SysIntegrityCheck`] lists them and match those of [`crate::safetynet`], with three
//! differences:
//!
//! - The signature algorithm is RS256 or PS256.
//! - The base64url parts may end in `=` padding, which RFC 7515 forbids. The signature then
//!   covers the padded text as received.
//! - The leaf names the host in a DNS subject alternative name or, when it has none, in its
//!   subject common name.
//!
//! The last two rules follow a public Go verifier of SafetyNet and HMS results. It strips the
//! padding before parsing and checks the signature over the text as received. It also matches
//! the host against the common name, because Huawei's leaf uses it.
//!
//! The chain must lead to [`Roots::huawei_cbg`] (Huawei CBG Root CA and its G2 successor),
//! unless the caller passes other roots.
//!
//! NOTE: no signed SysIntegrity result is public, so the chain, padding and host name rules are
//! tested with generated results only. The leaf's extended key usage is assumed to allow
//! server authentication, as SafetyNet's does.

use rustls_pki_types::UnixTime;

use crate::Error;
use crate::jws::JwsAlgorithm;
use crate::safetynet::Response;
use crate::safetynet::procedure::{self, Expected, HostName, Padding, Procedure, Step};
pub use crate::safetynet::{
    Advice, CertificateDigests, DEFAULT_MAX_AGE_SECS, DEFAULT_MAX_FUTURE_SKEW_SECS, Freshness,
};
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, TrustLevel, Verdict};
pub use crate::{CheckOutcome, Roots};

/// Huawei CBG Root CA (RSA 4096, valid to 2042), provenance in `roots/README.md`.
pub(crate) const HUAWEI_CBG_ROOT_CA_PEM: &[u8] = include_bytes!("roots/Huawei_CBG_Root_CA.pem");

/// Huawei CBG Root CA G2 (ECDSA P-384, valid to 2049), provenance in `roots/README.md`.
pub(crate) const HUAWEI_CBG_ROOT_CA_G2_PEM: &[u8] =
    include_bytes!("roots/Huawei_CBG_Root_CA_G2.pem");

/// The host name Huawei's signing certificate is issued for.
pub const SYS_INTEGRITY_HOST: &str = "sysintegrity.platform.hicloud.com";

/// Largest result accepted, in bytes, the same bound as for SafetyNet results.
pub const MAX_JWS_LEN: usize = crate::safetynet::MAX_JWS_LEN;

const PROCEDURE: Procedure = Procedure {
    what: "SysIntegrity payload",
    max_len: MAX_JWS_LEN,
    algorithms: &[JwsAlgorithm::Rs256, JwsAlgorithm::Ps256],
    padding: Padding::Accepted,
    host: SYS_INTEGRITY_HOST,
    host_name: HostName::SubjectAltNameOrCommonName,
};

/// The caller's inputs for one SysIntegrity result.
#[derive(Clone, Copy, Debug)]
pub struct SysIntegrityInput<'a> {
    /// The compact JWS returned by `SafetyDetectClient.sysIntegrity`.
    pub jws: &'a str,
    /// The nonce bytes the server issued, which the app passed to `sysIntegrity`.
    pub expected_nonce: &'a [u8],
    /// The app's package name.
    pub package_name: &'a str,
    /// The app's registered signing certificate digests.
    pub certificate_digests: CertificateDigests<'a>,
    /// The window in which `timestampMs` must lie.
    pub freshness: Freshness,
}

/// The checks of a SysIntegrity result, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysIntegrityCheck {
    /// The JWS decodes: three base64url parts (padding allowed), `alg` RS256 or PS256, an
    /// `x5c` chain and a JSON payload.
    Structure,
    /// `x5c` chains to a trusted root at the verification time and the leaf is issued for
    /// `sysintegrity.platform.hicloud.com`.
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

impl SysIntegrityCheck {
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
            Self::Structure => "compact JWS, alg RS256 or PS256, x5c chain, JSON payload",
            Self::CertificateChain => {
                "x5c chains to a trusted root at the verification time, leaf for sysintegrity.platform.hicloud.com"
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

impl From<SysIntegrityCheck> for Step {
    fn from(check: SysIntegrityCheck) -> Self {
        match check {
            SysIntegrityCheck::Structure => Self::Structure,
            SysIntegrityCheck::CertificateChain => Self::CertificateChain,
            SysIntegrityCheck::Signature => Self::Signature,
            SysIntegrityCheck::Nonce => Self::Nonce,
            SysIntegrityCheck::Timestamp => Self::Timestamp,
            SysIntegrityCheck::PackageName => Self::PackageName,
            SysIntegrityCheck::CertificateDigest => Self::CertificateDigest,
        }
    }
}

impl From<Step> for SysIntegrityCheck {
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
pub struct SysIntegrityReport {
    outcomes: Vec<(SysIntegrityCheck, CheckOutcome)>,
    verified: Option<VerifiedSysIntegrity>,
}

impl SysIntegrityReport {
    /// Returns each check with its outcome, in the order the checks run.
    pub fn outcomes(&self) -> &[(SysIntegrityCheck, CheckOutcome)] {
        &self.outcomes
    }

    /// Returns the first failed check and its error.
    pub fn first_failure(&self) -> Option<(SysIntegrityCheck, &Error)> {
        self.outcomes
            .iter()
            .find_map(|(check, outcome)| match outcome {
                CheckOutcome::Failed(error) => Some((*check, error)),
                _ => None,
            })
    }

    /// Returns the verified result, or the error of the first failed check.
    pub fn into_result(self) -> Result<VerifiedSysIntegrity, Error> {
        if let Some((_, error)) = self.first_failure() {
            return Err(error.clone());
        }
        self.verified.ok_or(Error::MissingField {
            what: "SysIntegrity result",
        })
    }
}

/// A SysIntegrity result that passed every check. Only this crate constructs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSysIntegrity {
    payload: SysIntegrityPayload,
    nonce: Vec<u8>,
    timestamp_ms: u64,
    package_name: String,
    app_integrity: AppIntegrity,
}

impl VerifiedSysIntegrity {
    /// The nonce bytes, equal to the expected nonce.
    pub fn nonce(&self) -> &[u8] {
        &self.nonce
    }

    /// When Huawei produced the result, Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The app's package name.
    pub fn package_name(&self) -> &str {
        &self.package_name
    }

    /// The payload with Huawei's labels.
    pub fn payload(&self) -> &SysIntegrityPayload {
        &self.payload
    }

    /// The result in the common vocabulary: the app is recognised when its signing
    /// certificate digests were compared and matched, and unevaluated otherwise.
    pub fn verdict(&self) -> Verdict {
        self.payload.verdict(self.app_integrity)
    }
}

/// A decoded SysIntegrity payload with Huawei's labels. Decoding checks nothing but the
/// format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysIntegrityPayload {
    response: Response,
}

impl SysIntegrityPayload {
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

    /// `basicIntegrity`; false when absent.
    pub fn basic_integrity(&self) -> bool {
        self.response.basic_integrity
    }

    /// `advice` entries.
    pub fn advice(&self) -> &[Advice] {
        &self.response.advice
    }

    /// Maps Huawei's labels onto the common verdict, with `app_integrity` as established by
    /// the caller. This verifies nothing: use it on a payload whose signature, nonce and app
    /// were verified, as [`VerifiedSysIntegrity::verdict`] does.
    ///
    /// `basicIntegrity` gives [`DeviceIntegrity::Basic`], the highest level SysIntegrity
    /// reports, and its absence [`DeviceIntegrity::None`]. Advice `LOCK_BOOTLOADER` and
    /// `RESTORE_TO_FACTORY_ROM` become the risk flags `BootloaderUnlocked` and `Rooted`.
    pub fn verdict(&self, app_integrity: AppIntegrity) -> Verdict {
        Verdict::new(
            Provider::HuaweiSafetyDetect,
            TrustLevel::Platform,
            app_integrity,
            self.device_integrity(),
            self.response.risk_flags(),
            self.response.timestamp_ms,
        )
    }

    fn device_integrity(&self) -> DeviceIntegrity {
        self.response.sys_integrity_device_integrity()
    }
}

/// Verifies a SysIntegrity result and returns its verified content.
///
/// # Errors
///
/// The [`Error`] of the first failed [`SysIntegrityCheck`].
pub fn verify_sys_integrity(
    input: &SysIntegrityInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> Result<VerifiedSysIntegrity, Error> {
    verify_sys_integrity_report(input, roots, now).into_result()
}

/// Runs every check of a SysIntegrity result and reports each outcome.
///
/// When the JWS cannot be decoded, [`SysIntegrityCheck::Structure`] fails and every other
/// check is [`CheckOutcome::Skipped`].
pub fn verify_sys_integrity_report(
    input: &SysIntegrityInput<'_>,
    roots: &Roots,
    now: UnixTime,
) -> SysIntegrityReport {
    let expected = Expected {
        nonce: input.expected_nonce,
        package_name: input.package_name,
        certificate_digests: input.certificate_digests,
        freshness: input.freshness,
    };
    let outcome = procedure::run(&PROCEDURE, input.jws, &expected, roots, now);
    SysIntegrityReport {
        outcomes: outcome
            .steps
            .into_iter()
            .map(|(step, outcome)| (SysIntegrityCheck::from(step), outcome))
            .collect(),
        verified: outcome.passed.map(|passed| VerifiedSysIntegrity {
            payload: SysIntegrityPayload {
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
    use crate::verdict::RiskFlag;

    #[test]
    fn checks_and_steps_correspond() {
        for check in SysIntegrityCheck::ALL {
            assert_eq!(SysIntegrityCheck::from(Step::from(check)), check);
        }
        for (check, step) in SysIntegrityCheck::ALL.iter().zip(procedure::STEPS) {
            assert_eq!(Step::from(*check), step);
        }
    }

    #[test]
    fn both_roots_load() {
        assert_eq!(Roots::huawei_cbg().len(), 2);
    }

    #[test]
    fn cts_labels_do_not_raise_huawei_level() {
        let payload = SysIntegrityPayload::from_json(
            br#"{"basicIntegrity":true,"ctsProfileMatch":true,"evaluationType":"HARDWARE_BACKED"}"#,
        )
        .unwrap();
        let verdict = payload.verdict(AppIntegrity::Recognized);
        assert_eq!(verdict.provider, Provider::HuaweiSafetyDetect);
        assert_eq!(verdict.device_integrity, DeviceIntegrity::Basic);
        assert_eq!(verdict.app_integrity, AppIntegrity::Recognized);
    }

    #[test]
    fn failing_payload_maps_to_none_and_rooted() {
        let payload = SysIntegrityPayload::from_json(
            br#"{"basicIntegrity":false,"advice":"RESTORE_TO_FACTORY_ROM"}"#,
        )
        .unwrap();
        let verdict = payload.verdict(AppIntegrity::Unevaluated);
        assert_eq!(verdict.device_integrity, DeviceIntegrity::None);
        assert_eq!(verdict.risk_flags, vec![RiskFlag::Rooted]);
        assert_eq!(verdict.trust, TrustLevel::Platform);
    }
}
