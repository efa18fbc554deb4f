//! The HTTP surface (axum): phones' verify, certificate, publish and download endpoints
//! (the first three sealed both ways, see [`bluezone_protocol::exchange`]), officials' JSON
//! API (HTTP Basic credentials) and their web page. Handlers only translate:
//! every decision is in [`Authority`]. Blocking work (SQLite, Argon2, signing) runs on the
//! blocking pool; password checks first wait (briefly) for one of a bounded number of
//! permits. Every refusal, including unknown paths and methods, is JSON with a stable code.
//! Downloads (with their cache headers) are in [`crate::downloads`], `/healthz`, `/readyz`
//! and the request counting in [`crate::ops`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64ct::{Base64, Encoding};
use bluezone_protocol::DayNumber;
use bluezone_protocol::messages::{CertificateRequest, VerifyRequest};
use bluezone_protocol::refusal::RefusalCode;
use serde::{Deserialize, Serialize};

use crate::authority::{
    Authority, AuthorityError, CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD, json_problem,
};
use crate::client::ClientAddressPolicy;
use crate::downloads::{self, DownloadCache};
use crate::error::{ApiError, Chaff, Refused};
use crate::limits::client_key;
use crate::metrics::Metrics;
use crate::ops;

/// What handlers share: the authority, the clock and how clients are identified.
#[derive(Clone)]
pub struct AppState {
    /// The health authority.
    pub authority: Arc<Authority>,
    /// Current Unix time in seconds.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Which proxies' client-address header is believed.
    pub clients: Arc<ClientAddressPolicy>,
    /// Longest wait for a password-check permit before answering 503 (default 5 s).
    pub password_wait: Duration,
    /// Shortest time before a sealed reply goes out (default none; `bluezone server run`
    /// uses 100 ms): a refusal is answered no faster than a success, whose write is synced.
    pub sealed_reply_floor: Duration,
    /// The index's `max-age` and how long an index built is reused (default 300 s, never).
    pub downloads: Arc<DownloadCache>,
    /// The counters `/metrics` shows.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// State with no trusted proxy and the default password wait.
    #[must_use]
    pub fn new(authority: Arc<Authority>, clock: Arc<dyn Fn() -> i64 + Send + Sync>) -> Self {
        Self {
            authority,
            clock,
            clients: Arc::new(ClientAddressPolicy::default()),
            password_wait: Duration::from_secs(5),
            sealed_reply_floor: Duration::ZERO,
            downloads: Arc::new(DownloadCache::default()),
            metrics: Arc::new(Metrics::new()),
        }
    }

    /// The rate-limit key of the client that sent a request.
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> String {
        client_key(self.clients.client(peer.ip(), headers))
    }
}

/// The router with every public route (`/metrics` is on [`crate::ops::ops_router`]).
pub fn router(state: AppState) -> Router {
    let limit = state.authority.config().max_body_bytes;
    Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/certificate", post(certificate))
        .route("/v1/publish", post(publish))
        .route("/v1/upload-key", get(upload_key))
        .route("/v1/index.txt", get(downloads::index))
        .route("/v1/files/{name}", get(downloads::file))
        .route("/v1/risk-config.json", get(downloads::risk_config))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/api/official/codes", post(issue_code).get(list_codes))
        .route("/api/official/codes/{id}/revoke", post(revoke_code))
        .route("/api/official/activity", get(activity))
        .route("/api/official/risk-config", get(official_risk_config))
        .route("/official", get(page))
        .route("/official.js", get(page_script))
        .route("/official.css", get(page_style))
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track,
        ))
        .with_state(state)
}

/// Runs `f` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(Into::into)
}

/// A request body, or the refusal with our error format (axum's own is plain text).
type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

fn body_bytes(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(state.authority.config().max_body_bytes)
        } else {
            ApiError::new(RefusalCode::BadRequest, e.body_text())
        }
    })
}

fn json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AuthorityError> {
    serde_json::from_slice(body).map_err(|e| {
        AuthorityError::refused(
            RefusalCode::BadRequest,
            &format!("malformed request: {}", json_problem(&e)),
        )
    })
}

/// A path parameter, or the refusal in our error format.
pub(crate) fn path<T>(param: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    param
        .map(|Path(value)| value)
        .map_err(|e| ApiError::new(RefusalCode::BadPath, e.body_text()))
}

/// Officials' JSON API only takes `application/json` bodies: a cross-site form (which a
/// browser may send with the official's remembered Basic credentials) cannot post it, and a
/// script on another origin must pass a CORS preflight this server never grants.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type("application/json"))
    }
}

/// What a sealed answer carried, for the metrics.
enum Marked {
    Refused(Refused),
    Chaff,
}

/// Runs a sealed endpoint: opens the request, lets `handle` answer its plaintext (or
/// [`Authority::answer_chaff`] when it is chaff), and seals the answer, success or refusal,
/// into a 200 of constant size (see [`bluezone_protocol::exchange`]) sent no sooner than
/// [`AppState::sealed_reply_floor`]. Only a body that does not open is refused in the clear.
async fn sealed<T: Serialize>(
    state: AppState,
    aad: &'static [u8],
    body: Body,
    handle: impl FnOnce(&Authority, &[u8], i64) -> Result<T, AuthorityError> + Send + 'static,
) -> Result<Response, ApiError> {
    let body = body_bytes(&state, body)?;
    let now = (state.clock)();
    let not_before = tokio::time::Instant::now() + state.sealed_reply_floor;
    let (sealed, refused) = blocking(move || {
        let authority = &state.authority;
        let (plaintext, reply_key) = authority.open_request(aad, &body)?;
        // Chaff is answered like a success, after the same floor, and goes no further.
        let chaff = authority.answer_chaff(aad, &plaintext);
        let is_chaff = chaff.is_some();
        let answer = match chaff {
            Some(chaff) => Ok(serde_json::to_vec(&chaff)),
            None => handle(authority, &plaintext, now).map(|a| serde_json::to_vec(&a)),
        };
        let (status, reply, refused) = match answer {
            Ok(answer) => (
                200,
                answer.map_err(AuthorityError::internal)?,
                is_chaff.then_some(Marked::Chaff),
            ),
            Err(error) => {
                let error = ApiError::from(error);
                (
                    error.status().as_u16(),
                    serde_json::to_vec(&error.body()).map_err(ApiError::internal)?,
                    Some(Marked::Refused(Refused(error.code))),
                )
            }
        };
        Ok::<_, ApiError>((authority.seal_reply(&reply_key, status, &reply)?, refused))
    })
    .await?;
    tokio::time::sleep_until(not_before).await;
    let mut response =
        ([(header::CONTENT_TYPE, "application/octet-stream")], sealed).into_response();
    // Never sent: only the metrics read them.
    match refused {
        Some(Marked::Refused(refused)) => {
            response.extensions_mut().insert(refused);
        }
        Some(Marked::Chaff) => {
            response.extensions_mut().insert(Chaff);
        }
        None => {}
    }
    Ok(response)
}

async fn verify(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let client = state.client(peer, &headers);
    sealed(state, VERIFY_AAD, body, move |authority, plaintext, now| {
        let request: VerifyRequest = json(plaintext)?;
        authority.verify(&client, &request.code, now)
    })
    .await
}

async fn certificate(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    sealed(state, CERTIFICATE_AAD, body, |authority, plaintext, now| {
        let request: CertificateRequest = json(plaintext)?;
        authority.certificate(&request.token, &request.ekeyhmac, now)
    })
    .await
}

async fn publish(State(state): State<AppState>, body: Body) -> Result<Response, ApiError> {
    sealed(state, PUBLISH_AAD, body, |authority, plaintext, now| {
        authority.publish(plaintext, now)
    })
    .await
}

async fn upload_key(State(state): State<AppState>) -> Response {
    Json(serde_json::json!({
        "uploadKey": Base64::encode_string(&state.authority.upload_public_key()),
        "suite": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM",
    }))
    .into_response()
}

/// The official named by HTTP Basic credentials.
async fn official(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<i64, ApiError> {
    let unauthorized = || {
        ApiError::new(
            RefusalCode::Unauthorized,
            "HTTP Basic credentials of an official are required",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .ok_or_else(unauthorized)?;
    let decoded = Base64::decode_vec(value.trim()).map_err(|_| unauthorized())?;
    let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
    let (name, password) = text.split_once(':').ok_or_else(unauthorized)?;
    let (name, password) = (
        name.to_owned(),
        zeroize::Zeroizing::new(password.to_owned()),
    );
    let client = state.client(peer, headers);
    // Each check holds 19 MiB for ~20 ms: only a few run at once, the rest wait briefly.
    let permit = tokio::time::timeout(
        state.password_wait,
        state.authority.password_checks().acquire_owned(),
    )
    .await
    .map_err(|_| ApiError::busy("too many sign-ins at once; try again in a few seconds"))?
    .map_err(ApiError::internal)?;
    let authority = state.authority.clone();
    let now = (state.clock)();
    blocking(move || {
        let result = authority.authenticate(&client, &name, &password, now);
        drop(permit);
        result
    })
    .await
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

/// No `Debug`: it carries a code.
#[derive(Serialize)]
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

/// Days since 1970 of a real `YYYY-MM-DD` date between 2020 and 2100.
fn parse_date(text: &str) -> Option<i64> {
    let day = DayNumber::from_civil_date(text)?;
    let first = DayNumber::from_civil_date("2020-01-01")?;
    let last = DayNumber::from_civil_date("2100-12-31")?;
    (first..=last).contains(&day).then(|| i64::from(day.get()))
}

fn invalid_date() -> ApiError {
    ApiError::new(RefusalCode::InvalidDate, "dates are YYYY-MM-DD")
}

async fn issue_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let official_id = official(&state, peer, &headers).await?;
    let request: IssueRequest = json(&body_bytes(&state, body)?)?;
    let onset = match &request.symptom_onset_date {
        None => None,
        Some(date) => Some(
            parse_date(date)
                .and_then(|days| u32::try_from(days * 144).ok())
                .ok_or_else(invalid_date)?,
        ),
    };
    if let Some(date) = &request.test_date {
        parse_date(date).ok_or_else(invalid_date)?;
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
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let official_id = official(&state, peer, &headers).await?;
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

/// `GET /api/official/risk-config`: the current risk configuration's document as the
/// authority wrote it (`docs/PROTOCOL.md`), or `null` when none is published; for the
/// officials' page.
async fn official_risk_config(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    official(&state, peer, &headers).await?;
    let current = blocking(move || state.authority.risk_config()).await?;
    Ok(Json(current.map(|p| p.verified.document)).into_response())
}

async fn revoke_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path(id)?;
    require_json(&headers)?;
    let official_id = official(&state, peer, &headers).await?;
    let now = (state.clock)();
    blocking(move || state.authority.revoke_code(official_id, id, now)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One day of [`Authority::activity`] as the officials' API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DayView {
    /// `YYYY-MM-DD` (UTC).
    day: String,
    codes_issued: u64,
    codes_used: u64,
    uploads_accepted: u64,
    files_published: u64,
}

async fn activity(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    official(&state, peer, &headers).await?;
    let now = (state.clock)();
    let days = blocking(move || state.authority.activity(now)).await?;
    let views: Vec<DayView> = days
        .into_iter()
        .map(|d| DayView {
            day: d.day.to_civil_date(),
            codes_issued: d.codes_issued,
            codes_used: d.codes_used,
            uploads_accepted: d.uploads_accepted,
            files_published: d.files_published,
        })
        .collect();
    Ok(Json(views).into_response())
}

/// Headers that keep the officials' page from being framed, sniffed or made to run
/// anything but its own script.
fn page_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 6] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                 img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

async fn page() -> Response {
    (
        page_headers("text/html; charset=utf-8"),
        include_str!("official.html"),
    )
        .into_response()
}

async fn page_script() -> Response {
    (
        page_headers("text/javascript; charset=utf-8"),
        include_str!("official.js"),
    )
        .into_response()
}

async fn page_style() -> Response {
    (
        page_headers("text/css; charset=utf-8"),
        include_str!("official.css"),
    )
        .into_response()
}
