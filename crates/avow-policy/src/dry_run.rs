//! Dry runs: replaying stored decisions against a candidate policy before it is applied.

use std::collections::{BTreeMap, BTreeSet};

use avow_attest::verdict::{Provider, Verdict};

use crate::Policy;
use crate::evaluate::{Outcome, Reason, Subject, evaluate};
use crate::rules::Platform;
use crate::version::AppVersion;

/// A stored decision, with everything needed to evaluate its request again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The platform of the app.
    pub platform: Platform,
    /// The market the server resolved at the time.
    pub market: Option<String>,
    /// The verdict of the request.
    pub verdict: Verdict,
    /// The providers whose evidence the request carried.
    pub providers: Vec<Provider>,
    /// The app version of the request, when known.
    pub app_version: Option<AppVersion>,
    /// Whether the install was a registered debug device.
    pub debug_device: bool,
    /// Whether the install was banned.
    pub banned: bool,
    /// The outcome to compare with. The server passes the recorded
    /// [`Decision::enforced_outcome`](crate::Decision::enforced_outcome), what the client got,
    /// so a dry run of a monitored app shows what enforcement would change.
    pub previous_outcome: Outcome,
}

impl DecisionRecord {
    /// Returns the record as the subject of an evaluation.
    pub fn subject(&self) -> Subject<'_> {
        Subject {
            platform: self.platform,
            market: self.market.as_deref(),
            verdict: &self.verdict,
            providers: &self.providers,
            app_version: self.app_version.clone(),
            debug_device: self.debug_device,
            banned: self.banned,
        }
    }
}

/// Counts of the changes a candidate policy would make to recorded decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DryRunReport {
    /// Records replayed.
    pub total: u64,
    /// Records whose outcome stays the same.
    pub unchanged: u64,
    /// Records that were allowed and would be denied.
    pub allow_to_deny: u64,
    /// Records that were denied and would be allowed.
    pub deny_to_allow: u64,
    /// For each reason code, how many records the candidate would deny with that reason. A
    /// record denied for several reasons counts once under each code, even when the code
    /// appears twice (two denied flags, say).
    pub by_reason: BTreeMap<&'static str, u64>,
}

impl DryRunReport {
    /// Evaluates one record against `candidate` and counts the result.
    pub fn add(&mut self, candidate: &Policy, record: &DecisionRecord) {
        let decision = evaluate(candidate, &record.subject());
        self.total += 1;
        match (record.previous_outcome, decision.outcome) {
            (Outcome::Allow, Outcome::Deny) => self.allow_to_deny += 1,
            (Outcome::Deny, Outcome::Allow) => self.deny_to_allow += 1,
            _ => self.unchanged += 1,
        }
        if decision.outcome == Outcome::Deny {
            // On a debug device only a ban denies, and the reasons after `debug_device` were
            // waived, so they are not counted.
            let codes: BTreeSet<&'static str> = decision
                .reasons
                .iter()
                .take_while(|reason| **reason != Reason::DebugDevice)
                .map(Reason::code)
                .collect();
            for code in codes {
                *self.by_reason.entry(code).or_default() += 1;
            }
        }
    }
}

/// Replays `records` against `candidate` and counts how the outcomes would change.
///
/// The outcome compared is what the rules decide, so a candidate in monitor mode reports the
/// denials it would enforce once switched to enforce mode. Records can come from any iterator,
/// so the server can stream them from storage.
pub fn dry_run<'a>(
    candidate: &Policy,
    records: impl IntoIterator<Item = &'a DecisionRecord>,
) -> DryRunReport {
    let mut report = DryRunReport::default();
    for record in records {
        report.add(candidate, record);
    }
    report
}
