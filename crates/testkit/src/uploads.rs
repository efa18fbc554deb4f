//! The body of an upload (`POST /v1/publish`) as a phone builds it, for tests that talk to
//! the server without a phone.

use base64ct::{Base64, Encoding};
use bluezone_protocol::messages::{PublishKey, PublishPayload};
use bluezone_protocol::upload::UploadKey;

/// The publish payload for `keys`, with the HMAC secret `hmac_key` and `certificate`, no
/// padding.
#[must_use]
pub fn publish_payload(keys: &[UploadKey], hmac_key: &[u8], certificate: &str) -> PublishPayload {
    PublishPayload {
        keys: keys
            .iter()
            .map(|k| PublishKey {
                key: Base64::encode_string(&k.key_data),
                rolling_start_number: k.rolling_start,
                rolling_period: k.rolling_period,
                transmission_risk: k.transmission_risk,
            })
            .collect(),
        hmac_key: Base64::encode_string(hmac_key),
        certificate: certificate.into(),
        padding: String::new(),
    }
}
