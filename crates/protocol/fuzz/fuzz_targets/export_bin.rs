//! `export.bin` bytes (header + protobuf) into the parser: never a panic, and whatever it
//! accepts re-encodes into an `export.bin` that parses to the same keys.

#![no_main]

use bluezone_protocol::keyfile::{KeyFileLimits, encode_export, parse_export};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut export = b"EK Export v1    ".to_vec();
    export.extend_from_slice(data);
    let limits = KeyFileLimits::default();
    if let Ok((info, keys, revised)) = parse_export(&export, &limits) {
        let again = encode_export(&info, &keys, &revised, &[]);
        let (info2, keys2, revised2) = parse_export(&again, &limits).expect("our encoding parses");
        assert_eq!((info, keys, revised), (info2, keys2, revised2));
    }
});
