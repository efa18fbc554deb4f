//! The intervals in which the phone heard anything: a key none of whose intervals, widened
//! by the validity window, holds one cannot match, and costs no HKDF, no AES and no probe
//! (a phone with Bluetooth off, or alone, for a day skips that day's keys); of the others,
//! only the intervals from the first to the last that could have been heard are derived and
//! probed (the ends of a day before the phone first heard anyone, or after it last did). A
//! gap inside a day is not skipped: a silent night in Vietnam (UTC+7) ends at 07:00, the
//! start of the next UTC day, within two hours of the key's last interval. (A mask of the
//! live intervals, packed before the AES, was tried and cost more than it saved.)

use crate::time::INTERVAL_SECONDS;

/// The most intervals [`HeardIntervals`] keeps one bit for (about 20 years, 128 KB): the
/// phone's history spans 14 days, but a scan time far off (a clock set wrong) must not cost
/// memory in proportion.
const MAX_SPAN: u64 = 1 << 20;

/// One bit per 10-minute interval from the first in which a scan that heard something
/// started to the last.
#[derive(Debug, Clone, Default)]
pub(super) struct HeardIntervals {
    first: u64,
    /// The last interval, when the span is beyond [`MAX_SPAN`]: `bits` is then empty and
    /// every interval from `first` to it counts as heard (the check as it was before the
    /// bits, which skips less but is never wrong).
    wide_last: Option<u64>,
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
        if last - first >= MAX_SPAN {
            return Self {
                first,
                wide_last: Some(last),
                bits: Vec::new(),
            };
        }
        let span = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        let mut bits = vec![0u64; span.div_ceil(64)];
        for interval in intervals() {
            let i = usize::try_from(interval - first).unwrap_or(usize::MAX);
            bits[i / 64] |= 1 << (i % 64);
        }
        Self {
            first,
            wide_last: None,
            bits,
        }
    }

    /// Of the `len` intervals from `start`, the first and last (as offsets from `start`) with
    /// something heard within `window` intervals of them; `None` when none has. Intervals
    /// outside that range cannot match anything heard.
    pub(super) fn live_range(&self, start: u64, len: u64, window: u64) -> Option<(u64, u64)> {
        let last = start.checked_add(len.checked_sub(1)?)?;
        if let Some(wide_last) = self.wide_last {
            let from = self.first.saturating_sub(window).max(start);
            let to = wide_last.saturating_add(window).min(last);
            return (from <= to).then(|| (from - start, to - start));
        }
        let first_heard = self.first_at_or_after(start.saturating_sub(window))?;
        if first_heard > last.saturating_add(window) {
            return None;
        }
        let last_heard = self.last_at_or_before(last.saturating_add(window))?;
        let from = first_heard.saturating_sub(window).max(start) - start;
        let to = last_heard.saturating_add(window).min(last) - start;
        Some((from, to))
    }

    /// The first interval at or after `from` in which something was heard.
    fn first_at_or_after(&self, from: u64) -> Option<u64> {
        let offset = usize::try_from(from.saturating_sub(self.first)).ok()?;
        let mut w = offset / 64;
        let mut word = *self.bits.get(w)? & (u64::MAX << (offset % 64));
        while word == 0 {
            w += 1;
            word = *self.bits.get(w)?;
        }
        Some(self.first + (w * 64) as u64 + u64::from(word.trailing_zeros()))
    }

    /// The last interval at or before `to` in which something was heard.
    fn last_at_or_before(&self, to: u64) -> Option<u64> {
        let offset = to.checked_sub(self.first)?;
        let end = (self.bits.len() * 64) as u64 - 1;
        let offset = usize::try_from(offset.min(end)).ok()?;
        let mut w = offset / 64;
        let mut word = *self.bits.get(w)? & (u64::MAX >> (63 - offset % 64));
        while word == 0 {
            w = w.checked_sub(1)?;
            word = self.bits[w];
        }
        Some(self.first + (w * 64) as u64 + 63 - u64::from(word.leading_zeros()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live range is exactly the first and last interval with something heard within
    /// the window, as a scan of every interval finds them.
    #[test]
    fn live_range_agrees_with_a_scan_of_every_interval() {
        let heard: Vec<u64> = vec![1000, 1001, 1063, 1064, 1200, 1327, 1500];
        let index = HeardIntervals::build(heard.iter().map(|i| (*i as i64) * 600 + 17));
        for window in [0u64, 1, 12, 70] {
            for start in (900u64..1600).step_by(3) {
                for len in [1u64, 5, 64, 65, 144] {
                    let live = |k: &u64| heard.iter().any(|h| h.abs_diff(start + k) <= window);
                    let expected = (0..len)
                        .find(live)
                        .map(|first| (first, (0..len).rev().find(live).unwrap_or(first)));
                    assert_eq!(
                        index.live_range(start, len, window),
                        expected,
                        "start {start}, len {len}, window {window}"
                    );
                }
            }
        }
        assert_eq!(
            HeardIntervals::build(std::iter::empty()).live_range(5, 144, 12),
            None
        );
        assert_eq!(index.live_range(5, 0, 12), None);
    }

    /// A scan time centuries off costs no memory in proportion: the whole span then counts
    /// as heard (never skipping a key that could match), and a key outside it still cannot.
    #[test]
    fn a_far_off_scan_time_costs_no_memory_and_skips_nothing_it_should_not() {
        let far = i64::MAX / 2;
        let index = HeardIntervals::build([1000 * 600, far].into_iter());
        assert!(index.bits.is_empty());
        assert_eq!(index.live_range(2000, 144, 12), Some((0, 143)));
        assert_eq!(index.live_range(1000 - 12 - 144, 144, 12), None);
        assert_eq!(index.live_range(1000 - 12 - 143, 144, 12), Some((143, 143)));
        // Within the bound, one bit per interval as before.
        let near =
            HeardIntervals::build([1000 * 600, (1000 + MAX_SPAN as i64 - 1) * 600].into_iter());
        assert_eq!(near.bits.len() as u64, MAX_SPAN.div_ceil(64));
        assert_eq!(near.live_range(2000, 144, 12), None);
    }
}
