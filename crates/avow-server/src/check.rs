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

use avow_guard::{GuardConfig, Keys, TokenHeader};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The request header a gateway uses to name the app the backend serves.
pub const AUDIENCE_HEADER: &str = "x-avow-audience";

/// Checks the token in the request headers a gateway forwards.
pub async fn check(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let audiences = match audiences(&state, &headers).await {
        Ok(audiences) => audiences,
        Err(response) => return response,
    };
    if audiences.is_empty() {
        return unauthorized("no app is registered");
    }
    // NOTE: the configuration is rebuilt per request from the key ring. A cache keyed by the
    // audience set would save the JWKS copy on this hot path.
    let config = GuardConfig::builder(
        Keys::Es256(state.key_ring.jwks().clone()),
        state.config.issuer.clone(),
        audiences,
    )
    .token_header(TokenHeader::Named(HeaderName::from_static("avow-token")))
    .build();
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "check endpoint configuration invalid");
            return unauthorized("checker misconfigured");
        }
    };
    let now = u64::try_from(state.now()).unwrap_or(0);
    match avow_guard::check(&config, &headers, now) {
        Ok(claims) => {
            let mut response = StatusCode::OK.into_response();
            let headers = response.headers_mut();
            let mut put = |name: &'static str, value: &str| {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(HeaderName::from_static(name), value);
                }
            };
            put("avow-app", &claims.sub);
            put("avow-token-id", &claims.jti);
            if let Some(install) = &claims.ins {
                put("avow-install", install);
            }
            put("avow-providers", &claims.att.prv.join(","));
            put("avow-trust", &claims.att.trust);
            put("avow-app-integrity", &claims.att.app);
            put("avow-device-integrity", &claims.att.dev);
            put("avow-flags", &claims.att.flg.join(","));
            if claims.att.red {
                put("avow-reduced", "true");
            }
            response
        }
        Err(error) => {
            tracing::debug!(target: "avow::rejection", reason = error.reason(), "check rejected a token");
            unauthorized(error.reason())
        }
    }
}

async fn audiences(state: &AppState, headers: &HeaderMap) -> Result<Vec<String>, Response> {
    if let Some(audience) = headers.get(AUDIENCE_HEADER) {
        return match audience.to_str() {
            Ok(audience) => Ok(vec![audience.to_owned()]),
            Err(_) => Err(unauthorized("invalid audience header")),
        };
    }
    match state.store.apps().await {
        Ok(apps) => Ok(apps.into_iter().map(|app| app.id).collect()),
        Err(error) => {
            // A database fault is our failure, not the client's: 503 lets the gateway apply
            // its own fail-open or fail-closed rule.
            tracing::error!(%error, "check endpoint cannot read the apps");
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
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
