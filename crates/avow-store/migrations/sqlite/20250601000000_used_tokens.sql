-- Limited-use tokens (SQLite).
--
-- Keep this migration equivalent to migrations/postgres/20250601000000_used_tokens.sql. The
-- only intended difference is the collation "C" of the PostgreSQL key column, which is SQLite's
-- byte order.

-- The token ids (`jti`) consumed through `POST /v1/tokens/consume` or the limited-use check.
-- The primary key makes a second insert of one id a no-op, so exactly one consumption wins
-- across all server instances. `expires_at` is the token's `exp`: a row can be deleted once the
-- token can no longer verify.
CREATE TABLE used_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT  NOT NULL
);

-- Purging deletes by expiry time.
CREATE INDEX used_tokens_expires_at ON used_tokens (expires_at);
