//! How the authority limits guessing: failed code attempts per client and overall, failed
//! logins per client and per official name, each a [`FailureLimiter`] checked and counted in
//! one step in the database (see [`crate::limits`]), so every instance on it shares them.
//! Clients are counted under a keyed hash of the limit and the address or name.

use bluezone_protocol::refusal::RefusalCode;

use super::{Authority, AuthorityConfig, AuthorityError};
use crate::limits::{Attempt, Blocked, FailureLimiter, LimitRules};

/// The authority's limiters.
pub(super) struct Limits {
    /// Failed code attempts, per client and overall.
    codes: FailureLimiter,
    /// Failed logins per client.
    logins_by_client: FailureLimiter,
    /// Failed logins per official name (known or not).
    logins_by_name: FailureLimiter,
}

/// An admitted login: both its limits' attempts, settled together.
pub(super) struct LoginAttempt<'a> {
    by_client: Attempt<'a>,
    by_name: Attempt<'a>,
}

impl LoginAttempt<'_> {
    /// The login succeeded: it counts against neither limit.
    pub(super) fn refund(self) {
        self.by_client.refund();
        self.by_name.refund();
    }

    /// The login failed: it counts against both.
    pub(super) fn fail(self) {
        self.by_client.fail();
        self.by_name.fail();
    }
}

/// The refusal of an attempt over a limit; an attempt the store could not count is an
/// internal error (the database is down: the client may retry, and is not told it guessed
/// too often).
fn too_many(blocked: Blocked) -> AuthorityError {
    let message = match blocked {
        Blocked::Global => "too many failed attempts from everyone; try again in a minute",
        Blocked::Key | Blocked::Full => "too many failed attempts; try again later",
        Blocked::Store => {
            return AuthorityError::internal("the limits on guessing could not be counted");
        }
    };
    AuthorityError::refused(RefusalCode::TooManyAttempts, message)
}

/// Limits per key in a window of `window_secs`, none overall.
fn per_key(limit: usize, window_secs: i64) -> LimitRules {
    LimitRules {
        per_key: limit,
        per_key_window_secs: window_secs,
        global: usize::MAX,
        global_window_secs: 60,
    }
}

impl Limits {
    /// The limiters the settings ask for.
    pub(super) fn new(config: &AuthorityConfig) -> Self {
        Self {
            codes: FailureLimiter::new(
                "codes",
                LimitRules {
                    global: config.failed_attempts_per_minute,
                    global_window_secs: 60,
                    ..per_key(config.failed_attempts_per_client_per_hour, 3600)
                },
            ),
            logins_by_client: FailureLimiter::new(
                "logins_by_client",
                per_key(config.failed_logins_per_client, 900),
            ),
            logins_by_name: FailureLimiter::new(
                "logins_by_name",
                per_key(config.failed_logins_per_name, 900),
            ),
        }
    }
}

impl Authority {
    /// The key `client` is counted under by `limiter`: a keyed hash, so the database holds no
    /// addresses or names.
    fn limited_client(&self, limiter: &FailureLimiter, client: &str) -> [u8; 16] {
        let mac = self.keys.mac(
            b"limit",
            &[limiter.scope().as_bytes(), &[0], client.as_bytes()].concat(),
        );
        let mut key = [0u8; 16];
        key.copy_from_slice(&mac[..16]);
        key
    }

    /// Admits one code attempt from `client`, or refuses it (`too_many_attempts`).
    pub(super) fn code_attempt(
        &self,
        client: &str,
        now: i64,
    ) -> Result<Attempt<'_>, AuthorityError> {
        let limiter = &self.limits.codes;
        let key = self.limited_client(limiter, client);
        limiter
            .begin(self.store.as_ref(), key, now)
            .map_err(too_many)
    }

    /// Admits one login from `client` under `name`, or refuses it (`too_many_attempts`)
    /// before any password is hashed.
    pub(super) fn login_attempt(
        &self,
        client: &str,
        name: &str,
        now: i64,
    ) -> Result<LoginAttempt<'_>, AuthorityError> {
        let limits = &self.limits;
        let store = self.store.as_ref();
        let by_client = limits
            .logins_by_client
            .begin(
                store,
                self.limited_client(&limits.logins_by_client, client),
                now,
            )
            .map_err(too_many)?;
        // Names are at most 64 bytes; a longer one is limited under its first 64 characters.
        let name_key: String = name.chars().take(64).collect();
        let name_key = self.limited_client(&limits.logins_by_name, &name_key);
        match limits.logins_by_name.begin(store, name_key, now) {
            Ok(by_name) => Ok(LoginAttempt { by_client, by_name }),
            Err(blocked) => {
                by_client.refund();
                Err(too_many(blocked))
            }
        }
    }
}
