//! The rustls server certificate verifier that adds pin checks after WebPKI validation.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};

use crate::chain::{TrustStore, ValidatedPath, validate_path};
use crate::document::{
    AfterExpiry, DocumentError, DomainPins, PinDocumentVerifier, PinningMode, UserAnchorPolicy,
    VerifiedPinDocument,
};
use crate::report::ReportReason;
use crate::{Error, Pin};

use super::clock::{Clock, ClockReading, TimeAnchor, TimeSettings};
use super::events::{ConnectionEvent, ConnectionOutcome, PinningEvent, PinningReporter};
use super::state::{DomainStatus, OfferOutcome, OfferRejection, PinningState};

/// A rustls [`ServerCertVerifier`] that runs WebPKI validation and then requires a pin from the
/// current pin document on the validated path.
///
/// For each handshake it:
///
/// 1. validates the served chain for the server name against the public anchors (the Mozilla
///    roots unless configured otherwise) plus the user anchors, at the time rustls gives, with
///    the server-authentication EKU. A failure here is the usual rustls certificate error.
/// 2. looks up the host in the held document ([`crate::PinDocument::domain_for`]). A host with
///    no entry is accepted on step 1 alone.
/// 3. when the host's set has expired by the trusted time and its policy is `fail_closed`,
///    rejects with `pin_set_expired`.
/// 4. when the path ends at a user anchor (and not at a public anchor with the same key),
///    applies the host's `user_anchors` policy: `allow` accepts without a pin check, `reject`
///    fails with `non_public_anchor`. Both are reported.
/// 5. when the set has expired and its policy is `system_trust`, accepts and reports
///    `expired_set_in_use`.
/// 6. otherwise requires that some certificate on the validated path, anchor included, has
///    one of the host's pins, and fails with `pin_mismatch` when none does. Certificates the
///    server sent that are not on the path are never matched.
///
/// In `report_only` mode, the failures of steps 3, 4 and 6 are reported and the handshake
/// goes ahead. Pin failures reach rustls as [`CertificateError::Other`] wrapping a
/// [`PinCheckError`], which callers can downcast.
///
/// Revocation is not checked (no OCSP or CRL), as with rustls' own WebPKI verifier when it
/// is given no CRLs.
pub struct PinningVerifier {
    state: RwLock<PinningState>,
    anchors: Vec<TrustAnchor<'static>>,
    user_pins: HashSet<Pin>,
    clock: Arc<dyn Clock>,
    reporter: Option<Arc<dyn PinningReporter>>,
    algorithms: WebPkiSupportedAlgorithms,
    /// The (version, iat) of the document for which a clock anomaly was last reported.
    anomaly_reported_for: Mutex<Option<(u64, u64)>>,
}

impl fmt::Debug for PinningVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinningVerifier")
            .field("document_version", &self.document_version())
            .field("anchors", &self.anchors.len())
            .field("user_anchors", &self.user_pins.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`PinningVerifier`].
#[derive(Debug)]
pub struct PinningVerifierBuilder {
    document_verifier: PinDocumentVerifier,
    bundled_document: String,
    clock: Arc<dyn Clock>,
    anchors: TrustStore,
    user_anchors: TrustStore,
    reporter: Option<Arc<dyn PinningReporter>>,
    time_settings: TimeSettings,
}

impl PinningVerifierBuilder {
    /// Sets the public trust anchors. Defaults to the Mozilla root store
    /// ([`TrustStore::mozilla`]).
    pub fn anchors(mut self, anchors: TrustStore) -> Self {
        self.anchors = anchors;
        self
    }

    /// Sets the user-installed trust anchors (for example the certificates an enterprise
    /// profile adds). Paths ending at one of them are subject to each host's `user_anchors`
    /// policy. Defaults to none.
    pub fn user_anchors(mut self, user_anchors: TrustStore) -> Self {
        self.user_anchors = user_anchors;
        self
    }

    /// Sets where findings go. Defaults to nowhere.
    pub fn reporter(mut self, reporter: Arc<dyn PinningReporter>) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// Sets the time limits. Defaults to [`TimeSettings::default`].
    pub fn time_settings(mut self, settings: TimeSettings) -> Self {
        self.time_settings = settings;
        self
    }

    /// Verifies the bundled document and builds the verifier.
    ///
    /// # Errors
    ///
    /// The [`DocumentError`] when the bundled document does not verify with the built-in keys.
    pub fn build(self) -> Result<PinningVerifier, DocumentError> {
        let state = PinningState::new(
            self.document_verifier,
            &self.bundled_document,
            self.time_settings,
        )?;
        let public_pins: HashSet<Pin> = self.anchors.pins().into_iter().collect();
        let user_pins: HashSet<Pin> = self
            .user_anchors
            .pins()
            .into_iter()
            .filter(|pin| !public_pins.contains(pin))
            .collect();
        let mut anchors = self.anchors.anchors().to_vec();
        anchors.extend_from_slice(self.user_anchors.anchors());
        Ok(PinningVerifier {
            state: RwLock::new(state),
            anchors,
            user_pins,
            clock: self.clock,
            reporter: self.reporter,
            algorithms: rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms,
            anomaly_reported_for: Mutex::new(None),
        })
    }
}

impl PinningVerifier {
    /// Starts building a verifier from the app's built-in document verifier (its public keys
    /// and app id), the document bundled at build time, and the device clocks.
    pub fn builder(
        document_verifier: PinDocumentVerifier,
        bundled_document: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> PinningVerifierBuilder {
        PinningVerifierBuilder {
            document_verifier,
            bundled_document: bundled_document.into(),
            clock,
            anchors: TrustStore::mozilla(),
            user_anchors: TrustStore::empty(),
            reporter: None,
            time_settings: TimeSettings::default(),
        }
    }

    /// Offers a document fetched from the server; see [`PinningState::offer`].
    ///
    /// A rejection is also sent to the reporter, as is a clock anomaly seen after an accepted
    /// offer.
    ///
    /// # Errors
    ///
    /// The [`OfferRejection`]. The held document stays in force.
    pub fn offer_document(&self, compact: &str) -> Result<OfferOutcome, OfferRejection> {
        let reading = ClockReading::from_clock(self.clock.as_ref());
        let result = self.write_state().offer(compact, reading);
        match &result {
            Ok(_) => self.report_clock_anomaly(reading),
            Err(rejection) => self.send(&PinningEvent::DocumentRejected {
                rejection: rejection.clone(),
                document_version: self.document_version(),
            }),
        }
        result
    }

    /// Restores the last good document stored by the SDK; see [`PinningState::restore`].
    ///
    /// # Errors
    ///
    /// The [`OfferRejection`]. The held document stays in force, and the rejection is not
    /// reported.
    pub fn restore_document(
        &self,
        compact: &str,
        anchor: Option<TimeAnchor>,
    ) -> Result<OfferOutcome, OfferRejection> {
        let reading = ClockReading::from_clock(self.clock.as_ref());
        self.write_state().restore(compact, anchor, reading)
    }

    /// Returns the document in force.
    pub fn document(&self) -> VerifiedPinDocument {
        self.read_state().document().clone()
    }

    /// Returns the version of the document in force.
    pub fn document_version(&self) -> u64 {
        self.read_state().version()
    }

    /// Returns the time anchor to store with the document; see [`PinningState::time_anchor`].
    pub fn time_anchor(&self) -> Option<TimeAnchor> {
        self.read_state().time_anchor()
    }

    /// Checks a served chain for `host` at `now` (the time for certificate validity), as a
    /// handshake would: WebPKI validation, then the pin rules described on
    /// [`PinningVerifier`]. Findings go to the reporter.
    ///
    /// # Errors
    ///
    /// [`PinCheckError::Path`] when WebPKI validation fails; otherwise the pin failure, unless
    /// the host is in report-only mode.
    pub fn check(
        &self,
        served: &[CertificateDer<'_>],
        host: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), PinCheckError> {
        let path = validate_path(served, &self.anchors, host, now).map_err(PinCheckError::Path)?;
        let reading = ClockReading::from_clock(self.clock.as_ref());
        self.report_clock_anomaly(reading);

        let host_name = host.to_str();
        let state = self.read_state();
        let document_version = state.version();
        let anchor_pin = path.anchor().pin;
        let ends_at_user_anchor = self.user_pins.contains(&anchor_pin);
        let (domain, decision) = match state.domain_status(&host_name, reading) {
            DomainStatus::Unpinned => return Ok(()),
            DomainStatus::Current { domain, .. } => {
                (domain, decide(domain, &path, ends_at_user_anchor, None))
            }
            DomainStatus::Expired { domain, expired_at } => (
                domain,
                decide(domain, &path, ends_at_user_anchor, Some(expired_at)),
            ),
        };
        let Some((reason, outcome)) = decision else {
            return Ok(());
        };
        let event = ConnectionEvent {
            host: host_name.clone().into_owned(),
            reason,
            outcome,
            mode: domain.mode,
            served_chain: served
                .iter()
                .map(|cert| cert.clone().into_owned())
                .collect(),
            validated_chain: path
                .certificates()
                .iter()
                .filter_map(|cert| cert.der.clone())
                .collect(),
            pins_known: domain.pins.clone(),
            document_version,
        };
        let error = (outcome == ConnectionOutcome::Rejected).then(|| PinCheckError::Rejected {
            host: host_name.into_owned(),
            reason,
            document_version,
        });
        drop(state);
        self.send(&PinningEvent::Connection(event));
        error.map_or(Ok(()), Err)
    }

    fn report_clock_anomaly(&self, reading: ClockReading) {
        let (anomaly, key) = {
            let state = self.read_state();
            let document = state.document().document();
            (state.clock_anomaly(reading), (document.ver, document.iat))
        };
        let Some(anomaly) = anomaly else {
            return;
        };
        {
            let mut reported = self
                .anomaly_reported_for
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *reported == Some(key) {
                return;
            }
            *reported = Some(key);
        }
        self.send(&PinningEvent::ClockAnomaly {
            anomaly,
            document_version: key.0,
        });
    }

    fn send(&self, event: &PinningEvent) {
        if let Some(reporter) = &self.reporter {
            reporter.report(event);
        }
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, PinningState> {
        // The state is replaced whole under the lock, so a panic elsewhere cannot leave it
        // half-written.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, PinningState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Applies a host's pin rules to a validated path. Returns `None` when the connection passes
/// with nothing to report, or the finding and whether the connection goes ahead.
fn decide(
    domain: &DomainPins,
    path: &ValidatedPath,
    ends_at_user_anchor: bool,
    expired_at: Option<u64>,
) -> Option<(ReportReason, ConnectionOutcome)> {
    let failure = |reason| {
        let outcome = match domain.mode {
            PinningMode::Enforce => ConnectionOutcome::Rejected,
            PinningMode::ReportOnly => ConnectionOutcome::Allowed,
        };
        Some((reason, outcome))
    };
    if expired_at.is_some() && domain.after_expiry == AfterExpiry::FailClosed {
        return failure(ReportReason::PinSetExpired);
    }
    if ends_at_user_anchor {
        return match domain.user_anchors {
            UserAnchorPolicy::Allow => {
                Some((ReportReason::NonPublicAnchor, ConnectionOutcome::Allowed))
            }
            UserAnchorPolicy::Reject => failure(ReportReason::NonPublicAnchor),
        };
    }
    if expired_at.is_some() {
        return Some((ReportReason::ExpiredSetInUse, ConnectionOutcome::Allowed));
    }
    if domain.pins.iter().any(|pin| path.contains_pin(pin)) {
        return None;
    }
    failure(ReportReason::PinMismatch)
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut served = Vec::with_capacity(intermediates.len() + 1);
        served.push(end_entity.clone());
        served.extend(intermediates.iter().cloned());
        self.check(&served, server_name, now)
            .map(|()| ServerCertVerified::assertion())
            .map_err(rustls::Error::from)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Reasons [`PinningVerifier::check`] failed a chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinCheckError {
    /// WebPKI validation failed before any pin was looked at.
    #[error(transparent)]
    Path(Error),
    /// A pin rule rejected the connection.
    #[error("{reason} for {host} (pin document version {document_version})")]
    Rejected {
        /// The server name.
        host: String,
        /// `pin_mismatch`, `non_public_anchor` or `pin_set_expired`.
        reason: ReportReason,
        /// The version of the document in force.
        document_version: u64,
    },
}

impl PinCheckError {
    /// Returns a stable snake_case code: the path error's code, or the pin reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Path(error) => error.reason(),
            Self::Rejected { reason, .. } => reason.as_str(),
        }
    }
}

impl From<PinCheckError> for rustls::Error {
    fn from(error: PinCheckError) -> Self {
        let certificate_error = match error {
            PinCheckError::Path(Error::UnknownIssuer) => CertificateError::UnknownIssuer,
            PinCheckError::Path(Error::CertificateExpired { .. }) => CertificateError::Expired,
            PinCheckError::Path(Error::CertificateNotYetValid { .. }) => {
                CertificateError::NotValidYet
            }
            PinCheckError::Path(Error::CertificateSignatureInvalid) => {
                CertificateError::BadSignature
            }
            PinCheckError::Path(Error::CertificateNameMismatch { .. }) => {
                CertificateError::NotValidForName
            }
            PinCheckError::Path(Error::MalformedCertificate { .. } | Error::EmptyChain) => {
                CertificateError::BadEncoding
            }
            other => CertificateError::Other(OtherError(Arc::new(other))),
        };
        Self::InvalidCertificate(certificate_error)
    }
}
