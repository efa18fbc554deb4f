//! Every type of this crate that holds a secret: its `Debug` prints none of the secret's
//! bytes (hex, decimal or base64), and it zeroizes itself when dropped.

use base64ct::{Base64, Encoding};
use bluezone_protocol::TemporaryExposureKey;
use bluezone_protocol::exchange::{VERIFY_AAD, seal_request};
use bluezone_protocol::keyfile::KeyFileSigner;
use bluezone_protocol::keys::{AssociatedEncryptedMetadataKey, RollingProximityIdentifierKey};
use bluezone_protocol::messages::{
    CertificateRequest, PublishKey, PublishPayload, VerifyRequest, VerifyResponse,
};
use bluezone_protocol::upload::{UploadKey, UploadOpenKey, VerificationCode};
use bluezone_testkit::secrets::{assert_hidden, assert_hidden_text, secret};
use p256::ecdsa::SigningKey;
use rand::SeedableRng;
use zeroize::{Zeroize, ZeroizeOnDrop};

fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

#[test]
fn every_secret_type_zeroizes_on_drop() {
    zeroized_on_drop::<TemporaryExposureKey>();
    zeroized_on_drop::<RollingProximityIdentifierKey>();
    zeroized_on_drop::<AssociatedEncryptedMetadataKey>();
    zeroized_on_drop::<VerificationCode>();
    zeroized_on_drop::<UploadKey>();
    zeroized_on_drop::<VerifyRequest>();
    zeroized_on_drop::<VerifyResponse>();
    zeroized_on_drop::<CertificateRequest>();
    zeroized_on_drop::<PublishKey>();
    zeroized_on_drop::<PublishPayload>();
    // The private keys zeroize themselves (p256's `SigningKey`, x25519-dalek's
    // `StaticSecret` inside HPKE's key).
    zeroized_on_drop::<SigningKey>();
}

#[test]
fn keys_print_redacted() {
    let bytes = secret::<16>(0xC1);
    let tek = TemporaryExposureKey::from_bytes(bytes);
    let derived = tek.derive_keys();
    let rpik = *derived.rpik.expose_bytes();
    let aemk = *derived.aemk.expose_bytes();
    for text in [
        format!("{tek:?}"),
        format!("{derived:?}"),
        format!("{:?}", tek.rpi_key()),
        format!("{:?}", tek.aem_key()),
        format!("{tek:#?} {derived:#?}"),
    ] {
        assert!(text.contains("<redacted>"), "{text}");
        for secret in [&bytes, &rpik, &aemk] {
            assert_hidden(&text, secret);
        }
    }
}

#[test]
fn exchange_and_upload_keys_print_redacted() {
    let ikm = secret::<32>(0x51);
    let open_key = UploadOpenKey::derive(&ikm).unwrap();
    assert_eq!(format!("{open_key:?}"), "UploadOpenKey(<redacted>)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let (body, phone_side) =
        seal_request(&open_key.public_key(), VERIFY_AAD, b"12345678", &mut rng).unwrap();
    let (_, server_side) = open_key.open_request(VERIFY_AAD, &body).unwrap();
    assert_eq!(format!("{phone_side:?}"), "ReplyKey(<redacted>)");
    assert_eq!(format!("{server_side:#?}"), "ReplyKey(<redacted>)");

    let key = secret::<32>(0x31);
    let signer = KeyFileSigner::new("452", "v1", SigningKey::from_slice(&key).unwrap());
    let text = format!("{signer:?} {signer:#?}");
    assert!(text.contains("452-v1"), "{text}");
    assert_hidden(&text, &key);
    assert_hidden(&text, &ikm);
}

#[test]
fn codes_and_uploaded_keys_print_redacted() {
    let code = VerificationCode::parse("8765-4321").unwrap();
    assert_hidden_text(&format!("{code:?} {code:#?}"), "87654321");

    let key_data = secret::<16>(0xE3);
    let mut key = UploadKey {
        key_data,
        rolling_start: 2_890_000,
        rolling_period: 144,
        transmission_risk: 4,
    };
    let text = format!("{key:?} {key:#?}");
    assert!(text.contains("2890000"), "{text}");
    assert_hidden(&text, &key_data);
    key.zeroize();
    assert_eq!(key.key_data, [0; 16]);
}

#[test]
fn messages_print_redacted() {
    let token = Base64::encode_string(&secret::<32>(0x71));
    let tek = secret::<16>(0x91);
    let hmac_secret = secret::<32>(0xB1);
    let publish_key = PublishKey {
        key: Base64::encode_string(&tek),
        rolling_start_number: 2_890_000,
        rolling_period: 144,
        transmission_risk: 0,
    };
    let mut payload = PublishPayload {
        keys: vec![publish_key.clone()],
        hmac_key: Base64::encode_string(&hmac_secret),
        certificate: "Y2VydA==".into(),
        padding: String::new(),
    };
    let texts = [
        format!(
            "{:?}",
            VerifyRequest {
                code: "87654321".into(),
                padding: String::new(),
            }
        ),
        format!(
            "{:?}",
            VerifyResponse {
                token: token.clone(),
                report_type: 1,
                symptom_onset_interval: None,
                padding: String::new(),
            }
        ),
        format!(
            "{:?}",
            CertificateRequest {
                token: token.clone(),
                ekeyhmac: String::new(),
                padding: String::new(),
            }
        ),
        format!("{publish_key:?} {publish_key:#?}"),
        format!("{payload:?} {payload:#?}"),
    ];
    for text in &texts {
        assert!(text.contains("<redacted>"), "{text}");
        assert_hidden_text(text, "87654321");
        assert_hidden_text(text, &token);
        assert_hidden(text, &tek);
        assert_hidden(text, &hmac_secret);
    }
    assert!(texts[3].contains("2890000"), "{}", texts[3]);
    payload.zeroize();
    assert!(payload.keys.is_empty() && payload.hmac_key.is_empty());
}
