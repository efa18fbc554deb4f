//! The health authority of a run: a real `Authority` (in-memory stores) served over HTTP on
//! loopback, an official who issues codes, and the phone side of an upload.

use std::sync::Arc;

use bluezone_core::{Clock, HttpTransport, ManualClock, UploadConsent};
use bluezone_server::files::MemoryFileStore;
use bluezone_server::loopback::LoopbackServer;
use bluezone_server::store::SqliteServerStore;
use bluezone_server::{Authority, AuthorityConfig, AuthorityKeys};

use super::fleet::{Phone, TAG_SERVER, seed_bytes};
use super::{DAY_S, SimError};
use crate::report::UploadRow;

/// The server, its official and the phones' way to it.
pub(super) struct Health {
    pub(super) authority: Arc<Authority>,
    official: i64,
    pub(super) transport: HttpTransport,
    _server: LoopbackServer,
}

impl Health {
    /// Starts the authority on loopback, on `clock`, with an official.
    ///
    /// # Errors
    /// [`SimError::Server`] or [`SimError::Loopback`].
    pub(super) fn start(seed: u64, clock: &Arc<ManualClock>) -> Result<Self, SimError> {
        let authority = Arc::new(Authority::new(
            AuthorityConfig::default(),
            AuthorityKeys::derive(&seed_bytes(seed, TAG_SERVER), "452", "v1")
                .map_err(|e| SimError::Server(e.to_string()))?,
            Arc::new(SqliteServerStore::in_memory().map_err(|e| SimError::Server(e.to_string()))?),
            Arc::new(MemoryFileStore::default()),
            seed_bytes(seed, TAG_SERVER + 100),
        ));
        let official = authority
            .create_official("qa-official", "simulated official password", clock.now())
            .map_err(|e| SimError::Server(e.to_string()))?;
        let server_clock = clock.clone();
        let server =
            LoopbackServer::start(authority.clone(), Arc::new(move || server_clock.now()))?;
        let transport = HttpTransport::new(&server.base);
        Ok(Self {
            authority,
            official,
            transport,
            _server: server,
        })
    }

    /// Publishes every key past its embargo; returns how many files.
    ///
    /// # Errors
    /// [`SimError::Server`].
    pub(super) fn publish(&self, now: i64) -> Result<usize, SimError> {
        self.authority
            .publish_files(now)
            .map(|files| files.len())
            .map_err(|e| SimError::Server(e.to_string()))
    }

    /// The official issues a code for `phone`'s owner at `at` (seconds since the start).
    pub(super) fn issue(
        &self,
        at: f64,
        clock: &ManualClock,
        start_unix: i64,
    ) -> Result<String, String> {
        let now = unix(start_unix, at);
        clock.set(now);
        self.authority
            .issue_code(self.official, 1, None, None, now)
            .map(|issued| issued.code)
            .map_err(|e| e.to_string())
    }

    /// The person enters `code` at `at`: the phone verifies it, and if they consent, uploads.
    pub(super) fn enter(
        &self,
        phone: &Phone,
        issued: super::Issued,
        at: f64,
        consents: bool,
        clock: &ManualClock,
        start_unix: i64,
    ) -> UploadRow {
        let (issued_at, code) = issued;
        let now = unix(start_unix, at);
        clock.set(now);
        phone.clock.set(now);
        let outcome = code.and_then(|code| {
            let verified = phone
                .tracer
                .verify_code(&self.transport, &code)
                .map_err(|e| e.to_string())?;
            if !consents {
                return Ok(None);
            }
            phone
                .tracer
                .upload_keys(&self.transport, &verified, UploadConsent { agreed_at: now })
                .map(Some)
                .map_err(|e| e.to_string())
        });
        UploadRow {
            person: phone.name.clone(),
            code_issued_at: clock_text(issued_at),
            code_entered_at: clock_text(at),
            declined: !consents && outcome.is_ok(),
            keys_accepted: outcome
                .as_ref()
                .ok()
                .and_then(|r| r.map(|r| r.keys_accepted)),
            error: outcome.err(),
        }
    }
}

fn unix(start_unix: i64, at: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let seconds = at as i64;
    start_unix + seconds
}

/// `day D HH:MM` of a time in seconds since the start.
fn clock_text(at: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (day, minute) = ((at / DAY_S) as u64 + 1, ((at % DAY_S) / 60.0) as u64);
    format!("day {day} {:02}:{:02}", minute / 60, minute % 60)
}
