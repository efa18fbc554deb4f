//! Reading a key file in bounded memory: `export.bin` is inflated from the zip a window at a
//! time, hashed as it goes, and walked field by field; its keys are decoded and checked into
//! fixed-size [`KeyChunk`]s handed to the caller while the file is still being read. The
//! signature is verified over the hash once the last byte is read, and only then does
//! [`stream_key_file`] say whether the file is good: a caller holds whatever it made of the
//! chunks until then and drops it on an error (decision 0025).
//!
//! The results are those of [`read_key_file`](super::read_key_file), with the same errors
//! in the same order (container, then signature, then the walk of `export.bin`, its header,
//! its keys, then the batch), with one addition: a single top-level field other than a key
//! or an unknown length-delimited field may be at most [`MAX_FIELD_BYTES`], and the header
//! fields together at most [`MAX_HEADER_BYTES`] ([`KeyFileError::TooLarge`]), so that no
//! part of the file is ever held whole.
//!
//! Keys are checked against the file's end timestamp as the header fields before the first
//! key give it (the reference server writes the header first). A file whose header fields
//! come after its keys, or change the end timestamp after them, is checked again against
//! the final one in a second pass over the zip (no hashing, no chunks).

use std::io::{Cursor, Read};

use prost::Message;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use sha2::{Digest, Sha256};

use super::{
    DiagnosisKey, EXPORT_HEADER, ExportInfo, KeyFileError, KeyFileLimits, TrustedKeys,
    check_header, check_key, decode_key_message, proto, signature,
};

/// Keys per [`KeyChunk`] when a caller has no reason to choose: 16,384 keys (448 KB), a
/// task of about 10 ms of matching on one core.
pub const KEYS_PER_CHUNK: usize = 16_384;

/// The largest top-level field of `export.bin` read whole (16 KiB): every field but the
/// keys is a header field of a few bytes, and a key message is about 30 bytes.
pub const MAX_FIELD_BYTES: usize = 16 << 10;

/// The largest total of `export.bin`'s header fields (everything but the keys: 64 KiB).
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// Inflated bytes held at once.
const WINDOW_BYTES: usize = 256 << 10;

/// Below this many unparsed bytes the window is refilled before the next field.
const MIN_AVAILABLE: usize = 2 * MAX_FIELD_BYTES;

/// Keys of a key file as they are read, checked one by one but **not yet verified**: the
/// file's signature is known only when [`stream_key_file`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChunk {
    /// Position in the file of the first key of the chunk (0-based, in file order).
    pub first_index: usize,
    /// Whether these are `revised_keys` (else `keys`, released for the first time).
    pub revised: bool,
    /// The keys, in file order.
    pub keys: Vec<DiagnosisKey>,
}

/// A key file read by [`stream_key_file`] whose signature verified: everything but its keys,
/// which went to the caller in chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedKeyFile {
    /// The header fields.
    pub info: ExportInfo,
    /// How many keys released for the first time it holds.
    pub keys: usize,
    /// How many revised keys it holds.
    pub revised_keys: usize,
    /// SHA-256 of `export.bin`: identifies the file's content.
    pub sha256: [u8; 32],
    /// `key_id-version` of the signature that verified.
    pub signer: String,
}

/// Reads a key file in bounded memory, handing its keys to `on_chunk` in chunks of at most
/// `keys_per_chunk` while it is read; returns once the signature is verified and every
/// check is done. The memory taken does not grow with the number of keys: the window of
/// inflated bytes, the header fields and one chunk.
///
/// **The chunks come from a file whose signature is not yet checked**: act on nothing made
/// of them unless this returns `Ok`. Once a key is found invalid no more chunks are given
/// (the file will be refused).
///
/// # Errors
/// The errors of [`read_key_file`](super::read_key_file), and [`KeyFileError::TooLarge`]
/// for a field beyond [`MAX_FIELD_BYTES`] or header fields beyond [`MAX_HEADER_BYTES`].
pub fn stream_key_file(
    zip: &[u8],
    trusted: &TrustedKeys,
    limits: &KeyFileLimits,
    keys_per_chunk: usize,
    on_chunk: &mut dyn FnMut(KeyChunk),
) -> Result<StreamedKeyFile, KeyFileError> {
    let (mut archive, export_index, sig) = open(zip, limits)?;
    let mut walk = Walk::new(limits, keys_per_chunk.max(1), None);
    let sha256 = pump(
        &mut archive,
        export_index,
        limits,
        &mut walk,
        on_chunk,
        true,
    )?;
    let verified = signature::verify(&sha256, &sig, trusted)?;
    if let Some(error) = walk.error {
        return Err(error);
    }
    let header = proto::TemporaryExposureKeyExport::decode(walk.header_fields.as_slice())
        .map_err(|e| KeyFileError::MalformedExport(e.to_string()))?;
    let info = check_header(&header)?;
    let end_interval = info.end_timestamp / 600;
    let key_error = if walk.index > 0 && walk.end_used != Some(end_interval) {
        // The keys were checked against another end than the file's final one.
        let mut again = Walk::new(limits, 1, Some(end_interval));
        let (mut archive, export_index, _) = open(zip, limits)?;
        pump(
            &mut archive,
            export_index,
            limits,
            &mut again,
            &mut |_| {},
            false,
        )?;
        again.key_error
    } else {
        walk.key_error
    };
    if let Some(error) = key_error {
        return Err(error);
    }
    if (verified.batch_num, verified.batch_size) != (info.batch_num, info.batch_size) {
        return Err(KeyFileError::InvalidHeader(
            "the signature's batch number does not match the file's",
        ));
    }
    Ok(StreamedKeyFile {
        info,
        keys: walk.keys,
        revised_keys: walk.revised_keys,
        sha256,
        signer: verified.signer,
    })
}

type Archive<'z> = zip::ZipArchive<Cursor<&'z [u8]>>;

/// Opens the zip: exactly `export.bin` and `export.sig` (in either order), sizes as declared
/// within the limits; reads `export.sig` (small) and returns the index of `export.bin`.
pub(super) fn open<'z>(
    zip: &'z [u8],
    limits: &KeyFileLimits,
) -> Result<(Archive<'z>, usize, Vec<u8>), KeyFileError> {
    let malformed = |e: zip::result::ZipError| KeyFileError::MalformedZip(e.to_string());
    if zip.len() > limits.max_zip_bytes {
        return Err(KeyFileError::TooLarge {
            what: "the zip",
            found: zip.len() as u64,
            max: limits.max_zip_bytes,
        });
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(malformed)?;
    let (mut export, mut sig) = (None, None);
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(malformed)?;
        let name = entry.name().map_err(malformed)?.into_owned();
        let (slot, what, max) = match name.as_str() {
            "export.bin" => (&mut export, "export.bin", limits.max_export_bytes),
            "export.sig" => (&mut sig, "export.sig", limits.max_signature_bytes),
            _ => {
                return Err(KeyFileError::UnexpectedEntry(
                    name.chars().take(64).collect(),
                ));
            }
        };
        if slot.is_some() {
            return Err(KeyFileError::UnexpectedEntry(name));
        }
        if entry.size() > max as u64 {
            return Err(KeyFileError::TooLarge {
                what,
                found: entry.size(),
                max,
            });
        }
        *slot = Some(i);
    }
    let export = export.ok_or(KeyFileError::MissingEntry("export.bin"))?;
    let sig_index = sig.ok_or(KeyFileError::MissingEntry("export.sig"))?;
    let max = limits.max_signature_bytes;
    let mut sig = Vec::new();
    archive
        .by_index(sig_index)
        .map_err(malformed)?
        .take(max as u64 + 1)
        .read_to_end(&mut sig)
        .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
    if sig.len() > max {
        return Err(KeyFileError::TooLarge {
            what: "export.sig",
            found: sig.len() as u64,
            max,
        });
    }
    Ok((archive, export, sig))
}

/// Inflates `export.bin` a window at a time into `walk` (hashing it when `hash`); returns
/// its SHA-256 (zeros when not hashing). Container errors end it at once.
fn pump(
    archive: &mut Archive<'_>,
    export_index: usize,
    limits: &KeyFileLimits,
    walk: &mut Walk<'_>,
    on_chunk: &mut dyn FnMut(KeyChunk),
    hash: bool,
) -> Result<[u8; 32], KeyFileError> {
    let mut entry = archive
        .by_index(export_index)
        .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
    let mut hasher = Sha256::new();
    let mut window = vec![0u8; WINDOW_BYTES];
    let (mut start, mut end, mut total, mut eof) = (0usize, 0usize, 0u64, false);
    let max = limits.max_export_bytes;
    loop {
        window.copy_within(start..end, 0);
        end -= start;
        start = 0;
        while !eof && end < window.len() {
            let read = entry
                .read(&mut window[end..])
                .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
            if read == 0 {
                eof = true;
            }
            total += read as u64;
            if total > max as u64 {
                return Err(KeyFileError::TooLarge {
                    what: "export.bin",
                    found: max as u64 + 1,
                    max,
                });
            }
            if hash {
                hasher.update(&window[end..end + read]);
            }
            end += read;
        }
        start += walk.feed(&window[start..end], eof, on_chunk);
        if eof {
            walk.finish(on_chunk);
            break;
        }
    }
    Ok(if hash {
        hasher.finalize().into()
    } else {
        [0; 32]
    })
}

/// The one-byte tag of field 7 (`keys`), length-delimited.
const KEY_TAG: u8 = 7 << 3 | 2;
/// The one-byte tag of field 8 (`revised_keys`), length-delimited.
const REVISED_KEY_TAG: u8 = 8 << 3 | 2;

/// The walk of `export.bin`'s top-level fields, fed window by window.
struct Walk<'l> {
    limits: &'l KeyFileLimits,
    keys_per_chunk: usize,
    /// The end interval keys are checked against when it is known beforehand.
    fixed_end: Option<u64>,
    /// The end interval the keys were checked against (`None`: none was known yet).
    end_used: Option<u64>,
    header_checked: bool,
    header_fields: Vec<u8>,
    /// Bytes of an unknown length-delimited field still to skip.
    skip: u64,
    /// Keys seen so far (both kinds), keys and revised keys.
    index: usize,
    keys: usize,
    revised_keys: usize,
    /// The first error in the walk itself (the walk stops there).
    error: Option<KeyFileError>,
    /// The first invalid key.
    key_error: Option<KeyFileError>,
    /// Whether a key is invalid whatever the end timestamp: no more chunks.
    refused: bool,
    chunk: KeyChunk,
}

impl<'l> Walk<'l> {
    fn new(limits: &'l KeyFileLimits, keys_per_chunk: usize, fixed_end: Option<u64>) -> Self {
        Self {
            limits,
            keys_per_chunk,
            fixed_end,
            end_used: None,
            header_checked: false,
            header_fields: Vec::new(),
            skip: 0,
            index: 0,
            keys: 0,
            revised_keys: 0,
            error: None,
            key_error: None,
            refused: false,
            chunk: KeyChunk {
                first_index: 0,
                revised: false,
                keys: Vec::new(),
            },
        }
    }

    /// Walks the fields of `bytes` (the unparsed part of the window; `eof` when nothing
    /// follows it); returns how many bytes it used. Leaves a field unparsed when it may not
    /// be whole yet.
    fn feed(&mut self, bytes: &[u8], eof: bool, on_chunk: &mut dyn FnMut(KeyChunk)) -> usize {
        let mut buf = bytes;
        while self.error.is_none() {
            if self.skip > 0 {
                let n = usize::try_from(self.skip)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                buf = &buf[n..];
                self.skip -= n as u64;
                if self.skip > 0 {
                    if eof {
                        self.fail(underflow());
                    }
                    break;
                }
            }
            if buf.is_empty() || (!eof && buf.len() < MIN_AVAILABLE) {
                break;
            }
            if !self.header_checked {
                match buf.strip_prefix(EXPORT_HEADER.as_slice()) {
                    Some(rest) => buf = rest,
                    None => self.fail(KeyFileError::BadHeader),
                }
                self.header_checked = true;
                continue;
            }
            match self.field(buf, eof, on_chunk) {
                Ok(rest) => buf = rest,
                Err(error) => self.fail(error),
            }
        }
        if self.error.is_some() {
            // The rest is only hashed.
            return bytes.len();
        }
        bytes.len() - buf.len()
    }

    /// At the end of `export.bin`: an empty one has no header; the last chunk goes out.
    fn finish(&mut self, on_chunk: &mut dyn FnMut(KeyChunk)) {
        if !self.header_checked && self.error.is_none() {
            self.fail(KeyFileError::BadHeader);
        }
        self.flush(on_chunk);
    }

    fn fail(&mut self, error: KeyFileError) {
        self.error.get_or_insert(error);
    }

    /// One top-level field at the start of `buf`; returns what follows it.
    fn field<'b>(
        &mut self,
        mut buf: &'b [u8],
        eof: bool,
        on_chunk: &mut dyn FnMut(KeyChunk),
    ) -> Result<&'b [u8], KeyFileError> {
        let malformed = |e: prost::DecodeError| KeyFileError::MalformedExport(e.to_string());
        let too_large = || KeyFileError::TooLarge {
            what: "a field of export.bin",
            found: MAX_FIELD_BYTES as u64 + 1,
            max: MAX_FIELD_BYTES,
        };
        // A key or revised key shorter than 128 bytes (every key a server writes): its tag
        // and length are one byte each.
        if let [tag @ (KEY_TAG | REVISED_KEY_TAG), len, ref rest @ ..] = *buf
            && len < 0x80
            && usize::from(len) <= rest.len()
        {
            if self.index == self.limits.max_keys {
                return Err(KeyFileError::TooManyKeys(self.limits.max_keys));
            }
            let (message, rest) = rest.split_at(usize::from(len));
            self.key(message, tag == REVISED_KEY_TAG, on_chunk);
            return Ok(rest);
        }
        let field_start = buf;
        let (tag, wire_type) = decode_key(&mut buf).map_err(malformed)?;
        if matches!(tag, 7 | 8) && wire_type == WireType::LengthDelimited {
            let len = decode_varint(&mut buf).map_err(malformed)?;
            if len > MAX_FIELD_BYTES as u64 {
                return Err(too_large());
            }
            let len = usize::try_from(len)
                .ok()
                .filter(|len| *len <= buf.len())
                .ok_or_else(|| {
                    if eof {
                        KeyFileError::MalformedExport("a key runs past the end".into())
                    } else {
                        too_large()
                    }
                })?;
            if self.index == self.limits.max_keys {
                return Err(KeyFileError::TooManyKeys(self.limits.max_keys));
            }
            self.key(&buf[..len], tag == 8, on_chunk);
            return Ok(&buf[len..]);
        }
        if tag > 8 && wire_type == WireType::LengthDelimited {
            // Unknown to the message: kept with the header fields when small, as the
            // in-memory reader keeps it (prost then skips it); skipped as it streams by when
            // larger, whatever its length.
            let mut after = buf;
            let len = decode_varint(&mut after).map_err(malformed)?;
            if len > MAX_FIELD_BYTES as u64 {
                let here = usize::try_from(len).unwrap_or(usize::MAX).min(after.len());
                self.skip = len - here as u64;
                return Ok(&after[here..]);
            }
        }
        skip_field(wire_type, tag, &mut buf, DecodeContext::default())
            .map_err(|e| if eof { malformed(e) } else { too_large() })?;
        let consumed = field_start.len() - buf.len();
        if consumed > MAX_FIELD_BYTES {
            return Err(too_large());
        }
        if self.header_fields.len() + consumed > MAX_HEADER_BYTES {
            return Err(KeyFileError::TooLarge {
                what: "the header fields of export.bin",
                found: (self.header_fields.len() + consumed) as u64,
                max: MAX_HEADER_BYTES,
            });
        }
        self.header_fields
            .extend_from_slice(&field_start[..consumed]);
        Ok(buf)
    }

    /// One key message: decoded, checked, into the chunk.
    fn key(&mut self, message: &[u8], revised: bool, on_chunk: &mut dyn FnMut(KeyChunk)) {
        let index = self.index;
        if index == 0 {
            self.end_used = self.fixed_end.or_else(|| {
                proto::TemporaryExposureKeyExport::decode(self.header_fields.as_slice())
                    .ok()
                    .and_then(|h| h.end_timestamp)
                    .map(|end| end / 600)
            });
        }
        self.index += 1;
        if revised {
            self.revised_keys += 1;
        } else {
            self.keys += 1;
        }
        if self.refused {
            return;
        }
        let raw = match decode_key_message(message) {
            Ok(raw) => raw,
            Err(e) => {
                self.key_error
                    .get_or_insert(KeyFileError::MalformedExport(e));
                self.refused = true;
                return;
            }
        };
        match check_key(index, &raw, None) {
            Ok(key) => {
                if let Some(end) = self.end_used
                    && u64::from(key.rolling_start.get())
                        > end + u64::from(crate::time::TEK_ROLLING_PERIOD)
                {
                    self.key_error.get_or_insert(KeyFileError::InvalidKey {
                        index,
                        reason: "rolling start after the file's end",
                    });
                }
                if self.fixed_end.is_some() {
                    // A re-check: nothing is handed out.
                    return;
                }
                if self.chunk.revised != revised || self.chunk.keys.len() >= self.keys_per_chunk {
                    self.flush(on_chunk);
                }
                if self.chunk.keys.is_empty() {
                    self.chunk.first_index = index;
                    self.chunk.revised = revised;
                    self.chunk.keys.reserve_exact(self.keys_per_chunk);
                }
                self.chunk.keys.push(key);
            }
            Err(_) => {
                // The reason as the full check gives it (the end check comes before some).
                let error = check_key(index, &raw, self.end_used).err().unwrap_or(
                    KeyFileError::InvalidKey {
                        index,
                        reason: "invalid",
                    },
                );
                self.key_error.get_or_insert(error);
                self.refused = true;
            }
        }
    }

    fn flush(&mut self, on_chunk: &mut dyn FnMut(KeyChunk)) {
        if self.chunk.keys.is_empty() {
            return;
        }
        let chunk = KeyChunk {
            first_index: self.chunk.first_index,
            revised: self.chunk.revised,
            keys: std::mem::take(&mut self.chunk.keys),
        };
        on_chunk(chunk);
    }
}

/// The error prost gives for a length-delimited field running past the end of its buffer
/// (what the in-memory reader reports for an unknown field cut short).
fn underflow() -> KeyFileError {
    let mut one: &[u8] = &[1];
    let error = skip_field(
        WireType::LengthDelimited,
        20,
        &mut one,
        DecodeContext::default(),
    )
    .err()
    .map_or_else(|| "buffer underflow".to_owned(), |e| e.to_string());
    KeyFileError::MalformedExport(error)
}
