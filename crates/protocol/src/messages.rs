//! The JSON messages between phones and the health-authority server, defined once for both
//! sides. Binary fields are standard base64. Every request and response carries `padding`
//! so that sizes reveal nothing (phones pad requests to a constant size). Messages carrying a
//! secret (a code, a token, a key, the HMAC secret) print it redacted and are zeroized when
//! dropped; a field moved out must be taken (`std::mem::take`).

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What `Debug` prints in place of a secret.
const REDACTED: &str = "<redacted>";

/// `POST /v1/verify`: exchange an official's code for a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The 8-digit code.
    pub code: String,
    /// Random filler.
    #[serde(default)]
    pub padding: String,
}

/// Answer to [`VerifyRequest`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyResponse {
    /// Opaque token for `/v1/certificate`, valid 24 hours, single use.
    pub token: String,
    /// Report type the official recorded (GAEN numbering).
    pub report_type: u8,
    /// Interval of the symptom onset's UTC midnight, if the official recorded one.
    pub symptom_onset_interval: Option<u32>,
    /// Random filler.
    #[serde(default)]
    pub padding: String,
}

/// `POST /v1/certificate`: a token and the HMAC of the keys to upload.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificateRequest {
    /// The token from [`VerifyResponse`].
    pub token: String,
    /// Base64 of the 32-byte key HMAC.
    pub ekeyhmac: String,
    /// Random filler.
    #[serde(default)]
    pub padding: String,
}

/// Answer to [`CertificateRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificateResponse {
    /// Base64 of the signed certificate, valid 15 minutes.
    pub certificate: String,
    /// Random filler.
    #[serde(default)]
    pub padding: String,
}

/// One key in a publish payload (GAEN `temporaryExposureKeys` entry).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishKey {
    /// Base64 of the 16-byte key.
    pub key: String,
    /// First interval.
    pub rolling_start_number: u32,
    /// Intervals, 1..=144.
    pub rolling_period: u32,
    /// 0..=8.
    #[serde(default)]
    pub transmission_risk: u8,
}

/// The plaintext of `POST /v1/publish`, sealed with HPKE to the server's upload key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishPayload {
    /// The keys.
    pub keys: Vec<PublishKey>,
    /// Base64 of the HMAC secret.
    pub hmac_key: String,
    /// Base64 of the certificate.
    pub certificate: String,
    /// Random filler bringing every payload to the same size.
    #[serde(default)]
    pub padding: String,
}

impl fmt::Debug for VerifyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyRequest")
            .field("code", &REDACTED)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VerifyResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyResponse")
            .field("token", &REDACTED)
            .field("report_type", &self.report_type)
            .field("symptom_onset_interval", &self.symptom_onset_interval)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateRequest")
            .field("token", &REDACTED)
            .field("ekeyhmac", &self.ekeyhmac)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PublishKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishKey")
            .field("key", &REDACTED)
            .field("rolling_start_number", &self.rolling_start_number)
            .field("rolling_period", &self.rolling_period)
            .field("transmission_risk", &self.transmission_risk)
            .finish()
    }
}

impl fmt::Debug for PublishPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishPayload")
            .field("keys", &self.keys)
            .field("hmac_key", &REDACTED)
            .finish_non_exhaustive()
    }
}

/// Answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishResponse {
    /// Keys accepted.
    pub inserted: u32,
    /// Random filler.
    #[serde(default)]
    pub padding: String,
}

/// Every refusal: a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable code, e.g. `code_invalid`, `token_expired`, `hmac_mismatch`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
}

/// The plaintext of a fake ("chaff") request to any of the sealed endpoints: a phone sends
/// it at random times so that the requests of a real upload hide among them. The marker
/// exists only inside the sealed plaintext; the phone pads it to the size of the real
/// request of the same step, so on the wire it is the real one's size, path and headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChaffRequest {
    /// Always `true`: the marker the server recognises.
    pub chaff: bool,
    /// Filler bringing the request to the real one's size.
    #[serde(default)]
    pub padding: String,
}

impl ChaffRequest {
    /// A chaff request before padding.
    #[must_use]
    pub fn new() -> Self {
        Self {
            chaff: true,
            padding: String::new(),
        }
    }
}

impl Default for ChaffRequest {
    fn default() -> Self {
        Self::new()
    }
}

/// The server's answer to a [`ChaffRequest`], sealed like every reply (status 200 inside,
/// padded to the one reply size): nothing was spent, issued or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChaffResponse {
    /// Always `true`.
    pub chaff: bool,
}
