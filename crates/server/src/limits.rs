//! Sliding-window limits on failed attempts (code guesses, official logins), per client key
//! and overall.
//!
//! A check and its count are one critical section: [`FailureLimiter::begin`] refuses, or
//! reserves a failure slot before the attempt runs, and the caller gives it back with
//! [`Attempt::refund`] only when the attempt succeeds. So concurrent attempts can never
//! exceed a limit together (checking, then counting later, let 11 of 400 concurrent guesses
//! through a limit of 10). An attempt dropped without a verdict counts as a failure.
//!
//! Memory is bounded: entries older than their window are pruned as time passes, clients
//! with no recent failure are forgotten, and at most `max_keys` clients are tracked (a new
//! client beyond that is refused until old ones age out: failing closed).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

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
    /// Too many keys are tracked; new ones wait.
    Full,
}

#[derive(Default)]
struct Windows {
    per_key: HashMap<String, VecDeque<i64>>,
    global: VecDeque<i64>,
    last_prune: i64,
}

/// Failed attempts per key and overall, in sliding windows.
pub struct FailureLimiter {
    rules: LimitRules,
    windows: Mutex<Windows>,
}

/// A reserved failure slot: refund it when the attempt succeeds; dropping it keeps it
/// counted as a failure.
#[must_use = "an attempt counts as a failure unless refunded"]
pub struct Attempt<'a> {
    limiter: &'a FailureLimiter,
    key: String,
    at: i64,
}

fn drop_before(queue: &mut VecDeque<i64>, cutoff: i64) {
    while queue.front().is_some_and(|t| *t <= cutoff) {
        queue.pop_front();
    }
}

impl FailureLimiter {
    /// A limiter with these rules.
    #[must_use]
    pub fn new(rules: LimitRules) -> Self {
        Self {
            rules,
            windows: Mutex::new(Windows::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // The state is counters only: after a panic elsewhere it is still consistent.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refuses the attempt if `key` or everyone is at the limit; otherwise reserves a
    /// failure slot for it, in the same critical section.
    ///
    /// # Errors
    /// [`Blocked`] saying which limit was reached.
    pub fn begin(&self, key: &str, now: i64) -> Result<Attempt<'_>, Blocked> {
        let rules = self.rules;
        let mut windows = self.lock();
        drop_before(&mut windows.global, now - rules.global_window_secs);
        if now - windows.last_prune >= rules.per_key_window_secs.min(60)
            || windows.per_key.len() >= rules.max_keys
        {
            let cutoff = now - rules.per_key_window_secs;
            windows.per_key.retain(|_, q| {
                drop_before(q, cutoff);
                !q.is_empty()
            });
            windows.last_prune = now;
        }
        if windows.global.len() >= rules.global {
            return Err(Blocked::Global);
        }
        let tracked = windows.per_key.len();
        match windows.per_key.get_mut(key) {
            Some(mine) => {
                drop_before(mine, now - rules.per_key_window_secs);
                if mine.len() >= rules.per_key {
                    return Err(Blocked::Key);
                }
                mine.push_back(now);
            }
            None if tracked >= rules.max_keys => return Err(Blocked::Full),
            None if rules.per_key == 0 => return Err(Blocked::Key),
            None => {
                windows
                    .per_key
                    .insert(key.to_owned(), VecDeque::from([now]));
            }
        }
        windows.global.push_back(now);
        Ok(Attempt {
            limiter: self,
            key: key.to_owned(),
            at: now,
        })
    }

    /// Keys tracked now (for tests and metrics).
    #[must_use]
    pub fn tracked_keys(&self) -> usize {
        self.lock().per_key.len()
    }

    fn give_back(&self, key: &str, at: i64) {
        let mut windows = self.lock();
        let remove = |q: &mut VecDeque<i64>| {
            if let Some(i) = q.iter().rposition(|t| *t == at) {
                q.remove(i);
            }
        };
        remove(&mut windows.global);
        if let Some(mine) = windows.per_key.get_mut(key) {
            remove(mine);
            if mine.is_empty() {
                windows.per_key.remove(key);
            }
        }
    }
}

impl Attempt<'_> {
    /// The attempt succeeded (or was not really made): it does not count.
    pub fn refund(self) {
        self.limiter.give_back(&self.key, self.at);
    }

    /// The attempt failed: it counts (the same as dropping it; the slot reserved in
    /// [`FailureLimiter::begin`] is the failure).
    pub fn fail(self) {}
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
    fn forgotten_clients_are_pruned_and_the_map_is_bounded() {
        let limiter = FailureLimiter::new(LimitRules {
            max_keys: 100,
            ..rules(10, usize::MAX)
        });
        for i in 0..100 {
            limiter.begin(&format!("c{i}"), 0).unwrap().fail();
        }
        assert_eq!(limiter.tracked_keys(), 100);
        assert_eq!(limiter.begin("c100", 10).err(), Some(Blocked::Full));
        // Successful clients are never kept.
        limiter.begin("c5", 10).unwrap().refund();
        assert_eq!(limiter.tracked_keys(), 100);
        // An hour later every entry has aged out.
        limiter.begin("late", 3601).unwrap().refund();
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
