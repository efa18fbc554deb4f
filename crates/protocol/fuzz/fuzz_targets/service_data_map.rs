//! A service-data map as iOS and Android hand it over: UUID strings to bytes. The input is
//! split into entries: each entry is a UUID text up to a 0x00 byte, then a length byte and
//! that many data bytes. The decoder must never panic, and what it accepts must round-trip.

#![no_main]

use bluezone_protocol::Advertisement;
use libfuzzer_sys::fuzz_target;

fn entries(mut data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    while out.len() < 8 {
        let Some(end) = data.iter().position(|b| *b == 0) else {
            break;
        };
        let uuid = String::from_utf8_lossy(&data[..end]).into_owned();
        data = &data[end + 1..];
        let Some((&len, rest)) = data.split_first() else {
            break;
        };
        let len = usize::from(len).min(rest.len());
        out.push((uuid, rest[..len].to_vec()));
        data = &rest[len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let map = entries(data);
    if let Ok(ad) = Advertisement::from_service_data_map(map.iter().map(|(k, v)| (k, v))) {
        let again = [("FD6F", ad.service_data())];
        assert_eq!(Advertisement::from_service_data_map(again), Ok(ad));
    }
});
