//! What a run counts: ground truth per person and day, scans and detections near positive
//! people, the timeline, attenuation by distance and the scatter sample; and how a person's
//! row of the report is made from their tally and their phone's decision.

use bluezone_core::ExposureStatus;

use super::fleet::Phone;
use super::listen::World;
use super::{BAND_M, SCATTER_POINTS, Sample};
use crate::geometry::distance_squared;
use crate::grid::Grid;
use crate::movement::Pose;
use crate::report::{DistanceBin, PersonRow, round3};
use crate::scenario::{Carry, Os};
use crate::settings::ContactRule;

/// Per-phone counters.
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    /// Seconds within the contact distance of positive people, per day.
    pub(super) truth_s: Vec<f64>,
    /// Scan windows run (also the next window's id).
    pub(super) scans: u64,
    /// Scans made within the contact distance of a positive person.
    pub(super) near_positive: u32,
    /// Of those, scans that heard the positive person.
    pub(super) detecting_positive: u32,
}

/// Adds a step's time within the contact distance of each positive person (before their test).
pub(super) fn accumulate_truth(
    world: &World<'_>,
    poses: &[(usize, Pose)],
    grid: &Grid,
    t: f64,
    step: f64,
    day: usize,
    tallies: &mut [Tally],
) {
    let mut near = Vec::new();
    let reach_squared = world.rule.distance_m * world.rule.distance_m;
    for &(f, pose) in poses {
        if !world.phones[f].positive_at.is_some_and(|at| t < at) {
            continue;
        }
        near.clear();
        grid.candidates(pose.at, world.rule.distance_m, &mut near);
        for &slot in &near {
            let (p, other) = poses[slot as usize];
            if p != f && distance_squared(pose.at, other.at) <= reach_squared {
                tallies[p].truth_s[day] += step;
            }
        }
    }
}

/// Keeps the `SCATTER_POINTS` samples with the lowest hashes (a sample that does not depend
/// on the order results arrive in).
pub(super) fn keep_lowest(kept: &mut Vec<(u64, Sample)>, more: Vec<(u64, Sample)>) {
    kept.extend(more);
    if kept.len() > 2 * SCATTER_POINTS {
        kept.sort_by_key(|(h, _)| *h);
        kept.truncate(SCATTER_POINTS);
    }
}

/// Attenuation quantiles per distance band, from per-band histograms.
pub(super) fn distance_bins(bands: &[[u64; 128]]) -> Vec<DistanceBin> {
    bands
        .iter()
        .enumerate()
        .map(|(b, histogram)| {
            let count: u64 = histogram.iter().sum();
            let quantile = |q: f64| {
                if count == 0 {
                    return None;
                }
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let rank = ((count as f64 * q).ceil() as u64).max(1);
                let mut seen = 0;
                histogram.iter().enumerate().find_map(|(db, c)| {
                    seen += c;
                    (seen >= rank).then(|| u32::try_from(db).unwrap_or(u32::MAX))
                })
            };
            #[allow(clippy::cast_precision_loss)]
            let from = b as f64 * BAND_M;
            DistanceBin {
                from_m: from,
                to_m: from + BAND_M,
                adverts: count,
                p10_db: quantile(0.1),
                median_db: quantile(0.5),
                p90_db: quantile(0.9),
            }
        })
        .collect()
}

/// A person's row of the report: their truth, their phone's decision, and the outcome.
pub(super) fn person_row(
    phone: &Phone,
    tally: &Tally,
    status: &ExposureStatus,
    rule: &ContactRule,
    uptime: (f64, f64),
) -> PersonRow {
    let true_s = tally.truth_s.iter().copied().fold(0.0, f64::max);
    let close = true_s >= rule.minutes * 60.0;
    let measured = status
        .days
        .iter()
        .map(|d| d.weighted_minutes)
        .fold(0.0, f64::max);
    let outcome = match (phone.positive_at.is_some(), close, status.notify) {
        (true, _, _) => "positive",
        (false, true, true) => "TP",
        (false, false, true) => "FP",
        (false, true, false) => "FN",
        (false, false, false) => "TN",
    };
    PersonRow {
        name: phone.name.clone(),
        os: os_name(phone.os),
        model: phone.model.clone(),
        carry: match phone.carry {
            Carry::Hand => "hand",
            Carry::Pocket => "pocket",
            Carry::Bag => "bag",
        },
        calibration: phone.profile.calibration_source,
        positive: phone.positive_at.is_some(),
        true_contact_minutes: round3(true_s / 60.0),
        close_contact: close,
        measured_minutes: round3(measured),
        notified: status.notify,
        outcome,
        scans_near_positive: tally.near_positive,
        scans_detecting_positive: tally.detecting_positive,
        collecting_share: ratio_f(uptime.0, uptime.1),
    }
}

/// `collecting / present`, rounded (none when never present).
fn ratio_f(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| round3(part / whole))
}

/// `android` or `ios`.
pub(super) fn os_name(os: Os) -> &'static str {
    match os {
        Os::Android => "android",
        Os::Ios => "ios",
    }
}
