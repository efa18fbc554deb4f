use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;

use super::*;
use crate::keyfile::ReportType;
use crate::metadata::Metadata;
use crate::sightings::{Scan, ScanInstance, SightingRecord};
use crate::time::RollingPeriod;

const START: u32 = 2_988_000; // a midnight-aligned interval in 2026

fn key(byte: u8, period: u32) -> DiagnosisKey {
    DiagnosisKey {
        key_data: [byte; 16],
        rolling_start: IntervalNumber::new(START),
        rolling_period: RollingPeriod::new(period).unwrap(),
        transmission_risk: 0,
        report_type: ReportType::ConfirmedTest,
        days_since_onset: None,
    }
}

/// Heard: (key byte, RPI interval offset, time heard, typical RSSI, max RSSI, tx power).
type Heard = (u8, u32, i64, i8, i8, i8);

fn chunk_of(heard: &[Heard]) -> Vec<(DayNumber, DayChunk)> {
    let mut per_day: BTreeMap<DayNumber, Vec<DayChunk>> = BTreeMap::new();
    for &(byte, offset, time, typical, max, tx) in heard {
        let keys = TemporaryExposureKey::from_bytes([byte; 16]).derive_keys();
        let interval = IntervalNumber::new(START + offset);
        let rpi = keys.rpik.identifier(interval);
        let aem = keys
            .aemk
            .encrypt(&rpi, Metadata::v1_0(tx).to_bytes().unwrap());
        let day = DayNumber::from_unix_seconds(time).unwrap();
        per_day.entry(day).or_default().push(DayChunk {
            scans: vec![Scan {
                start: time,
                end: time + 4,
            }],
            records: vec![SightingRecord {
                rpi,
                aem,
                instances: vec![ScanInstance {
                    scan: 0,
                    typical_rssi: typical,
                    max_rssi: max,
                }],
            }],
        });
    }
    per_day
        .into_iter()
        .map(|(day, chunks)| (day, DayChunk::merge(&chunks)))
        .collect()
}

fn at(offset: u32) -> i64 {
    i64::from(START + offset) * 600 + 100
}

/// Random sightings (key byte, RPI interval offset, interval offset heard, RSSI) as [`Heard`],
/// each a second after the one before within its interval, at 0 dBm.
fn heard_in_turn(heard: Vec<(u8, u32, u32, i8)>) -> Vec<Heard> {
    heard
        .into_iter()
        .enumerate()
        .map(|(i, (k, rpi_offset, heard_offset, rssi))| {
            (
                k,
                rpi_offset,
                at(heard_offset) + i64::try_from(i).unwrap(),
                rssi,
                rssi,
                0,
            )
        })
        .collect()
}

#[test]
fn a_heard_key_matches_with_attenuation_from_its_metadata() {
    let index = SightingIndex::build(&chunk_of(&[
        (1, 5, at(5), -60, -55, -10),
        (1, 6, at(5) + 300, -70, -66, -10),
        (2, 5, at(5) + 1, -80, -80, 0),
    ]));
    assert_eq!(index.len(), 3);
    let config = MatchConfig {
        rssi_correction_db: 3,
        ..MatchConfig::default()
    };
    let m = match_key(&index, &key(1, 144), &config).unwrap();
    assert_eq!(m.key, key(1, 144));
    assert_eq!(
        m.scans,
        vec![
            MatchedScan {
                time: at(5),
                seconds_since_last_scan: 120,
                typical_attenuation_db: 47, // -10 - (-60 + 3)
                min_attenuation_db: 42,
            },
            MatchedScan {
                time: at(5) + 300,
                seconds_since_last_scan: 300,
                typical_attenuation_db: 57,
                min_attenuation_db: 53,
            },
        ]
    );
    assert!(match_key(&index, &key(3, 144), &config).is_none());
    let all = match_keys(&index, &[key(3, 144), key(2, 144), key(1, 144)], &config);
    let matched: Vec<u8> = all.iter().map(|m| m.key.key_data[0]).collect();
    assert_eq!(matched, vec![2, 1]);
}

#[test]
fn sightings_outside_two_hours_of_their_interval_do_not_count() {
    // RPI of interval 5 heard 12 intervals later (counts) and 13 intervals later (does not).
    let late_ok = chunk_of(&[(1, 5, at(17), -60, -60, 0)]);
    assert!(
        match_key(
            &SightingIndex::build(&late_ok),
            &key(1, 144),
            &MatchConfig::default()
        )
        .is_some()
    );
    let too_late = chunk_of(&[(1, 5, at(18), -60, -60, 0)]);
    assert!(
        match_key(
            &SightingIndex::build(&too_late),
            &key(1, 144),
            &MatchConfig::default()
        )
        .is_none()
    );
    let too_early = chunk_of(&[(1, 20, at(7), -60, -60, 0)]);
    assert!(
        match_key(
            &SightingIndex::build(&too_early),
            &key(1, 144),
            &MatchConfig::default()
        )
        .is_none()
    );
}

#[test]
fn replays_after_twenty_minutes_are_dropped() {
    let index = SightingIndex::build(&chunk_of(&[
        (1, 5, at(5), -60, -60, 0),
        (1, 5, at(5) + 600, -60, -60, 0),
        (1, 5, at(5) + 1200, -60, -60, 0),
        (1, 5, at(5) + 1500, -60, -60, 0),
    ]));
    let m = match_key(&index, &key(1, 144), &MatchConfig::default()).unwrap();
    let times: Vec<i64> = m.scans.iter().map(|s| s.time - at(5)).collect();
    assert_eq!(times, vec![0, 600, 1200]);
}

#[test]
fn implausible_transmit_power_and_short_rolling_periods() {
    let index = SightingIndex::build(&chunk_of(&[(1, 5, at(5), -60, -60, 30)]));
    assert!(match_key(&index, &key(1, 144), &MatchConfig::default()).is_none());
    let index = SightingIndex::build(&chunk_of(&[(1, 20, at(20), -60, -60, 0)]));
    assert!(
        match_key(&index, &key(1, 20), &MatchConfig::default()).is_none(),
        "interval 20 is past a 20-interval key"
    );
    assert!(match_key(&index, &key(1, 21), &MatchConfig::default()).is_some());
}

#[test]
fn keys_far_from_the_sightings_are_skipped_and_empty_indexes_match_nothing() {
    let index = SightingIndex::build(&chunk_of(&[(1, 5, at(5), -60, -60, 0)]));
    let mut old = key(1, 144);
    old.rolling_start = IntervalNumber::new(START - 144 * 3);
    assert!(!index.may_match(&old, 12));
    assert!(index.may_match(&key(1, 144), 12));
    let empty = SightingIndex::build(&[]);
    assert!(empty.is_empty());
    assert!(match_keys(&empty, &[key(1, 144)], &MatchConfig::default()).is_empty());
}

#[test]
fn seconds_since_last_scan_follows_gaen() {
    let scan = |start, previous_end| GlobalScan {
        start,
        previous_end,
    };
    assert_eq!(seconds_since_last_scan(scan(1000, None)), 120);
    assert_eq!(seconds_since_last_scan(scan(600, Some(304))), 300);
    assert_eq!(seconds_since_last_scan(scan(3600, Some(100))), 300);
    assert_eq!(seconds_since_last_scan(scan(180, Some(64))), 120);
    assert_eq!(seconds_since_last_scan(scan(100, Some(90))), 0);
}

proptest! {
    /// The index finds exactly what a hash set finds, whatever the prefixes and fingerprints.
    #[test]
    fn index_lookups_agree_with_a_set(
        rpis in proptest::collection::vec(any::<[u8; 16]>(), 0..300),
        shared_prefix in any::<bool>(),
        probes in proptest::collection::vec(any::<[u8; 16]>(), 0..50),
    ) {
        let rpis: Vec<[u8; 16]> = rpis
            .into_iter()
            // Shared low bytes: equal fingerprints; shared high bytes: one bucket, more RPIs
            // than its line holds (the overflow path).
            .map(|mut r| { if shared_prefix { r[0] = 7; r[1] = 7; r[13] = 7; r[14] = 7; r[15] = 7; } r })
            .collect();
        let chunk = DayChunk {
            scans: vec![Scan { start: at(0), end: at(0) }],
            records: {
                let mut set: Vec<[u8; 16]> = rpis.clone();
                set.sort_unstable();
                set.dedup();
                set.into_iter()
                    .map(|r| SightingRecord {
                        rpi: RollingProximityIdentifier(r),
                        aem: AssociatedEncryptedMetadata([0; 4]),
                        instances: vec![ScanInstance { scan: 0, typical_rssi: -60, max_rssi: -60 }],
                    })
                    .collect()
            },
        };
        let index = SightingIndex::build(&[(DayNumber::new(START / 144), chunk)]);
        let set: HashSet<[u8; 16]> = rpis.iter().copied().collect();
        for probe in rpis.iter().chain(&probes) {
            let found = index.lookup(u128::from_le_bytes(*probe));
            prop_assert_eq!(found.len(), usize::from(set.contains(probe)));
        }
    }

    /// Matching agrees with a direct reading of the rules on random sightings.
    #[test]
    fn matching_agrees_with_the_rules(
        heard in proptest::collection::vec((1u8..6, 0u32..30, 0u32..40, -90i8..-40), 1..25),
    ) {
        let heard = heard_in_turn(heard);
        let index = SightingIndex::build(&chunk_of(&heard));
        let keys: Vec<DiagnosisKey> = (1u8..8).map(|b| key(b, 144)).collect();
        let matched: HashSet<u8> = match_keys(&index, &keys, &MatchConfig::default())
            .iter()
            .map(|m| m.key.key_data[0])
            .collect();
        let expected: HashSet<u8> = heard
            .iter()
            .filter(|(_, rpi_offset, time, ..)| {
                let heard_interval = i64::from(u32::try_from(time.div_euclid(600)).unwrap());
                (heard_interval - i64::from(START + rpi_offset)).abs() <= 12
            })
            .map(|(k, ..)| *k)
            .collect();
        prop_assert_eq!(matched, expected);
    }

    /// Deriving and probing only the intervals of a key that could have been heard finds the
    /// same scans as the whole day: the same history with two unrelated sightings added, one
    /// within two hours of each end of the day, makes every key's whole day live.
    #[test]
    fn deriving_only_the_intervals_that_could_be_heard_changes_nothing(
        heard in proptest::collection::vec((1u8..6, 0u32..144, 0u32..144, -90i8..-40), 1..25),
    ) {
        let heard = heard_in_turn(heard);
        let trimmed = SightingIndex::build(&chunk_of(&heard));
        let mut widened = heard.clone();
        // Key 200 is none of the keys matched below.
        widened.push((200, 0, at(0) - 600 * 12, -60, -60, 0));
        widened.push((200, 0, at(143 + 12), -60, -60, 0));
        let widened = SightingIndex::build(&chunk_of(&widened));
        let config = MatchConfig::default();
        // What the extra scans may change: the gap before the first scan heard.
        let scans = |m: Option<KeyMatch>| {
            m.map(|m| {
                let scans: Vec<(i64, u8, u8)> = m
                    .scans
                    .iter()
                    .map(|s| (s.time, s.typical_attenuation_db, s.min_attenuation_db))
                    .collect();
                (m.key, m.calibration_confidence, scans)
            })
        };
        for byte in 1u8..8 {
            let key = key(byte, 144);
            prop_assert_eq!(widened.live_intervals(&key, 12), Some((0, 143)));
            prop_assert_eq!(
                scans(match_key(&trimmed, &key, &config)),
                scans(match_key(&widened, &key, &config))
            );
        }
    }
}

/// A key is skipped (no HKDF, no AES) only when nothing at all was heard within the
/// validity window of any of its intervals: a day without sightings between two days with
/// some is skipped, though it lies inside the span of the history; one sighting at the edge
/// of the window is enough to match it.
#[test]
fn keys_of_days_when_nothing_was_heard_are_skipped() {
    let day = TEK_ROLLING_PERIOD;
    // Heard on the day before and the day after the key's day, two hours and a bit away.
    let index = SightingIndex::build(&chunk_of(&[
        (9, 0, at(0) - 600 * 13, -60, -60, -10),
        (9, 0, at(day + 12), -60, -60, -10),
    ]));
    let config = MatchConfig::default();
    let of_the_day = key(1, 144);
    assert!(!index.may_match(&of_the_day, config.validity_intervals));
    // Widen the window by one interval and both sightings are within it.
    assert!(index.may_match(&of_the_day, config.validity_intervals + 1));
    // The key heard two hours after its last interval still matches.
    let index = SightingIndex::build(&chunk_of(&[(1, 143, at(143 + 12), -60, -55, -10)]));
    assert!(index.may_match(&of_the_day, config.validity_intervals));
    assert!(match_key(&index, &of_the_day, &config).is_some());
    // ... and not a minute later than the window allows.
    let index = SightingIndex::build(&chunk_of(&[(1, 143, at(143 + 13), -60, -55, -10)]));
    assert!(!index.may_match(&of_the_day, config.validity_intervals));
    assert!(match_key(&index, &of_the_day, &config).is_none());
}
