//! The health authority's rules, in the domain's terms (no HTTP here: [`crate::api`]
//! translates): officials and their codes, the upload chain's checks, accepting uploads,
//! the limits on guessing and the server's keys. Publishing key files is in
//! [`crate::publishing`]. Every refusal is an [`AuthorityError`] with a stable
//! [`RefusalCode`](bluezone_protocol::refusal::RefusalCode).
//!
//! - `officials`: adding officials, checking credentials, issuing and revoking codes;
//! - `checks`: a code for a token, a token for a certificate, a publish's certificate and keys;
//! - `uploads`: the sealed exchange and accepting an upload;
//! - `limiting`: the limits on failed codes and logins;
//! - `keys`: [`AuthorityKeys`], every secret derived from the master secret;
//! - `error`: [`AuthorityError`].

use std::sync::{Arc, Mutex, OnceLock};

use bluezone_protocol::keyfile::KeyFileSigner;
use rand::{Rng, SeedableRng};

use crate::files::FileStore;
use crate::passwords::PasswordChecker;
use crate::store::{DayActivity, ServerStore};
use bluezone_protocol::DayNumber;

mod checks;
mod error;
mod keys;
mod limiting;
mod officials;
mod risk;
#[cfg(test)]
mod tests;
mod uploads;

pub use bluezone_protocol::exchange::{CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD};
pub use error::AuthorityError;
pub(crate) use error::json_problem;
pub use keys::{AuthorityKeys, KeyDerivationError};
pub use officials::IssuedCode;
pub use risk::{PublishedRiskConfig, RISK_CONFIG_PREFIX, risk_config_name};

/// The server's settings, with the defaults of the GAEN verification and key servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityConfig {
    /// Region written into key files (default "452", Vietnam's mobile country code).
    pub region: String,
    /// How long a code may be redeemed (default 1 hour).
    pub code_validity_secs: i64,
    /// How long a token may be exchanged for a certificate (default 24 hours).
    pub token_validity_secs: i64,
    /// How long a certificate may be used to upload (default 15 minutes).
    pub certificate_validity_secs: i64,
    /// Most keys in one upload (default 30).
    pub max_keys_per_upload: usize,
    /// Largest upload body in bytes (default 64,000).
    pub max_body_bytes: usize,
    /// Files are padded with random keys up to this many (default 1,000).
    pub min_keys_per_file: usize,
    /// Most keys per file (default 500,000).
    pub max_keys_per_file: usize,
    /// Failed code attempts one client may make per hour (default 10).
    pub failed_attempts_per_client_per_hour: usize,
    /// Failed code attempts all clients together may make per minute (default 100).
    pub failed_attempts_per_minute: usize,
    /// Failed official logins one client may make per 15 minutes (default 10).
    pub failed_logins_per_client: usize,
    /// Failed logins under one official name, from anywhere, per 15 minutes (default 20).
    pub failed_logins_per_name: usize,
    /// Password checks (Argon2id, 19 MiB each) that may run at once (default 4).
    pub max_concurrent_password_checks: usize,
    /// How long keys, files and codes are kept, and how far back the index reaches
    /// (default 14 days: a phone keeps sightings no longer).
    pub retention_secs: i64,
}

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            region: "452".into(),
            code_validity_secs: 3600,
            token_validity_secs: 24 * 3600,
            certificate_validity_secs: 900,
            max_keys_per_upload: 30,
            max_body_bytes: 64_000,
            min_keys_per_file: 1000,
            max_keys_per_file: 500_000,
            failed_attempts_per_client_per_hour: 10,
            failed_attempts_per_minute: 100,
            failed_logins_per_client: 10,
            failed_logins_per_name: 20,
            max_concurrent_password_checks: 4,
            retention_secs: 14 * 86_400,
        }
    }
}

/// The health authority.
pub struct Authority {
    pub(crate) config: AuthorityConfig,
    pub(crate) keys: AuthorityKeys,
    pub(crate) store: Arc<dyn ServerStore>,
    pub(crate) files: Arc<dyn FileStore>,
    pub(crate) rng: Mutex<rand::rngs::StdRng>,
    /// Failed code attempts and logins.
    limits: limiting::Limits,
    /// Password hashing and checks, in bounded memory and concurrency.
    passwords: PasswordChecker,
    /// An Argon2id hash no password matches, checked for unknown names so that they take
    /// as long as known ones.
    decoy_hash: OnceLock<String>,
    /// One publisher at a time in this process.
    pub(crate) publish_lock: Mutex<()>,
}

impl Authority {
    /// An authority over a store and a file store; `seed` seeds its generator (draw it from
    /// the OS in production, fix it in tests).
    #[must_use]
    pub fn new(
        config: AuthorityConfig,
        keys: AuthorityKeys,
        store: Arc<dyn ServerStore>,
        files: Arc<dyn FileStore>,
        seed: [u8; 32],
    ) -> Self {
        Self {
            keys,
            store,
            files,
            rng: Mutex::new(rand::rngs::StdRng::from_seed(seed)),
            limits: limiting::Limits::new(&config),
            passwords: PasswordChecker::new(config.max_concurrent_password_checks),
            decoy_hash: OnceLock::new(),
            publish_lock: Mutex::new(()),
            config,
        }
    }

    /// The gate every password check passes: at most
    /// [`AuthorityConfig::max_concurrent_password_checks`] run at once. The HTTP layer waits
    /// for a permit (for a bounded time) before calling [`Authority::authenticate`].
    #[must_use]
    pub fn password_checks(&self) -> Arc<tokio::sync::Semaphore> {
        self.passwords.permits()
    }

    /// The password-hashing work done so far (Argon2, in KiB × passes), for metrics and to
    /// show that every login attempt costs the same whether or not the name exists.
    #[must_use]
    pub fn password_work(&self) -> u64 {
        self.passwords.work_done()
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AuthorityConfig {
        &self.config
    }

    /// The key phones seal uploads to.
    #[must_use]
    pub fn upload_public_key(&self) -> [u8; 32] {
        self.keys.upload_key().public_key()
    }

    /// The key phones verify key files with.
    #[must_use]
    pub fn file_signer(&self) -> &KeyFileSigner {
        self.keys.file_signer()
    }

    /// The key certificates are checked with.
    #[must_use]
    pub fn certificate_public_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.keys.certificate_key().verifying_key()
    }

    /// `N` bytes from the authority's generator.
    fn random_bytes<const N: usize>(&self) -> Result<[u8; N], AuthorityError> {
        let mut out = [0u8; N];
        self.rng
            .lock()
            .map_err(AuthorityError::internal)?
            .fill_bytes(&mut out);
        Ok(out)
    }

    /// Records an action in the audit log.
    pub(crate) fn audit(
        &self,
        official_id: Option<i64>,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), AuthorityError> {
        self.store
            .audit(official_id, action, detail, now)
            .map_err(AuthorityError::internal)
    }

    /// The audit log, newest first.
    ///
    /// # Errors
    /// Internal errors.
    pub fn audit_log(&self) -> Result<Vec<crate::store::AuditEntry>, AuthorityError> {
        self.store.audit_log(500).map_err(AuthorityError::internal)
    }

    /// The authority's activity an official may see: per-day totals of codes issued and
    /// used, uploads accepted and files published for the [`ACTIVITY_DAYS`] UTC days up to
    /// and including `now`'s, newest first, days without activity as zeros.
    ///
    /// # Errors
    /// Internal errors.
    pub fn activity(&self, now: i64) -> Result<Vec<DayActivity>, AuthorityError> {
        let today = now.div_euclid(86_400);
        let first = today - (ACTIVITY_DAYS - 1);
        let found = self
            .store
            .activity(first * 86_400)
            .map_err(AuthorityError::internal)?;
        Ok((first..=today)
            .rev()
            .filter_map(|day| u32::try_from(day).ok().map(DayNumber::new))
            .map(|day| {
                found
                    .iter()
                    .find(|d| d.day == day)
                    .copied()
                    .unwrap_or(DayActivity::quiet(day))
            })
            .collect())
    }
}

/// How many days [`Authority::activity`] covers.
pub const ACTIVITY_DAYS: i64 = 14;
