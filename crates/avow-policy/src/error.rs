use std::fmt;

/// Reasons a policy document or a value for the engine is rejected.
///
/// Each variant names the check that failed, and every message names the key it concerns, so an
/// operator can find the line to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// An iOS bundle version is not one to eight dot-separated decimal integers.
    #[error("invalid bundle version {value:?}: expected dot-separated integers such as \"1.2.3\"")]
    BundleVersionInvalid {
        /// The text received.
        value: String,
    },
    /// Presets start from other presets more levels deep than allowed, which means a cycle.
    #[error("preset `{name}` starts from presets more than {max_depth} levels deep")]
    PresetChainTooDeep {
        /// The preset at which the limit was reached.
        name: String,
        /// The maximum nesting.
        max_depth: usize,
    },
    /// The `preset` key names no built-in preset.
    #[error("unknown preset `{name}` at key `preset`: expected one of {}", crate::PRESET_NAMES.join(", "))]
    PresetUnknown {
        /// The name received.
        name: String,
    },
    /// The document parsed, but one or more values break a rule. Every problem found is listed.
    #[error("invalid policy: {}", ProblemList(problems))]
    RulesInvalid {
        /// Every problem found, each with its key path.
        problems: Vec<Problem>,
    },
    /// The text is not TOML, or a key or value does not fit the policy document.
    #[error("{}", describe_malformed(key.as_deref(), *line, message))]
    TomlMalformed {
        /// The dotted key path at the error, when it could be located.
        key: Option<String>,
        /// The 1-based line of the error, or 0 when the parser gave no position.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// One problem found while validating a policy, with the dotted key path it concerns, such as
/// `markets.cn.accepted_providers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key path.
    pub path: String,
    /// What is wrong, in lowercase without a trailing full stop.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "`{}`: {}", self.path, self.message)
    }
}

/// Joins problems with "; " for the one-line error message.
struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str("; ")?;
            }
            write!(formatter, "{problem}")?;
        }
        Ok(())
    }
}

fn describe_malformed(key: Option<&str>, line: usize, message: &str) -> String {
    let mut text = String::from("invalid policy toml");
    if line > 0 {
        text.push_str(&format!(" at line {line}"));
    }
    if let Some(key) = key {
        text.push_str(&format!(", key `{key}`"));
    }
    text.push_str(": ");
    text.push_str(message);
    text
}
