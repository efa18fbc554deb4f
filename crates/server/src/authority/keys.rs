//! [`AuthorityKeys`]: the server's secrets, every one derived from its master secret.

use bluezone_protocol::keyfile::KeyFileSigner;
use bluezone_protocol::upload::UploadOpenKey;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::SigningKey;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The server's secrets, all derived from its master secret. Each is zeroized when dropped
/// (the P-256 and X25519 keys by their own types) and none is printed by `Debug`.
pub struct AuthorityKeys {
    /// Signs certificates.
    certificate_key: SigningKey,
    /// Signs key files.
    file_signer: KeyFileSigner,
    /// Opens uploads.
    upload_key: UploadOpenKey,
    /// Keys the HMACs under which codes and tokens are stored.
    secret: Zeroizing<[u8; 32]>,
}

// Every field zeroizes itself when dropped.
impl zeroize::ZeroizeOnDrop for AuthorityKeys {}

impl std::fmt::Debug for AuthorityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityKeys")
            .field("certificate_key", &"<redacted>")
            .field("file_signer", &self.file_signer)
            .field("upload_key", &self.upload_key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// HMAC-SHA256 of `parts` under `key`.
pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Why the authority's keys could not be derived from its master secret (practically never:
/// each is a one-in-2^32-or-rarer event for a random secret).
#[derive(Debug, thiserror::Error)]
pub enum KeyDerivationError {
    /// No valid P-256 scalar came out of the derivation for this key.
    #[error("could not derive the {0} P-256 key")]
    Scalar(&'static str),
    /// The HPKE upload key could not be derived.
    #[error("could not derive the upload key: {0}")]
    Upload(String),
}

impl AuthorityKeys {
    /// All keys derived from one 32-byte master secret (kept in the server's secret store).
    ///
    /// # Errors
    /// [`KeyDerivationError`] if a derived key is invalid (practically never).
    pub fn derive(
        master: &[u8; 32],
        key_id: &str,
        key_version: &str,
    ) -> Result<Self, KeyDerivationError> {
        let derive = |label: &[u8]| Zeroizing::new(hmac_sha256(master, &[label]));
        let scalar =
            |label: &'static [u8], name: &'static str| -> Result<SigningKey, KeyDerivationError> {
                // Hash until the bytes are a valid P-256 scalar (all but negligibly often at once).
                let mut seed = derive(label);
                for _ in 0..8 {
                    if let Ok(key) = SigningKey::from_slice(seed.as_slice()) {
                        return Ok(key);
                    }
                    *seed = Sha256::digest(seed.as_slice()).into();
                }
                Err(KeyDerivationError::Scalar(name))
            };
        Ok(Self {
            certificate_key: scalar(b"bluezone/server/certificate", "certificate")?,
            file_signer: KeyFileSigner::new(
                key_id,
                key_version,
                scalar(b"bluezone/server/key-files", "key-file")?,
            ),
            upload_key: UploadOpenKey::derive(derive(b"bluezone/server/upload").as_slice())
                .map_err(|e| KeyDerivationError::Upload(e.to_string()))?,
            secret: derive(b"bluezone/server/code-mac"),
        })
    }

    /// The key certificates are signed with.
    #[must_use]
    pub const fn certificate_key(&self) -> &SigningKey {
        &self.certificate_key
    }

    /// The signer of key files.
    #[must_use]
    pub const fn file_signer(&self) -> &KeyFileSigner {
        &self.file_signer
    }

    /// The key uploads are opened with.
    #[must_use]
    pub const fn upload_key(&self) -> &UploadOpenKey {
        &self.upload_key
    }

    /// The HMAC under which a code or token (`purpose` tells which) is stored: the store
    /// never holds one in the clear.
    #[must_use]
    pub(crate) fn mac(&self, purpose: &[u8], value: &[u8]) -> [u8; 32] {
        hmac_sha256(self.secret.as_slice(), &[purpose, value])
    }
}
