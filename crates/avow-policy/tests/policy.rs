//! Policy engine behaviour: presets, markets, evaluation, refresh, outages, validation, diff
//! and dry runs.
//!
//! The verdicts are built with `Verdict::new` in the shapes each provider's verifier produces,
//! so the tests need no evidence files.

#[path = "policy/diff.rs"]
mod diff;
#[path = "policy/dry_run.rs"]
mod dry_run;
#[path = "policy/evaluate.rs"]
mod evaluate;
#[path = "policy/outage.rs"]
mod outage;
#[path = "policy/presets.rs"]
mod presets;
#[path = "policy/refresh.rs"]
mod refresh;
#[path = "policy/support.rs"]
mod support;
#[path = "policy/validation.rs"]
mod validation;
