//! The live check of API domains: on demand (`POST …/api-domains/check`) and in the background
//! every `pinning.check_interval_secs`.
//!
//! Each check probes the domain, judges the live chain against the app's published pins
//! ([`super::status::assess`]), stores the result as the domain's latest check and sets the
//! metrics `avow_pin_domain_status{app,host,status}` and
//! `avow_pin_domain_expiry_seconds{app,host}`. At most `pinning.check_concurrency` probes run
//! at once.
//!
//! Every server instance runs its own background check, so with several instances each domain
//! is probed once per interval by each of them, and the stored check is the latest of theirs.

use std::collections::HashMap;

use avow_store::{ApiDomain, DomainCheckRecord};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::probe::{self, LiveChain, ProbeError};
use super::status::{Assessment, DomainStatus, PublishedPins, assess};
use crate::AppState;
use crate::error::ApiError;

/// One domain's check.
#[derive(Debug)]
pub struct DomainCheck {
    /// The domain.
    pub domain: ApiDomain,
    /// The probe's outcome.
    pub live: Result<LiveChain, ProbeError>,
    /// The status derived from it.
    pub assessment: Assessment,
}

/// Returns the pins of the app's latest document per host pattern, as text.
pub async fn published_pins(
    state: &AppState,
    app_id: &str,
) -> Result<HashMap<String, PublishedPins>, ApiError> {
    let Some(record) = state.store.latest_pin_document(app_id).await? else {
        return Ok(HashMap::new());
    };
    let document = state.pinning.decode(&record)?;
    Ok(document
        .domains
        .iter()
        .map(|domain| {
            let expires_at = i64::try_from(document.domain_expiry(domain)).unwrap_or(i64::MAX);
            (
                domain.host.to_string(),
                PublishedPins {
                    version: document.ver,
                    pins: domain.pins.clone(),
                    expires_at,
                },
            )
        })
        .collect())
}

/// Probes `domains` at `now`, at most `pinning.check_concurrency` at a time, stores each
/// domain's latest check and updates the metrics. Returns the checks in the order of
/// `domains`.
pub async fn check_domains(
    state: &AppState,
    domains: Vec<ApiDomain>,
    now: i64,
) -> Result<Vec<DomainCheck>, ApiError> {
    let mut published: HashMap<String, HashMap<String, PublishedPins>> = HashMap::new();
    for domain in &domains {
        if !published.contains_key(&domain.app_id) {
            let pins = published_pins(state, &domain.app_id).await?;
            published.insert(domain.app_id.clone(), pins);
        }
    }

    let results = probe_all(state, domains, now).await;

    let warning_secs = expiry_warning_secs(state);
    let mut checks = Vec::with_capacity(results.len());
    for (domain, live) in results {
        let pins = published
            .get(&domain.app_id)
            .and_then(|pins| pins.get(&domain.host));
        let assessment = assess(live.as_ref(), pins, now, warning_secs);
        record(state, &domain, &assessment, now).await?;
        checks.push(DomainCheck {
            domain,
            live,
            assessment,
        });
    }
    Ok(checks)
}

/// Probes `domains` at `now`, at most `pinning.check_concurrency` at a time, and returns each
/// domain with its outcome in the order of `domains`. Nothing is stored.
pub async fn probe_all(
    state: &AppState,
    domains: Vec<ApiDomain>,
    now: i64,
) -> Vec<(ApiDomain, Result<LiveChain, ProbeError>)> {
    let limit = state.config.pinning.check_concurrency.max(1);
    let mut running = JoinSet::new();
    let mut results: Vec<Option<(ApiDomain, Result<LiveChain, ProbeError>)>> =
        Vec::with_capacity(domains.len());
    for (index, domain) in domains.into_iter().enumerate() {
        results.push(None);
        if running.len() >= limit {
            collect_one(&mut running, &mut results).await;
        }
        let fetcher = state.pinning.fetcher.clone();
        running.spawn(async move {
            let live = probe::probe_domain(fetcher.as_ref(), &domain, now).await;
            (index, domain, live)
        });
    }
    while !running.is_empty() {
        collect_one(&mut running, &mut results).await;
    }
    results.into_iter().flatten().collect()
}

type ProbeOutcome = (usize, ApiDomain, Result<LiveChain, ProbeError>);

async fn collect_one(
    running: &mut JoinSet<ProbeOutcome>,
    results: &mut [Option<(ApiDomain, Result<LiveChain, ProbeError>)>],
) {
    match running.join_next().await {
        Some(Ok((index, domain, live))) => {
            if let Some(slot) = results.get_mut(index) {
                *slot = Some((domain, live));
            }
        }
        // Nothing aborts these tasks, so a join error means the probe panicked. Its domain is
        // left out of this round.
        Some(Err(error)) => tracing::error!(%error, "a live-chain probe task failed"),
        None => {}
    }
}

/// Stores a domain's check and sets its metrics.
async fn record(
    state: &AppState,
    domain: &ApiDomain,
    assessment: &Assessment,
    now: i64,
) -> Result<(), ApiError> {
    let stored = state
        .store
        .put_domain_check(&check_record(domain, assessment, now))
        .await?;
    if !stored {
        // The domain was deleted while it was probed.
        tracing::debug!(app_id = %domain.app_id, host = %domain.host, "check of a removed domain dropped");
        return Ok(());
    }
    state.metrics.pin_domain_status(
        &domain.app_id,
        &domain.host,
        assessment.status.as_str(),
        &DomainStatus::ALL,
    );
    if let Some(expiry) = assessment.earliest_expiry {
        let left = u64::try_from(expiry.saturating_sub(now)).unwrap_or(0);
        state
            .metrics
            .pin_domain_expiry(&domain.app_id, &domain.host, left);
    }
    if assessment.status != DomainStatus::Ok {
        tracing::warn!(
            app_id = %domain.app_id,
            host = %domain.host,
            status = assessment.status.as_str(),
            detail = %assessment.detail,
            "API domain check is not ok"
        );
    }
    Ok(())
}

/// Returns `pinning.expiry_warning_days` in seconds, saturating at `i64::MAX`.
pub(crate) fn expiry_warning_secs(state: &AppState) -> i64 {
    i64::try_from(
        state
            .config
            .pinning
            .expiry_warning_days
            .saturating_mul(86_400),
    )
    .unwrap_or(i64::MAX)
}

/// Builds the stored form of the check of `domain` made at `now`.
pub(crate) fn check_record(
    domain: &ApiDomain,
    assessment: &Assessment,
    now: i64,
) -> DomainCheckRecord {
    DomainCheckRecord {
        app_id: domain.app_id.clone(),
        host: domain.host.clone(),
        status: assessment.status.as_str().to_owned(),
        detail: assessment.detail.clone(),
        checked_at: now,
        earliest_not_after: assessment.earliest_not_after,
    }
}

/// Runs the background check every `pinning.check_interval_secs` until `stop` turns true. A
/// round in progress is abandoned when it does.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let period = std::time::Duration::from_secs(state.config.pinning.check_interval_secs);
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            () = round(&state) => {}
            _ = stop.changed() => break,
        }
    }
    tracing::debug!("API domain checks stopped");
}

/// Checks every API domain of every app once.
async fn round(state: &AppState) {
    let domains = match state.store.api_domains(None).await {
        Ok(domains) => domains,
        Err(error) => {
            tracing::warn!(%error, "listing API domains for the live check failed; retrying next round");
            return;
        }
    };
    if domains.is_empty() {
        return;
    }
    let count = domains.len();
    match check_domains(state, domains, state.now()).await {
        Ok(checks) => {
            let not_ok = checks
                .iter()
                .filter(|check| check.assessment.status != DomainStatus::Ok)
                .count();
            tracing::debug!(domains = count, not_ok, "API domain check round finished");
        }
        Err(error) => {
            tracing::warn!(
                reason = error.reason(),
                "API domain check round failed; retrying next round"
            );
        }
    }
}
