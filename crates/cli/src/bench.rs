//! `bluezone bench`: benchmarks that compare our pipeline with a baseline in the same run,
//! on the same data. Their figures go in docs/PERFORMANCE.md.
//!
//! `bench ingest` feeds a synthetic history (see `bluezone sim history`) scan by scan to two
//! stores side by side: ours (a [`Tracer`]: validate, fold per RPI and scan, seal one chunk
//! per batch, compact daily) and a baseline that seals every advert as its own row (what an
//! app that stores raw sightings does). It prints adverts per second and bytes per day of
//! both, and ends with `adverts_per_second=<n>` for ours.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::{AdvertData, ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use bluezone_protocol::DayNumber;
use bluezone_sim::history::{HistoryGenerator, HistoryParams};
use bluezone_store::{Store, Table};
use clap::{Args, Subcommand};
use rand::SeedableRng;

use crate::output::CliError;

/// `bluezone bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Sighting ingest into the encrypted store: ours against one sealed row per advert.
    Ingest(IngestArgs),
}

/// Arguments of `bluezone bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Days of history.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=30))]
    days: u32,
    /// Phones around at every scan.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=2000))]
    contacts_per_scan: u32,
    /// Seed of the synthetic history.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs a `bench` subcommand.
pub fn run(command: &BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Ingest(args) => ingest(args),
    }
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Invalid(e.to_string())
}

fn ingest(args: &IngestArgs) -> Result<(), CliError> {
    let dir = tempfile::tempdir()?;
    let key = MasterKey::from_bytes([0x42; 32]);
    // A fixed end (2026-11-01 00:00 UTC) keeps runs comparable.
    let until = 1_793_491_200;
    let params = HistoryParams {
        days: args.days,
        contacts_per_scan: args.contacts_per_scan,
        seed: args.seed,
        until,
    };
    let clock = Arc::new(ManualClock::new(until - i64::from(args.days) * 86_400));
    let ours = Tracer::open_with(
        TracerConfig::default(),
        StorageLocation::File(dir.path().join("ours.db")),
        &key,
        clock.clone(),
        Box::new(rand::rngs::StdRng::seed_from_u64(1)),
    )
    .map_err(fail)?;
    let mut baseline = Store::open(
        &dir.path().join("baseline.db"),
        &key,
        Box::new(rand::rngs::StdRng::seed_from_u64(2)),
    )
    .map_err(fail)?;

    let mut generator = HistoryGenerator::new(&params).map_err(fail)?;
    let (mut ours_time, mut baseline_time) = (Duration::ZERO, Duration::ZERO);
    let mut last_day = None;
    let mut row = Vec::with_capacity(29);
    let mut rows: Vec<(DayNumber, Vec<u8>)> = Vec::new();
    while let Some(scan) = generator.next_scan().map_err(fail)? {
        clock.set(scan.end);
        let began = Instant::now();
        ours.record_sightings(&scan.sightings).map_err(fail)?;
        let day = scan.end.div_euclid(86_400);
        if last_day.is_some_and(|d| d != day) {
            ours.run_maintenance().map_err(fail)?;
        }
        last_day = Some(day);
        ours_time += began.elapsed();

        let began = Instant::now();
        rows.clear();
        for s in &scan.sightings {
            let AdvertData::Decoded(ad) = &s.advert else {
                continue;
            };
            row.clear();
            row.extend_from_slice(ad.rpi.as_bytes());
            row.extend_from_slice(ad.aem.as_bytes());
            row.extend_from_slice(&s.rssi.to_le_bytes());
            row.extend_from_slice(&s.time.to_le_bytes());
            let day = DayNumber::from_unix_seconds(s.time).map_err(fail)?;
            rows.push((day, row.clone()));
        }
        let items: Vec<(Table, DayNumber, &[u8])> = rows
            .iter()
            .map(|(d, r)| (Table::Sightings, *d, r.as_slice()))
            .collect();
        baseline.append_batch(&items).map_err(fail)?;
        baseline_time += began.elapsed();
    }
    let began = Instant::now();
    ours.run_maintenance().map_err(fail)?;
    ours_time += began.elapsed();

    let history = generator.finish();
    let first_day =
        DayNumber::from_unix_seconds(until - i64::from(args.days) * 86_400).map_err(fail)?;
    let last_day = DayNumber::from_unix_seconds(until).map_err(fail)?;
    let chunks = ours.sightings(first_day, last_day).map_err(fail)?;
    let encoded: usize = chunks
        .iter()
        .map(|(day, chunk)| chunk.encode(*day).map(|b| b.len()))
        .sum::<Result<usize, _>>()
        .map_err(fail)?;
    let instances: usize = chunks
        .iter()
        .flat_map(|(_, c)| c.records.iter().map(|r| r.instances.len()))
        .sum();
    let ours_bytes = ours.storage_stats().map_err(fail)?.bytes;
    let baseline_bytes = baseline.stats().map_err(fail)?.bytes;
    let adverts = history.adverts as f64;
    let ours_rate = adverts / ours_time.as_secs_f64().max(1e-9);
    let baseline_rate = adverts / baseline_time.as_secs_f64().max(1e-9);
    let days = f64::from(args.days);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "history: {} days, {} scans, {} contacts per scan, {} adverts, {} distinct RPIs",
        args.days,
        history.scans,
        args.contacts_per_scan,
        history.adverts,
        history.rpis.len()
    )?;
    writeln!(
        out,
        "ours:     {:>10.0} adverts/s  {:>8.3} MB/day  ({:.2} s, {} bytes)",
        ours_rate,
        ours_bytes as f64 / 1e6 / days,
        ours_time.as_secs_f64(),
        ours_bytes
    )?;
    writeln!(
        out,
        "ours, encoded sightings only: {:.3} MB/day ({} records, {} scan instances)",
        encoded as f64 / 1e6 / days,
        chunks.iter().map(|(_, c)| c.records.len()).sum::<usize>(),
        instances
    )?;
    writeln!(
        out,
        "baseline: {:>10.0} adverts/s  {:>8.3} MB/day  ({:.2} s, {} bytes; one sealed row per advert)",
        baseline_rate,
        baseline_bytes as f64 / 1e6 / days,
        baseline_time.as_secs_f64(),
        baseline_bytes
    )?;
    writeln!(
        out,
        "ratio: {:.1}x the ingest rate, {:.1}x less storage",
        ours_rate / baseline_rate,
        baseline_bytes as f64 / ours_bytes.max(1) as f64
    )?;
    writeln!(out, "adverts_per_second={ours_rate:.0}")?;
    Ok(())
}
