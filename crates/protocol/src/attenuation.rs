//! Attenuation, GAEN's measure of how much signal a sighting lost on its way: the sender's
//! transmit power (from its encrypted metadata) minus the RSSI the receiver measured plus the
//! receiver model's RSSI correction (from the calibration table). The matcher, the simulator
//! and the desktop scanner all compute it here.

/// Attenuation in dB: `tx_power_dbm − (rssi_dbm + rssi_correction_db)`.
///
/// `tx_power_dbm` is the sender's transmit power (from its metadata, or an advertised TX power
/// level), `rssi_dbm` what the receiver measured, and `rssi_correction_db` the receiver
/// model's RSSI correction from the calibration table (0 when none applies). The difference is
/// computed without overflow for any inputs and saturates to GAEN's unsigned byte: a signal
/// received stronger than it was sent (a miscalibration, or phones touching) gives 0, and
/// anything beyond 255 dB gives 255.
#[must_use]
#[inline]
pub fn attenuation_db(tx_power_dbm: i16, rssi_dbm: i16, rssi_correction_db: i16) -> u8 {
    let db = i32::from(tx_power_dbm) - (i32::from(rssi_dbm) + i32::from(rssi_correction_db));
    u8::try_from(db.clamp(0, i32::from(u8::MAX))).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::attenuation_db;

    #[test]
    fn attenuation_is_tx_power_minus_corrected_rssi() {
        // Matching's own example: −10 dBm sent, −60 dBm heard, a +3 dB correction.
        assert_eq!(attenuation_db(-10, -60, 3), 47);
        assert_eq!(attenuation_db(-8, -61, 0), 53);
        assert_eq!(attenuation_db(0, -100, -5), 105);
        // A negative correction raises the attenuation, a positive one lowers it.
        assert_eq!(attenuation_db(-20, -70, -4), 54);
        assert_eq!(attenuation_db(-20, -70, 4), 46);
    }

    #[test]
    fn attenuation_saturates_at_both_ends_without_overflow() {
        // Heard stronger than sent: 0, not a negative number.
        assert_eq!(attenuation_db(-20, -10, 0), 0);
        assert_eq!(attenuation_db(-20, -20, 0), 0);
        assert_eq!(attenuation_db(-20, -21, 0), 1);
        // Beyond a byte: 255.
        assert_eq!(attenuation_db(20, -250, 0), 255);
        assert_eq!(attenuation_db(20, -235, 0), 255);
        assert_eq!(attenuation_db(20, -234, 0), 254);
        // The extremes of i16 never overflow.
        assert_eq!(attenuation_db(i16::MAX, i16::MIN, i16::MIN), 255);
        assert_eq!(attenuation_db(i16::MIN, i16::MAX, i16::MAX), 0);
    }
}
