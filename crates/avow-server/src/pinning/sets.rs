//! Pin sets: `PUT` and `GET /admin/v1/apps/{app_id}/pin-sets/{host}`.
//!
//! A pin set contains the operator's pins for one API domain: `current` pins (keys on the chain
//! served now), `backup` pins (keys not served yet, prepared for the next rotation) and `root`
//! pins. Pins dropped by a publish stay in documents as `previous` pins for the grace period;
//! the server adds those when it publishes, so stored sets hold only the operator's three
//! roles.
//!
//! Every pin is checked when it is set: a value in another encoding is rejected with a reason
//! that names it (`pin_hex`, `pin_base64url`, …), and when the live chain is at hand, a value
//! that hashes a whole certificate or a bare key instead of the SubjectPublicKeyInfo is
//! rejected with the certificate it belongs to and its correct pin.

use avow_pinning::{
    AfterExpiry, BackupKey, CertificateDer, HostPattern, KeyLevel, KeySource, KeyType, Pin,
    PinEntry, PinFormatError, PinMatch, PinRole, PinSet, PinningMode, UserAnchorPolicy,
};
use avow_store::{PinSetEntry, PinSetRecord};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::domains::{domain_not_found, normalize_host};
use super::find_app;
use super::probe::{self, LiveChain};
use crate::AppState;
use crate::admin::AdminAuth;
use crate::error::ApiError;

/// Default lifetime of a pin set, in days.
pub const DEFAULT_EXPIRES_IN_DAYS: u32 = 60;
/// Longest accepted lifetime of a pin set, in days.
pub const MAX_EXPIRES_IN_DAYS: u32 = 365;
/// Largest number of pins accepted in one set.
pub const MAX_PINS_PER_SET: usize = 32;

/// A key given in `backup` or `roots`: a pin string, or exactly one of the named members.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum KeySpec {
    /// A pin in standard base64.
    Pin(String),
    /// An object with exactly one member.
    Named(NamedKey),
}

/// A key named by one of its forms.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedKey {
    /// The SPKI SHA-256 pin in standard base64.
    #[serde(default)]
    pub pin: Option<String>,
    /// An X.509 certificate in PEM.
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// A certificate signing request in PEM; its signature is checked.
    #[serde(default)]
    pub csr_pem: Option<String>,
    /// A public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`).
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

/// `PUT /admin/v1/apps/{app_id}/pin-sets/{host}` request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinSetRequest {
    /// Current pins: keys on the chain the domain serves now.
    #[serde(default)]
    pub pins: Vec<String>,
    /// Adds the live path's intermediates and trust anchor as current pins.
    #[serde(default)]
    pub from_live: bool,
    /// Backup keys, not served yet; at least one is needed to publish.
    #[serde(default)]
    pub backup: Vec<KeySpec>,
    /// Root keys: any chain that ends at one of them matches.
    #[serde(default)]
    pub roots: Vec<KeySpec>,
    /// Days the pins stay valid in published documents, 1 to 365. Defaults to 60.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Changes the domain's `managed` flag when given.
    #[serde(default)]
    pub managed: Option<bool>,
    /// `enforce` (the default) or `report_only`.
    #[serde(default)]
    pub mode: Option<PinningMode>,
    /// `fail_closed` (the default) or `system_trust`.
    #[serde(default)]
    pub after_expiry: Option<AfterExpiry>,
    /// `reject` (the default) or `allow`.
    #[serde(default)]
    pub user_anchors: Option<UserAnchorPolicy>,
}

/// A pin set as the admin API shows it.
#[derive(Debug, Serialize)]
pub struct PinSetView {
    /// The host pattern.
    pub host: String,
    /// The pins in stored order.
    pub pins: Vec<PinView>,
    /// When the pins stop being valid in published documents, Unix seconds.
    pub expires_at: i64,
    /// `enforce` or `report_only`.
    pub mode: String,
    /// `fail_closed` or `system_trust`.
    pub after_expiry: String,
    /// `reject` or `allow`.
    pub user_anchors: String,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// The admin key id that made the last change.
    pub updated_by: String,
}

/// One pin of a set.
#[derive(Debug, Serialize)]
pub struct PinView {
    /// The SPKI SHA-256 pin.
    pub pin: String,
    /// `current`, `backup`, `root` or `previous`.
    pub role: String,
    /// For a previous pin, when it leaves documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// `leaf` or `ca`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The key type, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// The certificate's notAfter, Unix seconds, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<i64>,
    /// The origin of the pin, such as a certificate subject.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl From<PinSetRecord> for PinSetView {
    fn from(record: PinSetRecord) -> Self {
        Self {
            host: record.host,
            pins: record
                .pins
                .into_iter()
                .map(|entry| PinView {
                    pin: entry.pin,
                    role: entry.role,
                    until: entry.valid_until,
                    level: entry.level,
                    key_type: entry.key_type,
                    not_after: entry.not_after,
                    note: entry.note,
                })
                .collect(),
            expires_at: record.expires_at,
            mode: record.mode,
            after_expiry: record.after_expiry,
            user_anchors: record.user_anchors,
            updated_at: record.updated_at,
            updated_by: record.updated_by,
        }
    }
}

/// Sets the pin set of an API domain, replacing the earlier one.
pub async fn put_pin_set(
    auth: AdminAuth,
    State(state): State<AppState>,
    Path((app_id, host)): Path<(String, String)>,
    body: Result<Json<PinSetRequest>, JsonRejection>,
) -> Result<Json<PinSetView>, ApiError> {
    let Json(request) = body?;
    let app = find_app(&state, &app_id).await?;
    let host = normalize_host(&host);
    let domain = state
        .store
        .api_domain(&app.id, &host)
        .await?
        .ok_or_else(|| domain_not_found(&app.id, &host))?;
    let days = request.expires_in_days.unwrap_or(DEFAULT_EXPIRES_IN_DAYS);
    if !(1..=MAX_EXPIRES_IN_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            "invalid_expires_in_days",
            format!("expires_in_days must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
        ));
    }

    // The live chain lets `from_live` pick pins and exposes a whole-certificate hash given as a
    // pin. Without `from_live`, a domain that cannot be probed right now can still get its pins.
    let now = state.now();
    let live = match probe::probe_domain(state.pinning.fetcher.as_ref(), &domain, now).await {
        Ok(live) => Some(live),
        Err(error) if request.from_live => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "domain_unreachable",
                format!("from_live needs the live chain: {error}"),
            ));
        }
        Err(error) => {
            tracing::info!(app_id = %app.id, host = %host, %error, "pin set stored without a live chain");
            None
        }
    };
    let entries = build_entries(&request, live.as_ref())?;
    if entries.len() > MAX_PINS_PER_SET {
        return Err(ApiError::bad_request(
            "too_many_pins",
            format!("a pin set holds at most {MAX_PINS_PER_SET} pins"),
        ));
    }

    let record = PinSetRecord {
        app_id: app.id.clone(),
        host: host.clone(),
        pins: entries.iter().map(to_store_entry).collect(),
        expires_at: now + i64::from(days) * 86_400,
        mode: text_of(&request.mode.unwrap_or(PinningMode::Enforce)),
        after_expiry: text_of(&request.after_expiry.unwrap_or(AfterExpiry::FailClosed)),
        user_anchors: text_of(&request.user_anchors.unwrap_or(UserAnchorPolicy::Reject)),
        updated_at: now,
        updated_by: auth.key_id.clone(),
    };
    state.store.put_pin_set(&record).await?;
    if let Some(managed) = request.managed
        && managed != domain.managed
    {
        state
            .store
            .set_api_domain_managed(&app.id, &host, managed)
            .await?;
    }

    let summary: Vec<String> = entries
        .iter()
        .map(|entry| format!("{} {}", entry.role.name(), entry.pin))
        .collect();
    tracing::info!(app_id = %app.id, host = %host, admin_key = %auth.key_id, pins = entries.len(), "pin set stored");
    crate::policy::audit(
        state.store.as_ref(),
        &auth.key_id,
        "pin_set_updated",
        Some(&app.id),
        Some(&host),
        &format!(
            "{}; expires in {days} days; not published until the next publish",
            summary.join(", ")
        ),
        now,
    )
    .await;
    Ok(Json(PinSetView::from(record)))
}

/// Shows the pin set of an API domain.
pub async fn show_pin_set(
    _auth: AdminAuth,
    State(state): State<AppState>,
    Path((app_id, host)): Path<(String, String)>,
) -> Result<Json<PinSetView>, ApiError> {
    let app = find_app(&state, &app_id).await?;
    let host = normalize_host(&host);
    let record = state.store.pin_set(&app.id, &host).await?.ok_or_else(|| {
        ApiError::not_found(
            "pin_set_not_found",
            format!("{host} of app {:?} has no pin set", app.id),
        )
    })?;
    Ok(Json(PinSetView::from(record)))
}

/// Builds the entries of a request, checking every pin against the live chain when there is
/// one.
fn build_entries(
    request: &PinSetRequest,
    live: Option<&LiveChain>,
) -> Result<Vec<PinEntry>, ApiError> {
    let mut entries: Vec<PinEntry> = Vec::new();
    let mut add = |entry: PinEntry, field: &str| -> Result<(), ApiError> {
        if let Some(existing) = entries.iter().find(|other| other.pin == entry.pin) {
            return Err(ApiError::bad_request(
                "duplicate_pin",
                format!(
                    "{field}: pin {} is already in the set as a {} pin",
                    entry.pin,
                    existing.role.name()
                ),
            ));
        }
        entries.push(entry);
        Ok(())
    };

    if request.from_live {
        let path = live
            .and_then(LiveChain::path)
            .ok_or_else(|| live_chain_invalid(live))?;
        for certificate in path.intermediates().iter().chain([path.anchor()]) {
            let mut entry = PinEntry::new(certificate.pin, PinRole::Current);
            entry.level = Some(KeyLevel::Ca);
            entry.key_type = Some(certificate.key_type.clone());
            entry.not_after = certificate.not_after;
            entry.note = Some(certificate.subject.clone());
            add(entry, "from_live")?;
        }
    }
    for (index, text) in request.pins.iter().enumerate() {
        let field = format!("pins[{index}]");
        let pin = parse_pin(text, &field, live)?;
        add(described(pin, PinRole::Current, live), &field)?;
    }
    for (index, spec) in request.backup.iter().enumerate() {
        let field = format!("backup[{index}]");
        let entry = key_entry(spec, &field, PinRole::Backup, live)?;
        add(entry, &field)?;
    }
    for (index, spec) in request.roots.iter().enumerate() {
        let field = format!("roots[{index}]");
        let mut entry = key_entry(spec, &field, PinRole::Root, live)?;
        entry.level = Some(KeyLevel::Ca);
        add(entry, &field)?;
    }
    if entries.is_empty() {
        return Err(ApiError::bad_request(
            "empty_pin_set",
            "give pins, backup or roots, or set from_live",
        ));
    }
    Ok(entries)
}

fn live_chain_invalid(live: Option<&LiveChain>) -> ApiError {
    let detail = live
        .and_then(|live| live.validation.as_ref().err())
        .map_or_else(
            || "no live chain".to_owned(),
            |error| format!("{error} ({})", error.reason()),
        );
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_chain",
        format!("from_live needs a live chain that validates: {detail}"),
    )
}

/// Parses a pin string, and with the live chain at hand rejects a digest of the wrong thing.
fn parse_pin(text: &str, field: &str, live: Option<&LiveChain>) -> Result<Pin, ApiError> {
    match Pin::parse(text) {
        Ok(pin) => {
            reject_misdirected_digest(pin, field, live)?;
            Ok(pin)
        }
        Err(error) => {
            let mut message = format!("{field}: {error}");
            if let Some(recovered) = PinFormatError::recover(text)
                && let Some(hint) = live.and_then(|live| describe_digest(recovered, live))
            {
                message.push_str("; ");
                message.push_str(&hint);
            }
            Err(ApiError::bad_request(error.reason(), message))
        }
    }
}

/// Rejects a well-formed value that hashes a whole served certificate or its bare key.
fn reject_misdirected_digest(
    pin: Pin,
    field: &str,
    live: Option<&LiveChain>,
) -> Result<(), ApiError> {
    let Some(live) = live else { return Ok(()) };
    for der in &live.served {
        let reason = match pin.identify(der.as_ref()) {
            PinMatch::WholeCertificate => "pin_whole_certificate_hash",
            PinMatch::RawKey => "pin_raw_key_hash",
            PinMatch::Spki | PinMatch::None => continue,
        };
        let hint = describe_digest(pin, live).unwrap_or_default();
        return Err(ApiError::bad_request(reason, format!("{field}: {hint}")));
    }
    Ok(())
}

/// Says what a 32-byte value is the SHA-256 of among the served certificates, with the
/// correct pin of that certificate's key.
fn describe_digest(value: Pin, live: &LiveChain) -> Option<String> {
    live.served
        .iter()
        .find_map(|der: &CertificateDer<'static>| {
            let what = match value.identify(der.as_ref()) {
                PinMatch::Spki => "the SubjectPublicKeyInfo (a correct pin)",
                PinMatch::WholeCertificate => "the whole certificate",
                PinMatch::RawKey => "the bare public key without its SPKI wrapper",
                PinMatch::None => return None,
            };
            let certificate = avow_pinning::ChainCertificate::from_certificate_der(
                der.as_ref(),
                avow_pinning::CertificateRole::ServedOnly,
            )
            .ok()?;
            Some(format!(
                "the value is the SHA-256 of {what} of {}, whose pin is {}",
                certificate.subject, certificate.pin
            ))
        })
}

/// Returns an entry for `pin`, described from the live path when it is on it.
fn described(pin: Pin, role: PinRole, live: Option<&LiveChain>) -> PinEntry {
    let mut entry = PinEntry::new(pin, role);
    let on_path = live
        .and_then(LiveChain::path)
        .and_then(|path| path.certificates().iter().find(|cert| cert.pin == pin));
    if let Some(certificate) = on_path {
        entry.level = Some(match certificate.role {
            avow_pinning::CertificateRole::Leaf => KeyLevel::Leaf,
            _ => KeyLevel::Ca,
        });
        entry.key_type = Some(certificate.key_type.clone());
        entry.not_after = certificate.not_after;
        entry.note = Some(certificate.subject.clone());
    }
    entry
}

/// Reads a backup or root key.
fn key_entry(
    spec: &KeySpec,
    field: &str,
    role: PinRole,
    live: Option<&LiveChain>,
) -> Result<PinEntry, ApiError> {
    let named = match spec {
        KeySpec::Pin(text) => {
            let pin = parse_pin(text, field, live)?;
            return Ok(described(pin, role, live));
        }
        KeySpec::Named(named) => named,
    };

    let given: Vec<(&str, &String, KeySource)> = [
        ("pin", named.pin.as_ref(), KeySource::Pin),
        (
            "certificate_pem",
            named.certificate_pem.as_ref(),
            KeySource::Certificate,
        ),
        ("csr_pem", named.csr_pem.as_ref(), KeySource::Csr),
        (
            "public_key_pem",
            named.public_key_pem.as_ref(),
            KeySource::PublicKey,
        ),
    ]
    .into_iter()
    .filter_map(|(name, value, source)| value.map(|value| (name, value, source)))
    .collect();
    let [(member, text, expected)] = given.as_slice() else {
        return Err(ApiError::bad_request(
            "invalid_key",
            format!(
                "{field}: give exactly one of pin, certificate_pem, csr_pem and public_key_pem"
            ),
        ));
    };

    if *expected == KeySource::Pin {
        let pin = parse_pin(text, &format!("{field}.pin"), live)?;
        return Ok(described(pin, role, live));
    }
    let key = BackupKey::from_text(text).map_err(|error| {
        ApiError::bad_request(error.reason(), format!("{field}.{member}: {error}"))
    })?;
    if key.source != *expected {
        return Err(ApiError::bad_request(
            "invalid_key",
            format!(
                "{field}.{member} holds a {} instead",
                match key.source {
                    KeySource::Certificate => "certificate",
                    KeySource::Csr => "certificate signing request",
                    KeySource::PublicKey => "public key",
                    KeySource::Pin => "pin",
                }
            ),
        ));
    }

    let mut entry = key.to_entry();
    entry.role = role;
    Ok(entry)
}

/// Converts an entry for the store.
fn to_store_entry(entry: &PinEntry) -> PinSetEntry {
    PinSetEntry {
        pin: entry.pin.to_string(),
        role: entry.role.name().to_owned(),
        valid_until: match entry.role {
            PinRole::Previous { until } => Some(i64::try_from(until).unwrap_or(i64::MAX)),
            _ => None,
        },
        level: entry.level.map(|level| text_of(&level)),
        key_type: entry.key_type.as_ref().map(ToString::to_string),
        not_after: entry
            .not_after
            .map(|not_after| i64::try_from(not_after).unwrap_or(i64::MAX)),
        note: entry.note.clone().unwrap_or_default(),
    }
}

/// Returns the snake_case name serde gives a unit enum value.
fn text_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn from_text<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
}

/// A stored pin set with its settings, as `avow_pinning` types.
#[derive(Clone, Debug)]
pub struct StoredSet {
    /// The pins and expiry.
    pub set: PinSet,
    /// The pinning mode.
    pub mode: PinningMode,
    /// The policy after expiry.
    pub after_expiry: AfterExpiry,
    /// The user-anchor policy.
    pub user_anchors: UserAnchorPolicy,
}

/// Reads a stored pin set. A value the server would not have written is an internal error.
pub fn stored_set(record: &PinSetRecord) -> Result<StoredSet, ApiError> {
    let corrupt = |what: &str| {
        ApiError::internal(&format!(
            "stored pin set of {} in app {} has an invalid {what}",
            record.host, record.app_id
        ))
    };
    let host = HostPattern::parse(&record.host).map_err(|_| corrupt("host pattern"))?;
    let mut set = PinSet::new(host, u64::try_from(record.expires_at).unwrap_or(0));
    for entry in &record.pins {
        let pin = Pin::parse(&entry.pin).map_err(|_| corrupt("pin"))?;
        let role = match (entry.role.as_str(), entry.valid_until) {
            ("current", _) => PinRole::Current,
            ("backup", _) => PinRole::Backup,
            ("root", _) => PinRole::Root,
            ("previous", Some(until)) => PinRole::Previous {
                until: u64::try_from(until).unwrap_or(0),
            },
            _ => return Err(corrupt("role")),
        };
        let mut parsed = PinEntry::new(pin, role);
        if let Some(level) = &entry.level {
            parsed.level = Some(from_text::<KeyLevel>(level).ok_or_else(|| corrupt("level"))?);
        }
        parsed.key_type = entry.key_type.as_deref().and_then(from_text::<KeyType>);
        parsed.not_after = entry
            .not_after
            .and_then(|not_after| u64::try_from(not_after).ok());
        parsed.note = (!entry.note.is_empty()).then(|| entry.note.clone());
        set.add(parsed).map_err(|_| corrupt("repeated pin"))?;
    }
    Ok(StoredSet {
        set,
        mode: from_text(&record.mode).ok_or_else(|| corrupt("mode"))?,
        after_expiry: from_text(&record.after_expiry).ok_or_else(|| corrupt("after_expiry"))?,
        user_anchors: from_text(&record.user_anchors).ok_or_else(|| corrupt("user_anchors"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN_A: &str = "C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=";
    const PIN_B: &str = "diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI=";

    fn request(json: serde_json::Value) -> PinSetRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn pins_backup_and_roots_get_their_roles() {
        let request = request(serde_json::json!({
            "pins": [PIN_A],
            "backup": [{"pin": PIN_B}],
            "roots": ["++MBgDH5WGvL9Bcn5Be30cRcL0f5O+NyoXuWtQdX1aI="],
        }));
        let entries = build_entries(&request, None).unwrap();
        let roles: Vec<&str> = entries.iter().map(|entry| entry.role.name()).collect();
        assert_eq!(roles, ["current", "backup", "root"]);
        assert_eq!(entries[2].level, Some(KeyLevel::Ca));
    }

    #[test]
    fn bad_pin_formats_named() {
        let hex = "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3";
        let cases = [
            (serde_json::json!({"pins": [hex]}), "pin_hex", "pins[0]"),
            (
                serde_json::json!({"pins": [format!("sha256/{PIN_A}")]}),
                "pin_okhttp_prefix",
                "pins[0]",
            ),
            (
                serde_json::json!({"pins": [PIN_A], "backup": [{"pin": PIN_B.replace('/', "_")}]}),
                "pin_base64url",
                "backup[0].pin",
            ),
            (
                serde_json::json!({"pins": [PIN_A], "roots": [PIN_A.trim_end_matches('=')]}),
                "pin_missing_padding",
                "roots[0]",
            ),
        ];
        for (json, reason, field) in cases {
            let error = build_entries(&request(json), None).unwrap_err();
            assert_eq!(error.reason(), reason);
            let body = format!("{error:?}");
            assert!(body.contains(field), "{reason}: {body}");
        }
    }

    #[test]
    fn repeated_pin_rejected() {
        let request = request(serde_json::json!({"pins": [PIN_A], "backup": [PIN_A]}));
        let error = build_entries(&request, None).unwrap_err();
        assert_eq!(error.reason(), "duplicate_pin");
    }

    #[test]
    fn key_object_needs_one_member() {
        let request = request(serde_json::json!({
            "pins": [PIN_A],
            "backup": [{"pin": PIN_B, "csr_pem": "x"}],
        }));
        let error = build_entries(&request, None).unwrap_err();
        assert_eq!(error.reason(), "invalid_key");
    }

    #[test]
    fn certificate_given_as_csr_rejected() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["next.example.com".to_owned()]).unwrap();
        let certificate = params.self_signed(&key).unwrap();
        let request = request(serde_json::json!({
            "pins": [PIN_A],
            "backup": [{"csr_pem": certificate.pem()}],
        }));
        let error = build_entries(&request, None).unwrap_err();
        assert_eq!(error.reason(), "invalid_key");

        let csr = params.serialize_request(&key).unwrap().pem().unwrap();
        let request = self::request(serde_json::json!({
            "pins": [PIN_A],
            "backup": [{"csr_pem": csr}],
        }));
        let entries = build_entries(&request, None).unwrap();
        assert_eq!(
            entries[1].pin,
            Pin::from_certificate_der(certificate.der()).unwrap()
        );
        assert_eq!(entries[1].role, PinRole::Backup);
        assert_eq!(entries[1].level, Some(KeyLevel::Leaf));
    }

    #[test]
    fn empty_request_rejected() {
        let error = build_entries(&PinSetRequest::default(), None).unwrap_err();
        assert_eq!(error.reason(), "empty_pin_set");
    }

    #[test]
    fn stored_set_round_trip() {
        let request = request(serde_json::json!({
            "pins": [PIN_A],
            "backup": [PIN_B],
        }));
        let entries = build_entries(&request, None).unwrap();
        let record = PinSetRecord {
            app_id: "app".to_owned(),
            host: "api.example.com".to_owned(),
            pins: entries.iter().map(to_store_entry).collect(),
            expires_at: 1000,
            mode: text_of(&PinningMode::ReportOnly),
            after_expiry: text_of(&AfterExpiry::SystemTrust),
            user_anchors: text_of(&UserAnchorPolicy::Allow),
            updated_at: 1,
            updated_by: "admin".to_owned(),
        };
        assert_eq!(record.mode, "report_only");

        let stored = stored_set(&record).unwrap();

        assert_eq!(stored.set.pins, entries);
        assert_eq!(stored.set.expires_at, 1000);
        assert_eq!(stored.mode, PinningMode::ReportOnly);
        assert_eq!(stored.after_expiry, AfterExpiry::SystemTrust);
        assert_eq!(stored.user_anchors, UserAnchorPolicy::Allow);
    }
}
