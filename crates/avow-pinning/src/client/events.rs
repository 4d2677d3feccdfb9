//! Client findings, and their conversion to a [`PinFailureReport`].

use std::fmt;

use rustls_pki_types::CertificateDer;

use crate::Pin;
use crate::document::PinningMode;
use crate::report::{PinFailureReport, ReportError, ReportReason};

use super::clock::ClockAnomaly;
use super::state::OfferRejection;

/// Receives what the client finds: pin failures, rejected documents and clock anomalies.
///
/// [`PinningVerifier`](super::PinningVerifier) calls it during the TLS handshake, so it must
/// return quickly: an SDK queues the event and posts it to `/v1/pin-reports` later, and
/// deduplicates repeats (every handshake to a host in report-only mode produces one).
pub trait PinningReporter: fmt::Debug + Send + Sync {
    /// Takes one event.
    fn report(&self, event: &PinningEvent);
}

/// One finding of the client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinningEvent {
    /// The wall clock disagrees with the trusted time. The verifier reports it at most once
    /// per held document (version and `iat`).
    ClockAnomaly {
        /// The readings.
        anomaly: ClockAnomaly,
        /// The version of the document in force.
        document_version: u64,
    },
    /// A TLS connection failed a pin check, or was let through with a finding.
    Connection(ConnectionEvent),
    /// An offered document was rejected, and the last good document stays in force.
    DocumentRejected {
        /// Why.
        rejection: OfferRejection,
        /// The version of the document in force.
        document_version: u64,
    },
}

/// Whether the connection went ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionOutcome {
    /// The handshake continued: report-only mode, an allowed user anchor, or an expired set
    /// under `system_trust`.
    Allowed,
    /// The handshake failed.
    Rejected,
}

/// A pin finding on one TLS connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionEvent {
    /// The server name the client connected to.
    pub host: String,
    /// The finding.
    pub reason: ReportReason,
    /// Whether the connection went ahead.
    pub outcome: ConnectionOutcome,
    /// The host's mode in the document.
    pub mode: PinningMode,
    /// The certificates the server sent, leaf first.
    pub served_chain: Vec<CertificateDer<'static>>,
    /// The certificates of the validated path that the server sent, leaf first.
    pub validated_chain: Vec<CertificateDer<'static>>,
    /// The host's pins in the document.
    pub pins_known: Vec<Pin>,
    /// The version of the document in force.
    pub document_version: u64,
}

/// The app identity every report carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportContext {
    /// The app id, as registered with Avow.
    pub app_id: String,
    /// The app's version string.
    pub app_version: String,
}

impl PinningEvent {
    /// Builds the report for this event.
    ///
    /// `port` is the port of the connection for [`PinningEvent::Connection`], whose host comes
    /// from the event, so `server_host` is ignored. The other events concern no connection, so
    /// their report carries `server_host` and `port` of the Avow server the app fetches
    /// documents from.
    ///
    /// # Errors
    ///
    /// A [`ReportError`] when the context or host is not valid in a report (an empty app id,
    /// a port of 0).
    pub fn to_report(
        &self,
        context: &ReportContext,
        server_host: &str,
        port: u16,
    ) -> Result<PinFailureReport, ReportError> {
        let start = |reason| {
            PinFailureReport::builder(context.app_id.clone(), context.app_version.clone(), reason)
        };
        match self {
            Self::ClockAnomaly {
                document_version, ..
            } => start(ReportReason::ClockAnomaly)
                .host(server_host, port)
                .document_version(*document_version)
                .build(),
            Self::Connection(event) => start(event.reason)
                .host(event.host.clone(), port)
                .served_chain(&event.served_chain)
                .validated_chain(&event.validated_chain)
                .pins_known(event.pins_known.iter().copied())
                .document_version(event.document_version)
                .mode(event.mode)
                .build(),
            Self::DocumentRejected {
                rejection,
                document_version,
            } => start(rejection.reason())
                .host(server_host, port)
                .document_version(*document_version)
                .build(),
        }
    }
}
