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

    /// The day of a proleptic Gregorian date `YYYY-MM-DD` (exactly that form), or `None`
    /// for text that is not one or a date that does not exist (`2026-02-31`) or lies before
    /// 1970. Days from civil dates after Howard Hinnant's `days_from_civil`.
    #[must_use]
    pub fn from_civil_date(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            part.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days_in_month = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if !(1..=days_in_month).contains(&d) {
            return None;
        }
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        u32::try_from(era * 146_097 + doe - 719_468).ok().map(Self)
    }

    /// This day as `YYYY-MM-DD` (Howard Hinnant's `civil_from_days`).
    #[must_use]
    pub fn to_civil_date(self) -> String {
        let z = i64::from(self.0) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
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
    #[test]
    fn civil_dates_round_trip_and_impossible_dates_are_refused() {
        assert_eq!(
            DayNumber::from_civil_date("1970-01-01"),
            Some(DayNumber::new(0))
        );
        assert_eq!(
            DayNumber::from_civil_date("2026-11-01").map(DayNumber::start_unix_seconds),
            Some(1_793_491_200)
        );
        assert_eq!(
            DayNumber::from_civil_date("2024-02-29").map(DayNumber::to_civil_date),
            Some("2024-02-29".to_owned())
        );
        assert_eq!(DayNumber::new(18_354).to_civil_date(), "2020-04-02");
        assert_eq!(DayNumber::new(19_782).to_civil_date(), "2024-02-29");
        for day in [0, 59, 60, 365, 11_016, 19_782, 20_758, 47_541] {
            let text = DayNumber::new(day).to_civil_date();
            assert_eq!(DayNumber::from_civil_date(&text), Some(DayNumber::new(day)));
        }
        for bad in [
            "2026-02-31",
            "2026-02-29",
            "2100-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-1-01",
            "2026-01-01T",
            "+026-01-01",
            "2026-0a-01",
            "1969-12-31",
            "",
        ] {
            assert_eq!(DayNumber::from_civil_date(bad), None, "{bad}");
        }
    }

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
