//! Limited-use tokens: the client that consumes a token at the Avow server, so that each token
//! passes a limited-use route once.

use std::fmt;
use std::time::Duration;

use avow_token::Claims;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Default time limit of one consume request. The request being checked waits for it, so it
/// is short.
pub const DEFAULT_CONSUME_TIMEOUT: Duration = Duration::from_secs(2);
/// The path of the consume endpoint, relative to the Avow server's base URL.
pub const CONSUME_PATH: &str = "v1/tokens/consume";

/// Largest consume response body read, in bytes. A response is under 200 bytes.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;
/// Maximum length in bytes of a reason code kept from a 401 response.
const MAX_REASON_LEN: usize = 64;

/// The consume endpoint's outcome for a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// The token was used before. The request is rejected with 403.
    AlreadyUsed,
    /// This call consumed the token: its first use. The request passes.
    Consumed,
    /// The server rejected the token as invalid (HTTP 401), for example because it is not
    /// the server that issued it. The request is rejected with 401.
    Rejected {
        /// The server's snake_case reason code, or `invalid_token` when it gave none.
        reason: String,
    },
}

/// Reasons a consume call produced no outcome. The route's [`FailurePolicy`] decides what
/// happens to the request.
///
/// [`ConsumeError::reason`] gives a stable snake_case code for each variant. None of the
/// variants carries token text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// The request did not finish within the timeout.
    #[error("consume request timed out")]
    Timeout,
    /// The request failed before a response arrived: connection refused, DNS or TLS failure.
    #[error("consume endpoint unreachable: {0}")]
    Unreachable(String),
    /// The endpoint responded with a status other than 200, 401 or 409, such as 503 when the
    /// server's database is down.
    #[error("consume endpoint returned status {0}")]
    UnexpectedStatus(u16),
    /// A 200 response whose body is not the expected JSON, or names another token id.
    #[error("consume endpoint returned an invalid response: {0}")]
    InvalidResponse(&'static str),
}

impl ConsumeError {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Timeout => "consume_timeout",
            Self::Unreachable(_) => "consume_unreachable",
            Self::UnexpectedStatus(_) => "consume_unexpected_status",
            Self::InvalidResponse(_) => "consume_invalid_response",
        }
    }
}

/// The action of a limited-use route on a request whose consume call fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Respond with 503 and never call the inner service. A token may then be refused that
    /// was never used, but no token is accepted twice.
    #[default]
    FailClosed,
    /// Call the inner service with the verified claims, log a warning and count the request
    /// in [`GuardStats::consume_failed_open`](crate::GuardStats::consume_failed_open). A token
    /// can then pass more than once while the consume endpoint is down.
    FailOpen,
}

/// Marks a verified token as used, once across every instance of the backend.
///
/// [`HttpTokenConsumer`] calls the Avow server's `POST /v1/tokens/consume`. Other
/// implementations can keep the used token ids (`claims.jti`, with `claims.exp` for expiry) in
/// any store that has an atomic insert-if-absent.
#[async_trait::async_trait]
pub trait TokenConsumer: Send + Sync + 'static {
    /// Consumes `token`, whose signature and claims the guard has verified as `claims`.
    ///
    /// # Errors
    ///
    /// A [`ConsumeError`] when the outcome is unknown, such as when the endpoint cannot be
    /// reached.
    async fn consume(&self, token: &str, claims: &Claims) -> Result<ConsumeOutcome, ConsumeError>;
}

/// A [`TokenConsumer`] that calls `POST /v1/tokens/consume` on an Avow server.
///
/// The request body is `{"token": "<compact JWT>"}`. The server responds with 200 and the
/// token's `jti`, `sub` and `exp` on first use, 409 on reuse, and 401 for a token it does not
/// accept. Redirects are not followed.
#[derive(Clone)]
pub struct HttpTokenConsumer {
    client: reqwest::Client,
    endpoint: Url,
}

impl fmt::Debug for HttpTokenConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTokenConsumer")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl HttpTokenConsumer {
    /// Creates a consumer for the Avow server at `server_url`, such as
    /// `http://127.0.0.1:8080`, with [`DEFAULT_CONSUME_TIMEOUT`]. A path in the URL is kept
    /// as a prefix of [`CONSUME_PATH`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidServerUrl`] or [`ConfigError::HttpClient`].
    pub fn new(server_url: &str) -> Result<Self, ConfigError> {
        Self::with_timeout(server_url, DEFAULT_CONSUME_TIMEOUT)
    }

    /// Creates a consumer as [`HttpTokenConsumer::new`] does, with a time limit per consume
    /// request, connection included.
    ///
    /// # Errors
    ///
    /// As [`HttpTokenConsumer::new`].
    pub fn with_timeout(server_url: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let endpoint = consume_endpoint(server_url)?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .user_agent(concat!("avow-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ConfigError::HttpClient(error.to_string()))?;
        Ok(Self { client, endpoint })
    }

    /// Returns the URL consume requests are sent to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }
}

#[derive(Serialize)]
struct ConsumeRequest<'a> {
    token: &'a str,
}

#[derive(Deserialize)]
struct ConsumedBody {
    jti: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    reason: String,
}

#[async_trait::async_trait]
impl TokenConsumer for HttpTokenConsumer {
    async fn consume(&self, token: &str, claims: &Claims) -> Result<ConsumeOutcome, ConsumeError> {
        let transport = |error: reqwest::Error| {
            if error.is_timeout() {
                ConsumeError::Timeout
            } else {
                ConsumeError::Unreachable(error.without_url().to_string())
            }
        };
        let mut response = self
            .client
            .post(self.endpoint.clone())
            .json(&ConsumeRequest { token })
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if !matches!(
            status,
            StatusCode::OK | StatusCode::UNAUTHORIZED | StatusCode::CONFLICT
        ) {
            return Err(ConsumeError::UnexpectedStatus(status.as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ConsumeError::InvalidResponse("response body is too large"));
            }
            body.extend_from_slice(&chunk);
        }
        match status {
            StatusCode::OK => {
                let consumed: ConsumedBody = serde_json::from_slice(&body)
                    .map_err(|_| ConsumeError::InvalidResponse("body has no jti"))?;
                if consumed.jti != claims.jti {
                    return Err(ConsumeError::InvalidResponse(
                        "jti in the response is not the token's jti",
                    ));
                }
                Ok(ConsumeOutcome::Consumed)
            }
            StatusCode::CONFLICT => Ok(ConsumeOutcome::AlreadyUsed),
            _ => Ok(ConsumeOutcome::Rejected {
                reason: rejection_reason(&body),
            }),
        }
    }
}

/// Returns the reason code of a 401 body when it is a short snake_case code, otherwise
/// `invalid_token`, so a log never carries arbitrary text from the response.
fn rejection_reason(body: &[u8]) -> String {
    serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|body| body.reason)
        .filter(|reason| {
            !reason.is_empty()
                && reason.len() <= MAX_REASON_LEN
                && reason
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        })
        .unwrap_or_else(|| "invalid_token".to_owned())
}

fn consume_endpoint(server_url: &str) -> Result<Url, ConfigError> {
    let mut base =
        Url::parse(server_url).map_err(|error| ConfigError::InvalidServerUrl(error.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(ConfigError::InvalidServerUrl(format!(
            "scheme {} is not http or https",
            base.scheme()
        )));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(ConfigError::InvalidServerUrl(
            "the server url has a query or fragment".to_owned(),
        ));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(CONSUME_PATH)
        .map_err(|error| ConfigError::InvalidServerUrl(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_joins_base_url() {
        let cases = [
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/v1/tokens/consume",
            ),
            (
                "http://127.0.0.1:8080/",
                "http://127.0.0.1:8080/v1/tokens/consume",
            ),
            (
                "http://127.0.0.1:8080/avow",
                "http://127.0.0.1:8080/avow/v1/tokens/consume",
            ),
            (
                "https://127.0.0.1/avow/",
                "https://127.0.0.1/avow/v1/tokens/consume",
            ),
        ];
        for (base, expected) in cases {
            assert_eq!(consume_endpoint(base).unwrap().as_str(), expected, "{base}");
        }
    }

    #[test]
    fn endpoint_rejects_bad_urls() {
        for base in [
            "127.0.0.1:8080",
            "ftp://127.0.0.1/",
            "http://127.0.0.1/?a=b",
            "not a url",
        ] {
            let error = consume_endpoint(base).unwrap_err();
            assert!(
                matches!(error, ConfigError::InvalidServerUrl(_)),
                "{base}: {error:?}"
            );
        }
    }

    #[test]
    fn rejection_reason_kept_only_when_a_code() {
        assert_eq!(
            rejection_reason(br#"{"reason":"token_expired","message":"x"}"#),
            "token_expired"
        );
        assert_eq!(rejection_reason(b"not json"), "invalid_token");
        assert_eq!(
            rejection_reason(br#"{"reason":"Bad reason\nwith text"}"#),
            "invalid_token"
        );
        let long = format!(r#"{{"reason":"{}"}}"#, "a".repeat(MAX_REASON_LEN + 1));
        assert_eq!(rejection_reason(long.as_bytes()), "invalid_token");
    }
}
