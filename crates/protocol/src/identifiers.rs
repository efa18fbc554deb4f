//! The identifiers a phone broadcasts: Rolling Proximity Identifiers and their Associated
//! Encrypted Metadata. Both are public (they go over the air), so they are plain `Copy`
//! values that print as hex.

use std::fmt;

/// Length of a Rolling Proximity Identifier in bytes.
pub const RPI_LEN: usize = 16;

/// Length of the Associated Encrypted Metadata in bytes.
pub const AEM_LEN: usize = 4;

/// A Rolling Proximity Identifier (RPI): 16 bytes that change every interval.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RollingProximityIdentifier(pub [u8; RPI_LEN]);

impl RollingProximityIdentifier {
    /// The 16 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; RPI_LEN] {
        &self.0
    }

    /// The first two bytes as a big-endian number: the bucket of a prefix index.
    #[must_use]
    pub const fn prefix16(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }
}

/// Associated Encrypted Metadata (AEM): the 4 metadata bytes encrypted under the AEMK.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AssociatedEncryptedMetadata(pub [u8; AEM_LEN]);

impl AssociatedEncryptedMetadata {
    /// The 4 bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; AEM_LEN] {
        &self.0
    }
}

/// Writes bytes as lowercase hex.
pub(crate) fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

macro_rules! hex_display {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(", stringify!($t))?;
                write_hex(f, &self.0)?;
                write!(f, ")")
            }
        }
    )*};
}
hex_display!(RollingProximityIdentifier, AssociatedEncryptedMetadata);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_hex() {
        let rpi = RollingProximityIdentifier([0xab; 16]);
        assert_eq!(rpi.to_string(), "ab".repeat(16));
        assert_eq!(rpi.prefix16(), 0xabab);
        let aem = AssociatedEncryptedMetadata([1, 2, 3, 0xff]);
        assert_eq!(format!("{aem:?}"), "AssociatedEncryptedMetadata(010203ff)");
    }
}
