//! Lookups from the snake_case names used in policy documents to the verdict vocabulary of
//! `avow-attest`, whose enums only convert the other way (`as_str`).

use avow_attest::verdict::{DeviceIntegrity, Provider, RiskFlag, TrustLevel};

/// Every provider, in `as_str` order.
pub(crate) const PROVIDERS: [Provider; 7] = [
    Provider::AndroidKeyAttestation,
    Provider::AppAttest,
    Provider::AppleDeviceCheck,
    Provider::AvowDeviceKey,
    Provider::HuaweiSafetyDetect,
    Provider::PlayIntegrity,
    Provider::SafetyNet,
];

/// Every risk flag, in `as_str` order.
pub(crate) const RISK_FLAGS: [RiskFlag; 11] = [
    RiskFlag::AppAccessRisk,
    RiskFlag::BootloaderUnlocked,
    RiskFlag::Debuggable,
    RiskFlag::HighDeviceActivity,
    RiskFlag::HookingDetected,
    RiskFlag::PlayProtectRisk,
    RiskFlag::Rooted,
    RiskFlag::TestingResponse,
    RiskFlag::UnknownInstaller,
    RiskFlag::Unlicensed,
    RiskFlag::Virtual,
];

/// Every trust level, from least to most.
pub(crate) const TRUST_LEVELS: [TrustLevel; 3] = [
    TrustLevel::Software,
    TrustLevel::Platform,
    TrustLevel::Hardware,
];

/// Every device integrity level, from least to most.
pub(crate) const DEVICE_INTEGRITY_LEVELS: [DeviceIntegrity; 4] = [
    DeviceIntegrity::None,
    DeviceIntegrity::Basic,
    DeviceIntegrity::Device,
    DeviceIntegrity::Strong,
];

/// Finds the value among `values` whose name is `name`.
pub(crate) fn lookup<T: Copy>(
    values: &[T],
    as_str: fn(T) -> &'static str,
    name: &str,
) -> Option<T> {
    values.iter().copied().find(|value| as_str(*value) == name)
}

/// Joins the names of `values` for an "expected one of" message.
pub(crate) fn expected<T: Copy>(values: &[T], as_str: fn(T) -> &'static str) -> String {
    values
        .iter()
        .map(|value| as_str(*value))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The matches below stop compiling when avow-attest adds a variant, which is the reminder to
    // add it to the lists above.
    fn provider_listed(provider: Provider) -> bool {
        match provider {
            Provider::AndroidKeyAttestation
            | Provider::AppAttest
            | Provider::AppleDeviceCheck
            | Provider::AvowDeviceKey
            | Provider::HuaweiSafetyDetect
            | Provider::PlayIntegrity
            | Provider::SafetyNet => PROVIDERS.contains(&provider),
        }
    }

    fn flag_listed(flag: RiskFlag) -> bool {
        match flag {
            RiskFlag::AppAccessRisk
            | RiskFlag::BootloaderUnlocked
            | RiskFlag::Debuggable
            | RiskFlag::HighDeviceActivity
            | RiskFlag::HookingDetected
            | RiskFlag::PlayProtectRisk
            | RiskFlag::Rooted
            | RiskFlag::TestingResponse
            | RiskFlag::UnknownInstaller
            | RiskFlag::Unlicensed
            | RiskFlag::Virtual => RISK_FLAGS.contains(&flag),
        }
    }

    #[test]
    fn every_name_round_trips() {
        for value in PROVIDERS {
            assert!(provider_listed(value));
            assert_eq!(
                lookup(&PROVIDERS, Provider::as_str, value.as_str()),
                Some(value)
            );
        }
        for value in RISK_FLAGS {
            assert!(flag_listed(value));
            assert_eq!(
                lookup(&RISK_FLAGS, RiskFlag::as_str, value.as_str()),
                Some(value)
            );
        }
        for value in TRUST_LEVELS {
            assert_eq!(
                lookup(&TRUST_LEVELS, TrustLevel::as_str, value.as_str()),
                Some(value)
            );
        }
        for value in DEVICE_INTEGRITY_LEVELS {
            let found = lookup(
                &DEVICE_INTEGRITY_LEVELS,
                DeviceIntegrity::as_str,
                value.as_str(),
            );
            assert_eq!(found, Some(value));
        }
    }

    #[test]
    fn unknown_names_are_none() {
        assert_eq!(lookup(&PROVIDERS, Provider::as_str, "App_Attest"), None);
        assert_eq!(lookup(&RISK_FLAGS, RiskFlag::as_str, "jailbroken"), None);
        assert_eq!(lookup(&TRUST_LEVELS, TrustLevel::as_str, "tee"), None);
        let integrity = lookup(
            &DEVICE_INTEGRITY_LEVELS,
            DeviceIntegrity::as_str,
            "meets_device_integrity",
        );
        assert_eq!(integrity, None);
    }

    #[test]
    fn levels_listed_in_order() {
        assert!(TRUST_LEVELS.is_sorted());
        assert!(DEVICE_INTEGRITY_LEVELS.is_sorted());
        assert!(PROVIDERS.is_sorted_by_key(|value| value.as_str()));
        assert!(RISK_FLAGS.is_sorted_by_key(|value| value.as_str()));
    }
}
