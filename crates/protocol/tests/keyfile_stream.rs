//! The streaming key-file reader against the in-memory one: the same keys, header, hash and
//! signer, or the same error, on random files (header fields before, between or after the
//! keys, revised keys mixed in, invalid keys, bad signatures, `export.sig` first or last);
//! the same matches as reading then matching; every changed byte of the published sample
//! refused alike.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::io::{Cursor, Write};

use bluezone_protocol::keyfile::{
    KeyFileError, KeyFileLimits, KeyFileSigner, MAX_FIELD_BYTES, TrustedKey, TrustedKeys,
    VerifiedKeyFile, proto, read_key_file, stream_key_file,
};
use bluezone_protocol::matching::{MatchConfig, SightingIndex, match_key_file, match_keys};
use bluezone_protocol::sightings::{DayChunk, Scan, ScanInstance, SightingRecord};
use bluezone_protocol::{
    AssociatedEncryptedMetadata, DayNumber, IntervalNumber, Metadata, TemporaryExposureKey,
};
use proptest::prelude::*;
use prost::Message;

const SAMPLE: &[u8] = include_bytes!("vectors/gaen-internals-sample_diagnosis_key_file.zip");
const SAMPLE_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w==";

/// A midnight-aligned interval in 2026; files end a day later.
const START: u32 = 2_988_000;
const END_TIMESTAMP: u64 = (START as u64 + 144) * 600;

fn signer() -> KeyFileSigner {
    bluezone_testkit::signer::signer_with("452", "v1", 0x11)
}

/// The streaming reader's result in the in-memory reader's shape (chunks collected).
fn streamed(
    zip: &[u8],
    trust: &TrustedKeys,
    limits: &KeyFileLimits,
    keys_per_chunk: usize,
) -> Result<VerifiedKeyFile, KeyFileError> {
    let (mut keys, mut revised_keys) = (Vec::new(), Vec::new());
    let mut next_index = 0;
    let file = stream_key_file(zip, trust, limits, keys_per_chunk, &mut |chunk| {
        assert!(!chunk.keys.is_empty() && chunk.keys.len() <= keys_per_chunk.max(1));
        assert!(chunk.first_index >= next_index);
        next_index = chunk.first_index + chunk.keys.len();
        if chunk.revised {
            revised_keys.extend(chunk.keys);
        } else {
            keys.extend(chunk.keys);
        }
    })?;
    assert_eq!(
        (file.keys, file.revised_keys),
        (keys.len(), revised_keys.len())
    );
    Ok(VerifiedKeyFile {
        info: file.info,
        keys,
        revised_keys,
        sha256: file.sha256,
        signer: file.signer,
    })
}

fn zip_of(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    for (name, bytes) in entries {
        zip.start_file(
            *name,
            zip::write::SimpleFileOptions::default().compression_method(method),
        )
        .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A key message: mostly valid, sometimes not.
fn key_strategy() -> impl Strategy<Value = proto::TemporaryExposureKey> {
    let valid =
        (any::<[u8; 16]>(), 0u32..16, 0i32..=8, 1i32..=5).prop_map(|(data, day, tr, report)| {
            proto::TemporaryExposureKey {
                key_data: Some(data.to_vec()),
                transmission_risk_level: Some(tr),
                rolling_start_interval_number: Some(i32::try_from(START - day * 144).unwrap()),
                rolling_period: None,
                report_type: Some(report),
                days_since_onset_of_symptoms: Some(0),
            }
        });
    let odd = (
        proptest::collection::vec(any::<u8>(), 15..=17),
        proptest::option::of(-1i32..10),
        proptest::option::of(prop_oneof![
            Just(i32::try_from(START).unwrap()),
            Just(i32::try_from(START + 300).unwrap()),
            Just(i32::try_from(START + 145).unwrap()),
            Just(0),
        ]),
        proptest::option::of(-1i32..150),
        proptest::option::of(-1i32..7),
        proptest::option::of(-16i32..16),
    )
        .prop_map(
            |(data, tr, start, period, report, onset)| proto::TemporaryExposureKey {
                key_data: Some(data),
                transmission_risk_level: tr,
                rolling_start_interval_number: start,
                rolling_period: period,
                report_type: report,
                days_since_onset_of_symptoms: onset,
            },
        );
    prop_oneof![12 => valid, 1 => odd]
}

/// One top-level piece of `export.bin` (pieces concatenate: protobuf merges them).
#[derive(Debug, Clone)]
enum Piece {
    Header {
        end_offset: Option<i64>,
        batch: (i32, i32),
    },
    Keys(Vec<proto::TemporaryExposureKey>),
    Revised(Vec<proto::TemporaryExposureKey>),
    /// An unknown field 20, skipped by both readers.
    Unknown(usize),
}

fn piece_strategy() -> impl Strategy<Value = Piece> {
    prop_oneof![
        1 => (proptest::option::of(prop_oneof![4 => Just(0i64), 1 => -200_000i64..200_000]), prop_oneof![8 => Just((1, 1)), 1 => Just((2, 3))])
            .prop_map(|(end_offset, batch)| Piece::Header { end_offset, batch }),
        4 => proptest::collection::vec(key_strategy(), 0..12).prop_map(Piece::Keys),
        1 => proptest::collection::vec(key_strategy(), 0..4).prop_map(Piece::Revised),
        1 => (0usize..300).prop_map(Piece::Unknown),
    ]
}

fn export_of(pieces: &[Piece]) -> Vec<u8> {
    let mut out = b"EK Export v1    ".to_vec();
    for piece in pieces {
        let mut message = proto::TemporaryExposureKeyExport::default();
        match piece {
            Piece::Header { end_offset, batch } => {
                message.start_timestamp = Some(END_TIMESTAMP - 86_400);
                message.end_timestamp =
                    end_offset.map(|o| END_TIMESTAMP.checked_add_signed(o).unwrap());
                message.region = Some("452".into());
                message.batch_num = Some(batch.0);
                message.batch_size = Some(batch.1);
            }
            Piece::Keys(keys) => message.keys.clone_from(keys),
            Piece::Revised(keys) => message.revised_keys.clone_from(keys),
            Piece::Unknown(len) => {
                prost::encoding::bytes::encode(20, &vec![7u8; *len], &mut out);
                continue;
            }
        }
        message.encode(&mut out).unwrap();
    }
    out
}

/// A zip of `export` signed for batch 1 of 1 (or with a broken signature), `export.sig`
/// first or last.
fn signed_zip(export: &[u8], sig_first: bool, corrupt: bool, deflate: bool) -> Vec<u8> {
    let mut sig = signer().signature_list(export, 1, 1);
    if corrupt {
        let mut export = export.to_vec();
        export.push(0);
        sig = signer().signature_list(&export, 1, 1);
    }
    if sig_first {
        zip_of(&[("export.sig", &sig), ("export.bin", export)], deflate)
    } else {
        zip_of(&[("export.bin", export), ("export.sig", &sig)], deflate)
    }
}

fn trust() -> TrustedKeys {
    TrustedKeys::single(signer().trusted_key())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Streaming gives what the in-memory reader gives, result or error.
    #[test]
    fn streaming_reads_what_the_in_memory_reader_reads(
        pieces in proptest::collection::vec(piece_strategy(), 0..8),
        sig_first in any::<bool>(),
        corrupt in prop_oneof![9 => Just(false), 1 => Just(true)],
        deflate in any::<bool>(),
        keys_per_chunk in 1usize..6,
        max_keys in prop_oneof![6 => Just(3_000_000usize), 1 => 0usize..20],
    ) {
        let export = export_of(&pieces);
        let zip = signed_zip(&export, sig_first, corrupt, deflate);
        let limits = KeyFileLimits { max_keys, ..KeyFileLimits::default() };
        let expected = read_key_file(&zip, &trust(), &limits);
        let got = streamed(&zip, &trust(), &limits, keys_per_chunk);
        prop_assert_eq!(got, expected);
    }

    /// Matching while streaming finds what matching the read keys finds.
    #[test]
    fn streamed_matches_are_the_in_memory_matches(
        heard in proptest::collection::vec((0usize..40, 0u32..144, -20i64..20), 0..60),
        extra_keys in proptest::collection::vec(any::<[u8; 16]>(), 0..40),
        keys_per_task in 1usize..8,
        corrupt in prop_oneof![4 => Just(false), 1 => Just(true)],
    ) {
        let teks: Vec<[u8; 16]> = (0..40u8).map(|i| [i.wrapping_mul(37) ^ 0x5a; 16]).collect();
        let index = SightingIndex::build(&history(&teks, &heard));
        let mut keys: Vec<proto::TemporaryExposureKey> = teks
            .iter()
            .chain(&extra_keys)
            .map(|k| proto::TemporaryExposureKey {
                key_data: Some(k.to_vec()),
                transmission_risk_level: Some(4),
                rolling_start_interval_number: Some(i32::try_from(START).unwrap()),
                rolling_period: None,
                report_type: Some(1),
                days_since_onset_of_symptoms: Some(0),
            })
            .collect();
        keys.sort_by(|a, b| a.key_data.cmp(&b.key_data));
        let export = export_of(&[
            Piece::Header { end_offset: Some(0), batch: (1, 1) },
            Piece::Keys(keys),
        ]);
        let zip = signed_zip(&export, false, corrupt, true);
        let config = MatchConfig { keys_per_task, ..MatchConfig::default() };
        let limits = KeyFileLimits::default();
        let expected = read_key_file(&zip, &trust(), &limits)
            .map(|f| (f.sha256, match_keys(&index, &f.keys, &config)));
        let got = match_key_file(&index, &zip, &trust(), &limits, &config)
            .map(|m| (m.file.sha256, m.matches));
        prop_assert_eq!(got, expected);
    }
}

/// Sightings of the RPIs of `teks` (by position) at their interval offset and a time shift
/// in minutes, all on START's day.
fn history(teks: &[[u8; 16]], heard: &[(usize, u32, i64)]) -> Vec<(DayNumber, DayChunk)> {
    let day = DayNumber::new(START / 144);
    let mut chunks = Vec::new();
    for &(k, offset, shift) in heard {
        let keys = TemporaryExposureKey::from_bytes(teks[k]).derive_keys();
        let rpi = keys.rpik.identifier(IntervalNumber::new(START + offset));
        let aem: AssociatedEncryptedMetadata = keys
            .aemk
            .encrypt(&rpi, Metadata::v1_0(-10).to_bytes().unwrap());
        let time = (i64::from(START + offset) * 600 + shift * 60).max(i64::from(START) * 600);
        chunks.push(DayChunk {
            scans: vec![Scan {
                start: time,
                end: time + 4,
            }],
            records: vec![SightingRecord {
                rpi,
                aem,
                instances: vec![ScanInstance {
                    scan: 0,
                    typical_rssi: -60,
                    max_rssi: -55,
                }],
            }],
        });
    }
    vec![(day, DayChunk::merge(&chunks))]
}

/// A file of `count` valid keys, header first (as servers write them).
fn big_export(count: u32) -> Vec<u8> {
    let keys = (0..count)
        .map(|i| proto::TemporaryExposureKey {
            key_data: Some([i.to_le_bytes(), [1; 4], [2; 4], [3; 4]].concat()),
            transmission_risk_level: Some(4),
            rolling_start_interval_number: Some(i32::try_from(START - (i % 14) * 144).unwrap()),
            rolling_period: None,
            report_type: Some(1),
            days_since_onset_of_symptoms: Some(0),
        })
        .collect();
    export_of(&[
        Piece::Header {
            end_offset: Some(0),
            batch: (1, 1),
        },
        Piece::Keys(keys),
    ])
}

/// Files larger than the window (refills, fields across window ends), with a large unknown
/// field in the middle, agree too; chunks are full but for the last.
#[test]
fn large_files_stream_across_windows() {
    let mut export = big_export(40_000);
    prost::encoding::bytes::encode(20, &vec![9u8; 300_000], &mut export);
    export.extend_from_slice(&big_export(1_000)[16..]);
    for sig_first in [false, true] {
        let zip = signed_zip(&export, sig_first, false, true);
        let limits = KeyFileLimits::default();
        let expected = read_key_file(&zip, &trust(), &limits).unwrap();
        assert_eq!(expected.keys.len(), 41_000);
        assert_eq!(streamed(&zip, &trust(), &limits, 16_384).unwrap(), expected);
        assert_eq!(streamed(&zip, &trust(), &limits, 7).unwrap(), expected);
    }
}

/// The one difference: a header field too large to hold is refused, not read.
#[test]
fn a_header_field_beyond_the_field_limit_is_refused() {
    let mut export = big_export(10);
    let region = "x".repeat(MAX_FIELD_BYTES + 1);
    proto::TemporaryExposureKeyExport {
        region: Some(region),
        ..Default::default()
    }
    .encode(&mut export)
    .unwrap();
    export.extend_from_slice(&big_export(40_000)[16..]);
    let zip = signed_zip(&export, false, false, true);
    let limits = KeyFileLimits::default();
    assert!(read_key_file(&zip, &trust(), &limits).is_ok());
    assert!(matches!(
        streamed(&zip, &trust(), &limits, 100),
        Err(KeyFileError::TooLarge {
            what: "a field of export.bin",
            ..
        })
    ));
}

/// The published sample, and every one-byte change to it: the same result both ways.
#[test]
fn every_changed_sample_byte_is_judged_alike() {
    let trust = TrustedKeys::single(TrustedKey::from_text("310", "v1", SAMPLE_KEY).unwrap());
    let limits = KeyFileLimits::default();
    let file = streamed(SAMPLE, &trust, &limits, 16).unwrap();
    assert_eq!(file.keys.len(), 140);
    assert_eq!(Ok(file), read_key_file(SAMPLE, &trust, &limits));
    let mut zip = SAMPLE.to_vec();
    for i in (0..zip.len()).step_by(3) {
        zip[i] ^= 0x41;
        assert_eq!(
            streamed(&zip, &trust, &limits, 16),
            read_key_file(&zip, &trust, &limits),
            "byte {i}"
        );
        zip[i] ^= 0x41;
    }
}

/// Truncated zips, and `export.bin` beyond the limits (declared or actual), are refused with
/// typed errors.
#[test]
fn truncated_and_oversized_files_are_refused() {
    let export = big_export(20_000);
    let zip = signed_zip(&export, false, false, true);
    let limits = KeyFileLimits::default();
    for cut in [
        0,
        10,
        zip.len() / 3,
        zip.len() / 2,
        zip.len() - 30,
        zip.len() - 1,
    ] {
        let result = streamed(&zip[..cut], &trust(), &limits, 1000);
        assert!(
            matches!(result, Err(KeyFileError::MalformedZip(_))),
            "cut at {cut}: {result:?}"
        );
    }
    let small = KeyFileLimits {
        max_zip_bytes: zip.len() - 1,
        ..limits
    };
    assert!(matches!(
        streamed(&zip, &trust(), &small, 1000),
        Err(KeyFileError::TooLarge {
            what: "the zip",
            ..
        })
    ));
    let small = KeyFileLimits {
        max_export_bytes: export.len() - 1,
        ..limits
    };
    assert!(matches!(
        streamed(&zip, &trust(), &small, 1000),
        Err(KeyFileError::TooLarge {
            what: "export.bin",
            ..
        })
    ));
    let few = KeyFileLimits {
        max_keys: 19_999,
        ..limits
    };
    assert_eq!(
        streamed(&zip, &trust(), &few, 1000),
        Err(KeyFileError::TooManyKeys(19_999))
    );
}
