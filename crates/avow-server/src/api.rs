//! The SDK API: nonces, attestation and refresh.
//!
//! `docs/protocol.md` is the client's contract. Every attestation and every refresh consumes a
//! fresh nonce from `POST /v1/challenge`. App Attest clients pass SHA-256 of the 32 nonce bytes
//! as `clientDataHash`, and the other providers carry the nonce bytes themselves or sign them.
//! Each request is then judged by the app's policy (`crate::decide`).

use avow_attest::app_attest::{self, AppId, AssertionInput};
use avow_attest::encoding::{decode_base64_any, encode_base64url};
use avow_attest::verdict::{Provider, Verdict};
use avow_store::{App, Install, NewNonce, NonceRejection};
use avow_token::{AttestationClaim, Claims};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use avow_policy::{
    AppVersion, OutageDecision, OutageSubject, Outcome, Platform, QuotaState, RefreshDecision,
    RefreshSubject, Subject, evaluate, evaluate_outage, evaluate_refresh,
};

use crate::AppState;
use crate::decide::{self, DecisionContext, Denial, PeerAddr, VerdictRecord, platform_of};
use crate::error::ApiError;
use crate::evidence::{self, Evidence, EvidenceError};
use crate::policy::ActivePolicy;

/// Nonce size in bytes.
const NONCE_LEN: usize = 32;
/// Seconds a client is asked to wait after a provider outage before it retries.
const PROVIDER_RETRY_AFTER_SECS: u64 = 30;

/// Error reasons of `avow-attest` that mean the evidence is malformed rather than rejected.
const MALFORMED_EVIDENCE_REASONS: &[&str] = &[
    "input_too_large",
    "malformed_cbor",
    "cbor_duplicate_key",
    "cbor_too_deep",
    "cbor_map_too_large",
    "trailing_bytes",
    "missing_field",
    "unsupported_format",
    "invalid_authenticator_data",
    "malformed_jws",
    "malformed_jwe",
    "malformed_payload",
    "malformed_measurement",
];

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
    /// The region the client declares. Recorded, never trusted to choose the market.
    #[serde(default)]
    pub region: Option<String>,
}

/// Token response of `POST /v1/attest` and `POST /v1/refresh`.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The signed token.
    pub token: String,
    /// Unix seconds at which the token expires.
    pub expires_at: u64,
    /// The install the token was issued to, when the evidence registered a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_id: Option<String>,
    /// The key id to send with refreshes, base64url, when the evidence registered a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The verdict behind the token.
    pub verdict: AttestationClaim,
    /// The version of the app's latest pin document, when it has one. An app holding a lower
    /// version fetches `GET /v1/pins`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pins_version: Option<u64>,
}

/// Verifies the evidence of every provider in the request, applies the app's policy and
/// issues a token.
pub async fn attest(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Result<Json<AttestRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, Response> {
    let Json(request) = body.map_err(|rejection| ApiError::from(rejection).into_response())?;
    let app = find_app(&state, &request.app_id)
        .await
        .map_err(IntoResponse::into_response)?;
    let nonce = decode_nonce(&request.nonce).map_err(IntoResponse::into_response)?;
    evidence::precheck(&app, &request.evidence)
        .map_err(|error| evidence_error_response(&state, &app.id, error))?;
    consume_nonce(&state, &nonce, &app.id)
        .await
        .map_err(IntoResponse::into_response)?;

    let now = state.now();
    let active = state
        .policies
        .active(state.store.as_ref(), &app.id)
        .await
        .map_err(|error| ApiError::internal(&error).into_response())?;
    let resolution = state
        .markets
        .resolve(&headers, peer, request.region.as_deref());
    let market = resolution.market().map(|market| market.as_str().to_owned());

    let verified = match evidence::verify(&state, &app, &request.evidence, &nonce, now).await {
        Ok(verified) => verified,
        Err(EvidenceError::ProviderUnavailable(provider, error)) => {
            state
                .metrics
                .provider_outage(provider.as_str(), error.reason());
            return Err(outage_response(
                &state,
                &app,
                &active,
                market.as_deref(),
                provider,
                None,
                now,
            )
            .await);
        }
        Err(error) => return Err(evidence_error_response(&state, &app.id, error)),
    };

    let existing = match &verified.key {
        Some(key) => state
            .store
            .install(&app.id, &key.key_id)
            .await
            .map_err(|error| ApiError::from(error).into_response())?,
        None => None,
    };
    let debug_device = match &verified.key {
        Some(key) => state
            .store
            .is_debug_device(&app.id, &key.key_id, now)
            .await
            .map_err(|error| ApiError::from(error).into_response())?,
        None => false,
    };
    let platform = platform_of(&app);
    let app_version = verified
        .app_version
        .as_deref()
        .and_then(|version| parse_app_version(platform, version));
    let decision = evaluate(
        &active.policy,
        &Subject {
            platform,
            market: market.as_deref(),
            verdict: &verified.combined,
            providers: &verified.providers,
            app_version,
            debug_device,
            banned: existing
                .as_ref()
                .is_some_and(|install| install.ban.is_some()),
        },
    );

    let providers: Vec<String> = verified
        .providers
        .iter()
        .map(|provider| provider.as_str().to_owned())
        .collect();
    let environment = verified
        .key
        .as_ref()
        .and_then(|key| key.environment)
        .map(|environment| environment.as_str().to_owned());
    let claim = verdict_claim(
        &verified.combined,
        providers,
        environment,
        now,
        "attestation",
    );

    let install = match (&verified.key, decision.enforced_outcome) {
        (Some(key), Outcome::Allow) => {
            let stored = StoredVerdict {
                claim: claim.clone(),
                device_check_bits: verified.device_check_bits,
                verdict: Some(VerdictRecord::from_verdict(&verified.combined)),
                app_version: verified.app_version.clone(),
            };
            let install = state
                .store
                .upsert_install(&Install {
                    id: new_install_id().map_err(IntoResponse::into_response)?,
                    app_id: app.id.clone(),
                    key_id: key.key_id.clone(),
                    public_key: key.public_key.clone(),
                    counter: 0,
                    environment: claim.env.clone().unwrap_or_default(),
                    receipt: key.receipt.clone(),
                    verdict: serde_json::to_string(&stored)
                        .map_err(|error| ApiError::internal(&error).into_response())?,
                    attested_at: now,
                    last_seen_at: now,
                    provider: key.provider.as_str().to_owned(),
                    ban: None,
                })
                .await
                .map_err(|error| ApiError::from(error).into_response())?;
            Some(install)
        }
        _ => existing,
    };
    count_quota(&state, &app, &verified.providers, now).await;

    decide::record(
        &state,
        DecisionContext {
            kind: "attest",
            app: &app,
            install_id: install.as_ref().map(|install| install.id.as_str()),
            providers: &verified.providers,
            verdict: Some(&verified.combined),
            app_version: verified.app_version.as_deref(),
            policy_version: active.version,
            market: &decision.market,
            outcome: decision.outcome,
            enforced_outcome: decision.enforced_outcome,
            reasons: decision.reason_codes(),
            now,
        },
        false,
    )
    .await;

    if decision.enforced_outcome == Outcome::Deny {
        return Err(deny_response(&state, &app, &decision, claim, now).await);
    }
    state.metrics.token_issued(&app.id, "attest");
    issue_token(
        &state,
        &app,
        install.as_ref(),
        claim,
        decision.token_lifetime_secs,
    )
    .await
    .map(Json)
    .map_err(IntoResponse::into_response)
}

/// Counts the provider calls that spend a daily quota, and publishes their use.
async fn count_quota(state: &AppState, app: &App, providers: &[Provider], now: i64) {
    if !providers.contains(&Provider::PlayIntegrity) {
        return;
    }
    let limit = state.config.quota.play_integrity_per_app_per_day;
    let day = decide::quota_day(now);
    let scope = QUOTA_SCOPE_PLAY_INTEGRITY;
    let limit_i64 = i64::try_from(limit).unwrap_or(i64::MAX);
    match state
        .store
        .increment_daily_counter(scope, &app.id, &day, limit_i64)
        .await
    {
        Ok(Some(used)) => {
            state.metrics.quota(
                "play_integrity",
                &app.id,
                u64::try_from(used).unwrap_or(0),
                limit,
            );
        }
        Ok(None) => {
            // The app already spent its budget; Google enforces the limit itself, so this
            // call was one of its last. The gauge shows the budget as used up.
            state.metrics.quota("play_integrity", &app.id, limit, limit);
            tracing::warn!(app_id = %app.id, limit, "Play Integrity daily quota used up");
        }
        Err(error) => {
            tracing::error!(%error, app_id = %app.id, "counting Play Integrity quota failed");
        }
    }
}

/// Returns the quota state of the provider a new attestation of `app` would call.
async fn quota_state(state: &AppState, app: &App, now: i64) -> QuotaState {
    if app.platform != "android" {
        return QuotaState::Unmetered;
    }
    let limit = state.config.quota.play_integrity_per_app_per_day;
    let used = state
        .store
        .daily_counter(QUOTA_SCOPE_PLAY_INTEGRITY, &app.id, &decide::quota_day(now))
        .await
        .unwrap_or(0);
    let used = u64::try_from(used).unwrap_or(0);
    QuotaState::Budget {
        remaining: limit.saturating_sub(used),
        limit,
    }
}

/// The daily counter scope of Play Integrity calls per app.
pub const QUOTA_SCOPE_PLAY_INTEGRITY: &str = "quota:play_integrity";
/// The daily counter scope of reduced-trust tokens per install.
const REDUCED_SCOPE: &str = "reduced_tokens";

fn parse_app_version(platform: Platform, version: &str) -> Option<AppVersion> {
    match platform {
        Platform::Android => version.parse::<u64>().ok().map(AppVersion::Android),
        Platform::Ios => version.parse().ok().map(AppVersion::Ios),
    }
}

/// Builds the response to a request whose provider is unavailable, as the policy decides:
/// deny, request other providers, or issue a short reduced-trust token to a known install.
async fn outage_response(
    state: &AppState,
    app: &App,
    active: &ActivePolicy,
    market: Option<&str>,
    provider: Provider,
    install: Option<&Install>,
    now: i64,
) -> Response {
    let reduced_today = match install {
        Some(install) => state
            .store
            .daily_counter(REDUCED_SCOPE, &install.id, &decide::utc_day(now))
            .await
            .unwrap_or(0),
        None => 0,
    };
    let decision = evaluate_outage(
        &active.policy,
        &OutageSubject {
            platform: platform_of(app),
            market,
            provider,
            has_install: install.is_some(),
            reduced_issued_today: u32::try_from(reduced_today).unwrap_or(u32::MAX),
            banned: install.is_some_and(|install| install.ban.is_some()),
        },
    );
    let market_label = active.policy.resolve_market(market);
    let record = |outcome, reasons: Vec<&'static str>, reduced| {
        decide::record(
            state,
            DecisionContext {
                kind: "outage",
                app,
                install_id: install.map(|install| install.id.as_str()),
                providers: std::slice::from_ref(&provider),
                verdict: None,
                app_version: None,
                policy_version: active.version,
                market: &market_label,
                outcome,
                enforced_outcome: outcome,
                reasons,
                now,
            },
            reduced,
        )
    };
    match decision {
        OutageDecision::Reduced {
            token_lifetime_secs,
            ..
        } => {
            let Some(install) = install else {
                // A reduced token reuses an earlier verdict, which a request without a known
                // install does not have. Monitor mode reaches this branch for new installs.
                record(Outcome::Deny, vec!["install_unknown"], false).await;
                return provider_unavailable(provider, "install_unknown", &[]);
            };
            let counted = state
                .store
                .increment_daily_counter(
                    REDUCED_SCOPE,
                    &install.id,
                    &decide::utc_day(now),
                    i64::from(
                        active
                            .policy
                            .rules_for(market)
                            .reduced_max_per_install_per_day,
                    ),
                )
                .await;
            if !matches!(counted, Ok(Some(_))) {
                record(Outcome::Deny, vec!["reduced_limit_reached"], false).await;
                return provider_unavailable(provider, "reduced_limit_reached", &[]);
            }
            let claim = match stored_claim(install) {
                Ok(mut claim) => {
                    claim.via = "reduced".to_owned();
                    claim.red = true;
                    claim
                }
                Err(error) => return error.into_response(),
            };
            record(Outcome::Allow, vec!["provider_unavailable"], true).await;
            state.metrics.token_issued(&app.id, "reduced");
            match issue_token(state, app, Some(install), claim, token_lifetime_secs).await {
                Ok(response) => Json(response).into_response(),
                Err(error) => error.into_response(),
            }
        }
        OutageDecision::Fallback { providers } => {
            record(Outcome::Deny, vec!["provider_fallback"], false).await;
            let names: Vec<&str> = providers.iter().map(|provider| provider.as_str()).collect();
            provider_unavailable(provider, "provider_fallback", &names)
        }
        OutageDecision::Deny { reason } => {
            record(Outcome::Deny, vec![reason.code()], false).await;
            provider_unavailable(provider, reason.code(), &[])
        }
    }
}

/// Builds the 424 response to an outage, with a retry hint and, for a fallback, the providers
/// to use.
fn provider_unavailable(provider: Provider, reason: &'static str, fallback: &[&str]) -> Response {
    let message = if fallback.is_empty() {
        format!(
            "{} cannot produce or check evidence right now; retry later",
            provider.as_str()
        )
    } else {
        format!(
            "{} is unavailable; attest again with: {}",
            provider.as_str(),
            fallback.join(", ")
        )
    };
    let status_reason = if reason == "provider_fallback" {
        "provider_fallback"
    } else {
        "provider_unavailable"
    };
    let mut response =
        ApiError::new(StatusCode::FAILED_DEPENDENCY, status_reason, message).into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(PROVIDER_RETRY_AFTER_SECS),
    );
    response
}

/// Builds the response to a request the policy denied: a decoy token (status 200) or a 403.
async fn deny_response(
    state: &AppState,
    app: &App,
    decision: &avow_policy::Decision,
    claim: AttestationClaim,
    now: i64,
) -> Response {
    // A decoy carries the pin document version like a real token response does.
    let pins_version = crate::pinning::pins_version(state, &app.id).await;
    match deny_result(state, app, decision, claim, now, pins_version) {
        Ok(decoy) => decoy.into_response(),
        Err(response) => *response,
    }
}

fn deny_result(
    state: &AppState,
    app: &App,
    decision: &avow_policy::Decision,
    claim: AttestationClaim,
    now: i64,
    pins_version: Option<u64>,
) -> Result<Json<TokenResponse>, Box<Response>> {
    let internal =
        |error: &dyn std::fmt::Display| Box::new(ApiError::internal(error).into_response());
    match decide::denial(app, decision, state.config.reveal_rejection_reasons) {
        Denial::Decoy => {
            // The decoy lives as long as a real token, so its lifetime does not reveal it.
            let lifetime_secs = decision
                .token_lifetime_secs
                .min(state.config.token.max_lifetime_secs);
            // The app receives an ordinary-looking token, but no backend accepts its signing key.
            let token = state
                .decoy_signer
                .sign(&Claims {
                    iss: state.config.issuer.clone(),
                    sub: app.id.clone(),
                    aud: app.id.clone(),
                    iat: u64::try_from(now).unwrap_or(0),
                    exp: u64::try_from(now).unwrap_or(0) + lifetime_secs,
                    nbf: None,
                    jti: avow_token::new_token_id().map_err(|error| internal(&error))?,
                    ins: None,
                    pay: None,
                    att: claim.clone(),
                })
                .map_err(|error| internal(&error))?;
            Ok(Json(TokenResponse {
                token,
                expires_at: u64::try_from(now).unwrap_or(0) + lifetime_secs,
                install_id: None,
                key_id: None,
                verdict: claim,
                pins_version,
            }))
        }
        Denial::Error { reasons, reveal } => {
            let message = if reveal {
                format!("rejected by the app's policy: {}", reasons.join(", "))
            } else {
                "attestation rejected".to_owned()
            };
            Err(Box::new(
                ApiError::forbidden("rejected_by_policy", message).into_response(),
            ))
        }
    }
}

/// The verdict as stored with an install, so refreshes carry it into new tokens.
#[derive(Debug, Serialize, Deserialize)]
struct StoredVerdict {
    claim: AttestationClaim,
    #[serde(default)]
    device_check_bits: Option<(bool, bool)>,
    /// The combined verdict, which refreshes re-evaluate against the current policy.
    #[serde(default)]
    verdict: Option<VerdictRecord>,
    /// The app version the evidence reported at attestation.
    #[serde(default)]
    app_version: Option<String>,
}

/// `POST /v1/refresh` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The app the proof is for.
    pub app_id: String,
    /// A fresh nonce from `POST /v1/challenge`, in any base64 variant.
    pub nonce: String,
    /// The proof of possession: exactly one member.
    pub proof: Proof,
    /// The app's version as the app reports it (Android version code or iOS bundle version).
    /// A change requires a new attestation when the policy's `reattest_on_app_version_change`
    /// is set.
    #[serde(default)]
    pub app_version: Option<String>,
    /// The region the client declares. Recorded, never trusted to choose the market.
    #[serde(default)]
    pub region: Option<String>,
    /// The error the platform provider gave the app when it tried to attest again.
    #[serde(default)]
    pub provider_error: Option<ReportedProviderError>,
}

/// A provider error the app reports, such as Play Integrity's `TOO_MANY_REQUESTS` (-8) or App
/// Attest's `serverUnavailable`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedProviderError {
    /// The provider, as in `evidence` members (`play_integrity`, `app_attest`, …).
    pub provider: String,
    /// The provider's error code or name, recorded for the operator.
    pub code: String,
}

/// Proof of possession of an install's key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// An App Attest assertion, for App Attest installs.
    pub app_attest: Option<AppAttestProof>,
    /// A signature over the refresh message, for Android key-attested and device-key installs.
    pub key_signature: Option<KeySignatureProof>,
}

/// An App Attest assertion over the nonce.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAttestProof {
    /// The attested key id, in any base64 variant.
    pub key_id: String,
    /// The assertion returned by `generateAssertion`, in any base64 variant.
    pub assertion: String,
}

/// A signature with the install's key over the refresh message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySignatureProof {
    /// The key id from the attest response, in any base64 variant.
    pub key_id: String,
    /// The DER ECDSA (or RSA PKCS#1) signature over the refresh message, in any base64 variant.
    pub signature: String,
}

/// Verifies a proof of possession of an install's key and issues a token. No provider is
/// called.
pub async fn refresh(
    State(state): State<AppState>,
    PeerAddr(peer): PeerAddr,
    headers: HeaderMap,
    body: Result<Json<RefreshRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, Response> {
    let Json(request) = body.map_err(|rejection| ApiError::from(rejection).into_response())?;
    let app = find_app(&state, &request.app_id)
        .await
        .map_err(IntoResponse::into_response)?;
    let nonce = decode_nonce(&request.nonce).map_err(IntoResponse::into_response)?;
    let (key_id, proof) = match (request.proof.app_attest, request.proof.key_signature) {
        (Some(proof), None) => (
            decode_key_id(&proof.key_id).map_err(IntoResponse::into_response)?,
            RefreshProof::Assertion(proof.assertion),
        ),
        (None, Some(proof)) => (
            decode_key_id(&proof.key_id).map_err(IntoResponse::into_response)?,
            RefreshProof::Signature(proof.signature),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_proof",
                "proof must contain exactly one of app_attest and key_signature",
            )
            .into_response());
        }
    };
    let reported_provider = match &request.provider_error {
        Some(reported) => Some(Provider::parse(&reported.provider).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_provider_error",
                format!(
                    "provider_error.provider {:?} is not a provider",
                    reported.provider
                ),
            )
            .into_response()
        })?),
        None => None,
    };

    let install = state
        .store
        .install(&app.id, &key_id)
        .await
        .map_err(|error| ApiError::from(error).into_response())?
        .ok_or_else(|| {
            ApiError::not_found(
                "install_not_found",
                "no attested or registered key with this key id for this app; attest it with \
             POST /v1/attest",
            )
            .into_response()
        })?;
    let stored: StoredVerdict = serde_json::from_str(&install.verdict).map_err(|error| {
        ApiError::internal(&format_args!("stored verdict is invalid: {error}")).into_response()
    })?;

    consume_nonce(&state, &nonce, &app.id)
        .await
        .map_err(IntoResponse::into_response)?;
    let now = state.now();
    match proof {
        RefreshProof::Assertion(assertion) => {
            verify_assertion_refresh(&state, &app, &install, &key_id, &assertion, &nonce, now)
                .await
                .map_err(IntoResponse::into_response)?;
        }
        RefreshProof::Signature(signature) => {
            verify_signature_refresh(&app, &install, &signature, &nonce)
                .map_err(IntoResponse::into_response)?;
        }
    }

    let active = state
        .policies
        .active(state.store.as_ref(), &app.id)
        .await
        .map_err(|error| ApiError::internal(&error).into_response())?;
    let resolution = state
        .markets
        .resolve(&headers, peer, request.region.as_deref());
    let market = resolution.market().map(|market| market.as_str().to_owned());
    let platform = platform_of(&app);
    let providers: Vec<Provider> = stored
        .claim
        .prv
        .iter()
        .filter_map(|name| Provider::parse(name))
        .collect();
    let Some(stored_verdict) = stored.verdict.as_ref().and_then(VerdictRecord::to_verdict) else {
        return Err(reattestation_required("verdict_missing"));
    };
    if let (Some(reported), Some(provider)) = (&request.provider_error, reported_provider) {
        tracing::info!(
            app_id = %app.id,
            install_id = %install.id,
            provider = provider.as_str(),
            code = %reported.code,
            "client reported a provider error"
        );
        state
            .metrics
            .provider_outage(provider.as_str(), "client_reported");
    }
    let app_version_changed = match (&request.app_version, &stored.app_version) {
        (Some(reported), Some(attested)) => reported != attested,
        _ => false,
    };
    let debug_device = state
        .store
        .is_debug_device(&app.id, &key_id, now)
        .await
        .map_err(|error| ApiError::from(error).into_response())?;
    let decision = evaluate_refresh(
        &active.policy,
        &RefreshSubject {
            platform,
            market: market.as_deref(),
            stored_verdict: &stored_verdict,
            providers: &providers,
            app_version: request
                .app_version
                .as_deref()
                .and_then(|version| parse_app_version(platform, version)),
            verdict_age_secs: u64::try_from(now - install.attested_at).unwrap_or(0),
            app_version_changed,
            // NOTE: nothing raises a risk change yet; bans are the operator's lever today.
            risk_changed: false,
            quota: quota_state(&state, &app, now).await,
            debug_device,
            banned: install.ban.is_some(),
        },
    );

    let decision = match decision {
        RefreshDecision::Reattest { reason } => {
            if let Some(provider) = reported_provider {
                // The app tried to attest again and its provider failed: the outage rules
                // decide, with this install known.
                return Err(outage_response(
                    &state,
                    &app,
                    &active,
                    market.as_deref(),
                    provider,
                    Some(&install),
                    now,
                )
                .await);
            }
            let market_label = active.policy.resolve_market(market.as_deref());
            decide::record(
                &state,
                DecisionContext {
                    kind: "refresh",
                    app: &app,
                    install_id: Some(&install.id),
                    providers: &providers,
                    verdict: Some(&stored_verdict),
                    app_version: request.app_version.as_deref(),
                    policy_version: active.version,
                    market: &market_label,
                    outcome: Outcome::Deny,
                    enforced_outcome: Outcome::Deny,
                    reasons: vec![reason.code()],
                    now,
                },
                false,
            )
            .await;
            return Err(reattestation_required(reason.code()));
        }
        RefreshDecision::Allow(decision) | RefreshDecision::Deny(decision) => decision,
    };
    decide::record(
        &state,
        DecisionContext {
            kind: "refresh",
            app: &app,
            install_id: Some(&install.id),
            providers: &providers,
            verdict: Some(&stored_verdict),
            app_version: request.app_version.as_deref(),
            policy_version: active.version,
            market: &decision.market,
            outcome: decision.outcome,
            enforced_outcome: decision.enforced_outcome,
            reasons: decision.reason_codes(),
            now,
        },
        false,
    )
    .await;

    let mut claim = stored.claim;
    claim.via = "assertion".to_owned();
    if decision.enforced_outcome == Outcome::Deny {
        return Err(deny_response(&state, &app, &decision, claim, now).await);
    }
    state.metrics.token_issued(&app.id, "refresh");
    issue_token(
        &state,
        &app,
        Some(&install),
        claim,
        decision.token_lifetime_secs,
    )
    .await
    .map(Json)
    .map_err(IntoResponse::into_response)
}

/// Builds the 403 that tells the client to attest again through `POST /v1/attest`.
fn reattestation_required(reason: &'static str) -> Response {
    ApiError::forbidden(
        "reattestation_required",
        format!("attest again with POST /v1/attest ({reason})"),
    )
    .into_response()
}

/// Returns the token claim stored with an install.
fn stored_claim(install: &Install) -> Result<AttestationClaim, ApiError> {
    serde_json::from_str::<StoredVerdict>(&install.verdict)
        .map(|stored| stored.claim)
        .map_err(|error| ApiError::internal(&format_args!("stored verdict is invalid: {error}")))
}

enum RefreshProof {
    Assertion(String),
    Signature(String),
}

async fn verify_assertion_refresh(
    state: &AppState,
    app: &App,
    install: &Install,
    key_id: &[u8],
    assertion: &str,
    nonce: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    if install.provider != Provider::AppAttest.as_str() {
        return Err(ApiError::bad_request(
            "wrong_proof_type",
            format!(
                "this install's key comes from {}; send proof.key_signature",
                install.provider
            ),
        ));
    }
    let app_id = AppId::parse(&app.id).ok_or_else(|| {
        ApiError::internal(&format_args!("stored app id {:?} is invalid", app.id))
    })?;
    let assertion = decode_base64_any(assertion).map_err(|_| {
        ApiError::bad_request(
            "invalid_assertion_encoding",
            "proof.app_attest.assertion is not base64",
        )
    })?;
    let public_key: [u8; 65] = install
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| ApiError::internal(&"stored App Attest public key is not 65 bytes"))?;
    let client_data_hash = avow_attest::sha256(nonce);
    let input = AssertionInput {
        assertion: &assertion,
        client_data_hash: &client_data_hash,
        app_id: &app_id,
        public_key: &public_key,
        stored_counter: u32::try_from(install.counter).unwrap_or(u32::MAX),
    };
    let verified = app_attest::verify_assertion(&input)
        .map_err(|error| rejected_evidence(&app.id, Provider::AppAttest, &error))?;

    let advanced = state
        .store
        .advance_counter(&app.id, key_id, i64::from(verified.counter()), now)
        .await?;
    if !advanced {
        // A concurrent request stored this counter or a higher one first.
        log_decision(&app.id, &install.provider, "deny", "counter_not_increased");
        return Err(ApiError::forbidden(
            "counter_not_increased",
            "assertion counter is not greater than the stored counter",
        ));
    }
    Ok(())
}

fn verify_signature_refresh(
    app: &App,
    install: &Install,
    signature: &str,
    nonce: &[u8],
) -> Result<(), ApiError> {
    if install.provider == Provider::AppAttest.as_str() {
        return Err(ApiError::bad_request(
            "wrong_proof_type",
            "this install's key is an App Attest key; send proof.app_attest",
        ));
    }
    let signature = decode_base64_any(signature).map_err(|_| {
        ApiError::bad_request(
            "invalid_signature_encoding",
            "proof.key_signature.signature is not base64",
        )
    })?;
    // Each refresh consumes a fresh nonce, so a replayed signature fails on the nonce; no
    // counter is needed.
    avow_attest::device_key::verify_refresh_signature(&install.public_key, nonce, &signature)
        .map_err(|error| {
            let provider = match install.provider.as_str() {
                "android_key_attestation" => Provider::AndroidKeyAttestation,
                _ => Provider::AvowDeviceKey,
            };
            rejected_evidence(&app.id, provider, &error)
        })
}

/// Maps a verification failure to a 400 (malformed) or 403 (rejected) response and logs it.
fn rejected_evidence(app_id: &str, provider: Provider, error: &avow_attest::Error) -> ApiError {
    log_decision(app_id, provider.as_str(), "deny", error.reason());
    let status = if MALFORMED_EVIDENCE_REASONS.contains(&error.reason()) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::FORBIDDEN
    };
    ApiError::new(
        status,
        error.reason(),
        format!("{}: {error}", provider.as_str()),
    )
}

fn evidence_error_response(state: &AppState, app_id: &str, error: EvidenceError) -> Response {
    match error {
        EvidenceError::BadRequest(reason, message) => {
            ApiError::bad_request(reason, message).into_response()
        }
        EvidenceError::Rejected(provider, error) => {
            rejected_evidence(app_id, provider, &error).into_response()
        }
        EvidenceError::ProviderRejected(provider, error) => {
            log_decision(app_id, provider.as_str(), "deny", error.reason());
            ApiError::forbidden(error.reason(), format!("{}: {error}", provider.as_str()))
                .into_response()
        }
        EvidenceError::ProviderUnavailable(provider, error) => {
            state
                .metrics
                .provider_outage(provider.as_str(), error.reason());
            // An outage is an answer about the provider, not about this server: the client
            // gets a 4xx with a retry hint.
            tracing::warn!(
                app_id,
                provider = provider.as_str(),
                reason = error.reason(),
                %error,
                "provider unavailable"
            );
            log_decision(app_id, provider.as_str(), "deny", "provider_unavailable");
            provider_unavailable(provider, "provider_unavailable", &[])
        }
        EvidenceError::Internal(detail) => ApiError::internal(&detail).into_response(),
    }
}

async fn find_app(state: &AppState, app_id: &str) -> Result<App, ApiError> {
    state.store.app(app_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "app_not_found",
            format!("no app with id {app_id:?} is registered"),
        )
    })
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
            "key_id must be the 32-byte key id, in base64",
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
    log_decision(app_id, "none", "deny", reason);
    Err(ApiError::forbidden(reason, message))
}

/// Builds the token claim from a verdict.
fn verdict_claim(
    verdict: &Verdict,
    providers: Vec<String>,
    environment: Option<String>,
    attested_at: i64,
    via: &str,
) -> AttestationClaim {
    AttestationClaim {
        prv: providers,
        trust: verdict.trust.as_str().to_owned(),
        app: verdict.app_integrity.as_str().to_owned(),
        dev: verdict.device_integrity.as_str().to_owned(),
        flg: verdict
            .risk_flags
            .iter()
            .map(|flag| flag.as_str().to_owned())
            .collect(),
        env: environment,
        at: u64::try_from(attested_at).unwrap_or(0),
        via: via.to_owned(),
        red: false,
    }
}

async fn issue_token(
    state: &AppState,
    app: &App,
    install: Option<&Install>,
    claim: AttestationClaim,
    lifetime_secs: u64,
) -> Result<TokenResponse, ApiError> {
    let now = u64::try_from(state.now()).unwrap_or(0);
    let expires_at = now + lifetime_secs.min(state.config.token.max_lifetime_secs);
    let claims = Claims {
        iss: state.config.issuer.clone(),
        sub: app.id.clone(),
        aud: app.id.clone(),
        iat: now,
        exp: expires_at,
        nbf: None,
        jti: avow_token::new_token_id().map_err(|error| ApiError::internal(&error))?,
        ins: install.map(|install| install.id.clone()),
        pay: None,
        att: claim.clone(),
    };
    let token = state
        .key_ring
        .signer()
        .sign(&claims)
        .map_err(|error| ApiError::internal(&error))?;
    Ok(TokenResponse {
        token,
        expires_at,
        install_id: install.map(|install| install.id.clone()),
        key_id: install.map(|install| encode_base64url(&install.key_id)),
        verdict: claim,
        pins_version: crate::pinning::pins_version(state, &app.id).await,
    })
}

fn new_install_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ApiError::internal(&"random generator failed"))?;
    Ok(encode_base64url(&bytes))
}

fn log_decision(app_id: &str, provider: &str, verdict: &str, reason: &str) {
    tracing::info!(
        target: "avow::decision",
        app_id,
        provider,
        verdict,
        reason,
        "decision"
    );
}
