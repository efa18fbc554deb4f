//! The HTTP surface (axum): phones' verify, certificate, publish and download endpoints,
//! officials' JSON API (HTTP Basic credentials) and their web page. Handlers only translate:
//! every decision is in [`Authority`]. Blocking work (SQLite, Argon2, signing) runs on the
//! blocking pool.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64, Encoding};
use bluezone_protocol::messages::{CertificateRequest, VerifyRequest};
use serde::{Deserialize, Serialize};

use crate::authority::Authority;
use crate::error::ApiError;

/// What handlers share: the authority and the clock.
#[derive(Clone)]
pub struct AppState {
    /// The health authority.
    pub authority: Arc<Authority>,
    /// Current Unix time in seconds.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    let limit = state.authority.config().max_body_bytes;
    Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/certificate", post(certificate))
        .route("/v1/publish", post(publish))
        .route("/v1/upload-key", get(upload_key))
        .route("/v1/index.txt", get(index))
        .route("/v1/files/{name}", get(file))
        .route("/api/official/codes", post(issue_code).get(list_codes))
        .route("/api/official/codes/{id}/revoke", post(revoke_code))
        .route("/official", get(page))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// A request body, or the refusal with our error format (axum's own is plain text).
type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

fn body_bytes(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.authority.config().max_body_bytes)
        } else {
            ApiError::bad_request("bad_request", &e.body_text())
        }
    })
}

fn json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("bad_request", &format!("malformed request: {e}")))
}

async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> Result<Response, ApiError> {
    let request: VerifyRequest = json(&body_bytes(&state, body)?)?;
    let now = (state.clock)();
    let client = peer.ip().to_string();
    let answer = blocking(move || state.authority.verify(&client, &request.code, now)).await?;
    Ok(Json(answer).into_response())
}

async fn certificate(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let request: CertificateRequest = json(&body_bytes(&state, body)?)?;
    let now = (state.clock)();
    let answer = blocking(move || {
        state
            .authority
            .certificate(&request.token, &request.ekeyhmac, now)
    })
    .await?;
    Ok(Json(answer).into_response())
}

async fn publish(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    let body = body_bytes(&state, body)?;
    let now = (state.clock)();
    let answer = blocking(move || state.authority.publish(&body, now)).await?;
    Ok(Json(answer).into_response())
}

async fn upload_key(State(state): State<AppState>) -> Response {
    Json(serde_json::json!({
        "uploadKey": Base64::encode_string(&state.authority.upload_public_key()),
        "suite": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM",
    }))
    .into_response()
}

async fn index(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = blocking(move || state.authority.index()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], text).into_response())
}

async fn file(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let bytes = blocking(move || state.authority.file(&name)).await?;
    Ok(([(header::CONTENT_TYPE, "application/zip")], bytes).into_response())
}

/// The official named by HTTP Basic credentials.
async fn official(state: &AppState, headers: &HeaderMap) -> Result<i64, ApiError> {
    let unauthorized =
        || ApiError::unauthorized("HTTP Basic credentials of an official are required");
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(unauthorized)?;
    let decoded = Base64::decode_vec(value.trim()).map_err(|_| unauthorized())?;
    let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
    let (name, password) = text.split_once(':').ok_or_else(unauthorized)?;
    let (name, password) = (name.to_owned(), password.to_owned());
    let authority = state.authority.clone();
    blocking(move || authority.authenticate(&name, &password)).await
}

/// An official's request for a code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IssueRequest {
    /// 1: confirmed test (default), 2: clinical diagnosis.
    #[serde(default = "confirmed")]
    report_type: u8,
    /// Symptom onset date, `YYYY-MM-DD`.
    symptom_onset_date: Option<String>,
    /// Test date, `YYYY-MM-DD`.
    test_date: Option<String>,
}

fn confirmed() -> u8 {
    1
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct IssueResponse {
    id: i64,
    code: String,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeView {
    id: i64,
    report_type: u8,
    symptom_onset_interval: Option<u32>,
    test_date: Option<String>,
    created_at: i64,
    expires_at: i64,
    status: &'static str,
}

/// Days since 1970 of a `YYYY-MM-DD` date (Howard Hinnant's `days_from_civil`).
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || !(2020..=2100).contains(&y)
    {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

async fn issue_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let official_id = official(&state, &headers).await?;
    let request: IssueRequest = json(&body_bytes(&state, body)?)?;
    let onset = match &request.symptom_onset_date {
        None => None,
        Some(date) => Some(
            parse_date(date)
                .and_then(|days| u32::try_from(days * 144).ok())
                .ok_or_else(|| ApiError::bad_request("invalid_date", "dates are YYYY-MM-DD"))?,
        ),
    };
    if let Some(date) = &request.test_date {
        parse_date(date)
            .ok_or_else(|| ApiError::bad_request("invalid_date", "dates are YYYY-MM-DD"))?;
    }
    let now = (state.clock)();
    let issued = blocking(move || {
        state.authority.issue_code(
            official_id,
            request.report_type,
            onset,
            request.test_date,
            now,
        )
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssueResponse {
            id: issued.id,
            code: issued.code,
            expires_at: issued.expires_at,
        }),
    )
        .into_response())
}

async fn list_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let official_id = official(&state, &headers).await?;
    let now = (state.clock)();
    let codes = blocking(move || state.authority.codes(official_id)).await?;
    let views: Vec<CodeView> = codes
        .into_iter()
        .map(|c| CodeView {
            id: c.id,
            report_type: c.claims.report_type,
            symptom_onset_interval: c.claims.symptom_onset_interval,
            test_date: c.test_date,
            created_at: c.created_at,
            expires_at: c.expires_at,
            status: if c.revoked_at.is_some() {
                "revoked"
            } else if c.used_at.is_some() {
                "used"
            } else if now > c.expires_at {
                "expired"
            } else {
                "pending"
            },
        })
        .collect();
    Ok(Json(views).into_response())
}

async fn revoke_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let official_id = official(&state, &headers).await?;
    let now = (state.clock)();
    blocking(move || state.authority.revoke_code(official_id, id, now)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn page() -> Html<&'static str> {
    Html(include_str!("official.html"))
}
