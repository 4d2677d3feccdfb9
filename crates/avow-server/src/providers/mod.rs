//! Outbound clients for provider services reached over HTTPS: Apple DeviceCheck and Google
//! Play Integrity's decode endpoint.
//!
//! Every call goes through the same transport, which:
//!
//! - applies a per-request timeout ([`CallPolicy::timeout`], 5 s by default);
//! - retries timeouts, connection errors, 429 and 5xx responses up to
//!   [`CallPolicy::max_attempts`] attempts in all (2 by default), waiting
//!   [`CallPolicy::retry_backoff`] between attempts, or the provider's `Retry-After` when it is
//!   no longer than [`CallPolicy::max_retry_wait`];
//! - never retries 400, 401 or 403 responses;
//! - keeps a circuit breaker per client. After [`CallPolicy::breaker_threshold`] consecutive
//!   calls that end in an outage, calls fail at once with [`ProviderError::Unavailable`] for
//!   [`CallPolicy::breaker_cooldown`]. The next call after the cooldown is let through as a
//!   probe, and its outcome closes or reopens the breaker.
//!
//! A call therefore takes at most `max_attempts × timeout` plus
//! `(max_attempts − 1) × max(retry_backoff, max_retry_wait)`. A Play Integrity attempt can make
//! two requests (access token, then decode), so its bound counts each attempt twice.
//!
//! An outage is an ordinary [`ProviderError`] value: the caller tells it apart from a rejected
//! device token with [`ProviderError::kind`] and decides by policy. Nothing here panics on a
//! provider's response.

pub mod device_check;
pub mod google_auth;
pub mod play_integrity;

mod http;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;

use crate::config::{DEFAULT_PROVIDER_MAX_ATTEMPTS, DEFAULT_PROVIDER_TIMEOUT_MS};

pub use device_check::{
    DeviceCheckClient, DeviceCheckEnvironment, DeviceCheckSettings, TwoBits, TwoBitsState,
};
pub use google_auth::{GoogleServiceAccount, PLAY_INTEGRITY_SCOPE};
pub use play_integrity::{PlayIntegrityDecoder, PlayIntegritySettings};

/// Default wait between two attempts of a call.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// Default maximum `Retry-After` that is waited out before the next attempt. A provider that
/// requests a longer wait gets no retry, and the call ends with [`ProviderError::Throttled`].
pub const DEFAULT_MAX_RETRY_WAIT: Duration = Duration::from_secs(1);
/// Default number of consecutive outage calls that opens the circuit breaker.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;
/// Default time the circuit breaker stays open.
pub const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(30);

/// Failures of a provider call.
///
/// [`ProviderError::kind`] sorts them into outages, rejections and misconfiguration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The client settings are unusable: an unreadable key file, a key that does not parse, an
    /// invalid URL or package name, or an HTTP client that cannot be built.
    #[error("provider client configuration is invalid: {0}")]
    Config(String),
    /// The provider responded with success, but the body is not what its API documents, or it
    /// responded with a redirect.
    #[error("provider response is invalid: {detail}")]
    InvalidResponse {
        /// The defect found in the response.
        detail: &'static str,
    },
    /// The provider examined the request and rejected it, typically because the device token
    /// or integrity token is malformed or not genuine (HTTP 400, or another 4xx that is not
    /// 401, 403, 408 or 429).
    #[error("provider rejected the request with status {status}: {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The provider's explanation, shortened to at most 200 characters.
        message: String,
    },
    /// The provider is rate-limiting our requests (HTTP 429).
    #[error("provider is throttling requests")]
    Throttled {
        /// The wait the provider requested in `Retry-After`, when given in seconds.
        retry_after: Option<Duration>,
    },
    /// No complete response arrived within the request timeout.
    #[error("provider request timed out")]
    Timeout,
    /// The provider did not accept our credentials: HTTP 401 or 403 from the service, or any
    /// error from the OAuth token endpoint. The operator has to fix the key or its permissions.
    #[error("provider did not accept our credentials")]
    Unauthorized,
    /// The provider cannot be reached or reported a fault: a connection error, HTTP 408 or 5xx,
    /// or the circuit breaker is open.
    #[error("provider is unavailable{}", status.map(|status| format!(" (status {status})")).unwrap_or_default())]
    Unavailable {
        /// The HTTP status, when the provider responded at all. `None` for connection errors and
        /// for calls stopped by the open circuit breaker.
        status: Option<u16>,
    },
}

/// Category of a [`ProviderError`] for the caller's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Our side is at fault (settings or credentials). The device is not, and neither is the
    /// provider's availability.
    Misconfiguration,
    /// The provider cannot produce evidence right now. The device token was not judged.
    Outage,
    /// The provider judged the submitted token and rejected it.
    Rejection,
}

impl ProviderError {
    /// Returns a stable snake_case reason code for logs, verdicts and API responses.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Config(_) => "provider_config_invalid",
            Self::InvalidResponse { .. } => "provider_response_invalid",
            Self::Rejected { .. } => "provider_rejected",
            Self::Throttled { .. } => "provider_throttled",
            Self::Timeout => "provider_timeout",
            Self::Unauthorized => "provider_unauthorized",
            Self::Unavailable { .. } => "provider_unavailable",
        }
    }

    /// Sorts the error into outage, rejection or misconfiguration.
    ///
    /// An unusable success response ([`ProviderError::InvalidResponse`]) counts as an outage:
    /// the provider produced no evidence, and the device was not judged.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Config(_) | Self::Unauthorized => FailureKind::Misconfiguration,
            Self::InvalidResponse { .. }
            | Self::Throttled { .. }
            | Self::Timeout
            | Self::Unavailable { .. } => FailureKind::Outage,
            Self::Rejected { .. } => FailureKind::Rejection,
        }
    }

    /// Returns whether the provider could not produce evidence right now, which is
    /// [`FailureKind::Outage`]. Misconfiguration is neither an outage nor a rejection.
    pub fn is_outage(&self) -> bool {
        self.kind() == FailureKind::Outage
    }

    /// Returns whether another attempt may succeed: timeouts, connection errors, 408, 429 and
    /// 5xx. These are also the failures the circuit breaker counts.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. } | Self::Timeout | Self::Unavailable { .. }
        )
    }
}

/// Source of monotonic time for the circuit breaker and the credential caches.
///
/// Production code uses [`Clock::system`]. Tests pass a function that returns an instant they
/// control, so cooldowns and expiries can be crossed without sleeping.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    /// Creates a clock that reads [`Instant::now`].
    pub fn system() -> Self {
        Self(Arc::new(Instant::now))
    }

    /// Creates a clock that calls `now` for the current instant.
    pub fn from_fn(now: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// Returns the current instant.
    pub fn now(&self) -> Instant {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock(..)")
    }
}

/// Timeouts, retries and circuit breaker settings of one client.
#[derive(Clone, Debug)]
pub struct CallPolicy {
    /// Limit for one HTTP request, from connecting until the whole body is read. Defaults to
    /// 5 s.
    pub timeout: Duration,
    /// Attempts per call, the first included. Values below 1 count as 1. Defaults to 2.
    pub max_attempts: u32,
    /// Wait between attempts. Defaults to 200 ms.
    pub retry_backoff: Duration,
    /// Maximum `Retry-After` that is waited out. Defaults to 1 s.
    pub max_retry_wait: Duration,
    /// Consecutive outage calls that open the circuit breaker. Values below 1 count as 1.
    /// Defaults to 5.
    pub breaker_threshold: u32,
    /// Time the open breaker rejects calls before it lets a probe through. Defaults to 30 s.
    pub breaker_cooldown: Duration,
    /// Time source of the breaker and the credential caches. Defaults to [`Clock::system`].
    pub clock: Clock,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(DEFAULT_PROVIDER_TIMEOUT_MS),
            max_attempts: DEFAULT_PROVIDER_MAX_ATTEMPTS,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            max_retry_wait: DEFAULT_MAX_RETRY_WAIT,
            breaker_threshold: DEFAULT_BREAKER_THRESHOLD,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
            clock: Clock::system(),
        }
    }
}

/// Checks a provider base URL and returns it without a trailing slash.
///
/// The URL must use `https`, or `http` with a loopback host (`127.0.0.1`, `::1`, `localhost`)
/// for mock servers, because bearer credentials travel with every request. It must carry no
/// user name, password, query or fragment.
pub fn parse_base_url(text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    let loopback = url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    });
    let scheme_allowed = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_allowed {
        return Err(format!(
            "{text:?} must be an https URL, or http on a loopback address"
        ));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(format!(
            "{text:?} must not contain credentials, a query or a fragment"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Returns the JWS signing input `BASE64URL(header).BASE64URL(claims)`.
fn jws_signing_input(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Appends the base64url signature to a JWS signing input.
fn jws_compact(signing_input: String, signature: &[u8]) -> String {
    let mut jws = signing_input;
    jws.push('.');
    jws.push_str(&URL_SAFE_NO_PAD.encode(signature));
    jws
}

#[cfg(test)]
mod tests;
