//! The Bluezone core for Kotlin, Swift and Python, through uniffi (proc-macro style).
//!
//! The surface an app needs and nothing more: open a tracer, the current advertisement,
//! record sightings, process key files, verify a code and upload keys, fake upload
//! sequences (chaff, [`BluezoneTracer::run_due_chaff`]), download, exposure
//! state, diagnostics, delete everything; and the phone driver ([`BluezoneDriver`]), whose
//! commands the shells carry out. The platform provides HTTP through the
//! [`HttpClient`] callback interface. Every method forwards to `bluezone-core` in one step;
//! errors become one flat [`BluezoneError`] with stable numeric codes; long work runs on its
//! own thread behind `async` functions, so no UI thread ever waits. Exported objects are
//! `Send + Sync` and lock inside the core.

use std::sync::Arc;

use bluezone_core::{CoreError, SightingInput, StorageLocation, Tracer, TracerConfig};
use bluezone_protocol::keyfile::{TrustedKey, TrustedKeys};

uniffi::setup_scaffolding!("bluezone");

mod chaff;
mod download;
mod driver;
mod error;
mod open;
mod records;
mod transport;

pub use download::{DownloadCancellation, DownloadEnd, DownloadReport};
pub use driver::BluezoneDriver;
pub use error::BluezoneError;
pub use open::{OpenedTracer, StoreReset, open_tracer};
pub use records::*;
pub use transport::{HttpClient, HttpResponse, Notifier};

/// Runs `work` on a new thread and awaits its result, so a foreign `async` caller never
/// blocks its own thread (UI or coroutine dispatcher) on disk, crypto or network.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BluezoneError> + Send + 'static,
) -> Result<T, BluezoneError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("bluezone-work".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| Err(BluezoneError::internal("the core panicked")));
            let _ = tx.send(outcome);
        })
        .map_err(|e| BluezoneError::internal(&e.to_string()))?;
    rx.await
        .map_err(|_| BluezoneError::internal("the worker thread stopped"))?
}

/// The exposure-notification engine of this phone.
#[derive(uniffi::Object)]
pub struct BluezoneTracer {
    inner: Arc<Tracer>,
}

#[uniffi::export]
impl BluezoneTracer {
    /// Opens (or creates) the tracer. `storage_path` is the database file (`None`: memory
    /// only); `master_key` is 32 bytes kept by Android Keystore or the iOS Keychain.
    #[uniffi::constructor]
    pub fn open(
        config: BluezoneConfig,
        storage_path: Option<String>,
        master_key: Vec<u8>,
    ) -> Result<Arc<Self>, BluezoneError> {
        let key = open::master_key_of(master_key)?;
        let storage = storage_path.map_or(StorageLocation::InMemory, |p| {
            StorageLocation::File(p.into())
        });
        let tracer = Tracer::open(core_config(&config)?, storage, &key)?;
        Ok(Arc::new(Self {
            inner: Arc::new(tracer),
        }))
    }

    /// Sets who posts the exposure notification (`None` removes it).
    pub fn set_notifier(&self, notifier: Option<Arc<dyn Notifier>>) -> Result<(), BluezoneError> {
        let notifier = notifier
            .map(|n| Arc::new(transport::ForeignNotifier(n)) as Arc<dyn bluezone_core::Notifier>);
        Ok(self.inner.set_notifier(notifier)?)
    }

    /// The advertisement to broadcast now and when to rotate it.
    pub fn current_advertisement(&self) -> Result<CurrentAdvertisement, BluezoneError> {
        Ok(self.inner.current_advertisement()?.into())
    }

    /// Records adverts heard; refused ones are counted in the report, never stored.
    pub fn record_sightings(&self, batch: Vec<Sighting>) -> Result<IngestReport, BluezoneError> {
        let inputs: Vec<SightingInput> = batch.into_iter().map(sighting_input).collect();
        Ok(self.inner.record_sightings(&inputs)?)
    }

    /// Verifies and matches downloaded key files; says whether to notify.
    pub async fn process_key_files(
        &self,
        files: Vec<Vec<u8>>,
    ) -> Result<ExposureStatus, BluezoneError> {
        let inner = self.inner.clone();
        off_thread(move || {
            let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
            Ok(inner.process_key_files(&refs)?.into())
        })
        .await
    }

    /// Downloads new key files through `http` and processes them, oldest first, a batch at
    /// a time: call again at once while `files_remaining` is above zero. Files that fail are
    /// skipped, retried later and listed in [`Diagnostics::failing_key_files`].
    pub async fn download_key_files(
        &self,
        http: Arc<dyn HttpClient>,
    ) -> Result<ExposureStatus, BluezoneError> {
        let inner = self.inner.clone();
        off_thread(move || Ok(inner.download_key_files(&transport::Foreign(http))?.into())).await
    }

    /// Exchanges an official's code for a token.
    pub async fn verify_code(
        &self,
        http: Arc<dyn HttpClient>,
        code: String,
    ) -> Result<VerifiedCode, BluezoneError> {
        let inner = self.inner.clone();
        off_thread(move || Ok(inner.verify_code(&transport::Foreign(http), &code)?.into())).await
    }

    /// Uploads this phone's keys of the last 14 days, with the consent the person gave at
    /// `consent_at` (Unix seconds, at most 10 minutes ago).
    pub async fn upload_keys(
        &self,
        http: Arc<dyn HttpClient>,
        verified: VerifiedCode,
        consent_at: i64,
    ) -> Result<u32, BluezoneError> {
        let inner = self.inner.clone();
        off_thread(move || {
            let receipt = inner.upload_keys(
                &transport::Foreign(http),
                &verified.into(),
                bluezone_core::UploadConsent {
                    agreed_at: consent_at,
                },
            )?;
            Ok(receipt.keys_accepted)
        })
        .await
    }

    /// The current exposure decision.
    pub fn exposure_status(&self) -> Result<ExposureStatus, BluezoneError> {
        Ok(self.inner.exposure_status()?.into())
    }

    /// A report on data collection (nothing in it leaves the phone).
    pub fn diagnostics(&self) -> Result<Diagnostics, BluezoneError> {
        Ok(self.inner.diagnostics()?.into())
    }

    /// Destroys data past the retention period; call once a day.
    pub fn run_maintenance(&self) -> Result<(), BluezoneError> {
        self.inner.run_maintenance()?;
        Ok(())
    }

    /// Deletes everything: keys, sightings, exposure state.
    pub fn delete_all_data(&self) -> Result<(), BluezoneError> {
        Ok(self.inner.delete_all_data()?)
    }
}

fn core_config(config: &BluezoneConfig) -> Result<TracerConfig, BluezoneError> {
    let trusted = config
        .trusted_signers
        .iter()
        .map(|s| TrustedKey::from_text(&s.key_id, &s.key_version, &s.public_key))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BluezoneError::invalid(&e))?;
    let upload_public_key = match &config.upload_public_key {
        None => None,
        Some(text) => {
            use base64ct::{Base64, Encoding};
            let bytes = Base64::decode_vec(text)
                .map_err(|_| BluezoneError::invalid("the upload key is base64"))?;
            Some(
                bytes
                    .try_into()
                    .map_err(|_| BluezoneError::invalid("the upload key is 32 bytes"))?,
            )
        }
    };
    let mut core = TracerConfig {
        tx_power_dbm: config.tx_power_dbm,
        trusted_signers: TrustedKeys(trusted),
        upload_public_key,
        ..TracerConfig::default()
    };
    core.matching.rssi_correction_db = i16::from(config.rssi_correction_db);
    if let Some(mean) = config.chaff_mean_interval_secs {
        core.chaff.mean_interval_secs = mean;
    }
    Ok(core)
}

fn sighting_input(s: Sighting) -> SightingInput {
    SightingInput {
        advert: s.advert.into(),
        rssi: s.rssi,
        time: s.time,
        scan_window: s.scan_window,
    }
}

impl From<CoreError> for BluezoneError {
    fn from(e: CoreError) -> Self {
        error::from_core(&e)
    }
}

/// Test-only: panics inside the core, to prove the panic does not cross into the app.
#[cfg(feature = "testing")]
#[uniffi::export]
pub fn testing_panic() -> Result<(), BluezoneError> {
    panic!("deliberate panic for binding tests")
}
