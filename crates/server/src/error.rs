//! Refusals with stable codes: every 4xx carries `{"code": ..., "message": ...}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bluezone_protocol::messages::ErrorBody;

/// An HTTP refusal or failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// Stable machine code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// 400 with a code.
    #[must_use]
    pub fn bad_request(code: &'static str, message: &str) -> Self {
        Self {
            status: 400,
            code,
            message: message.to_owned(),
        }
    }
    /// 401.
    #[must_use]
    pub fn unauthorized(message: &str) -> Self {
        Self {
            status: 401,
            code: "unauthorized",
            message: message.to_owned(),
        }
    }
    /// 404 with a code.
    #[must_use]
    pub fn not_found(code: &'static str, message: &str) -> Self {
        Self {
            status: 404,
            code,
            message: message.to_owned(),
        }
    }
    /// 409 with a code.
    #[must_use]
    pub fn conflict(code: &'static str, message: &str) -> Self {
        Self {
            status: 409,
            code,
            message: message.to_owned(),
        }
    }
    /// 413.
    #[must_use]
    pub fn too_large(limit: usize) -> Self {
        Self {
            status: 413,
            code: "body_too_large",
            message: format!("bodies are at most {limit} bytes"),
        }
    }
    /// 429.
    #[must_use]
    pub fn too_many(message: &str) -> Self {
        Self {
            status: 429,
            code: "too_many_attempts",
            message: message.to_owned(),
        }
    }
    /// 500: the details stay in the server's log, not in the answer.
    #[must_use]
    pub fn internal(detail: String) -> Self {
        Self {
            status: 500,
            code: "internal_error",
            message: detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = if self.status >= 500 {
            eprintln!("bluezone-server: internal error: {}", self.message);
            "internal error".to_owned()
        } else {
            self.message
        };
        (
            status,
            axum::Json(ErrorBody {
                code: self.code.to_owned(),
                message,
            }),
        )
            .into_response()
    }
}
