//! The request path of `avow guard`: check the token, then forward or reject.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use avow_guard::{
    ConsumeOutcome, FailurePolicy, HttpTokenConsumer, REASON_HEADER, TokenConsumer as _,
    TokenHeader,
};
use http_body_util::{Either, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode, Version};

use super::check::{TokenCheck, Verified};
use super::forward::{self, Peer, Upstream};
use super::upstream::{UpstreamBody, UpstreamClient};

/// Body of every response: the upstream's, streamed, or an empty one from the proxy.
pub(crate) type ProxyBody = Either<UpstreamBody, Empty<Bytes>>;

/// The path prefixes that run in monitor mode or need limited-use tokens.
#[derive(Debug)]
pub(crate) struct Routes {
    monitor_all: bool,
    monitor_prefixes: Vec<String>,
    limited_use_prefixes: Vec<String>,
}

impl Routes {
    pub(crate) fn new(
        monitor_all: bool,
        monitor_prefixes: &[String],
        limited_use_prefixes: &[String],
    ) -> Result<Self, String> {
        let check = |option: &str, prefix: &String| {
            if prefix.starts_with('/') {
                Ok(prefix.trim_end_matches('/').to_owned())
            } else {
                Err(format!("{option} {prefix:?} must start with /"))
            }
        };
        Ok(Self {
            monitor_all,
            monitor_prefixes: monitor_prefixes
                .iter()
                .map(|prefix| check("--monitor-path", prefix))
                .collect::<Result<_, _>>()?,
            limited_use_prefixes: limited_use_prefixes
                .iter()
                .map(|prefix| check("--limited-use-path", prefix))
                .collect::<Result<_, _>>()?,
        })
    }

    pub(crate) fn has_limited_use(&self) -> bool {
        !self.limited_use_prefixes.is_empty()
    }

    fn is_monitored(&self, path: &str) -> bool {
        self.monitor_all || under_any(&self.monitor_prefixes, path)
    }

    fn is_limited_use(&self, path: &str) -> bool {
        under_any(&self.limited_use_prefixes, path)
    }
}

/// Returns true when `path` is one of `prefixes` (stored without a trailing `/`) or lies below
/// one of them. `/` is stored as the empty prefix and covers every path.
fn under_any(prefixes: &[String], path: &str) -> bool {
    prefixes.iter().any(|prefix| {
        path.strip_prefix(prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Request counters, logged when the proxy stops.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Requests forwarded with claim headers.
    pub(crate) forwarded: AtomicU64,
    /// Requests with a missing or invalid token that were let through in monitor mode.
    pub(crate) monitor_passed: AtomicU64,
    /// 401 responses.
    pub(crate) unauthorized: AtomicU64,
    /// 403 responses: reused limited-use tokens.
    pub(crate) reused: AtomicU64,
    /// Failed consume calls, whatever the response.
    pub(crate) consume_failures: AtomicU64,
    /// Requests that got no response from the upstream (502 responses).
    pub(crate) upstream_errors: AtomicU64,
}

/// The proxy's state shared by all serving threads: the check, the routes and the settings.
pub(crate) struct Proxy {
    check: TokenCheck,
    routes: Routes,
    consumer: Option<HttpTokenConsumer>,
    failure_policy: FailurePolicy,
    upstream: Upstream,
    token_header: HeaderName,
    forward_token: bool,
    upstream_timeout: Duration,
    /// Set while consume calls fail, so that an outage logs one warning.
    consume_failing: AtomicBool,
    pub(crate) stats: Stats,
}

/// The outcome of the checks for one request.
enum Decision {
    /// Forward with these claims.
    Forward(Arc<Verified>),
    /// Forward without claims: a monitored request that would have been rejected.
    ForwardUnverified,
    /// Respond with this status and an empty body.
    Reject(Response<ProxyBody>),
}

impl Proxy {
    pub(crate) fn new(
        check: TokenCheck,
        routes: Routes,
        consumer: Option<HttpTokenConsumer>,
        failure_policy: FailurePolicy,
        upstream: Upstream,
        forward_token: bool,
        upstream_timeout: Duration,
    ) -> Self {
        let token_header = match check.token_header() {
            TokenHeader::Named(name) => name.clone(),
            TokenHeader::AuthorizationBearer => hyper::header::AUTHORIZATION,
        };
        Self {
            check,
            routes,
            consumer,
            failure_policy,
            upstream,
            token_header,
            forward_token,
            upstream_timeout,
            consume_failing: AtomicBool::new(false),
            stats: Stats::default(),
        }
    }

    /// Builds an empty pool of connections to the upstream, for one serving thread.
    pub(crate) fn upstream_client(&self) -> UpstreamClient {
        UpstreamClient::new(self.upstream.host(), self.upstream.port())
    }

    /// Checks one client request and returns the upstream's response or the rejection.
    pub(crate) async fn handle(
        &self,
        request: Request<Incoming>,
        peer: &Peer,
        client: &UpstreamClient,
    ) -> Response<ProxyBody> {
        if request.method() == Method::CONNECT {
            return empty(StatusCode::METHOD_NOT_ALLOWED);
        }
        match self.decide(&request).await {
            Decision::Forward(verified) => {
                self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
                self.forward(request, peer, client, Some(&verified)).await
            }
            Decision::ForwardUnverified => {
                self.stats.monitor_passed.fetch_add(1, Ordering::Relaxed);
                self.forward(request, peer, client, None).await
            }
            Decision::Reject(response) => response,
        }
    }

    async fn decide(&self, request: &Request<Incoming>) -> Decision {
        let path = request.uri().path();
        let monitored = self.routes.is_monitored(path);
        let verified = match self.check.check(request.headers(), unix_now()).await {
            Ok(verified) => verified,
            Err(error) => {
                return self.reject_invalid(
                    error.reason(),
                    error.is_missing_token(),
                    path,
                    monitored,
                );
            }
        };
        if !self.routes.is_limited_use(path) {
            return Decision::Forward(verified);
        }
        self.consume(request.headers(), verified, path, monitored)
            .await
    }

    /// Consumes the token of a verified request on a limited-use path, and decides from the
    /// outcome.
    async fn consume(
        &self,
        headers: &HeaderMap,
        verified: Arc<Verified>,
        path: &str,
        monitored: bool,
    ) -> Decision {
        let (Some(consumer), Some(token)) = (&self.consumer, self.check.token(headers)) else {
            // Unreachable: a limited-use path makes `build_proxy` create a consumer, and a
            // verified request has a token.
            tracing::error!(
                url.path = path,
                "limited-use path without a consumer or token"
            );
            return Decision::Reject(empty(StatusCode::SERVICE_UNAVAILABLE));
        };
        let outcome = consumer.consume(token, &verified.claims).await;
        if outcome.is_ok() && self.consume_failing.swap(false, Ordering::Relaxed) {
            tracing::info!("consume calls to the Avow server succeed again");
        }
        match outcome {
            Ok(ConsumeOutcome::Consumed) => Decision::Forward(verified),
            Ok(ConsumeOutcome::AlreadyUsed) => {
                self.stats.reused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    target: "avow::rejection",
                    reason = "token_already_used",
                    mode = mode_name(monitored),
                    url.path = path,
                    token.id = %verified.claims.jti,
                    "limited-use token reused"
                );
                if monitored {
                    Decision::ForwardUnverified
                } else {
                    Decision::Reject(with_reason(StatusCode::FORBIDDEN, "token_already_used"))
                }
            }
            Ok(ConsumeOutcome::Rejected { reason }) => {
                self.reject_invalid(&reason, false, path, monitored)
            }
            Err(error) => {
                self.stats.consume_failures.fetch_add(1, Ordering::Relaxed);
                let (decision, action) = match (self.failure_policy, monitored) {
                    (FailurePolicy::FailOpen, _) => {
                        (Decision::Forward(verified), "forwarding (fail open)")
                    }
                    (FailurePolicy::FailClosed, true) => (
                        Decision::ForwardUnverified,
                        "forwarding without claims (monitor mode)",
                    ),
                    (FailurePolicy::FailClosed, false) => (
                        Decision::Reject(with_reason(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "consume_unavailable",
                        )),
                        "responding 503 (fail closed)",
                    ),
                };
                // One warning per outage; the failures after it go to debug and the counter.
                if self.consume_failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, reason = error.reason(), url.path = path, action, "consume call failed");
                } else {
                    tracing::warn!(%error, reason = error.reason(), url.path = path, action, "consume call to the Avow server failed");
                }
                decision
            }
        }
    }

    /// Rejects a request whose token is missing or invalid, or lets it through without claims
    /// on a monitored path.
    fn reject_invalid(&self, reason: &str, missing: bool, path: &str, monitored: bool) -> Decision {
        if monitored {
            tracing::info!(
                target: "avow::rejection",
                reason,
                mode = "monitor",
                url.path = path,
                "token check failed, request forwarded without claims"
            );
            return Decision::ForwardUnverified;
        }
        // Debug level, because every client without a token produces one; the counter gives
        // the rate.
        tracing::debug!(
            target: "avow::rejection",
            reason,
            mode = "enforce",
            url.path = path,
            "token check failed, request rejected"
        );
        self.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        Decision::Reject(self.unauthorized(missing))
    }

    /// Builds a 401 with an empty body and an RFC 6750 style challenge.
    /// `error="invalid_token"` is added when the request carried a token.
    fn unauthorized(&self, missing: bool) -> Response<ProxyBody> {
        let bearer = matches!(self.check.token_header(), TokenHeader::AuthorizationBearer);
        let challenge = match (bearer, missing) {
            (true, true) => "Bearer",
            (true, false) => "Bearer error=\"invalid_token\"",
            (false, true) => "Avow",
            (false, false) => "Avow error=\"invalid_token\"",
        };
        let mut response = empty(StatusCode::UNAUTHORIZED);
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        response
    }

    /// Sends the request upstream, with `verified`'s claims when given, and streams the
    /// response back.
    async fn forward(
        &self,
        request: Request<Incoming>,
        peer: &Peer,
        client: &UpstreamClient,
        verified: Option<&Verified>,
    ) -> Response<ProxyBody> {
        let (mut parts, body) = request.into_parts();
        let headers = &mut parts.headers;
        forward::remove_hop_by_hop(headers);
        forward::remove_client_claims(headers, &self.token_header, self.forward_token);
        if let Some(verified) = verified {
            for (name, value) in verified.headers.iter() {
                headers.insert(name.clone(), value.clone());
            }
        }
        forward::add_forwarding_headers(headers, peer, &parts.uri, parts.version, &self.upstream);
        if parts.version == Version::HTTP_2 {
            forward::join_cookies(headers);
        }

        parts.uri = match self.upstream.uri(parts.uri.into_parts().path_and_query) {
            Ok(uri) => uri,
            Err(error) => {
                tracing::debug!(%error, "cannot map the request to the upstream");
                return empty(StatusCode::BAD_REQUEST);
            }
        };
        // The upstream always gets HTTP/1.1, and the client gets its own version back even when
        // the upstream responds in HTTP/1.0, so that client keep-alive survives.
        let client_version = parts.version;
        parts.version = Version::HTTP_11;
        let upstream_request = Request::from_parts(parts, body);

        let result =
            tokio::time::timeout(self.upstream_timeout, client.send(upstream_request)).await;
        let error = match result {
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                forward::remove_hop_by_hop(&mut parts.headers);
                parts.version = client_version;
                return Response::from_parts(parts, Either::Left(body));
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!(
                "no response headers within {} s",
                self.upstream_timeout.as_secs()
            ),
        };
        self.stats.upstream_errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            %error,
            client.address = %peer.address,
            "upstream request failed, responding 502"
        );
        empty(StatusCode::BAD_GATEWAY)
    }
}

fn mode_name(monitored: bool) -> &'static str {
    if monitored { "monitor" } else { "enforce" }
}

/// Builds an empty response with the reason code in `Avow-Reason`, as the `avow-guard` layer
/// sends for 403 and 503.
fn with_reason(status: StatusCode, reason: &'static str) -> Response<ProxyBody> {
    let mut response = empty(status);
    response.headers_mut().insert(
        HeaderName::from_static(REASON_HEADER),
        HeaderValue::from_static(reason),
    );
    response
}

fn empty(status: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(Empty::new()));
    *response.status_mut() = status;
    response
}

/// Returns the current time in Unix seconds; a clock before 1970 reads as 0, so every token
/// looks issued in the future and is rejected.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        let routes = Routes::new(false, &["/public/".to_owned()], &["/pay".to_owned()]).unwrap();
        assert!(routes.is_monitored("/public"));
        assert!(routes.is_monitored("/public/list"));
        assert!(!routes.is_monitored("/publication"));
        assert!(routes.is_limited_use("/pay"));
        assert!(routes.is_limited_use("/pay/confirm"));
        assert!(!routes.is_limited_use("/payroll"));
    }

    #[test]
    fn root_prefix_covers_every_path() {
        let routes = Routes::new(false, &["/".to_owned()], &[]).unwrap();
        assert!(routes.is_monitored("/"));
        assert!(routes.is_monitored("/anything"));
        assert!(!routes.has_limited_use());
    }

    #[test]
    fn prefix_must_be_absolute() {
        let error = Routes::new(false, &["public".to_owned()], &[]).unwrap_err();
        assert!(error.contains("--monitor-path"), "{error}");
    }
}
