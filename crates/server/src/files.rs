//! Where published key files go: behind [`FileStore`], a local folder by default
//! ([`FolderFileStore`]); a CDN or object store in production implements the same trait.

use std::path::PathBuf;
use std::sync::Mutex;

use crate::store::StoreError;

/// Storage for published files, addressed by name.
pub trait FileStore: Send + Sync {
    /// Stores (or replaces) a file.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be written.
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError>;
    /// A file's bytes, if it exists.
    ///
    /// # Errors
    /// [`StoreError`] when it cannot be read.
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
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

    fn path(&self, name: &str) -> Option<PathBuf> {
        let safe = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !name.starts_with('.');
        safe.then(|| self.root.join(name))
    }
}

fn store_error(e: &std::io::Error) -> StoreError {
    StoreError::new(format!("file store: {e}"))
}

impl FileStore for FolderFileStore {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(name).ok_or_else(|| {
            store_error(&std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "bad file name",
            ))
        })?;
        // Write aside and rename: a reader never sees half a file.
        let tmp = path.with_extension("part");
        std::fs::write(&tmp, bytes).map_err(|e| store_error(&e))?;
        std::fs::rename(&tmp, &path).map_err(|e| store_error(&e))
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
}

/// Files in memory (tests).
#[derive(Default)]
pub struct MemoryFileStore(Mutex<std::collections::HashMap<String, Vec<u8>>>);

impl FileStore for MemoryFileStore {
    fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if let Ok(mut files) = self.0.lock() {
            files.insert(name.to_owned(), bytes.to_vec());
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.lock().ok().and_then(|f| f.get(name).cloned()))
    }
}
