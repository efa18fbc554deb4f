//! `bench match`'s files, so that other matchers can run the same workload: the key file
//! (`--write-keys`, `--keys-from`) and the phone's history as an RPI dump
//! (`--write-history`, `--history-from`).
//!
//! The RPI dump is text, one line per RPI heard in one scan:
//!
//! ```text
//! <ENIN> <RPI> <AEM> <RSSI> <TIME>
//! 2989152 5f1c...(32 hex digits) 9a0b11c2 -63 1793491500
//! ```
//!
//! ENIN: the GAEN interval number (Unix time / 600) of the scan; RPI: the 16-byte Rolling
//! Proximity Identifier in hex; AEM: its 4-byte Associated Encrypted Metadata in hex; RSSI:
//! the scan's typical RSSI for it in dBm; TIME: the scan's start (Unix seconds). Lines are in
//! time order; empty lines and lines starting with `#` are skipped. A matcher that only
//! looks RPIs up reads the first two columns; the metadata (transmit power) and the times
//! are what GAEN's matcher also uses.

use std::io::{BufRead, Write};
use std::path::Path;

use bluezone_core::{AdvertData, ManualClock, SightingInput, Tracer};
use bluezone_protocol::keyfile::{KeyFileSigner, TrustedKeys};
use bluezone_protocol::{
    Advertisement, AssociatedEncryptedMetadata, DayNumber, IntervalNumber,
    RollingProximityIdentifier,
};

use crate::output::CliError;

fn invalid(e: impl std::fmt::Display) -> CliError {
    CliError::Invalid(e.to_string())
}

/// Writes the sightings `tracer` stores for the days `from..=to` as an RPI dump; returns the
/// number of lines.
pub(crate) fn write_history(
    tracer: &Tracer,
    from: DayNumber,
    to: DayNumber,
    path: &Path,
) -> Result<usize, CliError> {
    let mut lines = Vec::new();
    for (_, chunk) in tracer.sightings(from, to).map_err(invalid)? {
        for record in &chunk.records {
            for instance in &record.instances {
                let Some(scan) = chunk.scans.get(instance.scan as usize) else {
                    continue;
                };
                lines.push((scan.start, record.rpi, record.aem, instance.typical_rssi));
            }
        }
    }
    lines.sort_unstable_by_key(|(time, rpi, ..)| (*time, rpi.0));
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "# bluezone RPI dump: <ENIN> <RPI hex> <AEM hex> <RSSI dBm> <scan start, Unix s>"
    )?;
    for (time, rpi, aem, rssi) in &lines {
        writeln!(
            out,
            "{} {} {} {rssi} {time}",
            time.div_euclid(600),
            hex::encode(rpi.0),
            hex::encode(aem.0)
        )?;
    }
    out.flush()?;
    Ok(lines.len())
}

/// A key's bytes and first interval, what the crypto bound works on.
pub(crate) type CryptoInput = ([u8; 16], IntervalNumber);

/// One line of an RPI dump.
fn parse_line(
    line: &str,
) -> Result<
    (
        i64,
        RollingProximityIdentifier,
        AssociatedEncryptedMetadata,
        i16,
    ),
    String,
> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [enin, rpi, aem, rssi, time] = fields.as_slice() else {
        return Err("expected <ENIN> <RPI> <AEM> <RSSI> <TIME>".into());
    };
    let enin: i64 = enin.parse().map_err(|_| "ENIN is not a number")?;
    let time: i64 = time.parse().map_err(|_| "TIME is not a number")?;
    if time.div_euclid(600) != enin {
        return Err("TIME is not in the interval ENIN".into());
    }
    let rpi: [u8; 16] = hex::decode(rpi)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("RPI is not 32 hex digits")?;
    let aem: [u8; 4] = hex::decode(aem)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("AEM is not 8 hex digits")?;
    let rssi: i16 = rssi.parse().map_err(|_| "RSSI is not a number")?;
    Ok((
        time,
        RollingProximityIdentifier(rpi),
        AssociatedEncryptedMetadata(aem),
        rssi,
    ))
}

/// What [`read_history`] fed the phone.
pub(crate) struct DumpedHistory {
    /// Distinct RPIs in the dump.
    pub(crate) rpis: usize,
    /// The last scan's time (Unix seconds).
    pub(crate) last_time: i64,
}

/// Feeds an RPI dump to `tracer` scan by scan (one scan per distinct time), the clock at each
/// scan, maintenance at every UTC day change and at the end, as a phone records them.
pub(crate) fn read_history(
    tracer: &Tracer,
    clock: &ManualClock,
    path: &Path,
) -> Result<DumpedHistory, CliError> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut rpis = std::collections::HashSet::new();
    let mut scan: Vec<SightingInput> = Vec::new();
    let (mut scans, mut last_day, mut last_time) = (0u64, None, i64::MIN);
    let mut flush = |scan: &mut Vec<SightingInput>, scans: &mut u64| -> Result<(), CliError> {
        let Some(time) = scan.first().map(|s| s.time) else {
            return Ok(());
        };
        clock.set(time + 4);
        tracer.record_sightings(scan).map_err(invalid)?;
        let day = time.div_euclid(86_400);
        if last_day.is_some_and(|d| d != day) {
            tracer.run_maintenance().map_err(invalid)?;
        }
        last_day = Some(day);
        scan.clear();
        *scans += 1;
        Ok(())
    };
    for (number, line) in file.lines().enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (time, rpi, aem, rssi) = parse_line(line)
            .map_err(|e| invalid(format!("{}:{}: {e}", path.display(), number + 1)))?;
        if time < last_time {
            return Err(invalid(format!(
                "{}:{}: lines are not in time order",
                path.display(),
                number + 1
            )));
        }
        if time != last_time {
            flush(&mut scan, &mut scans)?;
        }
        last_time = time;
        rpis.insert(rpi.0);
        scan.push(SightingInput {
            advert: AdvertData::Decoded(Advertisement { rpi, aem }),
            rssi,
            time,
            scan_window: Some(scans),
        });
    }
    flush(&mut scan, &mut scans)?;
    tracer.run_maintenance().map_err(invalid)?;
    if scans == 0 {
        return Err(invalid(format!("{}: no sightings", path.display())));
    }
    Ok(DumpedHistory {
        rpis: rpis.len(),
        last_time,
    })
}

/// `export.bin` out of a key file (a zip holding it), or the file itself when it already is
/// one (it starts with the `EK Export v1` header).
fn export_bin(bytes: &[u8]) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    if bytes.starts_with(bluezone_protocol::keyfile::EXPORT_HEADER) {
        return Ok(bytes.to_vec());
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(invalid)?;
    let mut export = Vec::new();
    archive
        .by_name("export.bin")
        .map_err(invalid)?
        .read_to_end(&mut export)?;
    Ok(export)
}

/// The key file at `path` (a zip or a bare `export.bin`) re-signed by `signer`, so that the
/// benchmark phone, which trusts only it, verifies it; the keys and header are the file's.
/// Returns the zip and each key's bytes and first interval (`keys` then `revised_keys`).
pub(crate) fn key_file_from(
    path: &Path,
    signer: &KeyFileSigner,
) -> Result<(Vec<u8>, Vec<CryptoInput>), CliError> {
    let export = export_bin(&std::fs::read(path)?)?;
    let limits = bluezone_sim::bench_fixtures::bench_key_file_limits();
    let (info, keys, revised) =
        bluezone_protocol::keyfile::parse_export(&export, &limits).map_err(invalid)?;
    let inputs = keys
        .iter()
        .chain(&revised)
        .map(|k| (k.key_data, k.rolling_start))
        .collect();
    let sig = signer.signature_list(&export, info.batch_num, info.batch_size);
    let zip = bluezone_protocol::keyfile::zip_key_file(&export, &sig).map_err(invalid)?;
    // Refuse now what the phone would refuse later.
    bluezone_protocol::keyfile::verify_signatures(
        &export,
        &sig,
        &TrustedKeys::single(signer.trusted_key()),
    )
    .map_err(invalid)?;
    Ok((zip, inputs))
}

/// Writes the benchmark's key file: the zip as it is, or its `export.bin` alone when `path`
/// ends in `.bin`.
pub(crate) fn write_keys(zip: &[u8], path: &Path) -> Result<(), CliError> {
    if path.extension().is_some_and(|e| e == "bin") {
        std::fs::write(path, export_bin(zip)?)?;
    } else {
        std::fs::write(path, zip)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_lines_parse_and_bad_ones_are_refused() {
        let line = format!("2989152 {} 9a0b11c2 -63 1793491500", "5f".repeat(16));
        let (time, rpi, aem, rssi) = parse_line(&line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((time, rssi), (1_793_491_500, -63));
        assert_eq!(rpi.0, [0x5f; 16]);
        assert_eq!(aem.0, [0x9a, 0x0b, 0x11, 0xc2]);
        assert!(parse_line("2989152 5f 9a0b11c2 -63 1793491500").is_err());
        let wrong_interval = format!("2989153 {} 9a0b11c2 -63 1793491500", "5f".repeat(16));
        assert!(parse_line(&wrong_interval).is_err());
        assert!(parse_line("1 2 3").is_err());
    }
}
