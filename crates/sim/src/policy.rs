//! What each operating system lets an exposure-notification app do with the radio: the
//! constraints the simulator's executor applies to the commands of each phone's driver
//! (`bluezone_core::driver`). When to scan, rotate, read and store is the driver's decision;
//! what the OS then lets through is decided here.
//!
//! Defaults: Android advertises every 200 to 270 ms and reports every advert a scan hears.
//! An iPhone advertises about once a second; in the background iOS moves its service UUID to
//! Apple's "overflow area", which Android sees only with an Apple manufacturer-data filter and
//! another iPhone sees only while its own app is on screen. An iOS app scans continuously, but
//! in the background iOS listens in short bursts (every `background_burst_every_s`) and
//! reports each device once per burst. Every iPhone payload has to be read over GATT; a read
//! succeeds with `gatt_success` above `gatt_min_rssi_dbm` and takes `gatt_latency_s`. Each can
//! be overridden in a scenario's `[policies.android]` or `[policies.ios]` table (the scanner's
//! table sets its read figures).

use serde::{Deserialize, Serialize};

use crate::scenario::Os;

/// One operating system's radio constraints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsPolicy {
    /// Advertising interval range, milliseconds: each phone draws its own within it.
    pub advert_interval_ms: [f64; 2],
    /// Share of the adverts in the air during a scan that the scanner catches, 0 to 1.
    pub scan_duty: f64,
    /// While the app is in the background, the OS scans in bursts this far apart, seconds
    /// (iOS; 0 = it honours the app's scans as asked, as Android's foreground service does).
    pub background_burst_every_s: f64,
    /// Length of a background burst, seconds.
    pub background_burst_s: f64,
    /// In the background, one advertiser is reported at most once per burst (iOS coalesces).
    pub background_coalesces: bool,
    /// Chance that a GATT read of a device in reach succeeds, 0 to 1.
    pub gatt_success: f64,
    /// Below this signal a connection is not attempted successfully, dBm.
    pub gatt_min_rssi_dbm: f64,
    /// Time a read takes, shortest and longest, seconds.
    pub gatt_latency_s: [f64; 2],
}

impl OsPolicy {
    /// The default policy of `os`.
    #[must_use]
    pub fn default_for(os: Os) -> Self {
        match os {
            Os::Android => Self {
                advert_interval_ms: [200.0, 270.0],
                scan_duty: 1.0,
                background_burst_every_s: 0.0,
                background_burst_s: 4.0,
                background_coalesces: false,
                gatt_success: 0.8,
                gatt_min_rssi_dbm: -90.0,
                gatt_latency_s: [0.4, 2.0],
            },
            Os::Ios => Self {
                advert_interval_ms: [1_000.0, 1_100.0],
                scan_duty: 0.5,
                background_burst_every_s: 30.0,
                background_burst_s: 4.0,
                background_coalesces: true,
                gatt_success: 0.85,
                gatt_min_rssi_dbm: -90.0,
                gatt_latency_s: [0.3, 1.5],
            },
        }
    }

    /// Checks the ranges; the error names the field.
    ///
    /// # Errors
    /// `(field, expected)` for the first value out of range.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let [lo, hi] = self.advert_interval_ms;
        if !(20.0..=10_240.0).contains(&lo) || !(lo..=10_240.0).contains(&hi) {
            return Err(("advert_interval_ms", "[shortest, longest], 20 to 10,240 ms"));
        }
        if !(self.scan_duty > 0.0 && self.scan_duty <= 1.0) {
            return Err(("scan_duty", "more than 0, at most 1"));
        }
        if !(self.background_burst_s > 0.0 && self.background_burst_s <= 60.0) {
            return Err(("background_burst_s", "more than 0, at most 60 s"));
        }
        if self.background_burst_every_s != 0.0
            && !(self.background_burst_s..=3_600.0).contains(&self.background_burst_every_s)
        {
            return Err((
                "background_burst_every_s",
                "0, or at least the burst and at most 3,600 s",
            ));
        }
        if !(0.0..=1.0).contains(&self.gatt_success) {
            return Err(("gatt_success", "0 to 1"));
        }
        if !(-127.0..=0.0).contains(&self.gatt_min_rssi_dbm) {
            return Err(("gatt_min_rssi_dbm", "-127 to 0 dBm"));
        }
        let [lo, hi] = self.gatt_latency_s;
        if !(0.01..=30.0).contains(&lo) || !(lo..=30.0).contains(&hi) {
            return Err(("gatt_latency_s", "[shortest, longest], 0.01 to 30 s"));
        }
        Ok(())
    }
}

/// The policies of both systems.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policies {
    /// Android.
    pub android: OsPolicy,
    /// iOS.
    pub ios: OsPolicy,
}

impl Default for Policies {
    fn default() -> Self {
        Self {
            android: OsPolicy::default_for(Os::Android),
            ios: OsPolicy::default_for(Os::Ios),
        }
    }
}

impl Policies {
    /// The policy of `os`.
    #[must_use]
    pub fn of(&self, os: Os) -> &OsPolicy {
        match os {
            Os::Android => &self.android,
            Os::Ios => &self.ios,
        }
    }
}

/// Overrides of one system's policy, as a scenario gives them: any field left out keeps the
/// default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OsPolicyOverrides {
    /// See [`OsPolicy::advert_interval_ms`].
    pub advert_interval_ms: Option<[f64; 2]>,
    /// See [`OsPolicy::scan_duty`].
    pub scan_duty: Option<f64>,
    /// See [`OsPolicy::background_burst_every_s`].
    pub background_burst_every_s: Option<f64>,
    /// See [`OsPolicy::background_burst_s`].
    pub background_burst_s: Option<f64>,
    /// See [`OsPolicy::background_coalesces`].
    pub background_coalesces: Option<bool>,
    /// See [`OsPolicy::gatt_success`].
    pub gatt_success: Option<f64>,
    /// See [`OsPolicy::gatt_min_rssi_dbm`].
    pub gatt_min_rssi_dbm: Option<f64>,
    /// See [`OsPolicy::gatt_latency_s`].
    pub gatt_latency_s: Option<[f64; 2]>,
}

impl OsPolicyOverrides {
    /// `base` with these overrides.
    #[must_use]
    pub fn apply(&self, base: OsPolicy) -> OsPolicy {
        OsPolicy {
            advert_interval_ms: self.advert_interval_ms.unwrap_or(base.advert_interval_ms),
            scan_duty: self.scan_duty.unwrap_or(base.scan_duty),
            background_burst_every_s: self
                .background_burst_every_s
                .unwrap_or(base.background_burst_every_s),
            background_burst_s: self.background_burst_s.unwrap_or(base.background_burst_s),
            background_coalesces: self
                .background_coalesces
                .unwrap_or(base.background_coalesces),
            gatt_success: self.gatt_success.unwrap_or(base.gatt_success),
            gatt_min_rssi_dbm: self.gatt_min_rssi_dbm.unwrap_or(base.gatt_min_rssi_dbm),
            gatt_latency_s: self.gatt_latency_s.unwrap_or(base.gatt_latency_s),
        }
    }
}

/// A scenario's `[policies]` table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyOverrides {
    /// `[policies.android]`.
    pub android: OsPolicyOverrides,
    /// `[policies.ios]`.
    pub ios: OsPolicyOverrides,
}

impl PolicyOverrides {
    /// The default policies with these overrides.
    #[must_use]
    pub fn apply(&self) -> Policies {
        Policies {
            android: self.android.apply(OsPolicy::default_for(Os::Android)),
            ios: self.ios.apply(OsPolicy::default_for(Os::Ios)),
        }
    }
}

/// A scenario's `[driver]` table: settings of the phones' driver (the app's own choices).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverSettings {
    /// Read iPhones' payloads over GATT (default true). Off, no phone ever records an iPhone.
    pub gatt_fallback: bool,
}

impl Default for DriverSettings {
    fn default() -> Self {
        Self {
            gatt_fallback: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(OsPolicy::default_for(Os::Android).check().is_ok());
        assert!(OsPolicy::default_for(Os::Ios).check().is_ok());
        let bad = OsPolicy {
            gatt_latency_s: [2.0, 1.0],
            ..OsPolicy::default_for(Os::Android)
        };
        assert_eq!(bad.check().unwrap_err().0, "gatt_latency_s");
        let bad = OsPolicy {
            advert_interval_ms: [300.0, 200.0],
            ..OsPolicy::default_for(Os::Ios)
        };
        assert_eq!(bad.check().unwrap_err().0, "advert_interval_ms");
        let overrides = PolicyOverrides {
            ios: OsPolicyOverrides {
                scan_duty: Some(1.0),
                ..OsPolicyOverrides::default()
            },
            ..PolicyOverrides::default()
        };
        let policies = overrides.apply();
        assert_eq!(policies.ios.scan_duty, 1.0);
        assert!(policies.ios.background_coalesces);
        assert_eq!(policies.android, OsPolicy::default_for(Os::Android));
    }
}
