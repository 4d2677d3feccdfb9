//! Policy decisions of the SDK API: evaluating verdicts, recording each decision, counting it,
//! and shaping the response to a denied client.

use std::net::{IpAddr, SocketAddr};

use avow_attest::verdict::{
    AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict,
};
use avow_policy::{Decision, Outcome, Platform, RejectionResponse};
use avow_store::{App, DecisionRecord};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::metrics::DecisionOutcome;

/// The client's TCP address, when the server was started with connection info.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| address.ip()),
        ))
    }
}

/// A verdict in the JSON shape of decision records and install state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictRecord {
    /// The provider of the most trusted evidence.
    pub provider: String,
    /// The trust level.
    pub trust: String,
    /// App integrity.
    pub app: String,
    /// Device integrity.
    pub dev: String,
    /// Risk flags.
    pub flags: Vec<String>,
    /// Evidence time, Unix milliseconds.
    pub evidence_time_ms: Option<u64>,
}

impl VerdictRecord {
    /// Records a verdict.
    pub fn from_verdict(verdict: &Verdict) -> Self {
        Self {
            provider: verdict.provider.as_str().to_owned(),
            trust: verdict.trust.as_str().to_owned(),
            app: verdict.app_integrity.as_str().to_owned(),
            dev: verdict.device_integrity.as_str().to_owned(),
            flags: verdict
                .risk_flags
                .iter()
                .map(|flag| flag.as_str().to_owned())
                .collect(),
            evidence_time_ms: verdict.evidence_time_ms,
        }
    }

    /// Rebuilds the verdict. Returns `None` when a stored name is unknown.
    pub fn to_verdict(&self) -> Option<Verdict> {
        let flags = self
            .flags
            .iter()
            .map(|flag| RiskFlag::parse(flag))
            .collect::<Option<Vec<_>>>()?;
        Some(Verdict::new(
            Provider::parse(&self.provider)?,
            TrustLevel::parse(&self.trust)?,
            AppIntegrity::parse(&self.app)?,
            DeviceIntegrity::parse(&self.dev)?,
            flags,
            self.evidence_time_ms,
        ))
    }
}

/// Returns the policy platform of an app.
pub fn platform_of(app: &App) -> Platform {
    match app.platform.as_str() {
        "ios" => Platform::Ios,
        _ => Platform::Android,
    }
}

/// The fields of one request's decision record.
pub struct DecisionContext<'a> {
    /// `attest`, `refresh` or `outage`.
    pub kind: &'static str,
    /// The app.
    pub app: &'a App,
    /// The install, when known.
    pub install_id: Option<&'a str>,
    /// The providers of the evidence.
    pub providers: &'a [Provider],
    /// The verdict, when there is one.
    pub verdict: Option<&'a Verdict>,
    /// The app version the evidence reports.
    pub app_version: Option<&'a str>,
    /// The policy version applied (0 for the default preset).
    pub policy_version: i64,
    /// The market label the rules came from.
    pub market: &'a str,
    /// The rule outcome.
    pub outcome: Outcome,
    /// The applied outcome.
    pub enforced_outcome: Outcome,
    /// The reason codes, in rule order.
    pub reasons: Vec<&'static str>,
    /// The time of the decision.
    pub now: i64,
}

/// Stores a decision record, counts it in the metrics and logs it. A failure to store the
/// record is logged and does not fail the request, because the decision is already made.
pub async fn record(state: &AppState, context: DecisionContext<'_>, reduced: bool) {
    let providers: Vec<&str> = context
        .providers
        .iter()
        .map(|provider| provider.as_str())
        .collect();
    let verdict = context
        .verdict
        .map(VerdictRecord::from_verdict)
        .and_then(|record| serde_json::to_string(&record).ok())
        .unwrap_or_else(|| "null".to_owned());
    let record = DecisionRecord {
        app_id: context.app.id.clone(),
        install_id: context.install_id.map(str::to_owned),
        at: context.now,
        kind: context.kind.to_owned(),
        policy_version: context.policy_version,
        market: context.market.to_owned(),
        outcome: context.outcome.as_str().to_owned(),
        enforced_outcome: context.enforced_outcome.as_str().to_owned(),
        reasons: serde_json::to_string(&context.reasons).unwrap_or_else(|_| "[]".to_owned()),
        verdict,
        providers: serde_json::to_string(&providers).unwrap_or_else(|_| "[]".to_owned()),
        platform: platform_of(context.app).as_str().to_owned(),
        app_version: context.app_version.map(str::to_owned),
    };
    if let Err(error) = state.store.insert_decision(&record).await {
        tracing::error!(%error, app_id = %context.app.id, "storing the decision record failed");
    }

    let joined = providers.join("+");
    let first_reason = context.reasons.first().copied().unwrap_or("passed");
    let metric_outcome = match (context.enforced_outcome, reduced) {
        (Outcome::Deny, _) => DecisionOutcome::Deny,
        (Outcome::Allow, true) => DecisionOutcome::Reduced,
        (Outcome::Allow, false) => DecisionOutcome::Allow,
    };
    state
        .metrics
        .decision(&context.app.id, &joined, metric_outcome, first_reason);
    if context.outcome == Outcome::Deny && context.enforced_outcome == Outcome::Allow {
        for reason in &context.reasons {
            state.metrics.would_deny(&context.app.id, reason);
        }
    }
    tracing::info!(
        target: "avow::decision",
        app_id = %context.app.id,
        kind = context.kind,
        provider = %joined,
        verdict = context.enforced_outcome.as_str(),
        rule_outcome = context.outcome.as_str(),
        reason = %context.reasons.join(","),
        policy_version = context.policy_version,
        market = context.market,
        "decision"
    );
}

/// The response to a denied request.
pub enum Denial {
    /// A 403 with the reasons (development apps) or a generic message (production apps).
    Error {
        /// The reason codes.
        reasons: Vec<&'static str>,
        /// Whether the reasons go back to the client.
        reveal: bool,
    },
    /// A token that looks like a real one but is signed by a key no backend trusts.
    Decoy,
}

/// Returns the response to a denied request of `app`.
pub fn denial(app: &App, decision: &Decision, reveal_configured: bool) -> Denial {
    // Development builds may see why they were rejected; production clients learn nothing.
    let reveal = reveal_configured || app.environment == "development";
    match decision.rejection_response {
        RejectionResponse::Decoy if !reveal => Denial::Decoy,
        _ => Denial::Error {
            reasons: decision.reason_codes(),
            reveal,
        },
    }
}

/// Returns the Play Integrity quota day for `now`: the UTC date of `now` minus 8 hours.
///
/// NOTE: Google resets the daily quota at midnight US Pacific time. This ignores daylight
/// saving time, so for part of the year the server's day starts an hour early.
pub fn quota_day(now: i64) -> String {
    let shifted = now - 8 * 3600;
    let date = time::OffsetDateTime::from_unix_timestamp(shifted)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// Returns the UTC date of `now`, the day of per-install daily counters.
pub fn utc_day(now: i64) -> String {
    quota_day(now + 8 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_record_round_trip() {
        let verdict = Verdict::new(
            Provider::PlayIntegrity,
            TrustLevel::Platform,
            AppIntegrity::Recognized,
            DeviceIntegrity::Device,
            vec![RiskFlag::Rooted, RiskFlag::Virtual],
            Some(5),
        );
        let record = VerdictRecord::from_verdict(&verdict);
        assert_eq!(record.to_verdict(), Some(verdict));
    }

    #[test]
    fn verdict_record_unknown_name_rejected() {
        let mut record = VerdictRecord::from_verdict(&Verdict::new(
            Provider::AppAttest,
            TrustLevel::Hardware,
            AppIntegrity::Recognized,
            DeviceIntegrity::Strong,
            Vec::new(),
            None,
        ));
        record.dev = "excellent".to_owned();
        assert_eq!(record.to_verdict(), None);
    }

    #[test]
    fn quota_day_follows_pacific_standard_time() {
        // 2025-12-04T07:59:59Z is still 2025-12-03 in California.
        assert_eq!(quota_day(1_764_835_199), "2025-12-03");
        assert_eq!(quota_day(1_764_835_200), "2025-12-04");
        assert_eq!(utc_day(1_764_835_200), "2025-12-04");
    }
}
