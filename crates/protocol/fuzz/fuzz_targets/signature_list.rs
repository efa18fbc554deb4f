//! `export.sig` bytes into signature verification over a fixed `export.bin`: never a panic,
//! and no signature list verifies except with a real signature by the trusted key.

#![no_main]

use std::sync::LazyLock;

use bluezone_protocol::keyfile::{TrustedKey, TrustedKeys, verify_signatures};
use libfuzzer_sys::fuzz_target;

static TRUSTED: LazyLock<TrustedKeys> = LazyLock::new(|| {
    TrustedKeys::single(
        TrustedKey::from_text(
            "310",
            "v1",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w==",
        )
        .expect("the sample's key parses"),
    )
});

fuzz_target!(|data: &[u8]| {
    // An export.bin the trusted key never signed: nothing may verify over it.
    let export = b"EK Export v1    \x11\x00\x00\x00\x00\x00\x00\x00\x00";
    assert!(verify_signatures(export, data, &TRUSTED).is_err());
});
