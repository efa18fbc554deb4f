//! `bluezone bench`: benchmarks that compare our pipeline with a baseline in the same run,
//! on the same data. Their figures go in docs/PERFORMANCE.md.
//!
//! `bench ingest` feeds a synthetic history (see `bluezone sim history`) scan by scan to two
//! stores side by side: ours (a [`Tracer`]: validate, fold per RPI and scan, seal one chunk
//! per batch, compact daily) and a baseline that seals every advert as its own row (what an
//! app that stores raw sightings does). It prints adverts per second and bytes per day of
//! both, and ends with `adverts_per_second=<n>` for ours.
//!
//! `bench match` processes one signed key file of random keys and of contacts' real keys on a
//! phone holding a 14-day history, against the bare crypto bound, and checks that the contact
//! keys it publishes are heard and matched; it ends with `keys_per_second=<n>`.
//!
//! The histories, stores and key files these use are `bluezone_sim::bench_fixtures`; this
//! module parses arguments, times and prints.
//!
//! `bench sim` plays a scenario (by default the 2,000-phone district market) twice: with the
//! spatial grid, and comparing every pair of people present (the baseline). Both must give
//! the same report; it prints both times and ends with `seconds=<n>` for ours.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::{ExposureStatus, ManualClock, StorageLocation, Tracer, TracerConfig};
use bluezone_protocol::DayNumber;
use bluezone_sim::bench_fixtures::{
    MatchPhone, PROCESSED_AFTER_S, bench_history, bench_master_key, bench_signer, bench_tracer,
    crypto_bound, crypto_inputs, heard_contact_keys, key_file, published_keys, raw_sighting_rows,
};
use bluezone_sim::history::{History, HistoryGenerator, fill_history};
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
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
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
    /// Nobody around the phone from 23:00 to 07:00 in Vietnam (16:00 to 24:00 UTC): its
    /// scans hear nothing then, so the matcher derives and probes only the intervals of each
    /// key's day that could have been heard.
    #[arg(long)]
    quiet_nights: bool,
    /// Process this key file instead of a synthetic one: a zip holding `export.bin`, or a bare
    /// `export.bin`. Its keys and header are used as they are; its signature is replaced by
    /// the benchmark signer's, which the phone trusts.
    #[arg(long, value_name = "PATH")]
    keys_from: Option<std::path::PathBuf>,
    /// Fill the phone from this RPI dump instead of a synthetic history (needs
    /// `--keys-from`). One line per RPI heard in one scan, in time order:
    /// `<ENIN> <RPI hex> <AEM hex> <RSSI dBm> <scan start, Unix s>` (ENIN = start / 600;
    /// `#` starts a comment). A matcher that only looks RPIs up reads the first two columns.
    #[arg(long, value_name = "PATH", requires = "keys_from")]
    history_from: Option<std::path::PathBuf>,
    /// Write the key file processed to PATH (the zip, or `export.bin` alone if PATH ends in
    /// `.bin`), for other matchers.
    #[arg(long, value_name = "PATH")]
    write_keys: Option<std::path::PathBuf>,
    /// Write the phone's history to PATH as an RPI dump (see `--history-from`), for other
    /// matchers.
    #[arg(long, value_name = "PATH")]
    write_history: Option<std::path::PathBuf>,
    /// Skip the reference run (the whole file read into memory, then matched: the pipeline
    /// before decision 0025), which also cross-checks the matched count.
    #[arg(long)]
    no_reference: bool,
    /// Runs: each times the crypto bound, then the file processed on a fresh phone holding
    /// the same history, then the parts alone; the report gives the best of each, and every
    /// run's ratio (a shared machine's noise shows in their spread).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    runs: u32,
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
    writeln!(out, "{}", machine())?;
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

/// The machine a benchmark ran on, for its report: the CPU as Linux names it (with its family
/// and model numbers, which tell apart processors a virtual machine names alike), the CPUs
/// the process may use, and the architecture. Figures from different machines are not
/// comparable, and the machine is not always the same from one run of the suite to the next.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim().to_owned())
        })
    };
    let cpu = match (field("model name"), field("cpu family"), field("model")) {
        (Some(name), Some(family), Some(model)) => {
            format!("{name} (family {family}, model {model})")
        }
        (Some(name), _, _) => name,
        _ => "CPU not named by /proc/cpuinfo".to_owned(),
    };
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    format!("machine: {cpu}, {cpus} CPUs, {}", std::env::consts::ARCH)
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Invalid(e.to_string())
}

fn ingest(args: &IngestArgs) -> Result<(), CliError> {
    let dir = tempfile::tempdir()?;
    let shape = &args.shape;
    let params = bench_history(shape.days, shape.contacts_per_scan, shape.seed);
    let start = params.until - i64::from(shape.days) * 86_400;
    let clock = Arc::new(ManualClock::new(start));
    let ours = bench_tracer(
        TracerConfig::default(),
        StorageLocation::File(dir.path().join("ours.db")),
        clock.clone(),
        1,
    )
    .map_err(fail)?;
    let mut baseline = Store::open(
        &dir.path().join("baseline.db"),
        &bench_master_key(),
        Box::new(rand::rngs::StdRng::seed_from_u64(2)),
    )
    .map_err(fail)?;
    let mut generator = HistoryGenerator::new(&params).map_err(fail)?;
    let times = feed_both(&mut generator, &ours, &mut baseline, &clock)?;
    let history = generator.finish();
    let stored = StoredSightings::of(&ours, start, params.until)?;
    let sizes = (
        ours.storage_stats().map_err(fail)?.bytes,
        baseline.stats().map_err(fail)?.bytes,
    );
    print_ingest(
        &mut std::io::stdout().lock(),
        shape,
        &history,
        times,
        sizes,
        &stored,
    )
}

/// Feeds the generator's history scan by scan to our tracer (maintenance at every UTC day
/// change and at the end, as a phone runs it) and to the baseline store (one sealed row per
/// advert), timing each. Returns (ours, baseline).
fn feed_both(
    generator: &mut HistoryGenerator,
    ours: &Tracer,
    baseline: &mut Store,
    clock: &ManualClock,
) -> Result<(Duration, Duration), CliError> {
    let (mut ours_time, mut baseline_time) = (Duration::ZERO, Duration::ZERO);
    let mut last_day = None;
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
        raw_sighting_rows(&scan.sightings, &mut rows).map_err(fail)?;
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
    Ok((ours_time, baseline_time))
}

/// What our tracer keeps of the history, encoded: bytes, records and scan instances.
struct StoredSightings {
    encoded_bytes: usize,
    records: usize,
    instances: usize,
}

impl StoredSightings {
    /// The sightings `tracer` stores for the days from `start` to `until` (Unix seconds).
    fn of(tracer: &Tracer, start: i64, until: i64) -> Result<Self, CliError> {
        let first_day = DayNumber::from_unix_seconds(start).map_err(fail)?;
        let last_day = DayNumber::from_unix_seconds(until).map_err(fail)?;
        let chunks = tracer.sightings(first_day, last_day).map_err(fail)?;
        Ok(Self {
            encoded_bytes: chunks
                .iter()
                .map(|(day, chunk)| chunk.encode(*day).map(|b| b.len()))
                .sum::<Result<usize, _>>()
                .map_err(fail)?,
            records: chunks.iter().map(|(_, c)| c.records.len()).sum(),
            instances: chunks
                .iter()
                .flat_map(|(_, c)| c.records.iter().map(|r| r.instances.len()))
                .sum(),
        })
    }
}

/// Prints `bench ingest`'s report: the history, both rates and sizes per day (`sizes`: ours,
/// baseline, in bytes), their ratios, and `adverts_per_second=` for ours.
fn print_ingest(
    out: &mut impl Write,
    shape: &crate::sim::HistoryShape,
    history: &History,
    (ours_time, baseline_time): (Duration, Duration),
    (ours_bytes, baseline_bytes): (u64, u64),
    stored: &StoredSightings,
) -> Result<(), CliError> {
    let adverts = history.adverts as f64;
    let ours_rate = adverts / ours_time.as_secs_f64().max(1e-9);
    let baseline_rate = adverts / baseline_time.as_secs_f64().max(1e-9);
    let days = f64::from(shape.days);
    writeln!(out, "{}", machine())?;
    writeln!(
        out,
        "history: {} days, {} scans, {} contacts per scan, {} adverts, {} distinct RPIs",
        shape.days,
        history.scans,
        shape.contacts_per_scan,
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
        stored.encoded_bytes as f64 / 1e6 / days,
        stored.records,
        stored.instances
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
    /// Contacts' real keys published in the file (the claim: keys the phone heard; 0 for a
    /// key file from elsewhere).
    published: usize,
    /// Of those, the keys with at least one identifier among the RPIs the history heard.
    heard: usize,
    /// Keys of the whole file matched while it streamed in (as the phone matches).
    matched: usize,
    /// Keys matched by the reference path (read whole, then matched), if it ran.
    matched_reference: Option<usize>,
}

/// What `bench match` measured, for its report.
struct MatchFigures {
    threads: usize,
    keys: usize,
    rpis_heard: usize,
    history_secs: f64,
    file_bytes: usize,
    counts: MatchCounts,
    /// The crypto bound of each run, in seconds.
    crypto: Vec<f64>,
    checksum: u8,
    /// The processing of each run.
    processing: Vec<Processing>,
    /// The reference path: seconds and the peak memory it added.
    reference: Option<(f64, Peak)>,
    breakdown: Breakdown,
}

/// Where the time goes, each part timed alone on the same pool (seconds).
struct Breakdown {
    /// Reading the sightings and building the index.
    index: f64,
    /// Reading the file alone: inflate, hash, parse and check, verify (no matching).
    stream: f64,
    /// Matching the keys alone, already in memory.
    matching: f64,
}

/// Times the parts of processing `file` one by one.
fn breakdown(phone: &MatchPhone, file: &[u8], processed_at: i64) -> Result<Breakdown, CliError> {
    use bluezone_protocol::keyfile::{KEYS_PER_CHUNK, read_key_file, stream_key_file};
    use bluezone_protocol::matching::{SightingIndex, match_keys};
    let config = &phone.config;
    let today = DayNumber::from_unix_seconds(processed_at).map_err(fail)?;
    let first = DayNumber::new(today.get().saturating_sub(config.retention_days));
    let began = Instant::now();
    let index = SightingIndex::build(&phone.tracer.sightings(first, today).map_err(fail)?);
    let index_secs = began.elapsed().as_secs_f64();
    let began = Instant::now();
    let mut keys = 0;
    stream_key_file(
        file,
        &config.trusted_signers,
        &config.key_file_limits,
        KEYS_PER_CHUNK,
        &mut |chunk| keys += chunk.keys.len(),
    )
    .map_err(fail)?;
    let stream = began.elapsed().as_secs_f64();
    let verified =
        read_key_file(file, &config.trusted_signers, &config.key_file_limits).map_err(fail)?;
    let began = Instant::now();
    let matches = match_keys(&index, &verified.keys, &config.matching);
    let matching = began.elapsed().as_secs_f64();
    drop((matches, keys));
    Ok(Breakdown {
        index: index_secs,
        stream,
        matching,
    })
}

/// Whether the peak could be reset first, the peak before, the peak after.
type Peak = (bool, Option<u64>, Option<u64>);

/// Processing the key file: how long, what the phone decided, and the memory it took.
struct Processing {
    secs: f64,
    status: ExposureStatus,
    peak: Peak,
}

/// The key file `bench match` processes: synthetic (with its contact keys) or read from
/// `--keys-from`.
struct Workload {
    file: Vec<u8>,
    /// Each key's bytes and first interval, for the crypto bound.
    inputs: Vec<crate::bench_match_io::CryptoInput>,
    published: usize,
    heard: usize,
}

/// Runs `bench match`, printing its report to `out`.
fn match_bench(args: &MatchArgs, out: &mut impl Write) -> Result<MatchCounts, CliError> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(fail)?;
    let params = bluezone_sim::history::HistoryParams {
        quiet_nights: args.quiet_nights,
        ..bench_history(args.days, args.contacts_per_scan, args.seed)
    };
    let signer = bench_signer().map_err(fail)?;
    // One phone per run, each holding the same history (the file is processed once per
    // phone: a second time it would be already matched).
    let mut phones = Vec::new();
    let began = Instant::now();
    let (history, rpis_heard, processed_at) = {
        let mut filled = None;
        for _ in 0..args.runs {
            let phone = MatchPhone::open(&params, &signer).map_err(fail)?;
            filled = Some(match &args.history_from {
                Some(path) => {
                    let dumped =
                        crate::bench_match_io::read_history(&phone.tracer, &phone.clock, path)?;
                    (None, dumped.rpis, dumped.last_time + PROCESSED_AFTER_S)
                }
                None => {
                    let history =
                        fill_history(&phone.tracer, &phone.clock, &params).map_err(fail)?;
                    let rpis = history.rpis.len();
                    (Some(history), rpis, params.until + PROCESSED_AFTER_S)
                }
            });
            phones.push(phone);
        }
        filled.ok_or_else(|| fail("no run"))?
    };
    let history_secs = began.elapsed().as_secs_f64() / f64::from(args.runs);
    let workload = workload(args, history.as_ref(), &params, &signer)?;
    drop(history);
    for phone in &phones {
        phone.clock.set(processed_at);
    }
    let phone = &phones[0];
    if let Some(path) = &args.write_keys {
        crate::bench_match_io::write_keys(&workload.file, path)?;
    }
    if let Some(path) = &args.write_history {
        let today = DayNumber::from_unix_seconds(processed_at).map_err(fail)?;
        let first = DayNumber::new(today.get().saturating_sub(phone.config.retention_days));
        crate::bench_match_io::write_history(&phone.tracer, first, today, path)?;
    }

    // Everything made so far stays allocated until the end, so that the runs below cannot
    // reuse freed pages and look smaller than they are.
    let mut crypto = Vec::new();
    let mut processing = Vec::new();
    let mut breakdowns = Vec::new();
    let mut checksum = 0;
    for phone in &phones {
        let began = Instant::now();
        checksum = pool.install(|| crypto_bound(&workload.inputs));
        crypto.push(began.elapsed().as_secs_f64());
        let run = process(&pool, &phone.tracer, &workload.file)?;
        if processing
            .first()
            .is_some_and(|first: &Processing| first.status != run.status)
        {
            return Err(fail("two runs on the same history decided differently"));
        }
        processing.push(run);
    }
    let reference = if args.no_reference {
        None
    } else {
        let resettable = reset_peak_rss();
        let before = peak_rss();
        let began = Instant::now();
        let matched = pool
            .install(|| phone.matched_keys(&workload.file, processed_at))
            .map_err(fail)?;
        let secs = began.elapsed().as_secs_f64();
        Some((matched, secs, (resettable, before, peak_rss())))
    };
    // The parts after every measure of memory: reading whole files leaves pages behind.
    for phone in &phones {
        breakdowns.push(pool.install(|| breakdown(phone, &workload.file, processed_at))?);
    }
    let breakdown = Breakdown {
        index: best(breakdowns.iter().map(|b| b.index)),
        stream: best(breakdowns.iter().map(|b| b.stream)),
        matching: best(breakdowns.iter().map(|b| b.matching)),
    };
    // The check of the claim, not timed.
    let matched = pool
        .install(|| phone.matched_keys_streamed(&workload.file, processed_at))
        .map_err(fail)?;
    let counts = MatchCounts {
        published: workload.published,
        heard: workload.heard,
        matched,
        matched_reference: reference.map(|(m, ..)| m),
    };
    print_match(
        out,
        args,
        &MatchFigures {
            threads,
            keys: workload.inputs.len(),
            rpis_heard,
            history_secs,
            file_bytes: workload.file.len(),
            counts,
            crypto,
            checksum,
            processing,
            reference: reference.map(|(_, secs, peak)| (secs, peak)),
            breakdown,
        },
    )?;
    drop(workload);
    Ok(counts)
}

/// The key file of `args`: read from `--keys-from`, or `args.keys` synthetic keys for
/// `history` (which must then be given).
fn workload(
    args: &MatchArgs,
    history: Option<&History>,
    params: &bluezone_sim::history::HistoryParams,
    signer: &bluezone_protocol::keyfile::KeyFileSigner,
) -> Result<Workload, CliError> {
    if let Some(path) = &args.keys_from {
        let (file, inputs) = crate::bench_match_io::key_file_from(path, signer)?;
        return Ok(Workload {
            file,
            inputs,
            published: 0,
            heard: 0,
        });
    }
    let history = history.ok_or_else(|| fail("--history-from needs --keys-from"))?;
    let count = usize::try_from(args.keys).map_err(fail)?;
    let (keys, published) = published_keys(history, params, count).map_err(fail)?;
    let file = key_file(&keys, params, signer).map_err(fail)?;
    Ok(Workload {
        file,
        inputs: crypto_inputs(&keys),
        published,
        heard: heard_contact_keys(history, published),
    })
}

/// The smallest of some times (the least disturbed run on a shared machine).
fn best(times: impl Iterator<Item = f64>) -> f64 {
    times.fold(f64::INFINITY, f64::min)
}

/// Times `tracer` processing `file` on `pool`, with the peak memory it took.
fn process(pool: &rayon::ThreadPool, tracer: &Tracer, file: &[u8]) -> Result<Processing, CliError> {
    let resettable = reset_peak_rss();
    let before = peak_rss();
    let began = Instant::now();
    let status = pool
        .install(|| tracer.process_key_file(file))
        .map_err(fail)?;
    let secs = began.elapsed().as_secs_f64();
    Ok(Processing {
        secs,
        status,
        peak: (resettable, before, peak_rss()),
    })
}

/// The peak memory a run added, as a phrase.
fn peak_phrase(peak: Peak) -> String {
    match peak {
        (true, Some(before), Some(peak)) => format!(
            "{:.1} MB added (peak {:.1} MB, process before {:.1} MB)",
            peak.saturating_sub(before) as f64 / 1e6,
            peak as f64 / 1e6,
            before as f64 / 1e6
        ),
        (_, _, Some(peak)) => format!("unknown (peak of the process {:.1} MB)", peak as f64 / 1e6),
        _ => "unavailable on this platform".to_owned(),
    }
}

/// Prints `bench match`'s report, ending with `keys_per_second=`.
fn print_match(out: &mut impl Write, args: &MatchArgs, f: &MatchFigures) -> Result<(), CliError> {
    let keys = f.keys as f64;
    let crypto_secs = best(f.crypto.iter().copied());
    let total_secs = best(f.processing.iter().map(|p| p.secs));
    let rate = keys / total_secs;
    // The peak of the run that added the most.
    let peak = f
        .processing
        .iter()
        .map(|p| p.peak)
        .max_by_key(|(_, before, peak)| peak.zip(*before).map(|(p, b)| p.saturating_sub(b)))
        .unwrap_or((false, None, None));
    let runs = |secs: &mut dyn Iterator<Item = f64>| {
        secs.map(|s| format!("{s:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let MatchCounts {
        published,
        heard,
        matched,
        matched_reference,
    } = f.counts;
    writeln!(out, "{}", machine())?;
    match &args.history_from {
        Some(path) => writeln!(
            out,
            "history: {}, {} distinct RPIs heard ({:.1} s to load)",
            path.display(),
            f.rpis_heard,
            f.history_secs
        )?,
        None => writeln!(
            out,
            "history: {} days, {} contacts per scan{}, {} distinct RPIs heard ({:.1} s to build)",
            args.days,
            args.contacts_per_scan,
            if args.quiet_nights {
                ", nobody from 23:00 to 07:00 (UTC+7)"
            } else {
                ""
            },
            f.rpis_heard,
            f.history_secs
        )?,
    }
    match &args.keys_from {
        Some(path) => writeln!(
            out,
            "key file: {} keys, {} bytes zipped, from {}",
            f.keys,
            f.file_bytes,
            path.display()
        )?,
        None => writeln!(
            out,
            "key file: {} keys, {} bytes zipped, {published} of them keys of contacts the phone heard \
             (re-derived: {heard} heard; matched against the phone's history: {matched})",
            f.keys, f.file_bytes
        )?,
    }
    writeln!(out, "threads: {}, runs: {}", f.threads, f.crypto.len())?;
    writeln!(
        out,
        "crypto bound (HKDF + 144 AES per key): {crypto_secs:.3} s, {:.0} keys/s (checksum {}; runs {} s)",
        keys / crypto_secs,
        f.checksum,
        runs(&mut f.crypto.iter().copied())
    )?;
    writeln!(
        out,
        "end to end (unzip, verify, parse, index, match, score, store): {total_secs:.3} s, {rate:.0} keys/s, {:.2}x the crypto bound (runs {} s; each run's ratio {})",
        total_secs / crypto_secs,
        runs(&mut f.processing.iter().map(|p| p.secs)),
        f.processing
            .iter()
            .zip(&f.crypto)
            .map(|(p, c)| format!("{:.2}", p.secs / c))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let Some(status) = f.processing.first().map(|p| &p.status) else {
        return Err(fail("no run"));
    };
    writeln!(
        out,
        "result: notify={} exposure days={} keys checked={} matched keys={matched}",
        status.notify,
        status.days.len(),
        status.keys_checked
    )?;
    writeln!(out, "peak memory while processing: {}", peak_phrase(peak))?;
    if let (Some((secs, peak)), Some(reference_matched)) = (f.reference, matched_reference) {
        writeln!(
            out,
            "reference (file read whole, then matched; no scoring or storing): {secs:.3} s, \
             {:.0} keys/s, {:.2}x the crypto bound, {reference_matched} matched keys; \
             peak memory {}",
            keys / secs,
            secs / crypto_secs,
            peak_phrase(peak)
        )?;
    }
    let b = &f.breakdown;
    writeln!(
        out,
        "parts alone (best of the runs): sightings read and indexed {:.3} s; file streamed, hashed, parsed and \
         verified (no matching) {:.3} s on one thread; keys in memory matched {:.3} s \
         ({:.2}x the crypto bound)",
        b.index,
        b.stream,
        b.matching,
        b.matching / crypto_secs
    )?;
    // What this pipeline cannot beat on these threads: the crypto, plus reading the file
    // and the sightings (each measured on one thread) shared among the threads.
    let floor = crypto_secs + (b.stream + b.index) / f.threads as f64;
    writeln!(
        out,
        "floor (the crypto bound, plus the file read and the sightings shared among the threads; \
         no probe, no scoring): {floor:.3} s, {:.2}x the crypto bound",
        floor / crypto_secs
    )?;
    if let (true, Some(before), Some(peak)) = peak {
        writeln!(out, "peak_added_bytes={}", peak.saturating_sub(before))?;
    }
    writeln!(out, "matched_keys={matched}")?;
    writeln!(out, "keys_per_second={rate:.0}")?;
    Ok(())
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
                quiet_nights: seed == 3,
                keys_from: None,
                history_from: None,
                write_keys: None,
                write_history: None,
                no_reference: false,
                runs: 2,
            };
            let mut out = Vec::new();
            let counts = match_bench(&args, &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(counts.published > 100, "seed {seed}: {counts:?}");
            assert_eq!(
                (counts.heard, counts.matched, counts.matched_reference),
                (counts.published, counts.published, Some(counts.published)),
                "seed {seed}:\n{out}"
            );
            let line = format!(
                "{} of them keys of contacts the phone heard (re-derived: {} heard; \
                 matched against the phone's history: {})",
                counts.published, counts.heard, counts.matched
            );
            assert!(out.contains(&line), "seed {seed}:\n{out}");
            // Two runs, each on its own phone, each timed and reported.
            assert!(out.contains("threads: 2, runs: 2"), "seed {seed}:\n{out}");
            assert!(out.starts_with("machine: "), "seed {seed}:\n{out}");
            assert!(out.contains("each run's ratio "), "seed {seed}:\n{out}");
            // The floor adds the file and the sightings to the bound: never below it.
            let floor: f64 = out
                .lines()
                .find_map(|l| l.strip_prefix("floor ("))
                .and_then(|l| l.rsplit(", ").next())
                .and_then(|l| l.strip_suffix("x the crypto bound"))
                .and_then(|ratio| ratio.parse().ok())
                .unwrap_or_else(|| panic!("no floor line:\n{out}"));
            assert!(floor > 1.0, "seed {seed}:\n{out}");
        }
    }

    /// The machine line names the CPUs the process may use and the architecture (and, on
    /// x86 Linux, the CPU with its family and model).
    #[test]
    fn the_machine_line_names_the_cpu() {
        let line = machine();
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert!(
            line.starts_with("machine: ")
                && line.ends_with(&format!(", {cpus} CPUs, {}", std::env::consts::ARCH)),
            "{line}"
        );
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert!(line.contains(", model "), "{line}");
        }
    }

    /// The workload written out (`--write-keys`, `--write-history`) and read back
    /// (`--keys-from`, `--history-from`) gives the same matches, as a zip or a bare
    /// `export.bin`.
    #[test]
    fn the_written_workload_reads_back_with_the_same_matches() {
        let dir = tempfile::tempdir().unwrap();
        let args = |keys_from, history_from, write_keys, write_history| MatchArgs {
            keys: 1_500,
            threads: Some(2),
            days: 2,
            contacts_per_scan: 10,
            seed: 4,
            quiet_nights: false,
            keys_from,
            history_from,
            write_keys,
            write_history,
            no_reference: false,
            runs: 1,
        };
        let (zip, bin, dump) = (
            dir.path().join("keys.zip"),
            dir.path().join("export.bin"),
            dir.path().join("history.txt"),
        );
        let first = match_bench(
            &args(None, None, Some(zip.clone()), Some(dump.clone())),
            &mut Vec::new(),
        )
        .unwrap();
        assert!(first.matched > 10, "{first:?}");
        match_bench(
            &args(Some(zip.clone()), None, Some(bin.clone()), None),
            &mut Vec::new(),
        )
        .unwrap();
        let text = std::fs::read_to_string(&dump).unwrap();
        assert!(
            text.lines().nth(1).unwrap().split(' ').count() == 5,
            "{text:.200}"
        );
        for keys in [zip, bin] {
            let mut out = Vec::new();
            let again =
                match_bench(&args(Some(keys), Some(dump.clone()), None, None), &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert_eq!(again.matched, first.matched, "{out}");
            assert_eq!(again.matched_reference, Some(first.matched), "{out}");
            assert!(
                out.contains(&format!("matched_keys={}", first.matched)),
                "{out}"
            );
        }
    }
}
