//! Choosing risk parameters: the exposure windows every phone stored in one run are scored
//! again under a grid of attenuation thresholds and notification levels, with the same
//! scoring code the phones run, and compared with the ground truth. The result is a ROC curve
//! (recall against false-positive rate) per threshold set and a precision–recall plot, so a
//! health authority can pick its operating point knowing what it trades. The best F1 is
//! recommended, written as a risk configuration document ready to publish.

use std::fmt::Write as _;

use bluezone_protocol::risk::{RiskConfig, decide};
use bluezone_protocol::risk_config::RiskConfigDocument;
use serde::Serialize;

use crate::plot::Chart;
use crate::report::ratio;
use crate::run::Outcome;

/// One parameter set and how it did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Attenuation bucket bounds, dB.
    pub attenuation_thresholds_db: [u8; 3],
    /// Bucket weights.
    pub attenuation_weights: [f64; 4],
    /// Weighted minutes that notify.
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

/// The near-bucket bounds swept, dB; each set is `[b, b + 6, b + 14]`.
pub const NEAR_BOUNDS_DB: [u8; 6] = [45, 50, 55, 60, 65, 70];
/// The notification levels swept, weighted minutes.
pub const NOTIFY_MINUTES: [f64; 10] = [1.0, 2.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0];
/// Weights of the four buckets in every swept set.
pub const WEIGHTS: [f64; 4] = [1.0, 0.5, 0.0, 0.0];

/// Scores `outcome`'s windows under every swept parameter set.
#[must_use]
pub fn sweep(outcome: &Outcome) -> Vec<SweepPoint> {
    let mut points = Vec::new();
    for b in NEAR_BOUNDS_DB {
        for minutes in NOTIFY_MINUTES {
            let config = RiskConfig {
                attenuation_thresholds_db: [b, b.saturating_add(6), b.saturating_add(14)],
                attenuation_weights: WEIGHTS,
                notify_score: minutes * 60.0,
                ..outcome.risk.clone()
            };
            points.push(score(outcome, &config));
        }
    }
    points
}

/// How `config` does on `outcome`'s windows.
#[must_use]
pub fn score(outcome: &Outcome, config: &RiskConfig) -> SweepPoint {
    let (mut tp, mut fp, mut fn_, mut tn) = (0u32, 0u32, 0u32, 0u32);
    for (person, windows) in outcome.report.persons.iter().zip(&outcome.windows) {
        if person.positive {
            continue;
        }
        let notify = decide(windows, config, outcome.today).notify;
        match (person.close_contact, notify) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    SweepPoint {
        attenuation_thresholds_db: config.attenuation_thresholds_db,
        attenuation_weights: config.attenuation_weights,
        notify_minutes: config.notify_score / 60.0,
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        true_negatives: tn,
        precision: ratio(u64::from(tp), u64::from(tp + fp)),
        recall: ratio(u64::from(tp), u64::from(tp + fn_)),
        false_positive_rate: ratio(u64::from(fp), u64::from(fp + tn)),
    }
}

/// ROC curves: recall against false-positive rate, one curve per threshold set, traced by
/// the notification level.
#[must_use]
pub fn roc_plot(points: &[SweepPoint]) -> String {
    let mut chart = Chart::new(
        "ROC: close contacts notified against others notified",
        "false-positive rate (others notified)",
        (0.0, 1.0),
        "recall (close contacts notified)",
        (0.0, 1.0),
    );
    for (k, b) in NEAR_BOUNDS_DB.iter().enumerate() {
        let mut curve: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.attenuation_thresholds_db[0] == *b)
            .filter_map(|p| Some((p.false_positive_rate?, p.recall?)))
            .collect();
        curve.push((0.0, 0.0));
        curve.push((1.0, 1.0));
        curve.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        chart.line(&curve, k, &format!("near bucket ≤ {b} dB"), false);
    }
    chart.line(&[(0.0, 0.0), (1.0, 1.0)], 6, "chance", true);
    chart.finish()
}

/// Precision against recall for every swept set.
#[must_use]
pub fn precision_recall_plot(points: &[SweepPoint]) -> String {
    let mut chart = Chart::new(
        "Precision against recall",
        "recall",
        (0.0, 1.0),
        "precision",
        (0.0, 1.0),
    );
    for (k, b) in NEAR_BOUNDS_DB.iter().enumerate() {
        let mut curve: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.attenuation_thresholds_db[0] == *b)
            .filter_map(|p| Some((p.recall?, p.precision?)))
            .collect();
        curve.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        chart.line(&curve, k, &format!("near bucket ≤ {b} dB"), false);
    }
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

/// The recommended point: the best F1, the first of equals.
#[must_use]
pub fn recommended(points: &[SweepPoint]) -> Option<usize> {
    points
        .iter()
        .enumerate()
        .max_by(|a, b| f1(a.1).total_cmp(&f1(b.1)).then(b.0.cmp(&a.0)))
        .map(|(i, _)| i)
}

/// The recommended `point` as an unsigned risk configuration document for
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
    let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
    let scenario: String = scenario.chars().take(200).collect();
    let note = format!(
        "bluezone sim sweep, scenario {scenario}: precision {}, recall {}, false-positive rate \
         {}, F1 {:.3}",
        show(point.precision),
        show(point.recall),
        show(point.false_positive_rate),
        f1(point)
    );
    RiskConfigDocument::new(1, 0, &config, &note)
}

/// A Markdown table of every point, best F1 first marked.
#[must_use]
pub fn to_markdown(scenario: &str, points: &[SweepPoint]) -> String {
    let best = recommended(points);
    let mut md = format!(
        "# Risk parameter sweep: {scenario}\n\nThe exposure windows the phones stored in one \
         run, scored again under each parameter set (weights {WEIGHTS:?}).\n\n\
         ![ROC](roc.svg)\n\n![Precision against recall](precision-recall.svg)\n\n\
         | thresholds (dB) | notify (min) | TP | FP | FN | TN | precision | recall | FPR | F1 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    let show = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"));
    for (i, p) in points.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {:?}{} | {} | {} | {} | {} | {} | {} | {} | {} | {:.3} |",
            p.attenuation_thresholds_db,
            if Some(i) == best { " **best F1**" } else { "" },
            p.notify_minutes,
            p.true_positives,
            p.false_positives,
            p.false_negatives,
            p.true_negatives,
            show(p.precision),
            show(p.recall),
            show(p.false_positive_rate),
            f1(p)
        );
    }
    md
}
