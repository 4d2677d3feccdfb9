//! Verdicts in the shapes each provider's verifier produces, and helpers to read decisions.

use avow_attest::verdict::{
    AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict,
};
use avow_policy::{Decision, Platform, Policy, Reason, Subject};

/// One request: the platform, the providers whose evidence it carried and the verdict.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) platform: Platform,
    pub(crate) providers: Vec<Provider>,
    pub(crate) verdict: Verdict,
}

impl Case {
    pub(crate) fn subject<'a>(&'a self, market: Option<&'a str>) -> Subject<'a> {
        Subject {
            platform: self.platform,
            market,
            verdict: &self.verdict,
            providers: &self.providers,
            app_version: None,
            debug_device: false,
            banned: false,
        }
    }
}

pub(crate) fn verdict(
    provider: Provider,
    trust: TrustLevel,
    app_integrity: AppIntegrity,
    device_integrity: DeviceIntegrity,
    flags: &[RiskFlag],
) -> Verdict {
    Verdict::new(
        provider,
        trust,
        app_integrity,
        device_integrity,
        flags.to_vec(),
        Some(1_700_000_000_000),
    )
}

fn single(
    name: &'static str,
    platform: Platform,
    provider: Provider,
    trust: TrustLevel,
    app_integrity: AppIntegrity,
    device_integrity: DeviceIntegrity,
    flags: &[RiskFlag],
) -> Case {
    Case {
        name,
        platform,
        providers: vec![provider],
        verdict: verdict(provider, trust, app_integrity, device_integrity, flags),
    }
}

use AppIntegrity::{Recognized, Unevaluated, Unrecognized};
use Platform::{Android, Ios};
use Provider::{
    AndroidKeyAttestation, AppAttest, AvowDeviceKey, HuaweiSafetyDetect, PlayIntegrity, SafetyNet,
};
use TrustLevel::{Hardware, Platform as PlatformTrust, Software};

pub(crate) fn app_attest_strong() -> Case {
    single(
        "app_attest_strong",
        Ios,
        AppAttest,
        Hardware,
        Recognized,
        DeviceIntegrity::Strong,
        &[],
    )
}

pub(crate) fn play_device() -> Case {
    single(
        "play_device",
        Android,
        PlayIntegrity,
        PlatformTrust,
        Recognized,
        DeviceIntegrity::Device,
        &[],
    )
}

pub(crate) fn play_strong() -> Case {
    single(
        "play_strong",
        Android,
        PlayIntegrity,
        PlatformTrust,
        Recognized,
        DeviceIntegrity::Strong,
        &[],
    )
}

pub(crate) fn play_basic() -> Case {
    single(
        "play_basic",
        Android,
        PlayIntegrity,
        PlatformTrust,
        Recognized,
        DeviceIntegrity::Basic,
        &[RiskFlag::PlayProtectRisk],
    )
}

pub(crate) fn play_virtual() -> Case {
    single(
        "play_virtual",
        Android,
        PlayIntegrity,
        PlatformTrust,
        Recognized,
        DeviceIntegrity::None,
        &[RiskFlag::Virtual],
    )
}

pub(crate) fn play_testing() -> Case {
    single(
        "play_testing",
        Android,
        PlayIntegrity,
        PlatformTrust,
        Unevaluated,
        DeviceIntegrity::None,
        &[RiskFlag::TestingResponse],
    )
}

pub(crate) fn play_unrecognized() -> Case {
    single(
        "play_unrecognized",
        Android,
        PlayIntegrity,
        PlatformTrust,
        Unrecognized,
        DeviceIntegrity::Device,
        &[RiskFlag::Unlicensed],
    )
}

pub(crate) fn android_key_strong() -> Case {
    single(
        "android_key_strong",
        Android,
        AndroidKeyAttestation,
        Hardware,
        Recognized,
        DeviceIntegrity::Strong,
        &[],
    )
}

pub(crate) fn android_key_unlocked() -> Case {
    single(
        "android_key_unlocked",
        Android,
        AndroidKeyAttestation,
        Hardware,
        Recognized,
        DeviceIntegrity::Basic,
        &[RiskFlag::BootloaderUnlocked],
    )
}

pub(crate) fn huawei_basic() -> Case {
    single(
        "huawei_basic",
        Android,
        HuaweiSafetyDetect,
        PlatformTrust,
        Recognized,
        DeviceIntegrity::Basic,
        &[],
    )
}

pub(crate) fn huawei_rooted() -> Case {
    single(
        "huawei_rooted",
        Android,
        HuaweiSafetyDetect,
        PlatformTrust,
        Recognized,
        DeviceIntegrity::None,
        &[RiskFlag::Rooted],
    )
}

pub(crate) fn device_key_basic() -> Case {
    single(
        "device_key_basic",
        Android,
        AvowDeviceKey,
        Software,
        Recognized,
        DeviceIntegrity::Basic,
        &[],
    )
}

pub(crate) fn device_key_rooted() -> Case {
    single(
        "device_key_rooted",
        Android,
        AvowDeviceKey,
        Software,
        Recognized,
        DeviceIntegrity::None,
        &[RiskFlag::HookingDetected, RiskFlag::Rooted],
    )
}

pub(crate) fn device_key_ios() -> Case {
    single(
        "device_key_ios",
        Ios,
        AvowDeviceKey,
        Software,
        Recognized,
        DeviceIntegrity::Basic,
        &[],
    )
}

pub(crate) fn safetynet_device() -> Case {
    single(
        "safetynet_device",
        Android,
        SafetyNet,
        PlatformTrust,
        Unevaluated,
        DeviceIntegrity::Device,
        &[],
    )
}

/// Play Integrity and Android key attestation in one request.
pub(crate) fn tandem_play_android_key() -> Case {
    let play = play_device().verdict;
    let key = android_key_strong().verdict;
    Case {
        name: "tandem_play_android_key",
        platform: Android,
        providers: vec![PlayIntegrity, AndroidKeyAttestation],
        verdict: Verdict::combine(&[play, key]).unwrap(),
    }
}

/// Writes each reason as its code, followed by the provider or flag it names.
pub(crate) fn codes(decision: &Decision) -> Vec<String> {
    decision.reasons.iter().map(describe).collect()
}

pub(crate) fn describe(reason: &Reason) -> String {
    match reason {
        Reason::ProviderNotAccepted { provider } | Reason::RequiredProviderMissing { provider } => {
            format!("{}:{}", reason.code(), provider.as_str())
        }
        Reason::RiskFlagDenied { flag } => format!("{}:{}", reason.code(), flag.as_str()),
        _ => reason.code().to_owned(),
    }
}

/// The finance preset with a `cn` market for devices without Google services.
pub(crate) const FINANCE_WITH_CN: &str = r#"
preset = "finance"

[markets.cn]
accepted_providers = ["android_key_attestation", "avow_device_key", "huawei_safety_detect"]
min_trust = "software"
min_device_integrity = { android = "basic" }
"#;

pub(crate) fn finance_with_cn() -> Policy {
    Policy::from_toml(FINANCE_WITH_CN).unwrap()
}
