//! Risk configuration files into the reader, with the published sample's key trusted: never
//! a panic, and nothing is accepted (that key never signed a configuration).

#![no_main]

use bluezone_protocol::risk_config::read_risk_config;
use bluezone_protocol_fuzz::SAMPLE_TRUSTED;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert!(read_risk_config(data, &SAMPLE_TRUSTED).is_err());
});
