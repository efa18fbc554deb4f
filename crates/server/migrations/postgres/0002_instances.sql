-- Bluezone health-authority server on PostgreSQL, schema version 2: what several instances
-- share (decision 0015).
--
-- The limits on guessing, as in SQLite's schema version 3 (../0003_attempts.sql): one row per
-- attempt, in flight, failed, or deleted on success; `client` a keyed hash, never an address.
CREATE TABLE attempts (
    id     BIGSERIAL PRIMARY KEY,
    client BYTEA NOT NULL,
    scope  TEXT NOT NULL,
    at     BIGINT NOT NULL,
    failed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX attempts_by_client ON attempts (client, at);
CREATE INDEX attempts_by_scope ON attempts (scope, at);

-- Published files (key files, risk configurations) when no shared folder is given: every
-- instance serves every file, and no instance keeps state of its own. A file is written once
-- (the name is the key) and deleted when it leaves retention.
CREATE TABLE file_contents (
    name      TEXT PRIMARY KEY,
    bytes     BYTEA NOT NULL,
    stored_at BIGINT NOT NULL
);
