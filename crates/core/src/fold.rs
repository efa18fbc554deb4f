//! Folding adverts into scan instances, in memory, before they are stored.
//!
//! A phone hears each nearby advert many times per scan window (every 200 to 270 ms for the
//! few seconds a scan lasts). The [`Folder`] keeps, per scan and per RPI, the advert count,
//! the RSSI sum and the strongest RSSI, and turns the scans touched since the last flush into
//! [`DayChunk`]s. A scan is the shell's scan window when it gives an id, or else a run of
//! adverts with no gap longer than the configured scan gap.
//!
//! A scan that keeps going after a flush is written again, in full, at the next flush; storage
//! keeps the latest version (see [`DayChunk::merge`]). Nothing is lost if a flush fails: the
//! folder forgets nothing until [`Folder::flushed`] is called.

use std::collections::HashMap;

use bluezone_protocol::sightings::{DayChunk, Scan, ScanInstance, SightingRecord};
use bluezone_protocol::{AssociatedEncryptedMetadata, DayNumber, RollingProximityIdentifier};

use crate::ingest::ValidSighting;

/// A scan-window id seen again this long after its window's last advert starts a new scan
/// (shells number windows per session, so ids repeat after a restart).
const WINDOW_REUSE_SECS: i64 = 300;

/// How a scan is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ScanKey {
    /// The shell's scan-window id.
    Window(u64),
    /// Inferred from timing.
    Inferred,
}

/// Running totals of one RPI in one scan.
#[derive(Debug, Clone, Copy)]
struct Accumulator {
    aem: AssociatedEncryptedMetadata,
    adverts: u32,
    rssi_sum: i64,
    max_rssi: i8,
}

#[derive(Debug)]
struct OpenScan {
    key: ScanKey,
    start: i64,
    end: i64,
    per_rpi: HashMap<RollingProximityIdentifier, Accumulator>,
    dirty: bool,
}

/// Folds sightings into scans; see the module documentation.
#[derive(Debug)]
pub struct Folder {
    scan_gap_secs: i64,
    scans: Vec<OpenScan>,
    latest_time: i64,
}

impl Folder {
    /// A folder that splits inferred scans at gaps longer than `scan_gap_secs`.
    #[must_use]
    pub fn new(scan_gap_secs: i64) -> Self {
        Self {
            scan_gap_secs,
            scans: Vec::new(),
            latest_time: i64::MIN,
        }
    }

    /// Adds one validated sighting.
    pub fn add(&mut self, s: &ValidSighting) {
        self.latest_time = self.latest_time.max(s.time);
        let key = s.scan_window.map_or(ScanKey::Inferred, ScanKey::Window);
        let gap = self.scan_gap_secs;
        let found = self.scans.iter().rposition(|scan| {
            let reach = if key == ScanKey::Inferred {
                gap
            } else {
                WINDOW_REUSE_SECS
            };
            scan.key == key && s.time <= scan.end + reach && s.time >= scan.start - gap
        });
        let scan = match found {
            Some(i) => &mut self.scans[i],
            None => {
                self.scans.push(OpenScan {
                    key,
                    start: s.time,
                    end: s.time,
                    per_rpi: HashMap::new(),
                    dirty: true,
                });
                let last = self.scans.len() - 1;
                &mut self.scans[last]
            }
        };
        // The start identifies a scan once stored, so it never moves; an advert reported
        // before it (clock jitter in the shell) counts as heard at the start.
        scan.end = scan.end.max(s.time);
        scan.dirty = true;
        let acc = scan.per_rpi.entry(s.rpi).or_insert(Accumulator {
            aem: s.aem,
            adverts: 0,
            rssi_sum: 0,
            max_rssi: s.rssi,
        });
        acc.adverts = acc.adverts.saturating_add(1);
        acc.rssi_sum += i64::from(s.rssi);
        acc.max_rssi = acc.max_rssi.max(s.rssi);
    }

    /// Whether anything was added since the last flush.
    #[must_use]
    pub fn is_dirty(&self) -> bool {
        self.scans.iter().any(|s| s.dirty)
    }

    /// The scans touched since the last flush, as one chunk per day (the day a scan starts).
    #[must_use]
    pub fn pending_chunks(&self) -> Vec<(DayNumber, DayChunk)> {
        let mut per_day: HashMap<DayNumber, Vec<DayChunk>> = HashMap::new();
        for scan in self.scans.iter().filter(|s| s.dirty) {
            let Ok(day) = DayNumber::from_unix_seconds(scan.start) else {
                continue; // Validation refuses times before the epoch.
            };
            let records = scan
                .per_rpi
                .iter()
                .map(|(rpi, acc)| SightingRecord {
                    rpi: *rpi,
                    aem: acc.aem,
                    instances: vec![ScanInstance {
                        scan: 0,
                        typical_rssi: mean_rssi(acc),
                        max_rssi: acc.max_rssi,
                    }],
                })
                .collect();
            per_day.entry(day).or_default().push(DayChunk {
                scans: vec![Scan {
                    start: scan.start,
                    end: scan.end,
                }],
                records,
            });
        }
        let mut out: Vec<(DayNumber, DayChunk)> = per_day
            .into_iter()
            .map(|(day, chunks)| (day, DayChunk::merge(&chunks)))
            .collect();
        out.sort_by_key(|(day, _)| *day);
        out
    }

    /// Marks everything pending as stored, and forgets scans that can no longer grow: scans
    /// of an older scan window than the latest, and inferred scans that ended more than a
    /// scan gap before the latest advert.
    pub fn flushed(&mut self) {
        let latest_window = self
            .scans
            .iter()
            .filter(|s| matches!(s.key, ScanKey::Window(_)))
            .max_by_key(|s| s.end)
            .map(|s| s.key);
        let horizon = self.latest_time.saturating_sub(self.scan_gap_secs);
        self.scans.retain(|s| match s.key {
            ScanKey::Window(_) => Some(s.key) == latest_window,
            ScanKey::Inferred => s.end >= horizon,
        });
        for scan in &mut self.scans {
            scan.dirty = false;
        }
    }

    /// Forgets everything (after "delete all data").
    pub fn clear(&mut self) {
        self.scans.clear();
        self.latest_time = i64::MIN;
    }
}

/// The mean RSSI of an accumulator, rounded half away from zero.
fn mean_rssi(acc: &Accumulator) -> i8 {
    let n = i64::from(acc.adverts.max(1));
    let sum = acc.rssi_sum;
    let mean = if sum >= 0 {
        (2 * sum + n) / (2 * n)
    } else {
        -((-2 * sum + n) / (2 * n))
    };
    i8::try_from(mean.clamp(-128, 127)).unwrap_or(i8::MIN)
}

#[cfg(test)]
mod tests;
