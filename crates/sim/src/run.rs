//! Playing a scenario through real phones and a real server.
//!
//! Time advances in fixed steps (2 s by default). At each step the people present are placed
//! from their planned trajectories and bucketed in a [`Grid`]. Phones whose advertisement is
//! due rotate it by asking their own Tracer. Ground truth accumulates the time each person
//! spends within the contact distance of a positive person. Phones whose scan window opens in
//! the step listen: each advertiser in radio range sends its packets through the radio model
//! and the receiver's OS policy, and the packets heard go, as one batch, into the receiver's
//! Tracer through the [`SightingSink`] port (the same door a phone shell or a desktop scanner
//! uses). Receivers are processed in parallel; every random draw is a hash of the seed and of
//! what it is about, so the result does not depend on thread timing.
//!
//! When a person tests positive, a health official issues a code on the server, the person's
//! phone verifies it and uploads its keys, all over HTTP on loopback. After the last day the
//! server publishes its signed key files and every phone downloads, verifies, matches and
//! scores them with its own engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::{
    AdvertData, Clock, CoreError, CurrentAdvertisement, HttpTransport, ManualClock, MasterKey,
    SightingInput, SightingSink, StorageLocation, Tracer, TracerConfig, UploadConsent,
};
use bluezone_protocol::DayNumber;
use bluezone_protocol::keyfile::TrustedKeys;
use bluezone_protocol::risk::{ExposureWindow, RiskConfig};
use bluezone_server::files::MemoryFileStore;
use bluezone_server::loopback::LoopbackServer;
use bluezone_server::store::SqliteServerStore;
use bluezone_server::{Authority, AuthorityConfig, AuthorityKeys};
use rand::SeedableRng;
use rayon::prelude::*;

use crate::geometry::distance_squared;
use crate::grid::Grid;
use crate::movement::{Pose, Trajectory};
use crate::noise::{hash, mix, normal, unit};
use crate::phones::{self, PhoneProfile};
use crate::policy::OsPolicy;
use crate::radio::{Obstacles, RadioModel};
use crate::report::{
    DistanceBin, PersonRow, Report, RiskSummary, TimelineRow, Totals, UploadRow, ratio, round3,
};
use crate::scenario::{Carry, EventKind, Os, Scenario, days_of, minutes_of};
use crate::settings::ContactRule;

const DAY_S: f64 = 86_400.0;
/// Timeline buckets, seconds.
const BUCKET_S: f64 = 600.0;
/// Attenuation-by-distance bands, metres, up to `BANDS × BAND_M`.
const BAND_M: f64 = 0.5;
const BANDS: usize = 20;
/// Points kept for the attenuation scatter plot.
const SCATTER_POINTS: usize = 4_000;
/// After the last day, the server publishes and phones download this much later (every key
/// of the scenario is then past its embargo).
const SETTLE_S: i64 = 3 * 3600;

// Domain tags of the noise hashes.
const TAG_SHADOW: u64 = 1;
const TAG_PACKET: u64 = 2;
const TAG_PHASE: u64 = 3;
const TAG_SCAN_PHASE: u64 = 4;
const TAG_SCAN_JITTER: u64 = 5;
const TAG_INTERVAL: u64 = 6;
const TAG_PHONE: u64 = 7;
const TAG_TRAJECTORY: u64 = 8;
const TAG_SERVER: u64 = 9;
const TAG_DISCOVERY: u64 = 10;

/// How to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Fixes every random choice.
    pub seed: u64,
    /// Time step, seconds (default 2).
    pub step_s: f64,
    /// Compare every pair of people present instead of using the grid (the baseline of the
    /// benchmark; results are identical, only slower).
    pub all_pairs: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            seed: 1,
            step_s: 2.0,
            all_pairs: false,
        }
    }
}

/// How far a run has got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Simulated seconds done.
    pub simulated_s: f64,
    /// Simulated seconds in all.
    pub total_s: f64,
}

/// Where the wall-clock time went (not part of the report, which must be reproducible).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Opening every phone's engine and starting the server.
    pub setup: Duration,
    /// The time loop: movement, radio, truth and ingest.
    pub simulation: Duration,
    /// Of which: CPU time inside the phones' engines storing sightings (summed over threads).
    pub ingest_cpu: Duration,
    /// Uploads, publishing, downloads, matching and scoring.
    pub exposure: Duration,
}

/// One point of the attenuation scatter plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// True distance, metres.
    pub distance_m: f64,
    /// Attenuation the receiver measured, dB.
    pub attenuation_db: f64,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// Each person's stored exposure windows (in report order), for re-scoring.
    pub windows: Vec<Vec<ExposureWindow>>,
    /// Up to 4,000 adverts heard, for the scatter plot.
    pub samples: Vec<Sample>,
    /// The phones' risk parameters.
    pub risk: RiskConfig,
    /// The day the phones scored on.
    pub today: DayNumber,
    /// Wall-clock figures.
    pub timings: Timings,
}

/// Why a run failed. Scenario problems are caught when parsing; these are failures of the
/// system under test or of the machine.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A phone's engine failed.
    #[error("{person}'s phone: {source}")]
    Phone {
        /// Who.
        person: String,
        /// What the engine said.
        #[source]
        source: CoreError,
    },
    /// The simulated health authority failed.
    #[error("the simulated health authority failed: {0}")]
    Server(String),
    /// The loopback server could not start.
    #[error("could not start the simulated server on loopback: {0}")]
    Loopback(#[from] std::io::Error),
}

struct Phone {
    name: String,
    os: Os,
    model: String,
    carry: Carry,
    profile: PhoneProfile,
    policy: OsPolicy,
    interval_s: f64,
    trajectory: Trajectory,
    tracer: Tracer,
    /// Tested positive at this time (seconds since the start), if at all.
    positive_at: Option<f64>,
}

/// Per-phone counters.
#[derive(Debug, Clone, Default)]
struct Tally {
    truth_s: Vec<f64>,
    scans: u64,
    near_positive: u32,
    detecting_positive: u32,
}

/// What one receiver's scan produced.
#[derive(Default)]
struct ScanResult {
    slot: usize,
    batch: Vec<SightingInput>,
    heard: Vec<(usize, u32)>,
    samples: Vec<(u64, Sample)>,
    near_positive: u32,
    detecting_positive: u32,
    refused: u64,
    ingest: Duration,
    error: Option<CoreError>,
}

struct World<'a> {
    radio: RadioModel,
    obstacles: Obstacles,
    rule: ContactRule,
    range_m: f64,
    seed: u64,
    start_unix: i64,
    phones: &'a [Phone],
}

/// Plays `scenario` and reports; `progress` is told every ten simulated minutes.
///
/// # Errors
/// [`SimError`] when an engine, the server or the loopback socket fails.
pub fn simulate(
    scenario: &Scenario,
    options: Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, SimError> {
    let began = Instant::now();
    let seed = options.seed;
    let step = options.step_s.clamp(0.5, 10.0);
    let days = *scenario.days.get_ref();
    let total_s = f64::from(days) * DAY_S;
    let start_unix = days_of(scenario.date.get_ref()).unwrap_or(0) * 86_400;
    let clock = Arc::new(ManualClock::new(start_unix));
    let radio = scenario.radio();
    let policies = scenario.policies();
    let rule = scenario.truth();
    let risk = scenario.risk().apply(RiskConfig::default());

    let authority = Arc::new(Authority::new(
        AuthorityConfig::default(),
        AuthorityKeys::derive(&seed_bytes(seed, TAG_SERVER), "452", "v1")
            .map_err(SimError::Server)?,
        Arc::new(SqliteServerStore::in_memory().map_err(|e| SimError::Server(e.to_string()))?),
        Arc::new(MemoryFileStore::default()),
        seed_bytes(seed, TAG_SERVER + 100),
    ));
    let official = authority
        .create_official("qa-official", "simulated official password", start_unix)
        .map_err(|e| SimError::Server(e.to_string()))?;
    let server_clock = clock.clone();
    let server = LoopbackServer::start(authority.clone(), Arc::new(move || server_clock.now()))?;
    let transport = HttpTransport::new(&server.base);

    let phones = open_phones(scenario, seed, &clock, &authority, &risk, &policies)?;
    let n = phones.len();
    let (strongest, best_offset) = phones::extremes();
    let world = World {
        range_m: radio.range_m(strongest, best_offset),
        obstacles: Obstacles::of(&scenario.place),
        radio,
        rule,
        seed,
        start_unix,
        phones: &phones,
    };
    // Where a 3 × 3 block of cells covers most of the place, the grid cannot prune and its
    // indirection costs more than comparing every pair (see docs/PERFORMANCE.md).
    let reach = world.range_m.max(rule.distance_m);
    let area = *scenario.place.width_m.get_ref() * *scenario.place.depth_m.get_ref();
    let grid_prunes = (3.0 * reach).powi(2) < 0.5 * area;
    let setup = began.elapsed();
    let looped = Instant::now();

    // Arrivals and departures, in time order.
    let mut changes: Vec<(f64, bool, usize)> = phones
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.trajectory
                .legs()
                .iter()
                .scan(None::<f64>, move |last_end, leg| {
                    let arrive = last_end.is_none_or(|e| leg.start > e);
                    *last_end = Some(leg.end);
                    Some((arrive, leg.start))
                })
                .filter(|(arrive, _)| *arrive)
                .map(move |(_, t)| (t, i))
                .collect::<Vec<_>>()
        })
        .map(|(t, i)| (t, true, i))
        .collect();
    changes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
    let mut events: Vec<(f64, usize)> = phones
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.positive_at.map(|t| (t, i)))
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));

    let mut tallies = vec![
        Tally {
            truth_s: vec![0.0; days as usize],
            ..Tally::default()
        };
        n
    ];
    let mut adverts: Vec<Option<CurrentAdvertisement>> = vec![None; n];
    let mut next_scan = vec![f64::INFINITY; n];
    let mut active: Vec<usize> = Vec::new();
    let mut timeline = vec![TimelineRow::default(); days as usize * 144];
    let mut bands = vec![[0u64; 128]; BANDS];
    let mut scatter: Vec<(u64, Sample)> = Vec::new();
    let mut totals = Totals::default();
    let mut uploads = Vec::new();
    let mut ingest_cpu = Duration::ZERO;
    let mut next_change = 0;
    let mut next_event = 0;
    let mut reported = 0.0;
    let mut t = 0.0;

    while t < total_s {
        // Jump over stretches where nobody is present.
        if active.is_empty() {
            let next = changes.get(next_change).map_or(total_s, |c| c.0);
            if next > t + step {
                t = (next / step).floor() * step;
            }
        }
        while next_event < events.len() && events[next_event].0 <= t {
            let (at, i) = events[next_event];
            uploads.push(upload(
                &phones[i], at, &clock, start_unix, &authority, official, &transport,
            ));
            adverts[i] = None;
            next_event += 1;
        }
        while next_change < changes.len() && changes[next_change].0 <= t {
            let (at, _, i) = changes[next_change];
            if let Err(slot) = active.binary_search(&i) {
                active.insert(slot, i);
            }
            let period = phones[i].policy.scan_period_s;
            next_scan[i] =
                at + period * unit(hash(&[seed, TAG_SCAN_PHASE, i as u64, at.to_bits()]));
            next_change += 1;
        }
        // Whoever has left is dropped until their next arrival puts them back.
        let poses: Vec<(usize, Pose)> = active
            .iter()
            .filter_map(|&i| phones[i].trajectory.at(t).map(|pose| (i, pose)))
            .collect();
        if poses.len() != active.len() {
            active = poses.iter().map(|(i, _)| *i).collect();
        }
        #[allow(clippy::cast_possible_truncation)]
        let now_unix = start_unix + t.floor() as i64;
        clock.set(now_unix);
        for &(i, _) in &poses {
            let due = adverts[i].is_none_or(|a| now_unix >= a.next_rotation_at);
            if due {
                adverts[i] = Some(phones[i].tracer.current_advertisement().map_err(|source| {
                    SimError::Phone {
                        person: phones[i].name.clone(),
                        source,
                    }
                })?);
            }
        }
        let points: Vec<_> = poses.iter().map(|(_, p)| p.at).collect();
        let cell = if options.all_pairs || !grid_prunes {
            f64::INFINITY
        } else {
            reach
        };
        let grid = Grid::build(
            cell,
            *scenario.place.width_m.get_ref(),
            *scenario.place.depth_m.get_ref(),
            &points,
        );
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let day = ((t / DAY_S) as usize).min(days as usize - 1);
        accumulate_truth(&world, &poses, &grid, t, step, day, &mut tallies);

        let scanning: Vec<usize> = (0..poses.len())
            .filter(|&slot| next_scan[poses[slot].0] < t + step)
            .collect();
        let results: Vec<ScanResult> = scanning
            .par_iter()
            .map(|&slot| {
                let i = poses[slot].0;
                world.scan(
                    slot,
                    next_scan[i],
                    tallies[i].scans,
                    &poses,
                    &grid,
                    &adverts,
                )
            })
            .collect();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bucket = ((t / BUCKET_S) as usize).min(timeline.len() - 1);
        let row = &mut timeline[bucket];
        if row.present == 0 {
            row.present = u32::try_from(poses.len()).unwrap_or(u32::MAX);
        }
        for result in results {
            let i = poses[result.slot].0;
            if let Some(source) = result.error {
                return Err(SimError::Phone {
                    person: phones[i].name.clone(),
                    source,
                });
            }
            let tally = &mut tallies[i];
            tally.scans += 1;
            tally.near_positive += result.near_positive;
            tally.detecting_positive += result.detecting_positive;
            let policy = &phones[i].policy;
            next_scan[i] += policy.scan_period_s
                - policy.scan_period_jitter_s
                    * unit(hash(&[seed, TAG_SCAN_JITTER, i as u64, tally.scans]));
            row.scans += 1;
            row.adverts_heard += result.batch.len() as u64;
            row.scans_near_positive += result.near_positive;
            row.scans_detecting_positive += result.detecting_positive;
            totals.scans += 1;
            totals.adverts_heard += result.batch.len() as u64;
            totals.adverts_refused += result.refused;
            ingest_cpu += result.ingest;
            for (band, attenuation) in result.heard {
                bands[band][attenuation.min(127) as usize] += 1;
            }
            keep_lowest(&mut scatter, result.samples);
        }
        t += step;
        if t - reported >= BUCKET_S || t >= total_s {
            reported = t;
            progress(Progress {
                simulated_s: t.min(total_s),
                total_s,
            });
        }
    }
    while next_event < events.len() {
        let (at, i) = events[next_event];
        uploads.push(upload(
            &phones[i], at, &clock, start_unix, &authority, official, &transport,
        ));
        next_event += 1;
    }
    let simulation = looped.elapsed();

    let exposure_began = Instant::now();
    #[allow(clippy::cast_possible_truncation)]
    let settle = start_unix + total_s as i64 + SETTLE_S;
    clock.set(settle);
    let files = authority
        .publish_files(settle)
        .map_err(|e| SimError::Server(e.to_string()))?;
    totals.files_published = u32::try_from(files.len()).unwrap_or(u32::MAX);
    let statuses: Vec<_> = phones
        .par_iter()
        .map(|p| {
            let status = p.tracer.download_key_files(&transport)?;
            let windows = p.tracer.exposure_windows()?;
            Ok((status, windows))
        })
        .collect::<Vec<Result<_, CoreError>>>();
    let mut persons = Vec::with_capacity(n);
    let mut windows = Vec::with_capacity(n);
    let mut near = 0u64;
    let mut detecting = 0u64;
    for ((phone, tally), status) in phones.iter().zip(&tallies).zip(statuses) {
        let (status, phone_windows) = status.map_err(|source| SimError::Phone {
            person: phone.name.clone(),
            source,
        })?;
        let true_s = tally.truth_s.iter().copied().fold(0.0, f64::max);
        let close = true_s >= rule.minutes * 60.0;
        let measured = status
            .days
            .iter()
            .map(|d| d.weighted_minutes)
            .fold(0.0, f64::max);
        let outcome = match (phone.positive_at.is_some(), close, status.notify) {
            (true, _, _) => "positive",
            (false, true, true) => "TP",
            (false, false, true) => "FP",
            (false, true, false) => "FN",
            (false, false, false) => "TN",
        };
        match outcome {
            "TP" => totals.true_positives += 1,
            "FP" => totals.false_positives += 1,
            "FN" => totals.false_negatives += 1,
            "TN" => totals.true_negatives += 1,
            _ => totals.positives += 1,
        }
        near += u64::from(tally.near_positive);
        detecting += u64::from(tally.detecting_positive);
        persons.push(PersonRow {
            name: phone.name.clone(),
            os: match phone.os {
                Os::Android => "android",
                Os::Ios => "ios",
            },
            model: phone.model.clone(),
            carry: match phone.carry {
                Carry::Hand => "hand",
                Carry::Pocket => "pocket",
                Carry::Bag => "bag",
            },
            calibration: phone.profile.calibration_source,
            positive: phone.positive_at.is_some(),
            true_contact_minutes: round3(true_s / 60.0),
            close_contact: close,
            measured_minutes: round3(measured),
            notified: status.notify,
            outcome,
            scans_near_positive: tally.near_positive,
            scans_detecting_positive: tally.detecting_positive,
        });
        windows.push(phone_windows);
    }
    totals.people = u32::try_from(n).unwrap_or(u32::MAX);
    let tp = u64::from(totals.true_positives);
    totals.precision = ratio(tp, tp + u64::from(totals.false_positives));
    totals.recall = ratio(tp, tp + u64::from(totals.false_negatives));
    totals.detection_continuity = ratio(detecting, near);
    let exposure = exposure_began.elapsed();
    drop(server);

    let report = Report {
        scenario: scenario.name.clone(),
        seed,
        date: scenario.date.get_ref().clone(),
        days,
        truth: rule,
        risk: RiskSummary {
            attenuation_thresholds_db: risk.attenuation_thresholds_db,
            attenuation_weights: risk.attenuation_weights,
            notify_minutes: round3(risk.notify_score / 60.0),
        },
        totals,
        uploads,
        persons,
        attenuation_by_distance: distance_bins(&bands),
        timeline: timeline
            .into_iter()
            .enumerate()
            .filter(|(_, r)| r.present > 0 || r.scans > 0)
            .map(|(b, mut r)| {
                r.minute = u32::try_from(b * 10).unwrap_or(u32::MAX);
                r
            })
            .collect(),
    };
    scatter.sort_by_key(|(h, _)| *h);
    scatter.truncate(SCATTER_POINTS);
    let mut samples: Vec<Sample> = scatter.into_iter().map(|(_, s)| s).collect();
    samples.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    Ok(Outcome {
        report,
        windows,
        samples,
        today: DayNumber::from_unix_seconds(settle).unwrap_or(DayNumber::new(0)),
        risk,
        timings: Timings {
            setup,
            simulation,
            ingest_cpu,
            exposure,
        },
    })
}

fn seed_bytes(seed: u64, tag: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&hash(&[seed, tag, k as u64]).to_le_bytes());
    }
    out
}

fn open_phones(
    scenario: &Scenario,
    seed: u64,
    clock: &Arc<ManualClock>,
    authority: &Authority,
    risk: &RiskConfig,
    policies: &crate::policy::Policies,
) -> Result<Vec<Phone>, SimError> {
    let names = scenario.person_names();
    let mut phones = Vec::with_capacity(names.len());
    let mut index = 0usize;
    for group in &scenario.people {
        let from = f64::from(minutes_of(group.present.from.get_ref()).unwrap_or(0)) * 60.0;
        let to = f64::from(minutes_of(group.present.to.get_ref()).unwrap_or(0)) * 60.0;
        let periods: Vec<(f64, f64)> = (0..*scenario.days.get_ref())
            .map(|d| (f64::from(d) * DAY_S + from, f64::from(d) * DAY_S + to))
            .collect();
        let profile = phones::profile(&group.phone.model);
        let policy = policies.of(group.phone.os).clone();
        for _ in 0..*group.count.get_ref() {
            let name = names[index].clone();
            let id = index as u64;
            let positive_at = scenario
                .events
                .iter()
                .filter(|e| e.kind == EventKind::TestsPositive && *e.person.get_ref() == name)
                .map(|e| {
                    f64::from(e.day.get_ref() - 1) * DAY_S
                        + f64::from(minutes_of(e.at.get_ref()).unwrap_or(0)) * 60.0
                })
                .reduce(f64::min);
            let config = TracerConfig {
                tx_power_dbm: profile.calibrated_tx_dbm,
                calibration_confidence: profile.confidence,
                trusted_signers: TrustedKeys::single(authority.file_signer().trusted_key()),
                upload_public_key: Some(authority.upload_public_key()),
                matching: bluezone_protocol::matching::MatchConfig {
                    rssi_correction_db: profile.rssi_correction_db,
                    ..Default::default()
                },
                risk: risk.clone(),
                ..TracerConfig::default()
            };
            let tracer = Tracer::open_with(
                config,
                StorageLocation::InMemory,
                &MasterKey::from_bytes(seed_bytes(seed, TAG_PHONE + 1000 * id)),
                clock.clone(),
                Box::new(rand::rngs::StdRng::seed_from_u64(hash(&[
                    seed, TAG_PHONE, id,
                ]))),
            )
            .map_err(|source| SimError::Phone {
                person: name.clone(),
                source,
            })?;
            let [lo, hi] = policy.advert_interval_ms;
            phones.push(Phone {
                trajectory: Trajectory::plan(
                    group.movement.get_ref(),
                    &periods,
                    hash(&[seed, TAG_TRAJECTORY, id]),
                ),
                interval_s: (lo + (hi - lo) * unit(hash(&[seed, TAG_INTERVAL, id]))) / 1_000.0,
                name,
                os: group.phone.os,
                model: group.phone.model.clone(),
                carry: group.carry,
                profile,
                policy: policy.clone(),
                tracer,
                positive_at,
            });
            index += 1;
        }
    }
    Ok(phones)
}

/// The official issues a code, the person enters it, agrees and uploads.
fn upload(
    phone: &Phone,
    at: f64,
    clock: &ManualClock,
    start_unix: i64,
    authority: &Authority,
    official: i64,
    transport: &HttpTransport,
) -> UploadRow {
    #[allow(clippy::cast_possible_truncation)]
    let now = start_unix + at as i64;
    clock.set(now);
    let outcome = authority
        .issue_code(official, 1, None, None, now)
        .map_err(|e| e.to_string())
        .and_then(|issued| {
            let verified = phone
                .tracer
                .verify_code(transport, &issued.code)
                .map_err(|e| e.to_string())?;
            phone
                .tracer
                .upload_keys(transport, &verified, UploadConsent { agreed_at: now })
                .map_err(|e| e.to_string())
        });
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (day, minute) = ((at / DAY_S) as u64 + 1, ((at % DAY_S) / 60.0) as u64);
    UploadRow {
        person: phone.name.clone(),
        at: format!("day {day} {:02}:{:02}", minute / 60, minute % 60),
        keys_accepted: outcome.as_ref().ok().map(|r| r.keys_accepted),
        error: outcome.err(),
    }
}

fn accumulate_truth(
    world: &World<'_>,
    poses: &[(usize, Pose)],
    grid: &Grid,
    t: f64,
    step: f64,
    day: usize,
    tallies: &mut [Tally],
) {
    let mut near = Vec::new();
    let reach_squared = world.rule.distance_m * world.rule.distance_m;
    for &(f, pose) in poses {
        if !world.phones[f].positive_at.is_some_and(|at| t < at) {
            continue;
        }
        near.clear();
        grid.candidates(pose.at, world.rule.distance_m, &mut near);
        for &slot in &near {
            let (p, other) = poses[slot as usize];
            if p != f && distance_squared(pose.at, other.at) <= reach_squared {
                tallies[p].truth_s[day] += step;
            }
        }
    }
}

impl World<'_> {
    /// One receiver's scan window opening at `start` (seconds since the scenario began).
    #[allow(clippy::too_many_arguments)]
    fn scan(
        &self,
        slot: usize,
        start: f64,
        scan_id: u64,
        poses: &[(usize, Pose)],
        grid: &Grid,
        adverts: &[Option<CurrentAdvertisement>],
    ) -> ScanResult {
        let (r, receiver_pose) = poses[slot];
        let receiver = &self.phones[r];
        let radio = &self.radio;
        let mut result = ScanResult {
            slot,
            ..ScanResult::default()
        };
        let mut candidates = Vec::new();
        grid.candidates(receiver_pose.at, self.range_m, &mut candidates);
        candidates.sort_unstable();
        let range_squared = self.range_m * self.range_m;
        let in_range: Vec<(usize, Pose, f64)> = candidates
            .iter()
            .map(|&s| poses[s as usize])
            .filter(|(a, _)| *a != r && adverts[*a].is_some())
            .map(|(a, pose)| (a, pose, distance_squared(receiver_pose.at, pose.at)))
            .filter(|(_, _, d2)| *d2 <= range_squared)
            .map(|(a, pose, d2)| (a, pose, d2.sqrt()))
            .collect();
        let window = receiver.policy.scan_window_s;
        for &(a, pose, d) in &in_range {
            let sender = &self.phones[a];
            let Some(current) = adverts[a] else { continue };
            let near_positive =
                sender.positive_at.is_some_and(|at| start < at) && d <= self.rule.distance_m;
            if near_positive {
                result.near_positive += 1;
            }
            // Unit vector from sender to receiver; its cosine with each facing direction sets
            // the body losses.
            let towards = if d > 1e-9 {
                [
                    (receiver_pose.at[0] - pose.at[0]) / d,
                    (receiver_pose.at[1] - pose.at[1]) / d,
                ]
            } else {
                pose.facing
            };
            let cos_sender = pose.facing[0] * towards[0] + pose.facing[1] * towards[1];
            let cos_receiver =
                -(receiver_pose.facing[0] * towards[0] + receiver_pose.facing[1] * towards[1]);
            // The cheap terms first: most pairs in range are too far to be heard even with
            // luck (three sigmas of shadowing, four of fading), and never need the rest.
            let unobstructed = sender.profile.tx_dbm
                - radio.path_loss_db(d)
                - radio.carry_loss_db(sender.carry)
                - radio.carry_loss_db(receiver.carry)
                - radio.body_loss(cos_sender)
                - radio.body_loss(cos_receiver)
                + receiver.profile.rssi_offset_db;
            let luck = 3.0 * radio.shadowing_sigma_db + 4.0 * radio.fading_sigma_db;
            if unobstructed + luck < radio.sensitivity_dbm {
                continue;
            }
            let (lo, hi) = (a.min(r) as u64, a.max(r) as u64);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let block = (start / radio.shadowing_coherence_s) as u64;
            // Shadowing beyond three sigmas is cut off, consistently with the bound above.
            let shadow = radio.shadowing_sigma_db
                * normal(hash(&[self.seed, TAG_SHADOW, lo, hi, block])).clamp(-3.0, 3.0);
            let mean = unobstructed + shadow - self.obstacles.loss_db(pose.at, receiver_pose.at);
            if mean + 4.0 * radio.fading_sigma_db < radio.sensitivity_dbm {
                continue;
            }
            if sender.os == Os::Ios
                && unit(hash(&[
                    self.seed,
                    TAG_DISCOVERY,
                    r as u64,
                    a as u64,
                    scan_id,
                ])) >= receiver.policy.ios_background_discovery
            {
                continue;
            }
            let collision = radio.collision_probability(
                in_range.len().saturating_sub(1),
                sender.interval_s * 1_000.0,
            );
            let lost = radio.packet_loss + (1.0 - radio.packet_loss) * collision;
            let mut offset = sender.interval_s
                * unit(hash(&[self.seed, TAG_PHASE, a as u64, r as u64, scan_id]));
            let mut heard_any = false;
            let mut k = 0u64;
            while offset < window {
                let h = hash(&[self.seed, TAG_PACKET, r as u64, a as u64, scan_id, k]);
                k += 1;
                let at = start + offset;
                offset += sender.interval_s;
                let rssi = mean + radio.fading_sigma_db * normal(h);
                if rssi < radio.sensitivity_dbm
                    || unit(mix(h ^ 0x1111)) < lost
                    || unit(mix(h ^ 0x2222)) >= receiver.policy.scan_duty
                {
                    continue;
                }
                #[allow(clippy::cast_possible_truncation)]
                let reported = rssi.round().clamp(-127.0, 20.0) as i16;
                #[allow(clippy::cast_possible_truncation)]
                let time = self.start_unix + at.floor() as i64;
                result.batch.push(SightingInput {
                    advert: AdvertData::Decoded(current.advertisement),
                    rssi: reported,
                    time,
                    scan_window: Some(scan_id),
                });
                let attenuation = (f64::from(sender.profile.calibrated_tx_dbm)
                    - (f64::from(reported) + f64::from(receiver.profile.rssi_correction_db)))
                .max(0.0);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let band = (d / BAND_M) as usize;
                if band < BANDS {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    result.heard.push((band, attenuation.round() as u32));
                }
                let pick = mix(h ^ 0x3333);
                if pick < u64::MAX / 32 {
                    result.samples.push((
                        pick,
                        Sample {
                            distance_m: round3(d),
                            attenuation_db: attenuation,
                        },
                    ));
                }
                heard_any = true;
                if receiver.policy.coalesce_duplicates {
                    break;
                }
            }
            if heard_any && near_positive {
                result.detecting_positive += 1;
            }
        }
        if !result.batch.is_empty() {
            let began = Instant::now();
            match receiver.tracer.deliver(&result.batch) {
                Ok(report) => {
                    result.refused = report.malformed
                        + report.implausible_rssi
                        + report.from_the_future
                        + report.too_old;
                }
                Err(e) => result.error = Some(e),
            }
            result.ingest = began.elapsed();
        }
        result
    }
}

/// Keeps the `SCATTER_POINTS` samples with the lowest hashes (a sample that does not depend
/// on the order results arrive in).
fn keep_lowest(kept: &mut Vec<(u64, Sample)>, more: Vec<(u64, Sample)>) {
    kept.extend(more);
    if kept.len() > 2 * SCATTER_POINTS {
        kept.sort_by_key(|(h, _)| *h);
        kept.truncate(SCATTER_POINTS);
    }
}

fn distance_bins(bands: &[[u64; 128]]) -> Vec<DistanceBin> {
    bands
        .iter()
        .enumerate()
        .map(|(b, histogram)| {
            let count: u64 = histogram.iter().sum();
            let quantile = |q: f64| {
                if count == 0 {
                    return None;
                }
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let rank = ((count as f64 * q).ceil() as u64).max(1);
                let mut seen = 0;
                histogram.iter().enumerate().find_map(|(db, c)| {
                    seen += c;
                    (seen >= rank).then(|| u32::try_from(db).unwrap_or(u32::MAX))
                })
            };
            #[allow(clippy::cast_precision_loss)]
            let from = b as f64 * BAND_M;
            DistanceBin {
                from_m: from,
                to_m: from + BAND_M,
                adverts: count,
                p10_db: quantile(0.1),
                median_db: quantile(0.5),
                p90_db: quantile(0.9),
            }
        })
        .collect()
}
