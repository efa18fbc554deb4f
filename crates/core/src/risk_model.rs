//! The risk model the phone decides with: GAEN's daily summaries (the built-in parameters, or
//! the authority's), or Corona-Warn-App's when the authority's signed configuration names
//! `"cwa"` (decision 0026). Both run on the same exposure windows; the windows themselves
//! are always cut and labelled with the GAEN parameters ([`RiskModel::windows`]: window
//! length, report type when unknown, infectiousness by days since onset), which a CWA
//! configuration does not carry.

use std::collections::BTreeMap;

use bluezone_protocol::DayNumber;
use bluezone_protocol::cwa::{self, CwaParameters, CwaRiskLevel};
use bluezone_protocol::risk::{
    DailySummary, ExposureWindow, RiskConfig, RiskDecision, decide, score_window,
};
use bluezone_protocol::risk_config::{
    MODEL_CWA, MODEL_GAEN_DAILY_SUMMARIES, RiskConfigDocument, RiskModelParameters,
};

use crate::exposure::{ExposureDay, ExposureStatus};

/// A risk model with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum RiskModel {
    /// GAEN's daily-summary model.
    GaenDailySummaries(RiskConfig),
    /// CWA's model; `windows` cuts and labels the windows it runs on.
    Cwa {
        /// The GAEN parameters windows are built with.
        windows: RiskConfig,
        /// CWA's parameters.
        parameters: CwaParameters,
    },
}

/// One window's figures under a model, for showing why a phone did or did not notify.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowFigures {
    /// Seconds weighted by attenuation (GAEN: by typical attenuation bucket; CWA: by
    /// minimum attenuation range).
    pub weighted_seconds: f64,
    /// GAEN: the score (weighted seconds times the other weights); CWA: the normalized time
    /// in seconds (weighted seconds times the transmission risk value).
    pub score: f64,
    /// CWA's risk level of the window (`None` under GAEN's model, or when CWA ignores it).
    pub level: Option<CwaRiskLevel>,
}

impl RiskModel {
    /// The model for the configuration the phone holds (`None`: `base`, the built-in
    /// parameters).
    #[must_use]
    pub fn new(base: &RiskConfig, document: Option<&RiskConfigDocument>) -> Self {
        match document.map(|d| &d.parameters) {
            None => Self::GaenDailySummaries(base.clone()),
            Some(RiskModelParameters::GaenDailySummaries(p)) => {
                Self::GaenDailySummaries(p.apply_to(base))
            }
            Some(RiskModelParameters::Cwa(p)) => Self::Cwa {
                windows: base.clone(),
                parameters: p.clone(),
            },
        }
    }

    /// The model's name as the configuration document writes it.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::GaenDailySummaries(_) => MODEL_GAEN_DAILY_SUMMARIES,
            Self::Cwa { .. } => MODEL_CWA,
        }
    }

    /// The parameters exposure windows are built with.
    #[must_use]
    pub const fn windows(&self) -> &RiskConfig {
        match self {
            Self::GaenDailySummaries(config)
            | Self::Cwa {
                windows: config, ..
            } => config,
        }
    }

    /// One window's figures.
    #[must_use]
    pub fn window(&self, window: &ExposureWindow) -> WindowFigures {
        match self {
            Self::GaenDailySummaries(config) => {
                let score = score_window(window, config);
                WindowFigures {
                    weighted_seconds: score.weighted_seconds,
                    score: score.score,
                    level: None,
                }
            }
            Self::Cwa { parameters, .. } => {
                let risk = cwa::window_risk(window, parameters, cwa::CwaPlatform::Ios);
                WindowFigures {
                    weighted_seconds: risk.weighted_minutes * 60.0,
                    score: risk.normalized_time * 60.0,
                    level: risk.risk_level,
                }
            }
        }
    }

    /// The decision on `windows` as of `today`. Under CWA's model: notify when the total risk
    /// is high, the exposure day is the most recent high-risk day, and each day's
    /// `score_sum` is its normalized time in seconds (`max_score` its highest window's,
    /// `weighted_seconds` its windows' weighted seconds, `windows` those with a level).
    #[must_use]
    pub fn decide(&self, windows: &[ExposureWindow], today: DayNumber) -> RiskDecision {
        self.assess(windows, today).decision
    }

    /// The status the shell sees for `windows` as of `today`.
    #[must_use]
    pub fn status(
        &self,
        windows: &[ExposureWindow],
        today: DayNumber,
        was_notified: bool,
    ) -> ExposureStatus {
        self.assess(windows, today).status(was_notified)
    }

    /// The decision and, per day, whether it reached the model's threshold (GAEN: the
    /// notification score; CWA: high risk), computed once.
    #[must_use]
    pub fn assess(&self, windows: &[ExposureWindow], today: DayNumber) -> Assessment {
        match self {
            Self::GaenDailySummaries(config) => {
                let decision = decide(windows, config, today);
                let over_threshold = decision
                    .days
                    .iter()
                    .map(|d| d.score_sum >= config.notify_score)
                    .collect();
                Assessment {
                    decision,
                    over_threshold,
                }
            }
            Self::Cwa { parameters, .. } => {
                let result = cwa::assess(windows, parameters, today);
                let mut per_day: BTreeMap<DayNumber, Vec<cwa::WindowRisk>> = BTreeMap::new();
                for window in windows {
                    let risk = cwa::window_risk(window, parameters, cwa::CwaPlatform::Ios);
                    if risk.risk_level.is_some() {
                        per_day.entry(risk.day).or_default().push(risk);
                    }
                }
                let days: Vec<DailySummary> = result
                    .days
                    .iter()
                    .map(|day| {
                        let risks = per_day.get(&day.day).map_or(&[][..], Vec::as_slice);
                        DailySummary {
                            day: day.day,
                            score_sum: day.normalized_time * 60.0,
                            max_score: risks
                                .iter()
                                .map(|r| r.normalized_time * 60.0)
                                .fold(0.0, f64::max),
                            weighted_seconds: risks.iter().map(|r| r.weighted_minutes * 60.0).sum(),
                            windows: u32::try_from(risks.len()).unwrap_or(u32::MAX),
                        }
                    })
                    .collect();
                Assessment {
                    over_threshold: result
                        .days
                        .iter()
                        .map(|d| d.risk_level == Some(CwaRiskLevel::High))
                        .collect(),
                    decision: RiskDecision {
                        notify: result.total_risk_level == CwaRiskLevel::High,
                        exposure_day: result.most_recent_date_with_high_risk,
                        days,
                    },
                }
            }
        }
    }
}

/// A model's decision with, for each of its days, whether the day reached the threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The decision.
    pub decision: RiskDecision,
    /// Per day of `decision.days`, in order: whether it reached the threshold.
    pub over_threshold: Vec<bool>,
}

impl Assessment {
    /// The status the shell sees, `was_notified` being what it was told before.
    #[must_use]
    pub fn status(&self, was_notified: bool) -> ExposureStatus {
        let decision = &self.decision;
        ExposureStatus {
            notify: decision.notify,
            newly_notified: decision.notify && !was_notified,
            exposure_day: decision.exposure_day,
            days: decision
                .days
                .iter()
                .zip(&self.over_threshold)
                .map(|(d, over)| ExposureDay {
                    day: d.day,
                    score: d.score_sum,
                    weighted_minutes: d.weighted_seconds / 60.0,
                    over_threshold: *over,
                })
                .collect(),
            ..ExposureStatus::default()
        }
    }
}
