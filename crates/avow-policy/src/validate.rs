//! Validation: turns a document with presets applied into a [`Policy`], collecting every
//! problem with its key path instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet};

use avow_attest::verdict::Provider;

use crate::document::{Document, RulesPatch, key_segment};
use crate::names;
use crate::rules::{
    DEFAULT_MARKET, DEFAULT_MODE, Mode, OutageAction, Platform, RejectionResponse, Rules,
};
use crate::version::BundleVersion;
use crate::{Policy, PolicyError, Problem};

/// The shortest and longest token lifetime, in seconds, for both normal and reduced tokens.
pub const TOKEN_LIFETIME_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=86_400;
/// The allowed `max_verdict_age_secs`: up to 30 days.
pub const MAX_VERDICT_AGE_RANGE_SECS: std::ops::RangeInclusive<u64> = 1..=2_592_000;
/// The allowed `reduced_max_per_install_per_day`. Reduced tokens are issued without evidence,
/// so a cap in the hundreds would defeat the rule; the upper bound catches typos.
pub const REDUCED_MAX_PER_DAY_RANGE: std::ops::RangeInclusive<u64> = 1..=100;
/// Maximum length of a market name, in bytes.
pub const MAX_MARKET_NAME_LEN: usize = 32;

/// Validates `document` (presets already applied) and builds the policy.
pub(crate) fn build(document: Document) -> Result<Policy, PolicyError> {
    let mut problems = Vec::new();

    let mode = match document.mode.as_deref() {
        None => DEFAULT_MODE,
        Some(name) => parse_name(name, &Mode::ALL, Mode::as_str, "mode", &mut problems)
            .unwrap_or(DEFAULT_MODE),
    };
    let default_market = document
        .default_market
        .unwrap_or_else(|| DEFAULT_MARKET.to_owned());
    if let Err(message) = check_market_name(&default_market) {
        problems.push(Problem::new("default_market", message));
    }

    let mut rules = Rules::default();
    apply_patch(&mut rules, &document.rules, "rules", &mut problems);
    let base_problems = check_rules(&rules);
    for (key, message) in &base_problems {
        problems.push(Problem::new(format!("rules.{key}"), message.clone()));
    }

    let mut markets = BTreeMap::new();
    for (name, patch) in &document.markets {
        let prefix = format!("markets.{}", key_segment(name));
        if let Err(message) = check_market_name(name) {
            problems.push(Problem::new(prefix.clone(), message));
        }
        let mut market_rules = rules.clone();
        apply_patch(&mut market_rules, patch, &prefix, &mut problems);
        // A problem the market inherits unchanged from the base rules is reported once, there.
        for (key, message) in check_rules(&market_rules) {
            if !base_problems.contains(&(key.clone(), message.clone())) {
                problems.push(Problem::new(format!("{prefix}.{key}"), message));
            }
        }
        markets.insert(name.clone(), market_rules);
    }

    if problems.is_empty() {
        Ok(Policy {
            mode,
            default_market,
            rules,
            markets,
        })
    } else {
        Err(PolicyError::RulesInvalid { problems })
    }
}

/// Checks a market name: 1 to 32 characters from `a-z`, `0-9`, `_` and `-`.
fn check_market_name(name: &str) -> Result<(), String> {
    let valid = (1..=MAX_MARKET_NAME_LEN).contains(&name.len())
        && name.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid market name {name:?}: use 1 to {MAX_MARKET_NAME_LEN} characters from a-z, 0-9, _ and -"
        ))
    }
}

/// Applies the keys `patch` sets to `rules`. A name that does not parse is reported and left
/// out: a list keeps its other names and a single value keeps what it had.
fn apply_patch(rules: &mut Rules, patch: &RulesPatch, prefix: &str, problems: &mut Vec<Problem>) {
    let path = |key: &str| format!("{prefix}.{key}");

    if let Some(list) = &patch.accepted_providers {
        rules.accepted_providers = parse_providers(list, &path("accepted_providers"), problems);
    }
    if let Some(table) = &patch.required_providers {
        for (platform, list) in [
            (Platform::Android, &table.android),
            (Platform::Ios, &table.ios),
        ] {
            if let Some(list) = list {
                let key = path(&format!("required_providers.{}", platform.as_str()));
                *rules.required_providers.get_mut(platform) = parse_providers(list, &key, problems);
            }
        }
    }
    if let Some(name) = &patch.min_trust {
        let key = path("min_trust");
        if let Some(level) = parse_name(
            name,
            &names::TRUST_LEVELS,
            |level| level.as_str(),
            &key,
            problems,
        ) {
            rules.min_trust = level;
        }
    }
    if let Some(table) = &patch.min_device_integrity {
        for (platform, name) in [
            (Platform::Android, &table.android),
            (Platform::Ios, &table.ios),
        ] {
            if let Some(name) = name {
                let key = path(&format!("min_device_integrity.{}", platform.as_str()));
                let levels = &names::DEVICE_INTEGRITY_LEVELS;
                if let Some(level) =
                    parse_name(name, levels, |level| level.as_str(), &key, problems)
                {
                    *rules.min_device_integrity.get_mut(platform) = level;
                }
            }
        }
    }
    if let Some(value) = patch.require_app_recognized {
        rules.require_app_recognized = value;
    }
    if let Some(list) = &patch.deny_flags {
        let key = path("deny_flags");
        rules.deny_flags = list
            .iter()
            .filter_map(|name| {
                parse_name(
                    name,
                    &names::RISK_FLAGS,
                    |flag| flag.as_str(),
                    &key,
                    problems,
                )
            })
            .collect();
    }
    if let Some(table) = &patch.min_app_version {
        if let Some(code) = table.android {
            // A minimum of zero admits every version, so it is stored as "no minimum".
            rules.min_app_version.android = (code > 0).then_some(code);
        }
        if let Some(text) = &table.ios {
            match text.parse::<BundleVersion>() {
                Ok(version) => {
                    rules.min_app_version.ios = (!version.is_zero()).then_some(version);
                }
                Err(error) => {
                    problems.push(Problem::new(path("min_app_version.ios"), error.to_string()))
                }
            }
        }
    }
    if let Some(value) = patch.token_lifetime_secs {
        rules.token_lifetime_secs = value;
    }
    if let Some(value) = patch.max_verdict_age_secs {
        rules.max_verdict_age_secs = value;
    }
    if let Some(value) = patch.reattest_on_app_version_change {
        rules.reattest_on_app_version_change = value;
    }
    if let Some(name) = &patch.on_provider_unavailable {
        let key = path("on_provider_unavailable");
        if let Some(action) = parse_name(
            name,
            &OutageAction::ALL,
            OutageAction::as_str,
            &key,
            problems,
        ) {
            rules.on_provider_unavailable = action;
        }
    }
    if let Some(list) = &patch.fallback_providers {
        rules.fallback_providers = parse_providers(list, &path("fallback_providers"), problems);
    }
    if let Some(value) = patch.reduced_token_lifetime_secs {
        rules.reduced_token_lifetime_secs = value;
    }
    if let Some(value) = patch.reduced_max_per_install_per_day {
        if REDUCED_MAX_PER_DAY_RANGE.contains(&value) {
            // The range check above keeps the value far below u32::MAX.
            rules.reduced_max_per_install_per_day = u32::try_from(value).unwrap_or(u32::MAX);
        } else {
            problems.push(Problem::new(
                path("reduced_max_per_install_per_day"),
                out_of_range(value, &REDUCED_MAX_PER_DAY_RANGE, ""),
            ));
        }
    }
    if let Some(name) = &patch.rejection_response {
        let key = path("rejection_response");
        if let Some(response) = parse_name(
            name,
            &RejectionResponse::ALL,
            RejectionResponse::as_str,
            &key,
            problems,
        ) {
            rules.rejection_response = response;
        }
    }
}

/// Checks the relations between keys of merged rules. Returns `(key, message)` pairs with keys
/// relative to the rules table.
fn check_rules(rules: &Rules) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut report = |key: &str, message: String| problems.push((key.to_owned(), message));

    if rules.accepted_providers.is_empty() {
        report(
            "accepted_providers",
            "must list at least one provider".to_owned(),
        );
    }
    for platform in Platform::ALL {
        let key = format!("required_providers.{}", platform.as_str());
        for provider in rules.required_providers.get(platform) {
            if !platform.supports(*provider) {
                report(
                    &key,
                    format!(
                        "`{}` is not a provider on {}",
                        provider.as_str(),
                        platform.as_str()
                    ),
                );
            } else if !rules.accepted_providers.contains(provider) {
                report(&key, not_accepted(*provider));
            }
        }
    }
    for provider in &rules.fallback_providers {
        if !rules.accepted_providers.contains(provider) {
            report("fallback_providers", not_accepted(*provider));
        }
    }
    if rules.on_provider_unavailable == OutageAction::Fallback
        && rules.fallback_providers.is_empty()
    {
        report(
            "fallback_providers",
            "must list at least one provider when on_provider_unavailable is \"fallback\""
                .to_owned(),
        );
    }
    let token_lifetime_valid = TOKEN_LIFETIME_RANGE_SECS.contains(&rules.token_lifetime_secs);
    if !token_lifetime_valid {
        report(
            "token_lifetime_secs",
            out_of_range(
                rules.token_lifetime_secs,
                &TOKEN_LIFETIME_RANGE_SECS,
                " seconds",
            ),
        );
    }
    if !TOKEN_LIFETIME_RANGE_SECS.contains(&rules.reduced_token_lifetime_secs) {
        report(
            "reduced_token_lifetime_secs",
            out_of_range(
                rules.reduced_token_lifetime_secs,
                &TOKEN_LIFETIME_RANGE_SECS,
                " seconds",
            ),
        );
    } else if token_lifetime_valid && rules.reduced_token_lifetime_secs > rules.token_lifetime_secs
    {
        report(
            "reduced_token_lifetime_secs",
            format!(
                "{} seconds is longer than token_lifetime_secs ({} seconds)",
                rules.reduced_token_lifetime_secs, rules.token_lifetime_secs
            ),
        );
    }
    if !MAX_VERDICT_AGE_RANGE_SECS.contains(&rules.max_verdict_age_secs) {
        report(
            "max_verdict_age_secs",
            out_of_range(
                rules.max_verdict_age_secs,
                &MAX_VERDICT_AGE_RANGE_SECS,
                " seconds",
            ),
        );
    }
    problems
}

fn parse_providers(list: &[String], key: &str, problems: &mut Vec<Problem>) -> BTreeSet<Provider> {
    list.iter()
        .filter_map(|name| parse_name(name, &names::PROVIDERS, Provider::as_str, key, problems))
        .collect()
}

/// Looks `name` up among `values`, reporting an unknown name with the list of known ones.
fn parse_name<T: Copy>(
    name: &str,
    values: &[T],
    as_str: fn(T) -> &'static str,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let found = names::lookup(values, as_str, name);
    if found.is_none() {
        problems.push(Problem::new(
            key,
            format!(
                "unknown name {name:?}: expected one of {}",
                names::expected(values, as_str)
            ),
        ));
    }
    found
}

fn not_accepted(provider: Provider) -> String {
    format!("`{}` is not in accepted_providers", provider.as_str())
}

fn out_of_range(value: u64, range: &std::ops::RangeInclusive<u64>, unit: &str) -> String {
    format!(
        "{value}{unit} is out of range: use {} to {}{unit}",
        range.start(),
        range.end()
    )
}
