//! Upload cryptography against published vectors: RFC 9180 for HPKE in our suite, and the
//! GAEN key server's TEK HMAC vectors (sources named in each vector file).

#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use base64ct::{Base64, Encoding};
use bluezone_protocol::upload::{
    UploadKey, UploadOpenKey, accepted_tek_hmacs, hpke_seal, tek_hmac, tek_hmac_cleartext,
};

const HPKE: &str = include_str!("vectors/rfc9180-a1-x25519-sha256-aes128gcm.txt");
const HMAC: &str = include_str!("vectors/gaen-server-tek-hmac.txt");

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn unhex(text: &str, name: &str) -> Vec<u8> {
    hex::decode(field(text, name)).unwrap()
}

/// Hands out fixed bytes, so the "random" ephemeral key is the vector's ikmE.
struct Fixed(Vec<u8>);

impl rand_core::TryRng for Fixed {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!("only fill_bytes is used")
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("only fill_bytes is used")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let n = dst.len();
        dst.copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Fixed {}

#[test]
fn rfc9180_a1_base_mode_vector() {
    let receiver = UploadOpenKey::derive(&unhex(HPKE, "ikmR")).unwrap();
    assert_eq!(receiver.public_key().to_vec(), unhex(HPKE, "pkRm"));
    let pk: [u8; 32] = receiver.public_key();
    let sealed = hpke_seal(
        &pk,
        &unhex(HPKE, "info"),
        &unhex(HPKE, "aad"),
        &unhex(HPKE, "pt"),
        &mut Fixed(unhex(HPKE, "ikmE")),
    )
    .unwrap();
    assert_eq!(&sealed[..32], unhex(HPKE, "enc").as_slice());
    assert_eq!(unhex(HPKE, "enc"), unhex(HPKE, "pkEm"));
    assert_eq!(&sealed[32..], unhex(HPKE, "ct").as_slice());
    let opened = receiver
        .open_with_info(&unhex(HPKE, "info"), &unhex(HPKE, "aad"), &sealed)
        .unwrap();
    assert_eq!(opened.as_slice(), unhex(HPKE, "pt").as_slice());
}

fn hmac_keys(risk_zero: bool) -> Vec<UploadKey> {
    HMAC.lines()
        .filter_map(|l| l.strip_prefix("key "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            UploadKey {
                key_data: Base64::decode_vec(f[0]).unwrap().try_into().unwrap(),
                rolling_start: f[1].parse().unwrap(),
                rolling_period: f[2].parse().unwrap(),
                transmission_risk: if risk_zero { 0 } else { f[3].parse().unwrap() },
            }
        })
        .collect()
}

#[test]
fn gaen_key_server_tek_hmac_vectors() {
    let secret = unhex(HMAC, "secret");
    let keys = hmac_keys(false);
    assert_eq!(tek_hmac_cleartext(&keys, true), field(HMAC, "cleartext"));
    assert_eq!(
        Base64::encode_string(&tek_hmac(&secret, &keys)),
        field(HMAC, "hmac")
    );
    // Order of the keys does not matter.
    let reversed: Vec<UploadKey> = keys.iter().rev().cloned().collect();
    assert_eq!(tek_hmac(&secret, &reversed), tek_hmac(&secret, &keys));
    assert_eq!(accepted_tek_hmacs(&secret, &keys).len(), 1);

    let zero = hmac_keys(true);
    assert_eq!(
        tek_hmac_cleartext(&zero, true),
        field(HMAC, "cleartext_risk0")
    );
    assert_eq!(
        tek_hmac_cleartext(&zero, false),
        field(HMAC, "cleartext_alt")
    );
    let accepted: Vec<String> = accepted_tek_hmacs(&secret, &zero)
        .iter()
        .map(|h| Base64::encode_string(h))
        .collect();
    assert_eq!(
        accepted,
        vec![field(HMAC, "hmac_risk0"), field(HMAC, "hmac_alt")]
    );
}
