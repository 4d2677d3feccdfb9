//! The app's document state: the bundled start, no rollback, the last good document, and
//! freshness judged from signed time rather than the device clock.

mod client_support;

use std::sync::Arc;
use std::time::Duration;

use avow_pinning::client::{
    ClockReading, DomainStatus, OfferOutcome, OfferRejection, PinningEvent, PinningState,
    PinningVerifier, TimeAnchor, TimeSettings, TimeSource,
};
use avow_pinning::{DocumentError, ReportReason};
use client_support::*;

fn reading(wall: u64, monotonic_secs: Option<u64>) -> ClockReading {
    ClockReading {
        wall,
        monotonic: monotonic_secs.map(Duration::from_secs),
    }
}

/// A state started from version `ver` issued at `iat`, bundled.
fn state_from_bundle(signer: &TestSigner, ver: u64, iat: u64) -> PinningState {
    let bundled = signer.sign(&simple_document(ver, iat));
    PinningState::new(signer.verifier(), &bundled, TimeSettings::default()).unwrap()
}

/// Returns a state that started from bundled version 4 and then took version 5, issued at
/// `T0`, from a fetch at wall time `T0` and monotonic time `monotonic_secs`.
fn state_after_fetch(signer: &TestSigner, monotonic_secs: u64) -> PinningState {
    let mut state = state_from_bundle(signer, 4, T0 - 10 * DAY);
    state
        .offer(
            &signer.sign(&simple_document(5, T0)),
            reading(T0, Some(monotonic_secs)),
        )
        .unwrap();
    state
}

#[test]
fn bundled_document_used_at_start() {
    let signer = TestSigner::generate();
    let state = state_from_bundle(&signer, 4, T0);
    assert_eq!(state.version(), 4);
    assert_eq!(state.document().document(), &simple_document(4, T0));
    assert_eq!(state.time_anchor(), None);
    assert!(matches!(
        state.domain_status(HOST, reading(T0 + DAY, None)),
        DomainStatus::Current { .. }
    ));
    assert_eq!(
        state.domain_status("other.test", reading(T0, None)),
        DomainStatus::Unpinned
    );
}

#[test]
fn unverifiable_bundle_returns_error() {
    let signer = TestSigner::generate();
    let other = TestSigner::generate();
    let bundled = other.sign(&simple_document(1, T0));
    let error =
        PinningState::new(signer.verifier(), &bundled, TimeSettings::default()).unwrap_err();
    assert_eq!(error.reason(), "unknown_kid");
}

#[test]
fn newer_version_accepted() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    let outcome = state
        .offer(
            &signer.sign(&simple_document(5, T0 + DAY)),
            reading(T0 + DAY, Some(100)),
        )
        .unwrap();
    assert_eq!(
        outcome,
        OfferOutcome::Accepted {
            previous_version: 4,
            version: 5
        }
    );
    assert_eq!(state.version(), 5);
    assert_eq!(
        state.time_anchor(),
        Some(TimeAnchor {
            signed_time: T0 + DAY,
            monotonic: Duration::from_secs(100)
        })
    );
}

#[test]
fn downgrade_to_older_version_rejected() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    let older = signer.sign(&simple_document(3, T0 + DAY));
    let rejection = state
        .offer(&older, reading(T0 + DAY, Some(100)))
        .unwrap_err();
    assert_eq!(
        rejection,
        OfferRejection::Downgrade {
            held_version: 4,
            held_iat: T0,
            offered_version: 3,
            offered_iat: T0 + DAY
        }
    );
    assert_eq!(rejection.reason(), ReportReason::DocumentDowngrade);
    assert_eq!(state.version(), 4);
}

#[test]
fn same_version_with_older_iat_rejected() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0 + DAY);
    let stale = signer.sign(&simple_document(4, T0));
    let rejection = state
        .offer(&stale, reading(T0 + DAY, Some(100)))
        .unwrap_err();
    assert!(matches!(rejection, OfferRejection::Downgrade { .. }));
    assert_eq!(state.document().document().iat, T0 + DAY);
}

#[test]
fn same_version_resigned_later_refreshes_freshness() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    state
        .offer(&signer.sign(&simple_document(4, T0)), reading(T0, Some(0)))
        .unwrap();

    // 29 days later the document is about to expire; the server re-signs version 4.
    let later = reading(T0 + 29 * DAY, Some(29 * DAY));
    let outcome = state
        .offer(&signer.sign(&simple_document(4, T0 + 29 * DAY)), later)
        .unwrap();
    assert_eq!(outcome, OfferOutcome::Refreshed { version: 4 });
    assert_eq!(state.document().document().exp, T0 + 59 * DAY);

    let before_old_expiry = reading(T0 + 40 * DAY, Some(40 * DAY));
    assert!(matches!(
        state.domain_status(HOST, before_old_expiry),
        DomainStatus::Current { .. }
    ));
}

#[test]
fn tampered_document_keeps_last_good() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    let good = signer.sign(&simple_document(5, T0 + DAY));
    state.offer(&good, reading(T0 + DAY, Some(10))).unwrap();

    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let forged = TestSigner::generate();
    let forged_signature = forged.sign(&simple_document(6, T0 + DAY));
    let tampered = format!(
        "{signing_input}.{}",
        forged_signature.rsplit_once('.').unwrap().1
    );
    let rejection = state
        .offer(&tampered, reading(T0 + DAY, Some(20)))
        .unwrap_err();
    assert_eq!(
        rejection,
        OfferRejection::Tampered(DocumentError::SignatureInvalid)
    );
    assert_eq!(rejection.reason(), ReportReason::DocumentTampered);
    assert_eq!(state.version(), 5);
    assert_eq!(state.document().compact(), good);
}

#[test]
fn malformed_documents_keep_last_good() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    for garbage in ["", "not a document", "a.b.c", &"x".repeat(100_000)] {
        let rejection = state.offer(garbage, reading(T0, Some(10))).unwrap_err();
        assert_eq!(
            rejection.reason(),
            ReportReason::DocumentMalformed,
            "{garbage:.20}"
        );
        assert_eq!(state.version(), 4);
    }
}

#[test]
fn document_for_another_app_rejected() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    let mut other_app = simple_document(9, T0 + DAY);
    other_app.app = "com.example.other".into();
    let rejection = state
        .offer(&signer.sign(&other_app), reading(T0 + DAY, Some(10)))
        .unwrap_err();
    assert_eq!(rejection.reason(), ReportReason::DocumentOtherApp);
    assert_eq!(state.version(), 4);
}

#[test]
fn malformed_pin_keeps_previous_and_reports() {
    // A signed set with a malformed pin (a configuration mistake that slipped past the
    // server) must be ignored on the device, never crash it, and be reported.
    let signer = TestSigner::generate();
    let clock = ManualClock::new(T0, Some(Duration::ZERO));
    let reporter = RecordingReporter::new();
    let bundled = signer.sign(&simple_document(4, T0));
    let verifier = PinningVerifier::builder(signer.verifier(), bundled, clock)
        .reporter(reporter.clone())
        .build()
        .unwrap();

    let good_pin = placeholder_pin("backup");
    let payload = format!(
        r#"{{"iss":"{ISSUER}","app":"{APP_ID}","ver":5,"iat":{T0},"exp":{exp},"domains":[{{"host":"{HOST}","pins":["0b9fa5a59eed715c26c1020c711b4f6ec42d58b0015e14337a39dad301c5afc3","{good_pin}"],"exp":{exp},"mode":"enforce","after_expiry":"fail_closed","user_anchors":"reject"}}]}}"#,
        exp = T0 + 30 * DAY
    );
    let bad = signer.sign_raw(&signer.header(), &payload);
    let rejection = verifier.offer_document(&bad).unwrap_err();
    let OfferRejection::Malformed(error) = &rejection else {
        panic!("expected a malformed document, got {rejection:?}");
    };
    assert_eq!(error.reason(), "pin_hex");
    assert_eq!(verifier.document_version(), 4);

    let events = reporter.take();
    assert_eq!(
        events,
        vec![PinningEvent::DocumentRejected {
            rejection: rejection.clone(),
            document_version: 4
        }]
    );
    let report = events[0].to_report(&context(), "avow.test", 443).unwrap();
    assert_eq!(report.reason, ReportReason::DocumentMalformed);
    assert_eq!(report.document_version, 4);
}

#[test]
fn single_pin_set_from_server_is_ignored() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    let payload = format!(
        r#"{{"iss":"{ISSUER}","app":"{APP_ID}","ver":5,"iat":{T0},"exp":{exp},"domains":[{{"host":"{HOST}","pins":["{pin}"],"exp":{exp},"mode":"enforce","after_expiry":"fail_closed","user_anchors":"reject"}}]}}"#,
        exp = T0 + 30 * DAY,
        pin = placeholder_pin("current")
    );
    let rejection = state
        .offer(
            &signer.sign_raw(&signer.header(), &payload),
            reading(T0, Some(1)),
        )
        .unwrap_err();
    let OfferRejection::Malformed(error) = rejection else {
        panic!("expected a malformed document");
    };
    assert_eq!(error.reason(), "too_few_pins");
    assert_eq!(state.version(), 4);
}

#[test]
fn expired_document_rejected_by_trusted_time() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    state
        .offer(&signer.sign(&simple_document(5, T0)), reading(T0, Some(0)))
        .unwrap();

    // 40 days of monotonic time later, a replayed version 6 issued at T0 (exp T0 + 30 days)
    // has expired, whatever the wall clock reads.
    let replay = signer.sign(&simple_document(6, T0));
    let rejection = state
        .offer(&replay, reading(T0 - 400 * DAY, Some(40 * DAY)))
        .unwrap_err();
    assert_eq!(
        rejection,
        OfferRejection::Expired {
            exp: T0 + 30 * DAY,
            trusted_time: T0 + 40 * DAY
        }
    );
    assert_eq!(state.version(), 5);
}

// === Freshness and the device clock ===

#[test]
fn clock_ahead_keeps_recent_set_valid() {
    // The set was fetched one day ago (signed iat + 1 day of monotonic time); the user has
    // moved the device clock 400 days forward. The set stays in force and the clock anomaly
    // is visible.
    let signer = TestSigner::generate();
    let state = state_after_fetch(&signer, 500);

    let now = reading(T0 + DAY + 400 * DAY, Some(500 + DAY));
    let trusted = state.trusted_time(now);
    assert_eq!(trusted.unix_secs, T0 + DAY);
    assert_eq!(trusted.source, TimeSource::Monotonic);
    assert!(matches!(
        state.domain_status(HOST, now),
        DomainStatus::Current { .. }
    ));
    let anomaly = state.clock_anomaly(now).unwrap();
    assert_eq!(anomaly.skew_secs(), i128::from(400 * DAY));
}

#[test]
fn clock_behind_keeps_expired_set_expired() {
    // The set (document exp 30 days, domain exp 90 days) was accepted 100 days ago by the
    // monotonic clock. Moving the device clock 400 days back does not make it fresh again.
    let signer = TestSigner::generate();
    let state = state_after_fetch(&signer, 0);

    let now = reading(T0 + 100 * DAY - 400 * DAY, Some(100 * DAY));
    assert_eq!(state.trusted_time(now).unix_secs, T0 + 100 * DAY);
    assert_eq!(
        state.domain_status(HOST, now),
        DomainStatus::Expired {
            domain: &state.document().document().domains[0],
            expired_at: T0 + 30 * DAY
        }
    );
    let anomaly = state.clock_anomaly(now).unwrap();
    assert_eq!(anomaly.skew_secs(), -i128::from(400 * DAY));
}

#[test]
fn clock_behind_future_document_rejected() {
    // The device clock is 400 days behind and the last fetch was one day ago. A document
    // dated 400 days from now (a server clock error, or a document made for the future) is
    // ahead of both the trusted time and the device clock. It is rejected, and the held set
    // stays in force, judged by the trusted time.
    let signer = TestSigner::generate();
    let mut state = state_after_fetch(&signer, 0);

    let now = reading(T0 + DAY - 400 * DAY, Some(DAY));
    let future = signer.sign(&simple_document(6, T0 + 400 * DAY));
    let rejection = state.offer(&future, now).unwrap_err();
    assert_eq!(
        rejection,
        OfferRejection::NotYetValid {
            iat: T0 + 400 * DAY,
            trusted_time: T0 + DAY,
            wall: T0 + DAY - 400 * DAY
        }
    );
    assert_eq!(rejection.reason(), ReportReason::DocumentNotYetValid);
    assert_eq!(state.version(), 5);
    assert!(matches!(
        state.domain_status(HOST, now),
        DomainStatus::Current { .. }
    ));
}

#[test]
fn slow_monotonic_clock_wall_clock_vouches() {
    // A monotonic clock that stopped while the device slept lags real time. A correct wall
    // clock vouches for the new document's iat, so the document is taken.
    let signer = TestSigner::generate();
    let mut state = state_after_fetch(&signer, 0);
    let now = reading(T0 + 20 * DAY, Some(DAY));
    let outcome = state
        .offer(&signer.sign(&simple_document(6, T0 + 20 * DAY)), now)
        .unwrap();
    assert!(matches!(outcome, OfferOutcome::Accepted { version: 6, .. }));
    assert_eq!(state.trusted_time(now).unix_secs, T0 + 20 * DAY);
}

#[test]
fn wrong_clock_after_reboot_takes_documents() {
    // After a reboot there is no monotonic reference. However far off the wall clock is, a
    // newer signed document is accepted and becomes the time reference.
    let signer = TestSigner::generate();
    for skew in [400 * DAY as i64, -(400 * DAY as i64)] {
        let mut state = state_from_bundle(&signer, 4, T0 - 60 * DAY);
        let wall = T0.checked_add_signed(skew).unwrap();
        let outcome = state
            .offer(
                &signer.sign(&simple_document(5, T0)),
                reading(wall, Some(3)),
            )
            .unwrap();
        assert!(matches!(outcome, OfferOutcome::Accepted { version: 5, .. }));
        let later = reading(wall + 60, Some(63));
        assert_eq!(state.trusted_time(later).unix_secs, T0 + 60);
        assert!(matches!(
            state.domain_status(HOST, later),
            DomainStatus::Current { .. }
        ));
    }
}

#[test]
fn wall_clock_floored_at_signed_iat() {
    let signer = TestSigner::generate();
    let state = state_from_bundle(&signer, 4, T0);

    let behind = state.trusted_time(reading(T0 - 400 * DAY, None));
    assert_eq!(behind.unix_secs, T0);
    assert_eq!(behind.source, TimeSource::SignedFloor);
    assert!(state.clock_anomaly(reading(T0 - 400 * DAY, None)).is_some());

    let ahead = state.trusted_time(reading(T0 + 5 * DAY, None));
    assert_eq!(ahead.unix_secs, T0 + 5 * DAY);
    assert_eq!(ahead.source, TimeSource::WallClock);
    assert!(state.clock_anomaly(reading(T0 + 5 * DAY, None)).is_none());
}

#[test]
fn old_bundle_expired_until_fetch() {
    let signer = TestSigner::generate();
    let mut state = state_from_bundle(&signer, 4, T0);
    let later = reading(T0 + 100 * DAY, Some(7));
    assert!(matches!(
        state.domain_status(HOST, later),
        DomainStatus::Expired { .. }
    ));
    state
        .offer(&signer.sign(&simple_document(5, T0 + 100 * DAY)), later)
        .unwrap();
    assert!(matches!(
        state.domain_status(HOST, later),
        DomainStatus::Current { .. }
    ));
}

#[test]
fn restore_keeps_document_and_anchor() {
    let signer = TestSigner::generate();
    let first_run = state_after_fetch(&signer, 1000);
    let stored_document = first_run.document().compact().to_owned();
    let stored_anchor = first_run.time_anchor();

    // The app restarts (same boot): the wall clock is now 400 days ahead.
    let mut second_run = state_from_bundle(&signer, 4, T0 - 10 * DAY);
    let now = reading(T0 + 400 * DAY, Some(1000 + DAY));
    let outcome = second_run
        .restore(&stored_document, stored_anchor, now)
        .unwrap();
    assert_eq!(
        outcome,
        OfferOutcome::Accepted {
            previous_version: 4,
            version: 5
        }
    );
    assert_eq!(second_run.trusted_time(now).unix_secs, T0 + DAY);

    // After a reboot the monotonic clock restarted: the anchor no longer applies.
    let mut after_reboot = state_from_bundle(&signer, 4, T0 - 10 * DAY);
    let rebooted = reading(T0 + 2 * DAY, Some(50));
    after_reboot
        .restore(&stored_document, stored_anchor, rebooted)
        .unwrap();
    assert_eq!(after_reboot.time_anchor(), None);
    assert_eq!(
        after_reboot.trusted_time(rebooted).source,
        TimeSource::WallClock
    );
}

#[test]
fn restore_of_document_older_than_new_bundle_rejected() {
    let signer = TestSigner::generate();
    let stored = signer.sign(&simple_document(5, T0));
    let mut state = state_from_bundle(&signer, 7, T0 + DAY);
    let rejection = state
        .restore(&stored, None, reading(T0 + DAY, Some(1)))
        .unwrap_err();
    assert!(matches!(rejection, OfferRejection::Downgrade { .. }));
    assert_eq!(state.version(), 7);
}

#[test]
fn verifier_reports_clock_anomaly_once_per_document() {
    let signer = TestSigner::generate();
    let clock = ManualClock::new(T0, Some(Duration::ZERO));
    let reporter = RecordingReporter::new();
    let verifier = PinningVerifier::builder(
        signer.verifier(),
        signer.sign(&simple_document(4, T0 - DAY)),
        clock.clone(),
    )
    .reporter(reporter.clone())
    .build()
    .unwrap();
    verifier
        .offer_document(&signer.sign(&simple_document(5, T0)))
        .unwrap();
    assert!(reporter.take().is_empty(), "clocks agree");

    clock.set_wall(T0 + 400 * DAY);
    clock.set_monotonic(Some(Duration::from_secs(60)));
    verifier
        .offer_document(&signer.sign(&simple_document(5, T0)))
        .unwrap();
    verifier
        .offer_document(&signer.sign(&simple_document(5, T0)))
        .unwrap();
    let events = reporter.take();
    assert_eq!(events.len(), 1, "{events:?}");
    let PinningEvent::ClockAnomaly {
        anomaly,
        document_version,
    } = &events[0]
    else {
        panic!("expected a clock anomaly, got {events:?}");
    };
    assert_eq!(*document_version, 5);
    assert_eq!(anomaly.trusted, T0 + 60);
    let report = events[0].to_report(&context(), "avow.test", 443).unwrap();
    assert_eq!(report.reason, ReportReason::ClockAnomaly);
    assert_eq!(report.mode, None);
}

#[test]
fn time_settings_change_thresholds() {
    let signer = TestSigner::generate();
    let bundled = signer.sign(&simple_document(4, T0));
    let settings = TimeSettings {
        clock_anomaly_threshold_secs: 10,
        future_allowance_secs: 0,
    };
    let mut state = PinningState::new(signer.verifier(), &bundled, settings).unwrap();
    state
        .offer(&signer.sign(&simple_document(4, T0)), reading(T0, Some(0)))
        .unwrap();
    assert!(state.clock_anomaly(reading(T0 + 11, Some(0))).is_some());
    assert!(state.clock_anomaly(reading(T0 + 10, Some(0))).is_none());
    let rejection = state
        .offer(
            &signer.sign(&simple_document(5, T0 + 2)),
            reading(T0 + 1, Some(1)),
        )
        .unwrap_err();
    assert!(matches!(rejection, OfferRejection::NotYetValid { .. }));
}

fn context() -> avow_pinning::client::ReportContext {
    avow_pinning::client::ReportContext {
        app_id: APP_ID.into(),
        app_version: "4.2.0".into(),
    }
}

#[test]
fn verifier_shares_state_across_threads() {
    // The verifier is used from rustls on any thread while the SDK offers documents.
    let signer = Arc::new(TestSigner::generate());
    let clock = ManualClock::new(T0, Some(Duration::ZERO));
    let verifier = Arc::new(
        PinningVerifier::builder(
            signer.verifier(),
            signer.sign(&simple_document(1, T0)),
            clock,
        )
        .build()
        .unwrap(),
    );
    let handles: Vec<_> = (2..6)
        .map(|ver| {
            let verifier = Arc::clone(&verifier);
            let signer = Arc::clone(&signer);
            std::thread::spawn(move || {
                let _ = verifier.offer_document(&signer.sign(&simple_document(ver, T0)));
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(verifier.document_version(), 5);
}
