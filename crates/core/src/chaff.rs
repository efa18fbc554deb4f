//! When a phone sends fake ("chaff") upload sequences, decided here and nowhere else
//! (decision 0018): [`ChaffSchedule`], pure, with the time passed in and the random
//! number generator injected.
//!
//! Only a person who tested positive ever calls `/v1/verify`, `/v1/certificate` and
//! `/v1/publish`; every phone therefore also makes the same three calls at random times, so
//! an observer of the network cannot tell which sequences are real. Sequences start as a
//! Poisson process (exponential gaps with a mean the app tunes, default three days): the
//! time to the next one does not depend on the past, so a restart, a late background job or
//! a real upload tells nothing about the next fake. Within a sequence the three requests are
//! spaced as the app spaces a real one: the code is verified, the person reads the consent
//! screen for a while ([`ChaffSchedule::gap_secs`]), then certificate and publish follow at
//! once.

use rand::RngExt as _;

/// The rate and shape of fake upload sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaffSchedule {
    /// Mean time between two fake sequences, in seconds (default 259,200: three days);
    /// 0 sends none.
    pub mean_interval_secs: u32,
    /// Shortest wait between the verify request and the certificate request, in seconds
    /// (default 5).
    pub gap_min_secs: u32,
    /// Longest such wait, in seconds (default 20: a whole sequence fits in the 30 seconds
    /// iOS gives a background refresh task).
    pub gap_max_secs: u32,
}

impl Default for ChaffSchedule {
    fn default() -> Self {
        Self {
            mean_interval_secs: 3 * 86_400,
            gap_min_secs: 5,
            gap_max_secs: 20,
        }
    }
}

/// No draw is taken further than this many means from now (a draw that far out has a
/// probability of e^-50: the cap only keeps the arithmetic finite).
const MAX_MEANS: f64 = 50.0;

impl ChaffSchedule {
    /// Whether this schedule sends anything.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.mean_interval_secs > 0
    }

    /// When the next fake sequence starts after `now` (Unix seconds), drawn from an
    /// exponential distribution of mean [`ChaffSchedule::mean_interval_secs`]; `None` when
    /// chaff is off.
    pub fn next_after<R: rand::Rng + ?Sized>(&self, now: i64, rng: &mut R) -> Option<i64> {
        if !self.is_enabled() {
            return None;
        }
        // `u` in (0, 1]: its logarithm is finite and at most 0.
        let u = 1.0 - rng.random::<f64>();
        let means = (-u.ln()).min(MAX_MEANS);
        let secs = means * f64::from(self.mean_interval_secs);
        // At most 50 × u32::MAX seconds: well within i64, so the cast does not truncate.
        #[allow(clippy::cast_possible_truncation)]
        let secs = secs.round() as i64;
        Some(now.saturating_add(secs.max(1)))
    }

    /// The wait between a fake sequence's verify request and its certificate request, in
    /// seconds: uniform between the two bounds.
    pub fn gap_secs<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        let (low, high) = (
            self.gap_min_secs.min(self.gap_max_secs),
            self.gap_max_secs.max(self.gap_min_secs),
        );
        rng.random_range(low..=high)
    }
}

/// What one call to [`crate::Tracer::run_due_chaff`] or [`crate::Tracer::send_chaff`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ChaffReport {
    /// Fake requests that reached the server (0 to 3).
    pub requests_sent: u32,
    /// Of those, how many the server refused instead of answering as chaff (a server too
    /// old to know chaff refuses it as malformed; on the wire it looks the same).
    pub refused: u32,
    /// When the next fake sequence is due (Unix seconds); `None` when chaff is off.
    pub next_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_mean_gap_is_the_configured_one_and_a_seed_repeats_the_draws() {
        let schedule = ChaffSchedule::default();
        let mean = f64::from(schedule.mean_interval_secs);
        let mut rng = StdRng::seed_from_u64(16);
        let draws = 20_000;
        let mut total = 0.0;
        let mut below_mean = 0;
        for _ in 0..draws {
            let gap = schedule.next_after(0, &mut rng).expect("enabled");
            assert!(gap >= 1);
            #[allow(clippy::cast_precision_loss)]
            let gap = gap as f64;
            total += gap;
            below_mean += usize::from(gap < mean);
        }
        // The mean of 20,000 exponential draws has a standard error of 0.7 % of the mean.
        let observed = total / f64::from(draws);
        assert!((observed / mean - 1.0).abs() < 0.03, "mean {observed}");
        // An exponential distribution, not a uniform one: P(X < mean) = 1 - 1/e = 0.632.
        #[allow(clippy::cast_precision_loss)]
        let share = below_mean as f64 / f64::from(draws);
        assert!((share - 0.632).abs() < 0.02, "share {share}");

        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..5)
                .map(|_| schedule.next_after(1_000, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn a_rate_of_zero_sends_nothing_and_gaps_stay_within_their_bounds() {
        let mut rng = StdRng::seed_from_u64(1);
        let off = ChaffSchedule {
            mean_interval_secs: 0,
            ..ChaffSchedule::default()
        };
        assert!(!off.is_enabled());
        assert_eq!(off.next_after(5, &mut rng), None);

        let schedule = ChaffSchedule::default();
        let gaps: Vec<u32> = (0..2_000).map(|_| schedule.gap_secs(&mut rng)).collect();
        assert!(gaps.iter().all(|g| (5..=20).contains(g)));
        assert!(gaps.contains(&5) && gaps.contains(&20));
        // Bounds given the wrong way round are read the right way round.
        let swapped = ChaffSchedule {
            gap_min_secs: 9,
            gap_max_secs: 3,
            ..schedule
        };
        assert!((3..=9).contains(&swapped.gap_secs(&mut rng)));
        // A tuned rate: one a day.
        let daily = ChaffSchedule {
            mean_interval_secs: 86_400,
            ..schedule
        };
        let total: i64 = (0..10_000)
            .map(|_| daily.next_after(0, &mut rng).expect("enabled"))
            .sum();
        assert!(
            (total / 10_000 - 86_400).abs() < 86_400 * 4 / 100,
            "{total}"
        );
    }
}
