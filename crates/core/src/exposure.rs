//! Exposure state: the stored form of exposure windows, and what the shell is told.
//!
//! Windows are stored sealed in the store's exposures table, under the day of the exposure,
//! so retention removes them with the rest of that day. Each carries an 8-byte fingerprint of
//! its key and start, so the same exposure delivered by two files counts once; the key
//! itself is not stored, and the shell never learns which key matched.
//!
//! The matching pipeline (key files against the stored sightings) is in `matching`.

pub(crate) mod matching;

pub(crate) use matching::OnRefusal;

use bluezone_protocol::keyfile::ReportType;
use bluezone_protocol::matching::MatchedScan;
use bluezone_protocol::risk::{ExposureWindow, Infectiousness};
use bluezone_protocol::{CalibrationConfidence, DayNumber};
use sha2::{Digest, Sha256};
use thiserror::Error;

const RECORD_VERSION: u8 = 1;
const SCAN_LEN: usize = 12;

/// A stored exposure window that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("stored exposure window is malformed")]
pub struct ExposureRecordError;

/// An exposure window with the fingerprint that identifies it across files.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredWindow {
    /// SHA-256 of the key and the window's first scan time, first 8 bytes.
    pub fingerprint: [u8; 8],
    /// The window.
    pub window: ExposureWindow,
}

/// The fingerprint of a window of `key_data` starting at `first_scan`.
#[must_use]
pub fn fingerprint(key_data: &[u8; 16], first_scan: i64) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(b"bluezone/exposure-window/v1")
        .chain_update(key_data)
        .chain_update(first_scan.to_le_bytes())
        .finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

impl StoredWindow {
    /// The stored form.
    #[must_use]
    pub fn to_record(&self) -> Vec<u8> {
        let w = &self.window;
        let mut out = Vec::with_capacity(16 + w.scans.len() * SCAN_LEN);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&w.day.get().to_le_bytes());
        out.push(w.report_type as u8);
        out.push(match w.infectiousness {
            Infectiousness::None => 0,
            Infectiousness::Standard => 1,
            Infectiousness::High => 2,
        });
        out.push(w.transmission_risk);
        out.push(w.calibration_confidence as u8);
        out.extend_from_slice(
            &u32::try_from(w.scans.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for s in &w.scans {
            out.extend_from_slice(&s.time.to_le_bytes()[..6]);
            out.extend_from_slice(
                &u16::try_from(s.seconds_since_last_scan)
                    .unwrap_or(u16::MAX)
                    .to_le_bytes(),
            );
            out.push(s.typical_attenuation_db);
            out.push(s.min_attenuation_db);
            out.extend_from_slice(&[0, 0]);
        }
        out
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`ExposureRecordError`] for anything malformed.
    pub fn from_record(bytes: &[u8]) -> Result<Self, ExposureRecordError> {
        let e = ExposureRecordError;
        let head = bytes.get(..21).ok_or(e)?;
        if head[0] != RECORD_VERSION {
            return Err(e);
        }
        let fingerprint: [u8; 8] = head[1..9].try_into().map_err(|_| e)?;
        let day = u32::from_le_bytes(head[9..13].try_into().map_err(|_| e)?);
        let report_type = ReportType::from_i32(i32::from(head[13])).ok_or(e)?;
        let infectiousness = match head[14] {
            0 => Infectiousness::None,
            1 => Infectiousness::Standard,
            2 => Infectiousness::High,
            _ => return Err(e),
        };
        let transmission_risk = head[15];
        let calibration_confidence = match head[16] {
            0 => CalibrationConfidence::Lowest,
            1 => CalibrationConfidence::Low,
            2 => CalibrationConfidence::Medium,
            3 => CalibrationConfidence::High,
            _ => return Err(e),
        };
        let count = usize::try_from(u32::from_le_bytes(head[17..21].try_into().map_err(|_| e)?))
            .map_err(|_| e)?;
        let body = &bytes[21..];
        if body.len() != count.checked_mul(SCAN_LEN).ok_or(e)? {
            return Err(e);
        }
        let scans = body
            .chunks_exact(SCAN_LEN)
            .map(|c| {
                let mut time = [0u8; 8];
                time[..6].copy_from_slice(&c[..6]);
                MatchedScan {
                    time: i64::from_le_bytes(time),
                    seconds_since_last_scan: u32::from(u16::from_le_bytes([c[6], c[7]])),
                    typical_attenuation_db: c[8],
                    min_attenuation_db: c[9],
                }
            })
            .collect();
        Ok(Self {
            fingerprint,
            window: ExposureWindow {
                day: DayNumber::new(day),
                report_type,
                infectiousness,
                transmission_risk,
                calibration_confidence,
                scans,
            },
        })
    }
}

/// One day of exposure, as the shell may show it (no key, no place, no identifier).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExposureDay {
    /// The UTC day.
    pub day: DayNumber,
    /// The day's risk score (weighted seconds with the default weights).
    pub score: f64,
    /// Minutes of exposure, weighted by attenuation.
    pub weighted_minutes: f64,
    /// Whether this day reached the notification threshold.
    pub over_threshold: bool,
}

/// What the shell needs to notify, and nothing more.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExposureStatus {
    /// Tell the user they were exposed.
    pub notify: bool,
    /// `notify` became true with this call: post the notification now.
    pub newly_notified: bool,
    /// The most recent day that reached the threshold.
    pub exposure_day: Option<DayNumber>,
    /// Every day with a counting exposure, oldest first.
    pub days: Vec<ExposureDay>,
    /// Key files verified and matched by this call.
    pub files_matched: u32,
    /// Key files skipped because they had been matched before.
    pub files_already_matched: u32,
    /// Diagnosis keys checked by this call.
    pub keys_checked: u64,
    /// Key files this download call could not process (not served, or refused); each is
    /// retried later (see [`crate::Diagnostics::failing_key_files`]).
    pub files_failed: u32,
    /// Unprocessed key files listed by the server that this download call did not reach
    /// (its batch was full): when above zero, call [`crate::Tracer::download_key_files`]
    /// again at once. Failing files waiting for their retry are not counted.
    pub files_remaining: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_records_round_trip_and_refuse_garbage() {
        let stored = StoredWindow {
            fingerprint: fingerprint(&[3; 16], 1_793_000_000),
            window: ExposureWindow {
                day: DayNumber::new(20_750),
                report_type: ReportType::ConfirmedTest,
                infectiousness: Infectiousness::High,
                transmission_risk: 4,
                calibration_confidence: CalibrationConfidence::Medium,
                scans: vec![
                    MatchedScan {
                        time: 1_793_000_000,
                        seconds_since_last_scan: 300,
                        typical_attenuation_db: 48,
                        min_attenuation_db: 41,
                    },
                    MatchedScan {
                        time: 1_793_000_300,
                        seconds_since_last_scan: 120,
                        typical_attenuation_db: 255,
                        min_attenuation_db: 0,
                    },
                ],
            },
        };
        let record = stored.to_record();
        assert_eq!(StoredWindow::from_record(&record), Ok(stored));
        for cut in 0..record.len() {
            assert!(StoredWindow::from_record(&record[..cut]).is_err());
        }
        let mut bad = record.clone();
        bad[0] = 9;
        assert!(StoredWindow::from_record(&bad).is_err());
        assert_ne!(fingerprint(&[3; 16], 1), fingerprint(&[3; 16], 2));
        assert_ne!(fingerprint(&[3; 16], 1), fingerprint(&[4; 16], 1));
    }
}
