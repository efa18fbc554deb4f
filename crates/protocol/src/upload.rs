//! The cryptography of the F0 upload: what binds an official's code to the exact keys a
//! phone uploads, and what keeps the upload readable only by the health authority.
//!
//! - [`tek_hmac`]: HMAC-SHA256 over the canonical list of uploaded keys (GAEN verification
//!   protocol): the server's certificate is bound to it, so a certificate cannot be used to
//!   upload other keys.
//! - [`Certificate`]: the server's signed statement (ECDSA P-256) that an official code was
//!   redeemed, for which report type and onset, bound to one key HMAC, until when.
//! - [`UploadOpenKey`]: the server's HPKE key (RFC 9180 base mode, DHKEM(X25519,
//!   HKDF-SHA256), HKDF-SHA256, AES-128-GCM) that requests are sealed to; the sealed
//!   request-and-reply exchange itself is in [`crate::exchange`].
//! - [`VerificationCode`]: the 8-digit code a person types.

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::Sha256;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keyfile::ReportType;

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm128;

pub use crate::exchange::PUBLISH_AAD;

/// Length of the HPKE encapsulated key (an X25519 public key).
pub const ENCAPPED_KEY_LEN: usize = 32;

/// Errors of the upload cryptography.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UploadError {
    /// A sealed body that does not open: wrong key, altered, or truncated.
    #[error("the sealed upload does not open (altered, truncated or for another key)")]
    Unsealable,
    /// A code that is not 8 digits.
    #[error("a verification code is 8 digits")]
    InvalidCode,
    /// A certificate that is malformed.
    #[error("the certificate is malformed")]
    MalformedCertificate,
    /// A certificate whose signature does not verify.
    #[error("the certificate's signature does not verify")]
    BadCertificateSignature,
    /// A certificate used outside its validity.
    #[error("the certificate has expired or is not yet valid")]
    CertificateExpired,
    /// A key of the wrong length for this use.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
}

/// One key as uploaded (GAEN publish API `temporaryExposureKeys` entry). Not `Copy`: it is
/// zeroized when dropped, and its `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct UploadKey {
    /// The Temporary Exposure Key.
    pub key_data: [u8; 16],
    /// First interval it was used for.
    pub rolling_start: u32,
    /// Intervals it was used for (1..=144).
    pub rolling_period: u32,
    /// Transmission risk level, 0..=8 (0: not given).
    pub transmission_risk: u8,
}

impl std::fmt::Debug for UploadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadKey")
            .field("key_data", &"<redacted>")
            .field("rolling_start", &self.rolling_start)
            .field("rolling_period", &self.rolling_period)
            .field("transmission_risk", &self.transmission_risk)
            .finish()
    }
}

/// The cleartext the key HMAC covers: per key `base64(key).start.period.risk` (standard
/// base64 with padding, decimal numbers), sorted by the base64 text, joined with `,`. With
/// `include_risk` false the risk field is left out (the GAEN server's alternative form, valid
/// only when every risk is 0).
#[must_use]
pub fn tek_hmac_cleartext(keys: &[UploadKey], include_risk: bool) -> String {
    let mut segments: Vec<(String, String)> = keys
        .iter()
        .map(|k| {
            let b64 = Base64::encode_string(&k.key_data);
            let mut segment = format!("{b64}.{}.{}", k.rolling_start, k.rolling_period);
            if include_risk {
                segment.push_str(&format!(".{}", k.transmission_risk));
            }
            (b64, segment)
        })
        .collect();
    segments.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    segments
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Vec<_>>()
        .join(",")
}

/// HMAC-SHA256(secret, [`tek_hmac_cleartext`]) with the risk field included.
#[must_use]
pub fn tek_hmac(secret: &[u8], keys: &[UploadKey]) -> [u8; 32] {
    hmac_of(secret, &tek_hmac_cleartext(keys, true))
}

/// Every HMAC the server accepts for `keys`: the 4-field form, and the 3-field form when
/// every risk is 0 (GAEN servers accept both).
#[must_use]
pub fn accepted_tek_hmacs(secret: &[u8], keys: &[UploadKey]) -> Vec<[u8; 32]> {
    let mut out = vec![tek_hmac(secret, keys)];
    if keys.iter().all(|k| k.transmission_risk == 0) {
        out.push(hmac_of(secret, &tek_hmac_cleartext(keys, false)));
    }
    out
}

fn hmac_of(secret: &[u8], text: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().into()
}

/// HPKE base-mode single-shot seal in our suite with any `info` (the RFC 9180 test vectors
/// use their own): encapsulated key followed by ciphertext.
///
/// # Errors
/// [`UploadError::InvalidKey`] for a public key that is not an X25519 key.
pub fn hpke_seal(
    server_public_key: &[u8; 32],
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
) -> Result<Vec<u8>, UploadError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(server_public_key)
        .map_err(|_| UploadError::InvalidKey("not an X25519 public key"))?;
    let mut rng = RngRef(rng);
    let (encapped, ciphertext) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        &mut rng,
    )
    .map_err(|_| UploadError::InvalidKey("sealing failed"))?;
    let mut out = encapped.to_bytes().to_vec();
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Adapts any `CryptoRng` reference to the sized type hpke takes.
pub(crate) struct RngRef<'a, R: rand_core::CryptoRng + ?Sized>(pub(crate) &'a mut R);

impl<R: rand_core::CryptoRng + ?Sized> rand_core::TryRng for RngRef<'_, R> {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.0.next_u32())
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.0.next_u64())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}

impl<R: rand_core::CryptoRng + ?Sized> rand_core::TryCryptoRng for RngRef<'_, R> {}

/// The server's HPKE private key for uploads.
pub struct UploadOpenKey {
    sk: <Kem as hpke::Kem>::PrivateKey,
    pk: [u8; 32],
}

impl std::fmt::Debug for UploadOpenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadOpenKey(<redacted>)")
    }
}

impl UploadOpenKey {
    /// Derives the key pair from 32 or more bytes of secret key material (RFC 9180
    /// `DeriveKeyPair`); the server keeps the seed in its secret store.
    ///
    /// # Errors
    /// [`UploadError::InvalidKey`] for fewer than 32 bytes.
    pub fn derive(ikm: &[u8]) -> Result<Self, UploadError> {
        if ikm.len() < 32 {
            return Err(UploadError::InvalidKey(
                "HPKE key material is at least 32 bytes",
            ));
        }
        let (sk, pk) = <Kem as hpke::Kem>::derive_keypair(ikm);
        let mut public = [0u8; 32];
        public.copy_from_slice(&pk.to_bytes());
        Ok(Self { sk, pk: public })
    }

    /// The public key phones seal to.
    #[must_use]
    pub const fn public_key(&self) -> [u8; 32] {
        self.pk
    }

    pub(crate) fn private_key(&self) -> &<Kem as hpke::Kem>::PrivateKey {
        &self.sk
    }

    /// Opens a body made by [`hpke_seal`] with the same `info` and `aad`.
    ///
    /// # Errors
    /// [`UploadError::Unsealable`] for anything that does not open.
    pub fn open_with_info(
        &self,
        info: &[u8],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, UploadError> {
        if sealed.len() < ENCAPPED_KEY_LEN {
            return Err(UploadError::Unsealable);
        }
        let (enc, ciphertext) = sealed.split_at(ENCAPPED_KEY_LEN);
        let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc)
            .map_err(|_| UploadError::Unsealable)?;
        hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &self.sk,
            &encapped,
            info,
            ciphertext,
            aad,
        )
        .map(Zeroizing::new)
        .map_err(|_| UploadError::Unsealable)
    }
}

/// The code an official gives a person who tested positive: 8 digits. Zeroized when dropped.
#[derive(Clone, PartialEq, Eq, Hash, Zeroize, ZeroizeOnDrop)]
pub struct VerificationCode(String);

impl VerificationCode {
    /// Reads a code as typed: spaces and dashes are ignored; 8 ASCII digits must remain.
    ///
    /// # Errors
    /// [`UploadError::InvalidCode`].
    pub fn parse(text: &str) -> Result<Self, UploadError> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(UploadError::InvalidCode)
        }
    }

    /// The 8 digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationCode(<redacted>)")
    }
}

/// What a certificate states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateClaims {
    /// How the positive result was established.
    pub report_type: ReportType,
    /// Interval of the UTC midnight of symptom onset, if known.
    pub symptom_onset_interval: Option<u32>,
    /// The key HMAC the upload must match.
    pub tek_hmac: [u8; 32],
    /// Unix time (seconds) of issue.
    pub issued_at: i64,
    /// Unix time (seconds) after which it is refused.
    pub expires_at: i64,
}

const CERT_VERSION: u8 = 1;
const CLAIMS_LEN: usize = 1 + 1 + 5 + 32 + 8 + 8;

impl CertificateClaims {
    fn to_bytes(self) -> [u8; CLAIMS_LEN] {
        let mut out = [0u8; CLAIMS_LEN];
        out[0] = CERT_VERSION;
        out[1] = self.report_type as u8;
        if let Some(onset) = self.symptom_onset_interval {
            out[2] = 1;
            out[3..7].copy_from_slice(&onset.to_le_bytes());
        }
        out[7..39].copy_from_slice(&self.tek_hmac);
        out[39..47].copy_from_slice(&self.issued_at.to_le_bytes());
        out[47..55].copy_from_slice(&self.expires_at.to_le_bytes());
        out
    }

    fn from_bytes(b: &[u8]) -> Result<Self, UploadError> {
        let e = UploadError::MalformedCertificate;
        if b.len() != CLAIMS_LEN || b[0] != CERT_VERSION || b[2] > 1 {
            return Err(e);
        }
        let report_type = ReportType::from_i32(i32::from(b[1])).ok_or(e.clone())?;
        let onset = u32::from_le_bytes(b[3..7].try_into().map_err(|_| e.clone())?);
        Ok(Self {
            report_type,
            symptom_onset_interval: (b[2] == 1).then_some(onset),
            tek_hmac: b[7..39].try_into().map_err(|_| e.clone())?,
            issued_at: i64::from_le_bytes(b[39..47].try_into().map_err(|_| e.clone())?),
            expires_at: i64::from_le_bytes(b[47..55].try_into().map_err(|_| e)?),
        })
    }
}

/// A server-signed certificate: the claims and an ECDSA P-256/SHA-256 signature over them.
/// The phone treats it as opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate(pub Vec<u8>);

impl Certificate {
    /// Signs claims (deterministic ECDSA, RFC 6979), with the signature in low-S form.
    #[must_use]
    pub fn issue(claims: &CertificateClaims, key: &SigningKey) -> Self {
        let body = claims.to_bytes();
        let signature: Signature = key.sign(&body);
        let signature = signature.normalize_s();
        let mut out = body.to_vec();
        out.extend_from_slice(&signature.to_bytes());
        Self(out)
    }

    /// Checks the signature and the validity at `now`; returns the claims. Only the low-S
    /// form of a signature is accepted: ECDSA also verifies `(r, n - s)`, and a second
    /// encoding of one certificate must not pass as a second certificate.
    ///
    /// # Errors
    /// [`UploadError::MalformedCertificate`], [`UploadError::BadCertificateSignature`] or
    /// [`UploadError::CertificateExpired`].
    pub fn verify(&self, key: &VerifyingKey, now: i64) -> Result<CertificateClaims, UploadError> {
        if self.0.len() != CLAIMS_LEN + 64 {
            return Err(UploadError::MalformedCertificate);
        }
        let (body, sig) = self.0.split_at(CLAIMS_LEN);
        let signature =
            Signature::from_slice(sig).map_err(|_| UploadError::BadCertificateSignature)?;
        if signature.normalize_s() != signature {
            return Err(UploadError::BadCertificateSignature);
        }
        key.verify(body, &signature)
            .map_err(|_| UploadError::BadCertificateSignature)?;
        let claims = CertificateClaims::from_bytes(body)?;
        // Five seconds of clock skew, as the GAEN verification server allows.
        if now + 5 < claims.issued_at || now > claims.expires_at {
            return Err(UploadError::CertificateExpired);
        }
        Ok(claims)
    }

    /// What identifies a certificate: the SHA-256 of its signed claims, whatever the
    /// signature's encoding. The server accepts one upload per identity.
    #[must_use]
    pub fn id(&self) -> [u8; 32] {
        use sha2::Digest;
        let claims = self.0.get(..CLAIMS_LEN).unwrap_or(&self.0);
        sha2::Sha256::new()
            .chain_update(b"bluezone/certificate-id/v1")
            .chain_update(claims)
            .finalize()
            .into()
    }
}

#[cfg(test)]
mod tests;
