//! The verified result of a Play Integrity check and the mapping of Google's labels onto the
//! common verdict.

use super::payload::{
    AppLicensingVerdict, AppRecognitionVerdict, AppsDetectedLabel, DeviceActivityLevel,
    DeviceRecognitionLabel, Payload, PlayProtectVerdict,
};
use crate::verdict::{AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict};

/// A Play Integrity verdict that passed every check. Only this crate constructs it.
///
/// It keeps Google's labels next to the common [`Verdict`], so that a policy can use details
/// the common vocabulary does not carry, such as the version code or the licensing verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPlayIntegrity {
    verdict: Verdict,
    request_package_name: String,
    timestamp_ms: u64,
    app_recognition_verdict: Option<AppRecognitionVerdict>,
    certificate_sha256_digests: Vec<String>,
    version_code: Option<i64>,
    device_recognition_labels: Vec<DeviceRecognitionLabel>,
    device_activity_level: Option<DeviceActivityLevel>,
    app_licensing_verdict: Option<AppLicensingVerdict>,
    play_protect_verdict: Option<PlayProtectVerdict>,
    apps_detected: Vec<AppsDetectedLabel>,
    testing_response: bool,
}

impl VerifiedPlayIntegrity {
    /// Returns the verdict in the common vocabulary.
    ///
    /// A testing response (`testingDetails.isTestingResponse`) carries
    /// [`RiskFlag::TestingResponse`] with app integrity `Unevaluated` and device integrity
    /// `None`, whatever labels the tester configured, so that it never counts as a real pass.
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// `requestDetails.requestPackageName`.
    pub fn request_package_name(&self) -> &str {
        &self.request_package_name
    }

    /// `requestDetails.timestampMillis`: when Google produced the verdict, Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// `appIntegrity.appRecognitionVerdict`, when present.
    pub fn app_recognition_verdict(&self) -> Option<&AppRecognitionVerdict> {
        self.app_recognition_verdict.as_ref()
    }

    /// `appIntegrity.certificateSha256Digest`, base64url as Google sends them.
    pub fn certificate_sha256_digests(&self) -> &[String] {
        &self.certificate_sha256_digests
    }

    /// `appIntegrity.versionCode`, when present.
    pub fn version_code(&self) -> Option<i64> {
        self.version_code
    }

    /// `deviceIntegrity.deviceRecognitionVerdict`; empty when absent.
    pub fn device_recognition_labels(&self) -> &[DeviceRecognitionLabel] {
        &self.device_recognition_labels
    }

    /// `deviceIntegrity.recentDeviceActivity.deviceActivityLevel`, when present.
    pub fn device_activity_level(&self) -> Option<&DeviceActivityLevel> {
        self.device_activity_level.as_ref()
    }

    /// `accountDetails.appLicensingVerdict`, when present.
    pub fn app_licensing_verdict(&self) -> Option<&AppLicensingVerdict> {
        self.app_licensing_verdict.as_ref()
    }

    /// `environmentDetails.playProtectVerdict`, when present.
    pub fn play_protect_verdict(&self) -> Option<&PlayProtectVerdict> {
        self.play_protect_verdict.as_ref()
    }

    /// `environmentDetails.appAccessRiskVerdict.appsDetected`; empty when absent.
    pub fn apps_detected(&self) -> &[AppsDetectedLabel] {
        &self.apps_detected
    }

    /// `testingDetails.isTestingResponse`: the response is a tester override from the Play
    /// Console, not an evaluation of the device.
    pub fn is_testing_response(&self) -> bool {
        self.testing_response
    }
}

/// Builds the verified result from a payload that passed every check.
pub(super) fn build_verified(
    payload: &Payload,
    request_package_name: String,
    timestamp_ms: u64,
    app_recognition_verdict: Option<AppRecognitionVerdict>,
    certificate_sha256_digests: Vec<String>,
    version_code: Option<i64>,
) -> VerifiedPlayIntegrity {
    let device = payload.device_integrity.clone().unwrap_or_default();
    let device_recognition_labels = device.device_recognition_verdict.unwrap_or_default();
    let device_activity_level = device
        .recent_device_activity
        .and_then(|activity| activity.device_activity_level);
    let app_licensing_verdict = payload
        .account_details
        .as_ref()
        .and_then(|account| account.app_licensing_verdict.clone());
    let environment = payload.environment_details.clone().unwrap_or_default();
    let apps_detected = environment
        .app_access_risk_verdict
        .and_then(|risk| risk.apps_detected)
        .unwrap_or_default();
    let testing_response = payload
        .testing_details
        .as_ref()
        .and_then(|testing| testing.is_testing_response)
        .unwrap_or(false);

    // The verdict is a placeholder until `map_verdict` has read the labels gathered here.
    let mut verified = VerifiedPlayIntegrity {
        verdict: Verdict::new(
            Provider::PlayIntegrity,
            TrustLevel::Platform,
            AppIntegrity::Unevaluated,
            DeviceIntegrity::None,
            Vec::new(),
            Some(timestamp_ms),
        ),
        request_package_name,
        timestamp_ms,
        app_recognition_verdict,
        certificate_sha256_digests,
        version_code,
        device_recognition_labels,
        device_activity_level,
        app_licensing_verdict,
        play_protect_verdict: environment.play_protect_verdict,
        apps_detected,
        testing_response,
    };
    verified.verdict = map_verdict(&verified);
    verified
}

/// Maps Google's labels onto the common verdict.
fn map_verdict(details: &VerifiedPlayIntegrity) -> Verdict {
    let labels = &details.device_recognition_labels;
    let has = |label: DeviceRecognitionLabel| labels.contains(&label);

    let mut app_integrity = match details.app_recognition_verdict {
        Some(AppRecognitionVerdict::PlayRecognized) => AppIntegrity::Recognized,
        Some(AppRecognitionVerdict::UnrecognizedVersion) => AppIntegrity::Unrecognized,
        _ => AppIntegrity::Unevaluated,
    };
    // MEETS_VIRTUAL_INTEGRITY alone makes no statement about a physical device, so it adds a
    // flag and no level.
    let mut device_integrity = if has(DeviceRecognitionLabel::MeetsStrongIntegrity) {
        DeviceIntegrity::Strong
    } else if has(DeviceRecognitionLabel::MeetsDeviceIntegrity) {
        DeviceIntegrity::Device
    } else if has(DeviceRecognitionLabel::MeetsBasicIntegrity) {
        DeviceIntegrity::Basic
    } else {
        DeviceIntegrity::None
    };

    let mut flags = Vec::new();
    if has(DeviceRecognitionLabel::MeetsVirtualIntegrity) {
        flags.push(RiskFlag::Virtual);
    }
    if details.app_licensing_verdict == Some(AppLicensingVerdict::Unlicensed) {
        flags.push(RiskFlag::Unlicensed);
    }
    if matches!(
        details.play_protect_verdict,
        Some(
            PlayProtectVerdict::PossibleRisk
                | PlayProtectVerdict::MediumRisk
                | PlayProtectVerdict::HighRisk
        )
    ) {
        flags.push(RiskFlag::PlayProtectRisk);
    }
    if details
        .apps_detected
        .iter()
        .any(AppsDetectedLabel::is_access_risk)
    {
        flags.push(RiskFlag::AppAccessRisk);
    }
    if details.device_activity_level == Some(DeviceActivityLevel::Level4) {
        flags.push(RiskFlag::HighDeviceActivity);
    }
    // A testing response carries whatever labels a tester picked in the Play Console, so it
    // must never pass as a real evaluation.
    if details.testing_response {
        flags.push(RiskFlag::TestingResponse);
        app_integrity = AppIntegrity::Unevaluated;
        device_integrity = DeviceIntegrity::None;
    }

    Verdict::new(
        Provider::PlayIntegrity,
        TrustLevel::Platform,
        app_integrity,
        device_integrity,
        flags,
        Some(details.timestamp_ms),
    )
}
