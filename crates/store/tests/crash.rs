//! Crash safety: a writer process is killed (SIGKILL) at random moments, many times; every
//! batch it reported as committed must still be there, complete, no batch may be half
//! written, and the database must pass SQLite's integrity check.
//!
//! The writer is this test binary itself, re-run with `BLUEZONE_CRASH_WRITER` set so that
//! the `crash_writer` test becomes the writing loop.
//!
//! Nothing here depends on how fast the machine is: each writer is killed only after it
//! has acknowledged its first batch (waiting as long as it takes, within a generous
//! timeout), at a random moment after that, so every round kills a writer mid-stream and
//! has at least one acknowledged batch to check.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bluezone_protocol::DayNumber;
use bluezone_store::{MasterKey, Store, Table};
use rand::{RngExt, SeedableRng};

const WRITER_ENV: &str = "BLUEZONE_CRASH_WRITER";
const START_ENV: &str = "BLUEZONE_CRASH_START";
const ROWS_PER_BATCH: usize = 20;
const ROUNDS: usize = 30;
/// How long a writer may take to start and commit its first batch: only a hung or broken
/// writer gets anywhere near this.
const FIRST_ACK_TIMEOUT: Duration = Duration::from_secs(120);
/// The acknowledgement a writer prints after each commit. libtest prints its own
/// `test crash_writer ... ` on the same line as the first one, hence a marker to search for.
const ACK: &str = "committed batch ";

/// The batch a complete (newline-terminated) output line acknowledges, if any.
fn parse_ack(line: &str) -> Option<u64> {
    let line = line.strip_suffix('\n')?;
    let at = line.find(ACK)?;
    Some(line[at + ACK.len()..].parse().unwrap())
}

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
        writeln!(stdout.lock(), "{ACK}{batch}").unwrap();
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
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_writer", "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, &path)
            .env(START_ENV, next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (acks, acked) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            let mut line = String::new();
            while stdout.read_line(&mut line).unwrap() > 0 {
                if let Some(batch) = parse_ack(&line) {
                    acks.send(batch).unwrap();
                }
                line.clear();
            }
        });

        // Kill only a writer that is demonstrably writing, at a random moment after that.
        let first = match acked.recv_timeout(FIRST_ACK_TIMEOUT) {
            Ok(batch) => batch,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("round {round}: the writer acknowledged no batch ({e})");
            }
        };
        assert_eq!(
            first, next,
            "round {round}: the first acknowledgement was missed"
        );
        std::thread::sleep(Duration::from_millis(rng.random_range(0..100)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        let this_round: Vec<u64> = std::iter::once(first).chain(acked.try_iter()).collect();
        assert!(
            this_round
                .iter()
                .copied()
                .eq(next..next + this_round.len() as u64),
            "round {round}: acknowledgements out of sequence: {this_round:?}"
        );
        committed.extend(this_round);

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
        // All or nothing: a batch present at all is present in full.
        for (batch, rows) in &rows_per_batch {
            assert_eq!(
                rows.len(),
                ROWS_PER_BATCH,
                "round {round}: batch {batch} is partial"
            );
        }
        // Everything acknowledged, in this round or any before, survived.
        for batch in &committed {
            assert!(
                rows_per_batch.contains_key(batch),
                "round {round}: committed batch {batch} is lost"
            );
        }
        // Batches are written in order, so what is stored is a prefix 0..=last with no gap
        // (a batch may be stored but unacknowledged: killed between commit and report).
        let last = *rows_per_batch.keys().next_back().unwrap();
        assert!(
            rows_per_batch.keys().copied().eq(0..=last),
            "round {round}: stored batches have a gap"
        );
        next = last + 1;
    }
    // One acknowledged batch per round at least: holds however slow the machine.
    assert!(committed.len() >= ROUNDS, "{}", committed.len());
}
