//! The app's pin document state: the last good document and the trusted time.

use crate::document::{DocumentError, DomainPins, PinDocumentVerifier, VerifiedPinDocument};
use crate::report::ReportReason;

use super::clock::{ClockAnomaly, ClockReading, TimeAnchor, TimeSettings, TimeSource, TrustedTime};

/// The pin document an app holds, and the time it trusts.
///
/// It starts from the document bundled into the app at build time. [`PinningState::offer`]
/// replaces it only with a document that verifies, is not older, is not expired and is not
/// dated in the future. Otherwise the last good document stays, and the rejection gives the
/// reason.
///
/// # Trusted time
///
/// Expiry is judged against a trusted time, never against the device clock alone:
///
/// - After a document is accepted, the trusted time is its signed `iat` plus the monotonic
///   time elapsed since it was accepted ([`TimeSource::Monotonic`]). Moving the wall clock
///   forward or back changes nothing.
/// - Without a monotonic reference (a bundled document at first start, or after a reboot), it
///   is the wall clock, but never earlier than the held document's `iat`
///   ([`TimeSource::WallClock`], [`TimeSource::SignedFloor`]).
///
/// Offered documents are never rejected because of the wall clock alone. The expiry check at
/// [`PinningState::offer`] uses the monotonic trusted time, or the held document's `iat` when
/// there is none, so a device whose clock is far off still takes new documents.
#[derive(Clone, Debug)]
pub struct PinningState {
    verifier: PinDocumentVerifier,
    held: VerifiedPinDocument,
    anchor: Option<TimeAnchor>,
    settings: TimeSettings,
}

/// The change an accepted offer made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferOutcome {
    /// A newer version replaced the held document.
    Accepted {
        /// The version held before.
        previous_version: u64,
        /// The version now held.
        version: u64,
    },
    /// The same version, signed again with the same or a later `iat`, refreshed the trusted
    /// time.
    Refreshed {
        /// The version held.
        version: u64,
    },
}

/// Reasons an offered document was not taken. The held document stays in force.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferRejection {
    /// The document is older than the one held: a lower version, or the same version with an
    /// earlier `iat`.
    #[error(
        "pin document version {offered_version} (iat {offered_iat}) is older than the held \
         version {held_version} (iat {held_iat})"
    )]
    Downgrade {
        /// The held document's version.
        held_version: u64,
        /// The held document's `iat`.
        held_iat: u64,
        /// The offered document's version.
        offered_version: u64,
        /// The offered document's `iat`.
        offered_iat: u64,
    },
    /// The document's `exp` has passed by the trusted time.
    #[error("pin document expired at {exp} (trusted time {trusted_time})")]
    Expired {
        /// The document's `exp`.
        exp: u64,
        /// The trusted time it was judged at.
        trusted_time: u64,
    },
    /// The document is not a valid pin document.
    #[error("pin document is invalid: {0}")]
    Malformed(#[source] DocumentError),
    /// The document's `iat` is later than both the trusted time and the wall clock by more than
    /// the allowance: the server's clock, or the document, is wrong.
    #[error(
        "pin document issued at {iat}, later than the trusted time {trusted_time} and the device \
         clock {wall}"
    )]
    NotYetValid {
        /// The document's `iat`.
        iat: u64,
        /// The trusted time.
        trusted_time: u64,
        /// The wall clock.
        wall: u64,
    },
    /// The document is validly signed but for another app.
    #[error("pin document is for another app: {0}")]
    OtherApp(#[source] DocumentError),
    /// The signature, algorithm or key id does not verify with the built-in keys.
    #[error("pin document signature is not valid: {0}")]
    Tampered(#[source] DocumentError),
}

impl OfferRejection {
    /// Returns the report reason for this rejection.
    pub fn reason(&self) -> ReportReason {
        match self {
            Self::Downgrade { .. } => ReportReason::DocumentDowngrade,
            Self::Expired { .. } => ReportReason::DocumentExpired,
            Self::Malformed(_) => ReportReason::DocumentMalformed,
            Self::NotYetValid { .. } => ReportReason::DocumentNotYetValid,
            Self::OtherApp(_) => ReportReason::DocumentOtherApp,
            Self::Tampered(_) => ReportReason::DocumentTampered,
        }
    }

    fn from_document_error(error: DocumentError) -> Self {
        if error.is_signature_failure() {
            Self::Tampered(error)
        } else if matches!(error, DocumentError::AppMismatch { .. }) {
            Self::OtherApp(error)
        } else {
            Self::Malformed(error)
        }
    }
}

/// The state of a host's entry in the held document at the trusted time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainStatus<'a> {
    /// The pin set is in force.
    Current {
        /// The entry that applies to the host.
        domain: &'a DomainPins,
        /// When it expires, Unix seconds.
        expires_at: u64,
    },
    /// The pin set has expired, so its `after_expiry` policy applies.
    Expired {
        /// The entry that applies to the host.
        domain: &'a DomainPins,
        /// When it expired, Unix seconds.
        expired_at: u64,
    },
    /// No entry applies: WebPKI validation alone decides.
    Unpinned,
}

impl PinningState {
    /// Starts from the document bundled into the app, verified with `verifier`.
    ///
    /// The bundled document is taken whatever its dates: an old build still starts from its
    /// pins, and their expiry is judged by the trusted time like any other document's.
    ///
    /// # Errors
    ///
    /// The [`DocumentError`] when the bundled document does not verify, which is a build
    /// mistake the app should surface in development.
    pub fn new(
        verifier: PinDocumentVerifier,
        bundled: &str,
        settings: TimeSettings,
    ) -> Result<Self, DocumentError> {
        let held = verifier.verify(bundled.as_bytes())?;
        Ok(Self {
            verifier,
            held,
            anchor: None,
            settings,
        })
    }

    /// Returns the document in force.
    pub fn document(&self) -> &VerifiedPinDocument {
        &self.held
    }

    /// Returns the version of the document in force.
    pub fn version(&self) -> u64 {
        self.held.document().ver
    }

    /// Returns the link between signed time and the monotonic clock, for the SDK to store with
    /// the document, or `None` when there is no monotonic reference.
    pub fn time_anchor(&self) -> Option<TimeAnchor> {
        self.anchor
    }

    /// Returns the time limits in use.
    pub fn settings(&self) -> TimeSettings {
        self.settings
    }

    /// Returns the trusted time for a clock reading.
    pub fn trusted_time(&self, reading: ClockReading) -> TrustedTime {
        if let Some(unix_secs) = self.anchored_time(reading) {
            return TrustedTime {
                unix_secs,
                source: TimeSource::Monotonic,
            };
        }
        let floor = self.held.document().iat;
        if reading.wall >= floor {
            TrustedTime {
                unix_secs: reading.wall,
                source: TimeSource::WallClock,
            }
        } else {
            TrustedTime {
                unix_secs: floor,
                source: TimeSource::SignedFloor,
            }
        }
    }

    /// Returns a clock anomaly when the wall clock is further from the trusted time than the
    /// configured threshold.
    pub fn clock_anomaly(&self, reading: ClockReading) -> Option<ClockAnomaly> {
        let trusted = self.trusted_time(reading);
        let skew = reading.wall.abs_diff(trusted.unix_secs);
        (skew > self.settings.clock_anomaly_threshold_secs).then_some(ClockAnomaly {
            wall: reading.wall,
            trusted: trusted.unix_secs,
            source: trusted.source,
        })
    }

    /// Returns the entry for `host` and whether it has expired at the trusted time.
    pub fn domain_status(&self, host: &str, reading: ClockReading) -> DomainStatus<'_> {
        let document = self.held.document();
        let Some(domain) = document.domain_for(host) else {
            return DomainStatus::Unpinned;
        };
        let expiry = document.domain_expiry(domain);
        if self.trusted_time(reading).unix_secs >= expiry {
            DomainStatus::Expired {
                domain,
                expired_at: expiry,
            }
        } else {
            DomainStatus::Current {
                domain,
                expires_at: expiry,
            }
        }
    }

    /// Offers a document fetched from the server.
    ///
    /// It replaces the held document when all of these hold:
    ///
    /// - its signature and rules verify;
    /// - its version is higher, or equal with an `iat` no earlier than the held one's;
    /// - it has not expired by the trusted time;
    /// - its `iat` is not later than both the trusted time and the wall clock by more than the
    ///   allowance.
    ///
    /// Accepting it sets the trusted time to its `iat` (never earlier than the current trusted
    /// time) at the current monotonic reading.
    ///
    /// # Errors
    ///
    /// An [`OfferRejection`] naming the first failed check; the held document stays.
    pub fn offer(
        &mut self,
        compact: &str,
        reading: ClockReading,
    ) -> Result<OfferOutcome, OfferRejection> {
        let offered = self
            .verifier
            .verify(compact.as_bytes())
            .map_err(OfferRejection::from_document_error)?;
        self.check_not_older(&offered)?;

        let new = offered.document();
        let anchored = self.anchored_time(reading);
        let reliable = anchored.unwrap_or(self.held.document().iat);
        if new.exp <= reliable {
            return Err(OfferRejection::Expired {
                exp: new.exp,
                trusted_time: reliable,
            });
        }
        if let Some(trusted_time) = anchored {
            let allowance = self.settings.future_allowance_secs;
            let ahead_of_trusted = new.iat > trusted_time.saturating_add(allowance);
            let ahead_of_wall = new.iat > reading.wall.saturating_add(allowance);
            if ahead_of_trusted && ahead_of_wall {
                return Err(OfferRejection::NotYetValid {
                    iat: new.iat,
                    trusted_time,
                    wall: reading.wall,
                });
            }
        }

        let signed_time = new.iat.max(anchored.unwrap_or(0));
        let anchor = reading.monotonic.map(|monotonic| TimeAnchor {
            signed_time,
            monotonic,
        });
        Ok(self.replace(offered, anchor))
    }

    /// Restores the last good document the SDK stored, with the time anchor stored with it.
    ///
    /// Use this at start, after [`PinningState::new`], so that an app restarted since its last
    /// fetch keeps the newer document rather than falling back to the bundled one. Only the
    /// signature, rules and version are checked: the stored document was accepted before, and
    /// its expiry is judged by the trusted time as it is used. Pass `anchor` only when the
    /// device has not rebooted since it was taken; an anchor ahead of the current monotonic
    /// reading is ignored.
    ///
    /// # Errors
    ///
    /// An [`OfferRejection`] when the stored document does not verify or is older than the
    /// bundled one (after an app update that bundles a newer version).
    pub fn restore(
        &mut self,
        compact: &str,
        anchor: Option<TimeAnchor>,
        reading: ClockReading,
    ) -> Result<OfferOutcome, OfferRejection> {
        let stored = self
            .verifier
            .verify(compact.as_bytes())
            .map_err(OfferRejection::from_document_error)?;
        self.check_not_older(&stored)?;
        let iat = stored.document().iat;
        let anchor = anchor
            .filter(|anchor| {
                reading
                    .monotonic
                    .is_some_and(|monotonic| monotonic >= anchor.monotonic)
            })
            .map(|anchor| TimeAnchor {
                signed_time: anchor.signed_time.max(iat),
                monotonic: anchor.monotonic,
            });
        Ok(self.replace(stored, anchor))
    }

    fn check_not_older(&self, offered: &VerifiedPinDocument) -> Result<(), OfferRejection> {
        let (new, held) = (offered.document(), self.held.document());
        if new.ver < held.ver || (new.ver == held.ver && new.iat < held.iat) {
            return Err(OfferRejection::Downgrade {
                held_version: held.ver,
                held_iat: held.iat,
                offered_version: new.ver,
                offered_iat: new.iat,
            });
        }
        Ok(())
    }

    fn replace(
        &mut self,
        document: VerifiedPinDocument,
        anchor: Option<TimeAnchor>,
    ) -> OfferOutcome {
        let previous_version = self.version();
        let version = document.document().ver;
        self.held = document;
        self.anchor = anchor;
        if version == previous_version {
            OfferOutcome::Refreshed { version }
        } else {
            OfferOutcome::Accepted {
                previous_version,
                version,
            }
        }
    }

    /// Returns signed time plus monotonic elapsed time, when a usable anchor exists.
    fn anchored_time(&self, reading: ClockReading) -> Option<u64> {
        let anchor = self.anchor?;
        anchor.time_at(reading.monotonic?)
    }
}
