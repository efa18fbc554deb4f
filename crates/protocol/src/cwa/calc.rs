//! The calculation: windows, then days, then the result.

use std::collections::{BTreeMap, BTreeSet};

use crate::keyfile::ReportType;
use crate::metadata::CalibrationConfidence;
use crate::risk::{ExposureWindow, Infectiousness};
use crate::time::DayNumber;

use super::{CwaParameters, CwaRiskLevel, TrlEncoding};

/// Where CWA's two apps compute differently; the fixture's expected values are iOS's.
///
/// | | [`Ios`](Self::Ios) | [`Android`](Self::Android) |
/// |---|---|---|
/// | a day's normalized time | the exact sum | the sum rounded to one decimal, half up (`roundToDecimal(1)`) |
/// | minutes for a minutes-at-attenuation filter | whole minutes (integer division of the seconds) | fractional minutes |
/// | encounters on a day whose normalized time maps to no risk level | counted | not counted (the day is dropped) |
///
/// With CWA's test configuration exactly one of the 28 published cases depends on this:
/// "identify Exposure Window as Low Risk based on normalizedTime (< 15)" (899 seconds at
/// transmission risk value 1: 14.98 per window and per day) is low on iOS, as the file
/// expects, and high on Android, whose day sum rounds to 15.0. The test `cwa_cases` runs
/// every case on both and asserts exactly that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CwaPlatform {
    /// CWA's iOS app (`RiskCalculation.swift`, `RiskCalculationExposureWindow.swift`).
    #[default]
    Ios,
    /// CWA's Android app (`DefaultRiskLevels.kt`).
    Android,
}

/// Why a window does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dropped {
    /// A minutes-at-attenuation filter matched.
    MinutesAtAttenuation,
    /// A transmission-risk-level filter matched.
    TransmissionRiskLevel,
    /// Its normalized time maps to no risk level. Both apps ignore such a window: it adds
    /// nothing to its day's normalized time and is no encounter (iOS `RiskCalculation`
    /// keeps only windows whose `riskLevel` is not nil; Android's `calculateRisk` returns
    /// null for it, as for a filtered window).
    NoRiskLevel,
    /// Its infectiousness is none: GAEN never reports such a window.
    NotInfectious,
}

/// One window's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowRisk {
    /// The window's day.
    pub day: DayNumber,
    /// Report-type offset plus infectiousness offset.
    pub transmission_risk_level: i32,
    /// The level's transmission risk value (0 if not mapped).
    pub transmission_risk_value: f64,
    /// Seconds weighted by minimum attenuation, over 60.
    pub weighted_minutes: f64,
    /// Transmission risk value times weighted minutes.
    pub normalized_time: f64,
    /// The window's risk level, `None` when dropped.
    pub risk_level: Option<CwaRiskLevel>,
    /// Why it does not count, if it does not.
    pub dropped: Option<Dropped>,
    /// The sender's calibration confidence (part of a distinct encounter).
    pub calibration_confidence: CalibrationConfidence,
}

/// One day's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayRisk {
    /// The day.
    pub day: DayNumber,
    /// Sum of its counting windows' normalized times (rounded on Android).
    pub normalized_time: f64,
    /// Its risk level, `None` when the sum maps to none. Such a day is neither low nor high;
    /// on iOS its encounters still count in the totals (`riskLevelPerDate` drops it with
    /// `compactMapValues`, the encounters are counted from all dates' windows), on Android
    /// the day and its encounters are dropped (`aggregateRiskPerDate` returns null) and it
    /// is not listed here.
    pub risk_level: Option<CwaRiskLevel>,
    /// Distinct (transmission risk level, calibration confidence) pairs among its low windows.
    pub minimum_distinct_encounters_with_low_risk: u32,
    /// The same among its high windows.
    pub minimum_distinct_encounters_with_high_risk: u32,
}

/// The outcome, with CWA's names.
#[derive(Debug, Clone, PartialEq)]
pub struct CwaResult {
    /// High if any day is high, else low.
    pub total_risk_level: CwaRiskLevel,
    /// The most recent low day.
    pub most_recent_date_with_low_risk: Option<DayNumber>,
    /// The most recent high day.
    pub most_recent_date_with_high_risk: Option<DayNumber>,
    /// Days before `today` of the most recent low day (0 for today or later).
    pub age_of_most_recent_date_with_low_risk: Option<u32>,
    /// Days before `today` of the most recent high day (0 for today or later).
    pub age_of_most_recent_date_with_high_risk: Option<u32>,
    /// Low days.
    pub number_of_days_with_low_risk: u32,
    /// High days.
    pub number_of_days_with_high_risk: u32,
    /// Sum over days of each day's distinct low encounters.
    pub total_minimum_distinct_encounters_with_low_risk: u32,
    /// Sum over days of each day's distinct high encounters.
    pub total_minimum_distinct_encounters_with_high_risk: u32,
    /// Every day with a counting window, oldest first (on Android, only days with a level).
    pub days: Vec<DayRisk>,
}

/// The transmission risk level: the report type's offset (0 for unknown and revoked, as on
/// iOS; Android refuses the whole calculation for them) plus the infectiousness offset
/// (high's, else standard's: both apps give anything not high the standard offset).
#[must_use]
pub const fn transmission_risk_level(
    report_type: ReportType,
    infectiousness: Infectiousness,
    encoding: &TrlEncoding,
) -> i32 {
    let report = match report_type {
        ReportType::ConfirmedTest => encoding.report_type_offset_confirmed_test,
        ReportType::ConfirmedClinicalDiagnosis => {
            encoding.report_type_offset_confirmed_clinical_diagnosis
        }
        ReportType::SelfReport => encoding.report_type_offset_self_report,
        ReportType::Recursive => encoding.report_type_offset_recursive,
        ReportType::Unknown | ReportType::Revoked => 0,
    };
    let infectious = match infectiousness {
        Infectiousness::High => encoding.infectiousness_offset_high,
        Infectiousness::Standard | Infectiousness::None => encoding.infectiousness_offset_standard,
    };
    report.saturating_add(infectious)
}

/// One window through the filters and the per-window mapping.
#[must_use]
pub fn window_risk(
    window: &ExposureWindow,
    params: &CwaParameters,
    platform: CwaPlatform,
) -> WindowRisk {
    let transmission_risk_level = transmission_risk_level(
        window.report_type,
        window.infectiousness,
        &params.trl_encoding,
    );
    let transmission_risk_value = params
        .transmission_risk_value_mapping
        .iter()
        .find(|m| m.transmission_risk_level == transmission_risk_level)
        .map_or(0.0, |m| m.transmission_risk_value);
    let weighted_seconds: f64 = window
        .scans
        .iter()
        .map(|s| {
            let weight = params
                .minutes_at_attenuation_weights
                .iter()
                .find(|w| {
                    w.attenuation_range
                        .contains(f64::from(s.min_attenuation_db))
                })
                .map_or(0.0, |w| w.weight);
            f64::from(s.seconds_since_last_scan) * weight
        })
        .fold(0.0, |sum, s| sum + s);
    let weighted_minutes = weighted_seconds / 60.0;
    let normalized_time = transmission_risk_value * weighted_minutes;
    let dropped = if window.infectiousness == Infectiousness::None {
        Some(Dropped::NotInfectious)
    } else if dropped_by_minutes(window, params, platform) {
        Some(Dropped::MinutesAtAttenuation)
    } else if params.trl_filters.iter().any(|f| {
        f.drop_if_trl_in_range
            .contains(f64::from(transmission_risk_level))
    }) {
        Some(Dropped::TransmissionRiskLevel)
    } else {
        None
    };
    let mapped = level_of(
        normalized_time,
        &params.normalized_time_per_ew_to_risk_level_mapping,
    );
    let (risk_level, dropped) = match (dropped, mapped) {
        (Some(d), _) => (None, Some(d)),
        (None, None) => (None, Some(Dropped::NoRiskLevel)),
        (None, Some(level)) => (Some(level), None),
    };
    WindowRisk {
        day: window.day,
        transmission_risk_level,
        transmission_risk_value,
        weighted_minutes,
        normalized_time,
        risk_level,
        dropped,
        calibration_confidence: window.calibration_confidence,
    }
}

fn dropped_by_minutes(
    window: &ExposureWindow,
    params: &CwaParameters,
    platform: CwaPlatform,
) -> bool {
    params.minutes_at_attenuation_filters.iter().any(|f| {
        let seconds: u64 = window
            .scans
            .iter()
            .filter(|s| {
                f.attenuation_range
                    .contains(f64::from(s.min_attenuation_db))
            })
            .map(|s| u64::from(s.seconds_since_last_scan))
            .sum();
        #[allow(clippy::cast_precision_loss)] // Seconds in a window are far below 2^52.
        let minutes = match platform {
            CwaPlatform::Ios => (seconds / 60) as f64,
            CwaPlatform::Android => seconds as f64 / 60.0,
        };
        f.drop_if_minutes_in_range.contains(minutes)
    })
}

fn level_of(
    normalized_time: f64,
    mapping: &[super::NormalizedTimeToRiskLevelMapping],
) -> Option<CwaRiskLevel> {
    mapping
        .iter()
        .find(|m| m.normalized_time_range.contains(normalized_time))
        .and_then(super::NormalizedTimeToRiskLevelMapping::level)
}

/// CWA's calculation on `windows` as CWA's iOS app does it (the fixture's source); ages are
/// counted back from `today`. See [`assess_on`].
#[must_use]
pub fn assess(windows: &[ExposureWindow], params: &CwaParameters, today: DayNumber) -> CwaResult {
    assess_on(windows, params, today, CwaPlatform::Ios)
}

/// CWA's calculation on `windows` as `platform`'s app does it.
#[must_use]
pub fn assess_on(
    windows: &[ExposureWindow],
    params: &CwaParameters,
    today: DayNumber,
    platform: CwaPlatform,
) -> CwaResult {
    let mut per_day: BTreeMap<DayNumber, Vec<WindowRisk>> = BTreeMap::new();
    for window in windows {
        let risk = window_risk(window, params, platform);
        if risk.risk_level.is_some() {
            per_day.entry(risk.day).or_default().push(risk);
        }
    }
    let mut days = Vec::with_capacity(per_day.len());
    for (day, risks) in per_day {
        let sum = risks.iter().fold(0.0, |sum, r| sum + r.normalized_time);
        let normalized_time = match platform {
            CwaPlatform::Ios => sum,
            CwaPlatform::Android => (sum * 10.0).round() / 10.0,
        };
        let risk_level = level_of(
            normalized_time,
            &params.normalized_time_per_day_to_risk_level_mapping,
        );
        if risk_level.is_none() && platform == CwaPlatform::Android {
            continue;
        }
        days.push(DayRisk {
            day,
            normalized_time,
            risk_level,
            minimum_distinct_encounters_with_low_risk: distinct(&risks, CwaRiskLevel::Low),
            minimum_distinct_encounters_with_high_risk: distinct(&risks, CwaRiskLevel::High),
        });
    }
    let most_recent = |level| {
        days.iter()
            .rev()
            .find(|d| d.risk_level == Some(level))
            .map(|d| d.day)
    };
    let count = |level| {
        u32::try_from(days.iter().filter(|d| d.risk_level == Some(level)).count())
            .unwrap_or(u32::MAX)
    };
    let low = most_recent(CwaRiskLevel::Low);
    let high = most_recent(CwaRiskLevel::High);
    let age = |day: Option<DayNumber>| day.map(|d| today.get().saturating_sub(d.get()));
    CwaResult {
        total_risk_level: if high.is_some() {
            CwaRiskLevel::High
        } else {
            CwaRiskLevel::Low
        },
        most_recent_date_with_low_risk: low,
        most_recent_date_with_high_risk: high,
        age_of_most_recent_date_with_low_risk: age(low),
        age_of_most_recent_date_with_high_risk: age(high),
        number_of_days_with_low_risk: count(CwaRiskLevel::Low),
        number_of_days_with_high_risk: count(CwaRiskLevel::High),
        total_minimum_distinct_encounters_with_low_risk: days
            .iter()
            .map(|d| d.minimum_distinct_encounters_with_low_risk)
            .sum(),
        total_minimum_distinct_encounters_with_high_risk: days
            .iter()
            .map(|d| d.minimum_distinct_encounters_with_high_risk)
            .sum(),
        days,
    }
}

fn distinct(risks: &[WindowRisk], level: CwaRiskLevel) -> u32 {
    let pairs: BTreeSet<(i32, u8)> = risks
        .iter()
        .filter(|r| r.risk_level == Some(level))
        .map(|r| (r.transmission_risk_level, r.calibration_confidence as u8))
        .collect();
    u32::try_from(pairs.len()).unwrap_or(u32::MAX)
}
