//! A validated policy: presets, parsing, market resolution and canonical output.

use std::collections::BTreeMap;

use crate::document::Document;
use crate::rules::{DEFAULT_MARKET, DEFAULT_MODE, Mode, Rules};
use crate::{PolicyError, render, validate};

/// Names of the built-in presets, in alphabetical order.
pub const PRESET_NAMES: [&str; 4] = ["finance", "monitor", "retail", "strict"];

/// How many presets may start from one another. The built-in chains are at most two deep, so
/// reaching this means a preset names itself through others.
const MAX_PRESET_DEPTH: usize = 4;

/// Returns the commented TOML source of a built-in preset, or `None` for an unknown name.
pub fn preset_source(name: &str) -> Option<&'static str> {
    match name {
        "finance" => Some(include_str!("../presets/finance.toml")),
        "monitor" => Some(include_str!("../presets/monitor.toml")),
        "retail" => Some(include_str!("../presets/retail.toml")),
        "strict" => Some(include_str!("../presets/strict.toml")),
        _ => None,
    }
}

/// A validated policy for one app: the mode, the base rules, and the merged rules of each
/// market.
///
/// A `Policy` only comes from [`Policy::from_toml`], [`Policy::preset`] or [`Policy::default`],
/// so every value in it has passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub(crate) mode: Mode,
    pub(crate) default_market: String,
    pub(crate) rules: Rules,
    pub(crate) markets: BTreeMap<String, Rules>,
}

impl Policy {
    /// Parses a policy document: applies its preset, merges its keys over the preset, merges
    /// each market over the base rules, and validates the result.
    ///
    /// # Errors
    ///
    /// - [`PolicyError::TomlMalformed`] when the text is not TOML, a key is unknown or a value
    ///   has the wrong type. The error names the key and line.
    /// - [`PolicyError::PresetUnknown`] when `preset` names no built-in preset.
    /// - [`PolicyError::RulesInvalid`] with every problem found, each with its key path.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let document = Document::parse(text)?;
        let document = resolve_presets(document, 0)?;
        validate::build(document)
    }

    /// Returns a built-in preset as a policy.
    ///
    /// # Errors
    ///
    /// [`PolicyError::PresetUnknown`] when `name` is not one of [`PRESET_NAMES`].
    pub fn preset(name: &str) -> Result<Self, PolicyError> {
        let Some(source) = preset_source(name) else {
            return Err(PolicyError::PresetUnknown {
                name: name.to_owned(),
            });
        };
        Self::from_toml(source)
    }

    /// Writes the policy as canonical TOML with every key explicit and each market fully
    /// merged, so that two policies can be compared line by line. Parsing the output gives an
    /// equal policy.
    pub fn to_toml(&self) -> String {
        render::policy_toml(self)
    }

    /// Returns the mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Returns the market label used when the server resolves none.
    pub fn default_market(&self) -> &str {
        &self.default_market
    }

    /// Returns the base rules, which apply to every market without a section of its own.
    pub fn base_rules(&self) -> &Rules {
        &self.rules
    }

    /// Returns the merged rules of each market that has a section, by market name.
    pub fn markets(&self) -> &BTreeMap<String, Rules> {
        &self.markets
    }

    /// Returns the label of the market a request belongs to: `market` in lowercase, or the
    /// default market when `market` is `None` or empty.
    pub fn resolve_market(&self, market: Option<&str>) -> String {
        match market {
            Some(market) if !market.is_empty() => market.to_ascii_lowercase(),
            _ => self.default_market.clone(),
        }
    }

    /// Returns the rules for a market: its own merged rules when the policy has a section for
    /// it, else the base rules. `None` stands for the default market.
    pub fn rules_for(&self, market: Option<&str>) -> &Rules {
        let label = self.resolve_market(market);
        self.markets.get(&label).unwrap_or(&self.rules)
    }
}

impl Default for Policy {
    /// Returns the policy of an empty document: enforce mode and the default rules.
    fn default() -> Self {
        Self {
            mode: DEFAULT_MODE,
            default_market: DEFAULT_MARKET.to_owned(),
            rules: Rules::default(),
            markets: BTreeMap::new(),
        }
    }
}

/// Replaces the `preset` key by the preset's own document, with this document's keys on top.
fn resolve_presets(mut document: Document, depth: usize) -> Result<Document, PolicyError> {
    let Some(name) = document.preset.take() else {
        return Ok(document);
    };
    if depth >= MAX_PRESET_DEPTH {
        return Err(PolicyError::PresetChainTooDeep {
            name,
            max_depth: MAX_PRESET_DEPTH,
        });
    }
    let Some(source) = preset_source(&name) else {
        return Err(PolicyError::PresetUnknown { name });
    };
    let mut base = resolve_presets(Document::parse(source)?, depth + 1)?;
    base.overlay(document);
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_document_is_default_policy() {
        assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
    }

    #[test]
    fn market_lookup_ignores_case() {
        let policy = Policy::from_toml("[markets.cn]\nmin_trust = \"software\"\n").unwrap();
        assert_eq!(policy.resolve_market(Some("CN")), "cn");
        assert_eq!(
            policy.rules_for(Some("CN")).min_trust,
            avow_attest::verdict::TrustLevel::Software
        );
        assert_eq!(policy.resolve_market(Some("")), "default");
        assert_eq!(policy.resolve_market(None), "default");
    }

    #[test]
    fn default_market_selects_market_rules() {
        let policy =
            Policy::from_toml("default_market = \"cn\"\n[markets.cn]\nmin_trust = \"software\"\n")
                .unwrap();
        assert_eq!(
            policy.rules_for(None).min_trust,
            avow_attest::verdict::TrustLevel::Software
        );
        assert_eq!(
            policy.rules_for(Some("de")).min_trust,
            avow_attest::verdict::TrustLevel::Platform
        );
    }
}
