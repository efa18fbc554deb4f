//! Where published key files go: behind [`FileStore`], a local folder by default
//! ([`FolderFileStore`]); a CDN or object store in production implements the same trait.
//!
//! A published file is written once and never replaced: [`FileStore::put_new`] refuses a
//! name that exists, and a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::store::StoreError;

/// Storage for published files, addressed by name.
pub trait FileStore: Send + Sync {
    /// Stores a new file durably under `name`; `Ok(false)`, and nothing changed, if a file
    /// of that name exists.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError>;
    /// A file's bytes, if it exists.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be read.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deletes a file, if it exists.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be deleted.
    fn remove(&self, name: &str) -> Result<(), StoreError>;
    /// The names of the files held, with their age in seconds when known.
    ///
    /// # Errors
    /// [`StoreError`] when the listing fails.
    fn list(&self) -> Result<Vec<(String, Option<u64>)>, StoreError>;
    /// Deletes what writes interrupted by a crash left behind, if at least `min_age_secs`
    /// old (younger ones may be another instance's write in progress); returns how many.
    /// Stores whose writes leave nothing behind keep the default, which does nothing.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be listed.
    fn remove_interrupted_writes(&self, min_age_secs: u64) -> Result<usize, StoreError> {
        let _ = min_age_secs;
        Ok(0)
    }
}

/// Whether `name` is one a file store may hold: 1 to 64 of `[A-Za-z0-9._-]`, not starting
/// with a dot (so no path, no hidden or temporary file, nothing outside the folder).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.')
}

/// Files in a local folder; names are checked so nothing escapes it.
pub struct FolderFileStore {
    root: PathBuf,
}

impl FolderFileStore {
    /// Uses (and creates) `root`.
    ///
    /// # Errors
    /// [`StoreError`] when the folder cannot be created.
    pub fn new(root: PathBuf) -> Result<Self, StoreError> {
        std::fs::create_dir_all(&root).map_err(|e| store_error(&e))?;
        Ok(Self { root })
    }

    /// The folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        is_valid_name(name).then(|| self.root.join(name))
    }
}

fn store_error(e: &std::io::Error) -> StoreError {
    StoreError::new(format!("file store: {e}"))
}

pub(crate) fn bad_name() -> StoreError {
    store_error(&std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "bad file name",
    ))
}

impl FileStore for FolderFileStore {
    fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        let path = self.path(name).ok_or_else(bad_name)?;
        // Written under a hidden temporary name, synced, then linked into place: the link
        // fails if the name exists, so a published file is never replaced, and readers see
        // the whole file or none.
        let mut suffix = [0u8; 8];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut suffix);
        let tmp = self.root.join(format!(
            ".{name}.{}.part",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let written = (|| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(&self.root).map_err(|e| store_error(&e))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(store_error(&e)),
        }
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(path) = self.path(name) else {
            return Ok(None);
        };
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_error(&e)),
        }
    }

    fn remove(&self, name: &str) -> Result<(), StoreError> {
        let path = self.path(name).ok_or_else(bad_name)?;
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(store_error(&e)),
        }
    }

    fn list(&self) -> Result<Vec<(String, Option<u64>)>, StoreError> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(|e| store_error(&e))? {
            let entry = entry.map_err(|e| store_error(&e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let age = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .map(|d| d.as_secs());
            out.push((name, age));
        }
        out.sort();
        Ok(out)
    }

    fn remove_interrupted_writes(&self, min_age_secs: u64) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.root).map_err(|e| store_error(&e))? {
            let entry = entry.map_err(|e| store_error(&e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let old_enough = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() >= min_age_secs);
            if name.starts_with('.')
                && name.ends_with(".part")
                && old_enough
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Deletes the temporary files (`.<name>.<hex>.part`) that writes interrupted by a crash
/// left in a files folder. Only the server that owns the folder calls it, at start.
///
/// # Errors
/// [`StoreError`] when the folder cannot be read.
pub fn remove_partial_writes(root: &Path) -> Result<(), StoreError> {
    for entry in std::fs::read_dir(root).map_err(|e| store_error(&e))? {
        let entry = entry.map_err(|e| store_error(&e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".part") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Makes a directory's entries durable (a new link survives a power cut).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Files in memory (tests).
#[derive(Default)]
pub struct MemoryFileStore(Mutex<std::collections::BTreeMap<String, Vec<u8>>>);

impl MemoryFileStore {
    fn files(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<String, Vec<u8>>>, StoreError>
    {
        self.0
            .lock()
            .map_err(|_| StoreError::new("file store lock poisoned"))
    }
}

impl FileStore for MemoryFileStore {
    fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        if !is_valid_name(name) {
            return Err(bad_name());
        }
        let mut files = self.files()?;
        if files.contains_key(name) {
            return Ok(false);
        }
        files.insert(name.to_owned(), bytes.to_vec());
        Ok(true)
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.files()?.get(name).cloned())
    }

    fn remove(&self, name: &str) -> Result<(), StoreError> {
        self.files()?.remove(name);
        Ok(())
    }

    fn list(&self) -> Result<Vec<(String, Option<u64>)>, StoreError> {
        Ok(self.files()?.keys().map(|k| (k.clone(), None)).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use super::*;

    #[test]
    fn a_published_file_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderFileStore::new(dir.path().to_owned()).unwrap();
        assert!(store.put_new("1-00001.zip", b"first").unwrap());
        assert!(!store.put_new("1-00001.zip", b"second").unwrap());
        assert_eq!(store.get("1-00001.zip").unwrap().unwrap(), b"first");
        // No temporary file is left behind.
        let names: Vec<String> = store.list().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["1-00001.zip"]);
    }

    #[test]
    fn interrupted_writes_are_removed_once_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderFileStore::new(dir.path().to_owned()).unwrap();
        let old = dir.path().join(".1-00001.zip.aa.part");
        std::fs::write(&old, b"half").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(700))
            .unwrap();
        let fresh = dir.path().join(".1-00002.zip.bb.part");
        std::fs::write(&fresh, b"being written").unwrap();
        assert!(store.put_new("1-00003.zip", b"whole").unwrap());
        assert_eq!(store.remove_interrupted_writes(600).unwrap(), 1);
        assert!(!old.exists() && fresh.exists());
        assert_eq!(store.get("1-00003.zip").unwrap().unwrap(), b"whole");
        assert_eq!(store.remove_interrupted_writes(0).unwrap(), 1);
        assert!(!fresh.exists());
    }

    #[test]
    fn names_cannot_leave_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = FolderFileStore::new(dir.path().join("files")).unwrap();
        for name in ["../x", "a/b", ".hidden", "", &"x".repeat(65)] {
            assert!(store.put_new(name, b"x").is_err(), "{name}");
            assert_eq!(store.get(name).unwrap(), None, "{name}");
            assert!(store.remove(name).is_err(), "{name}");
        }
        let memory = MemoryFileStore::default();
        assert!(memory.put_new("../x", b"x").is_err());
    }
}
