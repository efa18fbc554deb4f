-- Bluezone health-authority server on PostgreSQL, schema version 1: the tables of the SQLite
-- schema at its version 2 (see ../0001_init.sql and ../0002_publishing.sql for what each one
-- holds), with PostgreSQL's types. Integers are BIGINT (SQLite's INTEGER), blobs BYTEA.
--
-- One difference carries the SQLite writer's guarantee to several connections: a key is
-- stored once, enforced by a unique index (SQLite checked with NOT EXISTS under its single
-- writer; two PostgreSQL transactions would both pass that check).

CREATE TABLE officials (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Codes are stored as HMAC(server secret, code): a copy of the database does not reveal them.
CREATE TABLE codes (
    id                     BIGSERIAL PRIMARY KEY,
    code_mac               BYTEA NOT NULL UNIQUE,
    official_id            BIGINT NOT NULL REFERENCES officials (id),
    report_type            BIGINT NOT NULL,
    symptom_onset_interval BIGINT,
    test_date              TEXT,
    created_at             BIGINT NOT NULL,
    expires_at             BIGINT NOT NULL,
    used_at                BIGINT,
    revoked_at             BIGINT
);
CREATE INDEX codes_by_official ON codes (official_id, id);
CREATE INDEX codes_by_expiry ON codes (expires_at);

CREATE TABLE tokens (
    token_mac              BYTEA PRIMARY KEY,
    report_type            BIGINT NOT NULL,
    symptom_onset_interval BIGINT,
    expires_at             BIGINT NOT NULL,
    used_at                BIGINT,
    tek_hmac               BYTEA
);
CREATE INDEX tokens_by_expiry ON tokens (expires_at);

CREATE TABLE uploads (
    id                     BIGSERIAL PRIMARY KEY,
    certificate_hash       BYTEA NOT NULL UNIQUE,
    report_type            BIGINT NOT NULL,
    symptom_onset_interval BIGINT,
    received_at            BIGINT NOT NULL
);

CREATE TABLE files (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    key_count    BIGINT NOT NULL,
    sha256       BYTEA,
    withdrawn_at BIGINT
);
CREATE INDEX files_by_created ON files (created_at);

CREATE TABLE upload_keys (
    id                BIGSERIAL PRIMARY KEY,
    upload_id         BIGINT NOT NULL REFERENCES uploads (id),
    key_data          BYTEA NOT NULL UNIQUE,
    rolling_start     BIGINT NOT NULL,
    rolling_period    BIGINT NOT NULL,
    transmission_risk BIGINT NOT NULL,
    publish_after     BIGINT NOT NULL,
    file_id           BIGINT REFERENCES files (id)
);
CREATE INDEX upload_keys_unpublished ON upload_keys (file_id, publish_after);
CREATE INDEX upload_keys_by_upload ON upload_keys (upload_id);

CREATE TABLE audit (
    id          BIGSERIAL PRIMARY KEY,
    official_id BIGINT,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    at          BIGINT NOT NULL
);
