//! `bluezone keys rpi` end to end: the real binary against the published GAEN vectors.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use bluezone_testkit::cli::Cli;

const SPEC: &str = include_str!("../../protocol/tests/vectors/gaen-crypto-v1.2-test-vectors.txt");

fn cli() -> Cli {
    Cli::new(env!("CARGO_BIN_EXE_bluezone"))
}

#[test]
fn all_144_spec_vectors_come_out_of_the_cli() {
    let out = cli().run(&[
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
    let out = cli().run(&[
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
        let out = cli().run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../protocol/tests/vectors/gaen-internals-sample_diagnosis_key_file.zip"
);
const SAMPLE_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w==";

#[test]
fn keys_verify_accepts_the_published_sample_with_its_key() {
    let stdout = cli().ok(&["keys", "verify", SAMPLE, "--public-key", SAMPLE_KEY]);
    assert!(
        stdout.contains("verified: 140 keys (0 revised), signed by 310-v1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("export window: 1593633600 to 1593633900"),
        "{stdout}"
    );
    assert!(
        stdout.contains("keys valid: intervals 2653920 to 2655936"),
        "{stdout}"
    );

    // The same key as a PEM file.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("key.pem");
    let body: Vec<String> = SAMPLE_KEY
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    std::fs::write(
        &pem,
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            body.join("\n")
        ),
    )
    .unwrap();
    let out = cli().run(&[
        "keys",
        "verify",
        SAMPLE,
        "--public-key",
        pem.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn keys_verify_refuses_tampering_and_other_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(SAMPLE).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let tampered = dir.path().join("tampered.zip");
    std::fs::write(&tampered, &bytes).unwrap();
    let other = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUczyMAkfSeoU77Nmcb1G7t7xyGCAhQqMOIVDFLFas3J+elP7CiotovigCLWj706F07j1EPL27ThRzZl7Ha9uOA==";
    let cases: [(&[&str], &str); 4] = [
        (
            &[tampered.to_str().unwrap(), "--public-key", SAMPLE_KEY],
            "refused:",
        ),
        (&[SAMPLE, "--public-key", other], "does not verify"),
        (
            &[SAMPLE, "--public-key", SAMPLE_KEY, "--key-id", "999"],
            "no signature is from a trusted key",
        ),
        (&[SAMPLE, "--public-key", "not-a-key"], "--public-key"),
    ];
    for (args, message) in cases {
        let mut all = vec!["keys", "verify"];
        all.extend_from_slice(args);
        let out = cli().run(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
