//! The part of the driver's state that must survive a reboot, an update or the process
//! being killed: whether collection is on, and since when its status holds (so "paused:
//! Bluetooth is off since 10:32" stays true across a restart). The engine stores the bytes
//! sealed, like every other setting.

use super::io::BluetoothState;
use super::status::{CollectionState, PauseReason};

const MAGIC: &[u8; 4] = b"BZD1";
const LEN: usize = 4 + 4 + 8 + 8;

/// What the driver saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedState {
    /// The person turned collection on.
    pub enabled: bool,
    /// Bluetooth as last reported.
    pub bluetooth: BluetoothState,
    /// The permission as last reported.
    pub permission: bool,
    /// The status shown, and since when (Unix ms).
    pub state: CollectionState,
    /// See `state`.
    pub since_ms: i64,
    /// The last scan-window id used (ids keep growing across restarts).
    pub last_window: u64,
}

impl Default for SavedState {
    fn default() -> Self {
        Self {
            enabled: false,
            bluetooth: BluetoothState::On,
            permission: true,
            state: CollectionState::Off,
            since_ms: 0,
            last_window: 0,
        }
    }
}

fn bluetooth_code(b: BluetoothState) -> u8 {
    match b {
        BluetoothState::On => 0,
        BluetoothState::Off => 1,
        BluetoothState::Unauthorized => 2,
        BluetoothState::Unsupported => 3,
    }
}

fn state_code(s: CollectionState) -> u8 {
    match s {
        CollectionState::Off => 0,
        CollectionState::Collecting => 1,
        CollectionState::Paused(PauseReason::BluetoothOff) => 2,
        CollectionState::Paused(PauseReason::BluetoothUnauthorized) => 3,
        CollectionState::Paused(PauseReason::BluetoothUnsupported) => 4,
        CollectionState::Paused(PauseReason::PermissionRevoked) => 5,
        CollectionState::Paused(PauseReason::ScannerFailing) => 6,
    }
}

impl SavedState {
    /// The bytes to store.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN);
        out.extend_from_slice(MAGIC);
        out.push(u8::from(self.enabled));
        out.push(bluetooth_code(self.bluetooth));
        out.push(u8::from(self.permission));
        out.push(state_code(self.state));
        out.extend_from_slice(&self.since_ms.to_le_bytes());
        out.extend_from_slice(&self.last_window.to_le_bytes());
        out
    }

    /// Reads stored bytes; anything unreadable gives `None` (the driver then starts off, as
    /// on a fresh install, and the app asks the person again).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != LEN || &bytes[..4] != MAGIC {
            return None;
        }
        let bluetooth = match bytes[5] {
            0 => BluetoothState::On,
            1 => BluetoothState::Off,
            2 => BluetoothState::Unauthorized,
            3 => BluetoothState::Unsupported,
            _ => return None,
        };
        let state = match bytes[7] {
            0 => CollectionState::Off,
            1 => CollectionState::Collecting,
            2 => CollectionState::Paused(PauseReason::BluetoothOff),
            3 => CollectionState::Paused(PauseReason::BluetoothUnauthorized),
            4 => CollectionState::Paused(PauseReason::BluetoothUnsupported),
            5 => CollectionState::Paused(PauseReason::PermissionRevoked),
            6 => CollectionState::Paused(PauseReason::ScannerFailing),
            _ => return None,
        };
        if bytes[4] > 1 || bytes[6] > 1 {
            return None;
        }
        Some(Self {
            enabled: bytes[4] == 1,
            bluetooth,
            permission: bytes[6] == 1,
            state,
            since_ms: i64::from_le_bytes(bytes[8..16].try_into().ok()?),
            last_window: u64::from_le_bytes(bytes[16..24].try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let s = SavedState {
            enabled: true,
            bluetooth: BluetoothState::Off,
            permission: true,
            state: CollectionState::Paused(PauseReason::BluetoothOff),
            since_ms: 1_700_000_000_123,
            last_window: 42,
        };
        assert_eq!(SavedState::from_bytes(&s.to_bytes()), Some(s));
        assert_eq!(SavedState::from_bytes(b"BZD1"), None);
        let mut bad = s.to_bytes();
        bad[7] = 99;
        assert_eq!(SavedState::from_bytes(&bad), None);
    }
}
