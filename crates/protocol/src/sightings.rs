//! Folded sightings: what a phone keeps of the adverts it heard, and their compact encoding.
//!
//! Phones hear each nearby advert many times per scan window. The engine folds those into one
//! [`ScanInstance`] per RPI and scan (typical and strongest RSSI: what GAEN's exposure windows
//! need), and groups a day's scans and records into a [`DayChunk`], the unit that is sealed
//! and stored. Merging chunks ([`DayChunk::merge`]) is how storage compacts a day.
//!
//! # Encoding (version 1)
//! ```text
//! u8      version (1)
//! varint  scan count, then per scan (sorted by start):
//!           varint start offset (from the day's midnight for the first scan, from the
//!                  previous scan's start after that), varint duration in seconds
//! varint  record count, then per record (sorted by RPI):
//!           16 bytes RPI, 4 bytes AEM, varint instance count (>= 1), then per instance
//!           (scans strictly increasing):
//!             u8  (delta code << 6) | spread, spread = strongest - typical RSSI (0..=63 dB)
//!             [varint scan delta, only when the delta code is 0]
//!             u8  typical RSSI (two's complement dBm)
//! ```
//! The scan delta is the scan index minus the previous instance's (the first instance counts
//! from -1); deltas 1 to 3, the usual case of a contact heard in consecutive scans, fit in the
//! code. With 100 contacts per 5-minute scan and RPIs living 10 to 20 minutes, a day costs
//! about 22 bytes per RPI plus 2 per scan instance, 16 and 4 of them the random RPI and AEM.
//! Advert counts are not kept: they are not needed for exposure windows, and a count per
//! record could not be merged correctly when a scan is written twice.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use thiserror::Error;

use crate::identifiers::{AssociatedEncryptedMetadata, RollingProximityIdentifier};
use crate::time::DayNumber;

/// Current encoding version.
pub const CHUNK_VERSION: u8 = 1;

/// Largest spread between the strongest and the typical RSSI that is kept, in dB.
pub const MAX_RSSI_SPREAD_DB: u8 = 63;

/// Most scans one chunk may hold (about one every 20 seconds for a day).
pub const MAX_SCANS: usize = 1 << 12;

/// Most records one chunk may hold.
pub const MAX_RECORDS: usize = 1 << 20;

/// A chunk that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChunkError {
    /// An encoding version this code does not know.
    #[error("sighting chunk version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The bytes end in the middle of a field.
    #[error("sighting chunk is truncated")]
    Truncated,
    /// A varint longer than its type.
    #[error("sighting chunk holds an oversized number")]
    Overflow,
    /// More scans or records than the limits allow.
    #[error("sighting chunk declares {found} {what}, more than {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many the chunk declares.
        found: u64,
        /// The limit.
        max: usize,
    },
    /// A record without instances, or instances out of order, or a scan index out of range.
    #[error("sighting chunk is inconsistent: {0}")]
    Inconsistent(&'static str),
    /// Bytes after the last record.
    #[error("sighting chunk has {0} trailing bytes")]
    TrailingBytes(usize),
}

/// One scan window during which something was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scan {
    /// Unix time (seconds) of the first advert heard in the window.
    pub start: i64,
    /// Unix time (seconds) of the last advert heard in the window.
    pub end: i64,
}

/// What was heard of one RPI during one scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScanInstance {
    /// Index of the scan in [`DayChunk::scans`].
    pub scan: u32,
    /// The typical RSSI: the rounded mean of the adverts heard in this scan, in dBm.
    pub typical_rssi: i8,
    /// The strongest RSSI heard in this scan, in dBm (at most 63 dB above typical).
    pub max_rssi: i8,
}

/// Everything kept of one RPI for one day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SightingRecord {
    /// The identifier heard.
    pub rpi: RollingProximityIdentifier,
    /// Its encrypted metadata (readable only once the sender's key is published).
    pub aem: AssociatedEncryptedMetadata,
    /// One entry per scan it was heard in, scans strictly increasing.
    pub instances: Vec<ScanInstance>,
}

/// A day's scans and the records that refer to them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayChunk {
    /// Scans sorted by start time.
    pub scans: Vec<Scan>,
    /// Records sorted by RPI, one per RPI.
    pub records: Vec<SightingRecord>,
}

impl DayChunk {
    /// Encodes the chunk relative to the midnight of `day`.
    ///
    /// # Errors
    /// [`ChunkError::Inconsistent`] unless scans are strictly increasing by start, start on or
    /// after the day's midnight and end no earlier than they start, records are strictly
    /// increasing by RPI, and every record has instances with strictly increasing scan
    /// indices inside `scans`. (Spreads above 63 dB are clamped, by design.)
    pub fn encode(&self, day: DayNumber) -> Result<Vec<u8>, ChunkError> {
        self.validate(day)?;
        let instances: usize = self.records.iter().map(|r| r.instances.len()).sum();
        let mut out =
            Vec::with_capacity(8 + self.scans.len() * 4 + self.records.len() * 24 + instances * 2);
        out.push(CHUNK_VERSION);
        put_varint(&mut out, self.scans.len() as u64);
        let mut previous = day.start_unix_seconds();
        for scan in &self.scans {
            put_varint(&mut out, (scan.start - previous).unsigned_abs());
            put_varint(&mut out, (scan.end - scan.start).unsigned_abs());
            previous = scan.start;
        }
        put_varint(&mut out, self.records.len() as u64);
        for record in &self.records {
            out.extend_from_slice(record.rpi.as_bytes());
            out.extend_from_slice(record.aem.as_bytes());
            put_varint(&mut out, record.instances.len() as u64);
            let mut previous_scan = -1i64;
            for instance in &record.instances {
                let delta = i64::from(instance.scan) - previous_scan;
                previous_scan = i64::from(instance.scan);
                let spread = (i16::from(instance.max_rssi) - i16::from(instance.typical_rssi))
                    .clamp(0, i16::from(MAX_RSSI_SPREAD_DB));
                let spread = u8::try_from(spread).unwrap_or(MAX_RSSI_SPREAD_DB);
                let code = match delta {
                    1 => 1,
                    2 => 2,
                    3 => 3,
                    _ => 0,
                };
                out.push((code << 6) | spread);
                if code == 0 {
                    put_varint(&mut out, delta.unsigned_abs());
                }
                out.push(instance.typical_rssi.to_le_bytes()[0]);
            }
        }
        Ok(out)
    }

    fn validate(&self, day: DayNumber) -> Result<(), ChunkError> {
        use ChunkError::Inconsistent;
        if self.scans.len() > MAX_SCANS || self.records.len() > MAX_RECORDS {
            return Err(Inconsistent("more scans or records than a chunk may hold"));
        }
        if self
            .scans
            .first()
            .is_some_and(|s| s.start < day.start_unix_seconds())
        {
            return Err(Inconsistent("a scan starts before the chunk's day"));
        }
        if self.scans.windows(2).any(|w| w[0].start >= w[1].start) {
            return Err(Inconsistent("scans not strictly increasing by start"));
        }
        if self.scans.iter().any(|s| s.end < s.start) {
            return Err(Inconsistent("a scan ends before it starts"));
        }
        if self.records.windows(2).any(|w| w[0].rpi >= w[1].rpi) {
            return Err(Inconsistent("records not strictly increasing by RPI"));
        }
        for record in &self.records {
            if record.instances.is_empty() {
                return Err(Inconsistent("a record without scan instances"));
            }
            if record.instances.windows(2).any(|w| w[0].scan >= w[1].scan) {
                return Err(Inconsistent("scan instances out of order"));
            }
            if record
                .instances
                .last()
                .is_some_and(|i| i.scan as usize >= self.scans.len())
            {
                return Err(Inconsistent("scan index out of range"));
            }
        }
        Ok(())
    }

    /// Decodes a chunk stored for `day`.
    ///
    /// # Errors
    /// [`ChunkError`] for anything but a well-formed chunk; never panics.
    pub fn decode(day: DayNumber, bytes: &[u8]) -> Result<Self, ChunkError> {
        let mut r = Reader { bytes, pos: 0 };
        let version = r.u8()?;
        if version != CHUNK_VERSION {
            return Err(ChunkError::UnsupportedVersion(version));
        }
        let scan_count = r.count("scans", MAX_SCANS)?;
        let mut scans = Vec::with_capacity(scan_count);
        let mut previous = day.start_unix_seconds();
        for i in 0..scan_count {
            let offset = r.i64()?;
            if i > 0 && offset == 0 {
                return Err(ChunkError::Inconsistent(
                    "scans not strictly increasing by start",
                ));
            }
            let start = previous.checked_add(offset).ok_or(ChunkError::Overflow)?;
            let end = start.checked_add(r.i64()?).ok_or(ChunkError::Overflow)?;
            scans.push(Scan { start, end });
            previous = start;
        }
        let record_count = r.count("records", MAX_RECORDS)?;
        let mut records = Vec::with_capacity(record_count.min(bytes.len() / 24));
        for _ in 0..record_count {
            let rpi = RollingProximityIdentifier(r.array()?);
            if records
                .last()
                .is_some_and(|p: &SightingRecord| p.rpi >= rpi)
            {
                return Err(ChunkError::Inconsistent(
                    "records not strictly increasing by RPI",
                ));
            }
            let aem = AssociatedEncryptedMetadata(r.array()?);
            let instance_count = r.count("instances", scan_count)?;
            if instance_count == 0 {
                return Err(ChunkError::Inconsistent("a record without scan instances"));
            }
            let mut instances = Vec::with_capacity(instance_count);
            let mut previous_scan = -1i64;
            for _ in 0..instance_count {
                let packed = r.u8()?;
                let code = packed >> 6;
                let spread = packed & MAX_RSSI_SPREAD_DB;
                let delta = if code == 0 { r.i64()? } else { i64::from(code) };
                if delta < 1 {
                    return Err(ChunkError::Inconsistent("scan instances out of order"));
                }
                let scan = previous_scan
                    .checked_add(delta)
                    .ok_or(ChunkError::Overflow)?;
                if scan >= scan_count as i64 {
                    return Err(ChunkError::Inconsistent("scan index out of range"));
                }
                previous_scan = scan;
                let typical_rssi = i8::from_le_bytes([r.u8()?]);
                let max_rssi = i8::try_from(i16::from(typical_rssi) + i16::from(spread))
                    .map_err(|_| ChunkError::Inconsistent("strongest RSSI out of range"))?;
                instances.push(ScanInstance {
                    scan: u32::try_from(scan).map_err(|_| ChunkError::Overflow)?,
                    typical_rssi,
                    max_rssi,
                });
            }
            records.push(SightingRecord {
                rpi,
                aem,
                instances,
            });
        }
        if r.pos != bytes.len() {
            return Err(ChunkError::TrailingBytes(bytes.len() - r.pos));
        }
        Ok(Self { scans, records })
    }

    /// Merges chunks written at different times for the same day into one.
    ///
    /// Scans are identified by their start time. The engine may write a scan again after it
    /// heard more in it; the version with the latest end wins (later in `chunks` on a tie), and
    /// the instances of that version replace the earlier ones. Records are merged per RPI.
    /// Merging is idempotent: merging a chunk with itself changes nothing.
    #[must_use]
    pub fn merge<'a>(chunks: impl IntoIterator<Item = &'a DayChunk>) -> DayChunk {
        let chunks: Vec<&DayChunk> = chunks.into_iter().collect();
        // For each scan start: (end, index of the winning chunk).
        let mut winners: BTreeMap<i64, (i64, usize)> = BTreeMap::new();
        for (c, chunk) in chunks.iter().enumerate() {
            for scan in &chunk.scans {
                match winners.entry(scan.start) {
                    Entry::Vacant(e) => {
                        e.insert((scan.end, c));
                    }
                    Entry::Occupied(mut e) => {
                        if scan.end >= e.get().0 {
                            e.insert((scan.end, c));
                        }
                    }
                }
            }
        }
        let scans: Vec<Scan> = winners
            .iter()
            .map(|(&start, &(end, _))| Scan { start, end })
            .collect();
        let index: BTreeMap<i64, u32> = winners
            .keys()
            .zip(0u32..)
            .map(|(&start, i)| (start, i))
            .collect();

        let mut merged: BTreeMap<RollingProximityIdentifier, SightingRecord> = BTreeMap::new();
        for (c, chunk) in chunks.iter().enumerate() {
            for record in &chunk.records {
                let kept: Vec<ScanInstance> = record
                    .instances
                    .iter()
                    .filter_map(|inst| {
                        let scan = chunk.scans.get(inst.scan as usize)?;
                        let (_, winner) = winners.get(&scan.start)?;
                        (*winner == c).then(|| ScanInstance {
                            scan: index[&scan.start],
                            ..*inst
                        })
                    })
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                merged
                    .entry(record.rpi)
                    .or_insert_with(|| SightingRecord {
                        rpi: record.rpi,
                        aem: record.aem,
                        instances: Vec::new(),
                    })
                    .instances
                    .extend(kept);
            }
        }
        let records = merged
            .into_values()
            .map(|mut r| {
                r.instances.sort_by_key(|i| i.scan);
                r.instances.dedup_by_key(|i| i.scan);
                r
            })
            .collect();
        DayChunk { scans, records }
    }
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "each byte is masked to 7 bits"
)]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, ChunkError> {
        let b = *self.bytes.get(self.pos).ok_or(ChunkError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ChunkError> {
        let end = self.pos.checked_add(N).ok_or(ChunkError::Truncated)?;
        let slice = self.bytes.get(self.pos..end).ok_or(ChunkError::Truncated)?;
        self.pos = end;
        slice.try_into().map_err(|_| ChunkError::Truncated)
    }

    fn varint(&mut self) -> Result<u64, ChunkError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(ChunkError::Overflow);
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ChunkError::Overflow)
    }

    fn i64(&mut self) -> Result<i64, ChunkError> {
        i64::try_from(self.varint()?).map_err(|_| ChunkError::Overflow)
    }

    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, ChunkError> {
        let found = self.varint()?;
        match usize::try_from(found) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ChunkError::TooMany { what, found, max }),
        }
    }
}

#[cfg(test)]
mod tests;
