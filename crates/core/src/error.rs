//! The engine's error type.

use bluezone_protocol::TimeError;
use bluezone_protocol::sightings::ChunkError;
use bluezone_store::StoreError;
use thiserror::Error;

use crate::own_keys::OwnKeyRecordError;

/// Any error of `bluezone-core`. Messages carry no secrets and no identifiers.
#[derive(Debug, Error)]
pub enum CoreError {
    /// The encrypted store failed (wrong key, corruption, disk).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The clock shows a time outside the GAEN time base.
    #[error("the clock is unusable: {0}")]
    Clock(#[from] TimeError),
    /// A stored sighting chunk is unreadable although its seal was intact.
    #[error("stored sightings are unreadable: {0}")]
    Chunk(#[from] ChunkError),
    /// A stored own key is unreadable although its seal was intact.
    #[error(transparent)]
    OwnKey(#[from] OwnKeyRecordError),
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// An earlier call panicked while holding the engine; it refuses further work.
    #[error("the engine is unusable after an internal failure")]
    Poisoned,
}
