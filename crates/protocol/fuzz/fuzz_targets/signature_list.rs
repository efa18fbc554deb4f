//! `export.sig` bytes into signature verification over a fixed `export.bin`: never a panic,
//! and no signature list verifies except with a real signature by the trusted key.

#![no_main]

use bluezone_protocol::keyfile::verify_signatures;
use bluezone_protocol_fuzz::SAMPLE_TRUSTED;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // An export.bin the trusted key never signed: nothing may verify over it.
    let export = b"EK Export v1    \x11\x00\x00\x00\x00\x00\x00\x00\x00";
    assert!(verify_signatures(export, data, &SAMPLE_TRUSTED).is_err());
});
