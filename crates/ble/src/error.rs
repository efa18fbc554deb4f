//! Why desktop scanning cannot start or stopped, in words a user can act on, and which of
//! these the phone driver sees as a Bluetooth state (off, not allowed, not supported).

use bluezone_core::driver::BluetoothState;

/// A desktop Bluetooth failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    /// Linux: no D-Bus system bus to reach BlueZ through (containers, minimal systems).
    #[error(
        "no D-Bus system bus: BlueZ is reached through it (is dbus running? in a container, \
         mount /run/dbus/system_bus_socket) [{0}]"
    )]
    NoSystemBus(String),
    /// Linux: a system bus, but no BlueZ on it.
    #[error("no Bluetooth service on the system bus: start bluetoothd (BlueZ) [{0}]")]
    NoBluetoothService(String),
    /// The stack runs but there is no adapter.
    #[error("no Bluetooth adapter found")]
    NoAdapter,
    /// The OS refused access.
    #[error(
        "permission denied: allow this program to use Bluetooth (macOS: System Settings → \
         Privacy & Security → Bluetooth; Linux: the bluetooth group or a polkit rule) [{0}]"
    )]
    PermissionDenied(String),
    /// The adapter is there but switched off.
    #[error("the Bluetooth adapter is off: switch it on and retry [{0}]")]
    AdapterOff(String),
    /// The adapter or the stack cannot do what was asked (Bluetooth LE scanning).
    #[error("the Bluetooth adapter cannot scan for Bluetooth LE adverts [{0}]")]
    Unsupported(String),
    /// Anything else the Bluetooth stack reported.
    #[error("Bluetooth failed: {0}")]
    Stack(String),
}

impl BleError {
    /// Classifies a stack error by its kind and message (BlueZ reports most failures as D-Bus
    /// errors whose names say what happened).
    #[must_use]
    pub fn classify(kind: ErrorKind, message: &str) -> Self {
        let text = message.to_owned();
        match kind {
            ErrorKind::NoAdapter => return Self::NoAdapter,
            ErrorKind::PermissionDenied => return Self::PermissionDenied(text),
            ErrorKind::Unsupported => return Self::Unsupported(text),
            ErrorKind::Other => {}
        }
        let lower = message.to_ascii_lowercase();
        if lower.contains("system_bus_socket")
            || lower.contains("dbus.error.noserver")
            || lower.contains("dbus.error.filenotfound")
            || lower.contains("dbus_system_bus_address")
            || (lower.contains("failed to connect to socket") && lower.contains("bus"))
        {
            Self::NoSystemBus(text)
        } else if lower.contains("serviceunknown")
            || lower.contains("org.bluez was not provided")
            || lower.contains("name org.bluez")
        {
            Self::NoBluetoothService(text)
        } else if lower.contains("accessdenied")
            || lower.contains("notpermitted")
            || lower.contains("permission")
        {
            Self::PermissionDenied(text)
        } else if lower.contains("notready") || lower.contains("powered off") {
            Self::AdapterOff(text)
        } else if lower.contains("notsupported") || lower.contains("not supported") {
            Self::Unsupported(text)
        } else {
            Self::Stack(text)
        }
    }
}

impl BleError {
    /// The Bluetooth state this failure tells the phone driver of, when it is one the driver
    /// knows (off, not allowed, not supported); `None` for the rest (no system bus, no
    /// Bluetooth service, other stack failures).
    #[must_use]
    pub fn bluetooth_state(&self) -> Option<BluetoothState> {
        match self {
            Self::AdapterOff(_) => Some(BluetoothState::Off),
            Self::PermissionDenied(_) => Some(BluetoothState::Unauthorized),
            Self::NoAdapter | Self::Unsupported(_) => Some(BluetoothState::Unsupported),
            Self::NoSystemBus(_) | Self::NoBluetoothService(_) | Self::Stack(_) => None,
        }
    }
}

/// The coarse kind of a stack error, as btleplug reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// btleplug said there is no adapter.
    NoAdapter,
    /// btleplug said permission was denied.
    PermissionDenied,
    /// btleplug said the operation is not supported.
    Unsupported,
    /// Anything else: the message decides.
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bluez_messages_are_classified() {
        let cases = [
            (
                "D-Bus error: Failed to connect to socket /run/dbus/system_bus_socket: No such file or directory (org.freedesktop.DBus.Error.FileNotFound)",
                "no D-Bus system bus",
            ),
            (
                "D-Bus error: The name org.bluez was not provided by any .service files (org.freedesktop.DBus.Error.ServiceUnknown)",
                "no Bluetooth service",
            ),
            (
                "D-Bus error: Rejected send message (org.freedesktop.DBus.Error.AccessDenied)",
                "permission denied",
            ),
            (
                "D-Bus error: Resource Not Ready (org.bluez.Error.NotReady)",
                "the Bluetooth adapter is off",
            ),
            (
                "D-Bus error: Operation is not supported (org.bluez.Error.NotSupported)",
                "the Bluetooth adapter cannot scan",
            ),
            ("something new", "Bluetooth failed: something new"),
        ];
        for (message, expected) in cases {
            let e = BleError::classify(ErrorKind::Other, message);
            assert!(e.to_string().starts_with(expected), "{message} -> {e}");
        }
        assert_eq!(
            BleError::classify(ErrorKind::NoAdapter, "x"),
            BleError::NoAdapter
        );
        assert!(matches!(
            BleError::classify(ErrorKind::PermissionDenied, "x"),
            BleError::PermissionDenied(_)
        ));
        // What the driver hears of each.
        let state = |message: &str| BleError::classify(ErrorKind::Other, message).bluetooth_state();
        assert_eq!(state("org.bluez.Error.NotReady"), Some(BluetoothState::Off));
        assert_eq!(
            state("org.freedesktop.DBus.Error.AccessDenied"),
            Some(BluetoothState::Unauthorized)
        );
        assert_eq!(
            state("org.bluez.Error.NotSupported"),
            Some(BluetoothState::Unsupported)
        );
        assert_eq!(
            BleError::NoAdapter.bluetooth_state(),
            Some(BluetoothState::Unsupported)
        );
        assert_eq!(state("org.freedesktop.DBus.Error.ServiceUnknown"), None);
        assert_eq!(state("something new"), None);
    }
}
