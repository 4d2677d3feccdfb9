//! The admin API for policies, installs, debug devices, provider quota and the audit log.
//!
//! Every route needs an admin key (see [`crate::admin`]):
//!
//! | route | purpose |
//! |---|---|
//! | `GET /admin/v1/apps/{id}/policy` | the policy in force: stored document and expanded form |
//! | `PUT /admin/v1/apps/{id}/policy` | validate and store a new policy version, with its diff |
//! | `POST /admin/v1/apps/{id}/policy/diff` | changes a document would make to the current policy |
//! | `POST /admin/v1/apps/{id}/policy/dry-run` | replay recent decisions against a document |
//! | `POST /admin/v1/policy/validate` | check a document without storing it |
//! | `GET /admin/v1/policy/presets`, `GET /admin/v1/policy/presets/{name}` | built-in presets |
//! | `GET /admin/v1/installs/{id}`, `GET /admin/v1/installs/{id}/decisions` | one install |
//! | `POST`, `DELETE /admin/v1/installs/{id}/ban` | ban an install, lift its ban |
//! | `PUT`, `GET /admin/v1/apps/{id}/debug-devices` | mark a debug device, list them |
//! | `DELETE /admin/v1/apps/{id}/debug-devices/{key_id}` | remove a debug device mark |
//! | `GET /admin/v1/apps/{id}/quota` | provider calls counted today against the daily limit |
//! | `GET /admin/v1/audit` | the audit log, newest first |
//!
//! The policy routes are in [`documents`], the install and debug device routes in [`installs`].
//! Every change is written to the audit log (`policy_set`, `install_banned`, `install_unbanned`,
//! `debug_device_added`, `debug_device_removed`) with the admin key id as the actor.

use avow_attest::verdict::Provider;
use avow_policy::PolicyError;
use avow_store::{App, AuditEntry, StoreError};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::admin::AdminAuth;
use crate::api::QUOTA_SCOPE_PLAY_INTEGRITY;
use crate::config::QuotaConfig;
use crate::decide::{platform_of, quota_day};
use crate::error::ApiError;
use crate::policy::PolicyLoadError;

pub mod documents;
pub mod installs;

/// Maximum of the `limit` parameter of the decision and audit lists.
pub const LIST_MAX_LIMIT: u32 = 1_000;
/// Default number of audit entries returned.
pub const AUDIT_DEFAULT_LIMIT: u32 = 100;
/// Maximum length of an operator note or ban reason, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// A provider whose calls count against a daily quota per app.
struct MeteredProvider {
    provider: Provider,
    /// The scope of its daily counter in the store.
    scope: &'static str,
    /// Reads its daily limit from the configuration.
    limit: fn(&QuotaConfig) -> u64,
}

const METERED_PROVIDERS: [MeteredProvider; 1] = [MeteredProvider {
    provider: Provider::PlayIntegrity,
    scope: QUOTA_SCOPE_PLAY_INTEGRITY,
    limit: |quota| quota.play_integrity_per_app_per_day,
}];

/// Returns the routes of this module, to merge into the server's router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/apps/{id}/policy",
            get(documents::show_policy).put(documents::set_policy),
        )
        .route(
            "/admin/v1/apps/{id}/policy/diff",
            post(documents::diff_policy),
        )
        .route(
            "/admin/v1/apps/{id}/policy/dry-run",
            post(documents::dry_run_policy),
        )
        .route(
            "/admin/v1/policy/validate",
            post(documents::validate_policy),
        )
        .route("/admin/v1/policy/presets", get(documents::list_presets))
        .route(
            "/admin/v1/policy/presets/{name}",
            get(documents::show_preset),
        )
        .route("/admin/v1/installs/{id}", get(installs::show_install))
        .route(
            "/admin/v1/installs/{id}/decisions",
            get(installs::list_install_decisions),
        )
        .route(
            "/admin/v1/installs/{id}/ban",
            post(installs::ban_install).delete(installs::unban_install),
        )
        .route(
            "/admin/v1/apps/{id}/debug-devices",
            put(installs::put_debug_device).get(installs::list_debug_devices),
        )
        .route(
            "/admin/v1/apps/{id}/debug-devices/{key_id}",
            axum::routing::delete(installs::delete_debug_device),
        )
        .route("/admin/v1/apps/{id}/quota", get(show_quota))
        .route("/admin/v1/audit", get(list_audit))
}

// === Errors ===

/// A failure of a request to this module: an API error, or a policy document that does not
/// validate.
#[derive(Debug)]
pub enum AdminError {
    /// A failure with a reason code and message.
    Api(ApiError),
    /// The policy document does not validate. The response is 400 `invalid_policy` with every
    /// problem and its key path.
    PolicyInvalid(PolicyError),
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> Self {
        Self::Api(error.into())
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        Self::Api(rejection.into())
    }
}

impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Api(ApiError::bad_request(
            "invalid_query",
            rejection.body_text(),
        ))
    }
}

impl From<PolicyLoadError> for AdminError {
    fn from(error: PolicyLoadError) -> Self {
        match error {
            PolicyLoadError::Store(error) => error.into(),
            invalid @ PolicyLoadError::Invalid { .. } => Self::Api(ApiError::new(
                StatusCode::CONFLICT,
                "stored_policy_invalid",
                format!("{invalid}; store a valid policy with PUT /admin/v1/apps/{{id}}/policy"),
            )),
        }
    }
}

/// One problem of a policy document, as the `problems` list of an `invalid_policy` response.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct ProblemView {
    /// The dotted key path, such as `rules.min_trust`, or empty when the problem has no key.
    pub path: String,
    /// The description of the problem.
    pub message: String,
    /// The 1-based line of a syntax error, when the parser gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

#[derive(Serialize)]
struct InvalidPolicyBody {
    reason: &'static str,
    message: String,
    problems: Vec<ProblemView>,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::PolicyInvalid(error) => {
                let body = InvalidPolicyBody {
                    reason: "invalid_policy",
                    message: error.to_string(),
                    problems: problems_of(&error),
                };
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }
}

/// Lists the problems of a rejected document, each with the key it concerns.
pub fn problems_of(error: &PolicyError) -> Vec<ProblemView> {
    match error {
        PolicyError::RulesInvalid { problems } => problems
            .iter()
            .map(|problem| ProblemView {
                path: problem.path.clone(),
                message: problem.message.clone(),
                line: None,
            })
            .collect(),
        PolicyError::TomlMalformed { key, line, message } => vec![ProblemView {
            path: key.clone().unwrap_or_default(),
            message: message.clone(),
            line: (*line > 0).then_some(*line),
        }],
        PolicyError::PresetUnknown { .. } | PolicyError::PresetChainTooDeep { .. } => {
            vec![ProblemView {
                path: "preset".to_owned(),
                message: error.to_string(),
                line: None,
            }]
        }
        _ => vec![ProblemView {
            path: String::new(),
            message: error.to_string(),
            line: None,
        }],
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

fn check_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {max}"),
        ))
    }
}

fn check_note(field: &str, text: &str) -> Result<(), ApiError> {
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::bad_request(
            "invalid_note",
            format!("{field} must be at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(())
}
// === Quota ===

/// `GET /admin/v1/apps/{id}/quota` response.
#[derive(Debug, Serialize)]
pub struct QuotaList {
    /// The app.
    pub app_id: String,
    /// One entry per metered provider of the app's platform.
    pub quotas: Vec<QuotaView>,
}

/// The calls to one provider counted on the current quota day.
#[derive(Debug, Serialize)]
pub struct QuotaView {
    /// The provider.
    pub provider: &'static str,
    /// The quota day, `YYYY-MM-DD`.
    pub day: String,
    /// Calls counted so far.
    pub used: i64,
    /// Calls allowed per app and day.
    pub limit: u64,
}

/// Returns the provider calls counted today for an app.
pub async fn show_quota(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<QuotaList>, AdminError> {
    let app = find_app(&state, &app_id).await?;
    let platform = platform_of(&app);
    let day = quota_day(state.now());
    let mut quotas = Vec::new();
    for metered in &METERED_PROVIDERS {
        if !platform.supports(metered.provider) {
            continue;
        }
        let used = state
            .store
            .daily_counter(metered.scope, &app.id, &day)
            .await?;
        quotas.push(QuotaView {
            provider: metered.provider.as_str(),
            day: day.clone(),
            used,
            limit: (metered.limit)(&state.config.quota),
        });
    }
    Ok(Json(QuotaList {
        app_id: app.id,
        quotas,
    }))
}

// === Audit log ===

/// `GET /admin/v1/audit` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only the entries of this app.
    #[serde(default)]
    pub app_id: Option<String>,
    /// How many entries to return, 100 by default, at most 1000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `GET /admin/v1/audit` response.
#[derive(Debug, Serialize)]
pub struct AuditList {
    /// The newest entries first.
    pub entries: Vec<AuditView>,
}

/// One audit log entry.
#[derive(Debug, Serialize)]
pub struct AuditView {
    /// Unix seconds of the action.
    pub at: i64,
    /// The admin key id that acted.
    pub actor: String,
    /// The action, such as `policy_set`.
    pub action: String,
    /// The app acted on.
    pub app_id: Option<String>,
    /// The object acted on within the app, such as an install id.
    pub subject: Option<String>,
    /// Further detail, such as the changes of a policy.
    pub detail: String,
}

impl From<AuditEntry> for AuditView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            app_id: entry.app_id,
            subject: entry.subject,
            detail: entry.detail,
        }
    }
}

/// Returns the newest audit log entries, of one app or of all.
pub async fn list_audit(
    _auth: AdminAuth,
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditList>, AdminError> {
    let Query(query) = query?;
    let limit = check_limit(query.limit, AUDIT_DEFAULT_LIMIT, LIST_MAX_LIMIT)?;
    let app_id = query.app_id.as_deref().filter(|app_id| !app_id.is_empty());
    let entries = state.store.audit(app_id, limit).await?;
    Ok(Json(AuditList {
        entries: entries.into_iter().map(AuditView::from).collect(),
    }))
}
#[cfg(test)]
mod tests {
    use avow_policy::Policy;

    use super::*;

    #[test]
    fn problems_list_every_key() {
        let error =
            Policy::from_toml("mode = \"strict\"\n[rules]\ntoken_lifetime_secs = 0\n").unwrap_err();
        let paths: Vec<String> = problems_of(&error)
            .into_iter()
            .map(|problem| problem.path)
            .collect();
        assert_eq!(paths, vec!["mode", "rules.token_lifetime_secs"]);
    }

    #[test]
    fn problems_name_unknown_key_and_line() {
        let error = Policy::from_toml("[rules]\nmin_trusts = \"hardware\"\n").unwrap_err();
        let problems = problems_of(&error);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].path.contains("min_trusts"), "{problems:?}");
        assert_eq!(problems[0].line, Some(2));
    }

    #[test]
    fn problems_unknown_preset_at_preset_key() {
        let error = Policy::from_toml("preset = \"bank\"\n").unwrap_err();
        let problems = problems_of(&error);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "preset");
        assert!(problems[0].message.contains("bank"), "{problems:?}");
    }

    #[tokio::test]
    async fn invalid_policy_response_lists_problems() {
        let error = Policy::from_toml("mode = \"strict\"\n").unwrap_err();
        let response = AdminError::PolicyInvalid(error).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["reason"], "invalid_policy");
        assert_eq!(json["problems"][0]["path"], "mode");
        assert!(json["message"].as_str().unwrap().contains("mode"), "{json}");
    }

    #[test]
    fn quota_day_starts_at_pacific_midnight() {
        // 08:00 UTC is midnight in UTC-8, so one second before it is still the previous day.
        assert_eq!(quota_day(1_767_254_399), "2025-12-31");
        assert_eq!(quota_day(1_767_254_400), "2026-01-01");
        assert_eq!(quota_day(0), "1969-12-31");
    }
}
