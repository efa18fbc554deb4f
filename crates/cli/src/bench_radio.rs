//! `bluezone bench radio`: the radio budget of the phone we ship. The real driver runs
//! through a [`Phone`] for a simulated day per profile (Android with the screen off or on,
//! in battery saver, with Bluetooth audio; iOS in the background and foreground; a desktop),
//! with an executor that carries its commands out at once and nearby phones heard while it
//! scans (Androids, and backgrounded iPhones it reads over GATT). It counts what costs
//! battery: scan on-time, scan starts, the alarms that wake the CPU, wake-lock time, GATT
//! connections, advertiser restarts. The baseline is the 2020 Bluezone app's Android duty
//! cycle, 40 s of low-latency scanning every 300 s (`ScanBleRun`/`ScanBleSleep`), with the
//! same phones around.
//!
//! These are the driver's own figures, not battery measurements: the current a radio draws
//! differs by chipset. They are exact for the code (same seed, same figures).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use bluezone_core::driver::{
    AppState, BluetoothState, Command, DriverConfig, Event, Platform, RestartReason, ScanReport,
};
use bluezone_core::{
    AdvertData, ManualClock, MasterKey, Phone, StorageLocation, Tracer, TracerConfig,
};
use bluezone_protocol::{Advertisement, IntervalNumber, Metadata, TemporaryExposureKey};
use clap::Args;
use rand::SeedableRng;

use crate::output::CliError;

/// Arguments of `bluezone bench radio`.
#[derive(Debug, Args)]
pub struct RadioArgs {
    /// Simulated hours per profile.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=168))]
    hours: u32,
    /// Android phones around the whole time.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=200))]
    androids: u32,
    /// Backgrounded iPhones around the whole time (heard only in Apple's overflow area).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=200))]
    iphones: u32,
    /// Seed of the scan jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// A phone's situation for a whole run.
struct Profile {
    name: &'static str,
    platform: Platform,
    screen_on: bool,
    power_save: bool,
    audio: bool,
    app: AppState,
    /// How often the OS reports each nearby phone while a scan runs, ms.
    report_every_ms: i64,
}

const PROFILES: [Profile; 7] = [
    profile(
        "Android, screen off",
        Platform::Android,
        false,
        false,
        false,
        AppState::Background,
    ),
    profile(
        "Android, screen on",
        Platform::Android,
        true,
        false,
        false,
        AppState::Foreground,
    ),
    profile(
        "Android, battery saver",
        Platform::Android,
        false,
        true,
        false,
        AppState::Background,
    ),
    profile(
        "Android, Bluetooth audio",
        Platform::Android,
        false,
        false,
        true,
        AppState::Background,
    ),
    profile(
        "iOS, background",
        Platform::Ios,
        false,
        false,
        false,
        AppState::Background,
    ),
    profile(
        "iOS, foreground",
        Platform::Ios,
        true,
        false,
        false,
        AppState::Foreground,
    ),
    profile(
        "desktop scanner",
        Platform::Desktop,
        true,
        false,
        false,
        AppState::Foreground,
    ),
];

const fn profile(
    name: &'static str,
    platform: Platform,
    screen_on: bool,
    power_save: bool,
    audio: bool,
    app: AppState,
) -> Profile {
    // In the background iOS listens in bursts and reports each device once per burst (the
    // simulator's iOS policy: a burst every 30 s); elsewhere a phone is reported every 2 s.
    let background_ios = matches!(platform, Platform::Ios) && matches!(app, AppState::Background);
    Profile {
        name,
        platform,
        screen_on,
        power_save,
        audio,
        app,
        report_every_ms: if background_ios { 30_000 } else { 2_000 },
    }
}

/// What a run cost, per hour.
#[derive(Debug, Default)]
struct Budget {
    scan_ms: i64,
    scan_starts: u64,
    timers: u64,
    wake_lock_ms: i64,
    gatt_reads: u64,
    advertising_starts: u64,
    sightings: u64,
}

/// 2026-11-02 00:00 UTC.
const START_MS: i64 = 1_793_577_600_000;

/// Runs the benchmark and prints its table.
pub fn run(args: &RadioArgs) -> Result<(), CliError> {
    let hours = f64::from(args.hours);
    println!(
        "radio budget over {} simulated hours, {} Androids and {} background iPhones around:\n",
        args.hours, args.androids, args.iphones
    );
    println!(
        "| profile | scan on-time | scan starts/h | alarms/h | wake lock s/h | GATT reads/h | advertiser starts/h | sightings/h |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, b: &Budget| {
        let per_hour = |n: u64| n as f64 / hours;
        println!(
            "| {name} | {:.2} % | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.0} |",
            b.scan_ms as f64 / (hours * 36_000.0),
            per_hour(b.scan_starts),
            per_hour(b.timers),
            b.wake_lock_ms as f64 / 1000.0 / hours,
            per_hour(b.gatt_reads),
            per_hour(b.advertising_starts),
            per_hour(b.sightings),
        );
    };
    let mut ours = Vec::new();
    for profile in &PROFILES {
        let budget = day(profile, args)?;
        row(profile.name, &budget);
        ours.push(budget);
    }
    let baseline = bluezone_2020(args);
    row("2020 Bluezone, Android (40 s every 300 s)", &baseline);
    let screen_off = &ours[0];
    println!(
        "\nscan_on_time_ratio_android_screen_off_vs_2020={:.3}",
        screen_off.scan_ms as f64 / baseline.scan_ms as f64
    );
    Ok(())
}

/// The 2020 app's Android scanning, counted the same way: 40 s windows every 300 s, one alarm
/// per window, a wake lock through each, one GATT connection per iPhone per window.
fn bluezone_2020(args: &RadioArgs) -> Budget {
    let windows = u64::from(args.hours) * 12;
    Budget {
        scan_ms: windows as i64 * 40_000,
        scan_starts: windows,
        timers: windows * 2,
        wake_lock_ms: windows as i64 * 40_000,
        gatt_reads: windows * u64::from(args.iphones),
        advertising_starts: 1,
        sightings: windows * 20 * u64::from(args.androids + args.iphones),
    }
}

/// A pending event of the executor's world.
type Queue = BinaryHeap<Reverse<(i64, u64, Pending)>>;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    Timer,
    ScanStarted,
    AdvertisingStarted,
    Read(String),
    Report,
}

/// One profile's simulated day.
fn day(profile: &Profile, args: &RadioArgs) -> Result<Budget, CliError> {
    let clock = Arc::new(ManualClock::new(START_MS / 1000));
    let tracer = Tracer::open_with(
        TracerConfig::default(),
        StorageLocation::InMemory,
        &MasterKey::from_bytes([9; 32]),
        clock.clone(),
        Box::new(rand::rngs::StdRng::seed_from_u64(args.seed)),
    )
    .map_err(fail)?;
    let config = DriverConfig::default_for(profile.platform);
    let mut phone = Phone::fresh(&tracer, config, args.seed, START_MS).map_err(fail)?;
    let end = START_MS + i64::from(args.hours) * 3_600_000;
    let neighbours = Neighbours::new(args.androids, args.iphones);
    let mut budget = Budget::default();
    let mut queue = Queue::new();
    let mut serial = 0u64;
    let mut world = World::default();
    for event in opening_events(profile) {
        let commands = phone.handle(START_MS, event);
        world.carry_out(START_MS, commands, &mut queue, &mut serial, &mut budget);
    }
    while let Some(Reverse((now, _, pending))) = queue.pop() {
        if now >= end {
            break;
        }
        clock.set(now / 1000);
        let events = match pending {
            Pending::Report if world.scanning_since.is_some() => {
                push(
                    &mut queue,
                    &mut serial,
                    now + profile.report_every_ms,
                    Pending::Report,
                );
                budget.sightings += neighbours.count();
                neighbours
                    .reports(now)
                    .into_iter()
                    .map(Event::ScanResult)
                    .collect()
            }
            pending => world.due(now, pending, &neighbours, &mut budget),
        };
        for event in events {
            let commands = phone.handle(now, event);
            world.carry_out(now, commands, &mut queue, &mut serial, &mut budget);
        }
    }
    world.close(end, &mut budget);
    Ok(budget)
}

/// What the phone is told as it starts: a process start with Bluetooth on and permitted,
/// the profile's screen, power-save, audio and app states, then collection enabled.
fn opening_events(profile: &Profile) -> [Event; 8] {
    [
        Event::Restarted(RestartReason::ProcessRestart),
        Event::Bluetooth(BluetoothState::On),
        Event::Permission { granted: true },
        Event::Screen {
            on: profile.screen_on,
        },
        Event::PowerSave {
            on: profile.power_save,
        },
        Event::BluetoothAudio {
            connected: profile.audio,
        },
        Event::App(profile.app),
        Event::Enable,
    ]
}

fn fail(e: bluezone_core::CoreError) -> CliError {
    CliError::Invalid(e.to_string())
}

fn push(queue: &mut Queue, serial: &mut u64, at: i64, pending: Pending) {
    *serial += 1;
    queue.push(Reverse((at, *serial, pending)));
}

/// The executor's state: what the radio is doing since when.
#[derive(Default)]
struct World {
    scanning_since: Option<i64>,
    wake_lock_since: Option<i64>,
    timer: Option<i64>,
}

impl World {
    /// The events a pending item due at `now` brings (none for a timer a later one replaced,
    /// or for a report after the scan stopped). Reports while scanning are the caller's.
    fn due(
        &mut self,
        now: i64,
        pending: Pending,
        neighbours: &Neighbours,
        budget: &mut Budget,
    ) -> Vec<Event> {
        match pending {
            Pending::Timer if self.timer == Some(now) => {
                self.timer = None;
                budget.timers += 1;
                vec![Event::Timer]
            }
            Pending::Timer | Pending::Report => Vec::new(), // replaced, or no longer scanning
            Pending::ScanStarted => vec![Event::ScanStarted],
            Pending::AdvertisingStarted => vec![Event::AdvertisingStarted],
            Pending::Read(device) => vec![Event::PayloadRead {
                result: Ok(neighbours.payload(&device, now)),
                device,
            }],
        }
    }

    fn carry_out(
        &mut self,
        now: i64,
        commands: Vec<Command>,
        queue: &mut Queue,
        serial: &mut u64,
        budget: &mut Budget,
    ) {
        for command in commands {
            match command {
                Command::StartScan { .. } => {
                    self.stop_scan(now, budget);
                    self.scanning_since = Some(now);
                    budget.scan_starts += 1;
                    push(queue, serial, now, Pending::ScanStarted);
                    push(queue, serial, now + 500, Pending::Report);
                }
                Command::StopScan => self.stop_scan(now, budget),
                Command::StartAdvertising(_) => {
                    budget.advertising_starts += 1;
                    push(queue, serial, now, Pending::AdvertisingStarted);
                }
                Command::ReadPayload { device } => {
                    budget.gatt_reads += 1;
                    push(queue, serial, now + 300, Pending::Read(device));
                }
                Command::WakeAt { at_ms } => {
                    self.timer = Some(at_ms);
                    push(queue, serial, at_ms, Pending::Timer);
                }
                Command::HoldWakeLock => {
                    self.wake_lock_since.get_or_insert(now);
                }
                Command::ReleaseWakeLock => self.release(now, budget),
                Command::StopAdvertising
                | Command::CancelConnection { .. }
                | Command::RespondToRead { .. }
                | Command::ShowStatus(_) => {}
            }
        }
    }

    fn stop_scan(&mut self, now: i64, budget: &mut Budget) {
        if let Some(since) = self.scanning_since.take() {
            budget.scan_ms += now - since;
        }
    }

    fn release(&mut self, now: i64, budget: &mut Budget) {
        if let Some(since) = self.wake_lock_since.take() {
            budget.wake_lock_ms += now - since;
        }
    }

    fn close(&mut self, end: i64, budget: &mut Budget) {
        self.stop_scan(end, budget);
        self.release(end, budget);
    }
}

/// The phones around: Androids advertising their payload, iPhones in the background
/// advertising only Apple's overflow area (read over GATT).
struct Neighbours {
    androids: Vec<TemporaryExposureKey>,
    iphones: Vec<TemporaryExposureKey>,
}

/// An iPhone in the background: flags, then Apple's manufacturer data, type 0x01 (overflow).
const IPHONE_OVERFLOW: [u8; 24] = [
    2, 1, 6, 20, 0xFF, 0x4C, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

impl Neighbours {
    fn new(androids: u32, iphones: u32) -> Self {
        let key = |i: u32, tag: u8| {
            let mut bytes = [tag; 16];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            TemporaryExposureKey::from_bytes(bytes)
        };
        Self {
            androids: (0..androids).map(|i| key(i, 0xA0)).collect(),
            iphones: (0..iphones).map(|i| key(i, 0x10)).collect(),
        }
    }

    fn count(&self) -> u64 {
        (self.androids.len() + self.iphones.len()) as u64
    }

    /// The advert a phone with `tek` sends at `now_ms`.
    fn advert(tek: &TemporaryExposureKey, now_ms: i64) -> Advertisement {
        let keys = tek.derive_keys();
        let interval =
            IntervalNumber::from_unix_seconds(now_ms / 1000).unwrap_or(IntervalNumber::new(0));
        let rpi = keys.rpik.identifier(interval);
        let aem = keys
            .aemk
            .encrypt(&rpi, Metadata::v1_0(-15).to_bytes().unwrap_or_default());
        Advertisement { rpi, aem }
    }

    fn reports(&self, now_ms: i64) -> Vec<ScanReport> {
        // Addresses change with the identifier (every 10-minute interval).
        let interval = now_ms / 600_000;
        let android = self.androids.iter().enumerate().map(|(i, tek)| ScanReport {
            device: format!("android-{i}-{interval}"),
            advert: AdvertData::Raw(Self::advert(tek, now_ms).to_legacy_payload().to_vec()),
            service_uuids: Vec::new(),
            apple_overflow: false,
            rssi: -70,
            tx_power_dbm: None,
        });
        let iphone = (0..self.iphones.len()).map(|i| ScanReport {
            device: format!("iphone-{i}-{interval}"),
            advert: AdvertData::Raw(IPHONE_OVERFLOW.to_vec()),
            service_uuids: Vec::new(),
            apple_overflow: true,
            rssi: -70,
            tx_power_dbm: None,
        });
        android.chain(iphone).collect()
    }

    /// The 20-byte payload an iPhone serves over GATT.
    fn payload(&self, device: &str, now_ms: i64) -> Vec<u8> {
        let index: usize = device
            .split('-')
            .nth(1)
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        self.iphones
            .get(index)
            .map(|tek| Self::advert(tek, now_ms).service_data().to_vec())
            .unwrap_or_default()
    }
}
