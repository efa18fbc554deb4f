//! Sliding-window limits on failed attempts (code guesses, official logins), per client key
//! and overall.
//!
//! A check and its count are one critical section. [`FailureLimiter::begin`] refuses when
//! the failures already counted reach a limit; otherwise it admits the attempt as *in
//! flight*, and one key's failures plus its attempts in flight may never exceed its limit
//! (the global limit counts settled failures only, so bursts of valid attempts pass). An attempt
//! that would exceed it waits (briefly, and only a few at a time) for one in flight to be
//! settled with [`Attempt::refund`] (it succeeded) or [`Attempt::fail`]; an attempt dropped
//! unsettled counts as failed. So concurrent guesses can never pass a limit together
//! (checking, then counting later, let 11 of 400 concurrent guesses through a limit of 10),
//! while concurrent successes from one address (phones behind one carrier NAT) wait
//! milliseconds instead of being refused.
//!
//! Memory is bounded: failures older than their window are pruned as time passes, clients
//! with nothing counted or in flight are forgotten, and at most `max_keys` clients are
//! tracked: a new client beyond that evicts one with nothing in flight. Filling the table
//! therefore costs an attacker as many failures as it holds (for logins, each an Argon2id
//! check, at most a few hundred a second), and buys only forgetting, never a lockout.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The rules of one limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRules {
    /// Failures one key may have within `per_key_window_secs`.
    pub per_key: usize,
    /// The per-key window in seconds.
    pub per_key_window_secs: i64,
    /// Failures all keys together may have within `global_window_secs` (`usize::MAX`: none).
    pub global: usize,
    /// The global window in seconds.
    pub global_window_secs: i64,
    /// Most keys tracked at once.
    pub max_keys: usize,
}

/// Why an attempt was refused before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// This key reached its limit.
    Key,
    /// All keys together reached the global limit.
    Global,
    /// Too many attempts wait at once (or every tracked key has one in flight).
    Full,
}

/// How long an attempt waits for others in flight to settle before it is refused.
const MAX_WAIT: Duration = Duration::from_secs(2);
/// Most attempts waiting at once, over all keys.
const MAX_WAITING: usize = 64;

/// Failures counted in a window, and attempts not yet settled.
#[derive(Default)]
struct Window {
    failures: VecDeque<i64>,
    in_flight: usize,
}

impl Window {
    fn prune(&mut self, cutoff: i64) {
        while self.failures.front().is_some_and(|t| *t <= cutoff) {
            self.failures.pop_front();
        }
    }

    fn is_empty(&self) -> bool {
        self.failures.is_empty() && self.in_flight == 0
    }
}

#[derive(Default)]
struct Windows {
    per_key: HashMap<String, Window>,
    global: Window,
    waiting: usize,
    last_prune: i64,
}

/// Failed attempts per key and overall, in sliding windows.
pub struct FailureLimiter {
    rules: LimitRules,
    windows: Mutex<Windows>,
    settled: Condvar,
}

/// An admitted attempt: settle it with [`Attempt::refund`] or [`Attempt::fail`]; dropping
/// it unsettled counts as a failure.
#[must_use = "an attempt counts as a failure unless refunded"]
pub struct Attempt<'a> {
    limiter: &'a FailureLimiter,
    key: String,
    at: i64,
    settled: bool,
}

enum Verdict {
    Admit,
    Wait,
    Refuse(Blocked),
}

impl FailureLimiter {
    /// A limiter with these rules.
    #[must_use]
    pub fn new(rules: LimitRules) -> Self {
        Self {
            rules,
            windows: Mutex::new(Windows::default()),
            settled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // The state is counters only: after a panic elsewhere it is still consistent.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn verdict(&self, windows: &mut Windows, key: &str, now: i64) -> Verdict {
        let rules = self.rules;
        windows.global.prune(now - rules.global_window_secs);
        if now - windows.last_prune >= rules.per_key_window_secs.min(60) {
            let cutoff = now - rules.per_key_window_secs;
            windows.per_key.retain(|_, w| {
                w.prune(cutoff);
                !w.is_empty()
            });
            windows.last_prune = now;
        }
        if windows.global.failures.len() >= rules.global {
            return Verdict::Refuse(Blocked::Global);
        }
        let tracked = windows.per_key.len();
        let (failures, in_flight) = match windows.per_key.get_mut(key) {
            Some(mine) => {
                mine.prune(now - rules.per_key_window_secs);
                (mine.failures.len(), mine.in_flight)
            }
            None if tracked >= rules.max_keys => {
                // Full: forget one client with nothing in flight rather than refuse new
                // ones (refusing would let an attacker lock everyone out by filling it).
                let idle = windows
                    .per_key
                    .iter()
                    .find(|(_, w)| w.in_flight == 0)
                    .map(|(k, _)| k.clone());
                match idle {
                    Some(evicted) => {
                        windows.per_key.remove(&evicted);
                        (0, 0)
                    }
                    None => return Verdict::Refuse(Blocked::Full),
                }
            }
            None => (0, 0),
        };
        if failures >= rules.per_key {
            return Verdict::Refuse(Blocked::Key);
        }
        // Per key, attempts in flight count: one client's concurrent guesses cannot pass its
        // limit together. Overall, only settled failures count, so a burst of phones with
        // valid codes is never refused; the global limit may be passed by at most the
        // attempts in flight at once.
        if failures + in_flight >= rules.per_key {
            return Verdict::Wait;
        }
        Verdict::Admit
    }

    /// Refuses the attempt if `key` or everyone has reached the limit; otherwise admits it
    /// once failures and attempts in flight leave room, waiting up to two seconds for that.
    ///
    /// # Errors
    /// [`Blocked`] saying which limit was reached.
    pub fn begin(&self, key: &str, now: i64) -> Result<Attempt<'_>, Blocked> {
        let deadline = Instant::now() + MAX_WAIT;
        let mut windows = self.lock();
        let mut waiting = false;
        let outcome = loop {
            match self.verdict(&mut windows, key, now) {
                Verdict::Admit => break Ok(()),
                Verdict::Refuse(blocked) => break Err(blocked),
                Verdict::Wait => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break Err(Blocked::Key);
                    }
                    if !waiting {
                        if windows.waiting >= MAX_WAITING {
                            break Err(Blocked::Full);
                        }
                        windows.waiting += 1;
                        waiting = true;
                    }
                    windows = self
                        .settled
                        .wait_timeout(windows, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        };
        if waiting {
            windows.waiting -= 1;
        }
        outcome?;
        windows.per_key.entry(key.to_owned()).or_default().in_flight += 1;
        windows.global.in_flight += 1;
        Ok(Attempt {
            limiter: self,
            key: key.to_owned(),
            at: now,
            settled: false,
        })
    }

    /// Keys tracked now (for tests and metrics).
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        self.lock().per_key.len()
    }

    fn settle(&self, key: &str, failed_at: Option<i64>) {
        let mut windows = self.lock();
        windows.global.in_flight = windows.global.in_flight.saturating_sub(1);
        if let Some(at) = failed_at {
            windows.global.failures.push_back(at);
        }
        if let Some(mine) = windows.per_key.get_mut(key) {
            mine.in_flight = mine.in_flight.saturating_sub(1);
            if let Some(at) = failed_at {
                mine.failures.push_back(at);
            }
            if mine.is_empty() {
                windows.per_key.remove(key);
            }
        }
        drop(windows);
        self.settled.notify_all();
    }
}

impl Attempt<'_> {
    /// The attempt succeeded (or was not really made): it does not count.
    pub fn refund(mut self) {
        self.settled = true;
        self.limiter.settle(&self.key, None);
    }

    /// The attempt failed: it counts (the same as dropping it).
    pub fn fail(self) {}
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.limiter.settle(&self.key, Some(self.at));
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

    use std::sync::Arc;

    use super::*;

    fn rules(per_key: usize, global: usize) -> LimitRules {
        LimitRules {
            per_key,
            per_key_window_secs: 3600,
            global,
            global_window_secs: 60,
            max_keys: 1000,
        }
    }

    #[test]
    fn failures_count_successes_do_not() {
        let limiter = FailureLimiter::new(rules(3, 100));
        for _ in 0..5 {
            limiter.begin("a", 0).unwrap().refund();
        }
        for _ in 0..3 {
            limiter.begin("a", 0).unwrap().fail();
        }
        assert_eq!(limiter.begin("a", 1).err(), Some(Blocked::Key));
        // Another client is not affected; the window slides.
        limiter.begin("b", 1).unwrap().fail();
        limiter.begin("a", 3601).unwrap().fail();
    }

    #[test]
    fn the_global_limit_spans_clients_and_slides() {
        let limiter = FailureLimiter::new(rules(10, 5));
        for i in 0..5 {
            limiter.begin(&format!("c{i}"), 0).unwrap().fail();
        }
        assert_eq!(limiter.begin("new", 30).err(), Some(Blocked::Global));
        limiter.begin("new", 61).unwrap().fail();
    }

    #[test]
    fn concurrent_attempts_never_pass_the_limit_together() {
        // 400 attempts from 8 threads at once, all failing: exactly the limit get through.
        let limiter = Arc::new(FailureLimiter::new(rules(10, 1000)));
        let admitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, admitted, barrier) =
                    (limiter.clone(), admitted.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for _ in 0..50 {
                        if let Ok(attempt) = limiter.begin("attacker", 0) {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::yield_now();
                            attempt.fail();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 10);
    }

    #[test]
    fn concurrent_successes_from_one_address_wait_instead_of_being_refused() {
        // 50 phones behind one address verify at once, each succeeding: none is refused.
        let limiter = Arc::new(FailureLimiter::new(rules(10, 100)));
        let barrier = Arc::new(std::sync::Barrier::new(50));
        let threads: Vec<_> = (0..50)
            .map(|_| {
                let (limiter, barrier) = (limiter.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let attempt = limiter.begin("carrier-nat", 0)?;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    attempt.refund();
                    Ok::<(), Blocked>(())
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert_eq!(limiter.tracked_keys(), 0);
    }

    #[test]
    fn an_attempt_dropped_unsettled_counts_as_failed() {
        let limiter = FailureLimiter::new(rules(1, 100));
        drop(limiter.begin("a", 0).unwrap());
        assert_eq!(limiter.begin("a", 1).err(), Some(Blocked::Key));
    }

    #[test]
    fn forgotten_clients_are_pruned_and_the_map_is_bounded() {
        let limiter = FailureLimiter::new(LimitRules {
            max_keys: 100,
            ..rules(10, usize::MAX)
        });
        for i in 0..100 {
            limiter.begin(&format!("c{i}"), 0).unwrap().fail();
        }
        assert_eq!(limiter.tracked_keys(), 100);
        // A new client when full evicts an idle one instead of being refused.
        limiter.begin("c100", 10).unwrap().fail();
        assert_eq!(limiter.tracked_keys(), 100);
        // Successful clients are never kept.
        limiter.begin("fresh", 10).unwrap().refund();
        assert!(limiter.tracked_keys() <= 100);
        // An hour later every entry has aged out.
        limiter.begin("late", 3611).unwrap().refund();
        assert_eq!(limiter.tracked_keys(), 0);
    }

    #[test]
    fn a_burst_of_valid_attempts_from_many_clients_passes_the_global_limit() {
        let limiter = Arc::new(FailureLimiter::new(rules(10, 5)));
        let held: Vec<Attempt<'_>> = (0..50)
            .map(|i| limiter.begin(&format!("phone{i}"), 0).unwrap())
            .collect();
        for attempt in held {
            attempt.refund();
        }
        assert_eq!(limiter.tracked_keys(), 0);
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
