//! The tower layer and the axum extractor, driven as a server would drive them.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use avow_guard::{
    AvowGuardLayer, Claims, Clock, GuardConfig, Keys, Mode, SystemClock, TokenHeader,
    VerifiedClaims,
};
use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use tower::{Layer as _, ServiceExt as _, service_fn};
use zeroize::Zeroizing;

use crate::support::{AUDIENCE, HMAC_SECRET, ISSUER, NOW, claims_json, hs_config, hs_sign};

struct FixedClock(u64);

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0
    }
}

fn layer(config: GuardConfig, mode: Mode) -> AvowGuardLayer {
    AvowGuardLayer::with_clock(config, mode, Arc::new(FixedClock(NOW)))
}

fn request(token: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder().uri("/orders");
    if let Some(token) = token {
        builder = builder.header("avow-token", token);
    }
    builder.body(Body::empty()).unwrap()
}

/// Sends `request` through `layer` to an inner service that counts its calls and responds
/// with the `sub` of the claims it finds, or `no claims`.
async fn send(
    layer: &AvowGuardLayer,
    request: Request<Body>,
    calls: &Arc<AtomicUsize>,
) -> Response<Body> {
    let calls = Arc::clone(calls);
    let inner = service_fn(move |request: Request<Body>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let body = request
            .extensions()
            .get::<Claims>()
            .map_or("no claims".to_owned(), |claims| claims.sub.clone());
        async move { Ok::<_, Infallible>(Response::new(Body::from(body))) }
    });
    layer.layer(inner).oneshot(request).await.unwrap()
}

async fn body_text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn valid_token_reaches_inner_service() {
    let layer = layer(hs_config(), Mode::Enforce);
    let calls = Arc::new(AtomicUsize::new(0));
    let token = hs_sign(&claims_json());

    let response = send(&layer, request(Some(&token)), &calls).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "TEAMID1234.com.example");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(layer.stats().accepted(), 1);
    assert_eq!(layer.stats().rejected(), 0);
}

#[tokio::test]
async fn invalid_token_never_reaches_inner_service() {
    let layer = layer(hs_config(), Mode::Enforce);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut payload = claims_json();
    payload["aud"] = serde_json::json!("other");
    let wrong_audience = hs_sign(&payload);
    let mut forged = hs_sign(&claims_json());
    forged.push('A');

    let cases = [
        (None, "Avow"),
        (
            Some(wrong_audience.as_str()),
            "Avow error=\"invalid_token\"",
        ),
        (Some(forged.as_str()), "Avow error=\"invalid_token\""),
        (Some("not-a-token"), "Avow error=\"invalid_token\""),
    ];
    for (token, challenge) in cases {
        let response = send(&layer, request(token), &calls).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(response.headers()[WWW_AUTHENTICATE], challenge, "{token:?}");
        assert_eq!(body_text(response).await, "", "{token:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(layer.stats().rejected(), 4);
}

#[tokio::test]
async fn bearer_challenge_on_failure() {
    let config = GuardConfig::builder(
        Keys::Hs256(Zeroizing::new(HMAC_SECRET.to_vec())),
        ISSUER,
        vec![AUDIENCE.to_owned()],
    )
    .token_header(TokenHeader::AuthorizationBearer)
    .build()
    .unwrap();
    let layer = layer(config, Mode::Enforce);
    let calls = Arc::new(AtomicUsize::new(0));
    let request = Request::builder()
        .header(AUTHORIZATION, "Bearer abc.def.ghi")
        .body(Body::empty())
        .unwrap();

    let response = send(&layer, request, &calls).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn monitor_mode_lets_failures_through() {
    let layer = layer(hs_config(), Mode::Monitor);
    let calls = Arc::new(AtomicUsize::new(0));
    let token = hs_sign(&claims_json());

    let response = send(&layer, request(Some("garbage")), &calls).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "no claims");

    let response = send(&layer, request(None), &calls).await;
    assert_eq!(response.status(), StatusCode::OK);

    let response = send(&layer, request(Some(&token)), &calls).await;
    assert_eq!(body_text(response).await, "TEAMID1234.com.example");

    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(layer.stats().rejected(), 2);
    assert_eq!(layer.stats().accepted(), 1);
}

#[tokio::test]
async fn clock_decides_expiry() {
    let token = hs_sign(&claims_json());
    let late =
        AvowGuardLayer::with_clock(hs_config(), Mode::Enforce, Arc::new(FixedClock(NOW + 400)));
    let calls = Arc::new(AtomicUsize::new(0));

    let response = send(&late, request(Some(&token)), &calls).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn system_clock_reads_current_time() {
    // 2024-01-01T00:00:00Z: any correctly set clock is past it.
    assert!(SystemClock.now() > 1_704_067_200);
}

async fn whoami(VerifiedClaims(claims): VerifiedClaims) -> String {
    claims.sub
}

async fn maybe_whoami(claims: Option<VerifiedClaims>) -> String {
    claims.map_or("anonymous".to_owned(), |VerifiedClaims(claims)| claims.sub)
}

#[tokio::test]
async fn extractor_reads_layer_claims() {
    let token = hs_sign(&claims_json());
    let router = Router::new()
        .route("/orders", get(whoami))
        .layer(layer(hs_config(), Mode::Enforce));

    let response = router.clone().oneshot(request(Some(&token))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_text(response).await, "TEAMID1234.com.example");

    let response = router.oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn extractor_without_layer_rejects() {
    let token = hs_sign(&claims_json());
    let router = Router::new().route("/orders", get(whoami));

    let response = router.oneshot(request(Some(&token))).await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Avow");
}

#[tokio::test]
async fn optional_extractor_in_monitor_mode() {
    let token = hs_sign(&claims_json());
    let router = Router::new()
        .route("/orders", get(maybe_whoami))
        .layer(layer(hs_config(), Mode::Monitor));

    let response = router
        .clone()
        .oneshot(request(Some("garbage")))
        .await
        .unwrap();
    assert_eq!(body_text(response).await, "anonymous");

    let response = router.oneshot(request(Some(&token))).await.unwrap();
    assert_eq!(body_text(response).await, "TEAMID1234.com.example");
}
