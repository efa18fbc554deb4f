//! Schema versions and migrations. `PRAGMA user_version` holds the version; each migration
//! is a numbered `.sql` file applied in one transaction. A database newer than this build is
//! refused, never downgraded.

use rusqlite::Connection;

use crate::error::StoreError;

/// Migrations in order; index + 1 is the version each one produces.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

/// The newest schema version this build knows.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

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
