//! One flat error for every language, with stable numeric codes grouped by tens per area.
//! Messages are log-safe: no keys, identifiers or codes.

use bluezone_core::CoreError;

/// Why a call failed. `code` is stable across releases; apps branch on it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum BluezoneError {
    /// 10–19: the app passed something invalid (configuration, key, code format).
    #[error("invalid input ({code}): {reason}")]
    InvalidInput {
        /// Stable code.
        code: u32,
        /// What is wrong (log-safe).
        reason: String,
    },
    /// 20–29: storage: 20 wrong master key, 21 corrupt, 22 full, 29 other.
    #[error("storage ({code}): {reason}")]
    Storage {
        /// Stable code.
        code: u32,
        /// What is wrong (log-safe).
        reason: String,
    },
    /// 30: the server could not be reached.
    #[error("network ({code}): {reason}")]
    Network {
        /// Stable code.
        code: u32,
        /// What is wrong (log-safe).
        reason: String,
    },
    /// 40: the server refused; `server_code` is its stable code (`code_invalid`, ...).
    #[error("server refused ({code}, {server_code}): {reason}")]
    Server {
        /// Stable code.
        code: u32,
        /// HTTP status.
        status: u16,
        /// The server's own stable code.
        server_code: String,
        /// The server's message.
        reason: String,
    },
    /// 50: a key file was refused (signature, format, signer).
    #[error("key file refused ({code}): {reason}")]
    KeyFile {
        /// Stable code.
        code: u32,
        /// Why (log-safe).
        reason: String,
    },
    /// 60: the person's consent is missing or too old.
    #[error("consent required ({code})")]
    ConsentRequired {
        /// Stable code.
        code: u32,
    },
    /// 90: a bug or an unexpected failure (including a panic caught in the core).
    #[error("internal error ({code}): {reason}")]
    Internal {
        /// Stable code.
        code: u32,
        /// What happened (log-safe).
        reason: String,
    },
}

impl BluezoneError {
    pub(crate) fn invalid(message: &str) -> Self {
        Self::InvalidInput {
            code: 10,
            reason: message.to_owned(),
        }
    }

    pub(crate) fn internal(message: &str) -> Self {
        Self::Internal {
            code: 90,
            reason: message.to_owned(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for BluezoneError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Network {
            code: 30,
            reason: format!("the app's HTTP client failed: {}", e.reason),
        }
    }
}

/// The one conversion from the core's errors.
pub(crate) fn from_core(e: &CoreError) -> BluezoneError {
    use bluezone_store::StoreError;
    let message = e.to_string();
    match e {
        CoreError::Store(StoreError::WrongKey) => BluezoneError::Storage {
            code: 20,
            reason: message,
        },
        CoreError::Store(StoreError::Corrupt(_) | StoreError::Tampered { .. })
        | CoreError::Chunk(_)
        | CoreError::OwnKey(_)
        | CoreError::ExposureRecord(_) => BluezoneError::Storage {
            code: 21,
            reason: message,
        },
        CoreError::Store(StoreError::Full) => BluezoneError::Storage {
            code: 22,
            reason: message,
        },
        CoreError::Store(_) => BluezoneError::Storage {
            code: 29,
            reason: message,
        },
        CoreError::InvalidConfig(_) | CoreError::Clock(_) => BluezoneError::InvalidInput {
            code: 11,
            reason: message,
        },
        CoreError::InvalidCode => BluezoneError::InvalidInput {
            code: 12,
            reason: message,
        },
        CoreError::UploadNotConfigured | CoreError::NoTrustedSigners => {
            BluezoneError::InvalidInput {
                code: 13,
                reason: message,
            }
        }
        CoreError::Network(_) => BluezoneError::Network {
            code: 30,
            reason: message,
        },
        CoreError::Server {
            status,
            code,
            message,
        } => BluezoneError::Server {
            code: 40,
            status: *status,
            server_code: code.clone(),
            reason: message.clone(),
        },
        CoreError::Protocol(_) => BluezoneError::Server {
            code: 41,
            status: 0,
            server_code: "unreadable_answer".into(),
            reason: message,
        },
        CoreError::KeyFile { .. } => BluezoneError::KeyFile {
            code: 50,
            reason: message,
        },
        CoreError::ConsentRequired => BluezoneError::ConsentRequired { code: 60 },
        CoreError::Poisoned => BluezoneError::Internal {
            code: 90,
            reason: message,
        },
    }
}

impl BluezoneError {
    /// The stable numeric code of any variant.
    #[must_use]
    pub fn code(&self) -> u32 {
        match self {
            Self::InvalidInput { code, .. }
            | Self::Storage { code, .. }
            | Self::Network { code, .. }
            | Self::Server { code, .. }
            | Self::KeyFile { code, .. }
            | Self::ConsentRequired { code }
            | Self::Internal { code, .. } => *code,
        }
    }
}
