use bluezone_protocol::sightings::Scan;
use proptest::prelude::*;

use super::*;

const T0: i64 = 1_700_000_000;

fn sighting(rpi: u8, rssi: i8, time: i64, window: Option<u64>) -> ValidSighting {
    ValidSighting {
        rpi: RollingProximityIdentifier([rpi; 16]),
        aem: AssociatedEncryptedMetadata([rpi; 4]),
        rssi,
        time,
        scan_window: window,
    }
}

fn day() -> DayNumber {
    DayNumber::from_unix_seconds(T0).unwrap()
}

#[test]
fn folds_repeats_within_a_scan_window() {
    let mut f = Folder::new(25);
    for (i, rssi) in [-60i8, -62, -55, -61].into_iter().enumerate() {
        f.add(&sighting(1, rssi, T0 + i64::try_from(i).unwrap(), Some(9)));
    }
    f.add(&sighting(2, -80, T0 + 2, Some(9)));
    let chunks = f.pending_chunks();
    assert_eq!(chunks.len(), 1);
    let (d, chunk) = &chunks[0];
    assert_eq!(*d, day());
    assert_eq!(
        chunk.scans,
        vec![Scan {
            start: T0,
            end: T0 + 3
        }]
    );
    assert_eq!(chunk.records.len(), 2);
    let r = &chunk.records[0];
    // mean of -60, -62, -55, -61 = -59.5, rounded away from zero
    assert_eq!(r.instances[0].typical_rssi, -60);
    assert_eq!(r.instances[0].max_rssi, -55);
    assert_eq!(chunk.records[1].instances[0].typical_rssi, -80);
}

#[test]
fn infers_scans_from_gaps_and_folds_across_scans() {
    let mut f = Folder::new(25);
    f.add(&sighting(1, -60, T0, None));
    f.add(&sighting(1, -61, T0 + 20, None));
    f.add(&sighting(1, -70, T0 + 300, None)); // a new scan 5 minutes later
    f.add(&sighting(1, -72, T0 + 304, None));
    let chunks = f.pending_chunks();
    let chunk = &chunks[0].1;
    assert_eq!(
        chunk.scans,
        vec![
            Scan {
                start: T0,
                end: T0 + 20
            },
            Scan {
                start: T0 + 300,
                end: T0 + 304
            }
        ]
    );
    assert_eq!(chunk.records.len(), 1);
    assert_eq!(chunk.records[0].instances.len(), 2);
    assert_eq!(chunk.records[0].instances[1].scan, 1);
}

#[test]
fn a_scan_continued_after_a_flush_is_rewritten_in_full() {
    let mut f = Folder::new(25);
    f.add(&sighting(1, -60, T0, Some(1)));
    let first = f.pending_chunks();
    f.flushed();
    assert!(!f.is_dirty());
    assert!(f.pending_chunks().is_empty());
    f.add(&sighting(1, -70, T0 + 2, Some(1)));
    let second = f.pending_chunks();
    assert_eq!(
        second[0].1.scans,
        vec![Scan {
            start: T0,
            end: T0 + 2
        }]
    );
    assert_eq!(second[0].1.records[0].instances[0].typical_rssi, -65);
    // Storage merges the two versions into the latest.
    let merged = DayChunk::merge([&first[0].1, &second[0].1]);
    assert_eq!(merged, second[0].1);
}

#[test]
fn flushed_forgets_scans_that_cannot_grow() {
    let mut f = Folder::new(25);
    f.add(&sighting(1, -60, T0, Some(1)));
    f.add(&sighting(1, -60, T0 + 300, Some(2)));
    f.add(&sighting(3, -60, T0 + 301, None));
    f.flushed();
    assert_eq!(
        f.scans.len(),
        2,
        "window 1 is over; window 2 and the inferred scan live"
    );
    f.add(&sighting(3, -60, T0 + 400, None));
    f.flushed();
    let starts: Vec<i64> = f.scans.iter().map(|s| s.start).collect();
    assert_eq!(
        starts,
        vec![T0 + 300, T0 + 400],
        "the latest window stays; the inferred scan that ended more than a gap ago goes"
    );
    // A reused window id much later starts a new scan.
    f.add(&sighting(1, -60, T0 + 2000, Some(2)));
    let chunks = f.pending_chunks();
    assert_eq!(
        chunks[0].1.scans,
        vec![Scan {
            start: T0 + 2000,
            end: T0 + 2000
        }]
    );
}

#[test]
fn scans_are_filed_under_the_day_they_start() {
    let midnight = (day().get() + 1) as i64 * 86_400;
    let mut f = Folder::new(25);
    f.add(&sighting(1, -60, midnight - 2, Some(1)));
    f.add(&sighting(1, -60, midnight + 2, Some(1)));
    f.add(&sighting(2, -60, midnight + 600, Some(2)));
    let chunks = f.pending_chunks();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].0, day());
    assert_eq!(chunks[0].1.scans[0].end, midnight + 2);
    assert_eq!(chunks[1].0.get(), day().get() + 1);
}

proptest! {
    /// However sightings are split between flushes, merging what was flushed gives the same
    /// result as folding them all at once.
    #[test]
    fn flush_boundaries_do_not_change_the_result(
        events in proptest::collection::vec((0u8..5, -100i8..-30, 0i64..3, any::<bool>()), 1..60),
        cuts in proptest::collection::vec(any::<bool>(), 60),
    ) {
        // Shells number scan windows in order; a window is one contiguous stretch of time.
        let mut time = T0;
        let mut window = 0u64;
        let sightings: Vec<ValidSighting> = events
            .iter()
            .map(|(rpi, rssi, step, new_window)| {
                time += step;
                if *new_window {
                    window += 1;
                    time += 1;
                }
                sighting(*rpi, *rssi, time, Some(window))
            })
            .collect();
        let mut all = Folder::new(25);
        sightings.iter().for_each(|s| all.add(s));
        let expected: Vec<DayChunk> = all.pending_chunks().into_iter().map(|(_, c)| c).collect();

        let mut stored: Vec<DayChunk> = Vec::new();
        let mut f = Folder::new(25);
        for (s, cut) in sightings.iter().zip(&cuts) {
            f.add(s);
            if *cut {
                stored.extend(f.pending_chunks().into_iter().map(|(_, c)| c));
                f.flushed();
            }
        }
        stored.extend(f.pending_chunks().into_iter().map(|(_, c)| c));
        let merged = DayChunk::merge(&stored);
        prop_assert_eq!(merged, DayChunk::merge(&expected));
    }
}
