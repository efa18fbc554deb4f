//! The limits on guessing as the database keeps them (`bluezone_server::limits`), on SQLite
//! and on PostgreSQL: failures count and successes do not, the windows slide, concurrent
//! guesses never pass a limit together (on PostgreSQL from two store instances on one
//! schema, as two server instances), a restart remembers, and an attempt abandoned in flight
//! counts as failed.

#![allow(clippy::unwrap_used)] // Test code.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use bluezone_server::limits::{ABANDONED_AFTER_SECS, Blocked, FailureLimiter, LimitRules};
use bluezone_server::store::{PostgresServerStore, ServerStore, SqliteServerStore};
use common::{on_both_backends, on_postgres, reopened_store, store};

const T: i64 = 1_793_530_800;

fn limiter(per_key: usize, global: usize) -> FailureLimiter {
    FailureLimiter::new(
        "codes",
        LimitRules {
            per_key,
            per_key_window_secs: 3600,
            global,
            global_window_secs: 60,
        },
    )
}

fn client(n: u8) -> [u8; 16] {
    [n; 16]
}

fn failures_count_successes_do_not() {
    let store = store();
    let limiter = limiter(3, 100);
    for _ in 0..5 {
        limiter
            .begin(store.as_ref(), client(1), T)
            .unwrap()
            .refund();
    }
    for _ in 0..3 {
        limiter.begin(store.as_ref(), client(1), T).unwrap().fail();
    }
    assert_eq!(
        limiter.begin(store.as_ref(), client(1), T + 1).err(),
        Some(Blocked::Key)
    );
    // Another client is not affected; the window slides.
    limiter
        .begin(store.as_ref(), client(2), T + 1)
        .unwrap()
        .fail();
    limiter
        .begin(store.as_ref(), client(1), T + 3601)
        .unwrap()
        .fail();
}

fn the_global_limit_spans_clients_and_slides() {
    let store = store();
    let limiter = limiter(10, 5);
    for i in 0..5 {
        limiter.begin(store.as_ref(), client(i), T).unwrap().fail();
    }
    assert_eq!(
        limiter.begin(store.as_ref(), client(99), T + 30).err(),
        Some(Blocked::Global)
    );
    limiter
        .begin(store.as_ref(), client(99), T + 61)
        .unwrap()
        .fail();
}

fn an_attempt_dropped_unsettled_counts_as_failed() {
    let store = store();
    let limiter = limiter(1, 100);
    drop(limiter.begin(store.as_ref(), client(1), T).unwrap());
    assert_eq!(
        limiter.begin(store.as_ref(), client(1), T + 1).err(),
        Some(Blocked::Key)
    );
}

fn an_attempt_abandoned_in_flight_counts_as_failed() {
    // A server died with the attempt in flight: nothing settles it.
    let store = store();
    let limiter = limiter(1, 100);
    std::mem::forget(limiter.begin(store.as_ref(), client(1), T).unwrap());
    // Meanwhile the client waits (its attempt may still succeed), then is refused outright.
    assert_eq!(
        limiter
            .begin(store.as_ref(), client(1), T + ABANDONED_AFTER_SECS)
            .err(),
        Some(Blocked::Key)
    );
    assert_eq!(
        limiter
            .begin(store.as_ref(), client(1), T + ABANDONED_AFTER_SECS + 1)
            .err(),
        Some(Blocked::Key)
    );
}

fn a_restarted_server_remembers_failures_and_pruning_forgets_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let limiter = limiter(2, 100);
    {
        let store = reopened_store(dir.path());
        limiter.begin(store.as_ref(), client(1), T).unwrap().fail();
        limiter.begin(store.as_ref(), client(1), T).unwrap().fail();
    }
    let store = reopened_store(dir.path());
    assert_eq!(
        limiter.begin(store.as_ref(), client(1), T + 10).err(),
        Some(Blocked::Key)
    );
    assert_eq!(store.prune_attempts(T - 1).unwrap(), 0);
    assert_eq!(store.prune_attempts(T).unwrap(), 2);
    limiter
        .begin(store.as_ref(), client(1), T + 10)
        .unwrap()
        .refund();
}

fn a_burst_of_valid_attempts_from_many_clients_passes_the_global_limit() {
    let store = store();
    let limiter = limiter(10, 5);
    let held: Vec<_> = (0..50)
        .map(|i| limiter.begin(store.as_ref(), client(i), T).unwrap())
        .collect();
    for attempt in held {
        attempt.refund();
    }
    limiter
        .begin(store.as_ref(), client(0), T)
        .unwrap()
        .refund();
}

on_both_backends!(
    failures_count_successes_do_not,
    the_global_limit_spans_clients_and_slides,
    an_attempt_dropped_unsettled_counts_as_failed,
    an_attempt_abandoned_in_flight_counts_as_failed,
    a_restarted_server_remembers_failures_and_pruning_forgets_old_ones,
    a_burst_of_valid_attempts_from_many_clients_passes_the_global_limit,
);

/// For each backend, the stores callers share (caller `i` uses `stores[i % len]`): one
/// SQLite store (one process), two PostgreSQL stores on one schema (two instances).
fn instances() -> Vec<Vec<Arc<dyn ServerStore>>> {
    let mut backends: Vec<Vec<Arc<dyn ServerStore>>> =
        vec![vec![Arc::new(SqliteServerStore::in_memory().unwrap())]];
    if let Some(url) = PostgresServerStore::test_url().unwrap() {
        let first = PostgresServerStore::scratch(&url).unwrap();
        let second =
            PostgresServerStore::open_in_schema(&url, first.scratch_schema().unwrap()).unwrap();
        backends.push(vec![Arc::new(first), Arc::new(second)]);
    }
    backends
}

/// `threads` callers at once, each making `each` attempts with `attempt`; how many were
/// admitted.
fn at_once(
    stores: &[Arc<dyn ServerStore>],
    threads: usize,
    attempt: impl Fn(&FailureLimiter, &dyn ServerStore) -> bool + Send + Sync + 'static,
) -> usize {
    let limiter = Arc::new(limiter(10, 1000));
    let attempt = Arc::new(attempt);
    let admitted = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(threads));
    let callers: Vec<_> = (0..threads)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let (limiter, attempt, admitted, start) = (
                limiter.clone(),
                attempt.clone(),
                admitted.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                if attempt(&limiter, store.as_ref()) {
                    admitted.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().unwrap();
    }
    admitted.load(Ordering::SeqCst)
}

#[test]
fn concurrent_guesses_never_pass_the_limit_together() {
    // 16 callers, 25 failing guesses each, from one client: exactly the limit get through,
    // on one SQLite store and across two PostgreSQL instances.
    for stores in instances() {
        let admitted = Arc::new(AtomicUsize::new(0));
        let counted = admitted.clone();
        at_once(&stores, 16, move |limiter, store| {
            for _ in 0..25 {
                if let Ok(attempt) = limiter.begin(store, client(7), T) {
                    counted.fetch_add(1, Ordering::SeqCst);
                    std::thread::yield_now();
                    attempt.fail();
                }
            }
            true
        });
        assert_eq!(admitted.load(Ordering::SeqCst), 10);
    }
}

#[test]
fn concurrent_successes_from_one_address_wait_instead_of_being_refused() {
    // 40 phones behind one carrier address verify at once, each succeeding: none refused.
    for stores in instances() {
        let admitted = at_once(&stores, 40, |limiter, store| {
            let Ok(attempt) = limiter.begin(store, client(8), T) else {
                return false;
            };
            std::thread::sleep(std::time::Duration::from_millis(5));
            attempt.refund();
            true
        });
        assert_eq!(admitted, 40);
    }
}
