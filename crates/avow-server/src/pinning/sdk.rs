//! The pin document for apps: `GET /v1/pins`, and the pin-signing public key.
//!
//! `GET /v1/pins?app=APP_ID` returns the compact JWS of the app's latest document as the body,
//! with `Content-Type: application/jose` (the media type of the JWS compact serialization,
//! RFC 7515), a strong `ETag` (the base64url SHA-256 of the body) and `Cache-Control: no-cache`.
//! A request whose `If-None-Match` lists that tag gets `304 Not Modified`.
//!
//! When the stored signature is older than `pinning.resign_interval_secs`, the same version is
//! signed again with the current time as `iat` before it is served. Apps judge a document's
//! freshness from that signed time, so a device with a wrong clock can still tell how old its
//! pins are.

use avow_pinning::document::Jwk;
use avow_store::PinDocumentRecord;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::find_app;
use crate::AppState;
use crate::admin::AdminAuth;
use crate::error::ApiError;

/// The content type of the document: a JWS in compact serialization.
pub const CONTENT_TYPE: &str = "application/jose";

/// `GET /v1/pins` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinsQuery {
    /// The app id.
    pub app: String,
}

/// Serves an app's current pin document.
pub async fn pins(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<PinsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::bad_request(
            "invalid_query",
            format!("expected ?app=APP_ID: {}", rejection.body_text()),
        )
    })?;
    let app = find_app(&state, &query.app).await?;
    let record = current_document(&state, &app.id, state.now())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "no_pin_document",
                format!("app {:?} has no published pin document yet", app.id),
            )
        })?;

    let etag = entity_tag(record.document.as_bytes());
    let etag_value = HeaderValue::from_str(&etag).map_err(|error| ApiError::internal(&error))?;
    let common = [
        (header::ETAG, etag_value),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if if_none_match(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        record.document,
    )
        .into_response())
}

/// Returns an app's latest document, signed again first when its signature is older than the
/// re-sign interval.
///
/// Concurrent requests on any number of instances may each sign. The store keeps the latest
/// `iat`, and a request whose signature was not kept reads the stored one. A document that can no
/// longer be signed (its `exp` has passed) is served as stored, with a warning in the log.
pub async fn current_document(
    state: &AppState,
    app_id: &str,
    now: i64,
) -> Result<Option<PinDocumentRecord>, ApiError> {
    let Some(record) = state.store.latest_pin_document(app_id).await? else {
        return Ok(None);
    };
    let interval = i64::try_from(state.config.pinning.resign_interval_secs).unwrap_or(i64::MAX);
    if now - record.issued_at < interval {
        return Ok(Some(record));
    }

    let mut document = state.pinning.decode(&record)?;
    document.iat = u64::try_from(now).unwrap_or(0);
    let compact = match state.pinning.keys.signer().sign(&document) {
        Ok(compact) => compact,
        Err(error) => {
            tracing::warn!(
                app_id,
                version = record.version,
                reason = error.reason(),
                %error,
                "cannot sign the pin document again; serving it as stored"
            );
            return Ok(Some(record));
        }
    };
    if state
        .store
        .resign_pin_document(app_id, record.version, now, &compact)
        .await?
    {
        tracing::debug!(
            app_id,
            version = record.version,
            "pin document signed again"
        );
        return Ok(Some(PinDocumentRecord {
            issued_at: now,
            document: compact,
            ..record
        }));
    }
    // Another request signed it at the same time or later, or a new version was published.
    Ok(state.store.latest_pin_document(app_id).await?)
}

/// Returns the strong entity tag of a body: its SHA-256 in base64url, quoted.
pub fn entity_tag(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    )
}

/// Reports whether `If-None-Match` lists `etag` or is `*`. The comparison is the weak one that
/// RFC 9110 prescribes for this header, so a `W/` prefix is ignored.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// `GET /v1/pins/key`: the public key that signs pin documents, as a JWK.
pub async fn public_key(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.pinning.keys.jwk()),
    )
}

/// `GET /admin/v1/pins/key` response.
#[derive(Debug, Serialize)]
pub struct PinKeyView {
    /// The key id, the RFC 7638 thumbprint that document headers carry as `kid`.
    pub kid: String,
    /// The public key as PEM (`BEGIN PUBLIC KEY`, a DER SubjectPublicKeyInfo).
    pub pem: String,
    /// The public key as a JWK.
    pub jwk: Jwk,
    /// Every pin-signing key the server verifies with, as JWKs, the signing one first.
    pub keys: Vec<Jwk>,
}

/// `GET /admin/v1/pins/key`: the pin-signing public key to build into apps.
pub async fn admin_key(_auth: AdminAuth, State(state): State<AppState>) -> Json<PinKeyView> {
    let keys = &state.pinning.keys;
    Json(PinKeyView {
        kid: keys.signer().kid().to_owned(),
        pem: keys.pem(),
        jwk: keys.jwk(),
        keys: keys.public_keys().iter().map(|key| key.to_jwk()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use avow_pinning::{AfterExpiry, DomainPins, HostPattern, Pin, PinDocument, UserAnchorPolicy};
    use avow_store::App;

    use super::*;
    use crate::{Config, Server};

    const APP_ID: &str = "ABCDE12345.com.example.resign";
    const NOW: i64 = 1_750_000_000;

    async fn state(dir: &std::path::Path) -> AppState {
        let config = Config {
            data_dir: dir.to_owned(),
            listen: "127.0.0.1:0".to_owned(),
            ..Config::default()
        };
        let server = Server::start(config, None).await.unwrap();
        let state = server.state().clone();
        state
            .store
            .insert_app(&App {
                id: APP_ID.to_owned(),
                platform: "ios".to_owned(),
                team_id: "ABCDE12345".to_owned(),
                bundle_id: "com.example.resign".to_owned(),
                environment: "production".to_owned(),
                package_name: String::new(),
                certificate_digests: Vec::new(),
                min_version_code: None,
                created_at: NOW,
            })
            .await
            .unwrap();
        state
    }

    /// Stores version 3, signed at `signed_at` and expiring at `exp`.
    async fn store_document(state: &AppState, signed_at: i64, exp: i64) -> PinDocumentRecord {
        let document = PinDocument {
            iss: "avow".to_owned(),
            app: APP_ID.to_owned(),
            ver: 3,
            iat: u64::try_from(signed_at).unwrap(),
            exp: u64::try_from(exp).unwrap(),
            domains: vec![DomainPins {
                host: HostPattern::parse("api.example.com").unwrap(),
                pins: vec![Pin::from_digest([1; 32]), Pin::from_digest([2; 32])],
                exp: u64::try_from(exp).unwrap(),
                mode: avow_pinning::PinningMode::Enforce,
                after_expiry: AfterExpiry::FailClosed,
                user_anchors: UserAnchorPolicy::Reject,
            }],
        };
        let record = PinDocumentRecord {
            app_id: APP_ID.to_owned(),
            version: 3,
            issued_at: signed_at,
            expires_at: exp,
            document: state.pinning.keys.signer().sign(&document).unwrap(),
            pin_sets: "[]".to_owned(),
            forced: false,
            published_at: signed_at,
            published_by: "admin".to_owned(),
        };
        state.store.insert_pin_document(&record).await.unwrap();
        record
    }

    #[tokio::test]
    async fn old_signature_renewed_with_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let stored = store_document(&state, NOW - 7200, NOW + 86_400).await;

        let served = current_document(&state, APP_ID, NOW)
            .await
            .unwrap()
            .unwrap();

        assert_eq!(served.version, 3);
        assert_eq!(served.issued_at, NOW);
        assert_ne!(served.document, stored.document);
        let decoded = state.pinning.decode(&served).unwrap();
        assert_eq!(decoded.iat, u64::try_from(NOW).unwrap());
        assert_eq!(decoded.ver, 3);
        assert_eq!(
            decoded.domains,
            state.pinning.decode(&stored).unwrap().domains
        );
        let again = state
            .store
            .latest_pin_document(APP_ID)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, served);
    }

    #[tokio::test]
    async fn recent_signature_served_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let stored = store_document(&state, NOW - 60, NOW + 86_400).await;

        let served = current_document(&state, APP_ID, NOW)
            .await
            .unwrap()
            .unwrap();

        assert_eq!(served, stored);
    }

    #[tokio::test]
    async fn expired_document_served_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let stored = store_document(&state, NOW - 7200, NOW - 3600).await;

        let served = current_document(&state, APP_ID, NOW)
            .await
            .unwrap()
            .unwrap();

        assert_eq!(served, stored);
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn entity_tag_is_quoted_digest() {
        let tag = entity_tag(b"abc");
        // SHA-256("abc") in base64url.
        assert_eq!(tag, "\"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0\"");
    }

    #[test]
    fn if_none_match_forms() {
        let tag = "\"abc\"";
        assert!(if_none_match(&headers("\"abc\""), tag));
        assert!(if_none_match(&headers("\"x\", \"abc\""), tag));
        assert!(if_none_match(&headers("W/\"abc\""), tag));
        assert!(if_none_match(&headers("*"), tag));
        assert!(!if_none_match(&headers("\"abd\""), tag));
        assert!(!if_none_match(&headers("abc"), tag));
        assert!(!if_none_match(&HeaderMap::new(), tag));
    }
}
