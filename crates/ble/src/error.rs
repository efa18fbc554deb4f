//! Why desktop scanning cannot start or stopped, in words a user can act on.

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
        } else {
            Self::Stack(text)
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
    }
}
