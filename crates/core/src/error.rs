//! The engine's error type.

use bluezone_protocol::TimeError;
use bluezone_protocol::keyfile::KeyFileError;
use bluezone_protocol::sightings::ChunkError;
use bluezone_store::StoreError;
use thiserror::Error;

use crate::exposure::ExposureRecordError;
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
    /// A key file was refused; files before it in the batch were processed and kept.
    #[error("key file {index} was refused: {error}")]
    KeyFile {
        /// Position of the file in the batch.
        index: usize,
        /// Why.
        error: KeyFileError,
    },
    /// No key is trusted to sign key files, so none can be processed.
    #[error("no trusted key-file signer is configured")]
    NoTrustedSigners,
    /// A stored exposure window is unreadable although its seal was intact.
    #[error(transparent)]
    ExposureRecord(#[from] ExposureRecordError),
    /// The health authority's server refused a request.
    #[error("the server refused ({status} {code}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// The server's stable error code (e.g. `code_invalid`, `code_expired`).
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached.
    #[error(transparent)]
    Network(#[from] crate::transport::TransportError),
    /// The server answered something unreadable.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// State this phone keeps (a pending upload) is unreadable, or a request could not be
    /// built from it: a local fault, never the server's.
    #[error("local state is unreadable: {0}")]
    LocalState(String),
    /// A code that is not 8 digits.
    #[error("a verification code is 8 digits")]
    InvalidCode,
    /// Upload without fresh consent.
    #[error("the person's consent is missing or too old; ask again before uploading")]
    ConsentRequired,
    /// No server key is pinned for uploads.
    #[error("no upload key is configured")]
    UploadNotConfigured,
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// An earlier call panicked while holding the engine; it refuses further work.
    #[error("the engine is unusable after an internal failure")]
    Poisoned,
}
