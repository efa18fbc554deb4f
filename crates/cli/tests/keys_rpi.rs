//! `bluezone keys rpi` end to end: the real binary against the published GAEN vectors.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::process::{Command, Output};

const SPEC: &str = include_str!("../../protocol/tests/vectors/gaen-crypto-v1.2-test-vectors.txt");

fn bluezone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bluezone"))
        .args(args)
        .output()
        .expect("the bluezone binary runs")
}

#[test]
fn all_144_spec_vectors_come_out_of_the_cli() {
    let out = bluezone(&[
        "keys",
        "rpi",
        "--tek",
        "75c734c6dd1a782de7a965da5eb93125",
        "--interval",
        "2642976",
    ]);
    assert!(out.status.success(), "{out:?}");
    let expected: Vec<String> = SPEC
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() == 4 && f[0].parse::<u32>().is_ok())
        .map(|f| format!("{} {} {}", f[1], f[2], f[3]))
        .collect();
    assert_eq!(expected.len(), 144);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got: Vec<&str> = stdout.lines().collect();
    assert_eq!(got, expected);
}

#[test]
fn count_and_metadata_options() {
    let out = bluezone(&[
        "keys",
        "rpi",
        "--tek",
        "7921b817fdb92074df5345594273756f",
        "--interval",
        "2649435",
        "--count",
        "1",
        "--metadata",
        "400c0000",
    ]);
    assert!(out.status.success(), "{out:?}");
    // Third-party published vector (mh-/exposure-notification-ble-python).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "2649435 5811408cf8d88d2b33f73773a7c6d45f a3e9517f\n"
    );
}

#[test]
fn bad_input_gets_a_clear_message_and_a_failing_exit() {
    let zeros = "00".repeat(16);
    let letters = "zz".repeat(16);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--tek", "75c734c6", "--interval", "1"],
            "expected 32 hex digits (16 bytes), got 8",
        ),
        (
            &["--tek", &letters, "--interval", "1"],
            "found 'z' at position 1",
        ),
        (&["--tek", &zeros, "--interval", "-5"], "--interval"),
        (
            &["--tek", &zeros, "--interval", "1", "--count", "0"],
            "--count",
        ),
        (
            &["--tek", &zeros, "--interval", "1", "--metadata", "4008"],
            "expected 8 hex digits (4 bytes), got 4",
        ),
        (&["--interval", "1"], "--tek"),
        (
            &["--tek", &zeros, "--interval", "4294967295", "--count", "2"],
            "past the last 32-bit interval number",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["keys", "rpi"];
        all.extend_from_slice(args);
        let out = bluezone(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
