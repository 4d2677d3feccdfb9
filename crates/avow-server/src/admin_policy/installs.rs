//! Install and debug device routes: show an install and its decisions, ban and unban it, and
//! mark device keys as debug devices.

use avow_attest::encoding::{decode_base64_any, encode_base64url};
use avow_store::{DebugDevice, DecisionRecord, Install};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{AdminError, LIST_MAX_LIMIT, check_limit, check_note, find_app};
use crate::AppState;
use crate::admin::AdminAuth;
use crate::error::ApiError;
use crate::policy::audit;

/// Default number of decisions `GET /admin/v1/installs/{id}/decisions` returns.
pub const DECISIONS_DEFAULT_LIMIT: u32 = 20;
/// Maximum lifetime of a debug device mark: 30 days.
pub const DEBUG_DEVICE_MAX_TTL_SECS: u64 = 30 * 24 * 3600;
/// Maximum length of a debug device key id, in bytes. Install key ids are 32-byte digests.
pub const DEBUG_DEVICE_MAX_KEY_ID_BYTES: usize = 64;

/// An install as the admin API shows it, without its key material.
#[derive(Debug, Serialize)]
pub struct InstallView {
    /// The install id.
    pub id: String,
    /// The app the install belongs to.
    pub app_id: String,
    /// The provider that attested the install's key.
    pub provider: String,
    /// Unix seconds of the last successful attestation.
    pub attested_at: i64,
    /// Unix seconds of the last accepted attestation or refresh.
    pub last_seen_at: i64,
    /// The operator's ban, or `null` while the install is in good standing.
    pub ban: Option<BanView>,
}

/// An operator's ban on an install.
#[derive(Debug, Serialize)]
pub struct BanView {
    /// Unix seconds at which the ban was set.
    pub banned_at: i64,
    /// The operator's reason.
    pub reason: String,
}

impl From<Install> for InstallView {
    fn from(install: Install) -> Self {
        Self {
            id: install.id,
            app_id: install.app_id,
            provider: install.provider,
            attested_at: install.attested_at,
            last_seen_at: install.last_seen_at,
            ban: install.ban.map(|ban| BanView {
                banned_at: ban.banned_at,
                reason: ban.reason,
            }),
        }
    }
}

/// A query with an optional `limit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    /// How many entries to return.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /admin/v1/installs/{id}/decisions` response.
#[derive(Debug, Serialize)]
pub struct DecisionList {
    /// The install.
    pub install_id: String,
    /// The newest decisions first.
    pub decisions: Vec<DecisionView>,
}

/// One stored decision about an install.
#[derive(Debug, Serialize)]
pub struct DecisionView {
    /// Unix seconds of the decision.
    pub at: i64,
    /// `attest`, `refresh` or `outage`.
    pub kind: String,
    /// The policy version that decided, 0 for the default preset.
    pub policy_version: i64,
    /// The market whose rules applied.
    pub market: String,
    /// The rule outcome: `allow` or `deny`.
    pub outcome: String,
    /// The outcome the server applied, which is `allow` in monitor mode unless the install is
    /// banned.
    pub enforced_outcome: String,
    /// The reason codes, in rule order.
    pub reasons: Vec<String>,
    /// The providers whose evidence the request carried.
    pub providers: Vec<String>,
    /// The platform of the request.
    pub platform: String,
    /// The app version the request reported.
    pub app_version: Option<String>,
    /// The verdict the rules saw, or `null` for an outage decision.
    pub verdict: serde_json::Value,
}

impl From<DecisionRecord> for DecisionView {
    fn from(row: DecisionRecord) -> Self {
        // The server writes these columns as JSON; anything else is shown as stored text.
        let names = |text: &str| {
            serde_json::from_str::<Vec<String>>(text).unwrap_or_else(|_| vec![text.to_owned()])
        };
        Self {
            reasons: names(&row.reasons),
            providers: names(&row.providers),
            verdict: serde_json::from_str(&row.verdict)
                .unwrap_or_else(|_| serde_json::Value::String(row.verdict.clone())),
            at: row.at,
            kind: row.kind,
            policy_version: row.policy_version,
            market: row.market,
            outcome: row.outcome,
            enforced_outcome: row.enforced_outcome,
            platform: row.platform,
            app_version: row.app_version,
        }
    }
}

/// `POST /admin/v1/installs/{id}/ban` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// The operator's reason for the ban, at most 500 characters.
    pub reason: String,
}

async fn find_install(state: &AppState, install_id: &str) -> Result<Install, ApiError> {
    state.store.install_by_id(install_id).await?.ok_or_else(|| {
        ApiError::not_found(
            "install_not_found",
            format!("no install with id {install_id:?}"),
        )
    })
}

/// Returns one install.
pub async fn show_install(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(install_id): Path<String>,
) -> Result<Json<InstallView>, AdminError> {
    let install = find_install(&state, &install_id).await?;
    Ok(Json(install.into()))
}

/// Returns the newest decisions about one install.
pub async fn list_install_decisions(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(install_id): Path<String>,
    query: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<DecisionList>, AdminError> {
    let Query(query) = query?;
    let limit = check_limit(query.limit, DECISIONS_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
    let install = find_install(&state, &install_id).await?;
    let rows = state.store.install_decisions(&install.id, limit).await?;
    Ok(Json(DecisionList {
        install_id: install.id,
        decisions: rows.into_iter().map(DecisionView::from).collect(),
    }))
}

/// Bans an install, replacing an earlier ban.
pub async fn ban_install(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path(install_id): Path<String>,
    body: Result<Json<BanRequest>, JsonRejection>,
) -> Result<Json<InstallView>, AdminError> {
    let Json(request) = body?;
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::bad_request("invalid_reason", "reason must not be empty").into());
    }
    check_note("reason", reason)?;
    let mut install = find_install(&state, &install_id).await?;

    let now = state.now();
    let found = state
        .store
        .set_install_ban(&install.id, Some((reason, now)))
        .await?;
    if !found {
        return Err(ApiError::not_found(
            "install_not_found",
            format!("no install with id {install_id:?}"),
        )
        .into());
    }
    audit(
        state.store.as_ref(),
        &auth.key_id,
        "install_banned",
        Some(&install.app_id),
        Some(&install.id),
        reason,
        now,
    )
    .await;
    tracing::info!(app_id = %install.app_id, install_id = %install.id, admin_key = %auth.key_id, "install banned");
    install.ban = Some(avow_store::InstallBan {
        banned_at: now,
        reason: reason.to_owned(),
    });
    Ok(Json(install.into()))
}

/// Lifts the ban of an install. An install without a ban is returned unchanged and nothing is
/// audited.
pub async fn unban_install(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path(install_id): Path<String>,
) -> Result<Json<InstallView>, AdminError> {
    let mut install = find_install(&state, &install_id).await?;
    let Some(ban) = install.ban.take() else {
        return Ok(Json(install.into()));
    };
    let now = state.now();
    state.store.set_install_ban(&install.id, None).await?;
    let detail = format!("ban of {} lifted: {}", ban.banned_at, ban.reason);
    audit(
        state.store.as_ref(),
        &auth.key_id,
        "install_unbanned",
        Some(&install.app_id),
        Some(&install.id),
        &detail,
        now,
    )
    .await;
    tracing::info!(app_id = %install.app_id, install_id = %install.id, admin_key = %auth.key_id, "install ban lifted");
    Ok(Json(install.into()))
}

// === Debug devices ===

/// `PUT /admin/v1/apps/{id}/debug-devices` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugDeviceRequest {
    /// The device key id (an install's key id), in any base64 alphabet.
    pub key_id: String,
    /// Whose device it is or why it is marked, at most 500 characters.
    pub note: String,
    /// How long the mark lasts, 1 second to 30 days.
    pub ttl_secs: u64,
}

/// A debug device as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct DebugDeviceView {
    /// The device key id, base64url without padding.
    pub key_id: String,
    /// The operator's note.
    pub note: String,
    /// Unix seconds of the first registration.
    pub created_at: i64,
    /// Unix seconds from which the mark no longer applies.
    pub expires_at: i64,
    /// Whether the mark has expired.
    pub expired: bool,
}

impl DebugDeviceView {
    fn new(device: DebugDevice, now: i64) -> Self {
        Self {
            key_id: encode_base64url(&device.key_id),
            expired: device.expires_at <= now,
            note: device.note,
            created_at: device.created_at,
            expires_at: device.expires_at,
        }
    }
}

/// `GET /admin/v1/apps/{id}/debug-devices` response.
#[derive(Debug, Serialize)]
pub struct DebugDeviceList {
    /// The app.
    pub app_id: String,
    /// The marked devices, expired ones included, ordered by key id.
    pub devices: Vec<DebugDeviceView>,
}

fn decode_key_id(text: &str) -> Result<Vec<u8>, ApiError> {
    decode_base64_any(text)
        .ok()
        .filter(|key_id| (1..=DEBUG_DEVICE_MAX_KEY_ID_BYTES).contains(&key_id.len()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_key_id",
                format!(
                    "key_id must be 1 to {DEBUG_DEVICE_MAX_KEY_ID_BYTES} bytes in base64 or base64url"
                ),
            )
        })
}

/// Marks a device key as a debug device of an app, or renews its mark.
pub async fn put_debug_device(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<DebugDeviceRequest>, JsonRejection>,
) -> Result<Json<DebugDeviceView>, AdminError> {
    let Json(request) = body?;
    let key_id = decode_key_id(&request.key_id)?;
    check_note("note", &request.note)?;
    if !(1..=DEBUG_DEVICE_MAX_TTL_SECS).contains(&request.ttl_secs) {
        return Err(ApiError::bad_request(
            "invalid_ttl_secs",
            format!("ttl_secs must be between 1 and {DEBUG_DEVICE_MAX_TTL_SECS} (30 days)"),
        )
        .into());
    }
    let app = find_app(&state, &app_id).await?;

    let now = state.now();
    // ttl_secs is at most 30 days, so it fits in i64.
    let expires_at = now + i64::try_from(request.ttl_secs).unwrap_or(i64::MAX - now);
    let device = DebugDevice {
        app_id: app.id.clone(),
        key_id: key_id.clone(),
        note: request.note,
        expires_at,
        created_at: now,
    };
    state.store.put_debug_device(&device).await?;
    let key_id_text = encode_base64url(&key_id);
    let detail = format!("expires_at {expires_at}; note: {}", device.note);
    audit(
        state.store.as_ref(),
        &auth.key_id,
        "debug_device_added",
        Some(&app.id),
        Some(&key_id_text),
        &detail,
        now,
    )
    .await;
    tracing::info!(app_id = %app.id, key_id = %key_id_text, expires_at, admin_key = %auth.key_id, "debug device marked");

    // A renewed mark keeps its first registration time, so show the stored entry.
    let stored = state
        .store
        .debug_devices(&app.id)
        .await?
        .into_iter()
        .find(|stored| stored.key_id == key_id)
        .unwrap_or(device);
    Ok(Json(DebugDeviceView::new(stored, now)))
}

/// Lists the debug devices of an app.
pub async fn list_debug_devices(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<DebugDeviceList>, AdminError> {
    let app = find_app(&state, &app_id).await?;
    let now = state.now();
    let devices = state.store.debug_devices(&app.id).await?;
    Ok(Json(DebugDeviceList {
        app_id: app.id,
        devices: devices
            .into_iter()
            .map(|device| DebugDeviceView::new(device, now))
            .collect(),
    }))
}

/// Removes a debug device mark. The key id in the path is base64url (or URL-encoded base64).
pub async fn delete_debug_device(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path((app_id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, AdminError> {
    let key_id = decode_key_id(&key_id)?;
    let app = find_app(&state, &app_id).await?;
    let key_id_text = encode_base64url(&key_id);
    if !state.store.delete_debug_device(&app.id, &key_id).await? {
        return Err(ApiError::not_found(
            "debug_device_not_found",
            format!("key {key_id_text} is not a debug device of {:?}", app.id),
        )
        .into());
    }
    let now = state.now();
    audit(
        state.store.as_ref(),
        &auth.key_id,
        "debug_device_removed",
        Some(&app.id),
        Some(&key_id_text),
        "",
        now,
    )
    .await;
    tracing::info!(app_id = %app.id, key_id = %key_id_text, admin_key = %auth.key_id, "debug device mark removed");
    Ok(StatusCode::NO_CONTENT)
}
