//! End to end for limited-use tokens: a real `avow serve` process issues tokens to a simulated
//! iOS device, and the tokens are consumed through `POST /v1/tokens/consume`, the check
//! endpoint with `X-Avow-Limited-Use`, and the consume client of `avow-guard`.

mod support;

use avow_guard::{
    ConsumeOutcome, GuardConfig, HttpTokenConsumer, JwksOptions, JwksSource, Keys,
    TokenConsumer as _, check_with_refresh,
};
use avow_testgen::{AssertionSpec, AttestationSpec, Environment, SimulatedDevice, TestPki, sha256};
use avow_token::TokenVerifier;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use support::{
    Client, PostgresSchema, ServerProcess, config, now, register_app, start_instance_pair,
};

const APP_ID: &str = "TEAMID1234.com.example.bank";
const ISSUER: &str = "avow-e2e";

/// A simulated iOS device with its App Attest key registered at the server.
struct Device {
    device: SimulatedDevice,
    counter: u32,
}

impl Device {
    /// Attests a new device at `server` and returns it with its first token.
    fn attest(server: &ServerProcess, client: &Client, pki: &TestPki) -> (Self, String) {
        let device = SimulatedDevice::new();
        let nonce = client.challenge(server, APP_ID);
        let spec = AttestationSpec::new(APP_ID, sha256(&nonce), Environment::Development);
        let object = device.attestation(pki, &spec);
        let body = json!({
            "app_id": APP_ID,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "evidence": {"app_attest": {
                "key_id": STANDARD.encode(device.key_id()),
                "attestation_object": STANDARD.encode(object),
            }},
        });
        let (status, body) = client.post(&server.url("/v1/attest"), &body);
        assert_eq!(status, 200, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        (Self { device, counter: 0 }, token)
    }

    /// Refreshes at `server` and returns a new token.
    fn token(&mut self, server: &ServerProcess, client: &Client) -> String {
        self.counter += 1;
        let nonce = client.challenge(server, APP_ID);
        let assertion =
            self.device
                .assertion(&AssertionSpec::new(APP_ID, sha256(&nonce), self.counter));
        let body = json!({
            "app_id": APP_ID,
            "nonce": URL_SAFE_NO_PAD.encode(&nonce),
            "proof": {"app_attest": {
                "key_id": STANDARD.encode(self.device.key_id()),
                "assertion": STANDARD.encode(assertion),
            }},
        });
        let (status, body) = client.post(&server.url("/v1/refresh"), &body);
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }
}

/// Starts a server on SQLite in `dir` that trusts the simulated devices of `pki`, with the app
/// registered.
fn start_server(dir: &std::path::Path, pki: &TestPki) -> ServerProcess {
    let root_path = dir.join("test-root.pem");
    std::fs::write(&root_path, pki.root_pem()).unwrap();
    let server = ServerProcess::start(dir, &config(&root_path, 120));
    register_app(&server, APP_ID);
    server
}

fn consume(client: &Client, server: &ServerProcess, token: &str) -> (u16, Value) {
    client.post(&server.url("/v1/tokens/consume"), &json!({"token": token}))
}

/// Calls the check endpoint as a gateway does. Returns the status, `Avow-Reason` and
/// `Avow-App`.
fn gateway_check(
    client: &Client,
    server: &ServerProcess,
    token: &str,
    limited_use: Option<&str>,
) -> (u16, Option<String>, Option<String>) {
    let mut request = client
        .http
        .get(server.url("/v1/check"))
        .header("avow-token", token)
        .header("x-avow-audience", APP_ID);
    if let Some(value) = limited_use {
        request = request.header("x-avow-limited-use", value);
    }
    let response = request.send().unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let reason = header("avow-reason");
    let app = header("avow-app");
    (response.status().as_u16(), reason, app)
}

fn claims_of(server: &ServerProcess, client: &Client, token: &str) -> avow_token::Claims {
    TokenVerifier::from_jwks(&client.jwks(server))
        .unwrap()
        .verify(token, now())
        .unwrap()
}

fn metric_value(server: &ServerProcess, client: &Client, series: &str) -> Option<u64> {
    client
        .metrics_text(server)
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn consume_once_then_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let mut server = start_server(dir.path(), &pki);
    let client = Client::new();
    let (_device, token) = Device::attest(&server, &client, &pki);
    let claims = claims_of(&server, &client, &token);

    let (status, body) = consume(&client, &server, &token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jti"], claims.jti.as_str());
    assert_eq!(body["sub"], APP_ID);
    assert_eq!(body["exp"], claims.exp);

    let (status, body) = consume(&client, &server, &token);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["reason"], "token_already_used");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| !message.is_empty())
    );

    // Invalid tokens get 401 with the guard's reason, and are not recorded.
    let mut tampered = token.clone();
    tampered.push('A');
    let cases = [
        (tampered.as_str(), "signature_invalid"),
        ("", "missing_token"),
        ("not-a-token", "token_malformed"),
    ];
    for (token, reason) in cases {
        let (status, body) = consume(&client, &server, token);
        assert_eq!(status, 401, "{token}: {body}");
        assert_eq!(body["reason"], reason, "{token}");
    }

    // Bodies that are not `{"token": "…"}` as JSON.
    let (status, body) = client.post(&server.url("/v1/tokens/consume"), &json!({"jwt": token}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "invalid_json");
    let response = client
        .http
        .post(server.url("/v1/tokens/consume"))
        .header("content-type", "application/json")
        .body("{\"token\": ")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let response = client
        .http
        .post(server.url("/v1/tokens/consume"))
        .body(json!({"token": token}).to_string())
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);

    let consumed = "avow_token_consumptions_total{app=\"TEAMID1234.com.example.bank\",via=\"consume\",outcome=\"consumed\"}";
    let reused = "avow_token_consumptions_total{app=\"TEAMID1234.com.example.bank\",via=\"consume\",outcome=\"already_used\"}";
    assert_eq!(metric_value(&server, &client, consumed), Some(1));
    assert_eq!(metric_value(&server, &client, reused), Some(1));

    let log = server.log_text();
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "a token reached the log");
    assert!(server.stop(), "server did not exit cleanly on SIGTERM");
}

#[test]
fn check_endpoint_limited_use() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let mut server = start_server(dir.path(), &pki);
    let client = Client::new();
    let (mut device, first) = Device::attest(&server, &client, &pki);
    let second = device.token(&server, &client);

    // Without the header, the check does not consume: a token passes as often as it is sent.
    for _ in 0..2 {
        let (status, _, app) = gateway_check(&client, &server, &second, None);
        assert_eq!(status, 200);
        assert_eq!(app.as_deref(), Some(APP_ID));
    }
    let (status, _, _) = gateway_check(&client, &server, &second, Some("false"));
    assert_eq!(status, 200);

    // With it, once.
    let (status, reason, app) = gateway_check(&client, &server, &second, Some("true"));
    assert_eq!((status, reason, app.as_deref()), (200, None, Some(APP_ID)));
    let (status, reason, app) = gateway_check(&client, &server, &second, Some("TRUE"));
    assert_eq!(status, 403);
    assert_eq!(reason.as_deref(), Some("token_already_used"));
    assert_eq!(app, None, "a reused token's claims reached the gateway");

    // The check and the consume endpoint share one record of used tokens.
    let (status, body) = consume(&client, &server, &second);
    assert_eq!(status, 409, "{body}");
    let (status, body) = consume(&client, &server, &first);
    assert_eq!(status, 200, "{body}");
    let (status, reason, _) = gateway_check(&client, &server, &first, Some("true"));
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("token_already_used"))
    );

    // A value other than true or false is the gateway's mistake, and fails closed.
    let third = device.token(&server, &client);
    let (status, reason, _) = gateway_check(&client, &server, &third, Some("yes"));
    assert_eq!(
        (status, reason.as_deref()),
        (400, Some("invalid_limited_use_header"))
    );
    // An invalid token stays a 401.
    let (status, _, _) = gateway_check(&client, &server, "not-a-token", Some("true"));
    assert_eq!(status, 401);
    // The rejected attempt did not consume the third token.
    let (status, _, _) = gateway_check(&client, &server, &third, Some("true"));
    assert_eq!(status, 200);

    let series = |outcome: &str| {
        format!(
            "avow_token_consumptions_total{{app=\"{APP_ID}\",via=\"check\",outcome=\"{outcome}\"}}"
        )
    };
    assert_eq!(metric_value(&server, &client, &series("consumed")), Some(2));
    assert_eq!(
        metric_value(&server, &client, &series("already_used")),
        Some(2)
    );
    assert!(server.stop());
}

#[test]
fn database_failure_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let mut server = start_server(dir.path(), &pki);
    let client = Client::new();
    let (_device, token) = Device::attest(&server, &client, &pki);

    // Remove the table behind the server's back, so every insert fails.
    let database = dir.path().join("data").join("avow.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection as _;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&database);
        let mut connection = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("DROP TABLE used_tokens")
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
    });

    let (status, body) = consume(&client, &server, &token);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "database_unavailable");
    let (status, _, app) = gateway_check(&client, &server, &token, Some("true"));
    assert_eq!(status, 503);
    assert_eq!(app, None);
    // A plain check needs no table of used tokens.
    let (status, _, _) = gateway_check(&client, &server, &token, None);
    assert_eq!(status, 200);
    assert!(server.stop());
}

#[test]
fn guard_consumer_against_server() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new();
    let mut server = start_server(dir.path(), &pki);
    let client = Client::new();
    let (_device, token) = Device::attest(&server, &client, &pki);
    let mut tampered = token.clone();
    tampered.push('A');

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcomes = runtime.block_on(async {
        let source = JwksSource::from_url(
            &server.url("/.well-known/jwks.json"),
            JwksOptions::default(),
        )
        .await
        .unwrap();
        let config =
            GuardConfig::builder(Keys::Es256Source(source), ISSUER, vec![APP_ID.to_owned()])
                .build()
                .unwrap();
        let consumer = HttpTokenConsumer::new(&server.base_url).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("avow-token", HeaderValue::from_str(&token).unwrap());
        let claims = check_with_refresh(&config, &headers, now()).await.unwrap();

        // A token that the server rejects, as a server with other keys would, is played by a
        // tampered copy.
        [
            consumer.consume(&token, &claims).await,
            consumer.consume(&token, &claims).await,
            consumer.consume(&tampered, &claims).await,
        ]
    });

    assert_eq!(outcomes[0], Ok(ConsumeOutcome::Consumed));
    assert_eq!(outcomes[1], Ok(ConsumeOutcome::AlreadyUsed));
    assert_eq!(
        outcomes[2],
        Ok(ConsumeOutcome::Rejected {
            reason: "signature_invalid".to_owned()
        })
    );
    assert!(server.stop());
}

#[test]
fn two_instances_share_used_tokens() {
    let Ok(postgres_url) = std::env::var("AVOW_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: AVOW_TEST_POSTGRES_URL is not set (two-instance limited-use test not run)"
        );
        return;
    };
    let schema = PostgresSchema::create(&postgres_url, "avow_consume");
    let pki = TestPki::new();
    let (_dirs, mut first, mut second) = start_instance_pair(&schema.url(), &pki.root_pem());
    register_app(&first, APP_ID);
    let client = Client::new();
    let (mut device, token) = Device::attest(&first, &client, &pki);

    // Consumed at the first instance, reused at the second.
    let (status, body) = consume(&client, &first, &token);
    assert_eq!(status, 200, "{body}");
    let (status, body) = consume(&client, &second, &token);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["reason"], "token_already_used");

    // The check endpoints share the record too.
    let checked = device.token(&first, &client);
    let (status, _, _) = gateway_check(&client, &second, &checked, Some("true"));
    assert_eq!(status, 200);
    let (status, reason, _) = gateway_check(&client, &first, &checked, Some("true"));
    assert_eq!(
        (status, reason.as_deref()),
        (403, Some("token_already_used"))
    );

    // One token sent to both instances at once: exactly one consumes it.
    for round in 0..5 {
        let token = device.token(&first, &client);
        let outcomes: Vec<u16> = std::thread::scope(|scope| {
            let handles: Vec<_> = [&first, &second]
                .into_iter()
                .map(|server| {
                    let token = token.as_str();
                    scope.spawn(move || consume(&Client::new(), server, token).0)
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap())
                .collect()
        });
        let mut sorted = outcomes.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [200, 409], "round {round}: {outcomes:?}");
    }
    assert!(first.stop());
    assert!(second.stop());
}
