//! The publish gate: the checks a pin set must pass before it is signed and sent to apps, and
//! the plan that shows what a change does.
//!
//! The gate is pure. The caller fetches the live chains (from as many vantage points and trust
//! stores as it can), validates them into [`ValidatedPath`]s and passes them in with the
//! document's expiry and the current time. Each finding is a [`Problem`] with a stable
//! [`ProblemCode`]; blocking problems reject the publication unless the operator forces it.

use std::collections::BTreeMap;
use std::fmt;

use crate::HostPattern;
use crate::chain::{CertificateRole, ChainCertificate, ValidatedPath};
use crate::pin::{Pin, PinMatch};
use crate::pinset::{KeyLevel, PinEntry, PinRole, PinSet};

/// Organisations whose CAs pick an intermediate at random for each certificate, so that a pin
/// on one of their intermediates breaks on some renewals.
const RANDOMIZING_CAS: &[&str] = &["O=Let's Encrypt"];

/// The share of devices still running an older pin document, and the pins that document contains
/// for the host being checked.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActiveSet {
    /// The document version the devices hold.
    pub document_version: u64,
    /// The fraction of active devices holding it, from 0.0 to 1.0.
    pub share: f64,
    /// The pins that version contains for the host.
    pub pins: Vec<Pin>,
}

/// Everything the gate needs to judge one host's proposed pin set.
#[derive(Clone, Copy, Debug)]
pub struct GateInput<'a> {
    /// The proposed set.
    pub set: &'a PinSet,
    /// The paths the live chains validated to, one per vantage point and trust store.
    pub live_paths: &'a [ValidatedPath],
    /// The host's certificate is managed by a provider that re-keys it at every renewal
    /// (AWS ACM, a CDN): leaf and intermediate pins are rejected.
    pub managed: bool,
    /// Older documents still active in the field, with their share of devices.
    pub active_population: &'a [ActiveSet],
    /// The share of active devices that may be left without a matching pin, from 0.0 (none,
    /// the default) to 1.0.
    pub uncovered_tolerance: f64,
    /// When the document being published expires, Unix seconds.
    pub document_expires_at: u64,
    /// The current time, Unix seconds.
    pub now: u64,
}

impl<'a> GateInput<'a> {
    /// Returns an input for an unmanaged host with no field population to consider.
    pub fn new(
        set: &'a PinSet,
        live_paths: &'a [ValidatedPath],
        document_expires_at: u64,
        now: u64,
    ) -> Self {
        Self {
            set,
            live_paths,
            managed: false,
            active_population: &[],
            uncovered_tolerance: 0.0,
            document_expires_at,
            now,
        }
    }
}

/// Whether a problem rejects publication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Publication is rejected unless forced.
    Blocking,
    /// Publication goes ahead and the operator sees the warning.
    Warning,
}

/// The kind of finding, as a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemCode {
    /// No live chain was given, so nothing shows the set would match.
    NoLiveChain,
    /// A live path contains none of the set's pins, so apps would fail on that chain.
    NoPinOnPath,
    /// No backup or root pin outside the live paths: the next key change would break apps.
    NoBackupPin,
    /// The set has fewer than two distinct pins.
    FewerThanTwoPins,
    /// A pinned certificate expires (or has expired) before the document does.
    PinnedCertificateExpiresBeforeDocument,
    /// A pinned key, or a key on the path, is of a type mobile pinners cannot hash.
    UnsupportedKeyType,
    /// The set relies on one intermediate of a CA that picks intermediates at random.
    SingleIntermediateOfRandomizingCa,
    /// A leaf key is pinned on a host whose certificate a provider re-keys.
    LeafPinOnManagedHost,
    /// Only intermediates are pinned on a host whose provider may switch intermediates.
    IntermediatePinOnManagedHost,
    /// Devices holding an older document would fail against the live chain.
    ActivePopulationUncovered,
    /// A pin marked current matches a served certificate that is not on the validated path.
    PinOnlyInServedList,
}

impl ProblemCode {
    /// Returns the snake_case code for logs, metrics, API responses and the CLI.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoLiveChain => "no_live_chain",
            Self::NoPinOnPath => "no_pin_on_path",
            Self::NoBackupPin => "no_backup_pin",
            Self::FewerThanTwoPins => "fewer_than_two_pins",
            Self::PinnedCertificateExpiresBeforeDocument => {
                "pinned_certificate_expires_before_document"
            }
            Self::UnsupportedKeyType => "unsupported_key_type",
            Self::SingleIntermediateOfRandomizingCa => "single_intermediate_of_randomizing_ca",
            Self::LeafPinOnManagedHost => "leaf_pin_on_managed_host",
            Self::IntermediatePinOnManagedHost => "intermediate_pin_on_managed_host",
            Self::ActivePopulationUncovered => "active_population_uncovered",
            Self::PinOnlyInServedList => "pin_only_in_served_list",
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// One finding of the gate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The kind of finding.
    pub code: ProblemCode,
    /// Whether it rejects publication.
    pub severity: Severity,
    /// An explanation for the operator, naming the certificates and pins involved.
    pub message: String,
    /// The pins concerned, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<Pin>,
    /// The index of the live path concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<usize>,
}

/// The gate's findings for one host.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GateReport {
    /// The host pattern checked.
    pub host: HostPattern,
    /// Every finding, blocking ones first.
    pub problems: Vec<Problem>,
}

impl GateReport {
    /// Returns true when no problem blocks publication.
    pub fn passes(&self) -> bool {
        !self
            .problems
            .iter()
            .any(|problem| problem.severity == Severity::Blocking)
    }

    /// Returns the blocking problems.
    pub fn blocking(&self) -> impl Iterator<Item = &Problem> + '_ {
        self.problems
            .iter()
            .filter(|problem| problem.severity == Severity::Blocking)
    }

    /// Returns the warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> + '_ {
        self.problems
            .iter()
            .filter(|problem| problem.severity == Severity::Warning)
    }

    /// Returns true when some problem has this code.
    pub fn has(&self, code: ProblemCode) -> bool {
        self.problems.iter().any(|problem| problem.code == code)
    }

    /// Returns the codes found, in report order, without repeats.
    pub fn codes(&self) -> Vec<ProblemCode> {
        let mut codes = Vec::new();
        for problem in &self.problems {
            if !codes.contains(&problem.code) {
                codes.push(problem.code);
            }
        }
        codes
    }
}

/// Runs every check on one host's proposed set.
pub fn check(input: &GateInput<'_>) -> GateReport {
    let mut problems = Vec::new();
    let active: Vec<&PinEntry> = input.set.active(input.now).collect();
    let pinned = |pin: &Pin| active.iter().any(|entry| entry.pin == *pin);
    let on_any_path = |pin: &Pin| input.live_paths.iter().any(|path| path.contains_pin(pin));

    let mut distinct: Vec<Pin> = active.iter().map(|entry| entry.pin).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() < 2 {
        problems.push(Problem {
            code: ProblemCode::FewerThanTwoPins,
            severity: Severity::Blocking,
            message: format!(
                "{} has {} pin(s) in force; a set needs at least two, one of them a backup",
                input.set.host,
                distinct.len()
            ),
            pins: distinct.clone(),
            path: None,
        });
    }

    if input.live_paths.is_empty() {
        problems.push(Problem {
            code: ProblemCode::NoLiveChain,
            severity: Severity::Blocking,
            message: format!(
                "no live chain of {} was validated, so nothing shows that the set matches it",
                input.set.host
            ),
            pins: Vec::new(),
            path: None,
        });
    }

    for (index, path) in input.live_paths.iter().enumerate() {
        if path.pins().any(|pin| pinned(&pin)) {
            continue;
        }
        let served_only: Vec<Pin> = path
            .served_only_pins()
            .into_iter()
            .filter(|pin| pinned(pin))
            .collect();
        let mut message = format!(
            "live path {index} of {} contains none of the set's pins: {}",
            input.set.host,
            describe_path(path)
        );
        if !served_only.is_empty() {
            message.push_str(&format!(
                "; {} matches only a certificate the server sends but the path does not use",
                join(&served_only)
            ));
        }
        for hint in misencoded_pins(path, &active) {
            message.push_str("; ");
            message.push_str(&hint);
        }
        problems.push(Problem {
            code: ProblemCode::NoPinOnPath,
            severity: Severity::Blocking,
            message,
            pins: path.pins().collect(),
            path: Some(index),
        });
    }

    let backups: Vec<Pin> = active
        .iter()
        .filter(|entry| matches!(entry.role, PinRole::Backup | PinRole::Root))
        .map(|entry| entry.pin)
        .filter(|pin| !on_any_path(pin))
        .collect();
    if backups.is_empty() {
        problems.push(Problem {
            code: ProblemCode::NoBackupPin,
            severity: Severity::Blocking,
            message: format!(
                "{} has no backup or root pin outside the live chain; add the pin of the next \
                 key (certificate, CSR or public key) or of the roots the CA may use",
                input.set.host
            ),
            pins: Vec::new(),
            path: None,
        });
    }

    check_expiry(input, &active, &mut problems);
    check_key_types(input, &active, &mut problems);
    check_randomizing_intermediate(input, &active, &mut problems);
    if input.managed {
        check_managed(input, &active, &mut problems);
    }
    check_population(input, &mut problems);

    // A backup or root pin may well be served without being used. A pin marked current is
    // expected to match, so one that matches only the served list is reported.
    let current = |pin: &Pin| {
        active
            .iter()
            .any(|entry| entry.pin == *pin && entry.role == PinRole::Current)
    };
    for (index, path) in input.live_paths.iter().enumerate() {
        for cert in path.served_only() {
            if current(&cert.pin) && !on_any_path(&cert.pin) {
                problems.push(Problem {
                    code: ProblemCode::PinOnlyInServedList,
                    severity: Severity::Warning,
                    message: format!(
                        "pin {} ({}) is served by the host but is not on validated path \
                         {index}; clients match pins on the validated path only",
                        cert.pin, cert.subject
                    ),
                    pins: vec![cert.pin],
                    path: Some(index),
                });
            }
        }
    }

    problems.sort_by_key(|problem| problem.severity);
    GateReport {
        host: input.set.host.clone(),
        problems,
    }
}

/// Runs [`check`] for several hosts and returns the reports in the same order.
pub fn check_all<'a>(inputs: impl IntoIterator<Item = &'a GateInput<'a>>) -> Vec<GateReport> {
    inputs.into_iter().map(check).collect()
}

fn check_expiry(input: &GateInput<'_>, active: &[&PinEntry], problems: &mut Vec<Problem>) {
    let mut seen: Vec<Pin> = Vec::new();
    let mut flag = |pin: Pin, what: String, not_after: u64, problems: &mut Vec<Problem>| {
        if not_after >= input.document_expires_at || seen.contains(&pin) {
            return;
        }
        seen.push(pin);
        let when = if not_after <= input.now {
            format!("expired at {not_after}")
        } else {
            format!("expires at {not_after}")
        };
        problems.push(Problem {
            code: ProblemCode::PinnedCertificateExpiresBeforeDocument,
            severity: Severity::Blocking,
            message: format!(
                "pinned {what} {when}, before the document expires at {}",
                input.document_expires_at
            ),
            pins: vec![pin],
            path: None,
        });
    };
    for path in input.live_paths {
        for cert in path.certificates() {
            if let Some(not_after) = cert.not_after
                && active.iter().any(|entry| entry.pin == cert.pin)
            {
                flag(cert.pin, cert.subject.clone(), not_after, problems);
            }
        }
    }
    for entry in active {
        if let Some(not_after) = entry.not_after {
            let what = entry
                .note
                .clone()
                .unwrap_or_else(|| format!("{} key {}", entry.role.name(), entry.pin));
            flag(entry.pin, what, not_after, problems);
        }
    }
}

fn check_key_types(input: &GateInput<'_>, active: &[&PinEntry], problems: &mut Vec<Problem>) {
    let mut seen: Vec<Pin> = Vec::new();
    for (index, path) in input.live_paths.iter().enumerate() {
        for cert in path.certificates() {
            if cert.key_type.is_mobile_supported() || seen.contains(&cert.pin) {
                continue;
            }
            seen.push(cert.pin);
            let is_pinned = active.iter().any(|entry| entry.pin == cert.pin);
            problems.push(Problem {
                code: ProblemCode::UnsupportedKeyType,
                severity: if is_pinned {
                    Severity::Blocking
                } else {
                    Severity::Warning
                },
                message: format!(
                    "{} on live path {index} has a {} key; mobile pinners handle only RSA \
                     2048/3072/4096 and EC P-256/P-384{}",
                    cert.subject,
                    cert.key_type,
                    if is_pinned {
                        ""
                    } else {
                        " (it is not pinned, but some iOS pinners fail on any such key in the chain)"
                    }
                ),
                pins: vec![cert.pin],
                path: Some(index),
            });
        }
    }
    for entry in active {
        if let Some(key_type) = &entry.key_type
            && !key_type.is_mobile_supported()
            && !seen.contains(&entry.pin)
        {
            seen.push(entry.pin);
            problems.push(Problem {
                code: ProblemCode::UnsupportedKeyType,
                severity: Severity::Blocking,
                message: format!(
                    "{} pin {} is for a {} key; mobile pinners handle only RSA 2048/3072/4096 \
                     and EC P-256/P-384",
                    entry.role.name(),
                    entry.pin,
                    key_type
                ),
                pins: vec![entry.pin],
                path: None,
            });
        }
    }
}

fn check_randomizing_intermediate(
    input: &GateInput<'_>,
    active: &[&PinEntry],
    problems: &mut Vec<Problem>,
) {
    let on_any_path = |pin: &Pin| input.live_paths.iter().any(|path| path.contains_pin(pin));
    // Off-path CA pins (other intermediates or roots) cover a switch of intermediate.
    let other_ca_pins = active
        .iter()
        .filter(|entry| !on_any_path(&entry.pin))
        .filter(|entry| entry.level == Some(KeyLevel::Ca) || entry.role == PinRole::Root)
        .count();
    if other_ca_pins > 0 {
        return;
    }
    let mut flagged: Vec<Pin> = Vec::new();
    for (index, path) in input.live_paths.iter().enumerate() {
        let matched = pinned_certificates(path, active);
        let [only] = matched.as_slice() else {
            continue;
        };
        let randomizing = RANDOMIZING_CAS
            .iter()
            .any(|organisation| only.subject.contains(organisation));
        if only.role == CertificateRole::Intermediate && randomizing && !flagged.contains(&only.pin)
        {
            flagged.push(only.pin);
            problems.push(Problem {
                code: ProblemCode::SingleIntermediateOfRandomizingCa,
                severity: Severity::Warning,
                message: format!(
                    "live path {index} matches only the intermediate {}; this CA picks an \
                     intermediate at random for each certificate, so renewals will land on \
                     others. Pin every intermediate it publishes, or its roots",
                    only.subject
                ),
                pins: vec![only.pin],
                path: Some(index),
            });
        }
    }
}

fn check_managed(input: &GateInput<'_>, active: &[&PinEntry], problems: &mut Vec<Problem>) {
    let pinned = |pin: &Pin| active.iter().any(|entry| entry.pin == *pin);
    let mut leaf_pins: Vec<Pin> = input
        .live_paths
        .iter()
        .map(|path| path.leaf().pin)
        .filter(|pin| pinned(pin))
        .collect();
    leaf_pins.extend(
        active
            .iter()
            .filter(|entry| entry.level == Some(KeyLevel::Leaf))
            .map(|entry| entry.pin),
    );
    leaf_pins.sort();
    leaf_pins.dedup();
    if !leaf_pins.is_empty() {
        problems.push(Problem {
            code: ProblemCode::LeafPinOnManagedHost,
            severity: Severity::Blocking,
            message: format!(
                "{} is managed by a provider that makes a new key at every renewal; leaf pins \
                 ({}) would break then. Pin the provider's roots",
                input.set.host,
                join(&leaf_pins)
            ),
            pins: leaf_pins,
            path: None,
        });
    }
    for (index, path) in input.live_paths.iter().enumerate() {
        let matched = pinned_certificates(path, active);
        let only_intermediates = !matched.is_empty()
            && matched
                .iter()
                .all(|cert| cert.role == CertificateRole::Intermediate);
        if only_intermediates {
            let pins: Vec<Pin> = matched.iter().map(|cert| cert.pin).collect();
            problems.push(Problem {
                code: ProblemCode::IntermediatePinOnManagedHost,
                severity: Severity::Blocking,
                message: format!(
                    "live path {index} of managed host {} matches only intermediate pins ({}); \
                     the provider may move to another intermediate without notice. Pin its \
                     roots",
                    input.set.host,
                    join(&pins)
                ),
                pins,
                path: Some(index),
            });
        }
    }
}

fn check_population(input: &GateInput<'_>, problems: &mut Vec<Problem>) {
    if input.live_paths.is_empty() {
        return;
    }
    let mut uncovered = 0.0;
    let mut versions = Vec::new();
    for held in input.active_population {
        let covered = input
            .live_paths
            .iter()
            .all(|path| held.pins.iter().any(|pin| path.contains_pin(pin)));
        if !covered {
            uncovered += held.share;
            versions.push(held.document_version);
        }
    }
    if !versions.is_empty() && uncovered > input.uncovered_tolerance {
        versions.sort_unstable();
        versions.dedup();
        let list: Vec<String> = versions.iter().map(|v| format!("v{v}")).collect();
        problems.push(Problem {
            code: ProblemCode::ActivePopulationUncovered,
            severity: Severity::Blocking,
            message: format!(
                "{} of active devices would fail on {}: they hold document {} whose pins the \
                 live chain does not match. Publish a set they can reach first, and change the \
                 certificate once they have it",
                percent(uncovered),
                input.set.host,
                list.join(", ")
            ),
            pins: Vec::new(),
            path: None,
        });
    }
}

/// Explains set pins that are a digest of the wrong thing for a certificate on the path: the
/// whole certificate or the bare key instead of the SPKI.
/// Returns the certificates of `path` whose key has an active pin.
fn pinned_certificates<'p>(
    path: &'p ValidatedPath,
    active: &[&PinEntry],
) -> Vec<&'p ChainCertificate> {
    path.certificates()
        .iter()
        .filter(|cert| active.iter().any(|entry| entry.pin == cert.pin))
        .collect()
}

fn misencoded_pins(path: &ValidatedPath, active: &[&PinEntry]) -> Vec<String> {
    let mut hints = Vec::new();
    for entry in active {
        for cert in path.certificates().iter().chain(path.served_only()) {
            let Some(der) = &cert.der else { continue };
            let what = match entry.pin.identify(der.as_ref()) {
                PinMatch::WholeCertificate => "the whole certificate",
                PinMatch::RawKey => "the bare public key without its SPKI wrapper",
                PinMatch::Spki | PinMatch::None => continue,
            };
            hints.push(format!(
                "pin {} is the SHA-256 of {what} of {}, not of its SubjectPublicKeyInfo; the \
                 pin for that key is {}",
                entry.pin, cert.subject, cert.pin
            ));
        }
    }
    hints
}

/// Formats a fraction as a percentage with at most one decimal: 0.2 → "20%", 0.125 → "12.5%".
fn percent(fraction: f64) -> String {
    let tenths = (fraction * 1000.0).round() as i64;
    if tenths % 10 == 0 {
        format!("{}%", tenths / 10)
    } else {
        format!("{}.{}%", tenths / 10, tenths % 10)
    }
}

fn describe_path(path: &ValidatedPath) -> String {
    let parts: Vec<String> = path
        .certificates()
        .iter()
        .map(|cert| format!("{} {}", cert.subject, cert.pin))
        .collect();
    parts.join(" -> ")
}

fn join(pins: &[Pin]) -> String {
    let parts: Vec<String> = pins.iter().map(Pin::to_string).collect();
    parts.join(", ")
}

/// The kind of change to a host's pin set between the published and the proposed sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostChangeKind {
    /// The host is new.
    Added,
    /// The host is dropped.
    Removed,
    /// Pins, roles or the expiry change.
    Changed,
    /// Nothing changes.
    Unchanged,
}

/// A pin whose role changes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RoleChange {
    /// The pin.
    pub pin: Pin,
    /// The published role.
    pub from: PinRole,
    /// The proposed role.
    pub to: PinRole,
}

/// The change to one host's pin set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostChange {
    /// The host pattern.
    pub host: HostPattern,
    /// The kind of change.
    pub kind: HostChangeKind,
    /// Pins in the proposed set only.
    pub pins_added: Vec<PinEntry>,
    /// Pins in the published set only.
    pub pins_removed: Vec<PinEntry>,
    /// Pins in both.
    pub pins_kept: Vec<Pin>,
    /// Kept pins whose role changes.
    pub roles_changed: Vec<RoleChange>,
    /// The published and proposed expiry, when it changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_changed: Option<(u64, u64)>,
}

/// The difference between the published pin sets and the proposed ones, host by host in
/// host-pattern order.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// One entry per host in either list.
    pub hosts: Vec<HostChange>,
}

impl Plan {
    /// Returns the hosts only in the proposed sets.
    pub fn hosts_added(&self) -> Vec<&HostPattern> {
        self.of_kind(HostChangeKind::Added)
    }

    /// Returns the hosts only in the published sets.
    pub fn hosts_removed(&self) -> Vec<&HostPattern> {
        self.of_kind(HostChangeKind::Removed)
    }

    /// Returns true when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.hosts
            .iter()
            .all(|host| host.kind == HostChangeKind::Unchanged)
    }

    fn of_kind(&self, kind: HostChangeKind) -> Vec<&HostPattern> {
        self.hosts
            .iter()
            .filter(|host| host.kind == kind)
            .map(|host| &host.host)
            .collect()
    }
}

/// Compares the published sets with the proposed ones.
pub fn plan(published: &[PinSet], proposed: &[PinSet]) -> Plan {
    let mut by_host: BTreeMap<String, (Option<&PinSet>, Option<&PinSet>)> = BTreeMap::new();
    for set in published {
        by_host.entry(set.host.to_string()).or_default().0 = Some(set);
    }
    for set in proposed {
        by_host.entry(set.host.to_string()).or_default().1 = Some(set);
    }
    let hosts = by_host
        .into_values()
        .filter_map(|pair| match pair {
            (None, Some(new)) => Some(HostChange {
                host: new.host.clone(),
                kind: HostChangeKind::Added,
                pins_added: new.pins.clone(),
                pins_removed: Vec::new(),
                pins_kept: Vec::new(),
                roles_changed: Vec::new(),
                expiry_changed: None,
            }),
            (Some(old), None) => Some(HostChange {
                host: old.host.clone(),
                kind: HostChangeKind::Removed,
                pins_added: Vec::new(),
                pins_removed: old.pins.clone(),
                pins_kept: Vec::new(),
                roles_changed: Vec::new(),
                expiry_changed: None,
            }),
            (Some(old), Some(new)) => Some(compare(old, new)),
            (None, None) => None,
        })
        .collect();
    Plan { hosts }
}

fn compare(old: &PinSet, new: &PinSet) -> HostChange {
    let pins_added: Vec<PinEntry> = new
        .pins
        .iter()
        .filter(|entry| !old.contains(&entry.pin))
        .cloned()
        .collect();
    let pins_removed: Vec<PinEntry> = old
        .pins
        .iter()
        .filter(|entry| !new.contains(&entry.pin))
        .cloned()
        .collect();
    let mut pins_kept = Vec::new();
    let mut roles_changed = Vec::new();
    for entry in &new.pins {
        if let Some(before) = old.entry(&entry.pin) {
            pins_kept.push(entry.pin);
            if before.role != entry.role {
                roles_changed.push(RoleChange {
                    pin: entry.pin,
                    from: before.role,
                    to: entry.role,
                });
            }
        }
    }
    let expiry_changed =
        (old.expires_at != new.expires_at).then_some((old.expires_at, new.expires_at));
    let kind = if pins_added.is_empty()
        && pins_removed.is_empty()
        && roles_changed.is_empty()
        && expiry_changed.is_none()
    {
        HostChangeKind::Unchanged
    } else {
        HostChangeKind::Changed
    };
    HostChange {
        host: new.host.clone(),
        kind,
        pins_added,
        pins_removed,
        pins_kept,
        roles_changed,
        expiry_changed,
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hosts.is_empty() {
            return writeln!(f, "no pin sets");
        }
        for host in &self.hosts {
            let mark = match host.kind {
                HostChangeKind::Added => '+',
                HostChangeKind::Removed => '-',
                HostChangeKind::Changed => '~',
                HostChangeKind::Unchanged => '=',
            };
            writeln!(f, "{mark} {}", host.host)?;
            for entry in &host.pins_added {
                writeln!(f, "    + {} ({})", entry.pin, entry.role)?;
            }
            for entry in &host.pins_removed {
                writeln!(f, "    - {} ({})", entry.pin, entry.role)?;
            }
            for change in &host.roles_changed {
                writeln!(f, "    ~ {} ({} -> {})", change.pin, change.from, change.to)?;
            }
            if let Some((from, to)) = host.expiry_changed {
                writeln!(f, "    ~ expires {from} -> {to}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn percent_formats_tenths() {
        assert_eq!(percent(0.2), "20%");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(percent(1.0), "100%");
    }

    #[test]
    fn plan_lists_added_removed_and_kept() {
        let published = [
            set(
                "a.example.com",
                &[(1, PinRole::Current), (2, PinRole::Backup)],
                10,
            ),
            set("old.example.com", &[(3, PinRole::Current)], 10),
        ];
        let proposed = [
            set(
                "a.example.com",
                &[
                    (2, PinRole::Current),
                    (4, PinRole::Backup),
                    (1, PinRole::Previous { until: 9 }),
                ],
                20,
            ),
            set("new.example.com", &[(5, PinRole::Root)], 10),
        ];
        let plan = plan(&published, &proposed);
        assert_eq!(
            plan.hosts_added(),
            [&HostPattern::parse("new.example.com").unwrap()]
        );
        assert_eq!(
            plan.hosts_removed(),
            [&HostPattern::parse("old.example.com").unwrap()]
        );
        let a = &plan.hosts[0];
        assert_eq!(a.kind, HostChangeKind::Changed);
        assert_eq!(a.pins_added.len(), 1);
        assert_eq!(a.pins_added[0].pin, pin(4));
        assert!(a.pins_removed.is_empty());
        assert_eq!(a.pins_kept, [pin(2), pin(1)]);
        assert_eq!(a.roles_changed.len(), 2);
        assert_eq!(a.expiry_changed, Some((10, 20)));
        assert!(!plan.is_empty());
        let text = plan.to_string();
        assert!(text.starts_with("~ a.example.com\n"), "{text}");
        assert!(text.contains("+ new.example.com"), "{text}");
        assert!(text.contains("- old.example.com"), "{text}");
    }

    #[test]
    fn unchanged_sets_make_an_empty_plan() {
        let sets = [set("a.example.com", &[(1, PinRole::Current)], 10)];
        let plan = plan(&sets, &sets);
        assert!(plan.is_empty());
        assert_eq!(plan.hosts[0].kind, HostChangeKind::Unchanged);
    }

    #[test]
    fn no_live_chain_blocks() {
        let set = set(
            "a.example.com",
            &[(1, PinRole::Current), (2, PinRole::Backup)],
            10,
        );
        let report = check(&GateInput::new(&set, &[], 10, 0));
        assert!(!report.passes());
        assert_eq!(report.codes(), [ProblemCode::NoLiveChain]);
    }
}
