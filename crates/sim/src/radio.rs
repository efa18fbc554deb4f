//! The radio model: how strongly one phone hears another.
//!
//! The mean received power is the sender's true transmit power, minus a dual-slope
//! log-distance path loss with a per-metre clutter loss, minus the losses of the walls and shelves on the straight line
//! between the phones, of where each phone is carried, and of each holder's body when it is
//! between the phones, plus log-normal shadowing that is shared by the pair and changes every
//! `shadowing_coherence_s`, plus the receiver's own RSSI bias. Each packet then adds fast
//! fading, may be lost outright or to a collision with the other adverts in range, and is
//! only reported when it is above the receiver's sensitivity.
//!
//! Every parameter can be overridden in a scenario's `[radio]` table. The defaults are
//! plausible indoor values, not measurements: see `docs/QA-GUIDE.md` for their limits.

use serde::{Deserialize, Serialize};

use crate::geometry::{Point, length_inside_box, segments_cross};
use crate::scenario::{Carry, Place};

/// The radio model's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RadioModel {
    /// Path loss at 1 m, dB (free space at 2.4 GHz: 40 dB).
    pub loss_at_1m_db: f64,
    /// Path-loss exponent up to the breakpoint (2: free space).
    pub near_exponent: f64,
    /// Distance where the far exponent takes over, metres.
    pub breakpoint_m: f64,
    /// Path-loss exponent beyond the breakpoint (people, furniture, clutter).
    pub far_exponent: f64,
    /// Extra loss per metre of path, dB (bodies and goods absorbing along the way).
    pub clutter_db_per_m: f64,
    /// Standard deviation of log-normal shadowing, dB.
    pub shadowing_sigma_db: f64,
    /// How long one shadowing draw lasts for a pair, seconds.
    pub shadowing_coherence_s: f64,
    /// Standard deviation of per-packet fast fading, dB.
    pub fading_sigma_db: f64,
    /// Loss through a holder's body when it is squarely between the phones, dB.
    pub body_loss_db: f64,
    /// Extra loss of a phone held in the hand, dB.
    pub hand_loss_db: f64,
    /// Extra loss of a phone in a pocket, dB.
    pub pocket_loss_db: f64,
    /// Extra loss of a phone in a bag, dB.
    pub bag_loss_db: f64,
    /// Weakest signal a phone reports, dBm.
    pub sensitivity_dbm: f64,
    /// Share of packets lost whatever the signal (interference, scheduler), 0 to 1.
    pub packet_loss: f64,
    /// Air time of one advertising packet on one channel, milliseconds; with the number of
    /// advertisers in range it sets the collision rate.
    pub packet_airtime_ms: f64,
}

impl Default for RadioModel {
    fn default() -> Self {
        Self {
            loss_at_1m_db: 41.0,
            near_exponent: 2.0,
            breakpoint_m: 3.0,
            far_exponent: 3.3,
            clutter_db_per_m: 0.25,
            shadowing_sigma_db: 4.0,
            shadowing_coherence_s: 60.0,
            fading_sigma_db: 3.0,
            body_loss_db: 8.0,
            hand_loss_db: 0.0,
            pocket_loss_db: 3.0,
            bag_loss_db: 6.0,
            sensitivity_dbm: -98.0,
            packet_loss: 0.05,
            packet_airtime_ms: 0.376,
        }
    }
}

impl RadioModel {
    /// Checks that every parameter is in a range the model makes sense for; the error names
    /// the field.
    ///
    /// # Errors
    /// `(field, expected range)` for the first parameter out of range.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let checks: [(&str, f64, f64, f64); 15] = [
            ("clutter_db_per_m", self.clutter_db_per_m, 0.0, 5.0),
            ("loss_at_1m_db", self.loss_at_1m_db, 20.0, 80.0),
            ("near_exponent", self.near_exponent, 1.0, 6.0),
            ("breakpoint_m", self.breakpoint_m, 0.5, 100.0),
            ("far_exponent", self.far_exponent, 1.0, 6.0),
            ("shadowing_sigma_db", self.shadowing_sigma_db, 0.0, 20.0),
            (
                "shadowing_coherence_s",
                self.shadowing_coherence_s,
                1.0,
                3_600.0,
            ),
            ("fading_sigma_db", self.fading_sigma_db, 0.0, 20.0),
            ("body_loss_db", self.body_loss_db, 0.0, 40.0),
            ("hand_loss_db", self.hand_loss_db, 0.0, 40.0),
            ("pocket_loss_db", self.pocket_loss_db, 0.0, 40.0),
            ("bag_loss_db", self.bag_loss_db, 0.0, 40.0),
            ("sensitivity_dbm", self.sensitivity_dbm, -127.0, -40.0),
            ("packet_loss", self.packet_loss, 0.0, 1.0),
            ("packet_airtime_ms", self.packet_airtime_ms, 0.0, 10.0),
        ];
        for (field, value, lo, hi) in checks {
            if !(lo..=hi).contains(&value) {
                return Err((field, "out of the model's range (see docs/QA-GUIDE.md)"));
            }
        }
        Ok(())
    }

    /// Path loss at `distance_m`, dB (distances under 10 cm count as 10 cm), clutter included.
    #[must_use]
    pub fn path_loss_db(&self, distance_m: f64) -> f64 {
        let d = distance_m.max(0.1);
        let slope = if d <= self.breakpoint_m {
            self.loss_at_1m_db + 10.0 * self.near_exponent * d.log10()
        } else {
            self.loss_at_1m_db
                + 10.0 * self.near_exponent * self.breakpoint_m.log10()
                + 10.0 * self.far_exponent * (d / self.breakpoint_m).log10()
        };
        slope + self.clutter_db_per_m * d
    }

    /// The loss of where a phone is carried, dB.
    #[must_use]
    pub fn carry_loss_db(&self, carry: Carry) -> f64 {
        match carry {
            Carry::Hand => self.hand_loss_db,
            Carry::Pocket => self.pocket_loss_db,
            Carry::Bag => self.bag_loss_db,
        }
    }

    /// The loss of a holder's body for a signal leaving (or arriving) at an angle whose
    /// cosine to the direction they face is `cos_angle`: none straight ahead, all of
    /// `body_loss_db` straight behind.
    #[must_use]
    pub fn body_loss(&self, cos_angle: f64) -> f64 {
        self.body_loss_db * (1.0 - cos_angle) / 2.0
    }

    /// The farthest distance at which a packet can still be heard: where the path loss
    /// leaves the strongest sender at sensitivity with three standard deviations of shadowing
    /// and fading together in its favour. Pairs farther apart are not evaluated.
    #[must_use]
    pub fn range_m(&self, strongest_tx_dbm: f64, best_receiver_offset_db: f64) -> f64 {
        let spread = self.shadowing_sigma_db.hypot(self.fading_sigma_db);
        let budget =
            strongest_tx_dbm + best_receiver_offset_db - self.sensitivity_dbm + 3.0 * spread;
        // Path loss only grows with distance: bisect.
        let (mut lo, mut hi) = (0.1, 10_000.0);
        if self.path_loss_db(lo) >= budget {
            return lo;
        }
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if self.path_loss_db(mid) < budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Probability that one packet collides with another advert in range, with `senders`
    /// other advertisers each sending every `interval_ms` on average (pure ALOHA).
    #[must_use]
    pub fn collision_probability(&self, senders: usize, interval_ms: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let load = senders as f64 * 2.0 * self.packet_airtime_ms / interval_ms.max(1.0);
        1.0 - (-load).exp()
    }
}

/// The walls and shelves of a place, ready for line-of-sight tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obstacles {
    walls: Vec<(Point, Point, f64)>,
    shelves: Vec<(Point, Point, f64)>,
}

impl Obstacles {
    /// The obstacles of a place.
    #[must_use]
    pub fn of(place: &Place) -> Self {
        Self {
            walls: place
                .walls
                .iter()
                .map(|w| {
                    (
                        *w.from.get_ref(),
                        *w.to.get_ref(),
                        *w.attenuation_db.get_ref(),
                    )
                })
                .collect(),
            shelves: place
                .shelves
                .iter()
                .map(|s| {
                    let [x, y] = *s.at.get_ref();
                    let [w, d] = *s.size.get_ref();
                    ([x, y], [x + w, y + d], *s.attenuation_db.get_ref())
                })
                .collect(),
        }
    }

    /// The loss between two points, dB: each wall crossed in full, each shelf in proportion
    /// to how much of it the line cuts through (in full from half a metre).
    #[must_use]
    pub fn loss_db(&self, a: Point, b: Point) -> f64 {
        let walls: f64 = self
            .walls
            .iter()
            .filter(|(from, to, _)| segments_cross(a, b, *from, *to))
            .map(|(_, _, db)| db)
            .sum();
        let shelves: f64 = self
            .shelves
            .iter()
            .map(|(min, max, db)| db * (length_inside_box(a, b, *min, *max) / 0.5).min(1.0))
            .sum();
        walls + shelves
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_loss_is_continuous_and_steeper_beyond_the_breakpoint() {
        let m = RadioModel {
            clutter_db_per_m: 0.0,
            ..RadioModel::default()
        };
        assert!((m.path_loss_db(1.0) - 41.0).abs() < 1e-9);
        assert!((m.path_loss_db(2.0) - (41.0 + 20.0 * 2f64.log10())).abs() < 1e-9);
        let (below, above) = (m.path_loss_db(2.999_999), m.path_loss_db(3.000_001));
        assert!((above - below).abs() < 1e-4);
        let near_decade = m.path_loss_db(2.0) - m.path_loss_db(0.2);
        assert!((near_decade - 20.0).abs() < 1e-9);
        let far_decade = m.path_loss_db(40.0) - m.path_loss_db(4.0);
        assert!((far_decade - 33.0).abs() < 1e-9);
        assert_eq!(m.path_loss_db(0.0), m.path_loss_db(0.1));
    }

    #[test]
    fn the_range_inverts_the_budget() {
        let m = RadioModel::default();
        let r = m.range_m(-5.0, 3.0);
        let budget = -5.0 + 3.0 + 98.0 + 3.0 * 5.0;
        assert!((m.path_loss_db(r) - budget).abs() < 1e-6, "{r}");
        assert!((30.0..80.0).contains(&r), "{r}");
        let short = RadioModel {
            sensitivity_dbm: -60.0,
            shadowing_sigma_db: 0.0,
            fading_sigma_db: 0.0,
            ..m
        };
        let r = short.range_m(-15.0, 0.0);
        assert!(
            r < 3.0 && (short.path_loss_db(r) - 45.0).abs() < 1e-6,
            "{r}"
        );
    }

    #[test]
    fn bodies_block_from_behind_and_collisions_grow_with_crowds() {
        let m = RadioModel::default();
        assert!(m.body_loss(1.0).abs() < 1e-9);
        assert!((m.body_loss(-1.0) - 8.0).abs() < 1e-9);
        assert!((m.body_loss(0.0) - 4.0).abs() < 1e-9);
        assert_eq!(m.collision_probability(0, 250.0), 0.0);
        let few = m.collision_probability(10, 250.0);
        let many = m.collision_probability(200, 250.0);
        assert!(0.0 < few && few < many && many < 1.0, "{few} {many}");
    }

    #[test]
    fn parameters_out_of_range_are_named() {
        let bad = RadioModel {
            packet_loss: 1.5,
            ..RadioModel::default()
        };
        assert_eq!(bad.check().unwrap_err().0, "packet_loss");
        assert!(RadioModel::default().check().is_ok());
    }
}
