//! The transport shared by the provider clients: status mapping, bounded retries and the
//! circuit breaker.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};

use super::{CallPolicy, Clock, ProviderError};

/// Largest provider response body read, in bytes. A decoded Play Integrity payload is a few
/// KiB; DeviceCheck bodies are shorter still.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// Maximum length of the provider error message kept in [`ProviderError::Rejected`], in characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// An HTTP client with the retry and circuit breaker behaviour of one provider.
pub(super) struct Transport {
    provider: &'static str,
    http: reqwest::Client,
    policy: CallPolicy,
    breaker: Breaker,
}

impl Transport {
    /// Builds the HTTP client. `provider` names the provider in logs.
    pub(super) fn new(provider: &'static str, policy: CallPolicy) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A redirect from these APIs is unexpected; it is reported rather than followed.
            .redirect(reqwest::redirect::Policy::none())
            // Retries are decided here, per attempt, so the client's own protocol-level
            // retries are turned off to keep one attempt equal to one request.
            .retry(reqwest::retry::never())
            .user_agent(concat!("avow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| {
                ProviderError::Config(format!("cannot build the HTTP client: {error}"))
            })?;
        let breaker = Breaker::new(
            policy.breaker_threshold,
            policy.breaker_cooldown,
            policy.clock.clone(),
        );
        Ok(Self {
            provider,
            http,
            policy,
            breaker,
        })
    }

    /// Returns the HTTP client for building requests.
    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Returns the clock of this client.
    pub(super) fn clock(&self) -> &Clock {
        &self.policy.clock
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run out, behind the
    /// circuit breaker.
    pub(super) async fn call<T, F, Fut>(&self, attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        self.breaker.admit()?;
        let result = self.retry(attempt).await;
        match &result {
            Err(error) if error.is_transient() => {
                if self.breaker.record_outage() {
                    tracing::warn!(
                        provider = self.provider,
                        reason = error.reason(),
                        cooldown_ms = duration_ms(self.policy.breaker_cooldown),
                        "provider circuit breaker opened; calls fail fast until the cooldown ends"
                    );
                }
            }
            _ => {
                if self.breaker.record_response() {
                    tracing::info!(provider = self.provider, "provider circuit breaker closed");
                }
            }
        }
        result
    }

    async fn retry<T, F, Fut>(&self, mut attempt: F) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let max_attempts = self.policy.max_attempts.max(1);
        let mut attempt_number = 1;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if attempt_number >= max_attempts || !error.is_transient() {
                return Err(error);
            }
            let wait = match &error {
                ProviderError::Throttled {
                    retry_after: Some(retry_after),
                } => {
                    if *retry_after > self.policy.max_retry_wait {
                        return Err(error);
                    }
                    (*retry_after).max(self.policy.retry_backoff)
                }
                _ => self.policy.retry_backoff,
            };
            tracing::debug!(
                provider = self.provider,
                attempt = attempt_number,
                reason = error.reason(),
                wait_ms = duration_ms(wait),
                "provider call failed; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt_number += 1;
        }
    }
}

/// Sends a request and returns the body of a 2xx response. Every other outcome becomes the
/// matching [`ProviderError`].
pub(super) async fn send(request: RequestBuilder) -> Result<Vec<u8>, ProviderError> {
    let response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = read_body(response).await?;
    if status.is_success() {
        return Ok(body);
    }
    Err(status_error(status, retry_after, &body))
}

/// Maps a non-2xx status to its error.
pub(super) fn status_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> ProviderError {
    match status.as_u16() {
        429 => ProviderError::Throttled { retry_after },
        408 | 500..=599 => ProviderError::Unavailable {
            status: Some(status.as_u16()),
        },
        401 | 403 => ProviderError::Unauthorized,
        400..=499 => ProviderError::Rejected {
            status: status.as_u16(),
            message: error_message(body),
        },
        _ => ProviderError::InvalidResponse {
            detail: "unexpected status (informational or redirect)",
        },
    }
}

fn transport_error(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Timeout
    } else {
        tracing::debug!(%error, "provider request failed before a response");
        ProviderError::Unavailable { status: None }
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ProviderError::InvalidResponse {
                detail: "response body is too large",
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads `Retry-After` when it is a number of seconds. The HTTP-date form is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Extracts a short, printable explanation from an error body: Google's
/// `{"error": {"message": …}}` or the `error_description` of an OAuth error, otherwise the
/// body as text.
fn error_message(body: &[u8]) -> String {
    let json_message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            let message = json
                .pointer("/error/message")
                .or_else(|| json.get("error_description"))?;
            message.as_str().map(str::to_owned)
        });
    let text = json_message.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    text.trim()
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .take(MAX_MESSAGE_CHARS)
        .collect()
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

// === impl Breaker ===

/// A consecutive-failure circuit breaker.
///
/// The state lives behind a `std::sync::Mutex` that is only held for a few comparisons and is
/// never held across an `.await`.
pub(super) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    clock: Clock,
    state: Mutex<BreakerState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BreakerState {
    /// Calls pass. `consecutive_outages` counts calls that ended in an outage since the last
    /// provider response.
    Closed { consecutive_outages: u32 },
    /// One probe call was let through at `probe_started`. Other calls fail fast until it ends,
    /// or until a cooldown has passed in case the probe was cancelled.
    HalfOpen { probe_started: Instant },
    /// Calls fail fast until `until`.
    Open { until: Instant },
}

impl Breaker {
    pub(super) fn new(threshold: u32, cooldown: Duration, clock: Clock) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            clock,
            state: Mutex::new(BreakerState::Closed {
                consecutive_outages: 0,
            }),
        }
    }

    /// Lets a call through, or fails it with [`ProviderError::Unavailable`] while open.
    pub(super) fn admit(&self) -> Result<(), ProviderError> {
        let now = self.clock.now();
        let mut state = self.lock();
        match *state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } if now < until => {
                Err(ProviderError::Unavailable { status: None })
            }
            BreakerState::HalfOpen { probe_started }
                if now.saturating_duration_since(probe_started) < self.cooldown =>
            {
                Err(ProviderError::Unavailable { status: None })
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => {
                *state = BreakerState::HalfOpen { probe_started: now };
                Ok(())
            }
        }
    }

    /// Records a call that ended in an outage. Returns whether this opened the breaker.
    pub(super) fn record_outage(&self) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        let next = match *state {
            BreakerState::Closed {
                consecutive_outages,
            } => {
                let consecutive_outages = consecutive_outages.saturating_add(1);
                if consecutive_outages >= self.threshold {
                    BreakerState::Open {
                        until: now + self.cooldown,
                    }
                } else {
                    BreakerState::Closed {
                        consecutive_outages,
                    }
                }
            }
            BreakerState::HalfOpen { .. } => BreakerState::Open {
                until: now + self.cooldown,
            },
            // A call admitted before the breaker opened ended late; the cooldown stays.
            open @ BreakerState::Open { .. } => open,
        };
        let opened = !matches!(*state, BreakerState::Open { .. })
            && matches!(next, BreakerState::Open { .. });
        *state = next;
        opened
    }

    /// Records a call that reached the provider and got a response. Returns whether this closed
    /// an open or half-open breaker.
    pub(super) fn record_response(&self) -> bool {
        let mut state = self.lock();
        let closed = !matches!(*state, BreakerState::Closed { .. });
        *state = BreakerState::Closed {
            consecutive_outages: 0,
        };
        closed
    }

    fn lock(&self) -> MutexGuard<'_, BreakerState> {
        // The state is a plain value that every holder leaves consistent, so a panic elsewhere
        // while the lock was held cannot leave it half-written.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn manual_clock() -> (Clock, Arc<AtomicU64>) {
        let start = Instant::now();
        let offset_ms = Arc::new(AtomicU64::new(0));
        let reader = offset_ms.clone();
        let clock =
            Clock::from_fn(move || start + Duration::from_millis(reader.load(Ordering::SeqCst)));
        (clock, offset_ms)
    }

    #[test]
    fn breaker_opens_at_threshold() {
        let (clock, _) = manual_clock();
        let breaker = Breaker::new(3, Duration::from_secs(30), clock);
        assert!(!breaker.record_outage());
        assert!(!breaker.record_outage());
        assert!(breaker.admit().is_ok());
        assert!(breaker.record_outage());
        assert_eq!(
            breaker.admit(),
            Err(ProviderError::Unavailable { status: None })
        );
    }

    #[test]
    fn breaker_response_resets_count() {
        let (clock, _) = manual_clock();
        let breaker = Breaker::new(2, Duration::from_secs(30), clock);
        assert!(!breaker.record_outage());
        assert!(!breaker.record_response());
        assert!(!breaker.record_outage());
        assert!(breaker.admit().is_ok());
    }

    #[test]
    fn breaker_half_open_lets_one_probe() {
        let (clock, offset_ms) = manual_clock();
        let breaker = Breaker::new(1, Duration::from_secs(30), clock);
        assert!(breaker.record_outage());
        offset_ms.store(30_000, Ordering::SeqCst);
        assert!(breaker.admit().is_ok(), "probe after the cooldown");
        assert!(breaker.admit().is_err(), "second call while the probe runs");

        assert!(breaker.record_outage(), "failed probe reopens");
        assert!(breaker.admit().is_err());

        offset_ms.store(60_000, Ordering::SeqCst);
        assert!(breaker.admit().is_ok());
        assert!(breaker.record_response(), "successful probe closes");
        assert!(breaker.admit().is_ok());
        assert!(breaker.admit().is_ok());
    }

    #[test]
    fn breaker_replaces_abandoned_probe() {
        let (clock, offset_ms) = manual_clock();
        let breaker = Breaker::new(1, Duration::from_secs(30), clock);
        breaker.record_outage();
        offset_ms.store(30_000, Ordering::SeqCst);
        assert!(breaker.admit().is_ok());
        offset_ms.store(45_000, Ordering::SeqCst);
        assert!(breaker.admit().is_err());
        offset_ms.store(60_000, Ordering::SeqCst);
        assert!(
            breaker.admit().is_ok(),
            "a probe that never reported is replaced"
        );
    }

    #[test]
    fn status_mapping() {
        let map = |code: u16| status_error(StatusCode::from_u16(code).unwrap(), None, b"bad");
        assert_eq!(
            map(400),
            ProviderError::Rejected {
                status: 400,
                message: "bad".to_owned()
            }
        );
        assert_eq!(
            map(404),
            ProviderError::Rejected {
                status: 404,
                message: "bad".to_owned()
            }
        );
        assert_eq!(map(401), ProviderError::Unauthorized);
        assert_eq!(map(403), ProviderError::Unauthorized);
        assert_eq!(map(408), ProviderError::Unavailable { status: Some(408) });
        assert_eq!(map(429), ProviderError::Throttled { retry_after: None });
        assert_eq!(map(500), ProviderError::Unavailable { status: Some(500) });
        assert_eq!(map(503), ProviderError::Unavailable { status: Some(503) });
        assert!(matches!(map(302), ProviderError::InvalidResponse { .. }));
    }

    #[test]
    fn error_message_prefers_google_and_oauth_fields() {
        let google = br#"{"error":{"code":400,"message":"Integrity token cannot be decoded.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(error_message(google), "Integrity token cannot be decoded.");
        let oauth = br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#;
        assert_eq!(error_message(oauth), "Invalid JWT Signature.");
        assert_eq!(
            error_message(b"Missing or incorrectly formatted device token payload\n"),
            "Missing or incorrectly formatted device token payload"
        );
    }

    #[test]
    fn error_message_is_short_and_printable() {
        let long = format!("line one\nline two\u{7}{}", "x".repeat(1000));
        let message = error_message(long.as_bytes());
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.starts_with("line one line two "));
        assert!(!message.chars().any(char::is_control));
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
