//! The tower layer that checks every request before the inner service receives it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use avow_token::{Claims, TokenError};
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use crate::config::{GuardConfig, TokenHeader};
use crate::consume::{ConsumeError, ConsumeOutcome, FailurePolicy, TokenConsumer};
use crate::error::GuardError;
use crate::jwks::JwksSource;
use crate::verify::{check, check_with_refresh, read_token};

/// The response header that names why a limited-use route rejected a request:
/// `token_already_used` with 403, `consume_unavailable` with 503.
pub const REASON_HEADER: &str = "avow-reason";

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

/// The action taken on a request that fails the guard: its token fails the check, or on a
/// limited-use route, the token was used before or cannot be consumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Respond with 401, 403 or 503 and never call the inner service.
    #[default]
    Enforce,
    /// Log and count the failure, then call the inner service without claims. For rolling out
    /// the guard, or limited use, on a route before enforcing it.
    Monitor,
}

/// The options of one route, or of one group of routes, that a layer applies on top of the
/// shared [`GuardConfig`]. Built with [`RouteOptions::new`] and passed to
/// [`AvowGuardLayer::with_options`].
///
/// The defaults are [`Mode::Enforce`], no limited use, and [`FailurePolicy::FailClosed`].
#[derive(Clone, Default)]
pub struct RouteOptions {
    mode: Mode,
    limited_use: Option<Arc<dyn TokenConsumer>>,
    consume_failure: FailurePolicy,
}

impl std::fmt::Debug for RouteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteOptions")
            .field("mode", &self.mode)
            .field("limited_use", &self.limited_use.is_some())
            .field("consume_failure", &self.consume_failure)
            .finish()
    }
}

impl RouteOptions {
    /// Returns the defaults: enforce, no limited use, fail closed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets what happens to a request that fails the guard. Defaults to [`Mode::Enforce`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Makes the route limited-use: after a token passes the check, `consumer` consumes it,
    /// and a token that was consumed before is rejected with 403. Defaults to none.
    pub fn limited_use(mut self, consumer: Arc<dyn TokenConsumer>) -> Self {
        self.limited_use = Some(consumer);
        self
    }

    /// Sets what a limited-use route does when the consume call fails (unreachable, timeout,
    /// 5xx). Defaults to [`FailurePolicy::FailClosed`], which responds with 503.
    pub fn on_consume_failure(mut self, policy: FailurePolicy) -> Self {
        self.consume_failure = policy;
        self
    }
}

/// Counts of checked requests, shared by every layer derived from one [`AvowGuardLayer`] and
/// every service they build.
#[derive(Debug, Default)]
pub struct GuardStats {
    accepted: AtomicU64,
    rejected: AtomicU64,
    monitor_would_deny: AtomicU64,
    reused: AtomicU64,
    consume_failures: AtomicU64,
    consume_failed_open: AtomicU64,
}

impl GuardStats {
    /// Returns how many requests reached the inner service with verified claims. On a
    /// limited-use route, these are the tokens consumed, plus those passed by
    /// [`FailurePolicy::FailOpen`].
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Returns how many requests failed the token check, including those let through in
    /// monitor mode, and tokens the consume endpoint rejected as invalid.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Returns how many requests monitor mode let through that enforce mode would have
    /// rejected, for any reason.
    pub fn monitor_would_deny(&self) -> u64 {
        self.monitor_would_deny.load(Ordering::Relaxed)
    }

    /// Returns how many limited-use tokens the consume endpoint reported as used before.
    pub fn reused(&self) -> u64 {
        self.reused.load(Ordering::Relaxed)
    }

    /// Returns how many consume calls failed without an outcome, whatever the failure
    /// policy.
    pub fn consume_failures(&self) -> u64 {
        self.consume_failures.load(Ordering::Relaxed)
    }

    /// Returns how many requests [`FailurePolicy::FailOpen`] let through after a failed
    /// consume call.
    pub fn consume_failed_open(&self) -> u64 {
        self.consume_failed_open.load(Ordering::Relaxed)
    }
}

fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The state that every layer derived from one [`AvowGuardLayer::new`] shares.
struct Shared {
    config: GuardConfig,
    clock: Arc<dyn Clock>,
    stats: Arc<GuardStats>,
}

/// The options of one layer, with its consume endpoint's health for logging.
struct Route {
    options: RouteOptions,
    /// True from a failed consume call to the next call that gets an outcome, so an outage
    /// is logged as a warning once rather than once per request.
    consume_failing: AtomicBool,
}

/// A tower layer that wraps services in [`AvowGuard`].
///
/// A layer has a [`GuardConfig`] and a [`RouteOptions`]. [`AvowGuardLayer::with_options`]
/// derives layers with other options that share the configuration, clock and counters, so
/// routes of one axum router can enforce, monitor or require limited-use tokens each:
///
/// ```
/// use std::sync::Arc;
///
/// use avow_guard::{AvowGuardLayer, GuardConfig, HttpTokenConsumer, Keys, Mode, RouteOptions};
/// use avow_token::{Jwks, TokenSigner};
/// use axum::{Router, routing::{get, post}};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let (signer, _pkcs8) = TokenSigner::generate()?;
/// # let jwks = Jwks { keys: vec![signer.jwk()?] };
/// let config = GuardConfig::builder(
///     Keys::Es256(jwks),
///     "avow",
///     vec!["TEAMID1234.com.example.shop".to_owned()],
/// )
/// .build()?;
/// let guard = AvowGuardLayer::new(config);
/// let consumer = Arc::new(HttpTokenConsumer::new("http://127.0.0.1:8080")?);
///
/// let app: Router = Router::new()
///     // Enforced: a missing or invalid token gets 401.
///     .route("/orders", get(|| async { "orders" }).route_layer(guard.clone()))
///     // Monitored: verified, logged and counted, never blocked.
///     .route(
///         "/catalog",
///         get(|| async { "catalog" })
///             .route_layer(guard.with_options(RouteOptions::new().mode(Mode::Monitor))),
///     )
///     // Limited use: each token passes once; a reused one gets 403.
///     .route(
///         "/payments",
///         post(|| async { "paid" })
///             .route_layer(guard.with_options(RouteOptions::new().limited_use(consumer))),
///     );
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AvowGuardLayer {
    shared: Arc<Shared>,
    route: Arc<Route>,
}

impl std::fmt::Debug for AvowGuardLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvowGuardLayer")
            .field("config", &self.shared.config)
            .field("options", &self.route.options)
            .finish_non_exhaustive()
    }
}

impl AvowGuardLayer {
    /// Builds an enforcing layer that reads the system clock.
    pub fn new(config: GuardConfig) -> Self {
        Self::with_clock(config, Mode::Enforce, Arc::new(SystemClock))
    }

    /// Builds a layer with the given mode and clock, and the other [`RouteOptions`] at their
    /// defaults.
    pub fn with_clock(config: GuardConfig, mode: Mode, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                config,
                clock,
                stats: Arc::new(GuardStats::default()),
            }),
            route: Route::new(RouteOptions::new().mode(mode)),
        }
    }

    /// Returns a layer with `options` that shares this layer's configuration, clock and
    /// counters.
    pub fn with_options(&self, options: RouteOptions) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            route: Route::new(options),
        }
    }

    /// Returns the request counters of this layer, shared with the layers derived from it.
    pub fn stats(&self) -> Arc<GuardStats> {
        Arc::clone(&self.shared.stats)
    }

    /// Returns the configuration this layer checks tokens with.
    pub fn config(&self) -> &GuardConfig {
        &self.shared.config
    }
}

impl Route {
    fn new(options: RouteOptions) -> Arc<Self> {
        Arc::new(Self {
            options,
            consume_failing: AtomicBool::new(false),
        })
    }
}

impl<S> Layer<S> for AvowGuardLayer {
    type Service = AvowGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AvowGuard {
            inner,
            shared: Arc::clone(&self.shared),
            route: Arc::clone(&self.route),
        }
    }
}

/// A service that puts the verified [`Claims`] of a valid Avow token into the request
/// extensions. In [`Mode::Enforce`] it calls its inner service only for such requests, and on
/// a limited-use route only for a token's first use.
#[derive(Clone)]
pub struct AvowGuard<S> {
    inner: S,
    shared: Arc<Shared>,
    route: Arc<Route>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for AvowGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AvowGuard")
            .field("inner", &self.inner)
            .field("options", &self.route.options)
            .finish_non_exhaustive()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AvowGuard<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let now = self.shared.clock.now();
        let first = check(&self.shared.config, request.headers(), now);
        let needs_await = match &first {
            Ok(_) => self.route.options.limited_use.is_some(),
            Err(GuardError::Token(TokenError::UnknownKid)) => self
                .shared
                .config
                .jwks_source()
                .is_some_and(JwksSource::is_reloadable),
            Err(_) => false,
        };

        if !needs_await {
            let decision = match first {
                Ok(claims) => self.shared.accept(claims),
                Err(error) => self
                    .shared
                    .token_failed(&self.route, &error, request.uri().path()),
            };
            return match decision {
                Decision::Forward(claims) => {
                    if let Some(claims) = claims {
                        request.extensions_mut().insert(*claims);
                    }
                    Box::pin(self.inner.call(request))
                }
                Decision::Reject(rejection) => {
                    let response = rejection.response(&self.shared.config.token_header);
                    Box::pin(std::future::ready(Ok(response)))
                }
            };
        }

        // The service that `poll_ready` prepared goes into the future, and a clone takes its
        // place for the next call.
        let ready_inner = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready_inner);
        let shared = Arc::clone(&self.shared);
        let route = Arc::clone(&self.route);
        Box::pin(async move {
            let decision = decide(
                &shared,
                &route,
                request.headers(),
                request.uri().path(),
                now,
                first,
            )
            .await;
            match decision {
                Decision::Forward(claims) => {
                    if let Some(claims) = claims {
                        request.extensions_mut().insert(*claims);
                    }
                    inner.call(request).await
                }
                Decision::Reject(rejection) => Ok(rejection.response(&shared.config.token_header)),
            }
        })
    }
}

/// The guard's decision about a request.
enum Decision {
    /// Call the inner service, with the verified claims in the extensions when present. The
    /// claims are boxed to keep the enum small.
    Forward(Option<Box<Claims>>),
    /// Respond without calling the inner service.
    Reject(Rejection),
}

enum Rejection {
    /// 401: the token is missing (`token_present` false) or invalid.
    Unauthorized { token_present: bool },
    /// 403: a limited-use token that was used before.
    AlreadyUsed,
    /// 503: the consume call failed and the route fails closed.
    ConsumeUnavailable,
}

impl Rejection {
    /// Builds the response: an empty body, with a `WWW-Authenticate` challenge in the form of
    /// RFC 6750 for 401, and the reason in `Avow-Reason` for 403 and 503.
    fn response<B: Default>(&self, token_header: &TokenHeader) -> Response<B> {
        let mut response = Response::new(B::default());
        match self {
            Self::Unauthorized { token_present } => {
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                let scheme = match token_header {
                    TokenHeader::AuthorizationBearer => "Bearer",
                    TokenHeader::Named(_) => "Avow",
                };
                let challenge = if *token_present {
                    format!("{scheme} error=\"invalid_token\"")
                } else {
                    scheme.to_owned()
                };
                // The challenge is built from the fixed strings above, which are valid header
                // values.
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response.headers_mut().insert(WWW_AUTHENTICATE, value);
                }
            }
            Self::AlreadyUsed => {
                *response.status_mut() = StatusCode::FORBIDDEN;
                response.headers_mut().insert(
                    HeaderName::from_static(REASON_HEADER),
                    HeaderValue::from_static("token_already_used"),
                );
            }
            Self::ConsumeUnavailable => {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response.headers_mut().insert(
                    HeaderName::from_static(REASON_HEADER),
                    HeaderValue::from_static("consume_unavailable"),
                );
            }
        }
        response
    }
}

/// Decides a request that needs an `await`: a token with an unknown `kid` when the keys can
/// be loaded again, or a valid token on a limited-use route.
async fn decide(
    shared: &Shared,
    route: &Route,
    headers: &HeaderMap,
    path: &str,
    now: u64,
    first: Result<Claims, GuardError>,
) -> Decision {
    let checked = match first {
        Err(GuardError::Token(TokenError::UnknownKid)) => {
            check_with_refresh(&shared.config, headers, now).await
        }
        checked => checked,
    };
    let claims = match checked {
        Ok(claims) => claims,
        Err(error) => return shared.token_failed(route, &error, path),
    };
    let Some(consumer) = &route.options.limited_use else {
        return shared.accept(claims);
    };
    let token = match read_token(&shared.config.token_header, headers) {
        Ok(token) => token,
        // The check above read the same header, so this branch is not taken.
        Err(error) => return shared.token_failed(route, &error, path),
    };
    let outcome = consumer.consume(token, &claims).await;
    shared.consumed(route, outcome, claims, path)
}

impl Shared {
    fn accept(&self, claims: Claims) -> Decision {
        count(&self.stats.accepted);
        Decision::Forward(Some(Box::new(claims)))
    }

    fn token_failed(&self, route: &Route, error: &GuardError, path: &str) -> Decision {
        count(&self.stats.rejected);
        match route.options.mode {
            Mode::Monitor => {
                count(&self.stats.monitor_would_deny);
                tracing::info!(
                    target: "avow::rejection",
                    reason = error.reason(),
                    mode = "monitor",
                    url.path = path,
                    "token check failed, request let through"
                );
                Decision::Forward(None)
            }
            Mode::Enforce => {
                // Debug level, because every unauthenticated client produces one. The
                // rejection counter in `GuardStats` gives the rate.
                tracing::debug!(
                    target: "avow::rejection",
                    reason = error.reason(),
                    mode = "enforce",
                    url.path = path,
                    "token check failed, request rejected"
                );
                Decision::Reject(Rejection::Unauthorized {
                    token_present: !error.is_missing_token(),
                })
            }
        }
    }

    /// Decides a request on a limited-use route from the outcome of its consume call.
    fn consumed(
        &self,
        route: &Route,
        outcome: Result<ConsumeOutcome, ConsumeError>,
        claims: Claims,
        path: &str,
    ) -> Decision {
        let outcome = match outcome {
            Ok(outcome) => {
                if route.consume_failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("token consume endpoint responds again");
                }
                outcome
            }
            Err(error) => return self.consume_failed(route, &error, claims, path),
        };
        let (reason, rejection) = match outcome {
            ConsumeOutcome::Consumed => return self.accept(claims),
            ConsumeOutcome::AlreadyUsed => {
                count(&self.stats.reused);
                ("token_already_used".to_owned(), Rejection::AlreadyUsed)
            }
            ConsumeOutcome::Rejected { reason } => {
                count(&self.stats.rejected);
                (
                    reason,
                    Rejection::Unauthorized {
                        token_present: true,
                    },
                )
            }
        };
        match route.options.mode {
            Mode::Monitor => {
                count(&self.stats.monitor_would_deny);
                tracing::info!(
                    target: "avow::rejection",
                    reason = %reason,
                    mode = "monitor",
                    url.path = path,
                    "limited-use token not consumed, request let through"
                );
                Decision::Forward(None)
            }
            Mode::Enforce => {
                tracing::debug!(
                    target: "avow::rejection",
                    reason = %reason,
                    mode = "enforce",
                    url.path = path,
                    "limited-use token not consumed, request rejected"
                );
                Decision::Reject(rejection)
            }
        }
    }

    fn consume_failed(
        &self,
        route: &Route,
        error: &ConsumeError,
        claims: Claims,
        path: &str,
    ) -> Decision {
        count(&self.stats.consume_failures);
        let policy = route.options.consume_failure;
        let policy_name = match policy {
            FailurePolicy::FailClosed => "fail_closed",
            FailurePolicy::FailOpen => "fail_open",
        };
        // One warning per outage. `GuardStats::consume_failures` counts every failed call.
        if route.consume_failing.swap(true, Ordering::Relaxed) {
            tracing::debug!(
                reason = error.reason(),
                policy = policy_name,
                url.path = path,
                "token consume call failed"
            );
        } else {
            tracing::warn!(
                reason = error.reason(),
                %error,
                policy = policy_name,
                url.path = path,
                "token consume call failed; limited-use requests follow the failure policy until the endpoint answers"
            );
        }
        match (policy, route.options.mode) {
            (FailurePolicy::FailOpen, _) => {
                count(&self.stats.consume_failed_open);
                self.accept(claims)
            }
            (FailurePolicy::FailClosed, Mode::Monitor) => {
                count(&self.stats.monitor_would_deny);
                Decision::Forward(None)
            }
            (FailurePolicy::FailClosed, Mode::Enforce) => {
                Decision::Reject(Rejection::ConsumeUnavailable)
            }
        }
    }
}
