use proptest::prelude::*;
use prost::Message;

use super::*;

fn via_prost(bytes: &[u8]) -> Option<proto::TemporaryExposureKey> {
    proto::TemporaryExposureKey::decode(bytes).ok()
}

fn via_fast(bytes: &[u8]) -> Option<proto::TemporaryExposureKey> {
    decode_key_message(bytes)
        .ok()
        .map(|k| proto::TemporaryExposureKey {
            key_data: k.key_data.map(<[u8]>::to_vec),
            transmission_risk_level: k.transmission_risk_level,
            rolling_start_interval_number: k.rolling_start_interval_number,
            rolling_period: k.rolling_period,
            report_type: k.report_type,
            days_since_onset_of_symptoms: k.days_since_onset_of_symptoms,
        })
}

#[test]
fn key_decoder_handles_every_field() {
    let key = proto::TemporaryExposureKey {
        key_data: Some(vec![9; 16]),
        transmission_risk_level: Some(5),
        rolling_start_interval_number: Some(2_988_000),
        rolling_period: Some(100),
        report_type: Some(1),
        days_since_onset_of_symptoms: Some(-7),
    };
    let bytes = key.encode_to_vec();
    assert_eq!(via_fast(&bytes), Some(key));
    assert_eq!(via_fast(&[]), via_prost(&[]));
}

proptest! {
    /// The allocation-free decoder agrees with prost on valid messages, with unknown fields
    /// mixed in, and on arbitrary bytes (both accept, with the same result, or both refuse).
    #[test]
    fn key_decoder_agrees_with_prost(
        key_data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
        ints in any::<[Option<i32>; 5]>(),
        extra in proptest::collection::vec(any::<u8>(), 0..8),
        noise in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let key = proto::TemporaryExposureKey {
            key_data,
            transmission_risk_level: ints[0],
            rolling_start_interval_number: ints[1],
            rolling_period: ints[2],
            report_type: ints[3],
            days_since_onset_of_symptoms: ints[4],
        };
        let mut bytes = key.encode_to_vec();
        // An unknown field 7 (reserved in the schema) of wire type length-delimited.
        bytes.push(0x3a);
        bytes.push(u8::try_from(extra.len()).unwrap());
        bytes.extend_from_slice(&extra);
        prop_assert_eq!(via_fast(&bytes), Some(key));
        prop_assert_eq!(via_fast(&noise), via_prost(&noise));
    }
}
