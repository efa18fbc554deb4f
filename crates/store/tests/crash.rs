//! Crash safety: a writer process is killed (SIGKILL) at random moments, many times; every
//! batch it reported as committed must still be there, complete, no batch may be half
//! written, and the database must pass SQLite's integrity check.
//!
//! The writer is this test binary itself, re-run with `BLUEZONE_CRASH_WRITER` set so that
//! the `crash_writer` test becomes the writing loop.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bluezone_protocol::DayNumber;
use bluezone_store::{MasterKey, Store, Table};
use rand::{RngExt, SeedableRng};

const WRITER_ENV: &str = "BLUEZONE_CRASH_WRITER";
const START_ENV: &str = "BLUEZONE_CRASH_START";
const ROWS_PER_BATCH: usize = 20;

fn key() -> MasterKey {
    MasterKey::from_bytes([9; 32])
}

fn open(path: &Path, seed: u64) -> Store {
    Store::open(
        path,
        &key(),
        Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
    )
    .unwrap()
}

fn day_of(batch: u64) -> DayNumber {
    DayNumber::new(20_000 + u32::try_from(batch % 5).unwrap())
}

/// The writing loop, active only in the child process.
#[test]
fn crash_writer() {
    let Ok(path) = std::env::var(WRITER_ENV) else {
        return;
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let mut store = open(Path::new(&path), start);
    let stdout = std::io::stdout();
    for batch in start.. {
        let values: Vec<Vec<u8>> = (0..ROWS_PER_BATCH)
            .map(|i| {
                let mut v = batch.to_le_bytes().to_vec();
                v.push(u8::try_from(i).unwrap());
                v.extend_from_slice(&[0xab; 300]);
                v
            })
            .collect();
        let items: Vec<(Table, DayNumber, &[u8])> = values
            .iter()
            .map(|v| (Table::Sightings, day_of(batch), v.as_slice()))
            .collect();
        store.append_batch(&items).unwrap();
        // Reported only after the commit returned.
        writeln!(stdout.lock(), "{batch}").unwrap();
    }
}

#[test]
fn killed_writers_lose_no_committed_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut committed: BTreeSet<u64> = BTreeSet::new();
    let mut next = 0u64;
    for round in 0..30 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, &path)
            .env(START_ENV, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(20..120)));
        child.kill().unwrap();
        child.wait().unwrap();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        committed.extend(
            out.lines()
                .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
                .map(|l| l.parse::<u64>().unwrap()),
        );

        let mut store = open(&path, 1);
        store.integrity_check().unwrap();
        let mut rows_per_batch: BTreeMap<u64, BTreeSet<u8>> = BTreeMap::new();
        for stored in store
            .read_days(Table::Sightings, day_of(0), day_of(4))
            .unwrap()
        {
            let batch = u64::from_le_bytes(stored.value[..8].try_into().unwrap());
            assert_eq!(stored.day, day_of(batch));
            rows_per_batch
                .entry(batch)
                .or_default()
                .insert(stored.value[8]);
        }
        for (batch, rows) in &rows_per_batch {
            assert_eq!(
                rows.len(),
                ROWS_PER_BATCH,
                "round {round}: batch {batch} is partial"
            );
        }
        for batch in &committed {
            assert!(
                rows_per_batch.contains_key(batch),
                "round {round}: committed batch {batch} is lost"
            );
        }
        next = rows_per_batch.keys().next_back().map_or(0, |b| b + 1);
    }
    assert!(
        committed.len() >= 30,
        "the writer made progress: {}",
        committed.len()
    );
}
