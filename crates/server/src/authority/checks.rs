//! The checks of the upload chain: a code for a token ([`Authority::verify`], limited per
//! client), a token and key HMAC for a certificate ([`Authority::certificate`]), and, for a
//! publish, its certificate and its keys.

use base64ct::{Base64, Encoding};
use bluezone_protocol::RollingPeriod;
use bluezone_protocol::keyfile::ReportType;
use bluezone_protocol::messages::{CertificateResponse, PublishPayload, VerifyResponse};
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::upload::{
    Certificate, CertificateClaims, UploadError, UploadKey, VerificationCode,
};

use super::{Authority, AuthorityError};
use crate::store::{Redeem, TokenUse};

/// A refusal of the request, with its code.
fn refused(code: RefusalCode, message: &str) -> AuthorityError {
    AuthorityError::refused(code, message)
}

impl Authority {
    /// Exchanges a code for a token.
    ///
    /// # Errors
    /// `too_many_attempts`, `code_invalid`, `code_expired`, `code_used`, or internal errors.
    pub fn verify(
        &self,
        client: &str,
        code: &str,
        now: i64,
    ) -> Result<VerifyResponse, AuthorityError> {
        // Checked and counted in one step: concurrent guesses cannot pass the limit together.
        let attempt = self.code_attempt(client, now)?;
        let Ok(code) = VerificationCode::parse(code) else {
            attempt.fail();
            return Err(refused(RefusalCode::CodeInvalid, "a code is 8 digits"));
        };
        // A failure of our own (storage) is not the client's: it does not count.
        let redeemed = self.random_bytes().and_then(|token: [u8; 32]| {
            self.store
                .redeem_code(
                    &self.keys.mac(b"code:", code.as_str().as_bytes()),
                    &self.keys.mac(b"token:", &token),
                    now + self.config.token_validity_secs,
                    now,
                )
                .map(|outcome| (token, outcome))
                .map_err(AuthorityError::internal)
        });
        let (token, outcome) = match redeemed {
            Ok(done) => done,
            Err(error) => {
                attempt.refund();
                return Err(error);
            }
        };
        let refusal = match outcome {
            Redeem::Ok(claims) => {
                attempt.refund();
                return Ok(VerifyResponse {
                    token: Base64::encode_string(&token),
                    report_type: claims.report_type,
                    symptom_onset_interval: claims.symptom_onset_interval,
                    padding: String::new(),
                });
            }
            Redeem::Expired => refused(RefusalCode::CodeExpired, "the code has expired"),
            Redeem::Used => refused(RefusalCode::CodeUsed, "the code was already used"),
            Redeem::NotFound | Redeem::Revoked => {
                refused(RefusalCode::CodeInvalid, "the code is not valid")
            }
        };
        attempt.fail();
        Err(refusal)
    }

    /// Exchanges a token and the key HMAC for a certificate; the same token and HMAC again,
    /// within the certificate's validity, get the same certificate.
    ///
    /// # Errors
    /// `hmac_invalid`, `token_invalid`, `token_expired`, or internal errors.
    pub fn certificate(
        &self,
        token: &str,
        ekeyhmac: &str,
        now: i64,
    ) -> Result<CertificateResponse, AuthorityError> {
        let tek_hmac: [u8; 32] = Base64::decode_vec(ekeyhmac)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| {
                refused(
                    RefusalCode::HmacInvalid,
                    "the key HMAC is 32 bytes of base64",
                )
            })?;
        let token = Base64::decode_vec(token)
            .map_err(|_| refused(RefusalCode::TokenInvalid, "the token is not valid"))?;
        // A repeat of the same request (same token, same HMAC) while the first certificate
        // is valid gets that certificate again: a phone whose answer was lost can go on.
        let (claims, issued_at) = match self
            .store
            .take_token(
                &self.keys.mac(b"token:", &token),
                &tek_hmac,
                now,
                self.config.certificate_validity_secs,
            )
            .map_err(AuthorityError::internal)?
        {
            TokenUse::Certify { claims, issued_at } => (claims, issued_at),
            TokenUse::Refused(Redeem::Expired) => {
                return Err(refused(RefusalCode::TokenExpired, "the token has expired"));
            }
            TokenUse::Refused(_) => {
                return Err(refused(RefusalCode::TokenInvalid, "the token is not valid"));
            }
        };
        // Deterministic ECDSA: the same claims give the same certificate, byte for byte.
        let certificate = Certificate::issue(
            &CertificateClaims {
                report_type: ReportType::from_i32(i32::from(claims.report_type)).ok_or_else(
                    || AuthorityError::internal("a stored case has an unknown report type"),
                )?,
                symptom_onset_interval: claims.symptom_onset_interval,
                tek_hmac,
                issued_at,
                expires_at: issued_at + self.config.certificate_validity_secs,
            },
            self.keys.certificate_key(),
        );
        Ok(CertificateResponse {
            certificate: Base64::encode_string(&certificate.0),
            padding: String::new(),
        })
    }

    /// A publish's certificate, checked: signed by this server and valid at `now`.
    pub(super) fn check_certificate(
        &self,
        certificate: &str,
        now: i64,
    ) -> Result<(Certificate, CertificateClaims), AuthorityError> {
        let certificate = Base64::decode_vec(certificate)
            .map(Certificate)
            .map_err(|_| {
                refused(
                    RefusalCode::CertificateInvalid,
                    "the certificate is not base64",
                )
            })?;
        let claims = certificate
            .verify(&self.certificate_public_key(), now)
            .map_err(|e| match e {
                UploadError::CertificateExpired => refused(
                    RefusalCode::CertificateExpired,
                    "the certificate has expired",
                ),
                _ => refused(
                    RefusalCode::CertificateInvalid,
                    "the certificate is not valid",
                ),
            })?;
        Ok((certificate, claims))
    }

    /// A publish's keys, checked: at least one, at most
    /// [`super::AuthorityConfig::max_keys_per_upload`], each well formed, none in the future
    /// or expired more than 15 days ago, none twice, none overlapping another in time.
    pub(super) fn check_keys(
        &self,
        payload: &PublishPayload,
        now: i64,
    ) -> Result<Vec<UploadKey>, AuthorityError> {
        if payload.keys.is_empty() {
            return Err(refused(
                RefusalCode::NoKeys,
                "an upload holds at least one key",
            ));
        }
        if payload.keys.len() > self.config.max_keys_per_upload {
            return Err(refused(
                RefusalCode::TooManyKeys,
                "too many keys in one upload",
            ));
        }
        let now_interval = u32::try_from(now / 600).unwrap_or(u32::MAX);
        let oldest = now_interval.saturating_sub(15 * 144);
        let mut keys = Vec::with_capacity(payload.keys.len());
        for k in &payload.keys {
            let invalid = |m: &str| refused(RefusalCode::InvalidKey, m);
            let key_data: [u8; 16] = Base64::decode_vec(&k.key)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| invalid("a key is 16 bytes of base64"))?;
            if RollingPeriod::new(k.rolling_period).is_err() {
                return Err(invalid("a rolling period is 1 to 144"));
            }
            if k.transmission_risk > 8 {
                return Err(invalid("a transmission risk is 0 to 8"));
            }
            if k.rolling_start_number > now_interval {
                return Err(refused(
                    RefusalCode::FutureKey,
                    "a key starts in the future",
                ));
            }
            if k.rolling_start_number + k.rolling_period < oldest {
                return Err(refused(
                    RefusalCode::KeyTooOld,
                    "a key expired more than 15 days ago",
                ));
            }
            keys.push(UploadKey {
                key_data,
                rolling_start: k.rolling_start_number,
                rolling_period: k.rolling_period,
                transmission_risk: k.transmission_risk,
            });
        }
        let mut seen = std::collections::HashSet::new();
        if !keys.iter().all(|k| seen.insert(k.key_data)) {
            return Err(refused(RefusalCode::DuplicateKey, "a key appears twice"));
        }
        let mut by_start = keys.clone();
        by_start.sort_by_key(|k| k.rolling_start);
        for pair in by_start.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.rolling_start != b.rolling_start
                && a.rolling_start + a.rolling_period > b.rolling_start
            {
                return Err(refused(
                    RefusalCode::OverlappingKeys,
                    "keys overlap in time",
                ));
            }
        }
        Ok(keys)
    }
}
