//! Downloads ready for a CDN (part of the HTTP layer, beside [`crate::api`]): `GET` and
//! `HEAD` of `/v1/index.txt` and `/v1/files/<name>` with the headers a shared cache needs.
//!
//! - Key files never change under their name: `Cache-Control: public, max-age=31536000,
//!   immutable`, `ETag` their SHA-256 as recorded when written, `Last-Modified` when they
//!   were published.
//! - The index changes hourly: `Cache-Control: public, max-age=<index max age>` (default
//!   300 s), `ETag` the SHA-256 of its text. It has no `Last-Modified`: it also changes when
//!   a file ages out of it, a time the store does not record.
//! - A request whose `If-None-Match` names the current tag is answered `304 Not Modified`
//!   with the same cache headers and no body.
//!
//! The server may keep the index it built for a short while ([`DownloadCache`]): with a
//! `max-age` of minutes at the CDN, a second more at the origin is invisible, and it spares
//! the database one query per poll. Refusals stay JSON with `Cache-Control: no-store`
//! ([`crate::error::ApiError`]). Decision 0016.
//!
//! `GET /v1/risk-config.json` serves the authority's current signed risk configuration
//! (decision 0021) like the index: `ETag` its SHA-256, the index's `max-age`, `404` when none
//! is published.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api::{AppState, blocking, path};
use crate::error::ApiError;

/// `Content-Type` of a key file.
pub const FILE_CONTENT_TYPE: &str = "application/zip";
/// `Content-Type` of the risk configuration.
pub const RISK_CONFIG_CONTENT_TYPE: &str = "application/json";
/// `Content-Type` of the index.
pub const INDEX_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// `Cache-Control` of a key file: its name is never reused, so it may be kept a year.
pub const FILE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// Default `max-age` of the index, in seconds.
pub const DEFAULT_INDEX_MAX_AGE: u32 = 300;

/// `Cache-Control` of the index with a `max-age` of `max_age` seconds.
#[must_use]
pub fn index_cache_control(max_age: u32) -> String {
    format!("public, max-age={max_age}")
}

/// A strong entity tag from a SHA-256: its hex, quoted.
#[must_use]
pub fn etag(sha256: &[u8; 32]) -> String {
    let mut tag = String::with_capacity(66);
    tag.push('"');
    for byte in sha256 {
        let _ = write!(tag, "{byte:02x}");
    }
    tag.push('"');
    tag
}

/// A body as served: its bytes and its tag.
#[derive(Debug)]
struct Served {
    body: Bytes,
    etag: HeaderValue,
}

impl Served {
    fn new(body: Vec<u8>, sha256: &[u8; 32]) -> Result<Self, ApiError> {
        Ok(Self {
            etag: HeaderValue::from_str(&etag(sha256)).map_err(ApiError::internal)?,
            body: Bytes::from(body),
        })
    }
}

/// A value this server built, kept with the time it was built.
#[derive(Debug)]
struct Reused<T>(Mutex<Option<(Instant, Arc<T>)>>);

impl<T> Reused<T> {
    const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The value, if it was built less than `period` ago.
    fn get(&self, period: Duration) -> Option<Arc<T>> {
        let cached = self.0.lock().ok()?;
        cached
            .as_ref()
            .filter(|(built, _)| built.elapsed() < period)
            .map(|(_, value)| value.clone())
    }

    /// Keeps `value` (unless `period` is zero: nothing is reused).
    fn keep(&self, period: Duration, value: &Arc<T>) {
        if !period.is_zero()
            && let Ok(mut cached) = self.0.lock()
        {
            *cached = Some((Instant::now(), value.clone()));
        }
    }
}

/// How downloads are cached: the index's `max-age`, and how long this server reuses an
/// index or risk configuration it built (zero: built for every request). Both are polled by
/// every phone at every download run, so neither is rebuilt (a files listing, and for the
/// configuration a signature check) more than once per reuse period.
#[derive(Debug)]
pub struct DownloadCache {
    index_cache_control: HeaderValue,
    reuse_index_for: Duration,
    index: Reused<Served>,
    risk_config: Reused<Option<Served>>,
}

impl Default for DownloadCache {
    fn default() -> Self {
        Self::new(DEFAULT_INDEX_MAX_AGE, Duration::ZERO)
    }
}

impl DownloadCache {
    /// An index `max-age` of `index_max_age` seconds; an index built is reused for
    /// `reuse_index_for` (`bluezone server run` uses 1 s).
    #[must_use]
    pub fn new(index_max_age: u32, reuse_index_for: Duration) -> Self {
        let index_cache_control = HeaderValue::from_str(&index_cache_control(index_max_age))
            .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
        Self {
            index_cache_control,
            reuse_index_for,
            index: Reused::new(),
            risk_config: Reused::new(),
        }
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header).
fn not_modified(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A cacheable answer: `304` when the client holds this version, else `200` with the body.
fn cacheable(
    request: &HeaderMap,
    etag: HeaderValue,
    cache_control: HeaderValue,
    last_modified: Option<HeaderValue>,
    content_type: &'static str,
    body: Bytes,
) -> Response {
    let fresh = not_modified(request, &etag);
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, cache_control);
    if let Some(last_modified) = last_modified {
        headers.insert(header::LAST_MODIFIED, last_modified);
    }
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (headers, body).into_response()
}

/// `GET`/`HEAD /v1/index.txt`.
pub(crate) async fn index(
    State(state): State<AppState>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let cache = state.downloads.clone();
    let index = match cache.index.get(cache.reuse_index_for) {
        Some(index) => index,
        None => {
            let now = (state.clock)();
            let text = blocking(move || state.authority.index(now)).await?;
            let sha256: [u8; 32] = Sha256::digest(text.as_bytes()).into();
            let index = Arc::new(Served::new(text.into_bytes(), &sha256)?);
            cache.index.keep(cache.reuse_index_for, &index);
            index
        }
    };
    Ok(cacheable(
        &request,
        index.etag.clone(),
        cache.index_cache_control.clone(),
        None,
        INDEX_CONTENT_TYPE,
        index.body.clone(),
    ))
}

/// `GET`/`HEAD /v1/risk-config.json`.
pub(crate) async fn risk_config(
    State(state): State<AppState>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let cache = state.downloads.clone();
    let cache_control = cache.index_cache_control.clone();
    let current = match cache.risk_config.get(cache.reuse_index_for) {
        Some(current) => current,
        None => {
            let published = blocking(move || state.authority.risk_config()).await?;
            let current = Arc::new(
                published
                    .map(|p| Served::new(p.bytes, &p.verified.sha256))
                    .transpose()?,
            );
            cache.risk_config.keep(cache.reuse_index_for, &current);
            current
        }
    };
    let Some(served) = current.as_ref() else {
        return Ok((
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, cache_control)],
        )
            .into_response());
    };
    Ok(cacheable(
        &request,
        served.etag.clone(),
        cache_control,
        None,
        RISK_CONFIG_CONTENT_TYPE,
        served.body.clone(),
    ))
}

/// `GET`/`HEAD /v1/files/<name>`.
pub(crate) async fn file(
    State(state): State<AppState>,
    request: HeaderMap,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let name = path(name)?;
    let now = (state.clock)();
    let file = blocking(move || state.authority.published_file(&name, now)).await?;
    let published = UNIX_EPOCH + Duration::from_secs(u64::try_from(file.created_at).unwrap_or(0));
    Ok(cacheable(
        &request,
        HeaderValue::from_str(&etag(&file.sha256)).map_err(ApiError::internal)?,
        HeaderValue::from_static(FILE_CACHE_CONTROL),
        HeaderValue::from_str(&httpdate::fmt_http_date(published)).ok(),
        FILE_CONTENT_TYPE,
        Bytes::from(file.bytes),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_star() {
        let tag = HeaderValue::from_str(&etag(&[0xab; 32])).unwrap();
        let quoted = tag.to_str().unwrap().to_owned();
        assert_eq!(quoted.len(), 66);
        assert!(not_modified(&asking(&quoted), &tag));
        assert!(not_modified(&asking(&format!("\"x\", W/{quoted}")), &tag));
        assert!(not_modified(&asking("*"), &tag));
        assert!(!not_modified(&asking("\"x\""), &tag));
        assert!(!not_modified(&asking(quoted.trim_matches('"')), &tag));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }

    #[test]
    fn an_index_is_reused_only_while_allowed() {
        let index = Arc::new(Served {
            body: Bytes::from_static(b"a.zip\n"),
            etag: HeaderValue::from_static("\"t\""),
        });
        let never = DownloadCache::default();
        never.index.keep(never.reuse_index_for, &index);
        assert!(never.index.get(never.reuse_index_for).is_none());
        let briefly = DownloadCache::new(60, Duration::from_secs(3600));
        assert!(briefly.index.get(briefly.reuse_index_for).is_none());
        briefly.index.keep(briefly.reuse_index_for, &index);
        let kept = briefly.index.get(briefly.reuse_index_for).unwrap();
        assert_eq!(kept.body, index.body);
        // The risk configuration is reused the same way, "none published" included.
        briefly
            .risk_config
            .keep(briefly.reuse_index_for, &Arc::new(None));
        assert!(
            briefly
                .risk_config
                .get(briefly.reuse_index_for)
                .unwrap()
                .is_none()
        );
        assert!(briefly.risk_config.get(Duration::ZERO).is_none());
        assert_eq!(briefly.index_cache_control, "public, max-age=60");
    }
}
