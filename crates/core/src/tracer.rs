//! The [`Tracer`]: the one object a phone app (through the FFI), the simulator and the CLI
//! drive. It owns the encrypted store, the phone's keys, the rotation schedule and the
//! sighting folder, behind one lock, so it can be called from any thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use bluezone_protocol::DayNumber;
use bluezone_protocol::risk::ExposureWindow;
use bluezone_protocol::risk_config::{is_newer, read_risk_config};
use bluezone_protocol::sightings::DayChunk;
use bluezone_store::{MasterKey, Store, StoreStats};
use rand::SeedableRng;

use crate::chaff::ChaffReport;
use crate::config::TracerConfig;
use crate::diagnostics::Diagnostics;
use crate::engine::Engine;
use crate::error::CoreError;
use crate::exposure::{ExposureStatus, OnRefusal};
use crate::ingest::{IngestReport, SightingInput, ValidSighting, validate};
use crate::ports::{Clock, Notifier, SecureRandom, SystemClock, system_random};
use crate::risk_config::{HeldRiskConfig, RiskConfigOutcome};
use crate::rotation::CurrentAdvertisement;
use crate::saved_state::{self, DriverState};
use crate::transport::Transport;
use crate::upload::{UploadConsent, UploadReceipt, VerifiedCode};

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

/// The exposure-notification engine of one phone.
pub struct Tracer {
    engine: Mutex<Engine>,
    notifier: Mutex<Option<Arc<dyn Notifier>>>,
    /// Held through a download call, so two calls never fetch the same files or overwrite
    /// each other's bookkeeping.
    pub(crate) downloading: Mutex<()>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracer")
    }
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
        config.validate()?;
        // The store draws its nonces and day keys from a generator seeded by ours, so one
        // injected generator makes a whole run reproducible.
        let store_rng: SecureRandom = Box::new(rand::rngs::StdRng::from_rng(&mut rng));
        let store = match &storage {
            StorageLocation::File(path) => Store::open(path, master_key, store_rng),
            StorageLocation::InMemory => Store::open_in_memory(master_key, store_rng),
        }
        .inspect_err(|e| log::warn!("the store did not open: {e}"))?;
        let engine = Engine::start(config, store, clock, rng).inspect_err(|e| {
            log::warn!("the store did not open: {}", crate::logging::Safe(e));
        })?;
        Ok(Self {
            engine: Mutex::new(engine),
            notifier: Mutex::new(None),
            downloading: Mutex::new(()),
        })
    }

    /// The engine, held until the guard drops.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Engine>, CoreError> {
        self.engine.lock().map_err(|_| CoreError::Poisoned)
    }

    /// Who is told of an exposure, if anyone.
    pub(crate) fn notifier(&self) -> Result<Option<Arc<dyn Notifier>>, CoreError> {
        Ok(self
            .notifier
            .lock()
            .map_err(|_| CoreError::Poisoned)?
            .clone())
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
        self.match_files(files, None, OnRefusal::Stop)
            .map(|(status, _)| status)
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
        crate::upload_flow::verify_code(self, transport, code)
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
        crate::upload_flow::upload_keys(self, transport, verified, consent)
    }

    /// When the next fake upload sequence is due (Unix seconds; see [`crate::chaff`]), for
    /// the shell to schedule a background job then; `None` when chaff is off (a mean
    /// interval of 0, or no upload key). The time is drawn once and kept in the store, so a
    /// job that wakes for it in another process finds it due.
    ///
    /// # Errors
    /// Store errors.
    pub fn next_chaff_at(&self) -> Result<Option<i64>, CoreError> {
        crate::chaff_flow::next_chaff_at(self)
    }

    /// Sends a fake upload sequence if one is due ([`Tracer::next_chaff_at`] has passed),
    /// then draws when the next is due; otherwise does nothing. Call it from a background
    /// job. See [`Tracer::send_chaff`] for the sequence and `wait`.
    ///
    /// # Errors
    /// As [`Tracer::send_chaff`]; the next sequence is drawn even then.
    pub fn run_due_chaff(
        &self,
        transport: &dyn Transport,
        wait: &dyn Fn(std::time::Duration) -> bool,
    ) -> Result<ChaffReport, CoreError> {
        crate::chaff_flow::run_due_chaff(self, transport, wait)
    }

    /// Sends one fake upload sequence now, whatever the schedule: a fake verify request,
    /// then `wait` for the drawn gap (it returns `false` when the job was cancelled, which
    /// ends the sequence there), then a fake certificate request and a fake publish at
    /// once. Each is sealed, padded to the real request's size and sent through
    /// `transport` to the real path; the server answers it like a real one and drops it.
    /// Nothing of the phone's state is read or changed: not the pending upload, the keys or
    /// the exposure state. A request the server refuses (sealed) still counts as sent.
    ///
    /// # Errors
    /// [`CoreError::UploadNotConfigured`], [`CoreError::Network`], an unsealed
    /// [`CoreError::Server`] refusal, [`CoreError::Protocol`] for a reply that does not open.
    pub fn send_chaff(
        &self,
        transport: &dyn Transport,
        wait: &dyn Fn(std::time::Duration) -> bool,
    ) -> Result<ChaffReport, CoreError> {
        crate::chaff_flow::send_chaff(self, transport, wait)
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
        crate::download_batch::download_batch(self, transport, &|| false, true)
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
        crate::download_batch::download_batch(self, transport, cancelled, true)
    }

    /// Applies the health authority's signed risk configuration (see
    /// [`bluezone_protocol::risk_config`]): verified with the trusted key-file signers, then
    /// applied only if its sequence is higher than the one held. The applied document is
    /// saved, so it survives restarts, and its model and parameters decide every later
    /// status, the stored windows' included ([`Tracer::exposure_status`]): GAEN's daily
    /// summaries with its parameters in place of [`TracerConfig::risk`]'s, or CWA's model
    /// ([`crate::risk_model::RiskModel`]).
    /// Downloads fetch and apply it themselves; the notifier is told of a change it causes
    /// at the next download.
    ///
    /// # Errors
    /// [`CoreError::NoTrustedSigners`], store errors. A refused or older file is not an
    /// error: it is a [`RiskConfigOutcome`] saying why, and the held one is kept.
    pub fn apply_risk_config(&self, file: &[u8]) -> Result<RiskConfigOutcome, CoreError> {
        let mut engine = self.lock()?;
        if engine.config.trusted_signers.0.is_empty() {
            return Err(CoreError::NoTrustedSigners);
        }
        let verified = match read_risk_config(file, &engine.config.trusted_signers) {
            Ok(verified) => verified,
            Err(error) => {
                log::warn!(
                    "risk configuration refused: {}",
                    crate::risk_config::refusal_kind(&error)
                );
                return Ok(RiskConfigOutcome::Refused(error));
            }
        };
        let offered = verified.document.sequence;
        let held = engine.risk_document.as_ref().map(|d| d.sequence);
        if !is_newer(held, offered) {
            log::debug!("risk configuration {offered} is not newer than {held:?}");
            return Ok(RiskConfigOutcome::NotNewer {
                held: held.unwrap_or_default(),
                offered,
            });
        }
        saved_state::save(&mut engine.store, &verified.document)?;
        engine.risk_document = Some(verified.document);
        log::info!("risk configuration {offered} applied");
        Ok(RiskConfigOutcome::Applied { sequence: offered })
    }

    /// The authority's risk configuration the phone holds (its sequence, date and note),
    /// `None` while the built-in parameters apply.
    ///
    /// # Errors
    /// [`CoreError::Poisoned`] after an internal failure.
    pub fn risk_config(&self) -> Result<Option<HeldRiskConfig>, CoreError> {
        Ok(self
            .lock()?
            .risk_document
            .as_ref()
            .map(HeldRiskConfig::from))
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
        self.lock()?.diagnostics()
    }

    /// Destroys data past the retention period and merges each day's stored chunks. Shells
    /// call it once a day (it also runs when the tracer opens, without the compaction).
    ///
    /// # Errors
    /// [`CoreError::Store`] or [`CoreError::Chunk`].
    pub fn run_maintenance(&self) -> Result<MaintenanceReport, CoreError> {
        self.lock()?.run_maintenance()
    }

    /// Deletes everything: keys, sightings, state. The next advertisement uses a new key.
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn delete_all_data(&self) -> Result<(), CoreError> {
        self.lock()?.delete_all_data()
    }

    /// The phone driver's saved state, if any (sealed like every setting).
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn driver_state(&self) -> Result<Option<Vec<u8>>, CoreError> {
        let state = saved_state::load::<DriverState>(&self.lock()?.store)?;
        Ok(state.map(|DriverState(bytes)| bytes))
    }

    /// Saves the phone driver's state.
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub fn save_driver_state(&self, bytes: &[u8]) -> Result<(), CoreError> {
        let state = DriverState(bytes.to_vec());
        Ok(saved_state::save(&mut self.lock()?.store, &state)?)
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
