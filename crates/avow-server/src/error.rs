//! The one place where failures become HTTP responses.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API failure: a status, a stable snake_case reason and a readable message.
///
/// Client mistakes are 4xx with their reason. Faults of the server (store, crypto backend) are
/// 500 with a generic message, and their details go to the log only.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    reason: &'a str,
    message: &'a str,
}

impl ApiError {
    /// Creates a client error.
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }

    /// Creates a 400 Bad Request error.
    pub fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason, message)
    }

    /// Creates a 403 Forbidden error: the evidence or proof was examined and rejected.
    pub fn forbidden(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, reason, message)
    }

    /// Creates a 404 Not Found error.
    pub fn not_found(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, reason, message)
    }

    /// Logs `detail` and creates a 500 Internal Server Error that does not include it.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error; the server log has the details",
        )
    }

    /// Returns the HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Returns the reason code.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            reason: self.reason,
            message: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<avow_store::StoreError> for ApiError {
    fn from(error: avow_store::StoreError) -> Self {
        let detail = std::error::Error::source(&error)
            .map_or_else(|| error.to_string(), |source| format!("{error}: {source}"));
        Self::internal(&detail)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "request body must be JSON with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(_) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "request body is too large or could not be read",
            ),
            other => Self::bad_request("invalid_json", other.body_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn client_error_renders_reason_and_message() {
        let response =
            ApiError::bad_request("invalid_nonce", "nonce is not base64").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["reason"], "invalid_nonce");
        assert_eq!(json["message"], "nonce is not base64");
    }

    #[tokio::test]
    async fn internal_error_hides_detail() {
        let response = ApiError::internal(&"disk full at /secret/path").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("internal_error"));
        assert!(!text.contains("/secret/path"));
    }
}
