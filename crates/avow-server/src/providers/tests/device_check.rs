use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
};
use zeroize::Zeroizing;

use super::{DecodedJwt, ManualClock, MockServer, Reply, fast_policy, pem, refused_base_url};
use crate::config::DeviceCheckConfig;
use crate::providers::device_check::{DEVELOPER_TOKEN_REFRESH, PRODUCTION_BASE_URL};
use crate::providers::{
    CallPolicy, DeviceCheckClient, DeviceCheckEnvironment, DeviceCheckSettings, ProviderError,
    TwoBits, TwoBitsState,
};

const TEAM_ID: &str = "TEAM123456";
const KEY_ID: &str = "KEY7654321";
const DEVICE_TOKEN: &str = "QUFBQUJCQkJDQ0NDREREREVFRUU=";
const VALIDATE: &str = "/v1/validate_device_token";
const QUERY: &str = "/v1/query_two_bits";
const UPDATE: &str = "/v1/update_two_bits";

/// A freshly generated `.p8`-style key: PKCS#8 PEM, and the public point to verify with.
struct TestKey {
    pem: String,
    public_key: Vec<u8>,
}

fn test_key() -> TestKey {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let key_pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    TestKey {
        pem: pem("PRIVATE KEY", pkcs8.as_ref()),
        public_key: key_pair.public_key().as_ref().to_vec(),
    }
}

fn client(base_url: &str, key: &TestKey, policy: CallPolicy) -> DeviceCheckClient {
    DeviceCheckClient::new(DeviceCheckSettings {
        base_url: base_url.to_owned(),
        team_id: TEAM_ID.to_owned(),
        key_id: KEY_ID.to_owned(),
        private_key_pem: Zeroizing::new(key.pem.clone().into_bytes()),
        policy,
    })
    .unwrap()
}

fn unix_millis() -> i64 {
    crate::unix_now() * 1000
}

#[tokio::test]
async fn validate_sends_documented_request() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(200, "")])]).await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    let before_ms = unix_millis();
    client.validate(DEVICE_TOKEN).await.unwrap();
    let after_ms = unix_millis() + 1000;

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, VALIDATE);
    assert_eq!(request.header("content-type"), "application/json");

    let body = request.json();
    let fields = body.as_object().unwrap();
    assert_eq!(fields.len(), 3, "{body}");
    assert_eq!(body["device_token"], DEVICE_TOKEN);
    let transaction_id = body["transaction_id"].as_str().unwrap();
    assert_eq!(transaction_id.len(), 32);
    let timestamp = body["timestamp"].as_i64().unwrap();
    assert!(
        (before_ms - 1000..=after_ms).contains(&timestamp),
        "{timestamp}"
    );

    let jwt = DecodedJwt::parse(request.bearer());
    assert_eq!(
        jwt.header,
        serde_json::json!({ "alg": "ES256", "kid": KEY_ID })
    );
    assert_eq!(jwt.claims["iss"], TEAM_ID);
    let issued_at = jwt.claims["iat"].as_i64().unwrap();
    assert!(
        (crate::unix_now() - 60..=crate::unix_now()).contains(&issued_at),
        "{issued_at}"
    );
    assert_eq!(jwt.signature.len(), 64, "ES256 signatures are r‖s");
    jwt.verify(&ECDSA_P256_SHA256_FIXED, &key.public_key);
}

#[tokio::test]
async fn query_two_bits_reads_bits() {
    let key = test_key();
    let bits = serde_json::json!({ "bit0": true, "bit1": false, "last_update_time": "2024-05" });
    let mock = MockServer::start(vec![(QUERY, vec![Reply::json(200, &bits)])]).await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    let state = client.query_two_bits(DEVICE_TOKEN).await.unwrap();

    assert_eq!(
        state,
        TwoBitsState::Set(TwoBits {
            bit0: true,
            bit1: false,
            last_update_time: Some("2024-05".to_owned()),
        })
    );
    let request = &mock.requests()[0];
    assert_eq!(request.path, QUERY);
    assert!(request.json().get("bit0").is_none());
}

#[tokio::test]
async fn query_two_bits_not_set() {
    let key = test_key();
    let mock = MockServer::start(vec![(
        QUERY,
        vec![Reply::status(200, "Failed to find bit state")],
    )])
    .await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    assert_eq!(
        client.query_two_bits(DEVICE_TOKEN).await,
        Ok(TwoBitsState::NotSet)
    );
}

#[tokio::test]
async fn query_two_bits_garbage_invalid() {
    let key = test_key();
    let mock =
        MockServer::start(vec![(QUERY, vec![Reply::status(200, "<html>oops</html>")])]).await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    let error = client.query_two_bits(DEVICE_TOKEN).await.unwrap_err();

    assert!(
        matches!(error, ProviderError::InvalidResponse { .. }),
        "{error:?}"
    );
    assert_eq!(mock.count(QUERY), 1, "an invalid response is not retried");
}

#[tokio::test]
async fn update_two_bits_sends_bits() {
    let key = test_key();
    let mock = MockServer::start(vec![(UPDATE, vec![Reply::status(200, "")])]).await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    client
        .update_two_bits(DEVICE_TOKEN, true, false)
        .await
        .unwrap();

    let body = mock.requests()[0].json();
    assert_eq!(body["device_token"], DEVICE_TOKEN);
    assert_eq!(body["bit0"], serde_json::Value::Bool(true));
    assert_eq!(body["bit1"], serde_json::Value::Bool(false));
    assert!(body["transaction_id"].is_string());
    assert!(body["timestamp"].is_u64());
}

#[tokio::test]
async fn bad_device_token_rejected_once() {
    let key = test_key();
    let message = "Missing or incorrectly formatted device token payload";
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(400, message)])]).await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    let error = client.validate(DEVICE_TOKEN).await.unwrap_err();

    assert_eq!(
        error,
        ProviderError::Rejected {
            status: 400,
            message: message.to_owned(),
        }
    );
    assert_eq!(mock.count(VALIDATE), 1, "a 400 is not retried");
}

#[tokio::test]
async fn bad_developer_token_unauthorized_once() {
    let key = test_key();
    let mock = MockServer::start(vec![(
        VALIDATE,
        vec![Reply::status(401, "Unable to verify authorization token")],
    )])
    .await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Unauthorized)
    );
    assert_eq!(mock.count(VALIDATE), 1, "a 401 is not retried");
}

#[tokio::test]
async fn unauthorized_mints_new_developer_token() {
    let key = test_key();
    let mock = MockServer::start(vec![(
        VALIDATE,
        vec![Reply::status(401, ""), Reply::status(200, "")],
    )])
    .await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Unauthorized)
    );
    client.validate(DEVICE_TOKEN).await.unwrap();

    let requests = mock.requests();
    assert_ne!(requests[0].bearer(), requests[1].bearer());
}

#[tokio::test]
async fn server_error_retried_once() {
    let key = test_key();
    let mock = MockServer::start(vec![(
        VALIDATE,
        vec![Reply::status(500, ""), Reply::status(200, "")],
    )])
    .await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    client.validate(DEVICE_TOKEN).await.unwrap();

    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].json()["transaction_id"],
        requests[1].json()["transaction_id"],
        "a retry repeats the same transaction"
    );
}

#[tokio::test]
async fn persistent_outage_unavailable() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(503, "")])]).await;
    let policy = CallPolicy {
        max_attempts: 3,
        ..fast_policy(ManualClock::new().clock)
    };
    let client = client(&mock.base_url, &key, policy);

    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Unavailable { status: Some(503) })
    );
    assert_eq!(mock.count(VALIDATE), 3);
}

#[tokio::test]
async fn long_retry_after_not_waited() {
    let key = test_key();
    let mock = MockServer::start(vec![(
        VALIDATE,
        vec![Reply::with_header(429, "retry-after", "120")],
    )])
    .await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Throttled {
            retry_after: Some(Duration::from_secs(120))
        })
    );
    assert_eq!(mock.count(VALIDATE), 1);
}

#[tokio::test]
async fn short_retry_after_retried() {
    let key = test_key();
    let mock = MockServer::start(vec![(
        VALIDATE,
        vec![
            Reply::with_header(429, "retry-after", "0"),
            Reply::status(200, ""),
        ],
    )])
    .await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    client.validate(DEVICE_TOKEN).await.unwrap();
    assert_eq!(mock.count(VALIDATE), 2);
}

#[tokio::test]
async fn throttled_on_last_attempt() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(429, "")])]).await;
    let client = client(&mock.base_url, &key, fast_policy(ManualClock::new().clock));

    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Throttled { retry_after: None })
    );
    assert_eq!(mock.count(VALIDATE), 2);
}

#[tokio::test]
async fn silent_provider_times_out() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::Hang])]).await;
    let policy = CallPolicy {
        timeout: Duration::from_millis(300),
        ..fast_policy(ManualClock::new().clock)
    };
    let client = client(&mock.base_url, &key, policy);

    let started = Instant::now();
    let result = client.validate(DEVICE_TOKEN).await;
    let elapsed = started.elapsed();

    assert_eq!(result, Err(ProviderError::Timeout));
    assert_eq!(mock.count(VALIDATE), 2, "a timeout is retried once");
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn refused_connection_unavailable() {
    let key = test_key();
    let client = client(
        &refused_base_url(),
        &key,
        fast_policy(ManualClock::new().clock),
    );

    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Unavailable { status: None })
    );
}

#[tokio::test]
async fn breaker_fails_fast_then_recovers() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(503, "")])]).await;
    let clock = ManualClock::new();
    let policy = CallPolicy {
        max_attempts: 1,
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(30),
        ..fast_policy(clock.clock.clone())
    };
    let client = client(&mock.base_url, &key, policy);

    for _ in 0..3 {
        assert_eq!(
            client.validate(DEVICE_TOKEN).await,
            Err(ProviderError::Unavailable { status: Some(503) })
        );
    }
    assert_eq!(mock.count(VALIDATE), 3);

    for _ in 0..5 {
        assert_eq!(
            client.validate(DEVICE_TOKEN).await,
            Err(ProviderError::Unavailable { status: None })
        );
    }
    assert_eq!(mock.count(VALIDATE), 3, "an open breaker sends nothing");

    clock.advance(Duration::from_secs(29));
    assert_eq!(
        client.validate(DEVICE_TOKEN).await,
        Err(ProviderError::Unavailable { status: None })
    );
    assert_eq!(mock.count(VALIDATE), 3);

    mock.script(VALIDATE, vec![Reply::status(200, "")]);
    clock.advance(Duration::from_secs(1));
    client.validate(DEVICE_TOKEN).await.unwrap();
    client.validate(DEVICE_TOKEN).await.unwrap();
    assert_eq!(
        mock.count(VALIDATE),
        5,
        "the breaker closed after the probe"
    );
}

#[tokio::test]
async fn breaker_ignores_rejections() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(400, "bad token")])]).await;
    let policy = CallPolicy {
        breaker_threshold: 2,
        ..fast_policy(ManualClock::new().clock)
    };
    let client = client(&mock.base_url, &key, policy);

    for _ in 0..4 {
        let error = client.validate(DEVICE_TOKEN).await.unwrap_err();
        assert!(matches!(error, ProviderError::Rejected { .. }), "{error:?}");
    }
    assert_eq!(mock.count(VALIDATE), 4);
}

#[tokio::test]
async fn developer_token_cached_then_reminted() {
    let key = test_key();
    let mock = MockServer::start(vec![(VALIDATE, vec![Reply::status(200, "")])]).await;
    let clock = ManualClock::new();
    let client = client(&mock.base_url, &key, fast_policy(clock.clock.clone()));

    client.validate(DEVICE_TOKEN).await.unwrap();
    clock.advance(DEVELOPER_TOKEN_REFRESH - Duration::from_secs(1));
    client.validate(DEVICE_TOKEN).await.unwrap();
    clock.advance(Duration::from_secs(1));
    client.validate(DEVICE_TOKEN).await.unwrap();

    let requests = mock.requests();
    // ECDSA signatures are randomised, so equal strings mean the same cached JWT.
    assert_eq!(requests[0].bearer(), requests[1].bearer());
    assert_ne!(requests[1].bearer(), requests[2].bearer());
    DecodedJwt::parse(requests[2].bearer()).verify(&ECDSA_P256_SHA256_FIXED, &key.public_key);
}

#[test]
fn invalid_keys_rejected() {
    let settings = |pem: &str| DeviceCheckSettings {
        base_url: "http://127.0.0.1:9".to_owned(),
        team_id: TEAM_ID.to_owned(),
        key_id: KEY_ID.to_owned(),
        private_key_pem: Zeroizing::new(pem.as_bytes().to_vec()),
        policy: CallPolicy::default(),
    };
    let not_pem = DeviceCheckClient::new(settings("not a key")).unwrap_err();
    assert!(matches!(not_pem, ProviderError::Config(_)), "{not_pem:?}");
    let not_p256 =
        DeviceCheckClient::new(settings(&pem("PRIVATE KEY", b"\x30\x03\x02\x01\x00"))).unwrap_err();
    assert!(matches!(not_p256, ProviderError::Config(_)), "{not_p256:?}");
}

#[test]
fn plain_http_base_url_rejected() {
    let key = test_key();
    let error = DeviceCheckClient::new(DeviceCheckSettings {
        base_url: "http://provider.example".to_owned(),
        team_id: TEAM_ID.to_owned(),
        key_id: KEY_ID.to_owned(),
        private_key_pem: Zeroizing::new(key.pem.into_bytes()),
        policy: CallPolicy::default(),
    })
    .unwrap_err();
    assert!(matches!(error, ProviderError::Config(_)), "{error:?}");
}

#[test]
fn settings_from_config() {
    let key = test_key();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("AuthKey.p8");
    std::fs::write(&path, &key.pem).unwrap();

    assert!(
        DeviceCheckSettings::from_config(&DeviceCheckConfig::default())
            .unwrap()
            .is_none()
    );

    let config = DeviceCheckConfig {
        team_id: Some(TEAM_ID.to_owned()),
        key_id: Some(KEY_ID.to_owned()),
        private_key_file: Some(path),
        timeout_ms: 750,
        max_attempts: 3,
        ..DeviceCheckConfig::default()
    };
    let settings = DeviceCheckSettings::from_config(&config).unwrap().unwrap();
    assert_eq!(settings.base_url, PRODUCTION_BASE_URL);
    assert_eq!(settings.policy.timeout, Duration::from_millis(750));
    assert_eq!(settings.policy.max_attempts, 3);
    assert_eq!(settings.private_key_pem.as_slice(), key.pem.as_bytes());
    let debug = format!("{settings:?}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    DeviceCheckClient::new(settings).unwrap();

    let development = DeviceCheckConfig {
        environment: DeviceCheckEnvironment::Development,
        ..config
    };
    assert_eq!(
        DeviceCheckSettings::from_config(&development)
            .unwrap()
            .unwrap()
            .base_url,
        "https://api.development.devicecheck.apple.com"
    );
}

#[test]
fn settings_from_config_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.p8");
    let config = DeviceCheckConfig {
        team_id: Some(TEAM_ID.to_owned()),
        key_id: Some(KEY_ID.to_owned()),
        private_key_file: Some(path.clone()),
        ..DeviceCheckConfig::default()
    };
    let error = DeviceCheckSettings::from_config(&config).unwrap_err();
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    let without_team = DeviceCheckConfig {
        team_id: None,
        ..config
    };
    let error = DeviceCheckSettings::from_config(&without_team).unwrap_err();
    assert!(error.to_string().contains("team_id"), "{error}");
}
