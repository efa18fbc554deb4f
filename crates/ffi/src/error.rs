//! One flat error for every language, with stable numeric codes grouped by tens per area.
//! Messages are log-safe: no keys, identifiers or codes.

use bluezone_core::CoreError;

/// The stable numeric codes of [`BluezoneError`], one name each. Grouped by tens per area;
/// a code is never reused for another meaning.
pub mod codes {
    /// The app passed something invalid (a master key that is not 32 bytes, a bad signer key).
    pub const INVALID_INPUT: u32 = 10;
    /// The configuration is inconsistent, or the clock is outside the GAEN time base.
    pub const INVALID_CONFIG: u32 = 11;
    /// A verification code that is not 8 digits.
    pub const INVALID_CODE: u32 = 12;
    /// Uploads or downloads are not configured (no upload key, no trusted signer).
    pub const NOT_CONFIGURED: u32 = 13;
    /// The master key does not open the store.
    pub const STORAGE_WRONG_KEY: u32 = 20;
    /// The store, or state kept in it, is damaged or tampered with.
    pub const STORAGE_CORRUPT: u32 = 21;
    /// The disk is full.
    pub const STORAGE_FULL: u32 = 22;
    /// Any other storage failure.
    pub const STORAGE_OTHER: u32 = 29;
    /// The server could not be reached.
    pub const NETWORK: u32 = 30;
    /// The server refused; its own stable code is in `server_code`.
    pub const SERVER_REFUSED: u32 = 40;
    /// The server's answer was unreadable (or not the server's: a captive portal).
    pub const SERVER_UNREADABLE: u32 = 41;
    /// A key file was refused (signature, format, signer).
    pub const KEY_FILE: u32 = 50;
    /// The person's consent is missing or too old.
    pub const CONSENT_REQUIRED: u32 = 60;
    /// A bug or an unexpected failure, including a panic caught in the core.
    pub const INTERNAL: u32 = 90;
}

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
            code: codes::INVALID_INPUT,
            reason: message.to_owned(),
        }
    }

    pub(crate) fn internal(message: &str) -> Self {
        Self::Internal {
            code: codes::INTERNAL,
            reason: message.to_owned(),
        }
    }
}

impl From<uniffi::UnexpectedUniFFICallbackError> for BluezoneError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Network {
            code: codes::NETWORK,
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
            code: codes::STORAGE_WRONG_KEY,
            reason: message,
        },
        CoreError::Store(StoreError::Corrupt(_) | StoreError::Tampered { .. })
        | CoreError::Chunk(_)
        | CoreError::OwnKey(_)
        | CoreError::ExposureRecord(_)
        | CoreError::LocalState(_) => BluezoneError::Storage {
            code: codes::STORAGE_CORRUPT,
            reason: message,
        },
        CoreError::Store(StoreError::Full) => BluezoneError::Storage {
            code: codes::STORAGE_FULL,
            reason: message,
        },
        CoreError::Store(_) => BluezoneError::Storage {
            code: codes::STORAGE_OTHER,
            reason: message,
        },
        CoreError::InvalidConfig(_) | CoreError::Clock(_) => BluezoneError::InvalidInput {
            code: codes::INVALID_CONFIG,
            reason: message,
        },
        CoreError::InvalidCode => BluezoneError::InvalidInput {
            code: codes::INVALID_CODE,
            reason: message,
        },
        CoreError::UploadNotConfigured | CoreError::NoTrustedSigners => {
            BluezoneError::InvalidInput {
                code: codes::NOT_CONFIGURED,
                reason: message,
            }
        }
        CoreError::Network(_) => BluezoneError::Network {
            code: codes::NETWORK,
            reason: message,
        },
        CoreError::Server {
            status,
            code,
            message,
        } => BluezoneError::Server {
            code: codes::SERVER_REFUSED,
            status: *status,
            server_code: code.as_str().to_owned(),
            reason: message.clone(),
        },
        CoreError::Protocol(_) => BluezoneError::Server {
            code: codes::SERVER_UNREADABLE,
            status: 0,
            server_code: "unreadable_answer".into(),
            reason: message,
        },
        CoreError::KeyFile { .. } => BluezoneError::KeyFile {
            code: codes::KEY_FILE,
            reason: message,
        },
        CoreError::ConsentRequired => BluezoneError::ConsentRequired {
            code: codes::CONSENT_REQUIRED,
        },
        CoreError::Poisoned => BluezoneError::Internal {
            code: codes::INTERNAL,
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

#[cfg(test)]
mod tests {
    use super::*;
    use bluezone_core::TransportError;
    use bluezone_protocol::keyfile::KeyFileError;
    use bluezone_store::StoreError;

    fn code_of(e: CoreError) -> u32 {
        from_core(&e).code()
    }

    #[test]
    fn every_core_error_has_its_code() {
        use codes::*;
        let server = |status| CoreError::Server {
            status,
            code: "code_invalid".into(),
            message: "no".into(),
        };
        let cases = [
            (CoreError::Store(StoreError::WrongKey), STORAGE_WRONG_KEY),
            (
                CoreError::Store(StoreError::Corrupt("x".into())),
                STORAGE_CORRUPT,
            ),
            (CoreError::Store(StoreError::NotAStore), STORAGE_OTHER),
            (
                CoreError::Store(StoreError::Tampered { what: "x".into() }),
                STORAGE_CORRUPT,
            ),
            (CoreError::Store(StoreError::Full), STORAGE_FULL),
            (CoreError::Store(StoreError::ReadOnly), STORAGE_OTHER),
            (
                CoreError::Store(StoreError::Io(std::io::Error::other("EIO"))),
                STORAGE_OTHER,
            ),
            (
                CoreError::LocalState("a pending key".into()),
                STORAGE_CORRUPT,
            ),
            (CoreError::InvalidConfig("x"), INVALID_CONFIG),
            (CoreError::InvalidCode, INVALID_CODE),
            (CoreError::UploadNotConfigured, NOT_CONFIGURED),
            (CoreError::NoTrustedSigners, NOT_CONFIGURED),
            (CoreError::Network(TransportError("x".into())), NETWORK),
            (server(400), SERVER_REFUSED),
            (CoreError::Protocol("x".into()), SERVER_UNREADABLE),
            (
                CoreError::KeyFile {
                    index: 0,
                    error: KeyFileError::NoSignature,
                },
                KEY_FILE,
            ),
            (CoreError::ConsentRequired, CONSENT_REQUIRED),
            (CoreError::Poisoned, INTERNAL),
        ];
        for (error, code) in cases {
            let text = format!("{error:?}");
            assert_eq!(code_of(error), code, "{text}");
        }
    }

    #[test]
    fn the_server_s_code_is_passed_on_as_its_text() {
        use bluezone_core::ServerCode;
        use bluezone_protocol::refusal::RefusalCode;
        for (code, text) in [
            (ServerCode::Known(RefusalCode::CodeInvalid), "code_invalid"),
            (ServerCode::Unknown("a_newer_code".into()), "a_newer_code"),
            (ServerCode::Unsealed, "unsealed_refusal"),
            (ServerCode::Missing, "unknown"),
        ] {
            let e = from_core(&CoreError::Server {
                status: 400,
                code,
                message: "no".into(),
            });
            assert!(
                matches!(&e, BluezoneError::Server { server_code, status: 400, .. } if server_code == text),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_local_fault_is_never_reported_as_the_server_s() {
        let e = from_core(&CoreError::LocalState("the pending upload".into()));
        assert!(matches!(e, BluezoneError::Storage { .. }), "{e:?}");
    }
}
