//! CWA's test-case file (`exposure-windows-risk-calculation.json`): a configuration and cases,
//! each a list of exposure windows with the expected result, and [`check_case`] comparing a
//! case's expectations with [`assess_on`].
//!
//! Reading refuses unknown fields and names the place of any error as a path:
//! `testCases[3] ("description").exposureWindows[0].scanInstances[1].minAttenuation: ...`.

use crate::keyfile::ReportType;
use crate::matching::MatchedScan;
use crate::metadata::CalibrationConfidence;
use crate::risk::{ExposureWindow, Infectiousness};
use crate::time::{DayNumber, SECONDS_PER_DAY};

use super::{CwaParameters, CwaPlatform, CwaRiskLevel, assess_on};

/// Why a test-case file was refused: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct CaseFileError {
    /// Where, e.g. `testCases[3] ("…").exposureWindows[0].reportType` (empty for the file).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFile {
    /// `__comment__`, if any.
    pub comment: Option<String>,
    /// `defaultRiskCalculationConfiguration`.
    pub configuration: CwaParameters,
    /// `testCases`.
    pub cases: Vec<Case>,
}

/// One case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `description`.
    pub description: String,
    /// `exposureWindows`.
    pub windows: Vec<CaseWindow>,
    /// Everything expected.
    pub expected: Expected,
}

/// A case's expectations (the `exp…` fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// `expTotalRiskLevel`.
    pub total_risk_level: CwaRiskLevel,
    /// `expAgeOfMostRecentDateWithLowRisk`.
    pub age_of_most_recent_date_with_low_risk: Option<u32>,
    /// `expAgeOfMostRecentDateWithHighRisk`.
    pub age_of_most_recent_date_with_high_risk: Option<u32>,
    /// `expNumberOfDaysWithLowRisk`.
    pub number_of_days_with_low_risk: u32,
    /// `expNumberOfDaysWithHighRisk`.
    pub number_of_days_with_high_risk: u32,
    /// `expTotalMinimumDistinctEncountersWithLowRisk`.
    pub total_minimum_distinct_encounters_with_low_risk: u32,
    /// `expTotalMinimumDistinctEncountersWithHighRisk`.
    pub total_minimum_distinct_encounters_with_high_risk: u32,
}

/// One exposure window as the file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseWindow {
    /// `ageInDays`: days before the day of the calculation.
    pub age_in_days: u32,
    /// `reportType`: GAEN's number, 0 unknown to 5 revoked.
    pub report_type: ReportType,
    /// `infectiousness`: GAEN's number, 0 none, 1 standard, 2 high.
    pub infectiousness: Infectiousness,
    /// `calibrationConfidence`: GAEN's number, 0 lowest to 3 high.
    pub calibration_confidence: CalibrationConfidence,
    /// `scanInstances`.
    pub scans: Vec<CaseScan>,
}

/// One scan instance as the file writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseScan {
    /// `minAttenuation`, dB.
    pub min_attenuation: u8,
    /// `typicalAttenuation`, dB.
    pub typical_attenuation: u8,
    /// `secondsSinceLastScan`; negative after the clock went back.
    pub seconds_since_last_scan: i64,
}

/// One expected field that came out differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The expected field's name in the file, e.g. `expTotalRiskLevel`.
    pub field: &'static str,
    /// The file's value, as JSON.
    pub expected: String,
    /// The calculated value, as JSON.
    pub actual: String,
}

mod read;

impl CaseWindow {
    /// The engine's window for this one, `today` being the day of the calculation: its day is
    /// `today − ageInDays`; scans follow one another from that day's start. A negative
    /// `secondsSinceLastScan` becomes 0: both apps ignore it (iOS filters it out, Android takes
    /// `max(seconds, 0)`), which is what 0 does in every sum. The transmission risk the
    /// engine's window carries is not CWA's (CWA derives its own) and is set to 0.
    #[must_use]
    pub fn to_exposure_window(&self, today: DayNumber) -> ExposureWindow {
        let day = DayNumber::new(today.get().saturating_sub(self.age_in_days));
        let mut time = i64::from(day.get()) * SECONDS_PER_DAY;
        let scans = self
            .scans
            .iter()
            .map(|s| {
                let seconds = u32::try_from(s.seconds_since_last_scan.max(0)).unwrap_or(u32::MAX);
                time += i64::from(seconds);
                MatchedScan {
                    time,
                    seconds_since_last_scan: seconds,
                    typical_attenuation_db: s.typical_attenuation,
                    min_attenuation_db: s.min_attenuation,
                }
            })
            .collect();
        ExposureWindow {
            day,
            report_type: self.report_type,
            infectiousness: self.infectiousness,
            transmission_risk: 0,
            calibration_confidence: self.calibration_confidence,
            scans,
        }
    }
}

impl Case {
    /// The case's windows as the engine's, calculated on `today`.
    #[must_use]
    pub fn exposure_windows(&self, today: DayNumber) -> Vec<ExposureWindow> {
        self.windows
            .iter()
            .map(|w| w.to_exposure_window(today))
            .collect()
    }
}

/// A day far from the epoch on which cases are calculated (any day gives the same ages).
pub const CASE_TODAY: DayNumber = DayNumber::new(20_000);

/// Runs `case` with `params` as `platform`'s app and lists every expected field that came out
/// differently (empty when the case passes).
#[must_use]
pub fn check_case(case: &Case, params: &CwaParameters, platform: CwaPlatform) -> Vec<Mismatch> {
    let result = assess_on(
        &case.exposure_windows(CASE_TODAY),
        params,
        CASE_TODAY,
        platform,
    );
    let e = &case.expected;
    let json = |v: Option<u32>| v.map_or_else(|| "null".to_owned(), |v| v.to_string());
    let pairs: [(&'static str, String, String); 7] = [
        (
            "expTotalRiskLevel",
            e.total_risk_level.number().to_string(),
            result.total_risk_level.number().to_string(),
        ),
        (
            "expAgeOfMostRecentDateWithLowRisk",
            json(e.age_of_most_recent_date_with_low_risk),
            json(result.age_of_most_recent_date_with_low_risk),
        ),
        (
            "expAgeOfMostRecentDateWithHighRisk",
            json(e.age_of_most_recent_date_with_high_risk),
            json(result.age_of_most_recent_date_with_high_risk),
        ),
        (
            "expNumberOfDaysWithLowRisk",
            e.number_of_days_with_low_risk.to_string(),
            result.number_of_days_with_low_risk.to_string(),
        ),
        (
            "expNumberOfDaysWithHighRisk",
            e.number_of_days_with_high_risk.to_string(),
            result.number_of_days_with_high_risk.to_string(),
        ),
        (
            "expTotalMinimumDistinctEncountersWithLowRisk",
            e.total_minimum_distinct_encounters_with_low_risk
                .to_string(),
            result
                .total_minimum_distinct_encounters_with_low_risk
                .to_string(),
        ),
        (
            "expTotalMinimumDistinctEncountersWithHighRisk",
            e.total_minimum_distinct_encounters_with_high_risk
                .to_string(),
            result
                .total_minimum_distinct_encounters_with_high_risk
                .to_string(),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, expected, actual)| expected != actual)
        .map(|(field, expected, actual)| Mismatch {
            field,
            expected,
            actual,
        })
        .collect()
}
