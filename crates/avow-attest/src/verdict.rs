//! The verdict every provider's verifier produces, in one vocabulary for policy and tokens.
//!
//! Provider-reported labels stay in the provider's module in the provider's own words. This
//! module contains only what policy compares across providers. Every field has a value that means
//! "not established" (`Unevaluated`, `None`, an empty flag list), so a verdict can be built even
//! when the provider reported little, as a failing SafetyNet or Play Integrity response does.

/// The source of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// Android key attestation (a hardware-backed key with Google's certificate chain).
    AndroidKeyAttestation,
    /// Apple App Attest.
    AppAttest,
    /// Apple DeviceCheck (two bits and device token validation; no cryptographic evidence).
    AppleDeviceCheck,
    /// Avow's own install key, registered with an app measurement.
    AvowDeviceKey,
    /// Huawei HMS Safety Detect SysIntegrity.
    HuaweiSafetyDetect,
    /// Google Play Integrity.
    PlayIntegrity,
    /// Google SafetyNet Attestation (legacy).
    SafetyNet,
}

impl Provider {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::AndroidKeyAttestation,
        Self::AppAttest,
        Self::AppleDeviceCheck,
        Self::AvowDeviceKey,
        Self::HuaweiSafetyDetect,
        Self::PlayIntegrity,
        Self::SafetyNet,
    ];

    /// Parses the name [`Provider::as_str`] returns.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == name)
    }

    /// Returns the snake_case name used in APIs, claims and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AndroidKeyAttestation => "android_key_attestation",
            Self::AppAttest => "app_attest",
            Self::AppleDeviceCheck => "apple_device_check",
            Self::AvowDeviceKey => "avow_device_key",
            Self::HuaweiSafetyDetect => "huawei_safety_detect",
            Self::PlayIntegrity => "play_integrity",
            Self::SafetyNet => "safetynet",
        }
    }
}

/// Whether the app binary is the genuine one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppIntegrity {
    /// The provider did not evaluate the app, or reported nothing about it.
    Unevaluated,
    /// The app is not the registered one (unknown signing certificate, sideloaded version).
    Unrecognized,
    /// The provider recognised the app: package or bundle and signing identity match.
    Recognized,
}

impl AppIntegrity {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Self] = &[Self::Unevaluated, Self::Unrecognized, Self::Recognized];

    /// Parses the name [`AppIntegrity::as_str`] returns.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == name)
    }

    /// Returns the snake_case name used in APIs, claims and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unevaluated => "unevaluated",
            Self::Unrecognized => "unrecognized",
            Self::Recognized => "recognized",
        }
    }
}

/// How far the device can be trusted, from least to most. Variants are in that order so that
/// policy can compare levels with `<` and `>=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceIntegrity {
    /// No integrity was established: a compromised device, or a provider that said nothing.
    None,
    /// The device passes basic checks but may be rooted or run an uncertified system.
    Basic,
    /// A certified device with a locked bootloader and an unmodified system.
    Device,
    /// Device integrity backed by hardware-protected keys and verified boot.
    Strong,
}

impl DeviceIntegrity {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Self] = &[Self::None, Self::Basic, Self::Device, Self::Strong];

    /// Parses the name [`DeviceIntegrity::as_str`] returns.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == name)
    }

    /// Returns the snake_case name used in APIs, claims and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "basic",
            Self::Device => "device",
            Self::Strong => "strong",
        }
    }
}

/// A specific risk a provider reported, beyond the integrity level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RiskFlag {
    /// Another app on the device can capture the screen or control the device.
    AppAccessRisk,
    /// The bootloader is unlocked or the verified boot state is not green.
    BootloaderUnlocked,
    /// The build is debuggable.
    Debuggable,
    /// The device has been active far more than normal devices (possible automation).
    HighDeviceActivity,
    /// A hooking framework was detected.
    HookingDetected,
    /// Play Protect or an equivalent reports a risk on the device.
    PlayProtectRisk,
    /// The device is rooted or jailbroken.
    Rooted,
    /// The response is a test response configured by the developer, not a real evaluation.
    TestingResponse,
    /// The app was not installed from an official store.
    UnknownInstaller,
    /// The app or account is not licensed.
    Unlicensed,
    /// The device is an emulator or a virtual device.
    Virtual,
}

impl RiskFlag {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::AppAccessRisk,
        Self::BootloaderUnlocked,
        Self::Debuggable,
        Self::HighDeviceActivity,
        Self::HookingDetected,
        Self::PlayProtectRisk,
        Self::Rooted,
        Self::TestingResponse,
        Self::UnknownInstaller,
        Self::Unlicensed,
        Self::Virtual,
    ];

    /// Parses the name [`RiskFlag::as_str`] returns.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == name)
    }

    /// Returns the snake_case name used in APIs, claims and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppAccessRisk => "app_access_risk",
            Self::BootloaderUnlocked => "bootloader_unlocked",
            Self::Debuggable => "debuggable",
            Self::HighDeviceActivity => "high_device_activity",
            Self::HookingDetected => "hooking_detected",
            Self::PlayProtectRisk => "play_protect_risk",
            Self::Rooted => "rooted",
            Self::TestingResponse => "testing_response",
            Self::UnknownInstaller => "unknown_installer",
            Self::Unlicensed => "unlicensed",
            Self::Virtual => "virtual",
        }
    }
}

/// How much the evidence itself can be trusted, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrustLevel {
    /// Measured by the app itself on the device (Avow's device key): an attacker who controls
    /// the device controls the measurement.
    Software,
    /// Signed by the platform vendor's service (Play Integrity, SafetyNet, Huawei).
    Platform,
    /// Backed by a hardware key attested by the vendor (App Attest, Android key attestation).
    Hardware,
}

impl TrustLevel {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Self] = &[Self::Software, Self::Platform, Self::Hardware];

    /// Parses the name [`TrustLevel::as_str`] returns.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.as_str() == name)
    }

    /// Returns the snake_case name used in APIs, claims and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::Platform => "platform",
            Self::Hardware => "hardware",
        }
    }
}

/// The common verdict of one piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The provider that produced the evidence.
    pub provider: Provider,
    /// How much the evidence can be trusted.
    pub trust: TrustLevel,
    /// Whether the app is genuine.
    pub app_integrity: AppIntegrity,
    /// How far the device can be trusted.
    pub device_integrity: DeviceIntegrity,
    /// Risks reported besides the integrity level, sorted and without duplicates.
    pub risk_flags: Vec<RiskFlag>,
    /// The time the provider produced the evidence, Unix milliseconds, when reported.
    pub evidence_time_ms: Option<u64>,
}

impl Verdict {
    /// Builds a verdict, sorting and deduplicating the flags.
    pub fn new(
        provider: Provider,
        trust: TrustLevel,
        app_integrity: AppIntegrity,
        device_integrity: DeviceIntegrity,
        mut risk_flags: Vec<RiskFlag>,
        evidence_time_ms: Option<u64>,
    ) -> Self {
        risk_flags.sort_unstable();
        risk_flags.dedup();
        Self {
            provider,
            trust,
            app_integrity,
            device_integrity,
            risk_flags,
            evidence_time_ms,
        }
    }

    /// Combines the verdicts of several providers for one request into one.
    ///
    /// Only the most trusted evidence decides the app and device integrity, so a self-measured
    /// device key can never raise what Play Integrity or a hardware attestation established.
    /// Among verdicts of that trust level, each property takes the strongest value, because
    /// each verdict was verified on its own. The risk flags are the union over all verdicts,
    /// because a risk seen by any provider is not cleared by another. Returns `None` for an
    /// empty list.
    pub fn combine(verdicts: &[Self]) -> Option<Self> {
        let strongest = verdicts.iter().max_by_key(|verdict| verdict.trust)?;
        let deciding = || {
            verdicts
                .iter()
                .filter(|verdict| verdict.trust == strongest.trust)
        };
        let app_integrity = deciding()
            .map(|verdict| verdict.app_integrity)
            .max()
            .unwrap_or(AppIntegrity::Unevaluated);
        let device_integrity = deciding()
            .map(|verdict| verdict.device_integrity)
            .max()
            .unwrap_or(DeviceIntegrity::None);
        let risk_flags = verdicts
            .iter()
            .flat_map(|verdict| verdict.risk_flags.iter().copied())
            .collect();
        let evidence_time_ms = verdicts
            .iter()
            .filter_map(|verdict| verdict.evidence_time_ms)
            .min();
        Some(Self::new(
            strongest.provider,
            strongest.trust,
            app_integrity,
            device_integrity,
            risk_flags,
            evidence_time_ms,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_levels_ordered() {
        assert!(DeviceIntegrity::None < DeviceIntegrity::Basic);
        assert!(DeviceIntegrity::Basic < DeviceIntegrity::Device);
        assert!(DeviceIntegrity::Device < DeviceIntegrity::Strong);
        assert!(TrustLevel::Software < TrustLevel::Platform);
        assert!(TrustLevel::Platform < TrustLevel::Hardware);
    }

    #[test]
    fn combine_takes_strongest_and_unions_flags() {
        let play = Verdict::new(
            Provider::PlayIntegrity,
            TrustLevel::Platform,
            AppIntegrity::Recognized,
            DeviceIntegrity::Device,
            vec![RiskFlag::UnknownInstaller],
            Some(2_000),
        );
        let device_key = Verdict::new(
            Provider::AvowDeviceKey,
            TrustLevel::Software,
            AppIntegrity::Unevaluated,
            DeviceIntegrity::Basic,
            vec![RiskFlag::Rooted, RiskFlag::UnknownInstaller],
            Some(1_000),
        );
        let combined = Verdict::combine(&[device_key, play]).unwrap();
        assert_eq!(combined.provider, Provider::PlayIntegrity);
        assert_eq!(combined.trust, TrustLevel::Platform);
        assert_eq!(combined.app_integrity, AppIntegrity::Recognized);
        assert_eq!(combined.device_integrity, DeviceIntegrity::Device);
        assert_eq!(
            combined.risk_flags,
            vec![RiskFlag::Rooted, RiskFlag::UnknownInstaller]
        );
        assert_eq!(combined.evidence_time_ms, Some(1_000));
    }

    #[test]
    fn combine_lower_trust_cannot_raise_levels() {
        let play = Verdict::new(
            Provider::PlayIntegrity,
            TrustLevel::Platform,
            AppIntegrity::Unrecognized,
            DeviceIntegrity::None,
            Vec::new(),
            None,
        );
        let device_key = Verdict::new(
            Provider::AvowDeviceKey,
            TrustLevel::Software,
            AppIntegrity::Recognized,
            DeviceIntegrity::Basic,
            Vec::new(),
            None,
        );
        let combined = Verdict::combine(&[play, device_key]).unwrap();
        assert_eq!(combined.app_integrity, AppIntegrity::Unrecognized);
        assert_eq!(combined.device_integrity, DeviceIntegrity::None);
        assert_eq!(combined.trust, TrustLevel::Platform);
    }

    #[test]
    fn names_parse_back() {
        for provider in Provider::ALL {
            assert_eq!(Provider::parse(provider.as_str()), Some(*provider));
        }
        for flag in RiskFlag::ALL {
            assert_eq!(RiskFlag::parse(flag.as_str()), Some(*flag));
        }
        for level in DeviceIntegrity::ALL {
            assert_eq!(DeviceIntegrity::parse(level.as_str()), Some(*level));
        }
        for level in AppIntegrity::ALL {
            assert_eq!(AppIntegrity::parse(level.as_str()), Some(*level));
        }
        for level in TrustLevel::ALL {
            assert_eq!(TrustLevel::parse(level.as_str()), Some(*level));
        }
        assert_eq!(Provider::parse("unknown"), None);
    }

    #[test]
    fn combine_empty_is_none() {
        assert_eq!(Verdict::combine(&[]), None);
    }
}
