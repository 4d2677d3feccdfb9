//! The tower layer that checks every request before the inner service receives it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::config::{GuardConfig, TokenHeader};
use crate::error::GuardError;
use crate::verify::check;

/// A source of the current time in Unix seconds.
pub trait Clock: Send + Sync + 'static {
    /// Returns the current time in Unix seconds.
    fn now(&self) -> u64;
}

/// The system clock. A clock set before 1970 reads as 0, so every token looks issued in the
/// future and is rejected.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    }
}

/// The action taken on a request whose token fails the check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Respond with 401 and never call the inner service.
    #[default]
    Enforce,
    /// Log and count the failure, then call the inner service without claims. For rolling out
    /// the guard before enforcing it.
    Monitor,
}

/// Counts of checked requests, shared by every service a layer builds.
#[derive(Debug, Default)]
pub struct GuardStats {
    accepted: AtomicU64,
    rejected: AtomicU64,
}

impl GuardStats {
    /// Returns how many requests passed the check.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Returns how many requests failed the check, including those let through in monitor
    /// mode.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

struct Shared {
    config: GuardConfig,
    clock: Arc<dyn Clock>,
    mode: Mode,
    stats: Arc<GuardStats>,
}

/// A tower layer that wraps services in [`AvowGuard`].
#[derive(Clone)]
pub struct AvowGuardLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AvowGuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvowGuardLayer")
            .field("config", &self.shared.config)
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

impl AvowGuardLayer {
    /// Builds an enforcing layer that reads the system clock.
    pub fn new(config: GuardConfig) -> Self {
        Self::with_clock(config, Mode::Enforce, Arc::new(SystemClock))
    }

    /// Builds a layer with the given mode and clock.
    pub fn with_clock(config: GuardConfig, mode: Mode, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                mode,
                stats: Arc::new(GuardStats::default()),
            }),
        }
    }

    /// Returns the request counters of this layer.
    pub fn stats(&self) -> Arc<GuardStats> {
        Arc::clone(&self.shared.stats)
    }
}

impl<S> Layer<S> for AvowGuardLayer {
    type Service = AvowGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AvowGuard {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// A service that puts the verified [`Claims`](avow_token::Claims) of a valid Avow token into
/// the request extensions. In [`Mode::Enforce`] it calls its inner service only for such
/// requests.
#[derive(Clone)]
pub struct AvowGuard<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for AvowGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvowGuard")
            .field("inner", &self.inner)
            .field("mode", &self.shared.mode)
            .finish_non_exhaustive()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AvowGuard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let now = shared.clock.now();
        match check(&shared.config, request.headers(), now) {
            Ok(claims) => {
                shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
                request.extensions_mut().insert(claims);
                Box::pin(self.inner.call(request))
            }
            Err(error) => {
                shared.stats.rejected.fetch_add(1, Ordering::Relaxed);
                match shared.mode {
                    Mode::Monitor => {
                        tracing::info!(
                            target: "avow::rejection",
                            reason = error.reason(),
                            mode = "monitor",
                            url.path = request.uri().path(),
                            "token check failed, request let through"
                        );
                        Box::pin(self.inner.call(request))
                    }
                    Mode::Enforce => {
                        // Debug level, because every unauthenticated client produces one. The
                        // rejection counter in `GuardStats` gives the rate.
                        tracing::debug!(
                            target: "avow::rejection",
                            reason = error.reason(),
                            mode = "enforce",
                            url.path = request.uri().path(),
                            "token check failed, request rejected"
                        );
                        let response = unauthorized(&shared.config.token_header, &error);
                        Box::pin(std::future::ready(Ok(response)))
                    }
                }
            }
        }
    }
}

/// Builds the 401 response: an empty body and a `WWW-Authenticate` challenge in the form of
/// RFC 6750, with `error="invalid_token"` when a token was present.
fn unauthorized<B: Default>(token_header: &TokenHeader, error: &GuardError) -> Response<B> {
    let scheme = match token_header {
        TokenHeader::AuthorizationBearer => "Bearer",
        TokenHeader::Named(_) => "Avow",
    };
    let challenge = if error.is_missing_token() {
        scheme.to_owned()
    } else {
        format!("{scheme} error=\"invalid_token\"")
    };
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    // The challenge is built from the fixed strings above, which are valid header values.
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}
