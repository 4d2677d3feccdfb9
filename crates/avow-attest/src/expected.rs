//! The server's expectations that several providers share: the app's registered signing
//! certificate digests and the freshness window of a vendor timestamp.

use rustls_pki_types::UnixTime;

use crate::Error;

/// The app's registered signing certificates, by SHA-256 digest of the DER certificate.
///
/// Each provider's input documents how it compares the digests of the evidence with these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateDigests<'a> {
    /// The digests are not compared. The verdict then reports the app as
    /// [`AppIntegrity::Unevaluated`](crate::verdict::AppIntegrity::Unevaluated), unless the
    /// vendor's own label says more.
    NotCompared,
    /// The registered digests. An empty list is compared like any other, so it matches no
    /// digest.
    Registered(&'a [[u8; 32]]),
}

impl<'a> CertificateDigests<'a> {
    /// Returns `Registered(digests)`, or `NotCompared` when `digests` is empty: the setting for
    /// an app whose digests may or may not have been registered.
    pub fn registered_or_not_compared(digests: &'a [[u8; 32]]) -> Self {
        if digests.is_empty() {
            Self::NotCompared
        } else {
            Self::Registered(digests)
        }
    }
}

/// Default maximum age of timestamped evidence: 10 minutes. The app requests the evidence
/// right before it sends it, so older evidence is a replay or a stored copy.
pub const DEFAULT_MAX_AGE_SECS: u64 = 10 * 60;

/// Default allowed clock skew into the future: 60 seconds. The timestamp comes from the
/// vendor's servers, so the skew only has to cover the error of the verifier's own clock.
pub const DEFAULT_MAX_FUTURE_SKEW_SECS: u64 = 60;

/// The window in which the vendor's timestamp must lie: from `max_age_secs` before the
/// verification time to `max_future_skew_secs` after it.
///
/// SafetyNet and SysIntegrity results carry the timestamp in `timestampMs`, Play Integrity
/// verdicts in `requestDetails.timestampMillis`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// Maximum age of the evidence, seconds. Defaults to [`DEFAULT_MAX_AGE_SECS`].
    pub max_age_secs: u64,
    /// Allowed clock skew into the future, seconds. Defaults to
    /// [`DEFAULT_MAX_FUTURE_SKEW_SECS`].
    pub max_future_skew_secs: u64,
}

impl Freshness {
    /// Checks that `timestamp_ms`, Unix milliseconds, lies in the window around `now`.
    pub(crate) fn check(self, timestamp_ms: u64, now: UnixTime) -> Result<(), Error> {
        // `UnixTime` has whole seconds, so the verification time is a whole second in ms.
        let now_ms = now.as_secs().saturating_mul(1000);
        let max_age_ms = self.max_age_secs.saturating_mul(1000);
        let max_skew_ms = self.max_future_skew_secs.saturating_mul(1000);
        if timestamp_ms.saturating_add(max_age_ms) < now_ms {
            return Err(Error::EvidenceTooOld {
                timestamp_ms,
                now_ms,
                max_age_ms,
            });
        }
        if timestamp_ms > now_ms.saturating_add(max_skew_ms) {
            return Err(Error::EvidenceFromFuture {
                timestamp_ms,
                now_ms,
                max_skew_ms,
            });
        }
        Ok(())
    }
}

impl Default for Freshness {
    fn default() -> Self {
        Self {
            max_age_secs: DEFAULT_MAX_AGE_SECS,
            max_future_skew_secs: DEFAULT_MAX_FUTURE_SKEW_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_not_compared() {
        assert_eq!(
            CertificateDigests::registered_or_not_compared(&[]),
            CertificateDigests::NotCompared
        );
        let digests = [[1u8; 32]];
        assert_eq!(
            CertificateDigests::registered_or_not_compared(&digests),
            CertificateDigests::Registered(&digests)
        );
    }

    #[test]
    fn window_edges_inclusive() {
        let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(10_000));
        let freshness = Freshness::default();
        assert_eq!(freshness.check(9_400_000, now), Ok(()));
        assert_eq!(freshness.check(10_060_000, now), Ok(()));
        assert_eq!(
            freshness.check(9_399_999, now),
            Err(Error::EvidenceTooOld {
                timestamp_ms: 9_399_999,
                now_ms: 10_000_000,
                max_age_ms: 600_000,
            })
        );
        assert_eq!(
            freshness.check(10_060_001, now),
            Err(Error::EvidenceFromFuture {
                timestamp_ms: 10_060_001,
                now_ms: 10_000_000,
                max_skew_ms: 60_000,
            })
        );
    }

    #[test]
    fn default_window_is_ten_minutes_and_a_minute() {
        let freshness = Freshness::default();
        assert_eq!(freshness.max_age_secs, 600);
        assert_eq!(freshness.max_future_skew_secs, 60);
    }
}
