#![doc = include_str!("../README.md")]

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("bluezone_core");

pub mod chaff;
mod chaff_flow;
pub mod config;
pub mod diagnostics;
mod download_batch;
pub mod download_run;
pub mod downloads;
pub mod driver;
mod engine;
pub mod error;
pub mod exposure;
pub mod fold;
pub mod ingest;
pub mod inspect;
mod logging;
pub mod own_keys;
pub mod phone;
pub mod ports;
pub mod reset;
pub mod risk_config;
pub mod risk_model;
pub mod rotation;
mod saved_state;
pub mod tracer;
pub mod transport;
pub mod upload;
mod upload_flow;

pub use bluezone_store::{MasterKey, StoreStats};
pub use chaff::{ChaffReport, ChaffSchedule};
pub use config::TracerConfig;
pub use diagnostics::{Diagnostics, HourlyCount};
pub use download_run::{DownloadEnd, DownloadRun, Retry};
pub use downloads::{DownloadFailure, FailingKeyFile, KeyFileRefusal};
pub use error::{CoreError, ServerCode};
pub use exposure::{ExposureDay, ExposureStatus};
pub use ingest::{AdvertData, IngestReport, SightingInput};
pub use phone::{CollectionReport, EngineCounters, Phone, PhoneEngine};
pub use ports::{
    Clock, ManualClock, Notifier, SecureRandom, SightingSink, SystemClock, system_random,
};
pub use reset::StoreReset;
pub use risk_config::{HeldRiskConfig, RiskConfigOutcome};
pub use rotation::CurrentAdvertisement;
pub use tracer::{MaintenanceReport, StorageLocation, Tracer};
pub use transport::{HttpReply, HttpTransport, Transport, TransportError};
pub use upload::{UploadConsent, UploadReceipt, VerifiedCode};

// The testkit's leak check, compiled into the unit tests rather than linked: the testkit links
// this crate, and two copies of it in one test binary clash (uniffi's exported symbols).
#[cfg(test)]
#[path = "../../testkit/src/secrets.rs"]
mod test_secrets;
