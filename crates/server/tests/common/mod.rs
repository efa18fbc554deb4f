//! What the HTTP tests share: a server on loopback with a settable clock, a sealed-exchange
//! client, an official, upload builders, and the store of the backend a test runs on
//! (SQLite, or a scratch PostgreSQL schema under [`on_both_backends!`]).

#![allow(dead_code, clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64ct::{Base64, Encoding};
use bluezone_protocol::exchange::{
    CERTIFICATE_AAD, PUBLISH_AAD, SEALED_REPLY_BYTES, VERIFY_AAD, seal_request,
};
use bluezone_protocol::messages::{
    CertificateRequest, CertificateResponse, ErrorBody, PublishPayload, VerifyRequest,
    VerifyResponse,
};
use bluezone_protocol::upload::{UploadKey, tek_hmac};
use bluezone_server::files::{FileStore, MemoryFileStore};
use bluezone_server::loopback::LoopbackServer;
use bluezone_server::serve::ServeLimits;
use bluezone_server::store::{PostgresServerStore, ServerStore, SqliteServerStore};
use bluezone_server::{AppState, Authority, AuthorityConfig, AuthorityKeys};
use rand::SeedableRng;

mod backends;
#[allow(unused_imports)] // Not every test binary uses every helper.
pub(crate) use backends::on_both_backends;
#[allow(unused_imports)] // Not every test binary uses every helper.
pub use backends::{on_postgres, postgres_url, reopened_store, store};

pub const NOW: i64 = 1_793_530_800; // 2026-11-01 10:20 UTC

pub struct Server {
    pub base: String,
    pub clock: Arc<AtomicI64>,
    pub authority: Arc<Authority>,
    pub agent: ureq::Agent,
    _server: LoopbackServer,
}

pub fn start(config: AuthorityConfig) -> Server {
    start_with(
        config,
        Arc::new(MemoryFileStore::default()),
        ServeLimits::default(),
        |state| state,
    )
}

pub fn start_with(
    config: AuthorityConfig,
    files: Arc<dyn FileStore>,
    limits: ServeLimits,
    adjust: impl FnOnce(AppState) -> AppState,
) -> Server {
    let keys = AuthorityKeys::derive(&[7; 32], "452", "v1").unwrap();
    let authority = Arc::new(Authority::new(config, keys, store(), files, [9; 32]));
    let clock = Arc::new(AtomicI64::new(NOW));
    let state = adjust(AppState::new(authority.clone(), {
        let clock = clock.clone();
        Arc::new(move || clock.load(Ordering::SeqCst))
    }));
    let server = LoopbackServer::start_with(state, limits).unwrap();
    Server {
        base: server.base.clone(),
        clock,
        authority,
        agent: ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into(),
        _server: server,
    }
}

impl Server {
    pub fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let url = format!("{}{path}", self.base);
        let mut response = if method == "GET" {
            let mut req = self.agent.get(&url);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.call().unwrap()
        } else {
            let mut req = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json");
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            req.send(body).unwrap()
        };
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_vec().unwrap())
    }

    /// A sealed request to a phone endpoint: the outer answer must be a 200 of the one
    /// sealed size whatever the outcome; returns the status and body sealed inside.
    pub fn exchange(&self, path: &str, plaintext: &[u8]) -> (u16, Vec<u8>) {
        let aad = match path {
            "/v1/verify" => VERIFY_AAD,
            "/v1/certificate" => CERTIFICATE_AAD,
            _ => PUBLISH_AAD,
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.clock.load(Ordering::SeqCst) as u64);
        let (body, reply_key) = seal_request(
            &self.authority.upload_public_key(),
            aad,
            plaintext,
            &mut rng,
        )
        .unwrap();
        let (status, reply) = self.call("POST", path, None, &body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
        assert_eq!(reply.len(), SEALED_REPLY_BYTES);
        let (status, body) = reply_key.open_reply(&reply).unwrap();
        (status, body.to_vec())
    }

    pub fn json<T: serde::Serialize>(&self, path: &str, body: &T) -> (u16, Vec<u8>) {
        self.exchange(path, &serde_json::to_vec(body).unwrap())
    }

    pub fn error(&self, path: &str, body: &[u8]) -> (u16, String) {
        let (status, bytes) = self.exchange(path, body);
        let error: ErrorBody = serde_json::from_slice(&bytes).unwrap();
        (status, error.code)
    }

    /// A plain (unsealed) POST refused in the clear.
    pub fn plain_error(&self, path: &str, body: &[u8]) -> (u16, String) {
        let (status, bytes) = self.call("POST", path, None, body);
        let error: ErrorBody = serde_json::from_slice(&bytes).unwrap();
        (status, error.code)
    }

    pub fn official_code(&self) -> String {
        let auth = format!(
            "Basic {}",
            Base64::encode_string(b"nurse.lan:correct horse battery")
        );
        let (status, body) = self.call(
            "POST",
            "/api/official/codes",
            Some(&auth),
            br#"{"reportType":1,"symptomOnsetDate":"2026-10-29","testDate":"2026-10-31"}"#,
        );
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["code"].as_str().unwrap().to_owned()
    }

    pub fn verify(&self, code: &str) -> (u16, Vec<u8>) {
        self.json(
            "/v1/verify",
            &VerifyRequest {
                code: code.into(),
                padding: String::new(),
            },
        )
    }
}

pub fn keys() -> Vec<UploadKey> {
    let today = (NOW / 600) as u32 / 144 * 144;
    (1..=3)
        .map(|d| UploadKey {
            key_data: [d as u8; 16],
            rolling_start: today - d * 144,
            rolling_period: 144,
            transmission_risk: 0,
        })
        .collect()
}

pub fn payload(keys: &[UploadKey], secret: &[u8], certificate: &str) -> PublishPayload {
    bluezone_testkit::uploads::publish_payload(keys, secret, certificate)
}

pub fn publish(server: &Server, payload: &PublishPayload) -> (u16, Vec<u8>) {
    server.json("/v1/publish", payload)
}

/// Code -> token -> certificate for `keys` with HMAC secret `secret`.
pub fn certificate_for(server: &Server, keys: &[UploadKey], secret: &[u8]) -> String {
    let code = server.official_code();
    let (status, body) = server.verify(&code);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let mut verified: VerifyResponse = serde_json::from_slice(&body).unwrap();
    let (status, body) = server.json(
        "/v1/certificate",
        &CertificateRequest {
            token: std::mem::take(&mut verified.token),
            ekeyhmac: Base64::encode_string(&tek_hmac(secret, keys)),
            padding: String::new(),
        },
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let cert: CertificateResponse = serde_json::from_slice(&body).unwrap();
    cert.certificate
}

pub fn server() -> Server {
    let server = start(AuthorityConfig {
        min_keys_per_file: 50,
        ..AuthorityConfig::default()
    });
    server
        .authority
        .create_official("nurse.lan", "correct horse battery", NOW)
        .unwrap();
    server
}
