//! Sealing: AES-256-GCM with random nonces and associated data that binds each value to
//! where it is stored.
//!
//! ```text
//! wrapping key  = HKDF-SHA256(master, info = "bluezone/store/v1/wrap")
//! settings key  = HKDF-SHA256(master, info = "bluezone/store/v1/settings")
//! day key       = 32 random bytes, stored sealed under the wrapping key
//! sealed value  = version (1) || nonce (12, random) || AES-256-GCM(ciphertext || tag)
//! ```
//! Nonces are drawn from the injected cryptographic generator. Each day key seals at most a
//! few thousand values, far below the 2^32 random-nonce bound for one GCM key.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

/// Version byte of a sealed value.
const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The 32-byte key the platform keeps for the store (Android Keystore, iOS Keychain).
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl MasterKey {
    /// Wraps the platform's key.
    #[must_use]
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = Self(Zeroizing::new(bytes));
        bytes.zeroize();
        key
    }

    /// Derives a purpose-specific 32-byte key.
    pub(crate) fn derive(&self, info: &[u8]) -> SealingKey {
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, self.0.as_slice())
            .expand(info, okm.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SealingKey::from_bytes(&okm)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// An AES-256-GCM key (its key schedule zeroizes itself on drop).
pub(crate) struct SealingKey(Aes256Gcm);

impl SealingKey {
    pub(crate) fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(bytes.into()))
    }

    /// Seals `plaintext` bound to `aad`, with a nonce from `rng`.
    pub(crate) fn seal(
        &self,
        rng: &mut dyn rand_core::CryptoRng,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let ciphertext = self
            .0
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM seals any message under 64 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Opens a sealed value bound to `aad`; `None` if it is not authentic.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != SEAL_VERSION {
            return None;
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..=NONCE_LEN].try_into().ok()?;
        self.0
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

/// Associated data of a day key.
pub(crate) fn day_key_aad(day: u32) -> Vec<u8> {
    let mut aad = b"bluezone/store/v1/day-key/".to_vec();
    aad.extend_from_slice(&day.to_le_bytes());
    aad
}

/// Associated data of a row: table, day and row id.
pub(crate) fn row_aad(table: &str, day: u32, id: i64) -> Vec<u8> {
    let mut aad = b"bluezone/store/v1/row/".to_vec();
    aad.extend_from_slice(table.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&day.to_le_bytes());
    aad.extend_from_slice(&id.to_le_bytes());
    aad
}

/// Associated data of a setting.
pub(crate) fn setting_aad(name: &str) -> Vec<u8> {
    let mut aad = b"bluezone/store/v1/setting/".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn seal_open_and_every_binding() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let key = MasterKey::from_bytes([1; 32]).derive(b"test");
        let sealed = key.seal(&mut rng, b"aad", b"hello");
        assert_eq!(sealed.len(), 1 + 12 + 5 + 16);
        assert_eq!(key.open(b"aad", &sealed).unwrap().as_slice(), b"hello");
        assert!(key.open(b"other", &sealed).is_none());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(key.open(b"aad", &bad).is_none(), "byte {i}");
        }
        assert!(key.open(b"aad", &sealed[..12]).is_none());
        let other = MasterKey::from_bytes([2; 32]).derive(b"test");
        assert!(other.open(b"aad", &sealed).is_none());
        // Nonces differ, so equal plaintexts give different ciphertexts.
        assert_ne!(key.seal(&mut rng, b"aad", b"hello"), sealed);
        assert_ne!(row_aad("a", 1, 2), row_aad("a", 1, 3));
        assert_ne!(row_aad("a", 1, 2), row_aad("b", 1, 2));
        assert_ne!(row_aad("a", 1, 2), row_aad("a", 2, 2));
        assert!(format!("{:?}", MasterKey::from_bytes([9; 32])).contains("redacted"));
    }
}
