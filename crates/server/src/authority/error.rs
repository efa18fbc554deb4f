//! [`AuthorityError`]: every refusal and failure of the authority, in the domain's terms — a
//! [`RefusalCode`] and a message. HTTP statuses are the HTTP layer's business
//! ([`crate::error`]).

use bluezone_protocol::refusal::RefusalCode;

/// Why the authority refused or failed. The message never holds a code, a token, a key or a
/// password; for [`RefusalCode::InternalError`] it is the detail for the server's log, never
/// sent to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code})")]
pub struct AuthorityError {
    /// The stable code a client recognises the refusal by.
    pub code: RefusalCode,
    /// What went wrong, for people (or, for an internal error, for the log).
    pub message: String,
}

impl AuthorityError {
    /// A refusal with its code and message.
    #[must_use]
    pub fn refused(code: RefusalCode, message: &str) -> Self {
        Self {
            code,
            message: message.to_owned(),
        }
    }

    /// A failure of the server's own (storage, a poisoned lock...), with the detail for the
    /// log.
    #[must_use]
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self {
            code: RefusalCode::InternalError,
            message: detail.to_string(),
        }
    }

    /// A body larger than the server takes.
    #[must_use]
    pub fn too_large(limit: usize) -> Self {
        Self {
            code: RefusalCode::BodyTooLarge,
            message: format!("bodies are at most {limit} bytes"),
        }
    }

    /// Whether it is a failure of the server's own rather than a refusal of the request.
    #[must_use]
    pub fn is_internal(&self) -> bool {
        self.code == RefusalCode::InternalError
    }
}

/// What is wrong with a JSON body, without quoting it: a parser's message can quote a value
/// (a code, a key), so only its kind and place are told.
#[must_use]
pub(crate) fn json_problem(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "not valid JSON",
        Category::Eof => "cut short",
        Category::Data => "a field is missing, unknown or of the wrong type",
        Category::Io => "unreadable",
    };
    format!("{what} (line {}, column {})", e.line(), e.column())
}
