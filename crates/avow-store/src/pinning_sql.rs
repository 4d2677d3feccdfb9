//! SQL text of the pinning tables, shared by the SQLite and PostgreSQL stores like
//! [`crate::sql`].

use crate::{PinSetEntry, PinSetRecord, StoreError};

pub(crate) const INSERT_PIN_DOMAIN: &str = "INSERT INTO pin_domains \
     (app_id, host, port, probe_host, connect_to, ca_bundle_pem, managed, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) const SELECT_PIN_DOMAIN: &str = "SELECT app_id, host, port, probe_host, connect_to, \
     ca_bundle_pem, managed, created_at FROM pin_domains WHERE app_id = $1 AND host = $2";

pub(crate) const SELECT_PIN_DOMAINS: &str = "SELECT app_id, host, port, probe_host, connect_to, \
     ca_bundle_pem, managed, created_at FROM pin_domains WHERE app_id = $1 ORDER BY host";

pub(crate) const SELECT_ALL_PIN_DOMAINS: &str = "SELECT app_id, host, port, probe_host, \
     connect_to, ca_bundle_pem, managed, created_at FROM pin_domains ORDER BY app_id, host";

pub(crate) const SET_PIN_DOMAIN_MANAGED: &str =
    "UPDATE pin_domains SET managed = $3 WHERE app_id = $1 AND host = $2";

/// Deletes a domain. The foreign keys delete its pin set, pins and live check with it.
pub(crate) const DELETE_PIN_DOMAIN: &str =
    "DELETE FROM pin_domains WHERE app_id = $1 AND host = $2";

/// Inserts or replaces a pin set's own row: `$1` app id, `$2` host, `$3` expires at, `$4` mode,
/// `$5` after expiry, `$6` user anchors, `$7` updated at, `$8` updated by.
/// [`DELETE_PIN_SET_PINS`] and [`INSERT_PIN_SET_PIN`] follow in the same transaction.
pub(crate) const UPSERT_PIN_SET: &str = "INSERT INTO pin_sets \
     (app_id, host, expires_at, mode, after_expiry, user_anchors, updated_at, updated_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (app_id, host) DO UPDATE SET \
     expires_at = excluded.expires_at, \
     mode = excluded.mode, \
     after_expiry = excluded.after_expiry, \
     user_anchors = excluded.user_anchors, \
     updated_at = excluded.updated_at, \
     updated_by = excluded.updated_by";

pub(crate) const DELETE_PIN_SET_PINS: &str =
    "DELETE FROM pin_set_pins WHERE app_id = $1 AND host = $2";

pub(crate) const INSERT_PIN_SET_PIN: &str = "INSERT INTO pin_set_pins \
     (app_id, host, position, pin, role, valid_until, level, key_type, not_after, note) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Selects the pin sets of an app with their pins, one row per pin, or one row with NULL pin
/// columns for a set without pins: `$1` app id, `$2` host, or NULL for every host.
///
/// One statement reads the set and its pins, so a concurrent replacement is seen whole or not at
/// all.
pub(crate) const SELECT_PIN_SETS: &str = "SELECT s.app_id, s.host, s.expires_at, s.mode, \
     s.after_expiry, s.user_anchors, s.updated_at, s.updated_by, p.pin, p.role, p.valid_until, p.level, p.key_type, \
     p.not_after, p.note \
     FROM pin_sets s LEFT JOIN pin_set_pins p ON p.app_id = s.app_id AND p.host = s.host \
     WHERE s.app_id = $1 AND ($2 IS NULL OR s.host = $2) \
     ORDER BY s.host, p.position";

pub(crate) const INSERT_PIN_DOCUMENT: &str = "INSERT INTO pin_documents \
     (app_id, version, issued_at, expires_at, document, pin_sets, forced, published_at, \
     published_by) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub(crate) const SELECT_LATEST_PIN_DOCUMENT: &str = "SELECT app_id, version, issued_at, \
     expires_at, document, pin_sets, forced, published_at, published_by FROM pin_documents \
     WHERE app_id = $1 ORDER BY version DESC LIMIT 1";

pub(crate) const SELECT_PIN_DOCUMENT: &str = "SELECT app_id, version, issued_at, expires_at, \
     document, pin_sets, forced, published_at, published_by FROM pin_documents \
     WHERE app_id = $1 AND version = $2";

/// Selects an app's documents, highest version first: `$1` app id, `$2` limit.
pub(crate) const SELECT_PIN_DOCUMENTS: &str = "SELECT app_id, version, issued_at, expires_at, \
     document, pin_sets, forced, published_at, published_by FROM pin_documents \
     WHERE app_id = $1 ORDER BY version DESC LIMIT $2";

pub(crate) const SELECT_LATEST_PIN_VERSION: &str =
    "SELECT MAX(version) FROM pin_documents WHERE app_id = $1";

/// Replaces a document's signature with a later one: `$1` app id, `$2` version, `$3` new
/// `issued_at`, `$4` new document.
///
/// The comparison sits in the `WHERE` clause, so `issued_at` only moves forward: of concurrent
/// re-signs the one with the latest time stays, whichever commits last.
pub(crate) const RESIGN_PIN_DOCUMENT: &str = "UPDATE pin_documents \
     SET issued_at = $3, document = $4 \
     WHERE app_id = $1 AND version = $2 AND issued_at < $3";

/// Stores a domain's live check if the domain still exists: `$1` app id, `$2` host, `$3`
/// status, `$4` detail, `$5` checked at, `$6` earliest not-after.
pub(crate) const PUT_DOMAIN_CHECK: &str = "INSERT INTO pin_domain_checks \
     (app_id, host, status, detail, checked_at, earliest_not_after) \
     SELECT $1, $2, $3, $4, $5, $6 \
     WHERE EXISTS (SELECT 1 FROM pin_domains WHERE app_id = $1 AND host = $2) \
     ON CONFLICT (app_id, host) DO UPDATE SET \
     status = excluded.status, \
     detail = excluded.detail, \
     checked_at = excluded.checked_at, \
     earliest_not_after = excluded.earliest_not_after";

pub(crate) const SELECT_DOMAIN_CHECKS: &str = "SELECT app_id, host, status, detail, checked_at, \
     earliest_not_after FROM pin_domain_checks WHERE app_id = $1 ORDER BY host";

/// Counts a report in its existing group: `$1` app id, `$2` host, `$3` reason, `$4` document
/// version, `$5` app version, `$6` received at, `$7` sample. The sample and `last_seen` change
/// only for a report newer than the group's latest.
pub(crate) const COUNT_PIN_REPORT: &str = "UPDATE pin_reports SET \
     count = count + 1, \
     sample = CASE WHEN $6 >= last_seen THEN $7 ELSE sample END, \
     last_seen = CASE WHEN $6 > last_seen THEN $6 ELSE last_seen END, \
     first_seen = CASE WHEN $6 < first_seen THEN $6 ELSE first_seen END \
     WHERE app_id = $1 AND host = $2 AND reason = $3 AND document_version = $4 \
     AND app_version = $5";

/// Starts a report group while the app has fewer than `$8` groups, with the parameters of
/// [`COUNT_PIN_REPORT`]. A concurrent insert of the same group turns into the update of
/// [`COUNT_PIN_REPORT`] through `ON CONFLICT`.
///
/// The group count is read in the same statement. Under PostgreSQL's READ COMMITTED, two
/// concurrent inserts of different groups can both find room for one more, so concurrent
/// reports may pass the limit by a few rows.
pub(crate) const INSERT_PIN_REPORT: &str = "INSERT INTO pin_reports \
     (app_id, host, reason, document_version, app_version, count, first_seen, last_seen, \
     sample) \
     SELECT $1, $2, $3, $4, $5, 1, $6, $6, $7 \
     WHERE (SELECT COUNT(*) FROM pin_reports WHERE app_id = $1) < $8 \
     ON CONFLICT (app_id, host, reason, document_version, app_version) DO UPDATE SET \
     count = pin_reports.count + 1, \
     sample = CASE WHEN excluded.last_seen >= pin_reports.last_seen THEN excluded.sample \
     ELSE pin_reports.sample END, \
     last_seen = CASE WHEN excluded.last_seen > pin_reports.last_seen \
     THEN excluded.last_seen ELSE pin_reports.last_seen END, \
     first_seen = CASE WHEN excluded.first_seen < pin_reports.first_seen \
     THEN excluded.first_seen ELSE pin_reports.first_seen END";

/// Selects an app's report groups, latest first: `$1` app id, `$2` limit.
pub(crate) const SELECT_PIN_REPORTS: &str = "SELECT app_id, host, reason, document_version, \
     app_version, count, first_seen, last_seen, sample FROM pin_reports WHERE app_id = $1 \
     ORDER BY last_seen DESC, host, reason, document_version, app_version LIMIT $2";

pub(crate) const INSERT_PIN_SIGNING_KEY: &str = "INSERT INTO pin_signing_keys \
     (kid, algorithm, encrypted_private_key, public_key, created_at) \
     VALUES ($1, $2, $3, $4, $5)";

/// Keys created in the same second are ordered by `kid`, descending, as token signing keys are.
pub(crate) const SELECT_PIN_SIGNING_KEYS: &str = "SELECT kid, algorithm, \
     encrypted_private_key, public_key, created_at FROM pin_signing_keys \
     ORDER BY created_at DESC, kid DESC";

/// One row of [`SELECT_PIN_SETS`]: the set's columns and, unless the set has no pins, one pin.
pub(crate) struct PinSetRow {
    pub(crate) app_id: String,
    pub(crate) host: String,
    pub(crate) expires_at: i64,
    pub(crate) mode: String,
    pub(crate) after_expiry: String,
    pub(crate) user_anchors: String,
    pub(crate) updated_at: i64,
    pub(crate) updated_by: String,
    pub(crate) pin: Option<PinSetEntry>,
}

/// Groups the rows of [`SELECT_PIN_SETS`], which arrive ordered by host, into pin sets.
pub(crate) fn group_pin_sets(rows: Vec<PinSetRow>) -> Vec<PinSetRecord> {
    let mut sets: Vec<PinSetRecord> = Vec::new();
    for row in rows {
        let same_set = sets.last().is_some_and(|set| set.host == row.host);
        if !same_set {
            sets.push(PinSetRecord {
                app_id: row.app_id,
                host: row.host,
                pins: Vec::new(),
                expires_at: row.expires_at,
                mode: row.mode,
                after_expiry: row.after_expiry,
                user_anchors: row.user_anchors,
                updated_at: row.updated_at,
                updated_by: row.updated_by,
            });
        }
        if let (Some(pin), Some(set)) = (row.pin, sets.last_mut()) {
            set.pins.push(pin);
        }
    }
    sets
}

/// The nullable pin columns of a [`SELECT_PIN_SETS`] row.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PinDetails {
    pub(crate) valid_until: Option<i64>,
    pub(crate) level: Option<String>,
    pub(crate) key_type: Option<String>,
    pub(crate) not_after: Option<i64>,
}

/// Builds a pin from the pin columns of a [`SELECT_PIN_SETS`] row, which are all NULL for a set
/// without pins. Any other mix of NULL columns is corrupt.
pub(crate) fn decode_pin_set_entry(
    pin: Option<String>,
    role: Option<String>,
    note: Option<String>,
    details: PinDetails,
    host: &str,
) -> Result<Option<PinSetEntry>, StoreError> {
    match (pin, role, note) {
        (None, None, None) if details == PinDetails::default() => Ok(None),
        (Some(pin), Some(role), Some(note)) => Ok(Some(PinSetEntry {
            pin,
            role,
            valid_until: details.valid_until,
            level: details.level,
            key_type: details.key_type,
            not_after: details.not_after,
            note,
        })),
        _ => Err(StoreError::Corrupt(format!(
            "pin_set_pins of host {host:?}: pin, role and note are not all set"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(host: &str, pin: Option<&str>) -> PinSetRow {
        PinSetRow {
            app_id: "app".to_owned(),
            host: host.to_owned(),
            expires_at: 60,
            mode: "enforce".to_owned(),
            after_expiry: "fail_closed".to_owned(),
            user_anchors: "reject".to_owned(),
            updated_at: 1,
            updated_by: "admin".to_owned(),
            pin: pin.map(|pin| PinSetEntry {
                pin: pin.to_owned(),
                role: "current".to_owned(),
                valid_until: None,
                level: None,
                key_type: None,
                not_after: None,
                note: String::new(),
            }),
        }
    }

    #[test]
    fn rows_grouped_by_host_in_order() {
        let sets = group_pin_sets(vec![
            row("a.example", Some("p1")),
            row("a.example", Some("p2")),
            row("b.example", None),
            row("c.example", Some("p3")),
        ]);

        let hosts: Vec<&str> = sets.iter().map(|set| set.host.as_str()).collect();
        assert_eq!(hosts, ["a.example", "b.example", "c.example"]);
        let pins: Vec<Vec<&str>> = sets
            .iter()
            .map(|set| set.pins.iter().map(|entry| entry.pin.as_str()).collect())
            .collect();
        assert_eq!(pins, [vec!["p1", "p2"], vec![], vec!["p3"]]);
    }

    #[test]
    fn half_null_pin_columns_corrupt() {
        let result =
            decode_pin_set_entry(Some("p".to_owned()), None, None, PinDetails::default(), "h");
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
        let empty =
            decode_pin_set_entry(None, None, None, PinDetails::default(), "h").expect("no pin");
        assert_eq!(empty, None);
    }
}
