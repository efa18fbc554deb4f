//! `bluezone sim`: simulations for QA. `sim run` plays a scenario through real phones and a
//! real server and writes a report with plots; `sim sweep` re-scores a run under a grid of
//! risk parameters; `sim check` validates a scenario; `sim history` fills an encrypted store
//! with a synthetic history, the fixture for matching benchmarks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bluezone_core::{ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use bluezone_sim::history::{HistoryParams, fill_history};
use bluezone_sim::output::{write_run, write_sweep};
use bluezone_sim::run::{Options, Outcome, simulate};
use bluezone_sim::scenario::Scenario;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
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
    /// Nobody around from 23:00 to 07:00 in Vietnam (16:00 to 24:00 UTC).
    #[arg(long)]
    pub quiet_nights: bool,
}

/// `bluezone sim ...`
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Play a scenario: write report.json, report.md and plots into a folder.
    Run(RunArgs),
    /// Play a scenario once and score it under a grid of risk parameters (ROC curves).
    Sweep(RunArgs),
    /// Check a scenario file and say what is in it.
    Check(CheckArgs),
    /// Fill an encrypted store with a synthetic history of sightings.
    History(HistoryArgs),
}

/// Arguments of `bluezone sim run` and `sim sweep`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario (TOML), e.g. scenarios/supermarket.toml.
    pub scenario: PathBuf,
    /// Folder for the report and plots (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed for every random choice: the same scenario and seed give the same report.json.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulation time step, seconds.
    #[arg(long, default_value_t = 2.0, value_parser = parse_step)]
    pub step: f64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `bluezone sim check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The scenario (TOML).
    pub scenario: PathBuf,
}

fn parse_step(text: &str) -> Result<f64, String> {
    let step: f64 = text.parse().map_err(|_| "a number of seconds".to_owned())?;
    if (0.5..=10.0).contains(&step) {
        Ok(step)
    } else {
        Err("0.5 to 10 seconds".to_owned())
    }
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
        SimCommand::Run(args) => run_scenario(args, false),
        SimCommand::Sweep(args) => run_scenario(args, true),
        SimCommand::Check(args) => check(args),
    }
}

/// Reads and validates a scenario; errors name the file, line and field.
pub fn load_scenario(path: &Path) -> Result<Scenario, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    Scenario::parse(&text).map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))
}

fn check(args: &CheckArgs) -> Result<(), CliError> {
    let scenario = load_scenario(&args.scenario)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: valid. {} people in {} groups, {} day(s) from {}, {} event(s).",
        args.scenario.display(),
        scenario.person_names().len(),
        scenario.people.len(),
        scenario.days.get_ref(),
        scenario.date.get_ref(),
        scenario.events.len()
    )?;
    Ok(())
}

/// Plays a scenario with a progress bar on a terminal; returns the outcome and wall time.
pub fn play(
    scenario: &Scenario,
    seed: u64,
    step: f64,
    quiet: bool,
) -> Result<(Outcome, std::time::Duration), CliError> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1_000)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {percent}% ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!("simulating {}", scenario.name));
    let began = std::time::Instant::now();
    let options = Options {
        seed,
        step_s: step,
        all_pairs: false,
    };
    let outcome = simulate(scenario, options, &mut |p| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        bar.set_position((p.simulated_s / p.total_s * 1_000.0) as u64);
        if p.simulated_s >= p.total_s {
            bar.set_message("downloading and matching key files");
        }
    })
    .map_err(|e| CliError::Invalid(format!("simulation failed: {e}")))?;
    bar.finish_and_clear();
    Ok((outcome, began.elapsed()))
}

fn run_scenario(args: &RunArgs, sweep: bool) -> Result<(), CliError> {
    let scenario = load_scenario(&args.scenario)?;
    let (outcome, elapsed) = play(&scenario, args.seed, args.step, args.quiet)?;
    let mut written = write_run(&outcome, &args.out)?;
    let mut out = std::io::stdout().lock();
    let t = &outcome.report.totals;
    let percent =
        |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}%", v * 100.0));
    writeln!(
        out,
        "{}: {} people, {} positive. Close contacts notified {} of {} (recall {}), \
         notifications to close contacts {} of {} (precision {}), detection continuity {}.",
        outcome.report.scenario,
        t.people,
        t.positives,
        t.true_positives,
        t.true_positives + t.false_negatives,
        percent(t.recall),
        t.true_positives,
        t.true_positives + t.false_positives,
        percent(t.precision),
        percent(t.detection_continuity)
    )?;
    if sweep {
        let points = bluezone_sim::sweep::sweep(&outcome);
        written.extend(write_sweep(&outcome, &points, &args.out)?);
        writeln!(out, "swept {} risk parameter sets.", points.len())?;
    }
    for path in written {
        writeln!(out, "wrote {}", path.display())?;
    }
    writeln!(
        out,
        "{:.1} s ({} scans, {} adverts heard)",
        elapsed.as_secs_f64(),
        t.scans,
        t.adverts_heard
    )?;
    Ok(())
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
        quiet_nights: args.shape.quiet_nights,
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
