//! The SDK API: nonces, attestation and refresh.
//!
//! The client computes `clientDataHash` for App Attest calls as SHA-256 of the 32 raw nonce
//! bytes (the nonce from `POST /v1/challenge`, base64url-decoded), for both `attestKey` and
//! `generateAssertion`. The server recomputes it from the nonce it receives, so the client
//! never sends it.

use avow_attest::app_attest::{
    self, AppId, AssertionInput, AttestationCheck, AttestationInput, Environment,
};
use avow_attest::encoding::{decode_base64_any, encode_base64url};
use avow_store::{App, Install, NewNonce, NonceRejection};
use avow_token::{AttestationClaim, Claims};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

/// Provider name of Apple App Attest in verdicts, claims and logs.
const PROVIDER_APP_ATTEST: &str = "app_attest";
/// Nonce size in bytes.
const NONCE_LEN: usize = 32;

/// `POST /v1/challenge` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// The app asking for a nonce.
    pub app_id: String,
}

/// `POST /v1/challenge` response.
#[derive(Debug, Serialize)]
pub struct ChallengeResponse {
    /// 32 random bytes, base64url without padding. Single use.
    pub nonce: String,
    /// Unix seconds after which the nonce is rejected.
    pub expires_at: i64,
}

/// Issues a nonce bound to an app.
pub async fn challenge(
    State(state): State<AppState>,
    body: Result<Json<ChallengeRequest>, JsonRejection>,
) -> Result<Json<ChallengeResponse>, ApiError> {
    let Json(request) = body?;
    let app = find_app(&state, &request.app_id).await?;

    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| ApiError::internal(&"random generator failed"))?;
    let now = state.now();
    let expires_at = now + i64::try_from(state.config.nonce.ttl_secs).unwrap_or(i64::MAX / 2);
    state
        .store
        .insert_nonce(&NewNonce {
            hash: avow_attest::sha256(&nonce).to_vec(),
            app_id: app.id.clone(),
            issued_at: now,
            expires_at,
        })
        .await?;
    Ok(Json(ChallengeResponse {
        nonce: encode_base64url(&nonce),
        expires_at,
    }))
}

/// `POST /v1/attest` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestRequest {
    /// The app the evidence is for.
    pub app_id: String,
    /// The nonce from `POST /v1/challenge`, in any base64 variant.
    pub nonce: String,
    /// The evidence, one member per provider.
    pub evidence: Evidence,
}

/// Evidence by provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// Apple App Attest attestation.
    pub app_attest: Option<AppAttestEvidence>,
}

/// Apple App Attest attestation evidence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAttestEvidence {
    /// The key id returned by `generateKey`, in any base64 variant.
    pub key_id: String,
    /// The attestation object returned by `attestKey`, in any base64 variant.
    pub attestation_object: String,
}

/// Token response of `POST /v1/attest` and `POST /v1/refresh`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The signed token.
    pub token: String,
    /// Unix seconds at which the token expires.
    pub expires_at: u64,
    /// The install the token was issued to.
    pub install_id: String,
}

/// Verifies an App Attest attestation and issues a token.
pub async fn attest(
    State(state): State<AppState>,
    body: Result<Json<AttestRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(request) = body?;
    let app = find_app(&state, &request.app_id).await?;
    let Some(evidence) = request.evidence.app_attest else {
        return Err(ApiError::bad_request(
            "missing_evidence",
            "evidence.app_attest is required",
        ));
    };
    let (app_id, environment) = app_attest_identity(&app)?;
    let nonce = decode_nonce(&request.nonce)?;
    let key_id = decode_key_id(&evidence.key_id)?;
    let attestation_object = decode_base64_any(&evidence.attestation_object).map_err(|_| {
        ApiError::bad_request(
            "invalid_attestation_encoding",
            "evidence.app_attest.attestation_object is not base64",
        )
    })?;

    consume_nonce(&state, &nonce, &app.id).await?;

    let client_data_hash = avow_attest::sha256(&nonce);
    let input = AttestationInput {
        attestation_object: &attestation_object,
        key_id: &key_id,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        environment,
    };
    let now = state.now();
    let report = app_attest::verify_attestation_report(&input, &state.app_attest_roots, unix(now));
    if let Some((check, error)) = report.first_failure() {
        log_decision(&app.id, "deny", error.reason());
        let status = if check == AttestationCheck::Structure {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::FORBIDDEN
        };
        return Err(ApiError::new(status, error.reason(), error.to_string()));
    }
    let verified = report
        .into_result()
        .map_err(|error| ApiError::internal(&error))?;

    let verdict = serde_json::json!({
        "provider": PROVIDER_APP_ATTEST,
        "environment": verified.environment().as_str(),
        "bundle_version": verified.extensions().and_then(|e| e.bundle_version.clone()),
    });
    let install = state
        .store
        .upsert_install(&Install {
            id: new_install_id()?,
            app_id: app.id.clone(),
            key_id: verified.key_id().to_vec(),
            public_key: verified.public_key().to_vec(),
            counter: 0,
            environment: verified.environment().as_str().to_owned(),
            receipt: verified.receipt().to_vec(),
            verdict: verdict.to_string(),
            attested_at: now,
            last_seen_at: now,
        })
        .await?;

    log_decision(&app.id, "allow", "attested");
    issue_token(&state, &app, &install, "attestation").map(Json)
}

/// `POST /v1/refresh` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The app the proof is for.
    pub app_id: String,
    /// A fresh nonce from `POST /v1/challenge`, in any base64 variant.
    pub nonce: String,
    /// The proof of possession, one member per provider.
    pub proof: Proof,
}

/// Proof of possession by provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Apple App Attest assertion.
    pub app_attest: Option<AppAttestProof>,
}

/// Apple App Attest assertion over the nonce.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAttestProof {
    /// The attested key id, in any base64 variant.
    pub key_id: String,
    /// The assertion returned by `generateAssertion`, in any base64 variant.
    pub assertion: String,
}

/// Verifies an App Attest assertion with the stored key and counter, and issues a token.
pub async fn refresh(
    State(state): State<AppState>,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(request) = body?;
    let app = find_app(&state, &request.app_id).await?;
    let Some(proof) = request.proof.app_attest else {
        return Err(ApiError::bad_request(
            "missing_proof",
            "proof.app_attest is required",
        ));
    };
    let (app_id, _) = app_attest_identity(&app)?;
    let nonce = decode_nonce(&request.nonce)?;
    let key_id = decode_key_id(&proof.key_id)?;
    let assertion = decode_base64_any(&proof.assertion).map_err(|_| {
        ApiError::bad_request(
            "invalid_assertion_encoding",
            "proof.app_attest.assertion is not base64",
        )
    })?;

    let install = state
        .store
        .install(&app.id, &key_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "install_not_found",
                "no attested key with this key id for this app; attest it with POST /v1/attest",
            )
        })?;
    let public_key: [u8; 65] = install
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal(&"stored public key is not 65 bytes"))?;

    consume_nonce(&state, &nonce, &app.id).await?;

    let client_data_hash = avow_attest::sha256(&nonce);
    let stored_counter = u32::try_from(install.counter).unwrap_or(u32::MAX);
    let input = AssertionInput {
        assertion: &assertion,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        public_key: &public_key,
        stored_counter,
    };
    let report = app_attest::verify_assertion_report(&input);
    if let Some((check, error)) = report.first_failure() {
        log_decision(&app.id, "deny", error.reason());
        let status = if check == app_attest::AssertionCheck::Structure {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::FORBIDDEN
        };
        return Err(ApiError::new(status, error.reason(), error.to_string()));
    }
    let verified = report
        .into_result()
        .map_err(|error| ApiError::internal(&error))?;

    let now = state.now();
    let advanced = state
        .store
        .advance_counter(&app.id, &key_id, i64::from(verified.counter()), now)
        .await?;
    if !advanced {
        // A concurrent request stored this counter or a higher one first.
        log_decision(&app.id, "deny", "counter_not_increased");
        return Err(ApiError::forbidden(
            "counter_not_increased",
            "assertion counter is not greater than the stored counter",
        ));
    }

    log_decision(&app.id, "allow", "assertion");
    issue_token(&state, &app, &install, "assertion").map(Json)
}

async fn find_app(state: &AppState, app_id: &str) -> Result<App, ApiError> {
    state.store.app(app_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "app_not_found",
            format!("no app with id {app_id:?} is registered"),
        )
    })
}

fn app_attest_identity(app: &App) -> Result<(AppId, Environment), ApiError> {
    let app_id = AppId::parse(&app.id).ok_or_else(|| {
        ApiError::internal(&format_args!("stored app id {:?} is invalid", app.id))
    })?;
    let environment = Environment::parse(&app.environment).ok_or_else(|| {
        ApiError::internal(&format_args!(
            "stored environment of {:?} is invalid",
            app.id
        ))
    })?;
    Ok((app_id, environment))
}

fn decode_nonce(encoded: &str) -> Result<Vec<u8>, ApiError> {
    match decode_base64_any(encoded) {
        Ok(nonce) if nonce.len() == NONCE_LEN => Ok(nonce),
        _ => Err(ApiError::bad_request(
            "invalid_nonce",
            "nonce must be the 32-byte value from POST /v1/challenge, in base64",
        )),
    }
}

fn decode_key_id(encoded: &str) -> Result<Vec<u8>, ApiError> {
    match decode_base64_any(encoded) {
        Ok(key_id) if key_id.len() == 32 => Ok(key_id),
        _ => Err(ApiError::bad_request(
            "invalid_key_id",
            "key_id must be the 32-byte App Attest key id, in base64",
        )),
    }
}

async fn consume_nonce(state: &AppState, nonce: &[u8], app_id: &str) -> Result<(), ApiError> {
    let hash = avow_attest::sha256(nonce);
    let outcome = state
        .store
        .consume_nonce(&hash, app_id, state.now())
        .await?;
    let Err(rejection) = outcome else {
        return Ok(());
    };
    let (reason, message) = match rejection {
        NonceRejection::AppMismatch => ("nonce_app_mismatch", "nonce was issued to another app"),
        NonceRejection::Expired => ("nonce_expired", "nonce has expired; request a new one"),
        NonceRejection::Replayed => ("nonce_replayed", "nonce was already used"),
        NonceRejection::Unknown => ("nonce_unknown", "nonce was not issued by this server"),
    };
    log_decision(app_id, "deny", reason);
    Err(ApiError::forbidden(reason, message))
}

fn issue_token(
    state: &AppState,
    app: &App,
    install: &Install,
    via: &str,
) -> Result<TokenResponse, ApiError> {
    let now = u64::try_from(state.now()).unwrap_or(0);
    let expires_at = now + state.config.token.lifetime_secs;
    let claims = Claims {
        iss: state.config.issuer.clone(),
        sub: app.id.clone(),
        aud: app.id.clone(),
        iat: now,
        exp: expires_at,
        jti: avow_token::new_token_id().map_err(|error| ApiError::internal(&error))?,
        ins: install.id.clone(),
        att: AttestationClaim {
            prv: PROVIDER_APP_ATTEST.to_owned(),
            env: install.environment.clone(),
            at: u64::try_from(install.attested_at).unwrap_or(0),
            via: via.to_owned(),
        },
    };
    let token = state
        .key_ring
        .signer()
        .sign(&claims)
        .map_err(|error| ApiError::internal(&error))?;
    Ok(TokenResponse {
        token,
        expires_at,
        install_id: install.id.clone(),
    })
}

fn new_install_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ApiError::internal(&"random generator failed"))?;
    Ok(encode_base64url(&bytes))
}

fn unix(seconds: i64) -> avow_attest::UnixTime {
    avow_attest::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(seconds).unwrap_or(0),
    ))
}

fn log_decision(app_id: &str, verdict: &str, reason: &str) {
    tracing::info!(
        target: "avow::decision",
        app_id,
        provider = PROVIDER_APP_ATTEST,
        verdict,
        reason,
        "decision"
    );
}
