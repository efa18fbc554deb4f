//! Decoding and batching from recorded adverts: the fixture's ten frames through the batcher
//! into a real Tracer, and into a recording sink that shows the windows.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::sync::{Arc, Mutex};

use bluezone_ble::replay::parse_recording;
use bluezone_ble::{BatchSummary, Batcher};
use bluezone_core::{
    CoreError, IngestReport, ManualClock, MasterKey, SightingInput, SightingSink, StorageLocation,
    Tracer, TracerConfig,
};
use bluezone_protocol::DayNumber;
use rand::SeedableRng;

const T0: i64 = 2_642_976 * 600;
const FIXTURE: &str = include_str!("fixtures/adverts.jsonl");

#[derive(Default)]
struct Recorder(Mutex<Vec<Vec<SightingInput>>>);

impl SightingSink for Recorder {
    fn deliver(&self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
        self.0.lock().unwrap().push(batch.to_vec());
        Ok(IngestReport {
            accepted: batch.len() as u64,
            ..IngestReport::default()
        })
    }
}

#[test]
fn frames_are_filtered_and_cut_into_windows() {
    let frames = parse_recording(FIXTURE).unwrap();
    assert_eq!(frames.len(), 10);
    let recorder = Recorder::default();
    let mut batcher = Batcher::new(&recorder, 60);
    let mut heard = Vec::new();
    for frame in &frames {
        if let Some(h) = batcher.push(frame).unwrap() {
            heard.push(h);
        }
    }
    let summary = batcher.finish().unwrap();
    assert_eq!(summary.frames, 10);
    assert_eq!(summary.not_exposure_notification, 1);
    assert_eq!(summary.without_rssi, 1);
    assert_eq!(summary.delivered, 8);
    assert_eq!(summary.windows, 3);
    assert_eq!(summary.distinct_rpis, 3);
    let windows = recorder.0.lock().unwrap();
    let sizes: Vec<usize> = windows.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![4, 2, 2]);
    for (id, window) in windows.iter().enumerate() {
        assert!(window.iter().all(|s| s.scan_window == Some(id as u64)));
    }
    // The RPIs decoded for display are the GAEN test vectors, in order.
    let rpis: Vec<String> = heard
        .iter()
        .filter_map(|h| h.advert.map(|a| hex::encode(a.rpi.0)))
        .collect();
    assert_eq!(rpis[0], "8be6cd371c5c891604bfbe49df845096");
    assert_eq!(rpis[3], "3c9a1de5dd6b02afa7fded7b570b3e56");
    assert_eq!(rpis[5], "243ffe9a3b08bded3094bac8630bb8ad");
    assert_eq!(heard[2].frame.attenuation_db(), Some(49));
}

#[test]
fn a_tracer_keeps_the_good_sightings_and_refuses_the_rest() {
    let clock = Arc::new(ManualClock::new(T0 + 1_300));
    let tracer = Tracer::open_with(
        TracerConfig::default(),
        StorageLocation::InMemory,
        &MasterKey::from_bytes([7; 32]),
        clock,
        Box::new(rand::rngs::StdRng::seed_from_u64(1)),
    )
    .unwrap();
    let mut batcher = Batcher::new(&tracer, 60);
    for frame in parse_recording(FIXTURE).unwrap() {
        batcher.push(&frame).unwrap();
    }
    let summary = batcher.finish().unwrap();
    assert_eq!(
        summary,
        BatchSummary {
            frames: 10,
            not_exposure_notification: 1,
            without_rssi: 1,
            delivered: 8,
            accepted: 6,
            refused: 2,
            windows: 3,
            distinct_rpis: 3,
        }
    );
    let day = DayNumber::from_unix_seconds(T0).unwrap();
    let stored = tracer.sightings(day, day).unwrap();
    assert_eq!(stored.len(), 1);
    let diagnostics = tracer.diagnostics().unwrap();
    assert_eq!(diagnostics.ingest_since_open.malformed, 1);
    assert_eq!(diagnostics.ingest_since_open.implausible_rssi, 1);
}
