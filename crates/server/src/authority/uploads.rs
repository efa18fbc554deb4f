//! The phones' sealed exchange ([`Authority::open_request`], [`Authority::seal_reply`]),
//! recognising chaff ([`Authority::answer_chaff`]: answered, then dropped) and accepting an
//! upload ([`Authority::publish`]): its checks passed, its keys are stored, those still in
//! use embargoed until two hours after they expire.

use base64ct::{Base64, Encoding};
use bluezone_protocol::exchange::ReplyKey;
use bluezone_protocol::exchange::{CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD};
use bluezone_protocol::messages::{ChaffRequest, ChaffResponse, PublishPayload, PublishResponse};
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::upload::accepted_tek_hmacs;
use zeroize::Zeroizing;

use super::error::json_problem;
use super::{Authority, AuthorityError};
use crate::store::{CaseClaims, StoredKey};

impl Authority {
    /// Opens a sealed request to one of the phone endpoints (see
    /// [`bluezone_protocol::exchange`]); returns its plaintext and the key for its reply.
    ///
    /// # Errors
    /// `body_too_large`, `unsealable`: answered in the clear, since there is no key to seal
    /// them with.
    pub fn open_request(
        &self,
        aad: &[u8],
        body: &[u8],
    ) -> Result<(Zeroizing<Vec<u8>>, ReplyKey), AuthorityError> {
        if body.len() > self.config.max_body_bytes {
            return Err(AuthorityError::too_large(self.config.max_body_bytes));
        }
        self.keys.upload_key().open_request(aad, body).map_err(|_| {
            AuthorityError::refused(
                RefusalCode::Unsealable,
                "the body does not open with the server's key",
            )
        })
    }

    /// Seals the reply to an opened request: `status` and `body`, padded to one size.
    ///
    /// # Errors
    /// Internal errors (a body too long to seal).
    pub fn seal_reply(
        &self,
        key: &ReplyKey,
        status: u16,
        body: &[u8],
    ) -> Result<Vec<u8>, AuthorityError> {
        let mut rng = self.rng.lock().map_err(AuthorityError::internal)?;
        key.seal_reply(status, body, &mut *rng)
            .map_err(AuthorityError::internal)
    }

    /// The answer to an opened request that is chaff (a [`ChaffRequest`], which no real
    /// request parses as), or `None` for a real request. Chaff spends no code, issues no
    /// token, stores no key and writes no audit row: it is answered (the caller seals the
    /// answer like any other, after the same reply floor) and forgotten. `aad` names the
    /// endpoint it came to.
    #[must_use]
    pub fn answer_chaff(&self, aad: &[u8], plaintext: &[u8]) -> Option<ChaffResponse> {
        let request: ChaffRequest = serde_json::from_slice(plaintext).ok()?;
        if !request.chaff {
            return None;
        }
        let endpoint = match aad {
            VERIFY_AAD => "verify",
            CERTIFICATE_AAD => "certificate",
            PUBLISH_AAD => "publish",
            _ => "other",
        };
        // Metrics hook: count chaff per endpoint here (never per client: who sends chaff is
        // exactly what it hides). Nothing else about it is kept.
        tracing::trace!(endpoint, "chaff answered");
        Some(ChaffResponse { chaff: true })
    }

    /// Accepts an upload (the opened plaintext of a sealed `/v1/publish`): checks
    /// certificate, HMAC and keys, stores it.
    ///
    /// # Errors
    /// `bad_request`, `certificate_invalid`, `certificate_expired`, `hmac_mismatch`,
    /// `no_keys`, `too_many_keys`, `invalid_key`, `future_key`, `key_too_old`,
    /// `duplicate_key`, `overlapping_keys`, or internal errors.
    pub fn publish(&self, plaintext: &[u8], now: i64) -> Result<PublishResponse, AuthorityError> {
        let payload: PublishPayload = serde_json::from_slice(plaintext).map_err(|e| {
            AuthorityError::refused(
                RefusalCode::BadRequest,
                &format!("malformed upload: {}", json_problem(&e)),
            )
        })?;
        let (certificate, claims) = self.check_certificate(&payload.certificate, now)?;
        let mismatch = |message| AuthorityError::refused(RefusalCode::HmacMismatch, message);
        let secret = Base64::decode_vec(&payload.hmac_key)
            .map(Zeroizing::new)
            .map_err(|_| mismatch("the HMAC key is not base64"))?;
        let keys = self.check_keys(&payload, now)?;
        let accepted = accepted_tek_hmacs(&secret, &keys);
        let matches = accepted.iter().fold(false, |found, h| {
            found | constant_time_eq(h, &claims.tek_hmac)
        });
        if !matches {
            return Err(mismatch(
                "the keys do not match the HMAC the certificate was issued for",
            ));
        }
        let now_interval = u64::try_from(now / 600).unwrap_or(0);
        let stored: Vec<StoredKey> = keys
            .iter()
            .map(|k| {
                let end = u64::from(k.rolling_start) + u64::from(k.rolling_period);
                // A key still in use is embargoed until two hours after it expires.
                let publish_after = if end > now_interval {
                    i64::try_from(end * 600).unwrap_or(i64::MAX) + 7200
                } else {
                    now
                };
                StoredKey {
                    key_data: k.key_data,
                    rolling_start: k.rolling_start,
                    rolling_period: k.rolling_period,
                    transmission_risk: k.transmission_risk,
                    publish_after,
                }
            })
            .collect();
        let case = CaseClaims {
            report_type: claims.report_type as u8,
            symptom_onset_interval: claims.symptom_onset_interval,
        };
        let inserted = self
            .store
            .insert_upload(&certificate.id(), case, &stored, now)
            .map_err(AuthorityError::internal)?;
        Ok(PublishResponse {
            inserted,
            padding: String::new(),
        })
    }
}

/// Whether two HMACs are equal, in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
