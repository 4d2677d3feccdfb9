//! Helpers shared by the end-to-end tests: a real `avow serve` process and an HTTP client.
//!
//! All traffic goes to 127.0.0.1. Each server listens on a port the operating system picks,
//! read back from its JSON log.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub mod mock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A running `avow serve` process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    pub admin_key: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub fn start(dir: &Path, config: &str) -> Self {
        Self::start_with(dir, config, &[])
    }

    /// Starts a server in `dir` with `config`. Variables in `env` are set for the process. When
    /// the database has no admin key yet, the key the server prints is kept; otherwise the
    /// admin key is read from `AVOW_ADMIN_KEY` in `env`.
    pub fn start_with(dir: &Path, config: &str, env: &[(&str, &str)]) -> Self {
        std::fs::write(dir.join("avow.toml"), config).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_avow"));
        command
            .args(["serve", "--config", "avow.toml"])
            .current_dir(dir)
            .env("AVOW_LOG_FORMAT", "json")
            .env("AVOW_LOG", "debug,sqlx=warn,hyper=info,h2=info")
            .env_remove("AVOW_MASTER_KEY")
            .env_remove("AVOW_CONFIG")
            .env_remove("AVOW_DATABASE")
            .env_remove("AVOW_LISTEN")
            .env_remove("AVOW_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();

        let stdout = child.stdout.take().unwrap();
        let (key_sender, key_receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(key) = line.trim().strip_prefix("export AVOW_ADMIN_KEY=") {
                    let _ = key_sender.send(key.to_owned());
                }
            }
        });

        let (log, address_receiver) = read_json_log(child.stderr.take().unwrap());
        let address = address_receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("server did not report its listen address");
        // The key, when printed at all, is printed before the server listens.
        let admin_key = match key_receiver.recv_timeout(Duration::from_millis(500)) {
            Ok(key) => key,
            Err(_) => env
                .iter()
                .find(|(name, _)| *name == "AVOW_ADMIN_KEY")
                .map(|(_, value)| (*value).to_owned())
                .expect("no admin key printed and none given"),
        };
        assert!(admin_key.starts_with("avow_admin_"), "{admin_key}");
        Self {
            child,
            base_url: format!("http://{address}"),
            admin_key,
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends SIGTERM and returns whether the process exited successfully.
    pub fn stop(&mut self) -> bool {
        stop_process(&mut self.child)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
    }
}

/// Reads the JSON log lines of a process from `stderr` on a thread. Returns every line read so
/// far and a receiver of the `address` of each `listening` event.
pub fn read_json_log(stderr: ChildStderr) -> (Arc<Mutex<Vec<String>>>, mpsc::Receiver<String>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (address_sender, address_receiver) = mpsc::channel();
    let log_writer = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["fields"]["message"] == "listening"
            {
                let address = event["fields"]["address"].as_str().unwrap().to_owned();
                let _ = address_sender.send(address);
            }
            log_writer.lock().unwrap().push(line);
        }
    });
    (log, address_receiver)
}

/// Sends SIGTERM to `child`, waits up to 10 seconds for it to exit and returns whether it
/// exited successfully. A process still running then is killed.
pub fn stop_process(child: &mut Child) -> bool {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    false
}

pub fn config(pki_root: &Path, nonce_ttl_secs: u64) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n\
         [nonce]\nttl_secs = {nonce_ttl_secs}\n\
         [app_attest]\nextra_roots = [\"{}\"]\n",
        pki_root.display()
    )
}

pub fn avow_cli(server: &ServerProcess, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(args)
        .env("AVOW_SERVER", &server.base_url)
        .env("AVOW_ADMIN_KEY", &server.admin_key)
        .output()
        .unwrap()
}

/// The exit status and output of one CLI run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(output: std::process::Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Parses stdout as JSON, failing the test with the text when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }

    /// Asserts that `avow ARGS` exited with `code`, showing its output when it did not.
    pub fn assert_code(&self, args: &[&str], code: i32) {
        assert_eq!(
            self.code, code,
            "avow {args:?} exited with {}, expected {code}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
    }
}

pub fn register_app(server: &ServerProcess, app_id: &str) {
    let (team, bundle) = app_id.split_once('.').unwrap();
    let output = avow_cli(
        server,
        &[
            "app",
            "add",
            "--platform",
            "ios",
            "--team-id",
            team,
            "--bundle-id",
            bundle,
            "--environment",
            "development",
        ],
    );
    assert!(
        output.status.success(),
        "app add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub struct Client {
    pub http: reqwest::blocking::Client,
}

impl Client {
    pub fn new() -> Self {
        Self {
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn post(&self, url: &str, body: &Value) -> (u16, Value) {
        let response = self.http.post(url).json(body).send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap())
    }

    /// Fetches the JWKS that `server` publishes.
    pub fn jwks(&self, server: &ServerProcess) -> avow_token::Jwks {
        self.http
            .get(server.url("/.well-known/jwks.json"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// Fetches the Prometheus text of `server`'s `/metrics`.
    pub fn metrics_text(&self, server: &ServerProcess) -> String {
        self.http
            .get(server.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    pub fn challenge(&self, server: &ServerProcess, app_id: &str) -> Vec<u8> {
        let (status, body) = self.post(&server.url("/v1/challenge"), &json!({"app_id": app_id}));
        assert_eq!(status, 200, "{body}");
        URL_SAFE_NO_PAD
            .decode(body["nonce"].as_str().unwrap())
            .unwrap()
    }
}

/// Returns the current time in Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Starts two `avow serve` processes on the database at `database_url`, as two instances behind
/// a load balancer. They share the master key, which seals the signing keys, and the admin key,
/// and they trust the App Attest root `root_pem`. The directories come first so that they
/// outlive the processes when the caller's bindings are dropped.
pub fn start_instance_pair(
    database_url: &str,
    root_pem: &str,
) -> ([tempfile::TempDir; 2], ServerProcess, ServerProcess) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let root_path = dirs[0].path().join("test-root.pem");
    std::fs::write(&root_path, root_pem).unwrap();
    let master_key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let config = format!("database = \"{database_url}\"\n{}", config(&root_path, 120));
    let first =
        ServerProcess::start_with(dirs[0].path(), &config, &[("AVOW_MASTER_KEY", &master_key)]);
    let admin_key = first.admin_key.clone();
    let second = ServerProcess::start_with(
        dirs[1].path(),
        &config,
        &[
            ("AVOW_MASTER_KEY", &master_key),
            ("AVOW_ADMIN_KEY", &admin_key),
        ],
    );
    (dirs, first, second)
}

/// A PostgreSQL schema of its own for one test, dropped at the end.
pub struct PostgresSchema {
    base_url: String,
    name: String,
}

impl PostgresSchema {
    /// Creates a schema named `prefix` followed by the process id and a time-derived suffix.
    pub fn create(base_url: &str, prefix: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("{prefix}_{:x}_{nanos:x}", std::process::id());
        run_sql(base_url, &format!("CREATE SCHEMA {name}"));
        Self {
            base_url: base_url.to_owned(),
            name,
        }
    }

    /// Returns the database URL with this schema as the search path.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-c%20search_path%3D{}",
            self.base_url, self.name
        )
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        run_sql(
            &self.base_url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// Runs one SQL statement on a new connection to `url`.
pub fn run_sql(url: &str, statement: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    });
}
