//! Accepted tokens, header forms, leeway bounds, request binding and configuration checks.

use std::time::Duration;

use avow_guard::{ConfigError, GuardConfig, GuardError, Keys, TokenHeader, binding_hash, check};
use avow_token::Jwks;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue};
use serde_json::json;
use zeroize::Zeroizing;

use crate::support::{
    AUDIENCE, EsKey, HMAC_SECRET, ISSUER, KID, LEEWAY_SECS, NOW, claims, claims_json, es_config,
    hs_config, hs_sign, token_headers,
};

#[test]
fn es256_token_accepted() {
    let key = EsKey::generate(KID);
    let token = key.sign(&claims_json());

    let verified = check(&es_config(&key), &token_headers(&token), NOW).unwrap();

    assert_eq!(verified, claims());
}

#[test]
fn hs256_token_accepted() {
    let token = hs_sign(&claims_json());

    let verified = check(&hs_config(), &token_headers(&token), NOW).unwrap();

    assert_eq!(verified, claims());
}

#[test]
fn es256_key_chosen_by_kid() {
    let first = EsKey::generate("first");
    let second = EsKey::generate("second");
    let jwks = Jwks {
        keys: vec![first.jwk(), second.jwk()],
    };
    let config = GuardConfig::builder(Keys::Es256(jwks), ISSUER, vec![AUDIENCE.to_owned()])
        .build()
        .unwrap();

    for key in [&first, &second] {
        let token = key.sign(&claims_json());
        assert!(
            check(&config, &token_headers(&token), NOW).is_ok(),
            "{}",
            key.kid
        );
    }
}

#[test]
fn leeway_bounds_inclusive() {
    let config = hs_config();
    let mut payload = claims_json();
    payload["exp"] = json!(NOW - LEEWAY_SECS + 1);
    let token = hs_sign(&payload);
    assert!(check(&config, &token_headers(&token), NOW).is_ok());

    payload["exp"] = json!(NOW - LEEWAY_SECS);
    let token = hs_sign(&payload);
    let error = check(&config, &token_headers(&token), NOW).unwrap_err();
    assert_eq!(error.reason(), "token_expired");

    let mut payload = claims_json();
    payload["iat"] = json!(NOW + LEEWAY_SECS);
    let token = hs_sign(&payload);
    assert!(check(&config, &token_headers(&token), NOW).is_ok());
}

#[test]
fn bearer_header_accepted() {
    let config = GuardConfig::builder(
        Keys::Hs256(Zeroizing::new(HMAC_SECRET.to_vec())),
        ISSUER,
        vec![AUDIENCE.to_owned()],
    )
    .token_header(TokenHeader::AuthorizationBearer)
    .build()
    .unwrap();
    let token = hs_sign(&claims_json());

    for value in [format!("Bearer {token}"), format!("bearer {token}")] {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        assert!(check(&config, &headers, NOW).is_ok(), "{value}");
    }

    let cases = [
        (format!("Basic {token}"), GuardError::WrongScheme),
        (token.clone(), GuardError::WrongScheme),
        ("Bearer ".to_owned(), GuardError::MissingToken),
        ("Bearer".to_owned(), GuardError::MissingToken),
    ];
    for (value, expected) in cases {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        assert_eq!(
            check(&config, &headers, NOW).unwrap_err(),
            expected,
            "{value}"
        );
    }
    let headers = token_headers(&token);
    let error = check(&config, &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::MissingToken, "token in the wrong header");
}

#[test]
fn token_header_problems_rejected() {
    let config = hs_config();
    let token = hs_sign(&claims_json());

    let error = check(&config, &HeaderMap::new(), NOW).unwrap_err();
    assert_eq!(error, GuardError::MissingToken);

    let mut headers = token_headers(&token);
    headers.append("avow-token", HeaderValue::from_str(&token).unwrap());
    let error = check(&config, &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::RepeatedTokenHeader);

    let mut headers = HeaderMap::new();
    headers.insert("avow-token", HeaderValue::from_bytes(b"\xffabc").unwrap());
    let error = check(&config, &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::InvalidTokenHeader);
}

fn binding_config(required: bool) -> GuardConfig {
    GuardConfig::builder(
        Keys::Hs256(Zeroizing::new(HMAC_SECRET.to_vec())),
        ISSUER,
        vec![AUDIENCE.to_owned()],
    )
    .binding_header(AUTHORIZATION)
    .require_binding(required)
    .build()
    .unwrap()
}

fn bound_token(value: &[u8]) -> String {
    let mut payload = claims_json();
    payload["pay"] = json!(binding_hash(value));
    hs_sign(&payload)
}

#[test]
fn binding_match_accepted() {
    let token = bound_token(b"Basic dXNlcjpwYXNz");
    let mut headers = token_headers(&token);
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );

    for required in [false, true] {
        let verified = check(&binding_config(required), &headers, NOW).unwrap();
        assert_eq!(verified.pay, Some(binding_hash(b"Basic dXNlcjpwYXNz")));
    }
}

#[test]
fn binding_mismatch_rejected() {
    let config = binding_config(false);
    let token = bound_token(b"Basic dXNlcjpwYXNz");

    let mut headers = token_headers(&token);
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNy"),
    );
    let error = check(&config, &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::BindingMismatch);

    let headers = token_headers(&token);
    let error = check(&config, &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::BoundHeaderMissing);

    let mut headers = token_headers(&token);
    headers.append(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );
    headers.append(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );
    let error = check(&config, &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::RepeatedBoundHeader);
}

#[test]
fn unbound_token_follows_require_binding() {
    let token = hs_sign(&claims_json());
    let mut headers = token_headers(&token);
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );

    assert!(check(&binding_config(false), &headers, NOW).is_ok());
    let error = check(&binding_config(true), &headers, NOW).unwrap_err();
    assert_eq!(error, GuardError::BindingRequired);
}

#[test]
fn bound_token_without_binding_header_rejected() {
    let token = bound_token(b"Basic dXNlcjpwYXNz");
    let mut headers = token_headers(&token);
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );

    let error = check(&hs_config(), &headers, NOW).unwrap_err();

    assert_eq!(error, GuardError::BindingNotConfigured);
}

#[test]
fn binding_hash_is_base64url_sha256() {
    // SHA-256 of the empty string, base64url without padding.
    assert_eq!(
        binding_hash(b""),
        "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
    );
}

fn hs_keys(len: usize) -> Keys {
    Keys::Hs256(Zeroizing::new(vec![1; len]))
}

#[test]
fn invalid_config_rejected() {
    let audiences = || vec![AUDIENCE.to_owned()];
    let error = GuardConfig::builder(hs_keys(31), ISSUER, audiences())
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::HmacSecretTooShort { len: 31, min: 32 });

    let error = GuardConfig::builder(hs_keys(32), "", audiences())
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::EmptyIssuer);

    let error = GuardConfig::builder(hs_keys(32), ISSUER, Vec::new())
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::NoAudience);

    let error = GuardConfig::builder(Keys::Es256(Jwks::default()), ISSUER, audiences())
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::NoEs256Key);

    let error = GuardConfig::builder(hs_keys(32), ISSUER, audiences())
        .leeway(Duration::from_millis(1500))
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::InvalidLeeway);

    let error = GuardConfig::builder(hs_keys(32), ISSUER, audiences())
        .token_header(TokenHeader::AuthorizationBearer)
        .binding_header(AUTHORIZATION)
        .build()
        .unwrap_err();
    assert_eq!(
        error,
        ConfigError::BindingHeaderIsTokenHeader(AUTHORIZATION)
    );

    let error = GuardConfig::builder(hs_keys(32), ISSUER, audiences())
        .require_binding(true)
        .build()
        .unwrap_err();
    assert_eq!(error, ConfigError::BindingHeaderMissing);
}

#[test]
fn debug_output_hides_secret() {
    let secret = b"a-secret-that-must-not-be-logged";
    let keys = Keys::Hs256(Zeroizing::new(secret.to_vec()));
    let keys_text = format!("{keys:?}");
    let config = GuardConfig::builder(keys, ISSUER, vec![AUDIENCE.to_owned()])
        .build()
        .unwrap();
    let config_text = format!("{config:?}");

    for text in [keys_text, config_text] {
        assert!(!text.contains("must-not-be-logged"), "{text}");
        assert!(!text.contains("97, 45"), "{text}");
    }
}
