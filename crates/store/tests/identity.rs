//! The store's identity and the read-only open: a file that is not a store is refused before
//! anything is written to it (byte for byte unchanged, no `-wal` or `-shm` file left behind),
//! and a read-only open never changes a store, whether its data is in the database file or
//! still in the WAL.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use bluezone_testkit::files::with_suffix;

use bluezone_protocol::DayNumber;
use bluezone_store::{APPLICATION_ID, MasterKey, SCHEMA_VERSION, Store, StoreError, Table};
use rand::SeedableRng;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

fn key() -> MasterKey {
    MasterKey::from_bytes([3; 32])
}

fn open(path: &Path) -> Store {
    Store::open(path, &key(), Box::new(rand::rngs::StdRng::seed_from_u64(1))).unwrap()
}

fn day(n: u32) -> DayNumber {
    DayNumber::new(20_000 + n)
}

/// The SHA-256 of a file, or `None` when it does not exist.
fn hash(path: &Path) -> Option<[u8; 32]> {
    std::fs::read(path).ok().map(|b| Sha256::digest(b).into())
}

/// The hashes of the database, its `-wal` and its `-shm` file (`None` for a missing one).
fn files(path: &Path) -> [Option<[u8; 32]>; 3] {
    [
        hash(path),
        hash(&with_suffix(path, "-wal")),
        hash(&with_suffix(path, "-shm")),
    ]
}

fn pragma(path: &Path, name: &str) -> i64 {
    let conn = Connection::open(path).unwrap();
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

/// Writes a database with `sql`, then closes it (a WAL database is checkpointed and its
/// `-wal` and `-shm` files removed).
fn foreign(dir: &Path, name: &str, sql: &str) -> PathBuf {
    let path = dir.join(name);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(sql).unwrap();
    drop(conn);
    assert!(!with_suffix(&path, "-wal").exists());
    path
}

/// Both opens refuse `path` with `expected`, and leave every file of it as it was.
fn refused_untouched(path: &Path, expected: fn(&StoreError) -> bool) {
    let before = files(path);
    assert!(before[0].is_some());
    let err =
        Store::open(path, &key(), Box::new(rand::rngs::StdRng::seed_from_u64(1))).unwrap_err();
    assert!(expected(&err), "{}: {err:?}", path.display());
    assert_eq!(files(path), before, "{} changed by open", path.display());
    let err = Store::open_read_only(path, &key()).unwrap_err();
    assert!(expected(&err), "{}: {err:?}", path.display());
    assert_eq!(
        files(path),
        before,
        "{} changed by open_read_only",
        path.display()
    );
}

fn not_a_store(e: &StoreError) -> bool {
    matches!(e, StoreError::NotAStore)
}

/// The health-authority server's database, as it was before it had an application id.
const SERVER_LIKE: &str = "
    PRAGMA journal_mode = WAL;
    CREATE TABLE officials (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE codes (id INTEGER PRIMARY KEY, official_id INTEGER NOT NULL, mac BLOB NOT NULL);
    CREATE TABLE tokens (mac BLOB PRIMARY KEY, expires INTEGER NOT NULL);
    CREATE TABLE files (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL);
    INSERT INTO officials (name, hash) VALUES ('dr.an', 'argon2id$...');
    PRAGMA user_version = 1;
";

#[test]
fn foreign_databases_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The server's database: user_version 1, unrelated tables, WAL journal.
    refused_untouched(&foreign(d, "server.db", SERVER_LIKE), not_a_store);
    // The same with the server's own application id and a later version.
    refused_untouched(
        &foreign(
            d,
            "server-v2.db",
            &format!("{SERVER_LIKE} PRAGMA application_id = 1113215830; PRAGMA user_version = 2;"),
        ),
        not_a_store,
    );
    // No version, but tables: some other program's database, in a rollback journal.
    refused_untouched(
        &foreign(
            d,
            "v0.db",
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('hi');",
        ),
        not_a_store,
    );
    // Version 1 and one table named like ours, but not the rest of a store.
    refused_untouched(
        &foreign(
            d,
            "half.db",
            "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB); PRAGMA user_version = 1;",
        ),
        not_a_store,
    );
    // An empty database of another application.
    refused_untouched(
        &foreign(d, "other-id.db", "PRAGMA application_id = 42;"),
        not_a_store,
    );
    // A real store's tables and version under another application's id.
    let mimic = d.join("mimic.db");
    drop(open(&mimic));
    Connection::open(&mimic)
        .unwrap()
        .pragma_update(None, "application_id", 0x5151_5151)
        .unwrap();
    refused_untouched(&mimic, not_a_store);
    // Not SQLite at all.
    let junk = d.join("junk.db");
    std::fs::write(
        &junk,
        (0..10_000u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    refused_untouched(&junk, |e| matches!(e, StoreError::Corrupt(_)));
    assert!(
        StoreError::NotAStore
            .to_string()
            .contains("not a Bluezone store")
    );
}

#[test]
fn a_foreign_wal_is_neither_checkpointed_nor_extended() {
    let dir = tempfile::tempdir().unwrap();
    let path = foreign(dir.path(), "server.db", SERVER_LIKE);
    // The server is running: its last commits are still in its WAL.
    let server = Connection::open(&path).unwrap();
    server
        .execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             INSERT INTO officials (name, hash) VALUES ('dr.binh', 'argon2id$...');",
        )
        .unwrap();
    let before = files(&path);
    assert!(before[1].is_some(), "data in the WAL");
    for read_only in [false, true] {
        let err = if read_only {
            Store::open_read_only(&path, &key()).unwrap_err()
        } else {
            Store::open(
                &path,
                &key(),
                Box::new(rand::rngs::StdRng::seed_from_u64(1)),
            )
            .unwrap_err()
        };
        assert!(not_a_store(&err), "{err:?}");
        // The `-shm` file is the live connections' shared memory: joining as a reader
        // records a read mark in it. The database and the WAL are untouched.
        let after = files(&path);
        assert_eq!(after[..2], before[..2], "database and WAL unchanged");
        assert!(after[2].is_some());
    }
    // The server killed now: its WAL is left without a connection or shared memory. Opening
    // it for writing, then closing, would checkpoint it into the database and delete it.
    let crashed = dir.path().join("crashed.db");
    std::fs::copy(&path, &crashed).unwrap();
    std::fs::copy(with_suffix(&path, "-wal"), with_suffix(&crashed, "-wal")).unwrap();
    drop(server);
    let before = files(&crashed);
    for read_only in [false, true] {
        let err = if read_only {
            Store::open_read_only(&crashed, &key()).unwrap_err()
        } else {
            Store::open(
                &crashed,
                &key(),
                Box::new(rand::rngs::StdRng::seed_from_u64(1)),
            )
            .unwrap_err()
        };
        assert!(not_a_store(&err), "{err:?}");
        assert_eq!(
            files(&crashed)[..2],
            before[..2],
            "database and WAL unchanged"
        );
    }
}

#[test]
fn a_store_is_stamped_with_its_application_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(open(&path));
    assert_eq!(APPLICATION_ID, 0x425A_5354, "\"BZST\"");
    assert_eq!(pragma(&path, "application_id"), i64::from(APPLICATION_ID));
    assert_eq!(pragma(&path, "user_version"), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 2);
    // An empty file (another program's `touch`) becomes a store as well.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    open(&empty).append(Table::Sightings, day(1), b"x").unwrap();
    assert_eq!(pragma(&empty, "application_id"), i64::from(APPLICATION_ID));
}

/// A store with data, turned back into what the first release wrote: version 1, no
/// application id.
fn legacy_store(path: &Path) {
    let mut store = open(path);
    store.append(Table::Sightings, day(1), b"old").unwrap();
    store.put_setting("state", b"kept").unwrap();
    drop(store);
    let side = Connection::open(path).unwrap();
    side.pragma_update(None, "application_id", 0).unwrap();
    side.pragma_update(None, "user_version", 1).unwrap();
    drop(side);
}

#[test]
fn a_version_1_store_is_read_as_it_is_and_stamped_when_opened_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    legacy_store(&path);
    let before = files(&path);

    let mut ro = Store::open_read_only(&path, &key()).unwrap();
    assert!(ro.is_read_only());
    assert_eq!(ro.stats().unwrap().rows_sightings, 1);
    assert_eq!(
        ro.read_day(Table::Sightings, day(1)).unwrap()[0]
            .value
            .as_slice(),
        b"old"
    );
    drop(ro);
    assert_eq!(files(&path), before, "a read-only open does not migrate");
    assert_eq!(pragma(&path, "user_version"), 1);

    let mut store = open(&path);
    assert!(!store.is_read_only());
    assert_eq!(
        store.read_day(Table::Sightings, day(1)).unwrap()[0]
            .value
            .as_slice(),
        b"old"
    );
    assert_eq!(
        store.get_setting("state").unwrap().unwrap().as_slice(),
        b"kept"
    );
    drop(store);
    assert_eq!(pragma(&path, "user_version"), SCHEMA_VERSION);
    assert_eq!(pragma(&path, "application_id"), i64::from(APPLICATION_ID));
}

#[test]
fn read_only_open_of_a_closed_store_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    store
        .append_batch(&[
            (Table::Sightings, day(1), b"a"),
            (Table::OwnKeys, day(1), b"k"),
            (Table::Sightings, day(2), b"b"),
        ])
        .unwrap();
    store.put_setting("state", b"s").unwrap();
    drop(store);
    let before = files(&path);
    assert!(
        before[1].is_none() && before[2].is_none(),
        "checkpointed on close"
    );

    let mut ro = Store::open_read_only(&path, &key()).unwrap();
    let stats = ro.stats().unwrap();
    assert_eq!(
        (stats.rows, stats.rows_sightings, stats.rows_own_keys),
        (3, 2, 1)
    );
    assert_eq!(stats.days, vec![day(1), day(2)]);
    assert_eq!(
        ro.read_days(Table::Sightings, day(0), day(9))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(ro.days(Table::Sightings).unwrap(), vec![day(1), day(2)]);
    assert_eq!(ro.get_setting("state").unwrap().unwrap().as_slice(), b"s");
    ro.integrity_check().unwrap();
    assert_eq!(files(&path), before, "no -wal or -shm while open");

    // Every change is refused, and none reaches the file.
    let read_only = |r: Result<(), StoreError>| matches!(r, Err(StoreError::ReadOnly));
    assert!(read_only(
        ro.append(Table::Sightings, day(3), b"c").map(|_| ())
    ));
    assert!(read_only(
        ro.replace_day(Table::Sightings, day(1), &[b"x"])
            .map(|_| ())
    ));
    assert!(read_only(ro.put_setting("state", b"t")));
    assert!(read_only(ro.delete_rows(Table::Sightings, &[])));
    assert!(read_only(ro.purge_before(day(9)).map(|_| ())));
    assert!(read_only(ro.delete_everything()));
    assert!(read_only(ro.checkpoint()));
    drop(ro);
    assert_eq!(files(&path), before);
}

#[test]
fn read_only_open_reads_data_still_in_the_wal_of_an_open_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    store
        .append(Table::Sightings, day(1), b"in the wal")
        .unwrap();
    let wal = with_suffix(&path, "-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "data in the WAL"
    );
    let db_before = hash(&path);

    let mut ro = Store::open_read_only(&path, &key()).unwrap();
    assert_eq!(ro.stats().unwrap().rows_sightings, 1);
    assert_eq!(
        ro.read_day(Table::Sightings, day(1)).unwrap()[0]
            .value
            .as_slice(),
        b"in the wal"
    );
    // The writer goes on; the reader sees its new commits.
    store.append(Table::Sightings, day(2), b"later").unwrap();
    assert_eq!(ro.stats().unwrap().rows_sightings, 2);
    assert_eq!(
        hash(&path),
        db_before,
        "the reader never writes the database"
    );
    drop(ro);
    store.append(Table::Sightings, day(3), b"after").unwrap();
    drop(store);
    assert!(!wal.exists(), "the writer still checkpoints on close");
    assert_eq!(
        Store::open_read_only(&path, &key())
            .unwrap()
            .stats()
            .unwrap()
            .rows_sightings,
        3
    );
}

#[test]
fn read_only_open_reads_the_wal_a_killed_writer_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut store = open(&path);
    store
        .append(Table::Exposures, day(1), b"committed")
        .unwrap();
    // The files as a writer killed now leaves them (without the shared-memory index).
    let crashed = dir.path().join("crashed");
    std::fs::copy(&path, &crashed).unwrap();
    std::fs::copy(with_suffix(&path, "-wal"), with_suffix(&crashed, "-wal")).unwrap();
    drop(store);
    let before = files(&crashed);

    let mut ro = Store::open_read_only(&crashed, &key()).unwrap();
    assert_eq!(
        ro.read_day(Table::Exposures, day(1)).unwrap()[0]
            .value
            .as_slice(),
        b"committed"
    );
    drop(ro);
    let after = files(&crashed);
    assert_eq!(after[..2], before[..2], "database and WAL unchanged");
}

#[test]
fn read_only_open_never_creates_and_refuses_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = Store::open_read_only(&missing, &key()).unwrap_err();
    assert!(
        matches!(&err, StoreError::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(!missing.exists());
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    refused_untouched_read_only(&empty, not_a_store);
}

fn refused_untouched_read_only(path: &Path, expected: fn(&StoreError) -> bool) {
    let before = files(path);
    let err = Store::open_read_only(path, &key()).unwrap_err();
    assert!(expected(&err), "{err:?}");
    assert_eq!(files(path), before);
}

#[test]
fn read_only_open_checks_the_key_and_the_version_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    open(&path).append(Table::Sightings, day(1), b"x").unwrap();
    let before = files(&path);
    let err = Store::open_read_only(&path, &MasterKey::from_bytes([4; 32])).unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert_eq!(files(&path), before);

    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    refused_untouched(
        &path,
        |e| matches!(e, StoreError::TooNew { found, .. } if *found == SCHEMA_VERSION + 1),
    );
}

#[test]
fn read_only_open_handles_names_that_need_escaping_in_a_uri() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my store?x=1#a%20b");
    open(&path).append(Table::Sightings, day(1), b"x").unwrap();
    let before = files(&path);
    let ro = Store::open_read_only(&path, &key()).unwrap();
    assert_eq!(ro.stats().unwrap().rows, 1);
    drop(ro);
    assert_eq!(files(&path), before);
}
