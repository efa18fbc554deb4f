//! What the user and QA can see about data collection without uploading anything.

use bluezone_protocol::sightings::DayChunk;

use crate::downloads::FailingKeyFile;
use crate::ingest::IngestReport;

/// Gaps between scans longer than this are reported (GAEN asks for a scan at least every
/// 5 minutes; twice that means the platform stopped scanning).
pub const SCAN_GAP_ALERT_SECS: i64 = 600;

/// Distinct identifiers heard in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourlyCount {
    /// Unix time (seconds) of the start of the hour (UTC).
    pub hour_start: i64,
    /// Distinct RPIs heard during that hour.
    pub distinct_rpis: u32,
}

/// A health report on data collection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics {
    /// Distinct RPIs heard per hour over the last 24 hours, oldest first, empty hours included.
    pub ids_heard_per_hour: Vec<HourlyCount>,
    /// Scans recorded (with at least one advert heard) in the last 24 hours.
    pub scans_last_24h: u32,
    /// The longest time between two consecutive scans in the last 24 hours, in seconds.
    pub longest_scan_gap_secs: Option<i64>,
    /// Gaps longer than [`SCAN_GAP_ALERT_SECS`] between scans in the last 24 hours.
    pub scan_gaps_over_10_min: u32,
    /// Unix time (seconds) of the last identifier rotation, if one happened since opening.
    pub last_rotation_at: Option<i64>,
    /// Unix time (seconds) of the next rotation, if known.
    pub next_rotation_at: Option<i64>,
    /// Bytes the store occupies on disk.
    pub storage_bytes: u64,
    /// Days with stored data.
    pub stored_days: u32,
    /// Sightings accepted and refused since the engine was opened.
    pub ingest_since_open: IngestReport,
    /// Key files listed by the server that failed to download or were refused, and wait for
    /// a retry, in the order they first failed (at most [`MAX_REPORTED_FAILING_FILES`]).
    pub failing_key_files: Vec<FailingKeyFile>,
    /// How many key files are failing (all of them, even past the list's limit).
    pub failing_key_file_count: u32,
    /// Collection: the driver's status, the "nearby now" count and its counters (filled by
    /// [`crate::Phone`]; `None` from the engine alone).
    pub collection: Option<crate::phone::CollectionReport>,
}

/// The most failing key files [`Diagnostics::failing_key_files`] lists.
pub const MAX_REPORTED_FAILING_FILES: usize = 100;

/// Fills the scan and hourly figures from the chunks of the last day or two.
pub fn fill_from_chunks(diag: &mut Diagnostics, chunks: &[DayChunk], now: i64) {
    const HOURS: usize = 24;
    let since = now - 24 * 3600;
    let first_hour = now - now.rem_euclid(3600) - 23 * 3600;
    let mut per_hour: Vec<std::collections::HashSet<[u8; 16]>> =
        vec![std::collections::HashSet::new(); HOURS];
    let mut scans: Vec<(i64, i64)> = Vec::new();
    for chunk in chunks {
        scans.extend(
            chunk
                .scans
                .iter()
                .filter(|s| s.end > since && s.start <= now)
                .map(|s| (s.start, s.end)),
        );
        for record in &chunk.records {
            for inst in &record.instances {
                let Some(scan) = chunk.scans.get(inst.scan as usize) else {
                    continue;
                };
                let offset = scan.start - first_hour;
                if let Some(set) = usize::try_from(offset.div_euclid(3600))
                    .ok()
                    .and_then(|hour| per_hour.get_mut(hour))
                {
                    set.insert(record.rpi.0);
                }
            }
        }
    }
    diag.ids_heard_per_hour = per_hour
        .iter()
        .zip(0i64..)
        .map(|(set, i)| HourlyCount {
            hour_start: first_hour + i * 3600,
            distinct_rpis: u32::try_from(set.len()).unwrap_or(u32::MAX),
        })
        .collect();
    scans.sort_unstable();
    scans.dedup();
    diag.scans_last_24h = u32::try_from(scans.len()).unwrap_or(u32::MAX);
    let gaps: Vec<i64> = scans.windows(2).map(|w| w[1].0 - w[0].1).collect();
    diag.longest_scan_gap_secs = gaps.iter().copied().max();
    diag.scan_gaps_over_10_min =
        u32::try_from(gaps.iter().filter(|&&g| g > SCAN_GAP_ALERT_SECS).count())
            .unwrap_or(u32::MAX);
}
