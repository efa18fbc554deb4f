//! `bluezone bench`: benchmarks that compare our pipeline with a baseline in the same run,
//! on the same data. Their figures go in docs/PERFORMANCE.md.
//!
//! `bench ingest` feeds a synthetic history (see `bluezone sim history`) scan by scan to two
//! stores side by side: ours (a [`Tracer`]: validate, fold per RPI and scan, seal one chunk
//! per batch, compact daily) and a baseline that seals every advert as its own row (what an
//! app that stores raw sightings does). It prints adverts per second and bytes per day of
//! both, and ends with `adverts_per_second=<n>` for ours.
//!
//! `bench sim` plays a scenario (by default the 2,000-phone district market) twice: with the
//! spatial grid, and comparing every pair of people present (the baseline). Both must give
//! the same report; it prints both times and ends with `seconds=<n>` for ours.

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
    /// Key-file processing end to end, against the bare crypto loop, on a 14-day history.
    Match(MatchArgs),
    /// A whole scenario through the simulator: the grid against comparing every pair.
    Sim(SimBenchArgs),
    /// The radio budget of the phone driver for a simulated day per platform and state,
    /// against the 2020 Bluezone app's duty cycle.
    Radio(crate::bench_radio::RadioArgs),
}

/// Arguments of `bluezone bench sim`.
#[derive(Debug, Args)]
pub struct SimBenchArgs {
    /// The scenario (default: the 2,000-phone district market).
    #[arg(default_value = "scenarios/district-market.toml")]
    scenario: std::path::PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skip the all-pairs baseline (it is the slow half).
    #[arg(long)]
    no_baseline: bool,
}

/// Arguments of `bluezone bench match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Diagnosis keys in the key file.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=3_000_000))]
    keys: u64,
    /// Worker threads for matching (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Days of history the phone holds.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=14))]
    days: u32,
    /// Phones around at every scan of the history.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=2000))]
    contacts_per_scan: u32,
    /// Seed of the history and the keys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Arguments of `bluezone bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    shape: crate::sim::HistoryShape,
}

/// Runs a `bench` subcommand.
pub fn run(command: &BenchCommand) -> Result<(), CliError> {
    match command {
        BenchCommand::Ingest(args) => ingest(args),
        BenchCommand::Match(args) => match_bench(args, &mut std::io::stdout().lock()).map(drop),
        BenchCommand::Sim(args) => sim_bench(args),
        BenchCommand::Radio(args) => crate::bench_radio::run(args),
    }
}

fn sim_bench(args: &SimBenchArgs) -> Result<(), CliError> {
    use bluezone_sim::run::{Options, simulate};
    let scenario = crate::sim::load_scenario(&args.scenario)?;
    let mut out = std::io::stdout().lock();
    let mut runs = Vec::new();
    for all_pairs in [false, true] {
        if all_pairs && args.no_baseline {
            break;
        }
        let options = Options {
            seed: args.seed,
            step_s: 2.0,
            all_pairs,
        };
        let began = Instant::now();
        let outcome = simulate(&scenario, options, &mut |_| {}).map_err(fail)?;
        let wall = began.elapsed();
        let t = &outcome.timings;
        let totals = &outcome.report.totals;
        writeln!(
            out,
            "{}: {:.2} s wall (setup {:.2} s, time loop {:.2} s of which ingest CPU {:.2} s, \
             uploads/downloads/matching {:.2} s); {} phones, {} scans, {} adverts heard",
            if all_pairs {
                "all pairs (baseline)"
            } else {
                "grid (ours)"
            },
            wall.as_secs_f64(),
            t.setup.as_secs_f64(),
            t.simulation.as_secs_f64(),
            t.ingest_cpu.as_secs_f64(),
            t.exposure.as_secs_f64(),
            totals.people,
            totals.scans,
            totals.adverts_heard
        )?;
        runs.push((wall, outcome.report.to_json().map_err(fail)?));
    }
    if let [(ours, a), (baseline, b)] = runs.as_slice() {
        writeln!(
            out,
            "speedup: {:.2}x; reports identical: {}",
            baseline.as_secs_f64() / ours.as_secs_f64().max(1e-9),
            a == b
        )?;
    }
    if let Some((ours, _)) = runs.first() {
        writeln!(out, "seconds={:.2}", ours.as_secs_f64())?;
    }
    Ok(())
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
        days: args.shape.days,
        contacts_per_scan: args.shape.contacts_per_scan,
        seed: args.shape.seed,
        until,
    };
    let clock = Arc::new(ManualClock::new(
        until - i64::from(args.shape.days) * 86_400,
    ));
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
        DayNumber::from_unix_seconds(until - i64::from(args.shape.days) * 86_400).map_err(fail)?;
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
    let days = f64::from(args.shape.days);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "history: {} days, {} scans, {} contacts per scan, {} adverts, {} distinct RPIs",
        args.shape.days,
        history.scans,
        args.shape.contacts_per_scan,
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

/// Peak resident memory of this process (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak so the next reading covers only what follows (Linux `clear_refs`).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The contact keys `bench match` puts in its key file, and what became of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MatchCounts {
    /// Contacts' real keys published in the file (the claim: keys the phone heard).
    published: usize,
    /// Of those, the keys with at least one identifier among the RPIs the history heard.
    heard: usize,
    /// Keys of the whole file that the matcher finds in the phone's stored sightings.
    matched: usize,
}

/// Runs `bench match`, printing its report to `out`.
fn match_bench(args: &MatchArgs, out: &mut impl Write) -> Result<MatchCounts, CliError> {
    use bluezone_protocol::keyfile::{
        DiagnosisKey, ExportInfo, KeyFileSigner, ReportType, TrustedKeys, read_key_file,
        write_key_file,
    };
    use bluezone_protocol::matching::{SightingIndex, match_keys};
    use bluezone_protocol::{IntervalNumber, RollingPeriod, TemporaryExposureKey};
    use rand::{Rng, RngExt};
    use rayon::prelude::*;

    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(fail)?;
    let until = 1_793_491_200; // 2026-11-01 00:00 UTC
    let signer = KeyFileSigner {
        key_id: "452".into(),
        version: "v1".into(),
        key: p256::ecdsa::SigningKey::from_slice(&[0x42; 32]).map_err(fail)?,
    };
    let processed_at = until + 3600;
    let clock = Arc::new(ManualClock::new(until - i64::from(args.days) * 86_400));
    let config = TracerConfig {
        trusted_signers: TrustedKeys::single(signer.trusted_key()),
        ..TracerConfig::default()
    };
    let tracer = Tracer::open_with(
        config.clone(),
        StorageLocation::InMemory,
        &MasterKey::from_bytes([0x42; 32]),
        clock.clone(),
        Box::new(rand::rngs::StdRng::seed_from_u64(args.seed)),
    )
    .map_err(fail)?;
    let params = HistoryParams {
        days: args.days,
        contacts_per_scan: args.contacts_per_scan,
        seed: args.seed,
        until,
    };
    let began = Instant::now();
    let history = bluezone_sim::history::fill_history(&tracer, &clock, &params).map_err(fail)?;
    let history_secs = began.elapsed().as_secs_f64();

    // The published keys: random ones spread over the history's days, plus a thousand of
    // the contacts' real keys, so that matching has something to find.
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0xd1a9);
    let first_day = u32::try_from((until / 86_400) - i64::from(args.days)).map_err(fail)?;
    let n = usize::try_from(args.keys).map_err(fail)?;
    let real = history.contact_keys.len().min(1000).min(n);
    let mut keys: Vec<DiagnosisKey> = history.contact_keys[..real]
        .iter()
        .map(|k| DiagnosisKey {
            key_data: *k.tek.expose_bytes(),
            rolling_start: k.rolling_start,
            rolling_period: RollingPeriod::FULL_DAY,
            transmission_risk: 0,
            report_type: ReportType::ConfirmedTest,
            days_since_onset: Some(0),
        })
        .collect();
    while keys.len() < n {
        let mut key_data = [0u8; 16];
        rng.fill_bytes(&mut key_data);
        let day = first_day + rng.random_range(0..args.days);
        keys.push(DiagnosisKey {
            key_data,
            rolling_start: IntervalNumber::new(day * 144),
            rolling_period: RollingPeriod::FULL_DAY,
            transmission_risk: 0,
            report_type: ReportType::ConfirmedTest,
            days_since_onset: Some(0),
        });
    }
    let info = ExportInfo {
        start_timestamp: u64::try_from(until).map_err(fail)?,
        end_timestamp: u64::try_from(until + 3600).map_err(fail)?,
        region: "452".into(),
        batch_num: 1,
        batch_size: 1,
    };
    let file = write_key_file(&info, &keys, &signer).map_err(fail)?;
    clock.set(processed_at);

    // The crypto bound: HKDF and 144 batched AES blocks per key, nothing else.
    let raw: Vec<[u8; 16]> = keys.iter().map(|k| k.key_data).collect();
    let starts: Vec<IntervalNumber> = keys.iter().map(|k| k.rolling_start).collect();
    drop(keys);
    let began = Instant::now();
    let checksum = pool.install(|| {
        raw.par_iter()
            .zip(starts.par_iter())
            .map(|(k, s)| {
                TemporaryExposureKey::from_bytes(*k)
                    .rpi_key()
                    .daily_identifiers(*s)[143]
                    .0[0]
            })
            .reduce(|| 0u8, |a, b| a ^ b)
    });
    let crypto_secs = began.elapsed().as_secs_f64();
    drop((raw, starts));

    let peak_resettable = reset_peak_rss();
    let before = peak_rss();
    let began = Instant::now();
    let status = pool
        .install(|| tracer.process_key_file(&file))
        .map_err(fail)?;
    let total_secs = began.elapsed().as_secs_f64();
    let peak = peak_rss();

    // The check of the claim, not timed: which published contact keys the history really
    // heard (re-derived from the RPIs it heard), and how many keys of the file the matcher
    // finds in the stored sightings (the same matcher, configuration and days as
    // `process_key_file` above).
    let heard = history.contact_keys[..real]
        .iter()
        .filter(|k| {
            k.tek
                .rpi_key()
                .daily_identifiers(k.rolling_start)
                .iter()
                .any(|rpi| history.rpis.binary_search(rpi).is_ok())
        })
        .count();
    let today = DayNumber::from_unix_seconds(processed_at).map_err(fail)?;
    let first_kept = DayNumber::new(today.get().saturating_sub(config.retention_days));
    let index = SightingIndex::build(&tracer.sightings(first_kept, today).map_err(fail)?);
    let verified =
        read_key_file(&file, &config.trusted_signers, &config.key_file_limits).map_err(fail)?;
    let matched = pool
        .install(|| match_keys(&index, &verified.keys, &config.matching))
        .len();
    drop((index, verified));

    let keys_f = args.keys as f64;
    let rate = keys_f / total_secs;
    writeln!(
        out,
        "history: {} days, {} contacts per scan, {} distinct RPIs heard ({history_secs:.1} s to build)",
        args.days,
        args.contacts_per_scan,
        history.rpis.len()
    )?;
    writeln!(
        out,
        "key file: {} keys, {} bytes zipped, {real} of them keys of contacts the phone heard \
         (re-derived: {heard} heard; matched against the phone's history: {matched})",
        args.keys,
        file.len()
    )?;
    writeln!(out, "threads: {threads}")?;
    writeln!(
        out,
        "crypto bound (HKDF + 144 AES per key): {crypto_secs:.3} s, {:.0} keys/s (checksum {checksum})",
        keys_f / crypto_secs
    )?;
    writeln!(
        out,
        "end to end (unzip, verify, parse, index, match, score, store): {total_secs:.3} s, {rate:.0} keys/s, {:.2}x the crypto bound",
        total_secs / crypto_secs
    )?;
    writeln!(
        out,
        "result: notify={} exposure days={} keys checked={}",
        status.notify,
        status.days.len(),
        status.keys_checked
    )?;
    match (peak_resettable, before, peak) {
        (true, Some(before), Some(peak)) => writeln!(
            out,
            "peak memory while processing: {:.1} MB (process before: {:.1} MB)",
            peak as f64 / 1e6,
            before as f64 / 1e6
        )?,
        (_, _, Some(peak)) => writeln!(
            out,
            "peak memory of the process: {:.1} MB",
            peak as f64 / 1e6
        )?,
        _ => writeln!(out, "peak memory: unavailable on this platform")?,
    }
    writeln!(out, "keys_per_second={rate:.0}")?;
    Ok(MatchCounts {
        published: real,
        heard,
        matched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key file's claim ("N of them keys of contacts the phone heard") is what the
    /// matcher finds: every published contact key was heard and matches, no random key does.
    #[test]
    fn bench_match_claims_what_the_matcher_finds() {
        for seed in [1, 2, 3] {
            let args = MatchArgs {
                keys: 2_000,
                threads: Some(2),
                days: 2,
                contacts_per_scan: 20,
                seed,
            };
            let mut out = Vec::new();
            let counts = match_bench(&args, &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(counts.published > 100, "seed {seed}: {counts:?}");
            assert_eq!(
                (counts.heard, counts.matched),
                (counts.published, counts.published),
                "seed {seed}:\n{out}"
            );
            let line = format!(
                "{} of them keys of contacts the phone heard (re-derived: {} heard; \
                 matched against the phone's history: {})",
                counts.published, counts.heard, counts.matched
            );
            assert!(out.contains(&line), "seed {seed}:\n{out}");
        }
    }
}
