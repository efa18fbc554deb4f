//! The GAEN key-file messages (`export.proto` of the exposure-notifications server, proto2),
//! as prost structs written by hand (no build script, no protoc). Field numbers and types
//! must match the published schema exactly; `days_since_onset_of_symptoms` is `sint32`.

#![allow(missing_docs)] // The fields are the published schema's; see the module docs.

/// `TemporaryExposureKeyExport`: the body of `export.bin`, after the 16-byte header.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TemporaryExposureKeyExport {
    /// Start of the window the keys were received in (Unix seconds).
    #[prost(fixed64, optional, tag = "1")]
    pub start_timestamp: Option<u64>,
    /// End of that window (Unix seconds).
    #[prost(fixed64, optional, tag = "2")]
    pub end_timestamp: Option<u64>,
    /// Region, e.g. an ISO 3166 code or mobile country code.
    #[prost(string, optional, tag = "3")]
    pub region: Option<String>,
    /// 1-based number of this file in its batch.
    #[prost(int32, optional, tag = "4")]
    pub batch_num: Option<i32>,
    /// Number of files in the batch.
    #[prost(int32, optional, tag = "5")]
    pub batch_size: Option<i32>,
    /// Who signs the file.
    #[prost(message, repeated, tag = "6")]
    pub signature_infos: Vec<SignatureInfo>,
    /// Keys released for the first time.
    #[prost(message, repeated, tag = "7")]
    pub keys: Vec<TemporaryExposureKey>,
    /// Keys whose status changed (e.g. revoked).
    #[prost(message, repeated, tag = "8")]
    pub revised_keys: Vec<TemporaryExposureKey>,
}

/// `SignatureInfo`. Fields 1 and 2 are reserved (formerly app bundle id, package name).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SignatureInfo {
    #[prost(string, optional, tag = "3")]
    pub verification_key_version: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub verification_key_id: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub signature_algorithm: Option<String>,
}

/// `TemporaryExposureKey` as published.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct TemporaryExposureKey {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub key_data: Option<Vec<u8>>,
    #[prost(int32, optional, tag = "2")]
    pub transmission_risk_level: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub rolling_start_interval_number: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    pub rolling_period: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    pub report_type: Option<i32>,
    #[prost(sint32, optional, tag = "6")]
    pub days_since_onset_of_symptoms: Option<i32>,
}

/// `TEKSignatureList`: the content of `export.sig`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TekSignatureList {
    #[prost(message, repeated, tag = "1")]
    pub signatures: Vec<TekSignature>,
}

/// `TEKSignature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TekSignature {
    #[prost(message, optional, tag = "1")]
    pub signature_info: Option<SignatureInfo>,
    #[prost(int32, optional, tag = "2")]
    pub batch_num: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    pub batch_size: Option<i32>,
    /// ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }`.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub signature: Option<Vec<u8>>,
}
