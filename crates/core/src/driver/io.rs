//! What goes into the driver and what comes out: platform events, the commands the platform
//! carries out, and the two requests the engine answers (an advertisement, a batch to store).

use crate::ingest::{AdvertData, SightingInput};
use crate::rotation::CurrentAdvertisement;

/// Which platform executes the commands: it decides advertising settings, scan filters and
/// how far timers can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Platform {
    /// Android: non-connectable legacy adverts with FD6F service data; exact alarms.
    Android,
    /// iOS: connectable adverts carrying the service UUID only (moved to Apple's overflow
    /// area in the background), the payload served over GATT; no timers in the background.
    Ios,
    /// A desktop scanner (listens only; never advertises).
    Desktop,
}

/// Whether Bluetooth can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum BluetoothState {
    /// Switched on.
    On,
    /// Switched off by the person or the system.
    Off,
    /// The person did not allow this app to use Bluetooth.
    Unauthorized,
    /// The device has no Bluetooth LE (or cannot advertise/scan at all).
    Unsupported,
}

/// Where the app is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum AppState {
    /// On screen.
    Foreground,
    /// Running but not on screen (or the screen is locked).
    Background,
    /// About to be stopped by the system or the person: the last chance to store anything.
    Terminating,
}

/// Why the process starts with the driver's saved state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum RestartReason {
    /// The phone was switched on.
    Boot,
    /// The app was updated.
    AppUpdate,
    /// The system stopped the process and started it again (or it crashed).
    ProcessRestart,
}

/// An advert as a scanner reported it: nothing decoded by the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// The platform's handle of the sender (Android: its address; iOS: the peripheral's
    /// identifier). It changes when the sender changes its random address.
    pub device: String,
    /// The advert's data as the platform gives it (Android: raw AD structures; iOS: the
    /// service-data map).
    pub advert: AdvertData,
    /// Service UUIDs the platform reported outside `advert` (iOS: the service-UUID and
    /// overflow-service-UUID lists).
    pub service_uuids: Vec<String>,
    /// The platform saw Apple's overflow area (manufacturer data 0x004C, type 0x01) or
    /// reported our service UUID as an overflow UUID: an iPhone advertising in the background.
    pub apple_overflow: bool,
    /// Received signal strength, dBm.
    pub rssi: i16,
    /// Transmit power the sender advertised, dBm, if any.
    pub tx_power_dbm: Option<i16>,
}

/// Something that happened. Each is handed to [`super::Driver::handle`] with the time.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The person turned exposure notifications on (or the app starts with them on).
    Enable,
    /// The person turned exposure notifications off.
    Disable,
    /// The process starts with the driver's saved state (see [`super::Driver::restore`]).
    Restarted(RestartReason),
    /// A wake-up the driver asked for fired (early or late: the driver checks the time).
    Timer,
    /// The engine's identifier schedule changed before its time (an upload released
    /// today's key, or all data was deleted): the driver asks for the advertisement again
    /// and restarts advertising only if the payload changed; an unchanged payload keeps its
    /// address (a new address with the same identifier would link the two) and takes the
    /// engine's new rotation time. [`crate::Phone`] sends it on its own.
    IdentityChanged,
    /// Bluetooth changed state.
    Bluetooth(BluetoothState),
    /// The Bluetooth (Android: nearby devices / location) permission was granted or revoked.
    Permission {
        /// Granted now.
        granted: bool,
    },
    /// The app moved.
    App(AppState),
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
    /// A Bluetooth audio device (headphones, car) connected or disconnected: it shares the
    /// radio, so scans need longer windows.
    BluetoothAudio {
        /// Connected now.
        connected: bool,
    },
    /// The scanner reported an advert.
    ScanResult(ScanReport),
    /// The scan asked for started.
    ScanStarted,
    /// The scan asked for could not start (the platform's reason, for diagnostics).
    ScanFailed(String),
    /// Advertising started.
    AdvertisingStarted,
    /// Advertising could not start (the platform's reason).
    AdvertisingFailed(String),
    /// A payload read asked for by [`Command::ReadPayload`] finished.
    PayloadRead {
        /// The device read.
        device: String,
        /// The characteristic's value, or why it could not be read.
        result: Result<Vec<u8>, ReadFailure>,
    },
    /// A central asks this phone's GATT server for the payload (iOS peripheral).
    PayloadRequested {
        /// The platform's id of the request, echoed in [`Command::RespondToRead`].
        request: u64,
        /// The offset asked for.
        offset: u32,
    },
    /// The engine's answer to [`EngineRequest::Advertisement`].
    Advertisement(CurrentAdvertisement),
    /// The engine could not give an advertisement (its reason, for diagnostics).
    AdvertisementUnavailable(String),
}

/// Why a payload read failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ReadFailure {
    /// The connection failed or dropped.
    ConnectionFailed,
    /// Connected, but the device has no exposure-notification payload characteristic (not
    /// one of ours: another Apple device).
    NotFound,
    /// The platform gave up (its own timeout).
    Timeout,
}

/// Scan filters: what the platform should report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ScanFilters {
    /// Adverts with FD6F service data or the FD6F service UUID.
    pub exposure_service: bool,
    /// Adverts with Apple manufacturer data (0x004C), where iPhones in the background put
    /// their service UUIDs (the overflow area). Android only: iOS reports overflow matches
    /// through the service-UUID filter.
    pub apple_manufacturer_data: bool,
}

/// How aggressively the platform scans within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ScanMode {
    /// Android `SCAN_MODE_LOW_LATENCY` (GAEN scans so, for a few seconds).
    LowLatency,
    /// Android `SCAN_MODE_LOW_POWER`, or iOS's own choice.
    LowPower,
}

/// What to advertise and how.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdvertisingRequest {
    /// The 20-byte FD6F service data (RPI then AEM).
    pub service_data: Vec<u8>,
    /// The full 31-byte legacy advertising payload (flags, FD6F UUID, service data).
    pub payload: Vec<u8>,
    /// Connectable (iOS: so scanners can read the payload characteristic).
    pub connectable: bool,
    /// Put the service data in the advert (Android); iOS can advertise the UUID only.
    pub include_service_data: bool,
    /// Serve the payload from the GATT characteristic (iOS).
    pub serve_payload: bool,
    /// Advertising interval the platform should aim for, milliseconds (GAEN: 200–270 ms).
    pub interval_ms: u32,
    /// Unix time (ms) at which this payload must be off the air.
    pub until_ms: i64,
}

/// What the platform must do. Carry them out in order.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[cfg_attr(feature = "uniffi", uniffi(name = "DriverCommand"))]
pub enum Command {
    /// Start scanning (there is never more than one scan at a time).
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
    /// Stop any advertising, then start this one (a restart makes the platform pick a new
    /// random address together with the new identifier).
    StartAdvertising(
        /// What and how.
        #[cfg_attr(feature = "uniffi", uniffi(name = "request"))]
        AdvertisingRequest,
    ),
    /// Stop advertising.
    StopAdvertising,
    /// Connect to `device`, read the payload characteristic, disconnect, and report the
    /// outcome (the `PayloadRead` event; through the FFI, `PayloadRead` or
    /// `PayloadReadFailed`).
    ReadPayload {
        /// The device.
        device: String,
    },
    /// Give up a connection or read in progress.
    CancelConnection {
        /// The device.
        device: String,
    },
    /// Answer a GATT read request.
    RespondToRead {
        /// The request's id.
        request: u64,
        /// The bytes to send (empty past the end), or `None` to answer "invalid offset".
        value: Option<Vec<u8>>,
    },
    /// Deliver the `Timer` event at this Unix time (ms), even while the device sleeps
    /// (Android: an exact alarm allowed while idle). Replaces any earlier request.
    WakeAt {
        /// When, Unix ms.
        at_ms: i64,
    },
    /// Keep the CPU awake (Android: a partial wake lock) until released.
    HoldWakeLock,
    /// Let the CPU sleep.
    ReleaseWakeLock,
    /// Show this status to the person (a notification or a line in the app).
    ShowStatus(
        /// The status.
        #[cfg_attr(feature = "uniffi", uniffi(name = "status"))]
        super::status::CollectionStatus,
    ),
}

/// What the driver asks of the engine (the `Tracer`), answered by the glue in
/// [`crate::phone`] before any platform command runs.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineRequest {
    /// The advertisement to put on air now; answer with [`Event::Advertisement`].
    Advertisement,
    /// Store these sightings now.
    Record(Vec<SightingInput>),
    /// Save the driver's state (see [`super::Driver::saved_state`]).
    SaveState(Vec<u8>),
}

/// One output of the driver, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// For the platform.
    Command(Command),
    /// For the engine.
    Engine(EngineRequest),
}
