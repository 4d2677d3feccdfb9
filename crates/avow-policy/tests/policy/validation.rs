//! Validation: every problem is reported, each with the key it concerns.

use avow_policy::{Policy, PolicyError, Problem};

fn problems(text: &str) -> Vec<Problem> {
    match Policy::from_toml(text) {
        Err(PolicyError::RulesInvalid { problems }) => problems,
        other => panic!("expected RulesInvalid, got {other:?}"),
    }
}

fn paths(text: &str) -> Vec<String> {
    problems(text)
        .into_iter()
        .map(|problem| problem.path)
        .collect()
}

/// One invalid value per case, with the key path the problem must name and a fragment of its
/// message.
#[test]
fn each_invalid_value_names_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "mode = \"audit\"",
            "mode",
            "expected one of enforce, monitor",
        ),
        (
            "default_market = \"Europe\"",
            "default_market",
            "invalid market name",
        ),
        (
            "[rules]\naccepted_providers = [\"app_attest\", \"apple_attest\"]",
            "rules.accepted_providers",
            "unknown name \"apple_attest\"",
        ),
        (
            "[rules]\naccepted_providers = []",
            "rules.accepted_providers",
            "at least one provider",
        ),
        (
            "[rules]\nmin_trust = \"tee\"",
            "rules.min_trust",
            "expected one of software, platform, hardware",
        ),
        (
            "[rules]\nmin_device_integrity = { ios = \"meets_strong_integrity\" }",
            "rules.min_device_integrity.ios",
            "expected one of none, basic, device, strong",
        ),
        (
            "[rules]\ndeny_flags = [\"rooted\", \"jailbroken\"]",
            "rules.deny_flags",
            "unknown name \"jailbroken\"",
        ),
        (
            "[rules]\nrequired_providers = { android = [\"app_attest\"] }",
            "rules.required_providers.android",
            "`app_attest` is not a provider on android",
        ),
        (
            "[rules]\nrequired_providers = { ios = [\"avow_device_key\"] }",
            "rules.required_providers.ios",
            "`avow_device_key` is not in accepted_providers",
        ),
        (
            "[rules]\nfallback_providers = [\"safetynet\"]",
            "rules.fallback_providers",
            "`safetynet` is not in accepted_providers",
        ),
        (
            "[rules]\non_provider_unavailable = \"fallback\"",
            "rules.fallback_providers",
            "when on_provider_unavailable is \"fallback\"",
        ),
        (
            "[rules]\non_provider_unavailable = \"open\"",
            "rules.on_provider_unavailable",
            "expected one of deny, fallback, reduced",
        ),
        (
            "[rules]\nrejection_response = \"silent\"",
            "rules.rejection_response",
            "expected one of decoy, error",
        ),
        (
            "[rules]\ntoken_lifetime_secs = 0",
            "rules.token_lifetime_secs",
            "0 seconds is out of range: use 1 to 86400 seconds",
        ),
        (
            "[rules]\ntoken_lifetime_secs = 86401",
            "rules.token_lifetime_secs",
            "out of range",
        ),
        (
            "[rules]\nreduced_token_lifetime_secs = 0",
            "rules.reduced_token_lifetime_secs",
            "out of range",
        ),
        (
            "[rules]\ntoken_lifetime_secs = 120\nreduced_token_lifetime_secs = 600",
            "rules.reduced_token_lifetime_secs",
            "longer than token_lifetime_secs",
        ),
        (
            "[rules]\nmax_verdict_age_secs = 0",
            "rules.max_verdict_age_secs",
            "out of range",
        ),
        (
            "[rules]\nreduced_max_per_install_per_day = 0",
            "rules.reduced_max_per_install_per_day",
            "use 1 to 100",
        ),
        (
            "[rules]\nreduced_max_per_install_per_day = 5000000000",
            "rules.reduced_max_per_install_per_day",
            "out of range",
        ),
        (
            "[rules]\nmin_app_version = { ios = \"1.2-beta\" }",
            "rules.min_app_version.ios",
            "invalid bundle version",
        ),
        (
            "[markets.EU]\nmin_trust = \"software\"",
            "markets.EU",
            "invalid market name",
        ),
        (
            "[markets.\"south east\"]\nmin_trust = \"software\"",
            "markets.\"south east\"",
            "invalid market name",
        ),
        (
            "[markets.abcdefghijklmnopqrstuvwxyz0123456]\nmin_trust = \"software\"",
            "markets.abcdefghijklmnopqrstuvwxyz0123456",
            "1 to 32 characters",
        ),
        (
            "[markets.cn]\nmin_trust = \"none\"",
            "markets.cn.min_trust",
            "unknown name \"none\"",
        ),
        (
            "[markets.cn]\naccepted_providers = [\"huawei_safety_detect\"]\nfallback_providers = [\"avow_device_key\"]",
            "markets.cn.fallback_providers",
            "not in accepted_providers",
        ),
    ];
    for (text, path, fragment) in cases {
        let found = problems(text);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert_eq!(found[0].path, *path, "{text}");
        assert!(
            found[0].message.contains(fragment),
            "{text}: {:?} lacks {fragment:?}",
            found[0].message
        );
    }
}

#[test]
fn all_problems_reported_at_once() {
    let found = paths(
        r#"
mode = "strict"

[rules]
accepted_providers = ["app_attest", "play_integrty"]
min_trust = "high"
token_lifetime_secs = 0

[markets.cn]
deny_flags = ["rooted", "root"]
"#,
    );
    assert_eq!(
        found,
        [
            "mode",
            "rules.accepted_providers",
            "rules.min_trust",
            "rules.token_lifetime_secs",
            "markets.cn.deny_flags",
        ]
    );
}

#[test]
fn market_breaking_base_requirement_is_reported_there() {
    // The market narrows the accepted providers below what the base rules require.
    let found = problems(
        r#"
preset = "strict"

[markets.cn]
accepted_providers = ["android_key_attestation", "app_attest", "huawei_safety_detect"]
"#,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, "markets.cn.required_providers.android");
    assert!(
        found[0]
            .message
            .contains("`play_integrity` is not in accepted_providers")
    );
}

#[test]
fn inherited_problem_reported_once() {
    let found = paths(
        "[rules]\ntoken_lifetime_secs = 0\n[markets.cn]\nmin_trust = \"software\"\n[markets.us]\n",
    );
    assert_eq!(found, ["rules.token_lifetime_secs"]);
}

#[test]
fn error_message_lists_every_problem() {
    let error = Policy::from_toml("mode = \"x\"\n[rules]\nmin_trust = \"y\"\n").unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("invalid policy: `mode`: unknown name \"x\""),
        "{text}"
    );
    assert!(
        text.contains("; `rules.min_trust`: unknown name \"y\""),
        "{text}"
    );
}

/// Structural errors come from the TOML parser and still name the key.
#[test]
fn structural_errors_name_the_key() {
    let cases = [
        (
            "[rules]\nmin_trusts = \"platform\"\n",
            "rules.min_trusts",
            2,
        ),
        (
            "[rules]\ntoken_lifetime_secs = \"300\"\n",
            "rules.token_lifetime_secs",
            2,
        ),
        (
            "[rules]\nrequire_app_recognized = \"yes\"\n",
            "rules.require_app_recognized",
            2,
        ),
        (
            "\n[markets.cn]\nmin_app_version = { android = \"1.0\" }\n",
            "markets.cn.min_app_version.android",
            3,
        ),
        ("[rule]\nmin_trust = \"platform\"\n", "rule", 1),
        (
            "[rules]\nrequired_providers = [\"play_integrity\"]\n",
            "rules.required_providers",
            2,
        ),
    ];
    for (text, key, line) in cases {
        match Policy::from_toml(text) {
            Err(PolicyError::TomlMalformed {
                key: Some(found),
                line: found_line,
                ..
            }) => {
                assert_eq!(found, key, "{text}");
                assert_eq!(found_line, line, "{text}");
            }
            other => panic!("{text}: expected TomlMalformed with a key, got {other:?}"),
        }
    }
}

#[test]
fn unknown_preset_names_key() {
    let error = Policy::from_toml("preset = \"bank\"\n").unwrap_err();
    assert_eq!(
        error,
        PolicyError::PresetUnknown {
            name: "bank".to_owned()
        }
    );
    assert!(error.to_string().contains("at key `preset`"));
    assert!(Policy::preset("bank").is_err());
}

#[test]
fn valid_document_with_every_key_parses() {
    let policy = Policy::from_toml(
        r#"
mode = "monitor"
default_market = "eu"

[rules]
accepted_providers = ["app_attest", "play_integrity", "android_key_attestation", "huawei_safety_detect", "avow_device_key", "safetynet", "apple_device_check"]
required_providers = { android = ["play_integrity"], ios = [] }
min_trust = "software"
min_device_integrity = { android = "basic", ios = "device" }
require_app_recognized = false
deny_flags = ["rooted", "virtual", "app_access_risk", "debuggable", "high_device_activity", "play_protect_risk", "unknown_installer", "unlicensed"]
min_app_version = { android = 42, ios = "3.1" }
token_lifetime_secs = 86400
max_verdict_age_secs = 2592000
reattest_on_app_version_change = false
on_provider_unavailable = "fallback"
fallback_providers = ["avow_device_key"]
reduced_token_lifetime_secs = 1
reduced_max_per_install_per_day = 100
rejection_response = "decoy"

[markets.eu]
min_trust = "hardware"

[markets.latam-2]
token_lifetime_secs = 600
"#,
    )
    .unwrap();
    assert_eq!(policy.mode(), avow_policy::Mode::Monitor);
    assert_eq!(policy.default_market(), "eu");
    assert_eq!(policy.base_rules().accepted_providers.len(), 7);
    assert_eq!(policy.base_rules().deny_flags.len(), 8);
    assert_eq!(policy.markets().len(), 2);
    assert_eq!(
        policy.rules_for(None).min_trust,
        avow_attest::verdict::TrustLevel::Hardware
    );
    assert_eq!(policy.rules_for(Some("latam-2")).token_lifetime_secs, 600);
    assert_eq!(
        policy.rules_for(Some("latam-2")).min_trust,
        avow_attest::verdict::TrustLevel::Software
    );
}

/// The messages shown in `docs/policy.md`.
#[test]
fn documented_messages_match() {
    let error =
        Policy::from_toml("mode = \"strict\"\n[rules]\ntoken_lifetime_secs = 0\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid policy: `mode`: unknown name \"strict\": expected one of enforce, monitor; \
         `rules.token_lifetime_secs`: 0 seconds is out of range: use 1 to 86400 seconds"
    );
    let error =
        Policy::from_toml("mode = \"enforce\"\n[rules]\nmin_trusts = \"platform\"\n").unwrap_err();
    assert!(
        error.to_string().starts_with(
            "invalid policy toml at line 3, key `rules.min_trusts`: unknown field `min_trusts`, \
             expected one of `accepted_providers`"
        ),
        "{error}"
    );
}
