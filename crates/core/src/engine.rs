//! The [`Engine`]: the state a [`crate::Tracer`] holds behind its lock (the store, the clock,
//! the phone's keys, the advertisement on air, the sighting folder) and what it does with it
//! in one hold of the lock: storing sightings, compacting and purging days, and reading and
//! writing the saved state. Own keys and the advertisement are in [`keys`].

mod keys;

use std::collections::HashMap;
use std::sync::Arc;

use bluezone_protocol::DayNumber;
use bluezone_protocol::risk_config::RiskConfigDocument;
use bluezone_protocol::sightings::DayChunk;
use bluezone_store::{Store, Table};

use crate::config::TracerConfig;
use crate::diagnostics::{self, Diagnostics};
use crate::downloads::DownloadLedger;
use crate::error::CoreError;
use crate::fold::Folder;
use crate::ingest::IngestReport;
use crate::own_keys::OwnKey;
use crate::ports::{Clock, SecureRandom};
use crate::risk_model::RiskModel;
use crate::rotation::CurrentAdvertisement;
use crate::saved_state::{self, ProcessedFiles, SavedStateError};
use crate::tracer::MaintenanceReport;
use crate::upload::PendingUpload;

/// The tracer's state. See the module documentation.
pub(crate) struct Engine {
    pub(crate) config: TracerConfig,
    pub(crate) store: Store,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: SecureRandom,
    pub(crate) keys: Vec<OwnKey>,
    pub(crate) current: Option<CurrentAdvertisement>,
    pub(crate) folder: Folder,
    pub(crate) since_open: IngestReport,
    pub(crate) chunks_since_compaction: HashMap<DayNumber, usize>,
    /// Bumped whenever the identifier on air must change before its time (a key released
    /// by an upload, everything deleted). See [`crate::Tracer::identity_changes`].
    pub(crate) identity_changes: u64,
    /// The authority's risk configuration applied, if any (saved; see
    /// [`crate::Tracer::apply_risk_config`]).
    pub(crate) risk_document: Option<RiskConfigDocument>,
}

impl Engine {
    /// The engine over an opened store: data past retention destroyed, own keys loaded.
    pub(crate) fn start(
        config: TracerConfig,
        store: Store,
        clock: Arc<dyn Clock>,
        rng: SecureRandom,
    ) -> Result<Self, CoreError> {
        let mut engine = Self {
            folder: Folder::new(config.scan_gap_secs),
            config,
            store,
            clock,
            rng,
            keys: Vec::new(),
            current: None,
            since_open: IngestReport::default(),
            chunks_since_compaction: HashMap::new(),
            identity_changes: 0,
            risk_document: None,
        };
        engine.risk_document = match saved_state::load(&engine.store) {
            Ok(document) => document,
            Err(SavedStateError::Store(e)) => return Err(e.into()),
            Err(damaged) => {
                // Scoring falls back to the built-in parameters until the next download
                // fetches the current file again.
                log::warn!("{damaged}; the built-in risk parameters apply");
                None
            }
        };
        let days_purged = engine.purge_expired()?;
        engine.load_keys()?;
        log::info!(
            "store opened: {} own keys, {days_purged} days purged",
            engine.keys.len()
        );
        Ok(engine)
    }

    /// The risk model and its parameters: the authority's applied configuration, else GAEN's
    /// daily summaries with [`TracerConfig::risk`].
    pub(crate) fn risk_model(&self) -> RiskModel {
        RiskModel::new(&self.config.risk, self.risk_document.as_ref())
    }

    pub(crate) fn today(&self) -> Result<DayNumber, CoreError> {
        Ok(DayNumber::from_unix_seconds(self.clock.now())?)
    }

    pub(crate) fn first_kept_day(&self) -> Result<DayNumber, CoreError> {
        Ok(DayNumber::new(
            self.today()?
                .get()
                .saturating_sub(self.config.retention_days),
        ))
    }

    fn load_keys(&mut self) -> Result<(), CoreError> {
        let from = self.first_kept_day()?;
        let to = DayNumber::new(u32::MAX);
        self.keys = self
            .store
            .read_days(Table::OwnKeys, from, to)?
            .iter()
            .map(|stored| OwnKey::from_record(&stored.value))
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Destroys the days past retention, and with them an upload never acknowledged.
    pub(crate) fn purge_expired(&mut self) -> Result<u32, CoreError> {
        let first_kept = self.first_kept_day()?;
        let report = self.store.purge_before(first_kept)?;
        // An upload never acknowledged holds keys (and a token and secret): it goes with them.
        let expired = match self.pending_upload() {
            Ok(Some(pending)) => !DayNumber::from_unix_seconds(pending.created_at)
                .is_ok_and(|created| created >= first_kept),
            Ok(None) => false,
            Err(SavedStateError::Damaged { .. }) => {
                log::warn!("the pending upload is unreadable and can never be sent: destroyed");
                true
            }
            Err(SavedStateError::Store(e)) => return Err(e.into()),
        };
        if expired {
            self.save_pending_upload(None)?;
        }
        self.keys.retain(|k| k.rolling_start.day() >= first_kept);
        self.chunks_since_compaction
            .retain(|day, _| *day >= first_kept);
        Ok(report.days_purged)
    }

    /// Purges, then merges each day's stored chunks.
    pub(crate) fn run_maintenance(&mut self) -> Result<MaintenanceReport, CoreError> {
        let days_purged = self.purge_expired()?;
        let mut days_compacted = 0;
        for day in self.store.days(Table::Sightings)? {
            if self.compact(day)? {
                days_compacted += 1;
            }
        }
        self.store.checkpoint()?;
        log::info!("maintenance: {days_purged} days purged, {days_compacted} days compacted");
        Ok(MaintenanceReport {
            days_purged,
            days_compacted,
        })
    }

    /// Deletes everything: keys, sightings, state.
    pub(crate) fn delete_all_data(&mut self) -> Result<(), CoreError> {
        self.store.delete_everything()?;
        self.keys.clear();
        self.current = None;
        self.identity_changes += 1;
        self.folder.clear();
        self.chunks_since_compaction.clear();
        // Deleted with the store: the next download fetches the current one again.
        self.risk_document = None;
        log::info!("all data deleted");
        Ok(())
    }

    /// Stores the folded sightings not stored yet, compacting days with many chunks.
    pub(crate) fn flush(&mut self) -> Result<(), CoreError> {
        if !self.folder.is_dirty() {
            return Ok(());
        }
        let chunks = self.folder.pending_chunks();
        let encoded: Vec<(DayNumber, Vec<u8>)> = chunks
            .iter()
            .map(|(day, chunk)| chunk.encode(*day).map(|bytes| (*day, bytes)))
            .collect::<Result<_, _>>()?;
        let items: Vec<(Table, DayNumber, &[u8])> = encoded
            .iter()
            .map(|(day, bytes)| (Table::Sightings, *day, bytes.as_slice()))
            .collect();
        self.store.append_batch(&items)?;
        self.folder.flushed();
        for (day, _) in &encoded {
            let count = self.chunks_since_compaction.entry(*day).or_insert(0);
            *count += 1;
            if *count >= self.config.compact_after_chunks {
                self.compact(*day)?;
            }
        }
        Ok(())
    }

    /// Merges a day's stored chunks into one; returns whether there was anything to merge.
    fn compact(&mut self, day: DayNumber) -> Result<bool, CoreError> {
        self.chunks_since_compaction.insert(day, 0);
        let rows = self.store.read_day(Table::Sightings, day)?;
        if rows.len() < 2 {
            return Ok(false);
        }
        let chunks: Vec<DayChunk> = rows
            .iter()
            .map(|stored| DayChunk::decode(day, &stored.value))
            .collect::<Result<_, _>>()?;
        let merged = DayChunk::merge(&chunks).encode(day)?;
        self.store
            .replace_day(Table::Sightings, day, &[merged.as_slice()])?;
        Ok(true)
    }

    /// The stored sightings of days `from..=to`, one merged chunk per day that has any.
    pub(crate) fn sightings(
        &mut self,
        from: DayNumber,
        to: DayNumber,
    ) -> Result<Vec<(DayNumber, DayChunk)>, CoreError> {
        read_sightings(&mut self.store, from, to)
    }

    /// A report on data collection (see [`crate::Tracer::diagnostics`]).
    pub(crate) fn diagnostics(&mut self) -> Result<Diagnostics, CoreError> {
        let now = self.clock.now();
        let today = DayNumber::from_unix_seconds(now)?;
        let yesterday = DayNumber::new(today.get().saturating_sub(1));
        let chunks: Vec<DayChunk> = self
            .sightings(yesterday, today)?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let stats = self.store.stats()?;
        let failing = self.download_ledger()?.failing;
        let mut diag = Diagnostics {
            failing_key_file_count: u32::try_from(failing.len()).unwrap_or(u32::MAX),
            failing_key_files: failing
                .into_iter()
                .take(diagnostics::MAX_REPORTED_FAILING_FILES)
                .collect(),
            last_rotation_at: self.current.map(|c| c.rotated_at),
            next_rotation_at: self.current.map(|c| c.next_rotation_at),
            storage_bytes: stats.bytes,
            stored_days: u32::try_from(stats.days.len()).unwrap_or(u32::MAX),
            ingest_since_open: self.since_open,
            ..Diagnostics::default()
        };
        diagnostics::fill_from_chunks(&mut diag, &chunks, now);
        Ok(diag)
    }

    /// The upload not yet acknowledged, if any.
    pub(crate) fn pending_upload(&self) -> Result<Option<PendingUpload>, SavedStateError> {
        // An acknowledged upload leaves `null` behind.
        Ok(saved_state::load::<Option<PendingUpload>>(&self.store)?.flatten())
    }

    /// Saves the upload in progress, or (`None`) marks it acknowledged.
    pub(crate) fn save_pending_upload(
        &mut self,
        pending: Option<&PendingUpload>,
    ) -> Result<(), CoreError> {
        match pending {
            Some(p) => saved_state::save(&mut self.store, &Some(p.clone()))?,
            None if saved_state::is_saved::<Option<PendingUpload>>(&self.store)? => {
                saved_state::save::<Option<PendingUpload>>(&mut self.store, &None)?;
            }
            None => {}
        }
        Ok(())
    }

    /// The download bookkeeping (empty when none is saved, or the saved one is damaged:
    /// files are then fetched again, and those already matched are known by their content).
    pub(crate) fn download_ledger(&self) -> Result<DownloadLedger, CoreError> {
        Ok(saved_state::load_or_default(&self.store)?)
    }

    /// Stores `ledger` unless it is still the `stored` one.
    pub(crate) fn save_download_ledger(
        &mut self,
        stored: &DownloadLedger,
        ledger: &DownloadLedger,
    ) -> Result<(), CoreError> {
        if ledger != stored {
            saved_state::save(&mut self.store, ledger)?;
        }
        Ok(())
    }

    /// The files matched within retention (none when the saved list is damaged: files are
    /// then matched again, and their windows, known by their fingerprints, count once).
    pub(crate) fn processed_files(&self) -> Result<ProcessedFiles, CoreError> {
        Ok(saved_state::load_or_default(&self.store)?)
    }

    /// Adds `added` to the stored list of processed files (read and written under the
    /// caller's one hold of the engine lock), dropping entries past retention.
    pub(crate) fn record_processed_files(
        &mut self,
        added: &[([u8; 32], u32)],
    ) -> Result<(), CoreError> {
        let mut files = self.processed_files()?;
        files.merge(added, self.first_kept_day()?.get());
        saved_state::save(&mut self.store, &files)?;
        Ok(())
    }
}

/// The sightings of days `from` to `to` in `store`, one chunk per day (a day's chunks merged),
/// decoded on every core.
pub(crate) fn read_sightings(
    store: &mut Store,
    from: DayNumber,
    to: DayNumber,
) -> Result<Vec<(DayNumber, DayChunk)>, CoreError> {
    use rayon::prelude::*;
    let stored = store.read_days(Table::Sightings, from, to)?;
    let mut per_day: Vec<(DayNumber, Vec<&[u8]>)> = Vec::new();
    for value in &stored {
        match per_day.last_mut() {
            Some((d, chunks)) if *d == value.day => chunks.push(&value.value),
            _ => per_day.push((value.day, vec![&value.value])),
        }
    }
    // Days decode on every core; a day already compacted to one chunk needs no merge.
    per_day
        .into_par_iter()
        .map(|(day, bytes)| {
            let mut chunks = bytes
                .iter()
                .map(|b| DayChunk::decode(day, b))
                .collect::<Result<Vec<_>, _>>()?;
            let chunk = if chunks.len() == 1 {
                chunks.remove(0)
            } else {
                DayChunk::merge(&chunks)
            };
            Ok((day, chunk))
        })
        .collect()
}
