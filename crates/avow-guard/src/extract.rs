//! The axum extractor for claims verified by the guard layer.

use avow_token::Claims;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header::WWW_AUTHENTICATE};
use axum::response::{IntoResponse, Response};

/// The claims of the request's token, as verified by [`AvowGuardLayer`](crate::AvowGuardLayer).
///
/// Extraction fails with 401 when the request has no verified claims: the layer is missing,
/// or it runs in monitor mode and the token failed. Handlers behind a monitor-mode layer take
/// `Option<VerifiedClaims>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedClaims(pub Claims);

/// Rejection of [`VerifiedClaims`]: the request has no verified claims. It becomes a 401
/// response with an empty body and `WWW-Authenticate: Avow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request has no verified avow claims")]
pub struct ClaimsMissing;

impl IntoResponse for ClaimsMissing {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, "Avow")]).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedClaims {
    type Rejection = ClaimsMissing;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .map(Self)
            .ok_or(ClaimsMissing)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for VerifiedClaims {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Claims>().cloned().map(Self))
    }
}
