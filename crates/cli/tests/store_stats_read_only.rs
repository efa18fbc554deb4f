//! `bluezone store stats` through the real binary: it reads a store without changing a byte
//! of it, and refuses SQLite files that are not Bluezone stores (the health-authority server's
//! database, a store's tables under another application's id) without touching them.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::Path;

use bluezone_testkit::cli::Cli;
use bluezone_testkit::files::database_files;

const KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_bluezone"))
        .env("BLUEZONE_OFFICIAL_PASSWORD", "a long password for the test")
}

fn stats(db: &Path) -> std::process::Output {
    cli().run(&["store", "stats", "--db", db.to_str().unwrap(), "--key", KEY])
}

/// `stats` on `db` exits 1, says the file is not a Bluezone store, and changes nothing.
fn refused_untouched(db: &Path) {
    let before = database_files(db);
    assert!(before[0].is_some());
    let out = stats(db);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{} is not a Bluezone store", db.display())),
        "{stderr}"
    );
    assert!(database_files(db) == before, "{} was changed", db.display());
}

#[test]
fn stats_reads_stores_only_and_never_changes_a_file() {
    let dir = tempfile::tempdir().unwrap();

    // A real store: read, byte for byte unchanged, no -wal or -shm left behind.
    let db = dir.path().join("phone.db");
    let out = cli().run(&[
        "sim",
        "history",
        "--db",
        db.to_str().unwrap(),
        "--key",
        KEY,
        "--days",
        "1",
        "--contacts-per-scan",
        "2",
        "--seed",
        "5",
        "--until",
        "1793491200",
    ]);
    assert!(out.status.success(), "{out:?}");
    let before = database_files(&db);
    assert!(
        before[1].is_none() && before[2].is_none(),
        "the store was closed cleanly"
    );
    let out = stats(&db);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8(out.stdout).unwrap().contains("days: 1"));
    assert!(database_files(&db) == before, "stats changed the store");

    // The same store under another application's id (`PRAGMA application_id`, header bytes
    // 68..72): SQLite, the store's tables, but not a Bluezone store.
    let mimic = dir.path().join("mimic.db");
    let mut bytes = before[0].clone().unwrap();
    bytes[68..72].copy_from_slice(b"XYZW");
    std::fs::write(&mimic, &bytes).unwrap();
    refused_untouched(&mimic);

    // The health-authority server's database, made by the real server code.
    let server = dir.path().join("server.db");
    let out = cli().run(&[
        "official",
        "add",
        "--db",
        server.to_str().unwrap(),
        "--secret-file",
        dir.path().join("server.secret").to_str().unwrap(),
        "--name",
        "dr.an",
    ]);
    assert!(out.status.success(), "{out:?}");
    refused_untouched(&server);
}
