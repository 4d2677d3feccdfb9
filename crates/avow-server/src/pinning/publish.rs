//! The pin document: plan, publish, show and export.
//!
//! Publishing builds one document from every API domain's pin set. Before it signs, the server
//! probes each domain and runs `avow_pinning::gate` on the operator's set (current, backup and
//! root pins) against the live path. Blocking findings, such as no pin on the path, no backup,
//! fewer than two pins, a pinned certificate that expires before the set or an unsupported key
//! type, stop the publication unless the operator forces it with a reason. The reason goes to
//! the audit log.
//!
//! For each domain, the document then contains the set's pins and, as `previous` pins for
//! `pinning.grace_days`, the pins that the previous document had for that host and the new set
//! dropped. Apps that still have the previous document so keep working while they fetch the new
//! one. A previous pin keeps its end of grace across later publishes.
//!
//! Versions are allocated by the database: the next version is one more than the latest, and
//! when a concurrent publish took it first the document is built and signed again with the
//! following one.

use std::collections::BTreeMap;

use avow_pinning::export::{ExportFormat, export as export_sets};
use avow_pinning::gate::{self, GateInput, Plan, ProblemCode, Severity};
use avow_pinning::{DomainPins, Pin, PinDocument, PinEntry, PinRole, PinSet, ValidatedPath};
use avow_store::{ApiDomain, PinDocumentRecord, StoreError};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::find_app;
use super::monitor::probe_all;
use super::probe::{LiveChain, ProbeError};
use super::sets::{DEFAULT_EXPIRES_IN_DAYS, StoredSet, stored_set};
use crate::AppState;
use crate::admin::AdminAuth;
use crate::error::ApiError;

/// How many times a publish signs with the next version before it gives up on versions that
/// concurrent publishes keep taking.
const PUBLISH_ATTEMPTS: u32 = 10;
/// Longest accepted reason of a forced publish, in characters.
const MAX_REASON_CHARS: usize = 500;

/// `POST …/pins/publish` request. `POST …/pins/plan` takes an empty body or `{}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// Publish even when the gate finds blocking problems. Needs `reason`.
    #[serde(default)]
    pub force: bool,
    /// The operator's reason to publish over blocking problems, written to the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One finding, as plan and publish responses list it.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemView {
    /// The host pattern.
    pub host: String,
    /// The reason code, such as `no_backup_pin`.
    pub reason: String,
    /// `blocking` or `warning`.
    pub severity: Severity,
    /// The finding, naming certificates and pins.
    pub message: String,
    /// The pins concerned.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<Pin>,
}

/// A pin added or removed by a change.
#[derive(Clone, Debug, Serialize)]
pub struct PinChange {
    /// The host pattern.
    pub host: String,
    /// The pin.
    pub pin: Pin,
    /// Its role in the proposed set (added pins) or in the published one (removed pins).
    pub role: PinRole,
}

/// The changes a publish makes.
#[derive(Debug, Serialize)]
pub struct DiffView {
    /// Whether nothing changes.
    pub unchanged: bool,
    /// Hosts the document gains.
    pub hosts_added: Vec<String>,
    /// Hosts the document loses.
    pub hosts_removed: Vec<String>,
    /// Pins added, host by host.
    pub pins_added: Vec<PinChange>,
    /// Pins removed, host by host.
    pub pins_removed: Vec<PinChange>,
    /// The full comparison per host, with kept pins and role changes.
    pub hosts: Plan,
}

impl From<Plan> for DiffView {
    fn from(plan: Plan) -> Self {
        let changes = |select: fn(&gate::HostChange) -> &Vec<PinEntry>| {
            plan.hosts
                .iter()
                .flat_map(|host| {
                    select(host).iter().map(|entry| PinChange {
                        host: host.host.to_string(),
                        pin: entry.pin,
                        role: entry.role,
                    })
                })
                .collect::<Vec<_>>()
        };
        Self {
            unchanged: plan.is_empty(),
            hosts_added: plan.hosts_added().iter().map(ToString::to_string).collect(),
            hosts_removed: plan
                .hosts_removed()
                .iter()
                .map(ToString::to_string)
                .collect(),
            pins_added: changes(|host| &host.pins_added),
            pins_removed: changes(|host| &host.pins_removed),
            hosts: plan,
        }
    }
}

/// `POST …/pins/plan` response.
#[derive(Debug, Serialize)]
pub struct PlanView {
    /// The app.
    pub app_id: String,
    /// The published version, if any.
    pub current_version: Option<u64>,
    /// The version a publish would create.
    pub next_version: u64,
    /// Whether a publish without `force` would go ahead.
    pub publishable: bool,
    /// The gate's findings, blocking problems first.
    pub problems: Vec<ProblemView>,
    /// The changes.
    pub diff: DiffView,
    /// The document a publish would sign, without the signature.
    pub document: PinDocument,
}

/// `POST …/pins/publish` response.
#[derive(Debug, Serialize)]
pub struct PublishedView {
    /// The app.
    pub app_id: String,
    /// The new version.
    pub version: u64,
    /// Whether it was published over blocking problems.
    pub forced: bool,
    /// The signed payload.
    pub document: PinDocument,
    /// The compact JWS apps receive.
    pub compact: String,
    /// The gate's findings, which include blocking problems only when forced.
    pub problems: Vec<ProblemView>,
    /// What changed.
    pub diff: DiffView,
}

/// `GET …/pins` response.
#[derive(Debug, Serialize)]
pub struct DocumentView {
    /// The app.
    pub app_id: String,
    /// The version.
    pub version: i64,
    /// The `iat` of the stored signature, Unix seconds.
    pub issued_at: i64,
    /// The document's `exp`, Unix seconds.
    pub expires_at: i64,
    /// Whether it was published over blocking problems.
    pub forced: bool,
    /// Unix seconds of publication.
    pub published_at: i64,
    /// The admin key id that published it.
    pub published_by: String,
    /// The signed payload.
    pub document: PinDocument,
    /// The compact JWS.
    pub compact: String,
    /// The pin sets it was built from, with roles (previous pins carry their end of grace).
    pub pin_sets: Vec<PinSet>,
}

/// The input of a plan or a publish: the pin sets of the domains, and the gate's findings.
struct Prepared {
    hosts: Vec<StoredSet>,
    problems: Vec<ProblemView>,
}

impl Prepared {
    fn blocking(&self) -> usize {
        self.problems
            .iter()
            .filter(|problem| problem.severity == Severity::Blocking)
            .count()
    }
}

/// The latest published document, decoded, with the sets it was built from.
struct Published {
    record: PinDocumentRecord,
    sets: Vec<PinSet>,
}

impl Published {
    fn version(&self) -> u64 {
        u64::try_from(self.record.version).unwrap_or(0)
    }
}

/// Shows what a publish would do, without changing anything.
pub async fn plan(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Result<Json<PlanView>, ApiError> {
    let _: PublishRequest = parse_body(&body)?;
    let app = find_app(&state, &app_id).await?;
    let now = state.now();
    let prepared = prepare(&state, &app.id, now).await?;
    let published = latest_published(&state, &app.id).await?;
    let next_version = published
        .as_ref()
        .map_or(1, |published| published.version() + 1);
    let (document, sets) = build_document(
        &state,
        &app.id,
        &prepared,
        published.as_ref(),
        next_version,
        now,
    );
    let diff = gate::plan(
        published
            .as_ref()
            .map_or(&[][..], |published| &published.sets),
        &sets,
    );
    Ok(Json(PlanView {
        app_id: app.id,
        current_version: published.as_ref().map(Published::version),
        next_version,
        publishable: prepared.blocking() == 0,
        problems: prepared.problems,
        diff: diff.into(),
        document,
    }))
}

/// Signs and stores the next document, unless the gate finds blocking problems and the request
/// does not force it.
pub async fn publish(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<PublishedView>), Response> {
    let request: PublishRequest = parse_body(&body).map_err(IntoResponse::into_response)?;
    let reason = request
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|reason| !reason.is_empty());
    if reason.is_some_and(|reason| reason.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::bad_request(
            "invalid_reason",
            format!("reason must be at most {MAX_REASON_CHARS} characters"),
        )
        .into_response());
    }
    let app = find_app(&state, &app_id)
        .await
        .map_err(IntoResponse::into_response)?;
    let now = state.now();
    let prepared = prepare(&state, &app.id, now)
        .await
        .map_err(IntoResponse::into_response)?;

    let blocking = prepared.blocking();
    if blocking > 0 && !request.force {
        let published = latest_published(&state, &app.id)
            .await
            .map_err(IntoResponse::into_response)?;
        let next = published
            .as_ref()
            .map_or(1, |published| published.version() + 1);
        let (_, sets) = build_document(&state, &app.id, &prepared, published.as_ref(), next, now);
        let diff = gate::plan(
            published
                .as_ref()
                .map_or(&[][..], |published| &published.sets),
            &sets,
        );
        tracing::info!(app_id = %app.id, blocking, "publish rejected by the gate");
        return Err(gate_refusal(&prepared.problems, diff.into()));
    }
    let forced = blocking > 0;
    if forced && reason.is_none() {
        return Err(ApiError::bad_request(
            "reason_required",
            "a forced publish needs a reason; it is written to the audit log",
        )
        .into_response());
    }

    let mut attempt = 1;
    let (record, document, diff) = loop {
        let published = latest_published(&state, &app.id)
            .await
            .map_err(IntoResponse::into_response)?;
        let version = published
            .as_ref()
            .map_or(1, |published| published.version() + 1);
        let (document, sets) =
            build_document(&state, &app.id, &prepared, published.as_ref(), version, now);
        let compact = state
            .pinning
            .keys
            .signer()
            .sign(&document)
            .map_err(|error| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "document_invalid",
                    format!(
                        "the document cannot be signed even with force: {error} ({}); fix the pin \
                     set first",
                        error.reason()
                    ),
                )
                .into_response()
            })?;
        let record = PinDocumentRecord {
            app_id: app.id.clone(),
            version: i64::try_from(version).unwrap_or(i64::MAX),
            issued_at: now,
            expires_at: i64::try_from(document.exp).unwrap_or(i64::MAX),
            document: compact,
            pin_sets: serde_json::to_string(&sets)
                .map_err(|error| ApiError::internal(&error).into_response())?,
            forced,
            published_at: now,
            published_by: auth.key_id.clone(),
        };
        match state.store.insert_pin_document(&record).await {
            Ok(()) => {
                let diff = gate::plan(
                    published
                        .as_ref()
                        .map_or(&[][..], |published| &published.sets),
                    &sets,
                );
                break (record, document, diff);
            }
            Err(StoreError::AlreadyExists(_)) if attempt < PUBLISH_ATTEMPTS => {
                tracing::debug!(app_id = %app.id, version, attempt, "pin document version taken by a concurrent publish, retrying");
                attempt += 1;
            }
            Err(error) => return Err(ApiError::from(error).into_response()),
        }
    };

    let hosts: Vec<String> = document
        .domains
        .iter()
        .map(|domain| domain.host.to_string())
        .collect();
    let mut detail = format!("version {}: {}", document.ver, hosts.join(", "));
    if forced {
        let problems: Vec<String> = prepared
            .problems
            .iter()
            .filter(|problem| problem.severity == Severity::Blocking)
            .map(|problem| format!("{} {}", problem.host, problem.reason))
            .collect();
        detail = format!(
            "{detail}; forced over {}; reason: {}",
            problems.join(", "),
            reason.unwrap_or_default()
        );
    }
    tracing::info!(app_id = %app.id, version = document.ver, forced, admin_key = %auth.key_id, "pin document published");
    crate::policy::audit(
        state.store.as_ref(),
        &auth.key_id,
        if forced {
            "pins_published_forced"
        } else {
            "pins_published"
        },
        Some(&app.id),
        Some(&document.ver.to_string()),
        &detail,
        now,
    )
    .await;

    Ok((
        StatusCode::CREATED,
        Json(PublishedView {
            app_id: app.id,
            version: document.ver,
            forced,
            compact: record.document,
            document,
            problems: prepared.problems,
            diff: diff.into(),
        }),
    ))
}

/// Builds the 409 refusal with every problem.
fn gate_refusal(problems: &[ProblemView], diff: DiffView) -> Response {
    let blocking = problems
        .iter()
        .filter(|problem| problem.severity == Severity::Blocking)
        .count();
    let body = serde_json::json!({
        "reason": "publish_gate_failed",
        "message": format!(
            "the publish gate found {blocking} blocking problem(s); fix them, or publish with \
             force and a reason"
        ),
        "problems": problems,
        "diff": diff,
    });
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// Parses an optional JSON body: empty means the defaults.
fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::bad_request("invalid_json", error.to_string()))
}

/// Reads the domains and pin sets of an app, probes the domains that have a set, and runs the
/// gate on each.
async fn prepare(state: &AppState, app_id: &str, now: i64) -> Result<Prepared, ApiError> {
    let domains = state.store.api_domains(Some(app_id)).await?;
    let mut records: BTreeMap<String, avow_store::PinSetRecord> = state
        .store
        .pin_sets(app_id)
        .await?
        .into_iter()
        .map(|record| (record.host.clone(), record))
        .collect();

    let mut problems = Vec::new();
    let mut with_sets = Vec::new();
    let mut stored_sets = Vec::new();
    for domain in domains {
        match records.remove(&domain.host) {
            Some(record) => {
                stored_sets.push(stored_set(&record)?);
                with_sets.push(domain);
            }
            None => problems.push(ProblemView {
                host: domain.host.clone(),
                reason: "no_pin_set".to_owned(),
                severity: Severity::Warning,
                message: format!(
                    "{} has no pin set, so the document leaves it unpinned; set one with PUT \
                     pin-sets/{}",
                    domain.host, domain.host
                ),
                pins: Vec::new(),
            }),
        }
    }

    let probes = probe_all(state, with_sets, now).await;
    let now_secs = u64::try_from(now).unwrap_or(0);
    let mut hosts = Vec::with_capacity(probes.len());
    for ((domain, live), stored) in probes.into_iter().zip(stored_sets) {
        if stored.set.expires_at <= now_secs {
            problems.push(ProblemView {
                host: domain.host.clone(),
                reason: "pin_set_expired".to_owned(),
                severity: Severity::Blocking,
                message: format!(
                    "the pin set of {} expired at {}; set it again (PUT pin-sets/{}) to give \
                     it a new expiry",
                    domain.host, stored.set.expires_at, domain.host
                ),
                pins: Vec::new(),
            });
        }
        problems.extend(gate_problems(&domain, &stored, &live, now_secs));
        hosts.push(stored);
    }
    problems.sort_by_key(|problem| problem.severity);
    Ok(Prepared { hosts, problems })
}

/// Runs the gate on the operator's set of one domain.
fn gate_problems(
    domain: &ApiDomain,
    stored: &StoredSet,
    live: &Result<LiveChain, ProbeError>,
    now: u64,
) -> Vec<ProblemView> {
    let paths: Vec<ValidatedPath> = live
        .as_ref()
        .ok()
        .and_then(LiveChain::path)
        .into_iter()
        .cloned()
        .collect();
    let why_no_path = match live {
        Ok(live) => live.validation.as_ref().err().map(|error| {
            format!(
                "the served chain does not validate: {error} ({})",
                error.reason()
            )
        }),
        Err(error) => Some(format!("the probe failed: {error}")),
    };
    // NOTE: the gate sees one path per domain (this server's probe with the domain's trust
    // store) and no field population, so `active_population_uncovered` never fires here.
    let input = GateInput {
        managed: domain.managed,
        ..GateInput::new(&stored.set, &paths, stored.set.expires_at, now)
    };
    gate::check(&input)
        .problems
        .into_iter()
        .map(|problem| {
            let mut message = problem.message;
            if problem.code == ProblemCode::NoLiveChain
                && let Some(why) = &why_no_path
            {
                message.push_str("; ");
                message.push_str(why);
            }
            ProblemView {
                host: domain.host.clone(),
                reason: problem.code.reason().to_owned(),
                severity: problem.severity,
                message,
                pins: problem.pins,
            }
        })
        .collect()
}

/// Reads the latest published document and the sets it was built from.
async fn latest_published(state: &AppState, app_id: &str) -> Result<Option<Published>, ApiError> {
    let Some(record) = state.store.latest_pin_document(app_id).await? else {
        return Ok(None);
    };
    let sets = serde_json::from_str(&record.pin_sets).map_err(|error| {
        ApiError::internal(&format!(
            "stored pin sets of document {} of app {app_id} do not parse: {error}",
            record.version
        ))
    })?;
    Ok(Some(Published { record, sets }))
}

/// Builds the document `version` at `now`: each domain's set plus the previous pins still in
/// their grace period. Returns the payload and the sets with roles.
fn build_document(
    state: &AppState,
    app_id: &str,
    prepared: &Prepared,
    published: Option<&Published>,
    version: u64,
    now: i64,
) -> (PinDocument, Vec<PinSet>) {
    let grace_secs = state.config.pinning.grace_days.saturating_mul(86_400);
    assemble(
        &state.config.issuer,
        app_id,
        &prepared.hosts,
        published.map(|published| &published.sets[..]),
        version,
        grace_secs,
        u64::try_from(now).unwrap_or(0),
    )
}

/// Builds the document from the operator's sets and the sets of the previous document, keeping
/// dropped pins for `grace_secs`.
fn assemble(
    issuer: &str,
    app_id: &str,
    hosts: &[StoredSet],
    published: Option<&[PinSet]>,
    version: u64,
    grace_secs: u64,
    now_secs: u64,
) -> (PinDocument, Vec<PinSet>) {
    let mut sets = Vec::with_capacity(hosts.len());
    let mut domains = Vec::with_capacity(hosts.len());
    for stored in hosts {
        let mut set = stored.set.clone();
        let earlier = published
            .and_then(|published| published.iter().find(|earlier| earlier.host == set.host));
        for entry in earlier.map_or(&[][..], |earlier| &earlier.pins) {
            if set.contains(&entry.pin) {
                continue;
            }
            let until = match entry.role {
                PinRole::Previous { until } => until,
                _ => now_secs.saturating_add(grace_secs),
            };
            if until > now_secs {
                let mut previous = PinEntry::new(entry.pin, PinRole::Previous { until });
                previous.note.clone_from(&entry.note);
                // `set` does not contain the pin and the earlier set has no repeated pin, so this
                // add cannot fail.
                let _ = set.add(previous);
            }
        }
        domains.push(DomainPins {
            host: set.host.clone(),
            pins: set.active_pins(now_secs),
            exp: set.expires_at,
            mode: stored.mode,
            after_expiry: stored.after_expiry,
            user_anchors: stored.user_anchors,
        });
        sets.push(set);
    }
    let exp = domains
        .iter()
        .map(|domain| domain.exp)
        .max()
        .unwrap_or_else(|| now_secs + u64::from(DEFAULT_EXPIRES_IN_DAYS) * 86_400);
    let document = PinDocument {
        iss: issuer.to_owned(),
        app: app_id.to_owned(),
        ver: version,
        iat: now_secs,
        exp,
        domains,
    };
    (document, sets)
}

/// Shows the current document of an app.
pub async fn show_document(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
) -> Result<Json<DocumentView>, ApiError> {
    let app = find_app(&state, &app_id).await?;
    let published = latest_published(&state, &app.id)
        .await?
        .ok_or_else(|| no_document(&app.id))?;
    let document = state.pinning.decode(&published.record)?;
    let record = published.record;
    Ok(Json(DocumentView {
        app_id: app.id,
        version: record.version,
        issued_at: record.issued_at,
        expires_at: record.expires_at,
        forced: record.forced,
        published_at: record.published_at,
        published_by: record.published_by,
        document,
        compact: record.document,
        pin_sets: published.sets,
    }))
}

fn no_document(app_id: &str) -> ApiError {
    ApiError::not_found(
        "no_pin_document",
        format!("app {app_id:?} has no published pin document yet"),
    )
}

/// `GET …/pins/export` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `okhttp`, `nsc` (or `android-nsc`), `ios-plist`, `trustkit` or `curl`.
    pub format: String,
}

/// Exports the pins of the current document for apps that pin statically.
pub async fn export(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path(app_id): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| {
        ApiError::bad_request(
            "invalid_query",
            format!("expected ?format=…: {}", rejection.body_text()),
        )
    })?;
    let format = match query.format.as_str() {
        "nsc" => Some(ExportFormat::AndroidNsc),
        name => ExportFormat::from_name(name),
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "invalid_format",
            format!(
                "unknown export format {:?}; use okhttp, nsc, ios-plist, trustkit or curl",
                query.format
            ),
        )
    })?;
    let app = find_app(&state, &app_id).await?;
    let published = latest_published(&state, &app.id)
        .await?
        .ok_or_else(|| no_document(&app.id))?;
    let now = u64::try_from(state.now()).unwrap_or(0);
    let text = export_sets(format, &published.sets, now).map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.reason(),
            error.to_string(),
        )
    })?;
    let content_type = match format {
        ExportFormat::AndroidNsc | ExportFormat::IosPlist => "application/xml; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use avow_pinning::{AfterExpiry, HostPattern, PinningMode, UserAnchorPolicy};

    use super::*;

    const NOW: u64 = 1_750_000_000;
    const DAY: u64 = 86_400;

    fn pin(byte: u8) -> Pin {
        Pin::from_digest([byte; 32])
    }

    fn set(host: &str, pins: &[(u8, PinRole)], expires_at: u64) -> PinSet {
        let mut set = PinSet::new(HostPattern::parse(host).unwrap(), expires_at);
        for (byte, role) in pins {
            set.add_pin(pin(*byte), *role).unwrap();
        }
        set
    }

    fn stored(set: PinSet) -> StoredSet {
        StoredSet {
            set,
            mode: PinningMode::Enforce,
            after_expiry: AfterExpiry::FailClosed,
            user_anchors: UserAnchorPolicy::Reject,
        }
    }

    #[test]
    fn dropped_pins_kept_for_grace_period() {
        let published = [set(
            "api.example.com",
            &[(1, PinRole::Current), (2, PinRole::Backup)],
            NOW + 60 * DAY,
        )];
        let proposed = [stored(set(
            "api.example.com",
            &[(2, PinRole::Current), (3, PinRole::Backup)],
            NOW + 60 * DAY,
        ))];

        let (document, sets) =
            assemble("avow", "app", &proposed, Some(&published), 2, 30 * DAY, NOW);

        assert_eq!(document.ver, 2);
        assert_eq!(document.domains[0].pins, [pin(2), pin(3), pin(1)]);
        assert_eq!(
            sets[0].entry(&pin(1)).unwrap().role,
            PinRole::Previous {
                until: NOW + 30 * DAY
            }
        );
    }

    #[test]
    fn previous_pin_keeps_its_end_and_then_leaves() {
        let until = NOW + 10 * DAY;
        let published = [set(
            "api.example.com",
            &[
                (2, PinRole::Current),
                (3, PinRole::Backup),
                (1, PinRole::Previous { until }),
            ],
            NOW + 60 * DAY,
        )];
        let proposed = [stored(set(
            "api.example.com",
            &[(2, PinRole::Current), (3, PinRole::Backup)],
            NOW + 60 * DAY,
        ))];

        let (_, before) = assemble("avow", "app", &proposed, Some(&published), 3, 30 * DAY, NOW);
        let (after, _) = assemble(
            "avow",
            "app",
            &proposed,
            Some(&published),
            3,
            30 * DAY,
            until,
        );

        assert_eq!(
            before[0].entry(&pin(1)).unwrap().role,
            PinRole::Previous { until }
        );
        assert_eq!(after.domains[0].pins, [pin(2), pin(3)]);
    }

    #[test]
    fn no_grace_drops_pins_at_once() {
        let published = [set("api.example.com", &[(1, PinRole::Current)], NOW + DAY)];
        let proposed = [stored(set(
            "api.example.com",
            &[(2, PinRole::Current), (3, PinRole::Backup)],
            NOW + DAY,
        ))];

        let (document, _) = assemble("avow", "app", &proposed, Some(&published), 2, 0, NOW);

        assert_eq!(document.domains[0].pins, [pin(2), pin(3)]);
    }

    #[test]
    fn document_expiry_is_latest_set_expiry() {
        let proposed = [
            stored(set(
                "a.example.com",
                &[(1, PinRole::Current)],
                NOW + 10 * DAY,
            )),
            stored(set(
                "b.example.com",
                &[(2, PinRole::Current)],
                NOW + 20 * DAY,
            )),
        ];

        let (document, _) = assemble("avow", "app", &proposed, None, 1, 30 * DAY, NOW);
        let (empty, _) = assemble("avow", "app", &[], None, 1, 30 * DAY, NOW);

        assert_eq!(document.exp, NOW + 20 * DAY);
        assert_eq!(document.domains[0].exp, NOW + 10 * DAY);
        assert_eq!(empty.exp, NOW + u64::from(DEFAULT_EXPIRES_IN_DAYS) * DAY);
        assert!(empty.domains.is_empty());
    }
}
