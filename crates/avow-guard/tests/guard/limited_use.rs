//! Limited-use routes, failure policies and per-route options, against a consume endpoint on
//! 127.0.0.1.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avow_guard::{
    AvowGuardLayer, Claims, Clock, ConsumeError, ConsumeOutcome, FailurePolicy, HttpTokenConsumer,
    Mode, RouteOptions, TokenConsumer, VerifiedClaims,
};
use axum::Router;
use axum::body::Body;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{Request, Response, StatusCode};
use axum::routing::{get, post};
use serde_json::json;
use tower::{Layer as _, ServiceExt as _, service_fn};

use crate::servers::{ConsumeBehaviour, ConsumeServer, closed_address};
use crate::support::{NOW, claims_json, hs_config, hs_sign};

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        NOW
    }
}

fn guard() -> AvowGuardLayer {
    AvowGuardLayer::with_clock(hs_config(), Mode::Enforce, Arc::new(FixedClock))
}

/// Returns a valid token with its own `jti`.
fn token(jti: &str) -> String {
    let mut payload = claims_json();
    payload["jti"] = json!(jti);
    hs_sign(&payload)
}

fn consumer(server: &ConsumeServer) -> Arc<dyn TokenConsumer> {
    Arc::new(HttpTokenConsumer::new(&server.base_url()).unwrap())
}

fn limited(consumer: Arc<dyn TokenConsumer>) -> RouteOptions {
    RouteOptions::new().limited_use(consumer)
}

/// The response of the inner service, or of the guard, and whether the inner service saw
/// claims.
struct Outcome {
    status: StatusCode,
    reason: Option<String>,
    challenge: Option<String>,
    inner_claims: Option<bool>,
}

/// Sends a request with `token` through `layer`. The inner service records whether it ran
/// and whether it found claims.
async fn send(layer: &AvowGuardLayer, token: Option<&str>) -> Outcome {
    let seen = Arc::new(Mutex::new(None));
    let record = Arc::clone(&seen);
    let inner = service_fn(move |request: Request<Body>| {
        let has_claims = request.extensions().get::<Claims>().is_some();
        *record.lock().unwrap() = Some(has_claims);
        async move { Ok::<_, Infallible>(Response::new(Body::empty())) }
    });
    let mut builder = Request::builder().uri("/payments");
    if let Some(token) = token {
        builder = builder.header("avow-token", token);
    }
    let response: Response<Body> = layer
        .layer(inner)
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|value: &axum::http::HeaderValue| value.to_str().unwrap().to_owned())
    };
    Outcome {
        status: response.status(),
        reason: header("avow-reason"),
        challenge: header(WWW_AUTHENTICATE.as_str()),
        inner_claims: *seen.lock().unwrap(),
    }
}

#[tokio::test]
async fn token_accepted_once() {
    let server = ConsumeServer::start(ConsumeBehaviour::Track).await;
    let layer = guard().with_options(limited(consumer(&server)));
    let token = token("jti-once");

    let first = send(&layer, Some(&token)).await;
    let second = send(&layer, Some(&token)).await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.inner_claims, Some(true));
    assert_eq!(second.status, StatusCode::FORBIDDEN);
    assert_eq!(second.reason.as_deref(), Some("token_already_used"));
    assert_eq!(
        second.inner_claims, None,
        "the inner service ran for a reused token"
    );
    assert_eq!(server.hits(), 2);
    let stats = layer.stats();
    assert_eq!(stats.accepted(), 1);
    assert_eq!(stats.reused(), 1);
    assert_eq!(stats.rejected(), 0);
}

#[tokio::test]
async fn invalid_token_never_consumed() {
    let server = ConsumeServer::start(ConsumeBehaviour::Track).await;
    let layer = guard().with_options(limited(consumer(&server)));
    let mut forged = token("jti-forged");
    forged.push('A');

    let missing = send(&layer, None).await;
    let invalid = send(&layer, Some(&forged)).await;

    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.challenge.as_deref(), Some("Avow"));
    assert_eq!(invalid.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        invalid.challenge.as_deref(),
        Some("Avow error=\"invalid_token\"")
    );
    assert_eq!(
        server.hits(),
        0,
        "a token that fails the check reached the consume endpoint"
    );
    assert_eq!(layer.stats().rejected(), 2);
}

#[tokio::test]
async fn consume_failures_fail_closed() {
    let closed = format!("http://{}", closed_address().await);
    let unavailable =
        ConsumeServer::start(ConsumeBehaviour::Status(StatusCode::SERVICE_UNAVAILABLE)).await;
    let bad_request = ConsumeServer::start(ConsumeBehaviour::Status(StatusCode::BAD_REQUEST)).await;
    let wrong_jti = ConsumeServer::start(ConsumeBehaviour::WrongJti).await;
    let hanging = ConsumeServer::start(ConsumeBehaviour::Hang).await;
    let consumers: Vec<(&str, Arc<dyn TokenConsumer>)> = vec![
        (
            "unreachable",
            Arc::new(HttpTokenConsumer::new(&closed).unwrap()),
        ),
        ("503", consumer(&unavailable)),
        ("400", consumer(&bad_request)),
        ("wrong jti", consumer(&wrong_jti)),
        (
            "timeout",
            Arc::new(
                HttpTokenConsumer::with_timeout(&hanging.base_url(), Duration::from_millis(200))
                    .unwrap(),
            ),
        ),
    ];
    let guard = guard();

    for (index, (case, consumer)) in consumers.into_iter().enumerate() {
        let layer = guard.with_options(limited(consumer));
        let outcome = send(&layer, Some(&token(&format!("jti-{index}")))).await;

        assert_eq!(outcome.status, StatusCode::SERVICE_UNAVAILABLE, "{case}");
        assert_eq!(
            outcome.reason.as_deref(),
            Some("consume_unavailable"),
            "{case}"
        );
        assert_eq!(outcome.inner_claims, None, "{case}: the inner service ran");
    }
    let stats = guard.stats();
    assert_eq!(stats.consume_failures(), 5);
    assert_eq!(stats.consume_failed_open(), 0);
    assert_eq!(stats.accepted(), 0);
}

#[tokio::test]
async fn fail_open_passes_and_counts() {
    let unavailable = ConsumeServer::start(ConsumeBehaviour::Status(StatusCode::BAD_GATEWAY)).await;
    let layer = guard()
        .with_options(limited(consumer(&unavailable)).on_consume_failure(FailurePolicy::FailOpen));
    let token = token("jti-open");

    let first = send(&layer, Some(&token)).await;
    // While the endpoint fails, the same token passes again: the risk of failing open.
    let second = send(&layer, Some(&token)).await;

    for outcome in [&first, &second] {
        assert_eq!(outcome.status, StatusCode::OK);
        assert_eq!(outcome.inner_claims, Some(true));
    }
    let stats = layer.stats();
    assert_eq!(stats.consume_failures(), 2);
    assert_eq!(stats.consume_failed_open(), 2);
    assert_eq!(stats.accepted(), 2);

    // Once the endpoint responds, reuse is caught again.
    unavailable.set_behaviour(ConsumeBehaviour::Track);
    assert_eq!(send(&layer, Some(&token)).await.status, StatusCode::OK);
    assert_eq!(
        send(&layer, Some(&token)).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn server_rejection_is_unauthorized() {
    let server = ConsumeServer::start(ConsumeBehaviour::Reject("issuer_mismatch")).await;
    let layer = guard().with_options(limited(consumer(&server)));

    let outcome = send(&layer, Some(&token("jti-rejected"))).await;

    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        outcome.challenge.as_deref(),
        Some("Avow error=\"invalid_token\"")
    );
    assert_eq!(outcome.inner_claims, None);
    assert_eq!(layer.stats().rejected(), 1);
    assert_eq!(layer.stats().consume_failures(), 0);
}

#[tokio::test]
async fn monitor_limited_use_never_blocks() {
    let server = ConsumeServer::start(ConsumeBehaviour::Track).await;
    let layer = guard().with_options(limited(consumer(&server)).mode(Mode::Monitor));
    let once = token("jti-monitor");

    let first = send(&layer, Some(&once)).await;
    let reused = send(&layer, Some(&once)).await;
    server.set_behaviour(ConsumeBehaviour::Status(StatusCode::SERVICE_UNAVAILABLE));
    let failed = send(&layer, Some(&token("jti-monitor-2"))).await;
    let invalid = send(&layer, Some("garbage")).await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.inner_claims, Some(true));
    // Monitor mode lets every request through, with claims only when enforce mode would
    // have passed it.
    for outcome in [&reused, &failed, &invalid] {
        assert_eq!(outcome.status, StatusCode::OK);
        assert_eq!(outcome.inner_claims, Some(false));
    }
    let stats = layer.stats();
    assert_eq!(stats.monitor_would_deny(), 3);
    assert_eq!(stats.reused(), 1);
    assert_eq!(stats.consume_failures(), 1);
    assert_eq!(stats.rejected(), 1);
    assert_eq!(stats.accepted(), 1);
}

/// A consumer that keeps used token ids in memory, as a backend with a single instance could.
#[derive(Default)]
struct MemoryConsumer {
    used: Mutex<HashSet<String>>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenConsumer for MemoryConsumer {
    async fn consume(&self, _token: &str, claims: &Claims) -> Result<ConsumeOutcome, ConsumeError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.used.lock().unwrap().insert(claims.jti.clone()) {
            Ok(ConsumeOutcome::Consumed)
        } else {
            Ok(ConsumeOutcome::AlreadyUsed)
        }
    }
}

async fn whoami(VerifiedClaims(claims): VerifiedClaims) -> String {
    claims.sub
}

async fn maybe_whoami(claims: Option<VerifiedClaims>) -> String {
    claims.map_or("anonymous".to_owned(), |VerifiedClaims(claims)| claims.sub)
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("avow-token", token);
    }
    let response = router
        .clone()
        .oneshot(builder.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn routes_enforce_monitor_and_limit() {
    let guard = guard();
    let http = ConsumeServer::start(ConsumeBehaviour::Track).await;
    let memory = Arc::new(MemoryConsumer::default());
    let router = Router::new()
        .route("/orders", get(whoami).route_layer(guard.clone()))
        .route(
            "/catalog",
            get(maybe_whoami)
                .route_layer(guard.with_options(RouteOptions::new().mode(Mode::Monitor))),
        )
        .route(
            "/payments",
            post(whoami).route_layer(guard.with_options(limited(consumer(&http)))),
        )
        .route(
            "/transfers",
            post(whoami).route_layer(guard.with_options(limited(memory.clone()))),
        );
    let valid = token("jti-routes");
    let sub = "TEAMID1234.com.example";

    // Enforced: a valid token passes as often as it is sent, an invalid one gets 401.
    assert_eq!(
        call(&router, "GET", "/orders", Some(&valid)).await,
        (StatusCode::OK, sub.to_owned())
    );
    assert_eq!(
        call(&router, "GET", "/orders", Some(&valid)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&router, "GET", "/orders", Some("garbage")).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Monitored: never blocked.
    assert_eq!(
        call(&router, "GET", "/catalog", Some("garbage")).await,
        (StatusCode::OK, "anonymous".to_owned())
    );
    assert_eq!(
        call(&router, "GET", "/catalog", None).await,
        (StatusCode::OK, "anonymous".to_owned())
    );
    assert_eq!(
        call(&router, "GET", "/catalog", Some(&valid)).await,
        (StatusCode::OK, sub.to_owned())
    );

    // Limited use at the consume endpoint: once.
    assert_eq!(
        call(&router, "POST", "/payments", Some(&valid)).await,
        (StatusCode::OK, sub.to_owned())
    );
    assert_eq!(
        call(&router, "POST", "/payments", Some(&valid)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&router, "POST", "/payments", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(http.hits(), 2);

    // Limited use with another consumer, which keeps its own record.
    assert_eq!(
        call(&router, "POST", "/transfers", Some(&valid)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&router, "POST", "/transfers", Some(&valid)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(memory.calls.load(Ordering::SeqCst), 2);

    // The derived layers share one set of counters.
    let stats = guard.stats();
    assert_eq!(stats.accepted(), 5);
    assert_eq!(stats.rejected(), 4);
    assert_eq!(stats.monitor_would_deny(), 2);
    assert_eq!(stats.reused(), 2);
}

#[tokio::test]
async fn http_consumer_outcomes() {
    let server = ConsumeServer::start(ConsumeBehaviour::Track).await;
    let consumer = HttpTokenConsumer::new(&format!("{}/", server.base_url())).unwrap();
    assert_eq!(
        consumer.endpoint(),
        format!("{}/v1/tokens/consume", server.base_url())
    );
    let token = token("jti-direct");
    let claims =
        avow_guard::check(&hs_config(), &crate::support::token_headers(&token), NOW).unwrap();

    assert_eq!(
        consumer.consume(&token, &claims).await,
        Ok(ConsumeOutcome::Consumed)
    );
    assert_eq!(
        consumer.consume(&token, &claims).await,
        Ok(ConsumeOutcome::AlreadyUsed)
    );

    server.set_behaviour(ConsumeBehaviour::Reject("token_expired"));
    assert_eq!(
        consumer.consume(&token, &claims).await,
        Ok(ConsumeOutcome::Rejected {
            reason: "token_expired".to_owned()
        })
    );

    server.set_behaviour(ConsumeBehaviour::Status(StatusCode::SERVICE_UNAVAILABLE));
    let error = consumer.consume(&token, &claims).await.unwrap_err();
    assert_eq!(error, ConsumeError::UnexpectedStatus(503));
    assert_eq!(error.reason(), "consume_unexpected_status");

    server.set_behaviour(ConsumeBehaviour::WrongJti);
    let error = consumer.consume(&token, &claims).await.unwrap_err();
    assert!(
        matches!(error, ConsumeError::InvalidResponse(_)),
        "{error:?}"
    );

    let closed = HttpTokenConsumer::new(&format!("http://{}", closed_address().await)).unwrap();
    let error = closed.consume(&token, &claims).await.unwrap_err();
    assert!(matches!(error, ConsumeError::Unreachable(_)), "{error:?}");

    server.set_behaviour(ConsumeBehaviour::Hang);
    let slow =
        HttpTokenConsumer::with_timeout(&server.base_url(), Duration::from_millis(200)).unwrap();
    assert_eq!(
        slow.consume(&token, &claims).await,
        Err(ConsumeError::Timeout)
    );
}
