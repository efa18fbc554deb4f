//! The server under concurrent uploads (bounded, loopback only), and across restarts.

#![allow(clippy::unwrap_used)] // Test code.

use std::sync::Arc;

use bluezone_core::{Clock, ManualClock};
use bluezone_e2e::load;
use bluezone_protocol::keyfile::{KeyFileLimits, TrustedKeys, read_key_file};
use bluezone_server::files::FolderFileStore;
use bluezone_server::store::SqliteServerStore;
use bluezone_server::{Authority, AuthorityConfig, AuthorityKeys};

const NOW: i64 = 1_793_613_600; // 2026-11-02 10:00 UTC

fn authority(dir: &std::path::Path) -> Arc<Authority> {
    Arc::new(Authority::new(
        AuthorityConfig {
            min_keys_per_file: 10,
            ..AuthorityConfig::default()
        },
        AuthorityKeys::derive(&[4; 32], "452", "v1").unwrap(),
        Arc::new(SqliteServerStore::open(&dir.join("server.db")).unwrap()),
        Arc::new(FolderFileStore::new(dir.join("files")).unwrap()),
        [5; 32],
    ))
}

#[test]
fn concurrent_uploads_are_all_kept_and_survive_restarts_published_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW));
    let first = authority(dir.path());
    let official = first.create_official("ops", "twelve chars!", NOW).unwrap();
    let server = bluezone_e2e::serve(first, clock.clone());
    let report = load(&[&server], &clock, official, 100, 30);
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.succeeded, 100);
    drop(server); // The process "dies" here: only what was committed remains.

    // Restarted: today's keys are embargoed until two hours after they end.
    let second = authority(dir.path());
    assert!(second.publish_files(NOW + 60).unwrap().is_empty());
    let tomorrow = NOW + 86_400;
    let files = second.publish_files(tomorrow).unwrap();
    assert_eq!(files.len(), 1);
    drop(second);

    // Restarted again: nothing is published twice, the index still lists the one file.
    let third = authority(dir.path());
    assert!(third.publish_files(tomorrow + 3600).unwrap().is_empty());
    assert_eq!(third.index(tomorrow + 3600).unwrap().lines().count(), 1);
    let file = third.file(&files[0], tomorrow + 3600).unwrap();
    let trust = TrustedKeys::single(third.file_signer().trusted_key());
    let published = read_key_file(&file, &trust, &KeyFileLimits::default()).unwrap();
    assert_eq!(
        published.keys.len(),
        100,
        "one released key per phone, none lost"
    );
}
