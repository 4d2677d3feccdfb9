//! API domains: `POST`, `GET …/api-domains`, `GET`, `DELETE …/api-domains/{host}` and
//! `POST …/api-domains/check`.

use avow_pinning::{HostPattern, Pin};
use avow_store::{ApiDomain, DomainCheckRecord, PinSetRecord, StoreError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::find_app;
use super::monitor::{self, DomainCheck};
use super::probe::{self, LiveChainView};
use super::sets::PinSetView;
use super::status::DomainStatus;
use crate::AppState;
use crate::admin::AdminAuth;
use crate::error::ApiError;

/// The default TLS port.
const DEFAULT_PORT: u16 = 443;

/// `POST /admin/v1/apps/{app_id}/api-domains` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDomainRequest {
    /// `api.example.com`, `*.example.com` (exactly one extra label) or `**.example.com` (one
    /// or more extra labels).
    pub host: String,
    /// The TLS port. Defaults to 443.
    #[serde(default)]
    pub port: Option<u16>,
    /// The concrete host the probe connects to and validates for. Required for a pattern, and
    /// it must match the pattern. For an exact host it may be left out or equal the host.
    #[serde(default)]
    pub probe_host: Option<String>,
    /// `address:port` to connect to in place of resolving the host; SNI still names the host.
    #[serde(default)]
    pub connect_to: Option<String>,
    /// PEM bundle of the trust anchors to validate against in place of the Mozilla roots.
    #[serde(default)]
    pub ca_bundle_pem: Option<String>,
    /// Whether a provider manages the certificate and may change its key without notice, so
    /// leaf pins are refused. Defaults to false.
    #[serde(default)]
    pub managed: bool,
}

/// An API domain as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct DomainView {
    /// The host pattern, normalized (lower case, no trailing dot).
    pub host: String,
    /// The TLS port.
    pub port: i64,
    /// The concrete host probed, when it differs from `host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_host: Option<String>,
    /// The address the probe connects to, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<String>,
    /// `mozilla` or `custom` (a PEM bundle given at registration).
    pub trust_store: &'static str,
    /// Whether the certificate is managed by a provider.
    pub managed: bool,
    /// Unix seconds of registration.
    pub created_at: i64,
    /// The latest live check, if any.
    pub check: Option<CheckView>,
    /// The domain's pin set, if one was set.
    pub pin_set: Option<PinSetView>,
    /// The live chain, in responses that probed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveChainView>,
    /// The pins of the validated path, leaf first, in responses that probed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pins: Option<Vec<Pin>>,
}

impl DomainView {
    fn of(domain: ApiDomain, check: Option<CheckView>, pin_set: Option<PinSetRecord>) -> Self {
        let probe_host = (domain.probe_host != domain.host).then_some(domain.probe_host);
        Self {
            host: domain.host,
            port: domain.port,
            probe_host,
            connect_to: domain.connect_to,
            trust_store: if domain.ca_bundle_pem.is_some() {
                "custom"
            } else {
                "mozilla"
            },
            managed: domain.managed,
            created_at: domain.created_at,
            check,
            pin_set: pin_set.map(PinSetView::from),
            live: None,
            pins: None,
        }
    }
}

/// A live check as the admin API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct CheckView {
    /// The host pattern.
    pub host: String,
    /// `ok`, `expiring_soon`, `mismatch`, `invalid_chain` or `unreachable`.
    pub status: String,
    /// A readable explanation; empty when there is nothing to add.
    pub detail: String,
    /// Unix seconds of the check.
    pub checked_at: i64,
    /// The earliest `notAfter` on the validated path, Unix seconds.
    pub earliest_not_after: Option<i64>,
}

impl From<DomainCheckRecord> for CheckView {
    fn from(record: DomainCheckRecord) -> Self {
        Self {
            host: record.host,
            status: record.status,
            detail: record.detail,
            checked_at: record.checked_at,
            earliest_not_after: record.earliest_not_after,
        }
    }
}

impl From<&DomainCheck> for CheckView {
    fn from(check: &DomainCheck) -> Self {
        Self {
            host: check.domain.host.clone(),
            status: check.assessment.status.as_str().to_owned(),
            detail: check.assessment.detail.clone(),
            checked_at: check
                .live
                .as_ref()
                .map_or_else(|_| 0, |live| live.checked_at),
            earliest_not_after: check.assessment.earliest_not_after,
        }
    }
}

/// `GET /admin/v1/apps/{app_id}/api-domains` response.
#[derive(Debug, Serialize)]
pub struct DomainList {
    /// The app.
    pub app_id: String,
    /// Its API domains ordered by host pattern.
    pub domains: Vec<DomainView>,
}

/// `POST /admin/v1/apps/{app_id}/api-domains/check` response.
#[derive(Debug, Serialize)]
pub struct CheckList {
    /// The app.
    pub app_id: String,
    /// Unix seconds of the checks.
    pub checked_at: i64,
    /// One check per API domain, ordered by host pattern.
    pub domains: Vec<CheckView>,
}

/// Registers an API domain after probing it.
pub async fn add_domain(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<NewDomainRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<DomainView>), ApiError> {
    let Json(request) = body?;
    let app = find_app(&state, &app_id).await?;
    let domain = validate_request(&app.id, request, state.now())?;
    if state
        .store
        .api_domain(&app.id, &domain.host)
        .await?
        .is_some()
    {
        return Err(domain_exists(&domain.host));
    }

    let now = state.now();
    let live = probe::probe_domain(state.pinning.fetcher.as_ref(), &domain, now)
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "domain_unreachable",
                format!("{error}; the pins come from the live chain, so the domain was not added"),
            )
        })?;
    if let Err(error) = &live.validation {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_chain",
            format!(
                "the chain served by {} does not validate against the {} trust store: {error} \
                 ({}); the domain was not added",
                probe::ProbeTarget::of_domain(&domain).address(),
                if domain.ca_bundle_pem.is_some() {
                    "custom"
                } else {
                    "Mozilla"
                },
                error.reason()
            ),
        ));
    }

    match state.store.insert_api_domain(&domain).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => return Err(domain_exists(&domain.host)),
        Err(error) => return Err(error.into()),
    }
    let published = monitor::published_pins(&state, &app.id).await?;
    let warning_secs = monitor::expiry_warning_secs(&state);
    let assessment =
        super::status::assess(Ok(&live), published.get(&domain.host), now, warning_secs);
    state
        .store
        .put_domain_check(&monitor::check_record(&domain, &assessment, now))
        .await?;
    state.metrics.pin_domain_status(
        &app.id,
        &domain.host,
        assessment.status.as_str(),
        &DomainStatus::ALL,
    );

    tracing::info!(app_id = %app.id, host = %domain.host, admin_key = %auth.key_id, "API domain added");
    crate::policy::audit(
        state.store.as_ref(),
        &auth.key_id,
        "api_domain_added",
        Some(&app.id),
        Some(&domain.host),
        &format!(
            "port {}, probed as {}, trust store {}",
            domain.port,
            probe::ProbeTarget::of_domain(&domain).address(),
            if domain.ca_bundle_pem.is_some() {
                "custom"
            } else {
                "mozilla"
            }
        ),
        now,
    )
    .await;

    let check = CheckView {
        host: domain.host.clone(),
        status: assessment.status.as_str().to_owned(),
        detail: assessment.detail,
        checked_at: now,
        earliest_not_after: assessment.earliest_not_after,
    };
    let pins = live.path().map(|path| path.pins().collect());
    let mut view = DomainView::of(domain, Some(check), None);
    view.live = Some(live.view());
    view.pins = pins;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Checks a registration request and builds the domain to store.
fn validate_request(
    app_id: &str,
    request: NewDomainRequest,
    now: i64,
) -> Result<ApiDomain, ApiError> {
    let pattern = HostPattern::parse(&request.host)
        .map_err(|error| ApiError::bad_request(error.reason(), error.to_string()))?;
    let host = pattern.to_string();
    let port = request.port.unwrap_or(DEFAULT_PORT);
    if port == 0 {
        return Err(ApiError::bad_request(
            "invalid_port",
            "port must be between 1 and 65535",
        ));
    }

    let probe_host = match (&pattern, request.probe_host) {
        (HostPattern::Exact(_), None) => host.clone(),
        (HostPattern::Exact(_), Some(probe_host)) => {
            if HostPattern::parse(&probe_host)
                .map(|parsed| parsed.to_string())
                .ok()
                != Some(host.clone())
            {
                return Err(ApiError::bad_request(
                    "probe_host_mismatch",
                    format!(
                        "probe_host {probe_host:?} differs from the exact host {host:?}; leave \
                         it out for an exact host"
                    ),
                ));
            }
            host.clone()
        }
        (_, None) => {
            return Err(ApiError::bad_request(
                "probe_host_required",
                format!(
                    "{host} is a pattern, so the probe needs a concrete host that matches it: \
                     add probe_host, such as {:?}",
                    format!("api.{}", pattern.domain())
                ),
            ));
        }
        (_, Some(probe_host)) => {
            let probe_host = probe_host.trim_end_matches('.').to_ascii_lowercase();
            if !pattern.matches(&probe_host) {
                return Err(ApiError::bad_request(
                    "probe_host_mismatch",
                    format!("probe_host {probe_host:?} does not match the pattern {host}"),
                ));
            }
            probe_host
        }
    };

    if let Some(connect_to) = &request.connect_to {
        validate_connect_to(connect_to)?;
    }
    if let Some(pem) = &request.ca_bundle_pem {
        avow_pinning::TrustStore::from_pem(pem.as_bytes()).map_err(|error| {
            ApiError::bad_request(
                "invalid_ca_bundle",
                format!("ca_bundle_pem cannot be used as a trust store: {error}"),
            )
        })?;
    }

    Ok(ApiDomain {
        app_id: app_id.to_owned(),
        host,
        port: i64::from(port),
        probe_host,
        connect_to: request.connect_to,
        ca_bundle_pem: request.ca_bundle_pem,
        managed: request.managed,
        created_at: now,
    })
}

/// Checks that `connect_to` reads `address:port` or `[ipv6]:port`, with a port from 1 to 65535.
fn validate_connect_to(connect_to: &str) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_connect_to",
            format!(
                "connect_to {connect_to:?} must be HOST:PORT or [IPV6]:PORT with a port from 1 \
                 to 65535, such as 127.0.0.1:8443"
            ),
        )
    };
    let (address, port) = connect_to.rsplit_once(':').ok_or_else(invalid)?;
    let port_is_valid = port.parse::<u16>().is_ok_and(|port| port != 0);
    let address_is_valid = if let Some(inner) = address.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !address.is_empty()
            && !address.contains(':')
            && address
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
    };
    if port_is_valid && address_is_valid {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn domain_exists(host: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "api_domain_exists",
        format!("{host} is already an API domain of this app; remove it first to change it"),
    )
}

/// Normalizes a host pattern from a URL path, so `API.example.com.` finds `api.example.com`.
pub(crate) fn normalize_host(host: &str) -> String {
    HostPattern::parse(host).map_or_else(|_| host.to_owned(), |pattern| pattern.to_string())
}

pub(crate) fn domain_not_found(app_id: &str, host: &str) -> ApiError {
    ApiError::not_found(
        "api_domain_not_found",
        format!("{host} is not an API domain of app {app_id:?}"),
    )
}

/// Lists an app's API domains with their latest checks and pin sets.
pub async fn list_domains(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<DomainList>, ApiError> {
    let app = find_app(&state, &app_id).await?;
    let domains = state.store.api_domains(Some(&app.id)).await?;
    let mut checks = state.store.domain_checks(&app.id).await?;
    let mut sets = state.store.pin_sets(&app.id).await?;
    let views = domains
        .into_iter()
        .map(|domain| {
            let check = take_where(&mut checks, |check| check.host == domain.host);
            let set = take_where(&mut sets, |set| set.host == domain.host);
            DomainView::of(domain, check.map(CheckView::from), set)
        })
        .collect();
    Ok(Json(DomainList {
        app_id: app.id,
        domains: views,
    }))
}

fn take_where<T>(items: &mut Vec<T>, predicate: impl Fn(&T) -> bool) -> Option<T> {
    let index = items.iter().position(predicate)?;
    Some(items.swap_remove(index))
}

/// Shows one API domain with its latest check and pin set.
pub async fn show_domain(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path((app_id, host)): Path<(String, String)>,
) -> Result<Json<DomainView>, ApiError> {
    let app = find_app(&state, &app_id).await?;
    let host = normalize_host(&host);
    let domain = state
        .store
        .api_domain(&app.id, &host)
        .await?
        .ok_or_else(|| domain_not_found(&app.id, &host))?;
    let check = state
        .store
        .domain_checks(&app.id)
        .await?
        .into_iter()
        .find(|check| check.host == host);
    let set = state.store.pin_set(&app.id, &host).await?;
    Ok(Json(DomainView::of(
        domain,
        check.map(CheckView::from),
        set,
    )))
}

/// Removes an API domain with its pin set. Published documents keep its pins until the next
/// publish.
pub async fn delete_domain(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path((app_id, host)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let app = find_app(&state, &app_id).await?;
    let host = normalize_host(&host);
    if !state.store.delete_api_domain(&app.id, &host).await? {
        return Err(domain_not_found(&app.id, &host));
    }
    state
        .metrics
        .pin_domain_removed(&app.id, &host, &DomainStatus::ALL);
    tracing::info!(app_id = %app.id, host = %host, admin_key = %auth.key_id, "API domain removed");
    crate::policy::audit(
        state.store.as_ref(),
        &auth.key_id,
        "api_domain_removed",
        Some(&app.id),
        Some(&host),
        "the pin set was removed with it; published documents keep its pins until the next \
         publish",
        state.now(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Probes every API domain of an app now and returns each one's status.
pub async fn check_domains(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<CheckList>, ApiError> {
    let app = find_app(&state, &app_id).await?;
    let domains = state.store.api_domains(Some(&app.id)).await?;
    let now = state.now();
    let checks = monitor::check_domains(&state, domains, now).await?;
    Ok(Json(CheckList {
        app_id: app.id,
        checked_at: now,
        domains: checks
            .iter()
            .map(|check| CheckView {
                checked_at: now,
                ..CheckView::from(check)
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: &str) -> NewDomainRequest {
        NewDomainRequest {
            host: host.to_owned(),
            port: None,
            probe_host: None,
            connect_to: None,
            ca_bundle_pem: None,
            managed: false,
        }
    }

    #[test]
    fn exact_host_normalized_and_probed_as_itself() {
        let domain = validate_request("app", request("API.Example.com."), 1).unwrap();
        assert_eq!(domain.host, "api.example.com");
        assert_eq!(domain.probe_host, "api.example.com");
        assert_eq!(domain.port, 443);
    }

    #[test]
    fn pattern_needs_matching_probe_host() {
        let error = validate_request("app", request("*.example.com"), 1).unwrap_err();
        assert_eq!(error.reason(), "probe_host_required");

        let mismatch = NewDomainRequest {
            probe_host: Some("a.b.example.com".to_owned()),
            ..request("*.example.com")
        };
        let error = validate_request("app", mismatch, 1).unwrap_err();
        assert_eq!(error.reason(), "probe_host_mismatch");

        let deep = NewDomainRequest {
            probe_host: Some("a.b.example.com".to_owned()),
            ..request("**.example.com")
        };
        let domain = validate_request("app", deep, 1).unwrap();
        assert_eq!(domain.host, "**.example.com");
        assert_eq!(domain.probe_host, "a.b.example.com");
    }

    #[test]
    fn bad_inputs_rejected_by_name() {
        let cases = [
            (request("exa mple.com"), "invalid_host_pattern"),
            (
                NewDomainRequest {
                    port: Some(0),
                    ..request("api.example.com")
                },
                "invalid_port",
            ),
            (
                NewDomainRequest {
                    connect_to: Some("127.0.0.1".to_owned()),
                    ..request("api.example.com")
                },
                "invalid_connect_to",
            ),
            (
                NewDomainRequest {
                    connect_to: Some("127.0.0.1:0".to_owned()),
                    ..request("api.example.com")
                },
                "invalid_connect_to",
            ),
            (
                NewDomainRequest {
                    ca_bundle_pem: Some("not pem".to_owned()),
                    ..request("api.example.com")
                },
                "invalid_ca_bundle",
            ),
            (
                NewDomainRequest {
                    probe_host: Some("other.example.com".to_owned()),
                    ..request("api.example.com")
                },
                "probe_host_mismatch",
            ),
        ];
        for (request, reason) in cases {
            let host = request.host.clone();
            let error = validate_request("app", request, 1).unwrap_err();
            assert_eq!(error.reason(), reason, "{host}");
        }
    }

    #[test]
    fn connect_to_forms() {
        for good in ["127.0.0.1:8443", "[::1]:443", "localhost:9000"] {
            assert!(validate_connect_to(good).is_ok(), "{good}");
        }
        for bad in ["::1:443", "[::1]", ":443", "127.0.0.1:x", "a b:1"] {
            assert!(validate_connect_to(bad).is_err(), "{bad}");
        }
    }
}
