//! The zip container: exactly `export.bin` and `export.sig`, each read with a hard size limit
//! (a declared size is not trusted: reading stops at the limit).

use std::io::{Cursor, Read, Write};

use super::{KeyFileError, KeyFileLimits};

/// Returns `(export.bin, export.sig)`. The entries are checked (names, declared sizes) and
/// `export.sig` read as the streaming reader does ([`super::stream`]), so both report the
/// same fault first; then `export.bin` is read whole.
pub(super) fn read(zip: &[u8], limits: &KeyFileLimits) -> Result<(Vec<u8>, Vec<u8>), KeyFileError> {
    let (mut archive, export_index, sig) = super::stream::open(zip, limits)?;
    let max = limits.max_export_bytes;
    let mut entry = archive
        .by_index(export_index)
        .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(max));
    (&mut entry)
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
    if bytes.len() > max {
        return Err(KeyFileError::TooLarge {
            what: "export.bin",
            found: bytes.len() as u64,
            max,
        });
    }
    Ok((bytes, sig))
}

/// Zips `export.bin` and `export.sig` with Deflate, as the reference server does.
pub(super) fn write(export: &[u8], sig: &[u8]) -> Result<Vec<u8>, KeyFileError> {
    let err = |e: &dyn std::fmt::Display| KeyFileError::Write(e.to_string());
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in [("export.bin", export), ("export.sig", sig)] {
        zip.start_file(name, options).map_err(|e| err(&e))?;
        zip.write_all(bytes).map_err(|e| err(&e))?;
    }
    Ok(zip.finish().map_err(|e| err(&e))?.into_inner())
}
