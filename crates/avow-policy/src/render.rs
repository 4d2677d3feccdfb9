//! Canonical TOML output. `to_toml` and `diff` share the key order and value formatting here,
//! so a change reported by `diff` reads exactly like the line in `to_toml`.

use std::collections::BTreeSet;

use avow_attest::verdict::Provider;

use crate::Policy;
use crate::document::key_segment;
use crate::rules::{Platform, Rules};

/// Writes the whole policy with every key explicit.
pub(crate) fn policy_toml(policy: &Policy) -> String {
    let mut text = String::new();
    text.push_str(
        "# Expanded policy: every key is explicit and each market shows its merged rules.\n",
    );
    for (key, value) in top_level_entries(policy) {
        text.push_str(&format!("{key} = {value}\n"));
    }
    text.push_str("\n[rules]\n");
    push_rules(&mut text, &policy.rules);
    for (name, rules) in &policy.markets {
        text.push_str(&format!("\n[markets.{}]\n", key_segment(name)));
        push_rules(&mut text, rules);
    }
    text
}

fn push_rules(text: &mut String, rules: &Rules) {
    for (key, value) in rules_entries(rules) {
        text.push_str(&format!("{key} = {value}\n"));
    }
}

/// Returns the keys outside `[rules]` with their TOML values.
pub(crate) fn top_level_entries(policy: &Policy) -> Vec<(&'static str, String)> {
    vec![
        ("mode", quote(policy.mode.as_str())),
        ("default_market", quote(&policy.default_market)),
    ]
}

/// Returns every rules key with its TOML value, in the documented key order.
pub(crate) fn rules_entries(rules: &Rules) -> Vec<(&'static str, String)> {
    let required = Platform::ALL
        .map(|platform| {
            (
                platform.as_str(),
                providers(rules.required_providers.get(platform)),
            )
        })
        .to_vec();
    let device_integrity = Platform::ALL
        .map(|platform| {
            (
                platform.as_str(),
                quote(rules.min_device_integrity.get(platform).as_str()),
            )
        })
        .to_vec();
    let mut app_version = Vec::new();
    if let Some(code) = rules.min_app_version.android {
        app_version.push(("android", code.to_string()));
    }
    if let Some(version) = &rules.min_app_version.ios {
        app_version.push(("ios", quote(&version.to_string())));
    }
    let deny_flags = array(rules.deny_flags.iter().map(|flag| flag.as_str()));

    vec![
        ("accepted_providers", providers(&rules.accepted_providers)),
        ("required_providers", inline_table(&required)),
        ("min_trust", quote(rules.min_trust.as_str())),
        ("min_device_integrity", inline_table(&device_integrity)),
        (
            "require_app_recognized",
            rules.require_app_recognized.to_string(),
        ),
        ("deny_flags", deny_flags),
        ("min_app_version", inline_table(&app_version)),
        ("token_lifetime_secs", rules.token_lifetime_secs.to_string()),
        (
            "max_verdict_age_secs",
            rules.max_verdict_age_secs.to_string(),
        ),
        (
            "reattest_on_app_version_change",
            rules.reattest_on_app_version_change.to_string(),
        ),
        (
            "on_provider_unavailable",
            quote(rules.on_provider_unavailable.as_str()),
        ),
        ("fallback_providers", providers(&rules.fallback_providers)),
        (
            "reduced_token_lifetime_secs",
            rules.reduced_token_lifetime_secs.to_string(),
        ),
        (
            "reduced_max_per_install_per_day",
            rules.reduced_max_per_install_per_day.to_string(),
        ),
        (
            "rejection_response",
            quote(rules.rejection_response.as_str()),
        ),
    ]
}

fn providers(set: &BTreeSet<Provider>) -> String {
    array(set.iter().map(|provider| provider.as_str()))
}

fn array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.map(quote).collect();
    format!("[{}]", items.join(", "))
}

fn inline_table(entries: &[(&str, String)]) -> String {
    if entries.is_empty() {
        return "{}".to_owned();
    }
    let entries: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{key} = {value}"))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

/// Writes a TOML basic string. Validated values contain no control characters, but quotes and
/// backslashes are escaped anyway.
fn quote(value: &str) -> String {
    let mut text = String::with_capacity(value.len() + 2);
    text.push('"');
    for character in value.chars() {
        match character {
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            _ => text.push(character),
        }
    }
    text.push('"');
    text
}
