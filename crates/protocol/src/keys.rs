//! Temporary Exposure Keys and the two keys derived from each (GAEN Cryptography
//! Specification v1.2, "Temporary Exposure Key", "Rolling Proximity Identifier Key",
//! "Associated Encrypted Metadata Key"), with RPI and AEM generation.
//!
//! ```text
//! TEK  = 16 bytes from a cryptographic RNG, one per rolling period
//! RPIK = HKDF-SHA256(TEK, salt = NULL, info = "EN-RPIK", 16)
//! AEMK = HKDF-SHA256(TEK, salt = NULL, info = "EN-AEMK", 16)
//! RPI  = AES-128(RPIK, "EN-RPI" || 0x000000000000 || ENIN as u32 little-endian)
//! AEM  = AES-128-CTR(AEMK, IV = RPI, metadata)
//! ```
//! Secrets (TEK, RPIK, AEMK) are not `Copy`, are zeroized on drop and print redacted.
//! Generating many RPIs encrypts all their blocks in one call, which lets AES-NI work on
//! eight blocks at once: this is the hot path of matching.

use std::fmt;

use aes::Aes128Enc;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use rand_core::CryptoRng;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::hkdf16::Prk;
use crate::identifiers::{AEM_LEN, AssociatedEncryptedMetadata, RollingProximityIdentifier};
use crate::metadata::{Metadata, MetadataError};
use crate::time::{IntervalNumber, TEK_ROLLING_PERIOD};

/// Length of a Temporary Exposure Key in bytes.
pub const TEK_LEN: usize = 16;

/// HKDF info for the RPIK: the 7 ASCII bytes "EN-RPIK", no terminator.
const RPIK_INFO: &[u8] = b"EN-RPIK";
/// HKDF info for the AEMK: the 7 ASCII bytes "EN-AEMK", no terminator.
const AEMK_INFO: &[u8] = b"EN-AEMK";
/// The first 12 bytes of every RPI's padded data: "EN-RPI" and six zero bytes.
const RPI_PADDING_PREFIX: [u8; 12] = *b"EN-RPI\0\0\0\0\0\0";

/// Bytes of the wrong length where a key was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a key is {expected} bytes, got {found}")]
pub struct KeyLengthError {
    /// The length a key must have.
    pub expected: usize,
    /// The length given.
    pub found: usize,
}

/// A Temporary Exposure Key (TEK): the daily secret from which a phone's identifiers come.
/// It leaves the phone only when its owner uploads it after a positive test.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct TemporaryExposureKey([u8; TEK_LEN]);

impl TemporaryExposureKey {
    /// Draws a new key from a cryptographic random number generator.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; TEK_LEN];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps 16 bytes of key material (for example a diagnosis key from a key file).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; TEK_LEN]) -> Self {
        Self(bytes)
    }

    /// Wraps a slice that must be exactly 16 bytes long.
    ///
    /// # Errors
    /// [`KeyLengthError`] for any other length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyLengthError> {
        <[u8; TEK_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyLengthError {
                expected: TEK_LEN,
                found: bytes.len(),
            })
    }

    /// The secret bytes. Only for storage, upload and QA tools: never log them.
    #[must_use]
    pub const fn expose_bytes(&self) -> &[u8; TEK_LEN] {
        &self.0
    }

    /// Derives both the RPIK and the AEMK, sharing one HKDF extract.
    #[must_use]
    pub fn derive_keys(&self) -> DerivedKeys {
        let prk = Prk::extract(&self.0);
        DerivedKeys {
            rpik: RollingProximityIdentifierKey::from_bytes(*prk.expand16(RPIK_INFO)),
            aemk: AssociatedEncryptedMetadataKey::from_bytes(*prk.expand16(AEMK_INFO)),
        }
    }

    /// Derives only the RPIK, which is all matching needs until an RPI is found.
    #[must_use]
    pub fn rpi_key(&self) -> RollingProximityIdentifierKey {
        RollingProximityIdentifierKey::from_bytes(*Prk::extract(&self.0).expand16(RPIK_INFO))
    }

    /// Derives only the AEMK.
    #[must_use]
    pub fn aem_key(&self) -> AssociatedEncryptedMetadataKey {
        AssociatedEncryptedMetadataKey::from_bytes(*Prk::extract(&self.0).expand16(AEMK_INFO))
    }
}

impl fmt::Debug for TemporaryExposureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemporaryExposureKey(<redacted>)")
    }
}

/// The RPIK and AEMK of one TEK.
#[derive(Debug)]
pub struct DerivedKeys {
    /// Encrypts interval numbers into RPIs.
    pub rpik: RollingProximityIdentifierKey,
    /// Encrypts metadata into AEMs.
    pub aemk: AssociatedEncryptedMetadataKey,
}

macro_rules! aes_key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name {
            bytes: [u8; 16],
            cipher: Aes128Enc,
        }

        impl $name {
            /// Wraps 16 bytes of derived key material and expands the AES key schedule.
            #[must_use]
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                let cipher = Aes128Enc::new(&Array::from(bytes));
                Self { bytes, cipher }
            }

            /// The secret key bytes, for test vectors and QA tools: never log them.
            #[must_use]
            pub const fn expose_bytes(&self) -> &[u8; 16] {
                &self.bytes
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                // The AES key schedule zeroizes itself (aes crate, "zeroize" feature).
                self.bytes.zeroize();
            }
        }

        impl ZeroizeOnDrop for $name {}

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

aes_key_type!(
    /// The Rolling Proximity Identifier Key (RPIK) of one TEK.
    RollingProximityIdentifierKey
);
aes_key_type!(
    /// The Associated Encrypted Metadata Key (AEMK) of one TEK.
    AssociatedEncryptedMetadataKey
);

/// The padded data block of an interval: "EN-RPI", six zeros, the interval little-endian.
fn padded_data(interval: IntervalNumber) -> Array<u8, aes::cipher::consts::U16> {
    Array::from(padded_block(interval))
}

/// [`padded_data`] as bytes.
fn padded_block(interval: IntervalNumber) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..12].copy_from_slice(&RPI_PADDING_PREFIX);
    block[12..].copy_from_slice(&interval.get().to_le_bytes());
    block
}

impl RollingProximityIdentifierKey {
    /// The RPI broadcast during one interval.
    #[must_use]
    pub fn identifier(&self, interval: IntervalNumber) -> RollingProximityIdentifier {
        let mut block = padded_data(interval);
        self.cipher.encrypt_block(&mut block);
        RollingProximityIdentifier(block.into())
    }

    /// Fills `out` with the RPIs of `out.len()` consecutive intervals from `first`, encrypting
    /// up to 144 blocks per AES call. Interval numbers wrap modulo 2^32 as the 4-byte field does.
    pub fn identifiers_into(&self, first: IntervalNumber, out: &mut [RollingProximityIdentifier]) {
        const CHUNK: usize = TEK_ROLLING_PERIOD as usize;
        let mut interval = first;
        let mut blocks = [[0u8; 16]; CHUNK];
        for chunk in out.chunks_mut(CHUNK) {
            let blocks = &mut blocks[..chunk.len()];
            self.identifiers_in_place(interval, blocks);
            for (rpi, block) in chunk.iter_mut().zip(blocks.iter()) {
                rpi.0 = *block;
            }
            interval = interval.wrapping_add(u32::try_from(chunk.len()).unwrap_or(0));
        }
    }

    /// The 144 RPIs of a full rolling period starting at `rolling_start`, in one batched call.
    #[must_use]
    pub fn daily_identifiers(
        &self,
        rolling_start: IntervalNumber,
    ) -> [RollingProximityIdentifier; TEK_ROLLING_PERIOD as usize] {
        let mut blocks = [[0u8; 16]; TEK_ROLLING_PERIOD as usize];
        self.daily_identifiers_in_place(rolling_start, &mut blocks);
        blocks.map(RollingProximityIdentifier)
    }

    /// [`Self::daily_identifiers`] into `blocks`, whatever they held: each padded-data block
    /// written once and encrypted where it lies, in one batched AES call, with no copy (the
    /// matching hot path reuses one buffer for every key). Interval numbers wrap modulo 2^32
    /// as the 4-byte field does.
    ///
    /// Never inlined: the matcher and the benchmark's crypto bound run the very same code
    /// (inlined, the AES crate's block loading was compiled well or badly depending on the
    /// caller, 0.63 s against 0.77 s per million keys).
    #[inline(never)]
    pub fn daily_identifiers_in_place(
        &self,
        rolling_start: IntervalNumber,
        blocks: &mut [[u8; 16]; TEK_ROLLING_PERIOD as usize],
    ) {
        self.identifiers_in_place(rolling_start, blocks);
    }

    /// The RPIs of `blocks.len()` consecutive intervals from `first`, encrypted in place as
    /// [`Self::daily_identifiers_in_place`] does (for part of a day).
    #[inline(always)]
    pub fn identifiers_in_place(&self, first: IntervalNumber, blocks: &mut [[u8; 16]]) {
        let mut interval = first;
        for block in blocks.iter_mut() {
            *block = padded_block(interval);
            interval = interval.wrapping_add(1);
        }
        self.cipher
            .encrypt_blocks(Array::cast_slice_from_core_mut(blocks));
    }
}

impl AssociatedEncryptedMetadataKey {
    /// AES-128-CTR keystream for a 4-byte message with IV = RPI: the first 4 bytes of
    /// `AES(AEMK, RPI)`, since the message fits in the first counter block.
    fn keystream(&self, rpi: &RollingProximityIdentifier) -> [u8; AEM_LEN] {
        let mut block = Array::from(rpi.0);
        self.cipher.encrypt_block(&mut block);
        [block[0], block[1], block[2], block[3]]
    }

    /// Encrypts raw metadata bytes for the interval whose RPI is given.
    #[must_use]
    pub fn encrypt(
        &self,
        rpi: &RollingProximityIdentifier,
        metadata: [u8; AEM_LEN],
    ) -> AssociatedEncryptedMetadata {
        let ks = self.keystream(rpi);
        AssociatedEncryptedMetadata(std::array::from_fn(|i| metadata[i] ^ ks[i]))
    }

    /// Decrypts an AEM to raw metadata bytes (CTR mode: the same operation as encryption).
    #[must_use]
    pub fn decrypt(
        &self,
        rpi: &RollingProximityIdentifier,
        aem: &AssociatedEncryptedMetadata,
    ) -> [u8; AEM_LEN] {
        self.encrypt(rpi, aem.0).0
    }

    /// Decrypts and decodes an AEM.
    ///
    /// # Errors
    /// [`MetadataError`] when the plaintext is not metadata this code understands, which is
    /// also what a wrong key or a corrupted AEM usually produces.
    pub fn decrypt_metadata(
        &self,
        rpi: &RollingProximityIdentifier,
        aem: &AssociatedEncryptedMetadata,
    ) -> Result<Metadata, MetadataError> {
        Metadata::from_bytes(self.decrypt(rpi, aem))
    }

    /// Encrypts the same metadata for many RPIs, batching the AES blocks.
    ///
    /// # Panics
    /// If `out` and `rpis` differ in length.
    pub fn encrypt_many(
        &self,
        rpis: &[RollingProximityIdentifier],
        metadata: [u8; AEM_LEN],
        out: &mut [AssociatedEncryptedMetadata],
    ) {
        assert_eq!(rpis.len(), out.len(), "one AEM per RPI");
        const CHUNK: usize = TEK_ROLLING_PERIOD as usize;
        let mut blocks = [Array::<u8, aes::cipher::consts::U16>::default(); CHUNK];
        for (rpis, out) in rpis.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let blocks = &mut blocks[..rpis.len()];
            for (block, rpi) in blocks.iter_mut().zip(rpis) {
                *block = Array::from(rpi.0);
            }
            self.cipher.encrypt_blocks(blocks);
            for (aem, ks) in out.iter_mut().zip(blocks.iter()) {
                *aem = AssociatedEncryptedMetadata(std::array::from_fn(|i| metadata[i] ^ ks[i]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_print_redacted() {
        let tek = TemporaryExposureKey::from_bytes([0x42; 16]);
        let keys = tek.derive_keys();
        for text in [
            format!("{tek:?}"),
            format!("{keys:?}"),
            format!("{:?}", tek.rpi_key()),
        ] {
            assert!(text.contains("redacted"), "{text}");
            assert!(!text.contains("42"), "{text}");
        }
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(TemporaryExposureKey::from_slice(&[0; 16]).is_ok());
        assert_eq!(
            TemporaryExposureKey::from_slice(&[0; 15]),
            Err(KeyLengthError {
                expected: 16,
                found: 15
            })
        );
    }

    #[test]
    fn generate_uses_the_injected_rng() {
        use rand::SeedableRng;
        let mut a = rand::rngs::StdRng::seed_from_u64(7);
        let mut b = rand::rngs::StdRng::seed_from_u64(7);
        let first = TemporaryExposureKey::generate(&mut a);
        assert_eq!(first, TemporaryExposureKey::generate(&mut b));
        assert_ne!(first, TemporaryExposureKey::generate(&mut a));
    }

    #[test]
    fn batched_and_single_generation_agree_across_chunks() {
        let rpik = TemporaryExposureKey::from_bytes([9; 16]).rpi_key();
        let first = IntervalNumber::new(u32::MAX - 150);
        let mut batch = vec![RollingProximityIdentifier::default(); 300];
        rpik.identifiers_into(first, &mut batch);
        for (i, rpi) in batch.iter().enumerate() {
            let interval = first.wrapping_add(u32::try_from(i).unwrap());
            assert_eq!(*rpi, rpik.identifier(interval), "interval {interval}");
        }
        let aemk = TemporaryExposureKey::from_bytes([9; 16]).aem_key();
        let mut aems = vec![AssociatedEncryptedMetadata::default(); 300];
        aemk.encrypt_many(&batch, [0x40, 1, 2, 3], &mut aems);
        for (rpi, aem) in batch.iter().zip(&aems) {
            assert_eq!(*aem, aemk.encrypt(rpi, [0x40, 1, 2, 3]));
            assert_eq!(aemk.decrypt(rpi, aem), [0x40, 1, 2, 3]);
        }
    }
}
