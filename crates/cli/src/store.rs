//! `bluezone store`: inspect an encrypted store without changing it (a read-only open).

use std::io::Write;
use std::path::PathBuf;

use bluezone_store::{MasterKey, Store, StoreError};
use clap::{Args, Subcommand};

use crate::hexarg::parse_hex_array;
use crate::output::CliError;

/// `bluezone store ...`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Print the rows, days and bytes of a store.
    Stats(StatsArgs),
    /// Match key files against a store's sightings and show the exposure windows and the
    /// decision, without changing the store (unless `--record`).
    Match(crate::store_match::MatchArgs),
}

/// Arguments of `bluezone store stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The database file.
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The store's master key: 64 hex digits.
    #[arg(long, value_name = "HEX", value_parser = parse_hex_array::<32>)]
    key: [u8; 32],
}

/// Runs a `store` subcommand.
pub fn run(command: &StoreCommand) -> Result<(), CliError> {
    match command {
        StoreCommand::Stats(args) => stats(args),
        StoreCommand::Match(args) => crate::store_match::run(args),
    }
}

fn stats(args: &StatsArgs) -> Result<(), CliError> {
    if !args.db.is_file() {
        return Err(CliError::Invalid(format!(
            "no database at {}",
            args.db.display()
        )));
    }
    // Read-only: stats never creates, migrates, checkpoints or otherwise writes the file.
    let store =
        Store::open_read_only(&args.db, &MasterKey::from_bytes(args.key)).map_err(|e| match e {
            StoreError::WrongKey => CliError::Invalid(format!(
                "the key does not open {} (wrong key)",
                args.db.display()
            )),
            StoreError::NotAStore => {
                CliError::Invalid(format!("{} is not a Bluezone store", args.db.display()))
            }
            other => CliError::Invalid(format!("cannot open {}: {other}", args.db.display())),
        })?;
    let stats = store
        .stats()
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "database: {}", args.db.display())?;
    writeln!(out, "bytes: {}", stats.bytes)?;
    match (stats.days.first(), stats.days.last()) {
        (Some(first), Some(last)) => writeln!(
            out,
            "days: {} ({} to {})",
            stats.days.len(),
            first.to_civil_date(),
            last.to_civil_date()
        )?,
        _ => writeln!(out, "days: 0")?,
    }
    writeln!(
        out,
        "rows: {} (own keys {}, sightings {}, exposures {})",
        stats.rows, stats.rows_own_keys, stats.rows_sightings, stats.rows_exposures
    )?;
    Ok(())
}
