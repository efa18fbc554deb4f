//! How the engine reaches the health authority: a small [`Transport`] trait. Shells supply
//! theirs through the FFI (OkHttp, URLSession); [`HttpTransport`] serves the CLI, the
//! simulator and tests.

use std::time::Duration;

/// An HTTP answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// The request could not be made or answered (network, DNS, timeout).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network failure: {0}")]
pub struct TransportError(pub String);

/// HTTP to the health authority's server. Paths start with `/`.
pub trait Transport: Send + Sync {
    /// `POST path` with a body.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TransportError>;
    /// `GET path`.
    ///
    /// # Errors
    /// [`TransportError`] when no answer arrived.
    fn get(&self, path: &str) -> Result<HttpReply, TransportError>;
}

/// Plain HTTP with `ureq` (for loopback, tests and tools; production apps use the
/// platform's HTTPS stack through their own [`Transport`]).
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A transport to `base`, e.g. `http://127.0.0.1:8080`.
    #[must_use]
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    fn finish(
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<HttpReply, TransportError> {
        let mut response = result.map_err(|e| TransportError(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(128 << 20)
            .read_to_vec()
            .map_err(|e| TransportError(e.to_string()))?;
        Ok(HttpReply { status, body })
    }
}

impl Transport for HttpTransport {
    fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TransportError> {
        Self::finish(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("Content-Type", "application/json")
                .send(body),
        )
    }

    fn get(&self, path: &str) -> Result<HttpReply, TransportError> {
        Self::finish(self.agent.get(format!("{}{path}", self.base)).call())
    }
}
