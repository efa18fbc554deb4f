//! Playing a scenario through real phones and a real server.
//!
//! Time advances in fixed steps (2 s by default). At each step the people present are placed
//! from their planned trajectories and bucketed in a [`Grid`]. Ground truth accumulates the
//! time each person spends within the contact distance of a positive person. Every phone runs
//! the real phone driver (`bluezone_core::driver`) through `bluezone_core::Phone`, with the
//! simulator as its platform (`run::device`): the driver's alarms fire on time, its scans
//! listen through the radio model and the OS constraints (`run::listen`, `policy`), its
//! advertising puts the payload on air in the form the OS allows, its GATT reads of iPhones
//! succeed or fail after a latency, and what it stores goes into the phone's own Tracer.
//! Phones are processed in parallel, each seeing what the others had on air when the step
//! began; every random draw is a hash of the seed and of what it is about, so the result does
//! not depend on thread timing.
//!
//! When a person tests positive, a health official issues a code on the server, the person's
//! phone verifies it and uploads its keys, all over HTTP on loopback. After the last day the
//! server publishes its signed key files and every phone downloads, verifies, matches and
//! scores them with its own engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::{CoreError, ManualClock};
use bluezone_protocol::DayNumber;
use bluezone_protocol::risk::{ExposureWindow, RiskConfig};
use rayon::prelude::*;

use crate::grid::Grid;
use crate::movement::Pose;
use crate::phones;
use crate::radio::Obstacles;
use crate::report::{
    DetectionRow, PersonRow, Report, RiskSummary, TimelineRow, Totals, UploadRow, ratio, round3,
};
use crate::scenario::{Os, Scenario, days_of};
use crate::settings::ContactRule;

mod device;
mod fleet;
mod health;
mod listen;
mod tally;

use device::{Air, AirForm, Device, Step};
use fleet::{Phone, open_phones};
use health::Health;
use listen::World;
use tally::os_name;
use tally::{Tally, accumulate_truth, distance_bins, keep_lowest, person_row};

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
    let sim = Sim::open(scenario, options)?;
    let mut devices =
        fleet::open_devices(&sim.phones, scenario.driver(), sim.seed, sim.start_unix)?;
    let world = sim.world(scenario);
    let cell = grid_cell(&world, options.all_pairs, sim.place);
    let setup = began.elapsed();

    let looped = Instant::now();
    let mut run = Loop::new(sim.phones.len(), sim.days);
    let last_case = play(&sim, &world, cell, &mut devices, &mut run, progress)?;
    let simulation = looped.elapsed();

    let exposure_began = Instant::now();
    let settle = sim.settle_time(last_case);
    let (persons, windows) = decide(&sim, &devices, &mut run, settle)?;
    let exposure = exposure_began.elapsed();

    let ingest_cpu = run.ingest_cpu;
    let samples = scatter_samples(std::mem::take(&mut run.scatter));
    let report = report_of(scenario, &sim, run, persons);
    Ok(Outcome {
        report,
        windows,
        samples,
        today: DayNumber::from_unix_seconds(settle).unwrap_or(DayNumber::new(0)),
        risk: sim.risk,
        timings: Timings {
            setup,
            simulation,
            ingest_cpu,
            exposure,
        },
    })
}

/// What a run plays on: the scenario's settings, the shared clock, the simulated health
/// authority and everyone's phone.
struct Sim {
    seed: u64,
    /// Time step, seconds.
    step: f64,
    days: u32,
    /// Simulated seconds in all.
    total_s: f64,
    /// Unix time (seconds) the scenario starts at.
    start_unix: i64,
    /// The server's and the official's clock.
    clock: Arc<ManualClock>,
    rule: ContactRule,
    risk: RiskConfig,
    health: Health,
    phones: Vec<Phone>,
    /// The place's width and depth, metres.
    place: (f64, f64),
}

impl Sim {
    /// Starts the server and opens every phone.
    fn open(scenario: &Scenario, options: Options) -> Result<Self, SimError> {
        let seed = options.seed;
        let days = *scenario.days.get_ref();
        let start_unix = days_of(scenario.date.get_ref()).unwrap_or(0) * 86_400;
        let clock = Arc::new(ManualClock::new(start_unix));
        let risk = scenario.risk().apply(RiskConfig::default());
        let health = Health::start(seed, &clock)?;
        let phones = open_phones(
            scenario,
            seed,
            start_unix,
            &health.authority,
            &risk,
            &scenario.policies(),
        )?;
        Ok(Self {
            seed,
            step: options.step_s.clamp(0.5, 10.0),
            days,
            total_s: f64::from(days) * DAY_S,
            start_unix,
            clock,
            rule: scenario.truth(),
            risk,
            health,
            phones,
            place: (
                *scenario.place.width_m.get_ref(),
                *scenario.place.depth_m.get_ref(),
            ),
        })
    }

    /// What every listening span needs: the radio model, its range, the place's obstacles.
    fn world(&self, scenario: &Scenario) -> World<'_> {
        let radio = scenario.radio();
        let (strongest, best_offset) = phones::extremes();
        World {
            range_m: radio.range_m(strongest, best_offset),
            obstacles: Obstacles::of(&scenario.place),
            radio,
            rule: self.rule,
            seed: self.seed,
            phones: &self.phones,
        }
    }

    /// Unix time (whole seconds) at `t` seconds into the scenario.
    fn unix_at(&self, t: f64) -> i64 {
        #[allow(clippy::cast_possible_truncation)]
        let offset = t.floor() as i64;
        self.start_unix + offset
    }

    /// When the server publishes and the phones download: [`SETTLE_S`] after the last day or
    /// the last code entry, whichever is later.
    fn settle_time(&self, last_case: f64) -> i64 {
        #[allow(clippy::cast_possible_truncation)]
        let end = self.total_s.max(last_case) as i64;
        self.start_unix + end + SETTLE_S
    }
}

/// The grid's cell size for `world`'s reach. Where a 3 × 3 block of cells covers most of the
/// place, the grid cannot prune and its indirection costs more than comparing every pair (see
/// docs/PERFORMANCE.md): one infinite cell then.
fn grid_cell(world: &World<'_>, all_pairs: bool, (width, depth): (f64, f64)) -> f64 {
    let reach = world.range_m.max(world.rule.distance_m);
    if all_pairs || (3.0 * reach).powi(2) >= 0.5 * width * depth {
        f64::INFINITY
    } else {
        reach
    }
}

/// The time loop, from the first step to the end of the last day: cases and arrivals as they
/// fall due, then each step's truth and devices, recorded. Returns the time of the last code
/// entry processed after the last step (0 if none).
fn play(
    sim: &Sim,
    world: &World<'_>,
    cell: f64,
    devices: &mut [Device],
    run: &mut Loop,
    progress: &mut dyn FnMut(Progress),
) -> Result<f64, SimError> {
    let mut arrivals = Arrivals {
        list: fleet::arrivals(&sim.phones),
        next: 0,
    };
    let mut cases = Cases {
        tests: fleet::positives(&sim.phones),
        next_test: 0,
        entries: Vec::new(),
    };
    let mut reported = 0.0;
    let mut t = 0.0;
    while t < sim.total_s {
        // Jump over stretches where nobody is present.
        if run.active.is_empty() {
            let next = arrivals.next_time().unwrap_or(sim.total_s);
            if next > t + sim.step {
                t = (next / sim.step).floor() * sim.step;
            }
        }
        cases.until(t, sim, &mut run.uploads);
        arrivals.admit(t, &mut run.active);
        let poses = run.present(&sim.phones, t);
        sim.clock.set(sim.unix_at(t));
        step(sim, world, cell, t, &poses, devices, run);
        run.record(&sim.phones, devices, &poses, t)?;
        t += sim.step;
        if t - reported >= BUCKET_S || t >= sim.total_s {
            reported = t;
            progress(Progress {
                simulated_s: t.min(sim.total_s),
                total_s: sim.total_s,
            });
        }
    }
    let last_case = cases.until(f64::INFINITY, sim, &mut run.uploads);
    for device in devices.iter_mut() {
        device.finish();
    }
    run.record(&sim.phones, devices, &[], sim.total_s)?;
    Ok(last_case)
}

/// One step from `t`: ground truth for the people at `poses`, then every present phone's
/// device runs until `t + step`, in parallel, each seeing what everyone had on air as the
/// step began.
fn step(
    sim: &Sim,
    world: &World<'_>,
    cell: f64,
    t: f64,
    poses: &[(usize, Pose)],
    devices: &mut [Device],
    run: &mut Loop,
) {
    let points: Vec<_> = poses.iter().map(|(_, p)| p.at).collect();
    let grid = Grid::build(cell, sim.place.0, sim.place.1, &points);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let day = ((t / DAY_S) as usize).min(sim.days as usize - 1);
    accumulate_truth(world, poses, &grid, t, sim.step, day, &mut run.tallies);
    let air = run.note_air(devices);
    let slot_of: HashMap<usize, usize> = poses
        .iter()
        .enumerate()
        .map(|(s, (i, _))| (*i, s))
        .collect();
    let context = Step {
        world,
        poses,
        grid: &grid,
        air: &air,
        owners: &run.owners,
        slot_of: &slot_of,
        start_unix: sim.start_unix,
        seed: sim.seed,
    };
    devices
        .par_iter_mut()
        .enumerate()
        .filter(|(i, _)| slot_of.contains_key(i))
        .for_each(|(i, device)| {
            device.arrive(i, t, &context);
            device.advance(i, t, t + sim.step, &context);
        });
}

/// After the last day, at `settle`: the server publishes its key files and every phone
/// downloads, verifies, matches and scores them. Returns each person's row and stored
/// windows, in report order, and completes the totals.
fn decide(
    sim: &Sim,
    devices: &[Device],
    run: &mut Loop,
    settle: i64,
) -> Result<(Vec<PersonRow>, Vec<Vec<ExposureWindow>>), SimError> {
    sim.clock.set(settle);
    for phone in &sim.phones {
        phone.clock.set(settle);
    }
    run.totals.files_published = u32::try_from(sim.health.publish(settle)?).unwrap_or(u32::MAX);
    let decisions = sim
        .phones
        .par_iter()
        .map(|p| {
            let status = p.tracer.download_key_files(&sim.health.transport)?;
            Ok((status, p.tracer.exposure_windows()?))
        })
        .collect::<Vec<Result<_, CoreError>>>();
    let mut persons = Vec::with_capacity(sim.phones.len());
    let mut windows = Vec::with_capacity(sim.phones.len());
    let (mut near, mut detecting) = (0u64, 0u64);
    for (((phone, tally), decision), device) in sim
        .phones
        .iter()
        .zip(&run.tallies)
        .zip(decisions)
        .zip(devices)
    {
        let (status, phone_windows) = decision.map_err(|source| SimError::Phone {
            person: phone.name.clone(),
            source,
        })?;
        let row = person_row(phone, tally, &status, &sim.rule, device.uptime);
        run.totals.count(row.outcome);
        near += u64::from(tally.near_positive);
        detecting += u64::from(tally.detecting_positive);
        persons.push(row);
        windows.push(phone_windows);
    }
    complete_totals(&mut run.totals, sim.phones.len(), near, detecting);
    Ok((persons, windows))
}

/// The totals' people, precision, recall and detection continuity (`detecting` of `near`
/// scans).
fn complete_totals(totals: &mut Totals, people: usize, near: u64, detecting: u64) {
    totals.people = u32::try_from(people).unwrap_or(u32::MAX);
    let tp = u64::from(totals.true_positives);
    totals.precision = ratio(tp, tp + u64::from(totals.false_positives));
    totals.recall = ratio(tp, tp + u64::from(totals.false_negatives));
    totals.detection_continuity = ratio(detecting, near);
}

/// The report of a finished run.
fn report_of(scenario: &Scenario, sim: &Sim, run: Loop, persons: Vec<PersonRow>) -> Report {
    Report {
        scenario: scenario.name.clone(),
        seed: sim.seed,
        date: scenario.date.get_ref().clone(),
        days: sim.days,
        truth: sim.rule,
        risk: RiskSummary {
            attenuation_thresholds_db: sim.risk.attenuation_thresholds_db,
            attenuation_weights: sim.risk.attenuation_weights,
            notify_minutes: round3(sim.risk.notify_score / 60.0),
        },
        totals: run.totals,
        uploads: run.uploads,
        detection: detection_rows(&run.matrix),
        persons,
        attenuation_by_distance: distance_bins(&run.bands),
        timeline: timeline_rows(run.timeline),
    }
}

/// The timeline's buckets in which anyone was present or scanned, each with its minute.
fn timeline_rows(timeline: Vec<TimelineRow>) -> Vec<TimelineRow> {
    timeline
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r.present > 0 || r.scans > 0)
        .map(|(b, mut r)| {
            r.minute = u32::try_from(b * 10).unwrap_or(u32::MAX);
            r
        })
        .collect()
}

/// The [`SCATTER_POINTS`] samples with the lowest hashes, by distance.
fn scatter_samples(mut scatter: Vec<(u64, Sample)>) -> Vec<Sample> {
    scatter.sort_by_key(|(h, _)| *h);
    scatter.truncate(SCATTER_POINTS);
    let mut samples: Vec<Sample> = scatter.into_iter().map(|(_, s)| s).collect();
    samples.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    samples
}

/// Every arrival (start of a presence period) in time order, and the next one due.
struct Arrivals {
    /// `(time, phone)`, in order.
    list: Vec<(f64, usize)>,
    next: usize,
}

impl Arrivals {
    /// When the next arrival is due, if any is left.
    fn next_time(&self) -> Option<f64> {
        self.list.get(self.next).map(|a| a.0)
    }

    /// Adds everyone arriving by `t` to `active` (sorted, without duplicates).
    fn admit(&mut self, t: f64, active: &mut Vec<usize>) {
        while self.next < self.list.len() && self.list[self.next].0 <= t {
            let (_, i) = self.list[self.next];
            if let Err(slot) = active.binary_search(&i) {
                active.insert(slot, i);
            }
            self.next += 1;
        }
    }
}

/// Positive tests and the code entries they lead to, in time order.
struct Cases {
    /// `(time, phone)` of every test, in order.
    tests: Vec<(f64, usize)>,
    next_test: usize,
    /// `(entry time, phone, issued code)`, in order.
    entries: Vec<(f64, usize, Issued)>,
}

/// When a code was issued, and the code (or why the official could not issue one).
type Issued = (f64, Result<String, String>);

impl Cases {
    /// Issues the codes and processes the entries due by `until`, in time order, adding each
    /// upload to `uploads`; returns the time of the last one processed (0 if none).
    fn until(&mut self, until: f64, sim: &Sim, uploads: &mut Vec<UploadRow>) -> f64 {
        let (health, phones, clock) = (&sim.health, &sim.phones, &*sim.clock);
        let mut last = 0.0;
        loop {
            let test = self.tests.get(self.next_test).filter(|c| c.0 <= until);
            let entry = self.entries.first().filter(|e| e.0 <= until);
            match (test, entry) {
                (Some(&(at, i)), e) if e.is_none_or(|e| at <= e.0) => {
                    let code = health.issue(at, clock, sim.start_unix);
                    let when = at + phones[i].entry.0;
                    let slot = self.entries.partition_point(|e| e.0 <= when);
                    self.entries.insert(slot, (when, i, (at, code)));
                    self.next_test += 1;
                    last = at;
                }
                (_, Some(_)) => {
                    let (when, i, issued) = self.entries.remove(0);
                    let row = health.enter(
                        &phones[i],
                        issued,
                        when,
                        phones[i].entry.1,
                        clock,
                        sim.start_unix,
                    );
                    // The upload released today's key; the phone's glue rotates at its
                    // next driver event, as on a real phone.
                    uploads.push(row);
                    last = when;
                }
                _ => return last,
            }
        }
    }
}

/// The state the time loop carries from step to step.
struct Loop {
    tallies: Vec<Tally>,
    active: Vec<usize>,
    /// Every identifier put on air, and whose.
    owners: HashMap<[u8; 16], usize>,
    /// Detections by (scanner OS, advertiser form): (windows near, windows detected).
    matrix: BTreeMap<(Os, AirFormKey), (u64, u64)>,
    timeline: Vec<TimelineRow>,
    bands: Vec<[u64; 128]>,
    scatter: Vec<(u64, Sample)>,
    totals: Totals,
    uploads: Vec<UploadRow>,
    ingest_cpu: Duration,
}

/// [`AirForm`] as a sortable key.
type AirFormKey = u8;

fn form_key(form: AirForm) -> AirFormKey {
    match form {
        AirForm::AndroidPayload => 0,
        AirForm::IosForeground => 1,
        AirForm::IosBackground => 2,
    }
}

/// The detection matrix, one row per (scanner, advertiser) pair of platforms and states.
fn detection_rows(matrix: &BTreeMap<(Os, AirFormKey), (u64, u64)>) -> Vec<DetectionRow> {
    matrix
        .iter()
        .map(|(&(scanner, form), &(near, detected))| DetectionRow {
            scanner: os_name(scanner),
            advertiser: if form == 0 { "android" } else { "ios" },
            advertiser_app: match form {
                1 => "foreground",
                2 => "background",
                _ => "any",
            },
            windows_near: near,
            windows_detected: detected,
            share: ratio(detected, near),
        })
        .collect()
}

impl Loop {
    fn new(phones: usize, days: u32) -> Self {
        Self {
            tallies: vec![
                Tally {
                    truth_s: vec![0.0; days as usize],
                    ..Tally::default()
                };
                phones
            ],
            active: Vec::new(),
            owners: HashMap::new(),
            matrix: BTreeMap::new(),
            timeline: vec![TimelineRow::default(); days as usize * 144],
            bands: vec![[0u64; 128]; BANDS],
            scatter: Vec::new(),
            totals: Totals::default(),
            uploads: Vec::new(),
            ingest_cpu: Duration::ZERO,
        }
    }

    /// Where everyone active is at `t`. Whoever has left is dropped from the active until
    /// their next arrival puts them back.
    fn present(&mut self, phones: &[Phone], t: f64) -> Vec<(usize, Pose)> {
        let poses: Vec<(usize, Pose)> = self
            .active
            .iter()
            .filter_map(|&i| phones[i].trajectory.at(t).map(|pose| (i, pose)))
            .collect();
        if poses.len() != self.active.len() {
            self.active = poses.iter().map(|(i, _)| *i).collect();
        }
        poses
    }

    /// What everyone has on air as a step begins; remembers whose identifiers are whose.
    fn note_air(&mut self, devices: &[Device]) -> Vec<Option<Air>> {
        let air: Vec<Option<Air>> = devices.iter().map(|d| d.air).collect();
        for (i, on) in air.iter().enumerate() {
            if let Some(on) = on {
                self.owners.entry(on.advertisement.rpi.0).or_insert(i);
            }
        }
        air
    }

    /// Collects what the step's devices heard, settled and stored.
    fn record(
        &mut self,
        phones: &[Phone],
        devices: &mut [Device],
        poses: &[(usize, Pose)],
        t: f64,
    ) -> Result<(), SimError> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bucket = ((t / BUCKET_S) as usize).min(self.timeline.len() - 1);
        let row = &mut self.timeline[bucket];
        if row.present == 0 {
            row.present = u32::try_from(poses.len()).unwrap_or(u32::MAX);
        }
        for (i, device) in devices.iter_mut().enumerate() {
            let engine = device.phone.engine_mut();
            self.ingest_cpu += std::mem::take(&mut engine.ingest);
            self.totals.adverts_refused += std::mem::take(&mut engine.refused);
            self.totals.adverts_heard += std::mem::take(&mut engine.accepted);
            if let Some(e) = device.phone.engine_counters().last_error.clone() {
                return Err(SimError::Server(format!("{}'s phone: {e}", phones[i].name)));
            }
            let tally = &mut self.tallies[i];
            for heard in device.heard.drain(..) {
                tally.scans += 1;
                row.scans += 1;
                self.totals.scans += 1;
                row.adverts_heard += heard.bands.len() as u64;
                for (band, attenuation) in heard.bands {
                    self.bands[band][attenuation.min(127) as usize] += 1;
                }
                keep_lowest(&mut self.scatter, heard.samples);
            }
            for (at, sender, form, detected) in device.settled.drain(..) {
                let cell = self
                    .matrix
                    .entry((phones[i].os, form_key(form)))
                    .or_insert((0, 0));
                cell.0 += 1;
                cell.1 += u64::from(detected);
                let positive = phones[sender].positive_at.is_some_and(|p| at < p);
                if positive {
                    tally.near_positive += 1;
                    tally.detecting_positive += u32::from(detected);
                    row.scans_near_positive += 1;
                    row.scans_detecting_positive += u32::from(detected);
                }
            }
        }
        Ok(())
    }
}
