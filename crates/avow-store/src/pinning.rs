//! Records of dynamic certificate pinning: API domains, pin sets, published pin documents, live
//! checks and pin-failure reports.
//!
//! The store keeps pins, host patterns and statuses as the text the server gives it and does not
//! parse them. The server validates them with `avow-pinning` before they reach the store.

/// An API domain of an app: a host pattern whose TLS certificates the app pins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiDomain {
    /// The app the domain belongs to.
    pub app_id: String,
    /// The host pattern: an exact host, `*.example.com` (one extra label) or `**.example.com`
    /// (one or more extra labels). Unique per app.
    pub host: String,
    /// The TLS port, such as 443.
    pub port: i64,
    /// The concrete host name the probe sends as SNI and validates the chain for. Equal to
    /// `host` for an exact host.
    pub probe_host: String,
    /// The `address:port` the probe connects to in place of resolving `probe_host`, if any.
    pub connect_to: Option<String>,
    /// The PEM bundle of trust anchors the probe validates against, or `None` for the Mozilla
    /// roots.
    pub ca_bundle_pem: Option<String>,
    /// Whether a provider manages the certificate (such as a CDN or a cloud certificate
    /// service), so its leaf key changes without notice.
    pub managed: bool,
    /// Unix seconds of registration.
    pub created_at: i64,
}

/// One pin of a pin set with its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinSetEntry {
    /// The SPKI SHA-256 pin in standard base64, 44 characters.
    pub pin: String,
    /// `current`, `backup`, `root` or `previous`.
    pub role: String,
    /// For a `previous` pin, the Unix second until which published documents keep it. `None`
    /// for the other roles.
    pub valid_until: Option<i64>,
    /// `leaf` or `ca` when known: whose key the pin is.
    pub level: Option<String>,
    /// The key type when known, such as `EC P-256` or `RSA-2048`.
    pub key_type: Option<String>,
    /// The `notAfter` of the certificate the pin was taken from, Unix seconds, when known.
    pub not_after: Option<i64>,
    /// The origin of the pin, such as the subject of its certificate. Empty when unknown.
    pub note: String,
}

/// The pin set of one API domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinSetRecord {
    /// The app.
    pub app_id: String,
    /// The host pattern of the domain, as in [`ApiDomain::host`].
    pub host: String,
    /// The pins in the order the server stored them.
    pub pins: Vec<PinSetEntry>,
    /// When the pins stop being valid in published documents, Unix seconds.
    pub expires_at: i64,
    /// `enforce`, or `report_only` to let connections through and only report failures.
    pub mode: String,
    /// The apps' behaviour once the pins have expired: `fail_closed` or `system_trust`.
    pub after_expiry: String,
    /// The apps' behaviour with a path that ends at a user-installed trust anchor: `reject` or
    /// `allow`.
    pub user_anchors: String,
    /// Unix seconds of the last change.
    pub updated_at: i64,
    /// The identity that made the last change, such as an admin key id.
    pub updated_by: String,
}

/// A published pin document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinDocumentRecord {
    /// The app.
    pub app_id: String,
    /// The document version, 1, 2, 3, … per app. Unique per app.
    pub version: i64,
    /// The signed issue time (`iat`) of `document`, Unix seconds.
    pub issued_at: i64,
    /// The signed expiry time (`exp`) of `document`, Unix seconds.
    pub expires_at: i64,
    /// The document as a compact JWS.
    pub document: String,
    /// The pin sets the document was built from, with their roles, as JSON written by the
    /// server.
    pub pin_sets: String,
    /// Whether an operator published it over the objections of the publish gate.
    pub forced: bool,
    /// Unix seconds of publication.
    pub published_at: i64,
    /// The identity that published it, such as an admin key id.
    pub published_by: String,
}

/// The latest live check of one API domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainCheckRecord {
    /// The app.
    pub app_id: String,
    /// The host pattern of the domain.
    pub host: String,
    /// The status code, such as `ok`, `mismatch` or `unreachable`.
    pub status: String,
    /// A readable explanation of the status. Empty when there is nothing to add.
    pub detail: String,
    /// Unix seconds of the check.
    pub checked_at: i64,
    /// The earliest `notAfter` of a certificate on the validated path, Unix seconds, or `None`
    /// when no path was built.
    pub earliest_not_after: Option<i64>,
}

/// One pin-failure report to count, as [`Store::record_pin_report`](crate::Store::record_pin_report)
/// takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinReportEvent {
    /// The app that sent the report.
    pub app_id: String,
    /// The host the app connected to.
    pub host: String,
    /// The failure reason code.
    pub reason: String,
    /// The pin document version the app held, 0 when it held none.
    pub document_version: i64,
    /// The app version the app reported, empty when unknown.
    pub app_version: String,
    /// The report as JSON text, kept as the sample of its group.
    pub sample: String,
    /// Unix seconds of arrival.
    pub received_at: i64,
}

/// Pin-failure reports counted per app, host, reason, document version and app version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinReportAggregate {
    /// The app.
    pub app_id: String,
    /// The host.
    pub host: String,
    /// The failure reason code.
    pub reason: String,
    /// The pin document version, 0 for apps that held none.
    pub document_version: i64,
    /// The app version, empty when unknown.
    pub app_version: String,
    /// How many reports were counted.
    pub count: i64,
    /// Unix seconds of the first report.
    pub first_seen: i64,
    /// Unix seconds of the latest report.
    pub last_seen: i64,
    /// The latest report as JSON text.
    pub sample: String,
}

/// The outcome of [`Store::record_pin_report`](crate::Store::record_pin_report) for a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinReportOutcome {
    /// The report was added to a new or an existing group.
    Counted,
    /// The app already has the maximum number of groups, and the report would have started a
    /// new one, so it was dropped.
    Dropped,
}
