//! `evaluate_outage`: deny, fallback and reduced tokens with the per-day cap.

use avow_attest::verdict::Provider;
use avow_policy::{OutageDecision, OutageReason, OutageSubject, Platform, Policy, evaluate_outage};

fn outage(platform: Platform, provider: Provider) -> OutageSubject<'static> {
    OutageSubject {
        platform,
        market: None,
        provider,
        has_install: true,
        reduced_issued_today: 0,
        banned: false,
    }
}

fn denied(reason: OutageReason) -> OutageDecision {
    OutageDecision::Deny { reason }
}

#[test]
fn finance_denies_during_outage() {
    let finance = Policy::preset("finance").unwrap();
    let decision = evaluate_outage(
        &finance,
        &outage(Platform::Android, Provider::PlayIntegrity),
    );
    assert_eq!(decision, denied(OutageReason::ProviderUnavailable));
}

#[test]
fn retail_reduced_tokens_capped_per_day() {
    let retail = Policy::preset("retail").unwrap();
    for issued in 0..3 {
        let mut subject = outage(Platform::Android, Provider::PlayIntegrity);
        subject.reduced_issued_today = issued;
        assert_eq!(
            evaluate_outage(&retail, &subject),
            OutageDecision::Reduced {
                token_lifetime_secs: 60,
                monitored_denial: None,
            },
            "issued {issued}"
        );
    }
    for issued in [3, 4, u32::MAX] {
        let mut subject = outage(Platform::Android, Provider::PlayIntegrity);
        subject.reduced_issued_today = issued;
        assert_eq!(
            evaluate_outage(&retail, &subject),
            denied(OutageReason::ReducedLimitReached),
            "issued {issued}"
        );
    }
}

#[test]
fn reduced_tokens_need_known_install() {
    let retail = Policy::preset("retail").unwrap();
    let mut subject = outage(Platform::Ios, Provider::AppAttest);
    subject.has_install = false;
    assert_eq!(
        evaluate_outage(&retail, &subject),
        denied(OutageReason::InstallUnknown)
    );
}

#[test]
fn banned_install_denied_during_outage() {
    for name in avow_policy::PRESET_NAMES {
        let policy = Policy::preset(name).unwrap();
        let mut subject = outage(Platform::Android, Provider::PlayIntegrity);
        subject.banned = true;
        assert_eq!(
            evaluate_outage(&policy, &subject),
            denied(OutageReason::InstallBanned),
            "{name}"
        );
    }
}

const FALLBACK: &str = r#"
[rules]
accepted_providers = ["android_key_attestation", "app_attest", "avow_device_key", "play_integrity"]
min_trust = "software"
on_provider_unavailable = "fallback"
fallback_providers = ["android_key_attestation", "avow_device_key"]
"#;

#[test]
fn fallback_lists_platform_providers() {
    let policy = Policy::from_toml(FALLBACK).unwrap();
    assert_eq!(
        evaluate_outage(&policy, &outage(Platform::Android, Provider::PlayIntegrity)),
        OutageDecision::Fallback {
            providers: vec![Provider::AndroidKeyAttestation, Provider::AvowDeviceKey],
        }
    );
    // Android key attestation does not exist on iOS.
    assert_eq!(
        evaluate_outage(&policy, &outage(Platform::Ios, Provider::AppAttest)),
        OutageDecision::Fallback {
            providers: vec![Provider::AvowDeviceKey],
        }
    );
    // The unavailable provider is never offered as its own fallback.
    assert_eq!(
        evaluate_outage(
            &policy,
            &outage(Platform::Android, Provider::AndroidKeyAttestation)
        ),
        OutageDecision::Fallback {
            providers: vec![Provider::AvowDeviceKey],
        }
    );
}

#[test]
fn fallback_without_usable_provider_denies() {
    let policy = Policy::from_toml(
        r#"
[rules]
on_provider_unavailable = "fallback"
fallback_providers = ["play_integrity"]
"#,
    )
    .unwrap();
    assert_eq!(
        evaluate_outage(&policy, &outage(Platform::Ios, Provider::AppAttest)),
        denied(OutageReason::ProviderUnavailable)
    );
    assert_eq!(
        evaluate_outage(&policy, &outage(Platform::Android, Provider::PlayIntegrity)),
        denied(OutageReason::ProviderUnavailable)
    );
}

#[test]
fn monitor_mode_turns_denial_into_reduced_token() {
    let monitor = Policy::preset("monitor").unwrap();
    let mut subject = outage(Platform::Android, Provider::PlayIntegrity);
    subject.has_install = false;
    assert_eq!(
        evaluate_outage(&monitor, &subject),
        OutageDecision::Reduced {
            token_lifetime_secs: 60,
            monitored_denial: Some(OutageReason::ProviderUnavailable),
        }
    );
}

#[test]
fn outage_rule_follows_market() {
    let policy = Policy::from_toml(
        r#"
preset = "finance"

[markets.br]
on_provider_unavailable = "reduced"
reduced_token_lifetime_secs = 30
reduced_max_per_install_per_day = 1
"#,
    )
    .unwrap();
    let mut subject = outage(Platform::Android, Provider::PlayIntegrity);
    assert_eq!(
        evaluate_outage(&policy, &subject),
        denied(OutageReason::ProviderUnavailable)
    );
    subject.market = Some("br");
    assert_eq!(
        evaluate_outage(&policy, &subject),
        OutageDecision::Reduced {
            token_lifetime_secs: 30,
            monitored_denial: None,
        }
    );
    subject.reduced_issued_today = 1;
    assert_eq!(
        evaluate_outage(&policy, &subject),
        denied(OutageReason::ReducedLimitReached)
    );
}

#[test]
fn outage_reason_codes() {
    let cases = [
        (OutageReason::InstallBanned, "install_banned"),
        (OutageReason::InstallUnknown, "install_unknown"),
        (OutageReason::ProviderUnavailable, "provider_unavailable"),
        (OutageReason::ReducedLimitReached, "reduced_limit_reached"),
    ];
    for (reason, code) in cases {
        assert_eq!(reason.code(), code);
        assert!(!reason.to_string().is_empty());
    }
}
