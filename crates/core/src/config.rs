//! The engine's settings, with documented defaults, and the check that they hang together.

use bluezone_protocol::keyfile::{KeyFileError, KeyFileLimits, TrustedKeys};
use bluezone_protocol::matching::{MatchConfig, MatchedKeyFile, SightingIndex, match_key_file};
use bluezone_protocol::risk::RiskConfig;
use bluezone_protocol::{CalibrationConfidence, Metadata};

use crate::chaff::ChaffSchedule;
use crate::error::CoreError;

/// How a [`crate::Tracer`] behaves. Every field has a default suited to a phone.
#[derive(Debug, Clone, PartialEq)]
pub struct TracerConfig {
    /// Calibrated transmit power of this phone model in dBm, written into the metadata
    /// (GAEN calibration table "tx" column). Default −15 dBm, the typical phone value.
    pub tx_power_dbm: i8,
    /// How much the calibration of `tx_power_dbm` can be trusted. Default `Lowest`.
    pub calibration_confidence: CalibrationConfidence,
    /// Days of own keys and sightings kept (GAEN: 14).
    pub retention_days: u32,
    /// Shortest time an RPI is advertised, in seconds (default 600: ten minutes).
    pub rotation_min_secs: u32,
    /// Longest time an RPI is advertised, in seconds (default 1200: twenty minutes). The next
    /// rotation is drawn uniformly between the two, so addresses never rotate in lockstep
    /// across phones and the shell can change its Bluetooth address at the same moment.
    pub rotation_max_secs: u32,
    /// Sightings more than this far in the future of the clock are refused (default 60 s).
    pub future_tolerance_secs: i64,
    /// Sightings older than this are refused (default 6 hours: shells hand over batches
    /// within minutes; anything older is a bug or a replay).
    pub max_sighting_age_secs: i64,
    /// Adverts of one RPI heard less than this far apart, without a scan-window id from the
    /// shell, belong to one scan (default 25 s: GAEN's 1.5 × 17 s, rounded down).
    pub scan_gap_secs: i64,
    /// A day's stored chunks are merged into one when they exceed this count (default 48).
    pub compact_after_chunks: usize,
    /// The keys trusted to sign diagnosis-key files (the health authority's). Default none:
    /// an app must configure its authority's key before it can process any file.
    pub trusted_signers: TrustedKeys,
    /// Size and count limits for key files (see [`KeyFileLimits`] for the defaults).
    pub key_file_limits: KeyFileLimits,
    /// Matching rules and this phone's RSSI correction (see [`MatchConfig`]).
    pub matching: MatchConfig,
    /// The risk model (see [`RiskConfig`]; the defaults are the Swiss parameters).
    pub risk: RiskConfig,
    /// The health authority's HPKE public key for uploads, pinned in the app. Default none:
    /// uploads are refused until it is configured.
    pub upload_public_key: Option<[u8; 32]>,
    /// Every upload request is padded to this many bytes before sealing (default 8,192), so
    /// its size does not tell how many keys it carries.
    pub upload_request_bytes: usize,
    /// Most key files fetched per download call (default 64; 0 counts as 1). When more are
    /// waiting, the call says how many ([`crate::ExposureStatus::files_remaining`]).
    pub max_files_per_download: usize,
    /// When fake upload sequences are sent (see [`ChaffSchedule`]; default one every three
    /// days on average). Only with [`TracerConfig::upload_public_key`] set.
    pub chaff: ChaffSchedule,
}

impl Default for TracerConfig {
    fn default() -> Self {
        Self {
            tx_power_dbm: -15,
            calibration_confidence: CalibrationConfidence::Lowest,
            retention_days: 14,
            rotation_min_secs: 600,
            rotation_max_secs: 1200,
            future_tolerance_secs: 60,
            max_sighting_age_secs: 6 * 3600,
            scan_gap_secs: 25,
            compact_after_chunks: 48,
            trusted_signers: TrustedKeys::default(),
            key_file_limits: KeyFileLimits::default(),
            matching: MatchConfig::default(),
            risk: RiskConfig::default(),
            upload_public_key: None,
            upload_request_bytes: 8192,
            max_files_per_download: 64,
            chaff: ChaffSchedule::default(),
        }
    }
}

impl TracerConfig {
    /// Reads, verifies and matches a key file against `index` in one pass
    /// ([`match_key_file`]) with this configuration's trusted signers, limits and matching
    /// rules: the phone's path.
    ///
    /// # Errors
    /// [`KeyFileError`] when the file is refused; nothing matched is returned then.
    pub fn match_key_file(
        &self,
        index: &SightingIndex,
        file: &[u8],
    ) -> Result<MatchedKeyFile, KeyFileError> {
        match_key_file(
            index,
            file,
            &self.trusted_signers,
            &self.key_file_limits,
            &self.matching,
        )
    }

    /// Checks that the settings hang together (rotation bounds, retention, positive gaps and
    /// counts, metadata that encodes).
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] naming the first inconsistency.
    pub(crate) fn validate(&self) -> Result<(), CoreError> {
        if self.rotation_min_secs < 600 {
            return Err(CoreError::InvalidConfig(
                "rotation_min_secs must be at least one interval (600 s)",
            ));
        }
        if self.rotation_max_secs < self.rotation_min_secs {
            return Err(CoreError::InvalidConfig(
                "rotation_max_secs must not be below rotation_min_secs",
            ));
        }
        if !(1..=30).contains(&self.retention_days) {
            return Err(CoreError::InvalidConfig("retention_days must be 1 to 30"));
        }
        if self.scan_gap_secs < 1 || self.max_sighting_age_secs < 1 {
            return Err(CoreError::InvalidConfig(
                "scan_gap_secs and max_sighting_age_secs must be positive",
            ));
        }
        if self.compact_after_chunks < 1 {
            return Err(CoreError::InvalidConfig(
                "compact_after_chunks must be positive",
            ));
        }
        self.metadata()?;
        Ok(())
    }

    /// The AEM plaintext this configuration advertises (GAEN metadata 1.1).
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] when the transmit power does not encode.
    pub(crate) fn metadata(&self) -> Result<[u8; 4], CoreError> {
        Metadata {
            major_version: 1,
            minor_version: 1,
            calibration_confidence: self.calibration_confidence,
            tx_power_dbm: self.tx_power_dbm,
        }
        .to_bytes()
        .map_err(|_| {
            CoreError::InvalidConfig("the GAEN metadata of this configuration does not encode")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_each_inconsistency_is_named() {
        assert!(TracerConfig::default().validate().is_ok());
        assert_eq!(
            TracerConfig::default().metadata().ok(),
            Some([0x50, 0xf1, 0, 0])
        );
        type Spoil = fn(&mut TracerConfig);
        let cases: [(Spoil, &str); 5] = [
            (|c| c.rotation_min_secs = 599, "rotation_min_secs"),
            (|c| c.rotation_max_secs = 599, "rotation_max_secs"),
            (|c| c.retention_days = 31, "retention_days"),
            (|c| c.scan_gap_secs = 0, "scan_gap_secs"),
            (|c| c.compact_after_chunks = 0, "compact_after_chunks"),
        ];
        for (spoil, named) in cases {
            let mut config = TracerConfig::default();
            spoil(&mut config);
            match config.validate() {
                Err(CoreError::InvalidConfig(text)) => assert!(text.contains(named), "{text}"),
                other => panic!("{named}: {other:?}"),
            }
        }
    }
}
