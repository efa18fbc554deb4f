//! The stable codes of the health authority's refusals: one enum shared by the server, which
//! sends them in `{"code": ..., "message": ...}` bodies, and the phone, which recognises
//! them. The strings are the wire format and never change; `docs/PROTOCOL.md` lists them
//! with their HTTP statuses.

use std::fmt;
use std::str::FromStr;

/// Declares [`RefusalCode`] with its wire strings, in one place.
macro_rules! refusal_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)+) => {
        /// Why the health authority refused a request: the stable code of every refusal the
        /// server sends (HTTP statuses are the server's business, see `docs/PROTOCOL.md`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RefusalCode {
            $($(#[$doc])* $variant,)+
        }

        impl RefusalCode {
            /// Every code, in the order `docs/PROTOCOL.md` lists them.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The code as it is sent, e.g. `"code_invalid"`.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl FromStr for RefusalCode {
            type Err = UnknownRefusalCode;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownRefusalCode(text.to_owned())),
                }
            }
        }
    };
}

refusal_codes! {
    /// A request body the endpoint cannot read (malformed JSON, a field of the wrong type).
    BadRequest => "bad_request",
    /// A path parameter that is not of its type (a code id that is not a number).
    BadPath => "bad_path",
    /// A date that is not a real `YYYY-MM-DD` between 2020 and 2100.
    InvalidDate => "invalid_date",
    /// An official's name or password of the wrong length.
    InvalidOfficial => "invalid_official",
    /// A code asked for a report type other than confirmed test (1) or clinical diagnosis (2).
    InvalidReportType => "invalid_report_type",
    /// A verification code that is not 8 digits, unknown or revoked.
    CodeInvalid => "code_invalid",
    /// A verification code past its validity.
    CodeExpired => "code_expired",
    /// A verification code already redeemed.
    CodeUsed => "code_used",
    /// A token that is malformed, unknown, or already bound to other keys.
    TokenInvalid => "token_invalid",
    /// A token past its validity.
    TokenExpired => "token_expired",
    /// A key HMAC that is not 32 bytes of base64.
    HmacInvalid => "hmac_invalid",
    /// A sealed request that does not open with the server's key (answered in the clear).
    Unsealable => "unsealable",
    /// A certificate that is malformed or not signed by the server.
    CertificateInvalid => "certificate_invalid",
    /// A certificate past its validity: ask for a new one with the same token.
    CertificateExpired => "certificate_expired",
    /// The uploaded keys do not match the HMAC the certificate was issued for.
    HmacMismatch => "hmac_mismatch",
    /// An upload with no key.
    NoKeys => "no_keys",
    /// An upload with more keys than the server takes at once.
    TooManyKeys => "too_many_keys",
    /// A key that is not 16 bytes, or a rolling period or transmission risk out of range.
    InvalidKey => "invalid_key",
    /// A key that starts in the future.
    FutureKey => "future_key",
    /// A key that expired more than 15 days ago.
    KeyTooOld => "key_too_old",
    /// The same key twice in one upload.
    DuplicateKey => "duplicate_key",
    /// Keys of one upload overlapping in time.
    OverlappingKeys => "overlapping_keys",
    /// Missing or wrong credentials of an official.
    Unauthorized => "unauthorized",
    /// A path the server does not have.
    NotFound => "not_found",
    /// No unused code of this official with this id.
    CodeNotFound => "code_not_found",
    /// No published file of this name in the index.
    FileNotFound => "file_not_found",
    /// A method the path does not take.
    MethodNotAllowed => "method_not_allowed",
    /// The request did not arrive, or was not answered, within its deadline.
    RequestTimeout => "request_timeout",
    /// An official of this name exists.
    OfficialExists => "official_exists",
    /// A body larger than the server takes (answered in the clear).
    BodyTooLarge => "body_too_large",
    /// A body not of the type the endpoint takes (officials' API: JSON only).
    UnsupportedMediaType => "unsupported_media_type",
    /// Too many failed attempts (codes, logins) from this client or from everyone.
    TooManyAttempts => "too_many_attempts",
    /// A failure of the server's own; the details stay in its log.
    InternalError => "internal_error",
    /// The server is at capacity for this kind of work; retry shortly.
    ServerBusy => "server_busy",
}

impl RefusalCode {
    /// The code `text` names, or [`UnknownRefusalCode`] holding the text as received (a newer
    /// server may send codes this version does not know).
    ///
    /// # Errors
    /// [`UnknownRefusalCode`] for any text that is not one of [`RefusalCode::ALL`].
    pub fn parse(text: &str) -> Result<Self, UnknownRefusalCode> {
        text.parse()
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal code this version does not know, with its text as received.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown refusal code {0:?}")]
pub struct UnknownRefusalCode(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented list (`docs/PROTOCOL.md`), in its order: the wire format.
    const DOCUMENTED: &[&str] = &[
        "bad_request",
        "bad_path",
        "invalid_date",
        "invalid_official",
        "invalid_report_type",
        "code_invalid",
        "code_expired",
        "code_used",
        "token_invalid",
        "token_expired",
        "hmac_invalid",
        "unsealable",
        "certificate_invalid",
        "certificate_expired",
        "hmac_mismatch",
        "no_keys",
        "too_many_keys",
        "invalid_key",
        "future_key",
        "key_too_old",
        "duplicate_key",
        "overlapping_keys",
        "unauthorized",
        "not_found",
        "code_not_found",
        "file_not_found",
        "method_not_allowed",
        "request_timeout",
        "official_exists",
        "body_too_large",
        "unsupported_media_type",
        "too_many_attempts",
        "internal_error",
        "server_busy",
    ];

    #[test]
    fn the_codes_are_exactly_the_documented_strings() {
        let sent: Vec<&str> = RefusalCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(sent, DOCUMENTED);
    }

    #[test]
    fn every_code_round_trips() {
        for &code in RefusalCode::ALL {
            assert_eq!(RefusalCode::parse(code.as_str()), Ok(code));
            assert_eq!(code.to_string().parse::<RefusalCode>(), Ok(code));
        }
    }

    #[test]
    fn an_unknown_code_keeps_its_text() {
        for text in ["", "Code_Invalid", "code_invalid ", "a_newer_code"] {
            assert_eq!(
                RefusalCode::parse(text),
                Err(UnknownRefusalCode(text.to_owned()))
            );
        }
    }
}
