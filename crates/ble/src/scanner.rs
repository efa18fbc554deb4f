//! The btleplug executor: the phone driver's radio on the first Bluetooth adapter.
//!
//! It turns what btleplug reports into driver events, with the wall-clock time in ms:
//! adverts with FD6F service data, and iPhones (FD6F among the advertised services, or
//! Apple's overflow manufacturer data) into [`Session::advert`]; the adapter switching off
//! and on into `Bluetooth(Off/On)`; finished payload reads into [`Session::read_finished`];
//! the driver's wake-ups into `Timer`; Ctrl-C or the end of the duration into
//! `App(Terminating)`, so what is pending reaches the store. It carries out the driver's
//! commands: `StartScan`/`StopScan` are btleplug's `start_scan`/`stop_scan` (filtered on
//! FD6F, or unfiltered when Apple manufacturer data is wanted: btleplug filters on service
//! UUIDs only), `ReadPayload` connects, discovers services, reads the payload characteristic
//! ([`PAYLOAD_CHARACTERISTIC`]) and disconnects, `CancelConnection` abandons a read and
//! disconnects.
//!
//! Failing to reach the stack at all (no system bus, no BlueZ, no adapter) ends the scan
//! with a [`BleError`]; a refused scan start is told to the driver as the Bluetooth state it
//! means (off, not allowed, not supported: the driver pauses and says why) or as a scan
//! failure (the driver retries, backing off).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Duration;

use btleplug::api::bleuuid::uuid_from_u16;
use btleplug::api::{
    Central, CentralEvent, CentralState, Manager as _, Peripheral as _, ScanFilter,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use bluezone_core::PhoneEngine;
use bluezone_core::driver::{
    AdvertKind, BluetoothState, CollectionState, Command, Event, ReadFailure, classify,
};

use crate::error::{BleError, ErrorKind};
use crate::frame::{
    AdvertFrame, PAYLOAD_CHARACTERISTIC, ReadError, ReadFrame, ReadResult, is_apple_overflow,
};
use crate::session::{Session, Shown};

/// Why a scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEnd {
    /// The duration passed.
    TimeUp,
    /// The caller asked to stop.
    Stopped,
    /// Ctrl-C.
    Interrupted,
    /// The stack stopped sending events.
    StreamEnded,
}

/// How a scan went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Why it ended.
    pub end: ScanEnd,
    /// The last failure of the adapter the driver was told of as a Bluetooth state or a scan
    /// failure (to say why when no scan ever started).
    pub last_error: Option<BleError>,
}

/// iPhone adverts of one device handed over at most this often, ms (BlueZ reports one advert
/// as several property changes).
const IPHONE_ADVERT_SPACING_MS: i64 = 1_000;
/// Devices remembered for reads, at most, before the stale ones are forgotten.
const MAX_DEVICES: usize = 4_096;
/// A device not heard for this long is forgotten first, ms.
const DEVICE_MEMORY_MS: i64 = 900_000;
/// Timers at least this far apart, ms.
const MIN_TIMER_SPACING_MS: i64 = 100;
/// A read the driver has not cancelled is given up after this long anyway.
const READ_LIMIT: Duration = Duration::from_secs(30);

fn from_btleplug(error: &btleplug::Error) -> BleError {
    let kind = match error {
        btleplug::Error::NoAdapterAvailable => ErrorKind::NoAdapter,
        btleplug::Error::PermissionDenied => ErrorKind::PermissionDenied,
        btleplug::Error::NotSupported(_) => ErrorKind::Unsupported,
        _ => ErrorKind::Other,
    };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    BleError::classify(kind, &message)
}

fn powered_off() -> BleError {
    BleError::AdapterOff("the adapter reports that it is powered off".to_owned())
}

/// Unix time, ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn fd6f_uuid() -> u128 {
    uuid_from_u16(0xFD6F).as_u128()
}

/// A frame at `at_ms`.
fn frame_at(at_ms: i64, address: String) -> AdvertFrame {
    AdvertFrame {
        time: at_ms.div_euclid(1000),
        ms: u16::try_from(at_ms.rem_euclid(1000)).ok(),
        address,
        rssi: None,
        tx_power_dbm: None,
        service_data: std::collections::BTreeMap::new(),
        services: Vec::new(),
        apple_overflow: false,
    }
}

/// Connects, reads the payload characteristic, disconnects.
async fn read_payload(peripheral: Peripheral) -> Result<Vec<u8>, ReadFailure> {
    peripheral
        .connect()
        .await
        .map_err(|_| ReadFailure::ConnectionFailed)?;
    let result = async {
        peripheral
            .discover_services()
            .await
            .map_err(|_| ReadFailure::ConnectionFailed)?;
        let characteristic = peripheral
            .characteristics()
            .into_iter()
            .find(|c| c.uuid.as_u128() == PAYLOAD_CHARACTERISTIC)
            .ok_or(ReadFailure::NotFound)?;
        peripheral.read(&characteristic).await.map_err(|e| match e {
            btleplug::Error::TimedOut(_) => ReadFailure::Timeout,
            _ => ReadFailure::ConnectionFailed,
        })
    }
    .await;
    let _ = peripheral.disconnect().await;
    result
}

/// A device heard as an iPhone: its address, and when an advert of it was last handed over.
struct Device {
    address: String,
    last_ms: i64,
}

/// The executor's state: the adapter and what it is doing.
struct Executor {
    adapter: Adapter,
    /// Listen to everything rather than FD6F only.
    unfiltered: bool,
    scanning: bool,
    last_error: Option<BleError>,
    /// iPhones heard, by the stack's identifier.
    devices: HashMap<PeripheralId, Device>,
    /// The same, by the address the driver knows them by.
    ids: HashMap<String, PeripheralId>,
    /// Reads in flight: their number (a late answer of a cancelled read is not taken for a
    /// newer read's) and their task.
    reads: HashMap<String, (u64, JoinHandle<()>)>,
    read_count: u64,
    /// Disconnections of abandoned reads, waited for (briefly) at the end.
    disconnects: Vec<JoinHandle<()>>,
    done: mpsc::UnboundedSender<ReadAnswer>,
}

/// A read task's answer: the device, the read's number, the result.
type ReadAnswer = (String, u64, Result<Vec<u8>, ReadFailure>);

impl Executor {
    /// Carries out `commands` and everything the driver answers to their outcome.
    async fn run<E: PhoneEngine>(&mut self, session: &mut Session<E>, commands: Vec<Command>) {
        let mut queue: std::collections::VecDeque<Command> = commands.into();
        while let Some(command) = queue.pop_front() {
            let more = match command {
                Command::StartScan { filters, .. } => {
                    let filter = if filters.apple_manufacturer_data || self.unfiltered {
                        ScanFilter::default()
                    } else {
                        ScanFilter {
                            services: vec![uuid_from_u16(0xFD6F)],
                        }
                    };
                    match self.adapter.start_scan(filter).await {
                        Ok(()) => {
                            self.scanning = true;
                            session.handle(now_ms(), Event::ScanStarted)
                        }
                        Err(e) => {
                            let error = from_btleplug(&e);
                            let event = match error.bluetooth_state() {
                                Some(state) => Event::Bluetooth(state),
                                None => Event::ScanFailed(error.to_string()),
                            };
                            self.last_error = Some(error);
                            session.handle(now_ms(), event)
                        }
                    }
                }
                Command::StopScan => {
                    if self.scanning {
                        // Best effort: the adapter stops when the session closes anyway.
                        let _ = self.adapter.stop_scan().await;
                        self.scanning = false;
                    }
                    Vec::new()
                }
                Command::ReadPayload { device } => self.start_read(session, device).await,
                Command::CancelConnection { device } => {
                    self.cancel_read(&device);
                    Vec::new()
                }
                _ => Vec::new(),
            };
            queue.extend(more);
        }
    }

    async fn start_read<E: PhoneEngine>(
        &mut self,
        session: &mut Session<E>,
        device: String,
    ) -> Vec<Command> {
        let peripheral = match self.ids.get(&device) {
            Some(id) => self.adapter.peripheral(id).await.ok(),
            None => None,
        };
        let Some(peripheral) = peripheral else {
            // Gone from the stack already: the read fails at once.
            return self.finished(session, device, Err(ReadFailure::ConnectionFailed));
        };
        let done = self.done.clone();
        let name = device.clone();
        self.read_count += 1;
        let number = self.read_count;
        let task = tokio::spawn(async move {
            let result = tokio::time::timeout(READ_LIMIT, read_payload(peripheral))
                .await
                .unwrap_or(Err(ReadFailure::Timeout));
            let _ = done.send((name, number, result));
        });
        if let Some((_, old)) = self.reads.insert(device, (number, task)) {
            old.abort();
        }
        Vec::new()
    }

    fn cancel_read(&mut self, device: &str) {
        if let Some((_, task)) = self.reads.remove(device) {
            task.abort();
            if let Some(id) = self.ids.get(device) {
                let adapter = self.adapter.clone();
                let id = id.clone();
                self.disconnects.retain(|d| !d.is_finished());
                self.disconnects.push(tokio::spawn(async move {
                    if let Ok(p) = adapter.peripheral(&id).await {
                        let _ = p.disconnect().await;
                    }
                }));
            }
        }
    }

    /// A read task answered: taken if it is the read in flight for that device (not one
    /// cancelled since).
    fn answered<E: PhoneEngine>(
        &mut self,
        session: &mut Session<E>,
        (device, number, result): ReadAnswer,
    ) -> Vec<Command> {
        match self.reads.get(&device) {
            Some((current, _)) if *current == number => self.finished(session, device, result),
            _ => Vec::new(),
        }
    }

    /// A read finished (or failed at once).
    fn finished<E: PhoneEngine>(
        &mut self,
        session: &mut Session<E>,
        device: String,
        result: Result<Vec<u8>, ReadFailure>,
    ) -> Vec<Command> {
        self.reads.remove(&device);
        let now = now_ms();
        let mut read = ReadFrame {
            time: now.div_euclid(1000),
            ms: u16::try_from(now.rem_euclid(1000)).ok(),
            address: device,
            gatt_read: ReadResult::Error(ReadError::ConnectionFailed),
        };
        read.gatt_read = match result {
            Ok(value) => ReadResult::Value(value),
            Err(failure) => ReadResult::Error(ReadError::from_failure(&failure)),
        };
        session.read_finished(&read)
    }

    /// Remembers an iPhone; returns whether an advert of it may be handed over now.
    fn note_iphone(&mut self, address: &str, id: &PeripheralId, now: i64) -> bool {
        if self.devices.len() >= MAX_DEVICES && !self.devices.contains_key(id) {
            self.devices
                .retain(|_, d| now - d.last_ms < DEVICE_MEMORY_MS);
            if self.devices.len() >= MAX_DEVICES {
                self.devices.clear();
            }
            let devices = &self.devices;
            self.ids.retain(|_, id| devices.contains_key(id));
        }
        if let Some(d) = self.devices.get_mut(id) {
            if now >= d.last_ms && now - d.last_ms < IPHONE_ADVERT_SPACING_MS {
                return false;
            }
            d.last_ms = now;
            if d.address != address {
                self.ids.remove(&d.address);
                d.address = address.to_owned();
            }
        } else {
            self.devices.insert(
                id.clone(),
                Device {
                    address: address.to_owned(),
                    last_ms: now,
                },
            );
        }
        self.ids.insert(address.to_owned(), id.clone());
        true
    }

    /// The frame for an event about `id`, from the device's properties.
    async fn frame(&self, id: &PeripheralId, now: i64) -> Option<AdvertFrame> {
        let properties = self.adapter.peripheral(id).await.ok()?.properties().await;
        let properties = properties.ok().flatten()?;
        let address = if properties.address == btleplug::api::BDAddr::default() {
            // macOS hides addresses: the stack's identifier names the device instead.
            id.to_string()
        } else {
            properties.address.to_string()
        };
        let mut frame = frame_at(now, address);
        frame.rssi = properties.rssi;
        frame.tx_power_dbm = properties.tx_power_level;
        frame.service_data = properties
            .service_data
            .into_iter()
            .map(|(uuid, data)| (uuid.to_string(), data))
            .collect();
        frame.services = properties
            .services
            .iter()
            .map(ToString::to_string)
            .collect();
        frame.apple_overflow = properties
            .manufacturer_data
            .iter()
            .any(|(company, data)| is_apple_overflow(*company, data));
        Some(frame)
    }

    /// Turns one btleplug event into driver events.
    async fn take<E: PhoneEngine>(
        &mut self,
        session: &mut Session<E>,
        event: CentralEvent,
    ) -> Vec<Command> {
        let now = now_ms();
        let fd6f = fd6f_uuid();
        match event {
            CentralEvent::StateUpdate(CentralState::PoweredOn) => {
                session.handle(now, Event::Bluetooth(BluetoothState::On))
            }
            CentralEvent::StateUpdate(CentralState::PoweredOff) => {
                self.scanning = false;
                self.last_error = Some(powered_off());
                session.handle(now, Event::Bluetooth(BluetoothState::Off))
            }
            CentralEvent::ServiceDataAdvertisement { id, service_data } => {
                if !service_data.keys().any(|u| u.as_u128() == fd6f) {
                    return if self.devices.contains_key(&id) {
                        self.maybe_iphone(session, &id, now, false).await
                    } else {
                        Vec::new()
                    };
                }
                let Some(mut frame) = self.frame(&id, now).await else {
                    return Vec::new();
                };
                // The event's data is this advert's; the properties may lag behind it.
                frame.service_data = service_data
                    .into_iter()
                    .map(|(uuid, data)| (uuid.to_string(), data))
                    .collect();
                session.advert(&frame)
            }
            CentralEvent::ManufacturerDataAdvertisement {
                id,
                manufacturer_data,
            } => {
                let apple = manufacturer_data
                    .iter()
                    .any(|(company, data)| is_apple_overflow(*company, data));
                if apple || self.devices.contains_key(&id) {
                    self.maybe_iphone(session, &id, now, apple).await
                } else {
                    Vec::new()
                }
            }
            CentralEvent::ServicesAdvertisement { id, services } => {
                if services.iter().any(|u| u.as_u128() == fd6f) || self.devices.contains_key(&id) {
                    self.maybe_iphone(session, &id, now, false).await
                } else {
                    Vec::new()
                }
            }
            CentralEvent::RssiUpdate { id, .. } | CentralEvent::DeviceUpdated(id) => {
                if self.devices.contains_key(&id) {
                    self.maybe_iphone(session, &id, now, false).await
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// Hands over an iPhone advert (FD6F listed, or Apple's overflow area, without FD6F
    /// service data: those come with their own event), spaced per device. `overflow`: the
    /// event itself carried Apple's overflow area (the properties may lag behind it).
    async fn maybe_iphone<E: PhoneEngine>(
        &mut self,
        session: &mut Session<E>,
        id: &PeripheralId,
        now: i64,
        overflow: bool,
    ) -> Vec<Command> {
        let Some(mut frame) = self.frame(id, now).await else {
            return Vec::new();
        };
        frame.apple_overflow |= overflow;
        // The driver's own test: no FD6F service data, but FD6F listed or Apple's overflow.
        if classify(&frame.report_with_rssi(0)) != AdvertKind::NeedsRead {
            return Vec::new();
        }
        if !self.note_iphone(&frame.address, id, now) {
            return Vec::new();
        }
        session.advert(&frame)
    }
}

/// Runs `session` on the first adapter for `duration` (or until `on_shown` breaks, or
/// Ctrl-C), then terminates it. `on_adapter` is told the adapter's name once it is found.
/// With the GATT fallback on (the session's driver config), the scan is unfiltered, so that
/// iPhones advertising in the background (Apple's overflow area only) are heard. Blocks the
/// calling thread.
///
/// # Errors
/// [`BleError`] when the Bluetooth stack or an adapter cannot be reached.
pub fn scan<E: PhoneEngine>(
    session: &mut Session<E>,
    duration: Duration,
    on_adapter: &mut dyn FnMut(&str),
    on_shown: &mut dyn FnMut(Shown) -> ControlFlow<()>,
) -> Result<ScanOutcome, BleError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BleError::Stack(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let manager = Manager::new().await.map_err(|e| from_btleplug(&e))?;
        let adapter = manager
            .adapters()
            .await
            .map_err(|e| from_btleplug(&e))?
            .into_iter()
            .next()
            .ok_or(BleError::NoAdapter)?;
        let mut events = adapter.events().await.map_err(|e| from_btleplug(&e))?;
        let name = adapter
            .adapter_info()
            .await
            .unwrap_or_else(|_| "Bluetooth adapter".to_owned());
        let bluetooth = match adapter.adapter_state().await {
            Ok(CentralState::PoweredOff) => BluetoothState::Off,
            _ => BluetoothState::On,
        };
        on_adapter(&name);
        let (done, mut finished) = mpsc::unbounded_channel();
        let mut executor = Executor {
            adapter: adapter.clone(),
            unfiltered: session.driver().config().gatt.enabled,
            scanning: false,
            last_error: (bluetooth == BluetoothState::Off).then(powered_off),
            devices: HashMap::new(),
            ids: HashMap::new(),
            reads: HashMap::new(),
            read_count: 0,
            disconnects: Vec::new(),
            done,
        };
        let commands = session.start(now_ms(), bluetooth);
        executor.run(session, commands).await;
        let deadline = tokio::time::Instant::now() + duration;
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let mut last_timer_ms = i64::MIN;
        let end = loop {
            if session.deliver(on_shown).is_break() {
                break ScanEnd::Stopped;
            }
            let wake = session.next_wakeup().map(|at| {
                // A deadline that does not move after its timer waits a little, not a spin.
                let at = if at <= last_timer_ms {
                    last_timer_ms + MIN_TIMER_SPACING_MS
                } else {
                    at
                };
                let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                tokio::time::Instant::now() + Duration::from_millis(wait)
            });
            let commands = tokio::select! {
                () = tokio::time::sleep_until(deadline) => break ScanEnd::TimeUp,
                _ = &mut interrupted => break ScanEnd::Interrupted,
                () = tokio::time::sleep_until(wake.unwrap_or(deadline)), if wake.is_some() => {
                    last_timer_ms = now_ms();
                    let mut commands = session.handle(last_timer_ms, Event::Timer);
                    if session.driver().status().state != CollectionState::Collecting {
                        // Paused: ask the adapter again (a missed "powered on" never stops
                        // collection for long; a refused start is tried again).
                        if let Ok(state) = adapter.adapter_state().await {
                            let bluetooth = if state == CentralState::PoweredOff {
                                executor.last_error = Some(powered_off());
                                BluetoothState::Off
                            } else {
                                BluetoothState::On
                            };
                            commands.extend(session.handle(now_ms(), Event::Bluetooth(bluetooth)));
                        }
                    }
                    commands
                }
                event = events.next() => match event {
                    Some(event) => executor.take(session, event).await,
                    None => break ScanEnd::StreamEnded,
                },
                Some(answer) = finished.recv() => executor.answered(session, answer),
            };
            executor.run(session, commands).await;
        };
        let commands = session.terminate(now_ms());
        executor.run(session, commands).await;
        for device in executor.reads.keys().cloned().collect::<Vec<_>>() {
            executor.cancel_read(&device);
        }
        if executor.scanning {
            let _ = adapter.stop_scan().await;
        }
        let disconnects = std::mem::take(&mut executor.disconnects);
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            futures_util::future::join_all(disconnects),
        )
        .await;
        let _ = session.deliver(on_shown);
        Ok(ScanOutcome {
            end,
            last_error: executor.last_error,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btleplug_errors_become_driver_states_where_they_can_be_told_apart() {
        let state = |e: btleplug::Error| from_btleplug(&e).bluetooth_state();
        assert_eq!(
            state(btleplug::Error::NotSupported("scan".into())),
            Some(BluetoothState::Unsupported)
        );
        assert_eq!(
            state(btleplug::Error::PermissionDenied),
            Some(BluetoothState::Unauthorized)
        );
        assert_eq!(
            state(btleplug::Error::NoAdapterAvailable),
            Some(BluetoothState::Unsupported)
        );
        assert_eq!(
            state(btleplug::Error::Other(
                "Resource Not Ready (org.bluez.Error.NotReady)".into()
            )),
            Some(BluetoothState::Off)
        );
        // Anything else is a scan failure the driver retries.
        assert_eq!(state(btleplug::Error::RuntimeError("busy".into())), None);
        assert_eq!(powered_off().bluetooth_state(), Some(BluetoothState::Off));
    }

    #[test]
    fn frames_carry_milliseconds() {
        let f = frame_at(1_585_785_600_250, "a".into());
        assert_eq!(
            (f.time, f.ms, f.time_ms()),
            (1_585_785_600, Some(250), 1_585_785_600_250)
        );
    }
}
