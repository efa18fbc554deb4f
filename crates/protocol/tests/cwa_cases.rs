//! CWA's 28 published exposure-window risk-calculation cases (tests/fixtures/cwa), every
//! expected field asserted, on CWA's iOS arithmetic (the file's source) and on Android's.

#![allow(clippy::unwrap_used)] // Test code.

use bluezone_protocol::cwa::CwaPlatform;
use bluezone_protocol::cwa::cases::{CaseFile, check_case};

const FILE: &[u8] = include_bytes!("fixtures/cwa/exposure-windows-risk-calculation.json");

/// The one case whose outcome depends on the platform: 899 seconds at transmission risk value
/// 1 are 14.983 normalized minutes, low (< 15) on iOS; Android rounds the day's sum to one
/// decimal, 15.0, which is high.
const ROUNDING_CASE: &str = "identify Exposure Window as Low Risk based on normalizedTime (< 15)";

fn file() -> CaseFile {
    CaseFile::parse(FILE).unwrap()
}

#[test]
fn the_file_holds_28_cases() {
    let file = file();
    assert_eq!(file.cases.len(), 28);
    assert!(file.comment.is_some());
}

#[test]
fn every_case_passes_with_ios_arithmetic() {
    let file = file();
    let failures: Vec<String> = file
        .cases
        .iter()
        .enumerate()
        .filter_map(|(i, case)| {
            let mismatches = check_case(case, &file.configuration, CwaPlatform::Ios);
            (!mismatches.is_empty())
                .then(|| format!("case {i} {:?}: {mismatches:?}", case.description))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn with_android_arithmetic_only_the_rounding_case_differs() {
    let file = file();
    assert!(file.cases.iter().any(|c| c.description == ROUNDING_CASE));
    for (i, case) in file.cases.iter().enumerate() {
        let mismatches = check_case(case, &file.configuration, CwaPlatform::Android);
        if case.description == ROUNDING_CASE {
            let fields: Vec<_> = mismatches
                .iter()
                .map(|m| (m.field, m.expected.as_str(), m.actual.as_str()))
                .collect();
            assert_eq!(
                fields,
                [
                    ("expTotalRiskLevel", "1", "2"),
                    ("expAgeOfMostRecentDateWithLowRisk", "1", "null"),
                    ("expAgeOfMostRecentDateWithHighRisk", "null", "1"),
                    ("expNumberOfDaysWithLowRisk", "1", "0"),
                    ("expNumberOfDaysWithHighRisk", "0", "1"),
                ],
                "case {i}"
            );
        } else {
            assert!(
                mismatches.is_empty(),
                "case {i} {:?}: {mismatches:?}",
                case.description
            );
        }
    }
}

#[test]
fn a_wrong_expectation_is_reported_by_field() {
    let mut file = file();
    let case = &mut file.cases[9];
    case.expected.number_of_days_with_high_risk = 7;
    let mismatches = check_case(case, &file.configuration, CwaPlatform::Ios);
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].field, "expNumberOfDaysWithHighRisk");
    assert_eq!(
        (
            mismatches[0].expected.as_str(),
            mismatches[0].actual.as_str()
        ),
        ("7", "1")
    );
}
