//! The sealed exchange between a phone and the health authority: every request that carries
//! a secret (`/v1/verify`, `/v1/certificate`, `/v1/publish`) is sealed with HPKE to the
//! server's pinned key, and its reply is sealed back under a key only the two ends can
//! derive, in the manner of Oblivious HTTP (RFC 9458 §4.4).
//!
//! A TLS-terminating proxy or CDN in front of the server therefore sees, for each of these
//! calls, only the endpoint, the time, the client's address and two constant sizes: not the
//! code (so it cannot redeem an intercepted code itself), not the token, the report type,
//! the onset date, the certificate, the keys, how many were accepted, nor even whether the
//! server accepted or refused, because every sealed reply is HTTP 200 carrying the real
//! status inside, padded to one size.
//!
//! - Request: `enc || HPKE-Seal(pk_server, info = "bluezone/request/v1", aad = endpoint)`
//!   (base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM).
//! - Reply key: `secret = Export("bluezone/reply/v1", 32)` of that HPKE context; for each
//!   reply a random 16-byte `reply_nonce`; `prk = HKDF-Extract(enc || reply_nonce, secret)`,
//!   `key = Expand(prk, "key", 32)`, `nonce = Expand(prk, "nonce", 12)`.
//! - Reply: `reply_nonce || AES-256-GCM(key, nonce, aad = "bluezone/reply/v1", plaintext)`
//!   where the plaintext is `status (u16 BE) || body length (u32 BE) || body || zeros`, always
//!   [`REPLY_BYTES`] long. A fresh nonce per reply keeps two answers to one replayed request
//!   from sharing a key stream.

use aes_gcm::aead::{Aead as _, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::upload::{ENCAPPED_KEY_LEN, UploadError, UploadOpenKey};

type Kem = hpke::kem::X25519HkdfSha256;
type Kdf = hpke::kdf::HkdfSha256;
type Aead = hpke::aead::AesGcm128;

/// HPKE `info` of every sealed request.
pub const REQUEST_INFO: &[u8] = b"bluezone/request/v1";
/// Associated data of a sealed `POST /v1/verify`.
pub const VERIFY_AAD: &[u8] = b"bluezone/verify/v1";
/// Associated data of a sealed `POST /v1/certificate`.
pub const CERTIFICATE_AAD: &[u8] = b"bluezone/certificate/v1";
/// Associated data of a sealed `POST /v1/publish`.
pub const PUBLISH_AAD: &[u8] = b"bluezone/publish/v1";
/// Size of every reply's plaintext: status, length, body and zero padding.
pub const REPLY_BYTES: usize = 1024;
/// Largest reply body that fits.
pub const MAX_REPLY_BODY: usize = REPLY_BYTES - 6;
/// Size of every sealed reply on the wire.
pub const SEALED_REPLY_BYTES: usize = REPLY_NONCE_LEN + REPLY_BYTES + 16;

const REPLY_EXPORT: &[u8] = b"bluezone/reply/v1";
const REPLY_AAD: &[u8] = b"bluezone/reply/v1";
const REPLY_NONCE_LEN: usize = 16;

/// The key both ends derive from one sealed request, to seal and open its reply.
pub struct ReplyKey {
    secret: Zeroizing<[u8; 32]>,
    enc: [u8; ENCAPPED_KEY_LEN],
}

impl std::fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplyKey(<redacted>)")
    }
}

/// Seals a request body to the server's public key; returns the body to send and the key
/// its reply will be sealed under.
///
/// # Errors
/// [`UploadError::InvalidKey`] for a public key that is not an X25519 key.
pub fn seal_request(
    server_public_key: &[u8; 32],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
) -> Result<(Vec<u8>, ReplyKey), UploadError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(server_public_key)
        .map_err(|_| UploadError::InvalidKey("not an X25519 public key"))?;
    let (encapped, mut context) = hpke::setup_sender_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        REQUEST_INFO,
        &mut crate::upload::RngRef(rng),
    )
    .map_err(|_| UploadError::InvalidKey("sealing failed"))?;
    let ciphertext = context
        .seal(plaintext, aad)
        .map_err(|_| UploadError::InvalidKey("sealing failed"))?;
    let mut secret = Zeroizing::new([0u8; 32]);
    context
        .export(REPLY_EXPORT, secret.as_mut_slice())
        .map_err(|_| UploadError::InvalidKey("sealing failed"))?;
    let mut enc = [0u8; ENCAPPED_KEY_LEN];
    enc.copy_from_slice(&encapped.to_bytes());
    let mut body = enc.to_vec();
    body.extend_from_slice(&ciphertext);
    Ok((body, ReplyKey { secret, enc }))
}

impl UploadOpenKey {
    /// Opens a request made by [`seal_request`] with the same `aad`; returns its plaintext
    /// and the key to seal the reply with.
    ///
    /// # Errors
    /// [`UploadError::Unsealable`] for anything that does not open.
    pub fn open_request(
        &self,
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, ReplyKey), UploadError> {
        let (enc, ciphertext) = sealed
            .split_at_checked(ENCAPPED_KEY_LEN)
            .ok_or(UploadError::Unsealable)?;
        let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(enc)
            .map_err(|_| UploadError::Unsealable)?;
        let mut context = hpke::setup_receiver::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            self.private_key(),
            &encapped,
            REQUEST_INFO,
        )
        .map_err(|_| UploadError::Unsealable)?;
        let plaintext = Zeroizing::new(
            context
                .open(ciphertext, aad)
                .map_err(|_| UploadError::Unsealable)?,
        );
        let mut secret = Zeroizing::new([0u8; 32]);
        context
            .export(REPLY_EXPORT, secret.as_mut_slice())
            .map_err(|_| UploadError::Unsealable)?;
        let mut enc_bytes = [0u8; ENCAPPED_KEY_LEN];
        enc_bytes.copy_from_slice(enc);
        Ok((
            plaintext,
            ReplyKey {
                secret,
                enc: enc_bytes,
            },
        ))
    }
}

impl ReplyKey {
    fn cipher(&self, reply_nonce: &[u8; REPLY_NONCE_LEN]) -> (Aes256Gcm, [u8; 12]) {
        let mut salt = [0u8; ENCAPPED_KEY_LEN + REPLY_NONCE_LEN];
        salt[..ENCAPPED_KEY_LEN].copy_from_slice(&self.enc);
        salt[ENCAPPED_KEY_LEN..].copy_from_slice(reply_nonce);
        let hkdf = Hkdf::<Sha256>::new(Some(&salt), self.secret.as_slice());
        let mut key = Zeroizing::new([0u8; 32]);
        let mut nonce = [0u8; 12];
        // Both lengths are far below HKDF-SHA256's limit of 8,160 bytes.
        let _ = hkdf.expand(b"key", key.as_mut_slice());
        let _ = hkdf.expand(b"nonce", &mut nonce);
        (Aes256Gcm::new((&*key).into()), nonce)
    }

    /// Seals a reply: `status` and `body`, padded to [`REPLY_BYTES`].
    ///
    /// # Errors
    /// [`UploadError::InvalidKey`] when the body is longer than [`MAX_REPLY_BODY`].
    pub fn seal_reply(
        &self,
        status: u16,
        body: &[u8],
        rng: &mut (impl rand_core::CryptoRng + ?Sized),
    ) -> Result<Vec<u8>, UploadError> {
        if body.len() > MAX_REPLY_BODY {
            return Err(UploadError::InvalidKey("reply body too long to seal"));
        }
        let mut plaintext = Zeroizing::new(vec![0u8; REPLY_BYTES]);
        plaintext[..2].copy_from_slice(&status.to_be_bytes());
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        plaintext[2..6].copy_from_slice(&len.to_be_bytes());
        plaintext[6..6 + body.len()].copy_from_slice(body);
        let mut reply_nonce = [0u8; REPLY_NONCE_LEN];
        rng.fill_bytes(&mut reply_nonce);
        let (cipher, nonce) = self.cipher(&reply_nonce);
        let ciphertext = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &plaintext,
                    aad: REPLY_AAD,
                },
            )
            .map_err(|_| UploadError::InvalidKey("sealing failed"))?;
        let mut out = Vec::with_capacity(SEALED_REPLY_BYTES);
        out.extend_from_slice(&reply_nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens a reply sealed with [`ReplyKey::seal_reply`]: its status and body.
    ///
    /// # Errors
    /// [`UploadError::Unsealable`] for a reply that is not authentic or not well formed.
    pub fn open_reply(&self, sealed: &[u8]) -> Result<(u16, Zeroizing<Vec<u8>>), UploadError> {
        if sealed.len() != SEALED_REPLY_BYTES {
            return Err(UploadError::Unsealable);
        }
        let (reply_nonce, ciphertext) = sealed.split_at(REPLY_NONCE_LEN);
        let reply_nonce: [u8; REPLY_NONCE_LEN] = reply_nonce
            .try_into()
            .map_err(|_| UploadError::Unsealable)?;
        let (cipher, nonce) = self.cipher(&reply_nonce);
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: ciphertext,
                        aad: REPLY_AAD,
                    },
                )
                .map_err(|_| UploadError::Unsealable)?,
        );
        let status = u16::from_be_bytes([plaintext[0], plaintext[1]]);
        let len = u32::from_be_bytes([plaintext[2], plaintext[3], plaintext[4], plaintext[5]]);
        let len = usize::try_from(len).map_err(|_| UploadError::Unsealable)?;
        let body = plaintext
            .get(6..6 + len.min(MAX_REPLY_BODY + 1))
            .filter(|b| b.len() == len)
            .ok_or(UploadError::Unsealable)?;
        Ok((status, Zeroizing::new(body.to_vec())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use rand::SeedableRng;

    use super::*;

    fn server() -> UploadOpenKey {
        UploadOpenKey::derive(&[3; 32]).unwrap()
    }

    #[test]
    fn a_request_and_its_reply_open_only_at_the_other_end() {
        let server = server();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (body, phone_key) =
            seal_request(&server.public_key(), VERIFY_AAD, b"{\"code\":1}", &mut rng).unwrap();
        let (plaintext, server_key) = server.open_request(VERIFY_AAD, &body).unwrap();
        assert_eq!(plaintext.as_slice(), b"{\"code\":1}");
        // Another endpoint's associated data does not open it.
        assert!(server.open_request(CERTIFICATE_AAD, &body).is_err());

        let ok = server_key
            .seal_reply(200, b"{\"token\":\"t\"}", &mut rng)
            .unwrap();
        let refused = server_key
            .seal_reply(
                400,
                b"{\"code\":\"code_used\",\"message\":\"the code was already used\"}",
                &mut rng,
            )
            .unwrap();
        assert_eq!(ok.len(), SEALED_REPLY_BYTES);
        assert_eq!(refused.len(), ok.len(), "success and refusal look alike");
        let (status, reply) = phone_key.open_reply(&ok).unwrap();
        assert_eq!((status, reply.as_slice()), (200, &b"{\"token\":\"t\"}"[..]));
        assert_eq!(phone_key.open_reply(&refused).unwrap().0, 400);

        // Any changed byte is refused; a reply for another request does not open.
        for i in [0, 16, 100, ok.len() - 1] {
            let mut bad = ok.clone();
            bad[i] ^= 1;
            assert!(phone_key.open_reply(&bad).is_err(), "byte {i}");
        }
        let (_, other_key) =
            seal_request(&server.public_key(), VERIFY_AAD, b"x", &mut rng).unwrap();
        assert!(other_key.open_reply(&ok).is_err());
        assert!(phone_key.open_reply(&ok[..ok.len() - 1]).is_err());
    }

    #[test]
    fn bodies_too_long_are_refused_and_garbage_does_not_open() {
        let server = server();
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        let (body, key) = seal_request(&server.public_key(), PUBLISH_AAD, b"x", &mut rng).unwrap();
        assert!(
            key.seal_reply(200, &[b'a'; MAX_REPLY_BODY], &mut rng)
                .is_ok()
        );
        assert!(
            key.seal_reply(200, &[b'a'; MAX_REPLY_BODY + 1], &mut rng)
                .is_err()
        );
        for garbage in [&[][..], &[0u8; 31][..], &[0u8; 32][..], &body[..40]] {
            assert!(server.open_request(PUBLISH_AAD, garbage).is_err());
        }
    }

    #[test]
    fn two_replies_to_one_request_use_different_key_streams() {
        let server = server();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let (body, _) = seal_request(&server.public_key(), VERIFY_AAD, b"x", &mut rng).unwrap();
        // A replayed request: the server derives the same reply key twice.
        let (_, first) = server.open_request(VERIFY_AAD, &body).unwrap();
        let (_, second) = server.open_request(VERIFY_AAD, &body).unwrap();
        let a = first.seal_reply(200, b"same", &mut rng).unwrap();
        let b = second.seal_reply(200, b"same", &mut rng).unwrap();
        assert_ne!(a[16..], b[16..]);
    }
}
