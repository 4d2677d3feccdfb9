//! `diff`: changes between expanded policies, markets included.

use avow_policy::{Change, Policy, diff};

fn change(path: &str, old: &str, new: &str) -> Change {
    Change {
        path: path.to_owned(),
        old: old.to_owned(),
        new: new.to_owned(),
    }
}

#[test]
fn identical_policies_have_no_changes() {
    let finance = Policy::preset("finance").unwrap();
    assert!(diff(&finance, &finance.clone()).is_empty());
    // Written differently, same effect.
    let explicit = Policy::from_toml(&finance.to_toml()).unwrap();
    assert!(diff(&finance, &explicit).is_empty());
}

#[test]
fn rule_changes_listed_in_key_order() {
    let old = Policy::preset("finance").unwrap();
    let new = Policy::from_toml(
        r#"
preset = "finance"
[rules]
token_lifetime_secs = 600
min_device_integrity = { android = "basic" }
deny_flags = ["rooted"]
min_app_version = { ios = "2.0" }
"#,
    )
    .unwrap();
    assert_eq!(
        diff(&old, &new),
        [
            change(
                "rules.min_device_integrity",
                "{ android = \"device\", ios = \"strong\" }",
                "{ android = \"basic\", ios = \"strong\" }",
            ),
            change(
                "rules.deny_flags",
                "[\"bootloader_unlocked\", \"hooking_detected\", \"rooted\", \"testing_response\", \"virtual\"]",
                "[\"rooted\"]",
            ),
            change("rules.min_app_version", "{}", "{ ios = \"2.0\" }"),
            change("rules.token_lifetime_secs", "300", "600"),
        ]
    );
}

#[test]
fn added_market_compared_with_old_base_rules() {
    let old = Policy::preset("finance").unwrap();
    let new = crate::support::finance_with_cn();
    assert_eq!(
        diff(&old, &new),
        [
            change("markets.cn", "not defined", "defined"),
            change(
                "markets.cn.accepted_providers",
                "[\"android_key_attestation\", \"app_attest\", \"huawei_safety_detect\", \"play_integrity\"]",
                "[\"android_key_attestation\", \"avow_device_key\", \"huawei_safety_detect\"]",
            ),
            change("markets.cn.min_trust", "\"platform\"", "\"software\""),
            change(
                "markets.cn.min_device_integrity",
                "{ android = \"device\", ios = \"strong\" }",
                "{ android = \"basic\", ios = \"strong\" }",
            ),
        ]
    );
    // The other direction reports the market as removed.
    let reverse = diff(&new, &old);
    assert_eq!(reverse[0], change("markets.cn", "defined", "not defined"));
    assert_eq!(reverse.len(), 4);
}

#[test]
fn base_change_shows_in_markets_that_inherit_it() {
    let old = crate::support::finance_with_cn();
    let new = Policy::from_toml(&format!(
        "{}\n[rules]\ntoken_lifetime_secs = 120\n",
        crate::support::FINANCE_WITH_CN
    ))
    .unwrap();
    let changes: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
    assert_eq!(
        changes,
        [
            "rules.token_lifetime_secs: 300 -> 120",
            "markets.cn.token_lifetime_secs: 300 -> 120",
        ]
    );
}

#[test]
fn top_level_changes_come_first() {
    let old = Policy::default();
    let new = Policy::from_toml("mode = \"monitor\"\ndefault_market = \"cn\"\n").unwrap();
    assert_eq!(
        diff(&old, &new),
        [
            change("mode", "\"enforce\"", "\"monitor\""),
            change("default_market", "\"default\"", "\"cn\""),
        ]
    );
}
