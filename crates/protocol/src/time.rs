//! The GAEN time base: interval numbers, rolling periods and UTC days.
//!
//! GAEN Cryptography Specification v1.2, "ENIntervalNumber": time is cut into 10-minute
//! intervals counted from the Unix epoch, and a Temporary Exposure Key is valid for one
//! rolling period of 144 intervals (one UTC day). Everything here is arithmetic on integers;
//! nothing reads a clock.

use thiserror::Error;

/// Length of one interval in seconds (GAEN: 10 minutes).
pub const INTERVAL_SECONDS: i64 = 600;

/// Intervals per TEK rolling period (GAEN `TEKRollingPeriod`, 24 hours).
pub const TEK_ROLLING_PERIOD: u32 = 144;

/// Seconds in one UTC day.
pub const SECONDS_PER_DAY: i64 = INTERVAL_SECONDS * TEK_ROLLING_PERIOD as i64;

/// A time that cannot be expressed as a GAEN interval number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TimeError {
    /// The time is before the Unix epoch.
    #[error("time {0} is before the Unix epoch")]
    BeforeEpoch(i64),
    /// The time is past the last interval a 32-bit interval number can hold.
    #[error("time {0} is beyond the range of a 32-bit interval number")]
    OutOfRange(i64),
    /// A rolling period outside 1..=144 intervals.
    #[error("rolling period {0} is outside 1..=144 intervals")]
    InvalidRollingPeriod(u32),
}

/// An `ENIntervalNumber`: `floor(unix_seconds / 600)` as an unsigned 32-bit number.
///
/// Arithmetic on interval numbers wraps modulo 2^32 only where the wire format itself does
/// (the 4 little-endian bytes in an RPI's padded data); the constructors never wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IntervalNumber(u32);

impl IntervalNumber {
    /// Wraps a raw interval number.
    #[must_use]
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The raw interval number.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The interval that contains the given Unix time (seconds).
    ///
    /// # Errors
    /// [`TimeError::BeforeEpoch`] for negative times and [`TimeError::OutOfRange`] past the
    /// 32-bit range (about the year 83,000).
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, TimeError> {
        if seconds < 0 {
            return Err(TimeError::BeforeEpoch(seconds));
        }
        u32::try_from(seconds / INTERVAL_SECONDS)
            .map(Self)
            .map_err(|_| TimeError::OutOfRange(seconds))
    }

    /// Unix time (seconds) at which this interval starts.
    #[must_use]
    pub const fn start_unix_seconds(self) -> i64 {
        self.0 as i64 * INTERVAL_SECONDS
    }

    /// Unix time (seconds) at which this interval ends (exclusive): the next one's start.
    #[must_use]
    pub const fn end_unix_seconds(self) -> i64 {
        self.start_unix_seconds() + INTERVAL_SECONDS
    }

    /// The UTC day this interval belongs to.
    #[must_use]
    pub const fn day(self) -> DayNumber {
        DayNumber(self.0 / TEK_ROLLING_PERIOD)
    }

    /// The first interval of this interval's rolling period (aligned down to a multiple of
    /// 144, i.e. UTC midnight): the `rolling_start_interval_number` of the key in use.
    #[must_use]
    pub const fn rolling_start(self) -> Self {
        Self(self.0 - self.0 % TEK_ROLLING_PERIOD)
    }

    /// Position of this interval inside its rolling period, `0..144`.
    #[must_use]
    pub const fn index_in_period(self) -> u32 {
        self.0 % TEK_ROLLING_PERIOD
    }

    /// This interval plus `count` intervals, or `None` past the 32-bit range.
    #[must_use]
    pub const fn checked_add(self, count: u32) -> Option<Self> {
        match self.0.checked_add(count) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// This interval minus `count` intervals, or `None` before interval 0.
    #[must_use]
    pub const fn checked_sub(self, count: u32) -> Option<Self> {
        match self.0.checked_sub(count) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// This interval plus `count`, modulo 2^32, as the RPI padded data encodes it.
    #[must_use]
    pub const fn wrapping_add(self, count: u32) -> Self {
        Self(self.0.wrapping_add(count))
    }
}

impl std::fmt::Display for IntervalNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A UTC day counted from the Unix epoch (`interval / 144`, `unix_seconds / 86400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayNumber(u32);

impl DayNumber {
    /// Wraps a raw day number.
    #[must_use]
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The raw day number.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The UTC day that contains the given Unix time (seconds).
    ///
    /// # Errors
    /// As [`IntervalNumber::from_unix_seconds`].
    pub fn from_unix_seconds(seconds: i64) -> Result<Self, TimeError> {
        IntervalNumber::from_unix_seconds(seconds).map(IntervalNumber::day)
    }

    /// The first interval of this day (its UTC midnight), or `None` past the 32-bit range.
    #[must_use]
    pub const fn first_interval(self) -> Option<IntervalNumber> {
        match self.0.checked_mul(TEK_ROLLING_PERIOD) {
            Some(v) => Some(IntervalNumber(v)),
            None => None,
        }
    }

    /// Unix time (seconds) of this day's UTC midnight.
    #[must_use]
    pub const fn start_unix_seconds(self) -> i64 {
        self.0 as i64 * SECONDS_PER_DAY
    }
}

impl std::fmt::Display for DayNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A key's rolling period: how many intervals, `1..=144`, it was used for.
///
/// Keys normally cover a whole day (144). A key released early, on the day of upload, covers
/// fewer intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollingPeriod(u32);

impl RollingPeriod {
    /// A full day: 144 intervals.
    pub const FULL_DAY: Self = Self(TEK_ROLLING_PERIOD);

    /// Validates a rolling period.
    ///
    /// # Errors
    /// [`TimeError::InvalidRollingPeriod`] outside `1..=144`.
    pub const fn new(intervals: u32) -> Result<Self, TimeError> {
        if intervals == 0 || intervals > TEK_ROLLING_PERIOD {
            Err(TimeError::InvalidRollingPeriod(intervals))
        } else {
            Ok(Self(intervals))
        }
    }

    /// Number of intervals.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Default for RollingPeriod {
    fn default() -> Self {
        Self::FULL_DAY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vector_time_is_midnight_aligned() {
        // GAEN crypto spec v1.2 test vectors: key generated at 1585785600 (2020-04-02 UTC).
        let i = IntervalNumber::from_unix_seconds(1_585_785_600).unwrap();
        assert_eq!(i.get(), 2_642_976);
        assert_eq!(i.rolling_start(), i);
        assert_eq!(i.index_in_period(), 0);
        assert_eq!(i.day().get(), 18_354);
        assert_eq!(i.day().first_interval(), Some(i));
        assert_eq!(i.day().start_unix_seconds(), 1_585_785_600);
    }

    #[test]
    fn interval_boundaries() {
        let i = IntervalNumber::from_unix_seconds(1_585_786_199).unwrap();
        assert_eq!(i.get(), 2_642_976);
        assert_eq!(i.end_unix_seconds(), 1_585_786_200);
        let next = IntervalNumber::from_unix_seconds(1_585_786_200).unwrap();
        assert_eq!(next.get(), 2_642_977);
        assert_eq!(next.rolling_start().get(), 2_642_976);
        assert_eq!(next.index_in_period(), 1);
    }

    #[test]
    fn out_of_range_times_are_errors() {
        assert_eq!(
            IntervalNumber::from_unix_seconds(-1),
            Err(TimeError::BeforeEpoch(-1))
        );
        let too_late = (i64::from(u32::MAX) + 1) * INTERVAL_SECONDS;
        assert_eq!(
            IntervalNumber::from_unix_seconds(too_late),
            Err(TimeError::OutOfRange(too_late))
        );
        assert!(IntervalNumber::from_unix_seconds(too_late - 1).is_ok());
        assert_eq!(IntervalNumber::new(u32::MAX).checked_add(1), None);
        assert_eq!(IntervalNumber::new(0).checked_sub(1), None);
        assert_eq!(IntervalNumber::new(u32::MAX).wrapping_add(2).get(), 1);
        assert_eq!(DayNumber::new(u32::MAX).first_interval(), None);
    }

    #[test]
    fn rolling_period_bounds() {
        assert!(RollingPeriod::new(0).is_err());
        assert!(RollingPeriod::new(145).is_err());
        assert_eq!(RollingPeriod::new(1).unwrap().get(), 1);
        assert_eq!(RollingPeriod::default(), RollingPeriod::FULL_DAY);
    }
}
