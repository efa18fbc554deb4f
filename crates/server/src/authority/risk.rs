//! The authority's risk configuration ([`bluezone_protocol::risk_config`], decision 0021):
//! each one published is signed with the key-file signer and kept in the files store as
//! `risk-config-<sequence, 20 digits>.json`, written once and never replaced; the current one
//! is the highest sequence there. Publishing takes the next sequence and is audited.

use bluezone_protocol::keyfile::TrustedKeys;
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::risk_config::{
    RiskConfigDocument, VerifiedRiskConfig, read_risk_config, write_risk_config,
};

use super::{Authority, AuthorityError};

/// What a file in the files store holding a risk configuration is named before its sequence.
pub const RISK_CONFIG_PREFIX: &str = "risk-config-";

/// The files store's name for configuration number `sequence`.
#[must_use]
pub fn risk_config_name(sequence: u64) -> String {
    format!("{RISK_CONFIG_PREFIX}{sequence:020}.json")
}

/// The sequence a files-store name holds, if it is a risk configuration's.
fn sequence_of(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(RISK_CONFIG_PREFIX)?
        .strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// The current configuration as published: the signed file and what it says.
#[derive(Debug, Clone)]
pub struct PublishedRiskConfig {
    /// The signed file, served as it is.
    pub bytes: Vec<u8>,
    /// Its verified content and SHA-256.
    pub verified: VerifiedRiskConfig,
}

impl Authority {
    /// The current risk configuration (the highest sequence published), if any. It is read
    /// back through the same checks a phone makes, with this server's signer.
    ///
    /// # Errors
    /// Internal errors: the files store fails, or the file held does not verify.
    pub fn risk_config(&self) -> Result<Option<PublishedRiskConfig>, AuthorityError> {
        let Some(sequence) = self.latest_risk_sequence()? else {
            return Ok(None);
        };
        let name = risk_config_name(sequence);
        let bytes = self
            .files
            .get(&name)
            .map_err(AuthorityError::internal)?
            .ok_or_else(|| AuthorityError::internal(format!("{name} vanished")))?;
        let trusted = TrustedKeys::single(self.keys.file_signer().trusted_key());
        let verified = read_risk_config(&bytes, &trusted)
            .map_err(|e| AuthorityError::internal(format!("{name}: {e}")))?;
        Ok(Some(PublishedRiskConfig { bytes, verified }))
    }

    /// Signs and publishes `document` as the next configuration: its `sequence` and
    /// `issued_at` are set here (one more than the current one's, and `now`), and an audit
    /// row records who (`official_id`, `None` for the server's operator), the sequence and
    /// the note.
    ///
    /// # Errors
    /// [`RefusalCode::BadRequest`] naming the field for an invalid document; internal errors.
    pub fn publish_risk_config(
        &self,
        mut document: RiskConfigDocument,
        official_id: Option<i64>,
        now: i64,
    ) -> Result<PublishedRiskConfig, AuthorityError> {
        let _one_publisher = self.publish_lock.lock().map_err(AuthorityError::internal)?;
        document.sequence = self.latest_risk_sequence()?.unwrap_or(0).saturating_add(1);
        document.issued_at = now;
        let bytes = write_risk_config(&document, self.keys.file_signer())
            .map_err(|e| AuthorityError::refused(RefusalCode::BadRequest, &e.to_string()))?;
        let name = risk_config_name(document.sequence);
        if !self
            .files
            .put_new(&name, &bytes)
            .map_err(AuthorityError::internal)?
        {
            return Err(AuthorityError::internal(format!("{name} exists")));
        }
        self.audit(
            official_id,
            "publish_risk_config",
            &format!("sequence {}: {}", document.sequence, document.note),
            now,
        )?;
        tracing::info!(sequence = document.sequence, "risk configuration published");
        let trusted = TrustedKeys::single(self.keys.file_signer().trusted_key());
        let verified = read_risk_config(&bytes, &trusted).map_err(AuthorityError::internal)?;
        Ok(PublishedRiskConfig { bytes, verified })
    }

    fn latest_risk_sequence(&self) -> Result<Option<u64>, AuthorityError> {
        Ok(self
            .files
            .list()
            .map_err(AuthorityError::internal)?
            .iter()
            .filter_map(|(name, _)| sequence_of(name))
            .max())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code.

    use super::*;
    use bluezone_protocol::risk::RiskConfig;
    use bluezone_protocol::risk_config::RiskConfigError;

    #[test]
    fn names_hold_the_sequence_and_nothing_else_reads_as_one() {
        assert_eq!(sequence_of(&risk_config_name(42)), Some(42));
        assert_eq!(sequence_of(&risk_config_name(u64::MAX)), Some(u64::MAX));
        for name in [
            "risk-config-1.json",
            "risk-config-0000000000000000000x.json",
            "a.zip",
        ] {
            assert_eq!(sequence_of(name), None, "{name}");
        }
        assert!(crate::files::is_valid_name(&risk_config_name(u64::MAX)));
    }

    #[test]
    fn each_publication_takes_the_next_sequence_and_an_invalid_one_names_its_field() {
        let authority = super::super::tests::authority();
        assert!(authority.risk_config().unwrap().is_none());
        let document = RiskConfigDocument::new(0, 0, &RiskConfig::default(), "first");
        let first = authority
            .publish_risk_config(document.clone(), None, 1000)
            .unwrap();
        assert_eq!(
            (
                first.verified.document.sequence,
                first.verified.document.issued_at
            ),
            (1, 1000)
        );
        let second = authority
            .publish_risk_config(document.clone(), None, 2000)
            .unwrap();
        assert_eq!(second.verified.document.sequence, 2);
        let current = authority.risk_config().unwrap().unwrap();
        assert_eq!(current.bytes, second.bytes);
        assert_eq!(current.verified.sha256, second.verified.sha256);

        let mut bad = document;
        bad.parameters.gaen_mut().unwrap().days_to_consider = 0;
        let refused = authority.publish_risk_config(bad, None, 3000).unwrap_err();
        assert_eq!(refused.code, RefusalCode::BadRequest);
        let expected = RiskConfigError::OutOfRange {
            field: "days_to_consider",
            problem: "must be 1 to 14",
        };
        assert_eq!(refused.message, expected.to_string());
        assert_eq!(
            authority.risk_config().unwrap().unwrap().bytes,
            second.bytes
        );
        let log = authority.audit_log().unwrap();
        assert_eq!(log[0].action, "publish_risk_config");
        assert_eq!(log[0].detail, "sequence 2: first");
    }
}
