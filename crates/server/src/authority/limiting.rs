//! How the authority limits guessing: failed code attempts per client and overall, failed
//! logins per client and per official name, each a [`FailureLimiter`] checked and counted in
//! one step (see [`crate::limits`]).

use bluezone_protocol::refusal::RefusalCode;

use super::{AuthorityConfig, AuthorityError};
use crate::limits::{Attempt, Blocked, FailureLimiter, LimitRules};

/// Clients (and names) tracked at most, per limiter.
const MAX_TRACKED: usize = 100_000;

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

/// The refusal of an attempt over a limit.
fn too_many(blocked: Blocked) -> AuthorityError {
    AuthorityError::refused(
        RefusalCode::TooManyAttempts,
        match blocked {
            Blocked::Global => "too many failed attempts from everyone; try again in a minute",
            Blocked::Key | Blocked::Full => "too many failed attempts; try again later",
        },
    )
}

/// Limits per key in a window of `window_secs`, none overall.
fn per_key(limit: usize, window_secs: i64) -> LimitRules {
    LimitRules {
        per_key: limit,
        per_key_window_secs: window_secs,
        global: usize::MAX,
        global_window_secs: 60,
        max_keys: MAX_TRACKED,
    }
}

impl Limits {
    /// The limiters the settings ask for.
    pub(super) fn new(config: &AuthorityConfig) -> Self {
        Self {
            codes: FailureLimiter::new(LimitRules {
                global: config.failed_attempts_per_minute,
                global_window_secs: 60,
                ..per_key(config.failed_attempts_per_client_per_hour, 3600)
            }),
            logins_by_client: FailureLimiter::new(per_key(config.failed_logins_per_client, 900)),
            logins_by_name: FailureLimiter::new(per_key(config.failed_logins_per_name, 900)),
        }
    }

    /// Admits one code attempt from `client`, or refuses it (`too_many_attempts`).
    pub(super) fn code_attempt(
        &self,
        client: &str,
        now: i64,
    ) -> Result<Attempt<'_>, AuthorityError> {
        self.codes.begin(client, now).map_err(too_many)
    }

    /// Admits one login from `client` under `name`, or refuses it (`too_many_attempts`)
    /// before any password is hashed.
    pub(super) fn login_attempt(
        &self,
        client: &str,
        name: &str,
        now: i64,
    ) -> Result<LoginAttempt<'_>, AuthorityError> {
        let by_client = self.logins_by_client.begin(client, now).map_err(too_many)?;
        // Names are at most 64 bytes; a longer one is limited under its first 64 characters.
        let name_key: String = name.chars().take(64).collect();
        match self.logins_by_name.begin(&name_key, now) {
            Ok(by_name) => Ok(LoginAttempt { by_client, by_name }),
            Err(blocked) => {
                by_client.refund();
                Err(too_many(blocked))
            }
        }
    }
}
