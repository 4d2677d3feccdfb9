//! The check endpoint for gateways that ask a side service whether to let a request through:
//! nginx `auth_request` and Envoy `ext_authz` in HTTP mode.
//!
//! The gateway forwards the client's request headers to `/v1/check` (any method). For a valid
//! token the endpoint returns `200` with the verified claims as `Avow-*` response headers, which
//! the gateway can copy to the upstream request. For a missing or invalid token it returns `401`
//! with an empty body.
//! A bad token is never a 5xx, so a gateway's "checker failed" path only runs when Avow itself
//! is down.
//!
//! The audience is the app the backend serves: the gateway names it in `X-Avow-Audience`
//! (`proxy_set_header X-Avow-Audience com.example.app;` in nginx). Without that header a token
//! of any registered app passes.
//!
//! # Limited-use locations
//!
//! A gateway location that accepts each token once sends `X-Avow-Limited-Use: true`
//! (`proxy_set_header X-Avow-Limited-Use true;` in the nginx location that calls the check).
//! After the token passes, the check consumes it as `POST /v1/tokens/consume` does (see
//! [`crate::consume`]), atomically across all server instances:
//!
//! - first use: `200` with the claim headers, as for any valid token;
//! - reuse: `403` with an empty body and `Avow-Reason: token_already_used`;
//! - a database failure: `503`, so the gateway's fail-closed or fail-open rule applies.
//!
//! The header takes `true` or `false`, in any letter case. Any other value is a gateway
//! configuration error and gets `400` with `Avow-Reason: invalid_limited_use_header`, which
//! nginx turns into a 500 for the client: the location fails closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use avow_guard::{ConfigError, GuardConfig, Keys, TokenHeader};
use avow_store::StoreError;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::consume::mark_used;

/// The request header a gateway uses to name the app the backend serves.
pub const AUDIENCE_HEADER: &str = "x-avow-audience";
/// The request header a gateway sets to `true` in a limited-use location.
pub const LIMITED_USE_HEADER: &str = "x-avow-limited-use";

/// Checks the token in the request headers a gateway forwards.
pub async fn check(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = match own_token_config(&state, headers.get(AUDIENCE_HEADER)).await {
        Ok(config) => config,
        Err(OwnTokenConfigError::InvalidAudienceHeader) => {
            return unauthorized("invalid audience header");
        }
        Err(OwnTokenConfigError::NoApp) => return unauthorized("no app is registered"),
        Err(OwnTokenConfigError::Store(error)) => {
            // A database fault is our failure, not the client's: 503 lets the gateway apply
            // its own fail-open or fail-closed rule.
            tracing::error!(%error, "check endpoint cannot read the apps");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Err(OwnTokenConfigError::Config(error)) => {
            tracing::error!(%error, "check endpoint configuration invalid");
            return unauthorized("checker misconfigured");
        }
    };
    let Some(limited_use) = limited_use(&headers) else {
        return with_reason(StatusCode::BAD_REQUEST, "invalid_limited_use_header");
    };
    let now = u64::try_from(state.now()).unwrap_or(0);
    let claims = match avow_guard::check(&config, &headers, now) {
        Ok(claims) => claims,
        Err(error) => {
            tracing::debug!(target: "avow::rejection", reason = error.reason(), "check rejected a token");
            return unauthorized(error.reason());
        }
    };
    if limited_use {
        match mark_used(&state, &claims, "check").await {
            Ok(true) => {}
            Ok(false) => return with_reason(StatusCode::FORBIDDEN, "token_already_used"),
            Err(error) => {
                tracing::error!(%error, "check endpoint cannot record a limited-use token");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .extend(avow_guard::claim_headers(&claims));
    response
}

/// Reasons the server cannot build the configuration that checks its own tokens.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OwnTokenConfigError {
    /// The audience header is not visible ASCII.
    #[error("audience header is not visible ascii")]
    InvalidAudienceHeader,
    /// No app is registered, so no audience can match.
    #[error("no app is registered")]
    NoApp,
    /// The registered apps could not be read.
    #[error("cannot read the apps")]
    Store(#[source] StoreError),
    /// The key ring or the issuer does not make a valid configuration.
    #[error("invalid check configuration: {0}")]
    Config(#[source] ConfigError),
}

/// Builds the configuration that checks this server's tokens: the keys of its key ring, its
/// issuer, and as audience the app named in `audience`, or every registered app without it.
/// The token is read from `Avow-Token`.
///
/// The check endpoint and `POST /v1/tokens/consume` share it, so both accept the same tokens.
pub(crate) async fn own_token_config(
    state: &AppState,
    audience: Option<&HeaderValue>,
) -> Result<Arc<GuardConfig>, OwnTokenConfigError> {
    let audiences = match audience {
        Some(audience) => vec![
            audience
                .to_str()
                .map_err(|_| OwnTokenConfigError::InvalidAudienceHeader)?
                .to_owned(),
        ],
        None => state
            .store
            .apps()
            .await
            .map_err(OwnTokenConfigError::Store)?
            .into_iter()
            .map(|app| app.id)
            .collect(),
    };
    if audiences.is_empty() {
        return Err(OwnTokenConfigError::NoApp);
    }
    state.check_configs.get_or_build(audiences, |audiences| {
        GuardConfig::builder(
            Keys::Es256(state.key_ring.jwks().clone()),
            state.config.issuer.clone(),
            audiences,
        )
        .token_header(TokenHeader::Named(HeaderName::from_static("avow-token")))
        .build()
        .map_err(OwnTokenConfigError::Config)
    })
}

/// Built check configurations by audience list, so that the check and consume endpoints parse
/// the JWKS keys once rather than on every request. The key ring is loaded at start and never
/// changes while the server runs, so an entry never goes stale.
#[derive(Debug, Default)]
pub struct CheckConfigs {
    entries: Mutex<HashMap<Vec<String>, Arc<GuardConfig>>>,
}

impl CheckConfigs {
    /// Entries kept before the cache starts over: gateways name few audiences, and the list of
    /// all registered apps changes only when an app is added.
    const CAPACITY: usize = 256;

    fn get_or_build<E>(
        &self,
        audiences: Vec<String>,
        build: impl FnOnce(Vec<String>) -> Result<GuardConfig, E>,
    ) -> Result<Arc<GuardConfig>, E> {
        if let Some(config) = self.lock().get(&audiences) {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(build(audiences.clone())?);
        let mut entries = self.lock();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(audiences, Arc::clone(&config));
        Ok(config)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<String>, Arc<GuardConfig>>> {
        // A panic while inserting leaves the map consistent, so a poisoned lock stays usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads `X-Avow-Limited-Use`: `Some(false)` when absent, `None` for a value other than `true`
/// or `false`.
fn limited_use(headers: &HeaderMap) -> Option<bool> {
    let mut values = headers.get_all(LIMITED_USE_HEADER).iter();
    let Some(value) = values.next() else {
        return Some(false);
    };
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Builds a response with an empty body and `reason` in `Avow-Reason`.
fn with_reason(status: StatusCode, reason: &'static str) -> Response {
    let mut response = status.into_response();
    response.headers_mut().insert(
        HeaderName::from_static("avow-reason"),
        HeaderValue::from_static(reason),
    );
    response
}

/// Builds a `401` with an empty body and the reason in a header for the gateway's log.
fn unauthorized(reason: &str) -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Avow"));
    if let Ok(value) = HeaderValue::from_str(reason) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("avow-reason"), value);
    }
    response
}

#[cfg(test)]
mod config_cache_tests {
    use std::cell::Cell;

    use avow_token::{Jwks, TokenSigner};

    use super::*;

    fn build(audiences: Vec<String>, jwks: &Jwks) -> Result<GuardConfig, ConfigError> {
        GuardConfig::builder(Keys::Es256(jwks.clone()), "avow", audiences).build()
    }

    #[test]
    fn config_built_once_per_audience_list() {
        let (signer, _pkcs8) = TokenSigner::generate().unwrap();
        let jwks = Jwks {
            keys: vec![signer.jwk().unwrap()],
        };
        let cache = CheckConfigs::default();
        let builds = Cell::new(0);
        let get = |audience: &str| {
            cache
                .get_or_build(vec![audience.to_owned()], |audiences| {
                    builds.set(builds.get() + 1);
                    build(audiences, &jwks)
                })
                .unwrap()
        };

        let first = get("com.example.a");
        let again = get("com.example.a");
        let other = get("com.example.b");

        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(builds.get(), 2);
    }
}
