//! Schema versions, migrations and the store's identity. `PRAGMA user_version` holds the
//! version; each migration is a numbered `.sql` file applied in one transaction. A database
//! newer than this build is refused, never downgraded.
//!
//! `PRAGMA application_id` holds [`APPLICATION_ID`] from version 2 on. [`identify`] decides,
//! with reads only, whether a file is a store at all before anything writes to it.
//!
//! A read-only open never migrates: it reads versions 1 to [`LATEST`] as they are. That works
//! because no migration so far changed a table (`0002` only stamps the header). A migration
//! that changes a table the reads use must make `Store::open_read_only` refuse the versions
//! before it, with an error that says to open the store writable once.

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;

/// Migrations in order; index + 1 is the version each one produces.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_identity.sql"),
];

/// The newest schema version this build knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// The `PRAGMA application_id` of a Bluezone store: `0x425A5354`, "BZST" (Bluezone STore) in
/// ASCII. Stamped by migration `0002`; the health-authority server's database uses "BZSV".
pub const APPLICATION_ID: i32 = 0x425A_5354;

/// The tables of a version-1 store, written before the application id existed. A file with
/// `application_id` 0 and `user_version` 1 is taken for a store only if it holds all of them.
const LEGACY_TABLES: [&str; 6] = [
    "meta",
    "day_keys",
    "own_keys",
    "sightings",
    "exposures",
    "settings",
];

/// What [`identify`] found in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// A database with no schema objects (a new or empty file): a store can be created in it.
    Empty,
    /// A Bluezone store at this schema version (1 to [`LATEST`]).
    Store {
        /// Its `user_version`.
        version: i64,
    },
}

/// Decides whether the database behind `conn` is a Bluezone store, with reads only (the
/// header's `user_version` and `application_id`, and `sqlite_schema`):
///
/// - no schema objects, version 0 and application id 0 or ours: [`Found::Empty`];
/// - our application id and a version from 1: a store ([`StoreError::TooNew`] above
///   [`LATEST`]);
/// - application id 0, version 1 and every table of version 1: a store from before the id;
/// - anything else (another application id, version 0 with tables, version 1 without our
///   tables, version 2 or more without our id): [`StoreError::NotAStore`].
///
/// A file that is no SQLite database at all fails on the first read:
/// [`StoreError::Corrupt`].
pub(crate) fn identify(conn: &Connection) -> Result<Found, StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))?;
    if objects == 0 && version == 0 && (application_id == 0 || application_id == APPLICATION_ID) {
        return Ok(Found::Empty);
    }
    if application_id == APPLICATION_ID && version >= 1 {
        if version > LATEST {
            return Err(StoreError::TooNew {
                found: version,
                supported: LATEST,
            });
        }
        return Ok(Found::Store { version });
    }
    if application_id == 0 && version == 1 && has_tables(conn, &LEGACY_TABLES)? {
        return Ok(Found::Store { version });
    }
    Err(StoreError::NotAStore)
}

/// Whether every one of `tables` exists.
fn has_tables(conn: &Connection, tables: &[&str]) -> Result<bool, StoreError> {
    let mut stmt =
        conn.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")?;
    for table in tables {
        if stmt.query_row([table], |_| Ok(())).optional()?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Brings a database at `current` up to [`LATEST`].
pub(crate) fn migrate(conn: &mut Connection, current: i64) -> Result<(), StoreError> {
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}
