//! Key files against published fixtures (see `tests/vectors/key-files.md`): a real GAEN
//! export is accepted, any change to it is refused, and our encoder reproduces the
//! reference server's `export.bin` byte for byte.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::io::{Cursor, Read, Write};

use bluezone_protocol::keyfile::{
    DiagnosisKey, ExportInfo, KeyFileError, KeyFileLimits, KeyFileSigner, ReportType, TrustedKey,
    TrustedKeys, encode_export, parse_export, proto, read_key_file, write_key_file,
};
use bluezone_protocol::{IntervalNumber, RollingPeriod};
use p256::ecdsa::VerifyingKey;

const SAMPLE: &[u8] = include_bytes!("vectors/gaen-internals-sample_diagnosis_key_file.zip");
const SAMPLE_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w==";
const OTHER_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUczyMAkfSeoU77Nmcb1G7t7xyGCAhQqMOIVDFLFas3J+elP7CiotovigCLWj706F07j1EPL27ThRzZl7Ha9uOA==";

/// exposure-notifications-server examples/export/testExport-2-records-1-of-1.zip.
const SRV_EXPORT_BIN: &str = "454b204578706f72742076312020202009f0e8c75e0000000011703ac95e000000001a0255532001280132211a01312207736f6d655f69642a13312e322e3834302e31303034352e342e332e323a1b0a10172fc480e598490c34177604339b1543100818fcdea10120013a1b0a102b63053ac483238de176169e861f3dcd1001188adea1012072";
const SRV_EXPORT_SIG: &str = "0a710a211a01312207736f6d655f69642a13312e322e3834302e31303034352e342e332e3210011801224830460221009eb6e9d5ad6a688fa970b0e67c0886345eefdd1819592edd84604a1ccf4d0247022100906d7fcdf211c710f84a2a7917000573bef0ef27a4974129de2876ac6819f66a";
const SRV_X: &str = "9a5e7d8ad79cf6acf05688eb78b5dd3cd46c516cdf60773570abc8222ebf1f9e";
const SRV_Y: &str = "80252fe46446109df0e9c6b8321a17409bea4d3761802775dd9d06754a4e1a9a";

fn sample_trust() -> TrustedKeys {
    TrustedKeys::single(TrustedKey::from_text("310", "v1", SAMPLE_KEY).unwrap())
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn unzip(zip: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut read = |name: &str| {
        let mut out = Vec::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    (read("export.bin"), read("export.sig"))
}

#[test]
fn the_published_sample_file_verifies() {
    let file = read_key_file(SAMPLE, &sample_trust(), &KeyFileLimits::default()).unwrap();
    assert_eq!(file.keys.len(), 140);
    assert!(file.revised_keys.is_empty());
    assert_eq!(file.signer, "310-v1");
    assert_eq!(file.info.region, "US");
    assert_eq!(file.info.start_timestamp, 1_593_633_600);
    assert_eq!(file.info.end_timestamp, 1_593_633_900);
    assert_eq!(
        hex::encode(file.sha256),
        "1df2d78a603e2f85ca178f2fbd339a587f699bffd9d46a79f61b0448e79fe9f7"
    );
    let starts: Vec<u32> = file.keys.iter().map(|k| k.rolling_start.get()).collect();
    assert_eq!(*starts.iter().min().unwrap(), 2_653_920);
    assert_eq!(*starts.iter().max().unwrap(), 2_655_792);
    assert!(
        file.keys
            .iter()
            .all(|k| k.rolling_period == RollingPeriod::FULL_DAY
                && (3..=8).contains(&k.transmission_risk)
                && k.report_type == ReportType::Unknown)
    );
}

#[test]
fn the_sample_file_is_refused_by_another_key() {
    let other = TrustedKeys::single(TrustedKey::from_text("310", "v1", OTHER_KEY).unwrap());
    assert_eq!(
        read_key_file(SAMPLE, &other, &KeyFileLimits::default()),
        Err(KeyFileError::BadSignature("310-v1".into()))
    );
    let unnamed =
        TrustedKeys::single(TrustedKey::from_text("ExampleServer", "v1", SAMPLE_KEY).unwrap());
    assert!(matches!(
        read_key_file(SAMPLE, &unnamed, &KeyFileLimits::default()),
        Err(KeyFileError::UnknownSigner(s)) if s == "310-v1"
    ));
}

/// Any changed byte of export.bin or of the signature is refused.
#[test]
fn every_changed_byte_is_refused() {
    let (export, sig) = unzip(SAMPLE);
    let trust = sample_trust();
    let limits = KeyFileLimits::default();
    assert!(
        read_key_file(
            &zip_of(&[("export.bin", &export), ("export.sig", &sig)]),
            &trust,
            &limits
        )
        .is_ok()
    );
    // Every single bit flip in either entry is refused.
    let flipped = |bytes: &[u8], i: usize| {
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x01;
        bad
    };
    for i in 0..export.len() {
        let zip = zip_of(&[("export.bin", &flipped(&export, i)), ("export.sig", &sig)]);
        let refused = read_key_file(&zip, &trust, &limits).is_err();
        assert!(refused, "export.bin byte {i}");
    }
    for i in 0..sig.len() {
        let zip = zip_of(&[("export.bin", &export), ("export.sig", &flipped(&sig, i))]);
        let refused = read_key_file(&zip, &trust, &limits).is_err();
        assert!(refused, "export.sig byte {i}");
    }
}

#[test]
fn container_errors_are_typed() {
    let (export, sig) = unzip(SAMPLE);
    let trust = sample_trust();
    let limits = KeyFileLimits::default();
    let read = |zip: &[u8]| read_key_file(zip, &trust, &limits);
    assert!(matches!(
        read(b"not a zip"),
        Err(KeyFileError::MalformedZip(_))
    ));
    assert!(matches!(read(&[]), Err(KeyFileError::MalformedZip(_))));
    assert_eq!(
        read(&zip_of(&[("export.bin", &export)])),
        Err(KeyFileError::MissingEntry("export.sig"))
    );
    assert_eq!(
        read(&zip_of(&[
            ("export.bin", &export),
            ("export.sig", &sig),
            ("../evil", b"x")
        ])),
        Err(KeyFileError::UnexpectedEntry("../evil".into()))
    );
    let limited = |change: fn(&mut KeyFileLimits)| {
        let mut limits = KeyFileLimits::default();
        change(&mut limits);
        read_key_file(SAMPLE, &trust, &limits)
    };
    assert!(matches!(
        limited(|l| l.max_export_bytes = 1000),
        Err(KeyFileError::TooLarge {
            what: "export.bin",
            ..
        })
    ));
    assert!(matches!(
        limited(|l| l.max_zip_bytes = 100),
        Err(KeyFileError::TooLarge {
            what: "the zip",
            ..
        })
    ));
    assert_eq!(
        limited(|l| l.max_keys = 139),
        Err(KeyFileError::TooManyKeys(139))
    );
    // A zip bomb: a megabyte of zeros, compressed, under the name export.sig.
    let mut bomb = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    bomb.start_file("export.bin", deflate).unwrap();
    bomb.write_all(&export).unwrap();
    bomb.start_file("export.sig", deflate).unwrap();
    bomb.write_all(&vec![0u8; 1 << 20]).unwrap();
    let bomb = bomb.finish().unwrap().into_inner();
    assert!(bomb.len() < 10_000);
    assert!(matches!(
        read(&bomb),
        Err(KeyFileError::TooLarge {
            what: "export.sig",
            ..
        })
    ));
    // No signature at all.
    assert_eq!(
        read(&zip_of(&[("export.bin", &export), ("export.sig", &[])])),
        Err(KeyFileError::NoSignature)
    );
    assert!(matches!(
        read(&zip_of(&[
            ("export.bin", &export),
            ("export.sig", &[0xff, 0xff])
        ])),
        Err(KeyFileError::MalformedSignatureList(_))
    ));
}

fn srv_key(start: u32, period: u32, tr: u8, key: &str) -> DiagnosisKey {
    DiagnosisKey {
        key_data: hex::decode(key).unwrap().try_into().unwrap(),
        rolling_start: IntervalNumber::new(start),
        rolling_period: RollingPeriod::new(period).unwrap(),
        transmission_risk: tr,
        report_type: ReportType::Unknown,
        days_since_onset: None,
    }
}

/// Our encoder writes the reference server's export.bin byte for byte, and its signature
/// verifies with the server's published example key.
#[test]
fn reference_server_export_is_reproduced_byte_for_byte() {
    let expected = hex::decode(SRV_EXPORT_BIN).unwrap();
    let info = ExportInfo {
        start_timestamp: 1_590_159_600,
        end_timestamp: 1_590_246_000,
        region: "US".into(),
        batch_num: 1,
        batch_size: 1,
    };
    let keys = [
        srv_key(2_649_980, 1, 8, "172fc480e598490c34177604339b1543"),
        srv_key(2_649_866, 114, 1, "2b63053ac483238de176169e861f3dcd"),
    ];
    let signer = proto::SignatureInfo {
        verification_key_version: Some("1".into()),
        verification_key_id: Some("some_id".into()),
        signature_algorithm: Some("1.2.840.10045.4.3.2".into()),
    };
    assert_eq!(
        hex::encode(encode_export(&info, &keys, &[], &[signer])),
        SRV_EXPORT_BIN
    );

    let (parsed_info, parsed, revised) =
        parse_export(&expected, &KeyFileLimits::default()).unwrap();
    assert_eq!(parsed_info, info);
    assert_eq!(parsed, keys);
    assert!(revised.is_empty());

    let mut sec1 = vec![4u8];
    sec1.extend(hex::decode(SRV_X).unwrap());
    sec1.extend(hex::decode(SRV_Y).unwrap());
    let trust = TrustedKeys::single(TrustedKey {
        key_id: "some_id".into(),
        version: "1".into(),
        key: VerifyingKey::from_sec1_bytes(&sec1).unwrap(),
    });
    let zip = zip_of(&[
        ("export.bin", &expected),
        ("export.sig", &hex::decode(SRV_EXPORT_SIG).unwrap()),
    ]);
    let file = read_key_file(&zip, &trust, &KeyFileLimits::default()).unwrap();
    assert_eq!(file.keys, keys);
}

fn test_signer() -> KeyFileSigner {
    bluezone_testkit::signer::signer_with("452", "v1", 0x11)
}

#[test]
fn written_files_read_back_and_sort_their_keys() {
    let signer = test_signer();
    let info = ExportInfo {
        start_timestamp: 1_793_400_000,
        end_timestamp: 1_793_403_600,
        region: "452".into(),
        batch_num: 1,
        batch_size: 1,
    };
    let keys: Vec<DiagnosisKey> = (0..50u8)
        .map(|i| DiagnosisKey {
            key_data: [255 - i; 16],
            rolling_start: IntervalNumber::new(2_988_000 - u32::from(i) * 144),
            rolling_period: RollingPeriod::new(if i == 3 { 60 } else { 144 }).unwrap(),
            transmission_risk: i % 9,
            report_type: ReportType::ConfirmedTest,
            days_since_onset: Some(i8::try_from(i % 29).unwrap() - 14),
        })
        .collect();
    let zip = write_key_file(&info, &keys, &signer).unwrap();
    let trust = TrustedKeys::single(signer.trusted_key());
    let file = read_key_file(&zip, &trust, &KeyFileLimits::default()).unwrap();
    assert_eq!(file.info, info);
    assert_eq!(file.signer, "452-v1");
    let mut expected = keys.clone();
    expected.sort_by_key(|k| k.key_data);
    assert_eq!(file.keys, expected);
    // Deterministic: the same input gives the same bytes.
    assert_eq!(write_key_file(&info, &keys, &signer).unwrap(), zip);
    assert!(format!("{signer:?}").contains("redacted"));
}

#[test]
fn impossible_keys_and_headers_are_refused() {
    let signer = test_signer();
    let trust = TrustedKeys::single(signer.trusted_key());
    let info = ExportInfo {
        start_timestamp: 1_793_400_000,
        end_timestamp: 1_793_403_600,
        region: "452".into(),
        batch_num: 1,
        batch_size: 1,
    };
    let good = DiagnosisKey {
        key_data: [1; 16],
        rolling_start: IntervalNumber::new(2_988_000),
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: 0,
        report_type: ReportType::ConfirmedTest,
        days_since_onset: None,
    };
    let read = |export: Vec<u8>| {
        // Sign whatever we built, so only the content checks can refuse it.
        let sig = signer.signature_list(&export, 1, 1);
        read_key_file(
            &zip_of(&[("export.bin", &export), ("export.sig", &sig)]),
            &trust,
            &KeyFileLimits::default(),
        )
    };
    assert!(read(encode_export(&info, &[good], &[], &[])).is_ok());
    let with_key = |k: proto::TemporaryExposureKey| {
        use prost::Message;
        let mut export = encode_export(&info, &[], &[], &[]);
        // Append field 7 (keys) holding the raw key message.
        let body = k.encode_to_vec();
        export.push(0x3a);
        prost::encoding::encode_varint(body.len() as u64, &mut export);
        export.extend(body);
        read(export)
    };
    let base = proto::TemporaryExposureKey {
        key_data: Some(vec![1; 16]),
        transmission_risk_level: Some(1),
        rolling_start_interval_number: Some(2_988_000),
        rolling_period: Some(144),
        report_type: Some(1),
        days_since_onset_of_symptoms: Some(0),
    };
    assert!(with_key(base.clone()).is_ok());
    let cases: Vec<(proto::TemporaryExposureKey, &str)> = vec![
        (
            proto::TemporaryExposureKey {
                key_data: Some(vec![1; 15]),
                ..base.clone()
            },
            "key data is not 16 bytes",
        ),
        (
            proto::TemporaryExposureKey {
                key_data: None,
                ..base.clone()
            },
            "key data is not 16 bytes",
        ),
        (
            proto::TemporaryExposureKey {
                rolling_start_interval_number: None,
                ..base.clone()
            },
            "rolling start before 2020",
        ),
        (
            proto::TemporaryExposureKey {
                rolling_start_interval_number: Some(-5),
                ..base.clone()
            },
            "rolling start before 2020",
        ),
        (
            proto::TemporaryExposureKey {
                rolling_start_interval_number: Some(2_990_000),
                ..base.clone()
            },
            "rolling start after the file's end",
        ),
        (
            proto::TemporaryExposureKey {
                rolling_period: Some(0),
                ..base.clone()
            },
            "rolling period outside 1..=144",
        ),
        (
            proto::TemporaryExposureKey {
                rolling_period: Some(145),
                ..base.clone()
            },
            "rolling period outside 1..=144",
        ),
        (
            proto::TemporaryExposureKey {
                transmission_risk_level: Some(9),
                ..base.clone()
            },
            "transmission risk outside 0..=8",
        ),
        (
            proto::TemporaryExposureKey {
                report_type: Some(6),
                ..base.clone()
            },
            "unknown report type",
        ),
        (
            proto::TemporaryExposureKey {
                days_since_onset_of_symptoms: Some(15),
                ..base.clone()
            },
            "days since onset outside -14..=14",
        ),
    ];
    for (key, reason) in cases {
        assert_eq!(
            with_key(key),
            Err(KeyFileError::InvalidKey { index: 0, reason }),
            "{reason}"
        );
    }
    let mut bad_header = encode_export(&info, &[good], &[], &[]);
    bad_header[0] = b'X';
    assert_eq!(read(bad_header), Err(KeyFileError::BadHeader));
    let backwards = ExportInfo {
        start_timestamp: info.end_timestamp + 1,
        ..info.clone()
    };
    assert!(matches!(
        read(encode_export(&backwards, &[good], &[], &[])),
        Err(KeyFileError::InvalidHeader(_))
    ));
    let batch = ExportInfo {
        batch_num: 3,
        batch_size: 2,
        ..info.clone()
    };
    assert!(matches!(
        read(encode_export(&batch, &[good], &[], &[])),
        Err(KeyFileError::InvalidHeader(_))
    ));
    let mut truncated = encode_export(&info, &[good], &[], &[]);
    truncated.truncate(truncated.len() - 3);
    assert!(matches!(
        read(truncated),
        Err(KeyFileError::MalformedExport(_))
    ));
}

/// Any changed byte anywhere in the zip is either refused, or leaves `export.bin` exactly as
/// signed (e.g. a byte of a zip header's timestamp): nothing unsigned is ever trusted.
#[test]
fn every_changed_zip_byte_is_refused_or_changes_nothing_signed() {
    let trust = sample_trust();
    let limits = KeyFileLimits::default();
    let original = read_key_file(SAMPLE, &trust, &limits).unwrap();
    let mut refused = 0;
    for i in 0..SAMPLE.len() {
        let mut bad = SAMPLE.to_vec();
        bad[i] ^= 0x04;
        match read_key_file(&bad, &trust, &limits) {
            Err(_) => refused += 1,
            Ok(file) => assert_eq!(file, original, "byte {i} changed what was accepted"),
        }
    }
    assert!(
        refused > SAMPLE.len() * 9 / 10,
        "{refused} of {}",
        SAMPLE.len()
    );
}
