//! The `avow guard` reverse proxy as a real process, in front of an upstream written here.
//!
//! The upstream responds to `/stream…` by streaming the request body back, and to every other
//! path with a JSON description of the request it received (method, path, headers). It counts
//! requests and TCP connections. All traffic stays on 127.0.0.1.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avow_testgen::{AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use avow_token::{AttestationClaim, Claims, Jwks, TokenSigner};
use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::{HttpService, service_fn};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use support::{ServerProcess, now, read_json_log, register_app, stop_process};

const ISSUER: &str = "avow-guard-test";
const AUDIENCE: &str = "TEAMID1234.com.example.bank";

// === local HTTP servers ===

/// Starts an HTTP/1.1 server on 127.0.0.1 on a runtime of its own, and returns the runtime and
/// the address. The server runs until the runtime is dropped. `new_service` builds the service
/// of each accepted connection.
fn serve_http1<F, S, B>(new_service: F) -> (tokio::runtime::Runtime, SocketAddr)
where
    F: Fn() -> S + Send + 'static,
    S: HttpService<Incoming, ResBody = B, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), new_service()),
            );
        }
    });
    (runtime, address)
}

// === upstream ===

type UpstreamBody = BoxBody<Bytes, hyper::Error>;

/// An HTTP/1.1 server on 127.0.0.1 that describes or echoes each request.
struct Upstream {
    address: SocketAddr,
    requests: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Upstream {
    fn start() -> Self {
        let requests = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (request_count, connection_count) = (Arc::clone(&requests), Arc::clone(&connections));
        let (runtime, address) = serve_http1(move || {
            connection_count.fetch_add(1, Ordering::SeqCst);
            let request_count = Arc::clone(&request_count);
            service_fn(move |request| {
                request_count.fetch_add(1, Ordering::SeqCst);
                async move { Ok::<_, Infallible>(answer(request)) }
            })
        });
        Self {
            address,
            requests,
            connections,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn answer(request: Request<Incoming>) -> Response<UpstreamBody> {
    if request.uri().path().starts_with("/stream") {
        return Response::new(request.into_body().boxed());
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in request.headers() {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let description = json!({
        "method": request.method().as_str(),
        "path": request.uri().path_and_query().map(|pq| pq.as_str()),
        "version": format!("{:?}", request.version()),
        "headers": headers,
    });
    let body = Full::new(Bytes::from(description.to_string()))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

// === guard process ===

/// A running `avow guard`, killed when dropped.
struct GuardProcess {
    child: Child,
    address: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl GuardProcess {
    /// Starts `avow guard --listen 127.0.0.1:0` with `args`, and waits for its `listening` log
    /// event.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_avow"))
            .arg("guard")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("AVOW_LOG_FORMAT", "json")
            .env("AVOW_LOG", "debug,hyper=info,h2=info,reqwest=info")
            .env_remove("AVOW_SERVER")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (log, receiver) = read_json_log(child.stderr.take().unwrap());
        let address = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "avow guard did not report its listen address:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            address,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Returns the log once it contains `needle`, or after 10 seconds without it. A thread
    /// copies the guard's stderr, so a line may arrive after the response that it describes.
    fn log_containing(&self, needle: &str) -> String {
        for _ in 0..100 {
            let text = self.log_text();
            if text.contains(needle) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.log_text()
    }

    /// Sends SIGTERM and returns whether the process exited successfully.
    fn stop(&mut self) -> bool {
        stop_process(&mut self.child)
    }
}

impl Drop for GuardProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
    }
}

// === a guard in front of an upstream ===

/// A guard process in front of a new [`Upstream`], checking the tokens of a new key. The fields
/// are in the order a test binds them, so the directory with the JWKS file is dropped last.
struct Setup {
    _dir: tempfile::TempDir,
    keys: Keys,
    upstream: Upstream,
    guard: GuardProcess,
}

impl Setup {
    /// Starts the upstream, then a guard with [`Keys::guard_args`] followed by `extra_args`.
    fn start(extra_args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::new(dir.path());
        let upstream = Upstream::start();
        let upstream_url = upstream.url();
        let mut args = keys.guard_args(&upstream_url);
        args.extend_from_slice(extra_args);
        let guard = GuardProcess::start(&args);
        Self {
            _dir: dir,
            keys,
            upstream,
            guard,
        }
    }
}

// === tokens ===

/// A signing key with its JWKS written to a file.
struct Keys {
    signer: TokenSigner,
    jwks_path: String,
}

impl Keys {
    fn new(dir: &Path) -> Self {
        let (signer, _pkcs8) = TokenSigner::generate().unwrap();
        let jwks = Jwks {
            keys: vec![signer.jwk().unwrap()],
        };
        let path = dir.join("jwks.json");
        std::fs::write(&path, serde_json::to_string(&jwks).unwrap()).unwrap();
        Self {
            signer,
            jwks_path: path.display().to_string(),
        }
    }

    fn token(&self) -> String {
        self.signer.sign(&claims(AUDIENCE, now() + 300)).unwrap()
    }

    /// Returns the options of a guard in front of `upstream` that checks this key's tokens.
    fn guard_args<'a>(&'a self, upstream: &'a str) -> Vec<&'a str> {
        vec![
            "--upstream",
            upstream,
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--jwks-file",
            &self.jwks_path,
        ]
    }
}

fn claims(audience: &str, exp: u64) -> Claims {
    let iat = exp.saturating_sub(300);
    Claims {
        iss: ISSUER.to_owned(),
        sub: audience.to_owned(),
        aud: audience.to_owned(),
        iat,
        exp,
        nbf: None,
        jti: avow_token::new_token_id().unwrap(),
        ins: Some("install-7".to_owned()),
        pay: None,
        att: AttestationClaim {
            prv: vec!["app_attest".to_owned()],
            trust: "hardware".to_owned(),
            app: "recognized".to_owned(),
            dev: "strong".to_owned(),
            flg: vec!["debug_build".to_owned()],
            env: Some("production".to_owned()),
            at: iat,
            via: "attestation".to_owned(),
            red: false,
        },
    }
}

// === helpers ===

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Returns the values the upstream saw for header `name`.
fn seen<'a>(description: &'a Value, name: &str) -> Vec<&'a str> {
    description["headers"][name]
        .as_array()
        .map(|values| values.iter().map(|value| value.as_str().unwrap()).collect())
        .unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

// === tests ===

#[test]
fn valid_token_forwards_with_claims() {
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        mut guard,
    } = Setup::start(&[]);
    let token = keys.token();

    let response = client()
        .post(guard.url("/orders/17?expand=items"))
        .header("avow-token", &token)
        .header("avow-app", "TEAMID1234.com.example.forged")
        .header("avow-trust", "hardware-forged")
        .header("avow-anything", "forged")
        .header("x-forwarded-for", "127.0.0.9")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let description: Value = response.json().unwrap();

    assert_eq!(description["method"], "POST");
    assert_eq!(description["path"], "/orders/17?expand=items");
    assert_eq!(description["version"], "HTTP/1.1");
    assert_eq!(seen(&description, "avow-app"), [AUDIENCE]);
    assert_eq!(seen(&description, "avow-install"), ["install-7"]);
    assert_eq!(seen(&description, "avow-providers"), ["app_attest"]);
    assert_eq!(seen(&description, "avow-trust"), ["hardware"]);
    assert_eq!(seen(&description, "avow-app-integrity"), ["recognized"]);
    assert_eq!(seen(&description, "avow-device-integrity"), ["strong"]);
    assert_eq!(seen(&description, "avow-flags"), ["debug_build"]);
    assert_eq!(seen(&description, "avow-token-id").len(), 1);
    assert!(seen(&description, "avow-reduced").is_empty());
    assert!(seen(&description, "avow-anything").is_empty());
    assert!(seen(&description, "avow-token").is_empty());
    assert_eq!(
        seen(&description, "x-forwarded-for"),
        ["127.0.0.9, 127.0.0.1"]
    );
    assert_eq!(seen(&description, "x-forwarded-proto"), ["http"]);
    assert_eq!(seen(&description, "host"), [guard.address.to_string()]);

    assert!(guard.stop(), "guard did not stop cleanly");
    let log = guard.log_containing("\"stopped\"");
    assert!(log.contains("\"stopped\""), "{log}");
    assert!(!log.contains(&token), "the log contains the token");
}

#[test]
fn missing_or_invalid_token_gets_401() {
    let Setup {
        _dir,
        keys,
        upstream,
        guard,
    } = Setup::start(&[]);
    let (other_signer, _) = TokenSigner::generate().unwrap();
    let client = client();

    let response = client.get(guard.url("/orders")).send().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Avow");
    assert_eq!(response.text().unwrap(), "");

    // One character in the middle of the signature changed.
    let mut tampered = keys.token().into_bytes();
    let position = tampered.len() - 10;
    tampered[position] = if tampered[position] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases = [
        (
            "wrong key",
            other_signer.sign(&claims(AUDIENCE, now() + 300)).unwrap(),
        ),
        ("tampered signature", tampered),
        (
            "expired",
            keys.signer.sign(&claims(AUDIENCE, now() - 600)).unwrap(),
        ),
        (
            "other audience",
            keys.signer
                .sign(&claims("TEAMID1234.com.example.other", now() + 300))
                .unwrap(),
        ),
        ("not a token", "not-a-token".to_owned()),
    ];
    for (case, token) in cases {
        let response = client
            .get(guard.url("/orders"))
            .header("avow-token", token)
            .send()
            .unwrap();
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Avow error=\"invalid_token\"",
            "{case}"
        );
        assert_eq!(response.text().unwrap(), "", "{case}");
    }
    assert_eq!(
        upstream.requests(),
        0,
        "a rejected request reached the upstream"
    );
}

#[test]
fn bearer_token_is_read_and_removed() {
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        guard,
    } = Setup::start(&["--bearer"]);
    let client = client();

    let response = client.get(guard.url("/orders")).send().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    let response = client
        .get(guard.url("/orders"))
        .bearer_auth(keys.token())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let description: Value = response.json().unwrap();
    assert!(seen(&description, "authorization").is_empty());
    assert_eq!(seen(&description, "avow-app"), [AUDIENCE]);
}

#[test]
fn forward_token_keeps_token_header() {
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        guard,
    } = Setup::start(&["--forward-token"]);
    let token = keys.token();

    let response = client()
        .get(guard.url("/orders"))
        .header("avow-token", &token)
        .header("avow-app", "forged")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let description: Value = response.json().unwrap();
    assert_eq!(seen(&description, "avow-token"), [token.as_str()]);
    assert_eq!(seen(&description, "avow-app"), [AUDIENCE]);
}

/// A reader that yields `len` pseudo-random bytes in reads of at most 64 KiB, so reqwest sends
/// them as a chunked, streamed body.
struct Chunks {
    remaining: usize,
    state: u64,
}

impl Chunks {
    fn new(len: usize) -> Self {
        Self {
            remaining: len,
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let len = buffer.len().min(64 * 1024).min(self.remaining);
        for byte in &mut buffer[..len] {
            // xorshift64: varied bytes without a dependency on a random source.
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *byte = self.state.to_le_bytes()[0];
        }
        self.remaining -= len;
        Ok(len)
    }
}

#[test]
fn large_body_streams_both_ways() {
    const LEN: usize = 6 * 1024 * 1024 + 123;
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        guard,
    } = Setup::start(&[]);

    // The same bytes as the streamed body, read from a second reader with the same seed.
    let mut expected = Vec::new();
    Chunks::new(LEN).read_to_end(&mut expected).unwrap();
    let response = client()
        .post(guard.url("/stream/upload"))
        .header("avow-token", keys.token())
        .body(reqwest::blocking::Body::new(Chunks::new(LEN)))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.bytes().unwrap();
    assert_eq!(echoed.len(), LEN);
    assert_eq!(hex_sha256(&echoed), hex_sha256(&expected));
}

#[test]
fn http2_prior_knowledge_works() {
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        guard,
    } = Setup::start(&[]);
    let token = keys.token();
    let address = guard.address;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (first, second, version) = runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let mut descriptions = Vec::new();
        let mut version = None;
        // Two requests on one HTTP/2 connection, the second also with a cookie split in two
        // fields, as HTTP/2 clients send them.
        for cookies in [&[][..], &["a=1", "b=2"][..]] {
            let mut request = Request::get(format!("http://{address}/h2?n=1"))
                .header("avow-token", &token)
                .header("avow-app", "forged");
            for cookie in cookies {
                request = request.header("cookie", *cookie);
            }
            let request = request.body(Empty::<Bytes>::new()).unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            version = Some(response.version());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            descriptions.push(serde_json::from_slice::<Value>(&body).unwrap());
        }
        let second = descriptions.pop().unwrap();
        let first = descriptions.pop().unwrap();
        (first, second, version.unwrap())
    });
    assert_eq!(version, hyper::Version::HTTP_2);
    assert_eq!(first["path"], "/h2?n=1");
    assert_eq!(first["version"], "HTTP/1.1");
    assert_eq!(seen(&first, "avow-app"), [AUDIENCE]);
    assert_eq!(seen(&first, "host"), [address.to_string()]);
    assert_eq!(seen(&second, "cookie"), ["a=1; b=2"]);
}

#[test]
fn keep_alive_reuses_connections() {
    let Setup {
        _dir,
        keys,
        upstream,
        guard,
    } = Setup::start(&[]);
    let token = keys.token();
    let address = guard.address;
    const REQUESTS: usize = 20;

    // Client side: every request on one HTTP/1.1 connection.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses = runtime.block_on(async move {
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut statuses = Vec::new();
        for _ in 0..REQUESTS {
            sender.ready().await.unwrap();
            let request = Request::get("/keep-alive")
                .header("host", address.to_string())
                .header("avow-token", &token)
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            statuses.push(response.status());
            response.into_body().collect().await.unwrap();
        }
        statuses
    });
    assert_eq!(statuses, vec![StatusCode::OK; REQUESTS]);

    // Upstream side: the proxy's pool reuses its connections.
    assert_eq!(upstream.requests(), REQUESTS);
    let connections = upstream.connections();
    assert!(
        connections < REQUESTS / 2,
        "{connections} upstream connections for {REQUESTS} sequential requests"
    );
}

#[test]
fn monitor_path_forwards_without_claims() {
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        guard,
    } = Setup::start(&["--monitor-path", "/public"]);
    let client = client();

    let response = client
        .get(guard.url("/public/news"))
        .header("avow-token", "not-a-token")
        .header("avow-app", "forged")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let description: Value = response.json().unwrap();
    assert!(seen(&description, "avow-app").is_empty());
    assert!(seen(&description, "avow-token").is_empty());

    let response = client
        .get(guard.url("/public/news"))
        .header("avow-token", keys.token())
        .send()
        .unwrap();
    let description: Value = response.json().unwrap();
    assert_eq!(seen(&description, "avow-app"), [AUDIENCE]);

    let response = client
        .get(guard.url("/publication"))
        .header("avow-token", "not-a-token")
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    let log = guard.log_containing("request forwarded without claims");
    assert!(log.contains("request forwarded without claims"), "{log}");
}

#[test]
fn monitor_flag_covers_every_path() {
    let Setup {
        _dir,
        keys: _keys,
        upstream,
        guard,
    } = Setup::start(&["--monitor"]);

    let response = client().get(guard.url("/anything")).send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(upstream.requests(), 1);
}

#[test]
fn upstream_down_gets_502() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let upstream_url = format!("http://127.0.0.1:{}", free_port());
    let guard = GuardProcess::start(&keys.guard_args(&upstream_url));

    let response = client()
        .get(guard.url("/orders"))
        .header("avow-token", keys.token())
        .send()
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.text().unwrap(), "");
    let log = guard.log_containing("upstream request failed");
    assert!(log.contains("upstream request failed"), "{log}");

    // A request without a token is still a 401: the upstream is never contacted for it.
    let response = client().get(guard.url("/orders")).send().unwrap();
    assert_eq!(response.status(), 401);
}

#[test]
fn http10_upstream_keeps_client_on_http11() {
    use std::io::Write as _;

    // An HTTP/1.0 upstream that closes after each response, as `python3 -m http.server` does.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            stream
                .write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let guard = GuardProcess::start(&keys.guard_args(&upstream_url));

    let client = client();
    for _ in 0..2 {
        let response = client
            .get(guard.url("/orders"))
            .header("avow-token", keys.token())
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), reqwest::Version::HTTP_11);
        assert_eq!(response.text().unwrap(), "ok");
    }
    upstream.join().unwrap();
}

#[test]
fn upstream_path_prefix_is_prepended() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let upstream = Upstream::start();
    let upstream_url = format!("{}/api/", upstream.url());
    let guard = GuardProcess::start(&keys.guard_args(&upstream_url));

    let response = client()
        .get(guard.url("/orders?page=2"))
        .header("avow-token", keys.token())
        .send()
        .unwrap();
    let description: Value = response.json().unwrap();
    assert_eq!(description["path"], "/api/orders?page=2");
}

#[test]
fn invalid_options_exit_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let cases: [(&str, &[&str]); 4] = [
        ("https upstream", &["--upstream", "https://127.0.0.1:9"]),
        ("relative monitor path", &["--monitor-path", "public"]),
        ("bad token header", &["--token-header", "bad header"]),
        ("require binding without header", &["--require-binding"]),
    ];
    for (case, extra) in cases {
        let mut args = vec![
            "guard",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            ISSUER,
            "--audience",
            AUDIENCE,
            "--jwks-file",
            &keys.jwks_path,
        ];
        if !extra.contains(&"--upstream") {
            args.extend(["--upstream", "http://127.0.0.1:9"]);
        }
        args.extend(extra);
        let output = Command::new(env!("CARGO_BIN_EXE_avow"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{case}");
        assert!(!output.stderr.is_empty(), "{case}");
    }
}

// === limited use ===

/// A consume endpoint on 127.0.0.1 that follows the Avow server's contract: `200` for the first
/// use of a token, `409` after that.
struct ConsumeServer {
    address: SocketAddr,
    calls: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl ConsumeServer {
    fn start() -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let used: Arc<Mutex<HashSet<String>>> = Arc::default();
        let call_count = Arc::clone(&calls);
        let (runtime, address) = serve_http1(move || {
            let (used, call_count) = (Arc::clone(&used), Arc::clone(&call_count));
            service_fn(move |request: Request<Incoming>| {
                let (used, call_count) = (Arc::clone(&used), Arc::clone(&call_count));
                async move {
                    call_count.fetch_add(1, Ordering::SeqCst);
                    let path_ok = request.uri().path() == "/v1/tokens/consume";
                    let body = request.into_body().collect().await.unwrap().to_bytes();
                    let token = serde_json::from_slice::<Value>(&body).unwrap()["token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    // The guard checked the signature, so the payload is only decoded.
                    let payload = token.split('.').nth(1).unwrap();
                    let claims: Value =
                        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
                    let (status, body) = if !path_ok {
                        (StatusCode::NOT_FOUND, json!({"reason": "not_found"}))
                    } else if used.lock().unwrap().insert(token) {
                        let body = json!({
                            "jti": claims["jti"],
                            "sub": claims["sub"],
                            "exp": claims["exp"],
                        });
                        (StatusCode::OK, body)
                    } else {
                        (
                            StatusCode::CONFLICT,
                            json!({"reason": "token_already_used"}),
                        )
                    };
                    let body = Bytes::from(body.to_string());
                    let mut response = Response::new(Full::new(body));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                }
            })
        });
        Self {
            address,
            calls,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

#[test]
fn limited_use_token_works_once() {
    let consume = ConsumeServer::start();
    let consume_url = consume.url();
    let Setup {
        _dir,
        keys,
        upstream,
        guard,
    } = Setup::start(&["--limited-use-path", "/pay", "--server", &consume_url]);
    let client = client();
    let token = keys.token();

    let send = |path: &str| {
        client
            .post(guard.url(path))
            .header("avow-token", &token)
            .send()
            .unwrap()
    };
    let first = send("/pay/confirm");
    assert_eq!(first.status(), 200);
    let description: Value = first.json().unwrap();
    assert_eq!(seen(&description, "avow-app"), [AUDIENCE]);

    let second = send("/pay/confirm");
    assert_eq!(second.status(), 403);
    assert_eq!(second.headers()["avow-reason"], "token_already_used");
    assert_eq!(second.text().unwrap(), "");

    // Other paths do not consume the token.
    assert_eq!(send("/orders").status(), 200);
    assert_eq!(send("/payroll").status(), 200);
    assert_eq!(consume.calls.load(Ordering::SeqCst), 2);
    assert_eq!(upstream.requests(), 3);
}

#[test]
fn unreachable_consume_fails_closed_or_open() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::new(dir.path());
    let upstream = Upstream::start();
    let upstream_url = upstream.url();
    let consume_url = format!("http://127.0.0.1:{}", free_port());
    let mut args = keys.guard_args(&upstream_url);
    args.extend(["--limited-use-path", "/pay", "--server", &consume_url]);

    let closed = GuardProcess::start(&args);
    let response = client()
        .post(closed.url("/pay"))
        .header("avow-token", keys.token())
        .send()
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["avow-reason"], "consume_unavailable");
    assert_eq!(upstream.requests(), 0);

    args.push("--consume-fail-open");
    let open = GuardProcess::start(&args);
    let response = client()
        .post(open.url("/pay"))
        .header("avow-token", keys.token())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let description: Value = response.json().unwrap();
    assert_eq!(seen(&description, "avow-app"), [AUDIENCE]);
    let log = open.log_containing("forwarding (fail open)");
    assert!(log.contains("forwarding (fail open)"), "{log}");
}

// === keys from a URL, rotation, HS256 ===

/// A JWKS endpoint on 127.0.0.1 whose document the test can replace.
struct JwksServer {
    address: SocketAddr,
    document: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl JwksServer {
    fn start(jwks: &Jwks) -> Self {
        let document = Arc::new(Mutex::new(serde_json::to_string(jwks).unwrap()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, fetch_count) = (Arc::clone(&document), Arc::clone(&fetches));
        let (runtime, address) = serve_http1(move || {
            let (served, fetch_count) = (Arc::clone(&served), Arc::clone(&fetch_count));
            service_fn(move |_request: Request<Incoming>| {
                fetch_count.fetch_add(1, Ordering::SeqCst);
                let body = Bytes::from(served.lock().unwrap().clone());
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            })
        });
        Self {
            address,
            document,
            fetches,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/.well-known/jwks.json", self.address)
    }

    fn serve(&self, jwks: &Jwks) {
        *self.document.lock().unwrap() = serde_json::to_string(jwks).unwrap();
    }
}

#[test]
fn jwks_url_rotation_is_picked_up() {
    let (old_signer, _) = TokenSigner::generate().unwrap();
    let (new_signer, _) = TokenSigner::generate().unwrap();
    let jwks_server = JwksServer::start(&Jwks {
        keys: vec![old_signer.jwk().unwrap()],
    });
    let upstream = Upstream::start();
    let (upstream_url, jwks_url) = (upstream.url(), jwks_server.url());
    let guard = GuardProcess::start(&[
        "--upstream",
        &upstream_url,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--jwks-url",
        &jwks_url,
        "--jwks-cooldown",
        "0",
    ]);
    let client = client();
    let send = |signer: &TokenSigner| {
        client
            .get(guard.url("/orders"))
            .header(
                "avow-token",
                signer.sign(&claims(AUDIENCE, now() + 300)).unwrap(),
            )
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(send(&old_signer), 200);
    assert_eq!(jwks_server.fetches.load(Ordering::SeqCst), 1);

    // The server rotates: the new key signs, the old one still verifies during the overlap.
    jwks_server.serve(&Jwks {
        keys: vec![new_signer.jwk().unwrap(), old_signer.jwk().unwrap()],
    });
    assert_eq!(send(&new_signer), 200);
    assert_eq!(send(&old_signer), 200);
    assert_eq!(jwks_server.fetches.load(Ordering::SeqCst), 2);
}

#[test]
fn jwks_file_rotation_is_picked_up() {
    let Setup {
        _dir,
        keys,
        upstream: _upstream,
        guard,
    } = Setup::start(&["--jwks-cooldown", "0"]);

    let (new_signer, _) = TokenSigner::generate().unwrap();
    let token = new_signer.sign(&claims(AUDIENCE, now() + 300)).unwrap();
    let send = || {
        client()
            .get(guard.url("/orders"))
            .header("avow-token", &token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(send(), 401);
    let jwks = Jwks {
        keys: vec![new_signer.jwk().unwrap(), keys.signer.jwk().unwrap()],
    };
    std::fs::write(&keys.jwks_path, serde_json::to_string(&jwks).unwrap()).unwrap();
    assert_eq!(send(), 200);
}

/// Signs `claims` as an HS256 Avow token with `secret`.
fn sign_hs256(claims: &Claims, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"avow+jwt"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    let input = format!("{header}.{payload}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

#[test]
fn hs256_secret_file_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let secret = b"an hs256 secret of 32 bytes or more";
    let secret_path = dir.path().join("hs256.secret");
    // A trailing newline, as an editor or `echo` writes it, is not part of the secret.
    std::fs::write(&secret_path, [&secret[..], b"\n"].concat()).unwrap();
    let upstream = Upstream::start();
    let upstream_url = upstream.url();
    let secret_arg = secret_path.display().to_string();

    let guard = GuardProcess::start(&[
        "--upstream",
        &upstream_url,
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--hs256-secret-file",
        &secret_arg,
    ]);
    let send = |token: String| {
        client()
            .get(guard.url("/orders"))
            .header("avow-token", token)
            .send()
            .unwrap()
            .status()
    };

    let claims = claims(AUDIENCE, now() + 300);
    assert_eq!(send(sign_hs256(&claims, secret)), 200);
    assert_eq!(
        send(sign_hs256(&claims, b"another secret of 32 bytes or more")),
        401
    );
    let (es_signer, _) = TokenSigner::generate().unwrap();
    assert_eq!(send(es_signer.sign(&claims).unwrap()), 401);
}

// === with a real Avow server ===

#[test]
fn real_server_token_and_limited_use() {
    const APP_ID: &str = "TEAMID1234.com.example.bank";
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let server = ServerProcess::start(dir.path(), &support::config(&root_path, 120));
    register_app(&server, APP_ID);

    // A simulated device attests and receives a token.
    let http = support::Client::new();
    let device = SimulatedDevice::new();
    let nonce = http.challenge(&server, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let attest = json!({
        "app_id": APP_ID,
        "nonce": URL_SAFE_NO_PAD.encode(&nonce),
        "evidence": {"app_attest": {
            "key_id": STANDARD.encode(device.key_id()),
            "attestation_object": STANDARD.encode(&object),
        }},
    });
    let (status, body) = http.post(&server.url("/v1/attest"), &attest);
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let install_id = body["install_id"].as_str().unwrap().to_owned();

    let upstream = Upstream::start();
    let upstream_url = upstream.url();
    let jwks_url = server.url("/.well-known/jwks.json");
    let guard = GuardProcess::start(&[
        "--upstream",
        &upstream_url,
        "--issuer",
        "avow-e2e",
        "--audience",
        APP_ID,
        "--jwks-url",
        &jwks_url,
        "--limited-use-path",
        "/pay",
        "--server",
        &server.base_url,
    ]);
    let client = client();
    let send = |path: &str| {
        client
            .post(guard.url(path))
            .header("avow-token", &token)
            .send()
            .unwrap()
    };

    let response = send("/orders");
    assert_eq!(response.status(), 200);
    let description: Value = response.json().unwrap();
    assert_eq!(seen(&description, "avow-app"), [APP_ID]);
    assert_eq!(seen(&description, "avow-install"), [install_id.as_str()]);

    assert_eq!(send("/pay").status(), 200);
    assert_eq!(send("/pay").status(), 403);
    // The token was consumed on the server, so its check endpoint agrees.
    let check = client
        .get(server.url("/v1/check"))
        .header("avow-token", &token)
        .header("x-avow-limited-use", "true")
        .send()
        .unwrap();
    assert_eq!(check.status(), 403);
    assert_eq!(upstream.requests(), 2);
}
