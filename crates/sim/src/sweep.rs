//! Choosing a risk model and its parameters: the exposure windows every phone stored in one
//! run are scored again under two models, with the same scoring code the phones run, and
//! compared with the ground truth:
//!
//! - GAEN's daily summaries ([`bluezone_protocol::risk`]): a grid of attenuation bucket bounds
//!   (typical attenuation) and notification levels (weighted minutes per day);
//! - Corona-Warn-App's model ([`bluezone_protocol::cwa`]): CWA's own configuration
//!   ([`CwaParameters::corona_warn_app`]) with its three weighted ranges of minimum attenuation
//!   shifted together and the normalized time from which a day is high varied over the same
//!   levels; a person is notified when the total risk level is high.
//!
//! The result is a ROC curve (recall against false-positive rate) per model and near bound
//! and a precision–recall plot, so a health authority can pick a model and an operating point
//! knowing what it trades. Each model's best F1 is recommended, written as a risk
//! configuration document ready to publish.
//!
//! Both models see the same windows: those of the last `days_to_consider` days (14 by
//! default) before the run's [`Outcome::today`], the horizon of GAEN's daily summaries and of
//! the windows GAEN gives CWA's apps; CWA's "today" (from which its ages count) is the same day.

use std::fmt::Write as _;

use bluezone_protocol::cwa::{
    self, CwaParameters, CwaRange, CwaRiskLevel, MinutesAtAttenuationWeight,
    NormalizedTimeToRiskLevelMapping,
};
use bluezone_protocol::risk::{ExposureWindow, RiskConfig, decide};
use bluezone_protocol::risk_config::{MODEL_CWA, MODEL_GAEN_DAILY_SUMMARIES, RiskConfigDocument};
use bluezone_protocol::time::DayNumber;
use serde::Serialize;

use crate::plot::Chart;
use crate::report::ratio;
use crate::run::Outcome;

/// The risk model a point was scored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Model {
    /// GAEN's daily summaries ([`MODEL_GAEN_DAILY_SUMMARIES`]).
    #[serde(rename = "gaen-daily-summaries")]
    Gaen,
    /// Corona-Warn-App's model ([`MODEL_CWA`]).
    #[serde(rename = "cwa")]
    Cwa,
}

impl Model {
    /// Both, in the order the sweep scores them.
    pub const ALL: [Self; 2] = [Self::Gaen, Self::Cwa];

    /// The model's name in risk configuration documents and `sweep.json`.
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Self::Gaen => MODEL_GAEN_DAILY_SUMMARIES,
            Self::Cwa => MODEL_CWA,
        }
    }

    /// A short name for tables and legends.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Gaen => "GAEN",
            Self::Cwa => "CWA",
        }
    }

    /// The near bound as legends write it: GAEN's bucket holds attenuations up to it, CWA's
    /// first range those below it.
    #[must_use]
    pub fn near(self, bound_db: u8) -> String {
        match self {
            Self::Gaen => format!("GAEN ≤ {bound_db} dB"),
            Self::Cwa => format!("CWA < {bound_db} dB"),
        }
    }
}

/// One parameter set and how it did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The model scored.
    pub model: Model,
    /// The near bound swept, dB: GAEN's first bucket bound (typical attenuation at most it),
    /// CWA's first weighted range's upper bound (minimum attenuation below it).
    pub near_bound_db: u8,
    /// GAEN: the three bucket bounds (inclusive, typical attenuation). CWA: the upper bounds
    /// (exclusive, minimum attenuation) of the three weighted ranges, which start at 0 and at
    /// the previous bound.
    pub attenuation_thresholds_db: [u8; 3],
    /// The weights of the four buckets (GAEN) or of the three ranges and above (CWA).
    pub attenuation_weights: [f64; 4],
    /// GAEN: weighted minutes in a day that notify. CWA: the normalized time of a day (and of
    /// a window) from which it is high; the total is high, and notifies, when a day is.
    pub notify_minutes: f64,
    /// Close contacts notified.
    pub true_positives: u32,
    /// Others notified.
    pub false_positives: u32,
    /// Close contacts missed.
    pub false_negatives: u32,
    /// Others not notified.
    pub true_negatives: u32,
    /// TP / (TP + FP).
    pub precision: Option<f64>,
    /// TP / (TP + FN).
    pub recall: Option<f64>,
    /// FP / (FP + TN).
    pub false_positive_rate: Option<f64>,
}

/// The near bounds swept, dB, for both models; GAEN's sets are `[b, b + 6, b + 14]`, CWA's
/// `[b, b + 8, b + 18]` (CWA's own is 55: `[55, 63, 73]`).
pub const NEAR_BOUNDS_DB: [u8; 6] = [45, 50, 55, 60, 65, 70];
/// The notification levels swept, weighted (GAEN) or normalized (CWA) minutes per day.
pub const NOTIFY_MINUTES: [f64; 10] = [1.0, 2.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0];
/// Weights of the four buckets in every swept GAEN set.
pub const WEIGHTS: [f64; 4] = [1.0, 0.5, 0.0, 0.0];
/// GAEN's bucket bounds above the near bound, dB.
pub const GAEN_OFFSETS_DB: [u8; 3] = [0, 6, 14];
/// Weights of CWA's three ranges (and of attenuations above them) in every swept CWA set:
/// CWA's own.
pub const CWA_WEIGHTS: [f64; 4] = [1.0, 0.5, 0.3, 0.0];
/// CWA's range bounds above the near bound, dB (CWA's own: 55, 63, 73).
pub const CWA_OFFSETS_DB: [u8; 3] = [0, 8, 18];
/// Where CWA's low level starts, normalized minutes (CWA's own).
pub const CWA_LOW_FROM: f64 = 5.0;
/// The top of CWA's high range, normalized minutes (CWA's own).
pub const CWA_HIGH_TO: f64 = 9999.0;

fn bounds(near_bound_db: u8, offsets: [u8; 3]) -> [u8; 3] {
    offsets.map(|o| near_bound_db.saturating_add(o))
}

/// Scores `outcome`'s windows under every swept parameter set: GAEN's grid, then CWA's.
#[must_use]
pub fn sweep(outcome: &Outcome) -> Vec<SweepPoint> {
    let mut points = Vec::new();
    for b in NEAR_BOUNDS_DB {
        for minutes in NOTIFY_MINUTES {
            let config = RiskConfig {
                attenuation_thresholds_db: bounds(b, GAEN_OFFSETS_DB),
                attenuation_weights: WEIGHTS,
                notify_score: minutes * 60.0,
                ..outcome.risk.clone()
            };
            points.push(score(outcome, &config));
        }
    }
    for b in NEAR_BOUNDS_DB {
        for minutes in NOTIFY_MINUTES {
            points.push(score_cwa(outcome, b, minutes));
        }
    }
    points
}

/// Counts of (TP, FP, FN, TN) over the people who did not test positive.
fn tally(outcome: &Outcome, notifies: impl Fn(&[ExposureWindow]) -> bool) -> [u32; 4] {
    let mut counts = [0u32; 4];
    for (person, windows) in outcome.report.persons.iter().zip(&outcome.windows) {
        if person.positive {
            continue;
        }
        let slot = match (person.close_contact, notifies(windows)) {
            (true, true) => 0,
            (false, true) => 1,
            (true, false) => 2,
            (false, false) => 3,
        };
        counts[slot] += 1;
    }
    counts
}

fn point(
    model: Model,
    attenuation_thresholds_db: [u8; 3],
    attenuation_weights: [f64; 4],
    notify_minutes: f64,
    [tp, fp, fn_, tn]: [u32; 4],
) -> SweepPoint {
    SweepPoint {
        model,
        near_bound_db: attenuation_thresholds_db[0],
        attenuation_thresholds_db,
        attenuation_weights,
        notify_minutes,
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        true_negatives: tn,
        precision: ratio(u64::from(tp), u64::from(tp + fp)),
        recall: ratio(u64::from(tp), u64::from(tp + fn_)),
        false_positive_rate: ratio(u64::from(fp), u64::from(fp + tn)),
    }
}

/// How GAEN's daily summaries with `config` do on `outcome`'s windows.
#[must_use]
pub fn score(outcome: &Outcome, config: &RiskConfig) -> SweepPoint {
    let counts = tally(outcome, |windows| {
        decide(windows, config, outcome.today).notify
    });
    point(
        Model::Gaen,
        config.attenuation_thresholds_db,
        config.attenuation_weights,
        config.notify_score / 60.0,
        counts,
    )
}

/// CWA's configuration for a swept point: CWA's own ([`CwaParameters::corona_warn_app`]) with
/// weights [`CWA_WEIGHTS`] for minimum attenuations in `[0, b)`, `[b, b + 8)` and
/// `[b + 8, b + 18)` dB (`b` = `near_bound_db`), and, per window and per day alike (as CWA
/// configures them), low from [`CWA_LOW_FROM`] to below `notify_minutes` and high from
/// `notify_minutes` (just high from it when it is [`CWA_LOW_FROM`] or less).
/// `corona_warn_app()` is `cwa_parameters(55, 15.0)`.
#[must_use]
pub fn cwa_parameters(near_bound_db: u8, notify_minutes: f64) -> CwaParameters {
    let mut params = CwaParameters::corona_warn_app();
    let [b0, b1, b2] = bounds(near_bound_db, CWA_OFFSETS_DB).map(f64::from);
    let below = |min: f64, max: f64| CwaRange {
        min,
        max,
        min_exclusive: false,
        max_exclusive: true,
    };
    params.minutes_at_attenuation_weights = [(0.0, b0), (b0, b1), (b1, b2)]
        .into_iter()
        .zip(CWA_WEIGHTS)
        .map(|((min, max), weight)| MinutesAtAttenuationWeight {
            attenuation_range: below(min, max),
            weight,
        })
        .collect();
    let mut mapping = Vec::new();
    if notify_minutes > CWA_LOW_FROM {
        mapping.push(NormalizedTimeToRiskLevelMapping {
            normalized_time_range: below(CWA_LOW_FROM, notify_minutes),
            risk_level: CwaRiskLevel::Low.number(),
        });
    }
    mapping.push(NormalizedTimeToRiskLevelMapping {
        normalized_time_range: CwaRange {
            min: notify_minutes,
            max: CWA_HIGH_TO.max(notify_minutes),
            min_exclusive: false,
            max_exclusive: false,
        },
        risk_level: CwaRiskLevel::High.number(),
    });
    params
        .normalized_time_per_ew_to_risk_level_mapping
        .clone_from(&mapping);
    params.normalized_time_per_day_to_risk_level_mapping = mapping;
    params
}

/// Whether CWA's model with `params` notifies on `windows` (total risk level high), on
/// `today`, reading only the windows of the last `days_to_consider` days as GAEN gives them
/// to CWA's apps ([`cwa::assess`], iOS's calculation).
#[must_use]
pub fn cwa_notifies(
    windows: &[ExposureWindow],
    params: &CwaParameters,
    today: DayNumber,
    days_to_consider: u32,
) -> bool {
    let oldest = today.get().saturating_sub(days_to_consider);
    let recent: Vec<ExposureWindow> = windows
        .iter()
        .filter(|w| w.day.get() >= oldest)
        .cloned()
        .collect();
    cwa::assess(&recent, params, today).total_risk_level == CwaRiskLevel::High
}

/// How CWA's model with [`cwa_parameters`]`(near_bound_db, notify_minutes)` does on
/// `outcome`'s windows (the horizon is the phones' `days_to_consider`).
#[must_use]
pub fn score_cwa(outcome: &Outcome, near_bound_db: u8, notify_minutes: f64) -> SweepPoint {
    let params = cwa_parameters(near_bound_db, notify_minutes);
    let counts = tally(outcome, |windows| {
        cwa_notifies(
            windows,
            &params,
            outcome.today,
            outcome.risk.days_to_consider,
        )
    });
    point(
        Model::Cwa,
        bounds(near_bound_db, CWA_OFFSETS_DB),
        CWA_WEIGHTS,
        notify_minutes,
        counts,
    )
}

/// One curve per model and near bound, through `coords` of its points; GAEN's solid, CWA's
/// dashed in the same colour per near bound, CWA's legend in a second column. `extra` draws
/// after GAEN's curves (the ROC's chance line).
fn curves(
    chart: &mut Chart,
    points: &[SweepPoint],
    coords: impl Fn(&SweepPoint) -> Option<(f64, f64)>,
    ends: &[(f64, f64)],
    extra: impl Fn(&mut Chart),
) {
    for model in Model::ALL {
        if model == Model::Cwa {
            chart.legend_column();
        }
        for (k, b) in NEAR_BOUNDS_DB.iter().enumerate() {
            let mut curve: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.model == model && p.near_bound_db == *b)
                .filter_map(&coords)
                .collect();
            if curve.is_empty() {
                continue;
            }
            curve.extend_from_slice(ends);
            curve.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            chart.line(&curve, k, &model.near(*b), model == Model::Cwa);
        }
        if model == Model::Gaen {
            extra(chart);
        }
    }
}

/// ROC curves: recall against false-positive rate, one curve per model and near bound,
/// traced by the notification level (GAEN solid, CWA dashed).
#[must_use]
pub fn roc_plot(points: &[SweepPoint]) -> String {
    let mut chart = Chart::new(
        "ROC: close contacts notified against others notified",
        "false-positive rate (others notified)",
        (0.0, 1.0),
        "recall (close contacts notified)",
        (0.0, 1.0),
    );
    curves(
        &mut chart,
        points,
        |p| Some((p.false_positive_rate?, p.recall?)),
        &[(0.0, 0.0), (1.0, 1.0)],
        |chart| chart.line(&[(0.0, 0.0), (1.0, 1.0)], 6, "chance", true),
    );
    chart.finish()
}

/// Precision against recall for every swept set (GAEN solid, CWA dashed).
#[must_use]
pub fn precision_recall_plot(points: &[SweepPoint]) -> String {
    let mut chart = Chart::new(
        "Precision against recall",
        "recall",
        (0.0, 1.0),
        "precision",
        (0.0, 1.0),
    );
    curves(
        &mut chart,
        points,
        |p| Some((p.recall?, p.precision?)),
        &[],
        |_| {},
    );
    chart.finish()
}

/// A point's F1 score (0 when precision or recall is undefined).
#[must_use]
pub fn f1(p: &SweepPoint) -> f64 {
    match (p.precision, p.recall) {
        (Some(pr), Some(re)) if pr + re > 0.0 => 2.0 * pr * re / (pr + re),
        _ => 0.0,
    }
}

/// The best F1 among `points`, the first of equals.
fn best_of<'a>(points: impl Iterator<Item = (usize, &'a SweepPoint)>) -> Option<usize> {
    points
        .max_by(|a, b| f1(a.1).total_cmp(&f1(b.1)).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
}

/// The best point of all: the best F1, the first of equals.
#[must_use]
pub fn recommended(points: &[SweepPoint]) -> Option<usize> {
    best_of(points.iter().enumerate())
}

/// `model`'s recommended point: its best F1, the first of equals.
#[must_use]
pub fn recommended_for(points: &[SweepPoint], model: Model) -> Option<usize> {
    best_of(points.iter().enumerate().filter(|(_, p)| p.model == model))
}

fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

fn note(scenario: &str, point: &SweepPoint) -> String {
    let scenario: String = scenario.chars().take(200).collect();
    format!(
        "bluezone sim sweep, scenario {scenario}: precision {}, recall {}, false-positive rate \
         {}, F1 {:.3}",
        show(point.precision),
        show(point.recall),
        show(point.false_positive_rate),
        f1(point)
    )
}

/// The recommended GAEN `point` as an unsigned risk configuration document for
/// `bluezone server risk-config --set` (which sets its sequence and date when it signs it):
/// `base`'s parameters with the point's thresholds, weights and notification level, and
/// what it achieved in the note.
#[must_use]
pub fn risk_config_document(
    scenario: &str,
    base: &RiskConfig,
    point: &SweepPoint,
) -> RiskConfigDocument {
    let config = RiskConfig {
        attenuation_thresholds_db: point.attenuation_thresholds_db,
        attenuation_weights: point.attenuation_weights,
        notify_score: point.notify_minutes * 60.0,
        ..base.clone()
    };
    RiskConfigDocument::new(1, 0, &config, &note(scenario, point))
}

/// The recommended CWA `point` as an unsigned risk configuration document of CWA's model
/// ([`cwa_parameters`] of its near bound and level), what it achieved in the note, for
/// `bluezone server risk-config --set`.
#[must_use]
pub fn cwa_risk_config_document(scenario: &str, point: &SweepPoint) -> RiskConfigDocument {
    RiskConfigDocument::new_cwa(
        1,
        0,
        cwa_parameters(point.near_bound_db, point.notify_minutes),
        &note(scenario, point),
    )
}

/// A point's parameters in words.
#[must_use]
pub fn describe(p: &SweepPoint) -> String {
    let [a, b, c] = p.attenuation_thresholds_db;
    match p.model {
        Model::Gaen => format!(
            "buckets ≤ {a} / ≤ {b} / ≤ {c} dB (typical), weights {:?}; notify from {} weighted \
             minutes a day",
            p.attenuation_weights, p.notify_minutes
        ),
        Model::Cwa => format!(
            "ranges < {a} / < {b} / < {c} dB (minimum), weights {:?}; high from {} normalized \
             minutes a day",
            &p.attenuation_weights[..3],
            p.notify_minutes
        ),
    }
}

fn counts_row(p: &SweepPoint) -> String {
    format!(
        "{} | {} | {} | {} | {} | {} | {} | {:.3}",
        p.true_positives,
        p.false_positives,
        p.false_negatives,
        p.true_negatives,
        show(p.precision),
        show(p.recall),
        show(p.false_positive_rate),
        f1(p)
    )
}

/// `sweep.md`: each model's best point side by side and which is better, the plots, then a
/// table per model with its best F1 marked.
#[must_use]
pub fn to_markdown(scenario: &str, points: &[SweepPoint]) -> String {
    let mut md = format!(
        "# Risk parameter sweep: {scenario}\n\nThe exposure windows the phones stored in one \
         run, scored again under two risk models: GAEN's daily summaries and \
         Corona-Warn-App's (CWA).\n\n## Best point of each model\n\n\
         | model | parameters | TP | FP | FN | TN | precision | recall | FPR | F1 | file |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
    );
    let best: Vec<(Model, &SweepPoint)> = Model::ALL
        .iter()
        .filter_map(|m| Some((*m, points.get(recommended_for(points, *m)?)?)))
        .collect();
    for (model, p) in &best {
        let file = match model {
            Model::Gaen => "risk-config.json",
            Model::Cwa => "risk-config-cwa.json",
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | `{file}` |",
            model.name(),
            describe(p),
            counts_row(p)
        );
    }
    md.push('\n');
    md.push_str(&verdict(&best));
    md.push_str(
        "\n\nEach file is ready for `bluezone server risk-config --set`.\n\n\
         ![ROC](roc.svg)\n\n![Precision against recall](precision-recall.svg)\n\n\
         GAEN's curves are solid, CWA's dashed, one colour per near bound.\n",
    );
    for model in Model::ALL {
        let (title, about, bounds) = match model {
            Model::Gaen => (
                "GAEN's daily summaries",
                format!(
                    "Typical attenuation in buckets `[b, b + 6, b + 14]` dB (inclusive), \
                     weights {WEIGHTS:?}; the phones' other parameters; a person is notified \
                     when a day's weighted minutes reach the level."
                ),
                "bucket bounds (dB, ≤)",
            ),
            Model::Cwa => (
                "Corona-Warn-App's model",
                format!(
                    "CWA's own configuration with minimum attenuation weighted {:?} in \
                     `[0, b)`, `[b, b + 8)`, `[b + 8, b + 18)` dB (CWA's own: b = 55) and a day \
                     (and a window) high from the level, low from {CWA_LOW_FROM} below it; a \
                     person is notified when the total risk level is high.",
                    &CWA_WEIGHTS[..3]
                ),
                "range bounds (dB, <)",
            ),
        };
        let best = recommended_for(points, model);
        let _ = write!(
            md,
            "\n## {title}\n\n{about}\n\n\
             | {bounds} | notify (min) | TP | FP | FN | TN | precision | recall | FPR | F1 |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        );
        for (i, p) in points.iter().enumerate().filter(|(_, p)| p.model == model) {
            let _ = writeln!(
                md,
                "| {:?}{} | {} | {} |",
                p.attenuation_thresholds_db,
                if Some(i) == best { " **best F1**" } else { "" },
                p.notify_minutes,
                counts_row(p)
            );
        }
    }
    md
}

/// Which model's best point is better, in a sentence.
fn verdict(best: &[(Model, &SweepPoint)]) -> String {
    let [(m1, p1), (m2, p2)] = best else {
        return "Only one model was scored.".to_owned();
    };
    let (f1, f2) = (f1(p1), f1(p2));
    if f1 <= 0.0 && f2 <= 0.0 {
        "Neither model notifies a close contact on this scenario (F1 0): no comparison.".to_owned()
    } else if (f1 - f2).abs() < 1e-9 {
        format!(
            "**Both models do equally well on this scenario** (F1 {f1:.3}); compare their \
             false-positive rates and the curves."
        )
    } else {
        let ((better, fb), (worse, fw)) = if f1 > f2 {
            ((m1, f1), (m2, f2))
        } else {
            ((m2, f2), (m1, f1))
        };
        format!(
            "**{} is better on this scenario**: F1 {fb:.3} against {fw:.3} for {}.",
            better.name(),
            worse.name()
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use bluezone_protocol::keyfile::ReportType;
    use bluezone_protocol::matching::MatchedScan;
    use bluezone_protocol::metadata::CalibrationConfidence;
    use bluezone_protocol::risk::Infectiousness;
    use bluezone_protocol::time::SECONDS_PER_DAY;

    use super::*;

    const TODAY: DayNumber = DayNumber::new(20_000);

    /// A window on `day` of `scans` scans `seconds` apart at `attenuation_db`, from a
    /// confirmed test at standard infectiousness (CWA's level 7, value 1.4).
    fn window(day: DayNumber, scans: u32, seconds: u32, attenuation_db: u8) -> ExposureWindow {
        let start = i64::from(day.get()) * SECONDS_PER_DAY;
        ExposureWindow {
            day,
            report_type: ReportType::ConfirmedTest,
            infectiousness: Infectiousness::Standard,
            transmission_risk: 0,
            calibration_confidence: CalibrationConfidence::Lowest,
            scans: (1..=scans)
                .map(|k| MatchedScan {
                    time: start + i64::from(k * seconds),
                    seconds_since_last_scan: seconds,
                    typical_attenuation_db: attenuation_db,
                    min_attenuation_db: attenuation_db,
                })
                .collect(),
        }
    }

    #[test]
    fn cwa_own_configuration_is_the_point_at_55_db_and_15_minutes() {
        assert_eq!(cwa_parameters(55, 15.0), CwaParameters::corona_warn_app());
        for b in NEAR_BOUNDS_DB {
            for minutes in NOTIFY_MINUTES {
                let p = cwa_parameters(b, minutes);
                p.validate().unwrap();
                assert_eq!(
                    p.normalized_time_per_ew_to_risk_level_mapping,
                    p.normalized_time_per_day_to_risk_level_mapping
                );
                // At 5 minutes or less there is no low range: just high from the level.
                let levels = p.normalized_time_per_day_to_risk_level_mapping.len();
                assert_eq!(levels, if minutes > CWA_LOW_FROM { 2 } else { 1 });
            }
        }
    }

    #[test]
    fn cwa_notifies_a_long_close_window_and_not_a_far_brief_one() {
        let params = CwaParameters::corona_warn_app();
        // 30 minutes at 45 dB: 30 weighted minutes, 42 normalized: high.
        let close = [window(TODAY, 6, 300, 45)];
        assert!(cwa_notifies(&close, &params, TODAY, 14));
        // 4 minutes at 70 dB: 1.2 weighted minutes, 1.68 normalized: no level.
        let far = [window(TODAY, 2, 120, 70)];
        assert!(!cwa_notifies(&far, &params, TODAY, 14));
        // The close window 15 days ago is past the horizon.
        let old = [window(DayNumber::new(TODAY.get() - 15), 6, 300, 45)];
        assert!(!cwa_notifies(&old, &params, TODAY, 14));
        assert!(cwa_notifies(&old, &params, TODAY, 15));
        // 10 minutes at 50 dB: 14 normalized, low under CWA's own; high from 10.
        let ten = [window(TODAY, 2, 300, 50)];
        assert!(!cwa_notifies(&ten, &params, TODAY, 14));
        assert!(cwa_notifies(&ten, &cwa_parameters(55, 10.0), TODAY, 14));
        // ... and at a near bound of 45 dB, 50 dB weighs 0.5: 7 normalized, low.
        assert!(!cwa_notifies(&ten, &cwa_parameters(45, 10.0), TODAY, 14));
    }

    /// Every grid point of both models, with made-up counts: recall and false positives
    /// fall as the level rises; CWA's best is at 55 dB and 15 minutes.
    fn grid() -> Vec<SweepPoint> {
        let mut points = Vec::new();
        for model in Model::ALL {
            for b in NEAR_BOUNDS_DB {
                for (k, minutes) in NOTIFY_MINUTES.into_iter().enumerate() {
                    let k = u32::try_from(k).unwrap();
                    let best = model == Model::Cwa && b == 55 && minutes == 15.0;
                    let tp = if best { 10 } else { 9 - k.min(9) };
                    let fp = if best { 1 } else { 20 - 2 * k };
                    let (thresholds, weights) = match model {
                        Model::Gaen => (bounds(b, GAEN_OFFSETS_DB), WEIGHTS),
                        Model::Cwa => (bounds(b, CWA_OFFSETS_DB), CWA_WEIGHTS),
                    };
                    points.push(point(
                        model,
                        thresholds,
                        weights,
                        minutes,
                        [tp, fp, 10 - tp, 30 - fp],
                    ));
                }
            }
        }
        points
    }

    #[test]
    fn both_models_appear_in_the_table_and_the_plots() {
        let points = grid();
        let gaen = recommended_for(&points, Model::Gaen).unwrap();
        let cwa = recommended_for(&points, Model::Cwa).unwrap();
        assert_eq!(points[gaen].model, Model::Gaen);
        assert_eq!(
            (points[cwa].near_bound_db, points[cwa].notify_minutes),
            (55, 15.0)
        );
        assert_eq!(recommended(&points), Some(cwa));
        let md = to_markdown("test", &points);
        assert!(md.contains("## Best point of each model"), "{md}");
        assert!(
            md.contains("| GAEN | buckets ≤ ")
                && md.contains("| CWA | ranges < 55 / < 63 / < 73 dB")
        );
        assert!(md.contains("**CWA is better on this scenario**"), "{md}");
        assert!(
            md.contains("## GAEN's daily summaries") && md.contains("## Corona-Warn-App's model")
        );
        assert_eq!(md.matches("**best F1**").count(), 2);
        assert!(md.contains("| [55, 63, 73] **best F1** | 15 |"));
        // Six curves per model; the ROC adds chance. CWA's (and chance) are dashed.
        for (svg, lines) in [
            (roc_plot(&points), 13),
            (precision_recall_plot(&points), 12),
        ] {
            assert!(svg.contains("GAEN ≤ 45 dB") && svg.contains("CWA &lt; 70 dB"));
            assert_eq!(svg.matches("<polyline").count(), lines);
            assert_eq!(svg.matches("stroke-dasharray=\"6 4\"").count(), lines - 6);
        }
        let json = serde_json::to_value(&points).unwrap();
        assert_eq!(json[0]["model"], "gaen-daily-summaries");
        assert_eq!(json[60]["model"], "cwa");
        assert_eq!(json[60]["near_bound_db"], 45);
    }

    #[test]
    fn each_model_has_its_document() {
        let points = grid();
        let gaen = &points[recommended_for(&points, Model::Gaen).unwrap()];
        let cwa = &points[recommended_for(&points, Model::Cwa).unwrap()];
        let documents = [
            risk_config_document("test", &RiskConfig::default(), gaen),
            cwa_risk_config_document("test", cwa),
        ];
        for (document, model) in documents.iter().zip(Model::ALL) {
            let text = serde_json::to_string_pretty(document).unwrap();
            let back: RiskConfigDocument = serde_json::from_str(&text).unwrap();
            back.validate().unwrap();
            assert_eq!(back.model, model.id());
            assert!(back.note.contains("precision 0.909, recall 1.000") || model == Model::Gaen);
            assert!(back.note.contains("false-positive rate") && back.note.contains("F1"));
        }
        assert_eq!(
            documents[1].parameters.cwa(),
            Some(&CwaParameters::corona_warn_app())
        );
    }
}
