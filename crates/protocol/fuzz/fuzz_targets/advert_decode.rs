//! Raw advertising data into the advert decoder: it must never panic, and whatever it
//! accepts must survive our own encoding unchanged.

#![no_main]

use bluezone_protocol::Advertisement;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ad) = Advertisement::from_advertising_data(data) {
        assert_eq!(
            Advertisement::from_advertising_data(&ad.to_legacy_payload()),
            Ok(ad)
        );
        assert_eq!(Advertisement::from_service_data(&ad.service_data()), Ok(ad));
    }
});
