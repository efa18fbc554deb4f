//! What the fuzz targets share: the key that signed GAEN's published sample key file, trusted.

use std::sync::LazyLock;

use bluezone_protocol::keyfile::{KeyFileSigner, TrustedKey, TrustedKeys};

/// The published sample's signing key (`310`, `v1`) as the only trusted key.
pub static SAMPLE_TRUSTED: LazyLock<TrustedKeys> = LazyLock::new(|| {
    TrustedKeys::single(
        TrustedKey::from_text(
            "310",
            "v1",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE49JY6kekDgxj3Crm4y6kEHdfoKQFSNDM4mV9cgDb+e5nOAw0GeRoRThCu9/wX5wDT2QloFoOjl2pGZHI0f3C3w==",
        )
        .expect("the sample's key parses"),
    )
});

/// A signer whose files the fuzz targets build (a fixed P-256 key, `452`, `v1`), and the
/// set trusting it: inputs it signs reach the parts of the reader behind the signature.
pub static FUZZ_SIGNER: LazyLock<(KeyFileSigner, TrustedKeys)> = LazyLock::new(|| {
    let key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).expect("a valid scalar");
    let signer = KeyFileSigner::new("452", "v1", key);
    let trusted = TrustedKeys::single(signer.trusted_key());
    (signer, trusted)
});
