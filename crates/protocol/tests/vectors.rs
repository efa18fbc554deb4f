//! Published test vectors for the key schedule, run against `bluezone-protocol`.
//!
//! Sources are named at the top of each file in `tests/vectors/`:
//! - `gaen-crypto-v1.2-test-vectors.txt`: the GAEN Cryptography Specification v1.2 vectors,
//!   all 144 RPI/AEM pairs of the specification's key;
//! - `other-published-and-derived.txt`: a third-party published vector and values derived
//!   from key material Google published;
//! - `negative.txt`: values that common implementation bugs produce.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use bluezone_protocol::{
    Advertisement, AssociatedEncryptedMetadata, IntervalNumber, Metadata,
    RollingProximityIdentifier, TemporaryExposureKey,
};

const SPEC: &str = include_str!("vectors/gaen-crypto-v1.2-test-vectors.txt");
const OTHERS: &str = include_str!("vectors/other-published-and-derived.txt");
const NEGATIVE: &str = include_str!("vectors/negative.txt");

fn lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
}

fn header<'a>(text: &'a str, name: &str) -> &'a str {
    lines(text)
        .find(|f| f[0] == name)
        .map(|f| f[1])
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn arr<const N: usize>(hex_text: &str) -> [u8; N] {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

struct SpecRow {
    interval: IntervalNumber,
    rpi: RollingProximityIdentifier,
    aem: AssociatedEncryptedMetadata,
}

fn spec_rows() -> Vec<SpecRow> {
    lines(SPEC)
        .filter(|f| f.len() == 4 && f[0].parse::<u32>().is_ok())
        .map(|f| SpecRow {
            interval: IntervalNumber::new(f[1].parse().unwrap()),
            rpi: RollingProximityIdentifier(arr(f[2])),
            aem: AssociatedEncryptedMetadata(arr(f[3])),
        })
        .collect()
}

fn spec_tek() -> TemporaryExposureKey {
    TemporaryExposureKey::from_bytes(arr(header(SPEC, "tek")))
}

#[test]
fn gaen_v1_2_key_schedule() {
    let keys = spec_tek().derive_keys();
    assert_eq!(hex::encode(keys.rpik.expose_bytes()), header(SPEC, "rpik"));
    assert_eq!(hex::encode(keys.aemk.expose_bytes()), header(SPEC, "aemk"));
    assert_eq!(
        hex::encode(spec_tek().rpi_key().expose_bytes()),
        header(SPEC, "rpik")
    );
    assert_eq!(
        hex::encode(spec_tek().aem_key().expose_bytes()),
        header(SPEC, "aemk")
    );
}

#[test]
fn gaen_v1_2_all_144_rpis_one_at_a_time() {
    let rows = spec_rows();
    assert_eq!(rows.len(), 144);
    let keys = spec_tek().derive_keys();
    let metadata = arr(header(SPEC, "metadata"));
    for row in &rows {
        assert_eq!(
            keys.rpik.identifier(row.interval),
            row.rpi,
            "{}",
            row.interval
        );
        assert_eq!(keys.aemk.encrypt(&row.rpi, metadata), row.aem);
        assert_eq!(keys.aemk.decrypt(&row.rpi, &row.aem), metadata);
        assert_eq!(
            keys.aemk.decrypt_metadata(&row.rpi, &row.aem),
            Ok(Metadata::v1_0(8))
        );
    }
}

#[test]
fn gaen_v1_2_all_144_rpis_batched() {
    let rows = spec_rows();
    let keys = spec_tek().derive_keys();
    let start = IntervalNumber::new(header(SPEC, "rolling_start").parse().unwrap());
    assert_eq!(rows[0].interval, start);
    let daily = keys.rpik.daily_identifiers(start);
    let mut aems = [AssociatedEncryptedMetadata::default(); 144];
    keys.aemk
        .encrypt_many(&daily, arr(header(SPEC, "metadata")), &mut aems);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(daily[i], row.rpi, "index {i}");
        assert_eq!(aems[i], row.aem, "index {i}");
    }
}

#[test]
fn gaen_v1_2_padded_data_layout() {
    let expected: [u8; 16] = arr(header(SPEC, "padded_data_0"));
    assert_eq!(&expected[..6], b"EN-RPI");
    // Decrypting the first RPI under the RPIK gives back the padded data.
    let rpik = spec_tek().rpi_key();
    let cipher = Aes128::new(&Array::from(*rpik.expose_bytes()));
    let mut block = Array::from(expected);
    cipher.encrypt_block(&mut block);
    assert_eq!(<[u8; 16]>::from(block), spec_rows()[0].rpi.0);
}

#[test]
fn gaen_v1_2_vectors_survive_the_advert_codec() {
    for row in spec_rows() {
        let ad = Advertisement {
            rpi: row.rpi,
            aem: row.aem,
        };
        assert_eq!(
            Advertisement::from_advertising_data(&ad.to_legacy_payload()),
            Ok(ad)
        );
    }
}

#[test]
fn third_party_and_derived_vectors() {
    let mut checked = 0;
    for f in lines(OTHERS) {
        let tek = TemporaryExposureKey::from_bytes(arr(f[1]));
        let keys = tek.derive_keys();
        assert_eq!(hex::encode(keys.rpik.expose_bytes()), f[3], "{}", f[0]);
        assert_eq!(hex::encode(keys.aemk.expose_bytes()), f[4], "{}", f[0]);
        let rpi = keys
            .rpik
            .identifier(IntervalNumber::new(f[2].parse().unwrap()));
        assert_eq!(rpi.to_string(), f[5], "{}", f[0]);
        if f.len() == 8 {
            assert_eq!(keys.aemk.encrypt(&rpi, arr(f[6])).to_string(), f[7]);
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}

/// The negative vectors really are what the named bugs produce, and we produce neither.
#[test]
fn known_bugs_are_not_reproduced() {
    let tek = spec_tek();
    let rpik = tek.rpi_key();
    let start = spec_rows()[0].interval;

    let mut be = [0u8; 16];
    be[..6].copy_from_slice(b"EN-RPI");
    be[12..].copy_from_slice(&start.get().to_be_bytes());
    let cipher = Aes128::new(&Array::from(*rpik.expose_bytes()));
    let mut block = Array::from(be);
    cipher.encrypt_block(&mut block);
    let buggy_rpi = hex::encode(<[u8; 16]>::from(block));
    assert_eq!(buggy_rpi, header(NEGATIVE, "rpi-big-endian-interval"));
    assert_ne!(rpik.identifier(start).to_string(), buggy_rpi);

    let mut buggy_rpik = [0u8; 16];
    hkdf::Hkdf::<sha2::Sha256>::new(None, tek.expose_bytes())
        .expand(b"EN-RPIK\0", &mut buggy_rpik)
        .unwrap();
    assert_eq!(
        hex::encode(buggy_rpik),
        header(NEGATIVE, "rpik-nul-terminated-info")
    );
    assert_ne!(rpik.expose_bytes(), &buggy_rpik);
}
