-- Bluezone health-authority server, schema version 3: the limits on guessing live in the
-- database, so a restart does not forget them (and, on PostgreSQL, several instances share
-- them; see src/limits.rs).
--
-- One row per attempt under a limit: in flight (failed = 0) while it runs, deleted if it
-- succeeds, kept as failed (failed = 1) if it fails. A row still in flight long after it
-- began (its server died) counts as failed. `client` is a keyed hash of the limit's name and
-- the client's address (or an official's name), never the address itself. Rows older than
-- the longest window are pruned with each publishing run.
CREATE TABLE attempts (
    id     INTEGER PRIMARY KEY,
    client BLOB NOT NULL,
    scope  TEXT NOT NULL,
    at     INTEGER NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attempts_by_client ON attempts (client, at);
CREATE INDEX attempts_by_scope ON attempts (scope, at);
