//! The phone driver: every decision a phone makes about its radio, as a sans-IO state machine
//! (decision 0012).
//!
//! The platform (an Android service, an iOS app, the simulator, the desktop scanner) hands
//! every event to [`Driver::handle`] with the time, then carries out the [`Output`]s that
//! [`Driver::poll_output`] gives, in order: [`Command`]s for the radio, timers and the screen,
//! and [`EngineRequest`]s the glue in [`crate::phone`] answers with the `Tracer`. The driver
//! does no I/O, reads no clock and draws its jitter from a seeded generator, so a trace of
//! events gives the same commands every time.
//!
//! What it owns: GAEN's scan duty cycle (a window at least every 5 minutes, jittered, adapted
//! to the screen and to Bluetooth audio), or continuous scanning cut into windows where the
//! platform cannot time scans (iOS); identifier rotation together with the address (the
//! advertiser restarted at the rotation moment, never a payload on air past its time); the
//! GATT fallback for iPhones ([`GattConfig`]); storing each window's sightings when it ends and at
//! once when the app leaves the screen or is terminated; pausing with a reason when
//! Bluetooth or the permission goes, and resuming; recovery from [`SavedState`] after a
//! reboot, an update or process death; the status and the "nearby now" count.
//!
//! The machine reconciles rather than reacts: after every event it compares what should be
//! running with what is, so events in any order leave it consistent (property-tested).

mod classify;
mod config;
mod gatt;
mod io;
mod saved;
mod status;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

pub use classify::{APPLE_COMPANY_ID, APPLE_OVERFLOW_TYPE, AdvertKind, classify};
pub use config::{DriverConfig, GattConfig};
pub use gatt::GattCounters;
pub use io::{
    AdvertisingRequest, AppState, BluetoothState, Command, EngineRequest, Event, Output, Platform,
    ReadFailure, RestartReason, ScanFilters, ScanMode, ScanReport,
};
pub use saved::SavedState;
pub use status::{CollectionState, CollectionStatus, NearbyCount, PauseReason};

use crate::ingest::{AdvertData, SightingInput};
use crate::rotation::CurrentAdvertisement;
use gatt::{GattPlanner, Heard, ReadOutcome, Seen};

/// Longest wait before a failed advertising start is retried, ms.
const MAX_ADVERTISING_RETRY_MS: i64 = 900_000;
/// Results reported this long after their window closed still count in it, ms.
const LATE_RESULT_MS: i64 = 2_000;

/// What the driver has done since it was created (nothing in it leaves the phone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DriverCounters {
    /// Scan windows completed.
    pub windows: u64,
    /// Sightings handed to the engine.
    pub sightings: u64,
    /// Adverts that were not exposure notification.
    pub unrelated: u64,
    /// iPhone adverts dropped (the device was backing off or the read queue was full, or
    /// the fallback is off).
    pub unread: u64,
    /// Results reported while no scan was running.
    pub late_results: u64,
    /// Scan starts the platform refused.
    pub scan_failures: u64,
    /// Advertising starts the platform refused.
    pub advertising_failures: u64,
    /// Identifier rotations (advertising restarted with a new payload).
    pub rotations: u64,
    /// Restarts from saved state.
    pub restarts: u64,
    /// The GATT fallback's own counts.
    pub gatt: GattCounters,
}

/// The scanner's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Not scanning; the next window opens at this time.
    Idle { next_ms: i64 },
    /// A window is open (for continuous scanning: the current cut).
    Open { id: u64, start_ms: i64, end_ms: i64 },
}

/// The advertiser's phase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Advertising {
    /// Nothing on air.
    Off,
    /// Waiting for the engine's advertisement.
    Asked,
    /// On air until `until_ms` (the rotation moment).
    On { until_ms: i64 },
    /// The platform or the engine refused; retry at `retry_ms`.
    Failed { retry_ms: i64, attempts: u32 },
}

/// SplitMix64: the jitter source (not for secrets).
#[derive(Debug, Clone)]
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max` (max ≥ 0).
    fn up_to(&mut self, max: i64) -> i64 {
        let span = u64::try_from(max).unwrap_or(0).saturating_add(1);
        i64::try_from(self.next() % span).unwrap_or(0)
    }
}

/// The driver of one phone's radio. See the module documentation.
#[derive(Debug, Clone)]
pub struct Driver {
    config: DriverConfig,
    jitter: Jitter,
    now_ms: i64,
    enabled: bool,
    bluetooth: BluetoothState,
    permission: bool,
    app: AppState,
    /// Told the app is terminating, and nothing since showed it lives on.
    suspended: bool,
    screen_on: bool,
    power_save: bool,
    bluetooth_audio: bool,
    status: CollectionStatus,
    /// The status last sent with [`Command::ShowStatus`].
    shown: Option<CollectionStatus>,
    scan: Scan,
    /// Scan starts in the last `scan_start_window_ms`.
    scan_starts: VecDeque<i64>,
    consecutive_scan_failures: u32,
    /// The last closed window: (id, end) for late results and read grace.
    last_window: Option<(u64, i64)>,
    last_window_id: u64,
    advertising: Advertising,
    /// The engine was asked again for the advertisement on air (see
    /// [`Event::IdentityChanged`]); its answer may keep the payload and move the rotation.
    rechecking: bool,
    current: Option<CurrentAdvertisement>,
    pending: Vec<SightingInput>,
    /// When the oldest sighting in `pending` was heard.
    pending_since_ms: Option<i64>,
    /// Strongest RSSI per sender in the open window.
    window_senders: HashMap<String, i16>,
    nearby: Option<NearbyCount>,
    gatt: GattPlanner,
    wake_lock: bool,
    wake_at: Option<i64>,
    saved: SavedState,
    counters: DriverCounters,
    out: VecDeque<Output>,
}

impl Driver {
    /// A driver as on a fresh install (collection off until [`Event::Enable`]). `seed` feeds
    /// the scan jitter only; take it from the OS generator.
    ///
    /// # Errors
    /// The config's first bad field ([`DriverConfig::check`]).
    pub fn new(config: DriverConfig, seed: u64, now_ms: i64) -> Result<Self, &'static str> {
        Self::restore(config, seed, now_ms, SavedState::default())
    }

    /// A driver resuming from `saved` (after [`Event::Restarted`] it collects again if it
    /// was on).
    ///
    /// # Errors
    /// The config's first bad field.
    pub fn restore(
        config: DriverConfig,
        seed: u64,
        now_ms: i64,
        saved: SavedState,
    ) -> Result<Self, &'static str> {
        config.check()?;
        Ok(Self {
            config,
            jitter: Jitter(seed),
            now_ms,
            enabled: saved.enabled,
            bluetooth: saved.bluetooth,
            permission: saved.permission,
            app: AppState::Background,
            suspended: false,
            screen_on: false,
            power_save: false,
            bluetooth_audio: false,
            status: CollectionStatus {
                state: saved.state,
                since_ms: saved.since_ms,
                advertising_failing: false,
            },
            shown: None,
            scan: Scan::Idle { next_ms: now_ms },
            scan_starts: VecDeque::new(),
            consecutive_scan_failures: 0,
            last_window: None,
            last_window_id: saved.last_window,
            advertising: Advertising::Off,
            rechecking: false,
            current: None,
            pending: Vec::new(),
            pending_since_ms: None,
            window_senders: HashMap::new(),
            nearby: None,
            gatt: GattPlanner::default(),
            wake_lock: false,
            wake_at: None,
            saved,
            counters: DriverCounters::default(),
            out: VecDeque::new(),
        })
    }

    /// Takes one event at `now_ms` (Unix ms). Then drain [`Driver::poll_output`].
    pub fn handle(&mut self, now_ms: i64, event: Event) {
        self.set_time(now_ms);
        // Deadlines first: a result that arrives after its window ended belongs to the next.
        // Not before a restart: what a restored driver believes runs is gone, and the restart
        // resets it without flapping the radio.
        if !matches!(event, Event::Restarted(_)) && self.can_run() && !self.suspended {
            let now = self.now_ms;
            self.run_advertising(now);
            self.run_scanning(now);
            self.run_reads(now);
            self.run_background_store(now);
        }
        self.apply(event);
        self.reconcile();
    }

    /// The next output to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Every output waiting, in order.
    pub fn drain_outputs(&mut self) -> Vec<Output> {
        self.out.drain(..).collect()
    }

    /// When the driver next needs [`Event::Timer`] (Unix ms), if at all.
    #[must_use]
    pub fn next_wakeup(&self) -> Option<i64> {
        self.wake_at
    }

    /// What to show the person.
    #[must_use]
    pub fn status(&self) -> CollectionStatus {
        self.status
    }

    /// Phones heard in the last completed window.
    #[must_use]
    pub fn nearby(&self) -> Option<NearbyCount> {
        self.nearby
    }

    /// What the driver has done.
    #[must_use]
    pub fn counters(&self) -> DriverCounters {
        DriverCounters {
            gatt: self.gatt.counters,
            ..self.counters
        }
    }

    /// The state to save (also emitted as [`EngineRequest::SaveState`] when it changes).
    #[must_use]
    pub fn saved_state(&self) -> SavedState {
        self.saved
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// Whether a scan is running.
    #[must_use]
    pub fn scanning(&self) -> bool {
        matches!(self.scan, Scan::Open { .. })
    }

    /// The payload on air and until when (Unix ms), if any.
    #[must_use]
    pub fn on_air(&self) -> Option<(CurrentAdvertisement, i64)> {
        match (&self.advertising, self.current) {
            (Advertising::On { until_ms }, Some(current)) => Some((current, *until_ms)),
            _ => None,
        }
    }

    fn set_time(&mut self, now_ms: i64) {
        if now_ms < self.now_ms {
            // The clock went back (the person changed it, or a network time fix): nothing
            // scheduled from the old time may wait longer than it would from the new one.
            let period = self.config.scan_period_ms;
            if let Scan::Idle { next_ms } = &mut self.scan {
                *next_ms = (*next_ms).min(now_ms + period);
            }
            if let Scan::Open {
                start_ms, end_ms, ..
            } = &mut self.scan
            {
                *start_ms = (*start_ms).min(now_ms);
                *end_ms = (*end_ms).min(now_ms + self.config.continuous_window_ms);
            }
            if let Advertising::On { until_ms } = &mut self.advertising {
                // Rotate now: the engine rotates when the clock is before the last rotation.
                *until_ms = (*until_ms).min(now_ms);
            }
            if let Advertising::Failed { retry_ms, .. } = &mut self.advertising {
                *retry_ms = (*retry_ms).min(now_ms + MAX_ADVERTISING_RETRY_MS);
            }
        }
        self.now_ms = now_ms;
    }

    fn push(&mut self, command: Command) {
        self.out.push_back(Output::Command(command));
    }

    fn can_run(&self) -> bool {
        self.enabled && self.bluetooth == BluetoothState::On && self.permission
    }

    fn advertises(&self) -> bool {
        self.config.platform != Platform::Desktop
    }

    fn apply(&mut self, event: Event) {
        let now = self.now_ms;
        match event {
            Event::Enable => {
                self.enabled = true;
                self.suspended = false;
            }
            Event::Disable => self.enabled = false,
            Event::Restarted(_) => {
                // Whatever ran before the restart is gone; stopping it again is harmless.
                self.counters.restarts += 1;
                self.terminate();
                self.suspended = false;
                if matches!(self.advertising, Advertising::On { .. }) {
                    self.push(Command::StopAdvertising);
                }
                self.advertising = Advertising::Off;
                self.scan = Scan::Idle { next_ms: now };
            }
            // The alarm is spent: the next reconcile arms a new one. A process that still
            // gets alarms after "terminating" lives on.
            Event::Timer => {
                self.wake_at = None;
                self.suspended = false;
            }
            Event::ScanStarted => self.consecutive_scan_failures = 0,
            Event::IdentityChanged => {
                if matches!(self.advertising, Advertising::On { .. }) {
                    self.rechecking = true;
                    self.out
                        .push_back(Output::Engine(EngineRequest::Advertisement));
                }
            }
            Event::Bluetooth(state) => self.bluetooth = state,
            Event::Permission { granted } => self.permission = granted,
            Event::App(state) => {
                self.app = state;
                self.suspended = state == AppState::Terminating;
                match state {
                    AppState::Background => self.store_pending(),
                    AppState::Terminating => self.terminate(),
                    AppState::Foreground => {}
                }
            }
            Event::Screen { on } => self.screen_on = on,
            Event::PowerSave { on } => self.power_save = on,
            Event::BluetoothAudio { connected } => self.bluetooth_audio = connected,
            Event::ScanResult(report) => {
                // Android never confirms a scan start: a result is the confirmation.
                self.consecutive_scan_failures = 0;
                self.take_result(report);
            }
            Event::ScanFailed(_) => self.scan_failed(),
            Event::AdvertisingStarted | Event::AdvertisingFailed(_) if !self.advertises() => {}
            Event::AdvertisingStarted => {
                if let Advertising::Failed { .. } = self.advertising {
                    // A late success of an earlier start: the next reconcile asks again.
                } else {
                    self.status.advertising_failing = false;
                }
            }
            Event::AdvertisingFailed(_) => {
                self.counters.advertising_failures += 1;
                // Whatever the failure was about, nothing of ours is left on air.
                self.push(Command::StopAdvertising);
                self.advertising_failed();
            }
            Event::PayloadRead { device, result } => self.payload_read(&device, result),
            Event::PayloadRequested { request, offset } => {
                let value = self.current.filter(|_| self.can_run()).and_then(|c| {
                    let data = c.advertisement.service_data();
                    let offset = usize::try_from(offset).ok()?;
                    data.get(offset..).map(<[u8]>::to_vec)
                });
                self.push(Command::RespondToRead { request, value });
            }
            Event::Advertisement(current) => self.advertisement_ready(current),
            Event::AdvertisementUnavailable(_) => {
                if std::mem::take(&mut self.rechecking)
                    && matches!(self.advertising, Advertising::On { .. })
                {
                    // The engine cannot say what belongs on air: nothing stays there.
                    self.push(Command::StopAdvertising);
                    self.advertising = Advertising::Asked;
                }
                if self.advertising == Advertising::Asked {
                    self.advertising_failed();
                }
            }
        }
    }

    /// Brings what runs in line with what should run, and asks for the next wake-up.
    fn reconcile(&mut self) {
        let now = self.now_ms;
        if self.suspended && self.can_run() {
            // Terminating: nothing new starts until the process shows it lives on.
        } else if self.can_run() {
            self.run_advertising(now);
            self.run_scanning(now);
            self.run_reads(now);
            self.run_background_store(now);
            self.store_when_quiet();
        } else {
            self.stop_everything();
        }
        self.update_status();
        self.update_wake_lock();
        self.update_wakeup();
    }

    fn run_advertising(&mut self, now: i64) {
        if !self.advertises() {
            return;
        }
        let ask = match self.advertising {
            Advertising::Off => true,
            Advertising::On { until_ms } => now >= until_ms,
            Advertising::Failed { retry_ms, .. } => now >= retry_ms,
            Advertising::Asked => false,
        };
        if ask {
            if matches!(self.advertising, Advertising::On { .. }) {
                // Never leave the old payload on air while the engine is asked for the next.
                self.push(Command::StopAdvertising);
            }
            self.advertising = Advertising::Asked;
            self.out
                .push_back(Output::Engine(EngineRequest::Advertisement));
        }
    }

    fn advertisement_ready(&mut self, current: CurrentAdvertisement) {
        if std::mem::take(&mut self.rechecking)
            && matches!(self.advertising, Advertising::On { .. })
        {
            let until_ms = current.next_rotation_at.saturating_mul(1000);
            let same = self.current.is_some_and(|on| on.payload == current.payload);
            if same && until_ms > self.now_ms {
                self.current = Some(current);
                self.advertising = Advertising::On { until_ms };
                return;
            }
            self.push(Command::StopAdvertising);
            self.advertising = Advertising::Asked;
        }
        if self.advertising != Advertising::Asked || !self.can_run() || !self.advertises() {
            return;
        }
        let until_ms = current.next_rotation_at.saturating_mul(1000);
        if until_ms <= self.now_ms {
            // The engine's clock lags ours: try again shortly rather than spin.
            self.advertising = Advertising::Failed {
                retry_ms: self.now_ms + 1_000,
                attempts: 0,
            };
            return;
        }
        let ios = self.config.platform == Platform::Ios;
        self.current = Some(current);
        self.advertising = Advertising::On { until_ms };
        self.counters.rotations += 1;
        self.push(Command::StartAdvertising(AdvertisingRequest {
            service_data: current.advertisement.service_data().to_vec(),
            payload: current.payload.to_vec(),
            connectable: ios,
            include_service_data: !ios,
            serve_payload: ios,
            interval_ms: self.config.advertising_interval_ms,
            until_ms,
        }));
    }

    fn advertising_failed(&mut self) {
        let attempts = match self.advertising {
            Advertising::Failed { attempts, .. } => attempts + 1,
            _ => 1,
        };
        let wait = self
            .config
            .advertising_retry_ms
            .saturating_mul(1i64 << (attempts - 1).min(20))
            .min(MAX_ADVERTISING_RETRY_MS);
        self.advertising = Advertising::Failed {
            retry_ms: self.now_ms + wait,
            attempts,
        };
        self.status.advertising_failing = true;
    }

    fn window_length(&self) -> i64 {
        if self.config.continuous_scan {
            self.config.continuous_window_ms
        } else if self.bluetooth_audio {
            self.config.busy_scan_window_ms
        } else {
            self.config.scan_window_ms
        }
    }

    fn filters(&self) -> ScanFilters {
        ScanFilters {
            exposure_service: true,
            // iOS reports overflow matches through the service-UUID filter; everyone else
            // must ask for Apple's manufacturer data to meet background iPhones at all.
            apple_manufacturer_data: self.config.gatt.enabled
                && self.config.platform != Platform::Ios,
        }
    }

    fn run_scanning(&mut self, now: i64) {
        if let Scan::Open {
            start_ms, end_ms, ..
        } = self.scan
            && now >= end_ms
        {
            self.close_window();
            if self.config.continuous_scan {
                self.open_window(now, false);
            } else {
                self.push(Command::StopScan);
                let next = self.next_scan_after(start_ms);
                self.scan = Scan::Idle { next_ms: next };
            }
        }
        if let Scan::Idle { next_ms } = self.scan
            && now >= next_ms
        {
            let window = self.config.scan_start_window_ms;
            while self.scan_starts.front().is_some_and(|&t| t <= now - window) {
                self.scan_starts.pop_front();
            }
            if self.scan_starts.len() >= self.config.max_scan_starts {
                // Android would refuse silently: wait until the oldest start ages out.
                let allowed = self.scan_starts.front().map_or(now, |&t| t + window + 1);
                self.scan = Scan::Idle { next_ms: allowed };
            } else {
                self.scan_starts.push_back(now);
                self.open_window(now, true);
            }
        }
    }

    fn open_window(&mut self, now: i64, start_scan: bool) {
        let id = u64::try_from(now)
            .unwrap_or(0)
            .max(self.last_window_id.saturating_add(1));
        self.last_window_id = id;
        let length = self.window_length();
        // Continuous windows end on the clock's multiples of their length: GAEN weighs a scan
        // by the whole minutes since the previous one, so windows cut mid-minute would count
        // back-to-back scans as zero minutes apart.
        let end_ms = if self.config.continuous_scan {
            (now.div_euclid(length) + 1) * length
        } else {
            now + length
        };
        self.scan = Scan::Open {
            id,
            start_ms: now,
            end_ms,
        };
        if start_scan {
            let continuous = self.config.continuous_scan;
            self.push(Command::StartScan {
                filters: self.filters(),
                mode: if continuous {
                    ScanMode::LowPower
                } else {
                    ScanMode::LowLatency
                },
                window_ms: (!continuous).then_some(length),
            });
        }
    }

    /// The start of the window after one that started at `start`.
    fn next_scan_after(&mut self, start: i64) -> i64 {
        let c = &self.config;
        let mut period = c.scan_period_ms - self.jitter.up_to(c.scan_jitter_ms);
        if self.screen_on && !self.power_save {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let shortened = (period as f64 * c.screen_on_factor) as i64;
            period = shortened;
        }
        start + period.max(c.min_scan_period_ms)
    }

    /// Ends the open window: stores its sightings and counts who was near.
    fn close_window(&mut self) {
        if let Scan::Open {
            id,
            start_ms,
            end_ms,
        } = self.scan
        {
            self.counters.windows += 1;
            self.last_window = Some((id, end_ms.min(self.now_ms)));
            self.nearby = Some(self.count_nearby(start_ms));
            self.store_pending();
        }
    }

    fn count_nearby(&mut self, window_start_ms: i64) -> NearbyCount {
        let [near, mid] = self.config.nearby_thresholds_db;
        let mut count = NearbyCount {
            window_start_ms,
            ..NearbyCount::default()
        };
        for (_, rssi) in self.window_senders.drain() {
            let measured = i32::from(rssi) + i32::from(self.config.rssi_correction_db);
            let attenuation = i32::from(self.config.assumed_tx_dbm) - measured;
            if attenuation <= i32::from(near) {
                count.near += 1;
            } else if attenuation <= i32::from(mid) {
                count.mid += 1;
            } else {
                count.far += 1;
            }
        }
        count
    }

    fn store_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        self.pending_since_ms = None;
        self.counters.sightings += batch.len() as u64;
        self.out
            .push_back(Output::Engine(EngineRequest::Record(batch)));
    }

    /// The window a result at `now` belongs to, if any.
    fn window_for_result(&self) -> Option<u64> {
        match self.scan {
            Scan::Open { id, .. } => Some(id),
            Scan::Idle { .. } => self
                .last_window
                .filter(|(_, end)| self.now_ms <= end + LATE_RESULT_MS)
                .map(|(id, _)| id),
        }
    }

    fn take_result(&mut self, report: ScanReport) {
        if !self.can_run() {
            self.counters.late_results += 1;
            return;
        }
        let Some(window) = self.window_for_result() else {
            self.counters.late_results += 1;
            return;
        };
        let now = self.now_ms;
        match classify(&report) {
            AdvertKind::Unrelated => self.counters.unrelated += 1,
            AdvertKind::Payload => {
                self.note_sender(&report.device, report.rssi);
                self.pending.push(SightingInput {
                    advert: report.advert,
                    rssi: report.rssi,
                    time: now.div_euclid(1000),
                    scan_window: Some(window),
                });
            }
            AdvertKind::NeedsRead => {
                if !self.config.gatt.enabled {
                    self.counters.unread += 1;
                    return;
                }
                let heard = Heard {
                    rssi: report.rssi,
                    time_ms: now,
                    window,
                };
                match self.gatt.seen(&self.config.gatt, &report.device, heard) {
                    Seen::Known(payload) => {
                        self.note_sender(&report.device, report.rssi);
                        self.pending.push(SightingInput {
                            advert: AdvertData::ServiceData(payload),
                            rssi: report.rssi,
                            time: now.div_euclid(1000),
                            scan_window: Some(window),
                        });
                    }
                    Seen::Waiting => {}
                    Seen::Dropped => self.counters.unread += 1,
                }
            }
        }
        self.after_new_sightings();
    }

    fn note_sender(&mut self, device: &str, rssi: i16) {
        if let Some(best) = self.window_senders.get_mut(device) {
            *best = (*best).max(rssi);
        } else if self.window_senders.len() < self.config.max_pending_sightings {
            self.window_senders.insert(device.to_owned(), rssi);
        }
    }

    /// Stores at once when the batch is full; in the background on a platform that may kill
    /// the app unannounced, within `background_store_delay_ms` of the oldest waiting
    /// sighting; otherwise (in `reconcile`) when the window has closed and no payload read
    /// is in flight: reads after a window land together, not one write each.
    fn after_new_sightings(&mut self) {
        if self.pending_since_ms.is_none() && !self.pending.is_empty() {
            self.pending_since_ms = Some(self.now_ms);
        }
        if self.pending.len() >= self.config.max_pending_sightings {
            self.store_pending();
        }
        self.run_background_store(self.now_ms);
    }

    /// Between windows, once no read is in flight (run by `reconcile` after the next queued
    /// read, if any, has started).
    fn store_when_quiet(&mut self) {
        if !self.scanning() && !self.gatt.reading() {
            self.store_pending();
        }
    }

    /// When what waits in memory must be stored because the app is in the background.
    fn background_store_due(&self) -> Option<i64> {
        let delay = self.config.background_store_delay_ms?;
        if self.app == AppState::Foreground {
            return None;
        }
        self.pending_since_ms.map(|since| since + delay)
    }

    fn run_background_store(&mut self, now: i64) {
        if self.background_store_due().is_some_and(|due| now >= due) {
            self.store_pending();
        }
    }

    fn payload_read(&mut self, device: &str, result: Result<Vec<u8>, ReadFailure>) {
        match self
            .gatt
            .finished(&self.config.gatt, device, result, self.now_ms)
        {
            ReadOutcome::Nothing => {}
            ReadOutcome::Payload(payload, waiting) => {
                if !self.can_run() {
                    return;
                }
                let open = match self.scan {
                    Scan::Open { id, .. } => Some(id),
                    Scan::Idle { .. } => None,
                };
                for heard in waiting {
                    if open == Some(heard.window) {
                        self.note_sender(device, heard.rssi);
                    }
                    self.pending.push(SightingInput {
                        advert: AdvertData::ServiceData(payload.clone()),
                        rssi: heard.rssi,
                        time: heard.time_ms.div_euclid(1000),
                        scan_window: Some(heard.window),
                    });
                }
                self.after_new_sightings();
            }
        }
    }

    fn run_reads(&mut self, now: i64) {
        for device in self.gatt.expire(&self.config.gatt, now) {
            self.push(Command::CancelConnection { device });
        }
        if !self.scanning() {
            let grace_over = self
                .last_window
                .is_none_or(|(_, end)| now >= end + self.config.gatt.grace_ms);
            if grace_over {
                self.gatt.drop_queue();
            }
        }
        for device in self.gatt.start_reads(&self.config.gatt, now) {
            self.push(Command::ReadPayload { device });
        }
    }

    fn scan_failed(&mut self) {
        self.counters.scan_failures += 1;
        self.consecutive_scan_failures = self.consecutive_scan_failures.saturating_add(1);
        if let Scan::Open { .. } = self.scan {
            self.close_window();
            // Retry soon, backing off: 30 s, 60 s, … up to one period.
            let wait = 30_000i64
                .saturating_mul(1i64 << self.consecutive_scan_failures.min(10).saturating_sub(1))
                .min(self.config.scan_period_ms);
            self.scan = Scan::Idle {
                next_ms: self.now_ms + wait,
            };
        }
    }

    fn terminate(&mut self) {
        if let Scan::Open { .. } = self.scan {
            self.close_window();
            self.push(Command::StopScan);
        }
        self.store_pending();
        for device in self.gatt.stop() {
            self.push(Command::CancelConnection { device });
        }
        self.scan = Scan::Idle {
            next_ms: self.now_ms + self.config.scan_period_ms - self.config.scan_jitter_ms,
        };
    }

    fn stop_everything(&mut self) {
        if let Scan::Open { .. } = self.scan {
            self.close_window();
            self.push(Command::StopScan);
        }
        self.store_pending();
        self.scan = Scan::Idle {
            next_ms: self.now_ms,
        };
        for device in self.gatt.stop() {
            self.push(Command::CancelConnection { device });
        }
        if self.advertising != Advertising::Off {
            if matches!(self.advertising, Advertising::On { .. }) {
                self.push(Command::StopAdvertising);
            }
            self.advertising = Advertising::Off;
            self.status.advertising_failing = false;
        }
    }

    fn wanted_state(&self) -> CollectionState {
        if !self.enabled {
            CollectionState::Off
        } else if self.bluetooth == BluetoothState::Unsupported {
            CollectionState::Paused(PauseReason::BluetoothUnsupported)
        } else if self.bluetooth == BluetoothState::Unauthorized {
            CollectionState::Paused(PauseReason::BluetoothUnauthorized)
        } else if self.bluetooth == BluetoothState::Off {
            CollectionState::Paused(PauseReason::BluetoothOff)
        } else if !self.permission {
            CollectionState::Paused(PauseReason::PermissionRevoked)
        } else if self.consecutive_scan_failures >= self.config.scan_failures_before_pause {
            CollectionState::Paused(PauseReason::ScannerFailing)
        } else {
            CollectionState::Collecting
        }
    }

    fn update_status(&mut self) {
        let state = self.wanted_state();
        let changed = state != self.status.state;
        if changed {
            self.status.state = state;
            self.status.since_ms = self.now_ms;
        }
        let saved = SavedState {
            enabled: self.enabled,
            bluetooth: self.bluetooth,
            permission: self.permission,
            state: self.status.state,
            since_ms: self.status.since_ms,
            // Window ids are times, so they grow across restarts by themselves; the last one
            // is saved with other changes to stay ahead of a clock set back.
            last_window: if self.status.state == self.saved.state {
                self.saved.last_window
            } else {
                self.last_window_id
            },
        };
        if saved != self.saved {
            self.saved = saved;
            self.out
                .push_back(Output::Engine(EngineRequest::SaveState(saved.to_bytes())));
        }
        if self.shown != Some(self.status) {
            self.shown = Some(self.status);
            self.push(Command::ShowStatus(self.status));
        }
    }

    fn update_wake_lock(&mut self) {
        let windowed = self.scanning() && !self.config.continuous_scan;
        let want = self.can_run()
            && (windowed || self.gatt.busy() || self.background_store_due().is_some());
        if want != self.wake_lock {
            self.wake_lock = want;
            self.push(if want {
                Command::HoldWakeLock
            } else {
                Command::ReleaseWakeLock
            });
        }
    }

    fn update_wakeup(&mut self) {
        let now = self.now_ms;
        let next = if !self.enabled {
            None
        } else if !self.can_run() {
            Some(now + self.config.paused_check_ms)
        } else {
            let scan = match self.scan {
                Scan::Idle { next_ms } => next_ms,
                Scan::Open { end_ms, .. } => end_ms,
            };
            let advertising = match self.advertising {
                Advertising::On { until_ms } => Some(until_ms),
                Advertising::Failed { retry_ms, .. } => Some(retry_ms),
                Advertising::Off | Advertising::Asked => None,
            };
            let grace = (!self.scanning() && self.gatt.queued())
                .then(|| {
                    self.last_window
                        .map(|(_, end)| end + self.config.gatt.grace_ms)
                })
                .flatten();
            [
                Some(scan),
                advertising,
                self.gatt.next_deadline(),
                grace,
                self.background_store_due(),
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.max(now))
        };
        // The platform keeps one alarm: asked again only when the time changes.
        if next != self.wake_at {
            self.wake_at = next;
            if let Some(at_ms) = next {
                self.push(Command::WakeAt { at_ms });
            }
        }
    }
}
