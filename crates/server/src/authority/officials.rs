//! Officials and their codes: adding an official, checking credentials (limited, and as slow
//! for an unknown name as for a wrong password), issuing, listing and revoking codes.

use bluezone_protocol::refusal::RefusalCode;
use rand::RngExt;

use super::{Authority, AuthorityError};
use crate::store::{CaseClaims, CodeStatus, NewCode};

/// A code just issued: shown once to the official, stored only as an HMAC. Its `Debug`
/// leaves the digits out.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// Row id, for listing and revoking.
    pub id: i64,
    /// The 8 digits.
    pub code: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for IssuedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCode")
            .field("id", &self.id)
            .field("code", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl Authority {
    /// Adds an official with a password (stored as an Argon2id hash).
    ///
    /// # Errors
    /// `invalid_official`, `official_exists`, or internal errors.
    pub fn create_official(
        &self,
        name: &str,
        password: &str,
        now: i64,
    ) -> Result<i64, AuthorityError> {
        if name.is_empty() || name.len() > 64 || password.len() < 12 || password.len() > 1024 {
            return Err(AuthorityError::refused(
                RefusalCode::InvalidOfficial,
                "a name of 1 to 64 characters and a password of 12 to 1,024",
            ));
        }
        let salt: [u8; 16] = self.random_bytes()?;
        let hash = self
            .passwords
            .hash(password.as_bytes(), &salt)
            .map_err(AuthorityError::internal)?;
        let id = self
            .store
            .create_official(name, &hash, now)
            .map_err(AuthorityError::internal)?
            .ok_or_else(|| {
                AuthorityError::refused(
                    RefusalCode::OfficialExists,
                    "an official with this name exists",
                )
            })?;
        self.audit(None, "create_official", name, now)?;
        Ok(id)
    }

    /// Checks an official's credentials. Limits come first: a client or a name with too
    /// many recent failures is refused before any hashing. A name that does not exist costs
    /// the same Argon2id check as a wrong password (against a decoy hash), so the answer and
    /// its timing do not tell whether an official exists. Callers bound how many run at once
    /// with [`Authority::password_checks`].
    ///
    /// # Errors
    /// `unauthorized`, `too_many_attempts`, or internal errors.
    pub fn authenticate(
        &self,
        client: &str,
        name: &str,
        password: &str,
        now: i64,
    ) -> Result<i64, AuthorityError> {
        let attempt = self.login_attempt(client, name, now)?;
        let official = if name.len() <= 64 && password.len() <= 1024 {
            self.store
                .official(name)
                .map_err(AuthorityError::internal)?
        } else {
            None
        };
        let decoy;
        let hash = match &official {
            Some((_, hash)) => hash.as_str(),
            None => {
                decoy = self.decoy_hash()?;
                decoy.as_str()
            }
        };
        let checked = self
            .passwords
            .verify(password.as_bytes(), hash)
            .map_err(AuthorityError::internal)?;
        match official {
            Some((id, _)) if checked => {
                attempt.refund();
                Ok(id)
            }
            _ => {
                attempt.fail();
                Err(AuthorityError::refused(
                    RefusalCode::Unauthorized,
                    "unknown official or wrong password",
                ))
            }
        }
    }

    /// A hash no password matches, made once.
    fn decoy_hash(&self) -> Result<String, AuthorityError> {
        if let Some(hash) = self.decoy_hash.get() {
            return Ok(hash.clone());
        }
        let password: [u8; 32] = self.random_bytes()?;
        let salt: [u8; 16] = self.random_bytes()?;
        let hash = self
            .passwords
            .hash(&password, &salt)
            .map_err(AuthorityError::internal)?;
        Ok(self.decoy_hash.get_or_init(|| hash).clone())
    }

    /// Issues a code for a positive case.
    ///
    /// # Errors
    /// `invalid_report_type`, or internal errors.
    pub fn issue_code(
        &self,
        official_id: i64,
        report_type: u8,
        symptom_onset_interval: Option<u32>,
        test_date: Option<String>,
        now: i64,
    ) -> Result<IssuedCode, AuthorityError> {
        if !matches!(report_type, 1 | 2) {
            return Err(AuthorityError::refused(
                RefusalCode::InvalidReportType,
                "codes are issued for confirmed tests (1) or clinical diagnoses (2)",
            ));
        }
        let claims = CaseClaims {
            report_type,
            symptom_onset_interval: symptom_onset_interval.map(|i| i - i % 144),
        };
        for _ in 0..8 {
            let code = {
                let mut rng = self.rng.lock().map_err(AuthorityError::internal)?;
                format!("{:08}", rng.random_range(0..100_000_000u32))
            };
            let new = NewCode {
                code_mac: self.keys.mac(b"code:", code.as_bytes()),
                official_id,
                claims,
                test_date: test_date.clone(),
                created_at: now,
                expires_at: now + self.config.code_validity_secs,
            };
            if let Some(id) = self
                .store
                .insert_code(&new)
                .map_err(AuthorityError::internal)?
            {
                self.audit(Some(official_id), "issue_code", &format!("code {id}"), now)?;
                return Ok(IssuedCode {
                    id,
                    code,
                    expires_at: new.expires_at,
                });
            }
        }
        Err(AuthorityError::internal("no free code found"))
    }

    /// An official's codes and their status, newest first.
    ///
    /// # Errors
    /// Internal errors.
    pub fn codes(&self, official_id: i64) -> Result<Vec<CodeStatus>, AuthorityError> {
        self.store
            .codes_of(official_id, 200)
            .map_err(AuthorityError::internal)
    }

    /// Revokes one of the official's unused codes.
    ///
    /// # Errors
    /// `code_not_found`, or internal errors.
    pub fn revoke_code(
        &self,
        official_id: i64,
        code_id: i64,
        now: i64,
    ) -> Result<(), AuthorityError> {
        if !self
            .store
            .revoke_code(official_id, code_id, now)
            .map_err(AuthorityError::internal)?
        {
            return Err(AuthorityError::refused(
                RefusalCode::CodeNotFound,
                "no unused code with this id",
            ));
        }
        self.audit(
            Some(official_id),
            "revoke_code",
            &format!("code {code_id}"),
            now,
        )
    }
}
