//! What each operating system lets an exposure-notification app do: how often it advertises,
//! and when and how it scans. These decide which of the adverts in the air are heard.
//!
//! Defaults: Android follows GAEN's scanner (a 4-second low-latency scan every 300 s minus up
//! to 90 s, every advert reported) and advertises every 200 to 270 ms. iOS apps in the
//! background advertise slowly (about once a second), scan at a low duty cycle, and report
//! each nearby device at most once per scan (CoreBluetooth coalesces duplicates); an iPhone in
//! the background is hard for another iPhone to discover at all (the original Bluezone's
//! known iPhone-to-iPhone gap, see `ios_background_discovery`). Each can be
//! overridden in a scenario's `[policies.android]` or `[policies.ios]` table.

use serde::{Deserialize, Serialize};

use crate::scenario::Os;

/// One operating system's advertising and scanning behaviour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsPolicy {
    /// Advertising interval range, milliseconds: each phone draws its own within it.
    pub advert_interval_ms: [f64; 2],
    /// Time between scan starts, seconds, before the random shortening.
    pub scan_period_s: f64,
    /// Each scan period is shortened by a random amount up to this, seconds.
    pub scan_period_jitter_s: f64,
    /// Length of a scan window, seconds.
    pub scan_window_s: f64,
    /// Share of the adverts in the air during a window that the scanner can catch (its own
    /// duty cycle within the window), 0 to 1.
    pub scan_duty: f64,
    /// Whether one advertiser is reported at most once per window.
    pub coalesce_duplicates: bool,
    /// Chance that a scan window discovers an iPhone advertising in the background, 0 to 1.
    /// iOS moves a background app's service UUID to Apple's "overflow area", which another
    /// iPhone in the background does not see; the iOS shim's GATT fallback (connect and read
    /// the payload) recovers only part of it. Android scanners read the overflow bitmap.
    pub ios_background_discovery: f64,
}

impl OsPolicy {
    /// The default policy of `os`.
    #[must_use]
    pub fn default_for(os: Os) -> Self {
        match os {
            Os::Android => Self {
                advert_interval_ms: [200.0, 270.0],
                scan_period_s: 300.0,
                scan_period_jitter_s: 90.0,
                scan_window_s: 4.0,
                scan_duty: 1.0,
                coalesce_duplicates: false,
                ios_background_discovery: 0.9,
            },
            Os::Ios => Self {
                advert_interval_ms: [1_000.0, 1_100.0],
                scan_period_s: 300.0,
                scan_period_jitter_s: 90.0,
                scan_window_s: 4.0,
                scan_duty: 0.5,
                coalesce_duplicates: true,
                ios_background_discovery: 0.25,
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
        if !(self.scan_window_s > 0.0 && self.scan_window_s <= 60.0) {
            return Err(("scan_window_s", "more than 0, at most 60 s"));
        }
        if !(self.scan_window_s..=3_600.0).contains(&self.scan_period_s) {
            return Err(("scan_period_s", "at least the window, at most 3,600 s"));
        }
        if !(0.0..self.scan_period_s - self.scan_window_s + 1e-9)
            .contains(&self.scan_period_jitter_s)
        {
            return Err(("scan_period_jitter_s", "0 to the period minus the window"));
        }
        if !(self.scan_duty > 0.0 && self.scan_duty <= 1.0) {
            return Err(("scan_duty", "more than 0, at most 1"));
        }
        if !(0.0..=1.0).contains(&self.ios_background_discovery) {
            return Err(("ios_background_discovery", "0 to 1"));
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
    /// See [`OsPolicy::scan_period_s`].
    pub scan_period_s: Option<f64>,
    /// See [`OsPolicy::scan_period_jitter_s`].
    pub scan_period_jitter_s: Option<f64>,
    /// See [`OsPolicy::scan_window_s`].
    pub scan_window_s: Option<f64>,
    /// See [`OsPolicy::scan_duty`].
    pub scan_duty: Option<f64>,
    /// See [`OsPolicy::coalesce_duplicates`].
    pub coalesce_duplicates: Option<bool>,
    /// See [`OsPolicy::ios_background_discovery`].
    pub ios_background_discovery: Option<f64>,
}

impl OsPolicyOverrides {
    /// `base` with these overrides.
    #[must_use]
    pub fn apply(&self, base: OsPolicy) -> OsPolicy {
        OsPolicy {
            advert_interval_ms: self.advert_interval_ms.unwrap_or(base.advert_interval_ms),
            scan_period_s: self.scan_period_s.unwrap_or(base.scan_period_s),
            scan_period_jitter_s: self
                .scan_period_jitter_s
                .unwrap_or(base.scan_period_jitter_s),
            scan_window_s: self.scan_window_s.unwrap_or(base.scan_window_s),
            scan_duty: self.scan_duty.unwrap_or(base.scan_duty),
            coalesce_duplicates: self.coalesce_duplicates.unwrap_or(base.coalesce_duplicates),
            ios_background_discovery: self
                .ios_background_discovery
                .unwrap_or(base.ios_background_discovery),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        assert!(OsPolicy::default_for(Os::Android).check().is_ok());
        assert!(OsPolicy::default_for(Os::Ios).check().is_ok());
        let bad = OsPolicy {
            scan_period_s: 2.0,
            ..OsPolicy::default_for(Os::Android)
        };
        assert_eq!(bad.check().unwrap_err().0, "scan_period_s");
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
        assert!(policies.ios.coalesce_duplicates);
        assert_eq!(policies.android, OsPolicy::default_for(Os::Android));
    }
}
