//! Helpers shared by the SafetyNet and SysIntegrity tests, whose results have one format.

use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

use avow_attest::{CheckOutcome, CheckReport, Error, Roots, UnixTime};
use avow_testgen::ResultSigner;

/// 2025-06-01T00:00:00Z, inside the generated leaf's validity (2024-01-01 to 2049-12-31).
pub(crate) const VERIFICATION_SECS: u64 = 1_748_736_000;

/// Returns the vectors folder when it has `subfolder`, or prints that the `vendor` vectors
/// were skipped and returns `None`.
pub(crate) fn vectors_dir(subfolder: &str, vendor: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("AVOW_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
    };
    if dir.join(subfolder).is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {vendor} vectors not found at {} (set AVOW_VECTORS_DIR to the vectors folder)",
            dir.display()
        );
        None
    }
}

pub(crate) fn verification_time() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(VERIFICATION_SECS))
}

/// Returns roots that contain only the test root of `signer`.
pub(crate) fn roots_of(signer: &ResultSigner) -> Roots {
    let mut roots = Roots::empty();
    roots.add_der(signer.root_der()).unwrap();
    roots
}

/// Asserts that the report lists `all` checks, that `check` failed with `error` and that every
/// other check passed.
pub(crate) fn assert_only_failure<C, V>(
    report: &CheckReport<C, V>,
    all: &[C],
    check: C,
    error: &Error,
) where
    C: Copy + Debug + PartialEq,
{
    let checks: Vec<C> = report.outcomes().iter().map(|(check, _)| *check).collect();
    assert_eq!(checks, all);
    for (each, outcome) in report.outcomes() {
        if *each == check {
            assert_eq!(*outcome, CheckOutcome::Failed(error.clone()), "{each:?}");
        } else {
            assert_eq!(*outcome, CheckOutcome::Passed, "{each:?}");
        }
    }
}

pub(crate) fn utc_date(year: i32, month: u8, day: u8) -> time::OffsetDateTime {
    time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), day)
        .unwrap()
        .midnight()
        .assume_utc()
}
