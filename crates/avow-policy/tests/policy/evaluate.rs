//! `evaluate`: every provider's verdict against every preset and market, then the special
//! cases one by one.

use avow_attest::verdict::{DeviceIntegrity, Provider, RiskFlag, TrustLevel};
use avow_policy::{
    AppVersion, BundleVersion, Mode, Outcome, Platform, Policy, Reason, RejectionResponse, evaluate,
};

use crate::support::{self, Case, codes, finance_with_cn};

/// Expected reasons of one case under each rule set. An empty list means allowed.
struct Row {
    case: Case,
    finance: &'static [&'static str],
    retail: &'static [&'static str],
    strict: &'static [&'static str],
    cn: &'static [&'static str],
}

const NONE: &[&str] = &[];

fn table() -> Vec<Row> {
    vec![
        Row {
            case: support::app_attest_strong(),
            finance: NONE,
            retail: NONE,
            strict: NONE,
            cn: &["provider_not_accepted:app_attest"],
        },
        Row {
            case: support::play_device(),
            finance: NONE,
            retail: NONE,
            strict: &[
                "required_provider_missing:android_key_attestation",
                "device_integrity_too_low",
            ],
            cn: &["provider_not_accepted:play_integrity"],
        },
        Row {
            case: support::play_strong(),
            finance: NONE,
            retail: NONE,
            strict: &["required_provider_missing:android_key_attestation"],
            cn: &["provider_not_accepted:play_integrity"],
        },
        Row {
            case: support::play_basic(),
            finance: &["device_integrity_too_low"],
            retail: NONE,
            strict: &[
                "required_provider_missing:android_key_attestation",
                "device_integrity_too_low",
            ],
            cn: &["provider_not_accepted:play_integrity"],
        },
        Row {
            case: support::play_virtual(),
            finance: &["device_integrity_too_low", "risk_flag_denied:virtual"],
            retail: NONE,
            strict: &[
                "required_provider_missing:android_key_attestation",
                "device_integrity_too_low",
                "risk_flag_denied:virtual",
            ],
            cn: &[
                "provider_not_accepted:play_integrity",
                "device_integrity_too_low",
                "risk_flag_denied:virtual",
            ],
        },
        Row {
            case: support::play_testing(),
            finance: &[
                "device_integrity_too_low",
                "app_not_recognized",
                "risk_flag_denied:testing_response",
            ],
            retail: &["app_not_recognized", "risk_flag_denied:testing_response"],
            strict: &[
                "required_provider_missing:android_key_attestation",
                "device_integrity_too_low",
                "app_not_recognized",
                "risk_flag_denied:testing_response",
            ],
            cn: &[
                "provider_not_accepted:play_integrity",
                "device_integrity_too_low",
                "app_not_recognized",
                "risk_flag_denied:testing_response",
            ],
        },
        Row {
            case: support::play_unrecognized(),
            finance: &["app_not_recognized"],
            retail: &["app_not_recognized"],
            strict: &[
                "required_provider_missing:android_key_attestation",
                "device_integrity_too_low",
                "app_not_recognized",
            ],
            cn: &["provider_not_accepted:play_integrity", "app_not_recognized"],
        },
        Row {
            case: support::android_key_strong(),
            finance: NONE,
            retail: NONE,
            strict: &["required_provider_missing:play_integrity"],
            cn: NONE,
        },
        Row {
            case: support::android_key_unlocked(),
            finance: &[
                "device_integrity_too_low",
                "risk_flag_denied:bootloader_unlocked",
            ],
            retail: NONE,
            strict: &[
                "required_provider_missing:play_integrity",
                "device_integrity_too_low",
                "risk_flag_denied:bootloader_unlocked",
            ],
            cn: &["risk_flag_denied:bootloader_unlocked"],
        },
        Row {
            case: support::huawei_basic(),
            finance: &["device_integrity_too_low"],
            retail: NONE,
            strict: &[
                "provider_not_accepted:huawei_safety_detect",
                "required_provider_missing:android_key_attestation",
                "required_provider_missing:play_integrity",
                "device_integrity_too_low",
            ],
            cn: NONE,
        },
        Row {
            case: support::huawei_rooted(),
            finance: &["device_integrity_too_low", "risk_flag_denied:rooted"],
            retail: NONE,
            strict: &[
                "provider_not_accepted:huawei_safety_detect",
                "required_provider_missing:android_key_attestation",
                "required_provider_missing:play_integrity",
                "device_integrity_too_low",
                "risk_flag_denied:rooted",
            ],
            cn: &["device_integrity_too_low", "risk_flag_denied:rooted"],
        },
        Row {
            case: support::device_key_basic(),
            finance: &[
                "provider_not_accepted:avow_device_key",
                "trust_too_low",
                "device_integrity_too_low",
            ],
            retail: NONE,
            strict: &[
                "provider_not_accepted:avow_device_key",
                "required_provider_missing:android_key_attestation",
                "required_provider_missing:play_integrity",
                "trust_too_low",
                "device_integrity_too_low",
            ],
            cn: NONE,
        },
        Row {
            case: support::device_key_rooted(),
            finance: &[
                "provider_not_accepted:avow_device_key",
                "trust_too_low",
                "device_integrity_too_low",
                "risk_flag_denied:hooking_detected",
                "risk_flag_denied:rooted",
            ],
            retail: NONE,
            strict: &[
                "provider_not_accepted:avow_device_key",
                "required_provider_missing:android_key_attestation",
                "required_provider_missing:play_integrity",
                "trust_too_low",
                "device_integrity_too_low",
                "risk_flag_denied:hooking_detected",
                "risk_flag_denied:rooted",
            ],
            cn: &[
                "device_integrity_too_low",
                "risk_flag_denied:hooking_detected",
                "risk_flag_denied:rooted",
            ],
        },
        Row {
            case: support::device_key_ios(),
            finance: &[
                "provider_not_accepted:avow_device_key",
                "trust_too_low",
                "device_integrity_too_low",
            ],
            retail: NONE,
            strict: &[
                "provider_not_accepted:avow_device_key",
                "required_provider_missing:app_attest",
                "trust_too_low",
                "device_integrity_too_low",
            ],
            // The cn market lowers only the Android minimum; iOS keeps "strong".
            cn: &["device_integrity_too_low"],
        },
        Row {
            case: support::safetynet_device(),
            finance: &["provider_not_accepted:safetynet", "app_not_recognized"],
            retail: &["provider_not_accepted:safetynet", "app_not_recognized"],
            strict: &[
                "provider_not_accepted:safetynet",
                "required_provider_missing:android_key_attestation",
                "required_provider_missing:play_integrity",
                "device_integrity_too_low",
                "app_not_recognized",
            ],
            cn: &["provider_not_accepted:safetynet", "app_not_recognized"],
        },
        Row {
            case: support::tandem_play_android_key(),
            finance: NONE,
            retail: NONE,
            strict: NONE,
            cn: &["provider_not_accepted:play_integrity"],
        },
    ]
}

/// One rule set of the table: a label, the policy, the market, the expected reasons and the
/// policy's mode.
type Column<'a> = (&'a str, &'a Policy, Option<&'a str>, &'a [&'a str], Mode);

fn expected_outcome(reasons: &[&str]) -> Outcome {
    if reasons.is_empty() {
        Outcome::Allow
    } else {
        Outcome::Deny
    }
}

#[test]
fn provider_verdicts_across_presets_and_markets() {
    let finance = Policy::preset("finance").unwrap();
    let retail = Policy::preset("retail").unwrap();
    let strict = Policy::preset("strict").unwrap();
    let monitor = Policy::preset("monitor").unwrap();
    let with_cn = finance_with_cn();

    for row in table() {
        let columns: [Column<'_>; 8] = [
            ("finance", &finance, None, row.finance, Mode::Enforce),
            ("retail", &retail, None, row.retail, Mode::Enforce),
            ("strict", &strict, None, row.strict, Mode::Enforce),
            ("monitor", &monitor, None, row.finance, Mode::Monitor),
            (
                "cn policy, no market",
                &with_cn,
                None,
                row.finance,
                Mode::Enforce,
            ),
            (
                "cn policy, market de",
                &with_cn,
                Some("de"),
                row.finance,
                Mode::Enforce,
            ),
            (
                "cn policy, market cn",
                &with_cn,
                Some("cn"),
                row.cn,
                Mode::Enforce,
            ),
            (
                "cn policy, market CN",
                &with_cn,
                Some("CN"),
                row.cn,
                Mode::Enforce,
            ),
        ];
        for (label, policy, market, expected, mode) in columns {
            let decision = evaluate(policy, &row.case.subject(market));
            let context = format!("{} under {label}", row.case.name);
            assert_eq!(codes(&decision), expected, "{context}");
            assert_eq!(decision.outcome, expected_outcome(expected), "{context}");
            assert_eq!(decision.mode, mode, "{context}");
            let enforced = match mode {
                Mode::Enforce => expected_outcome(expected),
                Mode::Monitor => Outcome::Allow,
            };
            assert_eq!(decision.enforced_outcome, enforced, "{context}");
        }
    }
}

#[test]
fn decision_carries_market_and_token_settings() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::play_device();
    let decision = evaluate(&finance, &case.subject(None));
    assert_eq!(decision.market, "default");
    assert_eq!(decision.token_lifetime_secs, 300);
    assert_eq!(decision.rejection_response, RejectionResponse::Decoy);

    let retail = Policy::preset("retail").unwrap();
    let decision = evaluate(&retail, &case.subject(Some("FR")));
    assert_eq!(decision.market, "fr");
    assert_eq!(decision.rejection_response, RejectionResponse::Error);
}

#[test]
fn reasons_carry_levels() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::device_key_basic();
    let decision = evaluate(&finance, &case.subject(None));
    assert_eq!(
        decision.reasons,
        vec![
            Reason::ProviderNotAccepted {
                provider: Provider::AvowDeviceKey
            },
            Reason::TrustTooLow {
                trust: TrustLevel::Software,
                minimum: TrustLevel::Platform
            },
            Reason::DeviceIntegrityTooLow {
                device_integrity: DeviceIntegrity::Basic,
                minimum: DeviceIntegrity::Device
            },
        ]
    );
    assert_eq!(
        decision.reasons[1].to_string(),
        "trust level software is below the minimum platform"
    );
}

#[test]
fn monitor_mode_reports_but_allows() {
    let monitor = Policy::preset("monitor").unwrap();
    let case = support::huawei_rooted();
    let decision = evaluate(&monitor, &case.subject(None));
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.enforced_outcome, Outcome::Allow);
    assert_eq!(decision.mode, Mode::Monitor);
    assert_eq!(
        decision.reason_codes(),
        ["device_integrity_too_low", "risk_flag_denied"]
    );
}

#[test]
fn banned_install_denied_in_every_mode() {
    let case = support::app_attest_strong();
    for name in avow_policy::PRESET_NAMES {
        let policy = Policy::preset(name).unwrap();
        let mut subject = case.subject(None);
        subject.banned = true;
        let decision = evaluate(&policy, &subject);
        assert_eq!(decision.outcome, Outcome::Deny, "{name}");
        assert_eq!(decision.enforced_outcome, Outcome::Deny, "{name}");
        assert_eq!(decision.reason_codes(), ["install_banned"], "{name}");
    }
}

#[test]
fn banned_install_lists_other_failures_too() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::huawei_basic();
    let mut subject = case.subject(None);
    subject.banned = true;
    let decision = evaluate(&finance, &subject);
    assert_eq!(
        decision.reason_codes(),
        ["install_banned", "device_integrity_too_low"]
    );
}

#[test]
fn debug_device_allowed_with_waived_failures() {
    let strict = Policy::preset("strict").unwrap();
    let case = support::device_key_rooted();
    let mut subject = case.subject(None);
    subject.debug_device = true;
    let decision = evaluate(&strict, &subject);
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(decision.enforced_outcome, Outcome::Allow);
    assert_eq!(decision.reasons[0], Reason::DebugDevice);
    assert_eq!(
        codes(&decision)[1..],
        [
            "provider_not_accepted:avow_device_key",
            "required_provider_missing:android_key_attestation",
            "required_provider_missing:play_integrity",
            "trust_too_low",
            "device_integrity_too_low",
            "risk_flag_denied:hooking_detected",
            "risk_flag_denied:rooted",
        ]
    );
}

#[test]
fn debug_device_with_clean_evidence_records_only_itself() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::app_attest_strong();
    let mut subject = case.subject(None);
    subject.debug_device = true;
    let decision = evaluate(&finance, &subject);
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(decision.reason_codes(), ["debug_device"]);
}

#[test]
fn banned_debug_device_denied() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::app_attest_strong();
    let mut subject = case.subject(None);
    subject.debug_device = true;
    subject.banned = true;
    let decision = evaluate(&finance, &subject);
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.enforced_outcome, Outcome::Deny);
    assert_eq!(decision.reason_codes(), ["install_banned", "debug_device"]);
}

#[test]
fn tandem_requires_every_listed_provider() {
    let strict = Policy::preset("strict").unwrap();
    let tandem = support::tandem_play_android_key();
    assert_eq!(
        evaluate(&strict, &tandem.subject(None)).outcome,
        Outcome::Allow
    );

    // The same combined verdict with only one provider listed: the other one is missing.
    let mut subject = tandem.subject(None);
    let only_key = [Provider::AndroidKeyAttestation];
    subject.providers = &only_key;
    let decision = evaluate(&strict, &subject);
    assert_eq!(
        codes(&decision),
        ["required_provider_missing:play_integrity"]
    );
}

#[test]
fn tandem_requirement_is_per_platform() {
    let strict = Policy::preset("strict").unwrap();
    // iOS requires only App Attest, so the Android tandem does not apply.
    let case = support::app_attest_strong();
    let decision = evaluate(&strict, &case.subject(None));
    assert!(decision.reasons.is_empty(), "{:?}", decision.reasons);
}

#[test]
fn verdict_provider_counts_when_list_is_empty() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::device_key_basic();
    let mut subject = case.subject(None);
    subject.providers = &[];
    let decision = evaluate(&finance, &subject);
    assert_eq!(codes(&decision)[0], "provider_not_accepted:avow_device_key");
}

#[test]
fn unaccepted_provider_in_tandem_denies() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::play_device();
    let mut subject = case.subject(None);
    let providers = [Provider::PlayIntegrity, Provider::AvowDeviceKey];
    subject.providers = &providers;
    let decision = evaluate(&finance, &subject);
    assert_eq!(codes(&decision), ["provider_not_accepted:avow_device_key"]);
}

#[test]
fn market_override_admits_providers_base_rejects() {
    let policy = Policy::from_toml(
        r#"
[rules]
accepted_providers = ["android_key_attestation", "app_attest", "play_integrity"]

[markets.cn]
accepted_providers = ["android_key_attestation", "avow_device_key", "huawei_safety_detect"]
min_trust = "software"
min_device_integrity = { android = "basic" }
"#,
    )
    .unwrap();
    for case in [support::huawei_basic(), support::device_key_basic()] {
        let base = evaluate(&policy, &case.subject(None));
        assert_eq!(
            base.outcome,
            Outcome::Deny,
            "{} in the base rules",
            case.name
        );
        assert!(
            base.reason_codes().contains(&"provider_not_accepted"),
            "{}",
            case.name
        );
        let cn = evaluate(&policy, &case.subject(Some("cn")));
        assert_eq!(cn.outcome, Outcome::Allow, "{} in cn", case.name);
        assert_eq!(cn.market, "cn");
    }
    // Play Integrity is accepted in the base rules but not in cn.
    let play = support::play_device();
    assert_eq!(
        evaluate(&policy, &play.subject(None)).outcome,
        Outcome::Allow
    );
    assert_eq!(
        codes(&evaluate(&policy, &play.subject(Some("cn")))),
        ["provider_not_accepted:play_integrity"]
    );
}

fn with_min_version(toml: &str) -> Policy {
    Policy::from_toml(&format!("preset = \"retail\"\n[rules]\n{toml}\n")).unwrap()
}

fn bundle(text: &str) -> AppVersion {
    AppVersion::Ios(text.parse::<BundleVersion>().unwrap())
}

#[test]
fn android_version_code_minimum() {
    let policy = with_min_version("min_app_version = { android = 120 }");
    let case = support::play_device();
    let cases = [
        (Some(AppVersion::Android(119)), vec!["app_version_too_low"]),
        (Some(AppVersion::Android(120)), vec![]),
        (Some(AppVersion::Android(4_000)), vec![]),
        (None, vec!["app_version_unknown"]),
        // An iOS version on an Android request cannot be compared.
        (Some(bundle("500")), vec!["app_version_unknown"]),
    ];
    for (version, expected) in cases {
        let mut subject = case.subject(None);
        subject.app_version = version.clone();
        let decision = evaluate(&policy, &subject);
        assert_eq!(decision.reason_codes(), expected, "{version:?}");
    }
}

#[test]
fn ios_bundle_version_minimum() {
    let policy = with_min_version("min_app_version = { ios = \"2.10.1\" }");
    let case = support::app_attest_strong();
    let cases = [
        ("2.9.9", vec!["app_version_too_low"]),
        ("2.10", vec!["app_version_too_low"]),
        ("2.10.1", vec![]),
        ("2.10.1.0", vec![]),
        ("2.11", vec![]),
        ("10", vec![]),
    ];
    for (text, expected) in cases {
        let mut subject = case.subject(None);
        subject.app_version = Some(bundle(text));
        let decision = evaluate(&policy, &subject);
        assert_eq!(decision.reason_codes(), expected, "{text}");
    }
    let mut subject = case.subject(None);
    subject.app_version = Some(bundle("1.0"));
    assert_eq!(
        evaluate(&policy, &subject).reasons,
        [Reason::AppVersionTooLow {
            version: bundle("1.0"),
            minimum: bundle("2.10.1"),
        }]
    );
}

#[test]
fn version_minimum_applies_to_its_platform_only() {
    let policy = with_min_version("min_app_version = { android = 120 }");
    // No iOS minimum, so an iOS request without a version passes.
    let case = support::app_attest_strong();
    assert!(evaluate(&policy, &case.subject(None)).reasons.is_empty());
}

#[test]
fn zero_minimum_means_none() {
    let policy = with_min_version("min_app_version = { android = 0, ios = \"0.0\" }");
    for case in [support::play_device(), support::app_attest_strong()] {
        let decision = evaluate(&policy, &case.subject(None));
        assert!(decision.reasons.is_empty(), "{}", case.name);
    }
    assert_eq!(policy.base_rules().min_app_version.android, None);
    assert_eq!(policy.base_rules().min_app_version.ios, None);
}

#[test]
fn deny_flags_follow_policy_not_verdict_order() {
    let finance = Policy::preset("finance").unwrap();
    let case = Case {
        name: "many flags",
        platform: Platform::Android,
        providers: vec![Provider::PlayIntegrity],
        verdict: support::verdict(
            Provider::PlayIntegrity,
            TrustLevel::Platform,
            avow_attest::verdict::AppIntegrity::Recognized,
            DeviceIntegrity::Device,
            &[RiskFlag::Virtual, RiskFlag::Rooted, RiskFlag::Unlicensed],
        ),
    };
    assert_eq!(
        codes(&evaluate(&finance, &case.subject(None))),
        ["risk_flag_denied:rooted", "risk_flag_denied:virtual"]
    );
}
