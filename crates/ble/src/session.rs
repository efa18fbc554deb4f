//! One desktop scanning session: the phone driver (with its engine glue, [`Phone`]) fed
//! with what a desktop stack reports, and the bookkeeping the desktop shows.
//!
//! Every decision is the driver's: when windows open and close, what is stored and when,
//! which iPhones are read over GATT, when collection pauses. An executor (the btleplug
//! scanner in [`crate::scanner`], or a recording in [`crate::replay`]) hands the session what
//! it hears with the time, and carries out the radio commands the session returns (start and
//! stop the scan, read and cancel payload reads). The session keeps counts and the lines to
//! show ([`Shown`]); it decides nothing.
//!
//! A desktop session starts afresh: it neither resumes nor saves the driver's state (a phone
//! does; a capture is one session from start to Ctrl-C).

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use bluezone_core::driver::{
    AdvertKind, AppState, BluetoothState, CollectionStatus, Command, Driver, DriverConfig,
    DriverCounters, Event, classify,
};
use bluezone_core::{
    CoreError, CurrentAdvertisement, IngestReport, ManualClock, Phone, PhoneEngine, SightingInput,
};
use bluezone_protocol::Advertisement;

use crate::frame::{AdvertFrame, ReadFrame};

/// Timer events handed over at one instant at most, in case a deadline never moves.
const MAX_TIMERS_AT_ONCE: usize = 64;

/// An advert taken in, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The frame.
    pub frame: AdvertFrame,
    /// What the driver makes of it.
    pub kind: AdvertKind,
    /// Its RPI and AEM (`None` for an iPhone advert, or when malformed: the core will
    /// refuse it).
    pub advert: Option<Advertisement>,
    /// The scan window it went into, counted from 0 at the session's start (`None`: not
    /// handed to the driver, having no RSSI, or heard while collection was paused).
    pub window: Option<u64>,
}

/// A payload read that finished, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadDone {
    /// The read.
    pub frame: ReadFrame,
    /// The RPI and AEM read (`None` for a failure or a value of the wrong size).
    pub advert: Option<Advertisement>,
    /// The driver had asked for it (a recorded read it did not ask for is ignored).
    pub asked: bool,
}

/// Something to show or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// An advert heard (every frame offered, related or not).
    Advert(Heard),
    /// A payload read finished.
    Read(ReadDone),
    /// The collection status changed (at Unix ms).
    Status(CollectionStatus, i64),
}

/// What a session did, for its summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    /// Adverts offered.
    pub frames: u64,
    /// Of those, neither exposure-notification service data nor an iPhone to read.
    pub not_exposure_notification: u64,
    /// Exposure-notification adverts without RSSI (not handed to the driver).
    pub without_rssi: u64,
    /// iPhone adverts (the payload is read over GATT).
    pub needs_read: u64,
    /// Sightings the driver handed to the engine.
    pub delivered: u64,
    /// Of those, accepted by the engine.
    pub accepted: u64,
    /// Of those, refused (malformed, implausible RSSI, too old, from the future).
    pub refused: u64,
    /// Scan windows whose sightings reached the engine.
    pub windows: u64,
    /// Distinct well-formed RPIs heard or read.
    pub distinct_rpis: usize,
    /// The driver's own counts (all its windows, sightings, GATT reads, …).
    pub driver: DriverCounters,
    /// The collection status at the end.
    pub status: CollectionStatus,
    /// Engine calls that failed, and the last failure.
    pub engine_errors: u64,
    /// See `engine_errors`.
    pub last_engine_error: Option<String>,
}

/// The engine as a desktop session uses it: no saved driver state, and a note of the scan
/// windows whose sightings went in.
#[derive(Debug)]
pub struct SessionEngine<E> {
    inner: E,
    windows: BTreeSet<u64>,
}

impl<E: PhoneEngine> PhoneEngine for SessionEngine<E> {
    fn current_advertisement(&mut self) -> Result<CurrentAdvertisement, CoreError> {
        self.inner.current_advertisement()
    }

    fn record(&mut self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
        self.windows
            .extend(batch.iter().filter_map(|s| s.scan_window));
        self.inner.record(batch)
    }

    fn load_driver_state(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
        Ok(None)
    }

    fn save_driver_state(&mut self, _bytes: &[u8]) -> Result<(), CoreError> {
        Ok(())
    }
}

/// A desktop scanning session. See the module documentation.
#[derive(Debug)]
pub struct Session<E: PhoneEngine> {
    phone: Phone<SessionEngine<E>>,
    /// The engine's clock, moved with the events' times (replay).
    clock: Option<Arc<ManualClock>>,
    now_ms: i64,
    /// Reads the driver asked for that have not finished or been cancelled.
    reads: BTreeSet<String>,
    terminated: bool,
    scan_started: bool,
    frames: u64,
    not_exposure_notification: u64,
    without_rssi: u64,
    needs_read: u64,
    rpis: HashSet<[u8; 16]>,
    shown: VecDeque<Shown>,
}

impl<E: PhoneEngine> Session<E> {
    /// A session at `now_ms` (Unix ms) over `engine`. `clock`, when given, is set to each
    /// event's time before the engine sees it (a replay runs on the recording's clock).
    /// Nothing runs until [`Session::start`].
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] naming the config's first bad field.
    pub fn open(
        engine: E,
        config: DriverConfig,
        seed: u64,
        now_ms: i64,
        clock: Option<Arc<ManualClock>>,
    ) -> Result<Self, CoreError> {
        let engine = SessionEngine {
            inner: engine,
            windows: BTreeSet::new(),
        };
        Ok(Self {
            phone: Phone::open(engine, config, seed, now_ms)?,
            clock,
            now_ms,
            reads: BTreeSet::new(),
            terminated: false,
            scan_started: false,
            frames: 0,
            not_exposure_notification: 0,
            without_rssi: 0,
            needs_read: 0,
            rpis: HashSet::new(),
            shown: VecDeque::new(),
        })
    }

    /// Starts collecting with Bluetooth in `bluetooth` state (one status shown: the one
    /// collection starts in).
    pub fn start(&mut self, now_ms: i64, bluetooth: BluetoothState) -> Vec<Command> {
        let shown = self.shown.len();
        let mut commands = self.handle(now_ms, Event::Bluetooth(bluetooth));
        commands.extend(self.handle(now_ms, Event::Permission { granted: true }));
        commands.extend(self.handle(now_ms, Event::Enable));
        let last = self
            .shown
            .iter()
            .rposition(|s| matches!(s, Shown::Status(..)));
        let mut k = 0;
        self.shown.retain(|s| {
            let keep = k < shown || !matches!(s, Shown::Status(..)) || Some(k) == last;
            k += 1;
            keep
        });
        commands
    }

    /// Hands one event to the driver; returns the radio commands to carry out, in order
    /// (`StartScan`, `StopScan`, `ReadPayload`, `CancelConnection`: a desktop never
    /// advertises, and timers come from [`Session::next_wakeup`]).
    pub fn handle(&mut self, now_ms: i64, event: Event) -> Vec<Command> {
        if self.terminated {
            return Vec::new();
        }
        if event == Event::ScanStarted {
            self.scan_started = true;
        }
        self.now_ms = now_ms;
        if let Some(clock) = &self.clock {
            clock.set(now_ms.div_euclid(1000));
        }
        let terminating = event == Event::App(AppState::Terminating);
        let commands = self.phone.handle(now_ms, event);
        if terminating {
            self.terminated = true;
        }
        self.radio_commands(commands)
    }

    /// Keeps the radio commands, notes reads and status changes. After termination only
    /// stops and cancellations are carried out: the driver may already have reopened a
    /// window for a process that lives on, which this one does not.
    fn radio_commands(&mut self, commands: Vec<Command>) -> Vec<Command> {
        let mut radio = Vec::new();
        for command in commands {
            match command {
                Command::StartScan { .. } if self.terminated => {}
                Command::ReadPayload { .. } if self.terminated => {}
                Command::ReadPayload { ref device } => {
                    self.reads.insert(device.clone());
                    radio.push(command);
                }
                Command::CancelConnection { ref device } => {
                    self.reads.remove(device);
                    radio.push(command);
                }
                Command::StartScan { .. } | Command::StopScan => radio.push(command),
                Command::ShowStatus(status) => {
                    self.shown.push_back(Shown::Status(status, self.now_ms));
                }
                Command::StartAdvertising(_)
                | Command::StopAdvertising
                | Command::RespondToRead { .. }
                | Command::WakeAt { .. }
                | Command::HoldWakeLock
                | Command::ReleaseWakeLock => {}
            }
        }
        radio
    }

    /// Hands over every timer due up to `until_ms` (a replay's time between two lines).
    pub fn timers_until(&mut self, until_ms: i64) -> Vec<Command> {
        let mut commands = Vec::new();
        let mut last = None;
        let mut repeats = 0;
        while let Some(at) = self.next_wakeup().filter(|&t| t <= until_ms) {
            let at = at.max(self.now_ms);
            if last == Some(at) {
                repeats += 1;
                if repeats >= MAX_TIMERS_AT_ONCE {
                    break;
                }
            } else {
                last = Some(at);
                repeats = 0;
            }
            commands.extend(self.handle(at, Event::Timer));
        }
        commands
    }

    /// When the driver next needs [`Event::Timer`] (Unix ms).
    #[must_use]
    pub fn next_wakeup(&self) -> Option<i64> {
        if self.terminated {
            None
        } else {
            self.phone.driver().next_wakeup()
        }
    }

    /// An advert heard, at its frame's time.
    pub fn advert(&mut self, frame: &AdvertFrame) -> Vec<Command> {
        self.frames += 1;
        let kind = classify(&frame.report_with_rssi(frame.rssi.unwrap_or_default()));
        match kind {
            AdvertKind::Unrelated => self.not_exposure_notification += 1,
            AdvertKind::NeedsRead => self.needs_read += 1,
            AdvertKind::Payload => {}
        }
        let advert = (kind == AdvertKind::Payload)
            .then(|| frame.advertisement())
            .flatten();
        let (commands, window) = match frame.to_report() {
            Some(report) => {
                if let Some(a) = &advert {
                    self.rpis.insert(a.rpi.0);
                }
                let commands = self.handle(frame.time_ms(), Event::ScanResult(report));
                let driver = self.phone.driver();
                let window = driver.scanning().then(|| driver.counters().windows);
                (commands, window)
            }
            None => {
                if kind != AdvertKind::Unrelated {
                    self.without_rssi += 1;
                }
                (Vec::new(), None)
            }
        };
        self.shown.push_back(Shown::Advert(Heard {
            frame: frame.clone(),
            kind,
            advert,
            window,
        }));
        commands
    }

    /// A payload read finished, at its frame's time.
    pub fn read_finished(&mut self, read: &ReadFrame) -> Vec<Command> {
        let asked = self.reads.remove(&read.address);
        let advert = read.advertisement();
        if let Some(a) = advert.filter(|_| asked) {
            self.rpis.insert(a.rpi.0);
        }
        let commands = self.handle(
            read.time_ms(),
            Event::PayloadRead {
                device: read.address.clone(),
                result: read.result(),
            },
        );
        self.shown.push_back(Shown::Read(ReadDone {
            frame: read.clone(),
            advert,
            asked,
        }));
        commands
    }

    /// Ends the session: the driver stores what is pending and stops everything.
    pub fn terminate(&mut self, now_ms: i64) -> Vec<Command> {
        self.handle(now_ms, Event::App(AppState::Terminating))
    }

    /// Whether [`Session::terminate`] was called.
    #[must_use]
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// Whether a scan ever started (the executor reported [`Event::ScanStarted`]).
    #[must_use]
    pub fn scan_started(&self) -> bool {
        self.scan_started
    }

    /// Reads asked for and not finished.
    pub fn reads_in_flight(&self) -> impl Iterator<Item = &str> {
        self.reads.iter().map(String::as_str)
    }

    /// The time of the last event, Unix ms.
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The driver.
    #[must_use]
    pub fn driver(&self) -> &Driver {
        self.phone.driver()
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &E {
        &self.phone.engine().inner
    }

    /// What to show since the last call, in order.
    pub fn drain_shown(&mut self) -> Vec<Shown> {
        self.shown.drain(..).collect()
    }

    /// Hands what is to show to `on_shown`, in order, until it breaks.
    pub fn deliver(
        &mut self,
        on_shown: &mut dyn FnMut(Shown) -> std::ops::ControlFlow<()>,
    ) -> std::ops::ControlFlow<()> {
        while let Some(shown) = self.shown.pop_front() {
            on_shown(shown)?;
        }
        std::ops::ControlFlow::Continue(())
    }

    /// What happened so far.
    #[must_use]
    pub fn summary(&self) -> ScanSummary {
        let engine = self.phone.engine_counters();
        let ingest = &engine.ingest;
        let driver = self.phone.driver().counters();
        ScanSummary {
            frames: self.frames,
            not_exposure_notification: self.not_exposure_notification,
            without_rssi: self.without_rssi,
            needs_read: self.needs_read,
            delivered: driver.sightings,
            accepted: ingest.accepted,
            refused: ingest.rejected(),
            windows: self.phone.engine().windows.len() as u64,
            distinct_rpis: self.rpis.len(),
            driver,
            status: self.phone.driver().status(),
            engine_errors: engine.errors,
            last_engine_error: engine.last_error.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bluezone_core::driver::{CollectionState, Platform};

    use super::*;
    use crate::frame::ReadResult;

    use bluezone_testkit::engine::RecordingEngine;

    const T0: i64 = 1_585_785_600_000;

    fn config() -> DriverConfig {
        let mut c = DriverConfig::default_for(Platform::Desktop);
        c.continuous_scan = true;
        c.gatt.enabled = true;
        c
    }

    fn frame(at_ms: i64, address: &str, rssi: Option<i16>) -> AdvertFrame {
        AdvertFrame {
            time: at_ms.div_euclid(1000),
            ms: u16::try_from(at_ms.rem_euclid(1000)).ok(),
            address: address.into(),
            rssi,
            tx_power_dbm: None,
            service_data: BTreeMap::from([(
                "FD6F".to_owned(),
                hex::decode("8be6cd371c5c891604bfbe49df84509672033874").unwrap(),
            )]),
            services: Vec::new(),
            apple_overflow: false,
        }
    }

    #[test]
    fn the_driver_cuts_windows_and_the_session_only_counts() {
        let mut batches = RecordingEngine {
            saved: Some(b"anything saved is ignored".to_vec()),
            ..RecordingEngine::default()
        };
        let mut s = Session::open(&mut batches, config(), 0, T0, None).unwrap();
        let commands = s.start(T0, BluetoothState::On);
        assert!(matches!(
            commands.as_slice(),
            [Command::StartScan {
                window_ms: None,
                ..
            }]
        ));
        assert!(matches!(
            s.drain_shown().as_slice(),
            [Shown::Status(st, T0)] if st.state == CollectionState::Collecting
        ));
        assert!(s.handle(T0, Event::ScanStarted).is_empty());
        s.advert(&frame(T0 + 1_000, "a", Some(-60)));
        s.advert(&frame(T0 + 2_000, "a", None));
        assert!(s.timers_until(T0 + 59_999).is_empty());
        assert_eq!(s.summary().delivered, 0, "the window is still open");
        s.timers_until(T0 + 60_000);
        assert_eq!(s.summary().delivered, 1);
        s.advert(&frame(T0 + 61_000, "a", Some(-61)));
        let shown = s.drain_shown();
        let windows: Vec<Option<u64>> = shown
            .iter()
            .filter_map(|x| match x {
                Shown::Advert(h) => Some(h.window),
                _ => None,
            })
            .collect();
        assert_eq!(windows, vec![Some(0), None, Some(1)]);
        let stop = s.terminate(T0 + 62_000);
        assert_eq!(
            stop,
            vec![Command::StopScan],
            "no new scan after termination"
        );
        assert!(s.terminated() && s.next_wakeup().is_none());
        let summary = s.summary();
        assert_eq!(
            (
                summary.frames,
                summary.without_rssi,
                summary.delivered,
                summary.windows
            ),
            (3, 1, 2, 2)
        );
        assert_eq!(summary.driver.windows, 2);
        assert_eq!(
            summary.engine_errors, 0,
            "driver state is neither loaded nor saved"
        );
        drop(s);
        assert_eq!(batches.batches.len(), 2);
    }

    #[test]
    fn an_iphone_is_read_when_the_driver_asks() {
        let mut batches = RecordingEngine {
            saved: Some(b"anything saved is ignored".to_vec()),
            ..RecordingEngine::default()
        };
        let mut s = Session::open(&mut batches, config(), 0, T0, None).unwrap();
        s.start(T0, BluetoothState::On);
        let mut iphone = frame(T0 + 500, "i", Some(-55));
        iphone.service_data.clear();
        iphone.apple_overflow = true;
        let commands = s.advert(&iphone);
        assert_eq!(commands, vec![Command::ReadPayload { device: "i".into() }]);
        assert_eq!(s.reads_in_flight().collect::<Vec<_>>(), vec!["i"]);
        let read = ReadFrame {
            time: (T0 + 900) / 1000,
            ms: Some(900),
            address: "i".into(),
            gatt_read: ReadResult::Value(vec![5; 20]),
        };
        s.read_finished(&read);
        assert_eq!(s.reads_in_flight().count(), 0);
        s.terminate(T0 + 1_000);
        let summary = s.summary();
        assert_eq!((summary.needs_read, summary.delivered), (1, 1));
        assert_eq!(summary.driver.gatt.reads_succeeded, 1);
        assert_eq!(summary.distinct_rpis, 1);
        drop(s);
        assert_eq!(
            batches.batches[0][0].advert,
            bluezone_core::AdvertData::ServiceData(vec![5; 20])
        );
    }
}
