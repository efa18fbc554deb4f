-- Bluezone store, schema version 2: the file says what it is.
-- `PRAGMA application_id` = 0x425A5354 ("BZST", Bluezone STore) in the database header, so a
-- store is told apart from any other SQLite file (the health-authority server's database is
-- "BZSV") by reading the header alone, before anything is written. Applied in the same
-- transaction as the version bump: a version-1 store is stamped when it migrates.
-- Must equal `schema::APPLICATION_ID` (a test checks it).

PRAGMA application_id = 1113215828;
