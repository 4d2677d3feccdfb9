//! Tests of the provider clients against mock servers on 127.0.0.1.

mod device_check;
mod play_integrity;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{UnparsedPublicKey, VerificationAlgorithm};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::*;

/// How long a [`Reply::Hang`] handler waits before responding: longer than any test timeout.
const HANG: Duration = Duration::from_secs(30);

/// One scripted response of the mock server.
#[derive(Clone, Debug)]
enum Reply {
    /// Respond with this status, headers and body.
    Respond {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: String,
    },
    /// Never respond within the test.
    Hang,
}

impl Reply {
    fn status(status: u16, body: &str) -> Self {
        Self::Respond {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::Respond {
            status,
            headers: vec![("content-type", "application/json")],
            body: body.to_string(),
        }
    }

    fn with_header(status: u16, name: &'static str, value: &'static str) -> Self {
        Self::Respond {
            status,
            headers: vec![(name, value)],
            body: String::new(),
        }
    }
}

/// A request the mock server received.
#[derive(Clone, Debug)]
struct SeenRequest {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl SeenRequest {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn bearer(&self) -> &str {
        self.header("authorization")
            .strip_prefix("Bearer ")
            .unwrap_or_else(|| panic!("no bearer token on {}", self.path))
    }
}

#[derive(Default)]
struct MockState {
    /// Scripted replies per path. The last reply of a path repeats.
    replies: Mutex<HashMap<String, VecDeque<Reply>>>,
    seen: Mutex<Vec<SeenRequest>>,
}

/// An HTTP server on 127.0.0.1 that records requests and plays scripted replies.
struct MockServer {
    base_url: String,
    state: Arc<MockState>,
}

impl MockServer {
    async fn start(routes: Vec<(&str, Vec<Reply>)>) -> Self {
        let state = Arc::new(MockState::default());
        for (path, replies) in routes {
            state
                .replies
                .lock()
                .unwrap()
                .insert(path.to_owned(), replies.into());
        }
        let router = Router::new()
            .fallback(mock_handler)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base_url: format!("http://{address}"),
            state,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Replaces the scripted replies of `path`.
    fn script(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .replies
            .lock()
            .unwrap()
            .insert(path.to_owned(), replies.into());
    }

    fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().unwrap().clone()
    }

    fn count(&self, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|request| request.path == path)
            .count()
    }
}

async fn mock_handler(
    State(state): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    state.seen.lock().unwrap().push(SeenRequest {
        path: path.clone(),
        headers,
        body: body.to_vec(),
    });
    let reply = {
        let mut replies = state.replies.lock().unwrap();
        match replies.get_mut(&path) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
    };
    match reply {
        Some(Reply::Respond {
            status,
            headers,
            body,
        }) => {
            let mut header_map = HeaderMap::new();
            for (name, value) in headers {
                header_map.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                );
            }
            (StatusCode::from_u16(status).unwrap(), header_map, body).into_response()
        }
        Some(Reply::Hang) => {
            tokio::time::sleep(HANG).await;
            StatusCode::OK.into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such mock route").into_response(),
    }
}

/// Returns a base URL on 127.0.0.1 where nothing listens.
fn refused_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

/// A clock that tests move forward by hand.
struct ManualClock {
    offset_ms: Arc<AtomicU64>,
    clock: Clock,
}

impl ManualClock {
    fn new() -> Self {
        let start = Instant::now();
        let offset_ms = Arc::new(AtomicU64::new(0));
        let reader = offset_ms.clone();
        let clock =
            Clock::from_fn(move || start + Duration::from_millis(reader.load(Ordering::SeqCst)));
        Self { offset_ms, clock }
    }

    fn advance(&self, by: Duration) {
        let by_ms = u64::try_from(by.as_millis()).unwrap();
        self.offset_ms.fetch_add(by_ms, Ordering::SeqCst);
    }
}

/// Returns a policy with short waits for tests.
fn fast_policy(clock: Clock) -> CallPolicy {
    CallPolicy {
        timeout: Duration::from_secs(5),
        max_attempts: 2,
        retry_backoff: Duration::from_millis(10),
        max_retry_wait: Duration::from_secs(1),
        breaker_threshold: 5,
        breaker_cooldown: Duration::from_secs(30),
        clock,
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// A compact JWS split into its parts.
struct DecodedJwt {
    header: serde_json::Value,
    claims: serde_json::Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl DecodedJwt {
    fn parse(jwt: &str) -> Self {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "a compact JWS has three parts: {jwt}");
        let segment = |index: usize| URL_SAFE_NO_PAD.decode(parts[index]).unwrap();
        Self {
            header: serde_json::from_slice(&segment(0)).unwrap(),
            claims: serde_json::from_slice(&segment(1)).unwrap(),
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature: segment(2),
        }
    }

    fn verify(&self, algorithm: &'static dyn VerificationAlgorithm, public_key: &[u8]) {
        UnparsedPublicKey::new(algorithm, public_key)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .expect("JWT signature verifies with the public key");
    }
}

#[test]
fn base_url_rules() {
    assert_eq!(
        parse_base_url("https://api.devicecheck.apple.com/").unwrap(),
        "https://api.devicecheck.apple.com"
    );
    assert_eq!(
        parse_base_url("http://127.0.0.1:8080").unwrap(),
        "http://127.0.0.1:8080"
    );
    assert!(parse_base_url("http://[::1]:8080").is_ok());
    assert!(parse_base_url("http://localhost:8080").is_ok());
    assert!(parse_base_url("http://provider.example").is_err());
    assert!(parse_base_url("http://192.0.2.1").is_err());
    assert!(parse_base_url("ftp://127.0.0.1").is_err());
    assert!(parse_base_url("https://user:secret@provider.example").is_err());
    assert!(parse_base_url("https://provider.example/?x=1").is_err());
    assert!(parse_base_url("nonsense").is_err());
}

#[test]
fn error_reasons_and_kinds() {
    let cases = [
        (
            ProviderError::Config("x".to_owned()),
            "provider_config_invalid",
            FailureKind::Misconfiguration,
            false,
        ),
        (
            ProviderError::InvalidResponse { detail: "x" },
            "provider_response_invalid",
            FailureKind::Outage,
            false,
        ),
        (
            ProviderError::Rejected {
                status: 400,
                message: "bad token".to_owned(),
            },
            "provider_rejected",
            FailureKind::Rejection,
            false,
        ),
        (
            ProviderError::Throttled { retry_after: None },
            "provider_throttled",
            FailureKind::Outage,
            true,
        ),
        (
            ProviderError::Timeout,
            "provider_timeout",
            FailureKind::Outage,
            true,
        ),
        (
            ProviderError::Unauthorized,
            "provider_unauthorized",
            FailureKind::Misconfiguration,
            false,
        ),
        (
            ProviderError::Unavailable { status: Some(503) },
            "provider_unavailable",
            FailureKind::Outage,
            true,
        ),
    ];
    for (error, reason, kind, transient) in cases {
        assert_eq!(error.reason(), reason);
        assert_eq!(error.kind(), kind, "{reason}");
        assert_eq!(error.is_transient(), transient, "{reason}");
        assert_eq!(error.is_outage(), kind == FailureKind::Outage, "{reason}");
        let text = error.to_string();
        assert!(
            text.starts_with(|first: char| first.is_lowercase()),
            "{text}"
        );
    }
    assert_eq!(
        ProviderError::Unavailable { status: Some(503) }.to_string(),
        "provider is unavailable (status 503)"
    );
    assert_eq!(
        ProviderError::Unavailable { status: None }.to_string(),
        "provider is unavailable"
    );
}

#[test]
fn clock_from_fn_is_used() {
    let fixed = Instant::now();
    let clock = Clock::from_fn(move || fixed);
    assert_eq!(clock.now(), fixed);
    assert_eq!(format!("{clock:?}"), "Clock(..)");
}
