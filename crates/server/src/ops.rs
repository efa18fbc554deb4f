//! Operations endpoints (part of the HTTP layer, beside [`crate::api`]): `/healthz` (the
//! process answers), `/readyz` (the database answers and the secret is loaded; 503
//! otherwise), `/metrics` ([`crate::metrics::Metrics`] in the Prometheus text format), and
//! the middleware that counts every request by route and status, refusals by code and
//! accepted uploads.
//!
//! `/healthz` and `/readyz` are on the public router too (a load balancer checks the port
//! it sends traffic to); `/metrics` is only on [`ops_router`], served on its own address
//! (`bluezone server run --ops-listen`): it counts uploads, which the padded key files hide
//! from everyone else. Decision 0017.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::AppState;
use crate::error::{ApiError, Chaff, Refused};

/// The route label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// The operations router: `/healthz`, `/readyz` and `/metrics`; JSON 404 elsewhere.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::no_route() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
        .into_response()
}

/// `GET /healthz`: the process is alive and answering.
pub(crate) async fn healthz() -> Response {
    no_store(StatusCode::OK, serde_json::json!({ "status": "alive" }))
}

/// `GET /readyz`: 200 when the database answers a query (and so the secret, without which
/// there is no [`crate::Authority`], is loaded), else 503.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let authority = state.authority.clone();
    let database = tokio::task::spawn_blocking(move || authority.store.files_since(i64::MAX))
        .await
        .map_err(|e| e.to_string())
        .and_then(|answer| answer.map_err(|e| e.to_string()));
    match database {
        Ok(_) => no_store(
            StatusCode::OK,
            serde_json::json!({ "status": "ready", "database": "ok", "secret": "loaded" }),
        ),
        Err(error) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            no_store(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({
                    "status": "not_ready", "database": "unreachable", "secret": "loaded"
                }),
            )
        }
    }
}

/// `GET /metrics`.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics.encode().map_err(ApiError::internal)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response())
}

/// Counts a request by route template and status, its refusal by code, a chaff request by
/// route, and an upload accepted (a `200` from `/v1/publish` that is neither a sealed refusal
/// nor chaff).
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    let status = response.status();
    state.metrics.request(&route, status.as_u16());
    if let Some(Refused(code)) = response.extensions().get::<Refused>() {
        state.metrics.refused(*code);
    } else if response.extensions().get::<Chaff>().is_some() {
        state.metrics.chaff(&route);
    } else if status == StatusCode::OK && route == "/v1/publish" {
        state.metrics.upload_accepted();
    }
    response
}
