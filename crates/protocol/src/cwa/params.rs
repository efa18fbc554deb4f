//! [`CwaParameters`]: CWA's risk-calculation configuration, in CWA's own JSON schema (the
//! `defaultRiskCalculationConfiguration` of CWA's test-case file, the JSON form of the
//! `RiskCalculationParameters` protobuf of CWA's app configuration).

use serde::{Deserialize, Serialize};

use super::CwaRiskLevel;

/// A range of numbers as CWA writes it: `min` and `max` are included unless `minExclusive` or
/// `maxExclusive` is `true` (an absent flag is `false`, as in protobuf and in both apps).
///
/// Both apps test a value the same way, as a double: below `min` (or equal to it when
/// `minExclusive`) is outside, above `max` (or equal to it when `maxExclusive`) is outside
/// (`ENARange.contains` on iOS, `Range.inRange` on Android).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CwaRange {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
    /// `min` itself is outside the range.
    #[serde(default, skip_serializing_if = "is_false")]
    pub min_exclusive: bool,
    /// `max` itself is outside the range.
    #[serde(default, skip_serializing_if = "is_false")]
    pub max_exclusive: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference.
const fn is_false(b: &bool) -> bool {
    !*b
}

impl CwaRange {
    /// Whether `value` is in the range.
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        let above_min = if self.min_exclusive {
            value > self.min
        } else {
            value >= self.min
        };
        let below_max = if self.max_exclusive {
            value < self.max
        } else {
            value <= self.max
        };
        above_min && below_max
    }

    fn validate(&self, field: &'static str) -> Result<(), InvalidParameter> {
        if !(self.min.is_finite() && self.max.is_finite()) {
            return Err(InvalidParameter::new(
                field,
                "bounds must be finite numbers",
            ));
        }
        if self.min > self.max {
            return Err(InvalidParameter::new(field, "min must not exceed max"));
        }
        if self.min == self.max && (self.min_exclusive || self.max_exclusive) {
            return Err(InvalidParameter::new(field, "the range is empty"));
        }
        Ok(())
    }
}

/// Drops a window whose minutes at the given attenuations fall in a range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MinutesAtAttenuationFilter {
    /// Scans whose minimum attenuation (dB) is in this range count.
    pub attenuation_range: CwaRange,
    /// The window is dropped if its minutes at those attenuations are in this range.
    pub drop_if_minutes_in_range: CwaRange,
}

/// Drops a window whose transmission risk level falls in a range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrlFilter {
    /// The window is dropped if its transmission risk level is in this range.
    pub drop_if_trl_in_range: CwaRange,
}

/// The weight of the seconds of scans whose minimum attenuation is in a range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MinutesAtAttenuationWeight {
    /// Minimum attenuation range, in dB.
    pub attenuation_range: CwaRange,
    /// The weight (0 or more).
    pub weight: f64,
}

/// A risk level for normalized times in a range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NormalizedTimeToRiskLevelMapping {
    /// Normalized-time range.
    pub normalized_time_range: CwaRange,
    /// 1 (low) or 2 (high), as CWA writes it.
    pub risk_level: u8,
}

impl NormalizedTimeToRiskLevelMapping {
    /// The risk level, if it is 1 or 2 (always, after [`CwaParameters::validate`]).
    #[must_use]
    pub const fn level(&self) -> Option<CwaRiskLevel> {
        CwaRiskLevel::from_number(self.risk_level)
    }
}

/// How the transmission risk level is encoded: report-type offset plus infectiousness offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrlEncoding {
    /// Offset for standard infectiousness (and, in both apps, anything not high).
    pub infectiousness_offset_standard: i32,
    /// Offset for high infectiousness.
    pub infectiousness_offset_high: i32,
    /// Offset for report type recursive.
    pub report_type_offset_recursive: i32,
    /// Offset for report type self report.
    pub report_type_offset_self_report: i32,
    /// Offset for report type confirmed clinical diagnosis.
    pub report_type_offset_confirmed_clinical_diagnosis: i32,
    /// Offset for report type confirmed test.
    pub report_type_offset_confirmed_test: i32,
}

/// The transmission risk value of one transmission risk level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransmissionRiskValueMapping {
    /// The level.
    pub transmission_risk_level: i32,
    /// Its value (0 or more); a level with no mapping has value 0.
    pub transmission_risk_value: f64,
}

/// CWA's exposure-window risk-calculation parameters, field for field as CWA writes them
/// (camelCase JSON; unknown fields refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CwaParameters {
    /// A window is dropped if any of these filters matches it.
    pub minutes_at_attenuation_filters: Vec<MinutesAtAttenuationFilter>,
    /// A window is dropped if any of these filters matches its transmission risk level.
    pub trl_filters: Vec<TrlFilter>,
    /// Weights by minimum attenuation; the first matching range counts, none matching is 0.
    pub minutes_at_attenuation_weights: Vec<MinutesAtAttenuationWeight>,
    /// A window's risk level from its normalized time (first matching range).
    #[serde(rename = "normalizedTimePerEWToRiskLevelMapping")]
    pub normalized_time_per_ew_to_risk_level_mapping: Vec<NormalizedTimeToRiskLevelMapping>,
    /// A day's risk level from the sum of its windows' normalized times (first matching range).
    pub normalized_time_per_day_to_risk_level_mapping: Vec<NormalizedTimeToRiskLevelMapping>,
    /// The transmission risk level's encoding.
    pub trl_encoding: TrlEncoding,
    /// Transmission risk values by level (first matching level).
    pub transmission_risk_value_mapping: Vec<TransmissionRiskValueMapping>,
}

/// A parameter out of range, named as in CWA's JSON (`list.field` for a list's items).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("CWA parameter `{field}`: {problem}")]
pub struct InvalidParameter {
    /// The field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl InvalidParameter {
    const fn new(field: &'static str, problem: &'static str) -> Self {
        Self { field, problem }
    }
}

/// Largest offset in the transmission-risk-level encoding (GAEN's levels are 0 to 8).
pub const MAX_TRL_OFFSET: i32 = 8;

impl CwaParameters {
    /// The configuration CWA's published test cases use (the `defaultRiskCalculationConfiguration`
    /// of `exposure-windows-risk-calculation.json`): no filters; weights 1, 0.5 and 0.3 for
    /// minimum attenuations in [0, 55), [55, 63) and [63, 73) dB (0 above); normalized time
    /// in [5, 15) low and in [15, 9999] high, per window and per day; transmission risk level
    /// = report-type offset (recursive 0, self report 2, clinical diagnosis 4, confirmed
    /// test 6) + infectiousness offset (standard 1, high 2), valued 0, 0, 0.6, 0.8, 1, 1.2,
    /// 1.4, 1.6 for levels 1 to 8.
    #[must_use]
    pub fn corona_warn_app() -> Self {
        let below = |min: f64, max: f64| CwaRange {
            min,
            max,
            min_exclusive: false,
            max_exclusive: true,
        };
        let weight = |min, max, weight| MinutesAtAttenuationWeight {
            attenuation_range: below(min, max),
            weight,
        };
        let mapping = vec![
            NormalizedTimeToRiskLevelMapping {
                normalized_time_range: below(5.0, 15.0),
                risk_level: CwaRiskLevel::Low.number(),
            },
            NormalizedTimeToRiskLevelMapping {
                normalized_time_range: CwaRange {
                    min: 15.0,
                    max: 9999.0,
                    min_exclusive: false,
                    max_exclusive: false,
                },
                risk_level: CwaRiskLevel::High.number(),
            },
        ];
        let values = [0.0, 0.0, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6];
        Self {
            minutes_at_attenuation_filters: Vec::new(),
            trl_filters: Vec::new(),
            minutes_at_attenuation_weights: vec![
                weight(0.0, 55.0, 1.0),
                weight(55.0, 63.0, 0.5),
                weight(63.0, 73.0, 0.3),
            ],
            normalized_time_per_ew_to_risk_level_mapping: mapping.clone(),
            normalized_time_per_day_to_risk_level_mapping: mapping,
            trl_encoding: TrlEncoding {
                infectiousness_offset_standard: 1,
                infectiousness_offset_high: 2,
                report_type_offset_recursive: 0,
                report_type_offset_self_report: 2,
                report_type_offset_confirmed_clinical_diagnosis: 4,
                report_type_offset_confirmed_test: 6,
            },
            transmission_risk_value_mapping: (1..)
                .zip(values)
                .map(|(transmission_risk_level, transmission_risk_value)| {
                    TransmissionRiskValueMapping {
                        transmission_risk_level,
                        transmission_risk_value,
                    }
                })
                .collect(),
        }
    }

    /// Checks every value: ranges well formed (finite, `min` ≤ `max`, not empty), weights and
    /// transmission risk values finite and not negative, risk levels 1 or 2, offsets 0 to
    /// [`MAX_TRL_OFFSET`], transmission risk levels 1 to 8 and each mapped once, and at least
    /// one mapping to a risk level per window and per day.
    ///
    /// # Errors
    /// [`InvalidParameter`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        for f in &self.minutes_at_attenuation_filters {
            f.attenuation_range
                .validate("minutesAtAttenuationFilters.attenuationRange")?;
            f.drop_if_minutes_in_range
                .validate("minutesAtAttenuationFilters.dropIfMinutesInRange")?;
        }
        for f in &self.trl_filters {
            f.drop_if_trl_in_range
                .validate("trlFilters.dropIfTrlInRange")?;
        }
        for w in &self.minutes_at_attenuation_weights {
            w.attenuation_range
                .validate("minutesAtAttenuationWeights.attenuationRange")?;
            if !(w.weight.is_finite() && w.weight >= 0.0) {
                return Err(InvalidParameter::new(
                    "minutesAtAttenuationWeights.weight",
                    "must be a finite number, 0 or more",
                ));
            }
        }
        let mappings: [(
            &'static str,
            &'static str,
            &[NormalizedTimeToRiskLevelMapping],
        ); 2] = [
            (
                "normalizedTimePerEWToRiskLevelMapping.normalizedTimeRange",
                "normalizedTimePerEWToRiskLevelMapping.riskLevel",
                &self.normalized_time_per_ew_to_risk_level_mapping,
            ),
            (
                "normalizedTimePerDayToRiskLevelMapping.normalizedTimeRange",
                "normalizedTimePerDayToRiskLevelMapping.riskLevel",
                &self.normalized_time_per_day_to_risk_level_mapping,
            ),
        ];
        for (range_field, level_field, list) in mappings {
            if list.is_empty() {
                return Err(InvalidParameter::new(
                    level_field,
                    "at least one mapping is needed",
                ));
            }
            for m in list {
                m.normalized_time_range.validate(range_field)?;
                if m.level().is_none() {
                    return Err(InvalidParameter::new(
                        level_field,
                        "must be 1 (low) or 2 (high)",
                    ));
                }
            }
        }
        let e = &self.trl_encoding;
        let offsets = [
            (
                "trlEncoding.infectiousnessOffsetStandard",
                e.infectiousness_offset_standard,
            ),
            (
                "trlEncoding.infectiousnessOffsetHigh",
                e.infectiousness_offset_high,
            ),
            (
                "trlEncoding.reportTypeOffsetRecursive",
                e.report_type_offset_recursive,
            ),
            (
                "trlEncoding.reportTypeOffsetSelfReport",
                e.report_type_offset_self_report,
            ),
            (
                "trlEncoding.reportTypeOffsetConfirmedClinicalDiagnosis",
                e.report_type_offset_confirmed_clinical_diagnosis,
            ),
            (
                "trlEncoding.reportTypeOffsetConfirmedTest",
                e.report_type_offset_confirmed_test,
            ),
        ];
        for (field, offset) in offsets {
            if !(0..=MAX_TRL_OFFSET).contains(&offset) {
                return Err(InvalidParameter::new(field, "must be 0 to 8"));
            }
        }
        let mut seen = [false; 9];
        for m in &self.transmission_risk_value_mapping {
            let Some(slot) = usize::try_from(m.transmission_risk_level)
                .ok()
                .filter(|l| (1..=8).contains(l))
                .and_then(|l| seen.get_mut(l))
            else {
                return Err(InvalidParameter::new(
                    "transmissionRiskValueMapping.transmissionRiskLevel",
                    "must be 1 to 8",
                ));
            };
            if std::mem::replace(slot, true) {
                return Err(InvalidParameter::new(
                    "transmissionRiskValueMapping.transmissionRiskLevel",
                    "each level is mapped once",
                ));
            }
            if !(m.transmission_risk_value.is_finite() && m.transmission_risk_value >= 0.0) {
                return Err(InvalidParameter::new(
                    "transmissionRiskValueMapping.transmissionRiskValue",
                    "must be a finite number, 0 or more",
                ));
            }
        }
        Ok(())
    }
}
