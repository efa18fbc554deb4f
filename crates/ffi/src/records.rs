//! Plain data crossing the boundary, and their one-step conversions from the core's types.

use bluezone_core::driver as core_driver;

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
}

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

/// What one batch of sightings did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct IngestReport {
    /// Accepted and folded.
    pub accepted: u64,
    /// Refused: malformed adverts.
    pub malformed: u64,
    /// Refused: implausible RSSI.
    pub implausible_rssi: u64,
    /// Refused: from the future.
    pub from_the_future: u64,
    /// Refused: too old.
    pub too_old: u64,
}

impl From<bluezone_core::IngestReport> for IngestReport {
    fn from(r: bluezone_core::IngestReport) -> Self {
        Self {
            accepted: r.accepted,
            malformed: r.malformed,
            implausible_rssi: r.implausible_rssi,
            from_the_future: r.from_the_future,
            too_old: r.too_old,
        }
    }
}

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
            failing_key_files: d
                .failing_key_files
                .into_iter()
                .map(FailingKeyFile::from)
                .collect(),
            failing_key_file_count: d.failing_key_file_count,
            collection: d.collection.map(CollectionReport::from),
        }
    }
}

/// A key file the server lists that could not be processed, and when it is tried again.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FailingKeyFile {
    /// The file's name in the server's index.
    pub name: String,
    /// Why it failed the last time.
    pub reason: DownloadFailure,
    /// Attempts so far, all failed.
    pub attempts: u32,
    /// Unix seconds from which it is tried again.
    pub next_retry_at: i64,
}

impl From<bluezone_core::FailingKeyFile> for FailingKeyFile {
    fn from(f: bluezone_core::FailingKeyFile) -> Self {
        Self {
            name: f.name,
            reason: f.reason.into(),
            attempts: f.attempts,
            next_retry_at: f.next_retry_at,
        }
    }
}

/// Why a key file could not be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DownloadFailure {
    /// The server answered this HTTP status instead of 200.
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The file arrived but was refused.
    Refused {
        /// What was wrong with it.
        kind: KeyFileRefusal,
    },
}

impl From<bluezone_core::DownloadFailure> for DownloadFailure {
    fn from(f: bluezone_core::DownloadFailure) -> Self {
        match f {
            bluezone_core::DownloadFailure::HttpStatus(status) => Self::HttpStatus { status },
            bluezone_core::DownloadFailure::Refused(kind) => Self::Refused { kind: kind.into() },
        }
    }
}

/// Why a downloaded key file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum KeyFileRefusal {
    /// Larger than the limits allow.
    TooLarge,
    /// Not a readable zip archive.
    MalformedZip,
    /// A zip entry other than `export.bin` and `export.sig`.
    UnexpectedEntry,
    /// `export.bin` or `export.sig` is missing.
    MissingEntry,
    /// `export.bin` lacks the export header.
    BadHeader,
    /// `export.bin` is malformed.
    MalformedExport,
    /// `export.sig` is malformed.
    MalformedSignatureList,
    /// The file is not signed.
    NoSignature,
    /// A signature algorithm other than ECDSA P-256 with SHA-256.
    UnsupportedAlgorithm,
    /// No signature is from a trusted key.
    UnknownSigner,
    /// A trusted key's signature does not verify: the file was altered.
    BadSignature,
    /// More keys than the limits allow.
    TooManyKeys,
    /// A key that cannot be right.
    InvalidKey,
    /// Header timestamps or batch numbers that cannot be right.
    InvalidHeader,
    /// Any other refusal.
    Other,
}

impl From<bluezone_core::KeyFileRefusal> for KeyFileRefusal {
    fn from(k: bluezone_core::KeyFileRefusal) -> Self {
        use bluezone_core::KeyFileRefusal as K;
        match k {
            K::TooLarge => Self::TooLarge,
            K::MalformedZip => Self::MalformedZip,
            K::UnexpectedEntry => Self::UnexpectedEntry,
            K::MissingEntry => Self::MissingEntry,
            K::BadHeader => Self::BadHeader,
            K::MalformedExport => Self::MalformedExport,
            K::MalformedSignatureList => Self::MalformedSignatureList,
            K::NoSignature => Self::NoSignature,
            K::UnsupportedAlgorithm => Self::UnsupportedAlgorithm,
            K::UnknownSigner => Self::UnknownSigner,
            K::BadSignature => Self::BadSignature,
            K::TooManyKeys => Self::TooManyKeys,
            K::InvalidKey => Self::InvalidKey,
            K::InvalidHeader => Self::InvalidHeader,
            K::Other => Self::Other,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The phone driver (`bluezone_core::driver`): events in, commands out. Shapes mirror the
// core's one for one; the platform never sends the engine's answers (the advertisement),
// which the driver object gets from its tracer.

/// Which platform carries out the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Platform {
    /// Android: non-connectable legacy adverts with FD6F service data; exact alarms.
    Android,
    /// iOS: connectable adverts with the service UUID only, the payload served over GATT;
    /// no timers in the background.
    Ios,
    /// A desktop scanner (listens only).
    Desktop,
}

impl From<Platform> for core_driver::Platform {
    fn from(p: Platform) -> Self {
        match p {
            Platform::Android => Self::Android,
            Platform::Ios => Self::Ios,
            Platform::Desktop => Self::Desktop,
        }
    }
}

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
    let mut c = core_driver::DriverConfig::default_for(platform.into());
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

/// Whether Bluetooth can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BluetoothState {
    /// Switched on.
    On,
    /// Switched off.
    Off,
    /// The person did not allow this app to use Bluetooth.
    Unauthorized,
    /// No Bluetooth LE.
    Unsupported,
}

impl From<BluetoothState> for core_driver::BluetoothState {
    fn from(s: BluetoothState) -> Self {
        match s {
            BluetoothState::On => Self::On,
            BluetoothState::Off => Self::Off,
            BluetoothState::Unauthorized => Self::Unauthorized,
            BluetoothState::Unsupported => Self::Unsupported,
        }
    }
}

/// Where the app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AppState {
    /// On screen.
    Foreground,
    /// Running but not on screen.
    Background,
    /// About to be stopped: the last chance to store anything.
    Terminating,
}

impl From<AppState> for core_driver::AppState {
    fn from(s: AppState) -> Self {
        match s {
            AppState::Foreground => Self::Foreground,
            AppState::Background => Self::Background,
            AppState::Terminating => Self::Terminating,
        }
    }
}

/// Why the process starts with the driver's saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum RestartReason {
    /// The phone was switched on.
    Boot,
    /// The app was updated.
    AppUpdate,
    /// The system stopped the process and started it again (or it crashed).
    ProcessRestart,
}

impl From<RestartReason> for core_driver::RestartReason {
    fn from(r: RestartReason) -> Self {
        match r {
            RestartReason::Boot => Self::Boot,
            RestartReason::AppUpdate => Self::AppUpdate,
            RestartReason::ProcessRestart => Self::ProcessRestart,
        }
    }
}

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

/// Why a payload read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReadFailure {
    /// The connection failed or dropped.
    ConnectionFailed,
    /// Connected, but the device has no payload characteristic.
    NotFound,
    /// The platform gave up (its own timeout).
    Timeout,
}

impl From<ReadFailure> for core_driver::ReadFailure {
    fn from(f: ReadFailure) -> Self {
        match f {
            ReadFailure::ConnectionFailed => Self::ConnectionFailed,
            ReadFailure::NotFound => Self::NotFound,
            ReadFailure::Timeout => Self::Timeout,
        }
    }
}

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
            DriverEvent::Restarted { reason } => Self::Restarted(reason.into()),
            DriverEvent::Timer => Self::Timer,
            DriverEvent::Bluetooth { state } => Self::Bluetooth(state.into()),
            DriverEvent::Permission { granted } => Self::Permission { granted },
            DriverEvent::App { state } => Self::App(state.into()),
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
                result: Err(failure.into()),
            },
            DriverEvent::PayloadRequested { request, offset } => {
                Self::PayloadRequested { request, offset }
            }
        }
    }
}

/// What the scanner should report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ScanFilters {
    /// Adverts with FD6F service data or the FD6F service UUID.
    pub exposure_service: bool,
    /// Adverts with Apple manufacturer data (0x004C), where backgrounded iPhones put their
    /// service UUIDs (Android only).
    pub apple_manufacturer_data: bool,
}

impl From<core_driver::ScanFilters> for ScanFilters {
    fn from(f: core_driver::ScanFilters) -> Self {
        Self {
            exposure_service: f.exposure_service,
            apple_manufacturer_data: f.apple_manufacturer_data,
        }
    }
}

/// How aggressively to scan within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ScanMode {
    /// Android `SCAN_MODE_LOW_LATENCY`.
    LowLatency,
    /// Android `SCAN_MODE_LOW_POWER`, or iOS's own choice.
    LowPower,
}

impl From<core_driver::ScanMode> for ScanMode {
    fn from(m: core_driver::ScanMode) -> Self {
        match m {
            core_driver::ScanMode::LowLatency => Self::LowLatency,
            core_driver::ScanMode::LowPower => Self::LowPower,
        }
    }
}

/// What to advertise and how.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AdvertisingRequest {
    /// The 20-byte FD6F service data (RPI then AEM).
    pub service_data: Vec<u8>,
    /// The full 31-byte legacy advertising payload.
    pub payload: Vec<u8>,
    /// Connectable (iOS: so scanners can read the payload characteristic).
    pub connectable: bool,
    /// Put the service data in the advert (Android); iOS advertises the UUID only.
    pub include_service_data: bool,
    /// Serve the payload from the GATT characteristic (iOS).
    pub serve_payload: bool,
    /// Advertising interval to aim for, ms.
    pub interval_ms: u32,
    /// Unix time (ms) at which this payload must be off the air.
    pub until_ms: i64,
}

impl From<core_driver::AdvertisingRequest> for AdvertisingRequest {
    fn from(r: core_driver::AdvertisingRequest) -> Self {
        Self {
            service_data: r.service_data,
            payload: r.payload,
            connectable: r.connectable,
            include_service_data: r.include_service_data,
            serve_payload: r.serve_payload,
            interval_ms: r.interval_ms,
            until_ms: r.until_ms,
        }
    }
}

/// What the platform must do. Carry them out in order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DriverCommand {
    /// Start scanning (never more than one scan at a time).
    StartScan {
        /// What to report.
        filters: ScanFilters,
        /// How to scan.
        mode: ScanMode,
        /// How long the window is meant to last, ms (`None`: until `StopScan`).
        window_ms: Option<i64>,
    },
    /// Stop the scan.
    StopScan,
    /// Stop any advertising, then start this one.
    StartAdvertising {
        /// What and how.
        request: AdvertisingRequest,
    },
    /// Stop advertising.
    StopAdvertising,
    /// Connect to `device`, read the payload characteristic, disconnect, and report
    /// `DriverEvent.PayloadRead` or `PayloadReadFailed`.
    ReadPayload {
        /// The device.
        device: String,
    },
    /// Give up a connection or read in progress (report nothing for it).
    CancelConnection {
        /// The device.
        device: String,
    },
    /// Answer a GATT read request.
    RespondToRead {
        /// The request's id.
        request: u64,
        /// The bytes to send (empty past the end), or `None`: answer "invalid offset".
        value: Option<Vec<u8>>,
    },
    /// Deliver `DriverEvent.Timer` at this Unix time (ms), even while the device sleeps.
    /// Replaces any earlier request.
    WakeAt {
        /// When, Unix ms.
        at_ms: i64,
    },
    /// Keep the CPU awake until released.
    HoldWakeLock,
    /// Let the CPU sleep.
    ReleaseWakeLock,
    /// Show this status to the person.
    ShowStatus {
        /// The status.
        status: CollectionStatus,
    },
}

impl From<core_driver::Command> for DriverCommand {
    fn from(c: core_driver::Command) -> Self {
        use core_driver::Command as C;
        match c {
            C::StartScan {
                filters,
                mode,
                window_ms,
            } => Self::StartScan {
                filters: filters.into(),
                mode: mode.into(),
                window_ms,
            },
            C::StopScan => Self::StopScan,
            C::StartAdvertising(request) => Self::StartAdvertising {
                request: request.into(),
            },
            C::StopAdvertising => Self::StopAdvertising,
            C::ReadPayload { device } => Self::ReadPayload { device },
            C::CancelConnection { device } => Self::CancelConnection { device },
            C::RespondToRead { request, value } => Self::RespondToRead { request, value },
            C::WakeAt { at_ms } => Self::WakeAt { at_ms },
            C::HoldWakeLock => Self::HoldWakeLock,
            C::ReleaseWakeLock => Self::ReleaseWakeLock,
            C::ShowStatus(status) => Self::ShowStatus {
                status: status.into(),
            },
        }
    }
}

/// Why collection is paused (the app words it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PauseReason {
    /// Bluetooth is switched off.
    BluetoothOff,
    /// The app may not use Bluetooth.
    BluetoothUnauthorized,
    /// The device cannot do Bluetooth LE.
    BluetoothUnsupported,
    /// A permission the scanner needs was revoked.
    PermissionRevoked,
    /// The scanner keeps failing to start.
    ScannerFailing,
}

impl From<core_driver::PauseReason> for PauseReason {
    fn from(r: core_driver::PauseReason) -> Self {
        use core_driver::PauseReason as R;
        match r {
            R::BluetoothOff => Self::BluetoothOff,
            R::BluetoothUnauthorized => Self::BluetoothUnauthorized,
            R::BluetoothUnsupported => Self::BluetoothUnsupported,
            R::PermissionRevoked => Self::PermissionRevoked,
            R::ScannerFailing => Self::ScannerFailing,
        }
    }
}

/// The state of collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CollectionState {
    /// Turned off by the person.
    Off,
    /// Scanning (and advertising, where the platform can).
    Collecting,
    /// On, but not collecting.
    Paused {
        /// Why.
        reason: PauseReason,
    },
}

impl From<core_driver::CollectionState> for CollectionState {
    fn from(s: core_driver::CollectionState) -> Self {
        match s {
            core_driver::CollectionState::Off => Self::Off,
            core_driver::CollectionState::Collecting => Self::Collecting,
            core_driver::CollectionState::Paused(reason) => Self::Paused {
                reason: reason.into(),
            },
        }
    }
}

/// What to show the person about collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct CollectionStatus {
    /// The state.
    pub state: CollectionState,
    /// Unix time (ms) since which it holds.
    pub since_ms: i64,
    /// Advertising is failing (others' adverts may still be collected).
    pub advertising_failing: bool,
}

impl From<core_driver::CollectionStatus> for CollectionStatus {
    fn from(s: core_driver::CollectionStatus) -> Self {
        Self {
            state: s.state.into(),
            since_ms: s.since_ms,
            advertising_failing: s.advertising_failing,
        }
    }
}

/// Phones heard in one scan window, by distance class ("nearby now").
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct NearbyCount {
    /// Unix time (ms) the window started.
    pub window_start_ms: i64,
    /// About 1.5 m or closer.
    pub near: u32,
    /// Between the thresholds.
    pub mid: u32,
    /// Farther.
    pub far: u32,
}

impl From<core_driver::NearbyCount> for NearbyCount {
    fn from(n: core_driver::NearbyCount) -> Self {
        Self {
            window_start_ms: n.window_start_ms,
            near: n.near,
            mid: n.mid,
            far: n.far,
        }
    }
}

/// The GATT fallback's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct GattCounters {
    /// Reads asked of the platform.
    pub reads_started: u64,
    /// Reads that gave a payload.
    pub reads_succeeded: u64,
    /// Reads that failed or timed out.
    pub reads_failed: u64,
    /// Devices without the payload characteristic.
    pub not_ours: u64,
    /// Adverts stored with a payload read earlier.
    pub reused: u64,
}

impl From<core_driver::GattCounters> for GattCounters {
    fn from(g: core_driver::GattCounters) -> Self {
        Self {
            reads_started: g.reads_started,
            reads_succeeded: g.reads_succeeded,
            reads_failed: g.reads_failed,
            not_ours: g.not_ours,
            reused: g.reused,
        }
    }
}

/// What the driver has done since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct DriverCounters {
    /// Scan windows completed.
    pub windows: u64,
    /// Sightings handed to the engine.
    pub sightings: u64,
    /// Adverts that were not exposure notification.
    pub unrelated: u64,
    /// iPhone adverts dropped unread.
    pub unread: u64,
    /// Results reported while no scan was running.
    pub late_results: u64,
    /// Scan starts the platform refused.
    pub scan_failures: u64,
    /// Advertising starts the platform refused.
    pub advertising_failures: u64,
    /// Identifier rotations.
    pub rotations: u64,
    /// Restarts from saved state.
    pub restarts: u64,
    /// The GATT fallback's counts.
    pub gatt: GattCounters,
}

impl From<core_driver::DriverCounters> for DriverCounters {
    fn from(c: core_driver::DriverCounters) -> Self {
        Self {
            windows: c.windows,
            sightings: c.sightings,
            unrelated: c.unrelated,
            unread: c.unread,
            late_results: c.late_results,
            scan_failures: c.scan_failures,
            advertising_failures: c.advertising_failures,
            rotations: c.rotations,
            restarts: c.restarts,
            gatt: c.gatt.into(),
        }
    }
}

/// Collection, as diagnostics show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct CollectionReport {
    /// What the person sees.
    pub status: CollectionStatus,
    /// Phones heard in the last window.
    pub nearby: Option<NearbyCount>,
    /// What the driver did.
    pub driver: DriverCounters,
    /// Engine calls that failed.
    pub engine_errors: u64,
}

impl From<bluezone_core::CollectionReport> for CollectionReport {
    fn from(r: bluezone_core::CollectionReport) -> Self {
        Self {
            status: r.status.into(),
            nearby: r.nearby.map(NearbyCount::from),
            driver: r.driver.into(),
            engine_errors: r.engine_errors,
        }
    }
}
