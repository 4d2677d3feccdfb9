//! Helpers shared by the end-to-end tests: a real `avow serve` process and an HTTP client.
//!
//! All traffic goes to 127.0.0.1. Each server listens on a port the operating system picks,
//! read back from its JSON log.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

        let log = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address_receiver) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
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
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        false
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
