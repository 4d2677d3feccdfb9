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
use crate::safetynet::procedure::{self, HostName, Padding, Procedure};
use crate::safetynet::{Response, ResultInput, ResultPayload, VerifiedResult};
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, Verdict};
pub use crate::{
    CertificateDigests, CheckOutcome, CheckReport, DEFAULT_MAX_AGE_SECS,
    DEFAULT_MAX_FUTURE_SKEW_SECS, Freshness, Roots, safetynet::Advice,
};

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
    result: "SysIntegrity result",
    max_len: MAX_JWS_LEN,
    algorithms: &[JwsAlgorithm::Rs256, JwsAlgorithm::Ps256],
    padding: Padding::Accepted,
    host: SYS_INTEGRITY_HOST,
    host_name: HostName::SubjectAltNameOrCommonName,
};

/// Huawei SysIntegrity, as the vendor parameter of the types shared with SafetyNet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysIntegrity {}

/// The caller's inputs for one SysIntegrity result.
pub type SysIntegrityInput<'a> = ResultInput<'a>;

procedure::check_enum! {
    /// The checks of a SysIntegrity result, in the order they run.
    pub enum SysIntegrityCheck {
        /// The JWS decodes: three base64url parts (padding allowed), `alg` RS256 or PS256, an
        /// `x5c` chain and a JSON payload.
        Structure => "compact JWS, alg RS256 or PS256, x5c chain, JSON payload",
        /// `x5c` chains to a trusted root at the verification time and the leaf is issued for
        /// `sysintegrity.platform.hicloud.com`.
        CertificateChain =>
            "x5c chains to a trusted root at the verification time, leaf for sysintegrity.platform.hicloud.com",
    }
}

/// The outcome of every check of one result.
pub type SysIntegrityReport = CheckReport<SysIntegrityCheck, VerifiedSysIntegrity>;

/// A SysIntegrity result that passed every check. Only this crate constructs it.
pub type VerifiedSysIntegrity = VerifiedResult<SysIntegrity>;

impl VerifiedSysIntegrity {
    /// The result in the common vocabulary: the app is recognised when its signing
    /// certificate digests were compared and matched, and unevaluated otherwise.
    pub fn verdict(&self) -> Verdict {
        self.payload().verdict(self.app_integrity)
    }
}

/// A decoded SysIntegrity payload with Huawei's labels. Decoding checks nothing but the
/// format.
pub type SysIntegrityPayload = ResultPayload<SysIntegrity>;

impl SysIntegrityPayload {
    /// Decodes the JSON payload of a result. Absent labels read as "not met".
    ///
    /// # Errors
    ///
    /// [`Error::MalformedPayload`] when the JSON is invalid, a member has the wrong type or
    /// appears twice, or a certificate digest is not base64 of 32 bytes.
    pub fn from_json(json: &[u8]) -> Result<Self, Error> {
        Response::from_json(json, PROCEDURE.what).map(Self::new)
    }

    /// Maps Huawei's labels onto the common verdict, with `app_integrity` as established by
    /// the caller. This verifies nothing: use it on a payload whose signature, nonce and app
    /// were verified, as [`VerifiedSysIntegrity::verdict`] does.
    ///
    /// `basicIntegrity` gives [`DeviceIntegrity::Basic`], the highest level SysIntegrity
    /// reports, and its absence [`DeviceIntegrity::None`]. Advice `LOCK_BOOTLOADER` and
    /// `RESTORE_TO_FACTORY_ROM` become the risk flags `BootloaderUnlocked` and `Rooted`.
    pub fn verdict(&self, app_integrity: AppIntegrity) -> Verdict {
        self.verdict_with(
            Provider::HuaweiSafetyDetect,
            app_integrity,
            self.device_integrity(),
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
    procedure::run(&PROCEDURE, input, roots, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safetynet::procedure::Step;
    use crate::verdict::{RiskFlag, TrustLevel};

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
