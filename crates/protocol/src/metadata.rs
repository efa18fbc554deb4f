//! The 4-byte Bluetooth metadata that the AEM encrypts (GAEN Bluetooth Specification v1.2,
//! "Encrypted Metadata"; calibration confidence from v1.3).
//!
//! ```text
//! byte 0  version: bits 7..6 major (01), bits 5..4 minor, bits 3..2 calibration
//!         confidence (v1.3; reserved before), bits 1..0 reserved
//! byte 1  transmit power in dBm, signed
//! byte 2  reserved
//! byte 3  reserved
//! ```
//! Decoding ignores the reserved bits, as the specification asks of receivers; encoding
//! writes them as zero.

use thiserror::Error;

/// The only major version this code understands (binary `01`).
pub const SUPPORTED_MAJOR_VERSION: u8 = 1;

/// Plausible transmit powers, in dBm. GAEN's matcher drops sightings outside this range.
pub const PLAUSIBLE_TX_POWER_DBM: std::ops::RangeInclusive<i8> = -50..=20;

/// Metadata that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// The major version is not 1: a future format this code cannot read.
    #[error("unsupported metadata major version {0}")]
    UnsupportedMajorVersion(u8),
    /// A version field that does not fit its 2 bits.
    #[error("metadata version {major}.{minor} does not fit in 2 bits per field")]
    VersionOutOfRange {
        /// Major version given.
        major: u8,
        /// Minor version given.
        minor: u8,
    },
}

/// How much to trust the transmit power a phone reports (its calibration data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum CalibrationConfidence {
    /// No calibration data for the model: the fleet-wide default.
    #[default]
    Lowest = 0,
    /// An average for the manufacturer.
    Low = 1,
    /// A similar model, or one antenna orientation.
    Medium = 2,
    /// Significant measurements of this model.
    High = 3,
}

impl CalibrationConfidence {
    const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Self::Lowest,
            1 => Self::Low,
            2 => Self::Medium,
            _ => Self::High,
        }
    }
}

/// Decoded Bluetooth metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Metadata {
    /// Major version (2 bits); only 1 is defined.
    pub major_version: u8,
    /// Minor version (2 bits).
    pub minor_version: u8,
    /// Calibration confidence (bits 3..2 of the version byte).
    pub calibration_confidence: CalibrationConfidence,
    /// Calibrated transmit power in dBm.
    pub tx_power_dbm: i8,
}

impl Metadata {
    /// Version 1.0 metadata with the given transmit power.
    #[must_use]
    pub const fn v1_0(tx_power_dbm: i8) -> Self {
        Self {
            major_version: 1,
            minor_version: 0,
            calibration_confidence: CalibrationConfidence::Lowest,
            tx_power_dbm,
        }
    }

    /// Encodes the 4 bytes.
    ///
    /// # Errors
    /// [`MetadataError::VersionOutOfRange`] when a version does not fit its 2 bits.
    pub const fn to_bytes(&self) -> Result<[u8; 4], MetadataError> {
        if self.major_version > 3 || self.minor_version > 3 {
            return Err(MetadataError::VersionOutOfRange {
                major: self.major_version,
                minor: self.minor_version,
            });
        }
        let version = (self.major_version << 6)
            | (self.minor_version << 4)
            | ((self.calibration_confidence as u8) << 2);
        Ok([version, self.tx_power_dbm.to_le_bytes()[0], 0, 0])
    }

    /// Decodes the 4 bytes, ignoring reserved bits.
    ///
    /// # Errors
    /// [`MetadataError::UnsupportedMajorVersion`] unless the major version is 1.
    pub const fn from_bytes(bytes: [u8; 4]) -> Result<Self, MetadataError> {
        let major = bytes[0] >> 6;
        if major != SUPPORTED_MAJOR_VERSION {
            return Err(MetadataError::UnsupportedMajorVersion(major));
        }
        Ok(Self {
            major_version: major,
            minor_version: (bytes[0] >> 4) & 0b11,
            calibration_confidence: CalibrationConfidence::from_bits(bytes[0] >> 2),
            tx_power_dbm: i8::from_le_bytes([bytes[1]]),
        })
    }

    /// Whether the transmit power is within what real phones send ([`PLAUSIBLE_TX_POWER_DBM`]).
    #[must_use]
    pub fn has_plausible_tx_power(&self) -> bool {
        PLAUSIBLE_TX_POWER_DBM.contains(&self.tx_power_dbm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_vector_metadata() {
        // GAEN test vectors: BLE_METADATA 40080000 = version 1.0, +8 dBm.
        let m = Metadata::from_bytes([0x40, 0x08, 0, 0]).unwrap();
        assert_eq!(m, Metadata::v1_0(8));
        assert_eq!(m.to_bytes().unwrap(), [0x40, 0x08, 0, 0]);
    }

    #[test]
    fn negative_power_and_confidence() {
        let m = Metadata::from_bytes([0x5c, 0xf1, 0, 0]).unwrap();
        assert_eq!(m.minor_version, 1);
        assert_eq!(m.calibration_confidence, CalibrationConfidence::High);
        assert_eq!(m.tx_power_dbm, -15);
        assert!(m.has_plausible_tx_power());
        assert!(!Metadata::v1_0(21).has_plausible_tx_power());
        assert!(!Metadata::v1_0(-51).has_plausible_tx_power());
    }

    #[test]
    fn rejects_unknown_major_versions() {
        for byte in [0x00, 0x80, 0xc0] {
            assert_eq!(
                Metadata::from_bytes([byte, 0, 0, 0]),
                Err(MetadataError::UnsupportedMajorVersion(byte >> 6))
            );
        }
        let bad = Metadata {
            major_version: 4,
            ..Metadata::v1_0(0)
        };
        assert!(matches!(
            bad.to_bytes(),
            Err(MetadataError::VersionOutOfRange { .. })
        ));
    }

    proptest! {
        #[test]
        fn decode_encode_keeps_every_meaningful_bit(bytes in any::<[u8; 4]>()) {
            match Metadata::from_bytes(bytes) {
                Ok(m) => {
                    let again = m.to_bytes().unwrap();
                    prop_assert_eq!(again[0], bytes[0] & 0xfc);
                    prop_assert_eq!(again[1], bytes[1]);
                    prop_assert_eq!(&again[2..], &[0, 0]);
                }
                Err(e) => prop_assert_eq!(e, MetadataError::UnsupportedMajorVersion(bytes[0] >> 6)),
            }
        }

        #[test]
        fn encode_decode_round_trips(minor in 0u8..4, conf in 0u8..4, tx in any::<i8>()) {
            let m = Metadata {
                major_version: 1,
                minor_version: minor,
                calibration_confidence: CalibrationConfidence::from_bits(conf),
                tx_power_dbm: tx,
            };
            prop_assert_eq!(Metadata::from_bytes(m.to_bytes().unwrap()).unwrap(), m);
        }
    }
}
