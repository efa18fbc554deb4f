//! One receiver's scan window: which advertisers are in range, what each one's packets go
//! through (path loss, obstacles, carry and body losses, shadowing, fading, loss, collisions,
//! the receiver's OS policy), and the batch of adverts heard, delivered to the receiver's
//! engine through the `SightingSink` port.

use std::time::{Duration, Instant};

use bluezone_core::{AdvertData, CoreError, CurrentAdvertisement, SightingInput, SightingSink};

use super::fleet::{Phone, TAG_DISCOVERY, TAG_PACKET, TAG_PHASE, TAG_SHADOW};
use super::{BAND_M, BANDS, Sample};
use crate::geometry::distance_squared;
use crate::grid::Grid;
use crate::movement::Pose;
use crate::noise::{hash, mix, normal, unit};
use crate::radio::{Obstacles, RadioModel};
use crate::report::round3;
use crate::scenario::Os;
use crate::settings::ContactRule;

/// What one receiver's scan produced.
#[derive(Default)]
pub(super) struct ScanResult {
    /// The receiver's slot among the people present.
    pub(super) slot: usize,
    /// The adverts heard, as delivered to the receiver's engine.
    pub(super) batch: Vec<SightingInput>,
    /// (distance band, attenuation) of each advert heard within the banded distances.
    pub(super) heard: Vec<(usize, u32)>,
    /// Candidates for the scatter plot, with the hash that ranks them.
    pub(super) samples: Vec<(u64, Sample)>,
    /// Positive people within the contact distance at the scan.
    pub(super) near_positive: u32,
    /// Of those, the ones heard.
    pub(super) detecting_positive: u32,
    /// Adverts the engine refused.
    pub(super) refused: u64,
    /// Time spent in the engine storing the batch.
    pub(super) ingest: Duration,
    /// The engine's error, if storing failed.
    pub(super) error: Option<CoreError>,
}

/// What every scan needs to know.
pub(super) struct World<'a> {
    /// The radio model.
    pub(super) radio: RadioModel,
    /// Walls and shelves.
    pub(super) obstacles: Obstacles,
    /// What a close contact is.
    pub(super) rule: ContactRule,
    /// Beyond this distance no packet can be heard.
    pub(super) range_m: f64,
    /// The run's seed.
    pub(super) seed: u64,
    /// Unix time of the first day's midnight.
    pub(super) start_unix: i64,
    /// Everyone's phone.
    pub(super) phones: &'a [Phone],
}

impl World<'_> {
    /// One receiver's scan window opening at `start` (seconds since the scenario began).
    pub(super) fn scan(
        &self,
        slot: usize,
        start: f64,
        scan_id: u64,
        poses: &[(usize, Pose)],
        grid: &Grid,
        adverts: &[Option<CurrentAdvertisement>],
    ) -> ScanResult {
        let (r, receiver_pose) = poses[slot];
        let receiver = &self.phones[r];
        let radio = &self.radio;
        let mut result = ScanResult {
            slot,
            ..ScanResult::default()
        };
        let mut candidates = Vec::new();
        grid.candidates(receiver_pose.at, self.range_m, &mut candidates);
        candidates.sort_unstable();
        let range_squared = self.range_m * self.range_m;
        let in_range: Vec<(usize, Pose, f64)> = candidates
            .iter()
            .map(|&s| poses[s as usize])
            .filter(|(a, _)| *a != r && adverts[*a].is_some())
            .map(|(a, pose)| (a, pose, distance_squared(receiver_pose.at, pose.at)))
            .filter(|(_, _, d2)| *d2 <= range_squared)
            .map(|(a, pose, d2)| (a, pose, d2.sqrt()))
            .collect();
        let window = receiver.policy.scan_window_s;
        for &(a, pose, d) in &in_range {
            let sender = &self.phones[a];
            let Some(current) = adverts[a] else { continue };
            let near_positive =
                sender.positive_at.is_some_and(|at| start < at) && d <= self.rule.distance_m;
            if near_positive {
                result.near_positive += 1;
            }
            // Unit vector from sender to receiver; its cosine with each facing direction sets
            // the body losses.
            let towards = if d > 1e-9 {
                [
                    (receiver_pose.at[0] - pose.at[0]) / d,
                    (receiver_pose.at[1] - pose.at[1]) / d,
                ]
            } else {
                pose.facing
            };
            let cos_sender = pose.facing[0] * towards[0] + pose.facing[1] * towards[1];
            let cos_receiver =
                -(receiver_pose.facing[0] * towards[0] + receiver_pose.facing[1] * towards[1]);
            // The cheap terms first: most pairs in range are too far to be heard even with
            // luck (three sigmas of shadowing, four of fading), and never need the rest.
            let unobstructed = sender.profile.tx_dbm
                - radio.path_loss_db(d)
                - radio.carry_loss_db(sender.carry)
                - radio.carry_loss_db(receiver.carry)
                - radio.body_loss(cos_sender)
                - radio.body_loss(cos_receiver)
                + receiver.profile.rssi_offset_db;
            let luck = 3.0 * radio.shadowing_sigma_db + 4.0 * radio.fading_sigma_db;
            if unobstructed + luck < radio.sensitivity_dbm {
                continue;
            }
            let (lo, hi) = (a.min(r) as u64, a.max(r) as u64);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let block = (start / radio.shadowing_coherence_s) as u64;
            // Shadowing beyond three sigmas is cut off, consistently with the bound above.
            let shadow = radio.shadowing_sigma_db
                * normal(hash(&[self.seed, TAG_SHADOW, lo, hi, block])).clamp(-3.0, 3.0);
            let mean = unobstructed + shadow - self.obstacles.loss_db(pose.at, receiver_pose.at);
            if mean + 4.0 * radio.fading_sigma_db < radio.sensitivity_dbm {
                continue;
            }
            if sender.os == Os::Ios
                && unit(hash(&[
                    self.seed,
                    TAG_DISCOVERY,
                    r as u64,
                    a as u64,
                    scan_id,
                ])) >= receiver.policy.ios_background_discovery
            {
                continue;
            }
            let collision = radio.collision_probability(
                in_range.len().saturating_sub(1),
                sender.interval_s * 1_000.0,
            );
            let lost = radio.packet_loss + (1.0 - radio.packet_loss) * collision;
            let mut offset = sender.interval_s
                * unit(hash(&[self.seed, TAG_PHASE, a as u64, r as u64, scan_id]));
            let mut heard_any = false;
            let mut k = 0u64;
            while offset < window {
                let h = hash(&[self.seed, TAG_PACKET, r as u64, a as u64, scan_id, k]);
                k += 1;
                let at = start + offset;
                offset += sender.interval_s;
                let rssi = mean + radio.fading_sigma_db * normal(h);
                if rssi < radio.sensitivity_dbm
                    || unit(mix(h ^ 0x1111)) < lost
                    || unit(mix(h ^ 0x2222)) >= receiver.policy.scan_duty
                {
                    continue;
                }
                #[allow(clippy::cast_possible_truncation)]
                let reported = rssi.round().clamp(-127.0, 20.0) as i16;
                #[allow(clippy::cast_possible_truncation)]
                let time = self.start_unix + at.floor() as i64;
                result.batch.push(SightingInput {
                    advert: AdvertData::Decoded(current.advertisement),
                    rssi: reported,
                    time,
                    scan_window: Some(scan_id),
                });
                let attenuation = (f64::from(sender.profile.calibrated_tx_dbm)
                    - (f64::from(reported) + f64::from(receiver.profile.rssi_correction_db)))
                .max(0.0);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let band = (d / BAND_M) as usize;
                if band < BANDS {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    result.heard.push((band, attenuation.round() as u32));
                }
                let pick = mix(h ^ 0x3333);
                if pick < u64::MAX / 32 {
                    result.samples.push((
                        pick,
                        Sample {
                            distance_m: round3(d),
                            attenuation_db: attenuation,
                        },
                    ));
                }
                heard_any = true;
                if receiver.policy.coalesce_duplicates {
                    break;
                }
            }
            if heard_any && near_positive {
                result.detecting_positive += 1;
            }
        }
        if !result.batch.is_empty() {
            let began = Instant::now();
            match receiver.tracer.deliver(&result.batch) {
                Ok(report) => {
                    result.refused = report.malformed
                        + report.implausible_rssi
                        + report.from_the_future
                        + report.too_old;
                }
                Err(e) => result.error = Some(e),
            }
            result.ingest = began.elapsed();
        }
        result
    }
}
