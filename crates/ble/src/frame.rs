//! One advertisement as a desktop Bluetooth stack reports it, and its JSON-lines form.

use std::collections::BTreeMap;

use bluezone_core::{AdvertData, SightingInput};
use bluezone_protocol::Advertisement;
use bluezone_protocol::advert::parse_service_uuid;
use serde::{Deserialize, Serialize};

/// An advertisement heard: what btleplug (or a recording) gives, nothing decoded yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvertFrame {
    /// Unix time (seconds) it was heard.
    pub time: i64,
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
    #[serde(with = "hex_values")]
    pub service_data: BTreeMap<String, Vec<u8>>,
}

/// The exposure-notification service UUID, 128-bit.
fn fd6f() -> u128 {
    parse_service_uuid("FD6F").unwrap_or_default()
}

impl AdvertFrame {
    /// Whether it carries FD6F service data (well formed or not: the core judges that).
    #[must_use]
    pub fn is_exposure_notification(&self) -> bool {
        self.service_data
            .keys()
            .any(|k| parse_service_uuid(k).is_ok_and(|u| u == fd6f()))
    }

    /// The decoded RPI and AEM, for display (`None` when malformed).
    #[must_use]
    pub fn advertisement(&self) -> Option<Advertisement> {
        Advertisement::from_service_data_map(&self.service_data).ok()
    }

    /// Advertised TX power minus RSSI, dB, when both are known.
    #[must_use]
    pub fn attenuation_db(&self) -> Option<i16> {
        Some(self.tx_power_dbm?.saturating_sub(self.rssi?))
    }

    /// The sighting to hand to the core, in scan window `window` (`None` without RSSI: a
    /// sighting without signal strength says nothing about distance).
    #[must_use]
    pub fn to_sighting(&self, window: u64) -> Option<SightingInput> {
        Some(SightingInput {
            advert: AdvertData::ServiceDataMap(
                self.service_data
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            rssi: self.rssi?,
            time: self.time,
            scan_window: Some(window),
        })
    }

    /// One JSON line (no newline).
    ///
    /// # Errors
    /// Never in practice; serde's error type.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
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

    fn frame(uuid: &str, data: &str) -> AdvertFrame {
        AdvertFrame {
            time: 1_585_785_600,
            address: "4A:1B:2C:3D:4E:5F".into(),
            rssi: Some(-61),
            tx_power_dbm: None,
            service_data: [(uuid.to_owned(), hex::decode(data).unwrap())].into(),
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
        }
        assert!(!frame("180F", "64").is_exposure_notification());
        let short = frame("FD6F", "8be6cd37");
        assert!(short.is_exposure_notification());
        assert_eq!(short.advertisement(), None);
    }

    #[test]
    fn json_lines_round_trip_and_attenuation_needs_both_figures() {
        let mut f = frame("FD6F", "8be6cd371c5c891604bfbe49df84509672033874");
        let line = f.to_json_line().unwrap();
        assert!(line.contains(r#""FD6F":"8be6cd37"#), "{line}");
        assert_eq!(serde_json::from_str::<AdvertFrame>(&line).unwrap(), f);
        assert_eq!(f.attenuation_db(), None);
        f.tx_power_dbm = Some(-8);
        assert_eq!(f.attenuation_db(), Some(53));
        assert!(f.to_sighting(3).is_some_and(|s| s.scan_window == Some(3)));
        f.rssi = None;
        assert_eq!(f.to_sighting(3), None);
        assert!(serde_json::from_str::<AdvertFrame>(&line.replace("8be6", "zz")).is_err());
    }
}
