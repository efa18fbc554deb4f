-- Bluezone store, schema version 2 (frozen copy: what a version-2 store holds).
-- Plain columns hold only what purging and ordering need: day numbers and row ids.
-- Everything else is sealed with AES-256-GCM (see crates/store/src/crypto.rs).

CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

-- One random data key per UTC day, wrapped under the master key. Deleting the row destroys
-- that day's data for good.
CREATE TABLE day_keys (
    day     INTEGER PRIMARY KEY NOT NULL,
    wrapped BLOB NOT NULL
);

CREATE TABLE own_keys (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    day    INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX own_keys_by_day ON own_keys (day, id);

CREATE TABLE sightings (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    day    INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX sightings_by_day ON sightings (day, id);

CREATE TABLE exposures (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    day    INTEGER NOT NULL,
    sealed BLOB NOT NULL
);
CREATE INDEX exposures_by_day ON exposures (day, id);

-- Small state that outlives days (exposure state, download progress), sealed under a key
-- derived from the master key.
CREATE TABLE settings (
    name   TEXT PRIMARY KEY NOT NULL,
    sealed BLOB NOT NULL
);

-- Version 2 added only the identity in the header: "BZST".
PRAGMA application_id = 1113215828;
