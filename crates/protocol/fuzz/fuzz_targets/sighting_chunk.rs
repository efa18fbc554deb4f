//! Stored sighting chunks into the decoder (they are authenticated before decoding, but a
//! bug on the writing side must not become a crash on the reading side): never panic, and a
//! chunk that decodes re-encodes to something that decodes to the same chunk.

#![no_main]

use bluezone_protocol::DayNumber;
use bluezone_protocol::sightings::DayChunk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let day = DayNumber::new(20_000);
    if let Ok(chunk) = DayChunk::decode(day, data) {
        let bytes = chunk.encode(day).expect("a decoded chunk is consistent");
        assert_eq!(DayChunk::decode(day, &bytes), Ok(chunk));
    }
});
