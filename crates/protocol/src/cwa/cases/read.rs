//! Reading a test-case file, with the path of every error.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::keyfile::ReportType;
use crate::metadata::CalibrationConfidence;
use crate::risk::Infectiousness;

use super::super::{CwaParameters, CwaRiskLevel};
use super::{Case, CaseFile, CaseFileError, CaseScan, CaseWindow, Expected};

struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
    known: &'static [&'static str],
}

fn err(path: &str, problem: impl Into<String>) -> CaseFileError {
    CaseFileError {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Obj<'a> {
    fn new(
        path: String,
        value: &'a Value,
        known: &'static [&'static str],
    ) -> Result<Self, CaseFileError> {
        let map = value
            .as_object()
            .ok_or_else(|| err(&path, "must be an object"))?;
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(err(&path, format!("unknown field `{unknown}`")));
        }
        Ok(Self { path, map, known })
    }

    fn raw(&self, key: &'static str) -> Result<&'a Value, CaseFileError> {
        debug_assert!(self.known.contains(&key));
        self.map
            .get(key)
            .ok_or_else(|| err(&self.path, format!("missing field `{key}`")))
    }

    fn get<T: DeserializeOwned>(&self, key: &'static str) -> Result<T, CaseFileError> {
        T::deserialize(self.raw(key)?).map_err(|e| err(&join(&self.path, key), e.to_string()))
    }

    fn list(&self, key: &'static str) -> Result<Vec<(String, &'a Value)>, CaseFileError> {
        let path = join(&self.path, key);
        let items = self
            .raw(key)?
            .as_array()
            .ok_or_else(|| err(&path, "must be a list"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}[{i}]"), v))
            .collect())
    }

    fn number<T>(
        &self,
        key: &'static str,
        convert: impl FnOnce(u8) -> Option<T>,
        expected: &str,
    ) -> Result<T, CaseFileError> {
        let n: u8 = self.get(key)?;
        convert(n).ok_or_else(|| err(&join(&self.path, key), format!("{n} is not {expected}")))
    }
}

const FILE_FIELDS: &[&str] = &[
    "__comment__",
    "defaultRiskCalculationConfiguration",
    "testCases",
];
const CASE_FIELDS: &[&str] = &[
    "description",
    "exposureWindows",
    "expTotalRiskLevel",
    "expAgeOfMostRecentDateWithLowRisk",
    "expAgeOfMostRecentDateWithHighRisk",
    "expNumberOfDaysWithLowRisk",
    "expNumberOfDaysWithHighRisk",
    "expTotalMinimumDistinctEncountersWithLowRisk",
    "expTotalMinimumDistinctEncountersWithHighRisk",
];
const WINDOW_FIELDS: &[&str] = &[
    "ageInDays",
    "reportType",
    "infectiousness",
    "calibrationConfidence",
    "scanInstances",
];
const SCAN_FIELDS: &[&str] = &[
    "minAttenuation",
    "typicalAttenuation",
    "secondsSinceLastScan",
];

impl CaseFile {
    /// Reads a test-case file (its configuration is also validated).
    ///
    /// # Errors
    /// [`CaseFileError`] naming the case (index and description) and the field.
    pub fn parse(bytes: &[u8]) -> Result<Self, CaseFileError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| err("", e.to_string()))?;
        let file = Obj::new(String::new(), &value, FILE_FIELDS)?;
        let comment = match file.map.get("__comment__") {
            Some(_) => Some(file.get("__comment__")?),
            None => None,
        };
        let configuration: CwaParameters = file.get("defaultRiskCalculationConfiguration")?;
        configuration.validate().map_err(|e| {
            err(
                &format!("defaultRiskCalculationConfiguration.{}", e.field),
                e.problem,
            )
        })?;
        let cases = file
            .list("testCases")?
            .into_iter()
            .map(|(path, v)| parse_case(path, v))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            comment,
            configuration,
            cases,
        })
    }
}

fn parse_case(index_path: String, value: &Value) -> Result<Case, CaseFileError> {
    // The description names the case in every later error.
    let path = match value.get("description").and_then(Value::as_str) {
        Some(d) => format!("{index_path} ({d:?})"),
        None => index_path,
    };
    let case = Obj::new(path, value, CASE_FIELDS)?;
    let windows = case
        .list("exposureWindows")?
        .into_iter()
        .map(|(path, v)| parse_window(path, v))
        .collect::<Result<_, _>>()?;
    Ok(Case {
        description: case.get("description")?,
        windows,
        expected: Expected {
            total_risk_level: case.number(
                "expTotalRiskLevel",
                CwaRiskLevel::from_number,
                "1 (low) or 2 (high)",
            )?,
            age_of_most_recent_date_with_low_risk: case.get("expAgeOfMostRecentDateWithLowRisk")?,
            age_of_most_recent_date_with_high_risk: case
                .get("expAgeOfMostRecentDateWithHighRisk")?,
            number_of_days_with_low_risk: case.get("expNumberOfDaysWithLowRisk")?,
            number_of_days_with_high_risk: case.get("expNumberOfDaysWithHighRisk")?,
            total_minimum_distinct_encounters_with_low_risk: case
                .get("expTotalMinimumDistinctEncountersWithLowRisk")?,
            total_minimum_distinct_encounters_with_high_risk: case
                .get("expTotalMinimumDistinctEncountersWithHighRisk")?,
        },
    })
}

fn parse_window(path: String, value: &Value) -> Result<CaseWindow, CaseFileError> {
    let window = Obj::new(path, value, WINDOW_FIELDS)?;
    let scans = window
        .list("scanInstances")?
        .into_iter()
        .map(|(path, v)| {
            let scan = Obj::new(path, v, SCAN_FIELDS)?;
            let seconds: i64 = scan.get("secondsSinceLastScan")?;
            if seconds > i64::from(u32::MAX) {
                return Err(err(
                    &join(&scan.path, "secondsSinceLastScan"),
                    "is more than 2^32 - 1",
                ));
            }
            Ok(CaseScan {
                min_attenuation: scan.get("minAttenuation")?,
                typical_attenuation: scan.get("typicalAttenuation")?,
                seconds_since_last_scan: seconds,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(CaseWindow {
        age_in_days: window.get("ageInDays")?,
        report_type: window.number(
            "reportType",
            |n| ReportType::from_i32(i32::from(n)),
            "a report type (0 to 5)",
        )?,
        infectiousness: window.number(
            "infectiousness",
            |n| match n {
                0 => Some(Infectiousness::None),
                1 => Some(Infectiousness::Standard),
                2 => Some(Infectiousness::High),
                _ => None,
            },
            "an infectiousness (0 to 2)",
        )?,
        calibration_confidence: window.number(
            "calibrationConfidence",
            |n| match n {
                0 => Some(CalibrationConfidence::Lowest),
                1 => Some(CalibrationConfidence::Low),
                2 => Some(CalibrationConfidence::Medium),
                3 => Some(CalibrationConfidence::High),
                _ => None,
            },
            "a calibration confidence (0 to 3)",
        )?,
        scans,
    })
}
