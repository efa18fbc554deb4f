#![doc = include_str!("../README.md")]

pub mod advert;
pub mod attenuation;
pub mod cwa;
pub mod error;
pub mod exchange;
mod hkdf16;
pub mod identifiers;
pub mod keyfile;
pub mod keys;
pub mod matching;
pub mod messages;
pub mod metadata;
pub mod refusal;
pub mod risk;
pub mod risk_config;
pub mod sightings;
pub mod time;
pub mod upload;

pub use advert::{AdvertError, Advertisement};
pub use error::Error;
pub use identifiers::{AssociatedEncryptedMetadata, RollingProximityIdentifier};
pub use keys::{
    AssociatedEncryptedMetadataKey, DerivedKeys, KeyLengthError, RollingProximityIdentifierKey,
    TemporaryExposureKey,
};
pub use metadata::{CalibrationConfidence, Metadata, MetadataError};
pub use time::{DayNumber, IntervalNumber, RollingPeriod, TimeError};
