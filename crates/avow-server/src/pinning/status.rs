//! The status of an API domain: its live chain judged against the published pins.

use avow_pinning::Pin;
use serde::Serialize;

use super::probe::{LiveChain, ProbeError};

/// The status of one live check, from best to worst as an operator reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainStatus {
    /// The chain validates, its path has a published pin (or nothing is published for the
    /// host yet), and nothing expires within the warning window.
    Ok,
    /// The chain validates and has a published pin, but a certificate on the path or the
    /// published pin set expires within the warning window.
    ExpiringSoon,
    /// The chain validates, but no certificate on its path has a pin of the published
    /// document: apps that enforce the document reject the server.
    Mismatch,
    /// The served chain does not validate against the domain's trust store.
    InvalidChain,
    /// No TLS handshake could be made.
    Unreachable,
}

impl DomainStatus {
    /// Every status, as metric label values.
    pub const ALL: [&'static str; 5] = [
        "ok",
        "expiring_soon",
        "mismatch",
        "invalid_chain",
        "unreachable",
    ];

    /// Returns the snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ExpiringSoon => "expiring_soon",
            Self::Mismatch => "mismatch",
            Self::InvalidChain => "invalid_chain",
            Self::Unreachable => "unreachable",
        }
    }
}

/// The pins a published document holds for one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPins {
    /// The document version.
    pub version: u64,
    /// The pins apps accept for the host.
    pub pins: Vec<Pin>,
    /// When apps stop using them: the earlier of the domain's and the document's expiry, Unix
    /// seconds.
    pub expires_at: i64,
}

/// The outcome of a live check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// The status.
    pub status: DomainStatus,
    /// A readable explanation.
    pub detail: String,
    /// The earliest `notAfter` on the validated path.
    pub earliest_not_after: Option<i64>,
    /// The earliest of that `notAfter` and the published pins' expiry, when either is known.
    pub earliest_expiry: Option<i64>,
}

/// Judges a probe's outcome at `now` against the published pins of the domain, with
/// `warning_secs` as the expiry warning window.
pub fn assess(
    probe: Result<&LiveChain, &ProbeError>,
    published: Option<&PublishedPins>,
    now: i64,
    warning_secs: i64,
) -> Assessment {
    let live = match probe {
        Ok(live) => live,
        Err(error) => {
            return Assessment {
                status: DomainStatus::Unreachable,
                detail: error.to_string(),
                earliest_not_after: None,
                earliest_expiry: published.map(|published| published.expires_at),
            };
        }
    };
    let earliest_not_after = live.earliest_not_after();
    let earliest_expiry = match (earliest_not_after, published) {
        (Some(not_after), Some(published)) => Some(not_after.min(published.expires_at)),
        (Some(not_after), None) => Some(not_after),
        (None, Some(published)) => Some(published.expires_at),
        (None, None) => None,
    };
    let path = match &live.validation {
        Ok(path) => path,
        Err(error) => {
            return Assessment {
                status: DomainStatus::InvalidChain,
                detail: format!("{error} ({})", error.reason()),
                earliest_not_after,
                earliest_expiry,
            };
        }
    };

    let mut notes = Vec::new();
    match published {
        Some(published) if !published.pins.iter().any(|pin| path.contains_pin(pin)) => {
            return Assessment {
                status: DomainStatus::Mismatch,
                detail: format!(
                    "no certificate on the validated path has a pin of published version {}; \
                     apps that enforce it reject this server",
                    published.version
                ),
                earliest_not_after,
                earliest_expiry,
            };
        }
        Some(published) => {
            if published.expires_at <= now + warning_secs {
                notes.push(format!(
                    "the published pins expire in {}",
                    describe_duration(published.expires_at - now)
                ));
            }
        }
        None => notes.push("no published pins for this host yet".to_owned()),
    }
    if let Some(not_after) = earliest_not_after
        && not_after <= now + warning_secs
    {
        let subject = path
            .certificates()
            .iter()
            .filter(|certificate| {
                certificate
                    .not_after
                    .and_then(|value| i64::try_from(value).ok())
                    == Some(not_after)
            })
            .map(|certificate| certificate.subject.as_str())
            .next()
            .unwrap_or("a certificate");
        notes.insert(
            0,
            format!(
                "{subject} on the validated path expires in {}",
                describe_duration(not_after - now)
            ),
        );
    }
    let expiring = earliest_expiry.is_some_and(|expiry| expiry <= now + warning_secs);
    Assessment {
        status: if expiring {
            DomainStatus::ExpiringSoon
        } else {
            DomainStatus::Ok
        },
        detail: notes.join("; "),
        earliest_not_after,
        earliest_expiry,
    }
}

/// Writes a duration in whole days, or hours under two days.
fn describe_duration(seconds: i64) -> String {
    if seconds <= 0 {
        "0 hours (expired)".to_owned()
    } else if seconds < 2 * 86_400 {
        format!("{} hours", seconds / 3600)
    } else {
        format!("{} days", seconds / 86_400)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use avow_pinning::TrustStore;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;
    use crate::pinning::probe::inspect;

    const DAY: i64 = 86_400;

    /// A CA and a leaf for `host`, valid from `not_before` for `days` days.
    struct TestChain {
        ca_pem: String,
        leaf_der: Vec<u8>,
        ca_pin: Pin,
        leaf_pin: Pin,
    }

    fn chain(host: &str, not_before: i64, days: i64) -> TestChain {
        chain_from("Status Test CA", host, not_before, days)
    }

    fn chain_from(ca_name: &str, host: &str, not_before: i64, days: i64) -> TestChain {
        let start = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
        let end = start + time::Duration::days(days);
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        ca_params.not_before = start;
        ca_params.not_after = end + time::Duration::days(365);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params = CertificateParams::new(vec![host.to_owned()]).unwrap();
        leaf_params.not_before = start;
        leaf_params.not_after = end;
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        TestChain {
            ca_pem: ca.pem(),
            leaf_der: leaf.der().to_vec(),
            ca_pin: Pin::from_certificate_der(ca.der()).unwrap(),
            leaf_pin: Pin::from_certificate_der(leaf.der()).unwrap(),
        }
    }

    fn live(chain: &TestChain, host: &str, now: i64) -> Result<LiveChain, ProbeError> {
        let trust = TrustStore::from_pem(chain.ca_pem.as_bytes()).unwrap();
        Ok(inspect(
            vec![chain.leaf_der.clone().into()],
            &trust,
            host,
            now,
        ))
    }

    fn published(pins: Vec<Pin>, expires_at: i64) -> PublishedPins {
        PublishedPins {
            version: 4,
            pins,
            expires_at,
        }
    }

    const NOW: i64 = 1_750_000_000;

    #[test]
    fn pinned_path_far_from_expiry_is_ok() {
        let chain = chain("api.test", NOW - DAY, 90);
        let probe = live(&chain, "api.test", NOW);
        let pins = published(
            vec![chain.ca_pin, Pin::from_digest([1; 32])],
            NOW + 60 * DAY,
        );

        let assessment = assess(probe.as_ref(), Some(&pins), NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::Ok, "{assessment:?}");
        assert_eq!(assessment.earliest_not_after, Some(NOW + 89 * DAY));
        assert_eq!(assessment.earliest_expiry, Some(NOW + 60 * DAY));
    }

    #[test]
    fn path_without_published_pin_is_mismatch() {
        let chain = chain("api.test", NOW - DAY, 90);
        let probe = live(&chain, "api.test", NOW);
        let pins = published(
            vec![Pin::from_digest([1; 32]), Pin::from_digest([2; 32])],
            NOW + 60 * DAY,
        );

        let assessment = assess(probe.as_ref(), Some(&pins), NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::Mismatch, "{assessment:?}");
        assert!(
            assessment.detail.contains("version 4"),
            "{}",
            assessment.detail
        );
    }

    #[test]
    fn leaf_expiring_within_window_is_expiring_soon() {
        let chain = chain("api.test", NOW - 80 * DAY, 90);
        let probe = live(&chain, "api.test", NOW);
        let pins = published(vec![chain.leaf_pin, chain.ca_pin], NOW + 60 * DAY);

        let assessment = assess(probe.as_ref(), Some(&pins), NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::ExpiringSoon);
        assert!(
            assessment.detail.contains("expires in 10 days"),
            "{}",
            assessment.detail
        );
    }

    #[test]
    fn published_pins_expiring_is_expiring_soon() {
        let chain = chain("api.test", NOW - DAY, 365);
        let probe = live(&chain, "api.test", NOW);
        let pins = published(vec![chain.ca_pin, chain.leaf_pin], NOW + 3 * DAY);

        let assessment = assess(probe.as_ref(), Some(&pins), NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::ExpiringSoon);
        assert_eq!(assessment.earliest_expiry, Some(NOW + 3 * DAY));
        assert!(
            assessment
                .detail
                .contains("published pins expire in 3 days"),
            "{}",
            assessment.detail
        );
    }

    #[test]
    fn chain_from_unknown_ca_is_invalid_chain() {
        let chain_one = chain("api.test", NOW - DAY, 90);
        let chain_two = chain_from("Other Test CA", "api.test", NOW - DAY, 90);
        let trust = TrustStore::from_pem(chain_two.ca_pem.as_bytes()).unwrap();
        let probe = Ok(inspect(
            vec![chain_one.leaf_der.into()],
            &trust,
            "api.test",
            NOW,
        ));

        let assessment = assess(probe.as_ref(), None, NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::InvalidChain);
        assert!(
            assessment.detail.contains("unknown_issuer"),
            "{}",
            assessment.detail
        );
    }

    #[test]
    fn failed_probe_is_unreachable() {
        let probe = Err(ProbeError::Timeout {
            address: "127.0.0.1:1".to_owned(),
            timeout_ms: Duration::from_secs(1).as_millis(),
        });

        let assessment = assess(probe.as_ref(), None, NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::Unreachable);
        assert!(
            assessment.detail.contains("127.0.0.1:1"),
            "{}",
            assessment.detail
        );
    }

    #[test]
    fn nothing_published_is_ok_with_note() {
        let chain = chain("api.test", NOW - DAY, 90);
        let probe = live(&chain, "api.test", NOW);

        let assessment = assess(probe.as_ref(), None, NOW, 21 * DAY);

        assert_eq!(assessment.status, DomainStatus::Ok);
        assert!(
            assessment.detail.contains("no published pins"),
            "{}",
            assessment.detail
        );
    }
}
