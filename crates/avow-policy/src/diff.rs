//! Differences between two expanded policies, for `avow policy diff`.

use std::collections::BTreeSet;
use std::fmt;

use crate::Policy;
use crate::render::{rules_entries, top_level_entries};

/// Text of a market entry that exists on one side only.
const MARKET_DEFINED: &str = "defined";
const MARKET_UNDEFINED: &str = "not defined";

/// One key whose value differs, with both values written as in [`Policy::to_toml`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The dotted key path, such as `rules.min_trust` or `markets.cn.accepted_providers`.
    pub path: String,
    /// The value in the old policy.
    pub old: String,
    /// The value in the new policy.
    pub new: String,
}

impl fmt::Display for Change {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {} -> {}", self.path, self.old, self.new)
    }
}

/// Lists every key whose effective value differs between `old` and `new`.
///
/// Both policies are compared fully expanded: top-level keys, then the base rules, then the
/// merged rules of every market either policy defines, by name. A market defined on one side
/// only is reported as `markets.NAME` (`defined` or `not defined`), and its keys are compared
/// with the base rules of the other side, which are what that market gets there.
pub fn diff(old: &Policy, new: &Policy) -> Vec<Change> {
    let mut changes = Vec::new();
    compare(
        &mut changes,
        "",
        top_level_entries(old),
        top_level_entries(new),
    );
    compare(
        &mut changes,
        "rules.",
        rules_entries(&old.rules),
        rules_entries(&new.rules),
    );

    let names: BTreeSet<&String> = old.markets.keys().chain(new.markets.keys()).collect();
    for name in names {
        let in_old = old.markets.contains_key(name);
        let in_new = new.markets.contains_key(name);
        if in_old != in_new {
            changes.push(Change {
                path: format!("markets.{name}"),
                old: presence(in_old).to_owned(),
                new: presence(in_new).to_owned(),
            });
        }
        compare(
            &mut changes,
            &format!("markets.{name}."),
            rules_entries(old.rules_for(Some(name))),
            rules_entries(new.rules_for(Some(name))),
        );
    }
    changes
}

fn presence(defined: bool) -> &'static str {
    if defined {
        MARKET_DEFINED
    } else {
        MARKET_UNDEFINED
    }
}

/// Appends a change for each key whose values differ. Both lists have the same keys in the
/// same order, because the same function wrote them.
fn compare(
    changes: &mut Vec<Change>,
    prefix: &str,
    old: Vec<(&'static str, String)>,
    new: Vec<(&'static str, String)>,
) {
    for ((key, old_value), (_, new_value)) in old.into_iter().zip(new) {
        if old_value != new_value {
            changes.push(Change {
                path: format!("{prefix}{key}"),
                old: old_value,
                new: new_value,
            });
        }
    }
}
