//! The store under concurrent callers, on SQLite (one store shared by threads, as one process
//! runs it) and on PostgreSQL (two stores on one schema, as two instances run it, each with
//! its own connections): a code is redeemed once, a token certifies one set of keys, an
//! upload and each key are stored once, and a key is published in one file.

#![allow(clippy::unwrap_used)] // Test code.

use std::sync::{Arc, Barrier};

use bluezone_server::store::{
    CaseClaims, NewCode, PostgresServerStore, RecordOutcome, Redeem, ServerStore,
    SqliteServerStore, StoredKey, TokenUse,
};

const CALLERS: usize = 16;
const CLAIMS: CaseClaims = CaseClaims {
    report_type: 1,
    symptom_onset_interval: None,
};

/// For each backend, the stores the callers share (caller `i` uses `stores[i % len]`).
fn backends() -> Vec<(&'static str, Vec<Arc<dyn ServerStore>>)> {
    let mut backends: Vec<(&str, Vec<Arc<dyn ServerStore>>)> = vec![(
        "sqlite",
        vec![Arc::new(SqliteServerStore::in_memory().unwrap())],
    )];
    if let Some(url) = PostgresServerStore::test_url().unwrap() {
        let first = PostgresServerStore::scratch(&url).unwrap();
        let second =
            PostgresServerStore::open_in_schema(&url, first.scratch_schema().unwrap()).unwrap();
        backends.push(("postgres", vec![Arc::new(first), Arc::new(second)]));
    }
    backends
}

/// Runs `call(i, store)` for every caller at once; the answers in caller order.
fn all_at_once<T: Send + 'static>(
    stores: &[Arc<dyn ServerStore>],
    call: impl Fn(usize, &dyn ServerStore) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let call = Arc::new(call);
    let start = Arc::new(Barrier::new(CALLERS));
    let threads: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (store, call, start) = (
                stores[i % stores.len()].clone(),
                call.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                call(i, store.as_ref())
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn keys(seed: u8, count: u8) -> Vec<StoredKey> {
    (0..count)
        .map(|i| StoredKey {
            key_data: [seed ^ i; 16],
            rolling_start: 2_990_000 - u32::from(i) * 144,
            rolling_period: 144,
            transmission_risk: 0,
            publish_after: 0,
        })
        .collect()
}

fn caller_tag(i: usize) -> [u8; 32] {
    [u8::try_from(i).unwrap() + 1; 32]
}

#[test]
fn one_code_redeemed_by_many_callers_at_once_is_redeemed_exactly_once() {
    for (backend, stores) in backends() {
        let official = stores[0]
            .create_official("nurse", "hash", 0)
            .unwrap()
            .unwrap();
        stores[0]
            .insert_code(&NewCode {
                code_mac: [0xc0; 32],
                official_id: official,
                claims: CLAIMS,
                test_date: None,
                created_at: 0,
                expires_at: 1_000,
            })
            .unwrap()
            .unwrap();
        let answers = all_at_once(&stores, |i, store| {
            store
                .redeem_code(&[0xc0; 32], &caller_tag(i), 2_000, 10)
                .unwrap()
        });
        let won = answers.iter().filter(|a| **a == Redeem::Ok(CLAIMS)).count();
        let used = answers.iter().filter(|a| **a == Redeem::Used).count();
        assert_eq!((won, used), (1, CALLERS - 1), "{backend}: {answers:?}");
        // Exactly one token was stored: the winner's.
        let winner = answers
            .iter()
            .position(|a| *a == Redeem::Ok(CLAIMS))
            .unwrap();
        for i in 0..CALLERS {
            let used = stores[0]
                .take_token(&caller_tag(i), &[1; 32], 20, 60)
                .unwrap();
            assert_eq!(
                matches!(used, TokenUse::Certify { .. }),
                i == winner,
                "{backend}: caller {i}: {used:?}"
            );
        }
    }
}

#[test]
fn one_token_taken_at_once_for_different_keys_certifies_one_set() {
    for (backend, stores) in backends() {
        let official = stores[0]
            .create_official("nurse", "hash", 0)
            .unwrap()
            .unwrap();
        let code = NewCode {
            code_mac: [0xc1; 32],
            official_id: official,
            claims: CLAIMS,
            test_date: None,
            created_at: 0,
            expires_at: 1_000,
        };
        stores[0].insert_code(&code).unwrap().unwrap();
        let token = [0x70; 32];
        assert_eq!(
            stores[0]
                .redeem_code(&code.code_mac, &token, 2_000, 10)
                .unwrap(),
            Redeem::Ok(CLAIMS)
        );
        let answers = all_at_once(&stores, move |i, store| {
            store.take_token(&token, &caller_tag(i), 20, 60).unwrap()
        });
        let certified = answers
            .iter()
            .filter(|a| matches!(a, TokenUse::Certify { .. }))
            .count();
        assert_eq!(certified, 1, "{backend}: {answers:?}");
    }
}

#[test]
fn the_same_keys_uploaded_at_once_are_stored_once() {
    for (backend, stores) in backends() {
        // Half the callers retry one certificate; all send the same ten keys, in two orders.
        let answers = all_at_once(&stores, |i, store| {
            let certificate = caller_tag(i % (CALLERS / 2));
            let mut keys = keys(0x40, 10);
            if i % 2 == 1 {
                keys.reverse();
            }
            store
                .insert_upload(&certificate, CLAIMS, &keys, 100)
                .unwrap()
        });
        assert!(answers.iter().all(|n| *n == 10), "{backend}: {answers:?}");
        let stored = stores[0].publishable_keys(200, 1_000).unwrap();
        assert_eq!(stored.len(), 10, "{backend}");
    }
}

#[test]
fn keys_recorded_at_once_in_many_files_are_published_in_one() {
    for (backend, stores) in backends() {
        stores[0]
            .insert_upload(&[1; 32], CLAIMS, &keys(0x50, 20), 100)
            .unwrap();
        let ids: Vec<i64> = stores[0]
            .publishable_keys(200, 1_000)
            .unwrap()
            .iter()
            .map(|k| k.id)
            .collect();
        // Every caller claims an overlapping window of the keys, in its own order.
        let answers = all_at_once(&stores, move |i, store| {
            let mut mine: Vec<i64> = ids.iter().copied().skip(i % 5).take(12).collect();
            if i % 2 == 1 {
                mine.reverse();
            }
            store
                .record_file(&format!("file-{i}"), &[2; 32], &mine, 12, 300)
                .unwrap()
        });
        let recorded = answers
            .iter()
            .filter(|a| **a == RecordOutcome::Recorded)
            .count();
        assert_eq!(recorded, 1, "{backend}: {answers:?}");
        let files = stores[0].all_files().unwrap();
        assert_eq!(
            files.len(),
            1,
            "{backend}: the losers' files are rolled back"
        );
        assert_eq!(stores[0].file_keys(&files[0].name).unwrap().len(), 12);
    }
}
