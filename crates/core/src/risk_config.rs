//! The phone's side of the health authority's risk configuration
//! ([`bluezone_protocol::risk_config`]): [`crate::Tracer::apply_risk_config`] verifies a
//! signed file with the trusted key-file signers and applies it only when its sequence is
//! higher than the one held; the held document is saved in the store (setting
//! `risk_config`) and its parameters replace [`crate::TracerConfig::risk`]'s for scoring.
//! Downloads fetch it from [`RISK_CONFIG_PATH`] once per run.

use bluezone_protocol::risk_config::{RiskConfigDocument, RiskConfigError};

use crate::transport::Transport;

/// Where the server publishes the current signed configuration (404 when none is).
pub const RISK_CONFIG_PATH: &str = "/v1/risk-config.json";

/// What became of a configuration file offered to the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskConfigOutcome {
    /// Verified, newer than the one held: applied and saved.
    Applied {
        /// Its sequence.
        sequence: u64,
    },
    /// Verified, but its sequence is not higher than the one held: ignored.
    NotNewer {
        /// The sequence held.
        held: u64,
        /// The sequence offered.
        offered: u64,
    },
    /// Refused (size, envelope, signature or document): the held one is kept.
    Refused(RiskConfigError),
}

/// The configuration the phone holds, for the app to show its age (not its parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HeldRiskConfig {
    /// Its sequence.
    pub sequence: u64,
    /// Unix seconds at which the authority issued it.
    pub issued_at: i64,
    /// Why it changed, as the authority wrote it.
    pub note: String,
    /// The risk model it selects (`gaen-daily-summaries` or `cwa`).
    pub model: String,
}

impl From<&RiskConfigDocument> for HeldRiskConfig {
    fn from(document: &RiskConfigDocument) -> Self {
        Self {
            sequence: document.sequence,
            issued_at: document.issued_at,
            note: document.note.clone(),
            model: document.model.clone(),
        }
    }
}

/// The kind of refusal, for the log (never the file's content).
#[must_use]
pub fn refusal_kind(error: &RiskConfigError) -> &'static str {
    match error {
        RiskConfigError::TooLarge(_) => "too large",
        RiskConfigError::Malformed(_) => "malformed",
        RiskConfigError::BadSignature(_) => "bad signature",
        RiskConfigError::Document(_) => "unreadable document",
        RiskConfigError::OutOfRange { field, .. } => field,
    }
}

/// Fetches the published configuration and applies it when newer; every failure is logged
/// and leaves the held configuration in place (a download never fails for it).
pub(crate) fn fetch_and_apply(tracer: &crate::Tracer, transport: &dyn Transport) {
    let reply = match transport.get(RISK_CONFIG_PATH) {
        Ok(reply) => reply,
        Err(_) => {
            log::warn!("risk configuration: network failure; the held one is kept");
            return;
        }
    };
    match reply.status {
        200 => {}
        404 => {
            log::debug!("risk configuration: none published");
            return;
        }
        status => {
            log::warn!("risk configuration: HTTP {status}; the held one is kept");
            return;
        }
    }
    match tracer.apply_risk_config(&reply.body) {
        Ok(outcome) => log::debug!("risk configuration: {outcome:?}"),
        Err(error) => log::warn!(
            "risk configuration not applied: {}",
            crate::logging::Safe(&error)
        ),
    }
}
