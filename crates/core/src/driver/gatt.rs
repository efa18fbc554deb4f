//! The GATT fallback: which devices to read, when, how many at once, and what to do with
//! what comes back.
//!
//! An iPhone never puts the payload in its advert; a scanner that sees its service UUID (or
//! Apple's overflow area) connects and reads the payload characteristic. Each device is read
//! at most once per cooldown; the payload read is reused for that device's further adverts
//! until the cooldown ends (the device's address changes with its identifier). Failures back
//! off per device; a device without our characteristic (another Apple product) is left alone
//! for longer. Everything here is bounded: devices remembered, devices queued, sightings
//! waiting for a read.

use std::collections::{HashMap, VecDeque};

use bluezone_protocol::advert::SERVICE_DATA_LEN;

use super::config::GattConfig;
use super::io::ReadFailure;

/// Sightings of one device kept while its read is pending.
const MAX_WAITING_PER_DEVICE: usize = 64;

/// An advert of a device heard while its payload was unknown: stored once the read succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Heard {
    pub(super) rssi: i16,
    pub(super) time_ms: i64,
    pub(super) window: u64,
}

#[derive(Debug, Clone, Default)]
struct Device {
    last_seen_ms: i64,
    /// The payload read and when.
    payload: Option<(Vec<u8>, i64)>,
    /// No read before this time.
    next_read_ms: i64,
    failures: u32,
    waiting: Vec<Heard>,
}

/// What to do with an advert that needs a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    /// The payload is known: store this sighting of it.
    Known(Vec<u8>),
    /// Waiting for a read (queued or in flight).
    Waiting,
    /// The device is backing off after a failure, or the queue is full: dropped.
    Dropped,
}

/// What a finished read gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReadOutcome {
    /// The payload, and the sightings that waited for it.
    Payload(Vec<u8>, Vec<Heard>),
    /// Failed (or not a read we asked for): nothing to store.
    Nothing,
}

/// The counts of the GATT fallback (reading iPhones' payloads), for diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct GattCounters {
    /// Reads asked of the platform.
    pub reads_started: u64,
    /// Reads that gave a payload.
    pub reads_succeeded: u64,
    /// Reads that failed or timed out.
    pub reads_failed: u64,
    /// Devices found to have no payload characteristic.
    pub not_ours: u64,
    /// Adverts stored with a payload read earlier (no new connection).
    pub reused: u64,
}

/// The fallback's state.
#[derive(Debug, Clone, Default)]
pub(super) struct GattPlanner {
    devices: HashMap<String, Device>,
    queue: VecDeque<String>,
    /// Device → deadline (Unix ms).
    in_flight: HashMap<String, i64>,
    pub(super) counters: GattCounters,
}

impl GattPlanner {
    /// An advert of `device` that needs a read was heard.
    pub(super) fn seen(&mut self, config: &GattConfig, device: &str, heard: Heard) -> Seen {
        let now = heard.time_ms;
        if !self.devices.contains_key(device) {
            self.make_room(config.max_devices);
        }
        let busy = self.in_flight.contains_key(device) || self.queue.iter().any(|d| d == device);
        let entry = self.devices.entry(device.to_owned()).or_default();
        entry.last_seen_ms = now;
        if let Some((payload, read_at)) = &entry.payload
            && now < read_at + config.cooldown_ms
            && now >= *read_at
        {
            self.counters.reused += 1;
            return Seen::Known(payload.clone());
        }
        if busy {
            if entry.waiting.len() < MAX_WAITING_PER_DEVICE {
                entry.waiting.push(heard);
            }
            return Seen::Waiting;
        }
        if now < entry.next_read_ms || self.queue.len() >= config.max_queued {
            return Seen::Dropped;
        }
        entry.payload = None;
        entry.waiting.push(heard);
        self.queue.push_back(device.to_owned());
        Seen::Waiting
    }

    /// Forgets the least recently seen idle device while the table is full.
    fn make_room(&mut self, max: usize) {
        while self.devices.len() >= max {
            let oldest = self
                .devices
                .iter()
                .filter(|(d, _)| !self.in_flight.contains_key(*d))
                .filter(|(d, _)| !self.queue.contains(*d))
                .min_by_key(|(d, e)| (e.last_seen_ms, (*d).clone()))
                .map(|(d, _)| d.clone());
            match oldest {
                Some(d) => {
                    self.devices.remove(&d);
                }
                None => return,
            }
        }
    }

    /// Starts queued reads while fewer than the limit are in flight; returns the devices to
    /// read.
    pub(super) fn start_reads(&mut self, config: &GattConfig, now: i64) -> Vec<String> {
        let mut started = Vec::new();
        while self.in_flight.len() < config.max_concurrent {
            let Some(device) = self.queue.pop_front() else {
                break;
            };
            self.in_flight
                .insert(device.clone(), now + config.timeout_ms);
            self.counters.reads_started += 1;
            started.push(device);
        }
        started
    }

    /// A read finished.
    pub(super) fn finished(
        &mut self,
        config: &GattConfig,
        device: &str,
        result: Result<Vec<u8>, ReadFailure>,
        now: i64,
    ) -> ReadOutcome {
        if self.in_flight.remove(device).is_none() {
            // Cancelled (timed out, collection stopped) or never asked for.
            return ReadOutcome::Nothing;
        }
        let Some(entry) = self.devices.get_mut(device) else {
            return ReadOutcome::Nothing;
        };
        match result {
            Ok(bytes) if bytes.len() == SERVICE_DATA_LEN => {
                self.counters.reads_succeeded += 1;
                entry.failures = 0;
                entry.next_read_ms = now + config.cooldown_ms;
                entry.payload = Some((bytes.clone(), now));
                ReadOutcome::Payload(bytes, std::mem::take(&mut entry.waiting))
            }
            Ok(_) | Err(ReadFailure::NotFound) => {
                self.counters.not_ours += 1;
                self.counters.reads_failed += 1;
                entry.next_read_ms = now + config.not_ours_backoff_ms;
                entry.waiting.clear();
                ReadOutcome::Nothing
            }
            Err(ReadFailure::ConnectionFailed | ReadFailure::Timeout) => {
                self.counters.reads_failed += 1;
                Self::back_off(config, entry, now);
                ReadOutcome::Nothing
            }
        }
    }

    fn back_off(config: &GattConfig, entry: &mut Device, now: i64) {
        entry.failures = entry.failures.saturating_add(1);
        let doublings = entry.failures.saturating_sub(1).min(20);
        let wait = config
            .backoff_ms
            .saturating_mul(1i64 << doublings)
            .min(config.max_backoff_ms);
        entry.next_read_ms = now + wait;
        entry.waiting.clear();
    }

    /// Reads past their deadline: cancelled and counted as failures. Returns the devices.
    pub(super) fn expire(&mut self, config: &GattConfig, now: i64) -> Vec<String> {
        let mut late: Vec<String> = self
            .in_flight
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(d, _)| d.clone())
            .collect();
        late.sort();
        for device in &late {
            self.in_flight.remove(device);
            self.counters.reads_failed += 1;
            if let Some(entry) = self.devices.get_mut(device) {
                Self::back_off(config, entry, now);
            }
        }
        late
    }

    /// Drops reads not yet started (the window and its grace are over).
    pub(super) fn drop_queue(&mut self) {
        for device in self.queue.drain(..) {
            if let Some(entry) = self.devices.get_mut(&device) {
                entry.waiting.clear();
            }
        }
    }

    /// Stops everything: returns the reads in flight, to cancel.
    pub(super) fn stop(&mut self) -> Vec<String> {
        self.drop_queue();
        let mut cancelled: Vec<String> = self.in_flight.drain().map(|(d, _)| d).collect();
        cancelled.sort();
        for device in &cancelled {
            if let Some(entry) = self.devices.get_mut(device) {
                entry.waiting.clear();
            }
        }
        cancelled
    }

    /// The earliest read deadline.
    pub(super) fn next_deadline(&self) -> Option<i64> {
        self.in_flight.values().copied().min()
    }

    /// Reads in flight or queued.
    pub(super) fn busy(&self) -> bool {
        !self.in_flight.is_empty() || !self.queue.is_empty()
    }

    /// Reads in flight now.
    pub(super) fn reading(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Reads waiting to start.
    pub(super) fn queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Reads in flight.
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}
