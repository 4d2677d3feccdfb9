//! Persistent state of an Avow server behind one [`Store`] trait.
//!
//! Two implementations share one behaviour test suite:
//!
//! - [`SqliteStore`], the embedded default that `avow serve` creates with no configuration;
//! - [`PostgresStore`], for many identical server instances sharing one database.
//!
//! Every invariant that must hold across server instances is enforced by a single SQL statement,
//! never by process memory:
//!
//! - a nonce is consumed at most once ([`Store::consume_nonce`]);
//! - an App Attest counter only moves forward ([`Store::advance_counter`]);
//! - a daily counter never passes its limit ([`Store::increment_daily_counter`]);
//! - a limited-use token is marked used at most once ([`Store::mark_token_used`]);
//! - two policy versions of one app never share a number ([`Store::insert_policy`]);
//! - two pin documents of one app never share a version ([`Store::insert_pin_document`]), and a
//!   re-signed document's issue time only moves forward ([`Store::resign_pin_document`]).
//!
//! Times are Unix seconds (`i64`) passed in by the caller, so tests control the clock.

#![deny(missing_docs)]

mod pinning;
mod pinning_sql;
mod postgres;
mod sql;
mod sqlite;
mod store_impl;

pub use pinning::{
    ApiDomain, DomainCheckRecord, PinDocumentRecord, PinReportAggregate, PinReportEvent,
    PinReportOutcome, PinSetEntry, PinSetRecord,
};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;

/// A registered app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// The app identifier: `TEAMID.bundle.id` for iOS apps (Apple's "App ID").
    pub id: String,
    /// The platform, such as `ios` or `android`.
    pub platform: String,
    /// The Apple developer team id.
    pub team_id: String,
    /// The bundle identifier.
    pub bundle_id: String,
    /// The App Attest environment the app's keys are expected in: `production` or `development`.
    pub environment: String,
    /// The Android package name, empty for iOS apps.
    pub package_name: String,
    /// The SHA-256 digests of the signing certificates an Android app may be signed with, each
    /// 32 bytes, in the order they were registered. Empty for iOS apps.
    pub certificate_digests: Vec<Vec<u8>>,
    /// The lowest Android `versionCode` accepted, or `None` for no lower bound.
    pub min_version_code: Option<i64>,
    /// Unix seconds of registration.
    pub created_at: i64,
}

/// An admin API key as stored: the SHA-256 of its secret part, never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminKey {
    /// Public identifier, the part of the key before the secret.
    pub id: String,
    /// SHA-256 of the secret part.
    pub secret_hash: Vec<u8>,
    /// Unix seconds of creation.
    pub created_at: i64,
}

/// A token signing key. The private key is encrypted by the caller before it reaches the store.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key id published in the JWKS and in token headers.
    pub kid: String,
    /// The JWS algorithm, `ES256`.
    pub algorithm: String,
    /// The encrypted PKCS#8 private key (nonce and ciphertext, as the caller lays them out).
    pub encrypted_private_key: Vec<u8>,
    /// The public key as an uncompressed SEC1 point.
    pub public_key: Vec<u8>,
    /// Unix seconds of creation.
    pub created_at: i64,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A nonce to store. Only the SHA-256 of the nonce is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewNonce {
    /// SHA-256 of the nonce bytes.
    pub hash: Vec<u8>,
    /// The app the nonce was issued to.
    pub app_id: String,
    /// Unix seconds of issue.
    pub issued_at: i64,
    /// Unix seconds from which the nonce is expired. It can be consumed only while
    /// `now < expires_at`.
    pub expires_at: i64,
}

/// Why [`Store::consume_nonce`] did not consume a nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceRejection {
    /// The nonce belongs to another app. It stays unconsumed.
    AppMismatch,
    /// The nonce is past its expiry time.
    Expired,
    /// The nonce was consumed before.
    Replayed,
    /// No nonce with this hash was issued (or it was purged long after expiry).
    Unknown,
}

/// The device state of one install: a device key attested by one provider, such as an App
/// Attest key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    /// Opaque install id, assigned at first attestation and stable afterwards.
    pub id: String,
    /// The app the install belongs to.
    pub app_id: String,
    /// The provider that attested the key, such as `app_attest`, `android_key_attestation` or
    /// `avow_device_key`. Fixed at first attestation.
    pub provider: String,
    /// The App Attest key id (SHA-256 of the public key point), 32 bytes.
    pub key_id: Vec<u8>,
    /// The attested public key as an uncompressed SEC1 P-256 point, 65 bytes.
    pub public_key: Vec<u8>,
    /// The last accepted signature counter.
    pub counter: i64,
    /// The App Attest environment the key was attested in.
    pub environment: String,
    /// Apple's receipt from the attestation statement, kept for later risk-metric refreshes.
    pub receipt: Vec<u8>,
    /// The attestation verdict summary as JSON text.
    pub verdict: String,
    /// Unix seconds of the last successful attestation.
    pub attested_at: i64,
    /// Unix seconds of the last accepted attestation or assertion.
    pub last_seen_at: i64,
    /// The operator's ban on this install, or `None` while it is in good standing.
    pub ban: Option<InstallBan>,
}

/// An operator's ban on one install, set and lifted with [`Store::set_install_ban`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallBan {
    /// Unix seconds at which the ban was set.
    pub banned_at: i64,
    /// The operator's reason, as free text.
    pub reason: String,
}

/// One version of an app's policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRecord {
    /// The app the policy applies to.
    pub app_id: String,
    /// The version number, counting 1, 2, 3, … per app in the order of insertion.
    pub version: i64,
    /// The policy document as the caller stored it.
    pub document: String,
    /// Unix seconds of insertion.
    pub created_at: i64,
    /// The identity that stored this version, such as an admin key id.
    pub created_by: String,
}

/// One entry of the audit log of administrative actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix seconds of the action.
    pub at: i64,
    /// The identity that acted, such as an admin key id.
    pub actor: String,
    /// The action's name, such as `app.update` or `install.ban`.
    pub action: String,
    /// The app acted on, if any. The store does not check that the app exists.
    pub app_id: Option<String>,
    /// The object acted on within the app, such as an install id, if any.
    pub subject: Option<String>,
    /// Further detail as free text, empty when there is none.
    pub detail: String,
}

/// One attestation, refresh or outage decision of the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The app the request was for. The store does not check that the app exists.
    pub app_id: String,
    /// The install the decision was about, or `None` when the request had no install, such as
    /// an attestation that was rejected before an install was stored.
    pub install_id: Option<String>,
    /// Unix seconds of the decision.
    pub at: i64,
    /// The kind of decision: `attest`, `refresh` or `outage`.
    pub kind: String,
    /// The version of the app's policy that decided.
    pub policy_version: i64,
    /// The market, such as a country code, whose policy rules applied.
    pub market: String,
    /// The outcome the policy computed.
    pub outcome: String,
    /// The outcome the server enforced, which differs from `outcome` when the policy only
    /// reports, for example.
    pub enforced_outcome: String,
    /// The reasons for the outcome as JSON text.
    pub reasons: String,
    /// The attestation verdict the policy saw as JSON text.
    pub verdict: String,
    /// The providers whose evidence was verified, as the caller joins them.
    pub providers: String,
    /// The platform of the request, such as `ios` or `android`.
    pub platform: String,
    /// The app version the client reported, if any.
    pub app_version: Option<String>,
}

/// A device key that an operator marked as a debug device of an app until an expiry time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebugDevice {
    /// The app the device is a debug device of.
    pub app_id: String,
    /// The device key id, as in [`Install::key_id`].
    pub key_id: Vec<u8>,
    /// The operator's note, such as whose device it is.
    pub note: String,
    /// Unix seconds from which the mark no longer applies. It applies only while
    /// `now < expires_at`.
    pub expires_at: i64,
    /// Unix seconds of the first registration of this key for this app.
    pub created_at: i64,
}

/// Failures of a store operation. Apart from [`StoreError::InvalidCertificateDigest`], which
/// flags a caller that passed an unchecked value, all of them are faults of the database or its
/// configuration, never of client input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL could not be used.
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    /// A row violates a uniqueness constraint.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A value read from the database does not have the format the store writes. The text names
    /// the column and the row.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A certificate digest to store is not 32 bytes long, so it is not a SHA-256 digest.
    #[error("certificate digest is {length} bytes, expected 32")]
    InvalidCertificateDigest {
        /// The length of the rejected digest in bytes.
        length: usize,
    },
    /// Applying migrations failed.
    #[error("database migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The database returned an error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

/// The persistent state of an Avow server.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Inserts an app. Fails with [`StoreError::AlreadyExists`] when the id is taken, and with
    /// [`StoreError::InvalidCertificateDigest`] when a certificate digest is not 32 bytes long.
    async fn insert_app(&self, app: &App) -> Result<(), StoreError>;
    /// Returns the app with this id. A stored value in a format the store does not write fails
    /// with [`StoreError::Corrupt`], here and in [`Store::apps`].
    async fn app(&self, id: &str) -> Result<Option<App>, StoreError>;
    /// Returns all apps ordered by id.
    async fn apps(&self) -> Result<Vec<App>, StoreError>;
    /// Updates every field of the app with `app.id` except `id` and `created_at`. Returns
    /// whether an app with this id exists. A certificate digest that is not 32 bytes long fails
    /// with [`StoreError::InvalidCertificateDigest`], as in [`Store::insert_app`].
    async fn update_app(&self, app: &App) -> Result<bool, StoreError>;

    /// Stores the secret `name` of an app, replacing any earlier value, and records `now` as its
    /// update time. The caller seals the secret with its master key first, so the store holds
    /// only ciphertext. The app must exist, so an unknown app fails with
    /// [`StoreError::Database`].
    async fn put_app_secret(
        &self,
        app_id: &str,
        name: &str,
        sealed: &[u8],
        now: i64,
    ) -> Result<(), StoreError>;
    /// Returns the sealed secret `name` of an app.
    async fn app_secret(&self, app_id: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Inserts an admin API key. Fails with [`StoreError::AlreadyExists`] when the id is taken.
    async fn insert_admin_key(&self, key: &AdminKey) -> Result<(), StoreError>;
    /// Returns the admin key with this id.
    async fn admin_key(&self, id: &str) -> Result<Option<AdminKey>, StoreError>;
    /// Counts the admin keys.
    async fn admin_key_count(&self) -> Result<i64, StoreError>;

    /// Inserts a token signing key. Fails with [`StoreError::AlreadyExists`] when the kid is
    /// taken.
    async fn insert_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
    /// Returns all signing keys, newest first. Keys with the same `created_at` are ordered by
    /// `kid`, descending.
    async fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Stores an issued nonce. The app must exist, because the schema references it, so an
    /// unknown app fails with [`StoreError::Database`]. A hash stored before fails with
    /// [`StoreError::AlreadyExists`].
    async fn insert_nonce(&self, nonce: &NewNonce) -> Result<(), StoreError>;
    /// Consumes the nonce with this hash for `app_id` at time `now`, in one atomic statement.
    ///
    /// Of any number of concurrent calls for one nonce, across any number of server instances,
    /// at most one returns `Ok(Ok(()))`. A nonce of another app or an expired one is not
    /// consumed. The rejection says why nothing was consumed. A nonce is expired from
    /// `expires_at` on (`expires_at <= now`). When several reasons apply, the rejection is
    /// `Replayed` before `AppMismatch` before `Expired`.
    async fn consume_nonce(
        &self,
        hash: &[u8],
        app_id: &str,
        now: i64,
    ) -> Result<Result<(), NonceRejection>, StoreError>;
    /// Deletes nonces whose `expires_at` is earlier than `before`, consumed or not, and returns
    /// how many were deleted. A purged nonce is afterwards rejected as
    /// [`NonceRejection::Unknown`].
    async fn purge_nonces(&self, before: i64) -> Result<u64, StoreError>;

    /// Inserts the install, or when `(app_id, key_id)` exists updates its environment, receipt,
    /// verdict, `attested_at` and `last_seen_at`, keeping its id, provider, public key, counter
    /// and ban. `install.ban` is stored only when the install is new.
    /// Returns the stored install. The app must exist, so an unknown app fails with
    /// [`StoreError::Database`].
    async fn upsert_install(&self, install: &Install) -> Result<Install, StoreError>;
    /// Returns the install of `app_id` with this App Attest key id.
    async fn install(&self, app_id: &str, key_id: &[u8]) -> Result<Option<Install>, StoreError>;
    /// Sets the counter of an install to `counter` if and only if `counter` is strictly greater
    /// than the stored one, in one atomic statement, and records `now` as `last_seen_at`.
    /// Returns whether the counter moved. Of concurrent calls with the same counter, exactly one
    /// returns `true`. An unknown install returns `false`.
    async fn advance_counter(
        &self,
        app_id: &str,
        key_id: &[u8],
        counter: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Returns the install with this id. A ban stored with only one of its two columns set
    /// fails with [`StoreError::Corrupt`], here and in every method that returns an install.
    async fn install_by_id(&self, id: &str) -> Result<Option<Install>, StoreError>;
    /// Bans the install with this id, when `ban` is `Some((reason, banned_at))`, or lifts its
    /// ban, when `ban` is `None`. A new ban replaces an earlier one. Returns whether an install
    /// with this id exists.
    async fn set_install_ban(
        &self,
        install_id: &str,
        ban: Option<(&str, i64)>,
    ) -> Result<bool, StoreError>;

    /// Stores `document` as the next policy version of an app and returns that version: 1 for
    /// the first policy of the app, then one more than the highest stored version.
    ///
    /// The database assigns the version, so concurrent inserts from any number of server
    /// instances never get the same version. An insert that loses the race for a version tries
    /// again with the next one, up to 10 attempts in all, and then fails with
    /// [`StoreError::AlreadyExists`]. The app must exist, so an unknown app fails with
    /// [`StoreError::Database`].
    async fn insert_policy(
        &self,
        app_id: &str,
        document: &str,
        created_by: &str,
        now: i64,
    ) -> Result<i64, StoreError>;
    /// Returns the policy of an app with the highest version.
    async fn current_policy(&self, app_id: &str) -> Result<Option<PolicyRecord>, StoreError>;
    /// Returns one policy version of an app.
    async fn policy_version(
        &self,
        app_id: &str,
        version: i64,
    ) -> Result<Option<PolicyRecord>, StoreError>;
    /// Returns every policy version of an app, documents included, highest version first.
    async fn policy_versions(&self, app_id: &str) -> Result<Vec<PolicyRecord>, StoreError>;

    /// Appends an entry to the audit log.
    async fn insert_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Returns up to `limit` audit entries: those of one app when `app_id` is `Some`, and every
    /// entry, with or without an app, when it is `None`. The newest `at` comes first. Entries
    /// with the same `at` are ordered by insertion, latest first.
    async fn audit(&self, app_id: Option<&str>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Appends a decision record.
    async fn insert_decision(&self, decision: &DecisionRecord) -> Result<(), StoreError>;
    /// Returns up to `limit` decisions about one install, ordered as [`Store::audit`].
    async fn install_decisions(
        &self,
        install_id: &str,
        limit: u32,
    ) -> Result<Vec<DecisionRecord>, StoreError>;
    /// Returns up to `limit` decisions for an app made at or after `since`, ordered as
    /// [`Store::audit`].
    async fn recent_decisions(
        &self,
        app_id: &str,
        since: i64,
        limit: u32,
    ) -> Result<Vec<DecisionRecord>, StoreError>;

    /// Adds one to the counter `(scope, key, day)` if and only if it is below `limit`, in one
    /// atomic statement, and returns the new count. Returns `None`, and leaves the counter
    /// unchanged, when the counter has reached `limit`. A counter that does not exist yet
    /// counts as 0, so a `limit` of 0 or less always returns `None`.
    ///
    /// Of any number of concurrent calls across server instances, exactly as many succeed as
    /// the limit leaves room for. `day` is the caller's date as `YYYY-MM-DD`, and every day
    /// starts new counters.
    ///
    /// NOTE: nothing deletes the counters of past days yet, so the table grows by one row per
    /// scope, key and day in use.
    async fn increment_daily_counter(
        &self,
        scope: &str,
        key: &str,
        day: &str,
        limit: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Returns the counter `(scope, key, day)`, 0 when it was never incremented.
    async fn daily_counter(&self, scope: &str, key: &str, day: &str) -> Result<i64, StoreError>;

    /// Marks a device key as a debug device of an app, or when it is marked already replaces its
    /// note and expiry time and keeps its `created_at`. The app must exist, so an unknown app
    /// fails with [`StoreError::Database`].
    async fn put_debug_device(&self, device: &DebugDevice) -> Result<(), StoreError>;
    /// Removes a debug device mark. Returns whether the mark existed.
    async fn delete_debug_device(&self, app_id: &str, key_id: &[u8]) -> Result<bool, StoreError>;
    /// Returns the debug devices of an app, expired ones included, ordered by key id.
    async fn debug_devices(&self, app_id: &str) -> Result<Vec<DebugDevice>, StoreError>;
    /// Reports whether a device key is a debug device of an app at time `now`, that is, marked
    /// with `now < expires_at`.
    async fn is_debug_device(
        &self,
        app_id: &str,
        key_id: &[u8],
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Inserts an API domain. Fails with [`StoreError::AlreadyExists`] when the app has a
    /// domain with this host pattern. The app must exist, so an unknown app fails with
    /// [`StoreError::Database`].
    async fn insert_api_domain(&self, domain: &ApiDomain) -> Result<(), StoreError>;
    /// Returns the API domain of an app with this host pattern.
    async fn api_domain(&self, app_id: &str, host: &str) -> Result<Option<ApiDomain>, StoreError>;
    /// Returns the API domains of an app ordered by host pattern, or of every app ordered by
    /// app id and host pattern when `app_id` is `None`.
    async fn api_domains(&self, app_id: Option<&str>) -> Result<Vec<ApiDomain>, StoreError>;
    /// Sets the `managed` flag of an API domain. Returns whether the domain exists.
    async fn set_api_domain_managed(
        &self,
        app_id: &str,
        host: &str,
        managed: bool,
    ) -> Result<bool, StoreError>;
    /// Deletes an API domain with its pin set and its live check. Returns whether the domain
    /// existed. Published documents keep their copy of its pins.
    async fn delete_api_domain(&self, app_id: &str, host: &str) -> Result<bool, StoreError>;

    /// Stores the pin set of an API domain, replacing its earlier pins, in one transaction.
    /// The domain must exist, so an unknown domain fails with [`StoreError::Database`].
    async fn put_pin_set(&self, pin_set: &PinSetRecord) -> Result<(), StoreError>;
    /// Returns the pin set of one API domain.
    async fn pin_set(&self, app_id: &str, host: &str) -> Result<Option<PinSetRecord>, StoreError>;
    /// Returns the pin sets of an app ordered by host pattern, each with its pins in stored
    /// order. A set and its pins are read in one statement, so a concurrent
    /// [`Store::put_pin_set`] is seen whole or not at all.
    async fn pin_sets(&self, app_id: &str) -> Result<Vec<PinSetRecord>, StoreError>;

    /// Inserts a published pin document. Fails with [`StoreError::AlreadyExists`] when the
    /// app has a document with this version, which is how concurrent publishes from several
    /// server instances learn that another one took the version: the caller signs again with
    /// the next version. The app must exist, so an unknown app fails with
    /// [`StoreError::Database`].
    async fn insert_pin_document(&self, document: &PinDocumentRecord) -> Result<(), StoreError>;
    /// Returns the pin document of an app with the highest version.
    async fn latest_pin_document(
        &self,
        app_id: &str,
    ) -> Result<Option<PinDocumentRecord>, StoreError>;
    /// Returns the highest pin document version of an app, `None` before the first publish.
    async fn latest_pin_version(&self, app_id: &str) -> Result<Option<i64>, StoreError>;
    /// Returns one pin document version of an app.
    async fn pin_document(
        &self,
        app_id: &str,
        version: i64,
    ) -> Result<Option<PinDocumentRecord>, StoreError>;
    /// Returns up to `limit` pin documents of an app, highest version first.
    async fn pin_documents(
        &self,
        app_id: &str,
        limit: u32,
    ) -> Result<Vec<PinDocumentRecord>, StoreError>;
    /// Replaces the signature of a stored document with one made at `issued_at`, if and only
    /// if `issued_at` is later than the stored one, in one atomic statement. Returns whether the
    /// document changed.
    async fn resign_pin_document(
        &self,
        app_id: &str,
        version: i64,
        issued_at: i64,
        document: &str,
    ) -> Result<bool, StoreError>;

    /// Stores the latest live check of an API domain, replacing the earlier one. Returns
    /// `false` and stores nothing when the domain does not exist, for example because it was
    /// deleted while it was being checked.
    async fn put_domain_check(&self, check: &DomainCheckRecord) -> Result<bool, StoreError>;
    /// Returns the latest live checks of an app's API domains ordered by host pattern.
    async fn domain_checks(&self, app_id: &str) -> Result<Vec<DomainCheckRecord>, StoreError>;

    /// Counts a pin-failure report in its group (app, host, reason, document version, app
    /// version) and keeps it as the group's sample when it is the latest. A report that would
    /// start a new group while the app has `max_groups` groups or more is dropped.
    ///
    /// The group count and the limit are checked in the statement that inserts a group, but
    /// concurrent inserts on PostgreSQL can pass the limit by a few groups. The app must exist,
    /// so an unknown app fails with [`StoreError::Database`].
    async fn record_pin_report(
        &self,
        report: &PinReportEvent,
        max_groups: i64,
    ) -> Result<PinReportOutcome, StoreError>;
    /// Returns up to `limit` report groups of an app, the latest report first.
    async fn pin_reports(
        &self,
        app_id: &str,
        limit: u32,
    ) -> Result<Vec<PinReportAggregate>, StoreError>;

    /// Inserts a pin-signing key, which signs pin documents and never tokens. Fails with
    /// [`StoreError::AlreadyExists`] when the kid is taken.
    async fn insert_pin_signing_key(&self, key: &SigningKey) -> Result<(), StoreError>;
    /// Returns every pin-signing key, ordered as [`Store::signing_keys`].
    async fn pin_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Marks the token id `jti` as used at `now`, in one atomic statement, and returns whether
    /// this call marked it: `true` for the token's first use, `false` when it was marked
    /// before. Of any number of concurrent calls for one id, across any number of server
    /// instances, exactly one returns `true`. `expires_at` is the token's `exp`, kept so that
    /// [`Store::purge_used_tokens`] can delete the mark once the token cannot verify anymore.
    async fn mark_token_used(
        &self,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Deletes up to `limit` used-token marks whose `expires_at` is earlier than `before` and
    /// returns how many were deleted. The caller chooses `before` with a margin for its token
    /// leeway, because a token whose mark is deleted would pass [`Store::mark_token_used`]
    /// again.
    async fn purge_used_tokens(&self, before: i64, limit: u32) -> Result<u64, StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
