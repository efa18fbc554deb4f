//! What one receiver's radio hears during a span of time: which advertisers are in range,
//! what each one's packets go through (path loss, obstacles, carry and body losses,
//! shadowing, fading, loss, collisions, the receiver's OS), and which of them the receiver's
//! OS reports given how each advertiser is on air (an Android payload, an iPhone's service
//! UUID, an iPhone's overflow area) and the scan's filters. The reports go to the receiver's
//! driver as scan results; nothing here decides what the phone does with them.

use bluezone_core::AdvertData;
use bluezone_core::driver::{ScanFilters, ScanReport};
use bluezone_protocol::attenuation::attenuation_db;

use super::device::{Air, AirForm};
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

/// An iPhone in the foreground: flags and the FD6F service UUID, no payload.
pub(super) const IOS_FOREGROUND_ADVERT: [u8; 7] = [2, 1, 6, 3, 3, 0x6f, 0xfd];

/// An iPhone in the background: flags and Apple's overflow area with one bit set.
pub(super) fn ios_overflow_advert() -> Vec<u8> {
    let mut bytes = vec![2, 1, 6, 20, 0xff, 0x4c, 0x00, 0x01];
    bytes.extend([0u8; 16]);
    bytes[12] = 0x40;
    bytes
}

/// One advert reported to a receiver.
#[derive(Debug, Clone)]
pub(super) struct Reported {
    /// When, seconds since the scenario began.
    pub(super) at: f64,
    /// The advertiser's index.
    pub(super) sender: usize,
    /// The scan result.
    pub(super) report: ScanReport,
}

/// What one span of listening produced.
#[derive(Default)]
pub(super) struct Heard {
    /// The adverts reported, in time order per sender (the device sorts them).
    pub(super) reports: Vec<Reported>,
    /// (distance band, attenuation) of each packet received within the banded distances.
    pub(super) bands: Vec<(usize, u32)>,
    /// Candidates for the scatter plot, with the hash that ranks them.
    pub(super) samples: Vec<(u64, Sample)>,
    /// Advertisers on air within the contact distance at the start, and how they were on
    /// air: `(sender, form)`.
    pub(super) near: Vec<(usize, AirForm)>,
}

impl Heard {
    /// Counts a packet received at `distance_m` with `attenuation` (dB) in its distance band,
    /// and keeps it as a scatter candidate when its hash `h` picks it (one in 32).
    fn measure(&mut self, distance_m: f64, attenuation: u8, h: u64) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let band = (distance_m / BAND_M) as usize;
        if band < BANDS {
            self.bands.push((band, u32::from(attenuation)));
        }
        let pick = mix(h ^ 0x3333);
        if pick < u64::MAX / 32 {
            self.samples.push((
                pick,
                Sample {
                    distance_m: round3(distance_m),
                    attenuation_db: f64::from(attenuation),
                },
            ));
        }
    }
}

/// A sender on air within radio range of a receiver.
#[derive(Debug, Clone, Copy)]
struct Link {
    /// The sender's index.
    sender: usize,
    /// Where it is.
    pose: Pose,
    /// Its distance to the receiver, metres.
    distance_m: f64,
    /// How it is on air.
    on: Air,
}

/// The advert a receiver's OS reports for a sender on air as `on`.
fn advert_data(on: Air) -> AdvertData {
    match on.form {
        AirForm::AndroidPayload => AdvertData::Decoded(on.advertisement),
        AirForm::IosForeground => AdvertData::Raw(IOS_FOREGROUND_ADVERT.to_vec()),
        AirForm::IosBackground => AdvertData::Raw(ios_overflow_advert()),
    }
}

/// How the receiver listens.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listening {
    /// Start, seconds since the scenario began.
    pub(super) start: f64,
    /// Length, seconds.
    pub(super) length: f64,
    /// A number unique to this span for this receiver (the hashes' subject).
    pub(super) id: u64,
    /// The scan's filters.
    pub(super) filters: ScanFilters,
    /// The receiver's app is on screen (iOS reports overflow adverts only then).
    pub(super) foreground: bool,
    /// One report per advertiser.
    pub(super) coalesce: bool,
}

/// What every listening span needs to know.
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
    /// Everyone's phone.
    pub(super) phones: &'a [Phone],
}

impl World<'_> {
    /// Whether receiver `r` (with `how`) is told of adverts in `form` at all.
    fn visible(&self, r: usize, form: AirForm, how: &Listening) -> bool {
        match form {
            AirForm::AndroidPayload | AirForm::IosForeground => how.filters.exposure_service,
            AirForm::IosBackground => match self.phones[r].os {
                Os::Android => how.filters.apple_manufacturer_data,
                Os::Ios => how.foreground && how.filters.exposure_service,
            },
        }
    }

    /// Receiver at `slot` listens as `how`, with everyone on air as `air`: each sender in
    /// range, seen in the form it is on air, whose signal can reach the receiver at all,
    /// sends its packets through the span.
    pub(super) fn listen(
        &self,
        slot: usize,
        how: &Listening,
        poses: &[(usize, Pose)],
        grid: &Grid,
        air: &[Option<Air>],
    ) -> Heard {
        let (r, receiver_pose) = poses[slot];
        let mut heard = Heard::default();
        let in_range = self.in_range(r, receiver_pose, poses, grid, air);
        for link in &in_range {
            if link.distance_m <= self.rule.distance_m {
                heard.near.push((link.sender, link.on.form));
            }
            if !self.visible(r, link.on.form, how) {
                continue;
            }
            let Some(mean) = self.mean_rssi(r, receiver_pose, link, how) else {
                continue;
            };
            self.packets(r, link, mean, in_range.len(), how, &mut heard);
        }
        heard
    }

    /// The senders on air within radio range of receiver `r` at `receiver_pose`, in slot
    /// order.
    fn in_range(
        &self,
        r: usize,
        receiver_pose: Pose,
        poses: &[(usize, Pose)],
        grid: &Grid,
        air: &[Option<Air>],
    ) -> Vec<Link> {
        let mut candidates = Vec::new();
        grid.candidates(receiver_pose.at, self.range_m, &mut candidates);
        candidates.sort_unstable();
        let range_squared = self.range_m * self.range_m;
        candidates
            .iter()
            .map(|&s| poses[s as usize])
            .filter(|(a, _)| *a != r)
            .filter_map(|(a, pose)| air[a].map(|on| (a, pose, on)))
            .map(|(a, pose, on)| (a, pose, distance_squared(receiver_pose.at, pose.at), on))
            .filter(|(_, _, d2, _)| *d2 <= range_squared)
            .map(|(sender, pose, d2, on)| Link {
                sender,
                pose,
                distance_m: d2.sqrt(),
                on,
            })
            .collect()
    }

    /// The mean power at receiver `r` of `link`'s packets during the span, dBm: transmit
    /// power, path, carry and body losses, shadowing and obstacles. `None` when even the
    /// luckiest fading could not lift it above the receiver's sensitivity.
    fn mean_rssi(
        &self,
        r: usize,
        receiver_pose: Pose,
        link: &Link,
        how: &Listening,
    ) -> Option<f64> {
        let radio = &self.radio;
        let (a, pose, d) = (link.sender, link.pose, link.distance_m);
        let sender = &self.phones[a];
        let receiver = &self.phones[r];
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
            return None;
        }
        let (lo, hi) = (a.min(r) as u64, a.max(r) as u64);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let block = (how.start / radio.shadowing_coherence_s) as u64;
        // Shadowing beyond three sigmas is cut off, consistently with the bound above.
        let shadow = radio.shadowing_sigma_db
            * normal(hash(&[self.seed, TAG_SHADOW, lo, hi, block])).clamp(-3.0, 3.0);
        let mean = unobstructed + shadow - self.obstacles.loss_db(pose.at, receiver_pose.at);
        (mean + 4.0 * radio.fading_sigma_db >= radio.sensitivity_dbm).then_some(mean)
    }

    /// `link`'s packets through the span, at its advertising interval from a random phase:
    /// each faded around `mean`, lost, collided (with `in_range` senders around) or missed by
    /// the receiver's duty cycle, or reported to `heard` (only the first when the scan
    /// coalesces).
    fn packets(
        &self,
        r: usize,
        link: &Link,
        mean: f64,
        in_range: usize,
        how: &Listening,
        heard: &mut Heard,
    ) {
        let radio = &self.radio;
        let a = link.sender;
        let sender = &self.phones[a];
        let receiver = &self.phones[r];
        let collision =
            radio.collision_probability(in_range.saturating_sub(1), sender.interval_s * 1_000.0);
        let lost = radio.packet_loss + (1.0 - radio.packet_loss) * collision;
        let mut offset =
            sender.interval_s * unit(hash(&[self.seed, TAG_PHASE, a as u64, r as u64, how.id]));
        let mut k = 0u64;
        let device = format!("{a}.{}", link.on.epoch);
        while offset < how.length {
            let h = hash(&[self.seed, TAG_PACKET, r as u64, a as u64, how.id, k]);
            k += 1;
            let at = how.start + offset;
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
            heard.reports.push(Reported {
                at,
                sender: a,
                report: ScanReport {
                    device: device.clone(),
                    advert: advert_data(link.on),
                    service_uuids: Vec::new(),
                    apple_overflow: false,
                    rssi: reported,
                    tx_power_dbm: None,
                },
            });
            // What the receiving phone computes, from the RSSI it reported.
            let attenuation = attenuation_db(
                i16::from(sender.profile.calibrated_tx_dbm),
                reported,
                receiver.profile.rssi_correction_db,
            );
            heard.measure(link.distance_m, attenuation, h);
            if how.coalesce {
                break;
            }
        }
    }

    /// Whether a GATT read by `r` of `a` (on air as `on`) succeeds, and how long it takes:
    /// the receiver's OS figures, the signal at the read, and a draw.
    pub(super) fn read(
        &self,
        r: usize,
        a: usize,
        distance_m: Option<f64>,
        on: Option<Air>,
        draw: u64,
    ) -> (bool, f64) {
        let receiver = &self.phones[r];
        let policy = &receiver.policy;
        let [lo, hi] = policy.gatt_latency_s;
        let latency = lo + (hi - lo) * unit(mix(draw ^ 0x4444));
        let (Some(d), Some(on)) = (distance_m, on) else {
            return (false, latency);
        };
        if on.form == AirForm::AndroidPayload || d > self.range_m {
            return (false, latency);
        }
        let sender = &self.phones[a];
        let mean = sender.profile.tx_dbm
            - self.radio.path_loss_db(d)
            - self.radio.carry_loss_db(sender.carry)
            - self.radio.carry_loss_db(receiver.carry)
            + receiver.profile.rssi_offset_db;
        let ok = mean >= policy.gatt_min_rssi_dbm
            && unit(hash(&[self.seed, TAG_DISCOVERY, r as u64, a as u64, draw]))
                < policy.gatt_success;
        (ok, latency)
    }
}
