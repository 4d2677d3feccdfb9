//! `POST /v1/tokens/consume`: limited-use tokens.
//!
//! A backend route marked as limited-use accepts each token once. After its own check of the
//! token, the backend (the `avow-guard` layer, the `avow guard` proxy or any other client) sends
//! `{"token": "<compact JWT>"}` here. The server verifies the token as the check endpoint does,
//! with its own keys, its issuer, and any registered app as audience (see [`crate::check`]).
//! Then it records the token's `jti` in the database with one atomic insert-if-absent, so
//! exactly one consumption succeeds across all server instances sharing the database:
//!
//! | status | body | meaning |
//! |---|---|---|
//! | 200 | `{"jti": …, "sub": …, "exp": …}` | first use: the token is now consumed |
//! | 409 | `{"reason": "token_already_used", …}` | the token was consumed before |
//! | 401 | `{"reason": <check reason>, …}` | the token is missing or invalid, as in `avow-guard` |
//! | 400, 413, 415 | `{"reason": …, …}` | the body is not `{"token": "…"}` as JSON |
//! | 503 | `{"reason": "database_unavailable", …}` | the database failed, so the outcome is unknown |
//!
//! The endpoint needs no credentials. Consuming a token only burns it, so a caller can harm
//! nobody but the holder of the token, who could as well have used it.
//!
//! Request binding (`pay`) is not checked here, because the request the token is bound to
//! went to the backend. The backend checks it before it consumes the token.
//!
//! Each row keeps the token's `exp`. A background task deletes rows an hour after that expiry,
//! when the token is long past the verification leeway and would be rejected as expired.

use std::sync::Arc;
use std::time::Duration;

use avow_store::{Store, StoreError};
use avow_token::Claims;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::check::{OwnTokenConfigError, own_token_config};
use crate::error::ApiError;
use crate::metrics::ConsumeOutcome;

/// How long a used-token row is kept after the token's `exp`, in seconds. Longer than any
/// verification leeway, with room for clock differences between server instances.
pub const USED_TOKEN_RETENTION_SECS: i64 = 3600;
/// How often expired used-token rows are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(300);
/// Rows deleted by one purge statement.
const PURGE_BATCH: u32 = 10_000;
/// Purge statements per interval. Rows beyond `PURGE_BATCH * PURGE_BATCHES_PER_RUN` wait for
/// the next interval, which bounds the database work of one run.
const PURGE_BATCHES_PER_RUN: u32 = 10;

/// `POST /v1/tokens/consume` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeRequest {
    /// The compact token, as the app sent it.
    pub token: String,
}

/// `POST /v1/tokens/consume` response on first use.
#[derive(Debug, Serialize)]
pub struct ConsumeResponse {
    /// The token id that is now consumed.
    pub jti: String,
    /// The app the token was issued to.
    pub sub: String,
    /// Unix seconds at which the token expires.
    pub exp: u64,
}

/// Verifies a token and consumes it.
pub async fn consume(
    State(state): State<AppState>,
    body: Result<Json<ConsumeRequest>, JsonRejection>,
) -> Result<Json<ConsumeResponse>, ApiError> {
    let Json(request) = body?;
    let config = own_token_config(&state, None)
        .await
        .map_err(|error| match error {
            OwnTokenConfigError::NoApp => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "audience_mismatch",
                "no app is registered, so no token audience matches",
            ),
            OwnTokenConfigError::Store(error) => database_unavailable(&error),
            other => ApiError::internal(&other),
        })?;
    let now = u64::try_from(state.now()).unwrap_or(0);
    let claims = avow_guard::verify_token(&config, &request.token, now).map_err(|error| {
        tracing::debug!(target: "avow::rejection", reason = error.reason(), "consume rejected a token");
        ApiError::new(StatusCode::UNAUTHORIZED, error.reason(), error.to_string())
    })?;

    match mark_used(&state, &claims, "consume").await {
        Ok(true) => Ok(Json(ConsumeResponse {
            jti: claims.jti,
            sub: claims.sub,
            exp: claims.exp,
        })),
        Ok(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "token_already_used",
            "token was already used; a limited-use request needs a fresh token",
        )),
        Err(error) => Err(database_unavailable(&error)),
    }
}

/// Records the use of a verified token and counts it. Returns `true` for the token's first
/// use and `false` for a reuse. `via` names the route, `consume` or `check`, for the metric.
pub(crate) async fn mark_used(
    state: &AppState,
    claims: &Claims,
    via: &'static str,
) -> Result<bool, StoreError> {
    let expires_at = i64::try_from(claims.exp).unwrap_or(i64::MAX);
    let first_use = state
        .store
        .mark_token_used(&claims.jti, expires_at, state.now())
        .await?;
    let outcome = if first_use {
        ConsumeOutcome::Consumed
    } else {
        tracing::debug!(
            target: "avow::rejection",
            app_id = %claims.sub,
            via,
            "limited-use token already used"
        );
        ConsumeOutcome::AlreadyUsed
    };
    state.metrics.token_consumption(&claims.sub, via, outcome);
    Ok(first_use)
}

/// Logs a database failure and builds the 503 response: the outcome of the consumption is
/// unknown to the caller.
fn database_unavailable(error: &StoreError) -> ApiError {
    let detail = std::error::Error::source(error)
        .map_or_else(|| error.to_string(), |source| format!("{error}: {source}"));
    tracing::error!(error = %detail, "cannot record a limited-use token");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
        "the database does not answer; the token was not consumed, retry later",
    )
}

/// Deletes used-token rows [`USED_TOKEN_RETENTION_SECS`] after their token's expiry, every
/// 5 minutes, in bounded batches. Runs until aborted.
pub(crate) async fn purge_used_tokens(store: Arc<dyn Store>) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        let before = crate::unix_now() - USED_TOKEN_RETENTION_SECS;
        let mut deleted = 0;
        for _ in 0..PURGE_BATCHES_PER_RUN {
            match store.purge_used_tokens(before, PURGE_BATCH).await {
                Ok(count) => {
                    deleted += count;
                    if count < u64::from(PURGE_BATCH) {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "purging used tokens failed; retrying later");
                    break;
                }
            }
        }
        if deleted > 0 {
            tracing::debug!(deleted, "expired used tokens purged");
        }
    }
}
