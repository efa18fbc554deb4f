//! CWA's model: ranges, validation, the schema, the case-file reader's errors.

#![allow(clippy::unwrap_used)] // Test code.

use super::cases::CaseFile;
use super::*;
use crate::keyfile::ReportType;
use crate::risk::Infectiousness;
use crate::time::DayNumber;

const FIXTURE: &str =
    include_str!("../../tests/fixtures/cwa/exposure-windows-risk-calculation.json");

fn fixture() -> serde_json::Value {
    serde_json::from_str(FIXTURE).unwrap()
}

fn params() -> CwaParameters {
    serde_json::from_value(fixture()["defaultRiskCalculationConfiguration"].clone()).unwrap()
}

#[test]
fn ranges_include_their_bounds_unless_exclusive() {
    let r = |min_exclusive, max_exclusive| CwaRange {
        min: 5.0,
        max: 15.0,
        min_exclusive,
        max_exclusive,
    };
    assert!(r(false, false).contains(5.0) && r(false, false).contains(15.0));
    assert!(!r(true, false).contains(5.0) && r(true, false).contains(5.000_001));
    assert!(!r(false, true).contains(15.0) && r(false, true).contains(14.999_999));
    assert!(!r(false, false).contains(4.999_999) && !r(false, false).contains(15.000_001));
    // Absent flags are false and are not written back.
    let parsed: CwaRange =
        serde_json::from_str(r#"{"min":0,"max":73,"maxExclusive":true}"#).unwrap();
    assert_eq!(
        parsed,
        CwaRange {
            min: 0.0,
            max: 73.0,
            min_exclusive: false,
            max_exclusive: true
        }
    );
    assert_eq!(
        serde_json::to_string(&parsed).unwrap(),
        r#"{"min":0.0,"max":73.0,"maxExclusive":true}"#
    );
}

#[test]
fn the_fixture_configuration_is_cwa_schema_and_round_trips() {
    let p = params();
    p.validate().unwrap();
    assert_eq!(p.minutes_at_attenuation_weights.len(), 3);
    assert_eq!(p.trl_encoding.report_type_offset_confirmed_test, 6);
    let back: CwaParameters = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let mut unknown = fixture()["defaultRiskCalculationConfiguration"].clone();
    unknown["trlEncoding"]["surprise"] = 1.into();
    let e = serde_json::from_value::<CwaParameters>(unknown).unwrap_err();
    assert!(e.to_string().contains("surprise"), "{e}");
}

#[test]
fn corona_warn_app_is_the_fixture_configuration() {
    let file = CaseFile::parse(include_bytes!(
        "../../tests/fixtures/cwa/exposure-windows-risk-calculation.json"
    ))
    .unwrap();
    let p = CwaParameters::corona_warn_app();
    assert_eq!(p, file.configuration);
    assert_eq!(p, params());
    p.validate().unwrap();
}

type Change = fn(&mut CwaParameters);

#[test]
fn validation_names_the_field() {
    let cases: [(Change, &str); 7] = [
        (
            |p| p.minutes_at_attenuation_weights[1].weight = -0.5,
            "minutesAtAttenuationWeights.weight",
        ),
        (
            |p| p.minutes_at_attenuation_weights[0].attenuation_range.min = 80.0,
            "minutesAtAttenuationWeights.attenuationRange",
        ),
        (
            |p| p.normalized_time_per_ew_to_risk_level_mapping[0].risk_level = 3,
            "normalizedTimePerEWToRiskLevelMapping.riskLevel",
        ),
        (
            |p| p.normalized_time_per_day_to_risk_level_mapping.clear(),
            "normalizedTimePerDayToRiskLevelMapping.riskLevel",
        ),
        (
            |p| p.trl_encoding.infectiousness_offset_high = -1,
            "trlEncoding.infectiousnessOffsetHigh",
        ),
        (
            |p| p.transmission_risk_value_mapping[0].transmission_risk_level = 9,
            "transmissionRiskValueMapping.transmissionRiskLevel",
        ),
        (
            |p| p.transmission_risk_value_mapping[2].transmission_risk_value = f64::NAN,
            "transmissionRiskValueMapping.transmissionRiskValue",
        ),
    ];
    for (change, field) in cases {
        let mut p = params();
        change(&mut p);
        assert_eq!(p.validate().unwrap_err().field, field);
    }
}

#[test]
fn transmission_risk_level_is_report_type_offset_plus_infectiousness_offset() {
    let e = params().trl_encoding;
    let trl = |r, i| transmission_risk_level(r, i, &e);
    assert_eq!(trl(ReportType::ConfirmedTest, Infectiousness::High), 8);
    assert_eq!(
        trl(
            ReportType::ConfirmedClinicalDiagnosis,
            Infectiousness::Standard
        ),
        5
    );
    assert_eq!(trl(ReportType::SelfReport, Infectiousness::Standard), 3);
    assert_eq!(trl(ReportType::Recursive, Infectiousness::High), 2);
    assert_eq!(trl(ReportType::Revoked, Infectiousness::Standard), 1);
}

#[test]
fn minutes_filters_differ_between_the_platforms_at_fractional_minutes() {
    let mut p = params();
    p.minutes_at_attenuation_filters = vec![MinutesAtAttenuationFilter {
        attenuation_range: CwaRange {
            min: 0.0,
            max: 73.0,
            min_exclusive: false,
            max_exclusive: true,
        },
        drop_if_minutes_in_range: CwaRange {
            min: 0.0,
            max: 10.0,
            min_exclusive: false,
            max_exclusive: true,
        },
    }];
    let file = CaseFile::parse(FIXTURE.as_bytes()).unwrap();
    // 599 seconds: 9 whole minutes on iOS (dropped), 9.98 on Android (dropped); 600: kept.
    let window = |s| {
        let mut w = file.cases[0].windows[0].to_exposure_window(DayNumber::new(100));
        w.scans.truncate(1);
        w.scans[0].seconds_since_last_scan = s;
        w
    };
    for platform in [CwaPlatform::Ios, CwaPlatform::Android] {
        assert_eq!(
            window_risk(&window(599), &p, platform).dropped,
            Some(Dropped::MinutesAtAttenuation)
        );
        assert_eq!(window_risk(&window(600), &p, platform).dropped, None);
    }
    // A range ending at 9.5 minutes: 590 seconds is 9 (dropped) on iOS, 9.83 (kept) on Android.
    p.minutes_at_attenuation_filters[0]
        .drop_if_minutes_in_range
        .max = 9.5;
    assert_eq!(
        window_risk(&window(590), &p, CwaPlatform::Ios).dropped,
        Some(Dropped::MinutesAtAttenuation)
    );
    assert_eq!(
        window_risk(&window(590), &p, CwaPlatform::Android).dropped,
        None
    );
}

#[test]
fn case_file_errors_name_the_case_and_the_field() {
    let mut v = fixture();
    v["testCases"][3]["exposureWindows"][0]["scanInstances"][1]["minAttenuation"] = "loud".into();
    let e = CaseFile::parse(v.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        e.path,
        "testCases[3] (\"keep Exposure Windows (< 73 dB)\").exposureWindows[0].scanInstances[1].minAttenuation"
    );
    let mut v = fixture();
    v["testCases"][5]["exposureWindows"][0]["reportType"] = 6.into();
    let e = CaseFile::parse(v.to_string().as_bytes()).unwrap_err();
    assert!(
        e.path.starts_with("testCases[5] (") && e.path.ends_with(".exposureWindows[0].reportType"),
        "{e}"
    );
    let mut v = fixture();
    v["testCases"][0]["expSurprise"] = 1.into();
    let e = CaseFile::parse(v.to_string().as_bytes()).unwrap_err();
    assert!(
        e.path.starts_with("testCases[0] (") && e.problem.contains("expSurprise"),
        "{e}"
    );
    let mut v = fixture();
    v["testCases"][2]
        .as_object_mut()
        .unwrap()
        .remove("expNumberOfDaysWithLowRisk");
    let e = CaseFile::parse(v.to_string().as_bytes()).unwrap_err();
    assert!(e.problem.contains("expNumberOfDaysWithLowRisk"), "{e}");
    let mut v = fixture();
    v["defaultRiskCalculationConfiguration"]["normalizedTimePerEWToRiskLevelMapping"][0]["riskLevel"] =
        0.into();
    let e = CaseFile::parse(v.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        e.path,
        "defaultRiskCalculationConfiguration.normalizedTimePerEWToRiskLevelMapping.riskLevel"
    );
    let mut v = fixture();
    v["surprise"] = 1.into();
    assert!(
        CaseFile::parse(v.to_string().as_bytes())
            .unwrap_err()
            .problem
            .contains("surprise")
    );
}

#[test]
fn negative_seconds_count_as_nothing_and_none_infectious_windows_are_dropped() {
    let file = CaseFile::parse(FIXTURE.as_bytes()).unwrap();
    let case = file
        .cases
        .iter()
        .find(|c| c.description.starts_with("ignores negative"))
        .unwrap();
    let w = case.windows[0].to_exposure_window(DayNumber::new(100));
    assert_eq!(w.scans[0].seconds_since_last_scan, 0);
    assert_eq!(w.day, DayNumber::new(99));
    let mut none = w.clone();
    none.infectiousness = Infectiousness::None;
    assert_eq!(
        window_risk(&none, &file.configuration, CwaPlatform::Ios).dropped,
        Some(Dropped::NotInfectious)
    );
    let r = assess(&[none], &file.configuration, DayNumber::new(100));
    assert_eq!(r.total_risk_level, CwaRiskLevel::Low);
    assert!(r.days.is_empty());
}

#[test]
fn a_day_without_a_level_keeps_its_encounters_on_ios_only() {
    let file = CaseFile::parse(FIXTURE.as_bytes()).unwrap();
    let mut p = file.configuration.clone();
    // Days need 20 normalized minutes to have a level; one low window (6) leaves its day
    // without one.
    p.normalized_time_per_day_to_risk_level_mapping[0]
        .normalized_time_range
        .min = 20.0;
    let case = file
        .cases
        .iter()
        .find(|c| c.description == "keep Exposure Windows with TRL > 2")
        .unwrap();
    let windows = case.exposure_windows(DayNumber::new(100));
    let ios = assess_on(&windows, &p, DayNumber::new(100), CwaPlatform::Ios);
    assert_eq!(ios.days.len(), 1);
    assert_eq!(ios.days[0].risk_level, None);
    assert_eq!(ios.number_of_days_with_low_risk, 0);
    assert_eq!(ios.total_minimum_distinct_encounters_with_low_risk, 1);
    let android = assess_on(&windows, &p, DayNumber::new(100), CwaPlatform::Android);
    assert!(android.days.is_empty());
    assert_eq!(android.total_minimum_distinct_encounters_with_low_risk, 0);
    assert_eq!(android.total_risk_level, CwaRiskLevel::Low);
}
