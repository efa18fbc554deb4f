-- Bluezone health-authority server, schema version 1.

CREATE TABLE officials (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

-- Codes are stored as HMAC(server secret, code): a copy of the database does not reveal them.
CREATE TABLE codes (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    code_mac               BLOB NOT NULL UNIQUE,
    official_id            INTEGER NOT NULL REFERENCES officials (id),
    report_type            INTEGER NOT NULL,
    symptom_onset_interval INTEGER,
    test_date              TEXT,
    created_at             INTEGER NOT NULL,
    expires_at             INTEGER NOT NULL,
    used_at                INTEGER,
    revoked_at             INTEGER
);
CREATE INDEX codes_by_official ON codes (official_id, id);

CREATE TABLE tokens (
    token_mac              BLOB PRIMARY KEY NOT NULL,
    report_type            INTEGER NOT NULL,
    symptom_onset_interval INTEGER,
    expires_at             INTEGER NOT NULL,
    used_at                INTEGER
);

CREATE TABLE uploads (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_hash       BLOB NOT NULL UNIQUE,
    report_type            INTEGER NOT NULL,
    symptom_onset_interval INTEGER,
    received_at            INTEGER NOT NULL
);

CREATE TABLE upload_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id       INTEGER NOT NULL REFERENCES uploads (id),
    key_data        BLOB NOT NULL,
    rolling_start   INTEGER NOT NULL,
    rolling_period  INTEGER NOT NULL,
    transmission_risk INTEGER NOT NULL,
    publish_after   INTEGER NOT NULL,
    file_id         INTEGER REFERENCES files (id)
);
CREATE INDEX upload_keys_unpublished ON upload_keys (file_id, publish_after);

CREATE TABLE files (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    key_count  INTEGER NOT NULL
);

CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    official_id INTEGER,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    at          INTEGER NOT NULL
);
