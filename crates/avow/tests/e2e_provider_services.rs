//! End to end with the providers' own services replaced by a mock on 127.0.0.1: Apple
//! DeviceCheck next to App Attest, and Google's `decodeIntegrityToken` for standard Play
//! Integrity requests, including their outages.

mod support;

use std::path::Path;

use avow_testgen::play_integrity::{PlayIntegritySpec, default_certificate_digest};
use avow_testgen::{AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::mock::{MockServer, Request};
use support::{Client, ServerProcess, avow_cli, now};

const IOS_APP: &str = "TEAMID1234.com.example.bank";
const PACKAGE: &str = "com.example.shop";

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Answers like Apple's DeviceCheck API and Google's token and decode endpoints.
fn healthy_services(payload: Value) -> impl Fn(&Request) -> (u16, &'static str, Vec<u8>) {
    move |request: &Request| match request.path.as_str() {
        "/v1/validate_device_token" | "/v1/update_two_bits" => (200, "text/plain", Vec::new()),
        "/v1/query_two_bits" => (
            200,
            "application/json",
            br#"{"bit0":true,"bit1":false,"last_update_time":"2026-11"}"#.to_vec(),
        ),
        "/token" => (
            200,
            "application/json",
            br#"{"access_token":"mock-access-token","expires_in":3600,"token_type":"Bearer"}"#
                .to_vec(),
        ),
        path if path.ends_with(":decodeIntegrityToken") => (
            200,
            "application/json",
            serde_json::to_vec(&json!({"tokenPayloadExternal": payload})).unwrap(),
        ),
        _ => (404, "text/plain", b"not found".to_vec()),
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    mock: MockServer,
    server: ServerProcess,
    client: Client,
    pki: TestPki,
}

impl Setup {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mock = MockServer::start(healthy_services(Value::Null));
        let pki = TestPki::new();
        let root = write(dir.path(), "app-attest-root.pem", &pki.root_pem());

        let p8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let p8 = write(dir.path(), "AuthKey.p8", &pem("PRIVATE KEY", p8.as_ref()));
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
            aws_lc_rs::encoding::AsDer::as_der(&rsa).unwrap();
        let service_account = json!({
            "type": "service_account",
            "client_email": "avow-test@example.iam.gserviceaccount.com",
            "private_key_id": "test-key-1",
            "private_key": pem("PRIVATE KEY", rsa_der.as_ref()),
            "token_uri": format!("{}/token", mock.url()),
        });
        let service_account = write(
            dir.path(),
            "service-account.json",
            &service_account.to_string(),
        );

        let config = format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"data\"\nissuer = \"avow-e2e\"\n\
             [app_attest]\nextra_roots = [\"{root}\"]\n\
             [device_check]\nbase_url = \"{base}\"\nteam_id = \"TEAMID1234\"\n\
             key_id = \"KEYID12345\"\nprivate_key_file = \"{p8}\"\ntimeout_ms = 1000\n\
             max_attempts = 2\n\
             [play_integrity]\nbase_url = \"{base}\"\nservice_account_file = \"{service_account}\"\n\
             timeout_ms = 1000\nmax_attempts = 2\n",
            base = mock.url()
        );
        let server = ServerProcess::start(dir.path(), &config);
        support::register_app(&server, IOS_APP);
        let digest = hex::encode(default_certificate_digest());
        let output = avow_cli(
            &server,
            &[
                "app",
                "add",
                "--platform",
                "android",
                "--package-name",
                PACKAGE,
                "--certificate-digest",
                &digest,
            ],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            _dir: dir,
            mock,
            server,
            client: Client::new(),
            pki,
        }
    }

    fn attest(&self, app_id: &str, nonce: &[u8], evidence: Value) -> (u16, Value, Option<String>) {
        let response = self
            .client
            .http
            .post(self.server.url("/v1/attest"))
            .json(&json!({"app_id": app_id, "nonce": URL_SAFE_NO_PAD.encode(nonce), "evidence": evidence}))
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap().to_owned());
        (status, response.json().unwrap(), retry_after)
    }

    fn app_attest_evidence(&self, nonce: &[u8]) -> Value {
        let device = SimulatedDevice::new();
        let spec = AttestationSpec::new(IOS_APP, sha256(nonce), Environment::Development);
        json!({
            "key_id": STANDARD.encode(device.key_id()),
            "attestation_object": STANDARD.encode(device.attestation(&self.pki, &spec)),
        })
    }
}

#[test]
fn device_check_next_to_app_attest() {
    let setup = Setup::start();
    let nonce = setup.client.challenge(&setup.server, IOS_APP);
    let evidence = json!({
        "app_attest": setup.app_attest_evidence(&nonce),
        "device_check": {"device_token": "ZGV2aWNlLXRva2Vu"},
    });
    let (status, body, _) = setup.attest(IOS_APP, &nonce, evidence);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["verdict"]["prv"],
        json!(["app_attest", "apple_device_check"])
    );

    let requests = setup.mock.requests();
    let paths: Vec<&str> = requests
        .iter()
        .map(|request| request.path.as_str())
        .collect();
    assert_eq!(
        paths,
        vec!["/v1/validate_device_token", "/v1/query_two_bits"]
    );
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["device_token"], "ZGV2aWNlLXRva2Vu");
        let jwt = request
            .authorization
            .as_deref()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "KEYID12345");
    }
}

#[test]
fn device_check_outage_and_rejection_are_4xx() {
    let setup = Setup::start();

    setup
        .mock
        .set_handler(|_| (503, "text/plain", b"unavailable".to_vec()));
    let nonce = setup.client.challenge(&setup.server, IOS_APP);
    let evidence = json!({
        "app_attest": setup.app_attest_evidence(&nonce),
        "device_check": {"device_token": "ZGV2aWNlLXRva2Vu"},
    });
    let (status, body, retry_after) = setup.attest(IOS_APP, &nonce, evidence);
    assert_eq!(status, 424, "{body}");
    assert_eq!(body["reason"], "provider_unavailable");
    assert_eq!(retry_after.as_deref(), Some("30"));

    setup.mock.set_handler(|_| {
        (
            400,
            "text/plain",
            b"Missing or incorrectly formatted device token payload".to_vec(),
        )
    });
    let nonce = setup.client.challenge(&setup.server, IOS_APP);
    let evidence = json!({
        "app_attest": setup.app_attest_evidence(&nonce),
        "device_check": {"device_token": "ZGV2aWNlLXRva2Vu"},
    });
    let (status, body, _) = setup.attest(IOS_APP, &nonce, evidence);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "provider_rejected");
}

#[test]
fn standard_play_integrity_decoded_through_google() {
    let setup = Setup::start();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let spec = PlayIntegritySpec::standard(PACKAGE, URL_SAFE_NO_PAD.encode(&nonce), now() * 1000);
    setup.mock.set_handler(healthy_services(spec.payload()));
    let (status, body, _) = setup.attest(
        PACKAGE,
        &nonce,
        json!({"play_integrity": {"standard_token": "opaque-standard-token"}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdict"]["prv"], json!(["play_integrity"]));
    assert_eq!(body["verdict"]["dev"], "device");

    let requests = setup.mock.requests();
    let token_request = requests
        .iter()
        .find(|request| request.path == "/token")
        .unwrap();
    let form = String::from_utf8(token_request.body.clone()).unwrap();
    assert!(
        form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{form}"
    );
    let decode = requests
        .iter()
        .find(|request| request.path == format!("/v1/{PACKAGE}:decodeIntegrityToken"))
        .unwrap();
    assert_eq!(
        decode.authorization.as_deref(),
        Some("Bearer mock-access-token")
    );
    let body: Value = serde_json::from_slice(&decode.body).unwrap();
    assert_eq!(body["integrityToken"], "opaque-standard-token");
}

#[test]
fn standard_play_integrity_for_another_request_rejected() {
    let setup = Setup::start();
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let spec =
        PlayIntegritySpec::standard(PACKAGE, URL_SAFE_NO_PAD.encode([4u8; 32]), now() * 1000);
    setup.mock.set_handler(healthy_services(spec.payload()));
    let (status, body, _) = setup.attest(
        PACKAGE,
        &nonce,
        json!({"play_integrity": {"standard_token": "opaque-standard-token"}}),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_mismatch");
}

#[test]
fn google_outage_is_424_not_5xx() {
    let setup = Setup::start();
    setup
        .mock
        .set_handler(|request| match request.path.as_str() {
            "/token" => (
                200,
                "application/json",
                br#"{"access_token":"mock-access-token","expires_in":3600}"#.to_vec(),
            ),
            _ => (503, "text/plain", b"backend error".to_vec()),
        });
    let nonce = setup.client.challenge(&setup.server, PACKAGE);
    let (status, body, retry_after) = setup.attest(
        PACKAGE,
        &nonce,
        json!({"play_integrity": {"standard_token": "opaque-standard-token"}}),
    );
    assert_eq!(status, 424, "{body}");
    assert_eq!(body["reason"], "provider_unavailable");
    assert!(retry_after.is_some());
    // Two attempts at most, as configured.
    let decodes = setup
        .mock
        .requests()
        .iter()
        .filter(|request| request.path.ends_with(":decodeIntegrityToken"))
        .count();
    assert_eq!(decodes, 2);
}

#[test]
fn admin_reads_and_sets_device_check_bits() {
    let setup = Setup::start();
    let output = avow_cli(
        &setup.server,
        &[
            "app",
            "device-check-bits",
            IOS_APP,
            "--device-token",
            "ZGV2aWNlLXRva2Vu",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bits: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(bits["set"], true);
    assert_eq!(bits["bit0"], true);
    assert_eq!(bits["bit1"], false);

    let output = avow_cli(
        &setup.server,
        &[
            "app",
            "device-check-bits",
            IOS_APP,
            "--device-token",
            "ZGV2aWNlLXRva2Vu",
            "--bit0",
            "false",
            "--bit1",
            "true",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let update = setup
        .mock
        .requests()
        .into_iter()
        .find(|request| request.path == "/v1/update_two_bits")
        .unwrap();
    let body: Value = serde_json::from_slice(&update.body).unwrap();
    assert_eq!(body["bit0"], false);
    assert_eq!(body["bit1"], true);
    assert_eq!(body["device_token"], "ZGV2aWNlLXRva2Vu");

    // Android apps have no DeviceCheck.
    let output = avow_cli(
        &setup.server,
        &[
            "app",
            "device-check-bits",
            PACKAGE,
            "--device-token",
            "ZGV2aWNlLXRva2Vu",
        ],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid_app"));
}
