//! In-process counters and gauges, served at `GET /metrics` in the Prometheus text exposition
//! format 0.0.4.
//!
//! Every metric is declared once as a [`Descriptor`] constant below, and the server records
//! values through the typed methods of [`Metrics`] (`decision`, `would_deny`, …).
//!
//! # Label cardinality
//!
//! Each distinct set of label values is a time series that Prometheus stores for as long as the
//! process runs. Label values must therefore come from bounded sets: the ids of registered apps
//! (read from the database), provider names, and the fixed snake_case reason codes of the
//! server. Callers must never pass text that a client controls, such as the `app_id` of a
//! request whose app was not found, a header or an error message. As a safety net, a family
//! keeps at most [`MAX_SERIES_PER_FAMILY`] series; updates of further label sets are dropped
//! and counted in `avow_metrics_dropped_series_total`.
//!
//! The endpoint needs no credentials, like `/healthz`. It shows app ids and quota use, so
//! operators who consider those private should expose it only to their monitoring network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Maximum number of series in one family. Updates of further label sets are dropped.
pub const MAX_SERIES_PER_FAMILY: usize = 10_000;

/// The kind of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A value that only goes up. Its name ends in `_total`.
    Counter,
    /// A value that is set to the current reading.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// The declaration of a metric family: name, help text, kind and label names.
#[derive(Debug)]
pub struct Descriptor {
    /// The metric name.
    pub name: &'static str,
    /// One line that describes what is measured, shown as `# HELP`.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// The label names, in the order in which values are passed and printed.
    pub labels: &'static [&'static str],
}

/// Token decisions.
pub const DECISIONS: Descriptor = Descriptor {
    name: "avow_decisions_total",
    help: "Attestation and refresh decisions by app, providers, outcome and reason.",
    kind: Kind::Counter,
    labels: &["app", "provider", "outcome", "reason"],
};

/// Denials that monitor mode turned into allows.
pub const MONITOR_WOULD_DENY: Descriptor = Descriptor {
    name: "avow_monitor_would_deny_total",
    help: "Requests that policy would have denied, allowed because the app is in monitor mode.",
    kind: Kind::Counter,
    labels: &["app", "reason"],
};

/// Provider calls that failed without a verdict.
pub const PROVIDER_OUTAGES: Descriptor = Descriptor {
    name: "avow_provider_outages_total",
    help: "Provider calls that produced no verdict (timeout, unavailable, quota exceeded).",
    kind: Kind::Counter,
    labels: &["provider", "reason"],
};

/// Provider quota used in the current period.
pub const PROVIDER_QUOTA_USED: Descriptor = Descriptor {
    name: "avow_provider_quota_used",
    help: "Provider calls counted against the quota of the current period.",
    kind: Kind::Gauge,
    labels: &["provider", "app"],
};

/// Provider quota limit of the current period.
pub const PROVIDER_QUOTA_LIMIT: Descriptor = Descriptor {
    name: "avow_provider_quota_limit",
    help: "Provider calls allowed in the current period.",
    kind: Kind::Gauge,
    labels: &["provider", "app"],
};

/// Rejected nonces.
pub const NONCE_REJECTIONS: Descriptor = Descriptor {
    name: "avow_nonce_rejections_total",
    help: "Nonces rejected by reason (expired, replayed, unknown, app_mismatch, ...).",
    kind: Kind::Counter,
    labels: &["reason"],
};

/// Issued tokens.
pub const TOKENS_ISSUED: Descriptor = Descriptor {
    name: "avow_tokens_issued_total",
    help: "Tokens issued by app and by the route that issued them.",
    kind: Kind::Counter,
    labels: &["app", "via"],
};

/// Consumptions of limited-use tokens.
pub const TOKEN_CONSUMPTIONS: Descriptor = Descriptor {
    name: "avow_token_consumptions_total",
    help: "Limited-use tokens by app, route (consume, check) and outcome (consumed, already_used).",
    kind: Kind::Counter,
    labels: &["app", "via", "outcome"],
};

/// The status of each API domain's latest live check.
pub const PIN_DOMAIN_STATUS: Descriptor = Descriptor {
    name: "avow_pin_domain_status",
    help: "Latest live check of each API domain: 1 for its current status, 0 for the others.",
    kind: Kind::Gauge,
    labels: &["app", "host", "status"],
};

/// Seconds left before the earliest expiry that matters to a domain's pins.
pub const PIN_DOMAIN_EXPIRY: Descriptor = Descriptor {
    name: "avow_pin_domain_expiry_seconds",
    help: "Seconds from the latest live check until a validated-path certificate or the published pin document expires, whichever is first (0 once expired).",
    kind: Kind::Gauge,
    labels: &["app", "host"],
};

/// Pin-failure reports received.
pub const PIN_REPORTS: Descriptor = Descriptor {
    name: "avow_pin_reports_total",
    help: "Pin-failure reports by app and outcome (counted, dropped, rate_limited, invalid).",
    kind: Kind::Counter,
    labels: &["app", "outcome"],
};

/// Label sets dropped because their family reached [`MAX_SERIES_PER_FAMILY`].
pub const DROPPED_SERIES: Descriptor = Descriptor {
    name: "avow_metrics_dropped_series_total",
    help: "Metric updates dropped because their family reached its series limit.",
    kind: Kind::Counter,
    labels: &["metric"],
};

/// The outcome of a decision, the `outcome` label of `avow_decisions_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionOutcome {
    /// A full-trust token was issued.
    Allow,
    /// The request was rejected.
    Deny,
    /// A reduced-trust token was issued, for example during a provider outage.
    Reduced,
}

impl DecisionOutcome {
    /// Returns the label value: `allow`, `deny` or `reduced`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Reduced => "reduced",
        }
    }
}

/// The outcome of a limited-use token's consumption, the `outcome` label of
/// `avow_token_consumptions_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// The token was used before and is rejected.
    AlreadyUsed,
    /// The token's first use: it is now consumed.
    Consumed,
}

impl ConsumeOutcome {
    /// Returns the label value: `already_used` or `consumed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AlreadyUsed => "already_used",
            Self::Consumed => "consumed",
        }
    }
}

#[derive(Debug)]
struct Family {
    descriptor: &'static Descriptor,
    /// Values by label values, in the order of `descriptor.labels`.
    series: BTreeMap<Vec<String>, u64>,
}

/// A registry of metric families, safe to share between threads.
///
/// Updates take a short lock on one map and never await while holding it.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

impl Metrics {
    /// Creates an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates the registry of a server: the server's metric families are listed from the
    /// start, with their help and type lines, so a scraper finds every name before the first
    /// event.
    pub fn for_server() -> Self {
        let metrics = Self::default();
        {
            let mut families = metrics.lock();
            for descriptor in [
                &DECISIONS,
                &MONITOR_WOULD_DENY,
                &PROVIDER_OUTAGES,
                &PROVIDER_QUOTA_USED,
                &PROVIDER_QUOTA_LIMIT,
                &NONCE_REJECTIONS,
                &TOKENS_ISSUED,
                &TOKEN_CONSUMPTIONS,
                &PIN_DOMAIN_STATUS,
                &PIN_DOMAIN_EXPIRY,
                &PIN_REPORTS,
            ] {
                families.entry(descriptor.name).or_insert_with(|| Family {
                    descriptor,
                    series: BTreeMap::new(),
                });
            }
        }
        metrics
    }

    /// Counts one decision. `providers` names the provider, or the providers joined with `+`
    /// when several were combined. `reason` is a fixed reason code, such as `ok` or the reason
    /// of the rejection.
    pub fn decision(
        &self,
        app_id: &str,
        providers: &str,
        outcome: DecisionOutcome,
        reason: &'static str,
    ) {
        self.increment(
            &DECISIONS,
            &[app_id, providers, outcome.as_str(), reason],
            1,
        );
    }

    /// Counts a denial that monitor mode turned into an allow.
    pub fn would_deny(&self, app_id: &str, reason: &'static str) {
        self.increment(&MONITOR_WOULD_DENY, &[app_id, reason], 1);
    }

    /// Counts a provider call that produced no verdict.
    pub fn provider_outage(&self, provider: &str, reason: &'static str) {
        self.increment(&PROVIDER_OUTAGES, &[provider, reason], 1);
    }

    /// Records the quota use and limit of a provider for an app.
    pub fn quota(&self, provider: &str, app_id: &str, used: u64, limit: u64) {
        self.set(&PROVIDER_QUOTA_USED, &[provider, app_id], used);
        self.set(&PROVIDER_QUOTA_LIMIT, &[provider, app_id], limit);
    }

    /// Counts a rejected nonce.
    pub fn nonce_rejected(&self, reason: &'static str) {
        self.increment(&NONCE_REJECTIONS, &[reason], 1);
    }

    /// Counts an issued token. `via` names the issuing route, such as `attest` or `refresh`.
    pub fn token_issued(&self, app_id: &str, via: &'static str) {
        self.increment(&TOKENS_ISSUED, &[app_id, via], 1);
    }

    /// Counts a limited-use token consumption of an app. `via` names the route, `consume` or
    /// `check`.
    pub fn token_consumption(&self, app_id: &str, via: &'static str, outcome: ConsumeOutcome) {
        self.increment(&TOKEN_CONSUMPTIONS, &[app_id, via, outcome.as_str()], 1);
    }

    /// Records the status of an API domain's latest live check: 1 for `status` and 0 for the
    /// other values of `statuses`, so a dashboard shows the change from one to another.
    pub fn pin_domain_status(
        &self,
        app_id: &str,
        host: &str,
        status: &str,
        statuses: &[&'static str],
    ) {
        for candidate in statuses {
            let value = u64::from(*candidate == status);
            self.set(&PIN_DOMAIN_STATUS, &[app_id, host, candidate], value);
        }
    }

    /// Records the seconds left before the earliest expiry that matters to a domain's pins.
    pub fn pin_domain_expiry(&self, app_id: &str, host: &str, seconds: u64) {
        self.set(&PIN_DOMAIN_EXPIRY, &[app_id, host], seconds);
    }

    /// Sets every status series of a removed API domain to 0.
    pub fn pin_domain_removed(&self, app_id: &str, host: &str, statuses: &[&'static str]) {
        self.pin_domain_status(app_id, host, "", statuses);
    }

    /// Counts a pin-failure report of a registered app. `outcome` is a fixed code such as
    /// `counted` or `rate_limited`.
    pub fn pin_report(&self, app_id: &str, outcome: &'static str) {
        self.increment(&PIN_REPORTS, &[app_id, outcome], 1);
    }

    /// Adds `amount` to a counter series. `labels` has one value per label name of
    /// `descriptor`, in the same order. Counters saturate at `u64::MAX`.
    pub fn increment(&self, descriptor: &'static Descriptor, labels: &[&str], amount: u64) {
        debug_assert_eq!(descriptor.kind, Kind::Counter, "{}", descriptor.name);
        self.update(descriptor, labels, |value| value.saturating_add(amount));
    }

    /// Sets a gauge series to `value`. `labels` is as for [`Metrics::increment`].
    pub fn set(&self, descriptor: &'static Descriptor, labels: &[&str], value: u64) {
        debug_assert_eq!(descriptor.kind, Kind::Gauge, "{}", descriptor.name);
        self.update(descriptor, labels, |_| value);
    }

    fn update(
        &self,
        descriptor: &'static Descriptor,
        labels: &[&str],
        change: impl FnOnce(u64) -> u64,
    ) {
        debug_assert_eq!(labels.len(), descriptor.labels.len(), "{}", descriptor.name);
        let mut families = self.lock();
        let family = families.entry(descriptor.name).or_insert_with(|| Family {
            descriptor,
            series: BTreeMap::new(),
        });
        let key: Vec<String> = labels.iter().map(|&label| label.to_owned()).collect();
        if let Some(value) = family.series.get_mut(&key) {
            *value = change(*value);
            return;
        }
        if family.series.len() >= MAX_SERIES_PER_FAMILY {
            let dropped = families
                .entry(DROPPED_SERIES.name)
                .or_insert_with(|| Family {
                    descriptor: &DROPPED_SERIES,
                    series: BTreeMap::new(),
                });
            let count = dropped
                .series
                .entry(vec![descriptor.name.to_owned()])
                .or_insert(0);
            *count = count.saturating_add(1);
            let first_drop = *count == 1;
            drop(families);
            // Logged once per family. The counter shows how many updates were dropped.
            if first_drop {
                tracing::warn!(
                    metric = descriptor.name,
                    limit = MAX_SERIES_PER_FAMILY,
                    "metric family reached its series limit, so new label sets are dropped"
                );
            }
            return;
        }
        family.series.insert(key, change(0));
    }

    /// Renders every family that has at least one series, sorted by name, each series sorted by
    /// its label values.
    pub fn render(&self) -> String {
        let families = self.lock();
        let mut out = String::new();
        for family in families.values() {
            let descriptor = family.descriptor;
            out.push_str("# HELP ");
            out.push_str(descriptor.name);
            out.push(' ');
            out.push_str(&escape_help(descriptor.help));
            out.push('\n');
            out.push_str("# TYPE ");
            out.push_str(descriptor.name);
            out.push(' ');
            out.push_str(descriptor.kind.as_str());
            out.push('\n');
            for (values, value) in &family.series {
                out.push_str(descriptor.name);
                if !values.is_empty() {
                    out.push('{');
                    for (index, (name, label_value)) in
                        descriptor.labels.iter().zip(values).enumerate()
                    {
                        if index > 0 {
                            out.push(',');
                        }
                        out.push_str(name);
                        out.push_str("=\"");
                        out.push_str(&escape_label_value(label_value));
                        out.push('"');
                    }
                    out.push('}');
                }
                // `fmt::Write` for `String` never returns an error.
                let _ = writeln!(out, " {value}");
            }
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<&'static str, Family>> {
        // Every update leaves the map consistent (one insert or one assignment), so the data
        // behind a lock poisoned by a panicking thread is still valid.
        self.families.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Escapes `# HELP` text: backslash and line feed.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`: every metric in the Prometheus text exposition format 0.0.4.
pub async fn handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::{Config, Server, router};

    const TEST_COUNTER: Descriptor = Descriptor {
        name: "test_events_total",
        help: "Events seen.",
        kind: Kind::Counter,
        labels: &["kind"],
    };

    const TEST_UNLABELLED: Descriptor = Descriptor {
        name: "test_ready",
        help: "Help with a \\ backslash\nand a second line.",
        kind: Kind::Gauge,
        labels: &[],
    };

    #[test]
    fn empty_registry_renders_nothing() {
        assert_eq!(Metrics::new().render(), "");
        let server = Metrics::for_server().render();
        assert!(
            server.contains("# TYPE avow_decisions_total counter\n"),
            "{server}"
        );
        assert!(
            server.contains("# TYPE avow_provider_quota_used gauge\n"),
            "{server}"
        );
    }

    #[test]
    fn render_exact_text() {
        let metrics = Metrics::new();
        metrics.increment(&TEST_COUNTER, &["b"], 2);
        metrics.increment(&TEST_COUNTER, &["a"], 1);
        metrics.increment(&TEST_COUNTER, &["b"], 3);
        metrics.set(&TEST_UNLABELLED, &[], 7);
        metrics.set(&TEST_UNLABELLED, &[], 1);

        let expected = "\
# HELP test_events_total Events seen.
# TYPE test_events_total counter
test_events_total{kind=\"a\"} 1
test_events_total{kind=\"b\"} 5
# HELP test_ready Help with a \\\\ backslash\\nand a second line.
# TYPE test_ready gauge
test_ready 1
";
        assert_eq!(metrics.render(), expected);
    }

    #[test]
    fn typed_helpers_render() {
        let metrics = Metrics::new();
        metrics.decision(
            "com.example.bank",
            "app_attest",
            DecisionOutcome::Allow,
            "ok",
        );
        metrics.decision(
            "com.example.bank",
            "play_integrity+device_key",
            DecisionOutcome::Reduced,
            "provider_unavailable",
        );
        metrics.would_deny("com.example.shop", "device_integrity");
        metrics.provider_outage("play_integrity", "timeout");
        metrics.quota("play_integrity", "com.example.bank", 120, 10_000);
        metrics.nonce_rejected("replayed");
        metrics.token_issued("com.example.bank", "refresh");

        let expected = "\
# HELP avow_decisions_total Attestation and refresh decisions by app, providers, outcome and reason.
# TYPE avow_decisions_total counter
avow_decisions_total{app=\"com.example.bank\",provider=\"app_attest\",outcome=\"allow\",reason=\"ok\"} 1
avow_decisions_total{app=\"com.example.bank\",provider=\"play_integrity+device_key\",outcome=\"reduced\",reason=\"provider_unavailable\"} 1
# HELP avow_monitor_would_deny_total Requests that policy would have denied, allowed because the app is in monitor mode.
# TYPE avow_monitor_would_deny_total counter
avow_monitor_would_deny_total{app=\"com.example.shop\",reason=\"device_integrity\"} 1
# HELP avow_nonce_rejections_total Nonces rejected by reason (expired, replayed, unknown, app_mismatch, ...).
# TYPE avow_nonce_rejections_total counter
avow_nonce_rejections_total{reason=\"replayed\"} 1
# HELP avow_provider_outages_total Provider calls that produced no verdict (timeout, unavailable, quota exceeded).
# TYPE avow_provider_outages_total counter
avow_provider_outages_total{provider=\"play_integrity\",reason=\"timeout\"} 1
# HELP avow_provider_quota_limit Provider calls allowed in the current period.
# TYPE avow_provider_quota_limit gauge
avow_provider_quota_limit{provider=\"play_integrity\",app=\"com.example.bank\"} 10000
# HELP avow_provider_quota_used Provider calls counted against the quota of the current period.
# TYPE avow_provider_quota_used gauge
avow_provider_quota_used{provider=\"play_integrity\",app=\"com.example.bank\"} 120
# HELP avow_tokens_issued_total Tokens issued by app and by the route that issued them.
# TYPE avow_tokens_issued_total counter
avow_tokens_issued_total{app=\"com.example.bank\",via=\"refresh\"} 1
";
        assert_eq!(metrics.render(), expected);
    }

    #[test]
    fn token_consumptions_render() {
        let metrics = Metrics::new();
        metrics.token_consumption("com.example.bank", "consume", ConsumeOutcome::Consumed);
        metrics.token_consumption("com.example.bank", "consume", ConsumeOutcome::AlreadyUsed);
        metrics.token_consumption("com.example.bank", "check", ConsumeOutcome::Consumed);
        metrics.token_consumption("com.example.bank", "consume", ConsumeOutcome::Consumed);

        let expected = "\
# HELP avow_token_consumptions_total Limited-use tokens by app, route (consume, check) and outcome (consumed, already_used).
# TYPE avow_token_consumptions_total counter
avow_token_consumptions_total{app=\"com.example.bank\",via=\"check\",outcome=\"consumed\"} 1
avow_token_consumptions_total{app=\"com.example.bank\",via=\"consume\",outcome=\"already_used\"} 1
avow_token_consumptions_total{app=\"com.example.bank\",via=\"consume\",outcome=\"consumed\"} 2
";
        assert_eq!(metrics.render(), expected);
        assert!(
            Metrics::for_server()
                .render()
                .contains("# TYPE avow_token_consumptions_total counter\n")
        );
    }

    #[test]
    fn label_values_escaped() {
        let metrics = Metrics::new();
        metrics.increment(&TEST_COUNTER, &["a\\b\"c\nd"], 1);
        assert!(
            metrics
                .render()
                .contains("test_events_total{kind=\"a\\\\b\\\"c\\nd\"} 1\n"),
            "{}",
            metrics.render()
        );
    }

    #[test]
    fn counter_saturates() {
        let metrics = Metrics::new();
        metrics.increment(&TEST_COUNTER, &["a"], u64::MAX);
        metrics.increment(&TEST_COUNTER, &["a"], 5);
        assert!(
            metrics
                .render()
                .contains(&format!("test_events_total{{kind=\"a\"}} {}\n", u64::MAX))
        );
    }

    #[test]
    fn series_limit_drops_and_counts() {
        let metrics = Metrics::new();
        for index in 0..MAX_SERIES_PER_FAMILY + 3 {
            metrics.increment(&TEST_COUNTER, &[&index.to_string()], 1);
        }
        // Existing series still count after the limit is reached.
        metrics.increment(&TEST_COUNTER, &["0"], 1);

        let text = metrics.render();
        let series = text
            .lines()
            .filter(|line| line.starts_with("test_events_total{"))
            .count();
        assert_eq!(series, MAX_SERIES_PER_FAMILY);
        assert!(text.contains("test_events_total{kind=\"0\"} 2\n"));
        assert!(
            text.contains("avow_metrics_dropped_series_total{metric=\"test_events_total\"} 3\n"),
            "dropped counter missing"
        );
    }

    #[tokio::test]
    async fn endpoint_serves_text_format() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".to_owned(),
            ..Config::default()
        };
        let server = Server::start(config, None).await.unwrap();
        let state = server.state().clone();
        state.metrics.token_issued("com.example.bank", "attest");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let serve = tokio::spawn(async move {
            axum::serve(listener, router(state)).await.unwrap();
        });

        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        };
        let response = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .unwrap();
        serve.abort();

        let lowercase = response.to_ascii_lowercase();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            lowercase.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{response}"
        );
        assert!(
            response.contains("# TYPE avow_tokens_issued_total counter\n"),
            "{response}"
        );
        assert!(
            response
                .contains("avow_tokens_issued_total{app=\"com.example.bank\",via=\"attest\"} 1\n"),
            "{response}"
        );
    }

    #[test]
    fn concurrent_increments_all_counted() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 1_000;
        let metrics = Arc::new(Metrics::new());
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let metrics = Arc::clone(&metrics);
                std::thread::spawn(move || {
                    let own = format!("t{thread}");
                    for _ in 0..PER_THREAD {
                        metrics.increment(&TEST_COUNTER, &["shared"], 1);
                        metrics.increment(&TEST_COUNTER, &[&own], 1);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }

        let text = metrics.render();
        assert!(
            text.contains(&format!(
                "test_events_total{{kind=\"shared\"}} {}\n",
                THREADS * PER_THREAD
            )),
            "{text}"
        );
        for thread in 0..THREADS {
            assert!(
                text.contains(&format!(
                    "test_events_total{{kind=\"t{thread}\"}} {PER_THREAD}\n"
                )),
                "{text}"
            );
        }
    }
}
