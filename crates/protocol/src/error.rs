//! The crate's error type: each module's precise error, composed for callers that handle
//! them all the same way.

use thiserror::Error;

use crate::advert::AdvertError;
use crate::keys::KeyLengthError;
use crate::metadata::MetadataError;
use crate::time::TimeError;

/// Any error of `bluezone-protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A malformed or foreign advertisement.
    #[error(transparent)]
    Advert(#[from] AdvertError),
    /// Undecodable metadata.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// A time outside the GAEN time base.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// Key material of the wrong length.
    #[error(transparent)]
    KeyLength(#[from] KeyLengthError),
}
