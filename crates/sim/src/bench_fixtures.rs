//! The benchmarks' fixtures, beside the [`history`](crate::history) they are made of, so that
//! `bluezone bench ingest` and `bluezone bench match` only parse arguments, time and print.
//!
//! Every benchmark history ends at the same fixed time ([`BENCH_UNTIL`]) so runs compare, and
//! every benchmark store is sealed under the same fixed key. `bench ingest` feeds its history
//! to a [`Tracer`] and to a baseline that seals one row per advert ([`raw_sighting_rows`]).
//! `bench match` gives one phone a history ([`MatchPhone`]), signs a key file of random keys
//! and of the contacts' real keys ([`published_keys`], [`key_file`]), compares processing it
//! with the bare crypto ([`crypto_bound`]) and checks the file's claim: every contact key
//! published was heard ([`heard_contact_keys`]) and matches ([`MatchPhone::matched_keys`]).

use std::sync::Arc;

use bluezone_core::{
    AdvertData, CoreError, ManualClock, MasterKey, SightingInput, StorageLocation, Tracer,
    TracerConfig,
};
use bluezone_protocol::keyfile::{
    DiagnosisKey, ExportInfo, KeyFileError, KeyFileLimits, KeyFileSigner, ReportType, TrustedKeys,
    read_key_file, write_key_file,
};
use bluezone_protocol::matching::{SightingIndex, match_keys};
use bluezone_protocol::{
    DayNumber, IntervalNumber, RollingPeriod, TemporaryExposureKey, TimeError,
};
use rand::{Rng, RngExt, SeedableRng};
use rayon::prelude::*;

use crate::history::{History, HistoryParams};

/// The end of every benchmark history: 2026-11-01 00:00 UTC (Unix seconds).
pub const BENCH_UNTIL: i64 = 1_793_491_200;

/// Contacts' real keys published in `bench match`'s key file, at most.
pub const REAL_KEYS: usize = 1_000;

/// Seconds after the history's end at which the key file's export window ends and the phone
/// processes it.
pub const PROCESSED_AFTER_S: i64 = 3_600;

/// Why a fixture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The phone's engine failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The key file could not be written or read back.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A time outside the GAEN time base.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The fixed signing key is not a P-256 key (never, in practice).
    #[error("the benchmark's signing key is invalid")]
    Signer,
}

/// A benchmark history: `days` days ending at [`BENCH_UNTIL`], `contacts_per_scan` phones
/// around at every scan, every draw from `seed`.
#[must_use]
pub const fn bench_history(days: u32, contacts_per_scan: u32, seed: u64) -> HistoryParams {
    HistoryParams {
        days,
        contacts_per_scan,
        seed,
        until: BENCH_UNTIL,
        quiet_nights: false,
    }
}

/// The key every benchmark store is sealed under (fixed: the benchmarks keep no secrets).
#[must_use]
pub fn bench_master_key() -> MasterKey {
    MasterKey::from_bytes([0x42; 32])
}

/// A benchmark phone's engine: `config` at `location` on `clock`, sealed under
/// [`bench_master_key`], its randomness drawn from `seed`.
///
/// # Errors
/// [`CoreError`] when the engine cannot open.
pub fn bench_tracer(
    config: TracerConfig,
    location: StorageLocation,
    clock: Arc<ManualClock>,
    seed: u64,
) -> Result<Tracer, CoreError> {
    Tracer::open_with(
        config,
        location,
        &bench_master_key(),
        clock,
        Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
    )
}

/// The signer of `bench match`'s key file: a fixed P-256 key, key id `452`, version `v1`.
///
/// # Errors
/// [`FixtureError::Signer`] if the fixed key were not a valid scalar.
pub fn bench_signer() -> Result<KeyFileSigner, FixtureError> {
    let key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).map_err(|_| FixtureError::Signer)?;
    Ok(KeyFileSigner::new("452", "v1", key))
}

/// The key-file limits of `bench match`'s phone: files of up to 10 million keys (the
/// defaults stop at 3 million).
#[must_use]
pub fn bench_key_file_limits() -> KeyFileLimits {
    KeyFileLimits {
        max_zip_bytes: 1 << 30,
        max_export_bytes: 1 << 30,
        max_keys: 10_000_000,
        ..KeyFileLimits::default()
    }
}

/// The phone `bench match` processes its key file on: an in-memory engine trusting the
/// benchmark's signer, its clock at the start of the history.
pub struct MatchPhone {
    /// Its engine.
    pub tracer: Tracer,
    /// Its clock (fill the history with it, then set it to the processing time).
    pub clock: Arc<ManualClock>,
    /// Its configuration (the matcher's settings, the trusted signer, retention).
    pub config: TracerConfig,
}

impl MatchPhone {
    /// Opens the phone for `params`' history (the history is not filled yet: see
    /// [`crate::history::fill_history`]). It reads key files within
    /// [`bench_key_file_limits`].
    ///
    /// # Errors
    /// [`CoreError`] when the engine cannot open.
    pub fn open(params: &HistoryParams, signer: &KeyFileSigner) -> Result<Self, CoreError> {
        let clock = Arc::new(ManualClock::new(
            params.until - i64::from(params.days) * 86_400,
        ));
        let config = TracerConfig {
            trusted_signers: TrustedKeys::single(signer.trusted_key()),
            key_file_limits: bench_key_file_limits(),
            ..TracerConfig::default()
        };
        let tracer = bench_tracer(
            config.clone(),
            StorageLocation::InMemory,
            clock.clone(),
            params.seed,
        )?;
        Ok(Self {
            tracer,
            clock,
            config,
        })
    }

    /// How many keys of `file` the matcher finds in the phone's stored sightings on the day
    /// of `processed_at`: the same matcher, configuration and days as
    /// [`Tracer::process_key_file`], without scoring or storing anything.
    ///
    /// # Errors
    /// [`FixtureError`] when the sightings cannot be read or the file is refused.
    pub fn matched_keys(&self, file: &[u8], processed_at: i64) -> Result<usize, FixtureError> {
        let today = DayNumber::from_unix_seconds(processed_at)?;
        let first_kept = DayNumber::new(today.get().saturating_sub(self.config.retention_days));
        let index = SightingIndex::build(&self.tracer.sightings(first_kept, today)?);
        let verified = read_key_file(
            file,
            &self.config.trusted_signers,
            &self.config.key_file_limits,
        )?;
        Ok(match_keys(&index, &verified.keys, &self.config.matching).len())
    }
}

impl MatchPhone {
    /// [`MatchPhone::matched_keys`] by the streaming path the phone uses
    /// ([`TracerConfig::match_key_file`]): the file read, verified and matched in one pass.
    ///
    /// # Errors
    /// [`FixtureError`] when the sightings cannot be read or the file is refused.
    pub fn matched_keys_streamed(
        &self,
        file: &[u8],
        processed_at: i64,
    ) -> Result<usize, FixtureError> {
        let today = DayNumber::from_unix_seconds(processed_at)?;
        let first_kept = DayNumber::new(today.get().saturating_sub(self.config.retention_days));
        let index = SightingIndex::build(&self.tracer.sightings(first_kept, today)?);
        let matched = self.config.match_key_file(&index, file)?;
        Ok(matched.matches.len())
    }
}

/// `count` keys to publish for `params`' history: the first of its contacts' real keys (at
/// most [`REAL_KEYS`]), so that matching has something to find, then random keys spread
/// over the history's days (drawn from the history's seed). Returns the keys and how many
/// of them are contacts' keys.
///
/// # Errors
/// [`FixtureError::Time`] for a history ending before 1970.
pub fn published_keys(
    history: &History,
    params: &HistoryParams,
    count: usize,
) -> Result<(Vec<DiagnosisKey>, usize), FixtureError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(params.seed ^ 0xd1a9);
    let first_day = DayNumber::from_unix_seconds(params.until)?
        .get()
        .saturating_sub(params.days);
    let real = history.contact_keys.len().min(REAL_KEYS).min(count);
    let mut keys: Vec<DiagnosisKey> = history.contact_keys[..real]
        .iter()
        .map(|k| diagnosis_key(*k.tek.expose_bytes(), k.rolling_start))
        .collect();
    while keys.len() < count {
        let mut key_data = [0u8; 16];
        rng.fill_bytes(&mut key_data);
        let day = first_day + rng.random_range(0..params.days);
        keys.push(diagnosis_key(key_data, IntervalNumber::new(day * 144)));
    }
    Ok((keys, real))
}

/// A confirmed positive's key for a full day, onset on the day.
fn diagnosis_key(key_data: [u8; 16], rolling_start: IntervalNumber) -> DiagnosisKey {
    DiagnosisKey {
        key_data,
        rolling_start,
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: 0,
        report_type: ReportType::ConfirmedTest,
        days_since_onset: Some(0),
    }
}

/// `keys` signed by `signer` into one key file exported for the [`PROCESSED_AFTER_S`] after
/// `params`' history (region `452`, batch 1 of 1).
///
/// # Errors
/// [`FixtureError::KeyFile`] when the file cannot be written, [`FixtureError::Time`] for a
/// history ending before 1970.
pub fn key_file(
    keys: &[DiagnosisKey],
    params: &HistoryParams,
    signer: &KeyFileSigner,
) -> Result<Vec<u8>, FixtureError> {
    let unix = |t: i64| u64::try_from(t).map_err(|_| TimeError::BeforeEpoch(t));
    let info = ExportInfo {
        start_timestamp: unix(params.until)?,
        end_timestamp: unix(params.until + PROCESSED_AFTER_S)?,
        region: "452".into(),
        batch_num: 1,
        batch_size: 1,
    };
    Ok(write_key_file(&info, keys, signer)?)
}

/// How many of the first `published` contact keys of `history` it really heard: re-derived
/// from the RPIs heard, not taken from the generator's word.
#[must_use]
pub fn heard_contact_keys(history: &History, published: usize) -> usize {
    history.contact_keys[..published.min(history.contact_keys.len())]
        .iter()
        .filter(|k| {
            k.tek
                .rpi_key()
                .daily_identifiers(k.rolling_start)
                .iter()
                .any(|rpi| history.rpis.binary_search(rpi).is_ok())
        })
        .count()
}

/// What [`crypto_bound`] works on: each key's bytes and first interval.
#[must_use]
pub fn crypto_inputs(keys: &[DiagnosisKey]) -> Vec<([u8; 16], IntervalNumber)> {
    keys.iter().map(|k| (k.key_data, k.rolling_start)).collect()
}

/// The bound key-file processing is compared with: for every key one HKDF and its 144 RPIs
/// in one batched AES call, nothing else, in parallel on the current rayon pool. Returns a
/// checksum of the last RPIs so that none of the work can be left out.
#[must_use]
pub fn crypto_bound(keys: &[([u8; 16], IntervalNumber)]) -> u8 {
    keys.par_iter()
        .map_init(
            || [[0u8; 16]; bluezone_protocol::time::TEK_ROLLING_PERIOD as usize],
            |blocks, (k, start)| {
                TemporaryExposureKey::from_bytes(*k)
                    .rpi_key()
                    .daily_identifiers_in_place(*start, blocks);
                blocks[143][0]
            },
        )
        .reduce(|| 0u8, |a, b| a ^ b)
}

/// The baseline of `bench ingest`: what an app that stores raw sightings keeps, one row per
/// decoded advert (RPI, AEM, RSSI little-endian, Unix time little-endian: 30 bytes) with the
/// day it belongs to. Replaces `rows`' contents (reused between scans).
///
/// # Errors
/// [`TimeError`] for a sighting before 1970.
pub fn raw_sighting_rows(
    sightings: &[SightingInput],
    rows: &mut Vec<(DayNumber, Vec<u8>)>,
) -> Result<(), TimeError> {
    rows.clear();
    let mut row = Vec::with_capacity(30);
    for s in sightings {
        let AdvertData::Decoded(ad) = &s.advert else {
            continue;
        };
        row.clear();
        row.extend_from_slice(ad.rpi.as_bytes());
        row.extend_from_slice(ad.aem.as_bytes());
        row.extend_from_slice(&s.rssi.to_le_bytes());
        row.extend_from_slice(&s.time.to_le_bytes());
        rows.push((DayNumber::from_unix_seconds(s.time)?, row.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use bluezone_protocol::Advertisement;

    use super::*;
    use crate::history::fill_history;

    /// A one-day history on a match phone, and the keys and file published for it.
    #[test]
    fn the_key_file_publishes_heard_contact_keys_then_random_ones() {
        let params = bench_history(1, 5, 3);
        let signer = bench_signer().unwrap();
        let phone = MatchPhone::open(&params, &signer).unwrap();
        let history = fill_history(&phone.tracer, &phone.clock, &params).unwrap();
        let (keys, real) = published_keys(&history, &params, 200).unwrap();
        assert_eq!(keys.len(), 200);
        assert_eq!(real, history.contact_keys.len().min(REAL_KEYS));
        assert!(real > 5 && real < 200, "{real}");
        let first_day = IntervalNumber::new(u32::try_from(BENCH_UNTIL / 600).unwrap() - 144);
        assert!(
            keys[real..].iter().all(
                |k| k.rolling_start == first_day && k.rolling_period == RollingPeriod::FULL_DAY
            )
        );
        // The same seed gives the same keys.
        assert_eq!(published_keys(&history, &params, 200).unwrap().0, keys);
        assert_eq!(heard_contact_keys(&history, real), real);

        let file = key_file(&keys, &params, &signer).unwrap();
        let matched = phone
            .matched_keys(&file, params.until + PROCESSED_AFTER_S)
            .unwrap();
        assert_eq!(matched, real);
        // The crypto bound's checksum covers every key's last RPI.
        let expected = keys.iter().fold(0u8, |x, k| {
            let tek = TemporaryExposureKey::from_bytes(k.key_data);
            x ^ tek
                .rpi_key()
                .identifier(k.rolling_start.wrapping_add(143))
                .0[0]
        });
        assert_eq!(crypto_bound(&crypto_inputs(&keys)), expected);
    }

    #[test]
    fn the_baseline_keeps_one_row_per_decoded_advert() {
        let tek = TemporaryExposureKey::from_bytes([7; 16]);
        let keys = tek.derive_keys();
        let interval = IntervalNumber::from_unix_seconds(BENCH_UNTIL).unwrap();
        let rpi = keys.rpik.identifier(interval);
        let advert = Advertisement {
            rpi,
            aem: keys.aemk.encrypt(&rpi, [0x40, 0xf1, 0, 0]),
        };
        let heard = |advert, time| SightingInput {
            advert,
            rssi: -60,
            time,
            scan_window: None,
        };
        let sightings = [
            heard(AdvertData::Decoded(advert), BENCH_UNTIL - 1),
            heard(AdvertData::Raw(vec![2, 1, 6]), BENCH_UNTIL),
            heard(AdvertData::Decoded(advert), BENCH_UNTIL),
        ];
        let mut rows = vec![(DayNumber::new(1), vec![1])];
        raw_sighting_rows(&sightings, &mut rows).unwrap();
        let day = DayNumber::from_unix_seconds(BENCH_UNTIL).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0.get() + 1, day.get());
        assert_eq!(rows[1].0, day);
        let row = &rows[1].1;
        assert_eq!(row.len(), 30);
        assert_eq!(&row[..16], rpi.as_bytes());
        assert_eq!(&row[20..22], &(-60i16).to_le_bytes());
        assert_eq!(&row[22..], &BENCH_UNTIL.to_le_bytes());
    }
}
