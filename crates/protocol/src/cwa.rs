//! Germany's Corona-Warn-App (CWA) risk model on exposure windows, as CWA's apps compute it
//! (cwa-app-ios `RiskCalculation.swift` and `RiskCalculationExposureWindow.swift`,
//! cwa-app-android `DefaultRiskLevels.kt`; cwa-app-tech-spec "exposure-windows"), proven
//! against CWA's published test cases (`tests/cwa_cases.rs`). Pure: no I/O, no clock.
//!
//! ```text
//! per window (scans with secondsSinceLastScan < 0 count as 0 seconds):
//!   dropped     = some minutesAtAttenuationFilter has
//!                   minutes(scans whose minAttenuation is in attenuationRange) in dropIfMinutesInRange
//!                 (iOS: whole minutes, seconds / 60 truncated; Android: fractional minutes)
//!   TRL         = reportTypeOffset[reportType] + (infectiousness == high ? offsetHigh : offsetStandard)
//!                 (unknown and revoked report types: offset 0, as on iOS)
//!   dropped    |= some trlFilter has TRL in dropIfTrlInRange
//!   TRV         = transmissionRiskValueMapping[TRL], 0 if TRL is not mapped
//!   weighted    = sum over scans of secondsSinceLastScan x weight(first minutesAtAttenuationWeight
//!                 whose attenuationRange holds the scan's MIN attenuation; none: 0), / 60
//!   normalized  = TRV x weighted
//!   level       = riskLevel of the first normalizedTimePerEWToRiskLevelMapping holding normalized;
//!                 none: the window is ignored (both apps)
//! per day (windows not dropped and with a level, grouped by day):
//!   normalized  = sum of the windows' normalized times (Android: rounded to one decimal, half up)
//!   level       = first normalizedTimePerDayToRiskLevelMapping holding it; none: the day has no
//!                 level (iOS still counts its encounters, Android drops the day)
//!   encounters  = number of distinct (TRL, calibrationConfidence) among its low (high) windows
//! result:
//!   total       = high if some day is high, else low
//!   most recent = latest low (high) day; days = number of low (high) days
//!   encounters  = sum over days of the day's low (high) encounters
//! ```
//!
//! A window's level and a day's level are separate: three low windows can make a high day, and
//! they count as low encounters (the case "determine High Risk in total if there are
//! sufficient Exposure Windows with a Low Risk"). Ranges include their bounds unless marked
//! exclusive ([`CwaRange`]). Where the apps differ, [`CwaPlatform`] chooses; [`assess`] is iOS's,
//! the source of the published expectations. One published case depends on the choice (see
//! [`CwaPlatform`]); the test runs every case on both platforms.
//!
//! GAEN never reports a window whose infectiousness is none (the key is ignored); the engine's
//! windows can have it, and they are dropped ([`Dropped::NotInfectious`]). The engine's window
//! field `transmission_risk` is not read: CWA derives the level from report type and
//! infectiousness.

mod calc;
pub mod cases;
mod params;

pub use calc::{
    CwaPlatform, CwaResult, DayRisk, Dropped, WindowRisk, assess, assess_on,
    transmission_risk_level, window_risk,
};
pub use params::{
    CwaParameters, CwaRange, InvalidParameter, MAX_TRL_OFFSET, MinutesAtAttenuationFilter,
    MinutesAtAttenuationWeight, NormalizedTimeToRiskLevelMapping, TransmissionRiskValueMapping,
    TrlEncoding, TrlFilter,
};

/// CWA's two risk levels (1 and 2 in its configuration and test cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CwaRiskLevel {
    /// Low risk (1).
    Low = 1,
    /// High ("increased") risk (2).
    High = 2,
}

impl CwaRiskLevel {
    /// From CWA's number: 1 low, 2 high.
    #[must_use]
    pub const fn from_number(n: u8) -> Option<Self> {
        match n {
            1 => Some(Self::Low),
            2 => Some(Self::High),
            _ => None,
        }
    }

    /// CWA's number: 1 low, 2 high.
    #[must_use]
    pub const fn number(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests;
