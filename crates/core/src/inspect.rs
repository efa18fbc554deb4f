//! A read-only look at a phone's store, for QA engineers and researchers (`bluezone store
//! match`): key files verified and matched against the store's sightings, the exposure
//! windows they produce, and the decision the phone would reach with them under the risk
//! configuration it holds, without writing anything to the store. The steps are the
//! engine's own (the same sightings, matching, windows and scoring), so what it shows is why
//! a phone did or did not notify.

use std::collections::HashSet;

use bluezone_protocol::DayNumber;
use bluezone_protocol::cwa::CwaRiskLevel;
use bluezone_protocol::keyfile::KeyFileError;
use bluezone_protocol::matching::{MatchedKeyFile, SightingIndex};
use bluezone_protocol::risk::{ExposureWindow, RiskDecision};
use bluezone_protocol::risk_config::RiskConfigDocument;
use bluezone_store::{Store, Table};

use crate::config::TracerConfig;
use crate::engine::read_sightings;
use crate::error::CoreError;
use crate::exposure::matching::windows_of;
use crate::exposure::{ExposureStatus, StoredWindow};
use crate::risk_model::RiskModel;
use crate::saved_state::{self, ProcessedFiles};

/// What became of one key file.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectedFile {
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// Why it was refused (nothing of a refused file is used).
    pub refused: Option<KeyFileError>,
    /// Keys in the file (0 when refused).
    pub keys: usize,
    /// Keys whose identifiers the store heard.
    pub matched_keys: usize,
    /// Whether the phone already matched this file (its stored windows are among
    /// [`MatchInspection::stored_windows`]).
    pub already_matched: bool,
}

/// How strong a window's signal was, from its scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttenuationSummary {
    /// The lowest minimum attenuation of any scan, in dB (the closest moment).
    pub min_db: u8,
    /// The lowest typical attenuation, in dB.
    pub typical_min_db: u8,
    /// The highest typical attenuation, in dB.
    pub typical_max_db: u8,
    /// The typical attenuations' mean weighted by each scan's seconds, rounded, in dB.
    pub typical_mean_db: u8,
}

/// One exposure window a file produced, with its score under the held configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectedWindow {
    /// Which of the files (index into [`MatchInspection::files`]).
    pub file: usize,
    /// The window.
    pub window: ExposureWindow,
    /// Seconds the scans cover (GAEN's `secondsSinceLastScan` summed).
    pub duration_secs: u32,
    /// Its attenuations.
    pub attenuation: AttenuationSummary,
    /// Seconds weighted by attenuation (see [`crate::risk_model::WindowFigures`]).
    pub weighted_seconds: f64,
    /// Its score under the model, in seconds (GAEN: weighted seconds times the report type,
    /// infectiousness and transmission weights; CWA: the normalized time).
    pub score: f64,
    /// CWA's risk level of the window (`None` under GAEN's model, or when CWA ignores it).
    pub level: Option<CwaRiskLevel>,
}

/// What matching the files would do to the phone.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchInspection {
    /// Per file, in the order given.
    pub files: Vec<InspectedFile>,
    /// The windows the files produce, not yet in the store.
    pub windows: Vec<InspectedWindow>,
    /// Windows already stored (from files matched before).
    pub stored_windows: usize,
    /// The sequence of the authority's configuration the phone holds (`None`: its built-in
    /// parameters).
    pub risk_sequence: Option<u64>,
    /// The model and parameters decided with.
    pub model: RiskModel,
    /// The decision over the stored windows and the new ones together.
    pub decision: RiskDecision,
    /// The same as the shell would see it (per day: whether it reached the threshold, or
    /// CWA's high risk).
    pub status: ExposureStatus,
}

/// The attenuation summary of a window's scans.
#[must_use]
pub fn attenuation_summary(window: &ExposureWindow) -> AttenuationSummary {
    let scans = &window.scans;
    let min_db = scans
        .iter()
        .map(|s| s.min_attenuation_db)
        .min()
        .unwrap_or(0);
    let typical_min_db = scans
        .iter()
        .map(|s| s.typical_attenuation_db)
        .min()
        .unwrap_or(0);
    let typical_max_db = scans
        .iter()
        .map(|s| s.typical_attenuation_db)
        .max()
        .unwrap_or(0);
    let seconds: f64 = scans
        .iter()
        .map(|s| f64::from(s.seconds_since_last_scan))
        .sum();
    let mean = if seconds > 0.0 {
        scans
            .iter()
            .map(|s| f64::from(s.typical_attenuation_db) * f64::from(s.seconds_since_last_scan))
            .sum::<f64>()
            / seconds
    } else {
        f64::from(typical_min_db)
    };
    AttenuationSummary {
        min_db,
        typical_min_db,
        typical_max_db,
        // A mean of u8 values is within u8's range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        typical_mean_db: mean.round().clamp(0.0, 255.0) as u8,
    }
}

/// Matches `files` against the sightings of `store` (opened read-only) as the phone would on
/// `today` with `config` (its trusted signers, limits, matching and base risk parameters),
/// under the risk configuration the store holds. Nothing is written.
///
/// # Errors
/// [`CoreError`] when the store cannot be read, or holds damaged sightings or windows.
pub fn inspect_matches(
    store: &mut Store,
    config: &TracerConfig,
    files: &[&[u8]],
    today: DayNumber,
) -> Result<MatchInspection, CoreError> {
    let document: Option<RiskConfigDocument> = saved_state::load(store)?;
    let model = RiskModel::new(&config.risk, document.as_ref());
    let first_kept = DayNumber::new(today.get().saturating_sub(config.retention_days));
    let index = SightingIndex::build(&read_sightings(store, first_kept, today)?);
    let processed: ProcessedFiles = saved_state::load_or_default(store)?;
    // Stored windows, each once (as the engine reads them back).
    let mut seen: HashSet<[u8; 8]> = HashSet::new();
    let mut stored: Vec<StoredWindow> = Vec::new();
    for row in store.read_days(Table::Exposures, first_kept, today)? {
        let window = StoredWindow::from_record(&row.value)?;
        if seen.insert(window.fingerprint) {
            stored.push(window);
        }
    }
    let mut inspected_files = Vec::with_capacity(files.len());
    let mut windows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        // The phone's own path: read, verified and matched in one pass and bounded memory.
        let matched = config.match_key_file(&index, file);
        let MatchedKeyFile {
            file: verified,
            matches,
        } = match matched {
            Ok(matched) => matched,
            Err(error) => {
                inspected_files.push(InspectedFile {
                    sha256: sha256(file),
                    refused: Some(error),
                    keys: 0,
                    matched_keys: 0,
                    already_matched: false,
                });
                continue;
            }
        };
        inspected_files.push(InspectedFile {
            sha256: verified.sha256,
            refused: None,
            keys: verified.keys,
            matched_keys: matches.len(),
            already_matched: processed.contains(&verified.sha256),
        });
        for stored_window in windows_of(&matches, model.windows()) {
            if !seen.insert(stored_window.fingerprint) {
                continue; // Already stored, or produced by an earlier file given here.
            }
            let figures = model.window(&stored_window.window);
            windows.push(InspectedWindow {
                file: i,
                duration_secs: stored_window
                    .window
                    .scans
                    .iter()
                    .map(|s| s.seconds_since_last_scan)
                    .sum(),
                attenuation: attenuation_summary(&stored_window.window),
                weighted_seconds: figures.weighted_seconds,
                score: figures.score,
                level: figures.level,
                window: stored_window.window,
            });
        }
    }
    let all: Vec<ExposureWindow> = stored
        .iter()
        .map(|w| w.window.clone())
        .chain(windows.iter().map(|w| w.window.clone()))
        .collect();
    let assessment = model.assess(&all, today);
    Ok(MatchInspection {
        files: inspected_files,
        stored_windows: stored.len(),
        risk_sequence: document.map(|d| d.sequence),
        status: assessment.status(false),
        decision: assessment.decision,
        model,
        windows,
    })
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
