//! Evaluation of one verdict against a policy.

use std::collections::BTreeSet;
use std::fmt;

use avow_attest::verdict::{
    AppIntegrity, DeviceIntegrity, Provider, RiskFlag, TrustLevel, Verdict,
};

use crate::Policy;
use crate::rules::{Mode, Platform, RejectionResponse, Rules};
use crate::version::AppVersion;

/// The inputs of one request decision, for [`evaluate`].
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// The platform of the app.
    pub platform: Platform,
    /// The market the server resolved, or `None` for the policy's default market.
    pub market: Option<&'a str>,
    /// The verdict of the evidence, combined over every provider when there were several.
    pub verdict: &'a Verdict,
    /// Every provider whose evidence the request carried. The verdict's own provider counts
    /// even when it is missing here.
    pub providers: &'a [Provider],
    /// The app version the evidence reports, when known.
    pub app_version: Option<AppVersion>,
    /// Whether the install is registered as a debug device (CI, simulators, test phones).
    pub debug_device: bool,
    /// Whether the install is banned.
    pub banned: bool,
}

/// Whether a request is admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The request gets a token.
    Allow,
    /// The request gets no token (or a decoy token; see [`RejectionResponse`]).
    Deny,
}

impl Outcome {
    /// Returns the snake_case name used in logs and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// One finding of an evaluation: a rule the evidence failed, or a note on how the decision was
/// reached (`debug_device`, `reattest_deferred`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The verdict does not report the app as recognized, and the rules require it.
    AppNotRecognized {
        /// The app integrity the verdict reports.
        app_integrity: AppIntegrity,
    },
    /// The app version is below the minimum.
    AppVersionTooLow {
        /// The version of the request.
        version: AppVersion,
        /// The lowest version admitted.
        minimum: AppVersion,
    },
    /// The rules set a minimum app version, but the request's version is unknown or belongs to
    /// the other platform.
    AppVersionUnknown,
    /// The install is a registered debug device, so the evidence rules were waived. The
    /// reasons listed after it are the failures it waived.
    DebugDevice,
    /// The device integrity is below the minimum for the platform.
    DeviceIntegrityTooLow {
        /// The device integrity the verdict reports.
        device_integrity: DeviceIntegrity,
        /// The lowest level admitted.
        minimum: DeviceIntegrity,
    },
    /// The install is banned. Always enforced, in monitor mode and on debug devices too.
    InstallBanned,
    /// The request carried evidence from a provider the rules do not accept.
    ProviderNotAccepted {
        /// The provider.
        provider: Provider,
    },
    /// A refresh would have asked for a new attestation because the verdict is old, but the
    /// provider quota is low and the verdict is not yet old enough to force it.
    ReattestDeferred,
    /// The rules require evidence from this provider on the platform, and the request has none.
    RequiredProviderMissing {
        /// The missing provider.
        provider: Provider,
    },
    /// The verdict carries a risk flag the rules deny.
    RiskFlagDenied {
        /// The flag.
        flag: RiskFlag,
    },
    /// The trust level of the evidence is below the minimum.
    TrustTooLow {
        /// The trust level the verdict reports.
        trust: TrustLevel,
        /// The lowest level admitted.
        minimum: TrustLevel,
    },
}

impl Reason {
    /// Returns the stable snake_case code for logs, metrics, records and API responses.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AppNotRecognized { .. } => "app_not_recognized",
            Self::AppVersionTooLow { .. } => "app_version_too_low",
            Self::AppVersionUnknown => "app_version_unknown",
            Self::DebugDevice => "debug_device",
            Self::DeviceIntegrityTooLow { .. } => "device_integrity_too_low",
            Self::InstallBanned => "install_banned",
            Self::ProviderNotAccepted { .. } => "provider_not_accepted",
            Self::ReattestDeferred => "reattest_deferred",
            Self::RequiredProviderMissing { .. } => "required_provider_missing",
            Self::RiskFlagDenied { .. } => "risk_flag_denied",
            Self::TrustTooLow { .. } => "trust_too_low",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AppNotRecognized { app_integrity } => write!(
                formatter,
                "app is not recognized (app integrity {})",
                app_integrity.as_str()
            ),
            Self::AppVersionTooLow { version, minimum } => write!(
                formatter,
                "app version {version} is below the minimum {minimum}"
            ),
            Self::AppVersionUnknown => {
                formatter.write_str("app version is unknown but the rules set a minimum")
            }
            Self::DebugDevice => {
                formatter.write_str("registered debug device: evidence rules waived")
            }
            Self::DeviceIntegrityTooLow {
                device_integrity,
                minimum,
            } => write!(
                formatter,
                "device integrity {} is below the minimum {}",
                device_integrity.as_str(),
                minimum.as_str()
            ),
            Self::InstallBanned => formatter.write_str("install is banned"),
            Self::ProviderNotAccepted { provider } => {
                write!(formatter, "provider {} is not accepted", provider.as_str())
            }
            Self::ReattestDeferred => {
                formatter.write_str("re-attestation deferred because the provider quota is low")
            }
            Self::RequiredProviderMissing { provider } => {
                write!(
                    formatter,
                    "required provider {} is missing",
                    provider.as_str()
                )
            }
            Self::RiskFlagDenied { flag } => {
                write!(formatter, "risk flag {} is denied", flag.as_str())
            }
            Self::TrustTooLow { trust, minimum } => write!(
                formatter,
                "trust level {} is below the minimum {}",
                trust.as_str(),
                minimum.as_str()
            ),
        }
    }
}

/// The result of evaluating one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The outcome the rules decide.
    pub outcome: Outcome,
    /// The outcome the server applies: the rule outcome in enforce mode, and in monitor mode
    /// always [`Outcome::Allow`] unless the install is banned.
    pub enforced_outcome: Outcome,
    /// Every finding, in rule order. Empty when every rule passed.
    pub reasons: Vec<Reason>,
    /// The mode of the policy.
    pub mode: Mode,
    /// The label of the market whose rules applied (see [`Policy::resolve_market`]).
    pub market: String,
    /// Lifetime of the token to issue, in seconds.
    pub token_lifetime_secs: u64,
    /// The response a denied client receives.
    pub rejection_response: RejectionResponse,
}

impl Decision {
    /// Returns the codes of [`Decision::reasons`], in order.
    pub fn reason_codes(&self) -> Vec<&'static str> {
        self.reasons.iter().map(Reason::code).collect()
    }
}

/// Evaluates a request against the rules of its market.
///
/// Every rule is checked and every failure listed, in this order: ban, accepted providers,
/// required providers, trust, device integrity, app recognition, risk flags, app version.
///
/// - A banned install is denied in every mode, debug device or not.
/// - A registered debug device is allowed whatever its evidence reports, because CI runners and
///   simulators cannot pass platform checks. `debug_device` is recorded, followed by the
///   failures it waived.
/// - In monitor mode the outcome is computed as in enforce mode but only a ban is enforced.
pub fn evaluate(policy: &Policy, subject: &Subject<'_>) -> Decision {
    let market = policy.resolve_market(subject.market);
    let rules = policy.rules_for(Some(&market));
    let mut reasons = Vec::new();
    if subject.banned {
        reasons.push(Reason::InstallBanned);
    }
    let failures = evidence_failures(rules, subject);
    let outcome = if subject.banned || (!subject.debug_device && !failures.is_empty()) {
        Outcome::Deny
    } else {
        Outcome::Allow
    };
    if subject.debug_device {
        reasons.push(Reason::DebugDevice);
    }
    reasons.extend(failures);

    let enforced_outcome = match policy.mode {
        Mode::Enforce => outcome,
        Mode::Monitor if subject.banned => Outcome::Deny,
        Mode::Monitor => Outcome::Allow,
    };
    Decision {
        outcome,
        enforced_outcome,
        reasons,
        mode: policy.mode,
        market,
        token_lifetime_secs: rules.token_lifetime_secs,
        rejection_response: rules.rejection_response,
    }
}

/// Checks every evidence rule and returns the failures in rule order.
fn evidence_failures(rules: &Rules, subject: &Subject<'_>) -> Vec<Reason> {
    let verdict = subject.verdict;
    let mut failures = Vec::new();

    let mut providers: BTreeSet<Provider> = subject.providers.iter().copied().collect();
    providers.insert(verdict.provider);
    for provider in &providers {
        if !rules.accepted_providers.contains(provider) {
            failures.push(Reason::ProviderNotAccepted {
                provider: *provider,
            });
        }
    }
    for provider in rules.required_providers.get(subject.platform) {
        if !providers.contains(provider) {
            failures.push(Reason::RequiredProviderMissing {
                provider: *provider,
            });
        }
    }

    if verdict.trust < rules.min_trust {
        failures.push(Reason::TrustTooLow {
            trust: verdict.trust,
            minimum: rules.min_trust,
        });
    }
    let min_device_integrity = *rules.min_device_integrity.get(subject.platform);
    if verdict.device_integrity < min_device_integrity {
        failures.push(Reason::DeviceIntegrityTooLow {
            device_integrity: verdict.device_integrity,
            minimum: min_device_integrity,
        });
    }
    if rules.require_app_recognized && verdict.app_integrity != AppIntegrity::Recognized {
        failures.push(Reason::AppNotRecognized {
            app_integrity: verdict.app_integrity,
        });
    }
    for flag in &rules.deny_flags {
        if verdict.risk_flags.contains(flag) {
            failures.push(Reason::RiskFlagDenied { flag: *flag });
        }
    }

    if let Some(minimum) = rules.min_app_version.get(subject.platform) {
        match subject.app_version.as_ref().and_then(|version| {
            version
                .compare(&minimum)
                .map(|ordering| (version, ordering))
        }) {
            None => failures.push(Reason::AppVersionUnknown),
            Some((version, ordering)) if ordering.is_lt() => {
                failures.push(Reason::AppVersionTooLow {
                    version: version.clone(),
                    minimum,
                });
            }
            Some(_) => {}
        }
    }
    failures
}
