//! The policy document as written: every key optional, names still text. Validation turns it
//! into typed [`Rules`](crate::Rules) in `validate.rs`.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use crate::PolicyError;

/// A parsed policy document before presets are applied.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    pub(crate) preset: Option<String>,
    pub(crate) mode: Option<String>,
    pub(crate) default_market: Option<String>,
    #[serde(default)]
    pub(crate) rules: RulesPatch,
    #[serde(default)]
    pub(crate) markets: BTreeMap<String, RulesPatch>,
}

/// The keys of `[rules]` and of each `[markets.NAME]` table.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesPatch {
    pub(crate) accepted_providers: Option<Vec<String>>,
    pub(crate) required_providers: Option<PlatformPatch<Vec<String>>>,
    pub(crate) min_trust: Option<String>,
    pub(crate) min_device_integrity: Option<PlatformPatch<String>>,
    pub(crate) require_app_recognized: Option<bool>,
    pub(crate) deny_flags: Option<Vec<String>>,
    pub(crate) min_app_version: Option<MinAppVersionPatch>,
    pub(crate) token_lifetime_secs: Option<u64>,
    pub(crate) max_verdict_age_secs: Option<u64>,
    pub(crate) reattest_on_app_version_change: Option<bool>,
    pub(crate) on_provider_unavailable: Option<String>,
    pub(crate) fallback_providers: Option<Vec<String>>,
    pub(crate) reduced_token_lifetime_secs: Option<u64>,
    pub(crate) reduced_max_per_install_per_day: Option<u64>,
    pub(crate) rejection_response: Option<String>,
}

/// A per-platform table such as `{ android = "device", ios = "strong" }`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformPatch<T> {
    pub(crate) android: Option<T>,
    pub(crate) ios: Option<T>,
}

/// `min_app_version`: an Android version code and an iOS bundle version.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MinAppVersionPatch {
    pub(crate) android: Option<u64>,
    pub(crate) ios: Option<String>,
}

impl Document {
    /// Parses a document, locating the key of any error.
    pub(crate) fn parse(text: &str) -> Result<Self, PolicyError> {
        toml::from_str(text).map_err(|error| {
            let span = error.span();
            let key = span.as_ref().and_then(|span| locate_key(text, span));
            let line = span.map_or(0, |span| line_of(text, span.start));
            PolicyError::TomlMalformed {
                key,
                line,
                message: error.message().trim_end().to_owned(),
            }
        })
    }

    /// Applies `over` on top of this document: keys it sets win, market tables merge by name.
    /// The `preset` key is left alone, because presets are resolved before overlaying.
    pub(crate) fn overlay(&mut self, over: Self) {
        overlay_option(&mut self.mode, over.mode);
        overlay_option(&mut self.default_market, over.default_market);
        self.rules.overlay(over.rules);
        for (name, patch) in over.markets {
            self.markets.entry(name).or_default().overlay(patch);
        }
    }
}

impl RulesPatch {
    fn overlay(&mut self, over: Self) {
        overlay_option(&mut self.accepted_providers, over.accepted_providers);
        overlay_platforms(&mut self.required_providers, over.required_providers);
        overlay_option(&mut self.min_trust, over.min_trust);
        overlay_platforms(&mut self.min_device_integrity, over.min_device_integrity);
        overlay_option(
            &mut self.require_app_recognized,
            over.require_app_recognized,
        );
        overlay_option(&mut self.deny_flags, over.deny_flags);
        if let Some(over) = over.min_app_version {
            let base = self.min_app_version.get_or_insert_with(Default::default);
            overlay_option(&mut base.android, over.android);
            overlay_option(&mut base.ios, over.ios);
        }
        overlay_option(&mut self.token_lifetime_secs, over.token_lifetime_secs);
        overlay_option(&mut self.max_verdict_age_secs, over.max_verdict_age_secs);
        overlay_option(
            &mut self.reattest_on_app_version_change,
            over.reattest_on_app_version_change,
        );
        overlay_option(
            &mut self.on_provider_unavailable,
            over.on_provider_unavailable,
        );
        overlay_option(&mut self.fallback_providers, over.fallback_providers);
        overlay_option(
            &mut self.reduced_token_lifetime_secs,
            over.reduced_token_lifetime_secs,
        );
        overlay_option(
            &mut self.reduced_max_per_install_per_day,
            over.reduced_max_per_install_per_day,
        );
        overlay_option(&mut self.rejection_response, over.rejection_response);
    }
}

fn overlay_option<T>(base: &mut Option<T>, over: Option<T>) {
    if over.is_some() {
        *base = over;
    }
}

/// Merges per-platform tables platform by platform, so an override that names only `android`
/// keeps the `ios` value underneath.
fn overlay_platforms<T>(base: &mut Option<PlatformPatch<T>>, over: Option<PlatformPatch<T>>) {
    if let Some(over) = over {
        let base = base.get_or_insert_with(|| PlatformPatch {
            android: None,
            ios: None,
        });
        overlay_option(&mut base.android, over.android);
        overlay_option(&mut base.ios, over.ios);
    }
}

/// Returns the 1-based line that contains byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.bytes().take(end).filter(|byte| *byte == b'\n').count() + 1
}

/// Finds the dotted path of the innermost key whose name or value contains `span`.
///
/// The serde error carries only a byte span, so the text is parsed a second time into a
/// spanned tree and walked. Returns `None` when the text is not TOML at all.
fn locate_key(text: &str, span: &Range<usize>) -> Option<String> {
    let root = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    walk_table(root.get_ref(), span, &mut path);
    if path.is_empty() {
        None
    } else {
        Some(path.join("."))
    }
}

fn walk_table(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
    for (key, value) in table {
        let in_key = contains(&key.span(), span);
        let in_value = contains(&value.span(), span);
        // A table opened by a `[header]` may have an empty value span, so descend into every
        // table and keep the path only when something inside matches.
        path.push(key_segment(key.get_ref()));
        if walk_value(value.get_ref(), span, path) || in_key || in_value {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_value(value: &DeValue<'_>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
    match value {
        DeValue::Table(table) => walk_table(table, span, path),
        DeValue::Array(items) => items.iter().any(|item| {
            matches!(item.get_ref(), DeValue::Table(_)) && walk_value(item.get_ref(), span, path)
        }),
        _ => false,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end && outer.start < outer.end
}

/// Writes one key of a dotted path, quoting it when it is not a bare TOML key.
pub(crate) fn key_segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> PolicyError {
        Document::parse(text).unwrap_err()
    }

    fn located(text: &str) -> (Option<String>, usize) {
        match error_of(text) {
            PolicyError::TomlMalformed { key, line, .. } => (key, line),
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn unknown_key_is_located() {
        let (key, line) = located("mode = \"enforce\"\n[rules]\nmin_trusts = \"platform\"\n");
        assert_eq!(key.as_deref(), Some("rules.min_trusts"));
        assert_eq!(line, 3);
    }

    #[test]
    fn wrong_type_in_market_is_located() {
        let (key, line) = located("[markets.cn]\ntoken_lifetime_secs = \"long\"\n");
        assert_eq!(key.as_deref(), Some("markets.cn.token_lifetime_secs"));
        assert_eq!(line, 2);
    }

    #[test]
    fn inline_table_key_is_located() {
        let (key, _) = located("[rules]\nmin_device_integrity = { andriod = \"device\" }\n");
        assert_eq!(key.as_deref(), Some("rules.min_device_integrity.andriod"));
    }

    #[test]
    fn negative_number_is_located() {
        let (key, _) = located("[rules]\nmin_app_version = { android = -4 }\n");
        assert_eq!(key.as_deref(), Some("rules.min_app_version.android"));
    }

    #[test]
    fn syntax_error_has_line() {
        let (key, line) = located("mode = \"enforce\"\nrules = [\n");
        assert_eq!(key, None);
        assert!(line >= 2, "line {line}");
    }

    #[test]
    fn message_names_key() {
        let text = error_of("[rules]\nsurprise = 1\n").to_string();
        assert!(text.contains("key `rules.surprise`"), "{text}");
        assert!(text.contains("unknown field `surprise`"), "{text}");
    }

    #[test]
    fn overlay_merges_platform_tables() {
        let mut base = Document::parse(
            "[rules]\nmin_device_integrity = { android = \"device\", ios = \"strong\" }\n",
        )
        .unwrap();
        let over = Document::parse(
            "[rules]\nmin_device_integrity = { android = \"basic\" }\n[markets.cn]\nmin_trust = \"software\"\n",
        )
        .unwrap();
        base.overlay(over);
        let table = base.rules.min_device_integrity.unwrap();
        assert_eq!(table.android.as_deref(), Some("basic"));
        assert_eq!(table.ios.as_deref(), Some("strong"));
        assert_eq!(base.markets["cn"].min_trust.as_deref(), Some("software"));
    }

    #[test]
    fn key_segments_quote_when_needed() {
        assert_eq!(key_segment("cn"), "cn");
        assert_eq!(key_segment("south east"), "\"south east\"");
        assert_eq!(key_segment(""), "\"\"");
    }
}
