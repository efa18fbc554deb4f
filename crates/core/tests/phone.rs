//! A phone (driver + engine) over a real encrypted store: what a reboot, process death and
//! termination do to collection. The platform here does what it is told at once and fires
//! alarms on time.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bluezone_core::driver::{
    AppState, CollectionState, Command, DriverConfig, Event, Platform, RestartReason, ScanReport,
};
use bluezone_core::{
    AdvertData, HttpReply, ManualClock, Phone, Tracer, TracerConfig, Transport, TransportError,
    UploadConsent, VerifiedCode,
};
use bluezone_protocol::{
    Advertisement, AssociatedEncryptedMetadata, DayNumber, RollingProximityIdentifier,
};
use bluezone_testkit::phone::TestPhone;

/// 2023-11-14 10:00 UTC, Unix ms.
const T0: i64 = 1_699_956_000_000;

fn open(path: &Path, clock: &Arc<ManualClock>, seed: u64) -> Arc<Tracer> {
    open_configured(path, clock, seed, TracerConfig::default())
}

fn open_configured(
    path: &Path,
    clock: &Arc<ManualClock>,
    seed: u64,
    config: TracerConfig,
) -> Arc<Tracer> {
    Arc::new(
        TestPhone::new()
            .config(config)
            .file(path)
            .master_key(7)
            .seed(seed)
            .open(clock),
    )
}

fn advert(n: u8) -> Event {
    let a = Advertisement {
        rpi: RollingProximityIdentifier([n; 16]),
        aem: AssociatedEncryptedMetadata([n, 1, 2, 3]),
    };
    Event::ScanResult(ScanReport {
        device: format!("dev-{n}"),
        advert: AdvertData::Raw(a.to_legacy_payload().to_vec()),
        service_uuids: Vec::new(),
        apple_overflow: false,
        rssi: -60,
        tx_power_dbm: None,
    })
}

/// Drives `phone` from `from` to `until`: alarms on time, and in every scan window the three
/// neighbours 1, 2 and 3 heard once each. Returns the windows run and the payloads advertised.
fn live(
    phone: &mut Phone<Arc<Tracer>>,
    clock: &ManualClock,
    from: i64,
    until: i64,
    advertised: &mut Vec<Vec<u8>>,
) -> usize {
    let mut windows = 0;
    let mut now = from;
    let mut act = |phone: &mut Phone<Arc<Tracer>>, at: i64, event: Event, windows: &mut usize| {
        clock.set(at.div_euclid(1000));
        let commands = phone.handle(at, event);
        let mut started = false;
        for command in commands {
            match command {
                Command::StartScan { .. } => started = true,
                Command::StartAdvertising(request) => advertised.push(request.service_data),
                _ => {}
            }
        }
        if started {
            *windows += 1;
            for (k, n) in [1u8, 2, 3].into_iter().enumerate() {
                let t = at + 500 + 500 * k as i64;
                clock.set(t.div_euclid(1000));
                for command in phone.handle(t, advert(n)) {
                    assert!(!matches!(command, Command::StartScan { .. }));
                }
            }
        }
    };
    while let Some(at) = phone.driver().next_wakeup().filter(|&t| t <= until) {
        now = now.max(at);
        act(phone, now, Event::Timer, &mut windows);
    }
    windows
}

/// Per RPI, the number of scans it was stored in, and the number of distinct scans.
fn stored(tracer: &Tracer, day: DayNumber) -> (BTreeMap<u8, usize>, usize) {
    let chunks = tracer.sightings(day, day).unwrap();
    let mut per_rpi = BTreeMap::new();
    let mut scans = 0;
    for (_, chunk) in chunks {
        scans += chunk.scans.len();
        for record in chunk.records {
            let mut seen: Vec<u32> = record.instances.iter().map(|i| i.scan).collect();
            seen.dedup();
            assert_eq!(seen.len(), record.instances.len(), "a scan stored twice");
            *per_rpi.entry(record.rpi.0[0]).or_insert(0) += record.instances.len();
        }
    }
    (per_rpi, scans)
}

#[test]
fn a_reboot_mid_day_resumes_with_the_same_key_and_no_duplicate_sightings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let clock = Arc::new(ManualClock::new(T0 / 1000));
    let config = DriverConfig::default_for(Platform::Android);
    let mut advertised = Vec::new();

    let tracer = open(&path, &clock, 1);
    let mut phone = Phone::open(tracer.clone(), config.clone(), 11, T0).unwrap();
    phone.handle(T0, Event::Enable);
    let before = live(&mut phone, &clock, T0, T0 + 2 * 3_600_000, &mut advertised);
    assert!(before >= 24, "{before} windows");
    // The phone dies between windows (no warning, like a battery pull).
    drop(phone);
    drop(tracer);

    let back = T0 + 2 * 3_600_000 + 300_000;
    clock.set(back / 1000);
    let tracer = open(&path, &clock, 2);
    let mut phone = Phone::open(tracer.clone(), config, 12, back).unwrap();
    let commands = phone.handle(back, Event::Restarted(RestartReason::Boot));
    assert_eq!(phone.driver().status().state, CollectionState::Collecting);
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::StartScan { .. }))
    );
    let after = live(
        &mut phone,
        &clock,
        back,
        back + 2 * 3_600_000,
        &mut advertised,
    );
    phone.handle(back + 2 * 3_600_000 + 1, Event::App(AppState::Terminating));

    // One key for the day, before and after: every payload advertised derives from it.
    assert_eq!(tracer.storage_stats().unwrap().rows_own_keys, 1);
    assert!(advertised.len() >= 16);
    // Every window stored once, each neighbour once per window, nothing twice.
    let day = DayNumber::from_unix_seconds(T0 / 1000).unwrap();
    let (per_rpi, scans) = stored(&tracer, day);
    assert_eq!(scans, before + after);
    assert_eq!(
        per_rpi,
        BTreeMap::from([
            (1, before + after),
            (2, before + after),
            (3, before + after)
        ])
    );
    assert_eq!(phone.engine_counters().errors, 0);
}

#[test]
fn a_terminated_app_stores_its_partial_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let clock = Arc::new(ManualClock::new(T0 / 1000));
    let tracer = open(&path, &clock, 1);
    let mut phone = Phone::open(
        tracer.clone(),
        DriverConfig::default_for(Platform::Android),
        3,
        T0,
    )
    .unwrap();
    phone.handle(T0, Event::Enable);
    phone.handle(T0 + 1_000, advert(5));
    phone.handle(T0 + 1_500, advert(6));
    let commands = phone.handle(T0 + 2_000, Event::App(AppState::Terminating));
    assert!(commands.contains(&Command::StopScan));
    drop(phone);
    drop(tracer);

    let tracer = open(&path, &clock, 2);
    let day = DayNumber::from_unix_seconds(T0 / 1000).unwrap();
    let (per_rpi, scans) = stored(&tracer, day);
    assert_eq!(scans, 1);
    assert_eq!(per_rpi, BTreeMap::from([(5, 1), (6, 1)]));
    // The driver's state survived too: still on.
    let mut phone = Phone::open(
        tracer,
        DriverConfig::default_for(Platform::Android),
        4,
        T0 + 60_000,
    )
    .unwrap();
    phone.handle(T0 + 60_000, Event::Restarted(RestartReason::ProcessRestart));
    assert_eq!(phone.driver().status().state, CollectionState::Collecting);
}

/// A network that never answers: an upload releases today's key and then fails.
struct Offline;

impl Transport for Offline {
    fn post(&self, _path: &str, _body: &[u8]) -> Result<HttpReply, TransportError> {
        Err(TransportError("network is unreachable".into()))
    }
    fn get(&self, _path: &str) -> Result<HttpReply, TransportError> {
        Err(TransportError("network is unreachable".into()))
    }
}

/// The payloads put on air by `commands`, and whether advertising was stopped.
fn advertising(commands: &[Command]) -> (Vec<Vec<u8>>, bool) {
    let started = commands
        .iter()
        .filter_map(|c| match c {
            Command::StartAdvertising(request) => Some(request.service_data.clone()),
            _ => None,
        })
        .collect();
    (started, commands.contains(&Command::StopAdvertising))
}

#[test]
fn a_released_key_leaves_the_air_when_its_interval_ends_and_deleted_data_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0 / 1000));
    let config = TracerConfig {
        upload_public_key: Some([9; 32]),
        ..TracerConfig::default()
    };
    let tracer = open_configured(&dir.path().join("phone.db"), &clock, 1, config);
    let mut phone = Phone::open(
        tracer.clone(),
        DriverConfig::default_for(Platform::Android),
        5,
        T0,
    )
    .unwrap();
    let (on_air, _) = advertising(&phone.handle(T0, Event::Enable));
    assert_eq!(on_air.len(), 1);

    // 10:03: the person uploads (the network fails after today's key was released).
    let upload_at = T0 + 3 * 60_000;
    clock.set(upload_at / 1000);
    let verified = VerifiedCode {
        token: "token".into(),
        report_type: 1,
        symptom_onset_interval: None,
    };
    let consent = UploadConsent {
        agreed_at: upload_at / 1000,
    };
    assert!(tracer.upload_keys(&Offline, &verified, consent).is_err());
    assert_eq!(tracer.storage_stats().unwrap().rows_own_keys, 3);

    // The next event: the same identifier keeps its address, due at 10:10.
    let commands = phone.handle(upload_at + 1_000, advert(1));
    assert_eq!(advertising(&commands), (Vec::new(), false));
    let interval_end = T0 + 10 * 60_000;
    assert_eq!(phone.driver().on_air().unwrap().1, interval_end);
    let mut rotated = None;
    while let Some(at) = phone.driver().next_wakeup().filter(|&t| t <= interval_end) {
        clock.set(at / 1000);
        let (started, _) = advertising(&phone.handle(at, Event::Timer));
        if let Some(payload) = started.into_iter().next() {
            rotated = Some((at, payload));
        }
    }
    let (at, payload) = rotated.expect("a rotation at the interval's end");
    assert_eq!(at, interval_end);
    assert_ne!(payload, on_air[0], "the replacement key's identifier");

    // Deleting everything replaces the identifier at the next event.
    let later = interval_end + 60_000;
    clock.set(later / 1000);
    tracer.delete_all_data().unwrap();
    let (started, stopped) = advertising(&phone.handle(later, advert(2)));
    assert!(stopped);
    assert_eq!(started.len(), 1);
    assert_ne!(started[0], payload);
    assert_eq!(phone.engine_counters().errors, 0);
}
