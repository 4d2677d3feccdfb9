-- Initial schema of the Avow store (PostgreSQL).
--
-- Times are Unix seconds. Binary values (hashes, key ids, keys, receipts) are BYTEA.
-- Keep this schema equivalent to migrations/sqlite/20250101000000_initial.sql: one behaviour
-- test suite runs against both.
--
-- Text keys use the "C" collation so that `ORDER BY` sorts by bytes, as SQLite's default BINARY
-- collation does, whatever locale the database was created with.

CREATE TABLE apps (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    platform    TEXT    NOT NULL,
    team_id     TEXT    NOT NULL,
    bundle_id   TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Only the SHA-256 of each admin key's secret part is stored.
CREATE TABLE admin_keys (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret_hash BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- The private key arrives encrypted by the server; the store never sees it in the clear.
CREATE TABLE signing_keys (
    kid                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm             TEXT    NOT NULL,
    encrypted_private_key BYTEA   NOT NULL,
    public_key            BYTEA   NOT NULL,
    created_at            BIGINT  NOT NULL
);

-- A nonce is identified by its SHA-256. `consumed_at` stays NULL until the nonce is used.
CREATE TABLE nonces (
    hash        BYTEA   NOT NULL PRIMARY KEY,
    app_id      TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    consumed_at BIGINT
);

-- Purging deletes by expiry time.
CREATE INDEX nonces_expires_at ON nonces (expires_at);

-- One row per attested App Attest key. The unique pair is the upsert conflict target.
CREATE TABLE installs (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    app_id       TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    key_id       BYTEA   NOT NULL,
    public_key   BYTEA   NOT NULL,
    counter      BIGINT  NOT NULL,
    environment  TEXT    NOT NULL,
    receipt      BYTEA   NOT NULL,
    verdict      TEXT    NOT NULL,
    attested_at  BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    UNIQUE (app_id, key_id)
);
