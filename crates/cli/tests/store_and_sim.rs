//! `bluezone sim history` and `bluezone store stats`, end to end through the real binary.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use bluezone_testkit::cli::Cli;

fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_bluezone"))
}

/// `bluezone store stats` on the database at `db` (a path as text) with `key`.
fn stats(db: &str, key: &str) -> std::process::Output {
    cli().run(&["store", "stats", "--db", db, "--key", key])
}

const KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_KEY: &str = "2222222222222222222222222222222222222222222222222222222222222222";

#[test]
fn history_fills_a_store_that_stats_can_read_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let rpis = dir.path().join("rpis.txt");
    let keys = dir.path().join("keys.txt");
    let db_arg = db.to_str().unwrap();
    let stdout = cli().ok(&[
        "sim",
        "history",
        "--db",
        db_arg,
        "--key",
        KEY,
        "--days",
        "2",
        "--contacts-per-scan",
        "5",
        "--seed",
        "3",
        "--until",
        "1793491200",
        "--dump-rpis",
        rpis.to_str().unwrap(),
        "--dump-keys",
        keys.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("history: 2 days, 576 scans, 5 contacts per scan"),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 refused"), "{stdout}");
    let rpi_lines: Vec<String> = std::fs::read_to_string(&rpis)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(rpi_lines.len() > 5 * 2 * 80, "{}", rpi_lines.len());
    assert!(
        rpi_lines
            .iter()
            .all(|l| l.len() == 32 && hex::decode(l).is_ok())
    );
    let key_lines = std::fs::read_to_string(&keys).unwrap();
    assert!(key_lines.lines().all(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.len() == 2 && f[0].len() == 32 && f[1].parse::<u32>().unwrap() % 144 == 0
    }));

    let stdout = cli().ok(&["store", "stats", "--db", db_arg, "--key", KEY]);
    assert!(
        stdout.contains("days: 2 (2026-10-30 to 2026-10-31)"),
        "{stdout}"
    );
    assert!(stdout.contains("sightings 2"), "{stdout}");
    assert!(stdout.contains("own keys 2"), "{stdout}");

    let out = stats(db_arg, OTHER_KEY);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("wrong key"), "{stderr}");
}

#[test]
fn stats_refuses_missing_and_non_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let out = stats(missing.to_str().unwrap(), KEY);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"));
    assert!(!missing.exists(), "stats never creates a database");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 5000]).unwrap();
    let out = stats(junk.to_str().unwrap(), KEY);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt"));
    assert_eq!(std::fs::read(&junk).unwrap(), vec![7u8; 5000]);

    let out = stats(junk.to_str().unwrap(), "abc");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected 64 hex digits"));
}
