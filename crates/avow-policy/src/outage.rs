//! Outage handling: what to do when a provider cannot be reached or its quota is spent.

use std::fmt;

use avow_attest::verdict::Provider;

use crate::Policy;
use crate::rules::{Mode, OutageAction, Platform};

/// The inputs of a decision on a request whose provider is unavailable, for
/// [`evaluate_outage`].
#[derive(Clone, Copy, Debug)]
pub struct OutageSubject<'a> {
    /// The platform of the app.
    pub platform: Platform,
    /// The market the server resolved, or `None` for the policy's default market.
    pub market: Option<&'a str>,
    /// The provider that is unavailable.
    pub provider: Provider,
    /// Whether the request comes from an install that attested before, so the server has a
    /// record of it.
    pub has_install: bool,
    /// Reduced tokens the install received today, before this request.
    pub reduced_issued_today: u32,
    /// Whether the install is banned.
    pub banned: bool,
}

/// The reason a request is denied during an outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutageReason {
    /// The install is banned.
    InstallBanned,
    /// Reduced tokens go to known installs only, and this request has none.
    InstallUnknown,
    /// The rules deny during an outage, or no fallback provider exists on the platform.
    ProviderUnavailable,
    /// The install already received `reduced_max_per_install_per_day` reduced tokens today.
    ReducedLimitReached,
}

impl OutageReason {
    /// Returns the stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Self::InstallBanned => "install_banned",
            Self::InstallUnknown => "install_unknown",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::ReducedLimitReached => "reduced_limit_reached",
        }
    }
}

impl fmt::Display for OutageReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::InstallBanned => "install is banned",
            Self::InstallUnknown => "reduced tokens are issued to known installs only",
            Self::ProviderUnavailable => "attestation provider is unavailable",
            Self::ReducedLimitReached => "daily limit of reduced tokens reached for this install",
        })
    }
}

/// The result of [`evaluate_outage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutageDecision {
    /// Issue no token.
    Deny {
        /// Why.
        reason: OutageReason,
    },
    /// Ask the client for evidence from these providers instead.
    Fallback {
        /// The fallback providers that exist on the platform, without the unavailable one.
        providers: Vec<Provider>,
    },
    /// Issue a reduced token.
    Reduced {
        /// Lifetime of the reduced token, in seconds.
        token_lifetime_secs: u64,
        /// In monitor mode, the reason enforce mode would have denied the request. `None` when
        /// the rules themselves grant the reduced token.
        monitored_denial: Option<OutageReason>,
    },
}

/// Decides a request whose provider is unavailable, from the market's
/// `on_provider_unavailable` rule.
///
/// - `deny`: deny with `provider_unavailable`.
/// - `fallback`: name the fallback providers that exist on the platform, leaving out the
///   unavailable one; deny with `provider_unavailable` when none is left.
/// - `reduced`: a reduced token for a known install that received fewer than
///   `reduced_max_per_install_per_day` today; else deny with `install_unknown` or
///   `reduced_limit_reached`.
///
/// A banned install is denied in every mode. In monitor mode a denial is turned into a reduced
/// token that records the denial, because monitor mode blocks only banned installs.
pub fn evaluate_outage(policy: &Policy, subject: &OutageSubject<'_>) -> OutageDecision {
    if subject.banned {
        return OutageDecision::Deny {
            reason: OutageReason::InstallBanned,
        };
    }
    let rules = policy.rules_for(subject.market);
    let denial = match rules.on_provider_unavailable {
        OutageAction::Deny => OutageReason::ProviderUnavailable,
        OutageAction::Fallback => {
            let providers: Vec<Provider> = rules
                .fallback_providers
                .iter()
                .copied()
                .filter(|provider| {
                    *provider != subject.provider && subject.platform.supports(*provider)
                })
                .collect();
            if !providers.is_empty() {
                return OutageDecision::Fallback { providers };
            }
            OutageReason::ProviderUnavailable
        }
        OutageAction::Reduced => {
            if !subject.has_install {
                OutageReason::InstallUnknown
            } else if subject.reduced_issued_today >= rules.reduced_max_per_install_per_day {
                OutageReason::ReducedLimitReached
            } else {
                return OutageDecision::Reduced {
                    token_lifetime_secs: rules.reduced_token_lifetime_secs,
                    monitored_denial: None,
                };
            }
        }
    };
    match policy.mode {
        Mode::Enforce => OutageDecision::Deny { reason: denial },
        Mode::Monitor => OutageDecision::Reduced {
            token_lifetime_secs: rules.reduced_token_lifetime_secs,
            monitored_denial: Some(denial),
        },
    }
}
