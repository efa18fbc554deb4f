//! Writing a run's files: `report.json`, `report.md` and the plots, and for a sweep
//! `sweep.json`, `sweep.md`, `roc.svg`, `precision-recall.svg`, `risk-config.json` (GAEN's
//! recommended point) and `risk-config-cwa.json` (CWA's), unsigned, for
//! `bluezone server risk-config --set`.

use std::path::{Path, PathBuf};

use crate::plot;
use crate::run::Outcome;
use crate::sweep::{self, Model, SweepPoint};

/// Writes a run's report and plots into `dir` (created if missing); returns the paths written.
///
/// # Errors
/// I/O errors creating the folder or writing a file.
pub fn write_run(outcome: &Outcome, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let report = &outcome.report;
    let json = report.to_json().map_err(std::io::Error::other)?;
    write_all(
        dir,
        &[
            ("report.json", json),
            ("report.md", report.to_markdown()),
            (
                "attenuation-vs-distance.svg",
                plot::attenuation_vs_distance(
                    &outcome.samples,
                    &report.attenuation_by_distance,
                    report.risk.attenuation_thresholds_db,
                ),
            ),
            (
                "detections-over-time.svg",
                plot::detections_over_time(&report.timeline),
            ),
            (
                "confusion-matrix.svg",
                plot::confusion_matrix(&report.totals),
            ),
        ],
    )
}

/// Writes a sweep's tables, curves and each model's recommended document into `dir`;
/// returns the paths written.
///
/// # Errors
/// I/O errors.
pub fn write_sweep(
    outcome: &Outcome,
    points: &[SweepPoint],
    dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let mut json = serde_json::to_string_pretty(points).map_err(std::io::Error::other)?;
    json.push('\n');
    let mut files = vec![
        ("sweep.json", json),
        (
            "sweep.md",
            sweep::to_markdown(&outcome.report.scenario, points),
        ),
        ("roc.svg", sweep::roc_plot(points)),
        ("precision-recall.svg", sweep::precision_recall_plot(points)),
    ];
    let scenario = &outcome.report.scenario;
    for (model, name) in [
        (Model::Gaen, "risk-config.json"),
        (Model::Cwa, "risk-config-cwa.json"),
    ] {
        let Some(best) = sweep::recommended_for(points, model).and_then(|i| points.get(i)) else {
            continue;
        };
        let document = match model {
            Model::Gaen => sweep::risk_config_document(scenario, &outcome.risk, best),
            Model::Cwa => sweep::cwa_risk_config_document(scenario, best),
        };
        let mut json = serde_json::to_string_pretty(&document).map_err(std::io::Error::other)?;
        json.push('\n');
        files.push((name, json));
    }
    write_all(dir, &files)
}

fn write_all(dir: &Path, files: &[(&str, String)]) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    files
        .iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}
