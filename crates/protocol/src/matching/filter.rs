//! The one-bit filter in front of the sighting index: one bit per position, set for every RPI
//! heard, read for every RPI a diagnosis key derives (144 per key, the matcher's hot loop).
//!
//! Its size is one of two constants chosen by the number of RPIs heard, not a run-time
//! mask: each probe is then a shift of bits the RPI already has in place, one load and one
//! bit test, with no masking and no bounds check (decision 0025). Positions come from bytes
//! 8 to 11; the fingerprints use bytes 0 and 1 and the fingerprint lines the top bytes, so
//! the three tests look at independent bits.

use crate::time::TEK_ROLLING_PERIOD;

/// The RPIs of one key as bare blocks, in interval order.
pub(super) type DailyBlocks = [[u8; 16]; TEK_ROLLING_PERIOD as usize];

/// One bit per interval of a key: which of its RPIs passed (bit `k` of word `k / 64`).
pub(super) type PassedMask = [u64; (TEK_ROLLING_PERIOD as usize).div_ceil(64)];

/// Words of the filter for up to [`SMALL_UP_TO`] RPIs: 2^21 bits, 256 KB, which stays in the
/// L2 cache of the phones we target beside the fingerprints (8 bits or more per RPI: at most
/// 12% of RPIs not heard pass, about 6% at 124,000 RPIs, 14 days of a crowded city).
const SMALL_WORDS: usize = 1 << 15;
/// More RPIs than this get the large filter.
const SMALL_UP_TO: usize = 1 << 18;
/// Words of the large filter: 2^24 bits, 2 MB (at least 64 bits per RPI up to 2^18 RPIs,
/// degrading gracefully beyond: the fingerprints stop what passes).
const LARGE_WORDS: usize = 1 << 18;

/// The filter: a fixed-size bitmap.
#[derive(Debug, Clone)]
pub(super) enum RpiFilter {
    /// Up to [`SMALL_UP_TO`] RPIs.
    Small(Box<[u64; SMALL_WORDS]>),
    /// More.
    Large(Box<[u64; LARGE_WORDS]>),
}

impl RpiFilter {
    /// A filter holding `rpis` (`count` of them, for the choice of size).
    pub(super) fn build(rpis: impl Iterator<Item = u128>, count: usize) -> Self {
        if count <= SMALL_UP_TO {
            let mut words = zeroed::<SMALL_WORDS>();
            rpis.for_each(|rpi| set(&mut words, rpi));
            Self::Small(words)
        } else {
            let mut words = zeroed::<LARGE_WORDS>();
            rpis.for_each(|rpi| set(&mut words, rpi));
            Self::Large(words)
        }
    }

    /// Whether the RPI `bytes` may have been heard (never false for one that was).
    #[cfg(test)]
    pub(super) fn may_contain(&self, bytes: &[u8; 16]) -> bool {
        match self {
            Self::Small(words) => hit(words, bytes) != 0,
            Self::Large(words) => hit(words, bytes) != 0,
        }
    }

    /// Probes every RPI of a key, without a branch between them (they overlap in the CPU):
    /// the bits of those that may have been heard, restricted to the first `period`.
    #[inline]
    pub(super) fn probe(&self, rpis: &DailyBlocks, period: usize) -> PassedMask {
        let mut passed = match self {
            Self::Small(words) => probe_all(words, rpis),
            Self::Large(words) => probe_all(words, rpis),
        };
        // Intervals past the key's rolling period are not its RPIs.
        for (w, word) in passed.iter_mut().enumerate() {
            let valid = period.saturating_sub(w * 64).min(64);
            *word &= u64::MAX
                .checked_shr(64 - u32::try_from(valid).unwrap_or(64))
                .unwrap_or(0);
        }
        passed
    }
}

impl RpiFilter {
    /// [`Self::probe`] for the RPIs `from..=to` only (the others are neither read nor
    /// marked): a key of which only part of the day could have been heard.
    pub(super) fn probe_range(&self, rpis: &DailyBlocks, from: usize, to: usize) -> PassedMask {
        match self {
            Self::Small(words) => probe_some(words, rpis, from, to),
            Self::Large(words) => probe_some(words, rpis, from, to),
        }
    }
}

/// A filter of `W` words, all clear.
fn zeroed<const W: usize>() -> Box<[u64; W]> {
    // Through the heap: `Box::new([0; W])` would build the array on the stack first (2 MB
    // for the large filter, past a thread's stack in unoptimized builds).
    vec![0; W]
        .into_boxed_slice()
        .try_into()
        .expect("a slice of W words is an array of W words")
}

/// The word and bit of an RPI given as little-endian bytes: bytes 8 to 11 read as one
/// little-endian number, its top bits the word, its low 6 bits the bit in it. (Both ends of
/// the number are used so that it is read with one load.)
#[inline]
fn position<const W: usize>(bytes: &[u8; 16]) -> (usize, u32) {
    let mut number = [0; 4];
    number.copy_from_slice(&bytes[8..12]);
    let number = u32::from_le_bytes(number);
    ((number >> (32 - W.trailing_zeros())) as usize, number & 63)
}

fn set<const W: usize>(words: &mut [u64; W], rpi: u128) {
    let (word, bit) = position::<W>(&rpi.to_le_bytes());
    words[word] |= 1 << bit;
}

/// 1 if the RPI `bytes`' bit is set, else 0. The word is below `W` by construction (a
/// constant shift of a 32-bit number), so the index needs no check.
#[inline]
fn hit<const W: usize>(words: &[u64; W], bytes: &[u8; 16]) -> u64 {
    let (word, bit) = position::<W>(bytes);
    (words[word] >> bit) & 1
}

/// [`probe_all`] for the RPIs `from..=to` only.
fn probe_some<const W: usize>(
    words: &[u64; W],
    rpis: &DailyBlocks,
    from: usize,
    to: usize,
) -> PassedMask {
    let mut passed = PassedMask::default();
    for (w, word) in passed.iter_mut().enumerate() {
        let (lo, hi) = (from.max(w * 64), to.min(w * 64 + 63));
        if lo > hi {
            continue;
        }
        *word = rpis[lo..=hi]
            .iter()
            .rev()
            .fold(0, |bits, rpi| (bits << 1) | hit(words, rpi))
            << (lo - w * 64);
    }
    passed
}

/// Every RPI's bit, 64 to a word, each word built in a register (or-ing into memory chained
/// every probe to the one before through a store and a load).
#[inline]
fn probe_all<const W: usize>(words: &[u64; W], rpis: &DailyBlocks) -> PassedMask {
    let mut passed = PassedMask::default();
    for (word, rpis) in passed.iter_mut().zip(rpis.chunks(64)) {
        *word = rpis
            .iter()
            .rev()
            .fold(0, |bits, rpi| (bits << 1) | hit(words, rpi));
    }
    passed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rpi(seed: u64) -> u128 {
        let mut x = u128::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        x ^= x >> 61;
        x.wrapping_mul(0xbf58_476d_1ce4_e5b9_94d0_49bb_1331_11eb)
    }

    /// Every RPI put in is found, by both sizes; few others pass.
    #[test]
    fn holds_what_was_put_in_and_little_else() {
        for count in [1, 1000, SMALL_UP_TO + 1] {
            let filter = RpiFilter::build((0..count as u64).map(rpi), count);
            assert_eq!(matches!(filter, RpiFilter::Small(_)), count <= SMALL_UP_TO);
            for i in (0..count as u64).step_by(97) {
                assert!(filter.may_contain(&rpi(i).to_le_bytes()), "{i} of {count}");
            }
            let others = 20_000u64;
            let passed = (0..others)
                .filter(|i| filter.may_contain(&rpi(u64::MAX - i).to_le_bytes()))
                .count();
            // Expected about count / bits: 0.05% for 1,000, 1.5% for the large one.
            assert!(
                passed as f64 <= others as f64 * 0.03,
                "{passed} of {others} passed"
            );
        }
    }

    /// The probe of a key marks exactly the RPIs that pass, and none past its period or
    /// outside the range asked for.
    #[test]
    fn probe_marks_each_interval_and_respects_the_period() {
        let heard: Vec<u128> = (0..500).map(rpi).collect();
        let filter = RpiFilter::build(heard.iter().copied(), heard.len());
        let mut blocks: DailyBlocks = [[0; 16]; TEK_ROLLING_PERIOD as usize];
        for (k, block) in blocks.iter_mut().enumerate() {
            // Every seventh interval carries a heard RPI.
            let value = if k % 7 == 0 {
                heard[k]
            } else {
                rpi(1_000_000 + k as u64)
            };
            *block = value.to_le_bytes();
        }
        for (from, to) in [(0, 143), (0, 0), (5, 70), (64, 127), (143, 143)] {
            let passed = filter.probe_range(&blocks, from, to);
            for (k, block) in blocks.iter().enumerate() {
                let bit = (passed[k / 64] >> (k % 64)) & 1 == 1;
                let expected = (from..=to).contains(&k) && filter.may_contain(block);
                assert_eq!(bit, expected, "interval {k}, range {from}..={to}");
            }
        }
        for period in [1, 63, 64, 65, 100, 144] {
            let passed = filter.probe(&blocks, period);
            for (k, block) in blocks.iter().enumerate() {
                let bit = (passed[k / 64] >> (k % 64)) & 1 == 1;
                let expected = k < period && filter.may_contain(block);
                assert_eq!(bit, expected, "interval {k}, period {period}");
                if k < period && k % 7 == 0 {
                    assert!(bit, "a heard RPI at {k} must pass");
                }
            }
        }
    }
}
