//! What the person sees about collection: whether it runs, why not since when, and how many
//! phones were near in the last scan window (Bluezone's "nearby now").

use std::fmt;

/// Why collection is paused. The app words it (in Rust, `Display` gives English for logs, the
/// desktop scanner and the simulator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
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

impl fmt::Display for PauseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BluetoothOff => "Bluetooth is off",
            Self::BluetoothUnauthorized => "Bluetooth is not allowed for this app",
            Self::BluetoothUnsupported => "this device has no Bluetooth LE",
            Self::PermissionRevoked => "the nearby-devices permission was revoked",
            Self::ScannerFailing => "the Bluetooth scanner keeps failing",
        })
    }
}

/// The state of collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CollectionState {
    /// Turned off by the person.
    Off,
    /// Scanning on its duty cycle (and advertising, where the platform can).
    Collecting,
    /// On, but not collecting.
    Paused(
        /// Why.
        #[cfg_attr(feature = "uniffi", uniffi(name = "reason"))]
        PauseReason,
    ),
}

/// What to show the person about collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CollectionStatus {
    /// The state.
    pub state: CollectionState,
    /// Unix time (ms) since which it holds.
    pub since_ms: i64,
    /// Advertising is failing (collection of others' adverts may still run): the
    /// platform's refusal is in the diagnostics.
    pub advertising_failing: bool,
}

impl fmt::Display for CollectionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.since_ms.div_euclid(1000).rem_euclid(86_400);
        let clock = format!("{:02}:{:02} UTC", since / 3600, since / 60 % 60);
        match self.state {
            CollectionState::Off => write!(f, "off since {clock}"),
            CollectionState::Collecting if self.advertising_failing => {
                write!(f, "collecting since {clock} (not advertising)")
            }
            CollectionState::Collecting => write!(f, "collecting since {clock}"),
            CollectionState::Paused(reason) => write!(f, "paused: {reason} since {clock}"),
        }
    }
}

/// Phones heard in one scan window, by distance class (from the strongest signal of each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct NearbyCount {
    /// Unix time (ms) the window started.
    pub window_start_ms: i64,
    /// Attenuation at most the first threshold (about 1.5 m or closer).
    pub near: u32,
    /// Between the thresholds.
    pub mid: u32,
    /// Beyond the second threshold.
    pub far: u32,
}

impl NearbyCount {
    /// All phones heard.
    #[must_use]
    pub fn total(&self) -> u32 {
        self.near + self.mid + self.far
    }
}
