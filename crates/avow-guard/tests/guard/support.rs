//! Keys, token builders and configurations shared by the guard tests.

use std::time::Duration;

use avow_guard::{GuardConfig, Keys};
use avow_token::{AttestationClaim, Claims, Jwk, Jwks};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Verification time of every test, Unix seconds (2027-01-15T08:00:00Z).
pub(crate) const NOW: u64 = 1_800_000_000;
pub(crate) const ISSUER: &str = "https://avow.test";
pub(crate) const AUDIENCE: &str = "TEAMID1234.com.example.api";
pub(crate) const KID: &str = "signing-key-1";
pub(crate) const LEEWAY_SECS: u64 = 30;
pub(crate) const HMAC_SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// An ES256 key pair with its JWK.
pub(crate) struct EsKey {
    pair: EcdsaKeyPair,
    pub(crate) kid: String,
}

impl EsKey {
    pub(crate) fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        Self {
            pair,
            kid: kid.to_owned(),
        }
    }

    pub(crate) fn public_point(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub(crate) fn jwk(&self) -> Jwk {
        Jwk::from_point(self.kid.clone(), self.public_point()).unwrap()
    }

    pub(crate) fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk()],
        }
    }

    /// Signs `header` and `payload` (raw JSON text) into a compact JWS.
    pub(crate) fn sign_raw(&self, header: &str, payload: &str) -> String {
        let input = signing_input(header, payload);
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// Signs `payload` with the standard Avow header naming this key.
    pub(crate) fn sign(&self, payload: &Value) -> String {
        self.sign_raw(&es_header(&self.kid).to_string(), &payload.to_string())
    }
}

pub(crate) fn signing_input(header: &str, payload: &str) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

pub(crate) fn es_header(kid: &str) -> Value {
    json!({"alg": "ES256", "kid": kid, "typ": "avow+jwt"})
}

pub(crate) fn hs_header() -> Value {
    json!({"alg": "HS256", "typ": "avow+jwt"})
}

/// Signs `header` and `payload` (raw JSON text) with HMAC-SHA256 under `secret`.
pub(crate) fn hmac_sign_raw(secret: &[u8], header: &str, payload: &str) -> String {
    let input = signing_input(header, payload);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

pub(crate) fn hs_sign(payload: &Value) -> String {
    hmac_sign_raw(HMAC_SECRET, &hs_header().to_string(), &payload.to_string())
}

pub(crate) fn claims() -> Claims {
    Claims {
        iss: ISSUER.to_owned(),
        sub: "TEAMID1234.com.example".to_owned(),
        aud: AUDIENCE.to_owned(),
        iat: NOW - 10,
        exp: NOW + 290,
        nbf: None,
        jti: "jti-1".to_owned(),
        ins: Some("install-1".to_owned()),
        pay: None,
        att: AttestationClaim {
            prv: vec!["app_attest".to_owned()],
            trust: "hardware".to_owned(),
            app: "recognized".to_owned(),
            dev: "strong".to_owned(),
            flg: Vec::new(),
            env: Some("production".to_owned()),
            at: NOW - 10,
            via: "attestation".to_owned(),
            red: false,
        },
    }
}

pub(crate) fn claims_json() -> Value {
    serde_json::to_value(claims()).unwrap()
}

pub(crate) fn es_config(key: &EsKey) -> GuardConfig {
    GuardConfig::builder(Keys::Es256(key.jwks()), ISSUER, vec![AUDIENCE.to_owned()])
        .leeway(Duration::from_secs(LEEWAY_SECS))
        .build()
        .unwrap()
}

pub(crate) fn hs_config() -> GuardConfig {
    GuardConfig::builder(
        Keys::Hs256(Zeroizing::new(HMAC_SECRET.to_vec())),
        ISSUER,
        vec![AUDIENCE.to_owned()],
    )
    .leeway(Duration::from_secs(LEEWAY_SECS))
    .build()
    .unwrap()
}

/// Returns headers with `token` in `Avow-Token`.
pub(crate) fn token_headers(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("avow-token", HeaderValue::from_str(token).unwrap());
    headers
}
