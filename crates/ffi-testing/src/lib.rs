//! Test-only helpers for the binding tests: what a real GAEN phone would broadcast and a
//! real health authority would sign, made here so the Kotlin and Python suites can drive the
//! real library end to end.
//!
//! They live in their own library and uniffi namespace (`bluezone_testing`), not behind a
//! feature of `bluezone-ffi`, so that the suites call `bluezone-ffi` through the bindings
//! committed in `bindings/`, exactly as an app does. Nothing here is shipped.

use bluezone_protocol::keyfile::{
    DiagnosisKey, ExportInfo, KeyFileSigner, ReportType, write_key_file,
};
use bluezone_protocol::{Advertisement, IntervalNumber, RollingPeriod, TemporaryExposureKey};

uniffi::setup_scaffolding!("bluezone_testing");

/// A helper was given something it cannot use.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum TestingError {
    /// The input is invalid.
    #[error("invalid input: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

fn invalid(reason: impl ToString) -> TestingError {
    TestingError::Invalid {
        reason: reason.to_string(),
    }
}

/// The fixed signer of [`testing_key_file`] (key id `test`, version `v1`).
fn signer() -> Result<KeyFileSigner, TestingError> {
    let key = p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).map_err(invalid)?;
    Ok(KeyFileSigner::new("test", "v1", key))
}

/// The public key (base64 SPKI) of the fixed signer of [`testing_key_file`].
///
/// # Errors
/// Never in practice (the key is fixed).
#[uniffi::export]
pub fn testing_signer_public_key() -> Result<String, TestingError> {
    use base64ct::{Base64, Encoding};
    use p256::pkcs8::EncodePublicKey;
    let der = signer()?
        .verifying_key()
        .to_public_key_der()
        .map_err(invalid)?;
    Ok(Base64::encode_string(der.as_bytes()))
}

/// The 31-byte advert a GAEN phone with `tek` sends at `unix_time`.
///
/// # Errors
/// A TEK that is not 16 bytes, a time outside the GAEN time base.
#[uniffi::export]
pub fn testing_advert_payload(tek: Vec<u8>, unix_time: i64) -> Result<Vec<u8>, TestingError> {
    let tek = TemporaryExposureKey::from_slice(&tek).map_err(invalid)?;
    let keys = tek.derive_keys();
    let interval = IntervalNumber::from_unix_seconds(unix_time).map_err(invalid)?;
    let rpi = keys.rpik.identifier(interval);
    let aem = keys.aemk.encrypt(&rpi, [0x40, 0xf1, 0, 0]);
    Ok(Advertisement { rpi, aem }.to_legacy_payload().to_vec())
}

/// A key file publishing `teks` (each valid a full day from `rolling_start`, confirmed test,
/// symptom onset that day), covering the hour before `now`, signed by the fixed signer.
///
/// # Errors
/// A TEK that is not 16 bytes.
#[uniffi::export]
pub fn testing_key_file(
    teks: Vec<Vec<u8>>,
    rolling_start: u32,
    now: i64,
) -> Result<Vec<u8>, TestingError> {
    let keys = teks
        .into_iter()
        .map(|t| {
            Ok(DiagnosisKey {
                key_data: t.try_into().map_err(|_| invalid("a TEK is 16 bytes"))?,
                rolling_start: IntervalNumber::new(rolling_start),
                rolling_period: RollingPeriod::FULL_DAY,
                transmission_risk: 0,
                report_type: ReportType::ConfirmedTest,
                days_since_onset: Some(0),
            })
        })
        .collect::<Result<Vec<_>, TestingError>>()?;
    let info = ExportInfo {
        start_timestamp: u64::try_from(now - 3600).unwrap_or(0),
        end_timestamp: u64::try_from(now).unwrap_or(0),
        region: "452".into(),
        batch_num: 1,
        batch_size: 1,
    };
    write_key_file(&info, &keys, &signer()?).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_make_what_a_phone_and_an_authority_would() {
        assert_eq!(
            testing_advert_payload(vec![7; 16], 1_793_491_200)
                .map(|a| a.len())
                .ok(),
            Some(31)
        );
        assert!(testing_advert_payload(vec![7; 15], 1_793_491_200).is_err());
        let file = testing_key_file(vec![vec![1; 16]], 2_989_152, 1_793_491_200).expect("file");
        assert_eq!(&file[..2], b"PK");
        assert!(testing_signer_public_key().is_ok_and(|k| !k.is_empty()));
    }
}
