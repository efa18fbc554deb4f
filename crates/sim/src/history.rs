//! Synthetic histories: what one phone hears over days in a busy place, fed through the real
//! [`Tracer`] ingest path (validation, folding, sealing, storage).
//!
//! The phone scans every 5 minutes (with up to ±20 s of jitter, never before the history's
//! start) for 4 seconds. Around it are always `contacts_per_scan` other phones. Each contact
//! has its own random daily keys and rotates its RPI every 10 to 20 minutes, like a real GAEN
//! phone; it stays between 30 minutes and 4 hours before another takes its place. Each contact
//! advertises every 250 ms, and about a quarter of its adverts are lost, so a scan hears it
//! about 12 times; RSSI is a per-contact mean (distance) between −95 and −45 dBm plus
//! per-advert noise (about ±3 dB). The contacts' keys are kept, so matching tests can publish
//! some of them; every one of them is heard.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bluezone_core::{AdvertData, CoreError, IngestReport, ManualClock, SightingInput, Tracer};
use bluezone_protocol::{
    Advertisement, IntervalNumber, RollingProximityIdentifier, TemporaryExposureKey,
};
use rand::{Rng, RngExt, SeedableRng};

/// Seconds between scans.
pub const SCAN_INTERVAL_SECS: i64 = 300;
/// Length of a scan window, in seconds.
pub const SCAN_SECS: i64 = 4;
/// Adverts a contact sends during one scan window (one every 250 ms).
pub const ADVERTS_PER_SCAN: u32 = 16;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryParams {
    /// Days of history, ending at `until`.
    pub days: u32,
    /// Phones around at every scan.
    pub contacts_per_scan: u32,
    /// Seed of every random choice: the same parameters give the same history.
    pub seed: u64,
    /// Unix time (seconds) at which the history ends.
    pub until: i64,
    /// Nobody around at night, 23:00 to 07:00 in Vietnam (16:00 to 24:00 UTC): the scans
    /// then hear nothing (a phone at home, alone or with Bluetooth off).
    pub quiet_nights: bool,
}

/// Seconds into the UTC day at which [`HistoryParams::quiet_nights`] begin (23:00 at UTC+7).
pub const QUIET_FROM_UTC_SECS: i64 = 16 * 3600;

/// A contact's daily key, as a diagnosis server would publish it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactKey {
    /// The key.
    pub tek: TemporaryExposureKey,
    /// Its first interval (UTC midnight).
    pub rolling_start: IntervalNumber,
}

/// What was generated and how ingest went.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Scans performed.
    pub scans: u64,
    /// Adverts handed to the tracer.
    pub adverts: u64,
    /// What the tracer accepted and refused.
    pub ingest: IngestReport,
    /// Wall time spent inside `Tracer::record_sightings`.
    pub ingest_time: Duration,
    /// Every distinct RPI the phone heard (at least one advert received).
    pub rpis: Vec<RollingProximityIdentifier>,
    /// Every daily key of every contact.
    pub contact_keys: Vec<ContactKey>,
}

struct Contact {
    day: u32,
    keys: bluezone_protocol::DerivedKeys,
    rssi_mean: f64,
    leaves_at: i64,
    next_rotation: i64,
    advert: Advertisement,
}

/// One scan's worth of adverts heard.
#[derive(Debug, Clone)]
pub struct ScanBatch {
    /// Unix time (seconds) at which the scan window closed.
    pub end: i64,
    /// The adverts heard, in the order they arrived.
    pub sightings: Vec<SightingInput>,
}

/// Produces the scans of a history one by one, without touching any tracer; the same
/// parameters always produce the same scans.
pub struct HistoryGenerator {
    rng: rand::rngs::StdRng,
    contacts: Vec<Contact>,
    start: i64,
    scan_time: i64,
    until: i64,
    window: u64,
    quiet_nights: bool,
    /// Keys and RPIs so far.
    pub record: History,
    heard: HashSet<RollingProximityIdentifier>,
}

impl HistoryGenerator {
    /// Starts a history `params.days` days before `params.until`.
    ///
    /// # Errors
    /// [`CoreError::Clock`] for a start before 1970.
    pub fn new(params: &HistoryParams) -> Result<Self, CoreError> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(params.seed);
        let start = params.until - i64::from(params.days) * 86_400;
        let mut record = History::default();
        let contacts = (0..params.contacts_per_scan)
            .map(|_| new_contact(&mut rng, start, &mut record))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            rng,
            contacts,
            start,
            scan_time: start,
            until: params.until,
            window: 0,
            quiet_nights: params.quiet_nights,
            record,
            heard: HashSet::new(),
        })
    }

    /// The next scan, or `None` when the history is complete.
    ///
    /// # Errors
    /// [`CoreError::Clock`] for times before 1970.
    pub fn next_scan(&mut self) -> Result<Option<ScanBatch>, CoreError> {
        if self.scan_time >= self.until {
            return Ok(None);
        }
        let rng = &mut self.rng;
        // Not before the start: the first contacts hold keys of the start's day, and a first
        // scan in the day before would replace every one of them (never heard) by a key of
        // a day outside the history.
        let t = (self.scan_time + rng.random_range(-20..=20)).max(self.start);
        let mut sightings = Vec::with_capacity(self.contacts.len() * ADVERTS_PER_SCAN as usize);
        let quiet = self.quiet_nights && t.rem_euclid(86_400) >= QUIET_FROM_UTC_SECS;
        for slot in self.contacts.iter_mut().filter(|_| !quiet) {
            if slot.leaves_at <= t {
                *slot = new_contact(rng, t, &mut self.record)?;
            }
            let advert = slot.advert_at(t, rng, &mut self.record)?;
            let mut got_one = false;
            for k in 0..ADVERTS_PER_SCAN {
                if rng.random_bool(0.25) {
                    continue;
                }
                let noise: f64 = (0..3).map(|_| rng.random_range(-2.0..2.0)).sum();
                let rssi = (slot.rssi_mean + noise).round().clamp(-127.0, 20.0);
                sightings.push(SightingInput {
                    advert: AdvertData::Decoded(advert),
                    rssi: rssi_i16(rssi),
                    time: t + i64::from(k) * SCAN_SECS / i64::from(ADVERTS_PER_SCAN),
                    scan_window: Some(self.window),
                });
                got_one = true;
            }
            if got_one {
                self.heard.insert(advert.rpi);
            }
        }
        self.window += 1;
        self.scan_time += SCAN_INTERVAL_SECS;
        self.record.scans += 1;
        self.record.adverts += sightings.len() as u64;
        Ok(Some(ScanBatch {
            end: t + SCAN_SECS,
            sightings,
        }))
    }

    /// Ends the history: the record of keys and RPIs, RPIs sorted.
    #[must_use]
    pub fn finish(mut self) -> History {
        self.record.rpis = self.heard.into_iter().collect();
        self.record.rpis.sort_unstable();
        self.record
    }
}

/// Generates the history into `tracer`, moving `clock` along: before each scan is handed
/// over the clock shows the scan's end, the tracer's advertisement is refreshed (so its own
/// daily keys exist), and maintenance runs at every UTC day change.
///
/// # Errors
/// [`CoreError`] from the tracer; the history generated so far stays stored.
pub fn fill_history(
    tracer: &Tracer,
    clock: &ManualClock,
    params: &HistoryParams,
) -> Result<History, CoreError> {
    let mut generator = HistoryGenerator::new(params)?;
    let mut ingest = IngestReport::default();
    let mut ingest_time = Duration::ZERO;
    let mut last_day = None;
    while let Some(scan) = generator.next_scan()? {
        clock.set(scan.end);
        tracer.current_advertisement()?;
        let began = Instant::now();
        let report = tracer.record_sightings(&scan.sightings)?;
        ingest_time += began.elapsed();
        ingest.add(&report);
        let day = scan.end.div_euclid(86_400);
        if last_day.is_some_and(|d| d != day) {
            tracer.run_maintenance()?;
        }
        last_day = Some(day);
    }
    tracer.run_maintenance()?;
    let mut history = generator.finish();
    history.ingest = ingest;
    history.ingest_time = ingest_time;
    Ok(history)
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "rounded and clamped to -127..=20"
)]
fn rssi_i16(rssi: f64) -> i16 {
    rssi as i16
}

/// The metadata every synthetic contact sends: version 1.0, −15 dBm.
const CONTACT_METADATA: [u8; 4] = [0x40, 0xf1, 0, 0];

fn new_contact(
    rng: &mut rand::rngs::StdRng,
    now: i64,
    history: &mut History,
) -> Result<Contact, CoreError> {
    let interval = IntervalNumber::from_unix_seconds(now)?;
    let keys = new_day_key(rng, interval, history);
    let lifetime: i64 = rng.random_range(600..=1200);
    let rpi = keys.rpik.identifier(interval);
    Ok(Contact {
        day: interval.day().get(),
        advert: Advertisement {
            rpi,
            aem: keys.aemk.encrypt(&rpi, CONTACT_METADATA),
        },
        keys,
        rssi_mean: rng.random_range(-95.0..-45.0),
        leaves_at: now + rng.random_range(1800..=4 * 3600),
        // Contacts arrive part-way through their current identifier's life.
        next_rotation: now + rng.random_range(0..lifetime),
    })
}

fn new_day_key(
    rng: &mut rand::rngs::StdRng,
    interval: IntervalNumber,
    history: &mut History,
) -> bluezone_protocol::DerivedKeys {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    let tek = TemporaryExposureKey::from_bytes(bytes);
    let keys = tek.derive_keys();
    history.contact_keys.push(ContactKey {
        tek,
        rolling_start: interval.rolling_start(),
    });
    keys
}

impl Contact {
    /// The advert this contact sends at `t`, rotating (and changing keys) when due.
    fn advert_at(
        &mut self,
        t: i64,
        rng: &mut rand::rngs::StdRng,
        history: &mut History,
    ) -> Result<Advertisement, CoreError> {
        let interval = IntervalNumber::from_unix_seconds(t)?;
        let day = interval.day().get();
        if day != self.day {
            self.keys = new_day_key(rng, interval, history);
            self.day = day;
            self.next_rotation = t; // a new day's key starts a new identifier
        }
        if t >= self.next_rotation {
            let rpi = self.keys.rpik.identifier(interval);
            self.advert = Advertisement {
                rpi,
                aem: self.keys.aemk.encrypt(&rpi, CONTACT_METADATA),
            };
            self.next_rotation = t + rng.random_range(600..=1200);
        }
        Ok(self.advert)
    }
}
