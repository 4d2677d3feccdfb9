//! A real nginx with `auth_request` in front of a small upstream, asking a real `avow serve`
//! whether each request may pass. nginx runs `docs/examples/nginx-auth-request.conf`, with its
//! addresses and audience replaced by the test's own, so the documented example is what is
//! tested.
//!
//! Runs only when `AVOW_TEST_NGINX` names the nginx binary (built with
//! `--with-http_auth_request_module`, as Debian's packages are). `.ci/run` installs Debian's
//! `nginx-light` and sets it. Without it the test passes after printing `skipped: …`.
//!
//! Every address is on 127.0.0.1. nginx runs in the foreground as one process (`daemon off`,
//! `master_process off`) with its prefix, logs and temporary files in a temporary directory.

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avow_testgen::{AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use support::{Client, ServerProcess, config, register_app};

const APP_ID: &str = "TEAMID1234.com.example.bank";
const OTHER_APP_ID: &str = "TEAMID1234.com.example.shop";

/// The addresses and audience that the example file uses, replaced by the test's.
const EXAMPLE_LISTEN: &str = "127.0.0.1:8000";
const EXAMPLE_AVOW: &str = "127.0.0.1:8080";
const EXAMPLE_API: &str = "127.0.0.1:9000";
const EXAMPLE_AUDIENCE: &str = "com.example.shop";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One request as the upstream received it, with lowercase header names.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The API behind nginx: returns `200 upstream reached` for every request and records each
/// request it received. It stops accepting when the test process ends.
struct Upstream {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Upstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = Arc::clone(&log);
                std::thread::spawn(move || serve_one(stream, &log));
            }
        });
        Self { address, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// Reads one request with a `Content-Length` body or none, records it, sends the response and
/// closes the connection.
fn serve_one(stream: TcpStream, log: &Mutex<Vec<Received>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();

    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();

    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }

    // Read the body too: closing a socket with unread data resets the connection, which nginx
    // could see before the response.
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    log.lock().unwrap().push(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });

    let reply = "upstream reached";
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = reader.get_mut().write_all(response.as_bytes());
}

/// A running nginx, stopped when dropped.
struct Nginx {
    child: Child,
    prefix: PathBuf,
    base_url: String,
}

impl Nginx {
    /// Starts `binary` with the example configuration, pointed at `avow` and `upstream`.
    fn start(binary: &str, prefix: &Path, avow: &str, upstream: SocketAddr) -> Self {
        let version = Command::new(binary)
            .arg("-V")
            .output()
            .unwrap_or_else(|error| panic!("cannot run AVOW_TEST_NGINX={binary}: {error}"));
        // `nginx -V` prints its build options on standard error.
        let build = String::from_utf8_lossy(&version.stderr).into_owned();
        assert!(
            build.contains("--with-http_auth_request_module"),
            "{binary} is built without the auth_request module: {build}"
        );

        // The port comes from `free_port`, so another process may take it before nginx binds
        // it: a few attempts make that race harmless.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let conf = write_config(prefix, &build, port, avow, upstream);
            match Self::launch(binary, prefix, &conf, port) {
                Ok(nginx) => return nginx,
                Err(error) if error.contains("Address already in use") => last_error = error,
                Err(error) => panic!("{error}"),
            }
        }
        panic!("nginx found no free port: {last_error}");
    }

    /// Checks the configuration, starts nginx and waits until it accepts connections.
    fn launch(binary: &str, prefix: &Path, conf: &Path, port: u16) -> Result<Self, String> {
        let prefix_arg = format!("{}/", prefix.display());
        let error_log = prefix.join("error.log");
        let test = Command::new(binary)
            .args(["-t", "-p", &prefix_arg, "-e"])
            .arg(&error_log)
            .arg("-c")
            .arg(conf)
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "nginx rejected the configuration: {}",
            String::from_utf8_lossy(&test.stderr)
        );

        let child = Command::new(binary)
            .args(["-p", &prefix_arg, "-e"])
            .arg(&error_log)
            .arg("-c")
            .arg(conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Self {
            child,
            prefix: prefix.to_owned(),
            base_url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                return Err(format!("nginx exited with {status}: {}", nginx.error_log()));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen within 10 s: {}", nginx.error_log());
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// Writes the example, with the test's addresses, and a main configuration that includes it
/// into `prefix`. Returns the path of the main configuration.
fn write_config(
    prefix: &Path,
    build: &str,
    port: u16,
    avow: &str,
    upstream: SocketAddr,
) -> PathBuf {
    let example =
        std::fs::read_to_string(workspace_root().join("docs/examples/nginx-auth-request.conf"))
            .unwrap();
    let site = replace_in_directives(
        &example,
        &[
            (EXAMPLE_LISTEN, format!("127.0.0.1:{port}")),
            (EXAMPLE_AVOW, avow.to_owned()),
            (EXAMPLE_API, upstream.to_string()),
            (EXAMPLE_AUDIENCE, APP_ID.to_owned()),
        ],
    );
    std::fs::write(prefix.join("avow-site.conf"), site).unwrap();

    // Temporary-file paths of the modules this build has, so that nginx writes nothing outside
    // the prefix.
    let mut temp_paths = format!(
        "client_body_temp_path {0}/client_body;\n    proxy_temp_path {0}/proxy;\n",
        prefix.display()
    );
    for module in ["fastcgi", "uwsgi", "scgi"] {
        if !build.contains(&format!("--without-http_{module}_module")) {
            temp_paths.push_str(&format!(
                "    {module}_temp_path {}/{module};\n",
                prefix.display()
            ));
        }
    }
    let main = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n\
         pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n\
         events {{\n    worker_connections 64;\n}}\n\
         http {{\n    access_log {prefix}/access.log;\n    {temp_paths}\
         include {prefix}/avow-site.conf;\n}}\n",
        prefix = prefix.display()
    );
    let conf = prefix.join("nginx.conf");
    std::fs::write(&conf, main).unwrap();
    conf
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces each `from` with its `to` in the directives of an nginx configuration, leaving
/// comments as they are. Fails if a `from` occurs in no directive, so that a test of a changed
/// example fails instead of running with the example's own addresses.
fn replace_in_directives(text: &str, replacements: &[(&str, String)]) -> String {
    let is_directive = |line: &&str| !line.trim_start().starts_with('#');
    for (from, _) in replacements {
        let count = text
            .lines()
            .filter(is_directive)
            .filter(|line| line.contains(from))
            .count();
        assert!(
            count > 0,
            "the example no longer uses {from} in a directive"
        );
    }
    let mut result = String::with_capacity(text.len());
    for line in text.lines() {
        let mut line = line.to_owned();
        if is_directive(&line.as_str()) {
            for (from, to) in replacements {
                line = line.replace(from, to);
            }
        }
        result.push_str(&line);
        result.push('\n');
    }
    result
}

/// Returns a port that was free a moment ago. nginx binds it shortly after.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Attests a new simulated device for `app_id` and returns its token and install id.
fn attest(server: &ServerProcess, pki: &TestPki, app_id: &str) -> (String, String) {
    let client = Client::new();
    let device = SimulatedDevice::new();
    let nonce = client.challenge(server, app_id);
    let spec = AttestationSpec::new(app_id, sha256(&nonce), Environment::Development);
    let object = device.attestation(pki, &spec);
    let body = json!({
        "app_id": app_id,
        "nonce": URL_SAFE_NO_PAD.encode(&nonce),
        "evidence": {"app_attest": {
            "key_id": STANDARD.encode(device.key_id()),
            "attestation_object": STANDARD.encode(&object),
        }},
    });
    let (status, body) = client.post(&server.url("/v1/attest"), &body);
    assert_eq!(status, 200, "{body}");
    (
        body["token"].as_str().unwrap().to_owned(),
        body["install_id"].as_str().unwrap().to_owned(),
    )
}

/// Returns the `jti` claim of a token the server issued.
fn token_id(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

#[test]
fn nginx_auth_request_admits_only_valid_tokens() {
    let Some(binary) = std::env::var_os("AVOW_TEST_NGINX").filter(|value| !value.is_empty()) else {
        println!("skipped: set AVOW_TEST_NGINX to an nginx binary built with auth_request");
        return;
    };
    let binary = binary.to_string_lossy().into_owned();

    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let mut server = ServerProcess::start(dir.path(), &config(&root_path, 120));
    register_app(&server, APP_ID);
    register_app(&server, OTHER_APP_ID);
    let (token, install_id) = attest(&server, &pki, APP_ID);
    let (other_app_token, _) = attest(&server, &pki, OTHER_APP_ID);

    let upstream = Upstream::start();
    let prefix = dir.path().join("nginx");
    std::fs::create_dir(&prefix).unwrap();
    let avow_address = server.base_url.trim_start_matches("http://").to_owned();
    let nginx = Nginx::start(&binary, &prefix, &avow_address, upstream.address);
    let http = Client::new().http;

    // A valid token reaches the upstream, which receives the verified claims and not the token.
    // The client's forged claim headers are replaced or removed.
    let response = http
        .get(nginx.url("/api/orders"))
        .header("avow-token", &token)
        .header("avow-app", "forged.app")
        .header("avow-reduced", "true")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{}", nginx.error_log());
    assert_eq!(response.text().unwrap(), "upstream reached");
    let received = upstream.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert_eq!(request.path, "/api/orders");
    assert_eq!(request.header("avow-app"), Some(APP_ID));
    assert_eq!(
        request.header("avow-token-id"),
        Some(token_id(&token).as_str())
    );
    assert_eq!(request.header("avow-install"), Some(install_id.as_str()));
    assert_eq!(request.header("avow-providers"), Some("app_attest"));
    assert_eq!(request.header("avow-trust"), Some("hardware"));
    assert_eq!(request.header("avow-app-integrity"), Some("recognized"));
    assert_eq!(request.header("avow-device-integrity"), Some("strong"));
    assert_eq!(
        request.header("avow-reduced"),
        None,
        "forged header removed"
    );
    assert_eq!(request.header("avow-token"), None, "token not forwarded");
    assert_eq!(
        request
            .headers
            .iter()
            .filter(|(name, _)| name == "avow-app")
            .count(),
        1,
        "one Avow-App header: {:?}",
        request.headers
    );

    // A client's limited-use header is dropped, so it neither consumes the token nor turns
    // the check into an error.
    let response = http
        .get(nginx.url("/api/orders"))
        .header("avow-token", &token)
        .header("x-avow-limited-use", "bogus")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{}", nginx.error_log());
    assert_eq!(upstream.received().len(), 2);

    // Rejected requests get 401 and never reach the upstream.
    let rejected: [(&str, Vec<(&str, &str)>); 4] = [
        ("no token", vec![]),
        ("garbage token", vec![("avow-token", "not-a-token")]),
        (
            "token of another app",
            vec![("avow-token", other_app_token.as_str())],
        ),
        (
            "token of another app, audience forged by the client",
            vec![
                ("avow-token", other_app_token.as_str()),
                ("x-avow-audience", OTHER_APP_ID),
            ],
        ),
    ];
    for (case, headers) in rejected {
        let mut request = http.get(nginx.url("/api/orders"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status().as_u16(), 401, "{case}");
    }
    assert_eq!(
        upstream.received().len(),
        2,
        "rejected requests reached the upstream"
    );

    // The limited-use location takes each token once, with the same claim headers. The token
    // was not consumed by the requests above.
    let response = http
        .post(nginx.url("/api/payments/transfer"))
        .header("avow-token", &token)
        .body("amount=10")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{}", nginx.error_log());
    let received = upstream.received();
    assert_eq!(received.len(), 3, "{received:?}");
    assert_eq!(received[2].path, "/api/payments/transfer");
    assert_eq!(
        received[2].body, "amount=10",
        "the body reaches the upstream"
    );
    assert_eq!(received[2].header("avow-app"), Some(APP_ID));
    assert_eq!(
        received[2].header("avow-token-id"),
        Some(token_id(&token).as_str())
    );
    let response = http
        .post(nginx.url("/api/payments/transfer"))
        .header("avow-token", &token)
        .body("amount=10")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 403, "reused token");
    assert_eq!(
        upstream.received().len(),
        3,
        "a reused token reached the upstream"
    );
    // Outside the limited-use location the consumed token is still accepted.
    let response = http
        .get(nginx.url("/api/orders"))
        .header("avow-token", &token)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(upstream.received().len(), 4);

    // The check locations are internal: a client cannot call them directly.
    for path in ["/_avow_check", "/_avow_check_once"] {
        let response = http
            .get(nginx.url(path))
            .header("avow-token", &token)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }

    // With the Avow server down, nginx fails closed with 500.
    assert!(server.stop(), "server did not exit cleanly on SIGTERM");
    let response = http
        .get(nginx.url("/api/orders"))
        .header("avow-token", &token)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 500);
    assert_eq!(
        upstream.received().len(),
        4,
        "a request reached the upstream while Avow was down"
    );
}
