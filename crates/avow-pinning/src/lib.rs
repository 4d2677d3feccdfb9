//! Certificate pinning for Avow: pins, host patterns, validated paths, pin sets, the publish
//! gate and exports for apps that pin statically.
//!
//! A pin is the SHA-256 of a certificate's DER SubjectPublicKeyInfo, written in standard
//! base64 ([`Pin`]). It survives renewal and cross-signing as long as the key stays the same.
//! Pins are matched on the path a client validates ([`ValidatedPath`]), never on the list of
//! certificates the server happens to send.
//!
//! The crate is pure: it opens no socket, reads no file and never reads the clock. Times are
//! parameters, so a chain can be checked at any moment, including the past.
//!
//! On the server side, [`PinSet`] contains one host's pins with their roles (current, backup,
//! root, previous until a time), [`BackupKey`] turns the certificate, CSR, public key or pin an
//! operator gives for the next key into a pin, [`gate`] decides whether a set may be published
//! against the live paths and shows a [`gate::plan`] of the change, and [`export`] writes a set
//! for apps that pin statically (OkHttp, Android Network Security Config, iOS
//! `NSPinnedDomains`, TrustKit, curl).
//!
//! [`document`] signs and verifies the pin document the server publishes for each app.
//! [`client`] is the app side: the last good document, the time it trusts, and a rustls
//! verifier that adds the pin check after WebPKI validation. [`report`] defines the
//! pin-failure reports apps send back. The client takes its clocks through a trait, so it too
//! reads no clock itself.
//!
//! ```
//! use avow_pinning::{HostPattern, Pin};
//!
//! // ISRG Root X1's pin, as OkHttp, Android and TrustKit expect it.
//! let pin = Pin::parse("C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=")?;
//! assert_eq!(pin.to_string().len(), 44);
//!
//! // Hex and OkHttp-prefixed forms are rejected with an error that names them.
//! let hex = "0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3";
//! assert_eq!(Pin::parse(hex).unwrap_err().reason(), "pin_hex");
//!
//! // `*.` covers one extra label, `**.` any number.
//! let pattern = HostPattern::parse("*.example.com")?;
//! assert!(pattern.matches("api.example.com"));
//! assert!(!pattern.matches("v2.api.example.com"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod chain;
pub mod client;
pub mod document;
mod error;
pub mod export;
pub mod gate;
mod host;
mod pin;
mod pinset;
pub mod report;

pub use chain::{
    CertificateRole, ChainCertificate, KeyType, TrustStore, ValidatedPath, certificates_from_pem,
    mozilla_roots, validate_path,
};
pub use document::{
    AfterExpiry, DocumentError, DomainPins, PinDocument, PinDocumentSigner, PinDocumentVerifier,
    PinPublicKey, PinningMode, UserAnchorPolicy, VerifiedPinDocument,
};
pub use error::Error;
pub use host::HostPattern;
pub use pin::{Pin, PinFormatError, PinMatch};
pub use pinset::{BackupKey, KeyLevel, KeySource, PinEntry, PinRole, PinSet};
pub use report::{PinFailureReport, ReportBuilder, ReportError, ReportReason};
pub use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
