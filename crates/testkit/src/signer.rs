//! The test health authority's key-file signer and the keys a phone trusts.

use bluezone_protocol::keyfile::{KeyFileSigner, TrustedKeys};
use p256::ecdsa::SigningKey;

/// The test authority's signer: key `452`, version `v1`, a fixed P-256 key (`0x23` × 32).
#[must_use]
pub fn test_signer() -> KeyFileSigner {
    signer_with("452", "v1", 0x23)
}

/// A signer with the given id and version whose private key is the scalar `byte` × 32.
///
/// # Panics
/// If `byte` × 32 is not a valid P-256 scalar (0 is not).
#[must_use]
pub fn signer_with(key_id: &str, version: &str, byte: u8) -> KeyFileSigner {
    let key = SigningKey::from_slice(&[byte; 32]).expect("a valid P-256 scalar");
    KeyFileSigner::new(key_id, version, key)
}

/// The keys a phone trusts when it trusts only `signer`.
#[must_use]
pub fn trusting(signer: &KeyFileSigner) -> TrustedKeys {
    TrustedKeys::single(signer.trusted_key())
}
