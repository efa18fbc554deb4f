//! From matches to a decision: GAEN v2-style exposure windows, their scores, daily summaries
//! and whether to notify (GAEN "Exposure Windows" and "Daily Summaries"; the Android
//! reference `DailySummaryUtils`).
//!
//! ```text
//! window      = one key's scans, cut every 30 minutes from the window's first scan
//! bucket      = 0 if typical attenuation <= t0, 1 if <= t1, 2 if <= t2, else 3
//! weighted s  = sum over scans of seconds_since_last_scan x bucket_weight[bucket]
//! score       = weighted s x report_type_weight x infectiousness_weight x transmission_risk_weight
//! day         = UTC day of the window's first scan; a day's score is the sum of its windows'
//! notify      = some day within the last `days_to_consider` has score >= `notify_score`
//! ```
//! With the defaults a score is in weighted seconds: 15 minutes at under 50 dB, or 30 minutes
//! at 50 to 55 dB, reach the 900-second threshold (the Swiss parameters).

use crate::keyfile::ReportType;
use crate::matching::{KeyMatch, MatchedScan};
use crate::metadata::CalibrationConfidence;
use crate::time::DayNumber;

/// How infectious a person was on a key's day, from the days since symptom onset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Infectiousness {
    /// Not infectious: windows are ignored.
    None,
    /// Infectious.
    #[default]
    Standard,
    /// Most infectious.
    High,
}

/// Every parameter of the risk model. The defaults are documented field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskConfig {
    /// Attenuation bucket bounds in dB, inclusive (GAEN `attenuationBucketThresholdDb`).
    /// Default `[49, 55, 63]`: under 50 dB, 50 to 55 dB, 56 to 63 dB, above.
    pub attenuation_thresholds_db: [u8; 3],
    /// Weight of each bucket. Default `[1.0, 0.5, 0.0, 0.0]`.
    pub attenuation_weights: [f64; 4],
    /// Infectiousness by days since symptom onset, index `dsos + 14` for −14..=14. Default:
    /// high from 2 days before to 2 days after onset, standard from 5 to 3 days before and 3 to
    /// 10 days after, none otherwise.
    pub infectiousness_by_days_since_onset: [Infectiousness; 29],
    /// Infectiousness when a key carries no days since onset. Default standard.
    pub infectiousness_when_unknown: Infectiousness,
    /// Weight of standard infectiousness. Default 1.0.
    pub standard_infectiousness_weight: f64,
    /// Weight of high infectiousness. Default 1.0.
    pub high_infectiousness_weight: f64,
    /// Weight per report type, indexed by its number (unknown, confirmed test, clinical
    /// diagnosis, self report, recursive, revoked). Default `[0, 1, 1, 0, 0, 0]`: only
    /// confirmed cases count; Bluezone publishes only code-verified uploads.
    pub report_type_weights: [f64; 6],
    /// The report type assumed when a key has none. Default confirmed test.
    pub report_type_when_unknown: ReportType,
    /// Weight per transmission risk level 0..=8. Default all 1.0 (the level is deprecated).
    pub transmission_risk_weights: [f64; 9],
    /// Longest exposure window, in seconds (GAEN: 30 minutes).
    pub max_window_secs: i64,
    /// Windows scoring below this are ignored. Default 0.
    pub minimum_window_score: f64,
    /// Only exposures this many days old or newer count. Default 14.
    pub days_to_consider: u32,
    /// A day whose score reaches this triggers a notification. Default 900 (15 minutes).
    pub notify_score: f64,
}

impl Default for RiskConfig {
    fn default() -> Self {
        let mut infectiousness = [Infectiousness::None; 29];
        for dsos in -5i32..=10 {
            let level = if (-2..=2).contains(&dsos) {
                Infectiousness::High
            } else if (-5..=-3).contains(&dsos) || (3..=10).contains(&dsos) {
                Infectiousness::Standard
            } else {
                Infectiousness::None
            };
            infectiousness[usize::try_from(dsos + 14).unwrap_or(0)] = level;
        }
        Self {
            attenuation_thresholds_db: [49, 55, 63],
            attenuation_weights: [1.0, 0.5, 0.0, 0.0],
            infectiousness_by_days_since_onset: infectiousness,
            infectiousness_when_unknown: Infectiousness::Standard,
            standard_infectiousness_weight: 1.0,
            high_infectiousness_weight: 1.0,
            report_type_weights: [0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
            report_type_when_unknown: ReportType::ConfirmedTest,
            transmission_risk_weights: [1.0; 9],
            max_window_secs: 1800,
            minimum_window_score: 0.0,
            days_to_consider: 14,
            notify_score: 900.0,
        }
    }
}

/// Up to 30 minutes of one key's scans (GAEN `ExposureWindow`), without the key.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureWindow {
    /// UTC day of the first scan.
    pub day: DayNumber,
    /// The key's report type (after `report_type_when_unknown`).
    pub report_type: ReportType,
    /// Infectiousness on the key's day.
    pub infectiousness: Infectiousness,
    /// The key's transmission risk level.
    pub transmission_risk: u8,
    /// The sender's calibration confidence.
    pub calibration_confidence: CalibrationConfidence,
    /// The scans, by time.
    pub scans: Vec<MatchedScan>,
}

/// A window's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowScore {
    /// Seconds weighted by attenuation bucket.
    pub weighted_seconds: f64,
    /// The weighted seconds times the report type, infectiousness and transmission weights.
    pub score: f64,
}

/// One day's exposure (GAEN `DailySummary`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailySummary {
    /// The UTC day.
    pub day: DayNumber,
    /// Sum of the day's window scores.
    pub score_sum: f64,
    /// The highest window score.
    pub max_score: f64,
    /// Sum of the day's weighted seconds.
    pub weighted_seconds: f64,
    /// Windows that counted.
    pub windows: u32,
}

/// Whether to notify, and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiskDecision {
    /// Notify the user.
    pub notify: bool,
    /// The most recent day that reached the threshold.
    pub exposure_day: Option<DayNumber>,
    /// Every day with a counting window, oldest first.
    pub days: Vec<DailySummary>,
}

/// Cuts each key's scans into windows of at most `max_window_secs` (a new window starts at
/// the first scan at least that long after the current window's first scan).
#[must_use]
pub fn exposure_windows(matches: &[KeyMatch], config: &RiskConfig) -> Vec<ExposureWindow> {
    let mut out = Vec::new();
    for m in matches {
        let report_type = match m.key.report_type {
            ReportType::Unknown => config.report_type_when_unknown,
            other => other,
        };
        let infectiousness =
            m.key
                .days_since_onset
                .map_or(config.infectiousness_when_unknown, |d| {
                    usize::try_from(i32::from(d) + 14)
                        .ok()
                        .and_then(|i| config.infectiousness_by_days_since_onset.get(i).copied())
                        .unwrap_or(config.infectiousness_when_unknown)
                });
        let mut scans = m.scans.clone();
        scans.sort_unstable_by_key(|s| s.time);
        let mut current: Vec<MatchedScan> = Vec::new();
        let mut flush = |scans: Vec<MatchedScan>| {
            if let Some(first) = scans.first() {
                out.push(ExposureWindow {
                    day: DayNumber::new(u32::try_from(first.time.div_euclid(86_400)).unwrap_or(0)),
                    report_type,
                    infectiousness,
                    transmission_risk: m.key.transmission_risk,
                    calibration_confidence: m.calibration_confidence,
                    scans,
                });
            }
        };
        for scan in scans {
            if current
                .first()
                .is_some_and(|f| scan.time - f.time >= config.max_window_secs)
            {
                flush(std::mem::take(&mut current));
            }
            current.push(scan);
        }
        flush(current);
    }
    out
}

/// Scores one window.
#[must_use]
pub fn score_window(window: &ExposureWindow, config: &RiskConfig) -> WindowScore {
    let [t0, t1, t2] = config.attenuation_thresholds_db;
    let weighted_seconds: f64 = window
        .scans
        .iter()
        .map(|s| {
            let bucket = match s.typical_attenuation_db {
                a if a <= t0 => 0,
                a if a <= t1 => 1,
                a if a <= t2 => 2,
                _ => 3,
            };
            f64::from(s.seconds_since_last_scan) * config.attenuation_weights[bucket]
        })
        .sum();
    let report = config
        .report_type_weights
        .get(window.report_type as usize)
        .copied()
        .unwrap_or(0.0);
    let infectiousness = match window.infectiousness {
        Infectiousness::None => 0.0,
        Infectiousness::Standard => config.standard_infectiousness_weight,
        Infectiousness::High => config.high_infectiousness_weight,
    };
    let transmission = config
        .transmission_risk_weights
        .get(usize::from(window.transmission_risk))
        .copied()
        .unwrap_or(1.0);
    WindowScore {
        weighted_seconds,
        score: weighted_seconds * report * infectiousness * transmission,
    }
}

/// Sums windows per UTC day, ignoring revoked reports, windows older than
/// `days_to_consider` before `today`, and windows scoring below the minimum.
#[must_use]
pub fn daily_summaries(
    windows: &[ExposureWindow],
    config: &RiskConfig,
    today: DayNumber,
) -> Vec<DailySummary> {
    let oldest = today.get().saturating_sub(config.days_to_consider);
    let mut days: std::collections::BTreeMap<DayNumber, DailySummary> = Default::default();
    for window in windows {
        if window.report_type == ReportType::Revoked || window.day.get() < oldest {
            continue;
        }
        let score = score_window(window, config);
        if score.score <= 0.0 || score.score < config.minimum_window_score {
            continue;
        }
        let day = days.entry(window.day).or_insert(DailySummary {
            day: window.day,
            score_sum: 0.0,
            max_score: 0.0,
            weighted_seconds: 0.0,
            windows: 0,
        });
        day.score_sum += score.score;
        day.max_score = day.max_score.max(score.score);
        day.weighted_seconds += score.weighted_seconds;
        day.windows += 1;
    }
    days.into_values().collect()
}

/// Decides whether to notify.
#[must_use]
pub fn decide(windows: &[ExposureWindow], config: &RiskConfig, today: DayNumber) -> RiskDecision {
    let days = daily_summaries(windows, config, today);
    let exposure_day = days
        .iter()
        .rev()
        .find(|d| d.score_sum >= config.notify_score)
        .map(|d| d.day);
    RiskDecision {
        notify: exposure_day.is_some(),
        exposure_day,
        days,
    }
}

#[cfg(test)]
mod tests;
