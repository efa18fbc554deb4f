//! The exposure-notification BLE advertisement (GAEN Bluetooth Specification v1.2,
//! "Advertising Payload"): encoding our 31-byte legacy advert, and decoding what scanners hand
//! over, either as raw advertising data or as a map of service UUIDs to service data.
//!
//! ```text
//! 02 01 1a              Flags: LE General Discoverable (as the specification's figure shows)
//! 03 03 6f fd           Complete list of 16-bit service UUIDs: 0xFD6F
//! 17 16 6f fd <RPI:16> <AEM:4>
//!                       Service data for 0xFD6F: the RPI then the AEM
//! ```
//! Decoding accepts the AD structures in any order, with or without the flags and the UUID
//! list (stacks strip or reorder them), stops at a zero length byte (the padding Android
//! scan records end with), and rejects anything malformed with a typed [`AdvertError`].
//! It never panics, whatever the bytes; a fuzz target checks that.

use thiserror::Error;

use crate::identifiers::{
    AEM_LEN, AssociatedEncryptedMetadata, RPI_LEN, RollingProximityIdentifier,
};

/// The exposure-notification 16-bit service UUID.
pub const EXPOSURE_NOTIFICATION_SERVICE: u16 = 0xFD6F;

/// Length of the FD6F service data after the UUID: RPI and AEM.
pub const SERVICE_DATA_LEN: usize = RPI_LEN + AEM_LEN;

/// Length of our legacy advertising payload.
pub const LEGACY_PAYLOAD_LEN: usize = 31;

/// The most advertising data one advert can carry (Bluetooth 5 extended advertising).
pub const MAX_ADVERTISING_DATA_LEN: usize = 1650;

/// The flags we advertise (LE General Discoverable, simultaneous LE and BR/EDR bits as in the
/// specification's example). Scanners must not depend on them; our decoder ignores them.
pub const ADVERTISING_FLAGS: u8 = 0x1a;

/// The Bluetooth base UUID, `00000000-0000-1000-8000-00805F9B34FB`.
const BLUETOOTH_BASE_UUID: u128 = 0x0000_0000_0000_1000_8000_0080_5f9b_34fb;

const AD_FLAGS: u8 = 0x01;
const AD_COMPLETE_16BIT_UUIDS: u8 = 0x03;
const AD_SERVICE_DATA_16: u8 = 0x16;
const AD_SERVICE_DATA_32: u8 = 0x20;
const AD_SERVICE_DATA_128: u8 = 0x21;

/// Longest UUID text kept in an error message.
const MAX_UUID_TEXT_IN_ERROR: usize = 64;

/// Why an advert was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AdvertError {
    /// More bytes than any Bluetooth advert carries.
    #[error("advertising data is {len} bytes, more than the {max} an advert can carry")]
    TooLong {
        /// Bytes given.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An AD structure runs past the end of the data.
    #[error("AD structure at byte {offset} declares {declared} bytes but only {available} remain")]
    Truncated {
        /// Offset of the AD structure's length byte.
        offset: usize,
        /// Bytes its length byte declares (type and data).
        declared: usize,
        /// Bytes left after the length byte.
        available: usize,
    },
    /// A service-data AD structure too short to hold its UUID.
    #[error("service data at byte {offset} is too short for its {uuid_len}-byte UUID")]
    ShortServiceData {
        /// Offset of the AD structure's length byte.
        offset: usize,
        /// Length of the UUID this AD type carries.
        uuid_len: usize,
    },
    /// The advert carries no exposure-notification service data.
    #[error("no exposure notification (0xFD6F) service data")]
    NotExposureNotification,
    /// The FD6F service data has the wrong length.
    #[error("exposure notification service data is {found} bytes, expected 20 (16 RPI + 4 AEM)")]
    ServiceDataLength {
        /// Bytes found after the UUID.
        found: usize,
    },
    /// FD6F service data appears more than once.
    #[error("the advert carries exposure notification service data more than once")]
    DuplicateServiceData,
    /// A service-data map key that is not a Bluetooth UUID.
    #[error("{0:?} is not a Bluetooth service UUID")]
    InvalidServiceUuid(String),
}

/// What one exposure-notification advert carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advertisement {
    /// The sender's current Rolling Proximity Identifier.
    pub rpi: RollingProximityIdentifier,
    /// The sender's encrypted metadata for that RPI.
    pub aem: AssociatedEncryptedMetadata,
}

impl Advertisement {
    /// The 20 bytes of FD6F service data: RPI then AEM.
    #[must_use]
    pub fn service_data(&self) -> [u8; SERVICE_DATA_LEN] {
        let mut out = [0u8; SERVICE_DATA_LEN];
        out[..RPI_LEN].copy_from_slice(&self.rpi.0);
        out[RPI_LEN..].copy_from_slice(&self.aem.0);
        out
    }

    /// The full 31-byte legacy advertising payload: flags, UUID list and service data.
    #[must_use]
    pub fn to_legacy_payload(&self) -> [u8; LEGACY_PAYLOAD_LEN] {
        let [uuid_lo, uuid_hi] = EXPOSURE_NOTIFICATION_SERVICE.to_le_bytes();
        let mut out = [0u8; LEGACY_PAYLOAD_LEN];
        out[..11].copy_from_slice(&[
            0x02,
            AD_FLAGS,
            ADVERTISING_FLAGS,
            0x03,
            AD_COMPLETE_16BIT_UUIDS,
            uuid_lo,
            uuid_hi,
            0x17,
            AD_SERVICE_DATA_16,
            uuid_lo,
            uuid_hi,
        ]);
        out[11..].copy_from_slice(&self.service_data());
        out
    }

    /// Decodes the FD6F service data alone (the bytes after the UUID).
    ///
    /// # Errors
    /// [`AdvertError::ServiceDataLength`] unless it is exactly 20 bytes.
    pub fn from_service_data(data: &[u8]) -> Result<Self, AdvertError> {
        let bytes = <[u8; SERVICE_DATA_LEN]>::try_from(data)
            .map_err(|_| AdvertError::ServiceDataLength { found: data.len() })?;
        let mut rpi = [0u8; RPI_LEN];
        let mut aem = [0u8; AEM_LEN];
        rpi.copy_from_slice(&bytes[..RPI_LEN]);
        aem.copy_from_slice(&bytes[RPI_LEN..]);
        Ok(Self {
            rpi: RollingProximityIdentifier(rpi),
            aem: AssociatedEncryptedMetadata(aem),
        })
    }

    /// Decodes raw advertising data: a sequence of AD structures (`length, type, data`), as
    /// Android's `ScanRecord.getBytes()` or a desktop stack hands them over.
    ///
    /// # Errors
    /// See [`AdvertError`]: oversized or truncated data, no or several FD6F service data, or
    /// service data of the wrong length.
    pub fn from_advertising_data(data: &[u8]) -> Result<Self, AdvertError> {
        if data.len() > MAX_ADVERTISING_DATA_LEN {
            return Err(AdvertError::TooLong {
                len: data.len(),
                max: MAX_ADVERTISING_DATA_LEN,
            });
        }
        let mut found = None;
        let mut offset = 0;
        while offset < data.len() {
            let declared = usize::from(data[offset]);
            if declared == 0 {
                break; // Early termination: the rest is padding.
            }
            let available = data.len() - offset - 1;
            if declared > available {
                return Err(AdvertError::Truncated {
                    offset,
                    declared,
                    available,
                });
            }
            let ad_type = data[offset + 1];
            let body = &data[offset + 2..offset + 1 + declared];
            let uuid_len = match ad_type {
                AD_SERVICE_DATA_16 => 2,
                AD_SERVICE_DATA_32 => 4,
                AD_SERVICE_DATA_128 => 16,
                _ => 0,
            };
            if uuid_len > 0 {
                if body.len() < uuid_len {
                    return Err(AdvertError::ShortServiceData { offset, uuid_len });
                }
                let (uuid, service_data) = body.split_at(uuid_len);
                if uuid_from_le_bytes(uuid) == en_service_uuid() {
                    if found.is_some() {
                        return Err(AdvertError::DuplicateServiceData);
                    }
                    found = Some(service_data);
                }
            }
            offset += 1 + declared;
        }
        Self::from_service_data(found.ok_or(AdvertError::NotExposureNotification)?)
    }

    /// Decodes a map of service UUIDs to service data, as iOS (`CBAdvertisementDataServiceDataKey`)
    /// and Android (`ScanRecord.getServiceData()`) hand it over. Keys may be 16-bit (`"FD6F"`),
    /// 32-bit or full 128-bit UUID strings, in any case, with or without `0x`.
    ///
    /// # Errors
    /// [`AdvertError::InvalidServiceUuid`] for a key that is no UUID, and the service-data
    /// errors of [`Advertisement::from_advertising_data`].
    pub fn from_service_data_map<I, K, V>(entries: I) -> Result<Self, AdvertError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut found = None;
        for (uuid, data) in entries {
            if parse_service_uuid(uuid.as_ref())? == en_service_uuid() {
                if found.is_some() {
                    return Err(AdvertError::DuplicateServiceData);
                }
                found = Some(Self::from_service_data(data.as_ref()));
            }
        }
        found.unwrap_or(Err(AdvertError::NotExposureNotification))
    }
}

/// The FD6F UUID in its 128-bit form.
const fn en_service_uuid() -> u128 {
    uuid_from_16(EXPOSURE_NOTIFICATION_SERVICE)
}

const fn uuid_from_16(short: u16) -> u128 {
    BLUETOOTH_BASE_UUID | ((short as u128) << 96)
}

/// A 2-, 4- or 16-byte little-endian UUID from an AD structure, as a 128-bit UUID.
fn uuid_from_le_bytes(bytes: &[u8]) -> u128 {
    let mut full = [0u8; 16];
    full[..bytes.len()].copy_from_slice(bytes);
    let value = u128::from_le_bytes(full);
    if bytes.len() < 16 {
        BLUETOOTH_BASE_UUID | (value << 96)
    } else {
        value
    }
}

/// Parses a service UUID string: 4 or 8 hex digits (short forms on the Bluetooth base UUID),
/// or 32 hex digits with or without the usual hyphens.
///
/// # Errors
/// [`AdvertError::InvalidServiceUuid`] for anything else.
pub fn parse_service_uuid(text: &str) -> Result<u128, AdvertError> {
    let invalid =
        || AdvertError::InvalidServiceUuid(text.chars().take(MAX_UUID_TEXT_IN_ERROR).collect());
    let trimmed = text.trim();
    let digits = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let hyphenated = digits.len() == 36
        && digits
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
    let hex: String = if hyphenated {
        digits.chars().filter(|c| *c != '-').collect()
    } else {
        digits.to_owned()
    };
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let value = u128::from_str_radix(&hex, 16).map_err(|_| invalid())?;
    match hex.len() {
        4 | 8 => Ok(BLUETOOTH_BASE_UUID | (value << 96)),
        32 => Ok(value),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Advertisement {
        Advertisement {
            rpi: RollingProximityIdentifier(std::array::from_fn(|i| u8::try_from(i).unwrap())),
            aem: AssociatedEncryptedMetadata([0xa0, 0xa1, 0xa2, 0xa3]),
        }
    }

    #[test]
    fn legacy_payload_layout() {
        let payload = sample().to_legacy_payload();
        assert_eq!(
            &payload[..11],
            &[
                0x02, 0x01, 0x1a, 0x03, 0x03, 0x6f, 0xfd, 0x17, 0x16, 0x6f, 0xfd
            ]
        );
        assert_eq!(&payload[11..27], &sample().rpi.0);
        assert_eq!(&payload[27..], &sample().aem.0);
        assert_eq!(Advertisement::from_advertising_data(&payload), Ok(sample()));
    }

    #[test]
    fn decodes_reordered_structures_without_flags_and_with_padding() {
        let sd = sample().service_data();
        let mut data = vec![0x17, 0x16, 0x6f, 0xfd];
        data.extend_from_slice(&sd);
        data.extend_from_slice(&[0x05, 0x09, b'p', b'h', b'o', b'n']); // a name
        data.extend_from_slice(&[0x03, 0x03, 0x6f, 0xfd]);
        data.extend_from_slice(&[0; 20]); // scan-record padding
        assert_eq!(Advertisement::from_advertising_data(&data), Ok(sample()));
    }

    #[test]
    fn decodes_128_bit_service_data() {
        let mut data = vec![0x25, 0x21];
        data.extend_from_slice(&en_service_uuid().to_le_bytes());
        data.extend_from_slice(&sample().service_data());
        assert_eq!(Advertisement::from_advertising_data(&data), Ok(sample()));
    }

    #[test]
    fn typed_errors_for_malformed_adverts() {
        let payload = sample().to_legacy_payload();
        assert_eq!(
            Advertisement::from_advertising_data(&payload[..30]),
            Err(AdvertError::Truncated {
                offset: 7,
                declared: 23,
                available: 22
            })
        );
        assert_eq!(
            Advertisement::from_advertising_data(&payload[..7]),
            Err(AdvertError::NotExposureNotification)
        );
        assert_eq!(
            Advertisement::from_advertising_data(&[]),
            Err(AdvertError::NotExposureNotification)
        );
        // Another service's data (0x180F battery) is not ours.
        let other = [0x04, 0x16, 0x0f, 0x18, 0x64];
        assert_eq!(
            Advertisement::from_advertising_data(&other),
            Err(AdvertError::NotExposureNotification)
        );
        // FD6F service data one byte short.
        let short = [&[0x16, 0x16, 0x6f, 0xfd][..], &[0u8; 19]].concat();
        assert_eq!(
            Advertisement::from_advertising_data(&short),
            Err(AdvertError::ServiceDataLength { found: 19 })
        );
        assert_eq!(
            Advertisement::from_advertising_data(&[0x02, 0x16, 0x6f]),
            Err(AdvertError::ShortServiceData {
                offset: 0,
                uuid_len: 2
            })
        );
        let twice = [&payload[..], &payload[7..]].concat();
        assert_eq!(
            Advertisement::from_advertising_data(&twice),
            Err(AdvertError::DuplicateServiceData)
        );
        let huge = vec![0u8; MAX_ADVERTISING_DATA_LEN + 1];
        assert!(matches!(
            Advertisement::from_advertising_data(&huge),
            Err(AdvertError::TooLong { .. })
        ));
    }

    #[test]
    fn service_data_map_forms() {
        let sd = sample().service_data();
        for key in [
            "FD6F",
            "fd6f",
            "0xFD6F",
            "0000fd6f",
            "0000fd6f-0000-1000-8000-00805f9b34fb",
            "0000FD6F00001000800000805F9B34FB",
        ] {
            let map = [("180F", &[0x64][..]), (key, &sd[..])];
            assert_eq!(
                Advertisement::from_service_data_map(map),
                Ok(sample()),
                "{key}"
            );
        }
        assert_eq!(
            Advertisement::from_service_data_map([("180F", [1u8])]),
            Err(AdvertError::NotExposureNotification)
        );
        assert_eq!(
            Advertisement::from_service_data_map([("FD6F", &sd[..]), ("fd6f", &sd[..])]),
            Err(AdvertError::DuplicateServiceData)
        );
        assert_eq!(
            Advertisement::from_service_data_map([("FD6F", &sd[..3])]),
            Err(AdvertError::ServiceDataLength { found: 3 })
        );
        for bad in [
            "",
            "FD6",
            "xyzw",
            "0000fd6f-0000-1000-8000_00805f9b34fb",
            "+d6f",
        ] {
            assert!(
                matches!(
                    Advertisement::from_service_data_map([(bad, &sd[..])]),
                    Err(AdvertError::InvalidServiceUuid(_))
                ),
                "{bad}"
            );
        }
    }

    proptest! {
        #[test]
        fn legacy_payload_round_trips(rpi in any::<[u8; 16]>(), aem in any::<[u8; 4]>()) {
            let ad = Advertisement {
                rpi: RollingProximityIdentifier(rpi),
                aem: AssociatedEncryptedMetadata(aem),
            };
            prop_assert_eq!(Advertisement::from_advertising_data(&ad.to_legacy_payload()), Ok(ad));
            prop_assert_eq!(Advertisement::from_service_data(&ad.service_data()), Ok(ad));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Advertisement::from_advertising_data(&data);
        }

        #[test]
        fn any_truncation_of_a_payload_is_an_error(cut in 0usize..31) {
            let payload = sample().to_legacy_payload();
            prop_assert!(Advertisement::from_advertising_data(&payload[..cut]).is_err());
        }

        #[test]
        fn extra_structures_in_any_order_still_decode(
            others in proptest::collection::vec((2u8..0x16, proptest::collection::vec(any::<u8>(), 0..8)), 0..4),
            position in 0usize..5,
        ) {
            let mut structures: Vec<Vec<u8>> = others
                .into_iter()
                .map(|(ty, body)| {
                    let mut s = vec![u8::try_from(body.len() + 1).unwrap(), ty];
                    s.extend(body);
                    s
                })
                .collect();
            let mut ours = vec![0x17, 0x16, 0x6f, 0xfd];
            ours.extend_from_slice(&sample().service_data());
            structures.insert(position.min(structures.len()), ours);
            let data = structures.concat();
            prop_assert_eq!(Advertisement::from_advertising_data(&data), Ok(sample()));
        }
    }
}
