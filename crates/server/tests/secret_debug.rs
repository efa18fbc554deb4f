//! Every type of this crate that holds a secret prints none of it: the authority's keys
//! (master secret, certificate and key-file signing keys, upload key, code-MAC secret), an
//! issued code, and keys accepted but not yet published.

use bluezone_server::AuthorityKeys;
use bluezone_server::authority::IssuedCode;
use bluezone_server::store::{CaseClaims, PublishableKey, StoredKey};
use bluezone_testkit::secrets::{assert_hidden, secret};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

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
        derived(&master, b"bluezone/server/key-files"),
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
