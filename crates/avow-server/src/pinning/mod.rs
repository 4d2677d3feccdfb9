//! Dynamic certificate pinning, server side: API domains, their live chains, pin sets, the
//! signed pin document, its delivery to apps, pin-failure reports and the background check.
//!
//! Admin routes (admin key, JSON), see `docs/pinning.md` for bodies and responses:
//!
//! | route | purpose |
//! |---|---|
//! | `POST`, `GET /admin/v1/apps/{app_id}/api-domains` | register a domain (probes it), list them |
//! | `DELETE /admin/v1/apps/{app_id}/api-domains/{host}` | remove a domain and its pin set |
//! | `POST /admin/v1/apps/{app_id}/api-domains/check` | probe every domain now |
//! | `PUT`, `GET /admin/v1/apps/{app_id}/pin-sets/{host}` | set or show a domain's pin set |
//! | `POST /admin/v1/apps/{app_id}/pins/plan` | the change a publish would make, with the gate's problems |
//! | `POST /admin/v1/apps/{app_id}/pins/publish` | sign and store the next document, unless the gate refuses |
//! | `GET /admin/v1/apps/{app_id}/pins` | the current document |
//! | `GET /admin/v1/apps/{app_id}/pins/export?format=…` | the pins for static pinning |
//! | `GET /admin/v1/apps/{app_id}/pin-reports` | aggregated pin-failure reports |
//! | `GET /admin/v1/pins/key` | the pin-signing public key, PEM and JWK |
//!
//! SDK routes (no credentials): `GET /v1/pins?app=APP_ID` (the compact JWS, with an ETag),
//! `GET /v1/pins/key` (the JWK) and `POST /v1/pin-reports`.

pub mod domains;
pub mod monitor;
pub mod probe;
pub mod publish;
pub mod rate_limit;
pub mod reports;
pub mod sdk;
pub mod sets;
pub mod signing;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use avow_pinning::{PinDocument, PinDocumentVerifier};
use avow_store::{App, PinDocumentRecord};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

use crate::AppState;
use crate::config::PinningConfig;
use crate::error::ApiError;
use probe::ChainFetcher;
use rate_limit::RateLimiter;
use signing::PinKeyRing;

/// Pinning state shared by the handlers and the background check.
pub struct Pinning {
    /// The pin-signing keys.
    pub keys: PinKeyRing,
    /// Verifies the documents this server signed, with every pin-signing key.
    verifier: PinDocumentVerifier,
    /// Fetches live chains.
    pub fetcher: Arc<dyn ChainFetcher>,
    /// Limits pin-failure reports per client address.
    pub client_reports: RateLimiter<std::net::IpAddr>,
    /// Limits pin-failure reports per app.
    pub app_reports: RateLimiter<String>,
}

impl std::fmt::Debug for Pinning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinning")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Pinning {
    /// Creates the pinning state from its keys, a chain fetcher and the configuration.
    pub fn new(keys: PinKeyRing, fetcher: Arc<dyn ChainFetcher>, config: &PinningConfig) -> Self {
        let verifier = PinDocumentVerifier::new(keys.public_keys().iter().cloned());
        Self {
            keys,
            verifier,
            fetcher,
            client_reports: RateLimiter::per_minute(config.reports_per_minute_per_client),
            app_reports: RateLimiter::per_minute(config.reports_per_minute_per_app),
        }
    }

    /// Returns the real chain fetcher with the configured timeout.
    pub fn tls_fetcher(config: &PinningConfig) -> Result<Arc<dyn ChainFetcher>, rustls::Error> {
        let timeout = Duration::from_millis(config.probe_timeout_ms);
        Ok(Arc::new(probe::TlsChainFetcher::new(timeout)?))
    }

    /// Decodes a stored document, checking its signature with this server's keys and that it
    /// belongs to its app.
    pub fn decode(&self, record: &PinDocumentRecord) -> Result<PinDocument, ApiError> {
        let verified = self
            .verifier
            .verify(record.document.as_bytes())
            .map_err(|error| {
                ApiError::internal(&format!(
                    "stored pin document {} of app {} does not verify with the pin-signing \
                     keys: {error}",
                    record.version, record.app_id
                ))
            })?;
        let document = verified.document().clone();
        if document.app != record.app_id
            || document.ver != u64::try_from(record.version).unwrap_or(0)
        {
            return Err(ApiError::internal(&format!(
                "stored pin document {} of app {} names app {:?} version {}",
                record.version, record.app_id, document.app, document.ver
            )));
        }
        Ok(document)
    }
}

/// Returns the pinning routes, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/apps/{app_id}/api-domains",
            post(domains::add_domain).get(domains::list_domains),
        )
        .route(
            "/admin/v1/apps/{app_id}/api-domains/check",
            post(domains::check_domains),
        )
        .route(
            "/admin/v1/apps/{app_id}/api-domains/{host}",
            axum::routing::delete(domains::delete_domain).get(domains::show_domain),
        )
        .route(
            "/admin/v1/apps/{app_id}/pin-sets/{host}",
            put(sets::put_pin_set).get(sets::show_pin_set),
        )
        .route("/admin/v1/apps/{app_id}/pins/plan", post(publish::plan))
        .route(
            "/admin/v1/apps/{app_id}/pins/publish",
            post(publish::publish),
        )
        .route("/admin/v1/apps/{app_id}/pins", get(publish::show_document))
        .route("/admin/v1/apps/{app_id}/pins/export", get(publish::export))
        .route(
            "/admin/v1/apps/{app_id}/pin-reports",
            get(reports::list_reports),
        )
        .route("/admin/v1/pins/key", get(sdk::admin_key))
        .route("/v1/pins", get(sdk::pins))
        .route("/v1/pins/key", get(sdk::public_key))
        .route(
            "/v1/pin-reports",
            post(reports::accept_report)
                .layer(DefaultBodyLimit::max(avow_pinning::report::MAX_REPORT_LEN)),
        )
}

/// Returns the app with this id, or 404 `app_not_found`.
pub(crate) async fn find_app(state: &AppState, app_id: &str) -> Result<App, ApiError> {
    state.store.app(app_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "app_not_found",
            format!("no app with id {app_id:?} is registered"),
        )
    })
}

/// Returns the version of an app's latest pin document, for token responses. A store failure
/// is logged and gives `None`, so it never costs a token.
pub async fn pins_version(state: &AppState, app_id: &str) -> Option<u64> {
    match state.store.latest_pin_version(app_id).await {
        Ok(version) => version.and_then(|version| u64::try_from(version).ok()),
        Err(error) => {
            tracing::warn!(app_id, %error, "reading the pin document version failed");
            None
        }
    }
}
