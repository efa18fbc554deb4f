//! The server's Prometheus metrics ([`Metrics`]): uploads accepted, refusals by code,
//! rate-limit hits, publishing runs and files, and requests by route and status, kept with
//! the official `prometheus-client` crate and written in the Prometheus text format by
//! [`Metrics::encode`] (served at `/metrics` on the operations listener only: counts of
//! uploads are what padded key files hide from the public).
//!
//! Labels are bounded: a route is the router's path template (`/v1/files/{name}`, never
//! the requested name) or `unmatched`, a code is one of
//! [`RefusalCode`]'s. No label carries a client's
//! address, a code, a key or a file name.

use bluezone_protocol::refusal::RefusalCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels of a refusal: its stable code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: &'static str,
}

/// Labels of a request: the route's template and the answer's status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

/// The server's counters, shared by the HTTP layer and the publisher.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    uploads_accepted: Counter,
    refusals: Family<CodeLabels, Counter>,
    rate_limit_hits: Counter,
    publish_runs: Counter,
    publish_failures: Counter,
    files_published: Counter,
    requests: Family<RequestLabels, Counter>,
    chaff: Family<RouteLabels, Counter>,
    publisher: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every counter at zero, registered under the `bluezone_` prefix.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("bluezone");
        let uploads_accepted = Counter::default();
        let refusals = Family::<CodeLabels, Counter>::default();
        let rate_limit_hits = Counter::default();
        let publish_runs = Counter::default();
        let publish_failures = Counter::default();
        let files_published = Counter::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let chaff = Family::<RouteLabels, Counter>::default();
        let publisher = Gauge::default();
        registry.register(
            "uploads_accepted",
            "Uploads (POST /v1/publish) answered with stored keys",
            uploads_accepted.clone(),
        );
        registry.register(
            "refusals",
            "Requests refused, by stable refusal code (sealed refusals included)",
            refusals.clone(),
        );
        registry.register(
            "rate_limit_hits",
            "Requests refused because a guessing or login limit was reached",
            rate_limit_hits.clone(),
        );
        registry.register(
            "publish_runs",
            "Publishing runs completed",
            publish_runs.clone(),
        );
        registry.register(
            "publish_failures",
            "Publishing runs that failed",
            publish_failures.clone(),
        );
        registry.register(
            "files_published",
            "Key files published",
            files_published.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        registry.register(
            "chaff_requests",
            "Chaff requests answered and dropped, by route (never by client)",
            chaff.clone(),
        );
        registry.register(
            "publisher",
            "1 while this instance holds the database's publisher lock (one instance does)",
            publisher.clone(),
        );
        Self {
            registry,
            uploads_accepted,
            refusals,
            rate_limit_hits,
            publish_runs,
            publish_failures,
            files_published,
            requests,
            chaff,
            publisher,
        }
    }

    /// Whether this instance is the publisher now.
    pub fn set_publisher(&self, publishing: bool) {
        self.publisher.set(i64::from(publishing));
    }

    /// One chaff request on `route`.
    pub fn chaff(&self, route: &str) {
        self.chaff
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .inc();
    }

    /// One upload accepted.
    pub fn upload_accepted(&self) {
        self.uploads_accepted.inc();
    }

    /// One refusal with `code`; a `too_many_attempts` one is also a rate-limit hit.
    pub fn refused(&self, code: RefusalCode) {
        self.refusals
            .get_or_create(&CodeLabels {
                code: code.as_str(),
            })
            .inc();
        if code == RefusalCode::TooManyAttempts {
            self.rate_limit_hits.inc();
        }
    }

    /// One publishing run that wrote `files` files.
    pub fn published(&self, files: usize) {
        self.publish_runs.inc();
        self.files_published
            .inc_by(u64::try_from(files).unwrap_or(u64::MAX));
    }

    /// One publishing run that failed.
    pub fn publish_failed(&self) {
        self.publish_failures.inc();
    }

    /// One request to `route` (a path template) answered with `status`.
    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                status,
            })
            .inc();
    }

    /// Every metric in the Prometheus text format (OpenMetrics text, which Prometheus reads).
    ///
    /// # Errors
    /// Only if formatting fails (it writes to a `String`).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.upload_accepted();
        metrics.refused(RefusalCode::TooManyAttempts);
        metrics.refused(RefusalCode::CodeInvalid);
        metrics.published(3);
        metrics.set_publisher(true);
        metrics.request("/v1/index.txt", 304);
        let text = metrics.encode().unwrap();
        for line in [
            "bluezone_uploads_accepted_total 1",
            "bluezone_refusals_total{code=\"too_many_attempts\"} 1",
            "bluezone_refusals_total{code=\"code_invalid\"} 1",
            "bluezone_rate_limit_hits_total 1",
            "bluezone_publish_runs_total 1",
            "bluezone_files_published_total 3",
            "bluezone_publisher 1",
            "bluezone_http_requests_total{route=\"/v1/index.txt\",status=\"304\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
    }
}
