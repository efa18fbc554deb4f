//! The store against real SQLite files: round trips, sealing, tampering, keys, corruption,
//! schema versions and retention.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code: a failed unwrap is a failed test; casts are of small known values.

use std::path::Path;

use bluezone_protocol::DayNumber;
use bluezone_store::{APPLICATION_ID, MasterKey, SCHEMA_VERSION, Store, StoreError, Table};
use bluezone_testkit::files::database_bytes;
use rand::SeedableRng;

fn key() -> MasterKey {
    MasterKey::from_bytes([3; 32])
}

fn rng(seed: u64) -> Box<rand::rngs::StdRng> {
    Box::new(rand::rngs::StdRng::seed_from_u64(seed))
}

fn open(path: &Path) -> Store {
    Store::open(path, &key(), rng(1)).unwrap()
}

fn day(n: u32) -> DayNumber {
    DayNumber::new(20_000 + n)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn values_round_trip_in_order_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    let a = store.append(Table::Sightings, day(1), b"first").unwrap();
    let ids = store
        .append_batch(&[
            (Table::Sightings, day(1), b"second"),
            (Table::OwnKeys, day(1), b"key"),
            (Table::Sightings, day(2), b"other day"),
        ])
        .unwrap();
    assert!(ids[0] > a, "ids grow");
    drop(store);
    let mut store = open(&path);
    let values: Vec<Vec<u8>> = store
        .read_day(Table::Sightings, day(1))
        .unwrap()
        .into_iter()
        .map(|v| v.value.to_vec())
        .collect();
    assert_eq!(values, vec![b"first".to_vec(), b"second".to_vec()]);
    let range = store.read_days(Table::Sightings, day(0), day(5)).unwrap();
    assert_eq!(range.len(), 3);
    assert_eq!(range[2].day, day(2));
    assert_eq!(
        store.read_day(Table::OwnKeys, day(1)).unwrap()[0]
            .value
            .as_slice(),
        b"key"
    );
    assert!(store.read_day(Table::Exposures, day(1)).unwrap().is_empty());
    assert_eq!(store.days(Table::Sightings).unwrap(), vec![day(1), day(2)]);
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.rows, stats.rows_sightings, stats.rows_own_keys),
        (4, 3, 1)
    );
    assert_eq!(stats.days, vec![day(1), day(2)]);
    assert!(stats.bytes > 0);
}

#[test]
fn a_failed_batch_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON sightings WHEN NEW.day = 20999
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    let err = store
        .append_batch(&[
            (Table::Sightings, day(1), b"kept?"),
            (Table::Sightings, day(999), b"refused"),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert!(store.read_day(Table::Sightings, day(1)).unwrap().is_empty());
    assert!(
        store.stats().unwrap().days.is_empty(),
        "no day key left behind"
    );
    // The store still works, and the day key made later is the one stored.
    store.append(Table::Sightings, day(1), b"now").unwrap();
    drop(store);
    assert_eq!(
        open(&path).read_day(Table::Sightings, day(1)).unwrap()[0]
            .value
            .as_slice(),
        b"now"
    );
}

#[test]
fn replace_day_compacts_and_settings_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    for i in 0..5u8 {
        store.append(Table::Sightings, day(1), &[i]).unwrap();
    }
    store
        .append(Table::Sightings, day(2), b"untouched")
        .unwrap();
    let ids = store
        .replace_day(Table::Sightings, day(1), &[b"merged"])
        .unwrap();
    assert_eq!(ids.len(), 1);
    let rows = store.read_day(Table::Sightings, day(1)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].value.as_slice(), b"merged");
    assert_eq!(store.read_day(Table::Sightings, day(2)).unwrap().len(), 1);
    store.delete_rows(Table::Sightings, &[ids[0]]).unwrap();
    assert!(store.read_day(Table::Sightings, day(1)).unwrap().is_empty());

    assert_eq!(store.get_setting("state").unwrap(), None);
    store.put_setting("state", b"one").unwrap();
    store.put_setting("state", b"two").unwrap();
    drop(store);
    let store = open(&path);
    assert_eq!(
        store.get_setting("state").unwrap().unwrap().as_slice(),
        b"two"
    );
}

#[test]
fn nothing_recorded_is_readable_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    let rpi = *b"RPI-RPI-RPI-RPI!";
    let aem = *b"AEM!";
    let rssi_series: Vec<u8> = [-61i8, -62, -60, -75, -58, -90, -61, -63]
        .iter()
        .map(|r| r.to_le_bytes()[0])
        .collect();
    let mut value = rpi.to_vec();
    value.extend_from_slice(&aem);
    value.extend_from_slice(&rssi_series);
    for d in 0..3 {
        store.append(Table::Sightings, day(d), &value).unwrap();
    }
    store
        .append(Table::OwnKeys, day(0), b"TEK-TEK-TEK-TEK!")
        .unwrap();
    store.put_setting("exposure", b"EXPOSED-ON-DAY-3").unwrap();
    let before_close = database_bytes(&path);
    drop(store);
    for bytes in [before_close, database_bytes(&path)] {
        assert!(bytes.len() > 4096);
        for needle in [
            &rpi[..],
            &aem[..],
            &rssi_series[..],
            b"TEK-TEK-TEK-TEK!",
            b"EXPOSED-ON-DAY-3",
        ] {
            assert!(!contains(&bytes, needle), "{needle:?} found in the files");
        }
    }
}

#[test]
fn moved_or_replayed_rows_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    store.append(Table::Sightings, day(1), b"a").unwrap();
    store.append(Table::Sightings, day(1), b"b").unwrap();
    store.append(Table::OwnKeys, day(1), b"k").unwrap();
    drop(store);
    let side = rusqlite::Connection::open(&path).unwrap();
    // Copy row 1's ciphertext over row 2.
    side.execute(
        "UPDATE sightings SET sealed = (SELECT sealed FROM sightings WHERE id = 1) WHERE id = 2",
        [],
    )
    .unwrap();
    drop(side);
    let mut store = open(&path);
    let err = store.read_day(Table::Sightings, day(1)).unwrap_err();
    assert!(matches!(err, StoreError::Tampered { .. }), "{err:?}");
    assert!(
        err.to_string().contains("sightings row 2 of day 20001"),
        "{err}"
    );
    drop(store);

    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute("UPDATE sightings SET day = 20002 WHERE id = 1", [])
        .unwrap();
    side.execute(
        "INSERT INTO sightings (day, sealed) SELECT day, sealed FROM own_keys",
        [],
    )
    .unwrap();
    drop(side);
    let mut store = open(&path);
    assert!(
        store.read_day(Table::Sightings, day(2)).is_err(),
        "moved to another day"
    );
    assert!(store.read_days(Table::Sightings, day(0), day(9)).is_err());
    // A bit flip in a sealed value.
    let side = rusqlite::Connection::open(&path).unwrap();
    let mut sealed: Vec<u8> = side
        .query_row("SELECT sealed FROM own_keys", [], |r| r.get(0))
        .unwrap();
    sealed[20] ^= 0x01;
    side.execute("UPDATE own_keys SET sealed = ?1", [sealed])
        .unwrap();
    assert!(matches!(
        store.read_day(Table::OwnKeys, day(1)),
        Err(StoreError::Tampered { .. })
    ));
}

#[test]
fn the_wrong_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    open(&path).append(Table::Sightings, day(1), b"x").unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path, &MasterKey::from_bytes([4; 32]), rng(2)).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert!(err.to_string().contains("wrong key"));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        open(&path)
            .read_day(Table::Sightings, day(1))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path, &key(), rng(1)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    assert!(!Path::new(&format!("{}-wal", path.display())).exists());
}

#[test]
fn damaged_pages_are_reported_as_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    for d in 0..40 {
        store
            .append(Table::Sightings, day(d), &[0x55; 3000])
            .unwrap();
    }
    store.integrity_check().unwrap();
    drop(store);
    let mut bytes = std::fs::read(&path).unwrap();
    // Overwrite pages 2 and later (page 1 holds the header) with noise.
    for (i, b) in bytes.iter_mut().enumerate().skip(4096).take(4096 * 6) {
        *b = (i * 13 % 256) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let outcome = Store::open(&path, &key(), rng(1)).and_then(|mut s| {
        s.integrity_check()?;
        s.read_days(Table::Sightings, day(0), day(40)).map(|_| ())
    });
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt(_) | StoreError::Tampered { .. }),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "never silently rewritten"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(open(&path));
    let side = rusqlite::Connection::open(&path).unwrap();
    side.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(side);
    let err = Store::open(&path, &key(), rng(1)).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
}

/// The frozen v1 schema: a database created by the first release opens and migrates. Each
/// later migration adds its own frozen schema and a test like this one.
#[test]
fn a_version_1_database_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute_batch(include_str!("schemas/v1.sql")).unwrap();
    side.pragma_update(None, "user_version", 1).unwrap();
    drop(side);
    let mut store = open(&path);
    store.append(Table::Exposures, day(1), b"ok").unwrap();
    assert_eq!(store.read_day(Table::Exposures, day(1)).unwrap().len(), 1);
    let side = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = side
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let id: i32 = side
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, APPLICATION_ID, "stamped by migration 0002");
}

/// The frozen v2 schema: the v1 tables and the application id.
#[test]
fn a_version_2_database_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let side = rusqlite::Connection::open(&path).unwrap();
    side.execute_batch(include_str!("schemas/v2.sql")).unwrap();
    side.pragma_update(None, "user_version", 2).unwrap();
    drop(side);
    let mut store = open(&path);
    store.append(Table::Exposures, day(1), b"ok").unwrap();
    assert_eq!(store.read_day(Table::Exposures, day(1)).unwrap().len(), 1);
    drop(store);
    let ro = Store::open_read_only(&path, &key()).unwrap();
    assert_eq!(ro.stats().unwrap().rows_exposures, 1);
}

#[test]
fn purged_days_leave_no_trace_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    for d in 0..4 {
        store
            .append(Table::Sightings, day(d), &[d as u8; 500])
            .unwrap();
        store
            .append(Table::OwnKeys, day(d), &[d as u8; 23])
            .unwrap();
    }
    store.put_setting("kept", b"yes").unwrap();
    let side = rusqlite::Connection::open(&path).unwrap();
    let old: Vec<Vec<u8>> = side
        .prepare("SELECT wrapped FROM day_keys WHERE day < 20002 UNION ALL SELECT sealed FROM sightings WHERE day < 20002 UNION ALL SELECT sealed FROM own_keys WHERE day < 20002")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(side);
    assert_eq!(old.len(), 6);
    for secret in &old {
        assert!(contains(&database_bytes(&path), &secret[13..45]));
    }
    let report = store.purge_before(day(2)).unwrap();
    assert_eq!((report.days_purged, report.rows_deleted), (2, 4));
    let bytes = database_bytes(&path);
    for secret in &old {
        assert!(
            !contains(&bytes, &secret[13..45]),
            "purged bytes remain on disk"
        );
    }
    assert!(store.read_day(Table::Sightings, day(0)).unwrap().is_empty());
    assert_eq!(store.read_day(Table::Sightings, day(3)).unwrap().len(), 1);
    assert_eq!(
        store.get_setting("kept").unwrap().unwrap().as_slice(),
        b"yes"
    );
    assert_eq!(store.stats().unwrap().days, vec![day(2), day(3)]);

    store.delete_everything().unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.rows, stats.days.len()), (0, 0));
    assert_eq!(store.get_setting("kept").unwrap(), None);
    drop(store);
    let reopened = open(&path);
    assert_eq!(reopened.stats().unwrap().rows, 0);
}
