//! `bluezone keys`: key inspection for QA.
//!
//! `keys rpi` prints, for consecutive intervals, the RPI and AEM a Temporary Exposure Key
//! produces: `<ENIN> <RPI hex> <AEM hex>`, one line per interval. The published GAEN test
//! vectors come out of it unchanged, so QA can check any phone's output against ours.

use std::io::{BufWriter, Write};

use bluezone_protocol::keys::TEK_LEN;
use bluezone_protocol::{AssociatedEncryptedMetadata, IntervalNumber, TemporaryExposureKey};
use clap::{Args, Subcommand};

use crate::hexarg::parse_hex_array;
use crate::output::CliError;

/// Most intervals one `keys rpi` call prints: 15 days.
const MAX_COUNT: u32 = 144 * 15;

/// `bluezone keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print `<ENIN> <RPI> <AEM>` for consecutive intervals of a TEK.
    Rpi(RpiArgs),
    /// Verify a diagnosis-key file against a public key and summarise it.
    Verify(VerifyArgs),
}

/// Arguments of `bluezone keys verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The key file (a zip with export.bin and export.sig).
    #[arg(value_name = "FILE.zip")]
    file: std::path::PathBuf,
    /// The signer's public key: base64 SubjectPublicKeyInfo, or a file holding it or a PEM.
    #[arg(long, value_name = "BASE64|FILE")]
    public_key: String,
    /// Trust the key only under this key id (default: whatever the file's signature claims).
    #[arg(long)]
    key_id: Option<String>,
    /// Trust the key only under this key version (default: whatever the signature claims).
    #[arg(long)]
    key_version: Option<String>,
}

/// Arguments of `bluezone keys rpi`.
#[derive(Debug, Args)]
pub struct RpiArgs {
    /// The Temporary Exposure Key: 32 hex digits.
    #[arg(long, value_name = "HEX", value_parser = parse_tek)]
    tek: TekArg,
    /// The first interval number (ENIN = unix seconds / 600).
    #[arg(long, value_name = "ENIN")]
    interval: u32,
    /// How many consecutive intervals to print.
    #[arg(long, default_value_t = 144, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_COUNT)))]
    count: u32,
    /// The 4 metadata bytes the AEM encrypts: 8 hex digits (40080000 is version 1.0, +8 dBm).
    #[arg(long, default_value = "40080000", value_name = "HEX", value_parser = parse_hex_array::<4>)]
    metadata: [u8; 4],
}

/// A TEK parsed from the command line (a newtype so clap can hold it).
#[derive(Debug, Clone)]
struct TekArg(TemporaryExposureKey);

fn parse_tek(text: &str) -> Result<TekArg, String> {
    parse_hex_array::<TEK_LEN>(text).map(|b| TekArg(TemporaryExposureKey::from_bytes(b)))
}

/// Runs a `keys` subcommand, writing to standard output.
pub fn run(command: &KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::Verify(args) => verify(args),
        KeysCommand::Rpi(args) => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            print_rpis(args, &mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}

/// The keys to trust for `zips`: `public_key` (base64 SubjectPublicKeyInfo, or a file holding
/// it or a PEM) under `key_id` and `key_version` when given, else under each id and version
/// the files' signatures claim.
///
/// # Errors
/// A file whose signature list cannot be read, or a public key that does not parse.
pub(crate) fn trusted_keys(
    zips: &[&[u8]],
    public_key: &str,
    key_id: Option<&str>,
    key_version: Option<&str>,
) -> Result<bluezone_protocol::keyfile::TrustedKeys, CliError> {
    use bluezone_protocol::keyfile::{KeyFileLimits, TrustedKey, TrustedKeys, claimed_signers};
    let key_text = std::fs::read_to_string(public_key).unwrap_or_else(|_| public_key.to_owned());
    let limits = KeyFileLimits::default();
    let mut names: Vec<(String, String)> = match (key_id, key_version) {
        (Some(id), Some(version)) => vec![(id.to_owned(), version.to_owned())],
        _ => {
            let mut claimed = Vec::new();
            for zip in zips {
                // A file whose signatures cannot be read is refused when it is read.
                claimed.extend(claimed_signers(zip, &limits).unwrap_or_default());
            }
            claimed
                .into_iter()
                .filter(|(id, version)| {
                    key_id.is_none_or(|k| k == id) && key_version.is_none_or(|v| v == version)
                })
                .collect()
        }
    };
    names.sort();
    names.dedup();
    let trusted = names
        .iter()
        .map(|(id, version)| TrustedKey::from_text(id, version, &key_text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Invalid(format!("--public-key: {e}")))?;
    Ok(TrustedKeys(trusted))
}

fn verify(args: &VerifyArgs) -> Result<(), CliError> {
    use bluezone_protocol::keyfile::{KeyFileLimits, read_key_file};
    let zip = std::fs::read(&args.file)
        .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", args.file.display())))?;
    let limits = KeyFileLimits::default();
    let refused = |why: String| CliError::Invalid(format!("refused: {why}"));
    let trusted = trusted_keys(
        &[&zip],
        &args.public_key,
        args.key_id.as_deref(),
        args.key_version.as_deref(),
    )?;
    let file = read_key_file(&zip, &trusted, &limits).map_err(|e| refused(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "verified: {} keys ({} revised), signed by {}",
        file.keys.len() + file.revised_keys.len(),
        file.revised_keys.len(),
        file.signer
    )?;
    writeln!(out, "region: {}", file.info.region)?;
    writeln!(
        out,
        "export window: {} to {} (unix seconds), batch {} of {}",
        file.info.start_timestamp,
        file.info.end_timestamp,
        file.info.batch_num,
        file.info.batch_size
    )?;
    let all = file.keys.iter().chain(&file.revised_keys);
    if let (Some(first), Some(last)) = (
        all.clone().map(|k| k.rolling_start.get()).min(),
        all.map(|k| k.end_interval()).max(),
    ) {
        writeln!(
            out,
            "keys valid: intervals {first} to {last} (unix seconds {} to {})",
            u64::from(first) * 600,
            last * 600
        )?;
    }
    writeln!(out, "sha256(export.bin): {}", hex::encode(file.sha256))?;
    Ok(())
}

fn print_rpis(args: &RpiArgs, out: &mut impl Write) -> Result<(), CliError> {
    let first = IntervalNumber::new(args.interval);
    if first.checked_add(args.count - 1).is_none() {
        return Err(CliError::Invalid(format!(
            "--interval {} plus --count {} runs past the last 32-bit interval number",
            args.interval, args.count
        )));
    }
    let keys = args.tek.0.derive_keys();
    let count = usize::try_from(args.count).expect("count is at most MAX_COUNT");
    let mut rpis = vec![Default::default(); count];
    keys.rpik.identifiers_into(first, &mut rpis);
    let mut aems = vec![AssociatedEncryptedMetadata::default(); count];
    keys.aemk.encrypt_many(&rpis, args.metadata, &mut aems);
    for (offset, (rpi, aem)) in (0u32..).zip(rpis.iter().zip(&aems)) {
        writeln!(out, "{} {rpi} {aem}", first.wrapping_add(offset))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(interval: u32, count: u32) -> RpiArgs {
        RpiArgs {
            tek: parse_tek("75c734c6dd1a782de7a965da5eb93125").unwrap(),
            interval,
            count,
            metadata: [0x40, 0x08, 0, 0],
        }
    }

    #[test]
    fn prints_the_spec_vector_lines() {
        let mut out = Vec::new();
        print_rpis(&args(2_642_976, 2), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2642976 8be6cd371c5c891604bfbe49df845096 72033874\n\
             2642977 3c9a1de5dd6b02afa7fded7b570b3e56 c29211b1\n"
        );
    }

    #[test]
    fn refuses_to_run_past_the_interval_range() {
        let mut out = Vec::new();
        let err = print_rpis(&args(u32::MAX, 2), &mut out).unwrap_err();
        assert!(err.to_string().contains("past the last"), "{err}");
        assert!(out.is_empty());
        assert!(print_rpis(&args(u32::MAX, 1), &mut out).is_ok());
    }
}
