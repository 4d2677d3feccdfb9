//! Per-app, per-market attestation policy as data, and the engine that applies it.
//!
//! A security team writes a policy as a TOML document (see `docs/policy.md`): which providers
//! and trust levels are accepted, how much device integrity is required, which risk flags deny,
//! how long tokens live, when a refresh needs a new attestation, and what happens when a
//! provider is down. Markets override any subset of the rules. Built-in presets (`finance`,
//! `retail`, `strict`, `monitor`) give a starting point.
//!
//! The crate is pure: it opens no socket, reads no file or clock and keeps no state. Ages,
//! counts and quota arrive as parameters, and the server stores policies, resolves the market,
//! and counts quota and reduced tokens.
//!
//! - [`Policy::from_toml`] parses, applies the preset, merges markets and validates;
//!   [`Policy::to_toml`] writes the canonical expanded form and [`diff`] compares two policies.
//! - [`evaluate`] decides a request from its verdict, listing every failed rule as a
//!   [`Reason`] with a stable code.
//! - [`evaluate_refresh`] decides a refresh from the stored verdict, asking for a new
//!   attestation when needed and deferring age-only re-attestation while quota is low.
//! - [`evaluate_outage`] decides a request whose provider is unavailable.
//! - [`dry_run`] replays recorded decisions against a candidate policy.

#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used)]

mod diff;
mod document;
mod dry_run;
mod error;
mod evaluate;
mod names;
mod outage;
mod policy;
mod refresh;
mod render;
mod rules;
mod validate;
mod version;

pub use diff::{Change, diff};
pub use dry_run::{DecisionRecord, DryRunReport, dry_run};
pub use error::{PolicyError, Problem};
pub use evaluate::{Decision, Outcome, Reason, Subject, evaluate};
pub use outage::{OutageDecision, OutageReason, OutageSubject, evaluate_outage};
pub use policy::{PRESET_NAMES, Policy, preset_source};
pub use refresh::{
    LOW_QUOTA_AGE_FACTOR, LOW_QUOTA_PERCENT, QuotaState, ReattestReason, RefreshDecision,
    RefreshSubject, evaluate_refresh,
};
pub use rules::{
    DEFAULT_ACCEPTED_PROVIDERS, DEFAULT_DENY_FLAGS, DEFAULT_MARKET, DEFAULT_MAX_VERDICT_AGE_SECS,
    DEFAULT_MIN_DEVICE_INTEGRITY_ANDROID, DEFAULT_MIN_DEVICE_INTEGRITY_IOS, DEFAULT_MIN_TRUST,
    DEFAULT_MODE, DEFAULT_ON_PROVIDER_UNAVAILABLE, DEFAULT_REATTEST_ON_APP_VERSION_CHANGE,
    DEFAULT_REDUCED_MAX_PER_INSTALL_PER_DAY, DEFAULT_REDUCED_TOKEN_LIFETIME_SECS,
    DEFAULT_REJECTION_RESPONSE, DEFAULT_REQUIRE_APP_RECOGNIZED, DEFAULT_TOKEN_LIFETIME_SECS,
    MinAppVersion, Mode, OutageAction, PerPlatform, Platform, RejectionResponse, Rules,
};
pub use validate::{
    MAX_MARKET_NAME_LEN, MAX_VERDICT_AGE_RANGE_SECS, REDUCED_MAX_PER_DAY_RANGE,
    TOKEN_LIFETIME_RANGE_SECS,
};
pub use version::{AppVersion, BundleVersion, MAX_BUNDLE_VERSION_PARTS};
