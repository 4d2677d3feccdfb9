//! Host patterns: which hosts a pin set applies to.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::Error;

/// The hosts a pin set applies to.
///
/// Three forms, each written explicitly so that no pattern covers more than its author meant:
///
/// | text | variant | matches |
/// |---|---|---|
/// | `api.example.com` | [`Exact`](Self::Exact) | that host only |
/// | `*.example.com` | [`OneLevel`](Self::OneLevel) | `a.example.com`, not `example.com`, not `a.b.example.com` |
/// | `**.example.com` | [`AnyDepth`](Self::AnyDepth) | `a.example.com`, `a.b.example.com`, not `example.com` |
///
/// Names are compared without regard to ASCII case and with a trailing dot ignored.
/// Internationalised names must be given as A-labels (`xn--…`). An IP address can only be an
/// exact pattern. The stored name is lower case without a trailing dot; for IPv6 it is the
/// compressed form without brackets.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostPattern {
    /// Exactly this host name or IP address.
    Exact(String),
    /// Any host with exactly one more label in front of this domain (`*.domain`).
    OneLevel(String),
    /// Any host with one or more labels in front of this domain (`**.domain`).
    AnyDepth(String),
}

impl HostPattern {
    /// Parses `host`, `*.domain` or `**.domain`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = |detail: &'static str| Error::InvalidHostPattern {
            pattern: text.to_owned(),
            detail,
        };
        if text.is_empty() {
            return Err(invalid("the pattern is empty"));
        }
        if !text.is_ascii() {
            return Err(invalid(
                "internationalised names must be written as A-labels (xn--...)",
            ));
        }
        let unbracketed = text
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Self::Exact(ip.to_string()));
        }
        let lower = text.to_ascii_lowercase();
        let name = lower.strip_suffix('.').unwrap_or(&lower);
        let (wildcard, domain) = if let Some(domain) = name.strip_prefix("**.") {
            (Some(Self::AnyDepth as fn(String) -> Self), domain)
        } else if let Some(domain) = name.strip_prefix("*.") {
            (Some(Self::OneLevel as fn(String) -> Self), domain)
        } else {
            (None, name)
        };
        if domain.contains('*') {
            return Err(invalid(
                "a wildcard is allowed only as the whole first label, as *. or **.",
            ));
        }
        if domain.parse::<IpAddr>().is_ok() {
            return Err(invalid("an IP address cannot have a wildcard"));
        }
        check_dns_name(domain).map_err(invalid)?;
        match wildcard {
            None => Ok(Self::Exact(domain.to_owned())),
            Some(_) if !domain.contains('.') => Err(invalid(
                "a wildcard needs a domain of at least two labels after it",
            )),
            Some(constructor) => Ok(constructor(domain.to_owned())),
        }
    }

    /// Returns the host name or domain the pattern is built on, without any wildcard.
    pub fn domain(&self) -> &str {
        match self {
            Self::Exact(name) | Self::OneLevel(name) | Self::AnyDepth(name) => name,
        }
    }

    /// Returns true for `*.` and `**.` patterns.
    pub fn is_wildcard(&self) -> bool {
        !matches!(self, Self::Exact(_))
    }

    /// Returns true when `host` is covered by this pattern.
    ///
    /// `host` is a host name (A-labels only) or an IP address; a trailing dot and ASCII case
    /// are ignored. A name that is not a valid DNS name matches nothing.
    pub fn matches(&self, host: &str) -> bool {
        if !host.is_ascii() {
            return false;
        }
        let unbracketed = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return match self {
                Self::Exact(name) => name.parse::<IpAddr>().is_ok_and(|own| own == ip),
                Self::OneLevel(_) | Self::AnyDepth(_) => false,
            };
        }
        let lower = host.to_ascii_lowercase();
        let name = lower.strip_suffix('.').unwrap_or(&lower);
        if check_dns_name(name).is_err() {
            return false;
        }
        match self {
            Self::Exact(own) => name == own,
            Self::OneLevel(domain) => {
                subdomain_prefix(name, domain).is_some_and(|prefix| !prefix.contains('.'))
            }
            Self::AnyDepth(domain) => subdomain_prefix(name, domain).is_some(),
        }
    }
}

/// Returns the labels in front of `.domain` in `name`, if `name` is a strict subdomain.
fn subdomain_prefix<'a>(name: &'a str, domain: &str) -> Option<&'a str> {
    let prefix = name.strip_suffix(domain)?.strip_suffix('.')?;
    (!prefix.is_empty()).then_some(prefix)
}

/// Checks a lower-case DNS name without a trailing dot: labels of 1 to 63 letters, digits and
/// hyphens, not starting or ending with a hyphen, 253 characters at most.
fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the host name is empty");
    }
    if name.len() > 253 {
        return Err("the host name is longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("the host name has an empty label");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("a label has a character other than a letter, a digit or '-'");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with '-'");
        }
    }
    Ok(())
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => f.write_str(name),
            Self::OneLevel(domain) => write!(f, "*.{domain}"),
            Self::AnyDepth(domain) => write!(f, "**.{domain}"),
        }
    }
}

impl FromStr for HostPattern {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl serde::Serialize for HostPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HostPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> HostPattern {
        HostPattern::parse(text).unwrap()
    }

    #[test]
    fn exact_matches_only_itself() {
        let p = pattern("API.Example.com.");
        assert_eq!(p, HostPattern::Exact("api.example.com".into()));
        assert!(p.matches("api.example.com"));
        assert!(p.matches("API.EXAMPLE.COM."));
        assert!(!p.matches("a.api.example.com"));
        assert!(!p.matches("example.com"));
    }

    #[test]
    fn one_level_matches_exactly_one_extra_label() {
        let p = pattern("*.example.com");
        assert_eq!(p.to_string(), "*.example.com");
        assert!(p.matches("a.example.com"));
        assert!(p.matches("A.example.com."));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("a.b.example.com"));
        assert!(!p.matches("aexample.com"));
    }

    #[test]
    fn any_depth_matches_one_or_more_labels() {
        let p = pattern("**.example.com");
        assert_eq!(p.to_string(), "**.example.com");
        assert!(p.matches("a.example.com"));
        assert!(p.matches("a.b.c.example.com"));
        assert!(!p.matches("example.com"));
        assert!(!p.matches("badexample.com"));
    }

    #[test]
    fn ip_addresses_are_exact_only() {
        let p = pattern("[::1]");
        assert_eq!(p.to_string(), "::1");
        assert!(p.matches("::1"));
        assert!(p.matches("[0:0:0:0:0:0:0:1]"));
        assert!(pattern("127.0.0.1").matches("127.0.0.1"));
        assert!(!pattern("127.0.0.1").matches("127.0.0.2"));
        assert!(HostPattern::parse("*.127.0.0.1").is_err());
        assert!(!pattern("**.example.com").matches("127.0.0.1"));
    }

    #[test]
    fn unclear_patterns_are_rejected() {
        for text in [
            "",
            "*",
            "*.com",
            "**.com",
            "a.*.example.com",
            "api*.example.com",
            "***.example.com",
            "bücher.example",
            "under_score.example.com",
            "-a.example.com",
            "a..example.com",
        ] {
            let err = HostPattern::parse(text).unwrap_err();
            assert_eq!(err.reason(), "invalid_host_pattern", "{text}");
        }
    }

    #[test]
    fn idna_a_labels_only() {
        let p = pattern("xn--bcher-kva.example");
        assert!(p.matches("XN--BCHER-KVA.example"));
        assert!(!p.matches("bücher.example"));
    }

    #[test]
    fn serde_uses_the_text_form() {
        let p = pattern("**.example.com");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"**.example.com\"");
        assert_eq!(serde_json::from_str::<HostPattern>(&json).unwrap(), p);
        assert!(serde_json::from_str::<HostPattern>("\"*\"").is_err());
    }
}
