-- Policies, the audit log, decisions, daily counters, install bans and debug devices
-- (PostgreSQL).
--
-- Keep this migration equivalent to migrations/sqlite/20250301000000_policy.sql. The only
-- intended difference is the type of the generated `id` columns: BIGSERIAL here, INTEGER PRIMARY
-- KEY AUTOINCREMENT in SQLite.

-- Every version of an app's policy document. Versions count 1, 2, 3, … per app and are never
-- reused: the store computes the next version inside the INSERT, and the primary key rejects a
-- version that a concurrent insert took first.
CREATE TABLE policies (
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    version    BIGINT  NOT NULL,
    document   TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL,
    PRIMARY KEY (app_id, version)
);

-- Administrative actions. `app_id` has no foreign key, so an entry can name an app that was
-- never registered, such as the target of a rejected request.
CREATE TABLE audit_log (
    id      BIGSERIAL NOT NULL PRIMARY KEY,
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    app_id  TEXT COLLATE "C",
    subject TEXT,
    detail  TEXT    NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_app_id_at ON audit_log (app_id, at);

-- One row per attestation, refresh or outage decision. `reasons` and `verdict` hold JSON text
-- written by the server. Like the audit log, the table has no foreign keys.
CREATE TABLE decisions (
    id               BIGSERIAL NOT NULL PRIMARY KEY,
    app_id           TEXT COLLATE "C" NOT NULL,
    install_id       TEXT COLLATE "C",
    at               BIGINT  NOT NULL,
    kind             TEXT    NOT NULL,
    policy_version   BIGINT  NOT NULL,
    market           TEXT    NOT NULL,
    outcome          TEXT    NOT NULL,
    enforced_outcome TEXT    NOT NULL,
    reasons          TEXT    NOT NULL,
    verdict          TEXT    NOT NULL,
    providers        TEXT    NOT NULL,
    platform         TEXT    NOT NULL,
    app_version      TEXT
);

CREATE INDEX decisions_install_id_at ON decisions (install_id, at);
CREATE INDEX decisions_app_id_at ON decisions (app_id, at);

-- Counters that restart every day, such as provider quota use or reduced-trust tokens issued to
-- one install. `day` is the date the caller counts in, as YYYY-MM-DD.
CREATE TABLE daily_counters (
    scope TEXT COLLATE "C" NOT NULL,
    key   TEXT COLLATE "C" NOT NULL,
    day   TEXT COLLATE "C" NOT NULL,
    count BIGINT  NOT NULL,
    PRIMARY KEY (scope, key, day)
);

-- A ban sets both columns and lifting it clears both. The store never writes one without the
-- other.
ALTER TABLE installs ADD COLUMN banned_at BIGINT;
ALTER TABLE installs ADD COLUMN ban_reason TEXT;

-- Device keys an operator marked as debug devices of an app until `expires_at`.
CREATE TABLE debug_devices (
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    key_id     BYTEA   NOT NULL,
    note       TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, key_id)
);
