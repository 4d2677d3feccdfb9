//! JWKS sources: loading from a URL or a file, reloading on an unknown `kid`, the cooldown,
//! single flight, and failed or oversized loads.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use avow_guard::{
    AvowGuardLayer, Claims, Clock, DEFAULT_JWKS_MAX_BYTES, GuardConfig, JwksError, JwksOptions,
    JwksSource, Keys, Mode, check, check_with_refresh,
};
use avow_token::Jwks;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::{Layer as _, ServiceExt as _, service_fn};

use crate::servers::{JwksServer, closed_address};
use crate::support::{AUDIENCE, EsKey, ISSUER, LEEWAY_SECS, NOW, claims_json, token_headers};

/// Cooldown of the sources in these tests, in seconds. Shorter than a token's lifetime, so a
/// test can pass it without the tokens expiring.
const COOLDOWN_SECS: u64 = 60;

/// A clock that the test sets.
struct ManualClock(AtomicU64);

impl ManualClock {
    fn at(now: u64) -> Arc<Self> {
        Arc::new(Self(AtomicU64::new(now)))
    }

    fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn options() -> JwksOptions {
    JwksOptions::default().cooldown(Duration::from_secs(COOLDOWN_SECS))
}

fn config(source: JwksSource) -> GuardConfig {
    GuardConfig::builder(Keys::Es256Source(source), ISSUER, vec![AUDIENCE.to_owned()])
        .leeway(Duration::from_secs(LEEWAY_SECS))
        .build()
        .unwrap()
}

fn jwks_of(keys: &[&EsKey]) -> Jwks {
    Jwks {
        keys: keys.iter().map(|key| key.jwk()).collect(),
    }
}

/// Sends a request with `token` through `layer` to an inner service that responds with the
/// token's `sub`. Returns the status.
async fn send(layer: &AvowGuardLayer, token: &str) -> StatusCode {
    let inner = service_fn(|request: Request<Body>| async move {
        let sub = request
            .extensions()
            .get::<Claims>()
            .map(|claims| claims.sub.clone())
            .unwrap_or_default();
        Ok::<_, Infallible>(Response::new(Body::from(sub)))
    });
    let request = Request::builder()
        .uri("/orders")
        .header("avow-token", token)
        .body(Body::empty())
        .unwrap();
    layer.layer(inner).oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn rotation_picked_up_on_unknown_kid() {
    let old = EsKey::generate("key-old");
    let new = EsKey::generate("key-new");
    let server = JwksServer::start(&jwks_of(&[&old])).await;
    let source = JwksSource::from_url(&server.url(), options())
        .await
        .unwrap();
    let layer =
        AvowGuardLayer::with_clock(config(source.clone()), Mode::Enforce, ManualClock::at(NOW));
    assert_eq!(server.hits(), 1);

    assert_eq!(
        send(&layer, &old.sign(&claims_json())).await,
        StatusCode::OK
    );
    assert_eq!(server.hits(), 1, "a known kid needs no fetch");

    // The server rotates: the new key signs, the old one stays published for the overlap.
    server.set_jwks(&jwks_of(&[&new, &old]));
    let new_token = new.sign(&claims_json());
    assert_eq!(send(&layer, &new_token).await, StatusCode::OK);
    assert_eq!(server.hits(), 2);
    assert_eq!(source.reload_count(), 1);
    assert_eq!(source.jwks(), jwks_of(&[&new, &old]));

    // The synchronous check now accepts the new key too, and the old one still verifies.
    assert!(check(layer.config(), &token_headers(&new_token), NOW).is_ok());
    assert_eq!(
        send(&layer, &old.sign(&claims_json())).await,
        StatusCode::OK
    );
    assert_eq!(server.hits(), 2);
    assert_eq!(layer.stats().accepted(), 3);
}

#[tokio::test]
async fn unknown_kid_flood_one_fetch_per_cooldown() {
    const FLOOD: u64 = 40;
    let known = EsKey::generate("key-known");
    let server = JwksServer::start(&jwks_of(&[&known])).await;
    let source = JwksSource::from_url(&server.url(), options())
        .await
        .unwrap();
    let clock = ManualClock::at(NOW);
    let layer = AvowGuardLayer::with_clock(config(source.clone()), Mode::Enforce, clock.clone());
    let flood = |round: u64| {
        (0..FLOOD)
            .map(|index| EsKey::generate(&format!("unknown-{round}-{index}")).sign(&claims_json()))
            .collect::<Vec<_>>()
    };

    for token in flood(0) {
        assert_eq!(send(&layer, &token).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(server.hits(), 2, "the first unknown kid fetches once");

    // One second before the cooldown ends: no fetch.
    clock.set(NOW + COOLDOWN_SECS - 1);
    for token in flood(1) {
        assert_eq!(send(&layer, &token).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(server.hits(), 2);

    // The cooldown has passed: one more fetch for the whole flood.
    clock.set(NOW + COOLDOWN_SECS);
    for token in flood(2) {
        assert_eq!(send(&layer, &token).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(server.hits(), 3);
    assert_eq!(source.reload_count(), 2);
    assert_eq!(source.reload_failure_count(), 0);
    assert_eq!(layer.stats().rejected(), 3 * FLOOD);

    // The known key kept working throughout.
    assert_eq!(
        send(&layer, &known.sign(&claims_json())).await,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_unknown_kids_share_one_fetch() {
    const REQUESTS: usize = 16;
    let old = EsKey::generate("key-old");
    let new = EsKey::generate("key-new");
    let server = JwksServer::start_gated(&jwks_of(&[&old])).await;
    server.release(1);
    // No cooldown, so only the single flight keeps the requests to one fetch.
    let source = JwksSource::from_url(
        &server.url(),
        JwksOptions::default().cooldown(Duration::ZERO),
    )
    .await
    .unwrap();
    server.request_arrived().await;
    let config = Arc::new(config(source.clone()));
    server.set_jwks(&jwks_of(&[&new, &old]));

    let token = new.sign(&claims_json());
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|_| {
            let config = Arc::clone(&config);
            let headers = token_headers(&token);
            tokio::spawn(async move { check_with_refresh(&config, &headers, NOW).await })
        })
        .collect();
    // On this single-threaded runtime every task runs until it waits: the first one for the
    // held-back response, the others for the reload lock.
    server.request_arrived().await;
    for _ in 0..REQUESTS {
        tokio::task::yield_now().await;
    }
    server.release(REQUESTS);

    for task in tasks {
        let claims = task.await.unwrap().unwrap();
        assert_eq!(claims.aud, AUDIENCE);
    }
    assert_eq!(server.hits(), 2, "one initial fetch and one shared reload");
    assert_eq!(source.reload_count(), 1);
}

#[tokio::test]
async fn failed_reload_keeps_old_keys() {
    let known = EsKey::generate("key-known");
    let server = JwksServer::start(&jwks_of(&[&known])).await;
    let source = JwksSource::from_url(&server.url(), options())
        .await
        .unwrap();
    let clock = ManualClock::at(NOW);
    let layer = AvowGuardLayer::with_clock(config(source.clone()), Mode::Enforce, clock.clone());
    let unknown = EsKey::generate("key-unknown").sign(&claims_json());
    let oversized = format!(
        "{{\"keys\":[],\"padding\":\"{}\"}}",
        "x".repeat(DEFAULT_JWKS_MAX_BYTES)
    );
    let failures = [
        (StatusCode::INTERNAL_SERVER_ERROR, "{}".to_owned()),
        (StatusCode::OK, "not json".to_owned()),
        (
            StatusCode::OK,
            json!({"keys": [{"kty": "RSA", "kid": "r1", "n": "AQAB", "e": "AQAB"}]}).to_string(),
        ),
        (
            StatusCode::OK,
            json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "bad", "x": "AA", "y": "AA"}]})
                .to_string(),
        ),
        (StatusCode::OK, oversized),
    ];

    for (round, (status, body)) in failures.into_iter().enumerate() {
        let round = round as u64;
        clock.set(NOW + round * COOLDOWN_SECS);
        server.set_response(status, body);

        assert_eq!(
            send(&layer, &unknown).await,
            StatusCode::UNAUTHORIZED,
            "round {round}"
        );
        assert_eq!(source.reload_failure_count(), round + 1, "round {round}");
        assert_eq!(
            send(&layer, &known.sign(&claims_json())).await,
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(source.jwks(), jwks_of(&[&known]), "round {round}");
    }
    assert_eq!(server.hits(), 6);
}

#[tokio::test]
async fn refresh_reports_each_failure() {
    let known = EsKey::generate("key-known");
    let server = JwksServer::start(&jwks_of(&[&known])).await;
    let source = JwksSource::from_url(&server.url(), options())
        .await
        .unwrap();

    server.set_response(StatusCode::SERVICE_UNAVAILABLE, String::new());
    let error = source.refresh(NOW).await.unwrap_err();
    assert!(matches!(error, JwksError::Status(503)), "{error:?}");
    assert_eq!(error.reason(), "jwks_status");

    server.set_response(StatusCode::OK, "[]".to_owned());
    let error = source.refresh(NOW).await.unwrap_err();
    assert!(matches!(error, JwksError::Malformed), "{error:?}");

    server.set_response(StatusCode::OK, json!({"keys": []}).to_string());
    let error = source.refresh(NOW).await.unwrap_err();
    assert!(matches!(error, JwksError::NoEs256Key), "{error:?}");

    // `refresh` ignores the cooldown: every call above fetched.
    assert_eq!(server.hits(), 4);
    assert_eq!(source.reload_failure_count(), 3);
    assert_eq!(source.jwks(), jwks_of(&[&known]));
}

#[tokio::test]
async fn oversized_jwks_rejected_at_start() {
    let key = EsKey::generate("key-1");
    let server = JwksServer::start(&jwks_of(&[&key])).await;
    let body = serde_json::to_string(&jwks_of(&[&key])).unwrap();

    // A limit one byte under the document's size rejects it, the exact size accepts it.
    let small = JwksOptions::default().max_bytes(body.len() - 1);
    let error = JwksSource::from_url(&server.url(), small)
        .await
        .unwrap_err();
    assert!(
        matches!(error, JwksError::TooLarge { max } if max == body.len() - 1),
        "{error:?}"
    );
    let exact = JwksOptions::default().max_bytes(body.len());
    assert!(JwksSource::from_url(&server.url(), exact).await.is_ok());

    // The default limit, 64 KiB.
    server.set_response(StatusCode::OK, " ".repeat(DEFAULT_JWKS_MAX_BYTES + 1));
    let error = JwksSource::from_url(&server.url(), JwksOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::TooLarge { .. }), "{error:?}");
    assert_eq!(error.reason(), "jwks_too_large");
}

/// Serves one response with a chunked body of `total` bytes, which has no `Content-Length`,
/// so only counting the bytes read can stop it.
async fn chunked_server(total: usize) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.unwrap();
            if read == 0 {
                return;
            }
            request.extend_from_slice(&buffer[..read]);
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 4096];
        let mut sent = 0;
        while sent < total {
            let frame = format!("{:x}\r\n", chunk.len());
            // The client hangs up once it has read too much, so write errors end the loop.
            if stream.write_all(frame.as_bytes()).await.is_err()
                || stream.write_all(&chunk).await.is_err()
                || stream.write_all(b"\r\n").await.is_err()
            {
                return;
            }
            sent += chunk.len();
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    });
    (url, task)
}

#[tokio::test]
async fn chunked_oversized_jwks_rejected() {
    let (url, task) = chunked_server(DEFAULT_JWKS_MAX_BYTES + 8192).await;

    let error = JwksSource::from_url(&url, JwksOptions::default())
        .await
        .unwrap_err();

    assert!(matches!(error, JwksError::TooLarge { .. }), "{error:?}");
    task.abort();
}

#[tokio::test]
async fn start_errors_named() {
    let key = EsKey::generate("key-1");
    let server = JwksServer::start(&jwks_of(&[&key])).await;

    let error = JwksSource::from_url("not a url", options())
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::InvalidUrl(_)), "{error:?}");
    let error = JwksSource::from_url("file:///etc/jwks.json", options())
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::InvalidUrl(_)), "{error:?}");

    let missing = server.url().replace("/jwks.json", "/missing.json");
    let error = JwksSource::from_url(&missing, options()).await.unwrap_err();
    assert!(matches!(error, JwksError::Status(404)), "{error:?}");

    let closed = format!("http://{}/jwks.json", closed_address().await);
    let error = JwksSource::from_url(&closed, options()).await.unwrap_err();
    assert!(matches!(error, JwksError::Unreachable(_)), "{error:?}");
    assert_eq!(error.reason(), "jwks_unreachable");

    server.set_response(StatusCode::OK, json!({"keys": []}).to_string());
    let error = JwksSource::from_url(&server.url(), options())
        .await
        .unwrap_err();
    assert!(matches!(error, JwksError::NoEs256Key), "{error:?}");
}

#[tokio::test]
async fn redirect_not_followed() {
    let key = EsKey::generate("key-1");
    let target = JwksServer::start(&jwks_of(&[&key])).await;
    let redirecting = JwksServer::start(&jwks_of(&[&key])).await;
    redirecting.set_response(StatusCode::FOUND, String::new());

    let error = JwksSource::from_url(&redirecting.url(), options())
        .await
        .unwrap_err();

    assert!(matches!(error, JwksError::Status(302)), "{error:?}");
    assert_eq!(target.hits(), 0);
}

#[tokio::test]
async fn slow_server_times_out() {
    let key = EsKey::generate("key-1");
    // The server never gets a permit to respond.
    let server = JwksServer::start_gated(&jwks_of(&[&key])).await;
    let options = JwksOptions::default().timeout(Duration::from_millis(200));

    let error = JwksSource::from_url(&server.url(), options)
        .await
        .unwrap_err();

    assert!(matches!(error, JwksError::Timeout), "{error:?}");
    assert_eq!(error.reason(), "jwks_timeout");
}

#[tokio::test]
async fn file_source_loads_and_reloads() {
    let old = EsKey::generate("key-old");
    let new = EsKey::generate("key-new");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, serde_json::to_vec(&jwks_of(&[&old])).unwrap()).unwrap();
    let source = JwksSource::from_file(&path, options()).unwrap();
    let config = config(source.clone());
    let new_token = new.sign(&claims_json());

    assert!(check(&config, &token_headers(&old.sign(&claims_json())), NOW).is_ok());
    let error = check_with_refresh(&config, &token_headers(&new_token), NOW)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "unknown_kid");
    assert_eq!(
        source.reload_count(),
        1,
        "an unknown kid reads the file again"
    );

    // The operator replaces the file. Within the cooldown it is not read again.
    std::fs::write(&path, serde_json::to_vec(&jwks_of(&[&new, &old])).unwrap()).unwrap();
    let error = check_with_refresh(&config, &token_headers(&new_token), NOW + 1)
        .await
        .unwrap_err();
    assert_eq!(error.reason(), "unknown_kid");
    assert_eq!(source.reload_count(), 1);

    let claims = check_with_refresh(&config, &token_headers(&new_token), NOW + COOLDOWN_SECS)
        .await
        .unwrap();
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(source.reload_count(), 2);

    // A file that became unreadable keeps the keys.
    std::fs::remove_file(&path).unwrap();
    let error = source.refresh(NOW + 2 * COOLDOWN_SECS).await.unwrap_err();
    assert!(matches!(error, JwksError::Read { .. }), "{error:?}");
    assert!(check(&config, &token_headers(&new_token), NOW).is_ok());
}

#[test]
fn file_source_errors_named() {
    let key = EsKey::generate("key-1");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, contents: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    };
    let valid = serde_json::to_vec(&jwks_of(&[&key])).unwrap();

    let error = JwksSource::from_file(dir.path().join("absent.json"), options()).unwrap_err();
    assert!(matches!(error, JwksError::Read { .. }), "{error:?}");
    assert_eq!(error.reason(), "jwks_read_failed");

    let large = write("large.json", &valid);
    let error = JwksSource::from_file(&large, options().max_bytes(valid.len() - 1)).unwrap_err();
    assert!(matches!(error, JwksError::TooLarge { .. }), "{error:?}");
    assert!(JwksSource::from_file(&large, options().max_bytes(valid.len())).is_ok());

    let malformed = write("malformed.json", b"{\"keys\": 7}");
    let error = JwksSource::from_file(&malformed, options()).unwrap_err();
    assert!(matches!(error, JwksError::Malformed), "{error:?}");

    let no_es256 = write(
        "p384.json",
        json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": "k", "x": "AA", "y": "AA"}]})
            .to_string()
            .as_bytes(),
    );
    let error = JwksSource::from_file(&no_es256, options()).unwrap_err();
    assert!(matches!(error, JwksError::NoEs256Key), "{error:?}");
}

#[tokio::test]
async fn fixed_keys_never_reload() {
    let key = EsKey::generate("key-1");
    let config = GuardConfig::builder(Keys::Es256(key.jwks()), ISSUER, vec![AUDIENCE.to_owned()])
        .build()
        .unwrap();
    let source = config.jwks_source().unwrap();
    assert!(!source.is_reloadable());

    let unknown = EsKey::generate("key-2").sign(&claims_json());
    let error = check_with_refresh(&config, &token_headers(&unknown), NOW)
        .await
        .unwrap_err();

    assert_eq!(error.reason(), "unknown_kid");
    assert_eq!(source.reload_count(), 0);
    assert!(source.refresh(NOW).await.is_ok());
    assert_eq!(source.reload_count(), 0);
}

#[tokio::test]
async fn periodic_refresh_fetches() {
    let old = EsKey::generate("key-old");
    let new = EsKey::generate("key-new");
    let server = JwksServer::start(&jwks_of(&[&old])).await;
    let source = JwksSource::from_url(&server.url(), options())
        .await
        .unwrap();
    server.set_jwks(&jwks_of(&[&new]));

    let task = source.spawn_refresh(Duration::from_millis(20));
    // Bounded wait for the first periodic fetch: 500 × 10 ms.
    for _ in 0..500 {
        if source.reload_count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();

    assert!(source.reload_count() > 0, "no periodic reload happened");
    assert_eq!(source.jwks(), jwks_of(&[&new]));
    let config = config(source);
    assert!(check(&config, &token_headers(&new.sign(&claims_json())), NOW).is_ok());
    let error = check(&config, &token_headers(&old.sign(&claims_json())), NOW).unwrap_err();
    assert_eq!(error.reason(), "unknown_kid");
}

#[test]
fn off_curve_key_rejected() {
    use avow_guard::ConfigError;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let valid = EsKey::generate("key-1").jwk();
    let mut off_curve = valid.clone();
    // Coordinates of the right length that do not form a point on P-256.
    off_curve.y = URL_SAFE_NO_PAD.encode([1u8; 32]);
    let mut short = valid.clone();
    short.x = URL_SAFE_NO_PAD.encode([1u8; 31]);

    for (case, jwk) in [("off curve", off_curve), ("short x", short)] {
        let jwks = Jwks {
            keys: vec![valid.clone(), jwk],
        };
        let error = JwksSource::fixed(jwks.clone()).unwrap_err();
        assert!(
            matches!(error, JwksError::InvalidKey(_)),
            "{case}: {error:?}"
        );
        assert_eq!(error.reason(), "jwks_invalid_key");

        let error = GuardConfig::builder(Keys::Es256(jwks), ISSUER, vec![AUDIENCE.to_owned()])
            .build()
            .unwrap_err();
        assert!(
            matches!(error, ConfigError::InvalidJwks(_)),
            "{case}: {error:?}"
        );
    }
}
