//! A real nginx serving TLS on 127.0.0.1 as the pinned API.
//!
//! `avow api add` probes it and `avow pins publish` pins its key with a prepared backup. The
//! app-side verifier keeps connecting while nginx moves to the backup key's certificate, and it
//! rejects a certificate for a key that was never pinned.
//!
//! Runs only when `AVOW_TEST_NGINX` names the nginx binary (built with the SSL module; Debian's
//! `nginx-light` is). `.ci/run` installs nginx and sets it. Without it the test passes after
//! printing `skipped: …`.
//!
//! nginx runs in the foreground (`daemon off`) with a master process, so that `nginx -s reload`
//! can switch certificates the way an operator does. Its pid file, logs, temporary files and
//! certificates all live in a temporary directory.

mod pinning_support;
mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use avow_pinning::client::{Clock, PinningVerifier};
use avow_pinning::{Pin, PinDocumentVerifier, PinPublicKey, TrustStore};
use pinning_support::{ServedChain, ServerKey, TestCa, exchange, served_leaf_pin};
use serde_json::Value;
use support::{ServerProcess, avow_cli, register_app};

const APP_ID: &str = "ABCDE12345.com.example.nginx";
/// The registered pattern: one label under `example.test`, which never resolves.
const PATTERN: &str = "*.example.test";
/// The host the probe and the app connect to, by address, on 127.0.0.1.
const HOST: &str = "api.example.test";
const SERVER_CONFIG: &str = "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n\
     [pinning]\ncheck_interval_secs = 86400\n";
/// How long nginx may take to start or to apply a reload.
const NGINX_WAIT: Duration = Duration::from_secs(15);

/// A running nginx, stopped when dropped.
struct Nginx {
    binary: String,
    child: Child,
    prefix: PathBuf,
    address: SocketAddr,
}

impl Nginx {
    /// Starts `binary` in `prefix`, serving `current.chain.pem` and `current.key.pem` from it.
    fn start(binary: &str, prefix: &Path) -> Self {
        let version = Command::new(binary)
            .arg("-V")
            .output()
            .unwrap_or_else(|error| panic!("cannot run AVOW_TEST_NGINX={binary}: {error}"));
        // `nginx -V` prints its build options on standard error.
        let build = String::from_utf8_lossy(&version.stderr).into_owned();
        assert!(
            build.contains("--with-http_ssl_module"),
            "{binary} is built without the SSL module: {build}"
        );

        let port = free_port();
        let mut temp_paths = String::new();
        for module in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            if !build.contains(&format!("--without-http_{module}_module")) {
                temp_paths.push_str(&format!(
                    "    {module}_temp_path {}/{module};\n",
                    prefix.display()
                ));
            }
        }
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\n\
             pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log info;\n\
             events {{\n    worker_connections 64;\n}}\n\
             http {{\n    access_log off;\n{temp_paths}\
             \n    server {{\n        listen 127.0.0.1:{port} ssl;\n        server_name {HOST};\n\
                     ssl_certificate {prefix}/current.chain.pem;\n\
                     ssl_certificate_key {prefix}/current.key.pem;\n\
                     location / {{\n            return 200 \"pinned\\n\";\n        }}\n    }}\n}}\n",
            prefix = prefix.display()
        );
        std::fs::write(prefix.join("nginx.conf"), conf).unwrap();

        let child = Command::new(binary)
            .args(Self::arguments(prefix))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Self {
            binary: binary.to_owned(),
            child,
            prefix: prefix.to_owned(),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        nginx.wait_until_listening();
        nginx
    }

    /// Returns the prefix, error log and configuration options of every nginx run.
    fn arguments(prefix: &Path) -> Vec<String> {
        vec![
            "-p".to_owned(),
            format!("{}/", prefix.display()),
            "-e".to_owned(),
            prefix.join("error.log").display().to_string(),
            "-c".to_owned(),
            prefix.join("nginx.conf").display().to_string(),
        ]
    }

    fn wait_until_listening(&mut self) {
        let deadline = std::time::Instant::now() + NGINX_WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nginx exited with {status}: {}", self.error_log());
            }
            if TcpStream::connect(self.address).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen: {}", self.error_log());
    }

    /// Installs `chain` as the served certificate, reloads nginx with `nginx -s reload` and
    /// waits until new connections get the new leaf.
    fn switch_to(&self, chain: &ServedChain, leaf_pin: &str) {
        let old_workers = self.workers();
        install(&self.prefix, chain);
        let reload = Command::new(&self.binary)
            .args(Self::arguments(&self.prefix))
            .args(["-s", "reload"])
            .output()
            .unwrap();
        assert!(
            reload.status.success(),
            "nginx -s reload failed: {}{}",
            String::from_utf8_lossy(&reload.stderr),
            self.error_log()
        );
        // The master re-reads the files and starts new workers asynchronously. Until the old
        // workers have exited, one of them can still accept a connection and serve the old
        // certificate, so the switch is complete only when they are gone.
        let deadline = std::time::Instant::now() + NGINX_WAIT;
        while std::time::Instant::now() < deadline {
            let old_gone = old_workers
                .iter()
                .all(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if old_gone && served_leaf_pin(HOST, self.address).as_deref() == Some(leaf_pin) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "nginx still does not serve only {leaf_pin} after the reload (old workers \
             {old_workers:?}): {}",
            self.error_log()
        );
    }

    /// Returns the process ids of the master's current worker processes, read from the
    /// parent pid field of `/proc/PID/stat`.
    fn workers(&self) -> Vec<u32> {
        let master = self.child.id();
        let mut workers = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name in parentheses may contain spaces; the fields after it are
            // state, then the parent pid.
            let Some((_, after_name)) = stat.rsplit_once(')') else {
                continue;
            };
            let parent = after_name.split_whitespace().nth(1);
            if parent.and_then(|p| p.parse::<u32>().ok()) == Some(master) {
                workers.push(pid);
            }
        }
        assert!(!workers.is_empty(), "nginx master {master} has no workers");
        workers
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers before it exits; killing the master alone
        // would leave them running.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `chain` as the files nginx serves.
fn install(prefix: &Path, chain: &ServedChain) {
    std::fs::write(prefix.join("current.chain.pem"), &chain.chain_pem).unwrap();
    std::fs::write(prefix.join("current.key.pem"), &chain.key_pem).unwrap();
}

/// Returns a port that was free a moment ago. nginx binds it shortly after.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The device clocks of the test app: the real wall clock, and a monotonic clock that starts
/// at zero and does not move.
#[derive(Debug)]
struct RealClock;

impl Clock for RealClock {
    fn wall_time(&self) -> u64 {
        support::now()
    }

    fn monotonic(&self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

fn cli_ok(server: &ServerProcess, args: &[&str]) -> String {
    let output = avow_cli(server, args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "avow {args:?} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn pin_of(key: &ServerKey) -> String {
    Pin::from_spki_der(&key.spki_der()).to_string()
}

#[test]
fn nginx_rotation_to_backup_key_keeps_app_connected() {
    let Ok(binary) = std::env::var("AVOW_TEST_NGINX") else {
        println!("skipped: set AVOW_TEST_NGINX to an nginx binary built with the SSL module");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), SERVER_CONFIG);
    register_app(&server, APP_ID);

    // The test PKI, written to files as an operator has them: key A is served, key B is the
    // prepared backup with its certificate already issued, key D is never pinned.
    let ca = TestCa::new("nginx Test CA");
    let (key_a, key_b, key_d) = (
        ServerKey::generate(),
        ServerKey::generate(),
        ServerKey::generate(),
    );
    let chain_a = ca.issue(HOST, &key_a, 365);
    let chain_b = ca.issue(HOST, &key_b, 365);
    let chain_d = ca.issue(HOST, &key_d, 365);
    let (pin_a, pin_b, pin_d) = (pin_of(&key_a), pin_of(&key_b), pin_of(&key_d));
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.root_pem).unwrap();
    let backup_cert = dir.path().join("b.cert.pem");
    std::fs::write(&backup_cert, &chain_b.leaf_pem).unwrap();

    let prefix = dir.path().join("nginx");
    std::fs::create_dir(&prefix).unwrap();
    install(&prefix, &chain_a);
    let nginx = Nginx::start(&binary, &prefix);
    assert_eq!(
        served_leaf_pin(HOST, nginx.address).as_deref(),
        Some(pin_a.as_str())
    );

    // Registration probes nginx as `api.example.test` at its address.
    let target = format!("{PATTERN}:{}", nginx.address.port());
    let added = cli_ok(
        &server,
        &[
            "api",
            "add",
            &target,
            "--app",
            APP_ID,
            "--probe-host",
            HOST,
            "--connect-to",
            &nginx.address.to_string(),
            "--ca-bundle",
            &bundle.display().to_string(),
        ],
    );
    assert!(added.contains(&pin_a), "{added}");

    cli_ok(
        &server,
        &[
            "pins",
            "set",
            PATTERN,
            "--app",
            APP_ID,
            "--pin",
            &pin_a,
            "--backup-cert",
            &backup_cert.display().to_string(),
        ],
    );
    let published = cli_ok(&server, &["pins", "publish", "--app", APP_ID]);
    assert!(published.contains("version 1"), "{published}");

    // The app: the pin-signing key from `avow pins key --json`, the published document, and
    // the test CA as its only trusted root.
    let key_view: Value =
        serde_json::from_str(&cli_ok(&server, &["pins", "key", "--json"])).unwrap();
    let signing_key = PinPublicKey::from_spki_pem(key_view["pem"].as_str().unwrap()).unwrap();
    let document = reqwest::blocking::get(server.url(&format!("/v1/pins?app={APP_ID}")))
        .unwrap()
        .text()
        .unwrap();
    let mut anchors = TrustStore::empty();
    anchors.add_certificate_der(ca.root_der.clone()).unwrap();
    let verifier = PinningVerifier::builder(
        PinDocumentVerifier::new([signing_key]).with_app(APP_ID),
        document,
        Arc::new(RealClock),
    )
    .anchors(anchors)
    .build()
    .unwrap();
    let verifier = Arc::new(verifier);
    let request = format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n");
    let get = || {
        exchange(
            verifier.clone(),
            HOST,
            nginx.address,
            Some(request.as_bytes()),
        )
    };

    assert_eq!(
        get().as_deref(),
        Ok("HTTP/1.1 200 OK"),
        "{}",
        nginx.error_log()
    );

    // nginx moves to the backup key's certificate: the app keeps connecting.
    nginx.switch_to(&chain_b, &pin_b);
    assert_eq!(
        get().as_deref(),
        Ok("HTTP/1.1 200 OK"),
        "{}",
        nginx.error_log()
    );
    let checked: Value = serde_json::from_str(&cli_ok(
        &server,
        &["api", "check", "--app", APP_ID, "--json"],
    ))
    .unwrap();
    assert_eq!(checked["domains"][0]["status"], "ok", "{checked:#}");

    // A certificate for a key that no document pinned is rejected.
    nginx.switch_to(&chain_d, &pin_d);
    let error = get().unwrap_err();
    assert!(error.contains("PinMismatch"), "{error}");
    let check = avow_cli(&server, &["api", "check", "--app", APP_ID]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("mismatch"));
}
