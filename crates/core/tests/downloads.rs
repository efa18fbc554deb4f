//! The phone's download path against a fake server: an in-memory index and signed key files.
//! Progress however long the index grows, files that fail are skipped and retried with
//! back-off, network failures keep progress, and hostile indexes are read within bounds.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bluezone_core::{
    AdvertData, CoreError, DownloadEnd, DownloadFailure, HttpReply, KeyFileRefusal, ManualClock,
    Retry, SightingInput, StorageLocation, Tracer, Transport, TransportError,
};
use bluezone_protocol::TemporaryExposureKey;
use bluezone_protocol::keyfile::{DiagnosisKey, KeyFileSigner};
use bluezone_testkit::MORNING;
use bluezone_testkit::keys::{self, advert, confirmed};
use bluezone_testkit::phone::TestPhone;
use bluezone_testkit::signer::{signer_with, test_signer};

fn phone(clock: &Arc<ManualClock>, storage: StorageLocation, max: usize) -> Tracer {
    TestPhone::new()
        .configure(|c| c.max_files_per_download = max)
        .storage(storage)
        .open(clock)
}

fn name(i: usize) -> String {
    format!("{}-{i:05}.zip", 1_793_000_000 + i)
}

/// A distinct signed key file (number `i`), holding `keys`.
fn key_file(i: usize, keys: &[DiagnosisKey], signer: &KeyFileSigner) -> Vec<u8> {
    keys::key_file(MORNING + i as i64 * 3600, keys, signer)
}

#[derive(Clone)]
enum Served {
    File(Vec<u8>),
    Status(u16),
}

/// The health authority's server, in memory.
#[derive(Default)]
struct FakeServer {
    index: Mutex<String>,
    files: Mutex<HashMap<String, Served>>,
    /// Names of the files asked for, in order.
    fetched: Mutex<Vec<String>>,
    /// When set, file requests get no answer after this many more.
    answers_left: Mutex<Option<usize>>,
}

impl FakeServer {
    /// Publishes files `range` (signed, empty) and lists them after the ones already listed.
    fn publish(&self, range: std::ops::Range<usize>) {
        let mut files = self.files.lock().unwrap();
        let mut index = self.index.lock().unwrap();
        for i in range {
            files.insert(name(i), Served::File(key_file(i, &[], &test_signer())));
            index.push_str(&name(i));
            index.push('\n');
        }
    }

    /// Lists exactly `range`.
    fn list(&self, range: std::ops::Range<usize>) {
        *self.index.lock().unwrap() = range.map(|i| name(i) + "\n").collect();
    }

    fn serve(&self, i: usize, served: Served) {
        self.files.lock().unwrap().insert(name(i), served);
    }

    fn take_fetched(&self) -> Vec<String> {
        std::mem::take(&mut *self.fetched.lock().unwrap())
    }
}

impl Transport for FakeServer {
    fn post(&self, _path: &str, _body: &[u8]) -> Result<HttpReply, TransportError> {
        Err(TransportError("downloads never post".into()))
    }

    fn get(&self, path: &str) -> Result<HttpReply, TransportError> {
        if path == "/v1/risk-config.json" {
            // None published (the risk configuration's own tests are in risk_config.rs).
            return Ok(HttpReply {
                status: 404,
                body: Vec::new(),
            });
        }
        if path == "/v1/index.txt" {
            return Ok(HttpReply {
                status: 200,
                body: self.index.lock().unwrap().clone().into_bytes(),
            });
        }
        let name = path.strip_prefix("/v1/files/").unwrap().to_owned();
        if let Some(left) = self.answers_left.lock().unwrap().as_mut() {
            if *left == 0 {
                return Err(TransportError("network is unreachable".into()));
            }
            *left -= 1;
        }
        self.fetched.lock().unwrap().push(name.clone());
        Ok(match self.files.lock().unwrap().get(&name) {
            Some(Served::File(bytes)) => HttpReply {
                status: 200,
                body: bytes.clone(),
            },
            Some(Served::Status(status)) => HttpReply {
                status: *status,
                body: Vec::new(),
            },
            None => HttpReply {
                status: 404,
                body: Vec::new(),
            },
        })
    }
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(name).collect()
}

#[test]
fn a_phone_that_processed_2400_files_reaches_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(MORNING));
    let server = FakeServer::default();
    server.publish(0..2400);
    // The first 2,400 files, in one call.
    let status = phone(&clock, StorageLocation::File(path.clone()), 2400)
        .download_key_files(&server)
        .unwrap();
    assert_eq!(status.files_matched + status.files_already_matched, 2400);
    server.take_fetched();

    // 100 more are published; the index (every file ever, oldest first) has 2,500 names.
    server.publish(2400..2500);
    let phone = phone(&clock, StorageLocation::File(path), 64);
    let first = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), names(2400..2464));
    assert_eq!(first.files_already_matched, 0);
    assert_eq!(first.files_matched, 64);
    assert_eq!(first.files_remaining, 36, "call again at once");
    let second = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), names(2464..2500));
    assert_eq!((second.files_matched, second.files_remaining), (36, 0));
    let third = phone.download_key_files(&server).unwrap();
    assert!(server.take_fetched().is_empty(), "nothing is fetched twice");
    assert_eq!(third.files_matched + third.files_already_matched, 0);
}

fn growing_index_makes_progress(retention_window: bool) {
    let clock = Arc::new(ManualClock::new(MORNING));
    let server = FakeServer::default();
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    // 120 days of hourly files, the phone downloading once a day; on days 50 to 59 it is
    // off, then catches up in calls of 64.
    for day in 0..120usize {
        let published = (day + 1) * 24;
        if retention_window {
            server.list(published.saturating_sub(14 * 24)..published);
            for i in day * 24..published {
                server.serve(i, Served::File(key_file(i, &[], &test_signer())));
            }
        } else {
            server.publish(day * 24..published);
        }
        clock.set(MORNING + day as i64 * 86_400);
        if (50..60).contains(&day) {
            continue;
        }
        let behind = if day == 60 { 11 * 24 } else { 24 };
        let mut fetched = Vec::new();
        let mut calls = 0;
        loop {
            let status = phone.download_key_files(&server).unwrap();
            let got = server.take_fetched();
            assert!(!got.is_empty(), "day {day}: a call made no progress");
            assert_eq!(status.files_matched as usize, got.len());
            fetched.extend(got);
            calls += 1;
            if status.files_remaining == 0 {
                break;
            }
            assert!(calls < 10, "day {day}: never done");
        }
        assert_eq!(fetched, names(published - behind..published), "day {day}");
    }
}

#[test]
fn repeated_calls_always_make_progress_when_the_index_lists_every_file_ever() {
    growing_index_makes_progress(false);
}

#[test]
fn repeated_calls_always_make_progress_when_the_index_lists_14_days() {
    growing_index_makes_progress(true);
}

fn near_the_f0(phone: &Tracer, clock: &ManualClock, f0: &TemporaryExposureKey) {
    for scan in 0..7 {
        let t = MORNING + scan * 300;
        clock.set(t + 4);
        let batch: Vec<SightingInput> = (0..3)
            .map(|k| SightingInput {
                advert: AdvertData::Raw(advert(f0, t).to_legacy_payload().to_vec()),
                rssi: -55,
                time: t + k,
                scan_window: Some(scan as u64),
            })
            .collect();
        phone.record_sightings(&batch).unwrap();
    }
}

fn f0_key(f0: &TemporaryExposureKey) -> DiagnosisKey {
    confirmed(f0, MORNING)
}

#[test]
fn a_bad_file_is_skipped_retried_with_back_off_and_reported() {
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    near_the_f0(&phone, &clock, &f0);

    let server = FakeServer::default();
    server.publish(0..10);
    // Three files in the middle cannot be had: not found, unavailable, forged...
    server.serve(3, Served::Status(404));
    server.serve(5, Served::Status(503));
    let impostor = signer_with("452", "v1", 0x99);
    server.serve(7, Served::File(key_file(7, &[], &impostor)));
    // ... and the F0's keys are in a file after them.
    server.serve(8, Served::File(key_file(8, &[f0_key(&f0)], &test_signer())));

    let t = MORNING + 86_400;
    clock.set(t);
    let status = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), names(0..10));
    assert_eq!(status.files_matched, 7, "{status:?}");
    assert_eq!((status.files_failed, status.files_remaining), (3, 0));
    assert!(status.notify && status.newly_notified, "{status:?}");
    let diag = phone.diagnostics().unwrap();
    assert_eq!(diag.failing_key_file_count, 3);
    let failing: Vec<(String, DownloadFailure, u32, i64)> = diag
        .failing_key_files
        .iter()
        .map(|f| (f.name.clone(), f.reason, f.attempts, f.next_retry_at))
        .collect();
    assert_eq!(
        failing,
        [
            (name(3), DownloadFailure::HttpStatus(404), 1, t + 3600),
            (name(5), DownloadFailure::HttpStatus(503), 1, t + 3600),
            (
                name(7),
                DownloadFailure::Refused(KeyFileRefusal::BadSignature),
                1,
                t + 3600
            ),
        ]
    );

    // Not retried before its back-off.
    clock.set(t + 3599);
    let status = phone.download_key_files(&server).unwrap();
    assert!(server.take_fetched().is_empty());
    assert_eq!((status.files_failed, status.files_remaining), (0, 0));

    // Retried after an hour, failing again: two hours until the next try.
    clock.set(t + 3600);
    let status = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), [name(3), name(5), name(7)]);
    assert_eq!(status.files_failed, 3);
    let diag = phone.diagnostics().unwrap();
    assert!(
        diag.failing_key_files
            .iter()
            .all(|f| f.attempts == 2 && f.next_retry_at == t + 3600 + 7200)
    );

    // The server fixes two of them; they are processed at the next retry.
    server.serve(5, Served::File(key_file(5, &[], &test_signer())));
    server.serve(7, Served::File(key_file(7, &[], &test_signer())));
    clock.set(t + 3600 + 7199);
    phone.download_key_files(&server).unwrap();
    assert!(server.take_fetched().is_empty());
    clock.set(t + 3600 + 7200);
    let status = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), [name(3), name(5), name(7)]);
    assert_eq!((status.files_matched, status.files_failed), (2, 1));
    let diag = phone.diagnostics().unwrap();
    assert_eq!(diag.failing_key_file_count, 1);
    assert_eq!(diag.failing_key_files[0].name, name(3));
    assert_eq!(diag.failing_key_files[0].attempts, 3);
    assert_eq!(
        diag.failing_key_files[0].next_retry_at,
        t + 3600 + 7200 + 14_400
    );

    // The missing file leaves the index: it is forgotten.
    server.list(4..10);
    let status = phone.download_key_files(&server).unwrap();
    assert!(server.take_fetched().is_empty());
    assert_eq!(status.files_failed, 0);
    assert_eq!(phone.diagnostics().unwrap().failing_key_file_count, 0);
    assert!(status.notify && !status.newly_notified);
}

#[test]
fn a_network_failure_ends_the_call_but_keeps_its_progress() {
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    let server = FakeServer::default();
    server.publish(0..10);
    *server.answers_left.lock().unwrap() = Some(4);
    let err = phone.download_key_files(&server).unwrap_err();
    assert!(matches!(err, CoreError::Network(_)), "{err:?}");
    assert_eq!(server.take_fetched(), names(0..4));
    assert_eq!(phone.diagnostics().unwrap().failing_key_file_count, 0);

    *server.answers_left.lock().unwrap() = None;
    let status = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), names(4..10), "the first 4 were kept");
    assert_eq!((status.files_matched, status.files_already_matched), (6, 0));
}

#[test]
fn a_hostile_index_is_read_within_bounds() {
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    let server = FakeServer::default();
    server.publish(0..3);
    server.index.lock().unwrap().push_str(&format!(
        "../../etc/passwd\n.hidden\n{}\nwith space.zip\n/v1/verify\n{}\n",
        "x".repeat(65),
        name(1)
    ));
    let status = phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), names(0..3), "bad lines are skipped");
    assert_eq!(status.files_matched, 3);

    // Not an index at all (a captive portal's page): an error, and nothing forgotten.
    *server.index.lock().unwrap() = "<html><body>Sign in to the Wi-Fi</body></html>".into();
    let err = phone.download_key_files(&server).unwrap_err();
    assert!(matches!(err, CoreError::Protocol(_)), "{err:?}");
    server.list(0..4);
    server.serve(3, Served::File(key_file(3, &[], &test_signer())));
    phone.download_key_files(&server).unwrap();
    assert_eq!(server.take_fetched(), [name(3)]);
}

#[test]
fn a_run_takes_every_batch_until_nothing_is_left() {
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    let server = FakeServer::default();
    server.publish(0..200);
    let run = phone.download_all(&server, &|| false);
    assert!(matches!(run.end, DownloadEnd::Done), "{:?}", run.end);
    assert_eq!(run.batches, 4);
    assert_eq!(server.take_fetched(), names(0..200));
    assert_eq!(
        (run.status.files_matched, run.status.files_remaining),
        (200, 0)
    );

    let again = phone.download_all(&server, &|| false);
    assert_eq!((again.batches, again.status.files_matched), (1, 0));
    assert!(server.take_fetched().is_empty());
}

#[test]
fn a_cancelled_run_stops_between_files_and_the_next_run_goes_on_from_there() {
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    let server = FakeServer::default();
    server.publish(0..100);
    // The platform cancels while the 70th file is on its way.
    let cancelled = || server.fetched.lock().unwrap().len() >= 70;
    let run = phone.download_all(&server, &cancelled);
    assert!(matches!(run.end, DownloadEnd::Cancelled), "{:?}", run.end);
    assert_eq!(server.take_fetched(), names(0..70));
    assert_eq!(
        run.status.files_matched, 70,
        "fetched files are processed and kept"
    );
    assert_eq!(run.status.files_remaining, 30);

    let run = phone.download_all(&server, &|| false);
    assert!(matches!(run.end, DownloadEnd::Done));
    assert_eq!(server.take_fetched(), names(70..100));
}

#[test]
fn a_failed_run_keeps_its_batches_and_says_when_to_retry() {
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = phone(&clock, StorageLocation::InMemory, 64);
    near_the_f0(&phone, &clock, &f0);
    clock.set(MORNING + 86_400);
    let server = FakeServer::default();
    server.publish(0..100);
    server.serve(2, Served::File(key_file(2, &[f0_key(&f0)], &test_signer())));
    // The network goes after the first batch and a few files of the second.
    *server.answers_left.lock().unwrap() = Some(70);
    let run = phone.download_all(&server, &|| false);
    let DownloadEnd::Failed { error, retry } = &run.end else {
        panic!("{:?}", run.end);
    };
    assert!(matches!(error, CoreError::Network(_)), "{error:?}");
    assert_eq!(*retry, Retry::Soon);
    assert_eq!(run.batches, 1);
    assert!(
        run.status.newly_notified,
        "the first batch's notification is not lost with the second batch's failure"
    );

    // A server that no longer lists anything this client may have waits for the next run.
    *server.answers_left.lock().unwrap() = None;
    let gone = IndexStatus(404);
    let run = phone.download_all(&gone, &|| false);
    assert!(
        matches!(
            run.end,
            DownloadEnd::Failed {
                retry: Retry::NextRun,
                ..
            }
        ),
        "{:?}",
        run.end
    );
}

/// A server whose index answers one status.
struct IndexStatus(u16);

impl Transport for IndexStatus {
    fn post(&self, _path: &str, _body: &[u8]) -> Result<HttpReply, TransportError> {
        Err(TransportError("downloads never post".into()))
    }

    fn get(&self, _path: &str) -> Result<HttpReply, TransportError> {
        Ok(HttpReply {
            status: self.0,
            body: br#"{"error":"not_found","message":"no such path"}"#.to_vec(),
        })
    }
}

#[test]
fn concurrent_calls_keep_every_processed_file() {
    // Two callers (the download job and the app processing files it fetched itself) each
    // process 30 distinct files at the same time; afterwards every one of the 60 is known.
    let clock = Arc::new(ManualClock::new(MORNING));
    let phone = Arc::new(phone(&clock, StorageLocation::InMemory, 64));
    let files: Vec<Vec<u8>> = (0..60).map(|i| key_file(i, &[], &test_signer())).collect();
    std::thread::scope(|scope| {
        for half in files.chunks(30) {
            let phone = phone.clone();
            scope.spawn(move || {
                for file in half {
                    let status = phone.process_key_files(&[file.as_slice()]).unwrap();
                    assert_eq!(status.files_matched, 1);
                }
            });
        }
    });
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    let again = phone.process_key_files(&refs).unwrap();
    assert_eq!(
        (again.files_matched, again.files_already_matched),
        (0, 60),
        "no call lost another's entries"
    );
}
