//! Plain data crossing the boundary.
//!
//! Core types whose shape suits the bindings cross as they are: `bluezone-core`'s `uniffi`
//! feature derives their FFI traits, so they are re-exported here and appear in the bindings
//! with the core's names and doc comments (the driver's commands, settings-free enums,
//! statuses, counters, the ingest report, download failures). The ones below are declared for
//! the FFI on purpose, each with a comment saying why (kept out of the doc comments, which
//! the bindings show), and converted in one step to or from the core.

use bluezone_core::driver as core_driver;

pub use bluezone_core::driver::{
    AdvertisingRequest, AppState, BluetoothState, CollectionState, CollectionStatus,
    Command as DriverCommand, DriverCounters, GattCounters, NearbyCount, PauseReason, Platform,
    ReadFailure, RestartReason, ScanFilters, ScanMode,
};
pub use bluezone_core::{
    CollectionReport, DownloadFailure, FailingKeyFile, IngestReport, KeyFileRefusal,
};

// FFI-only: the core takes a parsed key (`bluezone_protocol::keyfile::TrustedKey`); the
// app hands over text, parsed when the tracer opens.
/// A key trusted to sign key files.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustedSigner {
    /// `verification_key_id`, e.g. "452".
    pub key_id: String,
    /// `verification_key_version`, e.g. "v1".
    pub key_version: String,
    /// The P-256 public key: base64 SubjectPublicKeyInfo or PEM.
    pub public_key: String,
}

// FFI-only: the settings an app chooses, keys as text; the rest of the core's
// `TracerConfig` keeps its defaults.
/// The app's settings for the core.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BluezoneConfig {
    /// This model's calibrated transmit power in dBm.
    pub tx_power_dbm: i8,
    /// This model's RSSI correction in dB.
    pub rssi_correction_db: i8,
    /// Keys trusted to sign key files.
    pub trusted_signers: Vec<TrustedSigner>,
    /// The authority's upload key (base64, 32 bytes), if uploads are enabled.
    pub upload_public_key: Option<String>,
    /// Mean time between fake upload sequences ("chaff"), in seconds (default 259,200:
    /// three days; 0: none). Only with an upload key.
    #[uniffi(default)]
    pub chaff_mean_interval_secs: Option<u32>,
}

// FFI-only: the core holds fixed-size arrays and a parsed advertisement; the bindings get
// byte strings and the interval as a number.
/// What to broadcast now.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CurrentAdvertisement {
    /// The 31-byte legacy advertising payload.
    pub payload: Vec<u8>,
    /// The FD6F service data (RPI and AEM, 20 bytes), for stacks that build the advert.
    pub service_data: Vec<u8>,
    /// The interval whose RPI this is.
    pub interval: u32,
    /// Unix seconds of the rotation that started it.
    pub rotated_at: i64,
    /// Unix seconds at which to rotate (ask again, restart advertising).
    pub next_rotation_at: i64,
}

impl From<bluezone_core::CurrentAdvertisement> for CurrentAdvertisement {
    fn from(c: bluezone_core::CurrentAdvertisement) -> Self {
        Self {
            payload: c.payload.to_vec(),
            service_data: c.advertisement.service_data().to_vec(),
            interval: c.interval.get(),
            rotated_at: c.rotated_at,
            next_rotation_at: c.next_rotation_at,
        }
    }
}

/// One service UUID and its data, as the platform reports them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServiceDataEntry {
    /// The UUID as text ("FD6F" or the 128-bit form).
    pub uuid: String,
    /// The service data.
    pub data: Vec<u8>,
}

// FFI-only: the core's form holds a map as pairs and an already-decoded variant for the
// simulator, neither of which an app sends.
/// The advert bytes, in whichever form the platform gives them (parsed in Rust).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Advert {
    /// Raw advertising data (Android `ScanRecord.getBytes()`).
    RawAdvertisingData {
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Service UUIDs to data (iOS `CBAdvertisementDataServiceDataKey`).
    ServiceDataMap {
        /// The entries.
        entries: Vec<ServiceDataEntry>,
    },
    /// The FD6F service data alone.
    ServiceData {
        /// The bytes.
        bytes: Vec<u8>,
    },
}

impl From<Advert> for bluezone_core::AdvertData {
    fn from(a: Advert) -> Self {
        match a {
            Advert::RawAdvertisingData { bytes } => Self::Raw(bytes),
            Advert::ServiceDataMap { entries } => {
                Self::ServiceDataMap(entries.into_iter().map(|e| (e.uuid, e.data)).collect())
            }
            Advert::ServiceData { bytes } => Self::ServiceData(bytes),
        }
    }
}

// FFI-only: it carries `Advert`, the FFI's form of the advert.
/// One advert heard.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Sighting {
    /// What was heard.
    pub advert: Advert,
    /// Measured RSSI in dBm.
    pub rssi: i16,
    /// Unix seconds.
    pub time: i64,
    /// The shell's scan-window id, if any.
    pub scan_window: Option<u64>,
}

// FFI-only: the core counts days from the epoch; the bindings get Unix seconds.
/// One day of exposure.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ExposureDay {
    /// Unix seconds of the day's UTC midnight.
    pub day_start: i64,
    /// The day's score.
    pub score: f64,
    /// Minutes weighted by attenuation.
    pub weighted_minutes: f64,
    /// Whether the day reached the threshold.
    pub over_threshold: bool,
}

// FFI-only: days as Unix seconds (`ExposureDay`).
/// What to tell the person.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExposureStatus {
    /// Show the exposure notification.
    pub notify: bool,
    /// Post it now: it became true with this call.
    pub newly_notified: bool,
    /// The most recent day over the threshold (Unix seconds of its midnight).
    pub exposure_day_start: Option<i64>,
    /// Days with exposure.
    pub days: Vec<ExposureDay>,
    /// Files matched by this call.
    pub files_matched: u32,
    /// Keys checked by this call.
    pub keys_checked: u64,
    /// Key files this download could not process (not served, or refused); each is retried
    /// later with back-off and listed in [`Diagnostics::failing_key_files`].
    pub files_failed: u32,
    /// Key files still to download after this call (its batch was full): when above zero,
    /// call `download_key_files` again at once.
    pub files_remaining: u32,
}

impl From<bluezone_core::ExposureStatus> for ExposureStatus {
    fn from(s: bluezone_core::ExposureStatus) -> Self {
        Self {
            notify: s.notify,
            newly_notified: s.newly_notified,
            exposure_day_start: s.exposure_day.map(|d| d.start_unix_seconds()),
            days: s
                .days
                .iter()
                .map(|d| ExposureDay {
                    day_start: d.day.start_unix_seconds(),
                    score: d.score,
                    weighted_minutes: d.weighted_minutes,
                    over_threshold: d.over_threshold,
                })
                .collect(),
            files_matched: s.files_matched,
            keys_checked: s.keys_checked,
            files_failed: s.files_failed,
            files_remaining: s.files_remaining,
        }
    }
}

// FFI-only: the core's value zeroizes its token on drop, which a record the app owns cannot;
// the token is moved out of it (see the conversion), never copied.
/// A redeemed code. Its `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedCode {
    /// Opaque token.
    pub token: String,
    /// Report type recorded by the official.
    pub report_type: u8,
    /// Symptom onset interval, if recorded.
    pub symptom_onset_interval: Option<u32>,
}

impl std::fmt::Debug for VerifiedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCode")
            .field("token", &"<redacted>")
            .field("report_type", &self.report_type)
            .field("symptom_onset_interval", &self.symptom_onset_interval)
            .finish()
    }
}

impl From<bluezone_core::VerifiedCode> for VerifiedCode {
    fn from(mut v: bluezone_core::VerifiedCode) -> Self {
        Self {
            // Taken, not copied: the core value zeroizes what is left when it drops.
            token: std::mem::take(&mut v.token),
            report_type: v.report_type,
            symptom_onset_interval: v.symptom_onset_interval,
        }
    }
}

impl From<VerifiedCode> for bluezone_core::VerifiedCode {
    fn from(v: VerifiedCode) -> Self {
        Self {
            token: v.token,
            report_type: v.report_type,
            symptom_onset_interval: v.symptom_onset_interval,
        }
    }
}

// FFI-only: flatter than the core's (per-hour counts as numbers, the ingest counts as
// accepted and refused).
/// A health report on data collection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Diagnostics {
    /// Distinct identifiers heard per hour, last 24 hours, oldest first.
    pub ids_heard_per_hour: Vec<u32>,
    /// Scans in the last 24 hours.
    pub scans_last_24h: u32,
    /// Longest gap between scans in the last 24 hours, seconds.
    pub longest_scan_gap_secs: Option<i64>,
    /// Gaps over 10 minutes.
    pub scan_gaps_over_10_min: u32,
    /// Unix seconds of the last rotation.
    pub last_rotation_at: Option<i64>,
    /// Bytes stored.
    pub storage_bytes: u64,
    /// Sightings accepted since opening.
    pub accepted_since_open: u64,
    /// Sightings refused since opening.
    pub refused_since_open: u64,
    /// Key files that failed and wait for a retry, in the order they first failed (at most
    /// 100).
    pub failing_key_files: Vec<FailingKeyFile>,
    /// How many key files are failing (all of them, even past the list's limit).
    pub failing_key_file_count: u32,
    /// Collection (status, "nearby now", the driver's counts): filled by
    /// `BluezoneDriver.diagnostics`, `None` from `BluezoneTracer.diagnostics`.
    pub collection: Option<CollectionReport>,
}

impl From<bluezone_core::Diagnostics> for Diagnostics {
    fn from(d: bluezone_core::Diagnostics) -> Self {
        Self {
            ids_heard_per_hour: d
                .ids_heard_per_hour
                .iter()
                .map(|h| h.distinct_rpis)
                .collect(),
            scans_last_24h: d.scans_last_24h,
            longest_scan_gap_secs: d.longest_scan_gap_secs,
            scan_gaps_over_10_min: d.scan_gaps_over_10_min,
            last_rotation_at: d.last_rotation_at,
            storage_bytes: d.storage_bytes,
            accepted_since_open: d.ingest_since_open.accepted,
            refused_since_open: d.ingest_since_open.rejected(),
            failing_key_files: d.failing_key_files,
            failing_key_file_count: d.failing_key_file_count,
            collection: d.collection,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The phone driver (`bluezone_core::driver`): events in, commands out. The commands and
// what they carry are the core's own (re-exported above); the events are declared here.

// FFI-only: every field optional, so an app sets only what it tunes.
/// Settings of the driver an app may tune. Every field left `None` keeps the platform's
/// default (`DriverConfig::default_for` in the core); the driver checks the result.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct DriverSettings {
    /// Time between scan starts before jitter, ms (default 300,000).
    #[uniffi(default)]
    pub scan_period_ms: Option<i64>,
    /// Scan window, ms (default 4,000).
    #[uniffi(default)]
    pub scan_window_ms: Option<i64>,
    /// Window while a Bluetooth audio device shares the radio, ms (default 17,000).
    #[uniffi(default)]
    pub busy_scan_window_ms: Option<i64>,
    /// Each period is shortened by a random amount up to this, ms (default 90,000).
    #[uniffi(default)]
    pub scan_jitter_ms: Option<i64>,
    /// Shortest period, ms (default 60,000).
    #[uniffi(default)]
    pub min_scan_period_ms: Option<i64>,
    /// Scan continuously, cut into windows (default: on iOS only).
    #[uniffi(default)]
    pub continuous_scan: Option<bool>,
    /// Window length when scanning continuously, ms (default 60,000).
    #[uniffi(default)]
    pub continuous_window_ms: Option<i64>,
    /// Advertising interval asked of the platform, ms (default 250).
    #[uniffi(default)]
    pub advertising_interval_ms: Option<u32>,
    /// This phone's RSSI correction for the "nearby now" count, dB (default 0; use the
    /// calibration entry's, as in `BluezoneConfig`).
    #[uniffi(default)]
    pub rssi_correction_db: Option<i16>,
    /// Transmit power assumed for senders in the "nearby now" count, dBm (default −15).
    #[uniffi(default)]
    pub assumed_tx_dbm: Option<i16>,
    /// Read iPhones' payloads over GATT (default: on, except on the desktop).
    #[uniffi(default)]
    pub gatt_enabled: Option<bool>,
    /// GATT reads at once (default 1 on Android, 3 on iOS).
    #[uniffi(default)]
    pub gatt_max_concurrent: Option<u32>,
    /// A GATT read not answered in this long is cancelled, ms (default 5,000).
    #[uniffi(default)]
    pub gatt_timeout_ms: Option<i64>,
    /// A device read is not read again for this long, ms (default 300,000).
    #[uniffi(default)]
    pub gatt_cooldown_ms: Option<i64>,
}

/// The platform's defaults with `settings` laid over them.
pub(crate) fn driver_config(
    platform: Platform,
    settings: Option<DriverSettings>,
) -> core_driver::DriverConfig {
    let mut c = core_driver::DriverConfig::default_for(platform);
    let Some(s) = settings else {
        return c;
    };
    let set = |field: &mut i64, value: Option<i64>| {
        if let Some(v) = value {
            *field = v;
        }
    };
    set(&mut c.scan_period_ms, s.scan_period_ms);
    set(&mut c.scan_window_ms, s.scan_window_ms);
    set(&mut c.busy_scan_window_ms, s.busy_scan_window_ms);
    set(&mut c.scan_jitter_ms, s.scan_jitter_ms);
    set(&mut c.min_scan_period_ms, s.min_scan_period_ms);
    set(&mut c.continuous_window_ms, s.continuous_window_ms);
    set(&mut c.gatt.timeout_ms, s.gatt_timeout_ms);
    set(&mut c.gatt.cooldown_ms, s.gatt_cooldown_ms);
    c.continuous_scan = s.continuous_scan.unwrap_or(c.continuous_scan);
    c.advertising_interval_ms = s
        .advertising_interval_ms
        .unwrap_or(c.advertising_interval_ms);
    c.rssi_correction_db = s.rssi_correction_db.unwrap_or(c.rssi_correction_db);
    c.assumed_tx_dbm = s.assumed_tx_dbm.unwrap_or(c.assumed_tx_dbm);
    c.gatt.enabled = s.gatt_enabled.unwrap_or(c.gatt.enabled);
    if let Some(n) = s.gatt_max_concurrent {
        c.gatt.max_concurrent = usize::try_from(n).unwrap_or(usize::MAX);
    }
    c
}

// FFI-only: it carries `Advert`, the FFI's form of the advert.
/// An advert as the scanner reported it: nothing decoded by the platform.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanReport {
    /// The platform's handle of the sender (Android: its address; iOS: the peripheral's
    /// identifier).
    pub device: String,
    /// The advert's data as the platform gives it (Android: raw AD structures; iOS: the
    /// service-data map).
    pub advert: Advert,
    /// Service UUIDs reported outside `advert` (iOS: the service-UUID and overflow-UUID
    /// lists), as text.
    pub service_uuids: Vec<String>,
    /// The platform reported our service UUID in Apple's overflow area (iOS:
    /// `CBAdvertisementDataOverflowServiceUUIDsKey`).
    pub apple_overflow: bool,
    /// Received signal strength, dBm.
    pub rssi: i16,
    /// Transmit power the sender advertised, dBm, if any.
    pub tx_power_dbm: Option<i16>,
}

impl From<ScanReport> for core_driver::ScanReport {
    fn from(r: ScanReport) -> Self {
        Self {
            device: r.device,
            advert: r.advert.into(),
            service_uuids: r.service_uuids,
            apple_overflow: r.apple_overflow,
            rssi: r.rssi,
            tx_power_dbm: r.tx_power_dbm,
        }
    }
}

// FFI-only: the core's events also carry the engine's answers, which the platform never
// sends, and a payload read's outcome as a `Result`, here two events.
/// Something that happened on the platform. Hand each to `BluezoneDriver.handle` with the
/// time, and carry out the commands it returns, in order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DriverEvent {
    /// The person turned exposure notifications on.
    Enable,
    /// The person turned exposure notifications off.
    Disable,
    /// The process starts with the driver's saved state: send first after a restart.
    Restarted {
        /// Why.
        reason: RestartReason,
    },
    /// A wake-up asked for with `DriverCommand.WakeAt` fired (early or late).
    Timer,
    /// Bluetooth changed state.
    Bluetooth {
        /// The new state.
        state: BluetoothState,
    },
    /// The Bluetooth (Android: nearby devices / location) permission changed.
    Permission {
        /// Granted now.
        granted: bool,
    },
    /// The app moved.
    App {
        /// Where it is now.
        state: AppState,
    },
    /// The screen went on or off.
    Screen {
        /// On now.
        on: bool,
    },
    /// Battery saver went on or off.
    PowerSave {
        /// On now.
        on: bool,
    },
    /// A Bluetooth audio device connected or disconnected.
    BluetoothAudio {
        /// Connected now.
        connected: bool,
    },
    /// The scanner reported an advert.
    ScanResult {
        /// What it reported.
        report: ScanReport,
    },
    /// The scan asked for started.
    ScanStarted,
    /// The scan asked for could not start.
    ScanFailed {
        /// The platform's reason (for diagnostics).
        reason: String,
    },
    /// Advertising started.
    AdvertisingStarted,
    /// Advertising could not start.
    AdvertisingFailed {
        /// The platform's reason (for diagnostics).
        reason: String,
    },
    /// A read asked for by `DriverCommand.ReadPayload` gave this value.
    PayloadRead {
        /// The device read.
        device: String,
        /// The characteristic's value.
        value: Vec<u8>,
    },
    /// A read asked for by `DriverCommand.ReadPayload` failed.
    PayloadReadFailed {
        /// The device.
        device: String,
        /// Why.
        failure: ReadFailure,
    },
    /// A central asks this phone's GATT server for the payload (iOS peripheral).
    PayloadRequested {
        /// The platform's id of the request, echoed in `DriverCommand.RespondToRead`.
        request: u64,
        /// The offset asked for.
        offset: u32,
    },
}

impl From<DriverEvent> for core_driver::Event {
    fn from(e: DriverEvent) -> Self {
        match e {
            DriverEvent::Enable => Self::Enable,
            DriverEvent::Disable => Self::Disable,
            DriverEvent::Restarted { reason } => Self::Restarted(reason),
            DriverEvent::Timer => Self::Timer,
            DriverEvent::Bluetooth { state } => Self::Bluetooth(state),
            DriverEvent::Permission { granted } => Self::Permission { granted },
            DriverEvent::App { state } => Self::App(state),
            DriverEvent::Screen { on } => Self::Screen { on },
            DriverEvent::PowerSave { on } => Self::PowerSave { on },
            DriverEvent::BluetoothAudio { connected } => Self::BluetoothAudio { connected },
            DriverEvent::ScanResult { report } => Self::ScanResult(report.into()),
            DriverEvent::ScanStarted => Self::ScanStarted,
            DriverEvent::ScanFailed { reason } => Self::ScanFailed(reason),
            DriverEvent::AdvertisingStarted => Self::AdvertisingStarted,
            DriverEvent::AdvertisingFailed { reason } => Self::AdvertisingFailed(reason),
            DriverEvent::PayloadRead { device, value } => Self::PayloadRead {
                device,
                result: Ok(value),
            },
            DriverEvent::PayloadReadFailed { device, failure } => Self::PayloadRead {
                device,
                result: Err(failure),
            },
            DriverEvent::PayloadRequested { request, offset } => {
                Self::PayloadRequested { request, offset }
            }
        }
    }
}
