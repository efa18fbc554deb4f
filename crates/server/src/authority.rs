//! The health authority's logic, independent of HTTP: officials, codes, tokens,
//! certificates, uploads and publishing. Every refusal is an [`ApiError`] with a stable code.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use base64ct::{Base64, Encoding};
use bluezone_protocol::keyfile::{
    DiagnosisKey, ExportInfo, KeyFileSigner, ReportType, write_key_file,
};
use bluezone_protocol::messages::{
    CertificateResponse, PublishPayload, PublishResponse, VerifyResponse,
};
use bluezone_protocol::upload::{
    Certificate, CertificateClaims, UploadKey, UploadOpenKey, VerificationCode, accepted_tek_hmacs,
};
use bluezone_protocol::{IntervalNumber, RollingPeriod};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::SigningKey;
use rand::{Rng, RngExt, SeedableRng};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::files::FileStore;
use crate::store::{CaseClaims, CodeStatus, NewCode, Redeem, ServerStore, StoredKey};

pub use bluezone_protocol::upload::PUBLISH_AAD;

/// The server's settings, with the defaults of the GAEN verification and key servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityConfig {
    /// Region written into key files (default "452", Vietnam's mobile country code).
    pub region: String,
    /// How long a code may be redeemed (default 1 hour).
    pub code_validity_secs: i64,
    /// How long a token may be exchanged for a certificate (default 24 hours).
    pub token_validity_secs: i64,
    /// How long a certificate may be used to upload (default 15 minutes).
    pub certificate_validity_secs: i64,
    /// Most keys in one upload (default 30).
    pub max_keys_per_upload: usize,
    /// Largest upload body in bytes (default 64,000).
    pub max_body_bytes: usize,
    /// Files are padded with random keys up to this many (default 1,000).
    pub min_keys_per_file: usize,
    /// Most keys per file (default 500,000).
    pub max_keys_per_file: usize,
    /// Failed code attempts one client may make per hour (default 10).
    pub failed_attempts_per_client_per_hour: usize,
    /// Failed code attempts all clients together may make per minute (default 100).
    pub failed_attempts_per_minute: usize,
}

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            region: "452".into(),
            code_validity_secs: 3600,
            token_validity_secs: 24 * 3600,
            certificate_validity_secs: 900,
            max_keys_per_upload: 30,
            max_body_bytes: 64_000,
            min_keys_per_file: 1000,
            max_keys_per_file: 500_000,
            failed_attempts_per_client_per_hour: 10,
            failed_attempts_per_minute: 100,
        }
    }
}

/// The server's secrets.
pub struct AuthorityKeys {
    /// Signs certificates.
    pub certificate_key: SigningKey,
    /// Signs key files.
    pub file_signer: KeyFileSigner,
    /// Opens uploads.
    pub upload_key: UploadOpenKey,
    /// Keys the HMACs under which codes and tokens are stored.
    pub secret: [u8; 32],
}

impl AuthorityKeys {
    /// All keys derived from one 32-byte master secret (kept in the server's secret store).
    ///
    /// # Errors
    /// A message if a derived key is invalid (practically never).
    pub fn derive(master: &[u8; 32], key_id: &str, key_version: &str) -> Result<Self, String> {
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("any key length");
            mac.update(label);
            mac.finalize().into_bytes().into()
        };
        let scalar = |label: &[u8]| -> Result<SigningKey, String> {
            // Hash until the bytes are a valid P-256 scalar (all but negligibly often at once).
            let mut seed = derive(label);
            for _ in 0..8 {
                if let Ok(key) = SigningKey::from_slice(&seed) {
                    return Ok(key);
                }
                seed = Sha256::digest(seed).into();
            }
            Err("could not derive a P-256 key".into())
        };
        Ok(Self {
            certificate_key: scalar(b"bluezone/server/certificate")?,
            file_signer: KeyFileSigner {
                key_id: key_id.to_owned(),
                version: key_version.to_owned(),
                key: scalar(b"bluezone/server/key-files")?,
            },
            upload_key: UploadOpenKey::derive(&derive(b"bluezone/server/upload"))
                .map_err(|e| e.to_string())?,
            secret: derive(b"bluezone/server/code-mac"),
        })
    }
}

/// A code just issued: shown once to the official, stored only as an HMAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// Row id, for listing and revoking.
    pub id: i64,
    /// The 8 digits.
    pub code: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Sliding windows of failed code attempts.
#[derive(Default)]
struct Limiter {
    per_client: HashMap<String, VecDeque<i64>>,
    global: VecDeque<i64>,
}

impl Limiter {
    fn blocked(&mut self, client: &str, now: i64, config: &AuthorityConfig) -> bool {
        while self.global.front().is_some_and(|t| *t <= now - 60) {
            self.global.pop_front();
        }
        let mine = self.per_client.entry(client.to_owned()).or_default();
        while mine.front().is_some_and(|t| *t <= now - 3600) {
            mine.pop_front();
        }
        mine.len() >= config.failed_attempts_per_client_per_hour
            || self.global.len() >= config.failed_attempts_per_minute
    }

    fn failed(&mut self, client: &str, now: i64) {
        self.global.push_back(now);
        self.per_client
            .entry(client.to_owned())
            .or_default()
            .push_back(now);
    }
}

/// The health authority.
pub struct Authority {
    config: AuthorityConfig,
    keys: AuthorityKeys,
    store: Arc<dyn ServerStore>,
    files: Arc<dyn FileStore>,
    rng: Mutex<rand::rngs::StdRng>,
    limiter: Mutex<Limiter>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

impl Authority {
    /// An authority over a store and a file store; `seed` seeds its generator (draw it from
    /// the OS in production, fix it in tests).
    #[must_use]
    pub fn new(
        config: AuthorityConfig,
        keys: AuthorityKeys,
        store: Arc<dyn ServerStore>,
        files: Arc<dyn FileStore>,
        seed: [u8; 32],
    ) -> Self {
        Self {
            config,
            keys,
            store,
            files,
            rng: Mutex::new(rand::rngs::StdRng::from_seed(seed)),
            limiter: Mutex::new(Limiter::default()),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AuthorityConfig {
        &self.config
    }

    /// The key phones seal uploads to.
    #[must_use]
    pub fn upload_public_key(&self) -> [u8; 32] {
        self.keys.upload_key.public_key()
    }

    /// The key phones verify key files with.
    #[must_use]
    pub fn file_signer(&self) -> &KeyFileSigner {
        &self.keys.file_signer
    }

    /// The key certificates are checked with.
    #[must_use]
    pub fn certificate_public_key(&self) -> p256::ecdsa::VerifyingKey {
        *self.keys.certificate_key.verifying_key()
    }

    fn mac(&self, purpose: &[u8], value: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.keys.secret).expect("any key length");
        mac.update(purpose);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    fn random_bytes<const N: usize>(&self) -> Result<[u8; N], ApiError> {
        let mut out = [0u8; N];
        self.rng.lock().map_err(internal)?.fill_bytes(&mut out);
        Ok(out)
    }

    /// Adds an official with a password (stored as an Argon2id hash).
    ///
    /// # Errors
    /// `official_exists` (409), or internal errors.
    pub fn create_official(&self, name: &str, password: &str, now: i64) -> Result<i64, ApiError> {
        use argon2::password_hash::PasswordHasher;
        if name.is_empty() || name.len() > 64 || password.len() < 12 {
            return Err(ApiError::bad_request(
                "invalid_official",
                "a name of 1 to 64 characters and a password of at least 12",
            ));
        }
        let salt: [u8; 16] = self.random_bytes()?;
        let hash = argon2::Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt)
            .map_err(internal)?
            .to_string();
        let id = self
            .store
            .create_official(name, &hash, now)
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::conflict("official_exists", "an official with this name exists")
            })?;
        self.store
            .audit(None, "create_official", name, now)
            .map_err(internal)?;
        Ok(id)
    }

    /// Checks an official's credentials.
    ///
    /// # Errors
    /// `unauthorized` (401).
    pub fn authenticate(&self, name: &str, password: &str) -> Result<i64, ApiError> {
        use argon2::password_hash::PasswordVerifier;
        use argon2::password_hash::phc::PasswordHash;
        let unauthorized = || ApiError::unauthorized("unknown official or wrong password");
        let (id, hash) = self
            .store
            .official(name)
            .map_err(internal)?
            .ok_or_else(unauthorized)?;
        let parsed = PasswordHash::new(&hash).map_err(internal)?;
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .map_err(|_| unauthorized())?;
        Ok(id)
    }

    /// Issues a code for a positive case.
    ///
    /// # Errors
    /// `invalid_report_type` (400), or internal errors.
    pub fn issue_code(
        &self,
        official_id: i64,
        report_type: u8,
        symptom_onset_interval: Option<u32>,
        test_date: Option<String>,
        now: i64,
    ) -> Result<IssuedCode, ApiError> {
        if !matches!(report_type, 1 | 2) {
            return Err(ApiError::bad_request(
                "invalid_report_type",
                "codes are issued for confirmed tests (1) or clinical diagnoses (2)",
            ));
        }
        let claims = CaseClaims {
            report_type,
            symptom_onset_interval: symptom_onset_interval.map(|i| i - i % 144),
        };
        for _ in 0..8 {
            let code = {
                let mut rng = self.rng.lock().map_err(internal)?;
                format!("{:08}", rng.random_range(0..100_000_000u32))
            };
            let new = NewCode {
                code_mac: self.mac(b"code:", code.as_bytes()),
                official_id,
                claims,
                test_date: test_date.clone(),
                created_at: now,
                expires_at: now + self.config.code_validity_secs,
            };
            if let Some(id) = self.store.insert_code(&new).map_err(internal)? {
                self.store
                    .audit(Some(official_id), "issue_code", &format!("code {id}"), now)
                    .map_err(internal)?;
                return Ok(IssuedCode {
                    id,
                    code,
                    expires_at: new.expires_at,
                });
            }
        }
        Err(ApiError::internal("no free code found".into()))
    }

    /// An official's codes and their status, newest first.
    ///
    /// # Errors
    /// Internal errors.
    pub fn codes(&self, official_id: i64) -> Result<Vec<CodeStatus>, ApiError> {
        self.store.codes_of(official_id, 200).map_err(internal)
    }

    /// Revokes one of the official's unused codes.
    ///
    /// # Errors
    /// `code_not_found` (404).
    pub fn revoke_code(&self, official_id: i64, code_id: i64, now: i64) -> Result<(), ApiError> {
        if !self
            .store
            .revoke_code(official_id, code_id, now)
            .map_err(internal)?
        {
            return Err(ApiError::not_found(
                "code_not_found",
                "no unused code with this id",
            ));
        }
        self.store
            .audit(
                Some(official_id),
                "revoke_code",
                &format!("code {code_id}"),
                now,
            )
            .map_err(internal)
    }

    /// Exchanges a code for a token.
    ///
    /// # Errors
    /// `too_many_attempts` (429), `code_invalid`, `code_expired`, `code_used` (400).
    pub fn verify(&self, client: &str, code: &str, now: i64) -> Result<VerifyResponse, ApiError> {
        if self
            .limiter
            .lock()
            .map_err(internal)?
            .blocked(client, now, &self.config)
        {
            return Err(ApiError::too_many(
                "too many failed attempts; try again later",
            ));
        }
        let fail = |error: ApiError| -> Result<VerifyResponse, ApiError> {
            self.limiter.lock().map_err(internal)?.failed(client, now);
            Err(error)
        };
        let Ok(code) = VerificationCode::parse(code) else {
            return fail(ApiError::bad_request("code_invalid", "a code is 8 digits"));
        };
        let token: [u8; 32] = self.random_bytes()?;
        let outcome = self
            .store
            .redeem_code(
                &self.mac(b"code:", code.as_str().as_bytes()),
                &self.mac(b"token:", &token),
                now + self.config.token_validity_secs,
                now,
            )
            .map_err(internal)?;
        match outcome {
            Redeem::Ok(claims) => Ok(VerifyResponse {
                token: Base64::encode_string(&token),
                report_type: claims.report_type,
                symptom_onset_interval: claims.symptom_onset_interval,
                padding: String::new(),
            }),
            Redeem::Expired => fail(ApiError::bad_request(
                "code_expired",
                "the code has expired",
            )),
            Redeem::Used => fail(ApiError::bad_request(
                "code_used",
                "the code was already used",
            )),
            Redeem::NotFound | Redeem::Revoked => fail(ApiError::bad_request(
                "code_invalid",
                "the code is not valid",
            )),
        }
    }

    /// Exchanges a token and the key HMAC for a certificate.
    ///
    /// # Errors
    /// `hmac_invalid`, `token_invalid`, `token_expired` (400).
    pub fn certificate(
        &self,
        token: &str,
        ekeyhmac: &str,
        now: i64,
    ) -> Result<CertificateResponse, ApiError> {
        let tek_hmac: [u8; 32] = Base64::decode_vec(ekeyhmac)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| {
                ApiError::bad_request("hmac_invalid", "the key HMAC is 32 bytes of base64")
            })?;
        let token = Base64::decode_vec(token)
            .map_err(|_| ApiError::bad_request("token_invalid", "the token is not valid"))?;
        let claims = match self
            .store
            .take_token(&self.mac(b"token:", &token), now)
            .map_err(internal)?
        {
            Redeem::Ok(claims) => claims,
            Redeem::Expired => {
                return Err(ApiError::bad_request(
                    "token_expired",
                    "the token has expired",
                ));
            }
            _ => {
                return Err(ApiError::bad_request(
                    "token_invalid",
                    "the token is not valid",
                ));
            }
        };
        let certificate = Certificate::issue(
            &CertificateClaims {
                report_type: ReportType::from_i32(i32::from(claims.report_type))
                    .unwrap_or_default(),
                symptom_onset_interval: claims.symptom_onset_interval,
                tek_hmac,
                issued_at: now,
                expires_at: now + self.config.certificate_validity_secs,
            },
            &self.keys.certificate_key,
        );
        Ok(CertificateResponse {
            certificate: Base64::encode_string(&certificate.0),
            padding: String::new(),
        })
    }

    /// Accepts a sealed upload: opens it, checks certificate, HMAC and keys, stores it.
    ///
    /// # Errors
    /// `body_too_large` (413); `unsealable`, `bad_request`, `certificate_invalid`,
    /// `certificate_expired`, `hmac_mismatch`, `no_keys`, `too_many_keys`, `invalid_key`,
    /// `future_key`, `key_too_old`, `duplicate_key`, `overlapping_keys` (400).
    pub fn publish(&self, body: &[u8], now: i64) -> Result<PublishResponse, ApiError> {
        if body.len() > self.config.max_body_bytes {
            return Err(ApiError::too_large(self.config.max_body_bytes));
        }
        let plaintext = self.keys.upload_key.open(PUBLISH_AAD, body).map_err(|_| {
            ApiError::bad_request("unsealable", "the body does not open with the server's key")
        })?;
        let payload: PublishPayload = serde_json::from_slice(&plaintext)
            .map_err(|e| ApiError::bad_request("bad_request", &format!("malformed upload: {e}")))?;
        let certificate = Base64::decode_vec(&payload.certificate)
            .map(Certificate)
            .map_err(|_| {
                ApiError::bad_request("certificate_invalid", "the certificate is not base64")
            })?;
        let claims = certificate
            .verify(&self.certificate_public_key(), now)
            .map_err(|e| match e {
                bluezone_protocol::upload::UploadError::CertificateExpired => {
                    ApiError::bad_request("certificate_expired", "the certificate has expired")
                }
                _ => ApiError::bad_request("certificate_invalid", "the certificate is not valid"),
            })?;
        let secret = Base64::decode_vec(&payload.hmac_key)
            .map_err(|_| ApiError::bad_request("hmac_mismatch", "the HMAC key is not base64"))?;
        let keys = self.check_keys(&payload, now)?;
        let accepted = accepted_tek_hmacs(&secret, &keys);
        let matches = accepted.iter().fold(false, |found, h| {
            found | constant_time_eq(h, &claims.tek_hmac)
        });
        if !matches {
            return Err(ApiError::bad_request(
                "hmac_mismatch",
                "the keys do not match the HMAC the certificate was issued for",
            ));
        }
        let now_interval = u64::try_from(now / 600).unwrap_or(0);
        let stored: Vec<StoredKey> = keys
            .iter()
            .map(|k| {
                let end = u64::from(k.rolling_start) + u64::from(k.rolling_period);
                // A key still in use is embargoed until two hours after it expires.
                let publish_after = if end > now_interval {
                    i64::try_from(end * 600).unwrap_or(i64::MAX) + 7200
                } else {
                    now
                };
                StoredKey {
                    key_data: k.key_data,
                    rolling_start: k.rolling_start,
                    rolling_period: k.rolling_period,
                    transmission_risk: k.transmission_risk,
                    publish_after,
                }
            })
            .collect();
        let case = CaseClaims {
            report_type: claims.report_type as u8,
            symptom_onset_interval: claims.symptom_onset_interval,
        };
        let inserted = self
            .store
            .insert_upload(&Sha256::digest(&certificate.0).into(), case, &stored, now)
            .map_err(internal)?;
        Ok(PublishResponse {
            inserted,
            padding: String::new(),
        })
    }

    fn check_keys(&self, payload: &PublishPayload, now: i64) -> Result<Vec<UploadKey>, ApiError> {
        if payload.keys.is_empty() {
            return Err(ApiError::bad_request(
                "no_keys",
                "an upload holds at least one key",
            ));
        }
        if payload.keys.len() > self.config.max_keys_per_upload {
            return Err(ApiError::bad_request(
                "too_many_keys",
                "too many keys in one upload",
            ));
        }
        let now_interval = u32::try_from(now / 600).unwrap_or(u32::MAX);
        let oldest = now_interval.saturating_sub(15 * 144);
        let mut keys = Vec::with_capacity(payload.keys.len());
        for k in &payload.keys {
            let invalid = |m: &str| ApiError::bad_request("invalid_key", m);
            let key_data: [u8; 16] = Base64::decode_vec(&k.key)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| invalid("a key is 16 bytes of base64"))?;
            if RollingPeriod::new(k.rolling_period).is_err() {
                return Err(invalid("a rolling period is 1 to 144"));
            }
            if k.transmission_risk > 8 {
                return Err(invalid("a transmission risk is 0 to 8"));
            }
            if k.rolling_start_number > now_interval {
                return Err(ApiError::bad_request(
                    "future_key",
                    "a key starts in the future",
                ));
            }
            if k.rolling_start_number + k.rolling_period < oldest {
                return Err(ApiError::bad_request(
                    "key_too_old",
                    "a key expired more than 15 days ago",
                ));
            }
            keys.push(UploadKey {
                key_data,
                rolling_start: k.rolling_start_number,
                rolling_period: k.rolling_period,
                transmission_risk: k.transmission_risk,
            });
        }
        let mut seen = std::collections::HashSet::new();
        if !keys.iter().all(|k| seen.insert(k.key_data)) {
            return Err(ApiError::bad_request(
                "duplicate_key",
                "a key appears twice",
            ));
        }
        let mut by_start = keys.clone();
        by_start.sort_by_key(|k| k.rolling_start);
        for pair in by_start.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if a.rolling_start != b.rolling_start
                && a.rolling_start + a.rolling_period > b.rolling_start
            {
                return Err(ApiError::bad_request(
                    "overlapping_keys",
                    "keys overlap in time",
                ));
            }
        }
        Ok(keys)
    }

    /// Publishes every key whose embargo has passed, in signed files padded with random keys;
    /// returns the names of the new files. Keys are marked published in the same transaction
    /// that records their file, so a crash never publishes a key twice nor loses one.
    ///
    /// # Errors
    /// Internal errors.
    pub fn publish_files(&self, now: i64) -> Result<Vec<String>, ApiError> {
        let mut names = Vec::new();
        let limit = u32::try_from(self.config.max_keys_per_file).unwrap_or(u32::MAX);
        loop {
            let batch = self.store.publishable_keys(now, limit).map_err(internal)?;
            if batch.is_empty() {
                return Ok(names);
            }
            let mut keys: Vec<DiagnosisKey> = batch
                .iter()
                .map(|p| DiagnosisKey {
                    key_data: p.key.key_data,
                    rolling_start: IntervalNumber::new(p.key.rolling_start),
                    rolling_period: RollingPeriod::new(p.key.rolling_period).unwrap_or_default(),
                    transmission_risk: p.key.transmission_risk,
                    report_type: ReportType::from_i32(i32::from(p.claims.report_type))
                        .unwrap_or_default(),
                    days_since_onset: p.claims.symptom_onset_interval.and_then(|onset| {
                        let days =
                            (i64::from(p.key.rolling_start) - i64::from(onset)).div_euclid(144);
                        i8::try_from(days).ok().filter(|d| (-14..=14).contains(d))
                    }),
                })
                .collect();
            {
                let mut rng = self.rng.lock().map_err(internal)?;
                let real = keys.len();
                while keys.len() < self.config.min_keys_per_file {
                    let mut fake = keys[rng.random_range(0..real)];
                    rng.fill_bytes(&mut fake.key_data);
                    keys.push(fake);
                }
            }
            let info = ExportInfo {
                start_timestamp: u64::try_from(now - 3600).unwrap_or(0),
                end_timestamp: u64::try_from(now).unwrap_or(0),
                region: self.config.region.clone(),
                batch_num: 1,
                batch_size: 1,
            };
            let file = write_key_file(&info, &keys, &self.keys.file_signer).map_err(internal)?;
            let name = format!("{now}-{:05}.zip", names.len() + 1);
            self.files.put(&name, &file).map_err(internal)?;
            let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
            self.store
                .record_file(
                    &name,
                    &ids,
                    u32::try_from(keys.len()).unwrap_or(u32::MAX),
                    now,
                )
                .map_err(internal)?;
            self.store
                .audit(
                    None,
                    "publish",
                    &format!("{name}: {} keys, {} real", keys.len(), ids.len()),
                    now,
                )
                .map_err(internal)?;
            names.push(name);
        }
    }

    /// The index phones poll: published file names, oldest first, one per line.
    ///
    /// # Errors
    /// Internal errors.
    pub fn index(&self) -> Result<String, ApiError> {
        let mut text = self.store.files().map_err(internal)?.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        Ok(text)
    }

    /// A published file.
    ///
    /// # Errors
    /// `file_not_found` (404).
    pub fn file(&self, name: &str) -> Result<Vec<u8>, ApiError> {
        self.files
            .get(name)
            .map_err(internal)?
            .ok_or_else(|| ApiError::not_found("file_not_found", "no such file"))
    }

    /// The audit log, newest first.
    ///
    /// # Errors
    /// Internal errors.
    pub fn audit_log(&self) -> Result<Vec<crate::store::AuditEntry>, ApiError> {
        self.store.audit_log(500).map_err(internal)
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
