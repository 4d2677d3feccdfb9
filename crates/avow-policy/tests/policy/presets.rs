//! The built-in presets: each parses, matches its documented rules, and survives a round trip
//! through the canonical TOML.

use avow_attest::verdict::{DeviceIntegrity, Provider, RiskFlag, TrustLevel};
use avow_policy::{
    Mode, OutageAction, PRESET_NAMES, Policy, RejectionResponse, diff, preset_source,
};

#[test]
fn every_preset_parses() {
    for name in PRESET_NAMES {
        let source = preset_source(name).unwrap();
        let policy = Policy::from_toml(source).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(Policy::preset(name).unwrap(), policy, "{name}");
        assert!(
            source.starts_with("# Preset `"),
            "{name} starts with its comment"
        );
    }
    assert!(preset_source("bank").is_none());
}

#[test]
fn canonical_toml_round_trips() {
    let mut policies: Vec<Policy> = PRESET_NAMES
        .iter()
        .map(|name| Policy::preset(name).unwrap())
        .collect();
    policies.push(crate::support::finance_with_cn());
    policies.push(Policy::default());
    for policy in policies {
        let text = policy.to_toml();
        let parsed = Policy::from_toml(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
        assert_eq!(parsed, policy, "{text}");
        assert_eq!(parsed.to_toml(), text);
    }
}

#[test]
fn canonical_toml_shape() {
    let text = crate::support::finance_with_cn().to_toml();
    let expected_rules = r#"
[rules]
accepted_providers = ["android_key_attestation", "app_attest", "huawei_safety_detect", "play_integrity"]
required_providers = { android = [], ios = [] }
min_trust = "platform"
min_device_integrity = { android = "device", ios = "strong" }
require_app_recognized = true
deny_flags = ["bootloader_unlocked", "hooking_detected", "rooted", "testing_response", "virtual"]
min_app_version = {}
token_lifetime_secs = 300
max_verdict_age_secs = 86400
reattest_on_app_version_change = true
on_provider_unavailable = "deny"
fallback_providers = []
reduced_token_lifetime_secs = 60
reduced_max_per_install_per_day = 3
rejection_response = "decoy"

[markets.cn]
accepted_providers = ["android_key_attestation", "avow_device_key", "huawei_safety_detect"]
required_providers = { android = [], ios = [] }
min_trust = "software"
min_device_integrity = { android = "basic", ios = "strong" }
"#;
    assert!(
        text.contains("mode = \"enforce\"\ndefault_market = \"default\"\n"),
        "{text}"
    );
    assert!(text.contains(expected_rules), "{text}");
}

#[test]
fn finance_preset_rules() {
    let finance = Policy::preset("finance").unwrap();
    let rules = finance.base_rules();
    assert_eq!(finance.mode(), Mode::Enforce);
    assert!(!rules.accepted_providers.contains(&Provider::AvowDeviceKey));
    assert!(!rules.accepted_providers.contains(&Provider::SafetyNet));
    assert_eq!(rules.min_trust, TrustLevel::Platform);
    assert_eq!(rules.min_device_integrity.android, DeviceIntegrity::Device);
    assert_eq!(rules.min_device_integrity.ios, DeviceIntegrity::Strong);
    assert!(rules.require_app_recognized);
    for flag in [
        RiskFlag::Rooted,
        RiskFlag::Virtual,
        RiskFlag::BootloaderUnlocked,
        RiskFlag::HookingDetected,
        RiskFlag::TestingResponse,
    ] {
        assert!(rules.deny_flags.contains(&flag), "{flag:?}");
    }
    assert_eq!(rules.on_provider_unavailable, OutageAction::Deny);
    assert_eq!(rules.rejection_response, RejectionResponse::Decoy);
}

#[test]
fn retail_preset_rules() {
    let retail = Policy::preset("retail").unwrap();
    let rules = retail.base_rules();
    assert_eq!(retail.mode(), Mode::Enforce);
    assert_eq!(
        rules.deny_flags.iter().copied().collect::<Vec<_>>(),
        [RiskFlag::TestingResponse]
    );
    assert_eq!(rules.min_device_integrity.android, DeviceIntegrity::None);
    assert_eq!(rules.min_device_integrity.ios, DeviceIntegrity::None);
    assert!(rules.require_app_recognized);
    assert_eq!(rules.on_provider_unavailable, OutageAction::Reduced);
}

#[test]
fn strict_is_finance_plus_tandem() {
    let finance = Policy::preset("finance").unwrap();
    let strict = Policy::preset("strict").unwrap();
    let paths: Vec<String> = diff(&finance, &strict)
        .into_iter()
        .map(|change| change.path)
        .collect();
    assert_eq!(
        paths,
        [
            "rules.accepted_providers",
            "rules.required_providers",
            "rules.min_device_integrity",
            "rules.max_verdict_age_secs",
        ]
    );
    let rules = strict.base_rules();
    assert_eq!(
        rules
            .required_providers
            .android
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [Provider::AndroidKeyAttestation, Provider::PlayIntegrity]
    );
    assert_eq!(rules.max_verdict_age_secs, 3_600);
    assert_eq!(rules.min_device_integrity.android, DeviceIntegrity::Strong);
}

#[test]
fn monitor_is_finance_in_monitor_mode() {
    let finance = Policy::preset("finance").unwrap();
    let monitor = Policy::preset("monitor").unwrap();
    assert_eq!(monitor.mode(), Mode::Monitor);
    assert_eq!(monitor.base_rules(), finance.base_rules());
    let changes = diff(&finance, &monitor);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].to_string(), "mode: \"enforce\" -> \"monitor\"");
}

#[test]
fn document_overrides_preset() {
    let policy = Policy::from_toml(
        "preset = \"finance\"\n[rules]\nrejection_response = \"error\"\nmin_device_integrity = { android = \"basic\" }\n",
    )
    .unwrap();
    let rules = policy.base_rules();
    assert_eq!(rules.rejection_response, RejectionResponse::Error);
    assert_eq!(rules.min_device_integrity.android, DeviceIntegrity::Basic);
    // The iOS value comes from the preset.
    assert_eq!(rules.min_device_integrity.ios, DeviceIntegrity::Strong);
    assert_eq!(rules.min_trust, TrustLevel::Platform);
}

#[test]
fn document_can_leave_monitor_mode() {
    let policy = Policy::from_toml("preset = \"monitor\"\nmode = \"enforce\"\n").unwrap();
    assert_eq!(policy, Policy::preset("finance").unwrap());
}
