//! The HTTP form of refusals: every one a status and `{"code": ..., "message": ...}`, the
//! code one of [`RefusalCode`], never stored by a cache (`Cache-Control: no-store`).
//! [`http_status`] is the one table from codes to statuses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bluezone_protocol::messages::ErrorBody;
use bluezone_protocol::refusal::RefusalCode;

use crate::authority::AuthorityError;

/// The HTTP status of each refusal code: the only place codes meet statuses.
#[must_use]
pub const fn http_status(code: RefusalCode) -> StatusCode {
    use RefusalCode as C;
    match code {
        C::BadRequest
        | C::BadPath
        | C::InvalidDate
        | C::InvalidOfficial
        | C::InvalidReportType
        | C::CodeInvalid
        | C::CodeExpired
        | C::CodeUsed
        | C::TokenInvalid
        | C::TokenExpired
        | C::HmacInvalid
        | C::Unsealable
        | C::CertificateInvalid
        | C::CertificateExpired
        | C::HmacMismatch
        | C::NoKeys
        | C::TooManyKeys
        | C::InvalidKey
        | C::FutureKey
        | C::KeyTooOld
        | C::DuplicateKey
        | C::OverlappingKeys => StatusCode::BAD_REQUEST,
        C::Unauthorized => StatusCode::UNAUTHORIZED,
        C::NotFound | C::CodeNotFound | C::FileNotFound => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        C::OfficialExists => StatusCode::CONFLICT,
        C::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
        C::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        C::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A response extension (never sent) naming the refusal a response carries, in the clear or
/// sealed: what the metrics count refusals by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused(pub RefusalCode);

/// A response extension (never sent) marking the answer to a chaff request: the metrics count
/// it apart, never as an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chaff;

/// An HTTP refusal or failure: a code (its status is [`http_status`]) and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {code}: {message}", self.status().as_u16())]
pub struct ApiError {
    /// Stable machine code.
    pub code: RefusalCode,
    /// Human message (for an internal error, the detail for the log, never sent).
    pub message: String,
}

impl From<AuthorityError> for ApiError {
    fn from(e: AuthorityError) -> Self {
        Self {
            code: e.code,
            message: e.message,
        }
    }
}

impl ApiError {
    /// A refusal with its code and message.
    #[must_use]
    pub fn new(code: RefusalCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// The HTTP status.
    #[must_use]
    pub const fn status(&self) -> StatusCode {
        http_status(self.code)
    }
    /// 413.
    #[must_use]
    pub fn too_large(limit: usize) -> Self {
        AuthorityError::too_large(limit).into()
    }
    /// 408: the request did not arrive (or was not answered) within its deadline.
    #[must_use]
    pub fn request_timeout() -> Self {
        Self::new(RefusalCode::RequestTimeout, "the request took too long")
    }
    /// 404 for a path the server does not have.
    #[must_use]
    pub fn no_route() -> Self {
        Self::new(RefusalCode::NotFound, "no such endpoint")
    }
    /// 405 for a method the path does not take.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(
            RefusalCode::MethodNotAllowed,
            "this endpoint does not take that method",
        )
    }
    /// 415 for a body that is not of the type the endpoint takes.
    #[must_use]
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            RefusalCode::UnsupportedMediaType,
            format!("the body must be {expected}"),
        )
    }
    /// 503: the server is at capacity for this kind of work; retry shortly.
    #[must_use]
    pub fn busy(message: &str) -> Self {
        Self::new(RefusalCode::ServerBusy, message)
    }
    /// 500: the details stay in the server's log, not in the answer.
    #[must_use]
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AuthorityError::internal(detail).into()
    }

    /// The body sent for this error: internal details go to the server's log, not to the
    /// client.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        let message = if self.code == RefusalCode::InternalError {
            tracing::error!(detail = %self.message, "internal error");
            "internal error".to_owned()
        } else {
            // Messages may describe the client's input: at most 300 characters, so every
            // refusal fits a sealed reply.
            self.message.chars().take(300).collect()
        };
        ErrorBody {
            code: self.code.as_str().to_owned(),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        // A refusal holds for this request only: no cache (a CDN above all) may keep it.
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
        response.extensions_mut().insert(Refused(self.code));
        let retry_after = match self.code {
            RefusalCode::TooManyAttempts => Some("60"),
            RefusalCode::ServerBusy => Some("5"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(seconds),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statuses sent before the codes were an enum: the wire must not change.
    #[test]
    fn every_code_keeps_its_status() {
        let by_status: [(u16, &[&str]); 10] = [
            (401, &["unauthorized"]),
            (404, &["not_found", "code_not_found", "file_not_found"]),
            (405, &["method_not_allowed"]),
            (408, &["request_timeout"]),
            (409, &["official_exists"]),
            (413, &["body_too_large"]),
            (415, &["unsupported_media_type"]),
            (429, &["too_many_attempts"]),
            (500, &["internal_error"]),
            (503, &["server_busy"]),
        ];
        for &code in RefusalCode::ALL {
            let expected = by_status
                .iter()
                .find(|(_, codes)| codes.contains(&code.as_str()))
                .map_or(400, |(status, _)| *status);
            assert_eq!(http_status(code).as_u16(), expected, "{code}");
        }
    }
}
