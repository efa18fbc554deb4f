//! Diagnosis keys as a health authority publishes them, the adverts a phone with a given key
//! sends, and signed key files.

use bluezone_protocol::keyfile::{
    DiagnosisKey, ExportInfo, KeyFileSigner, ReportType, write_key_file,
};
use bluezone_protocol::{
    Advertisement, IntervalNumber, Metadata, RollingPeriod, TemporaryExposureKey,
};

/// The advert a GAEN phone whose key is `tek` sends at Unix second `t` (metadata: version
/// 1.0, −15 dBm).
///
/// # Panics
/// If `t` is before 1970 or past the interval counter's range.
#[must_use]
pub fn advert(tek: &TemporaryExposureKey, t: i64) -> Advertisement {
    let keys = tek.derive_keys();
    let interval = IntervalNumber::from_unix_seconds(t).expect("a time the counter covers");
    let rpi = keys.rpik.identifier(interval);
    let metadata = Metadata::v1_0(-15)
        .to_bytes()
        .expect("v1.0 metadata encodes");
    let aem = keys.aemk.encrypt(&rpi, metadata);
    Advertisement { rpi, aem }
}

/// `tek` published as a confirmed test's key for the whole UTC day holding Unix second `t`,
/// one day after symptom onset, transmission risk not given. Change a field with struct
/// update syntax: `DiagnosisKey { days_since_onset: None, ..confirmed(&tek, t) }`.
///
/// # Panics
/// If `t` is before 1970 or past the interval counter's range.
#[must_use]
pub fn confirmed(tek: &TemporaryExposureKey, t: i64) -> DiagnosisKey {
    DiagnosisKey {
        key_data: *tek.expose_bytes(),
        rolling_start: IntervalNumber::from_unix_seconds(t)
            .expect("a time the counter covers")
            .rolling_start(),
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: 0,
        report_type: ReportType::ConfirmedTest,
        days_since_onset: Some(1),
    }
}

/// A key file for the hour starting at Unix second `start`, region `452`, signed by `signer`.
///
/// # Panics
/// If the keys cannot be written (more than a file holds, or a negative `start`).
#[must_use]
pub fn key_file(start: i64, keys: &[DiagnosisKey], signer: &KeyFileSigner) -> Vec<u8> {
    write_key_file(&export_info(start), keys, signer).expect("the keys fit in a file")
}

/// The header of [`key_file`]: the hour starting at Unix second `start`, region `452`,
/// batch 1 of 1.
///
/// # Panics
/// If `start` is before 1970.
#[must_use]
pub fn export_info(start: i64) -> ExportInfo {
    let start = u64::try_from(start).expect("a time after 1970");
    ExportInfo {
        start_timestamp: start,
        end_timestamp: start + 3600,
        region: "452".into(),
        batch_num: 1,
        batch_size: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::{test_signer, trusting};
    use bluezone_protocol::keyfile::{KeyFileLimits, read_key_file};

    #[test]
    fn a_written_file_reads_back_with_its_key_for_the_day() {
        let tek = TemporaryExposureKey::from_bytes([9; 16]);
        let t = crate::MORNING;
        let key = confirmed(&tek, t);
        assert_eq!(key.rolling_start.get() % 144, 0);
        assert!(key.rolling_start.get() * 600 <= u32::try_from(t).unwrap_or(0));
        let file = key_file(t, &[key], &test_signer());
        let read = read_key_file(&file, &trusting(&test_signer()), &KeyFileLimits::default())
            .expect("it verifies");
        assert_eq!(read.keys, vec![key]);
        let seen = advert(&tek, t);
        let rpi = tek
            .derive_keys()
            .rpik
            .identifier(IntervalNumber::from_unix_seconds(t).expect("in range"));
        assert_eq!(seen.rpi, rpi);
    }
}
