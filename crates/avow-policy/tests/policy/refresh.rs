//! `evaluate_refresh`: re-attestation triggers, quota deferral and re-evaluation of the stored
//! verdict.

use avow_policy::{
    LOW_QUOTA_AGE_FACTOR, Outcome, Policy, QuotaState, Reason, ReattestReason, RefreshDecision,
    RefreshSubject, evaluate_refresh,
};

use crate::support::{self, Case};

const DAY: u64 = 86_400;

fn refresh_subject(case: &Case, verdict_age_secs: u64, quota: QuotaState) -> RefreshSubject<'_> {
    RefreshSubject {
        platform: case.platform,
        market: None,
        stored_verdict: &case.verdict,
        providers: &case.providers,
        app_version: None,
        verdict_age_secs,
        app_version_changed: false,
        risk_changed: false,
        quota,
        debug_device: false,
        banned: false,
    }
}

fn plenty() -> QuotaState {
    QuotaState::Budget {
        remaining: 9_000,
        limit: 10_000,
    }
}

fn low() -> QuotaState {
    QuotaState::Budget {
        remaining: 999,
        limit: 10_000,
    }
}

fn allowed_codes(decision: RefreshDecision) -> Vec<&'static str> {
    match decision {
        RefreshDecision::Allow(decision) => decision.reason_codes(),
        other => panic!("expected allow, got {other:?}"),
    }
}

fn reattest_reason(decision: RefreshDecision) -> ReattestReason {
    match decision {
        RefreshDecision::Reattest { reason } => reason,
        other => panic!("expected reattest, got {other:?}"),
    }
}

#[test]
fn quota_low_below_ten_percent() {
    let cases = [
        (999, 10_000, true),
        (1_000, 10_000, false),
        (0, 10_000, true),
        (0, 0, true),
        (5, 3, false),
        (u64::MAX / 20, u64::MAX, true),
    ];
    for (remaining, limit, expected) in cases {
        let quota = QuotaState::Budget { remaining, limit };
        assert_eq!(quota.is_low(), expected, "{remaining} of {limit}");
    }
    assert!(!QuotaState::Unmetered.is_low());
}

#[test]
fn fresh_verdict_refreshes() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::play_device();
    let decision = evaluate_refresh(&finance, &refresh_subject(&case, 60, plenty()));
    assert_eq!(allowed_codes(decision), Vec::<&str>::new());
}

#[test]
fn age_boundary_is_exclusive() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::play_device();
    let at_limit = evaluate_refresh(&finance, &refresh_subject(&case, DAY, plenty()));
    assert!(
        matches!(at_limit, RefreshDecision::Allow(_)),
        "{at_limit:?}"
    );
    let over = evaluate_refresh(&finance, &refresh_subject(&case, DAY + 1, plenty()));
    assert_eq!(reattest_reason(over), ReattestReason::VerdictExpired);
}

#[test]
fn strict_preset_reattests_after_an_hour() {
    let strict = Policy::preset("strict").unwrap();
    let case = support::tandem_play_android_key();
    let decision = evaluate_refresh(&strict, &refresh_subject(&case, 3_601, plenty()));
    assert_eq!(reattest_reason(decision), ReattestReason::VerdictExpired);
}

#[test]
fn low_quota_defers_age_only_reattestation() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::play_device();
    for age in [DAY + 1, 2 * DAY, LOW_QUOTA_AGE_FACTOR * DAY - 1] {
        let decision = evaluate_refresh(&finance, &refresh_subject(&case, age, low()));
        assert_eq!(allowed_codes(decision), ["reattest_deferred"], "age {age}");
    }
    let decision = evaluate_refresh(
        &finance,
        &refresh_subject(&case, LOW_QUOTA_AGE_FACTOR * DAY, low()),
    );
    assert_eq!(reattest_reason(decision), ReattestReason::VerdictExpired);
}

#[test]
fn unmetered_provider_never_defers() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::android_key_strong();
    let decision = evaluate_refresh(
        &finance,
        &refresh_subject(&case, DAY + 1, QuotaState::Unmetered),
    );
    assert_eq!(reattest_reason(decision), ReattestReason::VerdictExpired);
}

#[test]
fn version_and_risk_changes_ignore_quota() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::play_device();

    let mut subject = refresh_subject(&case, 60, low());
    subject.app_version_changed = true;
    assert_eq!(
        reattest_reason(evaluate_refresh(&finance, &subject)),
        ReattestReason::AppVersionChanged
    );

    let mut subject = refresh_subject(&case, 60, low());
    subject.risk_changed = true;
    assert_eq!(
        reattest_reason(evaluate_refresh(&finance, &subject)),
        ReattestReason::RiskChanged
    );

    // Several triggers: the risk change is reported first.
    let mut subject = refresh_subject(&case, 10 * DAY, plenty());
    subject.risk_changed = true;
    subject.app_version_changed = true;
    assert_eq!(
        reattest_reason(evaluate_refresh(&finance, &subject)),
        ReattestReason::RiskChanged
    );
}

#[test]
fn version_change_ignored_when_rules_allow() {
    let policy =
        Policy::from_toml("preset = \"retail\"\n[rules]\nreattest_on_app_version_change = false\n")
            .unwrap();
    let case = support::play_device();
    let mut subject = refresh_subject(&case, 60, plenty());
    subject.app_version_changed = true;
    assert!(matches!(
        evaluate_refresh(&policy, &subject),
        RefreshDecision::Allow(_)
    ));
}

#[test]
fn stored_verdict_checked_against_current_policy() {
    // Admitted by retail at attestation time, the rooted device is denied once the app
    // switches to finance, even though its verdict is fresh.
    let case = support::huawei_rooted();
    let retail = Policy::preset("retail").unwrap();
    assert!(matches!(
        evaluate_refresh(&retail, &refresh_subject(&case, 60, plenty())),
        RefreshDecision::Allow(_)
    ));
    let finance = Policy::preset("finance").unwrap();
    match evaluate_refresh(&finance, &refresh_subject(&case, 60, plenty())) {
        RefreshDecision::Deny(decision) => {
            assert_eq!(
                decision.reason_codes(),
                ["device_integrity_too_low", "risk_flag_denied"]
            );
        }
        other => panic!("expected deny, got {other:?}"),
    }
}

#[test]
fn deferred_refresh_still_denies_failing_verdict() {
    let finance = Policy::preset("finance").unwrap();
    let case = support::huawei_basic();
    match evaluate_refresh(&finance, &refresh_subject(&case, 2 * DAY, low())) {
        RefreshDecision::Deny(decision) => assert_eq!(
            decision.reasons,
            [
                Reason::DeviceIntegrityTooLow {
                    device_integrity: avow_attest::verdict::DeviceIntegrity::Basic,
                    minimum: avow_attest::verdict::DeviceIntegrity::Device,
                },
                Reason::ReattestDeferred,
            ]
        ),
        other => panic!("expected deny, got {other:?}"),
    }
}

#[test]
fn monitor_refresh_allows_failing_verdict() {
    let monitor = Policy::preset("monitor").unwrap();
    let case = support::huawei_rooted();
    match evaluate_refresh(&monitor, &refresh_subject(&case, 60, plenty())) {
        RefreshDecision::Allow(decision) => {
            assert_eq!(decision.outcome, Outcome::Deny);
            assert_eq!(decision.enforced_outcome, Outcome::Allow);
        }
        other => panic!("expected allow, got {other:?}"),
    }
}

#[test]
fn banned_refresh_denied_before_triggers() {
    let monitor = Policy::preset("monitor").unwrap();
    let case = support::app_attest_strong();
    let mut subject = refresh_subject(&case, 10 * DAY, plenty());
    subject.banned = true;
    subject.risk_changed = true;
    match evaluate_refresh(&monitor, &subject) {
        RefreshDecision::Deny(decision) => {
            assert_eq!(decision.reason_codes(), ["install_banned"]);
        }
        other => panic!("expected deny, got {other:?}"),
    }
}

#[test]
fn refresh_uses_market_age_limit() {
    let policy =
        Policy::from_toml("preset = \"finance\"\n[markets.cn]\nmax_verdict_age_secs = 3600\n")
            .unwrap();
    let case = support::play_device();
    let mut subject = refresh_subject(&case, 7_200, plenty());
    assert!(matches!(
        evaluate_refresh(&policy, &subject),
        RefreshDecision::Allow(_)
    ));
    subject.market = Some("cn");
    assert_eq!(
        reattest_reason(evaluate_refresh(&policy, &subject)),
        ReattestReason::VerdictExpired
    );
}
