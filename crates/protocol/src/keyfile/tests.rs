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

/// A key with every field set, as a server writes it.
fn every_field() -> proto::TemporaryExposureKey {
    proto::TemporaryExposureKey {
        key_data: Some(vec![9; 16]),
        transmission_risk_level: Some(5),
        rolling_start_interval_number: Some(2_988_000),
        rolling_period: Some(100),
        report_type: Some(1),
        days_since_onset_of_symptoms: Some(-7),
    }
}

#[test]
fn key_decoder_handles_every_field() {
    let key = every_field();
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

    /// The short path for plain messages reads exactly what the general path reads, or
    /// leaves the message to it: on plain messages (with fields repeated, in any order,
    /// values of any size) and on bytes made mostly of the tags it knows.
    #[test]
    fn plain_key_path_agrees_with_the_general_one(
        fields in proptest::collection::vec((1u8..=6, any::<i32>(), 0usize..20), 0..9),
        noise in proptest::collection::vec(
            prop_oneof![
                Just(0x0au8), Just(0x10), Just(0x18), Just(0x20), Just(0x28), Just(0x30),
                Just(0x80), Just(0xff), Just(0x7f), Just(0x01), any::<u8>()
            ],
            0..40,
        ),
    ) {
        let mut plain = Vec::new();
        for (field, value, len) in fields {
            if field == 1 {
                plain.extend_from_slice(&[0x0a, u8::try_from(len).unwrap()]);
                plain.extend(std::iter::repeat_n(0x5a, len));
            } else {
                plain.push(field << 3);
                let raw = if field == 6 {
                    u64::from(((value << 1) ^ (value >> 31)).cast_unsigned())
                } else {
                    i64::from(value).cast_unsigned()
                };
                prost::encoding::encode_varint(raw, &mut plain);
            }
        }
        for bytes in [&plain, &noise] {
            if let Some(short) = decode_plain_key_message(bytes) {
                prop_assert_eq!(Ok(short), decode_any_key_message(bytes));
            }
        }
        prop_assert_eq!(decode_key_message(&plain), decode_any_key_message(&plain));
        prop_assert_eq!(via_fast(&noise), via_prost(&noise));
    }
}

/// Plain messages as servers write them take the short path (the test above would pass
/// with a short path that never answers).
#[test]
fn plain_messages_take_the_short_path() {
    let key = proto::TemporaryExposureKey {
        days_since_onset_of_symptoms: Some(-14),
        ..every_field()
    };
    let bytes = key.encode_to_vec();
    let short = decode_plain_key_message(&bytes).expect("a plain message");
    assert_eq!(Ok(short), decode_any_key_message(&bytes));
    assert_eq!(short.rolling_start_interval_number, Some(2_988_000));
    // A negative int32 takes ten bytes: left to the general path.
    let negative = proto::TemporaryExposureKey {
        report_type: Some(-1),
        ..key
    }
    .encode_to_vec();
    assert_eq!(decode_plain_key_message(&negative), None);
    assert!(decode_key_message(&negative).is_ok());
}
