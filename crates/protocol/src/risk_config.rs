//! The health authority's risk configuration as a signed file, so it can tune the risk model
//! (attenuation buckets, weights, the notification threshold) without an app release, the
//! way GAEN's `DailySummariesConfig` could be changed from the server.
//!
//! The file is JSON: an envelope holding the configuration document's exact bytes (base64)
//! and a `TEKSignatureList` over them (base64), made by the same signer as key files:
//!
//! ```json
//! {"config": "<base64 of the document>", "signatures": "<base64 TEKSignatureList>"}
//! ```
//!
//! The signature covers [`SIGNED_PREFIX`] followed by the document's bytes, so a key file's
//! signature can never be replayed as a configuration's (a key file's `export.bin` starts with
//! `EK Export v1`) nor the other way round. Reading checks, in order: the size, the envelope,
//! the signature (against the phone's trusted keys, before anything in the document is
//! believed), then the document: known fields only, the format and model named, every value in
//! range. A phone applies a configuration only if its `sequence` is higher than the one it
//! holds (see [`is_newer`]): an old file replayed cannot roll the parameters back.
//!
//! The document names its risk model, and `parameters` are read as that model's:
//! [`MODEL_GAEN_DAILY_SUMMARIES`] (the default, [`GaenParameters`]) or [`MODEL_CWA`]
//! (Corona-Warn-App's exposure-window model, [`CwaParameters`] in CWA's own camelCase schema).

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cwa::{CwaParameters, InvalidParameter};
use crate::keyfile::{KeyFileError, KeyFileSigner, ReportType, TrustedKeys, verify_signatures};
use crate::risk::{Infectiousness, RiskConfig};

/// What the signature covers before the document's bytes (domain separation from key files).
pub const SIGNED_PREFIX: &[u8] = b"BZ Risk Config v1\n";

/// The `format` every document names.
pub const FORMAT: &str = "bluezone-risk-config/1";

/// GAEN's daily-summary model ([`crate::risk`]), the default; its parameters are
/// [`GaenParameters`].
pub const MODEL_GAEN_DAILY_SUMMARIES: &str = "gaen-daily-summaries";

/// Corona-Warn-App's exposure-window model ([`crate::cwa`]); its parameters are
/// [`CwaParameters`].
pub const MODEL_CWA: &str = "cwa";

/// Largest file read, in bytes: a configuration is well under 4 KiB.
pub const MAX_FILE_BYTES: usize = 64 * 1024;

/// Largest weight GAEN accepts for a bucket, infectiousness, report type or transmission risk.
pub const MAX_WEIGHT: f64 = 2.5;

/// Why a risk configuration file was refused. Nothing from a file is quoted before its
/// signature verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RiskConfigError {
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("the risk configuration is {0} bytes, more than {MAX_FILE_BYTES}")]
    TooLarge(usize),
    /// Not the JSON envelope, or its base64 does not decode.
    #[error("the risk configuration file is malformed: {0}")]
    Malformed(&'static str),
    /// No trusted key signed it.
    #[error("the risk configuration's signature does not verify: {0}")]
    BadSignature(KeyFileError),
    /// The signed document is not a configuration this version reads.
    #[error("the risk configuration document is unreadable: {0}")]
    Document(String),
    /// A value is out of range.
    #[error("risk configuration field `{field}`: {problem}")]
    OutOfRange {
        /// The field, as named in the document.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The signed document: which model, its parameters, and the order of publication.
///
/// It is read by first taking `model`, then `parameters` as that model's (unknown fields are
/// refused everywhere); it is written field for field, so a GAEN document's bytes are what
/// they were before the CWA model existed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawDocument")]
pub struct RiskConfigDocument {
    /// Always [`FORMAT`].
    pub format: String,
    /// Publication order: each new configuration has a higher number; phones ignore a file
    /// whose number is not higher than the one they hold.
    pub sequence: u64,
    /// Unix seconds at which the authority issued it.
    pub issued_at: i64,
    /// The risk model: [`MODEL_GAEN_DAILY_SUMMARIES`] or [`MODEL_CWA`].
    pub model: String,
    /// The model's parameters (their kind always matches `model` in a document read).
    pub parameters: RiskModelParameters,
    /// Why it changed, for the officials' page and the audit log (at most 500 characters).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A document's parameters, by model. Written as the inner parameters alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RiskModelParameters {
    /// [`MODEL_GAEN_DAILY_SUMMARIES`].
    GaenDailySummaries(GaenParameters),
    /// [`MODEL_CWA`].
    Cwa(CwaParameters),
}

impl RiskModelParameters {
    /// The model these parameters are for.
    #[must_use]
    pub const fn model(&self) -> &'static str {
        match self {
            Self::GaenDailySummaries(_) => MODEL_GAEN_DAILY_SUMMARIES,
            Self::Cwa(_) => MODEL_CWA,
        }
    }

    /// GAEN's parameters, if these are.
    #[must_use]
    pub const fn gaen(&self) -> Option<&GaenParameters> {
        match self {
            Self::GaenDailySummaries(p) => Some(p),
            Self::Cwa(_) => None,
        }
    }

    /// GAEN's parameters to change, if these are.
    pub const fn gaen_mut(&mut self) -> Option<&mut GaenParameters> {
        match self {
            Self::GaenDailySummaries(p) => Some(p),
            Self::Cwa(_) => None,
        }
    }

    /// CWA's parameters, if these are.
    #[must_use]
    pub const fn cwa(&self) -> Option<&CwaParameters> {
        match self {
            Self::Cwa(p) => Some(p),
            Self::GaenDailySummaries(_) => None,
        }
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// [`RiskConfigError::OutOfRange`] naming the first field out of range (CWA's fields as
    /// CWA names them, e.g. `minutesAtAttenuationWeights.weight`).
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        match self {
            Self::GaenDailySummaries(p) => p.validate(),
            Self::Cwa(p) => p.validate().map_err(RiskConfigError::from),
        }
    }
}

impl From<InvalidParameter> for RiskConfigError {
    fn from(e: InvalidParameter) -> Self {
        Self::OutOfRange {
            field: e.field,
            problem: e.problem,
        }
    }
}

/// The document as read, before its parameters are read as its model's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    format: String,
    sequence: u64,
    issued_at: i64,
    model: String,
    parameters: serde_json::Value,
    #[serde(default)]
    note: String,
}

impl TryFrom<RawDocument> for RiskConfigDocument {
    type Error = String;

    fn try_from(raw: RawDocument) -> Result<Self, String> {
        let in_parameters = |e: serde_json::Error| format!("parameters: {e}");
        let parameters = match raw.model.as_str() {
            MODEL_GAEN_DAILY_SUMMARIES => RiskModelParameters::GaenDailySummaries(
                serde_json::from_value(raw.parameters).map_err(in_parameters)?,
            ),
            MODEL_CWA => RiskModelParameters::Cwa(
                serde_json::from_value(raw.parameters).map_err(in_parameters)?,
            ),
            _ => return Err("the model is not one this version knows".to_owned()),
        };
        Ok(Self {
            format: raw.format,
            sequence: raw.sequence,
            issued_at: raw.issued_at,
            model: raw.model,
            parameters,
            note: raw.note,
        })
    }
}

/// The parameters of GAEN's daily-summary model (the fields of [`RiskConfig`] an authority
/// may change), in the units an authority writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GaenParameters {
    /// Attenuation bucket bounds in dB, inclusive, strictly increasing.
    pub attenuation_thresholds_db: [u8; 3],
    /// Weight of each of the four buckets, 0 to 2.5.
    pub attenuation_weights: [f64; 4],
    /// Infectiousness for days since symptom onset −14 to 14.
    pub infectiousness_by_days_since_onset: [InfectiousnessName; 29],
    /// Infectiousness when a key carries no days since onset.
    pub infectiousness_when_unknown: InfectiousnessName,
    /// Weight of standard infectiousness, 0 to 2.5.
    pub standard_infectiousness_weight: f64,
    /// Weight of high infectiousness, 0 to 2.5.
    pub high_infectiousness_weight: f64,
    /// Weight per report type (unknown, confirmed test, clinical diagnosis, self report,
    /// recursive, revoked), 0 to 2.5.
    pub report_type_weights: [f64; 6],
    /// Report type assumed when a key has none (`confirmed_test`, ...).
    pub report_type_when_unknown: ReportTypeName,
    /// Weight per transmission risk level 0 to 8, 0 to 2.5.
    pub transmission_risk_weights: [f64; 9],
    /// Windows scoring fewer weighted minutes are ignored (0 to 30).
    pub minimum_window_weighted_minutes: f64,
    /// Exposures at most this many days old count (1 to 14).
    pub days_to_consider: u32,
    /// A day with at least this many weighted minutes notifies (more than 0, at most 1440).
    pub notify_weighted_minutes: f64,
}

/// [`Infectiousness`] as written in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfectiousnessName {
    /// Not infectious.
    None,
    /// Infectious.
    Standard,
    /// Most infectious.
    High,
}

/// [`ReportType`] as written in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportTypeName {
    /// Not given.
    Unknown,
    /// A confirmed test.
    ConfirmedTest,
    /// A clinical diagnosis.
    ConfirmedClinicalDiagnosis,
    /// Self-reported.
    SelfReport,
    /// Reserved by GAEN.
    Recursive,
    /// Withdrawn.
    Revoked,
}

impl From<Infectiousness> for InfectiousnessName {
    fn from(i: Infectiousness) -> Self {
        match i {
            Infectiousness::None => Self::None,
            Infectiousness::Standard => Self::Standard,
            Infectiousness::High => Self::High,
        }
    }
}

impl From<InfectiousnessName> for Infectiousness {
    fn from(i: InfectiousnessName) -> Self {
        match i {
            InfectiousnessName::None => Self::None,
            InfectiousnessName::Standard => Self::Standard,
            InfectiousnessName::High => Self::High,
        }
    }
}

impl From<ReportType> for ReportTypeName {
    fn from(r: ReportType) -> Self {
        match r {
            ReportType::Unknown => Self::Unknown,
            ReportType::ConfirmedTest => Self::ConfirmedTest,
            ReportType::ConfirmedClinicalDiagnosis => Self::ConfirmedClinicalDiagnosis,
            ReportType::SelfReport => Self::SelfReport,
            ReportType::Recursive => Self::Recursive,
            ReportType::Revoked => Self::Revoked,
        }
    }
}

impl From<ReportTypeName> for ReportType {
    fn from(r: ReportTypeName) -> Self {
        match r {
            ReportTypeName::Unknown => Self::Unknown,
            ReportTypeName::ConfirmedTest => Self::ConfirmedTest,
            ReportTypeName::ConfirmedClinicalDiagnosis => Self::ConfirmedClinicalDiagnosis,
            ReportTypeName::SelfReport => Self::SelfReport,
            ReportTypeName::Recursive => Self::Recursive,
            ReportTypeName::Revoked => Self::Revoked,
        }
    }
}

impl GaenParameters {
    /// The parameters of `risk` (its window length is GAEN's and not published).
    #[must_use]
    pub fn from_risk(risk: &RiskConfig) -> Self {
        Self {
            attenuation_thresholds_db: risk.attenuation_thresholds_db,
            attenuation_weights: risk.attenuation_weights,
            infectiousness_by_days_since_onset: risk
                .infectiousness_by_days_since_onset
                .map(InfectiousnessName::from),
            infectiousness_when_unknown: risk.infectiousness_when_unknown.into(),
            standard_infectiousness_weight: risk.standard_infectiousness_weight,
            high_infectiousness_weight: risk.high_infectiousness_weight,
            report_type_weights: risk.report_type_weights,
            report_type_when_unknown: risk.report_type_when_unknown.into(),
            transmission_risk_weights: risk.transmission_risk_weights,
            minimum_window_weighted_minutes: risk.minimum_window_score / 60.0,
            days_to_consider: risk.days_to_consider,
            notify_weighted_minutes: risk.notify_score / 60.0,
        }
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// [`RiskConfigError::OutOfRange`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        let out = |field, problem| Err(RiskConfigError::OutOfRange { field, problem });
        let [a, b, c] = self.attenuation_thresholds_db;
        if !(a < b && b < c) {
            return out("attenuation_thresholds_db", "must be strictly increasing");
        }
        let weights: [(&'static str, &[f64]); 5] = [
            ("attenuation_weights", &self.attenuation_weights),
            (
                "standard_infectiousness_weight",
                std::slice::from_ref(&self.standard_infectiousness_weight),
            ),
            (
                "high_infectiousness_weight",
                std::slice::from_ref(&self.high_infectiousness_weight),
            ),
            ("report_type_weights", &self.report_type_weights),
            ("transmission_risk_weights", &self.transmission_risk_weights),
        ];
        for (field, values) in weights {
            if !values.iter().all(|w| (0.0..=MAX_WEIGHT).contains(w)) {
                return out(field, "every weight is between 0 and 2.5");
            }
        }
        if !(0.0..=30.0).contains(&self.minimum_window_weighted_minutes) {
            return out("minimum_window_weighted_minutes", "must be 0 to 30");
        }
        if !(1..=14).contains(&self.days_to_consider) {
            return out("days_to_consider", "must be 1 to 14");
        }
        if !(self.notify_weighted_minutes > 0.0 && self.notify_weighted_minutes <= 1440.0) {
            return out(
                "notify_weighted_minutes",
                "must be more than 0 and at most 1440",
            );
        }
        Ok(())
    }

    /// The risk model's configuration: `base` (for what is not published: the window length)
    /// with these parameters.
    #[must_use]
    pub fn apply_to(&self, base: &RiskConfig) -> RiskConfig {
        RiskConfig {
            attenuation_thresholds_db: self.attenuation_thresholds_db,
            attenuation_weights: self.attenuation_weights,
            infectiousness_by_days_since_onset: self
                .infectiousness_by_days_since_onset
                .map(Infectiousness::from),
            infectiousness_when_unknown: self.infectiousness_when_unknown.into(),
            standard_infectiousness_weight: self.standard_infectiousness_weight,
            high_infectiousness_weight: self.high_infectiousness_weight,
            report_type_weights: self.report_type_weights,
            report_type_when_unknown: self.report_type_when_unknown.into(),
            transmission_risk_weights: self.transmission_risk_weights,
            minimum_window_score: self.minimum_window_weighted_minutes * 60.0,
            days_to_consider: self.days_to_consider,
            notify_score: self.notify_weighted_minutes * 60.0,
            ..base.clone()
        }
    }
}

impl RiskConfigDocument {
    /// A document publishing `risk` as number `sequence`, issued at `issued_at`.
    #[must_use]
    pub fn new(sequence: u64, issued_at: i64, risk: &RiskConfig, note: &str) -> Self {
        Self {
            format: FORMAT.to_owned(),
            sequence,
            issued_at,
            model: MODEL_GAEN_DAILY_SUMMARIES.to_owned(),
            parameters: RiskModelParameters::GaenDailySummaries(GaenParameters::from_risk(risk)),
            note: note.to_owned(),
        }
    }

    /// A document publishing CWA's model with `parameters` as number `sequence`.
    #[must_use]
    pub fn new_cwa(sequence: u64, issued_at: i64, parameters: CwaParameters, note: &str) -> Self {
        Self {
            format: FORMAT.to_owned(),
            sequence,
            issued_at,
            model: MODEL_CWA.to_owned(),
            parameters: RiskModelParameters::Cwa(parameters),
            note: note.to_owned(),
        }
    }

    /// Checks the format, the model (known, and the parameters' own), the note's length and
    /// every parameter.
    ///
    /// # Errors
    /// [`RiskConfigError::Document`] for another format or model,
    /// [`RiskConfigError::OutOfRange`] for a value out of range.
    pub fn validate(&self) -> Result<(), RiskConfigError> {
        if self.format != FORMAT {
            return Err(RiskConfigError::Document(format!("format is not {FORMAT}")));
        }
        if self.model != MODEL_GAEN_DAILY_SUMMARIES && self.model != MODEL_CWA {
            return Err(RiskConfigError::Document(
                "the model is not one this version knows".into(),
            ));
        }
        if self.model != self.parameters.model() {
            return Err(RiskConfigError::Document(format!(
                "the parameters are not the {} model's",
                self.model
            )));
        }
        if self.sequence == 0 {
            return Err(RiskConfigError::OutOfRange {
                field: "sequence",
                problem: "starts at 1",
            });
        }
        if self.note.chars().count() > 500 {
            return Err(RiskConfigError::OutOfRange {
                field: "note",
                problem: "at most 500 characters",
            });
        }
        self.parameters.validate()
    }
}

/// A configuration file whose signature verified and whose document is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedRiskConfig {
    /// The document.
    pub document: RiskConfigDocument,
    /// `key_id-version` of the signer.
    pub signer: String,
    /// SHA-256 of the whole file (its strong ETag, and what the audit log records).
    pub sha256: [u8; 32],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    config: String,
    signatures: String,
}

fn signed_bytes(document: &[u8]) -> Vec<u8> {
    [SIGNED_PREFIX, document].concat()
}

/// Signs `document` with `signer`: the file to publish.
///
/// # Errors
/// [`RiskConfigError`] if the document is invalid (nothing invalid is ever signed).
pub fn write_risk_config(
    document: &RiskConfigDocument,
    signer: &KeyFileSigner,
) -> Result<Vec<u8>, RiskConfigError> {
    document.validate()?;
    let bytes =
        serde_json::to_vec(document).map_err(|e| RiskConfigError::Document(e.to_string()))?;
    let envelope = Envelope {
        config: Base64::encode_string(&bytes),
        signatures: Base64::encode_string(&signer.signature_list(&signed_bytes(&bytes), 1, 1)),
    };
    serde_json::to_vec(&envelope).map_err(|e| RiskConfigError::Document(e.to_string()))
}

/// Reads a configuration file: size, envelope, signature (before the document is believed),
/// then the document.
///
/// # Errors
/// [`RiskConfigError`] saying why it was refused; never panics on any input.
pub fn read_risk_config(
    file: &[u8],
    trusted: &TrustedKeys,
) -> Result<VerifiedRiskConfig, RiskConfigError> {
    if file.len() > MAX_FILE_BYTES {
        return Err(RiskConfigError::TooLarge(file.len()));
    }
    let envelope: Envelope =
        serde_json::from_slice(file).map_err(|_| RiskConfigError::Malformed("not the envelope"))?;
    let bytes = Base64::decode_vec(&envelope.config)
        .map_err(|_| RiskConfigError::Malformed("the document is not base64"))?;
    let signatures = Base64::decode_vec(&envelope.signatures)
        .map_err(|_| RiskConfigError::Malformed("the signatures are not base64"))?;
    let signer = verify_signatures(&signed_bytes(&bytes), &signatures, trusted)
        .map_err(RiskConfigError::BadSignature)?;
    // The document is the authority's (its signature verified): serde's message, naming the
    // field and position, may be shown.
    let document: RiskConfigDocument =
        serde_json::from_slice(&bytes).map_err(|e| RiskConfigError::Document(e.to_string()))?;
    document.validate()?;
    Ok(VerifiedRiskConfig {
        document,
        signer,
        sha256: Sha256::digest(file).into(),
    })
}

/// Whether a configuration numbered `candidate` replaces the one numbered `held` (none held:
/// any does). Equal numbers do not: a file is applied once.
#[must_use]
pub const fn is_newer(held: Option<u64>, candidate: u64) -> bool {
    match held {
        Some(held) => candidate > held,
        None => true,
    }
}

#[cfg(test)]
mod tests;
