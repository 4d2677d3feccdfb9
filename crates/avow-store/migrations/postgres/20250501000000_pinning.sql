-- Dynamic certificate pinning: API domains, their pin sets, published pin documents, the latest
-- live check of each domain, aggregated pin-failure reports and the pin-signing key
-- (PostgreSQL).
--
-- Keep this migration equivalent to migrations/sqlite/20250501000000_pinning.sql. The only
-- intended differences are the column types BYTEA (here) and BLOB, and the byte-order collation
-- "C" of key columns here, which SQLite uses for all text.

-- The API domains of an app. `host` is the pattern as the operator wrote it: an exact host,
-- `*.example.com` (one extra label) or `**.example.com` (any depth). `probe_host` is the concrete
-- host name sent as SNI when the server probes the live chain, equal to `host` for an exact host.
-- `connect_to` replaces the address the probe connects to (`address:port`), and a NULL
-- `ca_bundle_pem` means the probe validates against the Mozilla roots.
CREATE TABLE pin_domains (
    app_id        TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    host          TEXT COLLATE "C" NOT NULL,
    port          BIGINT  NOT NULL,
    probe_host    TEXT    NOT NULL,
    connect_to    TEXT,
    ca_bundle_pem TEXT,
    managed       BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (app_id, host)
);

-- The pin set of each domain: when its pins stop being valid, the policies apps apply to it
-- (`mode`: enforce or report_only; `after_expiry`: fail_closed or system_trust;
-- `user_anchors`: reject or allow) and who set it last.
CREATE TABLE pin_sets (
    app_id       TEXT COLLATE "C" NOT NULL,
    host         TEXT COLLATE "C" NOT NULL,
    expires_at   BIGINT  NOT NULL,
    mode         TEXT    NOT NULL,
    after_expiry TEXT    NOT NULL,
    user_anchors TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL,
    updated_by   TEXT    NOT NULL,
    PRIMARY KEY (app_id, host),
    FOREIGN KEY (app_id, host) REFERENCES pin_domains (app_id, host) ON DELETE CASCADE
);

-- The pins of each pin set. `role` is current, backup, root or previous. A previous pin was
-- dropped from the set and stays in published documents until `valid_until`, which only
-- previous pins have. `level` (leaf or ca), `key_type` and `not_after` describe the key when
-- the server knows them, from the certificate or request the pin was taken from.
CREATE TABLE pin_set_pins (
    app_id      TEXT COLLATE "C" NOT NULL,
    host        TEXT COLLATE "C" NOT NULL,
    position    BIGINT  NOT NULL,
    pin         TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    valid_until BIGINT,
    level       TEXT,
    key_type    TEXT,
    not_after   BIGINT,
    note        TEXT    NOT NULL,
    PRIMARY KEY (app_id, host, position),
    FOREIGN KEY (app_id, host) REFERENCES pin_sets (app_id, host) ON DELETE CASCADE
);

-- Every published pin document, as the compact JWS that apps receive. Versions count 1, 2, 3,
-- … per app and are never reused: the primary key rejects a version that a concurrent publish
-- took first. Re-signing a document with a later `issued_at` keeps its version. `pin_sets` is
-- the JSON the server wrote of the pin sets, with roles, that the document was built from.
CREATE TABLE pin_documents (
    app_id       TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    version      BIGINT  NOT NULL,
    issued_at    BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    document     TEXT    NOT NULL,
    pin_sets     TEXT    NOT NULL,
    forced       BOOLEAN NOT NULL,
    published_at BIGINT  NOT NULL,
    published_by TEXT    NOT NULL,
    PRIMARY KEY (app_id, version)
);

-- The latest live check of each domain. `earliest_not_after` is the earliest expiry time of a
-- certificate on the validated path, NULL when no path was built.
CREATE TABLE pin_domain_checks (
    app_id             TEXT COLLATE "C" NOT NULL,
    host               TEXT COLLATE "C" NOT NULL,
    status             TEXT    NOT NULL,
    detail             TEXT    NOT NULL,
    checked_at         BIGINT  NOT NULL,
    earliest_not_after BIGINT,
    PRIMARY KEY (app_id, host),
    FOREIGN KEY (app_id, host) REFERENCES pin_domains (app_id, host) ON DELETE CASCADE
);

-- Pin-failure reports from apps, counted per app, host, reason, pin document version (0 when
-- the app held none) and app version ('' when unknown), with the latest report as a sample.
CREATE TABLE pin_reports (
    app_id           TEXT COLLATE "C" NOT NULL REFERENCES apps (id),
    host             TEXT COLLATE "C" NOT NULL,
    reason           TEXT COLLATE "C" NOT NULL,
    document_version BIGINT  NOT NULL,
    app_version      TEXT COLLATE "C" NOT NULL,
    count            BIGINT  NOT NULL,
    first_seen       BIGINT  NOT NULL,
    last_seen        BIGINT  NOT NULL,
    sample           TEXT    NOT NULL,
    PRIMARY KEY (app_id, host, reason, document_version, app_version)
);

CREATE INDEX pin_reports_app_id_last_seen ON pin_reports (app_id, last_seen);

-- The keys that sign pin documents, separate from the token signing keys. The private key
-- arrives sealed by the server's master key.
CREATE TABLE pin_signing_keys (
    kid                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    algorithm             TEXT    NOT NULL,
    encrypted_private_key BYTEA   NOT NULL,
    public_key            BYTEA   NOT NULL,
    created_at            BIGINT  NOT NULL
);
