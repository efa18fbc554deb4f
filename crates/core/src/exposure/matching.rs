//! The per-file matching pipeline: snapshot the sightings and the processed files under the
//! engine's lock, verify and match each key file outside it (on every core, so the shell
//! keeps recording meanwhile), then store each file's windows and its hash under the lock,
//! and decide. Also the engine's side of exposure state: storing windows, reading them back
//! each once, and the notified flag.

use std::collections::HashSet;

use bluezone_protocol::DayNumber;
use bluezone_protocol::keyfile::KeyFileError;
use bluezone_protocol::matching::{KeyMatch, MatchedKeyFile, SightingIndex};
use bluezone_protocol::risk::{ExposureWindow, RiskConfig, exposure_windows};
use bluezone_store::Table;

use super::{ExposureStatus, StoredWindow, fingerprint};
use crate::downloads::KeyFileRefusal;
use crate::engine::Engine;
use crate::error::CoreError;
use crate::saved_state::{self, Notified};
use crate::tracer::Tracer;

/// What [`Tracer::match_files`] does with a refused file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnRefusal {
    /// End the batch with the error (files before it stay processed).
    Stop,
    /// Skip it and go on.
    Skip,
}

/// The name a file is logged under: its name in the server's index, or its position.
fn label(names: Option<&[String]>, i: usize) -> String {
    names
        .and_then(|n| n.get(i))
        .map_or_else(|| format!("#{i}"), Clone::clone)
}

/// The exposure windows of `matches`, each with the fingerprint of its key and start.
pub(crate) fn windows_of(matches: &[KeyMatch], risk: &RiskConfig) -> Vec<StoredWindow> {
    matches
        .iter()
        .flat_map(|m| {
            exposure_windows(std::slice::from_ref(m), risk)
                .into_iter()
                .map(|window| StoredWindow {
                    fingerprint: fingerprint(
                        &m.key.key_data,
                        window.scans.first().map_or(0, |s| s.time),
                    ),
                    window,
                })
        })
        .collect()
}

impl Tracer {
    /// Matches `files` in order (`names`, when given, are their names in the server's index,
    /// for the log); a refused file either ends the batch with [`CoreError::KeyFile`]
    /// (`OnRefusal::Stop`) or is skipped (`OnRefusal::Skip`). Returns the status and, per
    /// file, whether it was refused. The notifier is told when the status became
    /// `newly_notified`.
    pub(crate) fn match_files(
        &self,
        files: &[&[u8]],
        names: Option<&[String]>,
        on_refusal: OnRefusal,
    ) -> Result<(ExposureStatus, Vec<Option<KeyFileError>>), CoreError> {
        let (config, risk) = {
            let engine = self.lock()?;
            (engine.config.clone(), engine.risk_model().windows().clone())
        };
        if config.trusted_signers.0.is_empty() {
            return Err(CoreError::NoTrustedSigners);
        }
        let mut files_matched = 0;
        let mut files_already_matched = 0;
        let mut keys_checked = 0;
        let mut outcomes = Vec::with_capacity(files.len());
        if !files.is_empty() {
            let (chunks, mut processed) = {
                let mut engine = self.lock()?;
                let today = engine.today()?;
                let first_kept = engine.first_kept_day()?;
                (
                    engine.sightings(first_kept, today)?,
                    engine.processed_files()?,
                )
            };
            let index = SightingIndex::build(&chunks);
            drop(chunks);
            // The hashes this call adds; merged into the stored list under the lock, so
            // concurrent calls never overwrite each other's.
            let mut added: Vec<([u8; 32], u32)> = Vec::new();
            // A file's hash is saved with its exposure windows; hashes of files without any
            // are saved once, when the batch ends (however it ends): matching such a file
            // again after a crash changes nothing.
            let mut unsaved = false;
            let mut each_file = || -> Result<(), CoreError> {
                for (i, file) in files.iter().enumerate() {
                    // Read, verified and matched in one pass and bounded memory; the
                    // matches exist only if the file verified.
                    let matched = config.match_key_file(&index, file);
                    let MatchedKeyFile {
                        file: verified,
                        matches,
                    } = match matched {
                        Ok(matched) => matched,
                        Err(error) => {
                            log::warn!(
                                "key file {} refused: {:?}",
                                label(names, i),
                                KeyFileRefusal::from(&error)
                            );
                            match on_refusal {
                                OnRefusal::Stop => {
                                    return Err(CoreError::KeyFile { index: i, error });
                                }
                                OnRefusal::Skip => {
                                    outcomes.push(Some(error));
                                    continue;
                                }
                            }
                        }
                    };
                    outcomes.push(None);
                    if processed.contains(&verified.sha256) {
                        log::info!("key file {} already matched", label(names, i));
                        files_already_matched += 1;
                        continue;
                    }
                    keys_checked += verified.keys as u64;
                    let windows = windows_of(&matches, &risk);
                    log::info!(
                        "key file {}: {} keys, {} matched, {} exposure windows",
                        label(names, i),
                        verified.keys,
                        matches.len(),
                        windows.len()
                    );
                    let mut engine = self.lock()?;
                    let today = engine.today()?;
                    processed.0.push((verified.sha256, today.get()));
                    added.push((verified.sha256, today.get()));
                    if windows.is_empty() {
                        unsaved = true;
                    } else {
                        engine.store_windows(&windows)?;
                        engine.record_processed_files(&added)?;
                        unsaved = false;
                    }
                    files_matched += 1;
                }
                Ok(())
            };
            let result = each_file();
            if unsaved {
                self.lock()?.record_processed_files(&added)?;
            }
            result?;
        }
        let mut status = self.lock()?.exposure_status()?;
        status.files_matched = files_matched;
        status.files_already_matched = files_already_matched;
        status.keys_checked = keys_checked;
        if status.newly_notified {
            log::info!("exposure reached the notification threshold");
            if let Some(notifier) = self.notifier()? {
                notifier.exposure_detected(&status);
            }
        }
        Ok((status, outcomes))
    }
}

impl Engine {
    fn store_windows(&mut self, windows: &[StoredWindow]) -> Result<(), CoreError> {
        let records: Vec<(DayNumber, Vec<u8>)> = windows
            .iter()
            .map(|w| (w.window.day, w.to_record()))
            .collect();
        let items: Vec<(Table, DayNumber, &[u8])> = records
            .iter()
            .map(|(day, record)| (Table::Exposures, *day, record.as_slice()))
            .collect();
        self.store.append_batch(&items)?;
        Ok(())
    }

    /// The stored windows of the retention period, oldest first, each once.
    pub(crate) fn exposure_windows(&mut self) -> Result<Vec<ExposureWindow>, CoreError> {
        let today = self.today()?;
        let first_kept = self.first_kept_day()?;
        let mut seen = HashSet::new();
        let mut windows = Vec::new();
        for stored in self.store.read_days(Table::Exposures, first_kept, today)? {
            let window = StoredWindow::from_record(&stored.value)?;
            if seen.insert(window.fingerprint) {
                windows.push(window.window);
            }
        }
        Ok(windows)
    }

    /// The decision over the stored windows; saves whether the person is to be notified.
    /// A damaged notified flag reads as "not told" (they may be told again).
    pub(crate) fn exposure_status(&mut self) -> Result<ExposureStatus, CoreError> {
        let today = self.today()?;
        let windows = self.exposure_windows()?;
        let Notified(was_notified) = saved_state::load_or_default(&self.store)?;
        let status = self.risk_model().status(&windows, today, was_notified);
        if status.notify != was_notified {
            saved_state::save(&mut self.store, &Notified(status.notify))?;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bluezone_protocol::keyfile::{DiagnosisKey, ReportType};
    use bluezone_protocol::matching::MatchedScan;
    use bluezone_protocol::{CalibrationConfidence, IntervalNumber, RollingPeriod};

    #[test]
    fn each_window_carries_the_fingerprint_of_its_key_and_start() {
        let scan = |time| MatchedScan {
            time,
            seconds_since_last_scan: 300,
            typical_attenuation_db: 50,
            min_attenuation_db: 45,
        };
        let start = 1_793_520_000;
        let m = KeyMatch {
            key: DiagnosisKey {
                key_data: [5; 16],
                rolling_start: IntervalNumber::from_unix_seconds(start)
                    .expect("interval")
                    .rolling_start(),
                rolling_period: RollingPeriod::FULL_DAY,
                transmission_risk: 0,
                report_type: ReportType::ConfirmedTest,
                days_since_onset: Some(1),
            },
            calibration_confidence: CalibrationConfidence::Lowest,
            // Two windows: the second starts more than 30 minutes after the first.
            scans: vec![scan(start), scan(start + 300), scan(start + 3600)],
        };
        let windows = windows_of(&[m], &RiskConfig::default());
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].fingerprint, fingerprint(&[5; 16], start));
        assert_eq!(windows[1].fingerprint, fingerprint(&[5; 16], start + 3600));
        assert!(windows_of(&[], &RiskConfig::default()).is_empty());
    }

    #[test]
    fn files_are_logged_by_name_or_position() {
        let names = ["a.zip".to_owned()];
        assert_eq!(label(Some(&names), 0), "a.zip");
        assert_eq!(label(Some(&names), 1), "#1");
        assert_eq!(label(None, 3), "#3");
    }
}
