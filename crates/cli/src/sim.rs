//! `bluezone sim`: simulations for QA. Today: `sim history`, which fills an encrypted store
//! with a synthetic history through the real ingest path, the fixture for matching benchmarks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bluezone_core::{ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use bluezone_sim::history::{HistoryParams, fill_history};
use clap::{Args, Subcommand};
use rand::SeedableRng;

use crate::hexarg::parse_hex_array;
use crate::output::CliError;

/// The shape of a synthetic history, shared by `sim history` and `bench ingest`.
#[derive(Debug, Args)]
pub struct HistoryShape {
    /// Days of history.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub days: u32,
    /// Phones around the recording phone at every scan.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub contacts_per_scan: u32,
    /// Seed for every random choice (the same seed gives the same history).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `bluezone sim ...`
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Fill an encrypted store with a synthetic history of sightings.
    History(HistoryArgs),
}

/// Arguments of `bluezone sim history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The database to fill (created if missing).
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The store's master key: 64 hex digits.
    #[arg(long, value_name = "HEX", value_parser = parse_hex_array::<32>)]
    key: [u8; 32],
    #[command(flatten)]
    shape: HistoryShape,
    /// Unix time (seconds) the history ends at (default: now).
    #[arg(long, value_name = "UNIX_SECONDS")]
    until: Option<i64>,
    /// Write every distinct RPI heard to this file, one hex per line.
    #[arg(long, value_name = "FILE")]
    dump_rpis: Option<PathBuf>,
    /// Write every contact's daily key to this file: `<tek hex> <rolling start>` per line.
    #[arg(long, value_name = "FILE")]
    dump_keys: Option<PathBuf>,
}

/// Runs a `sim` subcommand.
pub fn run(command: &SimCommand) -> Result<(), CliError> {
    match command {
        SimCommand::History(args) => history(args),
    }
}

fn history(args: &HistoryArgs) -> Result<(), CliError> {
    let until = args
        .until
        .unwrap_or_else(|| bluezone_core::Clock::now(&bluezone_core::SystemClock));
    let clock = Arc::new(ManualClock::new(
        until - i64::from(args.shape.days) * 86_400,
    ));
    let tracer = Tracer::open_with(
        TracerConfig::default(),
        StorageLocation::File(args.db.clone()),
        &MasterKey::from_bytes(args.key),
        clock.clone(),
        Box::new(rand::rngs::StdRng::seed_from_u64(args.shape.seed ^ 0x5eed)),
    )
    .map_err(|e| CliError::Invalid(format!("cannot open {}: {e}", args.db.display())))?;
    let params = HistoryParams {
        days: args.shape.days,
        contacts_per_scan: args.shape.contacts_per_scan,
        seed: args.shape.seed,
        until,
    };
    let history = fill_history(&tracer, &clock, &params)
        .map_err(|e| CliError::Invalid(format!("history stopped: {e}")))?;
    let stats = tracer
        .storage_stats()
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    if let Some(path) = &args.dump_rpis {
        let mut out = BufWriter::new(File::create(path)?);
        for rpi in &history.rpis {
            writeln!(out, "{rpi}")?;
        }
        out.flush()?;
    }
    if let Some(path) = &args.dump_keys {
        let mut out = BufWriter::new(File::create(path)?);
        for key in &history.contact_keys {
            writeln!(
                out,
                "{} {}",
                hex::encode(key.tek.expose_bytes()),
                key.rolling_start
            )?;
        }
        out.flush()?;
    }
    let secs = history.ingest_time.as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "history: {} days, {} scans, {} contacts per scan, seed {}",
        args.shape.days, history.scans, args.shape.contacts_per_scan, args.shape.seed
    )?;
    writeln!(
        out,
        "adverts: {} offered, {} accepted, {} refused",
        history.adverts,
        history.ingest.accepted,
        history.ingest.rejected()
    )?;
    writeln!(
        out,
        "ingest: {secs:.2} s in record_sightings, {:.0} adverts/s",
        history.adverts as f64 / secs.max(1e-9)
    )?;
    writeln!(
        out,
        "store: {} bytes on disk, {:.3} MB per day, {} distinct RPIs heard, {} contact keys",
        stats.bytes,
        stats.bytes as f64 / 1e6 / f64::from(args.shape.days),
        history.rpis.len(),
        history.contact_keys.len()
    )?;
    Ok(())
}
