//! `bluezone scan` end to end through the real binary: a recorded capture replayed through
//! the phone driver and the engine (text, JSON, into an encrypted store), an iPhone's adverts
//! with and without the recorded GATT read of their payload, and the real failure on a
//! machine without Bluetooth, both with no system bus and with a bus that has no BlueZ on it.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use bluezone_testkit::cli::Cli;

fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_bluezone"))
}

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ble/tests/fixtures/adverts.jsonl"
);
const IPHONE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ble/tests/fixtures/iphone.jsonl"
);
const KEY: &str = "3333333333333333333333333333333333333333333333333333333333333333";

#[test]
fn a_replayed_capture_goes_through_the_engine() {
    let text = cli().ok(&["scan", "--replay", FIXTURE]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 10, "{text}");
    assert_eq!(
        lines[0],
        "00:00:00 UTC  RPI 8be6cd37…  rssi -58 dBm  window 0  from 5E:11:22:33:44:01"
    );
    assert!(lines[2].contains("attenuation 49 dB"), "{}", lines[2]);
    assert!(lines[3].contains("malformed"), "{}", lines[3]);
    // The driver's windows run on the clock from the start: ten minutes later is window 10.
    assert!(
        lines[4].ends_with("window 10  from 71:AA:BB:CC:DD:03"),
        "{}",
        lines[4]
    );
    assert_eq!(
        lines[8],
        "summary: 10 adverts, 3 distinct RPIs in 3 scan window(s); 6 stored, 2 refused by the \
         engine, 1 without RSSI, 1 not exposure notification"
    );
    assert_eq!(
        lines[9],
        "driver: 21 scan window(s), 8 sighting(s) to the engine, 0 iPhone advert(s), 0 unread; \
         GATT reads: 0 started, 0 succeeded, 0 failed (0 not ours), 0 reused; collecting since \
         00:00 UTC"
    );

    let json = cli().run(&["scan", "--replay", FIXTURE, "--json"]);
    let text = String::from_utf8(json.stdout).unwrap();
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(values[5]["rpi"], "3c9a1de5dd6b02afa7fded7b570b3e56");
    assert_eq!(values[5]["window"], 10);
    assert_eq!(values[2]["attenuation_db"], 49);
    let summary = &values[8]["summary"];
    assert_eq!(summary["accepted"], 6);
    assert_eq!(summary["windows"], 3);
    assert_eq!(summary["driver"]["windows"], 21);
    assert_eq!(summary["driver"]["sightings"], 8);
    assert_eq!(summary["driver"]["gatt"]["reads_started"], 0);
    assert_eq!(summary["status"], "collecting since 00:00 UTC");
    assert_eq!(values.len(), 9);
}

#[test]
fn a_recorded_iphone_read_is_replayed_and_without_it_nothing_is_stored() {
    let text = cli().ok(&["scan", "--replay", IPHONE]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "00:00:00 UTC  iPhone, payload over GATT  rssi -62 dBm  window 0  from 6A:3E:51:00:00:07"
    );
    assert_eq!(
        lines[1],
        "00:00:00 UTC  RPI 8be6cd37…  read over GATT  from 6A:3E:51:00:00:07"
    );
    assert_eq!(
        lines[3],
        "00:00:02 UTC  GATT read failed: not_found  from 7B:00:00:00:00:0C"
    );
    let summary = lines[lines.len() - 2];
    assert!(
        summary.starts_with("summary: 4 adverts, 1 distinct RPIs in 1 scan window(s); 3 stored,"),
        "{summary}"
    );
    assert!(
        lines[lines.len() - 1]
            .contains("GATT reads: 2 started, 1 succeeded, 1 failed (1 not ours), 2 reused"),
        "{text}"
    );

    // The same recording without its reads: the reads time out and nothing is stored.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-reads.jsonl");
    let adverts_only: String = std::fs::read_to_string(IPHONE)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("gatt_read"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, adverts_only).unwrap();
    let text = cli().ok(&["scan", "--replay", path.to_str().unwrap(), "--json"]);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let summary = &last["summary"];
    assert_eq!(summary["accepted"], 0, "{text}");
    assert_eq!(summary["needs_read"], 4);
    assert_eq!(summary["driver"]["gatt"]["reads_started"], 2);
    assert_eq!(summary["driver"]["gatt"]["reads_succeeded"], 0);

    // With the fallback off, iPhones are only counted, even with their reads recorded.
    let out = cli().run(&["scan", "--replay", IPHONE, "--no-gatt", "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["accepted"], 0, "{text}");
    assert_eq!(last["summary"]["driver"]["unread"], 4);
}

#[test]
fn a_window_outside_the_drivers_limits_is_refused() {
    for window in ["5s", "11m"] {
        let out = cli().run(&["scan", "--replay", FIXTURE, "--window", window]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains("a scan window is 10 s to 10 minutes"),
            "{stderr}"
        );
    }
    // A shorter window cuts the same capture differently; the stored counts do not change.
    let text = cli().ok(&["scan", "--replay", FIXTURE, "--window", "10s", "--json"]);
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["summary"]["accepted"], 6);
    assert_eq!(last["summary"]["driver"]["windows"], 121);
}

#[test]
fn a_capture_recorded_into_a_store_is_readable_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("scan.db");
    let db_arg = db.to_str().unwrap();
    let out = cli().run(&["scan", "--replay", FIXTURE, "--db", db_arg, "--key", KEY]);
    assert!(out.status.success(), "{out:?}");
    let stats = cli().run(&["store", "stats", "--db", db_arg, "--key", KEY]);
    assert!(stats.status.success(), "{stats:?}");
    let wrong = cli().run(&["store", "stats", "--db", db_arg, "--key", &"4".repeat(64)]);
    assert!(!wrong.status.success());
    // --db needs --key; --record and --replay exclude each other.
    let missing = cli().run(&["scan", "--db", db_arg]);
    assert_eq!(missing.status.code(), Some(2));
    let both = cli().run(&["scan", "--replay", FIXTURE, "--record", "x.jsonl"]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn a_broken_recording_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.jsonl");
    let text = std::fs::read_to_string(FIXTURE)
        .unwrap()
        .replace("\"rssi\":-64", "\"rssi\":\"loud\"");
    std::fs::write(&path, text).unwrap();
    let out = cli().run(&["scan", "--replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("broken.jsonl: line 9:"), "{stderr}");
}

/// This machine has no Bluetooth: scanning must fail with a clear message, not a panic.
#[cfg(target_os = "linux")]
#[test]
fn without_a_system_bus_the_scan_says_so() {
    let out = cli()
        .command(&["scan", "--duration", "2s"])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/system_bus_socket",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot scan: no D-Bus system bus"),
        "{stderr}"
    );
}

/// A real D-Bus daemon standing in for the system bus, with no BlueZ on it.
#[cfg(target_os = "linux")]
#[test]
fn without_bluez_on_the_bus_the_scan_says_so() {
    use std::io::{BufRead, BufReader};
    let mut daemon = std::process::Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("dbus-daemon (Debian package dbus-daemon; scripts/test installs it)");
    let mut address = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let out = cli()
        .command(&["scan", "--duration", "2s"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", address.trim())
        .output()
        .unwrap();
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot scan: no Bluetooth service on the system bus"),
        "{stderr}"
    );
}
