//! Whole key files (zip bytes) into the reader, with the published sample's key trusted:
//! never a panic, and nothing is accepted that the trusted key did not sign.

#![no_main]

use bluezone_protocol::keyfile::{KeyFileLimits, read_key_file};
use bluezone_protocol_fuzz::SAMPLE_TRUSTED;
use libfuzzer_sys::fuzz_target;

const SAMPLE_SHA256: &str = "1df2d78a603e2f85ca178f2fbd339a587f699bffd9d46a79f61b0448e79fe9f7";

fuzz_target!(|data: &[u8]| {
    let limits = KeyFileLimits {
        max_zip_bytes: 1 << 20,
        max_export_bytes: 1 << 20,
        ..KeyFileLimits::default()
    };
    if let Ok(file) = read_key_file(data, &SAMPLE_TRUSTED, &limits) {
        // Only the signed sample itself can verify: anything else would be a forgery.
        let hash: String = file.sha256.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, SAMPLE_SHA256);
    }
});
