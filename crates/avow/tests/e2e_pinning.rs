//! End to end for dynamic pinning, as an operator and an app use it.
//!
//! The operator runs a real `avow serve` and the `avow api` and `avow pins` commands. A rustls
//! TLS server on 127.0.0.1 stands in for the app's API: its certificates come from a CA that the
//! test generates, and the test switches them while it runs. The app side is the
//! `avow_pinning` verifier with the document fetched from `GET /v1/pins`, checked with the key
//! that `avow pins key` prints.

mod pinning_support;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avow_pinning::client::{
    Clock, ConnectionOutcome, OfferOutcome, OfferRejection, PinningEvent, PinningReporter,
    PinningVerifier, ReportContext,
};
use avow_pinning::report::ReportReason;
use avow_pinning::{Pin, PinDocumentVerifier, PinPublicKey, TrustStore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pinning_support::{GREETING, ServedChain, ServerKey, TestCa, TlsServer, connect};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::Value;
use support::{Run, ServerProcess, avow_cli, register_app};

/// The app whose API is pinned.
const APP_ID: &str = "ABCDE12345.com.example.pinned";
/// The API host. `.test` names never resolve; every connection goes to 127.0.0.1 by address.
const HOST: &str = "api.example.test";
/// The issuer the server signs documents as.
const ISSUER: &str = "avow-e2e";
/// The app version the test app puts in its reports.
const APP_VERSION: &str = "3.1.0";
/// Leaf certificates are valid this many days, longer than any pin set in the tests.
const LEAF_DAYS: i64 = 365;

/// The background check runs once a day, so only the commands under test probe the domain.
const SERVER_CONFIG: &str = "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n\
     [pinning]\ncheck_interval_secs = 86400\n";

// === CLI runs ===

/// Runs `avow ARGS` against `server`. The output is printed, so a failing test shows every
/// command it ran (`cargo test` shows it only for failures, or with `--nocapture`).
fn cli(server: &ServerProcess, args: &[&str]) -> Run {
    let run = Run::from_output(avow_cli(server, args));
    println!(
        "$ avow {}\n{}{}[exit status {}]\n",
        args.join(" "),
        run.stdout,
        run.stderr,
        run.code
    );
    run
}

/// Runs a command that must succeed.
fn cli_ok(server: &ServerProcess, args: &[&str]) -> Run {
    let run = cli(server, args);
    run.assert_code(args, 0);
    run
}

/// Runs a command that must fail with exit status 1 (rejected).
fn cli_rejected(server: &ServerProcess, args: &[&str]) -> Run {
    let run = cli(server, args);
    run.assert_code(args, 1);
    run
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn pin_of(key: &ServerKey) -> String {
    Pin::from_spki_der(&key.spki_der()).to_string()
}

fn pin_of_certificate(der: &CertificateDer<'_>) -> String {
    Pin::from_certificate_der(der.as_ref()).unwrap().to_string()
}

// === The operator's side ===

/// A running `avow serve` with the app registered, and the API's TLS server serving key A.
struct Deployment {
    dir: tempfile::TempDir,
    server: ServerProcess,
    ca: TestCa,
    tls: TlsServer,
    key_a: ServerKey,
    chain_a: ServedChain,
}

impl Deployment {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(dir.path(), SERVER_CONFIG);
        register_app(&server, APP_ID);
        let ca = TestCa::new("Pinning Test CA");
        let key_a = ServerKey::generate();
        let chain_a = ca.issue(HOST, &key_a, LEAF_DAYS);
        let tls = TlsServer::start(&chain_a);
        Self {
            dir,
            server,
            ca,
            tls,
            key_a,
            chain_a,
        }
    }

    /// Registers the API host with `avow api add`, validated against the test CA.
    fn add_domain(&self) -> Run {
        let bundle = write(self.dir.path(), "ca-bundle.pem", &self.ca.root_pem);
        let connect_to = self.tls.address.to_string();
        cli_ok(
            &self.server,
            &[
                "api",
                "add",
                HOST,
                "--app",
                APP_ID,
                "--connect-to",
                &connect_to,
                "--ca-bundle",
                &bundle,
            ],
        )
    }

    /// Stores a pin set with `avow pins set HOST --app APP_ID` plus `args`.
    fn set_pins(&self, args: &[&str]) -> Run {
        let mut all = vec!["pins", "set", HOST, "--app", APP_ID];
        all.extend_from_slice(args);
        cli_ok(&self.server, &all)
    }

    fn publish(&self) -> Run {
        cli_ok(&self.server, &["pins", "publish", "--app", APP_ID])
    }

    fn file(&self, name: &str, text: &str) -> String {
        write(self.dir.path(), name, text)
    }

    /// Fetches the app's pin document as an app does: `GET /v1/pins?app=…`, no credentials.
    fn fetch_document(&self) -> String {
        let url = self.server.url(&format!("/v1/pins?app={APP_ID}"));
        let response = reqwest::blocking::get(&url).unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET /v1/pins");
        response.text().unwrap()
    }

    /// Builds the app's pinning verifier: the pin-signing key printed by `avow pins key`, the
    /// document fetched now as the bundled one, and `anchors` as the trusted roots.
    fn app(&self, anchors: &[&TestCa]) -> App {
        let key = pin_signing_key(&self.server);
        let documents = PinDocumentVerifier::new([key])
            .with_app(APP_ID)
            .with_issuer(ISSUER);
        let mut trust = TrustStore::empty();
        for ca in anchors {
            trust.add_certificate_der(ca.root_der.clone()).unwrap();
        }
        let clock = Arc::new(TestClock::new());
        let reporter = Arc::new(CollectingReporter::default());
        let verifier = PinningVerifier::builder(documents, self.fetch_document(), clock.clone())
            .anchors(trust)
            .reporter(reporter.clone())
            .build()
            .unwrap();
        let verifier = Arc::new(verifier);
        App {
            seen: Arc::new(RecordingVerifier {
                inner: Arc::clone(&verifier),
                leaves: Mutex::new(Vec::new()),
            }),
            verifier,
            clock,
            reporter,
        }
    }
}

/// Reads the pin-signing key with `avow pins key`: the PEM and the JWK must be the same key.
fn pin_signing_key(server: &ServerProcess) -> PinPublicKey {
    let printed = cli_ok(server, &["pins", "key"]);
    let pem_end = printed.stdout.find("-----END PUBLIC KEY-----").unwrap();
    let pem = &printed.stdout[..pem_end + "-----END PUBLIC KEY-----".len()];
    let from_pem = PinPublicKey::from_spki_pem(pem).unwrap();

    let view = cli_ok(server, &["pins", "key", "--json"]).json();
    let jwk = serde_json::from_value(view["jwk"].clone()).unwrap();
    let from_jwk = PinPublicKey::from_jwk(&jwk).unwrap();
    assert_eq!(from_pem.kid(), from_jwk.kid());
    assert_eq!(view["kid"].as_str(), Some(from_pem.kid()));
    from_pem
}

/// Returns the pins of `HOST` in a compact pin document, read without verifying it.
fn document_pins(compact: &str) -> BTreeSet<String> {
    let payload = compact.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let domain = payload["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|domain| domain["host"] == HOST)
        .unwrap();
    domain["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pin| pin.as_str().unwrap().to_owned())
        .collect()
}

// === The app's side ===

/// A device clock the test sets: the wall clock starts at the real time, the monotonic clock
/// at zero.
#[derive(Debug)]
struct TestClock {
    wall: AtomicU64,
    monotonic_secs: AtomicU64,
}

impl TestClock {
    fn new() -> Self {
        Self {
            wall: AtomicU64::new(support::now()),
            monotonic_secs: AtomicU64::new(0),
        }
    }

    /// Moves both clocks forward, as time passing on the device.
    fn advance(&self, secs: u64) {
        self.wall.fetch_add(secs, Ordering::SeqCst);
        self.monotonic_secs.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn wall_time(&self) -> u64 {
        self.wall.load(Ordering::SeqCst)
    }

    fn monotonic(&self) -> Option<Duration> {
        Some(Duration::from_secs(
            self.monotonic_secs.load(Ordering::SeqCst),
        ))
    }
}

/// Keeps every event the verifier reports, as an SDK queues them for `/v1/pin-reports`.
#[derive(Debug, Default)]
struct CollectingReporter {
    events: Mutex<Vec<PinningEvent>>,
}

impl PinningReporter for CollectingReporter {
    fn report(&self, event: &PinningEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
}

impl CollectingReporter {
    fn take(&self) -> Vec<PinningEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

/// Wraps the pinning verifier to record the pin of every leaf a server presents, so a test can
/// tell which certificate each connection saw. Every decision is the inner verifier's.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<PinningVerifier>,
    leaves: Mutex<Vec<String>>,
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.leaves
            .lock()
            .unwrap()
            .push(pin_of_certificate(end_entity));
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The app: its pinning verifier, its clock and what it reported.
struct App {
    verifier: Arc<PinningVerifier>,
    seen: Arc<RecordingVerifier>,
    clock: Arc<TestClock>,
    reporter: Arc<CollectingReporter>,
}

impl App {
    /// Connects to the API through the pinning verifier.
    fn connect(&self, tls: &TlsServer) -> Result<String, String> {
        connect(self.seen.clone(), HOST, tls.address)
    }

    /// Connects and requires success.
    fn connect_ok(&self, tls: &TlsServer, when: &str) {
        match self.connect(tls) {
            Ok(line) => assert_eq!(line, GREETING, "{when}"),
            Err(error) => panic!("{when}: the pinned connection failed: {error}"),
        }
    }

    /// Returns the leaf pins seen since the last call.
    fn leaves_seen(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.leaves.lock().unwrap())
    }
}

/// Posts a pin-failure report as the SDK does and returns the status.
fn post_report(server: &ServerProcess, body: Vec<u8>) -> u16 {
    reqwest::blocking::Client::new()
        .post(server.url("/v1/pin-reports"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

// === Tests ===

#[test]
fn rotation_to_prepublished_backup_never_fails() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    let key_b = ServerKey::generate();
    let chain_b = deployment.ca.issue(HOST, &key_b, LEAF_DAYS);
    let (pin_a, pin_b) = (pin_of(&deployment.key_a), pin_of(&key_b));
    let intermediate_pin = pin_of_certificate(&deployment.ca.intermediate_der);
    let root_pin = pin_of_certificate(&deployment.ca.root_der);

    // The operator registers the API host: the output is the validated path with its pins.
    let added = deployment.add_domain();
    for pin in [&pin_a, &intermediate_pin, &root_pin] {
        assert!(
            added.stdout.contains(pin.as_str()),
            "{pin}: {}",
            added.stdout
        );
    }
    assert!(added.stdout.contains("validated path"), "{}", added.stdout);
    assert!(added.stdout.contains("EC P-256"), "{}", added.stdout);
    let listed = cli_ok(server, &["api", "list", "--app", APP_ID]);
    assert!(listed.stdout.contains(HOST), "{}", listed.stdout);

    // Key B is prepared before it is served, and published as the backup through its CSR.
    let csr_b = deployment.file("b.csr.pem", &key_b.csr_pem(HOST));
    let stored = deployment.set_pins(&[
        "--pin",
        &pin_a,
        "--backup-csr",
        &csr_b,
        "--expires-in-days",
        "60",
    ]);
    assert!(stored.stdout.contains(&pin_b), "{}", stored.stdout);
    let plan = cli_ok(server, &["pins", "plan", "--app", APP_ID]);
    assert!(plan.stdout.contains(&pin_a), "{}", plan.stdout);
    assert!(plan.stdout.contains(&pin_b), "{}", plan.stdout);
    let published = deployment.publish();
    assert!(
        published
            .stdout
            .contains("published pin document version 1"),
        "{}",
        published.stdout
    );
    let document = cli_ok(server, &["pins", "show", "--app", APP_ID]);
    assert!(document.stdout.contains("version 1"), "{}", document.stdout);
    assert!(document.stdout.contains(&pin_b), "{}", document.stdout);

    // The app starts with version 1, which pins A and B.
    let app = deployment.app(&[&deployment.ca]);
    assert_eq!(app.verifier.document_version(), 1);
    let v1_pins = document_pins(app.verifier.document().compact());
    assert!(
        v1_pins.contains(&pin_a) && v1_pins.contains(&pin_b),
        "{v1_pins:?}"
    );

    // Before the switch.
    app.connect_ok(&deployment.tls, "before the switch");
    assert_eq!(app.leaves_seen(), std::slice::from_ref(&pin_a));

    // During the switch: half the servers serve A, half already serve B.
    deployment
        .tls
        .serve_in_turn(&[deployment.chain_a.clone(), chain_b.clone()]);
    for round in 0..6 {
        app.connect_ok(
            &deployment.tls,
            &format!("during the switch, round {round}"),
        );
    }
    let during: BTreeSet<String> = app.leaves_seen().into_iter().collect();
    assert_eq!(during, BTreeSet::from([pin_a, pin_b.clone()]));

    // After the switch.
    deployment.tls.serve(&chain_b);
    for round in 0..3 {
        app.connect_ok(&deployment.tls, &format!("after the switch, round {round}"));
    }
    assert_eq!(app.leaves_seen(), vec![pin_b.clone(); 3]);
    assert!(
        app.reporter.take().is_empty(),
        "no pin failure was reported"
    );

    // The live chain now carries B, which the published document pins.
    let checked = cli_ok(server, &["api", "check", "--app", APP_ID, "--json"]).json();
    assert_eq!(checked["domains"][0]["status"], "ok", "{checked:#}");

    // Version 2 pins B with a new backup C, given as a public key file.
    let key_c = ServerKey::generate();
    let pin_c = pin_of(&key_c);
    let public_c = deployment.file("c.pub.pem", &key_c.public_key_pem());
    deployment.set_pins(&["--pin", &pin_b, "--backup-key", &public_c]);
    let plan = cli_ok(server, &["pins", "plan", "--app", APP_ID]);
    assert!(plan.stdout.contains(&pin_c), "{}", plan.stdout);
    let published = deployment.publish();
    assert!(
        published
            .stdout
            .contains("published pin document version 2"),
        "{}",
        published.stdout
    );

    let v2 = deployment.fetch_document();
    let v2_pins = document_pins(&v2);
    assert!(v2_pins.contains(&pin_b), "{v2_pins:?}");
    assert!(v2_pins.contains(&pin_c), "{v2_pins:?}");
    assert_eq!(
        app.verifier.offer_document(&v2),
        Ok(OfferOutcome::Accepted {
            previous_version: 1,
            version: 2
        })
    );
    app.connect_ok(&deployment.tls, "with version 2");
    assert!(
        app.reporter.take().is_empty(),
        "no pin failure was reported"
    );
}

#[test]
fn publish_without_backup_rejected_until_forced() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    let key_b = ServerKey::generate();
    let (pin_a, pin_b) = (pin_of(&deployment.key_a), pin_of(&key_b));
    deployment.add_domain();
    deployment.set_pins(&["--pin", &pin_a, "--backup-pin", &pin_b]);
    deployment.publish();
    let app = deployment.app(&[&deployment.ca]);
    app.connect_ok(&deployment.tls, "before the rotation");

    // The server rotates to key D, which no pin set ever named.
    let key_d = ServerKey::generate();
    let pin_d = pin_of(&key_d);
    deployment
        .tls
        .serve(&deployment.ca.issue(HOST, &key_d, LEAF_DAYS));
    let error = app.connect(&deployment.tls).unwrap_err();
    assert!(error.contains("PinMismatch"), "{error}");

    // The check reports the mismatch, and the gate rejects a publish of the old set.
    let checked = cli_rejected(server, &["api", "check", "--app", APP_ID]);
    assert!(checked.stdout.contains("mismatch"), "{}", checked.stdout);
    let plan = cli_rejected(server, &["pins", "plan", "--app", APP_ID]);
    assert!(plan.stdout.contains("no_pin_on_path"), "{}", plan.stdout);

    // Pinning D alone, with no backup, is rejected too, and nothing is published.
    deployment.set_pins(&["--pin", &pin_d]);
    let rejected_publish = cli_rejected(server, &["pins", "publish", "--app", APP_ID]);
    assert!(
        rejected_publish.stderr.contains("publish_gate_failed"),
        "{}",
        rejected_publish.stderr
    );
    assert!(
        rejected_publish.stderr.contains("no_backup_pin"),
        "{}",
        rejected_publish.stderr
    );
    assert!(
        rejected_publish.stderr.contains(HOST),
        "{}",
        rejected_publish.stderr
    );
    let current = cli_ok(server, &["pins", "show", "--app", APP_ID, "--json"]).json();
    assert_eq!(current["document"]["ver"], 1, "{current:#}");

    // --force needs a reason, and then publishes with an audit entry.
    let usage = cli(server, &["pins", "publish", "--app", APP_ID, "--force"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let reason = "emergency rotation to key D after a key compromise";
    let forced = cli_ok(
        server,
        &[
            "pins", "publish", "--app", APP_ID, "--force", "--reason", reason,
        ],
    );
    assert!(
        forced.stdout.contains("published pin document version 2"),
        "{}",
        forced.stdout
    );
    assert!(forced.stdout.contains("no_backup_pin"), "{}", forced.stdout);
    let audit = cli_ok(server, &["audit", "--app", APP_ID]);
    assert!(audit.stdout.contains(reason), "{}", audit.stdout);
    assert!(audit.stdout.contains("no_backup_pin"), "{}", audit.stdout);

    // The app takes version 2 and connects to D again.
    let v2 = deployment.fetch_document();
    assert!(document_pins(&v2).contains(&pin_d));
    app.verifier.offer_document(&v2).unwrap();
    app.connect_ok(&deployment.tls, "after the forced publish");
}

#[test]
fn interception_rejected_and_reported() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    let key_b = ServerKey::generate();
    deployment.add_domain();
    deployment.set_pins(&[
        "--pin",
        &pin_of(&deployment.key_a),
        "--backup-pin",
        &pin_of(&key_b),
    ]);
    deployment.publish();

    // The device trusts a second CA, so the interceptor's chain passes WebPKI validation.
    let other_ca = TestCa::new("Intercepting CA");
    let app = deployment.app(&[&deployment.ca, &other_ca]);
    app.connect_ok(&deployment.tls, "before the interception");

    let intercepting = other_ca.issue(HOST, &ServerKey::generate(), LEAF_DAYS);
    deployment.tls.serve(&intercepting);
    let error = app.connect(&deployment.tls).unwrap_err();
    assert!(error.contains("PinMismatch"), "{error}");

    let events = app.reporter.take();
    let connection = events
        .iter()
        .find_map(|event| match event {
            PinningEvent::Connection(connection) => Some(connection),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no connection event in {events:?}"));
    assert_eq!(connection.host, HOST);
    assert_eq!(connection.reason, ReportReason::PinMismatch);
    assert_eq!(connection.outcome, ConnectionOutcome::Rejected);
    assert_eq!(connection.document_version, 1);
    assert_eq!(connection.served_chain, intercepting.certificates);

    // The SDK posts the report; the server accepts it and aggregates repeats.
    let context = ReportContext {
        app_id: APP_ID.to_owned(),
        app_version: APP_VERSION.to_owned(),
    };
    let port = deployment.tls.address.port();
    let report = PinningEvent::Connection(connection.clone())
        .to_report(&context, HOST, port)
        .unwrap();
    for _ in 0..2 {
        assert_eq!(post_report(server, report.to_json()), 202);
    }

    let reports = cli_ok(server, &["pins", "reports", "--app", APP_ID, "--json"]).json();
    let groups = reports["reports"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{reports:#}");
    assert_eq!(groups[0]["host"], HOST);
    assert_eq!(groups[0]["reason"], "pin_mismatch");
    assert_eq!(groups[0]["document_version"], 1);
    assert_eq!(groups[0]["app_version"], APP_VERSION);
    assert_eq!(groups[0]["count"], 2);
    let table = cli_ok(server, &["pins", "reports", "--app", APP_ID]);
    assert!(table.stdout.contains("pin_mismatch"), "{}", table.stdout);
    assert!(table.stdout.contains(HOST), "{}", table.stdout);
}

#[test]
fn bad_documents_rejected_and_last_good_kept() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    let pin_a = pin_of(&deployment.key_a);
    deployment.add_domain();
    deployment.set_pins(&[
        "--pin",
        &pin_a,
        "--backup-pin",
        &pin_of(&ServerKey::generate()),
    ]);
    deployment.publish();
    let app = deployment.app(&[&deployment.ca]);
    let v1 = deployment.fetch_document();
    // Offering the same document again anchors the app's trusted time to its signed iat.
    assert_eq!(
        app.verifier.offer_document(&v1),
        Ok(OfferOutcome::Refreshed { version: 1 })
    );

    // The next backup is a DER public key file, which the command sends as PEM.
    let key_c = ServerKey::generate();
    let der_c = deployment.dir.path().join("c.spki.der");
    std::fs::write(&der_c, key_c.spki_der()).unwrap();
    deployment.set_pins(&[
        "--pin",
        &pin_a,
        "--backup-key",
        &der_c.display().to_string(),
    ]);
    deployment.publish();
    let v2 = deployment.fetch_document();
    assert!(document_pins(&v2).contains(&pin_of(&key_c)));

    // Tampered: one changed signature character, then a payload with an extra pin.
    let mut parts: Vec<String> = v2.split('.').map(str::to_owned).collect();
    let flipped = if parts[2].starts_with('A') { "B" } else { "A" };
    let bad_signature = format!("{}.{}.{flipped}{}", parts[0], parts[1], &parts[2][1..]);
    let rejection = app.verifier.offer_document(&bad_signature).unwrap_err();
    assert!(
        matches!(rejection, OfferRejection::Tampered(_)),
        "{rejection:?}"
    );

    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    let attacker_pin = pin_of(&ServerKey::generate());
    payload["domains"][0]["pins"]
        .as_array_mut()
        .unwrap()
        .push(attacker_pin.into());
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let rejection = app.verifier.offer_document(&parts.join(".")).unwrap_err();
    assert!(
        matches!(rejection, OfferRejection::Tampered(_)),
        "{rejection:?}"
    );
    assert_eq!(app.verifier.document_version(), 1);
    app.connect_ok(&deployment.tls, "after the tampered documents");

    // The genuine version 2 is taken; version 1 is then a downgrade.
    app.verifier.offer_document(&v2).unwrap();
    let rejection = app.verifier.offer_document(&v1).unwrap_err();
    assert!(
        matches!(
            rejection,
            OfferRejection::Downgrade {
                held_version: 2,
                offered_version: 1,
                ..
            }
        ),
        "{rejection:?}"
    );
    assert_eq!(app.verifier.document_version(), 2);
    app.connect_ok(&deployment.tls, "after the downgraded document");

    // Expired: version 3 reaches the app only after its expiry, by the app's trusted time
    // (signed iat of version 2 plus the monotonic time since), though the wall clock is
    // turned back.
    deployment.set_pins(&[
        "--pin",
        &pin_a,
        "--backup-pin",
        &pin_of(&ServerKey::generate()),
    ]);
    deployment.publish();
    let v3 = deployment.fetch_document();
    let v3_payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(v3.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let v3_exp = v3_payload["exp"].as_u64().unwrap();
    app.clock.advance(v3_exp - support::now() + 3600);
    app.clock.wall.store(support::now(), Ordering::SeqCst);
    let rejection = app.verifier.offer_document(&v3).unwrap_err();
    assert!(
        matches!(rejection, OfferRejection::Expired { .. }),
        "{rejection:?}"
    );
    assert_eq!(app.verifier.document_version(), 2);

    // Each rejection was reported with its reason, and the server accepts those reports.
    let rejections: Vec<PinningEvent> = app
        .reporter
        .take()
        .into_iter()
        .filter(|event| matches!(event, PinningEvent::DocumentRejected { .. }))
        .collect();
    let reasons: Vec<ReportReason> = rejections
        .iter()
        .filter_map(|event| match event {
            PinningEvent::DocumentRejected { rejection, .. } => Some(rejection.reason()),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ReportReason::DocumentTampered,
            ReportReason::DocumentTampered,
            ReportReason::DocumentDowngrade,
            ReportReason::DocumentExpired
        ]
    );
    let context = ReportContext {
        app_id: APP_ID.to_owned(),
        app_version: APP_VERSION.to_owned(),
    };
    let avow_port = server.base_url.rsplit(':').next().unwrap().parse().unwrap();
    for event in &rejections {
        let report = event.to_report(&context, "127.0.0.1", avow_port).unwrap();
        assert_eq!(post_report(server, report.to_json()), 202);
    }
    let reports = cli_ok(server, &["pins", "reports", "--app", APP_ID, "--json"]).json();
    let mut aggregated: Vec<(String, u64)> = reports["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            (
                group["reason"].as_str().unwrap().to_owned(),
                group["count"].as_u64().unwrap(),
            )
        })
        .collect();
    aggregated.sort();
    assert_eq!(
        aggregated,
        [
            ("document_downgrade".to_owned(), 1),
            ("document_expired".to_owned(), 1),
            ("document_tampered".to_owned(), 2),
        ]
    );
}

#[test]
fn export_formats_match_published_pins() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    deployment.add_domain();
    // Pins of CA keys only, as the iOS format needs: the live intermediate and root, and as the
    // backup the root of the CA the operator would move to.
    let next_ca = TestCa::new("Next CA");
    deployment.set_pins(&[
        "--from-live",
        "--root-pin",
        &pin_of_certificate(&next_ca.root_der),
    ]);
    deployment.publish();
    let published = document_pins(&deployment.fetch_document());
    assert_eq!(published.len(), 3, "{published:?}");

    // Each format writes the published pins and no other, with its own notation.
    let formats: [(&str, Notation); 5] = [
        ("okhttp", |pin| format!("\"sha256/{pin}\"")),
        ("nsc", |pin| format!(">{pin}</pin>")),
        ("ios-plist", |pin| format!("<string>{pin}</string>")),
        ("trustkit", |pin| format!("\"{pin}\"")),
        ("curl", |pin| format!("sha256//{pin}")),
    ];
    for (format, notation) in formats {
        let exported = cli_ok(
            server,
            &["pins", "export", "--app", APP_ID, "--format", format],
        );
        let text = &exported.stdout;
        for pin in &published {
            assert!(
                text.contains(&notation(pin)),
                "{format}: {pin} missing\n{text}"
            );
        }
        assert_eq!(base64_pins_in(text), published, "{format}\n{text}");
        if format != "curl" {
            assert!(text.contains(HOST), "{format}\n{text}");
        }
    }

    // clap rejects an unknown format before any request.
    let unknown = cli(
        server,
        &["pins", "export", "--app", APP_ID, "--format", "hpkp"],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

/// How an export format writes one pin.
type Notation = fn(&str) -> String;

/// Returns every 44-character standard base64 value ending in `=` in `text`: the pins.
fn base64_pins_in(text: &str) -> BTreeSet<String> {
    let is_base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    text.split(|c: char| !is_base64(c))
        .flat_map(|word| {
            // `sha256//PIN` and `sha256/PIN` leave the prefix attached; the pin is the tail.
            let tail = word.len().checked_sub(44).map(|start| &word[start..]);
            tail.filter(|pin| pin.ends_with('=') && Pin::parse(pin).is_ok())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn pin_format_mistakes_named() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    deployment.add_domain();
    let pin = Pin::from_spki_der(&deployment.key_a.spki_der());
    let hex = hex::encode(pin.digest());
    // Bytes 0xfb encode to `-_v7…` in base64url. A random digest may avoid `-` and `_`, and
    // then reads as standard base64 without padding.
    let base64url = URL_SAFE_NO_PAD.encode([0xfb; 32]);
    let okhttp = format!("sha256/{pin}");
    let backup_pin = pin.to_string();
    // Each value goes in as the current pin, with a valid backup, and must be rejected.
    let set_pin = |value: &str| {
        cli_rejected(
            server,
            &[
                "pins",
                "set",
                HOST,
                "--app",
                APP_ID,
                "--pin",
                value,
                "--backup-pin",
                &backup_pin,
            ],
        )
    };

    for (value, named) in [
        (hex.as_str(), "hex"),
        (base64url.as_str(), "base64url"),
        (okhttp.as_str(), "sha256/"),
    ] {
        let run = set_pin(value);
        assert!(run.stderr.contains("400"), "{value}: {}", run.stderr);
        assert!(run.stderr.contains(named), "{value}: {}", run.stderr);
    }

    // The SHA-256 of the whole certificate is named as such.
    let whole = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        deployment.chain_a.certificates[0].as_ref(),
    );
    let whole = base64::engine::general_purpose::STANDARD.encode(whole.as_ref());
    let run = set_pin(&whole);
    assert!(run.stderr.contains("whole certificate"), "{}", run.stderr);

    // A private key is never sent as a backup key.
    let private = deployment.file("a.key.pem", &deployment.chain_a.key_pem);
    let run = cli(
        server,
        &[
            "pins",
            "set",
            HOST,
            "--app",
            APP_ID,
            "--pin",
            &pin.to_string(),
            "--backup-key",
            &private,
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("private key"), "{}", run.stderr);
}

#[test]
fn api_domain_lifecycle_and_rejections() {
    let deployment = Deployment::start();
    let server = &deployment.server;
    let connect_to = deployment.tls.address.to_string();

    // Without --ca-bundle the chain is checked against the Mozilla roots, which do not know
    // the test CA, so the domain is not added.
    let untrusted = cli_rejected(
        server,
        &[
            "api",
            "add",
            HOST,
            "--app",
            APP_ID,
            "--connect-to",
            &connect_to,
        ],
    );
    assert!(
        untrusted.stderr.contains("invalid_chain"),
        "{}",
        untrusted.stderr
    );
    assert!(untrusted.stderr.contains("Mozilla"), "{}", untrusted.stderr);

    // A pattern needs a concrete host to probe.
    let pattern = cli_rejected(
        server,
        &[
            "api",
            "add",
            "*.example.test",
            "--app",
            APP_ID,
            "--connect-to",
            &connect_to,
        ],
    );
    assert!(
        pattern.stderr.contains("probe_host_required"),
        "{}",
        pattern.stderr
    );

    // A malformed port never reaches the server.
    let port = cli(
        server,
        &["api", "add", "api.example.test:0", "--app", APP_ID],
    );
    assert_eq!(port.code, 2, "{}", port.stderr);
    assert!(port.stderr.contains("invalid port"), "{}", port.stderr);

    // A served certificate that the path does not use is listed apart.
    let stray = TestCa::new("Stray CA");
    deployment
        .tls
        .serve(&deployment.chain_a.with_appended(&stray.root_der));
    let added = deployment.add_domain();
    let (path, served_only) = added
        .stdout
        .split_once("served but not on the validated path")
        .unwrap_or_else(|| panic!("no served-only list: {}", added.stdout));
    let stray_pin = pin_of_certificate(&stray.root_der);
    assert!(served_only.contains(&stray_pin), "{}", added.stdout);
    assert!(served_only.contains("CN=Stray CA Root"), "{}", added.stdout);
    assert!(!path.contains(&stray_pin), "{}", added.stdout);

    let again = cli_rejected(
        server,
        &[
            "api",
            "add",
            HOST,
            "--app",
            APP_ID,
            "--connect-to",
            &connect_to,
            "--ca-bundle",
            &deployment.file("bundle.pem", &deployment.ca.root_pem),
        ],
    );
    assert!(
        again.stderr.contains("api_domain_exists"),
        "{}",
        again.stderr
    );

    // Publishing needs a pin set first, and the plan lists the domain without one.
    let plan = cli_ok(server, &["pins", "plan", "--app", APP_ID]);
    assert!(plan.stdout.contains("no_pin_set"), "{}", plan.stdout);

    // A managed host rejects leaf pins until the mark is cleared; the policies reach the plan.
    let pin_a = pin_of(&deployment.key_a);
    let backup = pin_of(&ServerKey::generate());
    let pins = ["--pin", pin_a.as_str(), "--backup-pin", backup.as_str()];
    let policies = ["--mode", "report_only", "--after-expiry", "system_trust"];
    deployment.set_pins(&[&pins[..], &policies[..], &["--managed"]].concat());
    let plan = cli_rejected(server, &["pins", "plan", "--app", APP_ID]);
    assert!(
        plan.stdout.contains("leaf_pin_on_managed_host"),
        "{}",
        plan.stdout
    );
    deployment.set_pins(&[&pins[..], &policies[..], &["--not-managed"]].concat());
    let plan = cli_ok(server, &["pins", "plan", "--app", APP_ID, "--json"]).json();
    let domain = &plan["document"]["domains"][0];
    assert_eq!(domain["mode"], "report_only", "{plan:#}");
    assert_eq!(domain["after_expiry"], "system_trust", "{plan:#}");
    assert_eq!(domain["user_anchors"], "reject", "{plan:#}");

    let removed = cli_ok(server, &["api", "remove", HOST, "--app", APP_ID]);
    assert!(removed.stdout.contains("removed"), "{}", removed.stdout);
    let listed = cli_ok(server, &["api", "list", "--app", APP_ID]);
    assert!(
        listed.stdout.contains("no API domains"),
        "{}",
        listed.stdout
    );
    let missing = cli_rejected(server, &["api", "remove", HOST, "--app", APP_ID]);
    assert!(
        missing.stderr.contains("api_domain_not_found"),
        "{}",
        missing.stderr
    );

    // Commands name a missing admin key instead of sending an unauthenticated request.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_avow"))
        .args([
            "pins",
            "show",
            "--app",
            APP_ID,
            "--server",
            &server.base_url,
        ])
        .env_remove("AVOW_ADMIN_KEY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no admin key"));
}
