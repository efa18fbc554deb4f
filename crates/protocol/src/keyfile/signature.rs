//! Signatures over `export.bin`: ECDSA P-256 with SHA-256, DER-encoded, in a
//! `TEKSignatureList`. Verification picks the signatures made by configured trusted keys
//! (matched by key id and version); each of those must verify, and at least one must exist.

use p256::ecdsa::signature::Signer;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use prost::Message;

use super::proto::{SignatureInfo, TekSignature, TekSignatureList};
use super::{ECDSA_SHA256_OID, KeyFileError};

/// A public key the app trusts to sign key files, with the id and version files name it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// `verification_key_id` (Apple asks for the mobile country code, e.g. "452" for Vietnam).
    pub key_id: String,
    /// `verification_key_version`, e.g. "v1".
    pub version: String,
    /// The P-256 public key.
    pub key: VerifyingKey,
}

impl TrustedKey {
    /// From a DER SubjectPublicKeyInfo.
    ///
    /// # Errors
    /// A message when the bytes are not a P-256 public key.
    pub fn from_spki_der(key_id: &str, version: &str, der: &[u8]) -> Result<Self, String> {
        let key = VerifyingKey::from_public_key_der(der)
            .map_err(|e| format!("not a P-256 public key: {e}"))?;
        Ok(Self {
            key_id: key_id.to_owned(),
            version: version.to_owned(),
            key,
        })
    }

    /// From a PEM `PUBLIC KEY` block or a base64 SubjectPublicKeyInfo (as GAEN configs give it).
    ///
    /// # Errors
    /// A message when the text is neither.
    pub fn from_text(key_id: &str, version: &str, text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            let key = VerifyingKey::from_public_key_pem(text)
                .map_err(|e| format!("not a P-256 public key in PEM: {e}"))?;
            return Ok(Self {
                key_id: key_id.to_owned(),
                version: version.to_owned(),
                key,
            });
        }
        let der = <base64ct::Base64 as base64ct::Encoding>::decode_vec(text)
            .map_err(|_| "neither PEM nor base64 SubjectPublicKeyInfo".to_owned())?;
        Self::from_spki_der(key_id, version, &der)
    }

    fn name(&self) -> String {
        format!("{}-{}", self.key_id, self.version)
    }
}

/// The set of keys trusted to sign key files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedKeys(pub Vec<TrustedKey>);

impl TrustedKeys {
    /// A set of one key.
    #[must_use]
    pub fn single(key: TrustedKey) -> Self {
        Self(vec![key])
    }

    fn find(&self, info: &SignatureInfo) -> Option<&TrustedKey> {
        let id = info.verification_key_id.as_deref()?;
        let version = info.verification_key_version.as_deref().unwrap_or("");
        self.0
            .iter()
            .find(|k| k.key_id == id && k.version == version)
    }
}

/// A signature that verified: its signer's name and the batch it claims.
pub(super) struct Verified {
    pub(super) signer: String,
    pub(super) batch_num: i32,
    pub(super) batch_size: i32,
}

/// Verifies `export.bin`, given as its SHA-256 digest, against `export.sig`.
pub(super) fn verify(
    export_sha256: &[u8; 32],
    sig: &[u8],
    trusted: &TrustedKeys,
) -> Result<Verified, KeyFileError> {
    let list = TekSignatureList::decode(sig)
        .map_err(|e| KeyFileError::MalformedSignatureList(e.to_string()))?;
    if list.signatures.is_empty() {
        return Err(KeyFileError::NoSignature);
    }
    let mut verified = None;
    let mut unknown = Vec::new();
    for signature in &list.signatures {
        let info = signature.signature_info.clone().unwrap_or_default();
        let algorithm = info.signature_algorithm.as_deref().unwrap_or("");
        if algorithm != ECDSA_SHA256_OID {
            return Err(KeyFileError::UnsupportedAlgorithm(
                algorithm.chars().take(64).collect(),
            ));
        }
        let Some(key) = trusted.find(&info) else {
            unknown.push(format!(
                "{}-{}",
                info.verification_key_id.as_deref().unwrap_or("?"),
                info.verification_key_version.as_deref().unwrap_or("?")
            ));
            continue;
        };
        let der = signature.signature.as_deref().unwrap_or_default();
        let ok = Signature::from_der(der)
            .map(|s| key.key.verify_prehash(export_sha256, &s).is_ok())
            .unwrap_or(false);
        if !ok {
            return Err(KeyFileError::BadSignature(key.name()));
        }
        verified.get_or_insert_with(|| Verified {
            signer: key.name(),
            batch_num: signature.batch_num.unwrap_or(1),
            batch_size: signature.batch_size.unwrap_or(1),
        });
    }
    verified.ok_or_else(|| {
        let mut names: Vec<String> = unknown.into_iter().take(4).collect();
        names.iter_mut().for_each(|n| n.truncate(64));
        KeyFileError::UnknownSigner(names.join(", "))
    })
}

/// A health authority's signing key, for the server and tests.
pub struct KeyFileSigner {
    /// `verification_key_id` written into files.
    pub key_id: String,
    /// `verification_key_version` written into files.
    pub version: String,
    /// The private key (never printed; zeroized on drop by `p256`).
    key: SigningKey,
}

impl std::fmt::Debug for KeyFileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyFileSigner({}-{}, <redacted>)",
            self.key_id, self.version
        )
    }
}

impl KeyFileSigner {
    /// A signer writing `key_id` and `version` into the files it signs with `key`.
    #[must_use]
    pub fn new(key_id: impl Into<String>, version: impl Into<String>, key: SigningKey) -> Self {
        Self {
            key_id: key_id.into(),
            version: version.into(),
            key,
        }
    }

    /// The public half of the key, to publish for the apps.
    #[must_use]
    pub fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.key.verifying_key()
    }

    /// The matching trusted key, for the apps' configuration.
    #[must_use]
    pub fn trusted_key(&self) -> TrustedKey {
        TrustedKey {
            key_id: self.key_id.clone(),
            version: self.version.clone(),
            key: *self.key.verifying_key(),
        }
    }

    pub(super) fn signature_info(&self) -> SignatureInfo {
        SignatureInfo {
            verification_key_version: Some(self.version.clone()),
            verification_key_id: Some(self.key_id.clone()),
            signature_algorithm: Some(ECDSA_SHA256_OID.to_owned()),
        }
    }

    /// `export.sig` for `export` (deterministic ECDSA, RFC 6979): a `TEKSignatureList` with
    /// one signature naming this signer and the batch. [`crate::keyfile::write_key_file`]
    /// uses it; tests use it to sign an `export.bin` they built by hand.
    #[must_use]
    pub fn signature_list(&self, export: &[u8], batch_num: i32, batch_size: i32) -> Vec<u8> {
        let signature: Signature = self.key.sign(export);
        let der: DerSignature = signature.to_der();
        TekSignatureList {
            signatures: vec![TekSignature {
                signature_info: Some(self.signature_info()),
                batch_num: Some(batch_num),
                batch_size: Some(batch_size),
                signature: Some(der.as_bytes().to_vec()),
            }],
        }
        .encode_to_vec()
    }
}
