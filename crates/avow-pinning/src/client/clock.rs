//! The device clocks the client reads, and the trusted time it derives from them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The two device clocks the client needs, injected by the app.
///
/// The crate never reads a clock itself. An SDK implements this with the platform's clocks;
/// tests implement it with values they set.
///
/// ```
/// use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
/// use avow_pinning::client::Clock;
///
/// /// Wall clock from `SystemTime`, monotonic clock from `Instant`.
/// ///
/// /// On Linux, `Instant` stops while the device is suspended, so a phone SDK should read
/// /// Android's `SystemClock.elapsedRealtime()` or Darwin's `mach_continuous_time()` instead.
/// #[derive(Debug)]
/// struct HostClock {
///     start: Instant,
/// }
///
/// impl Clock for HostClock {
///     fn wall_time(&self) -> u64 {
///         SystemTime::now()
///             .duration_since(UNIX_EPOCH)
///             .map_or(0, |elapsed| elapsed.as_secs())
///     }
///
///     fn monotonic(&self) -> Option<Duration> {
///         Some(self.start.elapsed())
///     }
/// }
/// ```
pub trait Clock: fmt::Debug + Send + Sync {
    /// Returns the device's wall clock, Unix seconds. The user or the network can set it to
    /// anything.
    fn wall_time(&self) -> u64;

    /// Returns the time elapsed since a fixed point of this boot session (usually the boot), or
    /// `None` when the platform has no such clock.
    ///
    /// It must never go backwards within a boot session and must keep counting while the
    /// device sleeps. A clock that stops during sleep makes documents look fresher than they
    /// are. It may restart from zero after a reboot.
    fn monotonic(&self) -> Option<Duration>;
}

/// One reading of both clocks, taken together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockReading {
    /// Wall clock, Unix seconds.
    pub wall: u64,
    /// Monotonic clock, if the platform has one.
    pub monotonic: Option<Duration>,
}

impl ClockReading {
    /// Reads both clocks of `clock`.
    pub fn from_clock(clock: &dyn Clock) -> Self {
        Self {
            wall: clock.wall_time(),
            monotonic: clock.monotonic(),
        }
    }
}

/// The link between signed server time and the monotonic clock: at monotonic reading
/// `monotonic`, the time was at least `signed_time`.
///
/// An SDK may store it with the last good document and give it back with
/// [`PinningState::restore`](super::PinningState::restore) after the app restarts, as long as
/// the device has not rebooted since (the monotonic clock restarts at boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeAnchor {
    /// Unix seconds, derived only from signed `iat` values.
    pub signed_time: u64,
    /// The monotonic clock reading at which `signed_time` held.
    pub monotonic: Duration,
}

impl TimeAnchor {
    /// Returns the time this anchor gives for `monotonic`, or `None` when the clock is behind
    /// the anchor (a reboot since the anchor was taken).
    pub fn time_at(&self, monotonic: Duration) -> Option<u64> {
        let elapsed = monotonic.checked_sub(self.monotonic)?;
        Some(self.signed_time.saturating_add(elapsed.as_secs()))
    }
}

/// The time the client trusts, in Unix seconds, and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedTime {
    /// Unix seconds.
    pub unix_secs: u64,
    /// The source it was derived from.
    pub source: TimeSource,
}

/// The source of the trusted time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// Signed `iat` of an accepted document plus monotonic time elapsed since it was accepted.
    Monotonic,
    /// No monotonic reference (after a reboot, or before any document was accepted with one):
    /// the `iat` of the held document, because the wall clock was earlier than it.
    SignedFloor,
    /// No monotonic reference: the wall clock, which was later than the held document's `iat`.
    WallClock,
}

/// The wall clock disagrees with the trusted time by more than the configured threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClockAnomaly {
    /// The wall clock, Unix seconds.
    pub wall: u64,
    /// The trusted time, Unix seconds.
    pub trusted: u64,
    /// The source of the trusted time.
    pub source: TimeSource,
}

impl ClockAnomaly {
    /// Returns the wall clock minus the trusted time, in seconds: positive when the device
    /// clock is ahead.
    pub fn skew_secs(&self) -> i128 {
        i128::from(self.wall) - i128::from(self.trusted)
    }
}

/// Limits for judging time. Defaults: [`DEFAULT_CLOCK_ANOMALY_THRESHOLD_SECS`] and
/// [`DEFAULT_FUTURE_ALLOWANCE_SECS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeSettings {
    /// A wall clock further than this from the trusted time is reported as a clock anomaly.
    /// Defaults to one hour.
    pub clock_anomaly_threshold_secs: u64,
    /// A document whose `iat` is later than both the trusted time and the wall clock by more
    /// than this is rejected as not yet valid. Defaults to one day.
    pub future_allowance_secs: u64,
}

/// Default of [`TimeSettings::clock_anomaly_threshold_secs`]: one hour.
pub const DEFAULT_CLOCK_ANOMALY_THRESHOLD_SECS: u64 = 60 * 60;
/// Default of [`TimeSettings::future_allowance_secs`]: one day, which also absorbs the gap
/// left by a monotonic clock that does not count sleep.
pub const DEFAULT_FUTURE_ALLOWANCE_SECS: u64 = 24 * 60 * 60;

impl Default for TimeSettings {
    fn default() -> Self {
        Self {
            clock_anomaly_threshold_secs: DEFAULT_CLOCK_ANOMALY_THRESHOLD_SECS,
            future_allowance_secs: DEFAULT_FUTURE_ALLOWANCE_SECS,
        }
    }
}
