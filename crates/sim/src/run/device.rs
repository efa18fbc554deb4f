//! Each simulated phone's executor: it runs the real phone driver (`bluezone_core::Phone`
//! over the phone's own `Tracer`) and carries out its commands under its OS's constraints:
//! scans listen through the radio model, advertising puts the payload on air in the form the
//! OS allows, GATT reads succeed or fail after a latency, alarms fire on time (the driver
//! asks for exact ones), and the person's own events (Bluetooth off, a reboot, opening the
//! app) arrive as the platform would report them. What the driver stores is attributed back
//! to the advertisers, for the detection matrix.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::driver::{
    AppState, BluetoothState, Command, Event, ReadFailure, RestartReason, ScanFilters,
};
use bluezone_core::{
    AdvertData, CoreError, CurrentAdvertisement, IngestReport, ManualClock, Phone as CorePhone,
    PhoneEngine, SightingInput, Tracer,
};
use bluezone_protocol::Advertisement;

use super::fleet::{Phone, TAG_SCAN_PHASE};
use super::listen::{Heard, Listening, World};
use crate::grid::Grid;
use crate::movement::Pose;
use crate::noise::hash;
use crate::scenario::{EventKind, Os};

/// How long a reboot keeps the phone off, seconds.
const REBOOT_S: f64 = 120.0;
/// A window's detections are settled this long after it opens, seconds (window, reads,
/// grace).
const SETTLE_S: f64 = 30.0;
/// A continuous scan's detections are counted once per this long (the driver's window).
const CONTINUOUS_CHECK_S: f64 = 60.0;

/// How a phone's advertisement is on air, as others' scanners meet it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum AirForm {
    /// Android: the payload in the advert.
    AndroidPayload,
    /// iPhone, app on screen: the service UUID in the advert; the payload over GATT.
    IosForeground,
    /// iPhone in the background: Apple's overflow area; the payload over GATT.
    IosBackground,
}

/// What a phone has on air.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Air {
    /// The identifier and metadata.
    pub(super) advertisement: Advertisement,
    /// How others meet it.
    pub(super) form: AirForm,
    /// Advertising restarts so far (the address changes with each).
    pub(super) epoch: u32,
}

/// The engine side of a simulated phone: its `Tracer`, plus a note of every identifier
/// stored (for attribution) and the time spent storing.
pub(super) struct SimEngine {
    pub(super) tracer: Arc<Tracer>,
    /// The tracer's own clock.
    pub(super) clock: Arc<ManualClock>,
    /// RPIs stored since last drained.
    pub(super) stored: Vec<[u8; 16]>,
    pub(super) ingest: Duration,
    pub(super) refused: u64,
    pub(super) accepted: u64,
}

impl PhoneEngine for SimEngine {
    fn current_advertisement(&mut self) -> Result<CurrentAdvertisement, CoreError> {
        self.tracer.current_advertisement()
    }

    fn identity_changes(&mut self) -> Result<u64, CoreError> {
        self.tracer.identity_changes()
    }

    fn record(&mut self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
        for s in batch {
            match &s.advert {
                AdvertData::Decoded(a) => self.stored.push(a.rpi.0),
                AdvertData::ServiceData(bytes) if bytes.len() >= 16 => {
                    let mut rpi = [0u8; 16];
                    rpi.copy_from_slice(&bytes[..16]);
                    self.stored.push(rpi);
                }
                _ => {}
            }
        }
        let began = Instant::now();
        let report = self.tracer.record_sightings(batch)?;
        self.ingest += began.elapsed();
        self.accepted += report.accepted;
        self.refused += report.rejected();
        Ok(report)
    }

    fn load_driver_state(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
        self.tracer.driver_state()
    }

    fn save_driver_state(&mut self, bytes: &[u8]) -> Result<(), CoreError> {
        self.tracer.save_driver_state(bytes)
    }
}

/// Something due for the driver at a time (Unix ms), in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// A scan result of scan session `session`.
    Result { session: u64, index: usize },
    /// A GATT read finished.
    Read {
        device: String,
        ok: bool,
        payload: Vec<u8>,
    },
    /// The person does something.
    Person(usize),
    /// The phone comes back from a reboot.
    BootCompleted,
}

/// One scan window (or burst) whose detections are being settled.
struct Check {
    at: f64,
    settle_at: f64,
    /// `(sender, form, detected)` of each advertiser within the contact distance.
    near: Vec<(usize, AirForm, bool)>,
}

/// A scan as the platform runs it.
#[derive(Debug, Clone, Copy)]
struct ScanOn {
    session: u64,
    filters: ScanFilters,
    continuous: bool,
}

/// One phone's executor.
pub(super) struct Device {
    pub(super) phone: CorePhone<SimEngine>,
    pub(super) air: Option<Air>,
    bluetooth_on: bool,
    foreground: bool,
    powered: bool,
    scan: Option<ScanOn>,
    sessions: u64,
    epoch: u32,
    next_burst: f64,
    queue: BinaryHeap<Reverse<(i64, u64, Due)>>,
    seq: u64,
    /// Scan results waiting, by index (the queue holds indices: results are large).
    results: HashMap<usize, bluezone_core::driver::ScanReport>,
    next_result: usize,
    checks: Vec<Check>,
    /// When the last check opened.
    last_check: f64,
    /// The person's scripted events, in time order: (seconds since the start, kind).
    person_events: Vec<(f64, EventKind)>,
    /// What the step's listening heard (drained by the run).
    pub(super) heard: Vec<Heard>,
    /// Settled detections: `(window start, sender, form, detected)` (drained by the run).
    pub(super) settled: Vec<(f64, usize, AirForm, bool)>,
    /// Seconds present and collecting, seconds present.
    pub(super) uptime: (f64, f64),
    /// Windows (and bursts) listened.
    pub(super) scans: u64,
}

/// What one step needs to carry out commands.
pub(super) struct Step<'a> {
    pub(super) world: &'a World<'a>,
    pub(super) poses: &'a [(usize, Pose)],
    pub(super) grid: &'a Grid,
    pub(super) air: &'a [Option<Air>],
    pub(super) owners: &'a HashMap<[u8; 16], usize>,
    /// Slot of each phone among the poses.
    pub(super) slot_of: &'a HashMap<usize, usize>,
    pub(super) start_unix: i64,
    pub(super) seed: u64,
}

fn ms(start_unix: i64, t: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let offset = (t * 1000.0).round() as i64;
    start_unix * 1000 + offset
}

impl Device {
    /// A phone with collection on (the app installed and enabled before the scenario).
    pub(super) fn new(
        phone: &Phone,
        engine: SimEngine,
        config: bluezone_core::driver::DriverConfig,
        seed: u64,
        start_unix: i64,
        person_events: Vec<(f64, EventKind)>,
    ) -> Result<Self, CoreError> {
        let core = CorePhone::open(engine, config, seed, start_unix * 1000)?;
        Ok(Self {
            phone: core,
            air: None,
            bluetooth_on: true,
            foreground: phone.app_foreground,
            powered: true,
            scan: None,
            sessions: 0,
            epoch: 0,
            next_burst: 0.0,
            queue: BinaryHeap::new(),
            seq: 0,
            results: HashMap::new(),
            next_result: 0,
            checks: Vec::new(),
            last_check: f64::NEG_INFINITY,
            person_events,
            heard: Vec::new(),
            settled: Vec::new(),
            uptime: (0.0, 0.0),
            scans: 0,
        })
    }

    fn push(&mut self, at_ms: i64, due: Due) {
        self.seq += 1;
        self.queue.push(Reverse((at_ms, self.seq, due)));
    }

    /// The person arrives for the first time: the app is enabled (or was, and the phone
    /// just comes into the scenario).
    pub(super) fn arrive(&mut self, me: usize, t: f64, step: &Step<'_>) {
        if self.phone.driver().saved_state().enabled {
            return;
        }
        // The app was turned on a little before the person came in, so phones do not all
        // start their duty cycles in step (the scan period is at least 210 s).
        let before = 200.0 * crate::noise::unit(hash(&[step.seed, TAG_SCAN_PHASE, me as u64]));
        let on = (t - before).max(0.0);
        let now = ms(step.start_unix, on);
        // Scripted events go into the queue once.
        for k in 0..self.person_events.len() {
            let (at, _) = self.person_events[k];
            self.push(ms(step.start_unix, at), Due::Person(k));
        }
        let app = if self.foreground {
            AppState::Foreground
        } else {
            AppState::Background
        };
        step_clock(&self.phone, now);
        let mut commands = self.phone.handle(now, Event::App(app));
        commands.extend(self.phone.handle(
            now,
            Event::Screen {
                on: self.foreground,
            },
        ));
        commands.extend(self.phone.handle(now, Event::Enable));
        // Not yet in the place: whatever it scans then hears nobody here.
        self.execute(me, now, on, commands, step, false);
    }

    /// Runs everything due before `until` (seconds since the start).
    pub(super) fn advance(&mut self, me: usize, t: f64, until: f64, step: &Step<'_>) {
        let present = step.slot_of.contains_key(&me);
        let collecting = self.powered
            && self.phone.driver().status().state
                == bluezone_core::driver::CollectionState::Collecting;
        if present {
            self.uptime.1 += until - t;
            if collecting {
                self.uptime.0 += until - t;
            }
        }
        // A continuous scan (iOS) listens through the step, or in the OS's bursts.
        if let Some(scan) = self.scan.filter(|s| s.continuous && present) {
            self.listen_continuous(me, scan, t, until, step);
        }
        let until_ms = ms(step.start_unix, until);
        loop {
            let timer = self.phone.driver().next_wakeup().filter(|_| self.powered);
            let queued = self.queue.peek().map(|Reverse((at, _, _))| *at);
            let next = match (timer, queued) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next >= until_ms {
                break;
            }
            let at = next.max(ms(step.start_unix, t));
            #[allow(clippy::cast_precision_loss)]
            let at_s = (at - step.start_unix * 1000) as f64 / 1000.0;
            step_clock(&self.phone, at);
            let event = if timer == Some(next) && queued.is_none_or(|q| q > next) {
                Some(Event::Timer)
            } else {
                let Some(Reverse((_, _, due))) = self.queue.pop() else {
                    break;
                };
                self.due_event(me, due, at, step)
            };
            if let Some(event) = event {
                let commands = self.phone.handle(at, event);
                self.execute(me, at, at_s, commands, step, true);
            }
            self.attribute(at_s, step);
        }
        self.settle(until);
    }

    fn due_event(&mut self, me: usize, due: Due, at: i64, step: &Step<'_>) -> Option<Event> {
        match due {
            Due::Result { session, index } => {
                let report = self.results.remove(&index)?;
                let live = self.powered
                    && self.bluetooth_on
                    && self.scan.is_some_and(|s| s.session == session);
                live.then_some(Event::ScanResult(report))
            }
            Due::Read {
                device,
                ok,
                payload,
            } => self.powered.then_some(Event::PayloadRead {
                device,
                result: if ok {
                    Ok(payload)
                } else {
                    Err(ReadFailure::ConnectionFailed)
                },
            }),
            Due::Person(k) => {
                let kind = self.person_events[k].1;
                self.person(me, kind, at, step)
            }
            Due::BootCompleted => {
                self.powered = true;
                Some(Event::Restarted(RestartReason::Boot))
            }
        }
    }

    fn person(&mut self, me: usize, kind: EventKind, at: i64, step: &Step<'_>) -> Option<Event> {
        if !self.powered && kind != EventKind::TestsPositive {
            return None;
        }
        match kind {
            EventKind::TestsPositive => None,
            EventKind::BluetoothOff => {
                self.bluetooth_on = false;
                self.scan = None;
                self.air = None;
                Some(Event::Bluetooth(BluetoothState::Off))
            }
            EventKind::BluetoothOn => {
                self.bluetooth_on = true;
                Some(Event::Bluetooth(BluetoothState::On))
            }
            EventKind::OpensApp | EventKind::ClosesApp => {
                self.foreground = kind == EventKind::OpensApp;
                let commands = self.phone.handle(
                    at,
                    Event::Screen {
                        on: self.foreground,
                    },
                );
                #[allow(clippy::cast_precision_loss)]
                let at_s = (at - step.start_unix * 1000) as f64 / 1000.0;
                self.execute(me, at, at_s, commands, step, true);
                if let Some(air) = &mut self.air
                    && air.form != AirForm::AndroidPayload
                {
                    air.form = if self.foreground {
                        AirForm::IosForeground
                    } else {
                        AirForm::IosBackground
                    };
                }
                Some(Event::App(if self.foreground {
                    AppState::Foreground
                } else {
                    AppState::Background
                }))
            }
            EventKind::Reboots => {
                // Shutting down: Android tells the app; then everything is gone.
                let commands = self.phone.handle(at, Event::App(AppState::Terminating));
                #[allow(clippy::cast_precision_loss)]
                let at_s = (at - step.start_unix * 1000) as f64 / 1000.0;
                self.execute(me, at, at_s, commands, step, true);
                self.powered = false;
                self.scan = None;
                self.air = None;
                #[allow(clippy::cast_possible_truncation)]
                self.push(at + (REBOOT_S * 1000.0) as i64, Due::BootCompleted);
                None
            }
        }
    }

    /// Carries out the driver's commands.
    fn execute(
        &mut self,
        me: usize,
        now: i64,
        t: f64,
        commands: Vec<Command>,
        step: &Step<'_>,
        present: bool,
    ) {
        if !self.powered || !self.bluetooth_on {
            return;
        }
        for command in commands {
            match command {
                Command::StartScan {
                    filters, window_ms, ..
                } => {
                    self.sessions += 1;
                    let scan = ScanOn {
                        session: self.sessions,
                        filters,
                        continuous: window_ms.is_none(),
                    };
                    self.scan = Some(scan);
                    if let Some(window) = window_ms.filter(|_| present) {
                        #[allow(clippy::cast_precision_loss)]
                        let length = window as f64 / 1000.0;
                        let how = Listening {
                            start: t,
                            length,
                            id: self.sessions,
                            filters,
                            foreground: self.foreground,
                            coalesce: false,
                        };
                        self.listen(me, scan.session, &how, step);
                    } else if window_ms.is_none() {
                        self.next_burst = t;
                    }
                }
                Command::StopScan => self.scan = None,
                Command::StartAdvertising(request) => {
                    self.put_on_air(&request.service_data, step.world.phones[me].os);
                }
                Command::StopAdvertising => self.air = None,
                Command::ReadPayload { device } => self.read(me, now, device, step),
                Command::CancelConnection { .. }
                | Command::RespondToRead { .. }
                | Command::WakeAt { .. }
                | Command::HoldWakeLock
                | Command::ReleaseWakeLock
                | Command::ShowStatus(_) => {}
            }
        }
    }

    /// Advertising restarted with this payload: a new address, in the form the OS allows.
    fn put_on_air(&mut self, service_data: &[u8], os: Os) {
        let Ok(advertisement) = Advertisement::from_service_data(service_data) else {
            self.air = None;
            return;
        };
        self.epoch += 1;
        let form = match (os, self.foreground) {
            (Os::Android, _) => AirForm::AndroidPayload,
            (Os::Ios, true) => AirForm::IosForeground,
            (Os::Ios, false) => AirForm::IosBackground,
        };
        self.air = Some(Air {
            advertisement,
            form,
            epoch: self.epoch,
        });
    }

    fn read(&mut self, me: usize, now: i64, device: String, step: &Step<'_>) {
        let sender: Option<usize> = device.split('.').next().and_then(|a| a.parse().ok());
        let (distance, on) = match sender {
            Some(a) => {
                let here = step.slot_of.get(&me).map(|&s| step.poses[s].1.at);
                let there = step.slot_of.get(&a).map(|&s| step.poses[s].1.at);
                let d = here
                    .zip(there)
                    .map(|(p, q)| crate::geometry::distance_squared(p, q).sqrt());
                // The address must still be the one the scan saw.
                let on = step.air[a].filter(|on| device.ends_with(&format!(".{}", on.epoch)));
                (d, on)
            }
            None => (None, None),
        };
        let draw = hash(&[step.seed, TAG_SCAN_PHASE + 100, me as u64, self.seq]);
        let (ok, latency) = step
            .world
            .read(me, sender.unwrap_or(me), distance, on, draw);
        let payload = on.map_or_else(Vec::new, |on| on.advertisement.service_data().to_vec());
        #[allow(clippy::cast_possible_truncation)]
        let at = now + (latency * 1000.0) as i64;
        self.push(
            at,
            Due::Read {
                device,
                ok,
                payload,
            },
        );
    }

    fn listen_continuous(&mut self, me: usize, scan: ScanOn, t: f64, until: f64, step: &Step<'_>) {
        let policy = &step.world.phones[me].policy;
        let bursts = !self.foreground && policy.background_burst_every_s > 0.0;
        if !bursts {
            let how = Listening {
                start: t,
                length: until - t,
                id: hash(&[me as u64, t.to_bits()]),
                filters: scan.filters,
                foreground: self.foreground,
                coalesce: false,
            };
            self.listen(me, scan.session, &how, step);
            return;
        }
        while self.next_burst < until {
            let start = self.next_burst.max(t);
            let how = Listening {
                start,
                length: policy.background_burst_s,
                id: hash(&[me as u64, start.to_bits()]),
                filters: scan.filters,
                foreground: false,
                coalesce: policy.background_coalesces,
            };
            self.listen(me, scan.session, &how, step);
            self.next_burst = start + policy.background_burst_every_s;
        }
    }

    fn listen(&mut self, me: usize, session: u64, how: &Listening, step: &Step<'_>) {
        let Some(&slot) = step.slot_of.get(&me) else {
            return;
        };
        self.scans += 1;
        let mut heard = step
            .world
            .listen(slot, how, step.poses, step.grid, step.air);
        heard
            .reports
            .sort_by(|a, b| a.at.total_cmp(&b.at).then(a.sender.cmp(&b.sender)));
        for reported in heard.reports.drain(..) {
            let index = self.next_result;
            self.next_result += 1;
            self.results.insert(index, reported.report);
            self.push(
                ms(step.start_unix, reported.at),
                Due::Result { session, index },
            );
        }
        // A continuous scan in the foreground listens a step at a time, but its driver stores a
        // window a minute: detections are counted once per such window.
        let continuous = self.scan.is_some_and(|s| s.continuous) && !how.coalesce;
        if !continuous || how.start >= self.last_check + CONTINUOUS_CHECK_S {
            self.last_check = how.start;
            let settle = if continuous {
                CONTINUOUS_CHECK_S + SETTLE_S
            } else {
                SETTLE_S
            };
            self.checks.push(Check {
                at: how.start,
                settle_at: how.start + settle,
                near: heard
                    .near
                    .iter()
                    .map(|&(a, form)| (a, form, false))
                    .collect(),
            });
        }
        self.heard.push(heard);
    }

    /// Marks advertisers whose identifiers the engine stored as detected.
    fn attribute(&mut self, at: f64, step: &Step<'_>) {
        let stored = std::mem::take(&mut self.phone.engine_mut().stored);
        for rpi in stored {
            let Some(&owner) = step.owners.get(&rpi) else {
                continue;
            };
            for check in self.checks.iter_mut().filter(|c| at < c.settle_at) {
                for entry in check.near.iter_mut().filter(|e| e.0 == owner) {
                    entry.2 = true;
                }
            }
        }
    }

    fn settle(&mut self, now: f64) {
        let (done, open): (Vec<Check>, Vec<Check>) =
            self.checks.drain(..).partition(|c| c.settle_at <= now);
        self.checks = open;
        for check in done {
            let at = check.at;
            self.settled
                .extend(check.near.into_iter().map(|(a, form, d)| (at, a, form, d)));
        }
    }

    /// Settles everything (the end of the run).
    pub(super) fn finish(&mut self) {
        self.settle(f64::INFINITY);
    }
}

/// The engine reads the time from the phone's own clock; it shows the event's second.
fn step_clock(phone: &CorePhone<SimEngine>, at_ms: i64) {
    phone.engine().clock_set(at_ms.div_euclid(1000));
}

impl SimEngine {
    fn clock_set(&self, now: i64) {
        self.clock.set(now);
    }
}
