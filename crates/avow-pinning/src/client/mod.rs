//! The app side: the pin document an app holds, the time it trusts, and the rustls verifier
//! that enforces the pins.
//!
//! An app (through the Avow SDK) builds one [`PinningVerifier`] at start from:
//!
//! - a [`PinDocumentVerifier`](crate::PinDocumentVerifier) with the pin-signing public key(s)
//!   built into the app and the app's id;
//! - the pin document bundled at build time, so the first connection is already pinned;
//! - a [`Clock`] giving the device's wall clock and a monotonic clock;
//! - optionally the trust anchors (Mozilla roots by default), the user-installed anchors and a
//!   [`PinningReporter`].
//!
//! The app installs the verifier in its rustls `ClientConfig` with
//! `dangerous().with_custom_certificate_verifier(…)`; the verifier still runs full WebPKI
//! validation first. It calls [`PinningVerifier::offer_document`] with every document fetched
//! from `GET /v1/pins`, and stores [`PinningVerifier::document`] and
//! [`PinningVerifier::time_anchor`] after each accepted offer. What the reporter receives is
//! posted to `POST /v1/pin-reports` ([`PinningEvent::to_report`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use avow_pinning::client::{Clock, PinningVerifier};
//! use avow_pinning::{
//!     AfterExpiry, DomainPins, HostPattern, Pin, PinDocument, PinDocumentSigner,
//!     PinDocumentVerifier, PinningMode, UserAnchorPolicy,
//! };
//!
//! #[derive(Debug)]
//! struct FixedClock;
//!
//! impl Clock for FixedClock {
//!     fn wall_time(&self) -> u64 {
//!         1_767_225_600
//!     }
//!     fn monotonic(&self) -> Option<Duration> {
//!         Some(Duration::from_secs(42))
//!     }
//! }
//!
//! // Server side: sign a document (the key is generated here for the example).
//! let (signer, _pkcs8) = PinDocumentSigner::generate()?;
//! let document = PinDocument {
//!     iss: "https://avow.example".into(),
//!     app: "com.example.shop".into(),
//!     ver: 1,
//!     iat: 1_767_225_600,
//!     exp: 1_769_817_600,
//!     domains: vec![DomainPins {
//!         host: HostPattern::parse("api.example.com")?,
//!         pins: vec![
//!             Pin::parse("C5+lpZ7tcVwmwQIMcRtPbsQtWLABXhQzejna0wHFr8M=")?,
//!             Pin::parse("diGVwiVYbubAI3RW4hB9xU8e/CH2GnkuvVFZE8zmgzI=")?,
//!         ],
//!         exp: 1_775_001_600,
//!         mode: PinningMode::Enforce,
//!         after_expiry: AfterExpiry::FailClosed,
//!         user_anchors: UserAnchorPolicy::Reject,
//!     }],
//! };
//! let bundled = signer.sign(&document)?;
//!
//! // App side: the public key is built in, the document bundled.
//! let keys = PinDocumentVerifier::new([signer.public_key().clone()]).with_app("com.example.shop");
//! let verifier = PinningVerifier::builder(keys, bundled, Arc::new(FixedClock)).build()?;
//! assert_eq!(verifier.document_version(), 1);
//!
//! let config = rustls::ClientConfig::builder_with_provider(Arc::new(
//!     rustls::crypto::aws_lc_rs::default_provider(),
//! ))
//! .with_safe_default_protocol_versions()?
//! .dangerous()
//! .with_custom_certificate_verifier(Arc::new(verifier))
//! .with_no_client_auth();
//! # drop(config);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod events;
mod state;
mod verifier;

pub use clock::{
    Clock, ClockAnomaly, ClockReading, DEFAULT_CLOCK_ANOMALY_THRESHOLD_SECS,
    DEFAULT_FUTURE_ALLOWANCE_SECS, TimeAnchor, TimeSettings, TimeSource, TrustedTime,
};
pub use events::{
    ConnectionEvent, ConnectionOutcome, PinningEvent, PinningReporter, ReportContext,
};
pub use state::{DomainStatus, OfferOutcome, OfferRejection, PinningState};
pub use verifier::{PinCheckError, PinningVerifier, PinningVerifierBuilder};
