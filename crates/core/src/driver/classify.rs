//! What an advert heard is to the driver: an exposure-notification payload to store as is,
//! an iPhone whose payload must be read over GATT, or something else.
//!
//! Only the AD structure framing is walked here (bounded, never trusting a length); the
//! payload itself is decoded once, by the engine's ingest.

use bluezone_protocol::advert::{
    EXPOSURE_NOTIFICATION_SERVICE, MAX_ADVERTISING_DATA_LEN, parse_service_uuid,
};

use super::io::ScanReport;
use crate::ingest::AdvertData;

/// Apple's Bluetooth company identifier.
pub const APPLE_COMPANY_ID: u16 = 0x004C;
/// The type byte of Apple's overflow-area manufacturer data.
pub const APPLE_OVERFLOW_TYPE: u8 = 0x01;

/// What an advert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvertKind {
    /// It carries FD6F service data (well formed or not: the engine judges).
    Payload,
    /// It names the FD6F service (an iPhone in the foreground) or Apple's overflow area (an
    /// iPhone in the background) without the payload: read it over GATT.
    NeedsRead,
    /// Anything else.
    Unrelated,
}

/// The 128-bit form of FD6F.
fn fd6f() -> u128 {
    (u128::from(EXPOSURE_NOTIFICATION_SERVICE) << 96) | 0x0000_0000_1000_8000_0080_5f9b_34fb
}

fn names_fd6f(text: &str) -> bool {
    parse_service_uuid(text).is_ok_and(|u| u == fd6f())
}

/// Classifies one report.
#[must_use]
pub fn classify(report: &ScanReport) -> AdvertKind {
    let from_data = match &report.advert {
        AdvertData::ServiceData(_) | AdvertData::Decoded(_) => AdvertKind::Payload,
        AdvertData::ServiceDataMap(entries) => {
            if entries.iter().any(|(k, _)| names_fd6f(k)) {
                AdvertKind::Payload
            } else {
                AdvertKind::Unrelated
            }
        }
        AdvertData::Raw(bytes) => classify_raw(bytes),
    };
    if from_data != AdvertKind::Unrelated {
        return from_data;
    }
    if report.apple_overflow || report.service_uuids.iter().any(|u| names_fd6f(u)) {
        AdvertKind::NeedsRead
    } else {
        AdvertKind::Unrelated
    }
}

/// Walks raw AD structures: `[length, type, data…]`, stopping at the first zero length or
/// at a structure that runs past the end.
fn classify_raw(bytes: &[u8]) -> AdvertKind {
    let bytes = &bytes[..bytes.len().min(MAX_ADVERTISING_DATA_LEN)];
    let fd6f_le = EXPOSURE_NOTIFICATION_SERVICE.to_le_bytes();
    let fd6f_128_le = fd6f().to_le_bytes();
    let apple_le = APPLE_COMPANY_ID.to_le_bytes();
    let mut kind = AdvertKind::Unrelated;
    let mut at = 0usize;
    while at < bytes.len() {
        let len = usize::from(bytes[at]);
        if len == 0 || at + 1 + len > bytes.len() {
            break;
        }
        let ad_type = bytes[at + 1];
        let data = &bytes[at + 2..at + 1 + len];
        match ad_type {
            // Service data, 16-bit UUID.
            0x16 if data.starts_with(&fd6f_le) => return AdvertKind::Payload,
            // Incomplete / complete lists of 16-bit service UUIDs.
            0x02 | 0x03 if data.chunks_exact(2).any(|c| c == fd6f_le) => {
                kind = AdvertKind::NeedsRead;
            }
            // Lists of 128-bit service UUIDs.
            0x06 | 0x07 if data.chunks_exact(16).any(|c| c == fd6f_128_le) => {
                kind = AdvertKind::NeedsRead;
            }
            // Manufacturer data: Apple's overflow area.
            0xFF if data.len() >= 3 && data[..2] == apple_le && data[2] == APPLE_OVERFLOW_TYPE => {
                kind = AdvertKind::NeedsRead;
            }
            _ => {}
        }
        at += 1 + len;
    }
    kind
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(advert: AdvertData) -> ScanReport {
        ScanReport {
            device: "d".into(),
            advert,
            service_uuids: Vec::new(),
            apple_overflow: false,
            rssi: -60,
            tx_power_dbm: None,
        }
    }

    #[test]
    fn payloads_reads_and_the_rest_are_told_apart() {
        let gaen = [
            2, 1, 0x1a, 3, 3, 0x6f, 0xfd, 23, 0x16, 0x6f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
            12, 13, 14, 15, 16, 17, 18, 19, 20,
        ];
        assert_eq!(
            classify(&report(AdvertData::Raw(gaen.to_vec()))),
            AdvertKind::Payload
        );
        // An iPhone in the foreground: the UUID, no service data.
        let uuid_only = [2, 1, 6, 3, 3, 0x6f, 0xfd];
        assert_eq!(
            classify(&report(AdvertData::Raw(uuid_only.to_vec()))),
            AdvertKind::NeedsRead
        );
        // An iPhone in the background: Apple's overflow area.
        let mut overflow = vec![2, 1, 6, 20, 0xff, 0x4c, 0x00, 0x01];
        overflow.extend([0u8; 16]);
        assert_eq!(
            classify(&report(AdvertData::Raw(overflow))),
            AdvertKind::NeedsRead
        );
        // AirPods-style Apple data (type 0x07) and a heart-rate monitor are not ours.
        let airpods = [2, 1, 6, 5, 0xff, 0x4c, 0x00, 0x07, 0x19];
        assert_eq!(
            classify(&report(AdvertData::Raw(airpods.to_vec()))),
            AdvertKind::Unrelated
        );
        let hrm = [2, 1, 6, 3, 3, 0x0d, 0x18];
        assert_eq!(
            classify(&report(AdvertData::Raw(hrm.to_vec()))),
            AdvertKind::Unrelated
        );
        // Lengths that run past the end stop the walk without a panic.
        for bad in [vec![0xff], vec![5, 0x16, 0x6f], vec![0, 0x16], vec![]] {
            assert_eq!(
                classify(&report(AdvertData::Raw(bad))),
                AdvertKind::Unrelated
            );
        }
        // iOS hands over maps and UUID lists.
        let map = AdvertData::ServiceDataMap(vec![("FD6F".into(), vec![0; 20])]);
        assert_eq!(classify(&report(map)), AdvertKind::Payload);
        let mut ios = report(AdvertData::ServiceDataMap(Vec::new()));
        ios.service_uuids = vec!["0000FD6F-0000-1000-8000-00805F9B34FB".into()];
        assert_eq!(classify(&ios), AdvertKind::NeedsRead);
        ios.service_uuids.clear();
        ios.apple_overflow = true;
        assert_eq!(classify(&ios), AdvertKind::NeedsRead);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_classify_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2_000)) {
            let _ = classify(&report(AdvertData::Raw(bytes)));
        }
    }
}
