//! The Tracer end to end, over a real encrypted SQLite store in a temporary folder.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code: a failed unwrap is a failed test; casts are of small known values.

use std::path::Path;
use std::sync::Arc;

use bluezone_core::{
    AdvertData, CoreError, ManualClock, SightingInput, StorageLocation, Tracer, TracerConfig,
};
use bluezone_protocol::{
    Advertisement, AssociatedEncryptedMetadata, DayNumber, IntervalNumber, Metadata,
    RollingProximityIdentifier,
};
use bluezone_store::StoreError;
use bluezone_testkit::files::database_bytes;
use bluezone_testkit::phone::TestPhone;
use rand::SeedableRng;

/// 2023-11-14 22:13:20 UTC.
const T0: i64 = 1_700_000_000;

/// A phone with the default configuration (trusting no signer) and master key 42.
fn phone() -> TestPhone {
    TestPhone::new()
        .config(TracerConfig::default())
        .master_key(42)
}

fn open(path: &Path, clock: &Arc<ManualClock>, seed: u64) -> Tracer {
    phone().file(path).seed(seed).open(clock)
}

fn heard(rpi: u8, rssi: i16, time: i64, window: u64) -> SightingInput {
    let ad = Advertisement {
        rpi: RollingProximityIdentifier([rpi; 16]),
        aem: AssociatedEncryptedMetadata([rpi ^ 0x5a; 4]),
    };
    SightingInput {
        advert: AdvertData::Raw(ad.to_legacy_payload().to_vec()),
        rssi,
        time,
        scan_window: Some(window),
    }
}

fn today(clock: &ManualClock) -> DayNumber {
    use bluezone_core::Clock;
    DayNumber::from_unix_seconds(clock.now()).unwrap()
}

#[test]
fn advertisement_rotates_between_10_and_20_minutes_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = open(&dir.path().join("db"), &clock, 1);
    let first = tracer.current_advertisement().unwrap();
    assert_eq!(first.rotated_at, T0);
    let lifetime = first.next_rotation_at - first.rotated_at;
    assert!((600..=1200).contains(&lifetime), "{lifetime}");
    assert_eq!(
        first.interval,
        IntervalNumber::from_unix_seconds(T0).unwrap()
    );
    assert_eq!(
        Advertisement::from_advertising_data(&first.payload).unwrap(),
        first.advertisement
    );

    clock.set(first.next_rotation_at - 1);
    assert_eq!(tracer.current_advertisement().unwrap(), first);

    clock.set(first.next_rotation_at);
    let second = tracer.current_advertisement().unwrap();
    assert_ne!(second.advertisement.rpi, first.advertisement.rpi);
    assert!(second.interval > first.interval);
    assert_eq!(second.rotated_at, first.next_rotation_at);

    let mut lifetimes = Vec::new();
    let mut current = second;
    for _ in 0..200 {
        clock.set(current.next_rotation_at);
        let next = tracer.current_advertisement().unwrap();
        lifetimes.push(next.next_rotation_at - next.rotated_at);
        assert_ne!(next.advertisement.rpi, current.advertisement.rpi);
        current = next;
    }
    assert!(lifetimes.iter().all(|l| (600..=1200).contains(l)));
    assert!(lifetimes.iter().any(|&l| l < 700) && lifetimes.iter().any(|&l| l > 1100));
}

#[test]
fn a_clock_moving_backwards_forces_a_rotation() {
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = phone().seed(3).open(&clock);
    let first = tracer.current_advertisement().unwrap();
    clock.set(T0 - 3600);
    let again = tracer.current_advertisement().unwrap();
    assert_eq!(again.rotated_at, T0 - 3600);
    assert_ne!(again.advertisement.rpi, first.advertisement.rpi);
}

#[test]
fn the_daily_key_is_stored_before_use_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    let before = open(&path, &clock, 1).current_advertisement().unwrap();
    // A new process, a different random generator: the same key for the same interval.
    let after = open(&path, &clock, 99).current_advertisement().unwrap();
    assert_eq!(after.advertisement.rpi, before.advertisement.rpi);
    assert_eq!(after.advertisement.aem, before.advertisement.aem);
    // The next day brings a new key.
    clock.set(T0 + 86_400);
    let tomorrow = open(&path, &clock, 99).current_advertisement().unwrap();
    assert_ne!(tomorrow.advertisement.rpi, before.advertisement.rpi);
}

#[test]
fn metadata_carries_the_configured_transmit_power() {
    let clock = Arc::new(ManualClock::new(T0));
    let config = TracerConfig {
        tx_power_dbm: -7,
        ..TracerConfig::default()
    };
    let tracer = phone().config(config).seed(5).open(&clock);
    let ad = tracer.current_advertisement().unwrap();
    // Nobody can read it without the key; we check that it is not the plain metadata.
    let plain = Metadata {
        minor_version: 1,
        ..Metadata::v1_0(-7)
    }
    .to_bytes()
    .unwrap();
    assert_ne!(ad.advertisement.aem.0, plain);
}

#[test]
fn sightings_are_folded_stored_and_refusals_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = open(&path, &clock, 1);
    let mut batch: Vec<SightingInput> = (0..16)
        .map(|i: i64| heard(1, -60 - i16::try_from(i % 3).unwrap(), T0 - 10 + i / 4, 1))
        .collect();
    batch.push(heard(2, -80, T0 - 9, 1));
    batch.push(SightingInput {
        advert: AdvertData::Raw(vec![2, 1, 6]),
        rssi: -50,
        time: T0,
        scan_window: Some(1),
    });
    batch.push(heard(3, 127, T0, 1));
    batch.push(heard(4, -60, T0 + 3600, 1));
    batch.push(heard(5, -60, T0 - 7 * 3600, 1));
    let report = tracer.record_sightings(&batch).unwrap();
    assert_eq!(report.accepted, 17);
    assert_eq!(
        (
            report.malformed,
            report.implausible_rssi,
            report.from_the_future,
            report.too_old
        ),
        (1, 1, 1, 1)
    );
    drop(tracer);

    let tracer = open(&path, &clock, 2);
    let stored = tracer.sightings(today(&clock), today(&clock)).unwrap();
    assert_eq!(stored.len(), 1);
    let chunk = &stored[0].1;
    assert_eq!(chunk.scans.len(), 1);
    assert_eq!(chunk.scans[0].start, T0 - 10);
    assert_eq!(chunk.scans[0].end, T0 - 7);
    let rpis: Vec<u8> = chunk.records.iter().map(|r| r.rpi.0[0]).collect();
    assert_eq!(rpis, vec![1, 2], "refused sightings are never stored");
    assert_eq!(chunk.records[0].instances[0].max_rssi, -60);
    assert_eq!(chunk.records[0].instances[0].typical_rssi, -61);
}

#[test]
fn scans_continue_across_batches_and_compact_to_one_chunk() {
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = phone()
        .config(TracerConfig {
            compact_after_chunks: 4,
            ..TracerConfig::default()
        })
        .seed(5)
        .open(&clock);
    // 18 batches: compaction after every 4th leaves 3 rows before maintenance.
    for i in 0..9 {
        clock.set(T0 + i * 300);
        // Each scan is handed over in two halves.
        tracer
            .record_sightings(&[heard(1, -60, T0 + i * 300, i as u64)])
            .unwrap();
        tracer
            .record_sightings(&[heard(1, -70, T0 + i * 300 + 2, i as u64)])
            .unwrap();
    }
    let stored = tracer.sightings(today(&clock), today(&clock)).unwrap();
    let chunk = &stored[0].1;
    assert_eq!(chunk.scans.len(), 9);
    assert_eq!(tracer.storage_stats().unwrap().rows_sightings, 3);
    assert_eq!(chunk.records.len(), 1);
    assert!(
        chunk.records[0]
            .instances
            .iter()
            .all(|i| i.typical_rssi == -65)
    );
    let report = tracer.run_maintenance().unwrap();
    assert_eq!(report.days_compacted, 1);
    assert_eq!(tracer.storage_stats().unwrap().rows_sightings, 1);
    assert_eq!(
        tracer.sightings(today(&clock), today(&clock)).unwrap(),
        stored
    );
}

#[test]
fn retention_destroys_old_days_and_delete_all_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = open(&dir.path().join("db"), &clock, 1);
    let day0 = today(&clock);
    let first = tracer.current_advertisement().unwrap();
    tracer.record_sightings(&[heard(1, -60, T0, 1)]).unwrap();
    clock.set(T0 + 14 * 86_400);
    tracer
        .record_sightings(&[heard(2, -60, T0 + 14 * 86_400, 2)])
        .unwrap();
    assert_eq!(tracer.run_maintenance().unwrap().days_purged, 0);
    assert_eq!(tracer.sightings(day0, day0).unwrap().len(), 1);
    clock.set(T0 + 15 * 86_400);
    assert_eq!(tracer.run_maintenance().unwrap().days_purged, 1);
    assert!(tracer.sightings(day0, day0).unwrap().is_empty());
    assert_eq!(tracer.sightings(day0, today(&clock)).unwrap().len(), 1);

    tracer.delete_all_data().unwrap();
    assert!(tracer.sightings(day0, today(&clock)).unwrap().is_empty());
    assert_eq!(tracer.storage_stats().unwrap().rows, 0);
    clock.set(T0);
    let fresh = tracer.current_advertisement().unwrap();
    assert_ne!(
        fresh.advertisement.rpi, first.advertisement.rpi,
        "a new key"
    );
}

#[test]
fn the_wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    open(&path, &clock, 1).current_advertisement().unwrap();
    let err = phone()
        .storage(StorageLocation::File(path))
        .master_key(43)
        .seed(1)
        .try_open(&clock)
        .unwrap_err();
    assert!(
        matches!(err, CoreError::Store(StoreError::WrongKey)),
        "{err:?}"
    );
}

#[test]
fn invalid_configurations_are_refused() {
    for config in [
        TracerConfig {
            rotation_min_secs: 599,
            ..TracerConfig::default()
        },
        TracerConfig {
            rotation_max_secs: 700,
            rotation_min_secs: 800,
            ..TracerConfig::default()
        },
        TracerConfig {
            retention_days: 0,
            ..TracerConfig::default()
        },
    ] {
        let err = phone()
            .config(config)
            .seed(1)
            .try_open(&Arc::new(ManualClock::new(T0)))
            .unwrap_err();
        assert!(matches!(err, CoreError::InvalidConfig(_)), "{err:?}");
    }
}

#[test]
fn diagnostics_report_hours_and_scan_gaps() {
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = phone().seed(5).open(&clock);
    // Scans every 5 minutes for an hour, then a 30-minute gap, then one more scan.
    let mut times: Vec<i64> = (0..12).map(|i| T0 - 2 * 3600 + i * 300).collect();
    times.push(T0 - 2 * 3600 + 11 * 300 + 1800);
    for (i, &t) in times.iter().enumerate() {
        clock.set(t);
        let rpi = u8::try_from(i / 3).unwrap(); // a new RPI every three scans
        tracer
            .record_sightings(&[heard(rpi, -60, t, i as u64), heard(200, -70, t, i as u64)])
            .unwrap();
    }
    tracer.current_advertisement().unwrap();
    let diag = tracer.diagnostics().unwrap();
    assert_eq!(diag.scans_last_24h, 13);
    assert_eq!(diag.scan_gaps_over_10_min, 1);
    assert_eq!(diag.longest_scan_gap_secs, Some(1800));
    assert_eq!(diag.ids_heard_per_hour.len(), 24);
    let total: u32 = diag
        .ids_heard_per_hour
        .iter()
        .map(|h| h.distinct_rpis)
        .sum();
    assert!(total >= 6, "{:?}", diag.ids_heard_per_hour);
    assert_eq!(diag.ingest_since_open.accepted, 26);
    assert!(diag.last_rotation_at.is_some());
    assert!(diag.storage_bytes > 0);
}

/// The acceptance test: nothing recorded is readable in the database files, neither
/// while the tracer is open (WAL) nor after it closed.
#[test]
fn no_recorded_rpi_aem_or_rssi_series_is_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(T0));
    let tracer = open(&path, &clock, 1);
    tracer.current_advertisement().unwrap();
    let rssi_series: [i16; 6] = [-41, -77, -53, -88, -62, -45];
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    let contacts: Vec<Advertisement> = (0..20)
        .map(|_| {
            use rand::RngExt;
            Advertisement {
                rpi: RollingProximityIdentifier(rng.random()),
                aem: AssociatedEncryptedMetadata(rng.random()),
            }
        })
        .collect();
    for (scan, base) in rssi_series.iter().enumerate() {
        let t = T0 - 3000 + 300 * i64::try_from(scan).unwrap();
        clock.set(t);
        let batch: Vec<SightingInput> = contacts
            .iter()
            .zip(0i16..)
            .map(|(ad, i)| SightingInput {
                advert: AdvertData::ServiceData(ad.service_data().to_vec()),
                rssi: *base - i % 4,
                time: t,
                scan_window: Some(scan as u64),
            })
            .collect();
        tracer.record_sightings(&batch).unwrap();
    }
    let stored = tracer.sightings(today(&clock), today(&clock)).unwrap();
    let chunk = &stored[0].1;
    assert_eq!(chunk.records.len(), 20);
    let plaintext = chunk.encode(today(&clock)).unwrap();
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for record in &chunk.records {
        needles.push(record.rpi.0.to_vec());
        needles.push(record.aem.0.to_vec());
        // The record's RSSI series as stored (everything after RPI and AEM).
        let at = plaintext
            .windows(16)
            .position(|w| w == record.rpi.0)
            .unwrap();
        needles.push(plaintext[at + 20..at + 20 + 8].to_vec());
    }
    needles.push(
        rssi_series
            .iter()
            .map(|r| i8::try_from(*r).unwrap().to_le_bytes()[0])
            .collect(),
    );
    let while_open = database_bytes(&path);
    drop(tracer);
    let after_close = database_bytes(&path);
    for bytes in [&while_open, &after_close] {
        assert!(bytes.len() > 8192);
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{needle:02x?} is readable in the database files"
            );
        }
    }
}
