//! Pin-failure reports: what an app sends to `POST /v1/pin-reports`.
//!
//! A report names the host that failed and the reason, what the server sent, which path the app
//! validated, which pins the app held and from which document version, and which app build
//! saw it. The server parses untrusted reports with [`PinFailureReport::from_json`], which
//! enforces the size limits below. Apps build them with [`ReportBuilder`], which cuts chains to
//! those limits, so a report it builds with a valid app id, version, host and port is
//! accepted.
//!
//! ```json
//! {"host":"api.example.com","port":443,
//!  "served_chain":["MIIB…"],"validated_chain":["MIIB…"],
//!  "pins_known":["C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=","…"],
//!  "document_version":7,"app_id":"com.example.shop","app_version":"4.2.0",
//!  "reason":"pin_mismatch","mode":"enforce"}
//! ```
//!
//! Certificates are DER in standard, padded base64. `mode` is present exactly for reasons about
//! a connection ([`ReportReason::is_connection`]); reports about a rejected document or the
//! device clock carry the host and port of the Avow server the app talks to, empty chains and
//! no `mode`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};

use crate::document::json;
use crate::{Pin, PinFormatError, PinningMode};

/// Maximum size of a report body, in bytes.
pub const MAX_REPORT_LEN: usize = 128 * 1024;
/// Maximum number of certificates in each of `served_chain` and `validated_chain`.
pub const MAX_CHAIN_CERTIFICATES: usize = 8;
/// Maximum total DER size of the certificates in each chain, in bytes. Two full chains in
/// base64 stay under [`MAX_REPORT_LEN`].
pub const MAX_CHAIN_DER_LEN: usize = 40 * 1024;
/// Maximum number of pins in `pins_known`.
pub const MAX_PINS_KNOWN: usize = 64;
/// Maximum length of `app_id`, in bytes.
pub const MAX_APP_ID_LEN: usize = 256;
/// Maximum length of `app_version`, in bytes.
pub const MAX_APP_VERSION_LEN: usize = 64;

/// A pin-failure report.
///
/// Outside this crate it can only be created by [`PinFailureReport::from_json`] or
/// [`ReportBuilder::build`], which both run [`PinFailureReport::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PinFailureReport {
    /// The host name (or IP address) the app connected to, or for document and clock reports
    /// the Avow server's host.
    pub host: String,
    /// The port, 1 to 65535.
    pub port: u16,
    /// The certificates the server sent, leaf first. Empty for document and clock reports.
    #[serde(serialize_with = "serialize_chain")]
    pub served_chain: Vec<CertificateDer<'static>>,
    /// The certificates of the path the app validated, leaf first. The trust anchor is
    /// included only when the server sent it. Empty when no path validated, and for document
    /// and clock reports.
    #[serde(serialize_with = "serialize_chain")]
    pub validated_chain: Vec<CertificateDer<'static>>,
    /// The pins the app held for the host.
    pub pins_known: Vec<Pin>,
    /// The version of the pin document the app held.
    pub document_version: u64,
    /// The app id.
    pub app_id: String,
    /// The app's version string, such as `4.2.0 (1234)`.
    pub app_version: String,
    /// What happened.
    pub reason: ReportReason,
    /// The host's pinning mode, present exactly for connection reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<PinningMode>,
}

/// A report body as received, before certificates and pins are decoded with named errors.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceivedReport {
    host: String,
    port: u16,
    served_chain: Vec<String>,
    validated_chain: Vec<String>,
    pins_known: Vec<String>,
    document_version: u64,
    app_id: String,
    app_version: String,
    reason: ReportReason,
    #[serde(default)]
    mode: Option<PinningMode>,
}

/// The subject of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    /// The device's wall clock disagrees with the time derived from signed documents.
    ClockAnomaly,
    /// An offered document had a lower version (or the same version with an earlier `iat`)
    /// than the one held.
    DocumentDowngrade,
    /// An offered document had expired by the app's trusted time.
    DocumentExpired,
    /// An offered document was not a valid pin document (encoding, JSON, rules).
    DocumentMalformed,
    /// An offered document was issued further in the future than both the trusted time and
    /// the device clock allow.
    DocumentNotYetValid,
    /// An offered document was validly signed but for another app.
    DocumentOtherApp,
    /// An offered document's signature, algorithm or key id did not verify.
    DocumentTampered,
    /// A connection was accepted on WebPKI validation alone because the host's pin set has
    /// expired and its policy after expiry is `system_trust`.
    ExpiredSetInUse,
    /// The validated path ended at a user-installed trust anchor.
    NonPublicAnchor,
    /// No certificate on the validated path has one of the host's pins.
    PinMismatch,
    /// The host's pin set has expired and its policy after expiry is `fail_closed`.
    PinSetExpired,
}

impl ReportReason {
    /// Returns the snake_case code, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClockAnomaly => "clock_anomaly",
            Self::DocumentDowngrade => "document_downgrade",
            Self::DocumentExpired => "document_expired",
            Self::DocumentMalformed => "document_malformed",
            Self::DocumentNotYetValid => "document_not_yet_valid",
            Self::DocumentOtherApp => "document_other_app",
            Self::DocumentTampered => "document_tampered",
            Self::ExpiredSetInUse => "expired_set_in_use",
            Self::NonPublicAnchor => "non_public_anchor",
            Self::PinMismatch => "pin_mismatch",
            Self::PinSetExpired => "pin_set_expired",
        }
    }

    /// Returns true for reasons about one TLS connection, which carry chains and a `mode`.
    pub fn is_connection(self) -> bool {
        matches!(
            self,
            Self::ExpiredSetInUse | Self::NonPublicAnchor | Self::PinMismatch | Self::PinSetExpired
        )
    }
}

impl fmt::Display for ReportReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PinFailureReport {
    /// Starts a report from `app_id` and `app_version` about `reason`.
    pub fn builder(
        app_id: impl Into<String>,
        app_version: impl Into<String>,
        reason: ReportReason,
    ) -> ReportBuilder {
        ReportBuilder {
            report: Self {
                host: String::new(),
                port: 0,
                served_chain: Vec::new(),
                validated_chain: Vec::new(),
                pins_known: Vec::new(),
                document_version: 0,
                app_id: app_id.into(),
                app_version: app_version.into(),
                reason,
                mode: None,
            },
        }
    }

    /// Parses and validates a report body.
    ///
    /// # Errors
    ///
    /// [`ReportError::TooLarge`], [`ReportError::DuplicateKey`] or [`ReportError::Malformed`]
    /// for the body itself, then the first rule of [`PinFailureReport::validate`] it breaks.
    pub fn from_json(body: &[u8]) -> Result<Self, ReportError> {
        if body.len() > MAX_REPORT_LEN {
            return Err(ReportError::TooLarge {
                len: body.len(),
                max: MAX_REPORT_LEN,
            });
        }
        let malformed = |error: serde_json::Error| ReportError::Malformed {
            detail: error.to_string().chars().take(200).collect(),
        };
        if let Some(key) = json::first_duplicate_key(body).map_err(malformed)? {
            return Err(ReportError::DuplicateKey {
                key: key.chars().take(64).collect(),
            });
        }
        let received: ReceivedReport = serde_json::from_slice(body).map_err(malformed)?;
        let pins_known = received
            .pins_known
            .iter()
            .take(MAX_PINS_KNOWN + 1)
            .map(|pin| Pin::parse(pin))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ReportError::InvalidPin)?;
        if received.pins_known.len() > MAX_PINS_KNOWN {
            return Err(ReportError::TooManyPins {
                count: received.pins_known.len(),
                max: MAX_PINS_KNOWN,
            });
        }
        let report = Self {
            served_chain: decode_chain("served_chain", &received.served_chain)?,
            validated_chain: decode_chain("validated_chain", &received.validated_chain)?,
            pins_known,
            host: received.host,
            port: received.port,
            document_version: received.document_version,
            app_id: received.app_id,
            app_version: received.app_version,
            reason: received.reason,
            mode: received.mode,
        };
        report.validate()?;
        Ok(report)
    }

    /// Serialises the report as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // serde_json fails only on maps with non-string keys and on failing Serialize impls,
        // and the report has neither, so the fallback is never taken.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks the limits and consistency rules of a report.
    ///
    /// # Errors
    ///
    /// In this order: host, port, `app_id`, `app_version`, each chain's count, size and
    /// certificates, `pins_known` count, then `mode` against `reason` and a served chain for
    /// connection reasons.
    pub fn validate(&self) -> Result<(), ReportError> {
        if ServerName::try_from(self.host.as_str()).is_err() {
            return Err(ReportError::InvalidHost {
                host: self.host.chars().take(64).collect(),
            });
        }
        if self.port == 0 {
            return Err(ReportError::InvalidPort);
        }
        check_text("app_id", &self.app_id, MAX_APP_ID_LEN)?;
        check_text("app_version", &self.app_version, MAX_APP_VERSION_LEN)?;
        check_chain("served_chain", &self.served_chain)?;
        check_chain("validated_chain", &self.validated_chain)?;
        if self.pins_known.len() > MAX_PINS_KNOWN {
            return Err(ReportError::TooManyPins {
                count: self.pins_known.len(),
                max: MAX_PINS_KNOWN,
            });
        }
        match (self.reason.is_connection(), self.mode) {
            (true, None) => {
                return Err(ReportError::MissingMode {
                    reason: self.reason,
                });
            }
            (false, Some(_)) => {
                return Err(ReportError::UnexpectedMode {
                    reason: self.reason,
                });
            }
            _ => {}
        }
        if self.reason.is_connection() && self.served_chain.is_empty() {
            return Err(ReportError::MissingServedChain {
                reason: self.reason,
            });
        }
        Ok(())
    }
}

/// Builds a [`PinFailureReport`], cutting chains and pins to the limits.
#[derive(Clone, Debug)]
pub struct ReportBuilder {
    report: PinFailureReport,
}

impl ReportBuilder {
    /// Sets the host and port.
    pub fn host(mut self, host: impl Into<String>, port: u16) -> Self {
        self.report.host = host.into();
        self.report.port = port;
        self
    }

    /// Sets the served chain, keeping the certificates from the leaf onwards that fit in
    /// [`MAX_CHAIN_CERTIFICATES`] and [`MAX_CHAIN_DER_LEN`].
    pub fn served_chain(mut self, chain: &[CertificateDer<'_>]) -> Self {
        self.report.served_chain = fit_chain(chain);
        self
    }

    /// Sets the validated chain, cut like [`ReportBuilder::served_chain`].
    pub fn validated_chain(mut self, chain: &[CertificateDer<'_>]) -> Self {
        self.report.validated_chain = fit_chain(chain);
        self
    }

    /// Sets the pins the app held for the host, keeping the first [`MAX_PINS_KNOWN`].
    pub fn pins_known(mut self, pins: impl IntoIterator<Item = Pin>) -> Self {
        self.report.pins_known = pins.into_iter().take(MAX_PINS_KNOWN).collect();
        self
    }

    /// Sets the version of the document the app held.
    pub fn document_version(mut self, version: u64) -> Self {
        self.report.document_version = version;
        self
    }

    /// Sets the host's pinning mode (for connection reasons).
    pub fn mode(mut self, mode: PinningMode) -> Self {
        self.report.mode = Some(mode);
        self
    }

    /// Checks the report with [`PinFailureReport::validate`] and returns it.
    ///
    /// # Errors
    ///
    /// The rule it breaks. Chains and pins are already cut to the limits, so that can only be a
    /// bad host, port, app id or version, or a `mode` or served chain that does not fit the
    /// reason.
    pub fn build(self) -> Result<PinFailureReport, ReportError> {
        self.report.validate()?;
        Ok(self.report)
    }
}

/// Reasons a pin-failure report was rejected.
///
/// [`ReportError::reason`] gives a stable snake_case code for each variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The body is larger than [`MAX_REPORT_LEN`].
    #[error("report is {len} bytes, more than the maximum of {max}")]
    TooLarge {
        /// The length received.
        len: usize,
        /// The maximum accepted length.
        max: usize,
    },
    /// The body is not JSON of the report's shape.
    #[error("report is malformed: {detail}")]
    Malformed {
        /// The JSON parser's description.
        detail: String,
    },
    /// A JSON object has the same key twice.
    #[error("report has the key {key:?} more than once")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// `host` is not a DNS name or IP address.
    #[error("report host {host:?} is not a DNS name or IP address")]
    InvalidHost {
        /// The host received (at most 64 characters of it).
        host: String,
    },
    /// `port` is 0.
    #[error("report port must be between 1 and 65535")]
    InvalidPort,
    /// `app_id` or `app_version` is empty, too long or has control characters.
    #[error("report {field} {detail}")]
    InvalidText {
        /// `app_id` or `app_version`.
        field: &'static str,
        /// The problem with the value.
        detail: &'static str,
    },
    /// A chain has more than [`MAX_CHAIN_CERTIFICATES`] certificates.
    #[error("report {field} has {count} certificates, more than the maximum of {max}")]
    TooManyCertificates {
        /// `served_chain` or `validated_chain`.
        field: &'static str,
        /// The number received.
        count: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// A chain's certificates add up to more than [`MAX_CHAIN_DER_LEN`] bytes.
    #[error("report {field} holds {len} bytes of certificates, more than the maximum of {max}")]
    ChainTooLarge {
        /// `served_chain` or `validated_chain`.
        field: &'static str,
        /// The total DER length received.
        len: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// A chain entry is not an X.509 certificate.
    #[error("report {field} entry {index} is not an X.509 certificate")]
    InvalidCertificate {
        /// `served_chain` or `validated_chain`.
        field: &'static str,
        /// The position in the chain, from 0.
        index: usize,
    },
    /// `pins_known` has more than [`MAX_PINS_KNOWN`] pins.
    #[error("report pins_known has {count} pins, more than the maximum of {max}")]
    TooManyPins {
        /// The number received.
        count: usize,
        /// The maximum accepted.
        max: usize,
    },
    /// A connection reason without `mode`.
    #[error("report reason {reason} needs the host's mode")]
    MissingMode {
        /// The report's reason.
        reason: ReportReason,
    },
    /// A reason that is not about a connection, with `mode`.
    #[error("report reason {reason} is not about a connection and takes no mode")]
    UnexpectedMode {
        /// The report's reason.
        reason: ReportReason,
    },
    /// A connection reason with an empty served chain.
    #[error("report reason {reason} needs the served chain")]
    MissingServedChain {
        /// The report's reason.
        reason: ReportReason,
    },
    /// A pin in `pins_known` is not the SHA-256 of an SPKI in standard base64.
    #[error("report pins_known has an invalid pin: {0}")]
    InvalidPin(#[source] PinFormatError),
}

impl ReportError {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "report_too_large",
            Self::Malformed { .. } => "report_malformed",
            Self::DuplicateKey { .. } => "duplicate_json_key",
            Self::InvalidHost { .. } => "invalid_host",
            Self::InvalidPort => "invalid_port",
            Self::InvalidText { .. } => "invalid_text",
            Self::TooManyCertificates { .. } => "too_many_certificates",
            Self::ChainTooLarge { .. } => "chain_too_large",
            Self::InvalidCertificate { .. } => "invalid_certificate",
            Self::TooManyPins { .. } => "too_many_pins",
            Self::MissingMode { .. } => "missing_mode",
            Self::UnexpectedMode { .. } => "unexpected_mode",
            Self::MissingServedChain { .. } => "missing_served_chain",
            Self::InvalidPin(source) => source.reason(),
        }
    }
}

fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), ReportError> {
    let invalid = |detail| ReportError::InvalidText { field, detail };
    if text.is_empty() {
        return Err(invalid("is empty"));
    }
    if text.len() > max {
        return Err(invalid("is longer than its maximum length"));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid("contains control characters"));
    }
    Ok(())
}

fn check_chain(field: &'static str, chain: &[CertificateDer<'_>]) -> Result<(), ReportError> {
    if chain.len() > MAX_CHAIN_CERTIFICATES {
        return Err(ReportError::TooManyCertificates {
            field,
            count: chain.len(),
            max: MAX_CHAIN_CERTIFICATES,
        });
    }
    let len: usize = chain.iter().map(|cert| cert.as_ref().len()).sum();
    if len > MAX_CHAIN_DER_LEN {
        return Err(ReportError::ChainTooLarge {
            field,
            len,
            max: MAX_CHAIN_DER_LEN,
        });
    }
    for (index, cert) in chain.iter().enumerate() {
        if Pin::from_certificate_der(cert.as_ref()).is_err() {
            return Err(ReportError::InvalidCertificate { field, index });
        }
    }
    Ok(())
}

/// Keeps the longest prefix of `chain` within the count and size limits.
fn fit_chain(chain: &[CertificateDer<'_>]) -> Vec<CertificateDer<'static>> {
    let mut total = 0;
    chain
        .iter()
        .take(MAX_CHAIN_CERTIFICATES)
        .take_while(|cert| {
            total += cert.as_ref().len();
            total <= MAX_CHAIN_DER_LEN
        })
        .map(|cert| cert.clone().into_owned())
        .collect()
}

fn serialize_chain<S: serde::Serializer>(
    chain: &[CertificateDer<'static>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(chain.iter().map(|cert| STANDARD.encode(cert.as_ref())))
}

/// Decodes a chain of standard base64 DER strings, checking the count limit first so that an
/// oversized list is not decoded.
fn decode_chain(
    field: &'static str,
    encoded: &[String],
) -> Result<Vec<CertificateDer<'static>>, ReportError> {
    if encoded.len() > MAX_CHAIN_CERTIFICATES {
        return Err(ReportError::TooManyCertificates {
            field,
            count: encoded.len(),
            max: MAX_CHAIN_CERTIFICATES,
        });
    }
    encoded
        .iter()
        .enumerate()
        .map(|(index, text)| {
            STANDARD
                .decode(text)
                .map(CertificateDer::from)
                .map_err(|_| ReportError::InvalidCertificate { field, index })
        })
        .collect()
}
