//! The engine's error type.

use bluezone_protocol::TimeError;
use bluezone_protocol::keyfile::KeyFileError;
use bluezone_protocol::refusal::RefusalCode;
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
        code: ServerCode,
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

/// The code of a server's refusal, as the phone understood it. Its text ([`ServerCode::as_str`])
/// is what the server sent, or `unsealed_refusal` and `unknown` for the phone's own two cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCode {
    /// One of the codes the server sends.
    Known(RefusalCode),
    /// A code this version does not know (a newer server's), as received.
    Unknown(String),
    /// The refusal came back unsealed: not necessarily the server's, so its code is not
    /// believed, only its status (`unsealed_refusal`, see [`crate::upload::UNSEALED_REFUSAL`]).
    Unsealed,
    /// The refusal had no readable error body (`unknown`).
    Missing,
}

impl ServerCode {
    /// The code a server sent as `text`: [`ServerCode::Known`] when this version knows it.
    #[must_use]
    pub fn received(text: &str) -> Self {
        RefusalCode::parse(text).map_or_else(|unknown| Self::Unknown(unknown.0), Self::Known)
    }

    /// The known refusal, if it is one.
    #[must_use]
    pub const fn refusal(&self) -> Option<RefusalCode> {
        match self {
            Self::Known(code) => Some(*code),
            _ => None,
        }
    }

    /// The code as text: the server's string, or the phone's own for the other two cases.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(code) => code.as_str(),
            Self::Unknown(text) => text,
            Self::Unsealed => crate::upload::UNSEALED_REFUSAL,
            Self::Missing => "unknown",
        }
    }
}

impl std::fmt::Display for ServerCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ServerCode {
    fn from(text: &str) -> Self {
        Self::received(text)
    }
}

impl PartialEq<RefusalCode> for ServerCode {
    fn eq(&self, other: &RefusalCode) -> bool {
        self.refusal() == Some(*other)
    }
}

/// Compares the text, as [`ServerCode::as_str`] gives it.
impl PartialEq<str> for ServerCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

/// Compares the text, as [`ServerCode::as_str`] gives it.
impl PartialEq<&str> for ServerCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_code_is_known_or_kept_as_text() {
        for &code in RefusalCode::ALL {
            let received = ServerCode::received(code.as_str());
            assert_eq!(received, ServerCode::Known(code));
            assert_eq!(received, code);
            assert_eq!(received.as_str(), code.as_str());
        }
        let newer = ServerCode::received("a_newer_code");
        assert_eq!(newer, ServerCode::Unknown("a_newer_code".into()));
        assert_eq!(newer.to_string(), "a_newer_code");
        assert_eq!(newer.refusal(), None);
        // A server cannot claim the phone's own codes.
        assert_eq!(
            ServerCode::received("unsealed_refusal"),
            ServerCode::Unknown("unsealed_refusal".into())
        );
        assert_eq!(ServerCode::Unsealed.as_str(), "unsealed_refusal");
        assert_eq!(ServerCode::Missing.as_str(), "unknown");
    }
}
