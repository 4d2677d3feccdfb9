//! The typed, fully expanded rules of one market, and the defaults a policy starts from.

use std::collections::BTreeSet;

use avow_attest::verdict::{DeviceIntegrity, Provider, RiskFlag, TrustLevel};

use crate::version::{AppVersion, BundleVersion};

/// Mode used when a policy sets none.
pub const DEFAULT_MODE: Mode = Mode::Enforce;
/// Market label used when a policy sets no `default_market`.
pub const DEFAULT_MARKET: &str = "default";
/// Providers accepted when a policy lists none. Left out: Avow's device key (see
/// [`Rules::accepted_providers`]), SafetyNet (deprecated by Google in favour of Play Integrity)
/// and Apple DeviceCheck (no cryptographic evidence about the device).
pub const DEFAULT_ACCEPTED_PROVIDERS: [Provider; 4] = [
    Provider::AndroidKeyAttestation,
    Provider::AppAttest,
    Provider::HuaweiSafetyDetect,
    Provider::PlayIntegrity,
];
/// Minimum trust level when a policy sets none.
pub const DEFAULT_MIN_TRUST: TrustLevel = TrustLevel::Platform;
/// Minimum Android device integrity when a policy sets none.
pub const DEFAULT_MIN_DEVICE_INTEGRITY_ANDROID: DeviceIntegrity = DeviceIntegrity::Device;
/// Minimum iOS device integrity when a policy sets none.
pub const DEFAULT_MIN_DEVICE_INTEGRITY_IOS: DeviceIntegrity = DeviceIntegrity::Strong;
/// Whether the app must be recognized, when a policy does not set it.
pub const DEFAULT_REQUIRE_APP_RECOGNIZED: bool = true;
/// Risk flags that deny when a policy lists none.
pub const DEFAULT_DENY_FLAGS: [RiskFlag; 3] = [
    RiskFlag::Rooted,
    RiskFlag::TestingResponse,
    RiskFlag::Virtual,
];
/// Token lifetime in seconds when a policy sets none.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 300;
/// Age in seconds after which a stored verdict needs a new attestation, when a policy sets none.
pub const DEFAULT_MAX_VERDICT_AGE_SECS: u64 = 86_400;
/// Whether a new app version needs a new attestation, when a policy does not set it.
pub const DEFAULT_REATTEST_ON_APP_VERSION_CHANGE: bool = true;
/// Action on a provider outage, when a policy does not set one.
pub const DEFAULT_ON_PROVIDER_UNAVAILABLE: OutageAction = OutageAction::Deny;
/// Lifetime in seconds of a reduced token when a policy sets none.
pub const DEFAULT_REDUCED_TOKEN_LIFETIME_SECS: u64 = 60;
/// Reduced tokens per install per day when a policy sets none.
pub const DEFAULT_REDUCED_MAX_PER_INSTALL_PER_DAY: u32 = 3;
/// Response to a denied request, when a policy does not set one.
pub const DEFAULT_REJECTION_RESPONSE: RejectionResponse = RejectionResponse::Error;

/// A mobile platform. Per-platform rules are keyed by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    /// Android.
    Android,
    /// iOS and iPadOS.
    Ios,
}

impl Platform {
    /// Both platforms, in key order.
    pub const ALL: [Self; 2] = [Self::Android, Self::Ios];

    /// Returns the name used as a key in policy documents: `android` or `ios`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
        }
    }

    /// Returns true when `provider` produces evidence on this platform.
    pub fn supports(self, provider: Provider) -> bool {
        match provider {
            Provider::AvowDeviceKey => true,
            Provider::AppAttest | Provider::AppleDeviceCheck => self == Self::Ios,
            Provider::AndroidKeyAttestation
            | Provider::HuaweiSafetyDetect
            | Provider::PlayIntegrity
            | Provider::SafetyNet => self == Self::Android,
        }
    }
}

/// One value for each platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerPlatform<T> {
    /// The Android value.
    pub android: T,
    /// The iOS value.
    pub ios: T,
}

impl<T> PerPlatform<T> {
    /// Returns the value for `platform`.
    pub fn get(&self, platform: Platform) -> &T {
        match platform {
            Platform::Android => &self.android,
            Platform::Ios => &self.ios,
        }
    }

    pub(crate) fn get_mut(&mut self, platform: Platform) -> &mut T {
        match platform {
            Platform::Android => &mut self.android,
            Platform::Ios => &mut self.ios,
        }
    }
}

/// Whether decisions are applied or only recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Decisions are applied: a denied request gets no token.
    Enforce,
    /// Decisions are computed and recorded, but nothing is denied except banned installs.
    Monitor,
}

impl Mode {
    /// Returns the name used in policy documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Monitor => "monitor",
        }
    }

    pub(crate) const ALL: [Self; 2] = [Self::Enforce, Self::Monitor];
}

/// The server's action when a provider cannot be reached or is over quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutageAction {
    /// Reject the request: fail closed.
    Deny,
    /// Ask the client to send evidence from the fallback providers instead.
    Fallback,
    /// Issue a short-lived token marked as reduced, to known installs only and a few times a day.
    Reduced,
}

impl OutageAction {
    /// Returns the name used in policy documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deny => "deny",
            Self::Fallback => "fallback",
            Self::Reduced => "reduced",
        }
    }

    pub(crate) const ALL: [Self; 3] = [Self::Deny, Self::Fallback, Self::Reduced];
}

/// The response a denied client receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionResponse {
    /// A token that looks valid to the app but that backends reject, so that an attacker
    /// probing the rules cannot tell which check failed.
    Decoy,
    /// An error response with a reason code.
    Error,
}

impl RejectionResponse {
    /// Returns the name used in policy documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decoy => "decoy",
            Self::Error => "error",
        }
    }

    pub(crate) const ALL: [Self; 2] = [Self::Decoy, Self::Error];
}

/// The lowest app version admitted on each platform. `None` admits every version, including
/// an unknown one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MinAppVersion {
    /// The lowest Android `versionCode`.
    pub android: Option<u64>,
    /// The lowest iOS `CFBundleVersion`.
    pub ios: Option<BundleVersion>,
}

impl MinAppVersion {
    /// Returns the minimum for `platform` as an [`AppVersion`].
    pub fn get(&self, platform: Platform) -> Option<AppVersion> {
        match platform {
            Platform::Android => self.android.map(AppVersion::Android),
            Platform::Ios => self.ios.clone().map(AppVersion::Ios),
        }
    }
}

/// The expanded rules that apply in one market: the base rules with the market's keys merged
/// over them. The field names are the keys of the `[rules]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rules {
    /// Providers whose evidence is admitted. Every provider in a request must be listed.
    ///
    /// Defaults to [`DEFAULT_ACCEPTED_PROVIDERS`]. Avow's device key is not in the default
    /// because the app measures itself, so on a rooted device it reports what the attacker
    /// wants.
    pub accepted_providers: BTreeSet<Provider>,
    /// Providers that must all be present in a request, per platform (a tandem). Defaults to
    /// none.
    pub required_providers: PerPlatform<BTreeSet<Provider>>,
    /// The lowest trust level of the verdict. Defaults to [`DEFAULT_MIN_TRUST`].
    pub min_trust: TrustLevel,
    /// The lowest device integrity, per platform. Defaults to
    /// [`DEFAULT_MIN_DEVICE_INTEGRITY_ANDROID`] and [`DEFAULT_MIN_DEVICE_INTEGRITY_IOS`].
    pub min_device_integrity: PerPlatform<DeviceIntegrity>,
    /// Whether the verdict must report the app as recognized. Defaults to
    /// [`DEFAULT_REQUIRE_APP_RECOGNIZED`].
    pub require_app_recognized: bool,
    /// Risk flags that deny when present. Defaults to [`DEFAULT_DENY_FLAGS`].
    pub deny_flags: BTreeSet<RiskFlag>,
    /// The lowest app version, per platform. Defaults to none.
    pub min_app_version: MinAppVersion,
    /// Lifetime of an issued token in seconds. Defaults to [`DEFAULT_TOKEN_LIFETIME_SECS`].
    pub token_lifetime_secs: u64,
    /// Age in seconds after which a refresh requires a new attestation. Defaults to
    /// [`DEFAULT_MAX_VERDICT_AGE_SECS`].
    pub max_verdict_age_secs: u64,
    /// Whether a refresh from a new app version requires a new attestation. Defaults to
    /// [`DEFAULT_REATTEST_ON_APP_VERSION_CHANGE`].
    pub reattest_on_app_version_change: bool,
    /// Action when a provider is unavailable. Defaults to
    /// [`DEFAULT_ON_PROVIDER_UNAVAILABLE`].
    pub on_provider_unavailable: OutageAction,
    /// Providers the client should use instead, with [`OutageAction::Fallback`]. Defaults to
    /// none.
    pub fallback_providers: BTreeSet<Provider>,
    /// Lifetime of a reduced token in seconds. Defaults to
    /// [`DEFAULT_REDUCED_TOKEN_LIFETIME_SECS`].
    pub reduced_token_lifetime_secs: u64,
    /// Reduced tokens one install may receive per day. Defaults to
    /// [`DEFAULT_REDUCED_MAX_PER_INSTALL_PER_DAY`].
    pub reduced_max_per_install_per_day: u32,
    /// The response a denied client receives. Defaults to [`DEFAULT_REJECTION_RESPONSE`].
    pub rejection_response: RejectionResponse,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            accepted_providers: DEFAULT_ACCEPTED_PROVIDERS.into_iter().collect(),
            required_providers: PerPlatform {
                android: BTreeSet::new(),
                ios: BTreeSet::new(),
            },
            min_trust: DEFAULT_MIN_TRUST,
            min_device_integrity: PerPlatform {
                android: DEFAULT_MIN_DEVICE_INTEGRITY_ANDROID,
                ios: DEFAULT_MIN_DEVICE_INTEGRITY_IOS,
            },
            require_app_recognized: DEFAULT_REQUIRE_APP_RECOGNIZED,
            deny_flags: DEFAULT_DENY_FLAGS.into_iter().collect(),
            min_app_version: MinAppVersion::default(),
            token_lifetime_secs: DEFAULT_TOKEN_LIFETIME_SECS,
            max_verdict_age_secs: DEFAULT_MAX_VERDICT_AGE_SECS,
            reattest_on_app_version_change: DEFAULT_REATTEST_ON_APP_VERSION_CHANGE,
            on_provider_unavailable: DEFAULT_ON_PROVIDER_UNAVAILABLE,
            fallback_providers: BTreeSet::new(),
            reduced_token_lifetime_secs: DEFAULT_REDUCED_TOKEN_LIFETIME_SECS,
            reduced_max_per_install_per_day: DEFAULT_REDUCED_MAX_PER_INSTALL_PER_DAY,
            rejection_response: DEFAULT_REJECTION_RESPONSE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_support_their_providers() {
        assert!(Platform::Android.supports(Provider::PlayIntegrity));
        assert!(!Platform::Ios.supports(Provider::PlayIntegrity));
        assert!(Platform::Ios.supports(Provider::AppAttest));
        assert!(!Platform::Android.supports(Provider::AppAttest));
        assert!(Platform::Android.supports(Provider::AvowDeviceKey));
        assert!(Platform::Ios.supports(Provider::AvowDeviceKey));
    }
}
