use proptest::prelude::*;

use super::*;

const DAY: DayNumber = DayNumber::new(20_000);

fn midnight() -> i64 {
    DAY.start_unix_seconds()
}

fn rpi(n: u8) -> RollingProximityIdentifier {
    RollingProximityIdentifier([n; 16])
}

fn instance(scan: u32, typical: i8, max: i8) -> ScanInstance {
    ScanInstance {
        scan,
        typical_rssi: typical,
        max_rssi: max,
    }
}

fn sample() -> DayChunk {
    DayChunk {
        scans: vec![
            Scan {
                start: midnight() + 10,
                end: midnight() + 14,
            },
            Scan {
                start: midnight() + 310,
                end: midnight() + 314,
            },
            Scan {
                start: midnight() + 900,
                end: midnight() + 904,
            },
        ],
        records: vec![
            SightingRecord {
                rpi: rpi(1),
                aem: AssociatedEncryptedMetadata([1, 2, 3, 4]),
                instances: vec![instance(0, -60, -55), instance(2, -70, -70)],
            },
            SightingRecord {
                rpi: rpi(2),
                aem: AssociatedEncryptedMetadata([5, 6, 7, 8]),
                instances: vec![instance(1, -90, -27)],
            },
        ],
    }
}

#[test]
fn round_trips_and_is_compact() {
    let chunk = sample();
    let bytes = chunk.encode(DAY).unwrap();
    assert_eq!(DayChunk::decode(DAY, &bytes), Ok(chunk));
    // version + scan count + scans (10 and 4: 2 bytes; 300 and 4, 590 and 4: 3 bytes each)
    // + record count
    // + record 1: 20 + count 1 + two instances of 2 (deltas 1 and 2 fit the code)
    // + record 2: 20 + count 1 + one instance of 2 (delta 2)
    assert_eq!(bytes.len(), 1 + 1 + 8 + 1 + 25 + 23);
}

#[test]
fn spread_is_clamped_to_63_db() {
    let mut chunk = sample();
    chunk.records[1].instances[0].max_rssi = 10; // 100 dB above typical
    let decoded = DayChunk::decode(DAY, &chunk.encode(DAY).unwrap()).unwrap();
    assert_eq!(decoded.records[1].instances[0].max_rssi, -90 + 63);
}

#[test]
fn encode_refuses_inconsistent_chunks() {
    type Breaker = fn(&mut DayChunk);
    let cases: Vec<(&str, Breaker)> = vec![
        ("scan before midnight", |c| {
            c.scans[0].start = midnight() - 1
        }),
        ("unsorted scans", |c| c.scans.swap(0, 1)),
        ("scan ends before start", |c| {
            c.scans[2].end = c.scans[2].start - 1
        }),
        ("unsorted records", |c| c.records.swap(0, 1)),
        ("no instances", |c| c.records[0].instances.clear()),
        ("instances out of order", |c| {
            c.records[0].instances.swap(0, 1)
        }),
        ("scan out of range", |c| c.records[1].instances[0].scan = 3),
    ];
    for (name, break_it) in cases {
        let mut chunk = sample();
        break_it(&mut chunk);
        assert!(
            matches!(chunk.encode(DAY), Err(ChunkError::Inconsistent(_))),
            "{name}"
        );
    }
}

#[test]
fn decode_refuses_malformed_bytes() {
    let bytes = sample().encode(DAY).unwrap();
    assert_eq!(
        DayChunk::decode(DAY, &[2]),
        Err(ChunkError::UnsupportedVersion(2))
    );
    assert_eq!(DayChunk::decode(DAY, &[]), Err(ChunkError::Truncated));
    for cut in 1..bytes.len() {
        assert!(
            DayChunk::decode(DAY, &bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        DayChunk::decode(DAY, &long),
        Err(ChunkError::TrailingBytes(1))
    );
    let overflow = [
        1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];
    assert_eq!(DayChunk::decode(DAY, &overflow), Err(ChunkError::Overflow));
    assert!(matches!(
        DayChunk::decode(DAY, &[1, 0xff, 0xff, 0x03]),
        Err(ChunkError::TooMany { what: "scans", .. })
    ));
}

#[test]
fn merge_keeps_the_latest_version_of_a_rewritten_scan() {
    let scan_a = Scan {
        start: midnight() + 100,
        end: midnight() + 102,
    };
    let scan_a_longer = Scan {
        end: midnight() + 104,
        ..scan_a
    };
    let scan_b = Scan {
        start: midnight() + 400,
        end: midnight() + 404,
    };
    let first = DayChunk {
        scans: vec![scan_a],
        records: vec![SightingRecord {
            rpi: rpi(1),
            aem: AssociatedEncryptedMetadata([0; 4]),
            instances: vec![instance(0, -50, -48)],
        }],
    };
    // The same scan written again after more was heard in it, plus a new scan.
    let second = DayChunk {
        scans: vec![scan_a_longer, scan_b],
        records: vec![
            SightingRecord {
                rpi: rpi(1),
                aem: AssociatedEncryptedMetadata([0; 4]),
                instances: vec![instance(0, -52, -47), instance(1, -60, -60)],
            },
            SightingRecord {
                rpi: rpi(3),
                aem: AssociatedEncryptedMetadata([3; 4]),
                instances: vec![instance(0, -80, -80)],
            },
        ],
    };
    let merged = DayChunk::merge([&first, &second]);
    assert_eq!(merged.scans, vec![scan_a_longer, scan_b]);
    assert_eq!(merged.records.len(), 2);
    assert_eq!(
        merged.records[0].instances,
        vec![instance(0, -52, -47), instance(1, -60, -60)]
    );
    assert_eq!(merged.records[1].rpi, rpi(3));
    // The order of the inputs does not matter for the winning scan version.
    assert_eq!(DayChunk::merge([&second, &first]).scans, merged.scans);
    assert!(merged.encode(DAY).is_ok());
}

fn arb_chunk() -> impl Strategy<Value = DayChunk> {
    let scans = proptest::collection::btree_set(0i64..86_400 * 2, 1..20).prop_flat_map(|starts| {
        let n = starts.len();
        (Just(starts), proptest::collection::vec(0i64..30, n))
    });
    (
        scans,
        proptest::collection::btree_map(
            any::<[u8; 16]>(),
            (
                any::<[u8; 4]>(),
                proptest::collection::btree_map(0usize..20, (-127i8..=20, 0i8..=63), 1..6),
            ),
            0..12,
        ),
    )
        .prop_map(|((starts, durations), records)| {
            let scans: Vec<Scan> = starts
                .iter()
                .zip(durations)
                .map(|(s, d)| Scan {
                    start: midnight() + s,
                    end: midnight() + s + d,
                })
                .collect();
            let n = scans.len();
            let records = records
                .into_iter()
                .filter_map(|(rpi, (aem, instances))| {
                    let instances: Vec<ScanInstance> = instances
                        .into_iter()
                        .filter(|(scan, _)| *scan < n)
                        .map(|(scan, (typical, spread))| ScanInstance {
                            scan: u32::try_from(scan).unwrap(),
                            typical_rssi: typical,
                            max_rssi: typical.saturating_add(spread),
                        })
                        .collect();
                    (!instances.is_empty()).then_some(SightingRecord {
                        rpi: RollingProximityIdentifier(rpi),
                        aem: AssociatedEncryptedMetadata(aem),
                        instances,
                    })
                })
                .collect();
            DayChunk { scans, records }
        })
}

proptest! {
    #[test]
    fn any_valid_chunk_round_trips(chunk in arb_chunk()) {
        let bytes = chunk.encode(DAY).unwrap();
        prop_assert_eq!(DayChunk::decode(DAY, &bytes), Ok(chunk));
    }

    #[test]
    fn merge_is_idempotent_and_encodable(a in arb_chunk(), b in arb_chunk()) {
        let once = DayChunk::merge([&a, &b]);
        prop_assert_eq!(DayChunk::merge([&once, &once]), once.clone());
        prop_assert_eq!(DayChunk::merge([&once]), once.clone());
        let bytes = once.encode(DAY).unwrap();
        prop_assert_eq!(DayChunk::decode(DAY, &bytes), Ok(once));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = DayChunk::decode(DAY, &bytes);
    }

    #[test]
    fn decoded_chunks_reencode_identically(chunk in arb_chunk(), flip in any::<(usize, u8)>()) {
        // Whatever a damaged chunk decodes to is itself a valid chunk.
        let mut bytes = chunk.encode(DAY).unwrap();
        let i = flip.0 % bytes.len();
        bytes[i] ^= flip.1;
        if let Ok(decoded) = DayChunk::decode(DAY, &bytes) {
            let again = decoded.encode(DAY).unwrap();
            prop_assert_eq!(DayChunk::decode(DAY, &again), Ok(decoded));
        }
    }
}
