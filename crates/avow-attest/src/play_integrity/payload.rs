//! The integrity verdict payload in Google's field names and labels.
//!
//! Every field may be absent, because Google leaves out what it did not evaluate and what the
//! developer did not opt into. Unknown fields are ignored, because Google adds verdicts over
//! time, and unknown labels are kept in an `Other` variant for the same reason. Duplicate
//! members are rejected. Field names follow the `IntegrityVerdict` schema of the Play
//! Integrity API (`playintegrity/v1`).

use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::MAX_PAYLOAD_LEN;
use crate::Error;

/// The whole payload. Google's `decodeIntegrityToken` response wraps it in
/// `tokenPayloadExternal`; a token's JWS carries it bare.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payload {
    pub(crate) request_details: Option<RequestDetails>,
    pub(crate) app_integrity: Option<AppIntegrityDetails>,
    pub(crate) device_integrity: Option<DeviceIntegrityDetails>,
    pub(crate) account_details: Option<AccountDetails>,
    pub(crate) environment_details: Option<EnvironmentDetails>,
    pub(crate) testing_details: Option<TestingDetails>,
    token_payload_external: Option<Box<Self>>,
}

/// `requestDetails`: what the app asked for and when.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestDetails {
    pub(crate) request_package_name: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) request_hash: Option<String>,
    /// An int64 that Google encodes as a JSON string; a number is accepted too.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub(crate) timestamp_millis: Option<u64>,
}

/// `appIntegrity`: Google's view of the app binary.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppIntegrityDetails {
    pub(crate) app_recognition_verdict: Option<AppRecognitionVerdict>,
    pub(crate) package_name: Option<String>,
    /// Base64url SHA-256 digests of the app's signing certificates.
    #[serde(default)]
    pub(crate) certificate_sha256_digest: Option<Vec<String>>,
    /// An int64 that Google encodes as a JSON string; a number is accepted too.
    #[serde(default, deserialize_with = "optional_decimal")]
    pub(crate) version_code: Option<i64>,
}

/// `deviceIntegrity`: the device labels and the optional activity level.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeviceIntegrityDetails {
    #[serde(default)]
    pub(crate) device_recognition_verdict: Option<Vec<DeviceRecognitionLabel>>,
    pub(crate) recent_device_activity: Option<RecentDeviceActivity>,
}

/// `deviceIntegrity.recentDeviceActivity`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecentDeviceActivity {
    pub(crate) device_activity_level: Option<DeviceActivityLevel>,
}

/// `accountDetails`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountDetails {
    pub(crate) app_licensing_verdict: Option<AppLicensingVerdict>,
}

/// `environmentDetails`, which the developer opts into.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnvironmentDetails {
    pub(crate) play_protect_verdict: Option<PlayProtectVerdict>,
    pub(crate) app_access_risk_verdict: Option<AppAccessRiskVerdict>,
}

/// `environmentDetails.appAccessRiskVerdict`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppAccessRiskVerdict {
    #[serde(default)]
    pub(crate) apps_detected: Option<Vec<AppsDetectedLabel>>,
}

/// `testingDetails`, present when the response is a tester override configured in the Play
/// Console.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TestingDetails {
    pub(crate) is_testing_response: Option<bool>,
}

impl Payload {
    /// Parses a payload as a token carries it: the bare verdict object.
    pub(crate) fn from_token_json(json: &[u8]) -> Result<Self, Error> {
        let payload = Self::parse(json, "integrity token payload")?;
        Ok(payload)
    }

    /// Parses the JSON that `decodeIntegrityToken` returns: the verdict wrapped in
    /// `tokenPayloadExternal`, or the bare verdict when the caller has already unwrapped it.
    pub(crate) fn from_decoded_json(json: &[u8]) -> Result<Self, Error> {
        let mut payload = Self::parse(json, "decoded integrity payload")?;
        match payload.token_payload_external.take() {
            None => Ok(payload),
            Some(inner) if payload.is_empty() => Ok(*inner),
            Some(_) => Err(Error::MalformedPayload {
                what: "decoded integrity payload",
                detail: "tokenPayloadExternal next to verdict fields".to_owned(),
            }),
        }
    }

    fn parse(json: &[u8], what: &'static str) -> Result<Self, Error> {
        if json.len() > MAX_PAYLOAD_LEN {
            return Err(Error::InputTooLarge {
                what,
                len: json.len(),
                max: MAX_PAYLOAD_LEN,
            });
        }
        serde_json::from_slice(json).map_err(|error| Error::malformed_json(what, &error))
    }

    fn is_empty(&self) -> bool {
        self.request_details.is_none()
            && self.app_integrity.is_none()
            && self.device_integrity.is_none()
            && self.account_details.is_none()
            && self.environment_details.is_none()
            && self.testing_details.is_none()
    }
}

/// `appIntegrity.appRecognitionVerdict`, in the order Google documents the labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum AppRecognitionVerdict {
    /// The app and certificate match the versions distributed by Google Play.
    #[serde(rename = "PLAY_RECOGNIZED")]
    PlayRecognized,
    /// The certificate or package name does not match Google Play's records.
    #[serde(rename = "UNRECOGNIZED_VERSION")]
    UnrecognizedVersion,
    /// Application integrity was not evaluated, for example because the device is not
    /// trustworthy enough.
    #[serde(rename = "UNEVALUATED")]
    Unevaluated,
    /// A label this version of Avow does not know (Google's schema also has `UNKNOWN`).
    #[serde(untagged)]
    Other(String),
}

impl AppRecognitionVerdict {
    /// Returns the label in Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::PlayRecognized => "PLAY_RECOGNIZED",
            Self::UnrecognizedVersion => "UNRECOGNIZED_VERSION",
            Self::Unevaluated => "UNEVALUATED",
            Self::Other(label) => label,
        }
    }
}

/// One label of `deviceIntegrity.deviceRecognitionVerdict`, in the order Google documents the
/// labels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum DeviceRecognitionLabel {
    /// The device passes basic system integrity checks, and may be rooted or uncertified.
    #[serde(rename = "MEETS_BASIC_INTEGRITY")]
    MeetsBasicIntegrity,
    /// A genuine, certified Android device with Google Play services.
    #[serde(rename = "MEETS_DEVICE_INTEGRITY")]
    MeetsDeviceIntegrity,
    /// Device integrity plus hardware-backed proof of boot integrity.
    #[serde(rename = "MEETS_STRONG_INTEGRITY")]
    MeetsStrongIntegrity,
    /// An emulator with Google Play services, such as Google Play Games for PC.
    #[serde(rename = "MEETS_VIRTUAL_INTEGRITY")]
    MeetsVirtualIntegrity,
    /// A label this version of Avow does not know.
    #[serde(untagged)]
    Other(String),
}

impl DeviceRecognitionLabel {
    /// Returns the label in Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::MeetsBasicIntegrity => "MEETS_BASIC_INTEGRITY",
            Self::MeetsDeviceIntegrity => "MEETS_DEVICE_INTEGRITY",
            Self::MeetsStrongIntegrity => "MEETS_STRONG_INTEGRITY",
            Self::MeetsVirtualIntegrity => "MEETS_VIRTUAL_INTEGRITY",
            Self::Other(label) => label,
        }
    }
}

/// `deviceIntegrity.recentDeviceActivity.deviceActivityLevel`: how many integrity tokens the
/// device requested recently, from `LEVEL_1` (fewest) to `LEVEL_4` (most).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum DeviceActivityLevel {
    /// The lowest activity level.
    #[serde(rename = "LEVEL_1")]
    Level1,
    /// The second activity level.
    #[serde(rename = "LEVEL_2")]
    Level2,
    /// The third activity level.
    #[serde(rename = "LEVEL_3")]
    Level3,
    /// The highest activity level, unusual for a single user's device.
    #[serde(rename = "LEVEL_4")]
    Level4,
    /// The activity level was not evaluated.
    #[serde(rename = "UNEVALUATED")]
    Unevaluated,
    /// A label this version of Avow does not know.
    #[serde(untagged)]
    Other(String),
}

impl DeviceActivityLevel {
    /// Returns the label in Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Level1 => "LEVEL_1",
            Self::Level2 => "LEVEL_2",
            Self::Level3 => "LEVEL_3",
            Self::Level4 => "LEVEL_4",
            Self::Unevaluated => "UNEVALUATED",
            Self::Other(label) => label,
        }
    }
}

/// `accountDetails.appLicensingVerdict`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum AppLicensingVerdict {
    /// The user has an app entitlement: they installed or bought the app on Google Play.
    #[serde(rename = "LICENSED")]
    Licensed,
    /// The user has no app entitlement, for example after sideloading the app.
    #[serde(rename = "UNLICENSED")]
    Unlicensed,
    /// Licensing was not evaluated because a requirement was not met.
    #[serde(rename = "UNEVALUATED")]
    Unevaluated,
    /// A label this version of Avow does not know.
    #[serde(untagged)]
    Other(String),
}

impl AppLicensingVerdict {
    /// Returns the label in Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Licensed => "LICENSED",
            Self::Unlicensed => "UNLICENSED",
            Self::Unevaluated => "UNEVALUATED",
            Self::Other(label) => label,
        }
    }
}

/// `environmentDetails.playProtectVerdict`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum PlayProtectVerdict {
    /// Play Protect is on and found no app risk on the device.
    #[serde(rename = "NO_ISSUES")]
    NoIssues,
    /// Play Protect is on but has not scanned yet, or the device was reset recently.
    #[serde(rename = "NO_DATA")]
    NoData,
    /// Play Protect is off.
    #[serde(rename = "POSSIBLE_RISK")]
    PossibleRisk,
    /// Play Protect is on and found potentially harmful apps.
    #[serde(rename = "MEDIUM_RISK")]
    MediumRisk,
    /// Play Protect is on and found dangerous apps.
    #[serde(rename = "HIGH_RISK")]
    HighRisk,
    /// Play Protect was not evaluated.
    #[serde(rename = "UNEVALUATED")]
    Unevaluated,
    /// A label this version of Avow does not know.
    #[serde(untagged)]
    Other(String),
}

impl PlayProtectVerdict {
    /// Returns the label in Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::NoIssues => "NO_ISSUES",
            Self::NoData => "NO_DATA",
            Self::PossibleRisk => "POSSIBLE_RISK",
            Self::MediumRisk => "MEDIUM_RISK",
            Self::HighRisk => "HIGH_RISK",
            Self::Unevaluated => "UNEVALUATED",
            Self::Other(label) => label,
        }
    }
}

/// One label of `environmentDetails.appAccessRiskVerdict.appsDetected`. `KNOWN_` labels are
/// about apps installed by Google Play or preloaded on the system partition, `UNKNOWN_` labels
/// about all other apps.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum AppsDetectedLabel {
    /// Known apps are installed.
    #[serde(rename = "KNOWN_INSTALLED")]
    KnownInstalled,
    /// Known apps are running that could capture the screen.
    #[serde(rename = "KNOWN_CAPTURING")]
    KnownCapturing,
    /// Known apps are running that could control the device and the app's input.
    #[serde(rename = "KNOWN_CONTROLLING")]
    KnownControlling,
    /// Known apps are running that could draw overlays over the app.
    #[serde(rename = "KNOWN_OVERLAYS")]
    KnownOverlays,
    /// Unknown apps are installed.
    #[serde(rename = "UNKNOWN_INSTALLED")]
    UnknownInstalled,
    /// Unknown apps are running that could capture the screen.
    #[serde(rename = "UNKNOWN_CAPTURING")]
    UnknownCapturing,
    /// Unknown apps are running that could control the device and the app's input.
    #[serde(rename = "UNKNOWN_CONTROLLING")]
    UnknownControlling,
    /// Unknown apps are running that could draw overlays over the app.
    #[serde(rename = "UNKNOWN_OVERLAYS")]
    UnknownOverlays,
    /// A label this version of Avow does not know.
    #[serde(untagged)]
    Other(String),
}

impl AppsDetectedLabel {
    /// Returns the label in Google's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::KnownInstalled => "KNOWN_INSTALLED",
            Self::KnownCapturing => "KNOWN_CAPTURING",
            Self::KnownControlling => "KNOWN_CONTROLLING",
            Self::KnownOverlays => "KNOWN_OVERLAYS",
            Self::UnknownInstalled => "UNKNOWN_INSTALLED",
            Self::UnknownCapturing => "UNKNOWN_CAPTURING",
            Self::UnknownControlling => "UNKNOWN_CONTROLLING",
            Self::UnknownOverlays => "UNKNOWN_OVERLAYS",
            Self::Other(label) => label,
        }
    }

    /// Returns whether the label reports another app that can capture the screen, control the
    /// device or draw over the app, installed from Google Play or not.
    pub fn is_access_risk(&self) -> bool {
        matches!(
            self,
            Self::KnownCapturing
                | Self::KnownControlling
                | Self::KnownOverlays
                | Self::UnknownCapturing
                | Self::UnknownControlling
                | Self::UnknownOverlays
        )
    }
}

/// Deserializes an optional decimal integer sent as a JSON string of ASCII digits (with a
/// leading `-` for signed types) or as a JSON number.
fn optional_decimal<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Decimal<T> {
        Number(T),
        Text(String),
    }

    match Option::<Decimal<T>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Decimal::Number(number)) => Ok(Some(number)),
        Some(Decimal::Text(text)) => {
            let digits = text.strip_prefix('-').unwrap_or(&text);
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(D::Error::custom("integer string is not decimal digits"));
            }
            text.parse()
                .map(Some)
                .map_err(|_| D::Error::custom("integer string is out of range"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Payload {
        Payload::from_token_json(json.as_bytes()).unwrap()
    }

    #[test]
    fn empty_object_parses_with_every_field_absent() {
        let payload = parse("{}");
        assert!(payload.is_empty());
    }

    #[test]
    fn timestamp_accepts_string_and_number() {
        for json in [
            r#"{"requestDetails":{"timestampMillis":"1725099936456"}}"#,
            r#"{"requestDetails":{"timestampMillis":1725099936456}}"#,
        ] {
            let details = parse(json).request_details.unwrap();
            assert_eq!(details.timestamp_millis, Some(1_725_099_936_456), "{json}");
        }
    }

    #[test]
    fn non_decimal_integers_rejected() {
        for json in [
            r#"{"requestDetails":{"timestampMillis":"12a"}}"#,
            r#"{"requestDetails":{"timestampMillis":"+12"}}"#,
            r#"{"requestDetails":{"timestampMillis":""}}"#,
            r#"{"requestDetails":{"timestampMillis":"-5"}}"#,
            r#"{"requestDetails":{"timestampMillis":1.5}}"#,
            r#"{"appIntegrity":{"versionCode":"99999999999999999999"}}"#,
        ] {
            let error = Payload::from_token_json(json.as_bytes()).unwrap_err();
            assert_eq!(error.reason(), "malformed_payload", "{json}");
        }
    }

    #[test]
    fn unknown_labels_and_fields_kept_or_ignored() {
        let payload = parse(
            r#"{"deviceIntegrity":{"deviceRecognitionVerdict":["MEETS_DEVICE_INTEGRITY","MEETS_NEW_THING"],
                "deviceAttributes":{"sdkVersion":34}},
                "appIntegrity":{"appRecognitionVerdict":"UNKNOWN"},
                "futureVerdict":{"x":1}}"#,
        );
        let labels = payload
            .device_integrity
            .unwrap()
            .device_recognition_verdict
            .unwrap();
        assert_eq!(
            labels,
            vec![
                DeviceRecognitionLabel::MeetsDeviceIntegrity,
                DeviceRecognitionLabel::Other("MEETS_NEW_THING".to_owned()),
            ]
        );
        assert_eq!(
            payload.app_integrity.unwrap().app_recognition_verdict,
            Some(AppRecognitionVerdict::Other("UNKNOWN".to_owned()))
        );
    }

    #[test]
    fn label_spellings_round_trip() {
        fn check<T: for<'de> Deserialize<'de> + std::fmt::Debug + PartialEq>(
            labels: &[&str],
            as_str: fn(&T) -> &str,
        ) {
            for label in labels {
                let parsed: T = serde_json::from_str(&format!("\"{label}\"")).unwrap();
                assert_eq!(as_str(&parsed), *label);
            }
        }
        check::<AppRecognitionVerdict>(
            &["PLAY_RECOGNIZED", "UNRECOGNIZED_VERSION", "UNEVALUATED"],
            AppRecognitionVerdict::as_str,
        );
        check::<DeviceRecognitionLabel>(
            &[
                "MEETS_BASIC_INTEGRITY",
                "MEETS_DEVICE_INTEGRITY",
                "MEETS_STRONG_INTEGRITY",
                "MEETS_VIRTUAL_INTEGRITY",
            ],
            DeviceRecognitionLabel::as_str,
        );
        check::<DeviceActivityLevel>(
            &["LEVEL_1", "LEVEL_2", "LEVEL_3", "LEVEL_4", "UNEVALUATED"],
            DeviceActivityLevel::as_str,
        );
        check::<AppLicensingVerdict>(
            &["LICENSED", "UNLICENSED", "UNEVALUATED"],
            AppLicensingVerdict::as_str,
        );
        check::<PlayProtectVerdict>(
            &[
                "NO_ISSUES",
                "NO_DATA",
                "POSSIBLE_RISK",
                "MEDIUM_RISK",
                "HIGH_RISK",
                "UNEVALUATED",
            ],
            PlayProtectVerdict::as_str,
        );
        check::<AppsDetectedLabel>(
            &[
                "KNOWN_INSTALLED",
                "KNOWN_CAPTURING",
                "KNOWN_CONTROLLING",
                "KNOWN_OVERLAYS",
                "UNKNOWN_INSTALLED",
                "UNKNOWN_CAPTURING",
                "UNKNOWN_CONTROLLING",
                "UNKNOWN_OVERLAYS",
            ],
            AppsDetectedLabel::as_str,
        );
        // Known labels parse to their named variants, never to `Other`.
        let parsed: PlayProtectVerdict = serde_json::from_str("\"HIGH_RISK\"").unwrap();
        assert_eq!(parsed, PlayProtectVerdict::HighRisk);
    }

    #[test]
    fn decoded_wrapper_unwrapped_once() {
        let json = r#"{"tokenPayloadExternal":{"requestDetails":{"nonce":"AAAA"}}}"#;
        let payload = Payload::from_decoded_json(json.as_bytes()).unwrap();
        assert_eq!(
            payload.request_details.unwrap().nonce.as_deref(),
            Some("AAAA")
        );
        let bare = r#"{"requestDetails":{"nonce":"AAAA"}}"#;
        assert!(
            Payload::from_decoded_json(bare.as_bytes())
                .unwrap()
                .request_details
                .is_some()
        );
    }

    #[test]
    fn wrapper_next_to_verdict_fields_rejected() {
        let json = r#"{"requestDetails":{},"tokenPayloadExternal":{"requestDetails":{}}}"#;
        let error = Payload::from_decoded_json(json.as_bytes()).unwrap_err();
        assert_eq!(error.reason(), "malformed_payload");
    }

    #[test]
    fn duplicate_member_rejected() {
        let json = r#"{"requestDetails":{"nonce":"AAAA","nonce":"BBBB"}}"#;
        let error = Payload::from_token_json(json.as_bytes()).unwrap_err();
        assert_eq!(error.reason(), "malformed_payload");
    }

    #[test]
    fn oversized_payload_rejected() {
        let json = format!(r#"{{"padding":"{}"}}"#, "a".repeat(MAX_PAYLOAD_LEN));
        let error = Payload::from_token_json(json.as_bytes()).unwrap_err();
        assert_eq!(error.reason(), "input_too_large");
    }
}
