//! The driver's settings, with the defaults a phone ships with. Every figure names where it
//! comes from.

use super::io::Platform;

/// How the GATT fallback reads iPhones' payloads.
#[derive(Debug, Clone, PartialEq)]
pub struct GattConfig {
    /// Read iPhones at all. Without it, a scanner never records an iPhone (iOS advertises the
    /// service UUID only, never the payload).
    pub enabled: bool,
    /// After a successful read, the payload is reused for further adverts of the same device
    /// and the device is not read again for this long, ms (default 5 minutes; DP-3T reads
    /// each device once, Bluezone v3 once per 15-minute slot).
    pub cooldown_ms: i64,
    /// Reads at once (default 1 on Android, where concurrent connections fail often; 3 on iOS).
    pub max_concurrent: usize,
    /// Devices waiting for a read, at most (the rest wait for the next window).
    pub max_queued: usize,
    /// A read not answered in this long is cancelled, ms (default 5 s; Bluezone v3 used 10 s).
    pub timeout_ms: i64,
    /// Reads may still start this long after a scan window ends, ms (default 10 s).
    pub grace_ms: i64,
    /// After a failed read the device waits this long before another, ms, doubled per failure
    /// up to `max_backoff_ms` (Herald: 1 minute upward).
    pub backoff_ms: i64,
    /// Longest wait after failures, ms (default 15 minutes: by then the address has changed).
    pub max_backoff_ms: i64,
    /// A device whose characteristic is missing (another Apple device) waits this long, ms
    /// (default 30 minutes).
    pub not_ours_backoff_ms: i64,
    /// Devices remembered, at most (oldest forgotten first).
    pub max_devices: usize,
}

impl GattConfig {
    /// The defaults of `platform`.
    #[must_use]
    pub fn default_for(platform: Platform) -> Self {
        Self {
            enabled: true,
            cooldown_ms: 300_000,
            max_concurrent: if platform == Platform::Ios { 3 } else { 1 },
            max_queued: 32,
            timeout_ms: 5_000,
            grace_ms: 10_000,
            backoff_ms: 60_000,
            max_backoff_ms: 900_000,
            not_ours_backoff_ms: 1_800_000,
            max_devices: 512,
        }
    }
}

/// How a [`super::Driver`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct DriverConfig {
    /// The platform carrying out the commands.
    pub platform: Platform,
    /// Time between scan starts before jitter, ms (GAEN: at most 5 minutes).
    pub scan_period_ms: i64,
    /// Each period is shortened by a random amount up to this, ms (default 90 s, so scans
    /// come every 3.5 to 5 minutes and never line up across phones).
    pub scan_jitter_ms: i64,
    /// Shortest period after the adjustments below, ms (default 60 s).
    pub min_scan_period_ms: i64,
    /// Scan window, ms (GAEN: 4 s).
    pub scan_window_ms: i64,
    /// Window while a Bluetooth audio device shares the radio, ms (GAEN: 4 s + 13 s).
    pub busy_scan_window_ms: i64,
    /// Scan continuously instead of in windows (iOS, where a background app cannot time
    /// scans); sightings are still cut into windows of `continuous_window_ms`.
    pub continuous_scan: bool,
    /// Window length when scanning continuously, ms (default 60 s: GAEN counts scans to
    /// the minute).
    pub continuous_window_ms: i64,
    /// While the screen is on, periods are multiplied by this (default 0.8: the person is
    /// likely moving among others).
    pub screen_on_factor: f64,
    /// While the app is in the background, sightings wait at most this long (ms) in memory
    /// before they are stored, under a held wake lock (iOS: background task time, so the app
    /// is not suspended with them). iOS may kill a suspended app without warning, and wakes
    /// a background app for a few seconds per burst of scan results: this stores a burst at
    /// once instead of one write per advert. `None`: they wait for the window's end.
    pub background_store_delay_ms: Option<i64>,
    /// At most this many scan starts in `scan_start_window_ms` (Android refuses a sixth
    /// start within 30 s, silently).
    pub max_scan_starts: usize,
    /// See `max_scan_starts`, ms.
    pub scan_start_window_ms: i64,
    /// After this many consecutive failed scan starts, collection shows as paused.
    pub scan_failures_before_pause: u32,
    /// First retry of a failed advertising start, ms, doubled up to 15 minutes.
    pub advertising_retry_ms: i64,
    /// Advertising interval asked of the platform, ms (GAEN: 200–270 ms).
    pub advertising_interval_ms: u32,
    /// A payload may stay on air at most this long past its rotation time, ms (timer
    /// latency; default 2 s).
    pub rotation_skew_ms: i64,
    /// While paused, wake at least this often to check again, ms (default 15 minutes: a
    /// missed "Bluetooth on" broadcast never stops collection for long).
    pub paused_check_ms: i64,
    /// Attenuation thresholds of the near / mid / far classes, dB (default 55 and 63, the
    /// Swiss thresholds the risk model uses).
    pub nearby_thresholds_db: [u8; 2],
    /// Transmit power assumed for a sender when estimating attenuation before matching
    /// (its real one is encrypted in the AEM), dBm (default −15, the typical phone).
    pub assumed_tx_dbm: i16,
    /// This phone's RSSI correction, dB (from its calibration entry).
    pub rssi_correction_db: i16,
    /// Most sightings held before they are stored even mid-window (default 2,000).
    pub max_pending_sightings: usize,
    /// The GATT fallback.
    pub gatt: GattConfig,
}

impl DriverConfig {
    /// The defaults of `platform`.
    #[must_use]
    pub fn default_for(platform: Platform) -> Self {
        Self {
            platform,
            scan_period_ms: 300_000,
            scan_jitter_ms: 90_000,
            min_scan_period_ms: 60_000,
            scan_window_ms: 4_000,
            busy_scan_window_ms: 17_000,
            continuous_scan: platform == Platform::Ios,
            continuous_window_ms: 60_000,
            screen_on_factor: 0.8,
            background_store_delay_ms: (platform == Platform::Ios).then_some(3_000),
            max_scan_starts: 5,
            scan_start_window_ms: 30_000,
            scan_failures_before_pause: 3,
            advertising_retry_ms: 30_000,
            advertising_interval_ms: 250,
            rotation_skew_ms: 2_000,
            paused_check_ms: 900_000,
            nearby_thresholds_db: [55, 63],
            assumed_tx_dbm: -15,
            rssi_correction_db: 0,
            max_pending_sightings: 2_000,
            gatt: GattConfig::default_for(platform),
        }
    }

    /// Checks the settings; the error names the first bad field.
    ///
    /// # Errors
    /// The field's name and what it must be.
    pub fn check(&self) -> Result<(), &'static str> {
        if !(1_000..=300_000).contains(&self.scan_window_ms) {
            return Err("driver scan_window_ms: 1 s to 5 minutes");
        }
        if self.busy_scan_window_ms < self.scan_window_ms {
            return Err("driver busy_scan_window_ms: at least scan_window_ms");
        }
        if !(self.scan_window_ms..=3_600_000).contains(&self.scan_period_ms) {
            return Err("driver scan_period_ms: at least the window, at most an hour");
        }
        if !(0..self.scan_period_ms).contains(&self.scan_jitter_ms) {
            return Err("driver scan_jitter_ms: 0 to less than the period");
        }
        if self.min_scan_period_ms < self.busy_scan_window_ms
            || self.min_scan_period_ms > self.scan_period_ms
        {
            return Err("driver min_scan_period_ms: between the busy window and the period");
        }
        if !(10_000..=600_000).contains(&self.continuous_window_ms) {
            return Err("driver continuous_window_ms: 10 s to 10 minutes");
        }
        if !(self.screen_on_factor > 0.0 && self.screen_on_factor <= 1.0) {
            return Err("driver screen_on_factor: more than 0, at most 1");
        }
        if self.max_scan_starts == 0 || self.scan_start_window_ms < 0 {
            return Err("driver max_scan_starts: at least 1");
        }
        if self.advertising_retry_ms < 1_000 || self.paused_check_ms < 1_000 {
            return Err("driver advertising_retry_ms: at least 1 s");
        }
        if !(0..=60_000).contains(&self.rotation_skew_ms) {
            return Err("driver rotation_skew_ms: 0 to 60 s");
        }
        if self.nearby_thresholds_db[0] > self.nearby_thresholds_db[1] {
            return Err("driver nearby_thresholds_db: ascending");
        }
        if self
            .background_store_delay_ms
            .is_some_and(|d| !(0..=20_000).contains(&d))
        {
            return Err("driver background_store_delay_ms: 0 to 20 s");
        }
        if self.max_pending_sightings == 0 {
            return Err("driver max_pending_sightings: at least 1");
        }
        let g = &self.gatt;
        if g.max_concurrent == 0 || g.max_devices == 0 || g.timeout_ms < 100 || g.cooldown_ms < 0 {
            return Err("driver gatt: at least one read at a time, a timeout of 100 ms or more");
        }
        if g.backoff_ms < 0 || g.max_backoff_ms < g.backoff_ms || g.grace_ms < 0 {
            return Err("driver gatt.backoff_ms: 0 up to max_backoff_ms");
        }
        Ok(())
    }
}
