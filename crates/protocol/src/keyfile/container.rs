//! The zip container: exactly `export.bin` and `export.sig`, each read with a hard size limit
//! (a declared size is not trusted: reading stops at the limit).

use std::io::{Cursor, Read, Write};

use super::{KeyFileError, KeyFileLimits};

/// Returns `(export.bin, export.sig)`.
pub(super) fn read(zip: &[u8], limits: &KeyFileLimits) -> Result<(Vec<u8>, Vec<u8>), KeyFileError> {
    if zip.len() > limits.max_zip_bytes {
        return Err(KeyFileError::TooLarge {
            what: "the zip",
            found: zip.len() as u64,
            max: limits.max_zip_bytes,
        });
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(zip))
        .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
    let mut export = None;
    let mut sig = None;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?
            .into_owned();
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
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(max));
        (&mut entry)
            .take(max as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| KeyFileError::MalformedZip(e.to_string()))?;
        if bytes.len() > max {
            return Err(KeyFileError::TooLarge {
                what,
                found: bytes.len() as u64,
                max,
            });
        }
        *slot = Some(bytes);
    }
    Ok((
        export.ok_or(KeyFileError::MissingEntry("export.bin"))?,
        sig.ok_or(KeyFileError::MissingEntry("export.sig"))?,
    ))
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
