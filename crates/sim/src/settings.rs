//! A scenario's optional settings tables: `[truth]` (what counts as a close contact) and
//! `[risk]` (the health authority's scoring parameters the phones are configured with).
//! `[radio]` and `[policies]` live with their models in [`crate::radio`] and
//! [`crate::policy`].

use bluezone_protocol::risk::RiskConfig;
use serde::{Deserialize, Serialize};

/// The ground-truth rule: someone is a close contact of a positive person when they spent at
/// least `minutes` within `distance_m` of them (in total) on one day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactRule {
    /// Distance, metres (default 2).
    pub distance_m: f64,
    /// Minutes in a day (default 15).
    pub minutes: f64,
}

impl Default for ContactRule {
    fn default() -> Self {
        Self {
            distance_m: 2.0,
            minutes: 15.0,
        }
    }
}

impl ContactRule {
    /// Checks the ranges.
    ///
    /// # Errors
    /// `(field, expected)` for the first value out of range.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(0.5..=10.0).contains(&self.distance_m) {
            return Err(("distance_m", "0.5 to 10 metres"));
        }
        if !(1.0..=1_440.0).contains(&self.minutes) {
            return Err(("minutes", "1 to 1,440 minutes"));
        }
        Ok(())
    }
}

/// Overrides of the phones' risk parameters (anything not given keeps the engine's default:
/// the Swiss parameters, see [`RiskConfig`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskSettings {
    /// Attenuation bucket bounds, dB, ascending.
    pub attenuation_thresholds_db: Option<[u8; 3]>,
    /// Weight of each attenuation bucket, 0 to 2.
    pub attenuation_weights: Option<[f64; 4]>,
    /// Weighted minutes in a day that trigger a notification.
    pub notify_minutes: Option<f64>,
}

impl RiskSettings {
    /// Checks the ranges.
    ///
    /// # Errors
    /// `(field, expected)` for the first value out of range.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if let Some([a, b, c]) = self.attenuation_thresholds_db
            && !(a < b && b < c)
        {
            return Err(("attenuation_thresholds_db", "three ascending bounds, dB"));
        }
        if let Some(w) = self.attenuation_weights
            && !w.iter().all(|w| (0.0..=2.0).contains(w))
        {
            return Err(("attenuation_weights", "four weights, 0 to 2"));
        }
        if let Some(m) = self.notify_minutes
            && !(0.5..=1_440.0).contains(&m)
        {
            return Err(("notify_minutes", "0.5 to 1,440 minutes"));
        }
        Ok(())
    }

    /// The engine's defaults with these overrides applied.
    #[must_use]
    pub fn apply(&self, mut risk: RiskConfig) -> RiskConfig {
        if let Some(t) = self.attenuation_thresholds_db {
            risk.attenuation_thresholds_db = t;
        }
        if let Some(w) = self.attenuation_weights {
            risk.attenuation_weights = w;
        }
        if let Some(m) = self.notify_minutes {
            risk.notify_score = m * 60.0;
        }
        risk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_ranges_are_checked() {
        let settings = RiskSettings {
            attenuation_thresholds_db: Some([55, 63, 70]),
            attenuation_weights: None,
            notify_minutes: Some(10.0),
        };
        assert!(settings.check().is_ok());
        let risk = settings.apply(RiskConfig::default());
        assert_eq!(risk.attenuation_thresholds_db, [55, 63, 70]);
        assert_eq!(
            risk.attenuation_weights,
            RiskConfig::default().attenuation_weights
        );
        assert_eq!(risk.notify_score, 600.0);
        let bad = RiskSettings {
            attenuation_thresholds_db: Some([60, 55, 70]),
            ..settings
        };
        assert_eq!(bad.check().unwrap_err().0, "attenuation_thresholds_db");
        let rule = ContactRule {
            distance_m: 20.0,
            ..ContactRule::default()
        };
        assert_eq!(rule.check().unwrap_err().0, "distance_m");
    }
}
