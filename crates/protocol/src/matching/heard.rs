//! The intervals in which the phone heard anything: a key none of whose intervals, widened
//! by the validity window, holds one cannot match, and costs no HKDF, no AES and no probe.
//! (A phone left at home, with Bluetooth off or alone for a day, skips that day's keys.)

use crate::time::INTERVAL_SECONDS;

/// One bit per 10-minute interval from the first in which a scan that heard something
/// started to the last.
#[derive(Debug, Clone, Default)]
pub(super) struct HeardIntervals {
    first: u64,
    bits: Vec<u64>,
}

impl HeardIntervals {
    /// The intervals of scans starting at these Unix times (in any order; times before 1970
    /// are left out, as no RPI's interval can be within a window of them).
    pub(super) fn build(scan_starts: impl Iterator<Item = i64> + Clone) -> Self {
        let intervals = || {
            scan_starts
                .clone()
                .filter_map(|t| u64::try_from(t.div_euclid(INTERVAL_SECONDS)).ok())
        };
        let (Some(first), Some(last)) = (intervals().min(), intervals().max()) else {
            return Self::default();
        };
        let span = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        let mut bits = vec![0u64; span.div_ceil(64)];
        for interval in intervals() {
            let i = usize::try_from(interval - first).unwrap_or(usize::MAX);
            bits[i / 64] |= 1 << (i % 64);
        }
        Self { first, bits }
    }

    /// Whether anything was heard in an interval from `from` to `to`, both included.
    pub(super) fn any_between(&self, from: u64, to: u64) -> bool {
        let last = self.first + self.bits.len() as u64 * 64;
        if self.bits.is_empty() || to < self.first || from >= last || from > to {
            return false;
        }
        let from = usize::try_from(from.saturating_sub(self.first)).unwrap_or(usize::MAX);
        let to = usize::try_from((to - self.first).min(last - self.first - 1)).unwrap_or(0);
        (from / 64..=to / 64).any(|w| {
            let low = if w == from / 64 { from % 64 } else { 0 };
            let high = if w == to / 64 { to % 64 } else { 63 };
            let mask = (u64::MAX << low) & (u64::MAX >> (63 - high));
            self.bits[w] & mask != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers exactly as a scan of every interval would, over gaps, edges and word
    /// boundaries.
    #[test]
    fn any_between_agrees_with_a_scan_of_every_interval() {
        let heard: Vec<u64> = vec![1000, 1001, 1063, 1064, 1200, 1327, 1500];
        let index = HeardIntervals::build(heard.iter().map(|i| (*i as i64) * 600 + 17));
        for from in 990u64..1510 {
            for to in (from.saturating_sub(3)..1510).step_by(7) {
                let expected = heard.iter().any(|i| (from..=to).contains(i));
                assert_eq!(index.any_between(from, to), expected, "{from}..={to}");
            }
        }
        assert!(!HeardIntervals::build(std::iter::empty()).any_between(0, u64::MAX));
        assert!(index.any_between(0, u64::MAX));
    }
}
