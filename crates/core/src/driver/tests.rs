//! Scripted traces through the driver, with an engine that hands out numbered identifiers,
//! and property tests over random event orders.

#![allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // Small known values.

use proptest::prelude::*;

use super::*;
use bluezone_protocol::{
    Advertisement, AssociatedEncryptedMetadata, IntervalNumber, RollingProximityIdentifier,
};

const T0: i64 = 1_785_000_000_000; // 2026-07-25, Unix ms
const MIN: i64 = 60_000;

/// A platform that does what it is told at once, and an engine that rotates every
/// `lifetime_s` seconds.
struct Rig {
    driver: Driver,
    now: i64,
    log: Vec<(i64, Command)>,
    stored: Vec<SightingInput>,
    batches: usize,
    saved: Option<Vec<u8>>,
    scanning: bool,
    /// `(payload, until)` on air, and when it went on.
    on_air: Option<(Vec<u8>, i64, i64)>,
    /// Every payload that left the air: (went on, went off, until).
    aired: Vec<(i64, i64, i64)>,
    identifiers: u8,
    lifetime_s: i64,
    engine_down: bool,
    /// The engine's next answer repeats the identifier on air with this lifetime (seconds).
    repeat_for_s: Option<i64>,
}

fn advertisement(n: u8, now_ms: i64, lifetime_s: i64) -> CurrentAdvertisement {
    let advertisement = Advertisement {
        rpi: RollingProximityIdentifier([n; 16]),
        aem: AssociatedEncryptedMetadata([n, 0, 0, 0]),
    };
    let now = now_ms.div_euclid(1000);
    CurrentAdvertisement {
        advertisement,
        interval: IntervalNumber::from_unix_seconds(now).unwrap(),
        payload: advertisement.to_legacy_payload(),
        rotated_at: now,
        next_rotation_at: now + lifetime_s,
    }
}

impl Rig {
    fn new(platform: Platform) -> Self {
        Self::with(DriverConfig::default_for(platform))
    }

    fn with(config: DriverConfig) -> Self {
        Self {
            driver: Driver::new(config, 7, T0).unwrap(),
            now: T0,
            log: Vec::new(),
            stored: Vec::new(),
            batches: 0,
            saved: None,
            scanning: false,
            on_air: None,
            aired: Vec::new(),
            identifiers: 0,
            lifetime_s: 900,
            engine_down: false,
            repeat_for_s: None,
        }
    }

    fn send(&mut self, at: i64, event: Event) {
        assert!(at >= self.now, "the rig's time goes forward");
        self.now = at;
        self.driver.handle(at, event);
        while let Some(output) = self.driver.poll_output() {
            match output {
                Output::Engine(EngineRequest::Advertisement) => {
                    let answer = if self.engine_down {
                        Event::AdvertisementUnavailable("store full".into())
                    } else if let Some(lifetime) = self.repeat_for_s.take() {
                        Event::Advertisement(advertisement(self.identifiers, at, lifetime))
                    } else {
                        self.identifiers = self.identifiers.wrapping_add(1);
                        Event::Advertisement(advertisement(self.identifiers, at, self.lifetime_s))
                    };
                    self.driver.handle(at, answer);
                }
                Output::Engine(EngineRequest::Record(batch)) => {
                    self.batches += 1;
                    self.stored.extend(batch);
                }
                Output::Engine(EngineRequest::SaveState(bytes)) => self.saved = Some(bytes),
                Output::Command(command) => {
                    match &command {
                        Command::StartScan { .. } => {
                            assert!(!self.scanning, "two scans at once at {at}");
                            self.scanning = true;
                        }
                        Command::StopScan => self.scanning = false,
                        Command::StartAdvertising(request) => {
                            self.take_off_air(at);
                            self.on_air =
                                Some((request.service_data.clone(), request.until_ms, at));
                        }
                        Command::StopAdvertising => self.take_off_air(at),
                        Command::WakeAt { at_ms } => assert!(*at_ms >= at, "a wake-up in the past"),
                        _ => {}
                    }
                    self.log.push((at, command));
                }
            }
        }
    }

    fn take_off_air(&mut self, at: i64) {
        if let Some((_, until, on)) = self.on_air.take() {
            self.aired.push((on, at, until));
        }
    }

    /// Fires every wake-up due up to `until`, on time.
    fn run_until(&mut self, until: i64) {
        let mut same = 0;
        while let Some(at) = self.driver.next_wakeup().filter(|&t| t <= until) {
            same = if at <= self.now { same + 1 } else { 0 };
            assert!(
                same < 10,
                "the driver asks to be woken again and again at {at}"
            );
            self.send(at.max(self.now), Event::Timer);
        }
        self.now = self.now.max(until);
    }

    /// Fires wake-ups until a scan runs.
    fn until_scanning(&mut self) {
        while !self.scanning {
            let at = self
                .driver
                .next_wakeup()
                .expect("a wake-up while collecting");
            self.send(at.max(self.now), Event::Timer);
        }
    }

    fn count(&self, pred: impl Fn(&Command) -> bool) -> usize {
        self.log.iter().filter(|(_, c)| pred(c)).count()
    }

    fn scan_starts(&self) -> Vec<i64> {
        self.log
            .iter()
            .filter(|(_, c)| matches!(c, Command::StartScan { .. }))
            .map(|(t, _)| *t)
            .collect()
    }
}

fn android_advert(device: &str, n: u8, rssi: i16) -> Event {
    let a = Advertisement {
        rpi: RollingProximityIdentifier([n; 16]),
        aem: AssociatedEncryptedMetadata([1, 2, 3, 4]),
    };
    Event::ScanResult(ScanReport {
        device: device.into(),
        advert: AdvertData::Raw(a.to_legacy_payload().to_vec()),
        service_uuids: Vec::new(),
        apple_overflow: false,
        rssi,
        tx_power_dbm: None,
    })
}

fn background_iphone(device: &str, rssi: i16) -> Event {
    let mut overflow = vec![2, 1, 6, 20, 0xff, 0x4c, 0x00, 0x01];
    overflow.extend([0u8; 16]);
    Event::ScanResult(ScanReport {
        device: device.into(),
        advert: AdvertData::Raw(overflow),
        service_uuids: Vec::new(),
        apple_overflow: false,
        rssi,
        tx_power_dbm: None,
    })
}

#[test]
fn enabling_advertises_scans_and_asks_to_be_woken() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    let commands: Vec<&Command> = rig.log.iter().map(|(_, c)| c).collect();
    let Some(Command::StartAdvertising(request)) = commands
        .iter()
        .find(|c| matches!(c, Command::StartAdvertising(_)))
    else {
        panic!("no advertising in {commands:?}");
    };
    assert!(!request.connectable && request.include_service_data && !request.serve_payload);
    assert_eq!(request.payload.len(), 31);
    assert_eq!(request.until_ms, T0 + 900_000);
    assert!(commands.contains(&&Command::StartScan {
        filters: ScanFilters {
            exposure_service: true,
            apple_manufacturer_data: true,
        },
        mode: ScanMode::LowLatency,
        window_ms: Some(4_000),
    }));
    assert!(commands.contains(&&Command::HoldWakeLock));
    assert!(commands.contains(&&Command::WakeAt { at_ms: T0 + 4_000 }));
    assert_eq!(rig.driver.status().state, CollectionState::Collecting);
    assert!(
        SavedState::from_bytes(rig.saved.as_deref().unwrap())
            .unwrap()
            .enabled
    );
    // iOS advertises connectable, the UUID only, and serves the payload.
    let mut ios = Rig::new(Platform::Ios);
    ios.send(T0, Event::Enable);
    assert!(ios.log.iter().any(|(_, c)| matches!(c,
        Command::StartAdvertising(r) if r.connectable && !r.include_service_data && r.serve_payload)));
    assert!(ios.log.iter().any(|(_, c)| matches!(c,
        Command::StartScan { window_ms: None, filters, .. } if !filters.apple_manufacturer_data)));
    // A desktop never advertises.
    let mut desktop = Rig::new(Platform::Desktop);
    desktop.send(T0, Event::Enable);
    assert_eq!(
        desktop.count(|c| matches!(c, Command::StartAdvertising(_))),
        0
    );
}

#[test]
fn bluetooth_off_during_a_scan_window_stores_what_was_heard_and_resumes() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    rig.send(T0 + 1_000, android_advert("a1", 1, -60));
    rig.send(T0 + 1_500, android_advert("a2", 2, -75));
    let off_at = T0 + 2_000; // mid-window
    rig.send(off_at, Event::Bluetooth(BluetoothState::Off));
    assert!(!rig.scanning);
    assert_eq!(rig.stored.len(), 2, "the partial window reached the engine");
    assert!(rig.on_air.is_none(), "advertising stopped");
    let status = rig.driver.status();
    assert_eq!(
        status.state,
        CollectionState::Paused(PauseReason::BluetoothOff)
    );
    assert_eq!(status.since_ms, off_at);
    assert!(
        status
            .to_string()
            .starts_with("paused: Bluetooth is off since ")
    );
    assert!(rig.log.iter().any(|(t, c)| *t == off_at
        && matches!(c, Command::ShowStatus(s) if s.state == CollectionState::Paused(PauseReason::BluetoothOff))));
    assert!(
        rig.log
            .iter()
            .any(|(t, c)| *t == off_at && *c == Command::ReleaseWakeLock)
    );
    // Still asking to be woken while paused, and results after the stop are not stored.
    assert!(rig.driver.next_wakeup().is_some());
    rig.send(off_at + 500, android_advert("a3", 3, -60));
    assert_eq!(rig.stored.len(), 2);
    rig.run_until(off_at + 3_600_000);
    assert_eq!(rig.count(|c| matches!(c, Command::StartScan { .. })), 1);
    let on_at = off_at + 3_600_000 + 10;
    rig.send(on_at, Event::Bluetooth(BluetoothState::On));
    assert!(rig.scanning, "resumed at once");
    let (_, until, went_on) = rig.on_air.clone().unwrap();
    assert_eq!(went_on, on_at);
    assert!(
        until > on_at,
        "a fresh identifier, not the one from before the pause"
    );
    assert_eq!(rig.driver.status().state, CollectionState::Collecting);
    assert_eq!(rig.driver.status().since_ms, on_at);
}

#[test]
fn eight_hours_with_the_screen_off_scan_at_the_duty_cycle_and_rotate_on_time() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Screen { on: false });
    rig.send(T0, Event::Enable);
    rig.run_until(T0 + 8 * 3_600_000);
    let starts = rig.scan_starts();
    let gaps: Vec<i64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| (210_000..=300_000).contains(g)),
        "{gaps:?}"
    );
    assert!((96..=137).contains(&starts.len()), "{}", starts.len());
    // Jittered: not all the same.
    assert!(gaps.iter().any(|&g| g != gaps[0]));
    // Each window lasted 4 s.
    let stops: Vec<i64> = rig
        .log
        .iter()
        .filter(|(_, c)| *c == Command::StopScan)
        .map(|(t, _)| *t)
        .collect();
    assert!(starts.iter().zip(&stops).all(|(a, b)| b - a == 4_000));
    // Rotations every 15 minutes, each exactly at its time.
    assert!((31..=33).contains(&rig.aired.len()), "{}", rig.aired.len());
    for &(_, off, until) in &rig.aired {
        assert!(off <= until + rig.driver.config().rotation_skew_ms);
    }
    assert_eq!(rig.driver.counters().windows as usize, stops.len());
}

#[test]
fn screen_on_and_bluetooth_audio_change_the_period_and_the_window() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Screen { on: true });
    rig.send(T0, Event::BluetoothAudio { connected: true });
    rig.send(T0, Event::Enable);
    rig.run_until(T0 + 3_600_000);
    let starts = rig.scan_starts();
    let gaps: Vec<i64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| (168_000..=240_000).contains(g)),
        "{gaps:?}"
    );
    assert!(rig.log.iter().all(|(_, c)| !matches!(c,
        Command::StartScan { window_ms: Some(w), .. } if *w != 17_000)));
}

#[test]
fn a_background_iphone_seen_fifty_times_in_ten_minutes_is_read_once_per_cooldown() {
    let mut rig = Rig::new(Platform::Ios);
    rig.send(T0, Event::Enable);
    let mut t = T0 + 1_000;
    let mut answered = 0;
    for _ in 0..50 {
        rig.send(t, background_iphone("iphone-1", -62));
        // Every read asked for is answered a second later.
        let asked = rig.count(|c| matches!(c, Command::ReadPayload { .. }));
        if asked > answered {
            answered = asked;
            rig.send(
                t + 1_000,
                Event::PayloadRead {
                    device: "iphone-1".into(),
                    result: Ok(vec![9; 20]),
                },
            );
        }
        t += 12_000;
        rig.run_until(t - 1);
    }
    // 10 minutes, a 5-minute cooldown: two reads.
    assert_eq!(rig.count(|c| matches!(c, Command::ReadPayload { .. })), 2);
    let c = rig.driver.counters().gatt;
    assert_eq!((c.reads_started, c.reads_succeeded), (2, 2));
    // Every advert became a sighting of the payload read.
    rig.send(t, Event::App(AppState::Terminating));
    assert_eq!(rig.stored.len(), 50);
    assert!(
        rig.stored
            .iter()
            .all(|s| s.advert == AdvertData::ServiceData(vec![9; 20]) && s.rssi == -62)
    );
}

#[test]
fn payloads_read_after_the_window_are_stored_together() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    rig.send(T0 + 1_000, background_iphone("iphone-1", -60));
    rig.send(T0 + 1_100, background_iphone("iphone-2", -61));
    rig.send(T0 + 1_200, background_iphone("iphone-3", -62));
    let reads = |rig: &Rig| rig.count(|c| matches!(c, Command::ReadPayload { .. }));
    assert_eq!(reads(&rig), 1, "one connection at a time on Android");
    rig.run_until(T0 + 4_000);
    assert!(!rig.scanning);
    // Each read answered after the window; the next starts as the last ends.
    for (k, device) in ["iphone-1", "iphone-2", "iphone-3"].into_iter().enumerate() {
        assert_eq!(reads(&rig), k + 1);
        rig.send(
            T0 + 4_500 + 500 * k as i64,
            Event::PayloadRead {
                device: device.into(),
                result: Ok(vec![k as u8; 20]),
            },
        );
    }
    assert_eq!((rig.stored.len(), rig.batches), (3, 1));
    // A late scan result while nothing is read is stored at once.
    rig.send(T0 + 5_800, android_advert("a", 1, -60));
    assert_eq!((rig.stored.len(), rig.batches), (4, 2));
}

#[test]
fn reads_time_out_back_off_and_respect_the_connection_limit() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    for (k, device) in ["x", "y", "z"].into_iter().enumerate() {
        rig.send(T0 + 100 + k as i64, background_iphone(device, -70));
    }
    // One at a time on Android.
    assert_eq!(rig.count(|c| matches!(c, Command::ReadPayload { .. })), 1);
    assert_eq!(rig.driver.gatt.in_flight(), 1);
    // Nobody answers: the read is cancelled after 5 s and the next one starts.
    rig.run_until(T0 + 5_200);
    assert!(
        rig.log
            .iter()
            .any(|(_, c)| *c == Command::CancelConnection { device: "x".into() })
    );
    assert_eq!(rig.count(|c| matches!(c, Command::ReadPayload { .. })), 2);
    // A late answer to the cancelled read is ignored.
    rig.send(
        T0 + 5_300,
        Event::PayloadRead {
            device: "x".into(),
            result: Ok(vec![1; 20]),
        },
    );
    // "y" is not ours: left alone for 30 minutes.
    rig.send(
        T0 + 5_400,
        Event::PayloadRead {
            device: "y".into(),
            result: Err(ReadFailure::NotFound),
        },
    );
    rig.run_until(T0 + 20 * MIN);
    rig.until_scanning();
    let before = rig.count(|c| matches!(c, Command::ReadPayload { .. }));
    let window = rig.now;
    rig.send(window + 10, background_iphone("y", -70));
    rig.send(window + 20, background_iphone("x", -70));
    let reads: Vec<String> = rig
        .log
        .iter()
        .filter_map(|(_, c)| match c {
            Command::ReadPayload { device } => Some(device.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reads.len(), before + 1, "{reads:?}");
    assert_eq!(
        reads.last().unwrap(),
        "x",
        "x backed off a minute and is read again; y waits"
    );
    assert!(rig.stored.is_empty());
    // Reads that never start are dropped after the window's grace, never left queued.
    assert!(rig.driver.counters().gatt.reads_failed >= 2);
}

#[test]
fn gatt_reads_at_any_offset_are_answered_without_a_panic() {
    let mut rig = Rig::new(Platform::Ios);
    rig.send(T0, Event::Enable);
    let data = rig.on_air.clone().unwrap().0;
    for (request, offset, expected) in [
        (1, 0, Some(data.clone())),
        (2, 5, Some(data[5..].to_vec())),
        (3, 20, Some(Vec::new())),
        (4, 25, None),
        (5, u32::MAX, None),
    ] {
        rig.send(T0 + 10, Event::PayloadRequested { request, offset });
        let (_, last) = rig.log.last().unwrap();
        assert_eq!(
            *last,
            Command::RespondToRead {
                request,
                value: expected
            }
        );
    }
    // Nothing is served while collection is off.
    rig.send(T0 + 20, Event::Disable);
    rig.send(
        T0 + 30,
        Event::PayloadRequested {
            request: 6,
            offset: 0,
        },
    );
    assert_eq!(
        rig.log.last().unwrap().1,
        Command::RespondToRead {
            request: 6,
            value: None
        }
    );
}

#[test]
fn termination_mid_window_stores_the_partial_window() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    rig.send(T0 + 1_000, android_advert("a", 1, -60));
    rig.send(T0 + 1_200, android_advert("a", 1, -58));
    rig.send(T0 + 1_300, Event::App(AppState::Terminating));
    assert_eq!(rig.stored.len(), 2);
    assert!(!rig.scanning);
    // Backgrounding stores at once too.
    rig.run_until(T0 + 600_000);
    rig.until_scanning();
    let start = rig.now;
    rig.send(start + 100, android_advert("b", 2, -60));
    rig.send(start + 200, Event::App(AppState::Background));
    assert_eq!(rig.stored.len(), 3);
}

#[test]
fn ios_in_the_background_stores_a_burst_within_seconds_under_a_wake_lock() {
    let mut rig = Rig::new(Platform::Ios);
    rig.send(T0, Event::Enable);
    rig.send(T0 + 10, Event::App(AppState::Background));
    let locks = |rig: &Rig| rig.count(|c| matches!(c, Command::HoldWakeLock));
    assert_eq!(locks(&rig), 0, "continuous scanning needs no wake lock");
    // A burst of results: held (with background time) and stored together 3 s after the
    // first, not one write per advert.
    rig.send(T0 + 1_000, android_advert("a", 1, -60));
    rig.send(T0 + 1_500, android_advert("b", 2, -70));
    assert_eq!(rig.stored.len(), 0);
    assert_eq!(locks(&rig), 1);
    assert_eq!(rig.driver.next_wakeup(), Some(T0 + 4_000));
    rig.send(T0 + 2_500, android_advert("c", 3, -65));
    rig.run_until(T0 + 4_000);
    assert_eq!((rig.stored.len(), rig.batches), (3, 1));
    assert_eq!(
        rig.log.last().map(|(_, c)| c.clone()),
        Some(Command::WakeAt { at_ms: T0 + 60_000 }),
        "the wake lock released, the next wake-up at the window's end"
    );
    assert_eq!(rig.count(|c| matches!(c, Command::ReleaseWakeLock)), 1);
    // A late event also stores what is overdue, before anything else.
    rig.send(T0 + 5_000, android_advert("a", 1, -60));
    rig.send(T0 + 30_000, android_advert("b", 2, -60));
    assert_eq!(rig.stored.len(), 4);
    // In the foreground the window is stored when it ends (with `b`, still waiting).
    rig.send(T0 + 30_100, Event::App(AppState::Foreground));
    rig.send(T0 + 31_000, android_advert("c", 3, -60));
    rig.run_until(T0 + 59_000);
    assert_eq!(rig.stored.len(), 4);
    rig.run_until(T0 + 61_000);
    assert_eq!(rig.stored.len(), 6);
}

#[test]
fn the_nearby_count_splits_the_last_window_by_distance_class() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    // −15 dBm assumed transmit power: −65 → 50 dB near, −75 → 60 dB mid, −90 → 75 dB far.
    for (k, (device, rssi)) in [("n", -80), ("n", -65), ("m", -75), ("f", -90)]
        .into_iter()
        .enumerate()
    {
        rig.send(T0 + 100 + k as i64, android_advert(device, k as u8, rssi));
    }
    assert_eq!(rig.driver.nearby(), None);
    rig.run_until(T0 + 4_000);
    let nearby = rig.driver.nearby().unwrap();
    assert_eq!(
        (nearby.near, nearby.mid, nearby.far, nearby.total()),
        (1, 1, 1, 3)
    );
    assert_eq!(nearby.window_start_ms, T0);
}

#[test]
fn advertising_failures_retry_with_back_off_and_show_in_the_status() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    rig.send(
        T0 + 10,
        Event::AdvertisingFailed("ADVERTISE_FAILED_TOO_MANY_ADVERTISERS".into()),
    );
    assert!(rig.driver.status().advertising_failing);
    rig.run_until(T0 + 29_000);
    let starts = |rig: &Rig| rig.count(|c| matches!(c, Command::StartAdvertising(_)));
    assert_eq!(starts(&rig), 1);
    rig.run_until(T0 + 30_010);
    assert_eq!(starts(&rig), 2);
    rig.send(T0 + 30_100, Event::AdvertisingStarted);
    assert!(!rig.driver.status().advertising_failing);
    // An engine that cannot give a key: nothing on air, retried later.
    rig.engine_down = true;
    rig.run_until(T0 + 30_010 + 900_000);
    assert!(rig.on_air.is_none(), "the old payload is taken off the air");
    assert!(rig.driver.status().advertising_failing);
}

#[test]
fn an_identity_change_keeps_an_unchanged_payload_and_replaces_a_changed_one() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    let starts = |rig: &Rig| rig.count(|c| matches!(c, Command::StartAdvertising(_)));
    let stops = |rig: &Rig| rig.count(|c| matches!(c, Command::StopAdvertising));
    assert_eq!((starts(&rig), stops(&rig)), (1, 0));
    // An upload released the key: same identifier, now due at its interval's end. The
    // address stays (a new one with the same identifier would link the two).
    rig.repeat_for_s = Some(240);
    rig.send(T0 + MIN, Event::IdentityChanged);
    assert_eq!((starts(&rig), stops(&rig)), (1, 0));
    let until = (T0 + MIN) / 1000 * 1000 + 240_000;
    assert_eq!(rig.driver.on_air().unwrap().1, until);
    assert_eq!(rig.driver.next_wakeup().map(|t| t <= until), Some(true));
    rig.run_until(until);
    assert_eq!((starts(&rig), stops(&rig)), (2, 1));
    assert_eq!(
        rig.aired.last().unwrap().1,
        until,
        "rotated at the new time"
    );
    // Everything deleted: a new identifier goes on air at once.
    rig.send(until + MIN, Event::IdentityChanged);
    assert_eq!((starts(&rig), stops(&rig)), (3, 2));
    assert_eq!(rig.on_air.as_ref().unwrap().0[0], 3);
    // An engine that cannot answer takes the old identifier off the air.
    rig.engine_down = true;
    rig.send(until + 2 * MIN, Event::IdentityChanged);
    assert!(rig.on_air.is_none());
    assert!(rig.driver.status().advertising_failing);
    // Nothing on air, nothing to recheck: the event is ignored.
    rig.send(until + 3 * MIN, Event::IdentityChanged);
    assert_eq!(starts(&rig), 3);
}

#[test]
fn scan_failures_retry_and_pause_after_three() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    let mut t = T0;
    for _ in 0..3 {
        let start = *rig.scan_starts().last().unwrap();
        t = t.max(start) + 5;
        rig.send(
            t,
            Event::ScanFailed("SCAN_FAILED_APPLICATION_REGISTRATION_FAILED".into()),
        );
        rig.scanning = false;
        rig.run_until(t + 300_000);
        t += 300_000;
    }
    assert_eq!(
        rig.driver.status().state,
        CollectionState::Paused(PauseReason::ScannerFailing)
    );
    rig.send(t + 1, Event::ScanStarted);
    assert_eq!(rig.driver.status().state, CollectionState::Collecting);
}

#[test]
fn no_more_than_five_scan_starts_in_thirty_seconds() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    let mut t = T0;
    for _ in 0..10 {
        t += 1_000;
        rig.send(t, Event::Bluetooth(BluetoothState::Off));
        t += 1_000;
        rig.send(t, Event::Bluetooth(BluetoothState::On));
    }
    let starts = rig.scan_starts();
    for (i, &s) in starts.iter().enumerate() {
        let recent = starts[..i].iter().filter(|&&p| p > s - 30_000).count();
        assert!(recent < 5, "{starts:?}");
    }
}

#[test]
fn a_restart_resumes_from_the_saved_state() {
    let mut rig = Rig::new(Platform::Android);
    rig.send(T0, Event::Enable);
    rig.send(T0 + 10, Event::Bluetooth(BluetoothState::Off));
    let saved = SavedState::from_bytes(rig.saved.as_deref().unwrap()).unwrap();
    let mut after = Driver::restore(
        DriverConfig::default_for(Platform::Android),
        9,
        T0 + 60_000,
        saved,
    )
    .unwrap();
    after.handle(T0 + 60_000, Event::Restarted(RestartReason::Boot));
    assert_eq!(
        after.status().state,
        CollectionState::Paused(PauseReason::BluetoothOff)
    );
    assert_eq!(
        after.status().since_ms,
        T0 + 10,
        "paused since before the reboot"
    );
    after.handle(T0 + 61_000, Event::Bluetooth(BluetoothState::On));
    let outputs = after.drain_outputs();
    assert!(outputs.contains(&Output::Engine(EngineRequest::Advertisement)));
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::Command(Command::StartScan { .. })))
    );
    // A fresh install (nothing saved, or garbage) starts off.
    let mut fresh = Driver::restore(
        DriverConfig::default_for(Platform::Android),
        9,
        T0,
        SavedState::from_bytes(b"junk").unwrap_or_default(),
    )
    .unwrap();
    fresh.handle(T0, Event::Restarted(RestartReason::ProcessRestart));
    assert_eq!(fresh.status().state, CollectionState::Off);
    assert_eq!(fresh.next_wakeup(), None);
}

#[test]
fn without_the_gatt_fallback_iphones_are_never_read() {
    let mut config = DriverConfig::default_for(Platform::Android);
    config.gatt.enabled = false;
    let mut rig = Rig::with(config);
    rig.send(T0, Event::Enable);
    assert!(rig.log.iter().any(|(_, c)| matches!(c,
        Command::StartScan { filters, .. } if !filters.apple_manufacturer_data)));
    rig.send(T0 + 100, background_iphone("i", -60));
    assert_eq!(rig.count(|c| matches!(c, Command::ReadPayload { .. })), 0);
    assert_eq!(rig.driver.counters().unread, 1);
}

#[test]
fn a_clock_set_back_reschedules_instead_of_waiting_for_the_old_times() {
    let mut driver = Driver::new(DriverConfig::default_for(Platform::Android), 1, T0).unwrap();
    driver.handle(T0, Event::Enable);
    driver.handle(T0, Event::Advertisement(advertisement(1, T0, 900)));
    let _ = driver.drain_outputs();
    let back = T0 - 86_400_000;
    driver.handle(back, Event::Timer);
    let wake = driver.next_wakeup().unwrap();
    assert!(wake <= back + 300_000, "{}", wake - back);
    let outputs = driver.drain_outputs();
    assert!(
        outputs.contains(&Output::Engine(EngineRequest::Advertisement)),
        "rotates at once"
    );
}

/// Events a platform may send, in any order.
fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::Enable),
        Just(Event::Disable),
        Just(Event::Timer),
        Just(Event::Timer),
        Just(Event::Timer),
        Just(Event::Restarted(RestartReason::ProcessRestart)),
        Just(Event::IdentityChanged),
        prop_oneof![
            Just(BluetoothState::On),
            Just(BluetoothState::Off),
            Just(BluetoothState::Unauthorized),
            Just(BluetoothState::Unsupported)
        ]
        .prop_map(Event::Bluetooth),
        any::<bool>().prop_map(|granted| Event::Permission { granted }),
        prop_oneof![
            Just(AppState::Foreground),
            Just(AppState::Background),
            Just(AppState::Terminating)
        ]
        .prop_map(Event::App),
        any::<bool>().prop_map(|on| Event::Screen { on }),
        any::<bool>().prop_map(|on| Event::PowerSave { on }),
        any::<bool>().prop_map(|connected| Event::BluetoothAudio { connected }),
        (0u8..4, -110i16..0).prop_map(|(n, rssi)| android_advert(&format!("a{n}"), n, rssi)),
        (0u8..4, -110i16..0).prop_map(|(n, rssi)| background_iphone(&format!("i{n}"), rssi)),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| Event::ScanResult(
            ScanReport {
                device: "junk".into(),
                advert: AdvertData::Raw(bytes),
                service_uuids: vec!["FD6F".into()],
                apple_overflow: false,
                rssi: 0,
                tx_power_dbm: Some(127),
            }
        )),
        Just(Event::ScanStarted),
        Just(Event::ScanFailed("x".into())),
        Just(Event::AdvertisingStarted),
        Just(Event::AdvertisingFailed("x".into())),
        (
            0u8..4,
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30))
        )
            .prop_map(|(n, bytes)| Event::PayloadRead {
                device: format!("i{n}"),
                result: bytes.ok_or(ReadFailure::ConnectionFailed),
            }),
        (any::<u64>(), any::<u32>())
            .prop_map(|(request, offset)| Event::PayloadRequested { request, offset }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_event_orders_keep_the_invariants(
        platform in prop_oneof![Just(Platform::Android), Just(Platform::Ios), Just(Platform::Desktop)],
        steps in proptest::collection::vec((0i64..400_000, any_event()), 1..120),
    ) {
        let mut rig = Rig::new(platform);
        let mut t = T0;
        for (gap, event) in steps {
            let next = t + gap;
            // The platform fires alarms on time; a scan that failed is not running.
            rig.run_until(next);
            if matches!(event, Event::ScanFailed(_)) {
                rig.scanning = false;
            }
            t = next.max(rig.now);
            rig.send(t, event);
            let enabled = rig.driver.saved_state().enabled;
            if enabled {
                prop_assert!(rig.driver.next_wakeup().is_some(), "no wake-up while on");
            }
            if let Some((_, until, _)) = &rig.on_air {
                prop_assert!(t <= until + rig.driver.config().rotation_skew_ms || rig.driver.next_wakeup().is_some_and(|w| w <= *until));
            }
        }
        rig.run_until(t + 3_600_000);
        for &(_, off, until) in &rig.aired {
            prop_assert!(off <= until + rig.driver.config().rotation_skew_ms, "stale payload on air");
        }
        if let Some((_, until, _)) = &rig.on_air {
            prop_assert!(rig.now <= until + rig.driver.config().rotation_skew_ms);
        }
    }
}
