//! End to end: a real `avow serve` process on a temporary SQLite database, driven by a simulated
//! iOS device whose test CA the server trusts as an extra App Attest root.

mod support;

use std::time::Duration;

use avow_testgen::{
    AssertionSpec, AttestationMutation, AttestationSpec, Environment, SimulatedDevice, TestPki,
    sha256,
};
use avow_token::TokenVerifier;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::{
    Client, PostgresSchema, ServerProcess, avow_cli, config, now, register_app, start_instance_pair,
};

const APP_ID: &str = "TEAMID1234.com.example.bank";
const OTHER_APP_ID: &str = "TEAMID1234.com.example.shop";

fn attest_body(app_id: &str, nonce: &[u8], device: &SimulatedDevice, object: &[u8]) -> Value {
    json!({
        "app_id": app_id,
        "nonce": URL_SAFE_NO_PAD.encode(nonce),
        "evidence": {"app_attest": {
            // Key ids travel in standard base64, as iOS returns them.
            "key_id": STANDARD.encode(device.key_id()),
            "attestation_object": STANDARD.encode(object),
        }},
    })
}

fn refresh_body(app_id: &str, nonce: &[u8], device: &SimulatedDevice, counter: u32) -> Value {
    let assertion = device.assertion(&AssertionSpec::new(app_id, sha256(nonce), counter));
    json!({
        "app_id": app_id,
        "nonce": URL_SAFE_NO_PAD.encode(nonce),
        "proof": {"app_attest": {
            // base64url without padding, as some clients send it.
            "key_id": URL_SAFE_NO_PAD.encode(device.key_id()),
            "assertion": STANDARD.encode(assertion),
        }},
    })
}

#[test]
fn device_attests_refreshes_and_tokens_verify() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let mut server = ServerProcess::start(dir.path(), &config(&root_path, 120));
    register_app(&server, APP_ID);
    register_app(&server, OTHER_APP_ID);
    let client = Client::new();
    let device = SimulatedDevice::new();

    // challenge → attest → token
    let nonce = client.challenge(&server, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 200, "{body}");
    let mut tokens = vec![body["token"].as_str().unwrap().to_owned()];
    let install_id = body["install_id"].as_str().unwrap().to_owned();

    // the same nonce again: replayed
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_replayed");

    // several refreshes with increasing counters
    for counter in 1..=4 {
        let nonce = client.challenge(&server, APP_ID);
        let (status, body) = client.post(
            &server.url("/v1/refresh"),
            &refresh_body(APP_ID, &nonce, &device, counter),
        );
        assert_eq!(status, 200, "refresh {counter}: {body}");
        assert_eq!(body["install_id"], install_id.as_str());
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }

    // a counter that does not increase
    let nonce = client.challenge(&server, APP_ID);
    let (status, body) = client.post(
        &server.url("/v1/refresh"),
        &refresh_body(APP_ID, &nonce, &device, 4),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "counter_not_increased");

    // a nonce issued to another app
    let nonce = client.challenge(&server, OTHER_APP_ID);
    let (status, body) = client.post(
        &server.url("/v1/refresh"),
        &refresh_body(APP_ID, &nonce, &device, 5),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_app_mismatch");

    // an attestation made for another app id
    let other_device = SimulatedDevice::new();
    let nonce = client.challenge(&server, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development)
        .with_mutation(AttestationMutation::RpIdOf(OTHER_APP_ID.to_owned()));
    let object = other_device.attestation(&pki, &spec);
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &other_device, &object),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "app_id_mismatch");

    // a nonce this server never issued
    let (status, body) = client.post(
        &server.url("/v1/refresh"),
        &refresh_body(APP_ID, &[7u8; 32], &device, 6),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_unknown");

    // tokens verify against the served JWKS
    let verifier = TokenVerifier::from_jwks(&client.jwks(&server))
        .unwrap()
        .with_issuer("avow-e2e")
        .with_audiences(vec![APP_ID.to_owned()]);
    for (index, token) in tokens.iter().enumerate() {
        let claims = verifier.verify(token, now()).unwrap();
        assert_eq!(claims.sub, APP_ID);
        assert_eq!(claims.ins.as_deref(), Some(install_id.as_str()));
        assert_eq!(claims.att.prv, vec!["app_attest".to_owned()]);
        assert_eq!(claims.att.env.as_deref(), Some("development"));
        assert_eq!(claims.att.trust, "hardware");
        assert_eq!(claims.att.app, "recognized");
        assert_eq!(claims.att.dev, "strong");
        let expected_via = if index == 0 {
            "attestation"
        } else {
            "assertion"
        };
        assert_eq!(claims.att.via, expected_via);
        assert_eq!(claims.exp - claims.iat, 300);
    }

    // the CLI verifies a token against the served JWKS, and reports a tampered one
    let jwks_url = server.url("/.well-known/jwks.json");
    let output = avow_cli(
        &server,
        &[
            "token", "verify", &tokens[0], "--jwks", &jwks_url, "--issuer", "avow-e2e",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let mut tampered = tokens[0].clone();
    tampered.push('A');
    let output = avow_cli(
        &server,
        &["token", "verify", &tampered, "--jwks", &jwks_url],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("invalid token"));

    // nothing secret reached the log
    let log = server.log_text();
    assert!(
        log.contains("\"verdict\":\"allow\""),
        "decisions are logged"
    );
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "a token reached the log");
    }
    assert!(
        !log.contains(&URL_SAFE_NO_PAD.encode(&nonce)),
        "a nonce reached the log"
    );
    assert!(
        !log.contains(&server.admin_key),
        "the admin key reached the log"
    );
    assert!(
        !log.contains(&STANDARD.encode(&object)[..64]),
        "evidence reached the log"
    );

    assert!(server.stop(), "server did not exit cleanly on SIGTERM");
}

#[test]
fn concurrent_refreshes_with_same_counter_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let mut server = ServerProcess::start(dir.path(), &config(&root_path, 120));
    register_app(&server, APP_ID);
    let client = Client::new();
    let device = SimulatedDevice::new();

    let nonce = client.challenge(&server, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 200, "{body}");

    for round in 1..=5u32 {
        let bodies: Vec<Value> = (0..2)
            .map(|_| refresh_body(APP_ID, &client.challenge(&server, APP_ID), &device, round))
            .collect();
        let url = server.url("/v1/refresh");
        let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|body| {
                    let url = url.clone();
                    scope.spawn(move || Client::new().post(&url, body))
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        let winners = outcomes.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
        let loser = outcomes.iter().find(|(status, _)| *status != 200).unwrap();
        assert_eq!(loser.0, 403, "round {round}");
        assert_eq!(loser.1["reason"], "counter_not_increased", "round {round}");
    }
    assert!(server.stop());
}

#[test]
fn server_cap_shortens_token_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    // The app runs the default policy, whose tokens live 300 seconds; the server caps them.
    let mut server = ServerProcess::start_with(
        dir.path(),
        &config(&root_path, 120),
        &[("AVOW_TOKEN_MAX_LIFETIME_SECS", "120")],
    );
    register_app(&server, APP_ID);
    let client = Client::new();
    let device = SimulatedDevice::new();

    let nonce = client.challenge(&server, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 200, "{body}");
    let verifier = TokenVerifier::from_jwks(&client.jwks(&server))
        .unwrap()
        .with_issuer("avow-e2e")
        .with_audiences(vec![APP_ID.to_owned()]);
    let claims = verifier
        .verify(body["token"].as_str().unwrap(), now())
        .unwrap();
    assert_eq!(claims.exp - claims.iat, 120);
    let expires_at = body["expires_at"].as_u64().unwrap();
    assert_eq!(expires_at, claims.exp);
    assert!(server.stop());
}

#[test]
fn expired_nonce_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    // Nonces live one second on this server.
    let mut server = ServerProcess::start(dir.path(), &config(&root_path, 1));
    register_app(&server, APP_ID);
    let client = Client::new();
    let device = SimulatedDevice::new();

    let nonce = client.challenge(&server, APP_ID);
    std::thread::sleep(Duration::from_millis(2100));
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_expired");
    assert!(server.stop());
}

#[test]
fn bad_requests_get_reason_codes() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let root_path = dir.path().join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let mut server = ServerProcess::start(dir.path(), &config(&root_path, 120));
    register_app(&server, APP_ID);
    let client = Client::new();
    let device = SimulatedDevice::new();

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/v1/challenge",
            json!({"app_id": "NOPE.com.example"}),
            404,
            "app_not_found",
        ),
        ("/v1/challenge", json!({"app": APP_ID}), 400, "invalid_json"),
        (
            "/v1/attest",
            json!({"app_id": APP_ID, "nonce": "!!", "evidence": {"app_attest": {"key_id": STANDARD.encode(device.key_id()), "attestation_object": "AA=="}}}),
            400,
            "invalid_nonce",
        ),
        (
            "/v1/attest",
            json!({"app_id": APP_ID, "nonce": URL_SAFE_NO_PAD.encode([1u8; 32]), "evidence": {"app_attest": {"key_id": "abc", "attestation_object": "AA=="}}}),
            400,
            "invalid_key_id",
        ),
        (
            "/v1/attest",
            json!({"app_id": APP_ID, "nonce": URL_SAFE_NO_PAD.encode([1u8; 32]), "evidence": {}}),
            400,
            "missing_evidence",
        ),
        (
            "/v1/refresh",
            json!({"app_id": APP_ID, "nonce": URL_SAFE_NO_PAD.encode([1u8; 32]), "proof": {"app_attest": {"key_id": STANDARD.encode(device.key_id()), "assertion": "AA=="}}}),
            404,
            "install_not_found",
        ),
    ];
    for (path, body, expected_status, expected_reason) in cases {
        let (status, response) = client.post(&server.url(path), &body);
        assert_eq!(status, expected_status, "{path} {body}: {response}");
        assert_eq!(response["reason"], expected_reason, "{path} {body}");
        assert!(response["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Garbage evidence with a valid nonce: a 400 naming the structural problem.
    let nonce = client.challenge(&server, APP_ID);
    let (status, body) = client.post(
        &server.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, b"\xa1\x61\x61"),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "malformed_cbor");

    // Not JSON at all.
    let response = client
        .http
        .post(server.url("/v1/challenge"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "invalid_json");

    // A known route with the wrong method, and an unknown route.
    let response = client.http.get(server.url("/v1/attest")).send().unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "method_not_allowed");
    let response = client.http.get(server.url("/v2/nothing")).send().unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "route_not_found");

    // A body over the limit.
    let response = client
        .http
        .post(server.url("/v1/attest"))
        .header("content-type", "application/json")
        .body(vec![b' '; 300 * 1024])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "body_too_large");

    // A body that is not declared as JSON.
    let response = client
        .http
        .post(server.url("/v1/challenge"))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "unsupported_media_type");

    // Admin API without a key.
    let response = client
        .http
        .get(server.url("/admin/v1/apps"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().unwrap();
    assert_eq!(body["reason"], "unauthorized");

    // Admin API with a wrong secret.
    let wrong = format!("{}x", server.admin_key);
    let response = client
        .http
        .get(server.url("/admin/v1/apps"))
        .bearer_auth(wrong)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(server.stop());
}

#[test]
fn two_instances_share_postgres() {
    let Ok(postgres_url) = std::env::var("AVOW_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: AVOW_TEST_POSTGRES_URL is not set (two-instance PostgreSQL test not run)"
        );
        return;
    };
    let schema = PostgresSchema::create(&postgres_url, "avow_e2e");
    let pki = TestPki::new();
    let (_dirs, mut first, mut second) = start_instance_pair(&schema.url(), &pki.root_pem());
    register_app(&first, APP_ID);
    let client = Client::new();
    let device = SimulatedDevice::new();

    // Attest through the first instance.
    let nonce = client.challenge(&first, APP_ID);
    let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
    let object = device.attestation(&pki, &spec);
    let (status, body) = client.post(
        &first.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 200, "{body}");

    // A nonce from the first instance, replayed at the second, is rejected there.
    let (status, body) = client.post(
        &second.url("/v1/attest"),
        &attest_body(APP_ID, &nonce, &device, &object),
    );
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["reason"], "nonce_replayed");

    // The same counter sent to both instances at once: exactly one wins.
    let mut tokens = Vec::new();
    for round in 1..=5u32 {
        let targets = [&first, &second];
        let bodies: Vec<(String, Value)> = targets
            .iter()
            .map(|server| {
                let nonce = client.challenge(server, APP_ID);
                (
                    server.url("/v1/refresh"),
                    refresh_body(APP_ID, &nonce, &device, round),
                )
            })
            .collect();
        let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let handles: Vec<_> = bodies
                .iter()
                .map(|(url, body)| scope.spawn(move || Client::new().post(url, body)))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        let winners: Vec<_> = outcomes
            .iter()
            .filter(|(status, _)| *status == 200)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        tokens.push(winners[0].1["token"].as_str().unwrap().to_owned());
        let loser = outcomes.iter().find(|(status, _)| *status != 200).unwrap();
        assert_eq!(loser.1["reason"], "counter_not_increased", "round {round}");
    }

    // Both instances publish the same key, so tokens from either verify with either JWKS.
    for server in [&first, &second] {
        let verifier = TokenVerifier::from_jwks(&client.jwks(server)).unwrap();
        for token in &tokens {
            assert!(verifier.verify(token, now()).is_ok());
        }
    }
    assert!(first.stop());
    assert!(second.stop());
}
