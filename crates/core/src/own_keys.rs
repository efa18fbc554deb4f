//! The phone's own Temporary Exposure Keys: one per rolling period, kept for the retention
//! period, stored sealed. This module holds the record format and the choice of the key in
//! force at an interval; the engine persists a new key before it broadcasts anything from it.

use bluezone_protocol::keys::TEK_LEN;
use bluezone_protocol::{IntervalNumber, RollingPeriod, TemporaryExposureKey};
use thiserror::Error;

/// Version byte of the stored own-key record.
const RECORD_VERSION: u8 = 1;
/// Length of the stored own-key record.
const RECORD_LEN: usize = 1 + TEK_LEN + 4 + 1;

/// A stored own-key record that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("stored own key record is malformed")]
pub struct OwnKeyRecordError;

/// One of the phone's own keys and the intervals it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnKey {
    /// The secret key.
    pub tek: TemporaryExposureKey,
    /// First interval it is valid for (UTC midnight for keys made by the engine).
    pub rolling_start: IntervalNumber,
    /// How many intervals it is valid for.
    pub rolling_period: RollingPeriod,
}

impl OwnKey {
    /// Whether `interval` falls inside this key's validity.
    #[must_use]
    pub fn covers(&self, interval: IntervalNumber) -> bool {
        interval >= self.rolling_start
            && u64::from(interval.get())
                < u64::from(self.rolling_start.get()) + u64::from(self.rolling_period.get())
    }

    /// The stored form: version, TEK, rolling start (u32 LE), rolling period (u8).
    #[must_use]
    pub fn to_record(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(RECORD_LEN));
        out.push(RECORD_VERSION);
        out.extend_from_slice(self.tek.expose_bytes());
        out.extend_from_slice(&self.rolling_start.get().to_le_bytes());
        out.push(u8::try_from(self.rolling_period.get()).unwrap_or(u8::MAX));
        out
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`OwnKeyRecordError`] for a wrong version, length or rolling period.
    pub fn from_record(bytes: &[u8]) -> Result<Self, OwnKeyRecordError> {
        if bytes.len() != RECORD_LEN || bytes[0] != RECORD_VERSION {
            return Err(OwnKeyRecordError);
        }
        let tek = TemporaryExposureKey::from_slice(&bytes[1..1 + TEK_LEN])
            .map_err(|_| OwnKeyRecordError)?;
        let start = u32::from_le_bytes(
            bytes[1 + TEK_LEN..5 + TEK_LEN]
                .try_into()
                .map_err(|_| OwnKeyRecordError)?,
        );
        let period =
            RollingPeriod::new(u32::from(bytes[RECORD_LEN - 1])).map_err(|_| OwnKeyRecordError)?;
        Ok(Self {
            tek,
            rolling_start: IntervalNumber::new(start),
            rolling_period: period,
        })
    }
}

/// The key in force at `interval`: the latest-created key that covers it.
#[must_use]
pub fn key_for(keys: &[OwnKey], interval: IntervalNumber) -> Option<&OwnKey> {
    keys.iter().rev().find(|k| k.covers(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(start: u32, period: u32, byte: u8) -> OwnKey {
        OwnKey {
            tek: TemporaryExposureKey::from_bytes([byte; 16]),
            rolling_start: IntervalNumber::new(start),
            rolling_period: RollingPeriod::new(period).unwrap(),
        }
    }

    #[test]
    fn record_round_trip_and_errors() {
        let k = key(2_642_976, 144, 7);
        let record = k.to_record();
        assert_eq!(record.len(), RECORD_LEN);
        assert_eq!(OwnKey::from_record(&record), Ok(k));
        assert_eq!(OwnKey::from_record(&record[1..]), Err(OwnKeyRecordError));
        let mut bad = record.to_vec();
        bad[0] = 2;
        assert_eq!(OwnKey::from_record(&bad), Err(OwnKeyRecordError));
        let mut bad = record.to_vec();
        bad[RECORD_LEN - 1] = 0;
        assert_eq!(OwnKey::from_record(&bad), Err(OwnKeyRecordError));
    }

    #[test]
    fn the_latest_covering_key_is_in_force() {
        let day = key(144, 144, 1);
        let released = key(144, 60, 2); // released early: covers 144..204
        let replacement = key(204, 84, 3);
        let keys = vec![day.clone(), released, replacement.clone()];
        assert_eq!(
            key_for(&keys, IntervalNumber::new(150))
                .unwrap()
                .tek
                .expose_bytes()[0],
            2
        );
        assert_eq!(key_for(&keys, IntervalNumber::new(204)), Some(&replacement));
        assert_eq!(key_for(&keys[..1], IntervalNumber::new(287)), Some(&day));
        assert_eq!(key_for(&keys, IntervalNumber::new(288)), None);
        assert_eq!(key_for(&keys, IntervalNumber::new(143)), None);
    }
}
