//! Opening the tracer at launch without ever crash-looping on a store that can no longer be
//! read (the app restored onto a new phone, where the Keystore/Keychain key is not).

use std::sync::Arc;

use bluezone_core::{MasterKey, Tracer};
use zeroize::Zeroizing;

use crate::error::BluezoneError;
use crate::{BluezoneConfig, BluezoneTracer, core_config};

/// The platform's 32 key bytes as a [`MasterKey`]; the bytes handed over are zeroized.
pub(crate) fn master_key_of(bytes: Vec<u8>) -> Result<MasterKey, BluezoneError> {
    let bytes = Zeroizing::new(bytes);
    let key: &[u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| BluezoneError::invalid("the master key is 32 bytes"))?;
    Ok(MasterKey::from_bytes(*key))
}

/// Why the store was deleted and started afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum StoreReset {
    /// The master key does not open the store: the app's data was restored onto another
    /// phone, or the platform's key was lost or invalidated.
    KeyNoLongerOpensStore,
    /// The store was damaged, or was not a Bluezone store.
    Unreadable,
}

impl From<bluezone_core::StoreReset> for StoreReset {
    fn from(reset: bluezone_core::StoreReset) -> Self {
        match reset {
            bluezone_core::StoreReset::KeyNoLongerOpensStore => Self::KeyNoLongerOpensStore,
            bluezone_core::StoreReset::Unreadable => Self::Unreadable,
        }
    }
}

/// A tracer opened at launch, and whether its store had to be started afresh.
#[derive(uniffi::Record)]
pub struct OpenedTracer {
    /// The tracer.
    pub tracer: Arc<BluezoneTracer>,
    /// `Some`: the old store could never be read again and was deleted. Tell the person
    /// that their exposure history on this phone starts now, and ask them to turn exposure
    /// notifications on again (collection is off in a new store).
    pub reset: Option<StoreReset>,
}

/// What an app calls at launch (off the main thread): opens the tracer on the database
/// file at `storage_path` with the platform-held 32-byte `master_key`. A store the key
/// no longer opens, or a damaged one, is deleted and replaced by an empty one, and
/// [`OpenedTracer::reset`] says so. Anything else (a full disk, a store written by a
/// newer app version, an invalid configuration) is an error and the file is kept.
#[uniffi::export]
pub fn open_tracer(
    config: BluezoneConfig,
    storage_path: String,
    master_key: Vec<u8>,
) -> Result<OpenedTracer, BluezoneError> {
    let (tracer, reset) = Tracer::open_or_reset(
        core_config(&config)?,
        std::path::Path::new(&storage_path),
        &master_key_of(master_key)?,
    )?;
    Ok(OpenedTracer {
        tracer: Arc::new(BluezoneTracer {
            inner: Arc::new(tracer),
        }),
        reset: reset.map(StoreReset::from),
    })
}
