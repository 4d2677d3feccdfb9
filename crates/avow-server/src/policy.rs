//! The policy in force for each app, loaded from the store and kept parsed in memory.
//!
//! Policies are versioned rows in the database, so every instance reads a new version on its
//! next request. The cache only avoids parsing the same document twice. An app without a
//! stored policy runs the `monitor` preset, which never denies and records what the `finance`
//! rules would have decided, so registering an app never locks its users out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use avow_policy::Policy;
use avow_store::{AuditEntry, Store, StoreError};

/// The preset that applies to apps without a stored policy.
pub const DEFAULT_PRESET: &str = "monitor";

/// A parsed policy with the version it was stored under; version 0 is the default preset.
#[derive(Clone, Debug)]
pub struct ActivePolicy {
    /// The stored version, or 0 for the default preset.
    pub version: i64,
    /// The parsed policy.
    pub policy: Arc<Policy>,
}

/// Parsed policies by app id, with the version each was parsed from.
#[derive(Debug, Default)]
pub struct PolicyCache {
    parsed: Mutex<HashMap<String, ActivePolicy>>,
}

/// Failures to load an app's policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document no longer parses, for example after an upgrade changed the rules.
    #[error("stored policy version {version} of app {app_id:?} is invalid: {message}")]
    Invalid {
        /// The app.
        app_id: String,
        /// The stored version.
        version: i64,
        /// The parser's message.
        message: String,
    },
}

impl PolicyCache {
    /// Returns the policy in force for `app_id`.
    pub async fn active(
        &self,
        store: &dyn Store,
        app_id: &str,
    ) -> Result<ActivePolicy, PolicyLoadError> {
        let Some(record) = store.current_policy(app_id).await? else {
            return Ok(default_policy());
        };
        if let Some(cached) = self.lookup(app_id, record.version) {
            return Ok(cached);
        }
        let policy =
            Policy::from_toml(&record.document).map_err(|error| PolicyLoadError::Invalid {
                app_id: app_id.to_owned(),
                version: record.version,
                message: error.to_string(),
            })?;
        let active = ActivePolicy {
            version: record.version,
            policy: Arc::new(policy),
        };
        if let Ok(mut parsed) = self.parsed.lock() {
            parsed.insert(app_id.to_owned(), active.clone());
        }
        Ok(active)
    }

    fn lookup(&self, app_id: &str, version: i64) -> Option<ActivePolicy> {
        let parsed = self.parsed.lock().ok()?;
        parsed
            .get(app_id)
            .filter(|cached| cached.version == version)
            .cloned()
    }
}

/// Returns the policy of apps without a stored one.
pub fn default_policy() -> ActivePolicy {
    // The preset is compiled into avow-policy and parsed by its tests.
    #[allow(clippy::expect_used)]
    let policy = Policy::preset(DEFAULT_PRESET).expect("the built-in monitor preset parses");
    ActivePolicy {
        version: 0,
        policy: Arc::new(policy),
    }
}

/// Records an administrative action in the audit log, logging (not failing) when the store
/// cannot write it, because the action itself already happened.
pub async fn audit(
    store: &dyn Store,
    actor: &str,
    action: &str,
    app_id: Option<&str>,
    subject: Option<&str>,
    detail: &str,
    now: i64,
) {
    let entry = AuditEntry {
        at: now,
        actor: actor.to_owned(),
        action: action.to_owned(),
        app_id: app_id.map(str::to_owned),
        subject: subject.map(str::to_owned),
        detail: detail.to_owned(),
    };
    if let Err(error) = store.insert_audit(&entry).await {
        tracing::error!(%error, action, app_id, "writing the audit log failed");
    }
}
