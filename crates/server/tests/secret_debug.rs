//! Every type of this crate that holds a secret prints none of it: the authority's keys
//! (master secret, certificate and key-file signing keys, upload key, code-MAC secret), an
//! issued code, and keys accepted but not yet published.

use base64ct::{Base64, Encoding};
use bluezone_server::AuthorityKeys;
use bluezone_server::authority::IssuedCode;
use bluezone_server::store::{CaseClaims, PublishableKey, StoredKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Distinctive secret bytes: `start`, `start + 1`, ...
fn secret<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(u8::try_from(i).unwrap_or(0)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `text` shows none of `secret`: not in hex, decimal (as `Debug` prints bytes) or base64.
fn assert_hidden(text: &str, secret: &[u8]) {
    let decimal = format!("{secret:?}");
    let head = format!("{:?}", &secret[..4]);
    for form in [
        hex(secret),
        hex(secret).to_uppercase(),
        hex(&secret[..4]),
        decimal.trim_matches(['[', ']']).to_owned(),
        head.trim_matches(['[', ']']).to_owned(),
        Base64::encode_string(secret),
    ] {
        assert!(!text.contains(&form), "{text:?} shows {form:?}");
    }
}

fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}

/// What `AuthorityKeys::derive` derives from `master` under `label`.
fn derived(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

#[test]
fn authority_keys_print_redacted() {
    zeroized_on_drop::<AuthorityKeys>();
    let master = secret::<32>(0x21);
    let keys = AuthorityKeys::derive(&master, "452", "v1").unwrap();
    let text = format!("{keys:?} {keys:#?}");
    assert!(
        text.contains("<redacted>") && text.contains("452-v1"),
        "{text}"
    );
    for secret in [
        master,
        derived(&master, b"bluezone/server/code-mac"),
        derived(&master, b"bluezone/server/upload"),
        keys.certificate_key().to_bytes().into(),
        keys.file_signer().key.to_bytes().into(),
    ] {
        assert_hidden(&text, &secret);
    }
}

#[test]
fn codes_and_stored_keys_print_redacted() {
    let issued = IssuedCode {
        id: 7,
        code: "87654321".into(),
        expires_at: 1_793_494_800,
    };
    let text = format!("{issued:?} {issued:#?}");
    assert!(
        text.contains("<redacted>") && text.contains("1793494800"),
        "{text}"
    );
    assert!(!text.contains("87654321"), "{text}");

    let key_data = secret::<16>(0xD1);
    let key = PublishableKey {
        id: 3,
        key: StoredKey {
            key_data,
            rolling_start: 2_890_000,
            rolling_period: 144,
            transmission_risk: 0,
            publish_after: 1_793_500_000,
        },
        claims: CaseClaims {
            report_type: 1,
            symptom_onset_interval: None,
        },
    };
    let text = format!("{key:?} {key:#?}");
    assert!(
        text.contains("<redacted>") && text.contains("2890000"),
        "{text}"
    );
    assert_hidden(&text, &key_data);
}
