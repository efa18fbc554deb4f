//! A SQLite database as files on disk: the database, its `-wal` and its `-shm`.

use std::path::{Path, PathBuf};

/// `path` with `suffix` appended to its file name (`store.db` → `store.db-wal`).
#[must_use]
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The bytes of the database at `path`, its `-wal` and its `-shm` file (`None` for a missing
/// one): to show that something changed nothing.
#[must_use]
pub fn database_files(path: &Path) -> [Option<Vec<u8>>; 3] {
    ["", "-wal", "-shm"].map(|suffix| std::fs::read(with_suffix(path, suffix)).ok())
}

/// Every byte SQLite keeps for the database at `path`, its files concatenated: to show that
/// something is nowhere on disk in the clear.
#[must_use]
pub fn database_bytes(path: &Path) -> Vec<u8> {
    database_files(path)
        .into_iter()
        .flatten()
        .flatten()
        .collect()
}
