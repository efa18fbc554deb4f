use super::*;
use crate::keyfile::DiagnosisKey;
use crate::time::{IntervalNumber, RollingPeriod};

const DAY: u32 = 20_750;

fn t(minutes: i64) -> i64 {
    i64::from(DAY) * 86_400 + 8 * 3600 + minutes * 60
}

fn key(report_type: ReportType, dsos: Option<i8>) -> DiagnosisKey {
    DiagnosisKey {
        key_data: [1; 16],
        rolling_start: IntervalNumber::new(DAY * 144),
        rolling_period: RollingPeriod::FULL_DAY,
        transmission_risk: 0,
        report_type,
        days_since_onset: dsos,
    }
}

/// A scan every 5 minutes from `from` for `count` scans at one attenuation.
fn scans(from: i64, count: i64, attenuation: u8) -> Vec<MatchedScan> {
    (0..count)
        .map(|i| MatchedScan {
            time: t(from + 5 * i),
            seconds_since_last_scan: 300,
            typical_attenuation_db: attenuation,
            min_attenuation_db: attenuation.saturating_sub(3),
        })
        .collect()
}

fn matched(key: DiagnosisKey, scans: Vec<MatchedScan>) -> KeyMatch {
    KeyMatch {
        key,
        calibration_confidence: CalibrationConfidence::Lowest,
        scans,
    }
}

fn today() -> DayNumber {
    DayNumber::new(DAY + 1)
}

/// Worked example 1: 15 minutes (3 scans of 300 s) under 50 dB = 900 weighted seconds:
/// exactly the threshold, so the user is notified, dated to the exposure's day.
#[test]
fn fifteen_minutes_close_notifies() {
    let config = RiskConfig::default();
    let windows = exposure_windows(
        &[matched(
            key(ReportType::ConfirmedTest, Some(0)),
            scans(0, 3, 45),
        )],
        &config,
    );
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0].infectiousness, Infectiousness::High);
    let score = score_window(&windows[0], &config);
    assert_eq!(score.weighted_seconds, 900.0);
    assert_eq!(score.score, 900.0);
    let decision = decide(&windows, &config, today());
    assert!(decision.notify);
    assert_eq!(decision.exposure_day, Some(DayNumber::new(DAY)));
    assert_eq!(decision.days[0].windows, 1);
}

/// Worked example 2: at 50 to 55 dB the weight is 0.5: 15 minutes give 450 (no
/// notification), 30 minutes give 900 (notification). Beyond 55 dB nothing counts.
#[test]
fn the_medium_bucket_counts_half() {
    let config = RiskConfig::default();
    let k = key(ReportType::ConfirmedTest, None);
    let short = exposure_windows(&[matched(k, scans(0, 3, 52))], &config);
    assert_eq!(score_window(&short[0], &config).score, 450.0);
    assert!(!decide(&short, &config, today()).notify);
    let long = exposure_windows(&[matched(k, scans(0, 6, 55))], &config);
    assert_eq!(long.len(), 1, "25 minutes fit in one window");
    assert_eq!(score_window(&long[0], &config).score, 900.0);
    assert!(decide(&long, &config, today()).notify);
    let far = exposure_windows(&[matched(k, scans(0, 12, 56))], &config);
    assert!(!decide(&far, &config, today()).notify);
    assert!(decide(&far, &config, today()).days.is_empty());
}

/// Worked example 3: 70 minutes of scans become windows of at most 30 minutes, and the
/// day's score is their sum: 15 scans x 300 s = 4,500.
#[test]
fn windows_are_cut_every_thirty_minutes_and_summed_per_day() {
    let config = RiskConfig::default();
    let windows = exposure_windows(
        &[matched(
            key(ReportType::ConfirmedTest, None),
            scans(0, 15, 40),
        )],
        &config,
    );
    let sizes: Vec<usize> = windows.iter().map(|w| w.scans.len()).collect();
    assert_eq!(sizes, vec![6, 6, 3]);
    let days = daily_summaries(&windows, &config, today());
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].score_sum, 4500.0);
    assert_eq!(days[0].max_score, 1800.0);
    assert_eq!(days[0].windows, 3);
}

/// Worked example 4: two different keys on one day add up: 10 minutes + 5 minutes close.
#[test]
fn keys_add_up_within_a_day() {
    let config = RiskConfig::default();
    let mut other = key(ReportType::ConfirmedTest, None);
    other.key_data = [2; 16];
    let matches = [
        matched(key(ReportType::ConfirmedTest, None), scans(0, 2, 40)),
        matched(other, scans(300, 1, 45)),
    ];
    let windows = exposure_windows(&matches, &config);
    assert_eq!(windows.len(), 2);
    let decision = decide(&windows, &config, today());
    assert_eq!(decision.days[0].score_sum, 900.0);
    assert!(decision.notify);
}

#[test]
fn infectiousness_report_type_and_age_weigh_in() {
    let config = RiskConfig::default();
    let close = || scans(0, 6, 40);
    let cases = [
        (
            key(ReportType::ConfirmedTest, Some(-10)),
            false,
            "not infectious 10 days before onset",
        ),
        (
            key(ReportType::ConfirmedTest, Some(12)),
            false,
            "not infectious 12 days after",
        ),
        (
            key(ReportType::ConfirmedTest, Some(-4)),
            true,
            "standard 4 days before",
        ),
        (
            key(ReportType::SelfReport, None),
            false,
            "self reports weigh 0",
        ),
        (
            key(ReportType::Revoked, None),
            false,
            "revoked reports never count",
        ),
        (
            key(ReportType::Unknown, None),
            true,
            "unknown counts as confirmed",
        ),
        (
            key(ReportType::ConfirmedClinicalDiagnosis, None),
            true,
            "clinical diagnosis",
        ),
    ];
    for (k, notify, why) in cases {
        let windows = exposure_windows(&[matched(k, close())], &config);
        assert_eq!(decide(&windows, &config, today()).notify, notify, "{why}");
    }
    let windows = exposure_windows(
        &[matched(key(ReportType::ConfirmedTest, None), close())],
        &config,
    );
    assert!(decide(&windows, &config, DayNumber::new(DAY + 14)).notify);
    assert!(
        !decide(&windows, &config, DayNumber::new(DAY + 15)).notify,
        "too old"
    );
    let strict = RiskConfig {
        transmission_risk_weights: [0.5; 9],
        notify_score: 1000.0,
        ..RiskConfig::default()
    };
    let w = exposure_windows(
        &[matched(key(ReportType::ConfirmedTest, None), close())],
        &strict,
    );
    assert_eq!(score_window(&w[0], &strict).score, 900.0);
    assert!(!decide(&w, &strict, today()).notify);
}
