//! Helpers for Bluezone's end-to-end tests and load benchmark: a health-authority server on
//! loopback and phones (real `Tracer`s) that talk to it over HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::{
    Clock, CoreError, HttpTransport, MasterKey, StorageLocation, Tracer, TracerConfig,
    UploadConsent,
};
use bluezone_protocol::keyfile::TrustedKeys;
use bluezone_server::Authority;
pub use bluezone_server::loopback::LoopbackServer;

/// Starts `authority` on loopback with `clock` as its time.
///
/// # Panics
/// If no loopback port can be bound (a broken test machine).
#[must_use]
pub fn serve(authority: Arc<Authority>, clock: Arc<dyn Clock>) -> LoopbackServer {
    LoopbackServer::start(authority, Arc::new(move || clock.now())).expect("a loopback server")
}

/// The official every test authority has, and the password it signs in with.
pub const OFFICIAL: (&str, &str) = ("dr.minh", "a long enough password");

/// A health authority for tests: `config`, `store`, files in memory, fixed keys, and one
/// official ([`OFFICIAL`], id 1) created at `now`.
///
/// # Panics
/// If the official cannot be created (a broken store).
#[must_use]
pub fn authority(
    config: bluezone_server::AuthorityConfig,
    store: Arc<dyn bluezone_server::store::ServerStore>,
    now: i64,
) -> Arc<Authority> {
    let authority = Arc::new(Authority::new(
        config,
        bluezone_server::AuthorityKeys::derive(&[1; 32], "452", "v1").expect("fixed keys derive"),
        store,
        Arc::new(bluezone_server::files::MemoryFileStore::default()),
        [2; 32],
    ));
    authority
        .create_official(OFFICIAL.0, OFFICIAL.1, now)
        .expect("an official");
    authority
}

/// A phone configured for `authority`, in memory.
///
/// # Errors
/// [`CoreError`] if the tracer cannot open.
pub fn phone(authority: &Authority, clock: Arc<dyn Clock>, seed: u64) -> Result<Tracer, CoreError> {
    use rand::SeedableRng;
    let config = TracerConfig {
        trusted_signers: TrustedKeys::single(authority.file_signer().trusted_key()),
        upload_public_key: Some(authority.upload_public_key()),
        ..TracerConfig::default()
    };
    Tracer::open_with(
        config,
        StorageLocation::InMemory,
        &MasterKey::from_bytes([u8::try_from(seed % 251).unwrap_or(0); 32]),
        clock,
        Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
    )
}

/// What a load run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Uploads that succeeded.
    pub succeeded: usize,
    /// Uploads that failed, with why.
    pub failures: Vec<String>,
    /// Per-upload latency (verify, certificate and publish together), sorted.
    pub latencies: Vec<Duration>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl LoadReport {
    /// The latency at `percent` (0..=100), nearest rank.
    #[must_use]
    pub fn percentile(&self, percent: usize) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let last = self.latencies.len() - 1;
        self.latencies[(percent.min(100) * last).div_ceil(100)]
    }
}

/// `uploads` phones upload their keys through `clients` concurrent connections: each phone
/// makes its key, redeems a code issued by an official, and uploads with consent. Client `c`
/// talks to `servers[c % servers.len()]` (instances on one database: codes are issued
/// through the first).
///
/// # Panics
/// If an official or a code cannot be created (a broken server).
#[must_use]
pub fn load(
    servers: &[&LoopbackServer],
    clock: &Arc<dyn Clock>,
    official_id: i64,
    uploads: usize,
    clients: usize,
) -> LoadReport {
    let now = clock.now();
    let codes: Vec<String> = (0..uploads)
        .map(|_| {
            servers[0]
                .authority
                .issue_code(official_id, 1, None, None, now)
                .expect("a code")
                .code
        })
        .collect();
    let per_client = uploads.div_ceil(clients.max(1));
    let began = Instant::now();
    let results: Vec<(Vec<Duration>, Vec<String>)> = std::thread::scope(|scope| {
        codes
            .chunks(per_client)
            .enumerate()
            .map(|(c, chunk)| {
                let server = servers[c % servers.len()];
                scope.spawn(move || {
                    let transport = HttpTransport::new(&server.base);
                    let mut latencies = Vec::new();
                    let mut failures = Vec::new();
                    for (i, code) in chunk.iter().enumerate() {
                        let seed = (c * per_client + i) as u64 + 1;
                        let outcome = phone(&server.authority, clock.clone(), seed).and_then(|p| {
                            p.current_advertisement()?;
                            let started = Instant::now();
                            let verified = p.verify_code(&transport, code)?;
                            let consent = UploadConsent {
                                agreed_at: clock.now(),
                            };
                            p.upload_keys(&transport, &verified, consent)?;
                            Ok(started.elapsed())
                        });
                        match outcome {
                            Ok(latency) => latencies.push(latency),
                            Err(e) => failures.push(e.to_string()),
                        }
                    }
                    (latencies, failures)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Vec::new(), vec!["client thread panicked".into()]))
            })
            .collect()
    });
    let elapsed = began.elapsed();
    let mut latencies: Vec<Duration> = results.iter().flat_map(|(l, _)| l.clone()).collect();
    latencies.sort_unstable();
    LoadReport {
        succeeded: latencies.len(),
        failures: results.into_iter().flat_map(|(_, f)| f).collect(),
        latencies,
        elapsed,
    }
}
