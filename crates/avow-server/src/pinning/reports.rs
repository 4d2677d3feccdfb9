//! Pin-failure reports: `POST /v1/pin-reports` from apps, `GET …/pin-reports` for operators.
//!
//! A report is checked by `avow_pinning::report`, then rate limited per client address and per
//! app (token buckets in each server instance), then counted in its group: app, host, reason,
//! document version and app version. Each group keeps the latest report as a sample, with each
//! certificate described by subject, pin, key type and expiry instead of copied, so a sample
//! stays small.

use std::time::Instant;

use avow_pinning::report::{PinFailureReport, ReportError};
use avow_pinning::{CertificateDer, CertificateRole, ChainCertificate, HostPattern};
use avow_store::{PinReportEvent, PinReportOutcome};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::find_app;
use crate::AppState;
use crate::admin::AdminAuth;
use crate::decide::PeerAddr;
use crate::error::ApiError;

/// Default number of report groups returned.
const DEFAULT_LIMIT: u32 = 100;
/// Maximum of the `limit` parameter.
const MAX_LIMIT: u32 = 1_000;

/// `POST /v1/pin-reports` response.
#[derive(Debug, Serialize)]
pub struct AcceptedReport {
    /// Always `accepted`: the report was read, though a full group table may have dropped it.
    pub status: &'static str,
}

/// Accepts a pin-failure report from an app.
pub async fn accept_report(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AcceptedReport>), Response> {
    let body = body.map_err(|rejection| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "a pin-failure report is at most {} bytes ({})",
                avow_pinning::report::MAX_REPORT_LEN,
                rejection.body_text()
            ),
        )
        .into_response()
    })?;
    let now = Instant::now();
    let client = client_address(&state, &headers, peer);
    if let Some(client) = client
        && let Err(wait) = state.pinning.client_reports.take(&client, now)
    {
        return Err(rate_limited("this client address", wait.as_secs()));
    }

    let report = PinFailureReport::from_json(&body).map_err(|error| {
        let status = if matches!(error, ReportError::TooLarge { .. }) {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError::new(
            status,
            error.reason(),
            format!("invalid pin-failure report: {error}"),
        )
        .into_response()
    })?;
    let app = find_app(&state, &report.app_id)
        .await
        .map_err(IntoResponse::into_response)?;
    if let Err(wait) = state.pinning.app_reports.take(&app.id, now) {
        state.metrics.pin_report(&app.id, "rate_limited");
        return Err(rate_limited("this app", wait.as_secs()));
    }
    if report.reason.is_connection() && !is_pinned_host(&state, &app.id, &report.host).await? {
        state.metrics.pin_report(&app.id, "invalid");
        return Err(ApiError::bad_request(
            "unknown_host",
            format!(
                "host {:?} is not an API domain of app {:?} nor in its published pin document",
                report.host, app.id
            ),
        )
        .into_response());
    }

    let event = PinReportEvent {
        app_id: app.id.clone(),
        host: report.host.to_ascii_lowercase(),
        reason: report.reason.as_str().to_owned(),
        document_version: i64::try_from(report.document_version).unwrap_or(i64::MAX),
        app_version: report.app_version.clone(),
        sample: sample(&report).to_string(),
        received_at: state.now(),
    };
    let limit = i64::try_from(state.config.pinning.max_report_groups_per_app).unwrap_or(i64::MAX);
    let outcome = state
        .store
        .record_pin_report(&event, limit)
        .await
        .map_err(|error| ApiError::from(error).into_response())?;
    match outcome {
        PinReportOutcome::Counted => state.metrics.pin_report(&app.id, "counted"),
        PinReportOutcome::Dropped => {
            state.metrics.pin_report(&app.id, "dropped");
            tracing::warn!(
                app_id = %app.id,
                limit,
                "pin-failure report dropped: the app has the maximum number of report groups"
            );
        }
    }
    tracing::info!(
        app_id = %app.id,
        host = %event.host,
        reason = %event.reason,
        document_version = event.document_version,
        "pin-failure report received"
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(AcceptedReport { status: "accepted" }),
    ))
}

/// Returns the address that rate limiting counts: the TCP peer, or the first
/// `X-Forwarded-For` address when `markets.trust_forwarded_for` is set because a proxy writes
/// that header.
fn client_address(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Option<std::net::IpAddr> {
    if state.config.markets.trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .and_then(|first| first.trim().parse().ok())
    {
        return Some(forwarded);
    }
    peer
}

/// Reports whether `host` matches an API domain of the app or a domain of its latest document.
async fn is_pinned_host(state: &AppState, app_id: &str, host: &str) -> Result<bool, Response> {
    let domains = state
        .store
        .api_domains(Some(app_id))
        .await
        .map_err(|error| ApiError::from(error).into_response())?;
    let matches_domain = domains
        .iter()
        .any(|domain| HostPattern::parse(&domain.host).is_ok_and(|pattern| pattern.matches(host)));
    if matches_domain {
        return Ok(true);
    }
    let latest = state
        .store
        .latest_pin_document(app_id)
        .await
        .map_err(|error| ApiError::from(error).into_response())?;
    let Some(record) = latest else {
        return Ok(false);
    };
    let document = state
        .pinning
        .decode(&record)
        .map_err(IntoResponse::into_response)?;
    Ok(document.domain_for(host).is_some())
}

fn rate_limited(scope: &str, retry_after_secs: u64) -> Response {
    let retry_after = retry_after_secs.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many pin-failure reports from {scope}; retry in {retry_after} seconds"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// Builds the sample kept for a group: the report with each certificate described, not copied.
fn sample(report: &PinFailureReport) -> serde_json::Value {
    serde_json::json!({
        "host": report.host,
        "port": report.port,
        "reason": report.reason,
        "mode": report.mode,
        "document_version": report.document_version,
        "app_version": report.app_version,
        "pins_known": report.pins_known,
        "served_chain": describe_chain(&report.served_chain),
        "validated_chain": describe_chain(&report.validated_chain),
    })
}

fn describe_chain(chain: &[CertificateDer<'static>]) -> Vec<serde_json::Value> {
    chain
        .iter()
        .map(|der| {
            match ChainCertificate::from_certificate_der(der.as_ref(), CertificateRole::ServedOnly)
            {
                Ok(certificate) => serde_json::json!({
                    "subject": certificate.subject,
                    "pin": certificate.pin,
                    "key_type": certificate.key_type.to_string(),
                    "not_after": certificate.not_after,
                }),
                Err(error) => serde_json::json!({ "error": error.to_string() }),
            }
        })
        .collect()
}

/// `GET /admin/v1/apps/{app_id}/pin-reports` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsQuery {
    /// Maximum number of groups, 1 to 1000. Defaults to 100.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// One report group as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct ReportGroupView {
    /// The host.
    pub host: String,
    /// The reason code.
    pub reason: String,
    /// The pin document version the apps held, 0 for none.
    pub document_version: i64,
    /// The app version.
    pub app_version: String,
    /// Reports counted.
    pub count: i64,
    /// Unix seconds of the first report.
    pub first_seen: i64,
    /// Unix seconds of the latest report.
    pub last_seen: i64,
    /// The latest report, with certificates described by subject, pin, key type and expiry.
    pub sample: serde_json::Value,
}

/// `GET /admin/v1/apps/{app_id}/pin-reports` response.
#[derive(Debug, Serialize)]
pub struct ReportList {
    /// The app.
    pub app_id: String,
    /// Report groups, the latest report first.
    pub reports: Vec<ReportGroupView>,
}

/// Lists an app's aggregated pin-failure reports.
pub async fn list_reports(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    query: Result<Query<ReportsQuery>, QueryRejection>,
) -> Result<Json<ReportList>, ApiError> {
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let app = find_app(&state, &app_id).await?;
    let groups = state.store.pin_reports(&app.id, limit).await?;
    let reports = groups
        .into_iter()
        .map(|group| ReportGroupView {
            sample: serde_json::from_str(&group.sample)
                .unwrap_or(serde_json::Value::String(group.sample)),
            host: group.host,
            reason: group.reason,
            document_version: group.document_version,
            app_version: group.app_version,
            count: group.count,
            first_seen: group.first_seen,
            last_seen: group.last_seen,
        })
        .collect();
    Ok(Json(ReportList {
        app_id: app.id,
        reports,
    }))
}
