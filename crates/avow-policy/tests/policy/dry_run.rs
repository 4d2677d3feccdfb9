//! `dry_run`: replaying recorded decisions against a candidate policy.

use std::collections::BTreeMap;

use avow_policy::{DecisionRecord, DryRunReport, Outcome, Policy, dry_run, evaluate};

use crate::support::{self, Case};

fn record(case: Case, market: Option<&str>, previous_outcome: Outcome) -> DecisionRecord {
    DecisionRecord {
        platform: case.platform,
        market: market.map(str::to_owned),
        verdict: case.verdict,
        providers: case.providers,
        app_version: None,
        debug_device: false,
        banned: false,
        previous_outcome,
    }
}

/// Records as the retail preset decided them.
fn retail_history() -> Vec<DecisionRecord> {
    let retail = Policy::preset("retail").unwrap();
    let cases = [
        support::app_attest_strong(),
        support::play_device(),
        support::play_basic(),
        support::huawei_rooted(),
        support::device_key_rooted(),
        support::play_testing(),
        support::safetynet_device(),
    ];
    cases
        .into_iter()
        .map(|case| {
            let outcome = evaluate(&retail, &case.subject(None)).outcome;
            record(case, None, outcome)
        })
        .collect()
}

#[test]
fn same_policy_changes_nothing() {
    let retail = Policy::preset("retail").unwrap();
    let history = retail_history();
    let report = dry_run(&retail, &history);
    assert_eq!(report.total, 7);
    assert_eq!(report.unchanged, 7);
    assert_eq!(report.allow_to_deny, 0);
    assert_eq!(report.deny_to_allow, 0);
    // The two records retail denies, by reason.
    assert_eq!(
        report.by_reason,
        BTreeMap::from([
            ("app_not_recognized", 2),
            ("provider_not_accepted", 1),
            ("risk_flag_denied", 1),
        ])
    );
}

#[test]
fn stricter_candidate_counts_new_denials() {
    let finance = Policy::preset("finance").unwrap();
    let history = retail_history();
    let report = dry_run(&finance, &history);
    // Retail allowed five; finance denies play_basic, huawei_rooted and device_key_rooted.
    assert_eq!(
        report,
        DryRunReport {
            total: 7,
            unchanged: 4,
            allow_to_deny: 3,
            deny_to_allow: 0,
            by_reason: BTreeMap::from([
                ("app_not_recognized", 2),
                ("device_integrity_too_low", 4),
                ("provider_not_accepted", 2),
                ("risk_flag_denied", 3),
                ("trust_too_low", 1),
            ]),
        }
    );
}

#[test]
fn looser_candidate_counts_new_admissions() {
    let retail = Policy::preset("retail").unwrap();
    let finance = Policy::preset("finance").unwrap();
    let history: Vec<DecisionRecord> = [
        support::play_basic(),
        support::huawei_rooted(),
        support::app_attest_strong(),
    ]
    .into_iter()
    .map(|case| {
        let outcome = evaluate(&finance, &case.subject(None)).outcome;
        record(case, None, outcome)
    })
    .collect();
    let report = dry_run(&retail, &history);
    assert_eq!(report.total, 3);
    assert_eq!(report.deny_to_allow, 2);
    assert_eq!(report.unchanged, 1);
    assert!(report.by_reason.is_empty());
}

#[test]
fn monitor_candidate_reports_rule_outcomes() {
    let monitor = Policy::preset("monitor").unwrap();
    let history = retail_history();
    let report = dry_run(&monitor, &history);
    assert_eq!(report.allow_to_deny, 3);
}

#[test]
fn records_use_their_market() {
    let candidate = support::finance_with_cn();
    let history = vec![
        record(support::huawei_basic(), Some("cn"), Outcome::Allow),
        record(support::huawei_basic(), Some("de"), Outcome::Allow),
        record(support::huawei_basic(), None, Outcome::Allow),
    ];
    let report = dry_run(&candidate, &history);
    assert_eq!(report.unchanged, 1);
    assert_eq!(report.allow_to_deny, 2);
}

#[test]
fn debug_and_banned_records() {
    let finance = Policy::preset("finance").unwrap();
    let mut debug = record(support::device_key_rooted(), None, Outcome::Allow);
    debug.debug_device = true;
    let mut banned_debug = record(support::device_key_rooted(), None, Outcome::Allow);
    banned_debug.debug_device = true;
    banned_debug.banned = true;
    let report = dry_run(&finance, [&debug, &banned_debug]);
    assert_eq!(report.unchanged, 1);
    assert_eq!(report.allow_to_deny, 1);
    // Only the ban counts: the failures a debug registration waives did not deny.
    assert_eq!(report.by_reason, BTreeMap::from([("install_banned", 1)]));
}

#[test]
fn empty_history() {
    let finance = Policy::preset("finance").unwrap();
    assert_eq!(dry_run(&finance, &[]), DryRunReport::default());
}
