//! App versions as the platforms define them: an integer on Android, dotted integers on iOS.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::PolicyError;
use crate::rules::Platform;

/// Maximum number of dot-separated parts in a bundle version.
pub const MAX_BUNDLE_VERSION_PARTS: usize = 8;

/// The version of the app that sent the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppVersion {
    /// An Android `versionCode`.
    Android(u64),
    /// An iOS `CFBundleVersion`.
    Ios(BundleVersion),
}

impl AppVersion {
    /// Returns the platform whose versioning scheme this value uses.
    pub fn platform(&self) -> Platform {
        match self {
            Self::Android(_) => Platform::Android,
            Self::Ios(_) => Platform::Ios,
        }
    }

    /// Compares two versions of the same platform. Returns `None` across platforms.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::Android(left), Self::Android(right)) => Some(left.cmp(right)),
            (Self::Ios(left), Self::Ios(right)) => Some(left.cmp(right)),
            _ => None,
        }
    }
}

impl fmt::Display for AppVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Android(code) => write!(formatter, "{code}"),
            Self::Ios(version) => write!(formatter, "{version}"),
        }
    }
}

/// An iOS bundle version such as `1.2.3`: one to [`MAX_BUNDLE_VERSION_PARTS`] dot-separated
/// decimal integers.
///
/// Versions compare part by part as numbers, so `1.10` is above `1.9`, and missing trailing
/// parts count as zero, so `1.2` equals `1.2.0`. Display prints every part, trailing zeros
/// included, without leading zeros.
#[derive(Clone, Debug)]
pub struct BundleVersion {
    parts: Vec<u64>,
}

impl BundleVersion {
    /// Returns the numeric parts as written.
    pub fn parts(&self) -> &[u64] {
        &self.parts
    }

    /// Returns true when every part is zero, which a policy reads as "no minimum".
    pub(crate) fn is_zero(&self) -> bool {
        self.parts.iter().all(|part| *part == 0)
    }
}

impl FromStr for BundleVersion {
    type Err = PolicyError;

    /// Parses dot-separated decimal integers.
    ///
    /// # Errors
    ///
    /// [`PolicyError::BundleVersionInvalid`] for an empty part, a character other than an ASCII
    /// digit, a part above `u64::MAX`, or more than [`MAX_BUNDLE_VERSION_PARTS`] parts.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || PolicyError::BundleVersionInvalid {
            value: text.to_owned(),
        };
        let mut parts = Vec::new();
        for part in text.split('.') {
            // `u64::from_str` alone would also accept a leading `+`.
            if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid());
            }
            parts.push(part.parse::<u64>().map_err(|_| invalid())?);
        }
        if parts.len() > MAX_BUNDLE_VERSION_PARTS {
            return Err(invalid());
        }
        Ok(Self { parts })
    }
}

impl Ord for BundleVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.parts.len().max(other.parts.len());
        let left = self.parts.iter().copied().chain(std::iter::repeat(0));
        let right = other.parts.iter().copied().chain(std::iter::repeat(0));
        left.zip(right)
            .take(len)
            .map(|(left, right)| left.cmp(&right))
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for BundleVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for BundleVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for BundleVersion {}

impl fmt::Display for BundleVersion {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, part) in self.parts.iter().enumerate() {
            if index > 0 {
                formatter.write_str(".")?;
            }
            write!(formatter, "{part}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> BundleVersion {
        text.parse().unwrap()
    }

    #[test]
    fn bundle_versions_compare_numerically() {
        assert!(version("1.10") > version("1.9"));
        assert!(version("2") > version("1.99.99"));
        assert!(version("1.2.1") > version("1.2"));
        assert_eq!(version("1.2"), version("1.2.0"));
        assert_eq!(version("1.2").cmp(&version("1.2.0.0")), Ordering::Equal);
        assert!(version("0.0.1") > version("0"));
    }

    #[test]
    fn bundle_version_rejects_malformed_text() {
        for text in [
            "",
            "1.",
            ".1",
            "1..2",
            "1.2a",
            "+1",
            "-1",
            " 1",
            "1.2.3.4.5.6.7.8.9",
        ] {
            assert_eq!(
                text.parse::<BundleVersion>(),
                Err(PolicyError::BundleVersionInvalid {
                    value: text.to_owned()
                }),
                "{text:?}"
            );
        }
        assert!("99999999999999999999".parse::<BundleVersion>().is_err());
        assert!("1.2.3.4.5.6.7.8".parse::<BundleVersion>().is_ok());
    }

    #[test]
    fn bundle_version_display_keeps_parts() {
        assert_eq!(version("1.02.0").to_string(), "1.2.0");
        assert_eq!(AppVersion::Android(42).to_string(), "42");
    }

    #[test]
    fn app_versions_compare_within_platform() {
        assert_eq!(
            AppVersion::Android(3).compare(&AppVersion::Android(4)),
            Some(Ordering::Less)
        );
        assert_eq!(
            AppVersion::Android(3).compare(&AppVersion::Ios(version("3"))),
            None
        );
    }
}
