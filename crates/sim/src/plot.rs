//! Plots as self-contained SVG, written by hand (no plotting dependency): axes with round
//! ticks, scatter points, lines with a legend, and a confusion-matrix heat map. Output is
//! deterministic text, so plots can be compared like the report.

use std::fmt::Write as _;

use crate::report::{DistanceBin, TimelineRow, Totals};
use crate::run::Sample;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// Colours of successive series (colour-blind-safe palette).
const COLOURS: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round tick positions covering `[lo, hi]`.
#[must_use]
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).abs().max(1e-9);
    let rough = span / 6.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

fn label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// How a legend entry is drawn: a square for dots, a line sample for lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Square,
    Line,
    Dashed,
}

/// Width of one legend column, px.
const LEGEND_COLUMN: f64 = 140.0;

/// A chart being drawn: a plotting area with linear axes.
#[derive(Debug, Clone)]
pub struct Chart {
    x: (f64, f64),
    y: (f64, f64),
    body: String,
    legend: Vec<(String, &'static str, Mark)>,
    /// Legend entries that start a new column.
    legend_breaks: Vec<usize>,
    title: String,
    x_label: String,
    y_label: String,
}

impl Chart {
    /// A chart with a title, axis labels and ranges.
    #[must_use]
    pub fn new(title: &str, x_label: &str, x: (f64, f64), y_label: &str, y: (f64, f64)) -> Self {
        let widen = |(lo, hi): (f64, f64)| if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
        Self {
            x: widen(x),
            y: widen(y),
            body: String::new(),
            legend: Vec::new(),
            legend_breaks: Vec::new(),
            title: title.to_owned(),
            x_label: x_label.to_owned(),
            y_label: y_label.to_owned(),
        }
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        HEIGHT - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }

    /// Dots at `points`, in series colour `series`.
    pub fn points(&mut self, points: &[(f64, f64)], series: usize, name: &str) {
        let colour = COLOURS[series % COLOURS.len()];
        for &(x, y) in points {
            let _ = write!(
                self.body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{colour}" fill-opacity="0.35"/>"#,
                self.px(x),
                self.py(y)
            );
        }
        self.legend.push((name.to_owned(), colour, Mark::Square));
    }

    /// Starts a new legend column: the next series' entry goes to the top of it.
    pub fn legend_column(&mut self) {
        self.legend_breaks.push(self.legend.len());
    }

    /// A polyline through `points`, optionally dashed.
    pub fn line(&mut self, points: &[(f64, f64)], series: usize, name: &str, dashed: bool) {
        if points.is_empty() {
            return;
        }
        let colour = COLOURS[series % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", self.px(x), self.py(y)))
            .collect();
        let _ = write!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{}/>"#,
            path.join(" "),
            if dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            }
        );
        self.legend.push((
            name.to_owned(),
            colour,
            if dashed { Mark::Dashed } else { Mark::Line },
        ));
    }

    /// A horizontal reference line with a label at its right end.
    pub fn rule(&mut self, y: f64, text: &str) {
        let py = self.py(y);
        let _ = write!(
            self.body,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#888" stroke-dasharray="3 3"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            WIDTH - RIGHT,
            WIDTH - RIGHT - 4.0,
            py - 4.0,
            escape(text)
        );
    }

    /// The finished SVG document.
    #[must_use]
    pub fn finish(self) -> String {
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>"#
        );
        let _ = write!(
            svg,
            r#"<text x="{}" y="24" font-size="16" text-anchor="middle">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        for x in ticks(self.x.0, self.x.1) {
            let px = self.px(x);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
                HEIGHT - BOTTOM,
                HEIGHT - BOTTOM + 16.0,
                label(x)
            );
        }
        for y in ticks(self.y.0, self.y.1) {
            let py = self.py(y);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                py + 4.0,
                label(y)
            );
        }
        let _ = write!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}" fill="none" stroke="#333"/>"##,
            WIDTH - LEFT - RIGHT,
            HEIGHT - TOP - BOTTOM
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle">{}</text><text x="16" y="{:.1}" font-size="13" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            HEIGHT - 16.0,
            escape(&self.x_label),
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
            escape(&self.y_label)
        );
        svg.push_str(&self.body);
        let (mut column, mut row) = (0.0, 0.0);
        for (k, (name, colour, mark)) in self.legend.iter().enumerate() {
            if k > 0 && self.legend_breaks.contains(&k) {
                column += 1.0;
                row = 0.0;
            }
            let x = LEFT + 10.0 + LEGEND_COLUMN * column;
            let y = TOP + 14.0 + 16.0 * row;
            row += 1.0;
            let _ = match mark {
                Mark::Square => write!(
                    svg,
                    r#"<rect x="{x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/>"#,
                    y - 9.0
                ),
                Mark::Line | Mark::Dashed => write!(
                    svg,
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"{}/>"#,
                    y - 4.0,
                    x + 12.0,
                    y - 4.0,
                    if *mark == Mark::Dashed {
                        r#" stroke-dasharray="4 2""#
                    } else {
                        ""
                    }
                ),
            };
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{y:.1}" font-size="11">{}</text>"#,
                x + 16.0,
                escape(name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// Attenuation the phones measured against the true distance: a sample of adverts, the
/// median per band, and the risk thresholds.
#[must_use]
pub fn attenuation_vs_distance(
    samples: &[Sample],
    bins: &[DistanceBin],
    thresholds_db: [u8; 3],
) -> String {
    let max_d = bins
        .iter()
        .filter(|b| b.adverts > 0)
        .map(|b| b.to_m)
        .fold(1.0, f64::max);
    let max_a = samples
        .iter()
        .map(|s| s.attenuation_db)
        .fold(80.0, f64::max)
        .min(127.0);
    let mut chart = Chart::new(
        "Measured attenuation against true distance",
        "true distance (m)",
        (0.0, max_d),
        "attenuation (dB)",
        (20.0, max_a),
    );
    let points: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.distance_m <= max_d)
        .map(|s| (s.distance_m, s.attenuation_db))
        .collect();
    chart.points(&points, 0, "adverts heard (sample)");
    let medians: Vec<(f64, f64)> = bins
        .iter()
        .filter_map(|b| {
            b.median_db
                .map(|m| ((b.from_m + b.to_m) / 2.0, f64::from(m)))
        })
        .collect();
    chart.line(&medians, 1, "median per 0.5 m", false);
    for (k, t) in thresholds_db.iter().enumerate() {
        chart.rule(
            f64::from(*t) + 0.5,
            &format!("bucket bound {} ({t} dB)", k + 1),
        );
    }
    chart.finish()
}

/// People present, scans made near a positive person and scans that heard them, per ten
/// minutes.
#[must_use]
pub fn detections_over_time(timeline: &[TimelineRow]) -> String {
    let hours = |r: &TimelineRow| f64::from(r.minute) / 60.0;
    let x0 = timeline.first().map_or(0.0, hours);
    let x1 = timeline.last().map_or(1.0, |r| hours(r) + 1.0 / 6.0);
    let y1 = timeline
        .iter()
        .map(|r| f64::from(r.present.max(r.scans_near_positive)))
        .fold(1.0, f64::max);
    let mut chart = Chart::new(
        "Detections over time (per 10 minutes)",
        "hours since the first day began (UTC)",
        (x0, x1),
        "count",
        (0.0, y1 * 1.1),
    );
    let series = |f: &dyn Fn(&TimelineRow) -> u32| -> Vec<(f64, f64)> {
        timeline
            .iter()
            .map(|r| (hours(r), f64::from(f(r))))
            .collect()
    };
    chart.line(&series(&|r| r.present), 0, "people present", false);
    chart.line(
        &series(&|r| r.scans_near_positive),
        1,
        "scans within the contact distance of a positive person",
        false,
    );
    chart.line(
        &series(&|r| r.scans_detecting_positive),
        2,
        "… that heard the positive person's phone",
        true,
    );
    chart.finish()
}

/// The confusion matrix as a heat map.
#[must_use]
pub fn confusion_matrix(totals: &Totals) -> String {
    let cells = [
        ("true positive", totals.true_positives, 1, 0),
        ("false negative", totals.false_negatives, 0, 0),
        ("false positive", totals.false_positives, 1, 1),
        ("true negative", totals.true_negatives, 0, 1),
    ];
    let max = cells.iter().map(|c| c.1).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="440" height="360" viewBox="0 0 440 360" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="265" y="26" font-size="16" text-anchor="middle">Confusion matrix</text><text x="340" y="56" font-size="13" text-anchor="middle">notified</text><text x="190" y="56" font-size="13" text-anchor="middle">not notified</text>"#
    );
    let _ = write!(
        svg,
        r#"<text x="106" y="140" font-size="13" text-anchor="end">close</text><text x="106" y="156" font-size="13" text-anchor="end">contact</text><text x="106" y="270" font-size="13" text-anchor="end">not a close</text><text x="106" y="286" font-size="13" text-anchor="end">contact</text>"#
    );
    for (name, count, col, row) in cells {
        let x = 115.0 + 150.0 * f64::from(col);
        let y = 70.0 + 130.0 * f64::from(row);
        let good = name.starts_with("true");
        let shade = f64::from(count) / f64::from(max);
        let colour = if good { "0,114,178" } else { "213,94,0" };
        let _ = write!(
            svg,
            r##"<rect x="{x}" y="{y}" width="150" height="130" fill="rgb({colour})" fill-opacity="{:.3}" stroke="#333"/><text x="{:.1}" y="{:.1}" font-size="28" text-anchor="middle">{count}</text><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">{name}</text>"##,
            0.1 + 0.8 * shade,
            x + 75.0,
            y + 68.0,
            x + 75.0,
            y + 92.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 10.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(20.0, 95.0).first(), Some(&20.0));
        assert!(ticks(0.0, 1.0).len() >= 5);
        assert_eq!(label(2.0), "2");
        assert_eq!(label(0.5), "0.5");
    }

    #[test]
    fn charts_are_well_formed_and_escape_text() {
        let mut chart = Chart::new("A & B", "x", (0.0, 1.0), "y", (0.0, 0.0));
        chart.points(&[(0.5, 0.5)], 0, "<dots>");
        chart.line(&[(0.0, 0.0), (1.0, 1.0)], 1, "line", true);
        chart.legend_column();
        chart.line(&[(0.0, 1.0), (1.0, 0.0)], 2, "second column", false);
        chart.rule(0.25, "quarter");
        let svg = chart.finish();
        // Lines have line samples in the legend, dashed for a dashed line; the entry after a
        // column break is at the top of the next column.
        assert!(svg.contains("stroke-dasharray=\"4 2\""));
        assert!(svg.contains(&format!(
            r#"<text x="{:.1}" y="{:.1}" font-size="11">second column</text>"#,
            LEFT + 26.0 + LEGEND_COLUMN,
            TOP + 14.0
        )));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("A &amp; B") && svg.contains("&lt;dots&gt;"));
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("stroke-dasharray=\"6 4\""));
        let matrix = confusion_matrix(&Totals {
            true_positives: 3,
            false_negatives: 1,
            ..Totals::default()
        });
        assert_eq!(matrix.matches("<rect x=").count(), 4);
        assert!(matrix.contains(">3</text>") && matrix.contains(">1</text>"));
    }
}
