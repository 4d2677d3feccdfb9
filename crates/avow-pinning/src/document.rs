//! The signed pin document: every API domain's pin set for one app, as a compact JWS.
//!
//! The header is exactly `{"alg":"ES256","typ":"avow-pins+jwt","kid":…}` where `kid` is the
//! RFC 7638 thumbprint of the pin-signing key. The payload is a [`PinDocument`]:
//!
//! ```json
//! {"iss":"https://avow.example","app":"com.example.shop","ver":7,
//!  "iat":1767225600,"exp":1769817600,
//!  "domains":[{"host":"api.example.com",
//!              "pins":["C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=",
//!                      "diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI="],
//!              "exp":1775001600,"mode":"enforce","after_expiry":"fail_closed",
//!              "user_anchors":"reject"}]}
//! ```
//!
//! [`PinDocumentVerifier::verify`] accepts only that header, a `kid` found among the keys it was
//! built with, a valid signature, and a payload that passes [`PinDocument::validate`].
//! [`PinDocumentSigner::sign`] enforces the same rules before signing, so a device never
//! receives a set the server would have refused. Verification takes no time parameter, because
//! freshness and expiry are judged by the client state (`client::PinningState`) against its
//! trusted time.
//!
//! Unknown payload members are ignored so that a newer server can add members without older
//! apps rejecting the whole document. Repeated keys anywhere in the header or the payload are
//! rejected.

pub(crate) mod json;
mod keys;

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::{HostPattern, Pin, PinFormatError};

pub use keys::{Jwk, PinDocumentSigner, PinPublicKey};

/// The `typ` header value of pin documents, so they cannot be mistaken for tokens or other JWTs.
pub const PIN_DOCUMENT_TYPE: &str = "avow-pins+jwt";
/// The only signature algorithm of pin documents.
pub const ALGORITHM: &str = "ES256";
/// Maximum length of a compact pin document, in bytes. A document with 100 domains of 4 pins
/// each is about 42 KiB.
pub const MAX_DOCUMENT_LEN: usize = 64 * 1024;
/// Minimum number of distinct pins per domain: the pins in force plus at least one backup.
pub const MIN_PINS_PER_DOMAIN: usize = 2;

/// The payload of a pin document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PinDocument {
    /// Issuer: the Avow server's configured issuer name.
    pub iss: String,
    /// The app the document is for.
    pub app: String,
    /// Version, at least 1. It increases with every published change, and apps never accept a
    /// lower version than the one they have.
    pub ver: u64,
    /// Issued at, Unix seconds, from the server's clock. Apps use it as their trusted time.
    pub iat: u64,
    /// Expiry of the whole document, Unix seconds, later than `iat`.
    pub exp: u64,
    /// One entry per host pattern, with no pattern twice.
    pub domains: Vec<DomainPins>,
}

/// The pin set of one host pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DomainPins {
    /// The hosts this entry applies to.
    pub host: HostPattern,
    /// At least [`MIN_PINS_PER_DOMAIN`] distinct pins: a connection is accepted when one of them
    /// is on the validated path.
    pub pins: Vec<Pin>,
    /// Expiry of this pin set, Unix seconds, later than the document's `iat`. The set is used
    /// until the earlier of this and the document's `exp`.
    pub exp: u64,
    /// Whether a missing pin rejects the connection or is only reported.
    pub mode: PinningMode,
    /// The policy once the set has expired.
    pub after_expiry: AfterExpiry,
    /// The policy for validated paths that end at a user-installed trust anchor.
    pub user_anchors: UserAnchorPolicy,
}

/// Whether a pin failure rejects the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinningMode {
    /// Reject the connection and report the failure.
    Enforce,
    /// Let the connection through and report the failure, to try a pin set out first.
    ReportOnly,
}

/// The client's policy for a domain whose pin set has expired by its trusted time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterExpiry {
    /// Reject every connection to the domain until a fresh document arrives.
    FailClosed,
    /// Accept connections that pass WebPKI validation alone, and report that an expired set is
    /// in use.
    SystemTrust,
}

/// The client's policy for validated paths that end at a trust anchor the user installed, as
/// with a corporate or antivirus TLS-inspecting proxy, or a debugging proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAnchorPolicy {
    /// Accept the connection without a pin check and report it as `non_public_anchor`.
    Allow,
    /// Reject the connection with the reason `non_public_anchor`.
    Reject,
}

impl PinDocument {
    /// Checks the rules every pin document must meet.
    ///
    /// # Errors
    ///
    /// In this order: [`DocumentError::VersionZero`], [`DocumentError::ExpiryNotAfterIssue`],
    /// then per domain [`DocumentError::DuplicateHost`],
    /// [`DocumentError::DomainExpiryNotAfterIssue`], [`DocumentError::DuplicatePin`] and
    /// [`DocumentError::TooFewPins`].
    pub fn validate(&self) -> Result<(), DocumentError> {
        if self.ver == 0 {
            return Err(DocumentError::VersionZero);
        }
        if self.exp <= self.iat {
            return Err(DocumentError::ExpiryNotAfterIssue {
                iat: self.iat,
                exp: self.exp,
            });
        }
        let mut hosts = HashSet::new();
        for domain in &self.domains {
            let host = domain.host.to_string();
            if !hosts.insert(domain.host.clone()) {
                return Err(DocumentError::DuplicateHost { host });
            }
            if domain.exp <= self.iat {
                return Err(DocumentError::DomainExpiryNotAfterIssue {
                    host,
                    iat: self.iat,
                    exp: domain.exp,
                });
            }
            let mut pins = HashSet::new();
            for pin in &domain.pins {
                if !pins.insert(pin) {
                    return Err(DocumentError::DuplicatePin {
                        host,
                        pin: pin.to_string(),
                    });
                }
            }
            if pins.len() < MIN_PINS_PER_DOMAIN {
                return Err(DocumentError::TooFewPins {
                    host,
                    count: pins.len(),
                });
            }
        }
        Ok(())
    }

    /// Returns the entry that applies to `host`, or `None` when the host is not pinned.
    ///
    /// When several patterns match, the most specific wins: the exact host, then `*.` patterns,
    /// then `**.` patterns with the longest domain. Pins are not merged across entries, because
    /// each entry carries its own mode and policies.
    pub fn domain_for(&self, host: &str) -> Option<&DomainPins> {
        self.domains
            .iter()
            .filter(|domain| domain.host.matches(host))
            .max_by_key(|domain| match &domain.host {
                HostPattern::Exact(_) => (2, 0),
                HostPattern::OneLevel(name) => (1, name.len()),
                HostPattern::AnyDepth(name) => (0, name.len()),
            })
    }

    /// Returns the time (Unix seconds) from which `domain`'s set counts as expired: the earlier
    /// of the domain's `exp` and the document's `exp`.
    pub fn domain_expiry(&self, domain: &DomainPins) -> u64 {
        domain.exp.min(self.exp)
    }
}

/// A pin document whose signature and rules have been checked by a [`PinDocumentVerifier`].
///
/// Only the verifier constructs it, so code that takes one can rely on the checks having run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPinDocument {
    document: PinDocument,
    kid: String,
    compact: String,
}

impl VerifiedPinDocument {
    /// Returns the payload.
    pub fn document(&self) -> &PinDocument {
        &self.document
    }

    /// Returns the `kid` of the key that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Returns the compact JWS as received, for storing as the last good document.
    pub fn compact(&self) -> &str {
        &self.compact
    }
}

/// Checks pin documents against a fixed set of public keys, such as the keys built into an app.
#[derive(Clone, Debug)]
pub struct PinDocumentVerifier {
    keys: HashMap<String, PinPublicKey>,
    app: Option<String>,
    issuer: Option<String>,
}

impl PinDocumentVerifier {
    /// Builds a verifier that accepts documents signed by any of `keys`, found by `kid`.
    pub fn new(keys: impl IntoIterator<Item = PinPublicKey>) -> Self {
        Self {
            keys: keys
                .into_iter()
                .map(|key| (key.kid().to_owned(), key))
                .collect(),
            app: None,
            issuer: None,
        }
    }

    /// Requires `app` to equal `app_id`. An app must set this: one pin-signing key may sign the
    /// documents of several apps, and a document for another app is rejected as
    /// [`DocumentError::AppMismatch`].
    pub fn with_app(mut self, app_id: impl Into<String>) -> Self {
        self.app = Some(app_id.into());
        self
    }

    /// Requires `iss` to equal `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Verifies a compact pin document.
    ///
    /// Takes arbitrary bytes and returns an error for any input it rejects, without panicking
    /// (a bounded mutation test runs thousands of variants), which makes it the entry point for
    /// fuzzing the parser.
    ///
    /// # Errors
    ///
    /// The first failed check, in this order: size, compact form and base64url, header
    /// (repeated keys, `alg`, `typ`, `crit`, `kid`), key lookup, signature, payload JSON
    /// (repeated keys, members), pin and host syntax, [`PinDocument::validate`], `app`, `iss`.
    pub fn verify(&self, compact: &[u8]) -> Result<VerifiedPinDocument, DocumentError> {
        if compact.len() > MAX_DOCUMENT_LEN {
            return Err(DocumentError::TooLarge {
                len: compact.len(),
                max: MAX_DOCUMENT_LEN,
            });
        }
        let text = std::str::from_utf8(compact)
            .map_err(|_| DocumentError::Malformed("the document is not UTF-8 text"))?;
        let mut parts = text.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DocumentError::Malformed(
                "expected three base64url parts separated by dots",
            ));
        };

        let header_json = decode_part(header_b64, "the header is not base64url")?;
        let header = parse_header(&header_json)?;
        let key = self
            .keys
            .get(&header.kid)
            .ok_or_else(|| DocumentError::UnknownKid {
                kid: truncate(&header.kid, 64),
            })?;
        let signature = decode_part(signature_b64, "the signature is not base64url")?;
        let signing_input_len = header_b64.len() + 1 + payload_b64.len();
        let signing_input = text
            .get(..signing_input_len)
            .ok_or(DocumentError::Malformed(
                "expected three base64url parts separated by dots",
            ))?;
        if !key.verify(signing_input.as_bytes(), &signature) {
            return Err(DocumentError::SignatureInvalid);
        }

        let payload_json = decode_part(payload_b64, "the payload is not base64url")?;
        let document = parse_payload(&payload_json)?;
        document.validate()?;
        if let Some(app) = &self.app
            && document.app != *app
        {
            return Err(DocumentError::AppMismatch {
                expected: app.clone(),
                received: truncate(&document.app, 256),
            });
        }
        if self.issuer.as_ref().is_some_and(|iss| document.iss != *iss) {
            return Err(DocumentError::IssuerMismatch);
        }
        Ok(VerifiedPinDocument {
            document,
            kid: header.kid,
            compact: text.to_owned(),
        })
    }
}

impl PinDocumentSigner {
    /// Checks `document` with [`PinDocument::validate`], then signs it and returns the compact
    /// JWS.
    ///
    /// Signing the same version again with a later `iat` is how the server refreshes the
    /// freshness of a document without changing it.
    ///
    /// # Errors
    ///
    /// The rule the document breaks, or [`DocumentError::KeyRejected`] when signing fails.
    pub fn sign(&self, document: &PinDocument) -> Result<String, DocumentError> {
        document.validate()?;
        let header = SignedHeader {
            alg: ALGORITHM,
            typ: PIN_DOCUMENT_TYPE,
            kid: self.kid(),
        };
        let header = serde_json::to_vec(&header).map_err(|_| DocumentError::KeyRejected)?;
        let payload = serde_json::to_vec(document).map_err(|_| DocumentError::KeyRejected)?;
        let mut compact = URL_SAFE_NO_PAD.encode(header);
        compact.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut compact);
        let signature = self.sign_bytes(compact.as_bytes())?;
        compact.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut compact);
        if compact.len() > MAX_DOCUMENT_LEN {
            return Err(DocumentError::TooLarge {
                len: compact.len(),
                max: MAX_DOCUMENT_LEN,
            });
        }
        Ok(compact)
    }
}

/// Reasons a pin document was rejected, or could not be signed.
///
/// [`DocumentError::reason`] gives a stable snake_case code for each variant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The document is larger than [`MAX_DOCUMENT_LEN`].
    #[error("pin document is {len} bytes, more than the maximum of {max}")]
    TooLarge {
        /// The length received.
        len: usize,
        /// The maximum accepted length.
        max: usize,
    },
    /// The document is not a compact JWS with a JSON header and payload.
    #[error("pin document is malformed: {0}")]
    Malformed(&'static str),
    /// A JSON object in the header or payload has the same key twice.
    #[error("pin document {part} has the key {key:?} more than once")]
    DuplicateKey {
        /// `header` or `payload`.
        part: &'static str,
        /// The repeated key.
        key: String,
    },
    /// The header names an algorithm other than ES256.
    #[error("algorithm {received:?} is not accepted for pin documents, only ES256 is")]
    AlgorithmNotAllowed {
        /// The `alg` header value, empty when absent.
        received: String,
    },
    /// The header's `typ` is not `avow-pins+jwt`.
    #[error("pin document type {received:?} is not accepted, expected \"avow-pins+jwt\"")]
    WrongType {
        /// The `typ` header value, empty when absent.
        received: String,
    },
    /// The header has a `crit` member, but pin documents use no header extensions.
    #[error("pin document header has a crit member, which is not supported")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("pin document header has no kid")]
    MissingKid,
    /// No configured key has the header's `kid`.
    #[error("no pin-signing key with kid {kid:?} is configured")]
    UnknownKid {
        /// The `kid` header value (at most 64 characters of it).
        kid: String,
    },
    /// The signature does not verify with the key named by `kid`.
    #[error("pin document signature is invalid")]
    SignatureInvalid,
    /// The payload is not JSON of the expected shape.
    #[error("pin document payload is invalid: {detail}")]
    InvalidPayload {
        /// The JSON parser's description.
        detail: String,
    },
    /// A pin is not the SHA-256 of an SPKI in standard base64.
    #[error("pin document has an invalid pin for {host}: {source}")]
    InvalidPin {
        /// The host pattern of the entry, as written.
        host: String,
        /// The format the pin was written in instead.
        #[source]
        source: PinFormatError,
    },
    /// A host pattern is not valid.
    #[error("pin document has an invalid host pattern: {detail}")]
    InvalidHost {
        /// The pattern parser's description.
        detail: String,
    },
    /// `ver` is 0, but versions start at 1.
    #[error("pin document version is 0, but versions start at 1")]
    VersionZero,
    /// The document's `exp` is not after its `iat`.
    #[error("pin document expires at {exp}, not after its issue time {iat}")]
    ExpiryNotAfterIssue {
        /// The document's `iat`.
        iat: u64,
        /// The document's `exp`.
        exp: u64,
    },
    /// A domain's `exp` is not after the document's `iat`.
    #[error("the pin set for {host} expires at {exp}, not after the document's issue time {iat}")]
    DomainExpiryNotAfterIssue {
        /// The host pattern.
        host: String,
        /// The document's `iat`.
        iat: u64,
        /// The domain's `exp`.
        exp: u64,
    },
    /// Two entries have the same host pattern.
    #[error("host pattern {host} appears more than once in the pin document")]
    DuplicateHost {
        /// The repeated pattern.
        host: String,
    },
    /// A domain lists the same pin twice.
    #[error("pin {pin} appears more than once for {host}")]
    DuplicatePin {
        /// The host pattern.
        host: String,
        /// The repeated pin.
        pin: String,
    },
    /// A domain has fewer than [`MIN_PINS_PER_DOMAIN`] distinct pins, so it has no backup.
    #[error(
        "the pin set for {host} has {count} pin(s); at least 2 are required so that a backup \
         pin exists"
    )]
    TooFewPins {
        /// The host pattern.
        host: String,
        /// The number of distinct pins.
        count: usize,
    },
    /// The document is for another app.
    #[error("pin document is for app {received:?}, expected {expected:?}")]
    AppMismatch {
        /// The app id the verifier requires.
        expected: String,
        /// The document's `app` (at most 256 characters of it).
        received: String,
    },
    /// `iss` is not the expected issuer.
    #[error("pin document issuer does not match the expected issuer")]
    IssuerMismatch,
    /// A public key is not a P-256 key usable for ES256.
    #[error("unsupported pin-signing key: {detail}")]
    UnsupportedKey {
        /// The problem with the key.
        detail: &'static str,
    },
    /// A signing key could not be generated, loaded or used.
    #[error("pin-signing key rejected by the crypto backend")]
    KeyRejected,
}

impl DocumentError {
    /// Returns the stable snake_case reason code of this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "document_too_large",
            Self::Malformed(_) => "document_malformed",
            Self::DuplicateKey { .. } => "duplicate_json_key",
            Self::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Self::WrongType { .. } => "wrong_document_type",
            Self::CriticalHeader => "critical_header",
            Self::MissingKid => "missing_kid",
            Self::UnknownKid { .. } => "unknown_kid",
            Self::SignatureInvalid => "signature_invalid",
            Self::InvalidPayload { .. } => "invalid_payload",
            Self::InvalidPin { source, .. } => source.reason(),
            Self::InvalidHost { .. } => "invalid_host_pattern",
            Self::VersionZero => "version_zero",
            Self::ExpiryNotAfterIssue { .. } => "expiry_not_after_issue",
            Self::DomainExpiryNotAfterIssue { .. } => "domain_expiry_not_after_issue",
            Self::DuplicateHost { .. } => "duplicate_host",
            Self::DuplicatePin { .. } => "duplicate_pin",
            Self::TooFewPins { .. } => "too_few_pins",
            Self::AppMismatch { .. } => "app_mismatch",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::UnsupportedKey { .. } => "unsupported_key",
            Self::KeyRejected => "key_rejected",
        }
    }

    /// Returns true when the error means the document was not produced by a configured key:
    /// a wrong algorithm, an unknown `kid` or a signature that does not verify.
    pub fn is_signature_failure(&self) -> bool {
        matches!(
            self,
            Self::AlgorithmNotAllowed { .. }
                | Self::CriticalHeader
                | Self::MissingKid
                | Self::UnknownKid { .. }
                | Self::SignatureInvalid
        )
    }
}

#[derive(Serialize)]
struct SignedHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The header members the verifier reads. Other members are ignored, except `crit`.
#[derive(Deserialize)]
struct ReceivedHeader {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, deserialize_with = "json::mark_present")]
    crit: Option<()>,
}

struct CheckedHeader {
    kid: String,
}

/// The payload as it arrives, before pins and hosts are parsed with named errors.
#[derive(Deserialize)]
struct ReceivedPayload {
    iss: String,
    app: String,
    ver: u64,
    iat: u64,
    exp: u64,
    domains: Vec<ReceivedDomain>,
}

#[derive(Deserialize)]
struct ReceivedDomain {
    host: String,
    pins: Vec<String>,
    exp: u64,
    mode: PinningMode,
    after_expiry: AfterExpiry,
    user_anchors: UserAnchorPolicy,
}

fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, DocumentError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| DocumentError::Malformed(what))
}

fn parse_header(json: &[u8]) -> Result<CheckedHeader, DocumentError> {
    let duplicate = json::first_duplicate_key(json)
        .map_err(|_| DocumentError::Malformed("the header is not a JSON object"))?;
    if let Some(key) = duplicate {
        return Err(DocumentError::DuplicateKey {
            part: "header",
            key: truncate(&key, 64),
        });
    }
    let header: ReceivedHeader = serde_json::from_slice(json)
        .map_err(|_| DocumentError::Malformed("the header is not a JSON object"))?;
    let alg = header.alg.unwrap_or_default();
    if alg != ALGORITHM {
        return Err(DocumentError::AlgorithmNotAllowed {
            received: truncate(&alg, 32),
        });
    }
    let typ = header.typ.unwrap_or_default();
    if typ != PIN_DOCUMENT_TYPE {
        return Err(DocumentError::WrongType {
            received: truncate(&typ, 64),
        });
    }
    if header.crit.is_some() {
        return Err(DocumentError::CriticalHeader);
    }
    let kid = header.kid.ok_or(DocumentError::MissingKid)?;
    Ok(CheckedHeader { kid })
}

fn parse_payload(json: &[u8]) -> Result<PinDocument, DocumentError> {
    let invalid = |error: serde_json::Error| DocumentError::InvalidPayload {
        detail: truncate(&error.to_string(), 200),
    };
    if let Some(key) = json::first_duplicate_key(json).map_err(invalid)? {
        return Err(DocumentError::DuplicateKey {
            part: "payload",
            key: truncate(&key, 64),
        });
    }
    let payload: ReceivedPayload = serde_json::from_slice(json).map_err(invalid)?;
    let mut domains = Vec::with_capacity(payload.domains.len());
    for domain in payload.domains {
        let host =
            HostPattern::parse(&domain.host).map_err(|error| DocumentError::InvalidHost {
                detail: truncate(&error.to_string(), 200),
            })?;
        let pins = domain
            .pins
            .iter()
            .map(|pin| Pin::parse(pin))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| DocumentError::InvalidPin {
                host: host.to_string(),
                source,
            })?;
        domains.push(DomainPins {
            host,
            pins,
            exp: domain.exp,
            mode: domain.mode,
            after_expiry: domain.after_expiry,
            user_anchors: domain.user_anchors,
        });
    }
    Ok(PinDocument {
        iss: payload.iss,
        app: payload.app,
        ver: payload.ver,
        iat: payload.iat,
        exp: payload.exp,
        domains,
    })
}

/// Cuts `text` to at most `max` characters, so that error values stay small however large the
/// input was.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
