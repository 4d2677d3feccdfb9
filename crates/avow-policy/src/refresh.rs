//! Refresh: whether a stored verdict still earns a token or a new attestation is needed.

use avow_attest::verdict::{Provider, Verdict};

use crate::Policy;
use crate::evaluate::{Decision, Outcome, Reason, Subject, evaluate};
use crate::rules::Platform;
use crate::version::AppVersion;

/// Quota below this percentage of the budget counts as low.
pub const LOW_QUOTA_PERCENT: u64 = 10;

/// While quota is low, a verdict is re-attested for age alone only once it is this many times
/// older than `max_verdict_age_secs`.
pub const LOW_QUOTA_AGE_FACTOR: u64 = 4;

/// The remaining quota of the provider a new attestation would call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaState {
    /// The provider has a call budget for the current period.
    Budget {
        /// Calls left in the period.
        remaining: u64,
        /// Calls allowed in the period.
        limit: u64,
    },
    /// The provider has no quota, or the server does not track it.
    Unmetered,
}

impl QuotaState {
    /// Returns true when less than [`LOW_QUOTA_PERCENT`] of the budget remains. A zero limit
    /// counts as low, because no call can be made.
    pub fn is_low(self) -> bool {
        match self {
            Self::Budget { remaining, limit } => {
                limit == 0
                    || u128::from(remaining) * 100
                        < u128::from(limit) * u128::from(LOW_QUOTA_PERCENT)
            }
            Self::Unmetered => false,
        }
    }
}

/// The inputs of one refresh decision, for [`evaluate_refresh`].
#[derive(Clone, Debug)]
pub struct RefreshSubject<'a> {
    /// The platform of the app.
    pub platform: Platform,
    /// The market the server resolved, or `None` for the policy's default market.
    pub market: Option<&'a str>,
    /// The verdict stored at the install's last attestation.
    pub stored_verdict: &'a Verdict,
    /// The providers whose evidence produced the stored verdict.
    pub providers: &'a [Provider],
    /// The app version of this refresh, when known.
    pub app_version: Option<AppVersion>,
    /// Seconds since the stored verdict was produced.
    pub verdict_age_secs: u64,
    /// Whether the app version differs from the one at the last attestation.
    pub app_version_changed: bool,
    /// Whether the server learned of a new risk for this install since the last attestation.
    pub risk_changed: bool,
    /// The quota of the provider a new attestation would call.
    pub quota: QuotaState,
    /// Whether the install is registered as a debug device.
    pub debug_device: bool,
    /// Whether the install is banned.
    pub banned: bool,
}

/// The trigger that makes a refresh require a new attestation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReattestReason {
    /// The app version changed and the rules re-attest on a new version.
    AppVersionChanged,
    /// The server learned of a new risk for the install.
    RiskChanged,
    /// The stored verdict is older than `max_verdict_age_secs`.
    VerdictExpired,
}

impl ReattestReason {
    /// Returns the stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Self::AppVersionChanged => "app_version_changed",
            Self::RiskChanged => "risk_changed",
            Self::VerdictExpired => "verdict_expired",
        }
    }
}

/// The result of a refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Issue a token on the stored verdict. In monitor mode the decision may record a denial
    /// that was not enforced.
    Allow(Decision),
    /// Issue no token: the stored verdict fails the current policy, or the install is banned.
    Deny(Decision),
    /// Ask the client for a new attestation.
    Reattest {
        /// The trigger. When several apply, a risk change comes first, then a version change,
        /// then age.
        reason: ReattestReason,
    },
}

/// Decides a refresh.
///
/// 1. A banned install is denied.
/// 2. A new attestation is asked for when the server learned of a new risk, when the app
///    version changed and the rules set `reattest_on_app_version_change`, or when the verdict
///    is older than `max_verdict_age_secs`.
/// 3. Quota deferral: while the provider's quota is low ([`QuotaState::is_low`]), a verdict
///    that is only too old is kept until it is [`LOW_QUOTA_AGE_FACTOR`] times
///    `max_verdict_age_secs` old, so that the remaining calls go to installs that have no
///    usable verdict. The decision then records `reattest_deferred`. Risk and version changes
///    are never deferred.
/// 4. Otherwise the stored verdict is evaluated against the current policy, as
///    [`evaluate`] would, and the enforced outcome decides between allow and deny.
pub fn evaluate_refresh(policy: &Policy, subject: &RefreshSubject<'_>) -> RefreshDecision {
    let mut decision = evaluate(
        policy,
        &Subject {
            platform: subject.platform,
            market: subject.market,
            verdict: subject.stored_verdict,
            providers: subject.providers,
            app_version: subject.app_version.clone(),
            debug_device: subject.debug_device,
            banned: subject.banned,
        },
    );
    if subject.banned {
        return RefreshDecision::Deny(decision);
    }

    let rules = policy.rules_for(subject.market);
    if subject.risk_changed {
        return RefreshDecision::Reattest {
            reason: ReattestReason::RiskChanged,
        };
    }
    if subject.app_version_changed && rules.reattest_on_app_version_change {
        return RefreshDecision::Reattest {
            reason: ReattestReason::AppVersionChanged,
        };
    }
    if subject.verdict_age_secs > rules.max_verdict_age_secs {
        let hard_limit = rules
            .max_verdict_age_secs
            .saturating_mul(LOW_QUOTA_AGE_FACTOR);
        if subject.quota.is_low() && subject.verdict_age_secs < hard_limit {
            decision.reasons.push(Reason::ReattestDeferred);
        } else {
            return RefreshDecision::Reattest {
                reason: ReattestReason::VerdictExpired,
            };
        }
    }

    match decision.enforced_outcome {
        Outcome::Allow => RefreshDecision::Allow(decision),
        Outcome::Deny => RefreshDecision::Deny(decision),
    }
}
