//! Sliding-window limits on failed attempts (code guesses, official logins), per client and
//! overall, counted in the database: a restart does not forget them, and several server
//! instances on one PostgreSQL database share them (decision 0015).
//!
//! A check and its count are one step. [`FailureLimiter::begin`] refuses when the failures
//! already counted reach a limit; otherwise the store records the attempt as *in flight*, in
//! the same transaction (on PostgreSQL under a lock on that client), and one client's
//! failures plus its attempts in flight may never exceed its limit (the overall limit counts
//! settled failures only, so bursts of valid attempts pass). An attempt that would exceed it
//! waits (briefly, and only a few at a time) for one in flight to be settled with
//! [`Attempt::refund`] (it succeeded: its row is deleted) or [`Attempt::fail`]; an attempt
//! dropped unsettled counts as failed, and so does one left in flight by a server that died
//! ([`ABANDONED_AFTER_SECS`]). So concurrent guesses can never pass a limit together, on one
//! instance or several, while concurrent successes from one address (phones behind one
//! carrier NAT) wait milliseconds instead of being refused.
//!
//! Storage is bounded by failures: a success leaves nothing, rows older than the longest
//! window are pruned with each publishing run, and each failure costs the attacker a request
//! (for codes, at most the overall limit per minute; for logins, an Argon2id check each).
//! Clients are stored as a keyed hash of the limit and the address (or name), never the
//! address itself: a copy of the database does not list who tried to verify a code.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::store::ServerStore;

/// The rules of one limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRules {
    /// Failures one client may have within `per_key_window_secs`.
    pub per_key: usize,
    /// The per-client window in seconds.
    pub per_key_window_secs: i64,
    /// Failures all clients together may have within `global_window_secs` (`usize::MAX`:
    /// none).
    pub global: usize,
    /// The overall window in seconds.
    pub global_window_secs: i64,
}

/// Why an attempt was refused before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// This client reached its limit.
    Key,
    /// All clients together reached the overall limit.
    Global,
    /// Too many attempts wait at once.
    Full,
    /// The store could not count the attempt: refused, since it could not be limited.
    Store,
}

/// What the store counted for one client and limit, at the moment of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptCounts {
    /// Settled failures of all clients within the overall window (counted up to the overall
    /// limit; 0 when the limit has none).
    pub global_failures: u64,
    /// This client's failures within its window, attempts abandoned in flight included.
    pub failures: u64,
    /// This client's attempts in flight.
    pub in_flight: u64,
}

/// What to do with an attempt, given what is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Record it in flight and let it run.
    Admit,
    /// Wait for an attempt in flight to settle, then check again.
    Wait,
    /// Refuse it.
    Refuse(Blocked),
}

/// An attempt left in flight this long (its server died or lost the database) counts as
/// failed. Longer than any request may run.
pub const ABANDONED_AFTER_SECS: i64 = 120;

/// The longest window of any limit: older rows are pruned.
pub const LONGEST_WINDOW_SECS: i64 = 3600;

/// How long an attempt waits for others in flight to settle before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// How often a waiting attempt checks again, when no attempt of this process settles first
/// (an attempt settled by another instance is seen at the next check).
const RECHECK: Duration = Duration::from_millis(20);
/// Most attempts waiting at once, per limiter.
const MAX_WAITING: usize = 64;

impl LimitRules {
    /// The verdict on an attempt given `counts`: refused at a limit, waiting while this
    /// client's attempts in flight could pass it, admitted otherwise.
    #[must_use]
    pub fn verdict(&self, counts: AttemptCounts) -> Verdict {
        let at = |limit: usize| u64::try_from(limit).unwrap_or(u64::MAX);
        if self.global != usize::MAX && counts.global_failures >= at(self.global) {
            return Verdict::Refuse(Blocked::Global);
        }
        if counts.failures >= at(self.per_key) {
            return Verdict::Refuse(Blocked::Key);
        }
        // Per client, attempts in flight count: one client's concurrent guesses cannot pass
        // its limit together. Overall, only settled failures count, so a burst of phones with
        // valid codes is never refused; the overall limit may be passed by at most the
        // attempts in flight at once.
        if counts.failures + counts.in_flight >= at(self.per_key) {
            return Verdict::Wait;
        }
        Verdict::Admit
    }
}

/// One attempt as the store checks and records it.
#[derive(Debug, Clone, Copy)]
pub struct AttemptCheck<'a> {
    /// The limit's name (`codes`, `logins_by_client`, …), for the overall count.
    pub scope: &'a str,
    /// The keyed hash of the limit's name and the client.
    pub client: [u8; 16],
    /// The limit.
    pub rules: LimitRules,
    /// Unix seconds now.
    pub now: i64,
}

impl AttemptCheck<'_> {
    /// The oldest failure of this client that still counts is after this.
    #[must_use]
    pub const fn client_since(&self) -> i64 {
        self.now - self.rules.per_key_window_secs
    }

    /// The oldest failure of anyone that still counts is after this.
    #[must_use]
    pub const fn global_since(&self) -> i64 {
        self.now - self.rules.global_window_secs
    }

    /// An attempt in flight that began at or before this is abandoned: it counts as failed.
    #[must_use]
    pub const fn abandoned_at_or_before(&self) -> i64 {
        self.now - ABANDONED_AFTER_SECS
    }

    /// How many settled failures overall the store needs to count (`None`: no overall
    /// limit, do not count).
    #[must_use]
    pub fn global_cap(&self) -> Option<i64> {
        (self.rules.global != usize::MAX)
            .then(|| i64::try_from(self.rules.global).unwrap_or(i64::MAX))
    }
}

/// The store's answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Admitted, recorded in flight under this id.
    Admitted(i64),
    /// Not admitted (nothing recorded).
    Not(Verdict),
}

/// Failed attempts per client and overall, in sliding windows kept by a store.
pub struct FailureLimiter {
    scope: &'static str,
    rules: LimitRules,
    waiting: AtomicUsize,
    /// Attempts settled in this process so far, and the signal waiters wake on.
    settled: (Mutex<u64>, Condvar),
}

/// An admitted attempt: settle it with [`Attempt::refund`] or [`Attempt::fail`]; dropping
/// it unsettled counts as a failure.
#[must_use = "an attempt counts as a failure unless refunded"]
pub struct Attempt<'a> {
    store: &'a dyn ServerStore,
    limiter: &'a FailureLimiter,
    id: i64,
    settled: bool,
}

impl FailureLimiter {
    /// A limiter named `scope` (its rows in the store) with these rules.
    #[must_use]
    pub const fn new(scope: &'static str, rules: LimitRules) -> Self {
        Self {
            scope,
            rules,
            waiting: AtomicUsize::new(0),
            settled: (Mutex::new(0), Condvar::new()),
        }
    }

    /// How many attempts this process has settled.
    fn settled_count(&self) -> u64 {
        *self
            .settled
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until an attempt of this process settles after `seen` were, or [`RECHECK`].
    fn wait_for_settling(&self, seen: u64) {
        let count = self
            .settled
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *count == seen {
            let _ = self
                .settled
                .1
                .wait_timeout(count, RECHECK)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Counts one settled attempt and wakes the waiters.
    fn note_settled(&self) {
        *self
            .settled
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.settled.1.notify_all();
    }

    /// The limit's name.
    #[must_use]
    pub const fn scope(&self) -> &'static str {
        self.scope
    }

    /// Refuses the attempt if `client` (a keyed hash, see the module) or everyone has
    /// reached the limit; otherwise records it in flight once failures and attempts in flight
    /// leave room, waiting up to two seconds for that.
    ///
    /// # Errors
    /// [`Blocked`] saying which limit was reached ([`Blocked::Store`] if it could not be
    /// counted: an attempt that cannot be limited is not made).
    pub fn begin<'s>(
        &'s self,
        store: &'s dyn ServerStore,
        client: [u8; 16],
        now: i64,
    ) -> Result<Attempt<'s>, Blocked> {
        let check = AttemptCheck {
            scope: self.scope,
            client,
            rules: self.rules,
            now,
        };
        let deadline = Instant::now() + MAX_WAIT;
        let mut waiting = None;
        let outcome = loop {
            let seen = self.settled_count();
            let checked = store.check_attempt(&check);
            match checked {
                Ok(Checked::Admitted(id)) => {
                    break Ok(Attempt {
                        store,
                        limiter: self,
                        id,
                        settled: false,
                    });
                }
                Ok(Checked::Not(Verdict::Refuse(blocked))) => break Err(blocked),
                Ok(Checked::Not(Verdict::Admit)) | Err(_) => break Err(Blocked::Store),
                Ok(Checked::Not(Verdict::Wait)) => {
                    if Instant::now() >= deadline {
                        break Err(Blocked::Key);
                    }
                    if waiting.is_none() {
                        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
                            self.waiting.fetch_sub(1, Ordering::SeqCst);
                            break Err(Blocked::Full);
                        }
                        waiting = Some(WaitSlot(&self.waiting));
                    }
                    self.wait_for_settling(seen);
                }
            }
        };
        drop(waiting);
        outcome
    }
}

/// A place among the attempts waiting, given back when dropped.
struct WaitSlot<'a>(&'a AtomicUsize);

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Attempt<'_> {
    /// The attempt succeeded (or was not really made): it does not count.
    pub fn refund(mut self) {
        self.settled = true;
        self.settle(false);
    }

    /// The attempt failed: it counts (the same as dropping it).
    pub fn fail(self) {}

    fn settle(&self, failed: bool) {
        // If the store cannot be reached the row stays in flight, and counts as failed once
        // abandoned: never less limiting than settling it.
        if let Err(e) = self.store.settle_attempt(self.id, failed) {
            tracing::warn!(error = %e, "an attempt under a limit could not be settled");
        }
        self.limiter.note_settled();
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.settle(true);
        }
    }
}

/// The key a client address is limited under: an IPv4 address, or the /64 prefix of an IPv6
/// address (one subscriber usually holds a whole /64, so per-address limits would be moot).
#[must_use]
pub fn client_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use super::*;

    const RULES: LimitRules = LimitRules {
        per_key: 3,
        per_key_window_secs: 3600,
        global: 10,
        global_window_secs: 60,
    };

    fn counts(global_failures: u64, failures: u64, in_flight: u64) -> AttemptCounts {
        AttemptCounts {
            global_failures,
            failures,
            in_flight,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(RULES.verdict(counts(0, 0, 0)), Verdict::Admit);
        assert_eq!(RULES.verdict(counts(9, 2, 0)), Verdict::Admit);
        assert_eq!(
            RULES.verdict(counts(10, 0, 0)),
            Verdict::Refuse(Blocked::Global)
        );
        assert_eq!(
            RULES.verdict(counts(0, 3, 0)),
            Verdict::Refuse(Blocked::Key)
        );
        // Room only if attempts in flight fail: wait for them.
        assert_eq!(RULES.verdict(counts(0, 2, 1)), Verdict::Wait);
        assert_eq!(RULES.verdict(counts(0, 0, 3)), Verdict::Wait);
        let unlimited = LimitRules {
            global: usize::MAX,
            ..RULES
        };
        assert_eq!(unlimited.verdict(counts(u64::MAX, 0, 0)), Verdict::Admit);
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a: std::net::IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: std::net::IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.7");
    }
}
