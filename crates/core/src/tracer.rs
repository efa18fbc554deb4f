//! The [`Tracer`]: the one object a phone app (through the FFI), the simulator and the CLI
//! drive. It owns the encrypted store, the phone's keys, the rotation schedule and the
//! sighting folder, behind one lock, so it can be called from any thread.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bluezone_protocol::keyfile::{KeyFileError, read_key_file};
use bluezone_protocol::matching::{SightingIndex, match_keys};
use bluezone_protocol::risk::{ExposureWindow, decide, exposure_windows};
use bluezone_protocol::sightings::DayChunk;
use bluezone_protocol::{
    Advertisement, DayNumber, IntervalNumber, Metadata, RollingPeriod, TemporaryExposureKey,
};
use bluezone_store::{MasterKey, Store, StoreStats, Table};
use rand::{Rng, SeedableRng};

use crate::config::TracerConfig;
use crate::diagnostics::{self, Diagnostics};
use crate::downloads::{self, DownloadFailure, DownloadLedger};
use crate::error::CoreError;
use crate::exposure::{ExposureStatus, StoredWindow, fingerprint};
use crate::fold::Folder;
use crate::ingest::{IngestReport, SightingInput, ValidSighting, validate};
use crate::own_keys::{OwnKey, key_for};
use crate::ports::{Clock, Notifier, SecureRandom, SystemClock, system_random};
use crate::rotation::{CurrentAdvertisement, draw_lifetime, rotation_due};
use crate::transport::Transport;
use crate::upload::{
    CONSENT_VALIDITY_SECS, PendingUpload, UploadConsent, UploadReceipt, VerifiedCode,
};

/// Setting: SHA-256 and day of every key file matched within the retention period.
const PROCESSED_FILES: &str = "processed_key_files";
/// Setting: whether the user has been told of an exposure.
const NOTIFIED: &str = "exposure_notified";
/// Setting: an upload not yet acknowledged by the server.
const PENDING_UPLOAD: &str = "pending_upload";
/// Setting: the [`DownloadLedger`] (JSON; earlier versions stored names one a line).
const DOWNLOADED_FILES: &str = "downloaded_key_files";
/// The phone driver's saved state (see [`crate::driver::SavedState`]).
const DRIVER_STATE: &str = "driver_state";

/// Where the tracer keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageLocation {
    /// A SQLite database file (created if missing).
    File(PathBuf),
    /// Memory only, gone when the tracer is dropped (simulations, tests).
    InMemory,
}

/// What a maintenance run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Days whose data passed the retention period and was destroyed.
    pub days_purged: u32,
    /// Days whose sighting chunks were merged into one.
    pub days_compacted: u32,
}

/// What [`Tracer::process_key_files`] does with a refused file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnRefusal {
    /// End the batch with the error (files before it stay processed).
    Stop,
    /// Skip it and go on.
    Skip,
}

/// The exposure-notification engine of one phone.
pub struct Tracer {
    engine: Mutex<Engine>,
    notifier: Mutex<Option<Arc<dyn Notifier>>>,
    /// Held through a download call, so two calls never fetch the same files or overwrite
    /// each other's bookkeeping.
    downloading: Mutex<()>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracer")
    }
}

struct Engine {
    config: TracerConfig,
    store: Store,
    clock: Arc<dyn Clock>,
    rng: SecureRandom,
    keys: Vec<OwnKey>,
    current: Option<CurrentAdvertisement>,
    folder: Folder,
    since_open: IngestReport,
    chunks_since_compaction: HashMap<DayNumber, usize>,
    /// Bumped whenever the identifier on air must change before its time (a key released
    /// by an upload, everything deleted). See [`Tracer::identity_changes`].
    identity_changes: u64,
}

impl Tracer {
    /// Opens (or creates) a tracer with the system clock and the OS random number generator.
    ///
    /// # Errors
    /// [`CoreError::Store`] for a wrong master key or an unreadable store,
    /// [`CoreError::InvalidConfig`] for inconsistent settings.
    pub fn open(
        config: TracerConfig,
        storage: StorageLocation,
        master_key: &MasterKey,
    ) -> Result<Self, CoreError> {
        Self::open_with(
            config,
            storage,
            master_key,
            Arc::new(SystemClock),
            system_random(),
        )
    }

    /// Opens a tracer with an injected clock and random number generator.
    ///
    /// # Errors
    /// As [`Tracer::open`].
    pub fn open_with(
        config: TracerConfig,
        storage: StorageLocation,
        master_key: &MasterKey,
        clock: Arc<dyn Clock>,
        mut rng: SecureRandom,
    ) -> Result<Self, CoreError> {
        validate_config(&config)?;
        // The store draws its nonces and day keys from a generator seeded by ours, so one
        // injected generator makes a whole run reproducible.
        let store_rng: SecureRandom = Box::new(rand::rngs::StdRng::from_rng(&mut rng));
        let store = match &storage {
            StorageLocation::File(path) => Store::open(path, master_key, store_rng)?,
            StorageLocation::InMemory => Store::open_in_memory(master_key, store_rng)?,
        };
        let mut engine = Engine {
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
        };
        engine.purge_expired()?;
        engine.load_keys()?;
        Ok(Self {
            engine: Mutex::new(engine),
            notifier: Mutex::new(None),
            downloading: Mutex::new(()),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Engine>, CoreError> {
        self.engine.lock().map_err(|_| CoreError::Poisoned)
    }

    /// How many times the identifier on air has had to change before its time (today's key
    /// released by an upload, all data deleted) since the tracer opened. The phone glue
    /// ([`crate::Phone`]) compares it before every driver event and rotates when it moved, so
    /// a published key leaves the air without the platform having to know.
    ///
    /// # Errors
    /// [`CoreError::Poisoned`] when an earlier call panicked holding the engine.
    pub fn identity_changes(&self) -> Result<u64, CoreError> {
        Ok(self.lock()?.identity_changes)
    }

    /// The advertisement to broadcast now, and when to rotate it (see [`CurrentAdvertisement`]).
    /// Creates and stores a new daily key first when none covers the current interval.
    ///
    /// # Errors
    /// [`CoreError::Clock`] when the clock is before 1970; [`CoreError::Store`] when the new
    /// key cannot be stored (nothing is broadcast from a key that is not safely stored).
    pub fn current_advertisement(&self) -> Result<CurrentAdvertisement, CoreError> {
        let mut engine = self.lock()?;
        let now = engine.clock.now();
        engine.current_advertisement(now)
    }

    /// Records a batch of adverts heard: validates, folds and stores them in one transaction.
    ///
    /// # Errors
    /// [`CoreError::Store`] when storing fails; the folded sightings stay in memory and are
    /// stored with the next batch. Refused sightings are not errors: they are counted in the
    /// returned [`IngestReport`].
    pub fn record_sightings(&self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
        let mut engine = self.lock()?;
        let now = engine.clock.now();
        let mut report = IngestReport::default();
        let mut valid: Vec<ValidSighting> = Vec::with_capacity(batch.len());
        for input in batch {
            match validate(input, now, &engine.config) {
                Ok(v) => valid.push(v),
                Err(reason) => report.count(reason),
            }
        }
        valid.sort_by_key(|v| v.time);
        report.accepted = valid.len() as u64;
        for v in &valid {
            engine.folder.add(v);
        }
        engine.since_open.add(&report);
        engine.flush()?;
        Ok(report)
    }

    /// The stored sightings of days `from..=to`, one merged chunk per day that has any.
    ///
    /// # Errors
    /// [`CoreError::Store`] or [`CoreError::Chunk`] when stored data is unreadable.
    pub fn sightings(
        &self,
        from: DayNumber,
        to: DayNumber,
    ) -> Result<Vec<(DayNumber, DayChunk)>, CoreError> {
        self.lock()?.sightings(from, to)
    }

    /// Verifies a downloaded diagnosis-key file, matches it against the stored sightings,
    /// scores the exposures, stores them sealed, and says whether to notify. A file already
    /// matched (same `export.bin`) is not matched again.
    ///
    /// # Errors
    /// [`CoreError::KeyFile`] when the file is refused (bad signature, malformed, unknown
    /// signer...), [`CoreError::NoTrustedSigners`], or store errors.
    pub fn process_key_file(&self, file: &[u8]) -> Result<ExposureStatus, CoreError> {
        self.process_key_files(&[file])
    }

    /// [`Tracer::process_key_file`] for a batch: the sightings are decrypted and indexed once.
    /// Files are processed in order; if one is refused, the error names it, and the files
    /// before it stay processed (calling again with the same batch skips them).
    ///
    /// The matching runs on every core and outside the engine's lock, so the shell can keep
    /// recording sightings meanwhile.
    ///
    /// # Errors
    /// As [`Tracer::process_key_file`].
    pub fn process_key_files(&self, files: &[&[u8]]) -> Result<ExposureStatus, CoreError> {
        self.match_files(files, OnRefusal::Stop)
            .map(|(status, _)| status)
    }

    /// Matches `files` in order; a refused file either ends the batch with
    /// [`CoreError::KeyFile`] (`OnRefusal::Stop`) or is skipped (`OnRefusal::Skip`). Returns
    /// the status and, per file, whether it was refused. The notifier is told when the status
    /// became `newly_notified`.
    fn match_files(
        &self,
        files: &[&[u8]],
        on_refusal: OnRefusal,
    ) -> Result<(ExposureStatus, Vec<Option<KeyFileError>>), CoreError> {
        let config = self.lock()?.config.clone();
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
                    let verified =
                        match read_key_file(file, &config.trusted_signers, &config.key_file_limits)
                        {
                            Ok(verified) => verified,
                            Err(error) => match on_refusal {
                                OnRefusal::Stop => {
                                    return Err(CoreError::KeyFile { index: i, error });
                                }
                                OnRefusal::Skip => {
                                    outcomes.push(Some(error));
                                    continue;
                                }
                            },
                        };
                    outcomes.push(None);
                    if processed.iter().any(|(hash, _)| *hash == verified.sha256) {
                        files_already_matched += 1;
                        continue;
                    }
                    keys_checked += verified.keys.len() as u64;
                    let matches = match_keys(&index, &verified.keys, &config.matching);
                    let windows: Vec<StoredWindow> = matches
                        .iter()
                        .flat_map(|m| {
                            exposure_windows(std::slice::from_ref(m), &config.risk)
                                .into_iter()
                                .map(|window| StoredWindow {
                                    fingerprint: fingerprint(
                                        &m.key.key_data,
                                        window.scans.first().map_or(0, |s| s.time),
                                    ),
                                    window,
                                })
                        })
                        .collect();
                    let mut engine = self.lock()?;
                    let today = engine.today()?;
                    processed.push((verified.sha256, today.get()));
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
            let notifier = self
                .notifier
                .lock()
                .map_err(|_| CoreError::Poisoned)?
                .clone();
            if let Some(notifier) = notifier {
                notifier.exposure_detected(&status);
            }
        }
        Ok((status, outcomes))
    }

    /// Sets (or removes) who is told when an exposure reaches the threshold.
    ///
    /// # Errors
    /// [`CoreError::Poisoned`] after an internal failure.
    pub fn set_notifier(&self, notifier: Option<Arc<dyn Notifier>>) -> Result<(), CoreError> {
        *self.notifier.lock().map_err(|_| CoreError::Poisoned)? = notifier;
        Ok(())
    }

    /// Exchanges the code an official gave the person for a token (`POST /v1/verify`,
    /// sealed to the pinned upload key both ways). Nothing about the phone is sent but the
    /// code.
    ///
    /// # Errors
    /// [`CoreError::InvalidCode`] for a code that is not 8 digits (checked before any
    /// network use), [`CoreError::UploadNotConfigured`], [`CoreError::Server`] with the
    /// server's code (`code_invalid`, `code_expired`, `code_used`, `too_many_attempts`),
    /// [`CoreError::Network`].
    pub fn verify_code(
        &self,
        transport: &dyn Transport,
        code: &str,
    ) -> Result<VerifiedCode, CoreError> {
        bluezone_protocol::upload::VerificationCode::parse(code)
            .map_err(|_| CoreError::InvalidCode)?;
        let (server_key, mut rng) = {
            let mut engine = self.lock()?;
            let key = engine
                .config
                .upload_public_key
                .ok_or(CoreError::UploadNotConfigured)?;
            (key, rand::rngs::StdRng::from_rng(&mut engine.rng))
        };
        crate::upload::verify(transport, &server_key, code, &mut rng)
    }

    /// Uploads the keys of the last 14 days, after the person's explicit consent: releases
    /// and replaces today's key, obtains a certificate bound to the keys' HMAC, and sends
    /// the keys sealed to the pinned server key. Retrying after a failure sends the same
    /// request again.
    ///
    /// # Errors
    /// [`CoreError::ConsentRequired`] when consent is older than 10 minutes or in the future,
    /// [`CoreError::UploadNotConfigured`], [`CoreError::Server`], [`CoreError::Network`].
    pub fn upload_keys(
        &self,
        transport: &dyn Transport,
        verified: &VerifiedCode,
        consent: UploadConsent,
    ) -> Result<UploadReceipt, CoreError> {
        let (server_key, request_bytes, mut pending) = {
            let mut engine = self.lock()?;
            let now = engine.clock.now();
            if consent.agreed_at > now + 60 || now - consent.agreed_at > CONSENT_VALIDITY_SECS {
                return Err(CoreError::ConsentRequired);
            }
            let server_key = engine
                .config
                .upload_public_key
                .ok_or(CoreError::UploadNotConfigured)?;
            let pending = match engine.pending_upload()? {
                Some(p) if p.token == verified.token => p,
                _ => {
                    let pending = engine.prepare_upload(now, &verified.token)?;
                    engine.save_pending_upload(Some(&pending))?;
                    pending
                }
            };
            (server_key, engine.config.upload_request_bytes, pending)
        };
        let mut rng = {
            let mut engine = self.lock()?;
            rand::rngs::StdRng::from_rng(&mut engine.rng)
        };
        let mut renewed = false;
        let receipt = loop {
            crate::upload::certificate(transport, &server_key, &mut pending, &mut rng)?;
            self.lock()?.save_pending_upload(Some(&pending))?;
            match crate::upload::publish(transport, &pending, &server_key, request_bytes, &mut rng)
            {
                // The certificate (valid 15 minutes) ran out between a failed attempt and
                // this retry: the server issues a new one for the same token and keys.
                Err(CoreError::Server { code, .. })
                    if code == "certificate_expired" && !renewed =>
                {
                    renewed = true;
                    pending.certificate = None;
                }
                other => break other?,
            }
        };
        self.lock()?.save_pending_upload(None)?;
        Ok(receipt)
    }

    /// Downloads and processes the key files the server lists that this phone has not
    /// processed yet (`GET /v1/index.txt`, then `GET /v1/files/<name>` for each), oldest
    /// first, at most [`TracerConfig::max_files_per_download`] per call. When
    /// [`ExposureStatus::files_remaining`] is above zero, call again at once.
    ///
    /// The index is read within bounds (see [`crate::downloads`]). A file the server does
    /// not serve (a status other than 200) or that is refused (bad signature, malformed...)
    /// is skipped and retried later with exponential back-off (an hour, doubling, at most a
    /// day); the files after it are processed in the same call, and [`Tracer::diagnostics`]
    /// lists it meanwhile. Names the index no longer lists are forgotten. Calls are
    /// serialized: a second one waits for the first.
    ///
    /// # Errors
    /// [`CoreError::Network`] when the server cannot be reached: the files processed before
    /// are kept. [`CoreError::Server`] when the index is refused, [`CoreError::Protocol`]
    /// when it lists no readable name, [`CoreError::NoTrustedSigners`], store errors.
    pub fn download_key_files(
        &self,
        transport: &dyn Transport,
    ) -> Result<ExposureStatus, CoreError> {
        self.download_batch(transport, &|| false)
    }

    /// One batch of [`Tracer::download_key_files`] that stops fetching as soon as
    /// `cancelled` says so: the files fetched before are processed and kept, the ones not
    /// reached are counted in [`ExposureStatus::files_remaining`].
    ///
    /// # Errors
    /// As [`Tracer::download_key_files`].
    pub fn download_batch(
        &self,
        transport: &dyn Transport,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<ExposureStatus, CoreError> {
        let _downloading = self.downloading.lock().map_err(|_| CoreError::Poisoned)?;
        let (mut ledger, max, now) = {
            let engine = self.lock()?;
            if engine.config.trusted_signers.0.is_empty() {
                return Err(CoreError::NoTrustedSigners);
            }
            (
                engine.download_ledger()?,
                engine.config.max_files_per_download,
                engine.clock.now(),
            )
        };
        let reply = transport.get(downloads::INDEX_PATH)?;
        if reply.status != 200 {
            return crate::upload::answer::<()>(reply).map(|()| ExposureStatus::default());
        }
        let index = downloads::parse_index(&reply.body);
        drop(reply);
        if index.names.is_empty() && index.skipped_lines > 0 {
            // Not an index (a captive portal's page, say): keep what the phone remembers.
            return Err(CoreError::Protocol(
                "the key-file index lists no valid file name".into(),
            ));
        }
        let stored = ledger.clone();
        ledger.prune(&index.names);
        let plan = ledger.plan(&index.names, now, max);
        let mut names = Vec::with_capacity(plan.fetch.len());
        let mut bodies = Vec::with_capacity(plan.fetch.len());
        let mut files_failed = 0u32;
        let mut network_error = None;
        let planned = plan.fetch.len();
        let mut unreached = 0u32;
        for (position, name) in plan.fetch.into_iter().enumerate() {
            if cancelled() {
                unreached = u32::try_from(planned - position).unwrap_or(u32::MAX);
                break;
            }
            match transport.get(&downloads::file_path(&name)) {
                Ok(reply) if reply.status == 200 => {
                    names.push(name);
                    bodies.push(reply.body);
                }
                Ok(reply) => {
                    ledger.record_failure(&name, DownloadFailure::HttpStatus(reply.status), now);
                    files_failed += 1;
                }
                Err(error) => {
                    // Process what arrived; the rest waits for the next call.
                    network_error = Some(error);
                    break;
                }
            }
        }
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let matched = self.match_files(&refs, OnRefusal::Skip);
        drop(refs);
        drop(bodies);
        let (mut status, outcomes) = match matched {
            Ok(done) => done,
            Err(error) => {
                self.lock()?.save_download_ledger(&stored, &ledger)?;
                return Err(error);
            }
        };
        for (name, outcome) in names.iter().zip(&outcomes) {
            match outcome {
                None => ledger.record_processed(name),
                Some(error) => {
                    ledger.record_failure(name, DownloadFailure::Refused(error.into()), now);
                    files_failed += 1;
                }
            }
        }
        self.lock()?.save_download_ledger(&stored, &ledger)?;
        if let Some(error) = network_error {
            return Err(error.into());
        }
        status.files_failed = files_failed;
        status.files_remaining = plan.remaining.saturating_add(unreached);
        Ok(status)
    }

    /// The current exposure decision, from the stored exposure windows.
    ///
    /// # Errors
    /// Store errors.
    pub fn exposure_status(&self) -> Result<ExposureStatus, CoreError> {
        self.lock()?.exposure_status()
    }

    /// The stored exposure windows of the retention period, oldest first, each once (GAEN
    /// `getExposureWindows`: no key, no identifier, only scans and their attenuations). For
    /// apps and QA tools that score with their own parameters, such as `bluezone sim sweep`.
    ///
    /// # Errors
    /// Store errors, or [`CoreError::ExposureRecord`] for a malformed stored window.
    pub fn exposure_windows(&self) -> Result<Vec<ExposureWindow>, CoreError> {
        self.lock()?.exposure_windows()
    }

    /// A report on data collection; nothing in it leaves the phone.
    ///
    /// # Errors
    /// [`CoreError::Store`] or [`CoreError::Chunk`] when stored data is unreadable.
    pub fn diagnostics(&self) -> Result<Diagnostics, CoreError> {
        let mut engine = self.lock()?;
        let now = engine.clock.now();
        let today = DayNumber::from_unix_seconds(now)?;
        let yesterday = DayNumber::new(today.get().saturating_sub(1));
        let chunks: Vec<DayChunk> = engine
            .sightings(yesterday, today)?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let stats = engine.store.stats()?;
        let failing = engine.download_ledger()?.failing;
        let mut diag = Diagnostics {
            failing_key_file_count: u32::try_from(failing.len()).unwrap_or(u32::MAX),
            failing_key_files: failing
                .into_iter()
                .take(diagnostics::MAX_REPORTED_FAILING_FILES)
                .collect(),
            last_rotation_at: engine.current.map(|c| c.rotated_at),
            next_rotation_at: engine.current.map(|c| c.next_rotation_at),
            storage_bytes: stats.bytes,
            stored_days: u32::try_from(stats.days.len()).unwrap_or(u32::MAX),
            ingest_since_open: engine.since_open,
            ..Diagnostics::default()
        };
        diagnostics::fill_from_chunks(&mut diag, &chunks, now);
        Ok(diag)
    }

    /// Destroys data past the retention period and merges each day's stored chunks. Shells
    /// call it once a day (it also runs when the tracer opens, without the compaction).
    ///
    /// # Errors
    /// [`CoreError::Store`] or [`CoreError::Chunk`].
    pub fn run_maintenance(&self) -> Result<MaintenanceReport, CoreError> {
        let mut engine = self.lock()?;
        let days_purged = engine.purge_expired()?;
        let mut days_compacted = 0;
        for day in engine.store.days(Table::Sightings)? {
            if engine.compact(day)? {
                days_compacted += 1;
            }
        }
        engine.store.checkpoint()?;
        Ok(MaintenanceReport {
            days_purged,
            days_compacted,
        })
    }

    /// Deletes everything: keys, sightings, state. The next advertisement uses a new key.
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn delete_all_data(&self) -> Result<(), CoreError> {
        let mut engine = self.lock()?;
        engine.store.delete_everything()?;
        engine.keys.clear();
        engine.current = None;
        engine.identity_changes += 1;
        engine.folder.clear();
        engine.chunks_since_compaction.clear();
        Ok(())
    }

    /// The phone driver's saved state, if any (sealed like every setting).
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn driver_state(&self) -> Result<Option<Vec<u8>>, CoreError> {
        Ok(self
            .lock()?
            .store
            .get_setting(DRIVER_STATE)?
            .map(|bytes| bytes.to_vec()))
    }

    /// Saves the phone driver's state.
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn save_driver_state(&self, bytes: &[u8]) -> Result<(), CoreError> {
        self.lock()?.store.put_setting(DRIVER_STATE, bytes)?;
        Ok(())
    }

    /// Row, day and byte counts of the store.
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn storage_stats(&self) -> Result<StoreStats, CoreError> {
        Ok(self.lock()?.store.stats()?)
    }
}

impl crate::ports::SightingSink for Tracer {
    fn deliver(&self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
        self.record_sightings(batch)
    }
}

fn validate_config(config: &TracerConfig) -> Result<(), CoreError> {
    if config.rotation_min_secs < 600 {
        return Err(CoreError::InvalidConfig(
            "rotation_min_secs must be at least one interval (600 s)",
        ));
    }
    if config.rotation_max_secs < config.rotation_min_secs {
        return Err(CoreError::InvalidConfig(
            "rotation_max_secs must not be below rotation_min_secs",
        ));
    }
    if !(1..=30).contains(&config.retention_days) {
        return Err(CoreError::InvalidConfig("retention_days must be 1 to 30"));
    }
    if config.scan_gap_secs < 1 || config.max_sighting_age_secs < 1 {
        return Err(CoreError::InvalidConfig(
            "scan_gap_secs and max_sighting_age_secs must be positive",
        ));
    }
    if config.compact_after_chunks < 1 {
        return Err(CoreError::InvalidConfig(
            "compact_after_chunks must be positive",
        ));
    }
    metadata_of(config)?;
    Ok(())
}

/// The AEM plaintext this configuration advertises (GAEN metadata 1.1).
fn metadata_of(config: &TracerConfig) -> Result<[u8; 4], CoreError> {
    Metadata {
        major_version: 1,
        minor_version: 1,
        calibration_confidence: config.calibration_confidence,
        tx_power_dbm: config.tx_power_dbm,
    }
    .to_bytes()
    .map_err(|_| {
        CoreError::InvalidConfig("the GAEN metadata of this configuration does not encode")
    })
}

impl Engine {
    fn today(&self) -> Result<DayNumber, CoreError> {
        Ok(DayNumber::from_unix_seconds(self.clock.now())?)
    }

    fn first_kept_day(&self) -> Result<DayNumber, CoreError> {
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

    fn purge_expired(&mut self) -> Result<u32, CoreError> {
        let first_kept = self.first_kept_day()?;
        let report = self.store.purge_before(first_kept)?;
        // An upload never acknowledged holds keys (and a token and secret): it goes with them.
        let expired = match self.pending_upload() {
            Ok(Some(pending)) => !DayNumber::from_unix_seconds(pending.created_at)
                .is_ok_and(|created| created >= first_kept),
            Ok(None) => false,
            // Unreadable: it could never be sent.
            Err(CoreError::LocalState(_)) => true,
            Err(other) => return Err(other),
        };
        if expired {
            self.save_pending_upload(None)?;
        }
        self.keys.retain(|k| k.rolling_start.day() >= first_kept);
        self.chunks_since_compaction
            .retain(|day, _| *day >= first_kept);
        Ok(report.days_purged)
    }

    /// The key in force at `interval`, made and stored first if there is none.
    fn key_in_force(&mut self, interval: IntervalNumber) -> Result<OwnKey, CoreError> {
        if let Some(key) = key_for(&self.keys, interval) {
            return Ok(key.clone());
        }
        let key = OwnKey {
            tek: TemporaryExposureKey::generate(&mut *self.rng),
            rolling_start: interval.rolling_start(),
            rolling_period: RollingPeriod::FULL_DAY,
        };
        self.store
            .append(Table::OwnKeys, interval.day(), &key.to_record())?;
        self.keys.push(key.clone());
        Ok(key)
    }

    fn current_advertisement(&mut self, now: i64) -> Result<CurrentAdvertisement, CoreError> {
        if let Some(current) = self
            .current
            .filter(|_| !rotation_due(self.current.as_ref(), now))
        {
            return Ok(current);
        }
        let interval = IntervalNumber::from_unix_seconds(now)?;
        let key = self.key_in_force(interval)?;
        let derived = key.tek.derive_keys();
        let rpi = derived.rpik.identifier(interval);
        // Checked when the tracer opened: this cannot fail for a tracer that exists.
        let aem = derived.aemk.encrypt(&rpi, metadata_of(&self.config)?);
        let advertisement = Advertisement { rpi, aem };
        let lifetime = draw_lifetime(
            &mut *self.rng,
            self.config.rotation_min_secs,
            self.config.rotation_max_secs,
        );
        // A key whose period ends before its day does was released by an upload: its
        // identifiers leave the air where its published period ends and the replacement
        // takes over. (Daily keys rotate across midnight like GAEN's: the 10-20 minute
        // lifetime is kept.)
        let key_end = key.rolling_start.get() + key.rolling_period.get();
        let mut next_rotation_at = now + i64::from(lifetime);
        if key_end % RollingPeriod::FULL_DAY.get() != 0 {
            next_rotation_at = next_rotation_at.min(i64::from(key_end) * 600);
        }
        let current = CurrentAdvertisement {
            advertisement,
            interval,
            payload: advertisement.to_legacy_payload(),
            rotated_at: now,
            next_rotation_at,
        };
        self.current = Some(current);
        Ok(current)
    }

    fn flush(&mut self) -> Result<(), CoreError> {
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

    /// Releases the key in force now: its rolling period ends with the current interval, and
    /// a new key covers the rest of its day. Broadcasting moves to the new key at the next
    /// interval.
    fn release_current_key(&mut self, now: i64) -> Result<(), CoreError> {
        let interval = IntervalNumber::from_unix_seconds(now)?;
        let Some(key) = key_for(&self.keys, interval).cloned() else {
            return Ok(());
        };
        let released_period = interval.get() - key.rolling_start.get() + 1;
        if released_period >= key.rolling_period.get() {
            return Ok(());
        }
        let released = OwnKey {
            rolling_period: RollingPeriod::new(released_period)?,
            ..key.clone()
        };
        let next = interval.wrapping_add(1);
        let rest = key.rolling_start.get() + key.rolling_period.get() - next.get();
        let replacement = OwnKey {
            tek: TemporaryExposureKey::generate(&mut *self.rng),
            rolling_start: next,
            rolling_period: RollingPeriod::new(rest)?,
        };
        let day = interval.day();
        let records = [released.to_record(), replacement.to_record()];
        self.store.append_batch(&[
            (Table::OwnKeys, day, records[0].as_slice()),
            (Table::OwnKeys, day, records[1].as_slice()),
        ])?;
        self.keys.push(released);
        self.keys.push(replacement);
        // The identifier on air (this interval's, of the released key) stays until the
        // interval ends, then the replacement's: no new address for the same identifier.
        let released_end = i64::from(next.get()) * 600;
        if let Some(current) = &mut self.current {
            current.next_rotation_at = current.next_rotation_at.min(released_end);
        }
        self.identity_changes += 1;
        Ok(())
    }

    /// The keys to upload (the last 14 days, today's released) and a fresh HMAC secret.
    fn prepare_upload(&mut self, now: i64, token: &str) -> Result<PendingUpload, CoreError> {
        use base64ct::{Base64, Encoding};
        self.release_current_key(now)?;
        let interval = IntervalNumber::from_unix_seconds(now)?;
        let oldest = interval.day().get().saturating_sub(13);
        let mut latest: HashMap<[u8; 16], &OwnKey> = HashMap::new();
        for key in &self.keys {
            if key.rolling_start <= interval && key.rolling_start.day().get() >= oldest {
                latest.insert(*key.tek.expose_bytes(), key);
            }
        }
        let mut keys: Vec<bluezone_protocol::messages::PublishKey> = latest
            .values()
            .map(|k| bluezone_protocol::messages::PublishKey {
                key: Base64::encode_string(k.tek.expose_bytes()),
                rolling_start_number: k.rolling_start.get(),
                rolling_period: k.rolling_period.get(),
                transmission_risk: 0,
            })
            .collect();
        keys.sort_by_key(|k| k.rolling_start_number);
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        self.rng.fill_bytes(secret.as_mut_slice());
        Ok(PendingUpload {
            token: token.to_owned(),
            secret: Base64::encode_string(secret.as_slice()),
            keys,
            certificate: None,
            created_at: now,
        })
    }

    fn pending_upload(&self) -> Result<Option<PendingUpload>, CoreError> {
        match self.store.get_setting(PENDING_UPLOAD)? {
            None => Ok(None),
            // An acknowledged upload leaves `null` behind.
            Some(bytes) => serde_json::from_slice::<Option<PendingUpload>>(&bytes)
                .map_err(|e| CoreError::LocalState(format!("the pending upload: {e}"))),
        }
    }

    fn save_pending_upload(&mut self, pending: Option<&PendingUpload>) -> Result<(), CoreError> {
        let bytes = match pending {
            Some(p) => zeroize::Zeroizing::new(
                serde_json::to_vec(p).map_err(|e| CoreError::LocalState(e.to_string()))?,
            ),
            None => zeroize::Zeroizing::new(Vec::new()),
        };
        if pending.is_some() {
            self.store.put_setting(PENDING_UPLOAD, &bytes)?;
        } else if self.store.get_setting(PENDING_UPLOAD)?.is_some() {
            self.store.put_setting(PENDING_UPLOAD, b"null")?;
        }
        Ok(())
    }

    fn download_ledger(&self) -> Result<DownloadLedger, CoreError> {
        Ok(self
            .store
            .get_setting(DOWNLOADED_FILES)?
            .map(|bytes| DownloadLedger::from_bytes(&bytes))
            .unwrap_or_default())
    }

    /// Stores `ledger` unless it is still the `stored` one.
    fn save_download_ledger(
        &mut self,
        stored: &DownloadLedger,
        ledger: &DownloadLedger,
    ) -> Result<(), CoreError> {
        if ledger != stored {
            self.store
                .put_setting(DOWNLOADED_FILES, &ledger.to_bytes())?;
        }
        Ok(())
    }

    fn processed_files(&self) -> Result<Vec<([u8; 32], u32)>, CoreError> {
        let Some(bytes) = self.store.get_setting(PROCESSED_FILES)? else {
            return Ok(Vec::new());
        };
        Ok(bytes
            .chunks_exact(36)
            .filter_map(|c| {
                let hash: [u8; 32] = c[..32].try_into().ok()?;
                let day = u32::from_le_bytes(c[32..].try_into().ok()?);
                Some((hash, day))
            })
            .collect())
    }

    /// Adds `added` to the stored list of processed files (read and written under the
    /// caller's one hold of the engine lock), dropping entries past retention.
    fn record_processed_files(&mut self, added: &[([u8; 32], u32)]) -> Result<(), CoreError> {
        let mut files = self.processed_files()?;
        for entry in added {
            if !files.iter().any(|(hash, _)| *hash == entry.0) {
                files.push(*entry);
            }
        }
        let first_kept = self.first_kept_day()?.get();
        files.retain(|(_, day)| *day >= first_kept);
        let bytes: Vec<u8> = files
            .iter()
            .flat_map(|(hash, day)| hash.iter().copied().chain(day.to_le_bytes()))
            .collect();
        self.store.put_setting(PROCESSED_FILES, &bytes)?;
        Ok(())
    }

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

    fn exposure_windows(&mut self) -> Result<Vec<ExposureWindow>, CoreError> {
        let today = self.today()?;
        let first_kept = self.first_kept_day()?;
        let mut seen = std::collections::HashSet::new();
        let mut windows = Vec::new();
        for stored in self.store.read_days(Table::Exposures, first_kept, today)? {
            let window = StoredWindow::from_record(&stored.value)?;
            if seen.insert(window.fingerprint) {
                windows.push(window.window);
            }
        }
        Ok(windows)
    }

    fn exposure_status(&mut self) -> Result<ExposureStatus, CoreError> {
        let today = self.today()?;
        let windows = self.exposure_windows()?;
        let decision = decide(&windows, &self.config.risk, today);
        let was_notified = self
            .store
            .get_setting(NOTIFIED)?
            .is_some_and(|v| v.first() == Some(&1));
        if decision.notify != was_notified {
            self.store
                .put_setting(NOTIFIED, &[u8::from(decision.notify)])?;
        }
        Ok(ExposureStatus::from_decision(
            &decision,
            self.config.risk.notify_score,
            was_notified,
        ))
    }

    fn sightings(
        &mut self,
        from: DayNumber,
        to: DayNumber,
    ) -> Result<Vec<(DayNumber, DayChunk)>, CoreError> {
        use rayon::prelude::*;
        let stored = self.store.read_days(Table::Sightings, from, to)?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ManualClock;

    #[test]
    fn pending_uploads_from_before_created_at_or_unreadable_are_purged() {
        let now = 1_793_491_200;
        let clock = Arc::new(ManualClock::new(now));
        let tracer = Tracer::open_with(
            TracerConfig::default(),
            StorageLocation::InMemory,
            &MasterKey::from_bytes([1; 32]),
            clock,
            Box::new(rand::rngs::StdRng::seed_from_u64(1)),
        )
        .unwrap();
        let mut engine = tracer.lock().unwrap();
        // A record written before `created_at` existed reads as created at 0: purged.
        let old = br#"{"token":"t","secret":"c2VjcmV0","keys":[],"certificate":null}"#;
        engine.store.put_setting(PENDING_UPLOAD, old).unwrap();
        assert_eq!(engine.pending_upload().unwrap().unwrap().created_at, 0);
        engine.purge_expired().unwrap();
        assert!(engine.pending_upload().unwrap().is_none());
        // A fresh one stays.
        let fresh = PendingUpload {
            token: "t".into(),
            secret: "c2VjcmV0".into(),
            keys: Vec::new(),
            certificate: None,
            created_at: now,
        };
        engine.save_pending_upload(Some(&fresh)).unwrap();
        engine.purge_expired().unwrap();
        assert!(engine.pending_upload().unwrap().is_some());
        // An unreadable one could never be sent: purged, and opening does not fail.
        engine
            .store
            .put_setting(PENDING_UPLOAD, b"{garbage")
            .unwrap();
        engine.purge_expired().unwrap();
        assert!(engine.pending_upload().unwrap().is_none());
    }

    #[test]
    fn a_pending_upload_is_destroyed_with_the_data_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        // 2026-11-01 08:00 UTC.
        let start = 1_793_520_000;
        let clock = Arc::new(ManualClock::new(start));
        let open = |seed| {
            Tracer::open_with(
                TracerConfig::default(),
                StorageLocation::File(path.clone()),
                &MasterKey::from_bytes([1; 32]),
                clock.clone(),
                Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
            )
            .unwrap()
        };
        let pending_after = |tracer: &Tracer| tracer.lock().unwrap().pending_upload().unwrap();
        let leave_pending = |tracer: &Tracer| {
            tracer.current_advertisement().unwrap();
            let mut engine = tracer.lock().unwrap();
            let now = engine.clock.now();
            let pending = engine.prepare_upload(now, "token").unwrap();
            assert_eq!(pending.created_at, now);
            engine.save_pending_upload(Some(&pending)).unwrap();
        };

        // An upload that never completes (the certificate request kept failing).
        let tracer = open(1);
        leave_pending(&tracer);
        // Its day is still within retention 14 days later: maintenance and opening keep it.
        clock.set(start + 14 * 86_400);
        tracer.run_maintenance().unwrap();
        assert!(pending_after(&tracer).is_some());
        drop(tracer);
        let tracer = open(2);
        assert!(pending_after(&tracer).is_some());
        // A day later, maintenance destroys it with the keys of its day.
        clock.set(start + 15 * 86_400);
        assert_eq!(tracer.run_maintenance().unwrap().days_purged, 1);
        assert!(pending_after(&tracer).is_none());

        // Opening the store past retention destroys it too.
        leave_pending(&tracer);
        drop(tracer);
        clock.set(start + 30 * 86_400);
        assert!(pending_after(&open(3)).is_none());
    }
}
