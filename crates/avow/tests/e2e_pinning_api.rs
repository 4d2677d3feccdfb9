//! End to end for the server side of dynamic pinning, through the HTTP API of a real
//! `avow serve`. The tests cover API domains probed over TLS, pin sets, plan and publish with
//! the gate, the signed document at `GET /v1/pins`, pin-failure reports, and the background
//! check.
//!
//! The API domain is a rustls TLS server on 127.0.0.1 whose certificates come from a CA the
//! test generates. The domain is registered with that CA as its trust bundle and the server's
//! address as `connect_to`, so no name is ever resolved.

mod pinning_support;
mod support;

use std::time::{Duration, Instant};

use avow_pinning::report::{PinFailureReport, ReportReason};
use avow_pinning::{Pin, PinDocumentVerifier, PinPublicKey, PinningMode};
use avow_testgen::{AssertionSpec, AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use pinning_support::{ServedChain, ServerKey, TestCa, TlsServer};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};
use support::ServerProcess;

/// The app whose API is pinned.
const APP_ID: &str = "ABCDE12345.com.example.pinapi";
/// The API host. `.test` names never resolve; the probe connects by address.
const HOST: &str = "api.pinapi.test";
/// Leaf certificates are valid this long, longer than any pin set in the tests.
const LEAF_DAYS: i64 = 365;
/// Maximum wait for the background check to store a change.
const CHECK_WAIT: Duration = Duration::from_secs(60);

/// A server with one registered app, a test CA, and a TLS server for the app's API.
struct Fixture {
    _dir: tempfile::TempDir,
    server: ServerProcess,
    http: Client,
    ca: TestCa,
    tls: TlsServer,
    key_a: ServerKey,
    chain_a: ServedChain,
}

impl Fixture {
    fn start() -> Self {
        Self::start_with("")
    }

    /// Starts a server with `extra` appended to its configuration.
    fn start_with(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n{extra}"
        );
        let server = ServerProcess::start(dir.path(), &config);

        let http = Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let ca = TestCa::new("Pin API Test");
        let key_a = ServerKey::generate();
        let chain_a = ca.issue(HOST, &key_a, LEAF_DAYS);
        let tls = TlsServer::start(&chain_a);

        let fixture = Self {
            _dir: dir,
            server,
            http,
            ca,
            tls,
            key_a,
            chain_a,
        };
        let (team, bundle) = APP_ID.split_once('.').unwrap();
        let (status, body) = fixture.admin(
            reqwest::Method::POST,
            "/admin/v1/apps",
            Some(
                json!({"platform": "ios", "team_id": team, "bundle_id": bundle,
                        "environment": "development"}),
            ),
        );
        assert_eq!(status, 201, "{body}");
        fixture
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    fn send(&self, request: RequestBuilder) -> (u16, Value) {
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.server.admin_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request)
    }

    fn app_path(&self, rest: &str) -> String {
        format!("/admin/v1/apps/{APP_ID}/{rest}")
    }

    /// Registers the API domain with the test CA as its trust bundle.
    fn add_domain(&self) -> Value {
        let (status, body) = self.admin(
            reqwest::Method::POST,
            &self.app_path("api-domains"),
            Some(json!({
                "host": HOST,
                "port": 443,
                "connect_to": self.tls.address.to_string(),
                "ca_bundle_pem": self.ca.root_pem,
            })),
        );
        assert_eq!(status, 201, "{body}");
        body
    }

    fn put_pin_set(&self, body: Value) -> (u16, Value) {
        self.admin(
            reqwest::Method::PUT,
            &self.app_path(&format!("pin-sets/{HOST}")),
            Some(body),
        )
    }

    /// Stores the live chain's pins with a new key as the backup pin.
    fn pin_live_chain_with_backup(&self) {
        let key_b = ServerKey::generate();
        let (status, set) = self.put_pin_set(json!({
            "from_live": true,
            "backup": [{"public_key_pem": key_b.public_key_pem()}],
        }));
        assert_eq!(status, 200, "{set}");
    }

    fn publish(&self, body: Value) -> (u16, Value) {
        self.admin(
            reqwest::Method::POST,
            &self.app_path("pins/publish"),
            Some(body),
        )
    }

    fn get_pins(&self, if_none_match: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(&format!("/v1/pins?app={APP_ID}")));
        if let Some(tag) = if_none_match {
            request = request.header("if-none-match", tag);
        }
        request.send().unwrap()
    }

    fn report(&self, body: &[u8], forwarded_for: Option<&str>) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url("/v1/pin-reports"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        self.send(request)
    }

    /// Returns the pins of a test chain: leaf, intermediate, root.
    fn chain_pins(&self, chain: &ServedChain) -> Vec<String> {
        [
            &chain.certificates[0],
            &chain.certificates[1],
            &self.ca.root_der,
        ]
        .iter()
        .map(|der| Pin::from_certificate_der(der.as_ref()).unwrap().to_string())
        .collect()
    }

    /// Returns the domain's latest check as `GET api-domains` shows it.
    fn check(&self) -> Value {
        let (status, body) = self.admin(reqwest::Method::GET, &self.app_path("api-domains"), None);
        assert_eq!(status, 200, "{body}");
        body["domains"][0]["check"].clone()
    }

    /// Waits until the background check stores `status` at or after `since`, and returns
    /// the check.
    fn wait_for_check(&self, status: &str, since: i64) -> Value {
        let deadline = Instant::now() + CHECK_WAIT;
        loop {
            let check = self.check();
            if check["status"] == status && check["checked_at"].as_i64().unwrap_or(0) >= since {
                return check;
            }
            assert!(
                Instant::now() < deadline,
                "the background check did not report {status} within {CHECK_WAIT:?}; last: {check}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }
}

fn unix_now() -> i64 {
    i64::try_from(support::now()).unwrap()
}

fn pins_of(document_domain: &Value) -> Vec<String> {
    document_domain["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pin| pin.as_str().unwrap().to_owned())
        .collect()
}

fn verifier(fixture: &Fixture) -> PinDocumentVerifier {
    let (status, jwk) = fixture.send(fixture.http.get(fixture.url("/v1/pins/key")));
    assert_eq!(status, 200, "{jwk}");
    let key = PinPublicKey::from_jwk(&serde_json::from_value(jwk).unwrap()).unwrap();
    PinDocumentVerifier::new([key]).with_app(APP_ID)
}

// === API domains ===

#[test]
fn api_domain_pins_equal_test_chain() {
    let fixture = Fixture::start();

    let domain = fixture.add_domain();

    let expected = fixture.chain_pins(&fixture.chain_a);
    let pins: Vec<&str> = domain["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pin| pin.as_str().unwrap())
        .collect();
    assert_eq!(pins, expected);
    let path = domain["live"]["path"].as_array().unwrap();
    let roles: Vec<&str> = path
        .iter()
        .map(|cert| cert["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["leaf", "intermediate", "anchor"]);
    assert_eq!(path[2]["served"], false, "the root is not served");
    assert_eq!(path[0]["key_type"], "EC P-256");
    assert_eq!(domain["live"]["valid"], true);
    assert_eq!(domain["trust_store"], "custom");
    assert_eq!(domain["check"]["status"], "ok");

    let (status, list) =
        fixture.admin(reqwest::Method::GET, &fixture.app_path("api-domains"), None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["domains"][0]["host"], HOST);
    assert_eq!(list["domains"][0]["check"]["status"], "ok");
    assert!(
        list["domains"][0]["check"]["detail"]
            .as_str()
            .unwrap()
            .contains("no published pins"),
        "{list}"
    );
}

#[test]
fn api_domain_registration_errors() {
    let fixture = Fixture::start();
    fixture.add_domain();
    let post = |body: Value| {
        fixture.admin(
            reqwest::Method::POST,
            &fixture.app_path("api-domains"),
            Some(body),
        )
    };

    let (status, body) = post(
        json!({"host": HOST, "connect_to": fixture.tls.address.to_string(),
                                    "ca_bundle_pem": fixture.ca.root_pem}),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["reason"], "api_domain_exists");

    let (status, body) = post(json!({"host": "*.pinapi.test"}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "probe_host_required");

    // A port nothing listens on: the listener is bound, then dropped.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_address = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (status, body) = post(
        json!({"host": "down.pinapi.test", "connect_to": closed_address,
                                    "ca_bundle_pem": fixture.ca.root_pem}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["reason"], "domain_unreachable");

    let other_ca = TestCa::new("Unrelated");
    let (status, body) = post(json!({"host": "*.pinapi.test", "probe_host": HOST,
                                    "connect_to": fixture.tls.address.to_string(),
                                    "ca_bundle_pem": other_ca.root_pem}));
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["reason"], "invalid_chain");

    let (status, body) = fixture.admin(
        reqwest::Method::DELETE,
        &fixture.app_path(&format!("api-domains/{HOST}")),
        None,
    );
    assert_eq!(status, 204, "{body}");
    let (status, body) = fixture.put_pin_set(json!({"from_live": true}));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["reason"], "api_domain_not_found");
}

// === pin sets, plan and publish ===

#[test]
fn plan_and_publish_happy_path() {
    let fixture = Fixture::start();
    fixture.add_domain();
    let key_b = ServerKey::generate();
    let expected = fixture.chain_pins(&fixture.chain_a);
    let pin_b = Pin::from_spki_der(&key_b.spki_der()).to_string();

    let (status, set) = fixture.put_pin_set(json!({
        "from_live": true,
        "backup": [{"csr_pem": key_b.csr_pem(HOST)}],
        "expires_in_days": 30,
    }));
    assert_eq!(status, 200, "{set}");
    let roles: Vec<(&str, &str)> = set["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pin| (pin["pin"].as_str().unwrap(), pin["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            (expected[1].as_str(), "current"),
            (expected[2].as_str(), "current"),
            (pin_b.as_str(), "backup"),
        ]
    );

    let (status, plan) = fixture.admin(
        reqwest::Method::POST,
        &fixture.app_path("pins/plan"),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["publishable"], true, "{plan}");
    assert_eq!(plan["current_version"], Value::Null);
    assert_eq!(plan["next_version"], 1);
    assert_eq!(plan["diff"]["hosts_added"], json!([HOST]));
    assert_eq!(plan["diff"]["pins_added"].as_array().unwrap().len(), 3);
    // The plan changed nothing.
    assert_eq!(fixture.get_pins(None).status().as_u16(), 404);

    let (status, published) = fixture.publish(json!({}));
    assert_eq!(status, 201, "{published}");
    assert_eq!(published["version"], 1);
    assert_eq!(published["forced"], false);
    let domain = &published["document"]["domains"][0];
    assert_eq!(domain["host"], HOST);
    assert_eq!(
        pins_of(domain),
        vec![expected[1].clone(), expected[2].clone(), pin_b]
    );
    assert_eq!(domain["mode"], "enforce");

    // The compact form verifies with the published pin-signing key.
    let compact = published["compact"].as_str().unwrap();
    let verified = verifier(&fixture).verify(compact.as_bytes()).unwrap();
    assert_eq!(verified.document().ver, 1);
    assert_eq!(verified.document().domains.len(), 1);

    let (status, current) = fixture.admin(reqwest::Method::GET, &fixture.app_path("pins"), None);
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["version"], 1);
    assert_eq!(current["document"]["ver"], 1);
    assert_eq!(current["pin_sets"][0]["pins"][2]["role"], "backup");

    let (status, okhttp) = fixture.send(
        fixture
            .http
            .get(fixture.url(&fixture.app_path("pins/export?format=okhttp")))
            .bearer_auth(&fixture.server.admin_key),
    );
    assert_eq!(status, 200, "{okhttp}");
    assert!(
        okhttp
            .as_str()
            .unwrap()
            .contains(&format!("sha256/{}", expected[1])),
        "{okhttp}"
    );
    let (status, curl) = fixture.send(
        fixture
            .http
            .get(fixture.url(&fixture.app_path("pins/export?format=curl")))
            .bearer_auth(&fixture.server.admin_key),
    );
    assert_eq!(status, 200, "{curl}");
    assert!(curl.as_str().unwrap().contains("sha256//"), "{curl}");
    let (status, body) = fixture.admin(
        reqwest::Method::GET,
        &fixture.app_path("pins/export?format=pkcs12"),
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "invalid_format");

    // A second publish keeps the dropped pins for the grace period.
    let (status, set) = fixture.put_pin_set(json!({
        "pins": [expected[0]],
        "backup": [{"public_key_pem": key_b.public_key_pem()}],
    }));
    assert_eq!(status, 200, "{set}");
    let (status, second) = fixture.publish(json!({}));
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["version"], 2);
    let pins = pins_of(&second["document"]["domains"][0]);
    for pin in &expected {
        assert!(pins.contains(pin), "{pin} missing from {pins:?}");
    }
    let removed: Vec<&str> = second["diff"]["pins_removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["pin"].as_str().unwrap())
        .collect();
    assert!(
        removed.is_empty(),
        "pins in their grace period are kept: {second}"
    );
}

#[test]
fn concurrent_publishes_get_distinct_versions() {
    let fixture = Fixture::start();
    fixture.add_domain();
    fixture.pin_live_chain_with_backup();

    let versions: Vec<u64> = std::thread::scope(|scope| {
        let publishers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| fixture.publish(json!({}))))
            .collect();
        publishers
            .into_iter()
            .map(|publisher| {
                let (status, published) = publisher.join().unwrap();
                assert_eq!(status, 201, "{published}");
                published["version"].as_u64().unwrap()
            })
            .collect()
    });

    let mut sorted = versions.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [1, 2, 3, 4], "{versions:?}");
    let (status, current) = fixture.admin(reqwest::Method::GET, &fixture.app_path("pins"), None);
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["version"], 4);
}

#[test]
fn publish_refused_without_backup() {
    let fixture = Fixture::start();
    fixture.add_domain();
    let (status, set) = fixture.put_pin_set(json!({"from_live": true}));
    assert_eq!(status, 200, "{set}");

    let (status, refusal) = fixture.publish(json!({}));

    assert_eq!(status, 409, "{refusal}");
    assert_eq!(refusal["reason"], "publish_gate_failed");
    let problems = refusal["problems"].as_array().unwrap();
    let backup = problems
        .iter()
        .find(|problem| problem["reason"] == "no_backup_pin")
        .unwrap_or_else(|| panic!("no no_backup_pin in {refusal}"));
    assert_eq!(backup["host"], HOST);
    assert_eq!(backup["severity"], "blocking");
    let response = fixture.get_pins(None);
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "no_pin_document");

    let (status, plan) = fixture.admin(
        reqwest::Method::POST,
        &fixture.app_path("pins/plan"),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["publishable"], false);
}

#[test]
fn pin_formats_rejected_by_name() {
    let fixture = Fixture::start();
    fixture.add_domain();
    let leaf = &fixture.chain_a.certificates[0];
    let pin = Pin::from_certificate_der(leaf.as_ref()).unwrap();
    let hex: String = pin
        .digest()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();

    let (status, body) = fixture.put_pin_set(json!({"pins": [hex]}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "pin_hex");

    let (status, body) = fixture.put_pin_set(json!({"pins": [format!("sha256/{pin}")]}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "pin_okhttp_prefix");

    // The SHA-256 of the whole leaf certificate, a fingerprint rather than a pin.
    let fingerprint = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf.as_ref());
    let (status, body) =
        fixture.put_pin_set(json!({"pins": [STANDARD.encode(fingerprint.as_ref())]}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "pin_whole_certificate_hash");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&format!("CN={HOST}")), "{message}");
    assert!(message.contains(&pin.to_string()), "{message}");
}

#[test]
fn forced_publish_writes_audit_entry() {
    let fixture = Fixture::start();
    fixture.add_domain();
    let (status, set) = fixture.put_pin_set(json!({"from_live": true}));
    assert_eq!(status, 200, "{set}");

    let (status, body) = fixture.publish(json!({"force": true}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "reason_required");

    let (status, published) =
        fixture.publish(json!({"force": true, "reason": "backup key ordered, arrives Monday"}));
    assert_eq!(status, 201, "{published}");
    assert_eq!(published["forced"], true);
    assert!(
        published["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|problem| problem["reason"] == "no_backup_pin"),
        "{published}"
    );

    let (status, audit) = fixture.admin(
        reqwest::Method::GET,
        &format!("/admin/v1/audit?app_id={APP_ID}"),
        None,
    );
    assert_eq!(status, 200, "{audit}");
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "pins_published_forced")
        .unwrap_or_else(|| panic!("no forced publish in {audit}"));
    let detail = entry["detail"].as_str().unwrap();
    assert!(detail.contains("no_backup_pin"), "{detail}");
    assert!(
        detail.contains("backup key ordered, arrives Monday"),
        "{detail}"
    );
    assert_eq!(entry["subject"], "1");
    let (status, current) = fixture.admin(reqwest::Method::GET, &fixture.app_path("pins"), None);
    assert_eq!(status, 200, "{current}");
    assert_eq!(current["forced"], true);
}

// === the SDK side ===

#[test]
fn sdk_pins_etag_and_not_modified() {
    let fixture = Fixture::start();
    fixture.add_domain();
    fixture.pin_live_chain_with_backup();
    let (status, published) = fixture.publish(json!({}));
    assert_eq!(status, 201, "{published}");

    let response = fixture.get_pins(None);
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    let body = response.text().unwrap();
    assert_eq!(headers["content-type"], "application/jose");
    assert_eq!(headers["cache-control"], "no-cache");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "a strong tag is quoted: {etag}");
    assert!(etag.ends_with('"'), "{etag}");
    assert_eq!(body, published["compact"].as_str().unwrap());
    let verified = verifier(&fixture).verify(body.as_bytes()).unwrap();
    assert_eq!(verified.document().ver, 1);

    let response = fixture.get_pins(Some(&etag));
    assert_eq!(response.status().as_u16(), 304);
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
    assert!(response.text().unwrap().is_empty());

    let response = fixture.get_pins(Some("\"something-else\""));
    assert_eq!(response.status().as_u16(), 200);

    let (status, body) = fixture.send(fixture.http.get(fixture.url("/v1/pins?app=NOPE.app")));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["reason"], "app_not_found");
    let (status, body) = fixture.send(fixture.http.get(fixture.url("/v1/pins")));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "invalid_query");
}

#[test]
fn token_responses_carry_pins_version() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("app-attest-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let fixture = Fixture::start_with(&format!(
        "[app_attest]\nextra_roots = [\"{}\"]\n",
        root_path.display()
    ));
    let device = SimulatedDevice::new();
    let challenge = || {
        let (status, body) = fixture.send(
            fixture
                .http
                .post(fixture.url("/v1/challenge"))
                .json(&json!({"app_id": APP_ID})),
        );
        assert_eq!(status, 200, "{body}");
        URL_SAFE_NO_PAD
            .decode(body["nonce"].as_str().unwrap())
            .unwrap()
    };

    let nonce = challenge();
    let object = device.attestation(
        &pki,
        &AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development),
    );
    let (status, attested) =
        fixture.send(fixture.http.post(fixture.url("/v1/attest")).json(&json!({
            "app_id": APP_ID,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "evidence": {"app_attest": {
                "key_id": STANDARD.encode(device.key_id()),
                "attestation_object": STANDARD.encode(&object),
            }},
        })));
    assert_eq!(status, 200, "{attested}");
    assert!(attested.get("pins_version").is_none(), "{attested}");

    fixture.add_domain();
    let key_b = ServerKey::generate();
    let (status, set) = fixture
        .put_pin_set(json!({"from_live": true, "backup": [{"csr_pem": key_b.csr_pem(HOST)}]}));
    assert_eq!(status, 200, "{set}");
    let (status, published) = fixture.publish(json!({}));
    assert_eq!(status, 201, "{published}");

    for (counter, expected) in [(1, 1), (2, 2)] {
        if expected == 2 {
            let (status, again) = fixture.publish(json!({}));
            assert_eq!(status, 201, "{again}");
        }
        let nonce = challenge();
        let assertion = device.assertion(&AssertionSpec::new(APP_ID, sha256(&nonce), counter));
        let (status, refreshed) =
            fixture.send(fixture.http.post(fixture.url("/v1/refresh")).json(&json!({
                "app_id": APP_ID,
                "nonce": URL_SAFE_NO_PAD.encode(&nonce),
                "proof": {"app_attest": {
                    "key_id": URL_SAFE_NO_PAD.encode(device.key_id()),
                    "assertion": STANDARD.encode(assertion),
                }},
            })));
        assert_eq!(status, 200, "{refreshed}");
        assert_eq!(refreshed["pins_version"], expected, "{refreshed}");
    }
}

// === pin-failure reports ===

/// Builds a pin-mismatch report from the app about `chain`.
fn mismatch_report(chain: &ServedChain, document_version: u64, app_version: &str) -> Vec<u8> {
    PinFailureReport::builder(APP_ID, app_version, ReportReason::PinMismatch)
        .host(HOST, 443)
        .served_chain(&chain.certificates)
        .pins_known([Pin::from_digest([7; 32]), Pin::from_digest([8; 32])])
        .document_version(document_version)
        .mode(PinningMode::Enforce)
        .build()
        .unwrap()
        .to_json()
}

#[test]
fn pin_report_accepted_and_aggregated() {
    let fixture = Fixture::start();
    fixture.add_domain();
    let interceptor = TestCa::new("Interceptor");
    let intercepted = interceptor.issue(HOST, &ServerKey::generate(), 30);

    for _ in 0..2 {
        let (status, body) = fixture.report(&mismatch_report(&intercepted, 1, "3.1.0"), None);
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["status"], "accepted");
    }
    let (status, body) = fixture.report(&mismatch_report(&intercepted, 1, "3.2.0"), None);
    assert_eq!(status, 202, "{body}");

    let (status, list) =
        fixture.admin(reqwest::Method::GET, &fixture.app_path("pin-reports"), None);
    assert_eq!(status, 200, "{list}");
    let reports = list["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2, "{list}");
    let first = reports
        .iter()
        .find(|report| report["app_version"] == "3.1.0")
        .unwrap();
    assert_eq!(first["count"], 2);
    assert_eq!(first["host"], HOST);
    assert_eq!(first["reason"], "pin_mismatch");
    assert_eq!(first["document_version"], 1);
    let subject = first["sample"]["served_chain"][0]["subject"]
        .as_str()
        .unwrap();
    assert!(subject.contains(HOST), "{subject}");
    let issuer_pin = Pin::from_certificate_der(intercepted.certificates[1].as_ref()).unwrap();
    assert_eq!(
        first["sample"]["served_chain"][1]["pin"],
        issuer_pin.to_string()
    );

    // A report about a host the app does not pin.
    let other = PinFailureReport::builder(APP_ID, "3.1.0", ReportReason::PinMismatch)
        .host("elsewhere.test", 443)
        .served_chain(&intercepted.certificates)
        .document_version(1)
        .mode(PinningMode::Enforce)
        .build()
        .unwrap()
        .to_json();
    let (status, body) = fixture.report(&other, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "unknown_host");

    let (status, body) = fixture.report(br#"{"host": "api.pinapi.test"}"#, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "report_malformed");

    let oversized = vec![b' '; 200 * 1024];
    let (status, body) = fixture.report(&oversized, None);
    assert_eq!(status, 413, "{body}");
}

#[test]
fn pin_reports_rate_limited() {
    let fixture = Fixture::start_with(
        "[markets]\ntrust_forwarded_for = true\n\
         [pinning]\nreports_per_minute_per_client = 3\nreports_per_minute_per_app = 5\n",
    );
    fixture.add_domain();
    let chain = fixture.chain_a.clone();
    let report = mismatch_report(&chain, 0, "1.0");

    for attempt in 0..3 {
        let (status, body) = fixture.report(&report, Some("198.51.100.7"));
        assert_eq!(status, 202, "attempt {attempt}: {body}");
    }
    let response = fixture
        .http
        .post(fixture.url("/v1/pin-reports"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", "198.51.100.7")
        .body(report.clone())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "rate_limited");

    // Another client address has its own budget, until the app's budget of 5 is spent.
    for attempt in 0..2 {
        let (status, body) = fixture.report(&report, Some("198.51.100.8"));
        assert_eq!(status, 202, "attempt {attempt}: {body}");
    }
    let (status, body) = fixture.report(&report, Some("198.51.100.8"));
    assert_eq!(status, 429, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("this app"),
        "{body}"
    );

    let metrics = fixture.metrics();
    assert!(
        metrics.contains(&format!(
            "avow_pin_reports_total{{app=\"{APP_ID}\",outcome=\"counted\"}} 5"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "avow_pin_reports_total{{app=\"{APP_ID}\",outcome=\"rate_limited\"}} 1"
        )),
        "{metrics}"
    );
}

// === background check ===

#[test]
fn monitor_marks_mismatch_after_unpinned_key() {
    let fixture = Fixture::start_with("[pinning]\ncheck_interval_secs = 1\n");
    fixture.add_domain();
    let key_b = ServerKey::generate();
    let leaf_pin = Pin::from_certificate_der(fixture.chain_a.certificates[0].as_ref()).unwrap();
    assert_eq!(
        leaf_pin,
        Pin::from_spki_der(&fixture.key_a.spki_der()),
        "the leaf carries key A"
    );
    // Pin the leaf key A, with key B as the backup.
    let (status, set) = fixture.put_pin_set(json!({
        "pins": [leaf_pin.to_string()],
        "backup": [{"pin": Pin::from_spki_der(&key_b.spki_der()).to_string()}],
    }));
    assert_eq!(status, 200, "{set}");
    let (status, published) = fixture.publish(json!({}));
    assert_eq!(status, 201, "{published}");
    let published_at = unix_now();
    fixture.wait_for_check("ok", published_at + 1);

    // Rotating to the backup key B keeps the domain ok.
    fixture
        .tls
        .serve(&fixture.ca.issue(HOST, &key_b, LEAF_DAYS));
    let rotated_at = unix_now();
    let check = fixture.wait_for_check("ok", rotated_at + 1);
    assert_eq!(check["detail"], "", "{check}");

    // A certificate with key C, which no published pin names.
    fixture
        .tls
        .serve(&fixture.ca.issue(HOST, &ServerKey::generate(), LEAF_DAYS));
    let switched_at = unix_now();
    let check = fixture.wait_for_check("mismatch", switched_at + 1);
    assert!(
        check["detail"].as_str().unwrap().contains("version 1"),
        "{check}"
    );

    let metrics = fixture.metrics();
    let series = |status: &str, value: u8| {
        format!(
            "avow_pin_domain_status{{app=\"{APP_ID}\",host=\"{HOST}\",status=\"{status}\"}} {value}\n"
        )
    };
    assert!(metrics.contains(&series("mismatch", 1)), "{metrics}");
    assert!(metrics.contains(&series("ok", 0)), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "avow_pin_domain_expiry_seconds{{app=\"{APP_ID}\",host=\"{HOST}\"}} "
        )),
        "{metrics}"
    );
}
