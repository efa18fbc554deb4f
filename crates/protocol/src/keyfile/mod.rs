//! GAEN diagnosis-key files: a zip holding `export.bin` (the 16-byte header
//! `EK Export v1    ` and a protobuf `TemporaryExposureKeyExport`) and `export.sig` (a
//! protobuf `TEKSignatureList` of ECDSA P-256/SHA-256 signatures over all of `export.bin`).
//!
//! Reading is defensive and bounded ([`KeyFileLimits`]): the container, the signature and
//! every key are checked, and the signature is verified against configured [`TrustedKeys`]
//! before any key is returned. Writing produces files the GAEN apps accept (fields in number
//! order, `rolling_period` omitted when 144, as the reference server writes them).

mod container;
pub mod proto;
mod signature;
mod stream;

use prost::Message;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use signature::{KeyFileSigner, TrustedKey, TrustedKeys};
pub use stream::{
    KEYS_PER_CHUNK, KeyChunk, MAX_FIELD_BYTES, MAX_HEADER_BYTES, StreamedKeyFile, stream_key_file,
};

use crate::time::{IntervalNumber, RollingPeriod, SECONDS_PER_DAY, TEK_ROLLING_PERIOD};

/// The 16 bytes every `export.bin` starts with.
pub const EXPORT_HEADER: &[u8; 16] = b"EK Export v1    ";

/// The signature algorithm GAEN uses: ECDSA with SHA-256 (OID 1.2.840.10045.4.3.2).
pub const ECDSA_SHA256_OID: &str = "1.2.840.10045.4.3.2";

/// The earliest plausible key: 2020-01-01 00:00 UTC, before any exposure notification.
pub const EARLIEST_KEY_INTERVAL: u32 = 18_262 * TEK_ROLLING_PERIOD;

/// Size and count limits for reading key files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFileLimits {
    /// Largest zip accepted (default 64 MiB).
    pub max_zip_bytes: usize,
    /// Largest `export.bin` once inflated (default 96 MiB: 3 million keys).
    pub max_export_bytes: usize,
    /// Largest `export.sig` (default 64 KiB).
    pub max_signature_bytes: usize,
    /// Most keys in one file, `keys` and `revised_keys` together (default 3,000,000).
    pub max_keys: usize,
}

impl Default for KeyFileLimits {
    fn default() -> Self {
        Self {
            max_zip_bytes: 64 << 20,
            max_export_bytes: 96 << 20,
            max_signature_bytes: 64 << 10,
            max_keys: 3_000_000,
        }
    }
}

/// Why a key file was refused. Nothing of a refused file is used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyFileError {
    /// Larger than the limits allow.
    #[error("{what} is {found} bytes, more than the {max} allowed")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size (or the limit plus one when reading stopped there).
        found: u64,
        /// The limit.
        max: usize,
    },
    /// Not a readable zip archive.
    #[error("not a readable zip archive: {0}")]
    MalformedZip(String),
    /// An entry other than `export.bin` and `export.sig`, or one of them twice.
    #[error("unexpected zip entry {0:?}")]
    UnexpectedEntry(String),
    /// `export.bin` or `export.sig` is missing.
    #[error("the zip has no {0}")]
    MissingEntry(&'static str),
    /// `export.bin` does not start with `EK Export v1    `.
    #[error("export.bin does not start with the \"EK Export v1\" header")]
    BadHeader,
    /// `export.bin` is not a valid `TemporaryExposureKeyExport`.
    #[error("export.bin is malformed: {0}")]
    MalformedExport(String),
    /// `export.sig` is not a valid `TEKSignatureList`.
    #[error("export.sig is malformed: {0}")]
    MalformedSignatureList(String),
    /// `export.sig` holds no signature.
    #[error("the file is not signed")]
    NoSignature,
    /// A signature uses an algorithm other than ECDSA P-256 with SHA-256.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// No signature comes from a trusted key.
    #[error("no signature is from a trusted key (signers: {0})")]
    UnknownSigner(String),
    /// A trusted key's signature does not verify: the file was altered.
    #[error("the signature of {0} does not verify: the file was altered or is not theirs")]
    BadSignature(String),
    /// More keys than the limits allow.
    #[error("the file holds more than {0} keys")]
    TooManyKeys(usize),
    /// A key that cannot be right.
    #[error("key {index} is invalid: {reason}")]
    InvalidKey {
        /// Position of the key in the file (0-based, `keys` then `revised_keys`).
        index: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Header timestamps or batch numbers that cannot be right.
    #[error("the file's header is invalid: {0}")]
    InvalidHeader(&'static str),
    /// Writing failed (only for [`write_key_file`]).
    #[error("cannot write the key file: {0}")]
    Write(String),
}

/// How a positive result was established (GAEN `ReportType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ReportType {
    /// Not given.
    #[default]
    Unknown = 0,
    /// A positive test, confirmed by a health authority.
    ConfirmedTest = 1,
    /// A clinical diagnosis.
    ConfirmedClinicalDiagnosis = 2,
    /// Reported by the person, unconfirmed.
    SelfReport = 3,
    /// Reserved by GAEN.
    Recursive = 4,
    /// An earlier report was withdrawn.
    Revoked = 5,
}

impl ReportType {
    /// From the protobuf enum value.
    #[must_use]
    pub const fn from_i32(value: i32) -> Option<Self> {
        Some(match value {
            0 => Self::Unknown,
            1 => Self::ConfirmedTest,
            2 => Self::ConfirmedClinicalDiagnosis,
            3 => Self::SelfReport,
            4 => Self::Recursive,
            5 => Self::Revoked,
            _ => return None,
        })
    }
}

/// One published diagnosis key, checked and compact (public data: no zeroizing needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DiagnosisKey {
    /// The Temporary Exposure Key.
    pub key_data: [u8; 16],
    /// First interval it was used for.
    pub rolling_start: IntervalNumber,
    /// How many intervals it was used for.
    pub rolling_period: RollingPeriod,
    /// GAEN transmission risk level, 0 to 8 (0: not given).
    pub transmission_risk: u8,
    /// How the result was established.
    pub report_type: ReportType,
    /// Days from symptom onset to the key's day, −14 to 14, if known.
    pub days_since_onset: Option<i8>,
}

impl DiagnosisKey {
    /// The last interval (exclusive) this key was valid for.
    #[must_use]
    pub fn end_interval(&self) -> u64 {
        u64::from(self.rolling_start.get()) + u64::from(self.rolling_period.get())
    }

    fn to_proto(self) -> proto::TemporaryExposureKey {
        proto::TemporaryExposureKey {
            key_data: Some(self.key_data.to_vec()),
            transmission_risk_level: Some(i32::from(self.transmission_risk)),
            rolling_start_interval_number: i32::try_from(self.rolling_start.get()).ok(),
            rolling_period: (self.rolling_period != RollingPeriod::FULL_DAY)
                .then(|| i32::try_from(self.rolling_period.get()).unwrap_or(144)),
            report_type: (self.report_type != ReportType::Unknown)
                .then_some(self.report_type as i32),
            days_since_onset_of_symptoms: self.days_since_onset.map(i32::from),
        }
    }
}

/// What `export.bin` says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportInfo {
    /// Start of the window the keys were received in (Unix seconds).
    pub start_timestamp: u64,
    /// End of that window (Unix seconds).
    pub end_timestamp: u64,
    /// Region.
    pub region: String,
    /// 1-based number of this file in its batch.
    pub batch_num: i32,
    /// Files in the batch.
    pub batch_size: i32,
}

/// A key file whose signature verified, with its keys checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKeyFile {
    /// The header fields.
    pub info: ExportInfo,
    /// Keys released for the first time.
    pub keys: Vec<DiagnosisKey>,
    /// Keys whose report type changed (revisions, revocations).
    pub revised_keys: Vec<DiagnosisKey>,
    /// SHA-256 of `export.bin`: identifies the file's content.
    pub sha256: [u8; 32],
    /// `key_id-version` of the signature that verified.
    pub signer: String,
}

/// Reads a key file: container, signature (before anything else is trusted), header, keys.
///
/// # Errors
/// [`KeyFileError`] saying why the file was refused; never panics on any input.
pub fn read_key_file(
    zip: &[u8],
    trusted: &TrustedKeys,
    limits: &KeyFileLimits,
) -> Result<VerifiedKeyFile, KeyFileError> {
    let (export, sig) = container::read(zip, limits)?;
    // Hashing and parsing run side by side; nothing parsed is used unless the signature
    // verifies, and a signature failure is reported before any parse error.
    let (sha256, parsed) = rayon::join(
        || -> [u8; 32] { Sha256::digest(&export).into() },
        || parse_export(&export, limits),
    );
    let verified = signature::verify(&sha256, &sig, trusted)?;
    let (info, keys, revised_keys) = parsed?;
    if (verified.batch_num, verified.batch_size) != (info.batch_num, info.batch_size) {
        return Err(KeyFileError::InvalidHeader(
            "the signature's batch number does not match the file's",
        ));
    }
    let signer = verified.signer;
    Ok(VerifiedKeyFile {
        info,
        keys,
        revised_keys,
        sha256,
        signer,
    })
}

/// Verifies an `export.sig` over an `export.bin` (both already out of their zip); returns
/// the `key_id-version` of the trusted signer that verified.
///
/// # Errors
/// The signature errors of [`read_key_file`].
pub fn verify_signatures(
    export_bin: &[u8],
    export_sig: &[u8],
    trusted: &TrustedKeys,
) -> Result<String, KeyFileError> {
    let sha256: [u8; 32] = Sha256::digest(export_bin).into();
    signature::verify(&sha256, export_sig, trusted).map(|v| v.signer)
}

/// The `key_id-version` names that a file's signatures claim, without verifying anything (for
/// tools that ask "who signed this?").
///
/// # Errors
/// Container and signature-list errors.
pub fn claimed_signers(
    zip: &[u8],
    limits: &KeyFileLimits,
) -> Result<Vec<(String, String)>, KeyFileError> {
    let (_, sig) = container::read(zip, limits)?;
    let list = proto::TekSignatureList::decode(sig.as_slice())
        .map_err(|e| KeyFileError::MalformedSignatureList(e.to_string()))?;
    Ok(list
        .signatures
        .iter()
        .filter_map(|s| s.signature_info.as_ref())
        .map(|i| {
            (
                i.verification_key_id.clone().unwrap_or_default(),
                i.verification_key_version.clone().unwrap_or_default(),
            )
        })
        .collect())
}

/// Parses and checks an `export.bin` without any signature (for tools and fuzzing; never
/// trust keys that came this way).
///
/// Keys are decoded one at a time while walking the top-level message, straight into the
/// compact [`DiagnosisKey`], so a file of millions of keys never exists as protobuf structs.
///
/// # Errors
/// [`KeyFileError`] for a bad header, malformed protobuf, too many or invalid keys.
pub fn parse_export(
    export: &[u8],
    limits: &KeyFileLimits,
) -> Result<(ExportInfo, Vec<DiagnosisKey>, Vec<DiagnosisKey>), KeyFileError> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

    let malformed = |e: prost::DecodeError| KeyFileError::MalformedExport(e.to_string());
    let mut buf = export
        .strip_prefix(EXPORT_HEADER.as_slice())
        .ok_or(KeyFileError::BadHeader)?;
    // Every field but the keys, copied aside and decoded at the end.
    let mut header_fields = Vec::new();
    // Where each key message lies in `body`: offset, length, and whether it is a revision.
    let body = buf;
    let mut raw_keys: Vec<KeySpan> = Vec::new();
    while !buf.is_empty() {
        let field_start = buf;
        let (tag, wire_type) = decode_key(&mut buf).map_err(malformed)?;
        if matches!(tag, 7 | 8) && wire_type == WireType::LengthDelimited {
            let len = usize::try_from(decode_varint(&mut buf).map_err(malformed)?)
                .ok()
                .filter(|len| *len <= buf.len())
                .ok_or_else(|| KeyFileError::MalformedExport("a key runs past the end".into()))?;
            if raw_keys.len() == limits.max_keys {
                return Err(KeyFileError::TooManyKeys(limits.max_keys));
            }
            let offset = body.len() - buf.len();
            raw_keys.push(KeySpan {
                offset: u32::try_from(offset)
                    .map_err(|_| KeyFileError::TooManyKeys(limits.max_keys))?,
                len: u32::try_from(len).map_err(|_| KeyFileError::TooManyKeys(limits.max_keys))?,
                revised: tag == 8,
            });
            buf = &buf[len..];
        } else {
            skip_field(wire_type, tag, &mut buf, DecodeContext::default()).map_err(malformed)?;
            let consumed = field_start.len() - buf.len();
            header_fields.extend_from_slice(&field_start[..consumed]);
        }
    }
    let header =
        proto::TemporaryExposureKeyExport::decode(header_fields.as_slice()).map_err(malformed)?;
    let info = check_header(&header)?;
    let end_interval = info.end_timestamp / 600;
    let decode = |index: usize, span: &KeySpan| {
        let start = span.offset as usize;
        let bytes = &body[start..start + span.len as usize];
        let key = decode_key_message(bytes).map_err(KeyFileError::MalformedExport)?;
        check_key(index, &key, Some(end_interval))
    };
    // Keys are decoded and checked on every core, straight into their compact form; if any
    // is bad, a sequential pass finds the first one so the error is always the same.
    let all: Result<Vec<DiagnosisKey>, KeyFileError> = raw_keys
        .par_iter()
        .enumerate()
        .with_min_len(4096)
        .map(|(index, span)| decode(index, span))
        .collect();
    let all = match all {
        Ok(all) => all,
        Err(_) => {
            for (index, span) in raw_keys.iter().enumerate() {
                decode(index, span)?;
            }
            unreachable_error()?
        }
    };
    let (revised, keys): (Vec<_>, Vec<_>) = if raw_keys.iter().any(|s| s.revised) {
        let mut flags = raw_keys.iter().map(|s| s.revised);
        all.into_iter().partition(|_| flags.next().unwrap_or(false))
    } else {
        (Vec::new(), all)
    };
    Ok((info, keys, revised))
}

/// Where a key message lies in `export.bin`'s body.
#[derive(Debug, Clone, Copy)]
struct KeySpan {
    offset: u32,
    len: u32,
    revised: bool,
}

/// A parallel check failed but a sequential one did not: impossible, since both run the
/// same pure function; reported as malformed rather than trusted.
fn unreachable_error() -> Result<Vec<DiagnosisKey>, KeyFileError> {
    Err(KeyFileError::MalformedExport(
        "inconsistent key checks".into(),
    ))
}

/// Decodes one `TemporaryExposureKey` exactly as prost does (unknown fields skipped, the
/// last occurrence of a field wins) but without allocating: this runs once per key, millions
/// of times per file. `tests::key_decoder_agrees_with_prost` checks the two agree.
///
/// Messages as every server writes them (fields 1 to 6, single-byte tags, varints of at most
/// five bytes) take a short path; anything else, including every malformed message, the
/// general one.
fn decode_key_message(buf: &[u8]) -> Result<RawKey<'_>, String> {
    match decode_plain_key_message(buf) {
        Some(key) => Ok(key),
        None => decode_any_key_message(buf),
    }
}

/// [`decode_key_message`]'s short path: `None` for anything it does not read exactly as
/// prost would.
#[inline]
fn decode_plain_key_message(buf: &[u8]) -> Option<RawKey<'_>> {
    let mut key = RawKey::default();
    let mut at = 0;
    while let Some(&tag) = buf.get(at) {
        at += 1;
        if tag == 0x0a {
            // Field 1, length-delimited, a length below 128.
            let len = usize::from(*buf.get(at).filter(|len| **len < 0x80)?);
            key.key_data = Some(buf.get(at + 1..at + 1 + len)?);
            at += 1 + len;
            continue;
        }
        // Fields 2 to 6 as varints: tags 0x10, 0x18, 0x20, 0x28, 0x30.
        if tag & 7 != 0 || !(0x10..=0x30).contains(&tag) {
            return None;
        }
        let mut raw = 0u64;
        let mut shift = 0;
        loop {
            let byte = *buf.get(at)?;
            at += 1;
            raw |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
            if shift == 35 {
                // Longer varints (negative int32 values take ten bytes) go the long way.
                return None;
            }
        }
        key.set_varint(u32::from(tag >> 3), raw);
    }
    Some(key)
}

/// [`decode_key_message`]'s general path, through prost's primitives.
fn decode_any_key_message(mut buf: &[u8]) -> Result<RawKey<'_>, String> {
    use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
    let prost_error = |e: prost::DecodeError| e.to_string();
    let mut key = RawKey::default();
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(prost_error)?;
        match (tag, wire_type) {
            (1, WireType::LengthDelimited) => {
                let len = usize::try_from(decode_varint(&mut buf).map_err(prost_error)?)
                    .ok()
                    .filter(|len| *len <= buf.len())
                    .ok_or("key data runs past the end")?;
                key.key_data = Some(&buf[..len]);
                buf = &buf[len..];
            }
            (2..=6, WireType::Varint) => {
                key.set_varint(tag, decode_varint(&mut buf).map_err(prost_error)?);
            }
            (1..=6, _) => return Err(format!("field {tag} has the wrong wire type")),
            _ => skip_field(wire_type, tag, &mut buf, DecodeContext::default())
                .map_err(prost_error)?,
        }
    }
    Ok(key)
}

/// A `TemporaryExposureKey` borrowing its key bytes from the file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct RawKey<'a> {
    key_data: Option<&'a [u8]>,
    transmission_risk_level: Option<i32>,
    rolling_start_interval_number: Option<i32>,
    rolling_period: Option<i32>,
    report_type: Option<i32>,
    days_since_onset_of_symptoms: Option<i32>,
}

impl RawKey<'_> {
    /// Field `tag` (2 to 6) as the varint `raw` (the last occurrence wins, as in prost).
    #[inline]
    fn set_varint(&mut self, tag: u32, raw: u64) {
        #[expect(clippy::cast_possible_truncation, reason = "protobuf int32 semantics")]
        let value = if tag == 6 {
            // sint32: zigzag.
            ((raw >> 1) as i32) ^ -((raw & 1) as i32)
        } else {
            raw as i32
        };
        match tag {
            2 => self.transmission_risk_level = Some(value),
            3 => self.rolling_start_interval_number = Some(value),
            4 => self.rolling_period = Some(value),
            5 => self.report_type = Some(value),
            _ => self.days_since_onset_of_symptoms = Some(value),
        }
    }
}

fn check_header(m: &proto::TemporaryExposureKeyExport) -> Result<ExportInfo, KeyFileError> {
    let start = m.start_timestamp.unwrap_or(0);
    let end = m
        .end_timestamp
        .ok_or(KeyFileError::InvalidHeader("no end timestamp"))?;
    if start > end {
        return Err(KeyFileError::InvalidHeader(
            "start timestamp after end timestamp",
        ));
    }
    let earliest = u64::from(EARLIEST_KEY_INTERVAL) * 600;
    if end < earliest || end > u64::from(u32::MAX) * 600 {
        return Err(KeyFileError::InvalidHeader("end timestamp out of range"));
    }
    let batch_num = m.batch_num.unwrap_or(1);
    let batch_size = m.batch_size.unwrap_or(1);
    if batch_num < 1 || batch_size < batch_num || batch_size > 1_000_000 {
        return Err(KeyFileError::InvalidHeader("batch number out of range"));
    }
    Ok(ExportInfo {
        start_timestamp: start,
        end_timestamp: end,
        region: m.region.clone().unwrap_or_default(),
        batch_num,
        batch_size,
    })
}

/// Checks one key; `file_end_interval`, when given, bounds its rolling start (the check
/// comes third, after the key data and the earliest start).
fn check_key(
    index: usize,
    key: &RawKey<'_>,
    file_end_interval: Option<u64>,
) -> Result<DiagnosisKey, KeyFileError> {
    let invalid = |reason| KeyFileError::InvalidKey { index, reason };
    let key_data: [u8; 16] = key
        .key_data
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| invalid("key data is not 16 bytes"))?;
    let start = key.rolling_start_interval_number.unwrap_or(0);
    let start = u32::try_from(start)
        .ok()
        .filter(|s| *s >= EARLIEST_KEY_INTERVAL)
        .ok_or_else(|| invalid("rolling start before 2020"))?;
    if file_end_interval.is_some_and(|end| u64::from(start) > end + u64::from(TEK_ROLLING_PERIOD)) {
        return Err(invalid("rolling start after the file's end"));
    }
    let period = key.rolling_period.unwrap_or(144);
    let rolling_period = u32::try_from(period)
        .ok()
        .and_then(|p| RollingPeriod::new(p).ok())
        .ok_or_else(|| invalid("rolling period outside 1..=144"))?;
    let transmission_risk = key
        .transmission_risk_level
        .map_or(Ok(0), |t| {
            u8::try_from(t).ok().filter(|t| *t <= 8).ok_or(())
        })
        .map_err(|()| invalid("transmission risk outside 0..=8"))?;
    let report_type = ReportType::from_i32(key.report_type.unwrap_or(0))
        .ok_or_else(|| invalid("unknown report type"))?;
    let days_since_onset = key
        .days_since_onset_of_symptoms
        .map(|d| {
            i8::try_from(d)
                .ok()
                .filter(|d| (-14..=14).contains(d))
                .ok_or_else(|| invalid("days since onset outside -14..=14"))
        })
        .transpose()?;
    Ok(DiagnosisKey {
        key_data,
        rolling_start: IntervalNumber::new(start),
        rolling_period,
        transmission_risk,
        report_type,
        days_since_onset,
    })
}

/// Encodes `export.bin`: the header and the protobuf, fields in number order.
#[must_use]
pub fn encode_export(
    info: &ExportInfo,
    keys: &[DiagnosisKey],
    revised_keys: &[DiagnosisKey],
    signers: &[proto::SignatureInfo],
) -> Vec<u8> {
    let message = proto::TemporaryExposureKeyExport {
        start_timestamp: Some(info.start_timestamp),
        end_timestamp: Some(info.end_timestamp),
        region: Some(info.region.clone()),
        batch_num: Some(info.batch_num),
        batch_size: Some(info.batch_size),
        signature_infos: signers.to_vec(),
        keys: keys.iter().map(|k| k.to_proto()).collect(),
        revised_keys: revised_keys.iter().map(|k| k.to_proto()).collect(),
    };
    let mut out = Vec::with_capacity(16 + message.encoded_len());
    out.extend_from_slice(EXPORT_HEADER);
    message
        .encode(&mut out)
        .expect("a Vec grows to hold any message");
    out
}

/// Writes a signed key file: `export.bin` (keys sorted by key bytes, as the reference server
/// does, so upload order leaks nothing) and `export.sig`, in a zip.
///
/// # Errors
/// [`KeyFileError::Write`] if the zip cannot be assembled.
pub fn write_key_file(
    info: &ExportInfo,
    keys: &[DiagnosisKey],
    signer: &KeyFileSigner,
) -> Result<Vec<u8>, KeyFileError> {
    let mut sorted = keys.to_vec();
    sorted.sort_by_key(|k| k.key_data);
    let export = encode_export(info, &sorted, &[], &[signer.signature_info()]);
    let sig = signer.signature_list(&export, info.batch_num, info.batch_size);
    container::write(&export, &sig)
}

/// Zips an `export.bin` and its `export.sig` into a key file (Deflate, as the reference server
/// does), for tools that sign elsewhere or re-sign a file.
///
/// # Errors
/// [`KeyFileError::Write`] if the zip cannot be assembled.
pub fn zip_key_file(export_bin: &[u8], export_sig: &[u8]) -> Result<Vec<u8>, KeyFileError> {
    container::write(export_bin, export_sig)
}

/// Seconds in a day, re-exported for callers converting key days.
pub const DAY_SECONDS: i64 = SECONDS_PER_DAY;

#[cfg(test)]
mod tests;
