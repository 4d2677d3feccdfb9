-- Android apps, per-app secrets and installs attested by more than one provider (PostgreSQL).
--
-- Keep this migration equivalent to migrations/sqlite/20250201000000_providers.sql.

-- Android registration data. iOS apps keep the empty defaults.
-- `certificate_digests` holds the allowed signing-certificate SHA-256 digests as lowercase hex,
-- joined by ','. A NULL `min_version_code` sets no lower bound.
ALTER TABLE apps ADD COLUMN package_name TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN certificate_digests TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN min_version_code BIGINT;

-- Every install stored before this migration was attested by App Attest.
ALTER TABLE installs ADD COLUMN provider TEXT NOT NULL DEFAULT 'app_attest';

-- Per-app secrets, such as provider decryption and verification keys. The server seals each
-- value with its master key before storing it, so the store holds only ciphertext.
CREATE TABLE app_secrets (
    app_id     TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    name       TEXT COLLATE "C" NOT NULL,
    sealed     BYTEA   NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (app_id, name)
);
