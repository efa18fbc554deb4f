//! Memory taken by reading key files, counted by this test binary's allocator: streaming
//! and matching a file takes a bounded amount whatever its size, and so does refusing one
//! with too many keys or too large an `export.bin` (nothing proportional to what it
//! declares). One test, so that nothing else allocates meanwhile.

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::io::{Cursor, Write};

use bluezone_protocol::keyfile::{
    KeyFileError, KeyFileLimits, TrustedKeys, proto, read_key_file, stream_key_file,
};
use bluezone_protocol::matching::{MatchConfig, SightingIndex, match_key_file};
use prost::Message;

/// The process's peak resident memory (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How much `f` raised the process's peak resident memory (`None` where the peak cannot be
/// reset: not Linux).
fn peak_added<T>(f: impl FnOnce() -> T) -> (T, Option<usize>) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_rss();
    let out = f();
    let added = match (reset, before, peak_rss()) {
        (true, Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    (out, added)
}

const START: u32 = 2_988_000;

/// A zip of an `export.bin` of `count` valid keys (its length returned too), written key by
/// key so that it never exists whole here, and an `export.sig` that does not verify it.
fn zip_of(count: u32, sig: &[u8]) -> (Vec<u8>, usize) {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    zip.start_file("export.bin", options).unwrap();
    let mut field = b"EK Export v1    ".to_vec();
    proto::TemporaryExposureKeyExport {
        start_timestamp: Some(u64::from(START) * 600),
        end_timestamp: Some(u64::from(START + 144) * 600),
        region: Some("452".into()),
        batch_num: Some(1),
        batch_size: Some(1),
        ..Default::default()
    }
    .encode(&mut field)
    .unwrap();
    let mut len = 0;
    for i in 0..count {
        if i > 0 {
            field.clear();
        }
        let key = proto::TemporaryExposureKey {
            key_data: Some([i.to_le_bytes(), [1; 4], [2; 4], [3; 4]].concat()),
            transmission_risk_level: Some(4),
            rolling_start_interval_number: Some(i32::try_from(START).unwrap()),
            rolling_period: None,
            report_type: Some(1),
            days_since_onset_of_symptoms: Some(0),
        };
        prost::encoding::message::encode(7, &key, &mut field);
        zip.write_all(&field).unwrap();
        len += field.len();
    }
    zip.start_file("export.sig", options).unwrap();
    zip.write_all(sig).unwrap();
    (zip.finish().unwrap().into_inner(), len)
}

#[test]
fn reading_takes_bounded_memory_whatever_the_file_declares() {
    let signer = bluezone_testkit::signer::signer_with("452", "v1", 0x11);
    let trust = TrustedKeys::single(signer.trusted_key());
    let (zip, export_len) = zip_of(600_000, &signer.signature_list(b"another file", 1, 1));
    let limits = KeyFileLimits::default();
    let index = SightingIndex::build(&[]);
    let config = MatchConfig::default();
    let bound = 8 << 20;
    let within = |taken: Option<usize>| taken.is_none_or(|t| t < bound);

    // Streaming and matching the whole file (refused at the end: its signature) takes a
    // few chunks and the window.
    let (result, taken) = peak_added(|| match_key_file(&index, &zip, &trust, &limits, &config));
    assert!(
        matches!(result, Err(KeyFileError::BadSignature(_))),
        "{result:?}"
    );
    assert!(within(taken), "{taken:?} bytes to stream {export_len}");
    eprintln!("{export_len} bytes of export.bin streamed and matched in {taken:?} bytes");
    let (counted, taken) = peak_added(|| {
        let mut count = 0;
        let result = stream_key_file(&zip, &trust, &limits, 16_384, &mut |c| {
            count += c.keys.len()
        });
        assert!(matches!(result, Err(KeyFileError::BadSignature(_))));
        count
    });
    assert_eq!(counted, 600_000);
    assert!(within(taken), "{taken:?} bytes to stream {export_len}");

    // Refusals take no more: too many keys, and an export.bin larger than allowed (found
    // while inflating, or declared by the zip).
    let few = KeyFileLimits {
        max_keys: 1_000,
        ..limits
    };
    let (result, taken) = peak_added(|| match_key_file(&index, &zip, &trust, &few, &config));
    assert_eq!(
        result.unwrap_err(),
        KeyFileError::BadSignature("452-v1".into())
    );
    assert!(within(taken), "{taken:?}");
    let (unsigned, _) = zip_of(1_000, b"");
    let (result, taken) = peak_added(|| match_key_file(&index, &unsigned, &trust, &few, &config));
    assert!(
        matches!(
            result,
            Err(KeyFileError::MalformedSignatureList(_) | KeyFileError::NoSignature)
        ),
        "{result:?}"
    );
    assert!(within(taken), "{taken:?}");
    for max_export_bytes in [export_len - 1, 1_000_000] {
        let small = KeyFileLimits {
            max_export_bytes,
            ..limits
        };
        let (result, taken) = peak_added(|| match_key_file(&index, &zip, &trust, &small, &config));
        assert!(
            matches!(
                result,
                Err(KeyFileError::TooLarge {
                    what: "export.bin",
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(within(taken), "{taken:?}");
    }

    // Reading the whole file into memory, as before, takes more than export.bin itself.
    let (result, taken) = peak_added(|| read_key_file(&zip, &trust, &limits));
    assert!(matches!(result, Err(KeyFileError::BadSignature(_))));
    assert!(
        taken.is_none_or(|t| t > export_len),
        "{taken:?} <= {export_len}"
    );
    eprintln!("{export_len} bytes of export.bin read in memory in {taken:?} bytes");
}
