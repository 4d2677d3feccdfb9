//! The JSON payload of SafetyNet and Huawei SysIntegrity results, its labels, and how they map
//! onto the common verdict.
//!
//! Huawei copied SafetyNet's payload format for SysIntegrity, without `ctsProfileMatch` and
//! `evaluationType`, so one decoder serves both.

use std::marker::PhantomData;

use serde::Deserialize;

use crate::Error;
use crate::encoding::decode_base64_any;
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict};

/// A decoded payload in the SafetyNet format, with the labels of vendor `V`. Decoding checks
/// nothing but the format.
///
/// [`SafetyNetPayload`](super::SafetyNetPayload) and
/// [`SysIntegrityPayload`](crate::huawei_safety_detect::SysIntegrityPayload) name it, and add
/// `from_json`, `verdict` and the accessors of labels only their vendor sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultPayload<V> {
    pub(crate) response: Response,
    vendor: PhantomData<V>,
}

impl<V> ResultPayload<V> {
    pub(crate) fn new(response: Response) -> Self {
        Self {
            response,
            vendor: PhantomData,
        }
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

    /// Builds the common verdict of `provider` with the device integrity that the vendor's
    /// labels give. Advice `LOCK_BOOTLOADER` and `RESTORE_TO_FACTORY_ROM` become risk flags.
    pub(crate) fn verdict_with(
        &self,
        provider: Provider,
        app_integrity: AppIntegrity,
        device_integrity: DeviceIntegrity,
    ) -> Verdict {
        Verdict::new(
            provider,
            TrustLevel::Platform,
            app_integrity,
            device_integrity,
            self.response.risk_flags(),
            self.response.timestamp_ms,
        )
    }
}

/// One entry of the comma-separated `advice` field, in the vendor's words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Advice {
    /// `LOCK_BOOTLOADER`: the bootloader is unlocked.
    LockBootloader,
    /// `RESTORE_TO_FACTORY_ROM`: the system was modified, for example rooted or a custom ROM.
    RestoreToFactoryRom,
    /// Any other value, kept as sent.
    Unknown(String),
}

impl Advice {
    fn parse(value: &str) -> Self {
        match value {
            "LOCK_BOOTLOADER" => Self::LockBootloader,
            "RESTORE_TO_FACTORY_ROM" => Self::RestoreToFactoryRom,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// Returns the value as the vendor spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::LockBootloader => "LOCK_BOOTLOADER",
            Self::RestoreToFactoryRom => "RESTORE_TO_FACTORY_ROM",
            Self::Unknown(value) => value,
        }
    }

    /// Returns the risk flag this advice reports, if any.
    pub fn risk_flag(&self) -> Option<RiskFlag> {
        match self {
            Self::LockBootloader => Some(RiskFlag::BootloaderUnlocked),
            Self::RestoreToFactoryRom => Some(RiskFlag::Rooted),
            Self::Unknown(_) => None,
        }
    }
}

/// One entry of SafetyNet's comma-separated `evaluationType` field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EvaluationType {
    /// `BASIC`: the verdict rests on software checks.
    Basic,
    /// `HARDWARE_BACKED`: the verdict used hardware-backed key attestation and verified boot.
    HardwareBacked,
    /// Any other value, kept as sent.
    Unknown(String),
}

impl EvaluationType {
    fn parse(value: &str) -> Self {
        match value {
            "BASIC" => Self::Basic,
            "HARDWARE_BACKED" => Self::HardwareBacked,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// Returns the value as Google spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Basic => "BASIC",
            Self::HardwareBacked => "HARDWARE_BACKED",
            Self::Unknown(value) => value,
        }
    }
}

/// The payload members as sent. Unknown members are ignored, duplicates rejected.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponse {
    nonce: Option<String>,
    timestamp_ms: Option<u64>,
    apk_package_name: Option<String>,
    apk_certificate_digest_sha256: Option<Vec<String>>,
    cts_profile_match: Option<bool>,
    basic_integrity: Option<bool>,
    evaluation_type: Option<String>,
    advice: Option<String>,
    error: Option<String>,
}

/// A decoded payload. Binding fields are optional here because the checks report their
/// absence; absent labels read as "not met".
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) nonce: Option<String>,
    pub(crate) timestamp_ms: Option<u64>,
    pub(crate) package_name: Option<String>,
    pub(crate) certificate_digests: Vec<[u8; 32]>,
    pub(crate) cts_profile_match: bool,
    pub(crate) basic_integrity: bool,
    pub(crate) evaluation_types: Vec<EvaluationType>,
    pub(crate) advice: Vec<Advice>,
    pub(crate) error: Option<String>,
}

impl Response {
    /// Decodes a payload. `what` names it in errors.
    pub(crate) fn from_json(json: &[u8], what: &'static str) -> Result<Self, Error> {
        let raw: RawResponse =
            serde_json::from_slice(json).map_err(|error| Error::malformed_json(what, &error))?;
        let certificate_digests = raw
            .apk_certificate_digest_sha256
            .unwrap_or_default()
            .iter()
            .map(|digest| {
                decode_base64_any(digest)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| Error::MalformedPayload {
                        what,
                        detail: "an apkCertificateDigestSha256 entry is not base64 of 32 bytes"
                            .to_owned(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            nonce: raw.nonce,
            timestamp_ms: raw.timestamp_ms,
            package_name: raw.apk_package_name,
            certificate_digests,
            cts_profile_match: raw.cts_profile_match.unwrap_or(false),
            basic_integrity: raw.basic_integrity.unwrap_or(false),
            evaluation_types: split_list(raw.evaluation_type.as_deref())
                .map(EvaluationType::parse)
                .collect(),
            advice: split_list(raw.advice.as_deref())
                .map(Advice::parse)
                .collect(),
            error: raw.error,
        })
    }

    /// Maps SafetyNet's labels: both `ctsProfileMatch` and `basicIntegrity` give a certified
    /// device (strong when `evaluationType` includes `HARDWARE_BACKED`), `basicIntegrity`
    /// alone gives basic integrity. `ctsProfileMatch` without `basicIntegrity` is
    /// contradictory and gives none.
    pub(crate) fn safetynet_device_integrity(&self) -> DeviceIntegrity {
        let hardware_backed = self
            .evaluation_types
            .contains(&EvaluationType::HardwareBacked);
        match (
            self.cts_profile_match,
            self.basic_integrity,
            hardware_backed,
        ) {
            (true, true, true) => DeviceIntegrity::Strong,
            (true, true, false) => DeviceIntegrity::Device,
            (false, true, _) => DeviceIntegrity::Basic,
            (_, false, _) => DeviceIntegrity::None,
        }
    }

    /// Maps Huawei's single label: `basicIntegrity` gives basic integrity, the only level
    /// SysIntegrity reports.
    pub(crate) fn sys_integrity_device_integrity(&self) -> DeviceIntegrity {
        if self.basic_integrity {
            DeviceIntegrity::Basic
        } else {
            DeviceIntegrity::None
        }
    }

    pub(crate) fn risk_flags(&self) -> Vec<RiskFlag> {
        self.advice.iter().filter_map(Advice::risk_flag).collect()
    }
}

/// Splits a comma-separated label list, dropping empty entries.
fn split_list(list: Option<&str>) -> impl Iterator<Item = &str> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Response {
        Response::from_json(json.as_bytes(), "test payload").unwrap()
    }

    #[test]
    fn empty_object_means_nothing_met() {
        let response = parse("{}");
        assert_eq!(response.nonce, None);
        assert!(response.certificate_digests.is_empty());
        assert_eq!(response.safetynet_device_integrity(), DeviceIntegrity::None);
        assert!(response.risk_flags().is_empty());
    }

    #[test]
    fn safetynet_levels_follow_labels() {
        let cases = [
            (
                r#"{"ctsProfileMatch":true,"basicIntegrity":true}"#,
                DeviceIntegrity::Device,
            ),
            (
                r#"{"ctsProfileMatch":true,"basicIntegrity":true,"evaluationType":"BASIC,HARDWARE_BACKED"}"#,
                DeviceIntegrity::Strong,
            ),
            (
                r#"{"ctsProfileMatch":false,"basicIntegrity":true}"#,
                DeviceIntegrity::Basic,
            ),
            (
                r#"{"ctsProfileMatch":true,"basicIntegrity":false}"#,
                DeviceIntegrity::None,
            ),
            (r#"{"basicIntegrity":null}"#, DeviceIntegrity::None),
        ];
        for (json, expected) in cases {
            assert_eq!(parse(json).safetynet_device_integrity(), expected, "{json}");
        }
    }

    #[test]
    fn advice_list_maps_to_flags() {
        let response = parse(r#"{"advice":"LOCK_BOOTLOADER, RESTORE_TO_FACTORY_ROM,NEW_ONE,"}"#);
        assert_eq!(
            response.advice,
            vec![
                Advice::LockBootloader,
                Advice::RestoreToFactoryRom,
                Advice::Unknown("NEW_ONE".to_owned())
            ]
        );
        assert_eq!(
            response.risk_flags(),
            vec![RiskFlag::BootloaderUnlocked, RiskFlag::Rooted]
        );
    }

    #[test]
    fn duplicate_member_rejected() {
        let error =
            Response::from_json(br#"{"nonce":"AA==","nonce":"AQ=="}"#, "test payload").unwrap_err();
        assert_eq!(error.reason(), "malformed_payload");
    }

    #[test]
    fn wrong_type_rejected_without_quoting_content() {
        let error = Response::from_json(br#"{"basicIntegrity":"secret-text"}"#, "test payload")
            .unwrap_err();
        assert_eq!(error.reason(), "malformed_payload");
        assert!(!error.to_string().contains("secret-text"), "{error}");
    }

    #[test]
    fn short_certificate_digest_rejected() {
        let error = Response::from_json(
            br#"{"apkCertificateDigestSha256":["AAEC"]}"#,
            "test payload",
        )
        .unwrap_err();
        assert_eq!(error.reason(), "malformed_payload");
    }
}
