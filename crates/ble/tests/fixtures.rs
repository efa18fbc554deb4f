//! Recordings replayed through the phone driver: the fixture's ten adverts into an engine that
//! shows the windows the driver cut, and into a real Tracer; an iPhone's adverts with and
//! without the GATT read that gives their payload.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::ops::ControlFlow;
use std::sync::Arc;

use bluezone_ble::replay::{parse_recording, replay, start_time_ms};
use bluezone_ble::{Recorded, Session, Shown};
use bluezone_core::driver::{AdvertKind, DriverConfig, Platform};
use bluezone_core::{AdvertData, ManualClock, Tracer, TracerConfig};
use bluezone_protocol::DayNumber;
use bluezone_testkit::engine::RecordingEngine;
use bluezone_testkit::phone::TestPhone;

const T0: i64 = 2_642_976 * 600;
const FIXTURE: &str = include_str!("fixtures/adverts.jsonl");
const IPHONE: &str = include_str!("fixtures/iphone.jsonl");
const RPI_1: &str = "8be6cd371c5c891604bfbe49df845096";

/// The desktop's settings, as `bluezone scan` uses them.
fn desktop() -> DriverConfig {
    let mut config = DriverConfig::default_for(Platform::Desktop);
    config.continuous_scan = true;
    config.continuous_window_ms = 60_000;
    config.gatt.enabled = true;
    config
}

fn tracer(clock: &Arc<ManualClock>) -> Tracer {
    TestPhone::new()
        .config(TracerConfig::default())
        .master_key(7)
        .seed(1)
        .open(clock)
}

/// Replays `lines` into a real Tracer on the recording's clock.
fn replay_into_tracer(lines: &[Recorded]) -> (Tracer, bluezone_ble::ScanSummary, Vec<Shown>) {
    let start = start_time_ms(lines);
    let clock = Arc::new(ManualClock::new(start / 1000));
    let tracer = tracer(&clock);
    let mut shown = Vec::new();
    let summary = {
        let mut session = Session::open(&tracer, desktop(), 0, start, Some(clock)).unwrap();
        let flow = replay(&mut session, lines, &mut |s| {
            shown.push(s);
            ControlFlow::Continue(())
        });
        assert!(flow.is_continue());
        session.summary()
    };
    (tracer, summary, shown)
}

#[test]
fn the_driver_cuts_the_fixture_into_windows() {
    let lines = parse_recording(FIXTURE).unwrap();
    assert_eq!(lines.len(), 10);
    let mut recorder = RecordingEngine::default();
    let mut shown = Vec::new();
    let summary = {
        let mut session =
            Session::open(&mut recorder, desktop(), 0, start_time_ms(&lines), None).unwrap();
        let _ = replay(&mut session, &lines, &mut |s| {
            shown.push(s);
            ControlFlow::Continue(())
        });
        session.summary()
    };
    assert_eq!(summary.frames, 10);
    assert_eq!(summary.not_exposure_notification, 1);
    assert_eq!(summary.without_rssi, 1);
    assert_eq!(summary.delivered, 8);
    assert_eq!(summary.windows, 3);
    assert_eq!(summary.distinct_rpis, 3);
    // 20 minutes of 60-second windows: the last one is closed by the end of the replay.
    assert_eq!(summary.driver.windows, 21);
    assert_eq!(summary.driver.sightings, 8);
    let sizes: Vec<usize> = recorder.batches.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 2, 2]);
    // One window id per batch, ids growing (the driver's ids are its windows' start times).
    let ids: Vec<u64> = recorder
        .batches
        .iter()
        .map(|batch| {
            let id = batch[0].scan_window.unwrap();
            assert!(batch.iter().all(|s| s.scan_window == Some(id)));
            id
        })
        .collect();
    assert_eq!(
        ids,
        vec![1_585_785_600_000, 1_585_786_200_000, 1_585_786_800_000]
    );
    // The RPIs decoded for display are the GAEN test vectors, in order.
    let heard: Vec<_> = shown
        .iter()
        .filter_map(|s| match s {
            Shown::Advert(h) if h.kind == AdvertKind::Payload && h.frame.rssi.is_some() => Some(h),
            _ => None,
        })
        .collect();
    let rpis: Vec<String> = heard
        .iter()
        .filter_map(|h| h.advert.map(|a| hex::encode(a.rpi.0)))
        .collect();
    assert_eq!(rpis[0], RPI_1);
    assert_eq!(rpis[3], "3c9a1de5dd6b02afa7fded7b570b3e56");
    assert_eq!(rpis[5], "243ffe9a3b08bded3094bac8630bb8ad");
    assert_eq!(heard[2].frame.attenuation_db(), Some(49));
    let windows: Vec<Option<u64>> = heard.iter().map(|h| h.window).collect();
    let w = |n| Some(n);
    assert_eq!(
        windows,
        vec![w(0), w(0), w(0), w(0), w(10), w(10), w(20), w(20)]
    );
}

#[test]
fn a_tracer_keeps_the_good_sightings_and_refuses_the_rest() {
    let (tracer, summary, _) = replay_into_tracer(&parse_recording(FIXTURE).unwrap());
    assert_eq!(
        (summary.delivered, summary.accepted, summary.refused),
        (8, 6, 2)
    );
    assert_eq!((summary.windows, summary.distinct_rpis), (3, 3));
    assert_eq!(summary.engine_errors, 0);
    let day = DayNumber::from_unix_seconds(T0).unwrap();
    let stored = tracer.sightings(day, day).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1.records.len(), 3);
    assert_eq!(stored[0].1.scans.len(), 3);
    let diagnostics = tracer.diagnostics().unwrap();
    assert_eq!(diagnostics.ingest_since_open.malformed, 1);
    assert_eq!(diagnostics.ingest_since_open.implausible_rssi, 1);
}

#[test]
fn an_iphone_read_over_gatt_is_stored() {
    let lines = parse_recording(IPHONE).unwrap();
    let (tracer, summary, shown) = replay_into_tracer(&lines);
    assert_eq!(summary.needs_read, 4);
    assert_eq!((summary.delivered, summary.accepted), (3, 3));
    let gatt = summary.driver.gatt;
    assert_eq!((gatt.reads_started, gatt.reads_succeeded), (2, 1));
    assert_eq!((gatt.not_ours, gatt.reused), (1, 2));
    assert_eq!(summary.distinct_rpis, 1);
    let reads: Vec<_> = shown
        .iter()
        .filter_map(|s| match s {
            Shown::Read(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), 2);
    assert!(reads.iter().all(|r| r.asked));
    assert_eq!(hex::encode(reads[0].advert.unwrap().rpi.0), RPI_1);
    let day = DayNumber::from_unix_seconds(T0).unwrap();
    let stored = tracer.sightings(day, day).unwrap();
    assert_eq!(stored.len(), 1);
    let records = &stored[0].1.records;
    assert_eq!(
        records.len(),
        1,
        "the iPhone only, not the other Apple device"
    );
    assert_eq!(hex::encode(records[0].rpi.0), RPI_1);
    assert_eq!(records[0].instances[0].max_rssi, -60);
}

#[test]
fn without_the_read_the_same_iphone_stores_nothing() {
    let lines: Vec<Recorded> = parse_recording(IPHONE)
        .unwrap()
        .into_iter()
        .filter(|l| matches!(l, Recorded::Advert(_)))
        .collect();
    let (tracer, summary, _) = replay_into_tracer(&lines);
    assert_eq!(summary.needs_read, 4);
    assert_eq!((summary.delivered, summary.accepted), (0, 0));
    let gatt = summary.driver.gatt;
    // The iPhone's read times out by the driver's deadline (5 s, on the recording's clock),
    // then the other device's starts and is cancelled at the end.
    assert_eq!((gatt.reads_started, gatt.reads_succeeded), (2, 0));
    assert_eq!(gatt.reads_failed, 1);
    assert_eq!(
        summary.driver.unread, 1,
        "the last advert came while backing off"
    );
    let day = DayNumber::from_unix_seconds(T0).unwrap();
    assert!(tracer.sightings(day, day).unwrap().is_empty());
}

#[test]
fn with_the_fallback_off_iphones_are_only_counted() {
    let lines = parse_recording(IPHONE).unwrap();
    let mut recorder = RecordingEngine::default();
    let mut config = desktop();
    config.gatt.enabled = false;
    let summary = {
        let mut session =
            Session::open(&mut recorder, config, 0, start_time_ms(&lines), None).unwrap();
        let _ = replay(&mut session, &lines, &mut |_| ControlFlow::Continue(()));
        session.summary()
    };
    assert_eq!(summary.driver.unread, 4);
    assert_eq!(summary.driver.gatt.reads_started, 0);
    assert!(recorder.batches.is_empty());
}

#[test]
fn a_replay_is_deterministic() {
    let mut text = String::from(FIXTURE);
    text.push_str(IPHONE);
    let lines = parse_recording(&text).unwrap();
    let run = || {
        let mut recorder = RecordingEngine::default();
        let shown = {
            let mut session =
                Session::open(&mut recorder, desktop(), 0, start_time_ms(&lines), None).unwrap();
            let mut shown = Vec::new();
            let _ = replay(&mut session, &lines, &mut |s| {
                shown.push(s);
                ControlFlow::Continue(())
            });
            shown
        };
        (recorder.batches, shown)
    };
    let (a, shown_a) = run();
    let (b, shown_b) = run();
    assert_eq!(a, b);
    assert_eq!(shown_a, shown_b);
    // The clock went back 20 minutes between the two recordings: the iPhone still counts.
    assert!(
        a.iter().flatten().any(|s| s.advert
            == AdvertData::ServiceData(hex::decode(format!("{RPI_1}72033874")).unwrap()))
    );
}
