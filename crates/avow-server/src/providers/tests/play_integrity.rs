use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256};
use zeroize::Zeroizing;

use super::{DecodedJwt, ManualClock, MockServer, Reply, SeenRequest, fast_policy, pem};
use crate::config::PlayIntegrityConfig;
use crate::providers::play_integrity::DEFAULT_BASE_URL;
use crate::providers::{
    CallPolicy, PLAY_INTEGRITY_SCOPE, PlayIntegrityDecoder, PlayIntegritySettings, ProviderError,
};

const PACKAGE: &str = "com.example.app";
const DECODE: &str = "/v1/com.example.app:decodeIntegrityToken";
const TOKEN: &str = "/token";
const CLIENT_EMAIL: &str = "verifier@avow-test.iam.gserviceaccount.com";
const PRIVATE_KEY_ID: &str = "5f1e0c8a9b";
const ACCESS_TOKEN: &str = "ya29.test-access-token";
const INTEGRITY_TOKEN: &str = "eyJhbGciOiJBMjU2S1ciLCJlbmMiOiJBMjU2R0NNIn0.opaque";

/// An RSA key shared by all tests of this module, because generating one takes a while.
struct TestAccount {
    private_key_pem: String,
    public_key: Vec<u8>,
}

fn test_account() -> &'static TestAccount {
    static ACCOUNT: OnceLock<TestAccount> = OnceLock::new();
    ACCOUNT.get_or_init(|| {
        let key_pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pkcs8: Pkcs8V1Der<'static> = key_pair.as_der().unwrap();
        TestAccount {
            private_key_pem: pem("PRIVATE KEY", pkcs8.as_ref()),
            public_key: key_pair.public_key().as_ref().to_vec(),
        }
    })
}

/// Returns a service-account key file shaped like the ones the Google Cloud console
/// downloads.
fn service_account_json(token_uri: &str) -> Vec<u8> {
    serde_json::json!({
        "type": "service_account",
        "project_id": "avow-test",
        "private_key_id": PRIVATE_KEY_ID,
        "private_key": test_account().private_key_pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    })
    .to_string()
    .into_bytes()
}

fn token_reply(expires_in: u64) -> Reply {
    Reply::json(
        200,
        &serde_json::json!({
            "access_token": ACCESS_TOKEN,
            "expires_in": expires_in,
            "token_type": "Bearer",
        }),
    )
}

fn payload() -> serde_json::Value {
    serde_json::json!({
        "requestDetails": {
            "requestPackageName": PACKAGE,
            "timestampMillis": "1700000000000",
            "requestHash": "aGFzaA",
        },
        "appIntegrity": { "appRecognitionVerdict": "PLAY_RECOGNIZED" },
        "deviceIntegrity": { "deviceRecognitionVerdict": ["MEETS_DEVICE_INTEGRITY"] },
        "accountDetails": { "appLicensingVerdict": "LICENSED" },
    })
}

fn decode_reply() -> Reply {
    Reply::json(
        200,
        &serde_json::json!({ "tokenPayloadExternal": payload() }),
    )
}

/// Starts a mock that serves both the token endpoint and the decode endpoint.
async fn mock(token: Vec<Reply>, decode: Vec<Reply>) -> MockServer {
    MockServer::start(vec![(TOKEN, token), (DECODE, decode)]).await
}

fn decoder(mock: &MockServer, policy: CallPolicy) -> PlayIntegrityDecoder {
    PlayIntegrityDecoder::new(PlayIntegritySettings {
        base_url: mock.base_url.clone(),
        service_account_json: Zeroizing::new(service_account_json(&mock.url(TOKEN))),
        token_uri: None,
        policy,
    })
    .unwrap()
}

fn form_fields(request: &SeenRequest) -> Vec<(String, String)> {
    let body = std::str::from_utf8(&request.body).unwrap();
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), percent_decode(value))
        })
        .collect()
}

fn percent_decode(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut input = value.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'%' => {
                let high = char::from(input.next().unwrap()).to_digit(16).unwrap();
                let low = char::from(input.next().unwrap()).to_digit(16).unwrap();
                bytes.push(u8::try_from(high * 16 + low).unwrap());
            }
            b'+' => bytes.push(b' '),
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn decode_sends_documented_requests() {
    let mock = mock(vec![token_reply(3599)], vec![decode_reply()]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    let decoded = decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();
    assert_eq!(decoded, payload());

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);

    let token_request = &requests[0];
    assert_eq!(token_request.path, TOKEN);
    assert_eq!(
        token_request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let fields = form_fields(token_request);
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields[0].0, "grant_type");
    assert_eq!(fields[0].1, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(fields[1].0, "assertion");

    let assertion = DecodedJwt::parse(&fields[1].1);
    assert_eq!(
        assertion.header,
        serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": PRIVATE_KEY_ID })
    );
    assert_eq!(assertion.claims["iss"], CLIENT_EMAIL);
    assert_eq!(assertion.claims["scope"], PLAY_INTEGRITY_SCOPE);
    assert_eq!(assertion.claims["aud"], mock.url(TOKEN));
    let issued_at = assertion.claims["iat"].as_i64().unwrap();
    assert!(
        (crate::unix_now() - 60..=crate::unix_now()).contains(&issued_at),
        "{issued_at}"
    );
    assert_eq!(assertion.claims["exp"].as_i64(), Some(issued_at + 3600));
    assertion.verify(&RSA_PKCS1_2048_8192_SHA256, &test_account().public_key);

    let decode_request = &requests[1];
    assert_eq!(decode_request.path, DECODE);
    assert_eq!(decode_request.bearer(), ACCESS_TOKEN);
    assert_eq!(decode_request.header("content-type"), "application/json");
    assert_eq!(
        decode_request.json(),
        serde_json::json!({ "integrityToken": INTEGRITY_TOKEN })
    );
}

#[tokio::test]
async fn access_token_reused() {
    let mock = mock(vec![token_reply(3599)], vec![decode_reply()]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();
    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();

    assert_eq!(mock.count(TOKEN), 1);
    assert_eq!(mock.count(DECODE), 2);
}

#[tokio::test]
async fn access_token_renewed_before_expiry() {
    let mock = mock(vec![token_reply(3599)], vec![decode_reply()]).await;
    let clock = ManualClock::new();
    let decoder = decoder(&mock, fast_policy(clock.clock.clone()));

    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();
    clock.advance(Duration::from_secs(3599 - 61));
    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();
    assert_eq!(mock.count(TOKEN), 1);

    clock.advance(Duration::from_secs(1));
    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();
    assert_eq!(mock.count(TOKEN), 2, "renewed 60 s before expiry");
}

#[tokio::test]
async fn undecodable_token_rejected_once() {
    let error_body = serde_json::json!({
        "error": {
            "code": 400,
            "message": "Integrity token cannot be decoded due to invalid arguments.",
            "status": "INVALID_ARGUMENT",
        }
    });
    let mock = mock(vec![token_reply(3599)], vec![Reply::json(400, &error_body)]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    let error = decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap_err();

    assert_eq!(
        error,
        ProviderError::Rejected {
            status: 400,
            message: "Integrity token cannot be decoded due to invalid arguments.".to_owned(),
        }
    );
    assert_eq!(mock.count(DECODE), 1, "a 400 is not retried");
}

#[tokio::test]
async fn permission_denied_unauthorized() {
    let mock = mock(vec![token_reply(3599)], vec![Reply::status(403, "")]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Err(ProviderError::Unauthorized)
    );
    assert_eq!(mock.count(DECODE), 1, "a 403 is not retried");

    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap_err();
    assert_eq!(mock.count(TOKEN), 2, "a refused access token is not reused");
}

#[tokio::test]
async fn rejected_assertion_unauthorized() {
    let oauth_error = serde_json::json!({
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    });
    let mock = mock(vec![Reply::json(400, &oauth_error)], vec![decode_reply()]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Err(ProviderError::Unauthorized)
    );
    assert_eq!(mock.count(TOKEN), 1);
    assert_eq!(mock.count(DECODE), 0);
}

#[tokio::test]
async fn server_error_retried_once() {
    let mock = mock(
        vec![token_reply(3599)],
        vec![Reply::status(500, ""), decode_reply()],
    )
    .await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Ok(payload())
    );
    assert_eq!(mock.count(DECODE), 2);
    assert_eq!(mock.count(TOKEN), 1, "the access token survives the retry");
}

#[tokio::test]
async fn token_endpoint_outage_unavailable() {
    let mock = mock(vec![Reply::status(503, "")], vec![decode_reply()]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Err(ProviderError::Unavailable { status: Some(503) })
    );
    assert_eq!(mock.count(TOKEN), 2);
    assert_eq!(mock.count(DECODE), 0);
}

#[tokio::test]
async fn quota_exhausted_throttled() {
    let mock = mock(
        vec![token_reply(3599)],
        vec![Reply::with_header(429, "retry-after", "3600")],
    )
    .await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Err(ProviderError::Throttled {
            retry_after: Some(Duration::from_secs(3600))
        })
    );
    assert_eq!(mock.count(DECODE), 1);
}

#[tokio::test]
async fn silent_decode_times_out() {
    let mock = mock(vec![token_reply(3599)], vec![Reply::Hang]).await;
    let policy = CallPolicy {
        timeout: Duration::from_millis(300),
        max_attempts: 1,
        ..fast_policy(ManualClock::new().clock)
    };
    let decoder = decoder(&mock, policy);

    let started = std::time::Instant::now();
    let result = decoder.decode(PACKAGE, INTEGRITY_TOKEN).await;
    let elapsed = started.elapsed();

    assert_eq!(result, Err(ProviderError::Timeout));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn breaker_stops_token_and_decode_requests() {
    let mock = mock(vec![token_reply(3599)], vec![Reply::status(502, "")]).await;
    let clock = ManualClock::new();
    let policy = CallPolicy {
        max_attempts: 1,
        breaker_threshold: 2,
        ..fast_policy(clock.clock.clone())
    };
    let decoder = decoder(&mock, policy);

    for _ in 0..2 {
        assert_eq!(
            decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
            Err(ProviderError::Unavailable { status: Some(502) })
        );
    }
    let sent = mock.requests().len();
    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Err(ProviderError::Unavailable { status: None })
    );
    assert_eq!(mock.requests().len(), sent, "an open breaker sends nothing");

    mock.script(DECODE, vec![decode_reply()]);
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        decoder.decode(PACKAGE, INTEGRITY_TOKEN).await,
        Ok(payload())
    );
}

#[tokio::test]
async fn payload_missing_invalid_response() {
    let mock = mock(
        vec![token_reply(3599)],
        vec![Reply::json(200, &serde_json::json!({}))],
    )
    .await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    let error = decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap_err();
    assert!(
        matches!(error, ProviderError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert_eq!(mock.count(DECODE), 1);
}

#[tokio::test]
async fn invalid_package_name_sends_nothing() {
    let mock = mock(vec![token_reply(3599)], vec![decode_reply()]).await;
    let decoder = decoder(&mock, fast_policy(ManualClock::new().clock));

    let error = decoder
        .decode("com.example/../other", INTEGRITY_TOKEN)
        .await
        .unwrap_err();

    assert!(matches!(error, ProviderError::Config(_)), "{error:?}");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn token_uri_override_used() {
    let mock = mock(vec![token_reply(3599)], vec![decode_reply()]).await;
    let decoder = PlayIntegrityDecoder::new(PlayIntegritySettings {
        base_url: mock.base_url.clone(),
        service_account_json: Zeroizing::new(service_account_json("https://127.0.0.1:1/token")),
        token_uri: Some(mock.url(TOKEN)),
        policy: fast_policy(ManualClock::new().clock),
    })
    .unwrap();

    decoder.decode(PACKAGE, INTEGRITY_TOKEN).await.unwrap();

    let fields = form_fields(&mock.requests()[0]);
    let assertion = DecodedJwt::parse(&fields[1].1);
    assert_eq!(assertion.claims["aud"], mock.url(TOKEN));
}

#[test]
fn unusable_key_files_rejected() {
    let settings = |json: Vec<u8>| PlayIntegritySettings {
        base_url: "http://127.0.0.1:9".to_owned(),
        service_account_json: Zeroizing::new(json),
        token_uri: None,
        policy: CallPolicy::default(),
    };
    let mut wrong_type: serde_json::Value =
        serde_json::from_slice(&service_account_json("http://127.0.0.1:9/token")).unwrap();
    wrong_type["type"] = "authorized_user".into();
    let mut bad_key = wrong_type.clone();
    bad_key["type"] = "service_account".into();
    bad_key["private_key"] = pem("PRIVATE KEY", b"\x30\x03\x02\x01\x00").into();
    let mut remote_http_token_uri = bad_key.clone();
    remote_http_token_uri["private_key"] = test_account().private_key_pem.clone().into();
    remote_http_token_uri["token_uri"] = "http://192.0.2.1/token".into();

    for (case, json) in [
        ("not json", b"{".to_vec()),
        ("missing fields", b"{\"type\":\"service_account\"}".to_vec()),
        ("wrong type", wrong_type.to_string().into_bytes()),
        ("bad key", bad_key.to_string().into_bytes()),
        (
            "plain http token uri",
            remote_http_token_uri.to_string().into_bytes(),
        ),
    ] {
        let error = PlayIntegrityDecoder::new(settings(json)).unwrap_err();
        assert!(
            matches!(error, ProviderError::Config(_)),
            "{case}: {error:?}"
        );
        assert!(
            !error.to_string().contains("BEGIN PRIVATE KEY"),
            "{case}: {error}"
        );
    }
}

#[test]
fn settings_from_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service-account.json");
    std::fs::write(&path, service_account_json("http://127.0.0.1:9/token")).unwrap();

    assert!(
        PlayIntegritySettings::from_config(&PlayIntegrityConfig::default())
            .unwrap()
            .is_none()
    );

    let config = PlayIntegrityConfig {
        service_account_file: Some(path),
        timeout_ms: 1500,
        max_attempts: 1,
        ..PlayIntegrityConfig::default()
    };
    let settings = PlayIntegritySettings::from_config(&config)
        .unwrap()
        .unwrap();
    assert_eq!(settings.base_url, DEFAULT_BASE_URL);
    assert_eq!(settings.token_uri, None);
    assert_eq!(settings.policy.timeout, Duration::from_millis(1500));
    assert_eq!(settings.policy.max_attempts, 1);
    let debug = format!("{settings:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");

    let decoder = PlayIntegrityDecoder::new(settings).unwrap();
    let debug = format!("{decoder:?}");
    assert!(debug.contains(CLIENT_EMAIL), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");

    let missing = PlayIntegrityConfig {
        service_account_file: Some(dir.path().join("missing.json")),
        ..PlayIntegrityConfig::default()
    };
    let error = PlayIntegritySettings::from_config(&missing).unwrap_err();
    assert!(error.to_string().contains("missing.json"), "{error}");
}
