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
    /// 408: the request did not arrive (or was not answered) within its deadline.
    #[must_use]
    pub fn request_timeout() -> Self {
        Self {
            status: 408,
            code: "request_timeout",
            message: "the request took too long".to_owned(),
        }
    }
    /// 404 for a path the server does not have.
    #[must_use]
    pub fn no_route() -> Self {
        Self::not_found("not_found", "no such endpoint")
    }
    /// 405 for a method the path does not take.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self {
            status: 405,
            code: "method_not_allowed",
            message: "this endpoint does not take that method".to_owned(),
        }
    }
    /// 415 for a body that is not of the type the endpoint takes.
    #[must_use]
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self {
            status: 415,
            code: "unsupported_media_type",
            message: format!("the body must be {expected}"),
        }
    }
    /// 503: the server is at capacity for this kind of work; retry shortly.
    #[must_use]
    pub fn busy(message: &str) -> Self {
        Self {
            status: 503,
            code: "server_busy",
            message: message.to_owned(),
        }
    }
    /// 500 for an answer that cannot be encoded.
    #[must_use]
    pub fn from_json(e: serde_json::Error) -> Self {
        Self::internal(e.to_string())
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

impl ApiError {
    /// The body sent for this error: internal details go to the server's log, not to the
    /// client.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        let message = if self.code == "internal_error" {
            eprintln!("bluezone-server: internal error: {}", self.message);
            "internal error".to_owned()
        } else {
            // Messages may quote the client's input (a parse error): at most 300 characters,
            // so every refusal fits a sealed reply and logs stay small.
            self.message.chars().take(300).collect()
        };
        ErrorBody {
            code: self.code.to_owned(),
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body())).into_response();
        let retry_after = match self.status {
            429 => Some("60"),
            503 => Some("5"),
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
