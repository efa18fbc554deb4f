//! Synthetic histories: deterministic, realistic in shape, and consistent with the contacts'
//! keys (so matching tests can publish some of them).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::collections::HashSet;
use std::sync::Arc;

use bluezone_core::{ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use bluezone_protocol::DayNumber;
use bluezone_sim::history::{HistoryGenerator, HistoryParams, QUIET_FROM_UTC_SECS, fill_history};
use rand::SeedableRng;

const UNTIL: i64 = 1_793_491_200; // 2026-11-01 00:00 UTC

fn run(seed: u64) -> (bluezone_sim::history::History, Tracer) {
    let params = HistoryParams {
        days: 1,
        contacts_per_scan: 20,
        seed,
        until: UNTIL,
        quiet_nights: false,
    };
    let clock = Arc::new(ManualClock::new(UNTIL - 86_400));
    let tracer = Tracer::open_with(
        TracerConfig::default(),
        StorageLocation::InMemory,
        &MasterKey::from_bytes([1; 32]),
        clock.clone(),
        Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
    )
    .unwrap();
    let history = fill_history(&tracer, &clock, &params).unwrap();
    (history, tracer)
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let (a, _) = run(5);
    let (b, _) = run(5);
    let (c, _) = run(6);
    assert_eq!(a.rpis, b.rpis);
    assert_eq!(a.adverts, b.adverts);
    assert_ne!(a.rpis, c.rpis);
}

#[test]
fn a_day_has_the_expected_shape_and_everything_reaches_the_store() {
    let (history, tracer) = run(1);
    assert_eq!(history.scans, 288);
    assert_eq!(history.ingest.accepted, history.adverts);
    assert_eq!(history.ingest.rejected(), 0);
    // 20 contacts, 12 of 16 adverts heard on average.
    let per_contact_scan = history.adverts as f64 / (288.0 * 20.0);
    assert!(
        (11.0..13.0).contains(&per_contact_scan),
        "{per_contact_scan}"
    );
    // RPIs rotate every 10 to 20 minutes: about 96 per contact per day, more with churn.
    let rpis = history.rpis.len();
    assert!((20 * 80..20 * 130).contains(&rpis), "{rpis}");

    let day = DayNumber::from_unix_seconds(UNTIL - 1).unwrap();
    let stored = tracer
        .sightings(DayNumber::new(day.get() - 1), day)
        .unwrap();
    let stored_rpis: HashSet<_> = stored
        .iter()
        .flat_map(|(_, c)| c.records.iter().map(|r| r.rpi))
        .collect();
    assert_eq!(stored_rpis, history.rpis.iter().copied().collect());
}

#[test]
fn every_rpi_heard_comes_from_a_contact_key() {
    let (history, _) = run(2);
    let mut derived = HashSet::new();
    for key in &history.contact_keys {
        derived.extend(key.tek.rpi_key().daily_identifiers(key.rolling_start));
    }
    assert!(history.rpis.iter().all(|rpi| derived.contains(rpi)));
}

#[test]
fn every_contact_key_is_heard_within_the_history() {
    // Half the seeds put the first scan's jitter before the start: none may leave the
    // history's days, nor leave a key of the first contacts unheard.
    for seed in 0..8 {
        let params = HistoryParams {
            days: 1,
            contacts_per_scan: 20,
            seed,
            until: UNTIL,
            quiet_nights: false,
        };
        let start = UNTIL - 86_400;
        let mut generator = HistoryGenerator::new(&params).unwrap();
        while let Some(scan) = generator.next_scan().unwrap() {
            assert!(
                scan.sightings
                    .iter()
                    .all(|s| (start..UNTIL).contains(&s.time)),
                "seed {seed}: a scan outside the history"
            );
        }
        let history = generator.finish();
        let unheard = history
            .contact_keys
            .iter()
            .filter(|key| {
                !key.tek
                    .rpi_key()
                    .daily_identifiers(key.rolling_start)
                    .iter()
                    .any(|rpi| history.rpis.binary_search(rpi).is_ok())
            })
            .count();
        assert_eq!(
            unheard,
            0,
            "seed {seed}: of {} contact keys",
            history.contact_keys.len()
        );
    }
}

/// With quiet nights the phone hears nobody from 16:00 to 24:00 UTC (23:00 to 07:00 in
/// Vietnam) and people the rest of the day.
#[test]
fn quiet_nights_hear_nobody_at_night() {
    let params = HistoryParams {
        days: 2,
        contacts_per_scan: 20,
        seed: 5,
        until: UNTIL,
        quiet_nights: true,
    };
    let mut generator = HistoryGenerator::new(&params).unwrap();
    let (mut day, mut night) = (0, 0);
    while let Some(batch) = generator.next_scan().unwrap() {
        for sighting in &batch.sightings {
            // A scan that starts just before 16:00 may run a few seconds past it.
            let second = sighting.time.rem_euclid(86_400);
            if (QUIET_FROM_UTC_SECS + 30..86_400 - 30).contains(&second) {
                night += 1;
            } else {
                day += 1;
            }
        }
    }
    assert_eq!(night, 0);
    assert!(day > 10_000, "{day} sightings by day");
}
