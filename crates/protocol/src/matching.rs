//! Matching published diagnosis keys against what the phone heard (GAEN Cryptography
//! Specification v1.2, "Matching"; the reference matcher in exposure-notifications-internals).
//!
//! The phone's stored sightings are decrypted once per run and indexed by
//! [`SightingIndex`]: every RPI heard, as a 128-bit number, in a sorted array with a prefix
//! table of up to 2^24 buckets sized to the number of RPIs (GAEN uses a fixed 65,536). In
//! front of it, two small tables that stay in the L2 cache: a one-bit filter of fixed size
//! (256 KB; 2 MB beyond 262,144 RPIs) that stops about 94% of the RPIs that were not heard
//! at 124,000 RPIs, then 16-bit fingerprints, one 64-byte line per bucket of 8 to 16 RPIs,
//! compared at once, that stop all but about 1 in 4,000 of the rest. Each diagnosis key
//! costs one HKDF and 144 AES blocks (in one batched call, into a buffer reused for every
//! key) plus 144 filter reads of one load each, made without a branch between them; the
//! AEMK is derived only for keys that match. Only a key's intervals from the first to the
//! last with anything heard within the validity window are derived and probed, and a key
//! with none costs nothing but that check. Keys are spread over
//! every core with rayon, from a slice ([`match_keys`]) or chunk by chunk while a key file
//! streams in ([`match_key_file`], decision 0025).
//!
//! A sighting counts only if it was heard within ±2 hours (12 intervals) of the interval its
//! RPI belongs to, and at most 20 minutes after the first valid sighting of that RPI (replays
//! of old identifiers, GAEN's truncation). Its metadata is decrypted for the transmit power;
//! powers outside −50..=20 dBm (and unknown metadata versions) drop the RPI's sightings.
//! Attenuation = transmit power − (RSSI + the receiver's RSSI correction)
//! ([`attenuation_db`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use crate::attenuation::attenuation_db;
use crate::identifiers::{AssociatedEncryptedMetadata, RollingProximityIdentifier};
use crate::keyfile::{
    DiagnosisKey, KEYS_PER_CHUNK, KeyChunk, KeyFileError, KeyFileLimits, StreamedKeyFile,
    TrustedKeys, stream_key_file,
};
use crate::keys::TemporaryExposureKey;
use crate::metadata::CalibrationConfidence;
use crate::sightings::DayChunk;
use crate::time::{DayNumber, INTERVAL_SECONDS, IntervalNumber, TEK_ROLLING_PERIOD};

mod filter;
mod heard;

use filter::{DailyBlocks, RpiFilter};
use heard::HeardIntervals;

/// How matching treats sightings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchConfig {
    /// A sighting counts within this many intervals of its RPI's interval (GAEN: 12, ±2 h).
    pub validity_intervals: u32,
    /// Sightings of one RPI later than this after its first valid sighting are dropped as
    /// suspected replays (GAEN: 1,200 s).
    pub replay_window_secs: i64,
    /// This phone model's RSSI correction in dB (calibration table), added to each RSSI.
    pub rssi_correction_db: i16,
    /// Keys processed per rayon task (and per chunk of a streamed key file).
    pub keys_per_task: usize,
}

impl Default for MatchConfig {
    fn default() -> Self {
        Self {
            validity_intervals: 12,
            replay_window_secs: 1200,
            rssi_correction_db: 0,
            keys_per_task: KEYS_PER_CHUNK,
        }
    }
}

/// One scan in which a matched RPI was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedScan {
    /// Unix time (seconds) the scan started.
    pub time: i64,
    /// GAEN `secondsSinceLastScan`: whole minutes since the previous scan ended, at most 5,
    /// in seconds (120 when there was no earlier scan).
    pub seconds_since_last_scan: u32,
    /// Attenuation of the typical (mean) RSSI, in dB.
    pub typical_attenuation_db: u8,
    /// Attenuation of the strongest RSSI, in dB.
    pub min_attenuation_db: u8,
}

/// Everything one diagnosis key matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMatch {
    /// The key that matched.
    pub key: DiagnosisKey,
    /// Calibration confidence of the sender, from its metadata.
    pub calibration_confidence: CalibrationConfidence,
    /// The scans it was heard in, by time.
    pub scans: Vec<MatchedScan>,
}

#[derive(Debug, Clone, Copy)]
struct GlobalScan {
    start: i64,
    previous_end: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    aem: AssociatedEncryptedMetadata,
    first_instance: u32,
    instances: u32,
}

#[derive(Debug, Clone, Copy)]
struct Instance {
    scan: u32,
    typical_rssi: i8,
    max_rssi: i8,
}

/// The phone's sightings, indexed for matching.
#[derive(Debug, Clone)]
pub struct SightingIndex {
    /// Sorted RPIs as little-endian 128-bit numbers (the machine's order on every platform we
    /// ship: no byte swap per lookup), parallel to `records`.
    rpis: Vec<u128>,
    records: Vec<Record>,
    instances: Vec<Instance>,
    scans: Vec<GlobalScan>,
    /// `prefix[b]..prefix[b + 1]` is the range of RPIs whose top `bits` bits are `b`.
    prefix: Vec<u32>,
    bits: u32,
    /// 16-bit fingerprints of the RPIs, one 64-byte line of 32 per bucket of their top
    /// `fingerprint_bits` bits (8 to 16 per line): one line read, compared at once, rejects
    /// all but about 1 in 4,000 RPIs that were not heard, from a table small enough to stay
    /// in the L2 cache (decision 0025).
    fingerprints: Vec<FingerprintLine>,
    /// A bitmap of 2^21 bits (2^24 beyond 2^18 RPIs): one bit read lets through about 6%
    /// of the RPIs that were not heard (at 124,000 RPIs), to the fingerprints.
    filter: RpiFilter,
    fingerprint_bits: u32,
    /// Buckets holding more than 32 RPIs: looked up in `prefix` whatever their line says.
    overflow: Vec<u64>,
    /// The intervals in which something was heard.
    heard: HeardIntervals,
}

impl SightingIndex {
    /// Indexes the sightings of some days (in any order).
    #[must_use]
    pub fn build(days: &[(DayNumber, DayChunk)]) -> Self {
        // All scans, in time order, each knowing when the one before it ended.
        let mut starts: Vec<(i64, i64)> = days
            .iter()
            .flat_map(|(_, c)| c.scans.iter().map(|s| (s.start, s.end)))
            .collect();
        starts.sort_unstable();
        starts.dedup();
        let scans: Vec<GlobalScan> = starts
            .iter()
            .enumerate()
            .map(|(i, &(start, _))| GlobalScan {
                start,
                previous_end: i.checked_sub(1).map(|p| starts[p].1),
            })
            .collect();
        let scan_index = |start: i64, end: i64| {
            starts
                .binary_search(&(start, end))
                .ok()
                .and_then(|i| u32::try_from(i).ok())
        };

        let mut entries: Vec<(u128, Record)> = Vec::new();
        let mut instances: Vec<Instance> = Vec::new();
        for (_, chunk) in days {
            let local: Vec<Option<u32>> = chunk
                .scans
                .iter()
                .map(|s| scan_index(s.start, s.end))
                .collect();
            for record in &chunk.records {
                let first = u32::try_from(instances.len()).unwrap_or(u32::MAX);
                for inst in &record.instances {
                    if let Some(Some(scan)) = local.get(inst.scan as usize) {
                        instances.push(Instance {
                            scan: *scan,
                            typical_rssi: inst.typical_rssi,
                            max_rssi: inst.max_rssi,
                        });
                    }
                }
                let count = u32::try_from(instances.len()).unwrap_or(u32::MAX) - first;
                if count > 0 {
                    entries.push((
                        u128::from_le_bytes(record.rpi.0),
                        Record {
                            aem: record.aem,
                            first_instance: first,
                            instances: count,
                        },
                    ));
                }
            }
        }
        entries.par_sort_unstable_by_key(|(rpi, _)| *rpi);
        let n = entries.len().max(1);
        let bits = (usize::BITS - n.leading_zeros() + 1).clamp(16, 24);
        let mut prefix = vec![0u32; (1usize << bits) + 1];
        for (rpi, _) in &entries {
            prefix[bucket(*rpi, bits) + 1] += 1;
        }
        for b in 1..prefix.len() {
            prefix[b] += prefix[b - 1];
        }
        // 8 to 16 RPIs per 32-slot line on average (2^(⌊log2 n⌋ - 3) lines, 4 KB to 64 MB:
        // 512 KB for 125,000 RPIs), so that the table stays in the L2 cache.
        let fingerprint_bits = (usize::BITS - n.leading_zeros())
            .saturating_sub(4)
            .clamp(6, 20);
        let filter = RpiFilter::build(entries.iter().map(|(rpi, _)| *rpi), entries.len());
        let mut fingerprints = vec![FingerprintLine([0; 32]); 1usize << fingerprint_bits];
        let mut overflow = vec![0u64; (1usize << fingerprint_bits).div_ceil(64)];
        for (rpi, _) in &entries {
            let b = bucket(*rpi, fingerprint_bits);
            let line = &mut fingerprints[b].0;
            match line.iter_mut().find(|f| **f == 0) {
                Some(slot) => *slot = fingerprint(*rpi),
                None => overflow[b >> 6] |= 1 << (b & 63),
            }
        }
        Self {
            fingerprints,
            fingerprint_bits,
            filter,
            overflow,
            heard: HeardIntervals::build(instances.iter().map(|i| scans[i.scan as usize].start)),
            rpis: entries.iter().map(|(rpi, _)| *rpi).collect(),
            records: entries.into_iter().map(|(_, r)| r).collect(),
            instances,
            scans,
            prefix,
            bits,
        }
    }

    /// Number of distinct (RPI, day) records indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rpis.len()
    }

    /// Whether nothing was heard.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rpis.is_empty()
    }

    /// Indices of the records of `rpi` (usually none, at most one per day).
    #[inline]
    #[cfg(test)]
    fn lookup(&self, rpi: u128) -> std::ops::Range<usize> {
        if !self.passes_filter(rpi) || !self.may_hold(rpi) {
            return 0..0;
        }
        self.records_of(rpi)
    }

    /// Whether `rpi`'s bit is set in the filter (never false for an RPI that was heard).
    #[cfg(test)]
    fn passes_filter(&self, rpi: u128) -> bool {
        self.filter.may_contain(&rpi.to_le_bytes())
    }

    /// Whether `rpi` may have been heard: its fingerprint is in its line (or the line
    /// overflowed). Never false for an RPI that was heard. Branch-free, so that a key's 144
    /// probes overlap in the CPU.
    #[inline]
    fn may_hold(&self, rpi: u128) -> bool {
        let high = u64::try_from(rpi >> 64).unwrap_or(0);
        let f = usize::try_from(high >> (64 - self.fingerprint_bits)).unwrap_or(0);
        let wanted = fingerprint(rpi);
        // Over the whole line, so that it compiles to a few vector compares.
        let seen = self.fingerprints[f]
            .0
            .iter()
            .fold(false, |seen, &x| seen | (x == wanted));
        seen | ((self.overflow[f >> 6] >> (f & 63)) & 1 != 0)
    }

    /// Indices of the records of `rpi`, from the prefix table.
    #[inline]
    fn records_of(&self, rpi: u128) -> std::ops::Range<usize> {
        let b = bucket(rpi, self.bits);
        let (lo, hi) = (self.prefix[b] as usize, self.prefix[b + 1] as usize);
        let mut i = lo;
        while i < hi && self.rpis[i] < rpi {
            i += 1;
        }
        let mut j = i;
        while j < hi && self.rpis[j] == rpi {
            j += 1;
        }
        i..j
    }

    /// The intervals of a key that could have been heard, as offsets from its start: the
    /// first and the last with something heard within the validity window; `None` when none
    /// has (the key cannot match).
    fn live_intervals(&self, key: &DiagnosisKey, window: u32) -> Option<(usize, usize)> {
        let period = key.rolling_period.get().min(TEK_ROLLING_PERIOD);
        let (from, to) = self.heard.live_range(
            u64::from(key.rolling_start.get()),
            u64::from(period),
            u64::from(window),
        )?;
        Some((usize::try_from(from).ok()?, usize::try_from(to).ok()?))
    }

    /// Whether a key could have been heard at all.
    #[cfg(test)]
    fn may_match(&self, key: &DiagnosisKey, window: u32) -> bool {
        self.live_intervals(key, window).is_some()
    }
}

/// One cache line of RPI fingerprints (0: an empty slot).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct FingerprintLine([u16; 32]);

/// An RPI's fingerprint: its low 16 bits (the bucket is taken from the top ones), never 0.
#[inline]
#[expect(
    clippy::cast_possible_truncation,
    reason = "the low 16 bits are the ones wanted"
)]
fn fingerprint(rpi: u128) -> u16 {
    (rpi as u16).max(1)
}

#[inline]
fn bucket(rpi: u128, bits: u32) -> usize {
    usize::try_from(rpi >> (128 - bits)).unwrap_or(0)
}

/// Matches keys against the index on every core; returns one [`KeyMatch`] per key that was
/// heard (after the validity, replay and transmit-power checks), in the order of `keys`.
#[must_use]
pub fn match_keys(
    index: &SightingIndex,
    keys: &[DiagnosisKey],
    config: &MatchConfig,
) -> Vec<KeyMatch> {
    if index.is_empty() {
        return Vec::new();
    }
    keys.par_chunks(config.keys_per_task.max(1))
        .flat_map_iter(|chunk| {
            let mut rpis = [[0; 16]; TEK_ROLLING_PERIOD as usize];
            chunk
                .iter()
                .filter_map(move |key| match_key_into(index, key, config, &mut rpis))
        })
        .collect()
}

/// A key file matched while it was read ([`match_key_file`]): its signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedKeyFile {
    /// The file (header, key counts, hash, signer).
    pub file: StreamedKeyFile,
    /// One [`KeyMatch`] per key of the file's `keys` that was heard, in file order (revised
    /// keys are not matched).
    pub matches: Vec<KeyMatch>,
}

/// Reads, verifies and matches a key file in one pass and bounded memory: its keys are
/// matched chunk by chunk on every core of the current rayon pool as `export.bin` is
/// inflated ([`stream_key_file`]); the matches are held and returned only once the signature
/// and every check pass, and dropped otherwise. The same matches as [`read_key_file`]
/// followed by [`match_keys`] over its `keys`.
///
/// The thread that calls it reads the file and matches a chunk itself whenever twice as
/// many chunks as the pool has threads are waiting, so memory stays bounded and a pool of
/// one thread works too.
///
/// [`read_key_file`]: crate::keyfile::read_key_file
///
/// # Errors
/// The errors of [`stream_key_file`]; nothing matched is returned then.
pub fn match_key_file(
    index: &SightingIndex,
    zip: &[u8],
    trusted: &TrustedKeys,
    limits: &KeyFileLimits,
    config: &MatchConfig,
) -> Result<MatchedKeyFile, KeyFileError> {
    let found: Mutex<Vec<(usize, KeyMatch)>> = Mutex::new(Vec::new());
    let waiting = AtomicUsize::new(0);
    let most_waiting = 2 * rayon::current_num_threads();
    let match_chunk = |chunk: &KeyChunk| {
        if chunk.revised || index.is_empty() {
            return;
        }
        let mut rpis = [[0; 16]; TEK_ROLLING_PERIOD as usize];
        let local: Vec<(usize, KeyMatch)> = chunk
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, key)| {
                match_key_into(index, key, config, &mut rpis).map(|m| (chunk.first_index + i, m))
            })
            .collect();
        if !local.is_empty() {
            found
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(local);
        }
    };
    let file = rayon::scope(|scope| {
        let (match_chunk, waiting) = (&match_chunk, &waiting);
        stream_key_file(
            zip,
            trusted,
            limits,
            config.keys_per_task.max(1),
            &mut |chunk| {
                if waiting.load(Ordering::Acquire) >= most_waiting {
                    match_chunk(&chunk);
                } else {
                    waiting.fetch_add(1, Ordering::AcqRel);
                    scope.spawn(move |_| {
                        match_chunk(&chunk);
                        waiting.fetch_sub(1, Ordering::AcqRel);
                    });
                }
            },
        )
    })?;
    let mut found = found.into_inner().unwrap_or_else(PoisonError::into_inner);
    found.sort_unstable_by_key(|(i, _)| *i);
    Ok(MatchedKeyFile {
        file,
        matches: found.into_iter().map(|(_, m)| m).collect(),
    })
}

/// Matches one key.
#[must_use]
pub fn match_key(
    index: &SightingIndex,
    key: &DiagnosisKey,
    config: &MatchConfig,
) -> Option<KeyMatch> {
    match_key_into(
        index,
        key,
        config,
        &mut [[0; 16]; TEK_ROLLING_PERIOD as usize],
    )
}

/// [`match_key`], deriving the key's RPIs into `rpis` (whatever it held).
fn match_key_into(
    index: &SightingIndex,
    key: &DiagnosisKey,
    config: &MatchConfig,
    rpis: &mut DailyBlocks,
) -> Option<KeyMatch> {
    let (from, to) = index.live_intervals(key, config.validity_intervals)?;
    let tek = TemporaryExposureKey::from_bytes(key.key_data);
    let rpik = tek.rpi_key();
    let period = key.rolling_period.get().min(TEK_ROLLING_PERIOD) as usize;
    // First every filter probe, without a branch between them, into a bit mask; then the
    // fingerprints of the few that pass (about 6%), then the prefix table for the fewer
    // still that may have been heard. Only the intervals that could have been heard are
    // derived and probed (a phone that heard nothing at night skips that part of the day).
    // The AES crate encrypts 64 blocks at a time and the rest one by one: a part of the
    // day is derived in whole batches of 64 (the extra blocks are not probed).
    let whole = (from, to) == (0, period - 1);
    let batch = (to - from + 1).div_ceil(64) * 64;
    if whole || batch >= rpis.len() {
        rpik.daily_identifiers_in_place(key.rolling_start, rpis);
    } else {
        let first = from.min(rpis.len() - batch);
        rpik.identifiers_in_place(
            key.rolling_start
                .wrapping_add(u32::try_from(first).unwrap_or(0)),
            &mut rpis[first..first + batch],
        );
    }
    let passed = if whole {
        index.filter.probe(rpis, period)
    } else {
        index.filter.probe_range(rpis, from, to)
    };
    let rpis = &*rpis;
    let mut hits: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for (word, &bits) in passed.iter().enumerate() {
        let mut bits = bits;
        while bits != 0 {
            let j = word * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let rpi = u128::from_le_bytes(rpis[j]);
            if !index.may_hold(rpi) {
                continue;
            }
            let found = index.records_of(rpi);
            if !found.is_empty() {
                hits.push((j, found));
            }
        }
    }
    if hits.is_empty() {
        return None;
    }
    let aemk = tek.aem_key();
    let mut scans = Vec::new();
    let mut confidence = None;
    for (j, records) in hits {
        let rpi = &RollingProximityIdentifier(rpis[j]);
        let interval = key
            .rolling_start
            .wrapping_add(u32::try_from(j).unwrap_or(0));
        let before = scans.len();
        for r in records {
            let record = index.records[r];
            let Ok(metadata) = aemk.decrypt_metadata(rpi, &record.aem) else {
                continue;
            };
            if !metadata.has_plausible_tx_power() {
                continue;
            }
            confidence.get_or_insert(metadata.calibration_confidence);
            let tx = i16::from(metadata.tx_power_dbm);
            let first = record.first_instance as usize;
            for inst in &index.instances[first..first + record.instances as usize] {
                let scan = index.scans[inst.scan as usize];
                if !within_validity(scan.start, interval, config.validity_intervals) {
                    continue;
                }
                let attenuation =
                    |rssi: i8| attenuation_db(tx, i16::from(rssi), config.rssi_correction_db);
                scans.push(MatchedScan {
                    time: scan.start,
                    seconds_since_last_scan: seconds_since_last_scan(scan),
                    typical_attenuation_db: attenuation(inst.typical_rssi),
                    min_attenuation_db: attenuation(inst.max_rssi),
                });
            }
        }
        // Replays: keep this RPI's sightings only up to 20 minutes after its first.
        let own = &mut scans[before..];
        own.sort_unstable_by_key(|s| s.time);
        if let Some(first) = own.first().map(|s| s.time) {
            let keep = own
                .iter()
                .take_while(|s| s.time <= first + config.replay_window_secs)
                .count();
            scans.truncate(before + keep);
        }
    }
    if scans.is_empty() {
        return None;
    }
    scans.sort_unstable_by_key(|s| s.time);
    scans.dedup_by_key(|s| s.time);
    Some(KeyMatch {
        key: *key,
        calibration_confidence: confidence.unwrap_or_default(),
        scans,
    })
}

fn within_validity(time: i64, interval: IntervalNumber, window: u32) -> bool {
    let heard = time.div_euclid(INTERVAL_SECONDS);
    let own = i64::from(interval.get());
    (own - i64::from(window)..=own + i64::from(window)).contains(&heard)
}

/// GAEN `secondsSinceLastScan`: 60 × min(5, ⌊t/60⌋ − ⌊previous end/60⌋), or 120 unknown.
fn seconds_since_last_scan(scan: GlobalScan) -> u32 {
    match scan.previous_end {
        None => 120,
        Some(previous) => {
            let minutes = scan.start.div_euclid(60) - previous.div_euclid(60);
            u32::try_from(minutes.clamp(0, 5) * 60).unwrap_or(300)
        }
    }
}

#[cfg(test)]
mod tests;
