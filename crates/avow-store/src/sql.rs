//! SQL text and error mapping shared by the SQLite and PostgreSQL stores.
//!
//! Both databases accept the same statements: `$N` placeholders (for SQLite, sqlx binds a
//! parameter named `$N` to the N-th argument), `ON CONFLICT … DO UPDATE` and `RETURNING`. One copy
//! of each statement keeps the two backends' behaviour identical.

use crate::{InstallBan, NonceRejection, StoreError};

pub(crate) const INSERT_APP: &str = "INSERT INTO apps \
     (id, platform, team_id, bundle_id, environment, package_name, certificate_digests, \
     min_version_code, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub(crate) const SELECT_APP: &str = "SELECT id, platform, team_id, bundle_id, environment, \
     package_name, certificate_digests, min_version_code, created_at FROM apps WHERE id = $1";

pub(crate) const SELECT_APPS: &str = "SELECT id, platform, team_id, bundle_id, environment, \
     package_name, certificate_digests, min_version_code, created_at FROM apps ORDER BY id";

/// Updates an app: `$1` id, then the new values in the column order of [`INSERT_APP`] without
/// `created_at`.
pub(crate) const UPDATE_APP: &str = "UPDATE apps SET platform = $2, team_id = $3, \
     bundle_id = $4, environment = $5, package_name = $6, certificate_digests = $7, \
     min_version_code = $8 \
     WHERE id = $1";

/// Inserts or replaces an app secret: `$1` app id, `$2` name, `$3` sealed value, `$4` now.
pub(crate) const PUT_APP_SECRET: &str = "INSERT INTO app_secrets \
     (app_id, name, sealed, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (app_id, name) DO UPDATE SET \
     sealed = excluded.sealed, \
     updated_at = excluded.updated_at";

pub(crate) const SELECT_APP_SECRET: &str =
    "SELECT sealed FROM app_secrets WHERE app_id = $1 AND name = $2";

pub(crate) const INSERT_ADMIN_KEY: &str =
    "INSERT INTO admin_keys (id, secret_hash, created_at) VALUES ($1, $2, $3)";

pub(crate) const SELECT_ADMIN_KEY: &str =
    "SELECT id, secret_hash, created_at FROM admin_keys WHERE id = $1";

pub(crate) const COUNT_ADMIN_KEYS: &str = "SELECT COUNT(*) FROM admin_keys";

pub(crate) const INSERT_SIGNING_KEY: &str = "INSERT INTO signing_keys \
     (kid, algorithm, encrypted_private_key, public_key, created_at) \
     VALUES ($1, $2, $3, $4, $5)";

/// Keys created in the same second are ordered by `kid`, descending, so the order is stable.
pub(crate) const SELECT_SIGNING_KEYS: &str = "SELECT kid, algorithm, encrypted_private_key, \
     public_key, created_at FROM signing_keys ORDER BY created_at DESC, kid DESC";

pub(crate) const INSERT_NONCE: &str =
    "INSERT INTO nonces (hash, app_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)";

/// Consumes a nonce: `$1` hash, `$2` app id, `$3` now.
///
/// The whole check is in the `WHERE` clause of one statement, so the database decides atomically.
/// In SQLite, writers are serialized by the database write lock. In PostgreSQL under READ
/// COMMITTED, a second concurrent `UPDATE` waits for the first one's row lock, then re-checks the
/// `WHERE` clause against the committed row, finds `consumed_at` set and updates nothing.
pub(crate) const CONSUME_NONCE: &str = "UPDATE nonces SET consumed_at = $3 \
     WHERE hash = $1 AND app_id = $2 AND consumed_at IS NULL AND expires_at > $3";

/// Reads what [`classify_rejection`] needs after [`CONSUME_NONCE`] updated nothing.
pub(crate) const SELECT_NONCE_STATE: &str =
    "SELECT app_id, expires_at, consumed_at FROM nonces WHERE hash = $1";

pub(crate) const PURGE_NONCES: &str = "DELETE FROM nonces WHERE expires_at < $1";

/// Inserts an install or refreshes its attestation fields. The conflict branch leaves `id`,
/// `provider`, `public_key`, `counter`, `banned_at` and `ban_reason` as stored.
pub(crate) const UPSERT_INSTALL: &str = "INSERT INTO installs \
     (id, app_id, provider, key_id, public_key, counter, environment, receipt, verdict, \
     attested_at, last_seen_at, banned_at, ban_reason) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (app_id, key_id) DO UPDATE SET \
     environment = excluded.environment, \
     receipt = excluded.receipt, \
     verdict = excluded.verdict, \
     attested_at = excluded.attested_at, \
     last_seen_at = excluded.last_seen_at \
     RETURNING id, app_id, provider, key_id, public_key, counter, environment, receipt, \
     verdict, attested_at, last_seen_at, banned_at, ban_reason";

pub(crate) const SELECT_INSTALL: &str = "SELECT id, app_id, provider, key_id, public_key, \
     counter, environment, receipt, verdict, attested_at, last_seen_at, banned_at, ban_reason \
     FROM installs WHERE app_id = $1 AND key_id = $2";

pub(crate) const SELECT_INSTALL_BY_ID: &str = "SELECT id, app_id, provider, key_id, \
     public_key, counter, environment, receipt, verdict, attested_at, last_seen_at, banned_at, \
     ban_reason FROM installs WHERE id = $1";

/// Sets or clears an install's ban: `$1` install id, `$2` `banned_at`, `$3` reason. Both values
/// are NULL to lift the ban.
pub(crate) const SET_INSTALL_BAN: &str =
    "UPDATE installs SET banned_at = $2, ban_reason = $3 WHERE id = $1";

/// Advances an install's counter: `$1` app id, `$2` key id, `$3` new counter, `$4` now.
///
/// As with [`CONSUME_NONCE`], the comparison sits in the `WHERE` clause, so of concurrent calls
/// with the same counter only the first to take the row's write lock updates it.
pub(crate) const ADVANCE_COUNTER: &str = "UPDATE installs SET counter = $3, last_seen_at = $4 \
     WHERE app_id = $1 AND key_id = $2 AND counter < $3";

/// How many times [`crate::Store::insert_policy`] runs [`INSERT_POLICY`] before it gives up on
/// a version that concurrent inserts keep taking.
///
/// An attempt fails only when another insert committed the version it computed first. So when
/// `n` inserts for one app run concurrently and no others start, each of them needs at most `n`
/// attempts. Policy changes are rare admin actions, so 10 attempts leave a wide margin. The
/// documentation of `Store::insert_policy` states this number.
pub(crate) const POLICY_INSERT_ATTEMPTS: u32 = 10;

/// Inserts the next policy version of an app and returns it: `$1` app id, `$2` document, `$3`
/// now, `$4` created by.
///
/// The next version is computed in the same statement as the insert. In SQLite the statement
/// holds the database write lock from its start, so no other insert runs in between. In
/// PostgreSQL under READ COMMITTED, two concurrent statements can compute the same version. The
/// second one to insert then waits for the first to commit and fails with a unique violation of
/// the primary key, and the caller runs the statement again.
pub(crate) const INSERT_POLICY: &str = "INSERT INTO policies \
     (app_id, version, document, created_at, created_by) \
     SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4 FROM policies WHERE app_id = $1 \
     RETURNING version";

pub(crate) const SELECT_CURRENT_POLICY: &str = "SELECT app_id, version, document, created_at, \
     created_by FROM policies WHERE app_id = $1 ORDER BY version DESC LIMIT 1";

pub(crate) const SELECT_POLICY_VERSION: &str = "SELECT app_id, version, document, created_at, \
     created_by FROM policies WHERE app_id = $1 AND version = $2";

pub(crate) const SELECT_POLICY_VERSIONS: &str = "SELECT app_id, version, document, created_at, \
     created_by FROM policies WHERE app_id = $1 ORDER BY version DESC";

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log \
     (at, actor, action, app_id, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)";

/// Selects audit entries newest first: `$1` app id, or NULL for every entry, `$2` limit. The
/// generated `id` grows with each insert, so it orders entries with the same `at`.
pub(crate) const SELECT_AUDIT: &str = "SELECT at, actor, action, app_id, subject, detail \
     FROM audit_log WHERE ($1 IS NULL OR app_id = $1) ORDER BY at DESC, id DESC LIMIT $2";

pub(crate) const INSERT_DECISION: &str = "INSERT INTO decisions \
     (app_id, install_id, at, kind, policy_version, market, outcome, enforced_outcome, \
     reasons, verdict, providers, platform, app_version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// Selects one install's decisions newest first, ordered as [`SELECT_AUDIT`]: `$1` install id,
/// `$2` limit.
pub(crate) const SELECT_INSTALL_DECISIONS: &str = "SELECT app_id, install_id, at, kind, \
     policy_version, market, outcome, enforced_outcome, reasons, verdict, providers, platform, \
     app_version FROM decisions WHERE install_id = $1 ORDER BY at DESC, id DESC LIMIT $2";

/// Selects an app's decisions from a time on, newest first, ordered as [`SELECT_AUDIT`]: `$1`
/// app id, `$2` earliest `at`, `$3` limit.
pub(crate) const SELECT_RECENT_DECISIONS: &str = "SELECT app_id, install_id, at, kind, \
     policy_version, market, outcome, enforced_outcome, reasons, verdict, providers, platform, \
     app_version FROM decisions WHERE app_id = $1 AND at >= $2 \
     ORDER BY at DESC, id DESC LIMIT $3";

/// Increments a daily counter below its limit and returns the new count: `$1` scope, `$2` key,
/// `$3` day, `$4` limit.
///
/// A missing counter is inserted with count 1, unless the limit is 0 or less, which the `WHERE`
/// of the `SELECT` checks. An existing counter is incremented only while it is below the limit,
/// which the `WHERE` of the `DO UPDATE` checks against the stored row. When neither branch writes,
/// `RETURNING` returns no row. SQLite serializes writers. In PostgreSQL a concurrent upsert of
/// the same key waits for the row lock, then evaluates the `DO UPDATE` condition against the
/// committed count, as [`CONSUME_NONCE`] does.
pub(crate) const INCREMENT_DAILY_COUNTER: &str = "INSERT INTO daily_counters \
     (scope, key, day, count) SELECT $1, $2, $3, 1 WHERE $4 > 0 \
     ON CONFLICT (scope, key, day) DO UPDATE SET count = daily_counters.count + 1 \
     WHERE daily_counters.count < $4 \
     RETURNING count";

pub(crate) const SELECT_DAILY_COUNTER: &str =
    "SELECT count FROM daily_counters WHERE scope = $1 AND key = $2 AND day = $3";

/// Marks a debug device or replaces its note and expiry time, keeping `created_at`: `$1` app
/// id, `$2` key id, `$3` note, `$4` expires at, `$5` created at.
pub(crate) const PUT_DEBUG_DEVICE: &str = "INSERT INTO debug_devices \
     (app_id, key_id, note, expires_at, created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (app_id, key_id) DO UPDATE SET \
     note = excluded.note, \
     expires_at = excluded.expires_at";

pub(crate) const DELETE_DEBUG_DEVICE: &str =
    "DELETE FROM debug_devices WHERE app_id = $1 AND key_id = $2";

pub(crate) const SELECT_DEBUG_DEVICES: &str = "SELECT app_id, key_id, note, expires_at, \
     created_at FROM debug_devices WHERE app_id = $1 ORDER BY key_id";

/// Counts the unexpired marks of one key, 0 or 1: `$1` app id, `$2` key id, `$3` now.
pub(crate) const COUNT_ACTIVE_DEBUG_DEVICE: &str = "SELECT COUNT(*) FROM debug_devices \
     WHERE app_id = $1 AND key_id = $2 AND expires_at > $3";

/// Marks a token id used: `$1` jti, `$2` expires at, `$3` now.
///
/// `ON CONFLICT DO NOTHING` makes the insert and the uniqueness check one atomic step, so the
/// statement affects one row for the first use and none afterwards. In PostgreSQL a concurrent
/// insert of the same id waits for the first one to commit and then does nothing.
pub(crate) const MARK_TOKEN_USED: &str = "INSERT INTO used_tokens (jti, expires_at, used_at) \
     VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING";

/// Deletes expired used-token marks: `$1` before, `$2` the most rows to delete. The subquery
/// bounds the work of one call, because neither database portably takes a `LIMIT` on `DELETE`.
pub(crate) const PURGE_USED_TOKENS: &str = "DELETE FROM used_tokens WHERE jti IN \
     (SELECT jti FROM used_tokens WHERE expires_at < $1 LIMIT $2)";

pub(crate) const PING: &str = "SELECT 1";

/// The stored state of a nonce that [`CONSUME_NONCE`] did not consume.
pub(crate) struct NonceState {
    pub(crate) app_id: String,
    pub(crate) expires_at: i64,
    pub(crate) consumed_at: Option<i64>,
}

/// Classifies why a consume attempt by `app_id` at `now` updated nothing.
///
/// When several reasons apply, the most specific one wins: `Replayed`, then `AppMismatch`, then
/// `Expired`.
pub(crate) fn classify_rejection(
    state: Option<NonceState>,
    app_id: &str,
    now: i64,
) -> NonceRejection {
    let Some(state) = state else {
        return NonceRejection::Unknown;
    };

    if state.consumed_at.is_some() {
        NonceRejection::Replayed
    } else if state.app_id != app_id {
        NonceRejection::AppMismatch
    } else if state.expires_at <= now {
        NonceRejection::Expired
    } else {
        // The row is consumable now but was not when the UPDATE ran, so it was inserted in
        // between. For the consume attempt it did not exist yet.
        NonceRejection::Unknown
    }
}

/// The length of a SHA-256 certificate digest in bytes.
const CERTIFICATE_DIGEST_LEN: usize = 32;

/// Separates the digests in the `apps.certificate_digests` column.
const DIGEST_SEPARATOR: char = ',';

/// Encodes certificate digests for the `apps.certificate_digests` column: each digest as 64
/// lowercase hex digits, joined by commas. No digests give the empty string.
pub(crate) fn encode_certificate_digests(digests: &[Vec<u8>]) -> Result<String, StoreError> {
    let mut encoded = Vec::with_capacity(digests.len());
    for digest in digests {
        if digest.len() != CERTIFICATE_DIGEST_LEN {
            return Err(StoreError::InvalidCertificateDigest {
                length: digest.len(),
            });
        }
        encoded.push(hex::encode(digest));
    }
    Ok(encoded.join(&DIGEST_SEPARATOR.to_string()))
}

/// Decodes the `apps.certificate_digests` column of the app `app_id`, accepting only what
/// [`encode_certificate_digests`] writes.
pub(crate) fn decode_certificate_digests(
    column: &str,
    app_id: &str,
) -> Result<Vec<Vec<u8>>, StoreError> {
    if column.is_empty() {
        return Ok(Vec::new());
    }

    let mut digests = Vec::new();
    for (index, entry) in column.split(DIGEST_SEPARATOR).enumerate() {
        let is_lowercase_hex = entry
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        let digest = hex::decode(entry)
            .ok()
            .filter(|digest| is_lowercase_hex && digest.len() == CERTIFICATE_DIGEST_LEN);
        let Some(digest) = digest else {
            return Err(StoreError::Corrupt(format!(
                "apps.certificate_digests of app {app_id:?}: entry {index} is not 64 lowercase \
                 hex digits"
            )));
        };
        digests.push(digest);
    }
    Ok(digests)
}

/// Reports whether a statement failed on a unique or primary key constraint.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database_error| database_error.is_unique_violation())
}

/// Maps an `INSERT` error to [`StoreError::AlreadyExists`] naming `entity` when it is a unique
/// violation.
pub(crate) fn insert_error(error: sqlx::Error, entity: &'static str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::AlreadyExists(entity)
    } else {
        StoreError::Database(error)
    }
}

/// Builds the ban of install `install_id` from its `banned_at` and `ban_reason` columns, which
/// the store sets and clears together.
pub(crate) fn decode_install_ban(
    banned_at: Option<i64>,
    reason: Option<String>,
    install_id: &str,
) -> Result<Option<InstallBan>, StoreError> {
    match (banned_at, reason) {
        (None, None) => Ok(None),
        (Some(banned_at), Some(reason)) => Ok(Some(InstallBan { banned_at, reason })),
        _ => Err(StoreError::Corrupt(format!(
            "installs.banned_at and installs.ban_reason of install {install_id:?}: one is NULL \
             and the other is not"
        ))),
    }
}

/// Maps a connection option error to [`StoreError::InvalidUrl`], and anything else to
/// [`StoreError::Database`].
pub(crate) fn url_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Configuration(source) => StoreError::InvalidUrl(source.to_string()),
        other => StoreError::Database(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(app_id: &str, expires_at: i64, consumed_at: Option<i64>) -> Option<NonceState> {
        Some(NonceState {
            app_id: app_id.to_owned(),
            expires_at,
            consumed_at,
        })
    }

    #[test]
    fn certificate_digests_round_trip() {
        let digests = vec![vec![0xab; 32], (0..32).collect(), vec![0; 32]];

        let encoded = encode_certificate_digests(&digests).expect("encode the digests");
        let decoded = decode_certificate_digests(&encoded, "app").expect("decode the digests");

        assert_eq!(decoded, digests);
    }

    #[test]
    fn certificate_digests_column_format() {
        let encoded = encode_certificate_digests(&[vec![0xab; 32], vec![0x01; 32]])
            .expect("encode the digests");

        assert_eq!(encoded, format!("{},{}", "ab".repeat(32), "01".repeat(32)));
    }

    #[test]
    fn no_certificate_digests_is_empty_column() {
        let encoded = encode_certificate_digests(&[]).expect("encode no digests");
        let decoded = decode_certificate_digests("", "app").expect("decode an empty column");

        assert_eq!(encoded, "");
        assert_eq!(decoded, Vec::<Vec<u8>>::new());
    }

    #[test]
    fn certificate_digest_of_wrong_length_not_encoded() {
        let short = encode_certificate_digests(&[vec![1; 32], vec![2; 31]]);
        let empty = encode_certificate_digests(&[Vec::new()]);

        assert!(
            matches!(
                short,
                Err(StoreError::InvalidCertificateDigest { length: 31 })
            ),
            "expected InvalidCertificateDigest {{ length: 31 }}, got {short:?}"
        );
        assert!(
            matches!(
                empty,
                Err(StoreError::InvalidCertificateDigest { length: 0 })
            ),
            "expected InvalidCertificateDigest {{ length: 0 }}, got {empty:?}"
        );
    }

    #[test]
    fn malformed_certificate_digests_column_rejected() {
        let valid = "ab".repeat(32);
        let cases = [
            ("upper case", "AB".repeat(32)),
            ("short entry", "ab".repeat(31)),
            ("long entry", "ab".repeat(33)),
            ("odd length", format!("{valid}a")),
            ("not hex", "zz".repeat(32)),
            ("empty entry", format!("{valid},")),
            ("leading separator", format!(",{valid}")),
            ("space", format!("{valid}, {valid}")),
        ];

        for (case, column) in cases {
            let result = decode_certificate_digests(&column, "app");
            assert!(
                matches!(result, Err(StoreError::Corrupt(_))),
                "{case}: expected Corrupt, got {result:?}"
            );
        }
    }

    #[test]
    fn missing_row_is_unknown() {
        assert_eq!(classify_rejection(None, "a", 10), NonceRejection::Unknown);
    }

    #[test]
    fn consumed_wins_over_mismatch_and_expiry() {
        let rejection = classify_rejection(state("b", 5, Some(4)), "a", 10);
        assert_eq!(rejection, NonceRejection::Replayed);
    }

    #[test]
    fn mismatch_wins_over_expiry() {
        let rejection = classify_rejection(state("b", 5, None), "a", 10);
        assert_eq!(rejection, NonceRejection::AppMismatch);
    }

    #[test]
    fn expiry_time_itself_is_expired() {
        let rejection = classify_rejection(state("a", 10, None), "a", 10);
        assert_eq!(rejection, NonceRejection::Expired);
    }

    #[test]
    fn consumable_row_counts_as_unknown() {
        let rejection = classify_rejection(state("a", 11, None), "a", 10);
        assert_eq!(rejection, NonceRejection::Unknown);
    }
}
