//! Opening a phone's store that may no longer open: the one decision between "start afresh"
//! and "keep the file and report", so no shell crash-loops on a store it cannot read.
//!
//! A store becomes unreadable for good when its master key is gone: the app's data was
//! restored onto a new phone (the Keystore or Keychain key stays on the old one), or the key
//! was invalidated. Its contents cannot be recovered by anyone, so the only way forward is a
//! new, empty store, and the person must be told their history on this phone starts now.
//! A full disk, an I/O failure or a store written by a newer app version are different:
//! they may pass, or the data is still readable by the right build, so nothing is deleted.

use std::path::Path;

use bluezone_store::{MasterKey, Store, StoreError};

use crate::config::TracerConfig;
use crate::error::CoreError;
use crate::tracer::{StorageLocation, Tracer};

/// Why a store was deleted and started afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReset {
    /// The master key does not open the store (restored onto another phone, key lost).
    KeyNoLongerOpensStore,
    /// The store is damaged or is not a Bluezone store.
    Unreadable,
}

impl StoreReset {
    /// The reset an error opening the store calls for, if any.
    #[must_use]
    pub fn for_error(error: &CoreError) -> Option<Self> {
        match error {
            CoreError::Store(StoreError::WrongKey) => Some(Self::KeyNoLongerOpensStore),
            CoreError::Store(
                StoreError::Corrupt(_) | StoreError::Tampered { .. } | StoreError::NotAStore,
            )
            | CoreError::Chunk(_)
            | CoreError::OwnKey(_)
            | CoreError::ExposureRecord(_) => Some(Self::Unreadable),
            _ => None,
        }
    }
}

impl Tracer {
    /// Opens the tracer on the store at `path`; when the store can never be read again
    /// ([`StoreReset::for_error`]), deletes it and opens a new, empty one, and says why. The
    /// caller tells the person (their exposure history on this phone starts now, and
    /// collection is off until they turn it on). Any other failure is returned and the file
    /// is left as it was.
    ///
    /// # Errors
    /// As [`Tracer::open`], except the errors that lead to a reset; [`CoreError::Store`]
    /// when the unreadable files cannot be removed.
    pub fn open_or_reset(
        config: TracerConfig,
        path: &Path,
        master_key: &MasterKey,
    ) -> Result<(Self, Option<StoreReset>), CoreError> {
        let storage = || StorageLocation::File(path.to_owned());
        match Self::open(config.clone(), storage(), master_key) {
            Ok(tracer) => Ok((tracer, None)),
            Err(error) => {
                let Some(reset) = StoreReset::for_error(&error) else {
                    return Err(error);
                };
                log::warn!(
                    "the store cannot be read again ({reset:?}: {}): deleting it and starting \
                     afresh",
                    crate::logging::Safe(&error)
                );
                Store::remove_files(path)?;
                let tracer = Self::open(config, storage(), master_key)?;
                log::info!("the store was reset");
                Ok((tracer, Some(reset)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_store_the_key_no_longer_opens_is_replaced_and_the_reason_given() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bluezone.db");
        let (tracer, reset) =
            Tracer::open_or_reset(TracerConfig::default(), &path, &key(1)).expect("new store");
        assert_eq!(reset, None);
        tracer.current_advertisement().expect("a key");
        drop(tracer);

        // Restored onto a new phone: the old key is gone, a new one was made.
        let (tracer, reset) =
            Tracer::open_or_reset(TracerConfig::default(), &path, &key(2)).expect("reset");
        assert_eq!(reset, Some(StoreReset::KeyNoLongerOpensStore));
        tracer.current_advertisement().expect("works afresh");
        drop(tracer);
        let (_, reset) =
            Tracer::open_or_reset(TracerConfig::default(), &path, &key(2)).expect("reopen");
        assert_eq!(reset, None, "the new store opens with the new key");
    }

    #[test]
    fn a_damaged_file_is_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bluezone.db");
        std::fs::write(&path, b"not a database, not even close, but long enough").expect("write");
        let (_, reset) =
            Tracer::open_or_reset(TracerConfig::default(), &path, &key(1)).expect("reset");
        assert_eq!(reset, Some(StoreReset::Unreadable));
    }

    #[test]
    fn other_failures_leave_the_file_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A directory where the database should be: an I/O failure, not a reason to delete.
        let path = dir.path().join("bluezone.db");
        std::fs::create_dir(&path).expect("dir");
        std::fs::write(path.join("keep"), b"x").expect("write");
        let error = Tracer::open_or_reset(TracerConfig::default(), &path, &key(1))
            .map(|_| ())
            .expect_err("refused");
        assert_eq!(StoreReset::for_error(&error), None, "{error:?}");
        assert!(path.join("keep").exists());
    }
}
