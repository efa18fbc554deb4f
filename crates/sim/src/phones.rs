//! Phones: how each model really transmits and receives (the simulator's hidden truth), and
//! the calibration table the app uses to correct for it, looked up model, then manufacturer,
//! then a global default, as GAEN's calibration tables are. The gap between the two is the
//! calibration error real deployments live with.
//!
//! The figures are illustrative, chosen to span the spread GAEN's published calibration
//! measured across models (about ±10 dB); they are not measurements of these models.

use bluezone_protocol::CalibrationConfidence;

/// One model's true radio behaviour and its calibration entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhoneProfile {
    /// Effective radiated power of its adverts, dBm (truth).
    pub tx_dbm: f64,
    /// What its receiver adds to the true power when it reports RSSI, dB (truth).
    pub rssi_offset_db: f64,
    /// The calibration table's transmit power for it, written into its metadata, dBm.
    pub calibrated_tx_dbm: i8,
    /// The calibration table's RSSI correction for it, dB.
    pub rssi_correction_db: i16,
    /// How much the table's entry is trusted.
    pub confidence: CalibrationConfidence,
    /// Which table entry was used: `model`, `manufacturer` or `default`.
    pub calibration_source: &'static str,
}

/// (model, true tx, true RSSI offset, table tx, table correction)
const MODELS: [(&str, f64, f64, i8, i16); 16] = [
    ("iPhone 11", -10.0, 0.0, -10, 0),
    ("iPhone 12", -9.0, 1.0, -9, -1),
    ("iPhone 13", -9.0, 0.0, -9, 0),
    ("iPhone SE", -12.0, -1.0, -12, 1),
    ("Samsung Galaxy A12", -14.0, -4.0, -13, 3),
    ("Samsung Galaxy A22", -12.0, -3.0, -12, 3),
    ("Samsung Galaxy A32", -11.0, -3.0, -11, 2),
    ("Samsung Galaxy A52", -10.0, -2.0, -10, 2),
    ("Xiaomi Redmi 9", -16.0, -6.0, -15, 5),
    ("Xiaomi Redmi Note 10", -13.0, -5.0, -14, 5),
    ("Oppo A15", -17.0, -7.0, -15, 6),
    ("Oppo A54", -14.0, -5.0, -14, 5),
    ("Vivo Y20", -15.0, -6.0, -16, 6),
    ("Realme C25", -15.0, -5.0, -15, 4),
    ("Nokia G10", -13.0, -4.0, -12, 4),
    ("Google Pixel 4", -11.0, -2.0, -11, 2),
];

/// (manufacturer prefix, table tx, table correction): the fallback for unlisted models.
const MANUFACTURERS: [(&str, i8, i16); 7] = [
    ("iPhone", -10, 0),
    ("Samsung", -11, 3),
    ("Xiaomi", -14, 5),
    ("Oppo", -15, 5),
    ("Vivo", -15, 6),
    ("Realme", -15, 4),
    ("Nokia", -12, 4),
];

/// The true behaviour assumed for a model the simulator does not know.
const UNKNOWN_TRUTH: (f64, f64) = (-13.0, -4.0);

/// The global calibration default (the engine's own default transmit power, no correction).
const DEFAULT_CALIBRATION: (i8, i16) = (-15, 0);

/// The profile of `model`.
#[must_use]
pub fn profile(model: &str) -> PhoneProfile {
    if let Some((_, tx, offset, table_tx, corr)) =
        MODELS.iter().find(|m| m.0.eq_ignore_ascii_case(model))
    {
        return PhoneProfile {
            tx_dbm: *tx,
            rssi_offset_db: *offset,
            calibrated_tx_dbm: *table_tx,
            rssi_correction_db: *corr,
            confidence: CalibrationConfidence::High,
            calibration_source: "model",
        };
    }
    let (tx_dbm, rssi_offset_db) = UNKNOWN_TRUTH;
    let lower = model.to_ascii_lowercase();
    if let Some((_, table_tx, corr)) = MANUFACTURERS
        .iter()
        .find(|m| lower.starts_with(&m.0.to_ascii_lowercase()))
    {
        return PhoneProfile {
            tx_dbm,
            rssi_offset_db,
            calibrated_tx_dbm: *table_tx,
            rssi_correction_db: *corr,
            confidence: CalibrationConfidence::Medium,
            calibration_source: "manufacturer",
        };
    }
    PhoneProfile {
        tx_dbm,
        rssi_offset_db,
        calibrated_tx_dbm: DEFAULT_CALIBRATION.0,
        rssi_correction_db: DEFAULT_CALIBRATION.1,
        confidence: CalibrationConfidence::Lowest,
        calibration_source: "default",
    }
}

/// The strongest true transmit power and the most generous receiver offset of any known
/// model (they bound the radio range).
#[must_use]
pub fn extremes() -> (f64, f64) {
    MODELS
        .iter()
        .fold((UNKNOWN_TRUTH.0, UNKNOWN_TRUTH.1), |(tx, off), m| {
            (tx.max(m.1), off.max(m.2))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_falls_back_from_model_to_manufacturer_to_default() {
        let known = profile("samsung galaxy a52");
        assert_eq!(known.calibration_source, "model");
        assert_eq!(known.calibrated_tx_dbm, -10);
        let family = profile("Samsung Galaxy S23");
        assert_eq!(family.calibration_source, "manufacturer");
        assert_eq!(family.rssi_correction_db, 3);
        let stranger = profile("Bphone B86");
        assert_eq!(stranger.calibration_source, "default");
        assert_eq!(stranger.calibrated_tx_dbm, -15);
        assert_eq!(stranger.confidence, CalibrationConfidence::Lowest);
    }

    #[test]
    fn table_entries_correct_the_truth_to_within_two_db() {
        // Attenuation error of a pair = (table tx − true tx) + (−offset − correction) terms.
        for (name, tx, offset, table_tx, corr) in MODELS {
            assert!((f64::from(table_tx) - tx).abs() <= 2.0, "{name}");
            assert!((offset + f64::from(corr)).abs() <= 2.0, "{name}");
        }
        let (tx, off) = extremes();
        assert_eq!((tx, off), (-9.0, 1.0));
    }
}
