//! Small HTTP servers on 127.0.0.1 that play the Avow server: one serves a JWKS, one
//! consumes tokens. Both count the requests they receive.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use avow_token::Jwks;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

/// Binds a listener on a free port of 127.0.0.1 and serves `router` on it.
async fn serve(router: Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (address, task)
}

/// Returns a 127.0.0.1 address on which nothing listens: a port the operating system
/// handed out and that was released again.
pub(crate) async fn closed_address() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}

// === JWKS server ===

/// A JWKS endpoint at `/jwks.json` whose response the test sets.
pub(crate) struct JwksServer {
    address: SocketAddr,
    state: Arc<JwksState>,
    task: tokio::task::JoinHandle<()>,
}

struct JwksState {
    hits: AtomicUsize,
    /// Status and body of the next responses.
    response: Mutex<(StatusCode, String)>,
    /// Each request takes a permit before the response, so a test can hold responses back.
    gate: Semaphore,
    /// Notified on every request.
    arrived: Notify,
}

impl JwksServer {
    /// Starts a server that responds with `jwks`.
    pub(crate) async fn start(jwks: &Jwks) -> Self {
        Self::start_with(jwks, Semaphore::MAX_PERMITS).await
    }

    /// Starts a server that responds with `jwks` once [`JwksServer::release`] lets it.
    pub(crate) async fn start_gated(jwks: &Jwks) -> Self {
        Self::start_with(jwks, 0).await
    }

    async fn start_with(jwks: &Jwks, permits: usize) -> Self {
        let state = Arc::new(JwksState {
            hits: AtomicUsize::new(0),
            response: Mutex::new((StatusCode::OK, serde_json::to_string(jwks).unwrap())),
            gate: Semaphore::new(permits),
            arrived: Notify::new(),
        });
        let router = Router::new()
            .route("/jwks.json", get(jwks_handler))
            .with_state(Arc::clone(&state));
        let (address, task) = serve(router).await;
        Self {
            address,
            state,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/jwks.json", self.address)
    }

    /// Returns how many requests arrived.
    pub(crate) fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn set_jwks(&self, jwks: &Jwks) {
        self.set_response(StatusCode::OK, serde_json::to_string(jwks).unwrap());
    }

    pub(crate) fn set_response(&self, status: StatusCode, body: String) {
        *self.state.response.lock().unwrap() = (status, body);
    }

    /// Lets `count` held-back requests be answered.
    pub(crate) fn release(&self, count: usize) {
        self.state.gate.add_permits(count);
    }

    /// Waits until a request has arrived since the last call.
    pub(crate) async fn request_arrived(&self) {
        self.state.arrived.notified().await;
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn jwks_handler(State(state): State<Arc<JwksState>>) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    state.arrived.notify_one();
    let _permit = state.gate.acquire().await.unwrap();
    let (status, body) = state.response.lock().unwrap().clone();
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

// === consume server ===

/// The responses of the consume server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ConsumeBehaviour {
    /// 200 on a token id's first use, 409 afterwards, as the Avow server does.
    Track,
    /// This status with an error body, for every request.
    Status(StatusCode),
    /// 401 with this reason code, for every request.
    Reject(&'static str),
    /// 200 naming another token id.
    WrongJti,
    /// Never responds.
    Hang,
}

/// A consume endpoint at `/v1/tokens/consume` that keeps the token ids it saw.
pub(crate) struct ConsumeServer {
    address: SocketAddr,
    state: Arc<ConsumeState>,
    task: tokio::task::JoinHandle<()>,
}

struct ConsumeState {
    hits: AtomicUsize,
    used: Mutex<HashSet<String>>,
    behaviour: Mutex<ConsumeBehaviour>,
}

impl ConsumeServer {
    pub(crate) async fn start(behaviour: ConsumeBehaviour) -> Self {
        let state = Arc::new(ConsumeState {
            hits: AtomicUsize::new(0),
            used: Mutex::new(HashSet::new()),
            behaviour: Mutex::new(behaviour),
        });
        let router = Router::new()
            .route("/v1/tokens/consume", post(consume_handler))
            .with_state(Arc::clone(&state));
        let (address, task) = serve(router).await;
        Self {
            address,
            state,
            task,
        }
    }

    /// Returns the base URL of the server, the form in which an Avow server URL is configured.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub(crate) fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn set_behaviour(&self, behaviour: ConsumeBehaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }
}

impl Drop for ConsumeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn consume_handler(
    State(state): State<Arc<ConsumeState>>,
    Json(body): Json<Value>,
) -> Response {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let behaviour = state.behaviour.lock().unwrap().clone();
    let claims = payload_of(body["token"].as_str().unwrap());
    let jti = claims["jti"].as_str().unwrap().to_owned();
    match behaviour {
        ConsumeBehaviour::Track => {
            if state.used.lock().unwrap().insert(jti.clone()) {
                Json(json!({"jti": jti, "sub": claims["sub"], "exp": claims["exp"]}))
                    .into_response()
            } else {
                error_response(StatusCode::CONFLICT, "token_already_used")
            }
        }
        ConsumeBehaviour::Status(status) => error_response(status, "database_unavailable"),
        ConsumeBehaviour::Reject(reason) => error_response(StatusCode::UNAUTHORIZED, reason),
        ConsumeBehaviour::WrongJti => {
            Json(json!({"jti": "another-token", "sub": claims["sub"], "exp": claims["exp"]}))
                .into_response()
        }
        ConsumeBehaviour::Hang => std::future::pending().await,
    }
}

fn error_response(status: StatusCode, reason: &str) -> Response {
    (
        status,
        Json(json!({"reason": reason, "message": "test server"})),
    )
        .into_response()
}

/// Decodes the payload of a compact JWS without verifying it: the guard verified it before.
fn payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
