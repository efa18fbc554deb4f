//! The store's error type. Messages name tables, days and row ids, never contents.

use thiserror::Error;

/// Any error of `bluezone-store`.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The master key does not open this store.
    #[error("the master key does not open this store (wrong key)")]
    WrongKey,
    /// The file is not a database, or SQLite found it damaged. The file is left untouched.
    #[error("the database is corrupt or not a Bluezone store: {0}")]
    Corrupt(String),
    /// The file is an SQLite database, but not a Bluezone store (another application's
    /// database, or one of unknown origin). Refused before anything is written: the file is
    /// left byte for byte as it was.
    #[error("the database is not a Bluezone store")]
    NotAStore,
    /// A change was asked of a store opened with
    /// [`Store::open_read_only`](crate::Store::open_read_only).
    #[error("the store was opened read-only")]
    ReadOnly,
    /// The database was written by a newer version of Bluezone.
    #[error("the database has schema version {found}; this build knows up to {supported}")]
    TooNew {
        /// Schema version found in the file.
        found: i64,
        /// Newest schema version this build knows.
        supported: i64,
    },
    /// A sealed value failed authentication: it was altered, moved or replayed.
    #[error("sealed data failed authentication ({what}): tampered or damaged")]
    Tampered {
        /// Which value: table, day and row, or setting name.
        what: String,
    },
    /// The disk is full.
    #[error("the storage is full")]
    Full,
    /// Any other SQLite failure.
    #[error("storage failure: {0}")]
    Sqlite(rusqlite::Error),
    /// A file-system failure.
    #[error("file system failure: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Self::Corrupt(e.to_string())
            }
            Some(ErrorCode::DiskFull) => Self::Full,
            _ => Self::Sqlite(e),
        }
    }
}
