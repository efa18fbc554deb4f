//! The phones of a run: one real `Tracer` per person, configured from the scenario (its
//! calibration entry, the authority's keys, the risk parameters), with its trajectory, its
//! OS policy and its advertising interval; and the seeds every draw derives from.

use std::sync::Arc;

use bluezone_core::driver::{DriverConfig, Platform};
use bluezone_core::{ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use bluezone_protocol::keyfile::TrustedKeys;
use bluezone_protocol::risk::RiskConfig;
use bluezone_server::Authority;
use rand::SeedableRng;

use super::device::{Device, SimEngine};
use super::{DAY_S, SimError};
use crate::movement::Trajectory;
use crate::noise::{hash, unit};
use crate::phones::{self, PhoneProfile};
use crate::policy::{DriverSettings, OsPolicy, Policies};
use crate::scenario::{AppMode, Carry, Event, EventKind, Os, People, Scenario, minutes_of};

// Domain tags of the noise hashes.
pub(super) const TAG_SHADOW: u64 = 1;
pub(super) const TAG_PACKET: u64 = 2;
pub(super) const TAG_PHASE: u64 = 3;
pub(super) const TAG_SCAN_PHASE: u64 = 4;
pub(super) const TAG_SCAN_JITTER: u64 = 5;
pub(super) const TAG_INTERVAL: u64 = 6;
pub(super) const TAG_PHONE: u64 = 7;
pub(super) const TAG_TRAJECTORY: u64 = 8;
pub(super) const TAG_SERVER: u64 = 9;
pub(super) const TAG_DISCOVERY: u64 = 10;

/// One person's phone and what the simulator knows about it.
pub(super) struct Phone {
    /// Full name (`group#n`).
    pub(super) name: String,
    /// Operating system.
    pub(super) os: Os,
    /// Model name.
    pub(super) model: String,
    /// Where it is carried.
    pub(super) carry: Carry,
    /// The model's true radio figures and its calibration entry.
    pub(super) profile: PhoneProfile,
    /// Its OS's advertising and scanning policy.
    pub(super) policy: OsPolicy,
    /// Its own advertising interval, seconds.
    pub(super) interval_s: f64,
    /// Where its owner is, when.
    pub(super) trajectory: Trajectory,
    /// Its engine.
    pub(super) tracer: Arc<Tracer>,
    /// The engine's clock (each phone's own: the executor sets it to each event's time).
    pub(super) clock: Arc<ManualClock>,
    /// The app starts on screen.
    pub(super) app_foreground: bool,
    /// The person's scripted events other than a positive test: (seconds since the start,
    /// kind), in time order.
    pub(super) person_events: Vec<(f64, EventKind)>,
    /// Tested positive at this time (seconds since the start), if at all: the official issues
    /// a code then, and contacts count in the truth until then.
    pub(super) positive_at: Option<f64>,
    /// What the person does with the code: seconds until they enter it, and whether they
    /// agree to upload.
    pub(super) entry: (f64, bool),
}

/// 32 bytes derived from the seed for `tag`.
pub(super) fn seed_bytes(seed: u64, tag: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (k, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&hash(&[seed, tag, k as u64]).to_le_bytes());
    }
    out
}

/// Opens every person's phone.
///
/// # Errors
/// [`SimError::Phone`] when an engine cannot open.
pub(super) fn open_phones(
    scenario: &Scenario,
    seed: u64,
    start_unix: i64,
    authority: &Authority,
    risk: &RiskConfig,
    policies: &Policies,
) -> Result<Vec<Phone>, SimError> {
    let names = scenario.person_names();
    let mut phones = Vec::with_capacity(names.len());
    for group in &scenario.people {
        let periods = presence_periods(group, *scenario.days.get_ref());
        for member in 0..*group.count.get_ref() {
            let index = phones.len();
            let name = names[index].clone();
            let id = index as u64;
            let (os, model) = member_phone(group, member);
            let profile = phones::profile(&model);
            let policy = policies.of(os).clone();
            // The first positive test of the person counts.
            let test = positive_test(scenario, &name);
            let clock = Arc::new(ManualClock::new(start_unix));
            let tracer = open_tracer(&profile, authority, risk, seed, id, clock.clone()).map_err(
                |source| SimError::Phone {
                    person: name.clone(),
                    source,
                },
            )?;
            let [lo, hi] = policy.advert_interval_ms;
            phones.push(Phone {
                trajectory: Trajectory::plan(
                    group.movement.get_ref(),
                    &periods,
                    hash(&[seed, TAG_TRAJECTORY, id]),
                ),
                interval_s: (lo + (hi - lo) * unit(hash(&[seed, TAG_INTERVAL, id]))) / 1_000.0,
                person_events: person_events(scenario, &name),
                name,
                os,
                model,
                carry: group.carry,
                profile,
                policy,
                tracer: Arc::new(tracer),
                clock,
                app_foreground: group.phone.app == AppMode::Foreground,
                positive_at: test.map(|(at, _)| at),
                entry: test.map_or((0.0, true), |(_, entry)| entry),
            });
        }
    }
    Ok(phones)
}

/// A group's presence periods, one per day: `(arrival, departure)`, seconds since the start.
fn presence_periods(group: &People, days: u32) -> Vec<(f64, f64)> {
    let from = f64::from(minutes_of(group.present.from.get_ref()).unwrap_or(0)) * 60.0;
    let to = f64::from(minutes_of(group.present.to.get_ref()).unwrap_or(0)) * 60.0;
    (0..days)
        .map(|d| (f64::from(d) * DAY_S + from, f64::from(d) * DAY_S + to))
        .collect()
}

/// The OS and model of a group's `member` (from 0): the group's phone, or an iPhone for its
/// iPhone share, spread evenly through the group, the same for every seed.
fn member_phone(group: &People, member: u32) -> (Os, String) {
    let share = group.ios_share.as_ref().map_or(0.0, |s| *s.get_ref());
    if (f64::from(member + 1) * share).floor() > (f64::from(member) * share).floor() {
        let ios_model = group.ios_model.as_deref().unwrap_or("iPhone 11");
        (Os::Ios, ios_model.to_owned())
    } else {
        (group.phone.os, group.phone.model.clone())
    }
}

/// When an event happens, seconds since the start.
fn event_time(e: &Event) -> f64 {
    f64::from(e.day.get_ref() - 1) * DAY_S
        + f64::from(minutes_of(e.at.get_ref()).unwrap_or(0)) * 60.0
}

/// `name`'s scripted events other than a positive test, in time order.
fn person_events(scenario: &Scenario, name: &str) -> Vec<(f64, EventKind)> {
    let mut list: Vec<(f64, EventKind)> = scenario
        .events
        .iter()
        .filter(|e| e.kind != EventKind::TestsPositive && e.person.get_ref() == name)
        .map(|e| (event_time(e), e.kind))
        .collect();
    list.sort_by(|a, b| a.0.total_cmp(&b.0));
    list
}

/// `name`'s first positive test, if any: its time, and the minutes until the code is entered
/// (in seconds) and whether the person consents to upload.
fn positive_test(scenario: &Scenario, name: &str) -> Option<(f64, (f64, bool))> {
    scenario
        .events
        .iter()
        .filter(|e| e.kind == EventKind::TestsPositive && e.person.get_ref() == name)
        .map(|e| {
            let delay = f64::from(*e.enters_code_after_minutes.get_ref()) * 60.0;
            (event_time(e), (delay, e.consents))
        })
        .reduce(|a, b| if b.0 < a.0 { b } else { a })
}

/// Phone `id`'s engine: in memory, on `clock`, configured from its calibration entry, the
/// authority's keys and the risk parameters, its keys and randomness drawn from the seed.
fn open_tracer(
    profile: &PhoneProfile,
    authority: &Authority,
    risk: &RiskConfig,
    seed: u64,
    id: u64,
    clock: Arc<ManualClock>,
) -> Result<Tracer, bluezone_core::CoreError> {
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
    Tracer::open_with(
        config,
        StorageLocation::InMemory,
        &MasterKey::from_bytes(seed_bytes(seed, TAG_PHONE + 1000 * id)),
        clock,
        Box::new(rand::rngs::StdRng::seed_from_u64(hash(&[
            seed, TAG_PHONE, id,
        ]))),
    )
}

/// Each phone's executor, running the real driver with the scenario's driver settings.
///
/// # Errors
/// [`SimError::Phone`] when an engine cannot give its saved state.
pub(super) fn open_devices(
    phones: &[Phone],
    settings: DriverSettings,
    seed: u64,
    start_unix: i64,
) -> Result<Vec<Device>, SimError> {
    phones
        .iter()
        .enumerate()
        .map(|(i, phone)| {
            let mut config = DriverConfig::default_for(match phone.os {
                Os::Android => Platform::Android,
                Os::Ios => Platform::Ios,
            });
            config.gatt.enabled = settings.gatt_fallback;
            config.rssi_correction_db = phone.profile.rssi_correction_db;
            let engine = SimEngine {
                tracer: phone.tracer.clone(),
                clock: phone.clock.clone(),
                stored: Vec::new(),
                ingest: std::time::Duration::ZERO,
                refused: 0,
                accepted: 0,
            };
            Device::new(
                phone,
                engine,
                config,
                hash(&[seed, TAG_SCAN_JITTER, i as u64]),
                start_unix,
                phone.person_events.clone(),
            )
            .map_err(|source| SimError::Phone {
                person: phone.name.clone(),
                source,
            })
        })
        .collect()
}

/// Every arrival (start of a presence period), in time order: `(time, phone)`.
pub(super) fn arrivals(phones: &[Phone]) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = phones
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            let mut last_end: Option<f64> = None;
            p.trajectory
                .legs()
                .iter()
                .filter_map(move |leg| {
                    let arrive = last_end.is_none_or(|e| leg.start > e);
                    last_end = Some(leg.end);
                    arrive.then_some((leg.start, i))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    out
}

/// Every positive test, in time order: `(time, phone)`.
pub(super) fn positives(phones: &[Phone]) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = phones
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.positive_at.map(|t| (t, i)))
        .collect();
    out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    out
}
