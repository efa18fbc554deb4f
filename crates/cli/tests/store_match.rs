//! `bluezone store match` through the real binary, on a phone's store that heard a contact
//! for 20 minutes and another for 3: the windows and the decision are shown (text and JSON),
//! a file signed by someone else is refused by name, the store is not changed unless
//! `--record`, and after `--record` the phone's own state agrees.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::Path;

use base64ct::{Base64, Encoding};
use bluezone_core::{AdvertData, ManualClock, SightingInput};
use bluezone_protocol::TemporaryExposureKey;
use bluezone_protocol::time::DayNumber;
use bluezone_testkit::cli::Cli;
use bluezone_testkit::files::database_files;
use bluezone_testkit::keys::{advert, confirmed, key_file};
use bluezone_testkit::phone::TestPhone;
use bluezone_testkit::signer::{signer_with, test_signer};
use p256::pkcs8::EncodePublicKey;

const KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
/// 2026-11-01 08:00 UTC.
const T: i64 = 1_793_522_400;

/// A store that heard `close` for 20 minutes at 35 dB and `brief` for 3 minutes.
fn phone_store(db: &Path, close: &TemporaryExposureKey, brief: &TemporaryExposureKey) {
    let clock = std::sync::Arc::new(ManualClock::new(T));
    let phone = TestPhone::new().file(db).master_key(0x11).open(&clock);
    for minute in 0..20 {
        let t = T + 60 * minute;
        clock.set(t);
        let mut batch = vec![SightingInput {
            advert: AdvertData::Raw(advert(close, t).to_legacy_payload().to_vec()),
            rssi: -50,
            time: t,
            scan_window: Some(u64::try_from(minute).unwrap()),
        }];
        if minute < 3 {
            batch.push(SightingInput {
                advert: AdvertData::Raw(advert(brief, t).to_legacy_payload().to_vec()),
                rssi: -70,
                time: t,
                scan_window: Some(u64::try_from(minute).unwrap()),
            });
        }
        assert_eq!(phone.record_sightings(&batch).unwrap().rejected(), 0);
    }
    clock.set(T + 3600);
    phone.run_maintenance().unwrap();
}

fn public_key() -> String {
    Base64::encode_string(
        test_signer()
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes(),
    )
}

#[test]
fn store_match_shows_windows_and_the_decision_without_changing_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("phone.db");
    let close = TemporaryExposureKey::from_bytes([7; 16]);
    let brief = TemporaryExposureKey::from_bytes([8; 16]);
    let stranger = TemporaryExposureKey::from_bytes([9; 16]);
    phone_store(&db, &close, &brief);
    let published = dir.path().join("published.zip");
    std::fs::write(
        &published,
        key_file(
            T + 86_400,
            &[
                confirmed(&close, T),
                confirmed(&brief, T),
                confirmed(&stranger, T),
            ],
            &test_signer(),
        ),
    )
    .unwrap();
    let forged = dir.path().join("forged.zip");
    std::fs::write(
        &forged,
        key_file(T, &[confirmed(&close, T)], &signer_with("452", "v1", 0x42)),
    )
    .unwrap();
    let today = DayNumber::from_unix_seconds(T + 86_400)
        .unwrap()
        .to_civil_date();
    let cli = Cli::new(env!("CARGO_BIN_EXE_bluezone"));
    let key = public_key();
    let args = |extra: &[&str]| {
        let mut args = vec![
            "store",
            "match",
            "--db",
            db.to_str().unwrap(),
            "--key",
            KEY,
            "--public-key",
            &key,
            "--today",
            &today,
        ];
        args.extend_from_slice(extra);
        args.extend([published.to_str().unwrap(), forged.to_str().unwrap()]);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let args = args(extra);
        cli.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let before = database_files(&db);
    let out = run(&[]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("published.zip: 3 keys, 2 heard"), "{text}");
    assert!(text.contains("forged.zip: refused"), "{text}");
    assert!(text.contains("built-in parameters"), "{text}");
    assert!(
        text.contains("decision: notify (most recent exposure day 2026-11-01)"),
        "{text}"
    );
    assert!(
        database_files(&db) == before,
        "store match changed the store"
    );

    let out = run(&["--json"]);
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["notify"], true);
    assert_eq!(json["exposureDay"], "2026-11-01");
    assert_eq!(json["storedWindows"], 0);
    let windows = json["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 2, "{json}");
    let long = windows
        .iter()
        .find(|w| w["durationSeconds"].as_u64().unwrap() > 600)
        .unwrap();
    assert_eq!(long["minAttenuationDb"], 35);
    assert_eq!(long["reportType"], "ConfirmedTest");
    assert!(long["weightedMinutes"].as_f64().unwrap() >= 15.0, "{long}");
    let short = windows
        .iter()
        .find(|w| w["durationSeconds"].as_u64().unwrap() <= 600)
        .unwrap();
    assert_eq!(short["minAttenuationDb"], 55);
    assert!(json["files"][1]["refused"].as_str().is_some());
    assert!(
        database_files(&db) == before,
        "store match --json changed the store"
    );

    // Recorded: the phone stores the windows, and matching again finds them stored.
    let out = run(&["--record"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("the phone now notifies"),
        "{out:?}"
    );
    let out = run(&["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["storedWindows"], 2, "{json}");
    assert_eq!(json["windows"].as_array().unwrap().len(), 0);
    assert_eq!(json["files"][0]["alreadyMatched"], true);
    assert_eq!(json["notify"], true);

    // Mistakes are errors that name what is wrong.
    let out = cli.run(&[
        "store",
        "match",
        "--db",
        db.to_str().unwrap(),
        "--key",
        &"2".repeat(64),
        "--public-key",
        &key,
        published.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong key"));
    let out = cli.run(&[
        "store",
        "match",
        "--db",
        db.to_str().unwrap(),
        "--key",
        KEY,
        "--public-key",
        &key,
        "--today",
        "2026-02-31",
        published.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a date"));
}
