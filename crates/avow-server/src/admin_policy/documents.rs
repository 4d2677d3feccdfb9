//! Policy routes: show, set, validate, compare and dry-run policy documents, and the presets.

use std::collections::BTreeMap;

use avow_attest::verdict::Provider;
use avow_policy::{AppVersion, Change, Outcome, Platform, Policy};
use avow_store::{DecisionRecord, StoreError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::{AdminError, check_limit, find_app};
use crate::AppState;
use crate::admin::AdminAuth;
use crate::decide::VerdictRecord;
use crate::error::ApiError;
use crate::policy::{ActivePolicy, DEFAULT_PRESET, audit, default_policy};

/// Default window of a dry run: the decisions of the last 7 days.
pub const DRY_RUN_DEFAULT_SINCE_SECS: u64 = 7 * 24 * 3600;
/// Maximum window of a dry run: one year.
pub const DRY_RUN_MAX_SINCE_SECS: u64 = 365 * 24 * 3600;
/// Default number of decisions a dry run replays.
pub const DRY_RUN_DEFAULT_LIMIT: u32 = 10_000;
/// Maximum number of decisions one dry run replays. The store returns them all at once, so this
/// bounds the memory of one request.
pub const DRY_RUN_MAX_LIMIT: u32 = 100_000;

/// A request body that carries a policy document.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocumentRequest {
    /// The policy as TOML text.
    pub document: String,
}

/// `GET /admin/v1/apps/{id}/policy` response.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    /// The app.
    pub app_id: String,
    /// The stored version, or 0 when the app has no stored policy.
    pub version: i64,
    /// Whether the app runs the default preset because it has no stored policy.
    pub default: bool,
    /// `enforce` or `monitor`, or `None` when the stored document no longer parses.
    pub mode: Option<&'static str>,
    /// The document as the operator wrote it, or the default preset's source.
    pub document: String,
    /// The canonical TOML with every key explicit, or `None` when the document no longer parses.
    pub expanded: Option<String>,
    /// The parser's message when the stored document no longer parses, for example after an
    /// upgrade changed the rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
    /// Unix seconds at which the version was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// The admin key id that stored the version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// One key whose value a policy change modifies.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct ChangeView {
    /// The dotted key path, such as `rules.min_trust`.
    pub path: String,
    /// The value before, as canonical TOML.
    pub old: String,
    /// The value after, as canonical TOML.
    pub new: String,
}

impl From<Change> for ChangeView {
    fn from(change: Change) -> Self {
        Self {
            path: change.path,
            old: change.old,
            new: change.new,
        }
    }
}

/// `PUT /admin/v1/apps/{id}/policy` response.
#[derive(Debug, Serialize)]
pub struct PolicySetResponse {
    /// The app.
    pub app_id: String,
    /// The version just stored.
    pub version: i64,
    /// The version it replaces, 0 for the default preset.
    pub previous_version: i64,
    /// `enforce` or `monitor`.
    pub mode: &'static str,
    /// Every key whose effective value changed.
    pub changes: Vec<ChangeView>,
}

/// `POST /admin/v1/apps/{id}/policy/diff` response.
#[derive(Debug, Serialize)]
pub struct PolicyDiffResponse {
    /// The app.
    pub app_id: String,
    /// The version compared with, 0 for the default preset.
    pub current_version: i64,
    /// Every key whose effective value would change.
    pub changes: Vec<ChangeView>,
}

/// `POST /admin/v1/policy/validate` response.
#[derive(Debug, Serialize)]
pub struct ValidateResponse {
    /// Always true: an invalid document gets a 400 response.
    pub valid: bool,
    /// `enforce` or `monitor`.
    pub mode: &'static str,
    /// The market label used when the server resolves none.
    pub default_market: String,
    /// The markets with a section of their own.
    pub markets: Vec<String>,
}

/// `GET /admin/v1/policy/presets` response.
#[derive(Debug, Serialize)]
pub struct PresetList {
    /// The names of the built-in presets.
    pub presets: Vec<&'static str>,
}

/// `GET /admin/v1/policy/presets/{name}` response.
#[derive(Debug, Serialize)]
pub struct PresetView {
    /// The preset's name.
    pub name: String,
    /// The commented TOML source of the preset.
    pub document: &'static str,
}

fn parse_document(document: &str) -> Result<Policy, AdminError> {
    Policy::from_toml(document).map_err(AdminError::PolicyInvalid)
}

/// Returns the policy in force for an app.
pub async fn show_policy(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<PolicyView>, AdminError> {
    let app = find_app(&state, &app_id).await?;
    let Some(record) = state.store.current_policy(&app.id).await? else {
        let active = default_policy();
        return Ok(Json(PolicyView {
            app_id: app.id,
            version: active.version,
            default: true,
            mode: Some(active.policy.mode().as_str()),
            document: avow_policy::preset_source(DEFAULT_PRESET)
                .unwrap_or_default()
                .to_owned(),
            expanded: Some(active.policy.to_toml()),
            invalid: None,
            created_at: None,
            created_by: None,
        }));
    };
    let parsed = Policy::from_toml(&record.document);
    Ok(Json(PolicyView {
        app_id: app.id,
        version: record.version,
        default: false,
        mode: parsed.as_ref().ok().map(|policy| policy.mode().as_str()),
        expanded: parsed.as_ref().ok().map(Policy::to_toml),
        invalid: parsed.err().map(|error| error.to_string()),
        document: record.document,
        created_at: Some(record.created_at),
        created_by: Some(record.created_by),
    }))
}

/// Validates a policy document and stores it as the app's next policy version.
///
/// The changes are computed against the stored version just below the new one, so two
/// concurrent updates each report their own effect. A predecessor that no longer parses is
/// replaced by the default preset for the comparison.
pub async fn set_policy(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<PolicyDocumentRequest>, JsonRejection>,
) -> Result<Json<PolicySetResponse>, AdminError> {
    let Json(request) = body?;
    let app = find_app(&state, &app_id).await?;
    let policy = parse_document(&request.document)?;

    let now = state.now();
    let version = state
        .store
        .insert_policy(&app.id, &request.document, &auth.key_id, now)
        .await?;
    let previous = predecessor(&state, &app.id, version).await?;
    let changes = avow_policy::diff(&previous.policy, &policy);

    let detail = if changes.is_empty() {
        format!(
            "version {version} replaces version {} with no effective change",
            previous.version
        )
    } else {
        changes
            .iter()
            .map(Change::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let subject = format!("version {version}");
    audit(
        state.store.as_ref(),
        &auth.key_id,
        "policy_set",
        Some(&app.id),
        Some(&subject),
        &detail,
        now,
    )
    .await;
    tracing::info!(
        app_id = %app.id,
        admin_key = %auth.key_id,
        version,
        previous_version = previous.version,
        changes = changes.len(),
        "policy set"
    );
    Ok(Json(PolicySetResponse {
        app_id: app.id,
        version,
        previous_version: previous.version,
        mode: policy.mode().as_str(),
        changes: changes.into_iter().map(ChangeView::from).collect(),
    }))
}

/// Returns the policy stored just below `version`, or the default preset.
async fn predecessor(
    state: &AppState,
    app_id: &str,
    version: i64,
) -> Result<ActivePolicy, StoreError> {
    if version <= 1 {
        return Ok(default_policy());
    }
    let Some(record) = state.store.policy_version(app_id, version - 1).await? else {
        return Ok(default_policy());
    };
    match Policy::from_toml(&record.document) {
        Ok(policy) => Ok(ActivePolicy {
            version: record.version,
            policy: policy.into(),
        }),
        Err(error) => {
            tracing::warn!(
                app_id,
                version = record.version,
                %error,
                "previous policy version no longer parses; diff shown against the default preset"
            );
            Ok(default_policy())
        }
    }
}

/// Lists the changes a policy document would make to the app's current policy.
pub async fn diff_policy(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<PolicyDocumentRequest>, JsonRejection>,
) -> Result<Json<PolicyDiffResponse>, AdminError> {
    let Json(request) = body?;
    let app = find_app(&state, &app_id).await?;
    let candidate = parse_document(&request.document)?;
    let current = state.policies.active(state.store.as_ref(), &app.id).await?;
    let changes = avow_policy::diff(&current.policy, &candidate);
    Ok(Json(PolicyDiffResponse {
        app_id: app.id,
        current_version: current.version,
        changes: changes.into_iter().map(ChangeView::from).collect(),
    }))
}

/// Checks a policy document without storing it.
pub async fn validate_policy(
    _auth: AdminAuth,
    body: Result<Json<PolicyDocumentRequest>, JsonRejection>,
) -> Result<Json<ValidateResponse>, AdminError> {
    let Json(request) = body?;
    let policy = parse_document(&request.document)?;
    Ok(Json(ValidateResponse {
        valid: true,
        mode: policy.mode().as_str(),
        default_market: policy.default_market().to_owned(),
        markets: policy.markets().keys().cloned().collect(),
    }))
}

/// Lists the built-in presets.
pub async fn list_presets(_auth: AdminAuth) -> Json<PresetList> {
    Json(PresetList {
        presets: avow_policy::PRESET_NAMES.to_vec(),
    })
}

/// Returns the source of one built-in preset.
pub async fn show_preset(
    _auth: AdminAuth,
    Path(name): Path<String>,
) -> Result<Json<PresetView>, AdminError> {
    let document = avow_policy::preset_source(&name).ok_or_else(|| {
        ApiError::not_found(
            "preset_not_found",
            format!(
                "no preset named {name:?}; the presets are {}",
                avow_policy::PRESET_NAMES.join(", ")
            ),
        )
    })?;
    Ok(Json(PresetView { name, document }))
}

// === Dry runs ===

/// `POST /admin/v1/apps/{id}/policy/dry-run` request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// The candidate policy as TOML text.
    pub document: String,
    /// How far back to replay decisions, in seconds. Defaults to 7 days, at most 365 days.
    #[serde(default)]
    pub since_secs: Option<u64>,
    /// How many of the newest decisions to replay. Defaults to 10000, at most 100000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `POST /admin/v1/apps/{id}/policy/dry-run` response.
#[derive(Debug, Serialize)]
pub struct DryRunResponse {
    /// The app.
    pub app_id: String,
    /// Unix seconds from which decisions were replayed.
    pub since: i64,
    /// Decisions replayed.
    pub total: u64,
    /// Decisions whose outcome stays the same.
    pub unchanged: u64,
    /// Decisions that were allowed and would be denied.
    pub allow_to_deny: u64,
    /// Decisions that were denied and would be allowed.
    pub deny_to_allow: u64,
    /// For each reason code, how many decisions the candidate would deny with it.
    pub by_reason: BTreeMap<&'static str, u64>,
    /// Decisions not replayed: outage decisions, which have no verdict, and rows that do not
    /// have the stored format.
    pub skipped: u64,
    /// Whether the window held more decisions than `limit`, so only the newest were replayed.
    pub truncated: bool,
}

/// Replays the app's recent decisions against a candidate policy.
pub async fn dry_run_policy(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Result<Json<DryRunRequest>, JsonRejection>,
) -> Result<Json<DryRunResponse>, AdminError> {
    let Json(request) = body?;
    let app = find_app(&state, &app_id).await?;
    let candidate = parse_document(&request.document)?;
    let since_secs = request.since_secs.unwrap_or(DRY_RUN_DEFAULT_SINCE_SECS);
    if !(1..=DRY_RUN_MAX_SINCE_SECS).contains(&since_secs) {
        return Err(ApiError::bad_request(
            "invalid_since_secs",
            format!("since_secs must be between 1 and {DRY_RUN_MAX_SINCE_SECS}"),
        )
        .into());
    }
    let limit = check_limit(request.limit, DRY_RUN_DEFAULT_LIMIT, DRY_RUN_MAX_LIMIT)?;

    // `since_secs` is at most one year, so it fits in i64.
    let since = state.now() - i64::try_from(since_secs).unwrap_or(i64::MAX);
    let rows = state.store.recent_decisions(&app.id, since, limit).await?;
    let truncated = rows.len() == usize::try_from(limit).unwrap_or(usize::MAX);

    let mut report = avow_policy::DryRunReport::default();
    let mut skipped = 0;
    let mut unreadable = 0;
    for row in &rows {
        match decision_record_from_row(row) {
            Ok(record) => report.add(&candidate, &record),
            Err(DecisionRowError::KindNotReplayable { .. }) => skipped += 1,
            Err(error) => {
                if unreadable == 0 {
                    tracing::warn!(app_id = %app.id, %error, "stored decision cannot be replayed");
                }
                unreadable += 1;
                skipped += 1;
            }
        }
    }
    if unreadable > 1 {
        tracing::warn!(app_id = %app.id, unreadable, "stored decisions skipped by the dry run");
    }
    Ok(Json(DryRunResponse {
        app_id: app.id,
        since,
        total: report.total,
        unchanged: report.unchanged,
        allow_to_deny: report.allow_to_deny,
        deny_to_allow: report.deny_to_allow,
        by_reason: report.by_reason,
        skipped,
        truncated,
    }))
}

/// Reasons a stored decision row cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRowError {
    /// A column does not hold a value in the format the server writes.
    #[error("decision column `{column}` has an unexpected value: {value:?}")]
    ColumnInvalid {
        /// The column.
        column: &'static str,
        /// The stored text.
        value: String,
    },
    /// The decision is of a kind that a policy evaluation does not reproduce: an outage
    /// decision has no verdict.
    #[error("decisions of kind `{kind}` are not replayed")]
    KindNotReplayable {
        /// The stored kind.
        kind: String,
    },
}

/// Converts a stored decision row into the input of [`avow_policy::dry_run`].
///
/// The row contains JSON text as the server writes it: `verdict` in the shape of
/// [`VerdictRecord`], `providers` and `reasons` as arrays of names. The baseline outcome is
/// the enforced one, what the client got. The install was a debug device when the reasons include
/// `debug_device`, and banned when they include `install_banned`. An app version that does not
/// parse for the platform counts as unknown, as it did when the decision was made.
///
/// NOTE: the row stores the market label after resolution, so a decision that fell back to
/// the old policy's `default_market` is replayed under that label, even when the candidate
/// names another default market.
///
/// # Errors
///
/// [`DecisionRowError::KindNotReplayable`] for outage decisions, and
/// [`DecisionRowError::ColumnInvalid`] for a column in another format.
pub fn decision_record_from_row(
    row: &DecisionRecord,
) -> Result<avow_policy::DecisionRecord, DecisionRowError> {
    if !matches!(row.kind.as_str(), "attest" | "refresh") {
        return Err(DecisionRowError::KindNotReplayable {
            kind: row.kind.clone(),
        });
    }
    let invalid = |column: &'static str, value: &str| DecisionRowError::ColumnInvalid {
        column,
        value: value.to_owned(),
    };

    let platform = match row.platform.as_str() {
        "android" => Platform::Android,
        "ios" => Platform::Ios,
        other => return Err(invalid("platform", other)),
    };
    let verdict = serde_json::from_str::<VerdictRecord>(&row.verdict)
        .ok()
        .and_then(|record| record.to_verdict())
        .ok_or_else(|| invalid("verdict", &row.verdict))?;
    let providers = serde_json::from_str::<Vec<String>>(&row.providers)
        .ok()
        .and_then(|names| {
            names
                .iter()
                .map(|name| Provider::parse(name))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| invalid("providers", &row.providers))?;
    let reasons = serde_json::from_str::<Vec<String>>(&row.reasons)
        .map_err(|_| invalid("reasons", &row.reasons))?;
    // The baseline is what the client actually got, so a dry run of a monitored app shows
    // how many installs enforcement would change.
    let previous_outcome = parse_outcome(&row.enforced_outcome)
        .ok_or_else(|| invalid("enforced_outcome", &row.enforced_outcome))?;
    let app_version = row
        .app_version
        .as_deref()
        .and_then(|text| parse_app_version(platform, text));

    Ok(avow_policy::DecisionRecord {
        platform,
        market: (!row.market.is_empty()).then(|| row.market.clone()),
        verdict,
        providers,
        app_version,
        debug_device: reasons.iter().any(|code| code == "debug_device"),
        banned: reasons.iter().any(|code| code == "install_banned"),
        previous_outcome,
    })
}

fn parse_outcome(name: &str) -> Option<Outcome> {
    match name {
        "allow" => Some(Outcome::Allow),
        "deny" => Some(Outcome::Deny),
        _ => None,
    }
}

fn parse_app_version(platform: Platform, text: &str) -> Option<AppVersion> {
    match platform {
        Platform::Android => text.parse::<u64>().ok().map(AppVersion::Android),
        Platform::Ios => text.parse().ok().map(AppVersion::Ios),
    }
}

#[cfg(test)]
mod tests {
    use avow_attest::verdict::{AppIntegrity, DeviceIntegrity, RiskFlag, TrustLevel, Verdict};

    use super::*;

    /// Builds a row in the shape `decide::record` writes for an allowed Android attestation.
    fn android_row() -> DecisionRecord {
        let verdict = Verdict::new(
            Provider::PlayIntegrity,
            TrustLevel::Platform,
            AppIntegrity::Recognized,
            DeviceIntegrity::Device,
            vec![RiskFlag::Rooted],
            Some(1_700_000_000_000),
        );
        DecisionRecord {
            app_id: "com.example.shop".to_owned(),
            install_id: Some("install-1".to_owned()),
            at: 1_700_000_000,
            kind: "attest".to_owned(),
            policy_version: 3,
            market: "de".to_owned(),
            outcome: "allow".to_owned(),
            enforced_outcome: "allow".to_owned(),
            reasons: "[]".to_owned(),
            verdict: serde_json::to_string(&VerdictRecord::from_verdict(&verdict)).unwrap(),
            providers: r#"["play_integrity","avow_device_key"]"#.to_owned(),
            platform: "android".to_owned(),
            app_version: Some("42".to_owned()),
        }
    }

    #[test]
    fn row_converts_every_column() {
        let record = decision_record_from_row(&android_row()).unwrap();
        assert_eq!(record.platform, Platform::Android);
        assert_eq!(record.market.as_deref(), Some("de"));
        assert_eq!(record.verdict.provider, Provider::PlayIntegrity);
        assert_eq!(record.verdict.trust, TrustLevel::Platform);
        assert_eq!(record.verdict.app_integrity, AppIntegrity::Recognized);
        assert_eq!(record.verdict.device_integrity, DeviceIntegrity::Device);
        assert_eq!(record.verdict.risk_flags, vec![RiskFlag::Rooted]);
        assert_eq!(record.verdict.evidence_time_ms, Some(1_700_000_000_000));
        assert_eq!(
            record.providers,
            vec![Provider::PlayIntegrity, Provider::AvowDeviceKey]
        );
        assert_eq!(record.app_version, Some(AppVersion::Android(42)));
        assert!(!record.debug_device);
        assert!(!record.banned);
        assert_eq!(record.previous_outcome, Outcome::Allow);
    }

    #[test]
    fn row_reasons_mark_debug_and_ban() {
        let mut row = android_row();
        row.outcome = "deny".to_owned();
        row.enforced_outcome = "deny".to_owned();
        row.reasons = r#"["install_banned","debug_device","risk_flag_denied"]"#.to_owned();
        let record = decision_record_from_row(&row).unwrap();
        assert!(record.debug_device);
        assert!(record.banned);
        assert_eq!(record.previous_outcome, Outcome::Deny);
    }

    #[test]
    fn row_baseline_is_enforced_outcome() {
        // Monitor mode: the rules denied, the client still got a token.
        let mut row = android_row();
        row.outcome = "deny".to_owned();
        row.enforced_outcome = "allow".to_owned();
        let record = decision_record_from_row(&row).unwrap();
        assert_eq!(record.previous_outcome, Outcome::Allow);
    }

    #[test]
    fn row_ios_bundle_version_parsed() {
        let mut row = android_row();
        row.platform = "ios".to_owned();
        row.app_version = Some("4.2.1".to_owned());
        let record = decision_record_from_row(&row).unwrap();
        assert_eq!(record.platform, Platform::Ios);
        assert_eq!(
            record.app_version.map(|version| version.to_string()),
            Some("4.2.1".to_owned())
        );
    }

    #[test]
    fn row_unparsable_version_is_unknown() {
        let mut row = android_row();
        row.app_version = Some("1.2".to_owned());
        assert_eq!(decision_record_from_row(&row).unwrap().app_version, None);
        row.app_version = None;
        assert_eq!(decision_record_from_row(&row).unwrap().app_version, None);
    }

    #[test]
    fn row_empty_market_is_default() {
        let mut row = android_row();
        row.market = String::new();
        assert_eq!(decision_record_from_row(&row).unwrap().market, None);
    }

    #[test]
    fn row_outage_not_replayed() {
        let mut row = android_row();
        row.kind = "outage".to_owned();
        row.verdict = "null".to_owned();
        assert_eq!(
            decision_record_from_row(&row),
            Err(DecisionRowError::KindNotReplayable {
                kind: "outage".to_owned()
            })
        );
    }

    #[test]
    fn row_bad_columns_named() {
        type Mutation = fn(&mut DecisionRecord);
        let cases: [(&str, Mutation); 7] = [
            ("platform", |row| row.platform = "windows".to_owned()),
            ("verdict", |row| row.verdict = "null".to_owned()),
            ("verdict", |row| {
                row.verdict = row.verdict.replace("\"device\"", "\"excellent\"");
            }),
            ("providers", |row| row.providers = r#"["tpm"]"#.to_owned()),
            ("providers", |row| {
                row.providers = "play_integrity".to_owned()
            }),
            ("reasons", |row| row.reasons = "trust_too_low".to_owned()),
            ("enforced_outcome", |row| {
                row.enforced_outcome = "maybe".to_owned();
            }),
        ];
        for (column, change) in cases {
            let mut row = android_row();
            change(&mut row);
            match decision_record_from_row(&row) {
                Err(DecisionRowError::ColumnInvalid { column: found, .. }) => {
                    assert_eq!(found, column);
                }
                other => panic!("{column}: expected ColumnInvalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn converted_rows_replay_against_candidate() {
        let allowed_rooted = android_row();
        let mut denied_unrecognized = android_row();
        denied_unrecognized.outcome = "deny".to_owned();
        denied_unrecognized.enforced_outcome = "deny".to_owned();
        denied_unrecognized.verdict = denied_unrecognized
            .verdict
            .replace("\"recognized\"", "\"unrecognized\"")
            .replace("[\"rooted\"]", "[]");
        let records: Vec<_> = [allowed_rooted, denied_unrecognized]
            .iter()
            .map(|row| decision_record_from_row(row).unwrap())
            .collect();
        // Denies rooted devices, and no longer requires a recognized app.
        let candidate = Policy::from_toml(
            "[rules]\naccepted_providers = [\"avow_device_key\", \"play_integrity\"]\n\
             deny_flags = [\"rooted\"]\nrequire_app_recognized = false\n",
        )
        .unwrap();
        let report = avow_policy::dry_run(&candidate, &records);
        assert_eq!(report.total, 2);
        assert_eq!(report.allow_to_deny, 1);
        assert_eq!(report.deny_to_allow, 1);
        assert_eq!(report.unchanged, 0);
        assert_eq!(report.by_reason.get("risk_flag_denied"), Some(&1));
    }
}
