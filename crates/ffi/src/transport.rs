//! HTTP as the app provides it (OkHttp, URLSession, or anything in Python): a callback
//! interface, adapted to the core's `Transport`.

use std::sync::Arc;

use bluezone_core::{HttpReply, Transport, TransportError};

use crate::error::BluezoneError;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// HTTP to the health authority's server, implemented by the app. Paths start with `/`;
/// the app prepends its server's HTTPS base address. Return an error only when no answer
/// arrived; HTTP error statuses are answers.
#[uniffi::export(with_foreign)]
pub trait HttpClient: Send + Sync {
    /// `POST path` with `body` (JSON or sealed bytes).
    fn post(&self, path: String, body: Vec<u8>) -> Result<HttpResponse, BluezoneError>;
    /// `GET path`.
    fn get(&self, path: String) -> Result<HttpResponse, BluezoneError>;
}

/// The app's client as the core's transport.
pub(crate) struct Foreign(pub(crate) Arc<dyn HttpClient>);

fn reply(result: Result<HttpResponse, BluezoneError>) -> Result<HttpReply, TransportError> {
    result
        .map(|r| HttpReply {
            status: r.status,
            body: r.body,
        })
        .map_err(|e| TransportError(e.to_string()))
}

impl Transport for Foreign {
    fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TransportError> {
        reply(self.0.post(path.to_owned(), body.to_vec()))
    }

    fn get(&self, path: &str) -> Result<HttpReply, TransportError> {
        reply(self.0.get(path.to_owned()))
    }
}

/// Posts the exposure notification; implemented by the app. Called once when an exposure
/// first reaches the threshold, from the worker thread that processed the key files.
#[uniffi::export(with_foreign)]
pub trait Notifier: Send + Sync {
    /// Show the person that they may have been exposed.
    fn exposure_detected(&self, status: crate::records::ExposureStatus);
}

/// The app's notifier as the core's.
pub(crate) struct ForeignNotifier(pub(crate) Arc<dyn Notifier>);

impl bluezone_core::Notifier for ForeignNotifier {
    fn exposure_detected(&self, status: &bluezone_core::ExposureStatus) {
        self.0.exposure_detected(status.clone().into());
    }
}
