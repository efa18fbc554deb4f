//! The F0 upload, phone side: the only way keys ever leave the phone.
//!
//! 1. [`crate::Tracer::verify_code`]: the code an official gave the person is exchanged for a
//!    token (`POST /v1/verify`).
//! 2. [`crate::Tracer::upload_keys`], only with an [`UploadConsent`] the person gave moments
//!    ago: today's key is released early and replaced; the keys of the last 14 days get an
//!    HMAC under a fresh random secret; the token and HMAC buy a certificate
//!    (`POST /v1/certificate`); keys, secret and certificate are sealed with HPKE to the
//!    server's pinned key, padded to a constant size, and sent (`POST /v1/publish`).
//!
//! Each of the three requests is sealed to the server's pinned key and its reply sealed back
//! ([`bluezone_protocol::exchange`]): whoever terminates TLS sees constant sizes and an HTTP
//! 200, never the code, the token, the keys or the outcome.
//!
//! Nothing else in the engine sends keys; no server answer, push or configuration can start
//! an upload. A failed upload can be retried: the pending request (keys, secret,
//! certificate) is kept sealed and sent again unchanged, and the server accepts a repeat of
//! the same certificate once.

use base64ct::{Base64, Encoding};
use bluezone_protocol::exchange::{CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD, seal_request};
use bluezone_protocol::messages::{
    CertificateRequest, CertificateResponse, ChaffRequest, ChaffResponse, ErrorBody, PublishKey,
    PublishPayload, PublishResponse, VerifyRequest, VerifyResponse,
};
use bluezone_protocol::upload::{UploadKey, VerificationCode, tek_hmac};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CoreError, ServerCode};
use crate::transport::{HttpReply, Transport};

/// Consent must have been given this recently (seconds) to upload.
pub const CONSENT_VALIDITY_SECS: i64 = 600;

/// The person's explicit agreement to upload, made by the shell when they tap "share".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadConsent {
    /// Unix time (seconds) they agreed.
    pub agreed_at: i64,
}

/// A redeemed code: what the server recorded for the case, and the token to continue.
/// The token prints redacted and is zeroized when this is dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct VerifiedCode {
    /// Opaque token (single use, 24 hours).
    pub token: String,
    /// Report type the official recorded.
    pub report_type: u8,
    /// Interval of the symptom onset day, if recorded.
    pub symptom_onset_interval: Option<u32>,
}

impl std::fmt::Debug for VerifiedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCode")
            .field("token", &"<redacted>")
            .field("report_type", &self.report_type)
            .finish_non_exhaustive()
    }
}

/// The outcome of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadReceipt {
    /// Keys the server accepted.
    pub keys_accepted: u32,
}

/// An upload in progress, kept sealed so a retry sends the same request. Token, secret and
/// keys print redacted and are zeroized when this is dropped.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PendingUpload {
    pub(crate) token: String,
    pub(crate) secret: String,
    pub(crate) keys: Vec<PublishKey>,
    pub(crate) certificate: Option<String>,
    /// Unix time (seconds) it was prepared; records from before this field read as 0. It is
    /// destroyed with the rest of the data once past the retention period.
    #[serde(default)]
    pub(crate) created_at: i64,
}

impl std::fmt::Debug for PendingUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingUpload")
            .field("token", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("keys", &self.keys)
            .field(
                "certificate",
                &self.certificate.as_ref().map(|_| "<present>"),
            )
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The text of [`ServerCode::Unsealed`], the code given to a refusal that came back unsealed: the request was not opened
/// (unsealable, too large), or the answer came from something in front of the server. Its
/// own code is not believed.
pub const UNSEALED_REFUSAL: &str = "unsealed_refusal";

/// Size every verify and certificate request is padded to.
const VERIFY_REQUEST_BYTES: usize = 256;

/// One of the three sealed requests of an upload: its path and associated data. Real and
/// fake requests ([`chaff`]) take them from here, so they go to the same places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `POST /v1/verify`.
    Verify,
    /// `POST /v1/certificate`.
    Certificate,
    /// `POST /v1/publish`.
    Publish,
}

impl Step {
    fn path(self) -> &'static str {
        match self {
            Self::Verify => "/v1/verify",
            Self::Certificate => "/v1/certificate",
            Self::Publish => "/v1/publish",
        }
    }

    fn aad(self) -> &'static [u8] {
        match self {
            Self::Verify => VERIFY_AAD,
            Self::Certificate => CERTIFICATE_AAD,
            Self::Publish => PUBLISH_AAD,
        }
    }

    /// The size its plaintext is padded to (`publish_bytes`: the configured upload size).
    fn request_bytes(self, publish_bytes: usize) -> usize {
        match self {
            Self::Verify | Self::Certificate => VERIFY_REQUEST_BYTES,
            Self::Publish => publish_bytes,
        }
    }
}

/// `body` as JSON, with `padding` filled so the whole is `size` bytes (when it fits).
pub(crate) fn padded_json<T: Serialize>(
    mut value: T,
    size: usize,
    set_padding: impl Fn(&mut T, String),
) -> Result<Vec<u8>, CoreError> {
    let bare = serde_json::to_vec(&value).map_err(|e| CoreError::LocalState(e.to_string()))?;
    if bare.len() < size {
        set_padding(&mut value, "0".repeat(size - bare.len()));
    }
    serde_json::to_vec(&value).map_err(|e| CoreError::LocalState(e.to_string()))
}

/// The reply's body as `T`, or the server's refusal as [`CoreError::Server`].
pub(crate) fn answer<T: for<'de> Deserialize<'de>>(reply: HttpReply) -> Result<T, CoreError> {
    if (200..300).contains(&reply.status) {
        return serde_json::from_slice(&reply.body)
            .map_err(|e| CoreError::Protocol(format!("unreadable server answer: {e}")));
    }
    let error: Option<ErrorBody> = serde_json::from_slice(&reply.body).ok();
    Err(CoreError::Server {
        status: reply.status,
        code: error
            .as_ref()
            .map_or(ServerCode::Missing, |e| ServerCode::received(&e.code)),
        message: error.map_or_else(String::new, |e| e.message),
    })
}

/// Sends `plaintext` sealed to `server_key` and opens the sealed reply: the answer as `T`, or
/// the server's refusal. A reply that is not sealed is a refusal made before the request was
/// opened (unsealable, too large) or by something in front of the server.
fn exchange<T: for<'de> Deserialize<'de>>(
    transport: &dyn Transport,
    server_key: &[u8; 32],
    step: Step,
    plaintext: &[u8],
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<T, CoreError> {
    let (body, reply_key) = seal_request(server_key, step.aad(), plaintext, rng)
        .map_err(|e| CoreError::LocalState(format!("the request could not be sealed: {e}")))?;
    let reply = transport.post(step.path(), &body)?;
    if reply.status != 200 {
        // Not sealed, so not necessarily the server's: anything between could have written
        // it. Its code is not believed (no `code_used` from a proxy), only its status.
        return Err(CoreError::Server {
            status: reply.status,
            code: ServerCode::Unsealed,
            message: "the request was refused before the server opened it".to_owned(),
        });
    }
    let (status, body) = reply_key
        .open_reply(&reply.body)
        .map_err(|_| CoreError::Protocol("the server's answer does not open".into()))?;
    answer(HttpReply {
        status,
        body: body.to_vec(),
    })
}

/// `POST /v1/verify`, sealed to `server_key`.
pub(crate) fn verify(
    transport: &dyn Transport,
    server_key: &[u8; 32],
    code: &str,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<VerifiedCode, CoreError> {
    let code = VerificationCode::parse(code).map_err(|_| CoreError::InvalidCode)?;
    let body = zeroize::Zeroizing::new(padded_json(
        VerifyRequest {
            code: code.as_str().to_owned(),
            padding: String::new(),
        },
        Step::Verify.request_bytes(0),
        |r, p| r.padding = p,
    )?);
    let mut verified: VerifyResponse = exchange(transport, server_key, Step::Verify, &body, rng)?;
    Ok(VerifiedCode {
        token: std::mem::take(&mut verified.token),
        report_type: verified.report_type,
        symptom_onset_interval: verified.symptom_onset_interval,
    })
}

/// `POST /v1/certificate` for the pending upload, unless it already has one.
pub(crate) fn certificate(
    transport: &dyn Transport,
    server_key: &[u8; 32],
    pending: &mut PendingUpload,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<(), CoreError> {
    if pending.certificate.is_some() {
        return Ok(());
    }
    let secret = zeroize::Zeroizing::new(
        Base64::decode_vec(&pending.secret)
            .map_err(|e| CoreError::LocalState(format!("the pending upload's secret: {e}")))?,
    );
    let keys = upload_keys_of(&pending.keys)?;
    let body = zeroize::Zeroizing::new(padded_json(
        CertificateRequest {
            token: pending.token.clone(),
            ekeyhmac: Base64::encode_string(&tek_hmac(&secret, &keys)),
            padding: String::new(),
        },
        Step::Certificate.request_bytes(0),
        |r, p| r.padding = p,
    )?);
    let answer: CertificateResponse =
        exchange(transport, server_key, Step::Certificate, &body, rng)?;
    pending.certificate = Some(answer.certificate);
    Ok(())
}

/// `POST /v1/publish` of the pending upload, sealed to `server_key`.
pub(crate) fn publish(
    transport: &dyn Transport,
    pending: &PendingUpload,
    server_key: &[u8; 32],
    request_size: usize,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<UploadReceipt, CoreError> {
    let payload = PublishPayload {
        keys: pending.keys.clone(),
        hmac_key: pending.secret.clone(),
        certificate: pending.certificate.clone().unwrap_or_default(),
        padding: String::new(),
    };
    let plaintext = zeroize::Zeroizing::new(padded_json(
        payload,
        Step::Publish.request_bytes(request_size),
        |p, pad| p.padding = pad,
    )?);
    let answer: PublishResponse = exchange(transport, server_key, Step::Publish, &plaintext, rng)?;
    Ok(UploadReceipt {
        keys_accepted: answer.inserted,
    })
}

/// A fake request for `step` ([`bluezone_protocol::messages::ChaffRequest`]): padded to the
/// size of the real one (`publish_bytes` for a publish, as [`publish`] pads), sealed and sent
/// through the same transport to the same path. Nothing of the phone's state is read.
///
/// # Errors
/// As the real request: [`CoreError::Network`], [`CoreError::Server`] (a refusal, sealed or
/// not), [`CoreError::Protocol`] for an answer that does not open.
pub(crate) fn chaff(
    transport: &dyn Transport,
    server_key: &[u8; 32],
    step: Step,
    publish_bytes: usize,
    rng: &mut dyn rand_core::CryptoRng,
) -> Result<(), CoreError> {
    let body = padded_json(
        ChaffRequest::new(),
        step.request_bytes(publish_bytes),
        |r, p| r.padding = p,
    )?;
    let _: ChaffResponse = exchange(transport, server_key, step, &body, rng)?;
    Ok(())
}

fn upload_keys_of(keys: &[PublishKey]) -> Result<Vec<UploadKey>, CoreError> {
    keys.iter()
        .map(|k| {
            let key_data = Base64::decode_vec(&k.key)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| CoreError::LocalState("a pending key is malformed".into()))?;
            Ok(UploadKey {
                key_data,
                rolling_start: k.rolling_start_number,
                rolling_period: k.rolling_period,
                transmission_risk: k.transmission_risk,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::own_keys::OwnKey;
    use crate::test_secrets::{assert_hidden, secret};
    use bluezone_protocol::{IntervalNumber, RollingPeriod, TemporaryExposureKey};

    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

    /// Answers every request with one reply.
    struct Replies(u16, &'static [u8]);

    impl Transport for Replies {
        fn post(&self, _: &str, _: &[u8]) -> Result<HttpReply, crate::TransportError> {
            Ok(HttpReply {
                status: self.0,
                body: self.1.to_vec(),
            })
        }
        fn get(&self, path: &str) -> Result<HttpReply, crate::TransportError> {
            self.post(path, &[])
        }
    }

    fn code_of<T: std::fmt::Debug>(result: Result<T, CoreError>) -> ServerCode {
        match result {
            Err(CoreError::Server { code, .. }) => code,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn refusals_are_recognised_by_code_and_unsealed_ones_are_not_believed() {
        use bluezone_protocol::refusal::RefusalCode;
        let refused = |body: &'static [u8]| {
            code_of(answer::<VerifyResponse>(HttpReply {
                status: 400,
                body: body.to_vec(),
            }))
        };
        assert_eq!(
            refused(br#"{"code":"code_expired","message":"the code has expired"}"#),
            ServerCode::Known(RefusalCode::CodeExpired)
        );
        assert_eq!(
            refused(br#"{"code":"a_newer_code","message":"?"}"#),
            ServerCode::Unknown("a_newer_code".into())
        );
        assert_eq!(refused(b"<html>a proxy</html>"), ServerCode::Missing);
        // Not sealed: whatever it claims, its code is not the server's.
        let proxy = Replies(400, br#"{"code":"code_used","message":"used"}"#);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        let unsealed = exchange::<VerifyResponse>(&proxy, &[9; 32], Step::Verify, b"{}", &mut rng);
        assert_eq!(code_of(unsealed), ServerCode::Unsealed);
    }

    #[test]
    fn secret_holding_types_print_redacted() {
        zeroized_on_drop::<PendingUpload>();
        zeroized_on_drop::<VerifiedCode>();

        let tek = secret::<16>(0xC1);
        let hmac_secret = secret::<32>(0xA1);
        let token = Base64::encode_string(&secret::<32>(0x61));
        let certificate = Base64::encode_string(&secret::<64>(0x11));
        let mut pending = PendingUpload {
            token: token.clone(),
            secret: Base64::encode_string(&hmac_secret),
            keys: vec![PublishKey {
                key: Base64::encode_string(&tek),
                rolling_start_number: 2_890_000,
                rolling_period: 144,
                transmission_risk: 0,
            }],
            certificate: Some(certificate.clone()),
            created_at: 1_793_491_200,
        };
        let verified = VerifiedCode {
            token: token.clone(),
            report_type: 1,
            symptom_onset_interval: Some(2_889_856),
        };
        let own = OwnKey {
            tek: TemporaryExposureKey::from_bytes(tek),
            rolling_start: IntervalNumber::new(2_890_000),
            rolling_period: RollingPeriod::new(144).unwrap(),
        };
        let texts = [
            format!("{pending:?} {pending:#?}"),
            format!("{verified:?} {verified:#?}"),
            format!("{own:?} {own:#?}"),
        ];
        for text in &texts {
            assert!(text.contains("<redacted>"), "{text}");
            assert!(!text.contains(&token), "{text}");
            assert!(!text.contains(&certificate), "{text}");
            assert_hidden(text, &tek);
            assert_hidden(text, &hmac_secret);
        }
        assert!(texts[0].contains("1793491200"), "{}", texts[0]);
        pending.zeroize();
        assert!(pending.token.is_empty() && pending.secret.is_empty() && pending.keys.is_empty());
    }
}
