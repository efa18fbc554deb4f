//! What a desktop Bluetooth stack reports, as the phone driver's events take it, and the
//! JSON-lines form of recordings.
//!
//! A recording holds two kinds of lines, told apart by the `gatt_read` key:
//!
//! - an advert ([`AdvertFrame`]): `{"time":…,"address":…,"rssi":…,"tx_power_dbm":…,
//!   "service_data":{…}}`, optionally with `"ms"` (the milliseconds within `time`),
//!   `"services"` (the service UUIDs the sender listed) and `"apple_overflow":true` (Apple
//!   manufacturer data of the overflow type: an iPhone advertising in the background). Lines
//!   written before these fields existed are still read as they always were;
//! - a GATT read of an iPhone's payload characteristic ([`ReadFrame`]): `{"time":…,"ms":…,
//!   "address":…,"gatt_read":{"value":"<hex>"}}`, or `{"error":"connection_failed" |
//!   "not_found" | "timeout"}` in place of the value.

use std::collections::BTreeMap;

use bluezone_core::AdvertData;
use bluezone_core::driver::{APPLE_COMPANY_ID, APPLE_OVERFLOW_TYPE, ReadFailure, ScanReport};
use bluezone_protocol::Advertisement;
use bluezone_protocol::advert::parse_service_uuid;
use bluezone_protocol::attenuation::attenuation_db;
use serde::{Deserialize, Serialize};

/// The 128-bit UUID of the payload characteristic iPhones serve in the FD6F service
/// (`8B6F0001-0000-4B6F-9F6D-626C7565006F`, as the iOS shim declares it).
pub const PAYLOAD_CHARACTERISTIC: u128 = 0x8B6F_0001_0000_4B6F_9F6D_626C_7565_006F;

/// An advertisement heard: what btleplug (or a recording) gives, nothing decoded yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvertFrame {
    /// Unix time (seconds) it was heard.
    pub time: i64,
    /// Milliseconds within `time` (0–999), when the source knew them (recordings made before
    /// this field existed: `None`, taken as 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u16>,
    /// The sender's Bluetooth address as the stack prints it (random and rotating for
    /// exposure-notification senders; shown, never stored).
    pub address: String,
    /// Received signal strength, dBm, if the stack reported one.
    pub rssi: Option<i16>,
    /// The TX power level the sender advertised, dBm, if any (GAEN senders usually do not;
    /// their calibrated power is inside the encrypted metadata).
    #[serde(default)]
    pub tx_power_dbm: Option<i16>,
    /// Service data: UUID string (any spelling) to bytes, hex in JSON.
    #[serde(default, with = "hex_values")]
    pub service_data: BTreeMap<String, Vec<u8>>,
    /// Service UUIDs the sender listed in its advert (an iPhone app in the foreground lists
    /// FD6F without service data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// The advert carried Apple manufacturer data of the overflow type (company 0x004C,
    /// first byte 0x01): an iPhone app advertising in the background. Only this flag is kept,
    /// not the bytes (they name the other apps' services and would make a capture easier to
    /// link across address changes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub apple_overflow: bool,
}

/// The exposure-notification service UUID, 128-bit.
fn fd6f() -> u128 {
    parse_service_uuid("FD6F").unwrap_or_default()
}

/// Whether Apple manufacturer data (without its company id, as btleplug hands it over) is of
/// the overflow type.
#[must_use]
pub fn is_apple_overflow(company: u16, data: &[u8]) -> bool {
    company == APPLE_COMPANY_ID && data.first() == Some(&APPLE_OVERFLOW_TYPE)
}

/// Unix milliseconds from seconds and an optional sub-second part.
fn unix_ms(time: i64, ms: Option<u16>) -> i64 {
    time.saturating_mul(1000)
        .saturating_add(i64::from(ms.unwrap_or(0)))
}

impl AdvertFrame {
    /// Unix time in milliseconds.
    #[must_use]
    pub fn time_ms(&self) -> i64 {
        unix_ms(self.time, self.ms)
    }

    /// Whether it carries FD6F service data (well formed or not: the core judges that).
    #[must_use]
    pub fn is_exposure_notification(&self) -> bool {
        self.service_data
            .keys()
            .any(|k| parse_service_uuid(k).is_ok_and(|u| u == fd6f()))
    }

    /// The decoded RPI and AEM, for display (`None` when malformed or absent).
    #[must_use]
    pub fn advertisement(&self) -> Option<Advertisement> {
        Advertisement::from_service_data_map(&self.service_data).ok()
    }

    /// Advertised TX power minus RSSI, dB, when both are known: GAEN's attenuation
    /// ([`bluezone_protocol::attenuation::attenuation_db`]) without an RSSI correction, so 0
    /// for a signal heard stronger than advertised and at most 255.
    #[must_use]
    pub fn attenuation_db(&self) -> Option<u8> {
        Some(attenuation_db(self.tx_power_dbm?, self.rssi?, 0))
    }

    /// The scan result to hand to the phone driver, with `rssi` in place of the frame's own
    /// (the driver needs one; a frame without RSSI is not handed over at all).
    #[must_use]
    pub fn report_with_rssi(&self, rssi: i16) -> ScanReport {
        ScanReport {
            device: self.address.clone(),
            advert: AdvertData::ServiceDataMap(
                self.service_data
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            service_uuids: self.services.clone(),
            apple_overflow: self.apple_overflow,
            rssi,
            tx_power_dbm: self.tx_power_dbm,
        }
    }

    /// The scan result to hand to the phone driver (`None` without RSSI: a sighting without
    /// signal strength says nothing about distance).
    #[must_use]
    pub fn to_report(&self) -> Option<ScanReport> {
        Some(self.report_with_rssi(self.rssi?))
    }

    /// One JSON line (no newline).
    ///
    /// # Errors
    /// Never in practice; serde's error type.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// Why a recorded read failed: [`ReadFailure`] in the recording's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadError {
    /// The connection failed or dropped.
    ConnectionFailed,
    /// Connected, but there is no payload characteristic (another Apple device).
    NotFound,
    /// The stack gave up.
    Timeout,
}

impl ReadError {
    /// The driver's form.
    #[must_use]
    pub fn to_failure(self) -> ReadFailure {
        match self {
            Self::ConnectionFailed => ReadFailure::ConnectionFailed,
            Self::NotFound => ReadFailure::NotFound,
            Self::Timeout => ReadFailure::Timeout,
        }
    }

    /// The recording's form.
    #[must_use]
    pub fn from_failure(failure: &ReadFailure) -> Self {
        match failure {
            ReadFailure::ConnectionFailed => Self::ConnectionFailed,
            ReadFailure::NotFound => Self::NotFound,
            ReadFailure::Timeout => Self::Timeout,
        }
    }

    /// In words, as the recording spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionFailed => "connection_failed",
            Self::NotFound => "not_found",
            Self::Timeout => "timeout",
        }
    }
}

/// What a read gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ReadResult {
    /// The characteristic's value (hex in JSON; the driver judges its length).
    Value(#[serde(with = "hex_bytes")] Vec<u8>),
    /// Why there is none.
    Error(ReadError),
}

/// A GATT read of an iPhone's payload characteristic that finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadFrame {
    /// Unix time (seconds) it finished.
    pub time: i64,
    /// Milliseconds within `time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u16>,
    /// The device read, as its adverts name it.
    pub address: String,
    /// What the read gave.
    pub gatt_read: ReadResult,
}

impl ReadFrame {
    /// Unix time in milliseconds.
    #[must_use]
    pub fn time_ms(&self) -> i64 {
        unix_ms(self.time, self.ms)
    }

    /// The driver's form of the result.
    pub fn result(&self) -> Result<Vec<u8>, ReadFailure> {
        match &self.gatt_read {
            ReadResult::Value(bytes) => Ok(bytes.clone()),
            ReadResult::Error(e) => Err(e.to_failure()),
        }
    }

    /// The RPI and AEM read, for display (`None` for a failure or a value of the wrong size).
    #[must_use]
    pub fn advertisement(&self) -> Option<Advertisement> {
        match &self.gatt_read {
            ReadResult::Value(bytes) => Advertisement::from_service_data(bytes).ok(),
            ReadResult::Error(_) => None,
        }
    }

    /// One JSON line (no newline).
    ///
    /// # Errors
    /// Never in practice; serde's error type.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// An advert heard.
    Advert(AdvertFrame),
    /// A payload read that finished.
    Read(ReadFrame),
}

impl Recorded {
    /// Unix time in milliseconds.
    #[must_use]
    pub fn time_ms(&self) -> i64 {
        match self {
            Self::Advert(f) => f.time_ms(),
            Self::Read(r) => r.time_ms(),
        }
    }

    /// Reads one line: a read when it has a `gatt_read` key, an advert otherwise.
    ///
    /// # Errors
    /// What is wrong with it (serde's words).
    pub fn from_json_line(line: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let is_read = value.get("gatt_read").is_some();
        let ms = value.get("ms").and_then(serde_json::Value::as_u64);
        if ms.is_some_and(|ms| ms > 999) {
            return Err("ms: 0 to 999".to_owned());
        }
        if is_read {
            serde_json::from_value(value)
                .map(Self::Read)
                .map_err(|e| format!("gatt_read line: {e}"))
        } else {
            serde_json::from_value(value)
                .map(Self::Advert)
                .map_err(|e| e.to_string())
        }
    }

    /// One JSON line (no newline).
    ///
    /// # Errors
    /// Never in practice; serde's error type.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        match self {
            Self::Advert(f) => f.to_json_line(),
            Self::Read(r) => r.to_json_line(),
        }
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(&text).map_err(|e| D::Error::custom(format!("value: {e}")))
    }
}

mod hex_values {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeMap};

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            out.serialize_entry(k, &hex::encode(v))?;
        }
        out.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Vec<u8>>, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer)?
            .into_iter()
            .map(|(k, v)| {
                hex::decode(&v)
                    .map(|bytes| (k.clone(), bytes))
                    .map_err(|e| D::Error::custom(format!("service data for {k}: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bluezone_core::driver::{AdvertKind, classify};

    fn frame(uuid: &str, data: &str) -> AdvertFrame {
        AdvertFrame {
            time: 1_585_785_600,
            ms: None,
            address: "4A:1B:2C:3D:4E:5F".into(),
            rssi: Some(-61),
            tx_power_dbm: None,
            service_data: [(uuid.to_owned(), hex::decode(data).unwrap())].into(),
            services: Vec::new(),
            apple_overflow: false,
        }
    }

    #[test]
    fn the_filter_keeps_fd6f_in_any_spelling_and_nothing_else() {
        let data = "8be6cd371c5c891604bfbe49df84509672033874";
        for uuid in ["FD6F", "0000fd6f-0000-1000-8000-00805f9b34fb", "0xfd6f"] {
            let f = frame(uuid, data);
            assert!(f.is_exposure_notification(), "{uuid}");
            assert_eq!(
                hex::encode(f.advertisement().unwrap().rpi.0),
                "8be6cd371c5c891604bfbe49df845096"
            );
            assert_eq!(classify(&f.to_report().unwrap()), AdvertKind::Payload);
        }
        assert!(!frame("180F", "64").is_exposure_notification());
        assert_eq!(
            classify(&frame("180F", "64").to_report().unwrap()),
            AdvertKind::Unrelated
        );
        let short = frame("FD6F", "8be6cd37");
        assert!(short.is_exposure_notification());
        assert_eq!(short.advertisement(), None);
    }

    #[test]
    fn json_lines_round_trip_and_attenuation_needs_both_figures() {
        let mut f = frame("FD6F", "8be6cd371c5c891604bfbe49df84509672033874");
        let line = f.to_json_line().unwrap();
        assert!(line.contains(r#""FD6F":"8be6cd37"#), "{line}");
        // The fields added later are left out when they say nothing: old readers' form.
        assert!(!line.contains("ms") && !line.contains("services") && !line.contains("apple"));
        assert_eq!(serde_json::from_str::<AdvertFrame>(&line).unwrap(), f);
        assert_eq!(f.attenuation_db(), None);
        f.tx_power_dbm = Some(-8);
        assert_eq!(f.attenuation_db(), Some(53));
        // Heard stronger than advertised: GAEN's attenuation stops at 0.
        f.tx_power_dbm = Some(-70);
        assert_eq!(f.attenuation_db(), Some(0));
        f.tx_power_dbm = Some(-8);
        let report = f.to_report().unwrap();
        assert_eq!((report.rssi, report.tx_power_dbm), (-61, Some(-8)));
        assert_eq!(report.device, f.address);
        f.rssi = None;
        assert_eq!(f.to_report(), None);
        assert!(serde_json::from_str::<AdvertFrame>(&line.replace("8be6", "zz")).is_err());
        assert_eq!(f.time_ms(), 1_585_785_600_000);
        f.ms = Some(250);
        assert_eq!(f.time_ms(), 1_585_785_600_250);
    }

    #[test]
    fn iphone_adverts_and_reads_have_their_own_lines() {
        let iphone = AdvertFrame {
            time: 1_585_785_600,
            ms: Some(5),
            address: "6A:00:00:00:00:07".into(),
            rssi: Some(-60),
            tx_power_dbm: None,
            service_data: BTreeMap::new(),
            services: Vec::new(),
            apple_overflow: true,
        };
        assert_eq!(
            classify(&iphone.to_report().unwrap()),
            AdvertKind::NeedsRead
        );
        let line = Recorded::Advert(iphone.clone()).to_json_line().unwrap();
        assert!(line.contains(r#""apple_overflow":true"#), "{line}");
        assert_eq!(
            Recorded::from_json_line(&line).unwrap(),
            Recorded::Advert(iphone)
        );
        let read = ReadFrame {
            time: 1_585_785_601,
            ms: Some(40),
            address: "6A:00:00:00:00:07".into(),
            gatt_read: ReadResult::Value(vec![0xab; 20]),
        };
        let line = read.to_json_line().unwrap();
        assert!(line.contains(r#""gatt_read":{"value":"abab"#), "{line}");
        let back = Recorded::from_json_line(&line).unwrap();
        assert_eq!(back, Recorded::Read(read.clone()));
        assert_eq!(back.time_ms(), 1_585_785_601_040);
        assert_eq!(read.result(), Ok(vec![0xab; 20]));
        let failed = r#"{"time":1,"address":"x","gatt_read":{"error":"not_found"}}"#;
        let Recorded::Read(failed) = Recorded::from_json_line(failed).unwrap() else {
            panic!("a read");
        };
        assert_eq!(failed.result(), Err(ReadFailure::NotFound));
        for bad in [
            r#"{"time":1,"address":"x","gatt_read":{"error":"eaten"}}"#,
            r#"{"time":1,"address":"x","gatt_read":{"value":"zz"}}"#,
            r#"{"time":1,"address":"x","gatt_read":{}}"#,
            r#"{"time":1,"ms":1000,"address":"x","rssi":-60,"service_data":{}}"#,
        ] {
            assert!(Recorded::from_json_line(bad).is_err(), "{bad}");
        }
        assert!(is_apple_overflow(0x004C, &[0x01, 0]));
        assert!(!is_apple_overflow(0x004C, &[0x07]));
        assert!(!is_apple_overflow(0x0075, &[0x01]));
    }
}
