//! The health authority's logic, independent of HTTP: officials, codes, tokens,
//! certificates, uploads and publishing. Every refusal is an [`ApiError`] with a stable code.

use std::sync::{Arc, Mutex, OnceLock};

use base64ct::{Base64, Encoding};
use bluezone_protocol::RollingPeriod;
use bluezone_protocol::exchange::ReplyKey;
use bluezone_protocol::keyfile::{KeyFileSigner, ReportType};
use bluezone_protocol::messages::{
    CertificateResponse, PublishPayload, PublishResponse, VerifyResponse,
};
use bluezone_protocol::upload::{
    Certificate, CertificateClaims, UploadKey, UploadOpenKey, VerificationCode, accepted_tek_hmacs,
};
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::SigningKey;
use rand::{Rng, RngExt, SeedableRng};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::files::FileStore;
use crate::limits::{Blocked, FailureLimiter, LimitRules};
use crate::passwords::PasswordChecker;
use crate::store::{CaseClaims, CodeStatus, NewCode, Redeem, ServerStore, StoredKey, TokenUse};

pub use bluezone_protocol::exchange::{CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD};

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
    /// Failed official logins one client may make per 15 minutes (default 10).
    pub failed_logins_per_client: usize,
    /// Failed logins under one official name, from anywhere, per 15 minutes (default 20).
    pub failed_logins_per_name: usize,
    /// Password checks (Argon2id, 19 MiB each) that may run at once (default 4).
    pub max_concurrent_password_checks: usize,
    /// How long keys, files and codes are kept, and how far back the index reaches
    /// (default 14 days: a phone keeps sightings no longer).
    pub retention_secs: i64,
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
            failed_logins_per_client: 10,
            failed_logins_per_name: 20,
            max_concurrent_password_checks: 4,
            retention_secs: 14 * 86_400,
        }
    }
}

/// The server's secrets, all derived from its master secret. Each is zeroized when dropped
/// (the P-256 and X25519 keys by their own types) and none is printed by `Debug`.
pub struct AuthorityKeys {
    /// Signs certificates.
    certificate_key: SigningKey,
    /// Signs key files.
    file_signer: KeyFileSigner,
    /// Opens uploads.
    upload_key: UploadOpenKey,
    /// Keys the HMACs under which codes and tokens are stored.
    secret: Zeroizing<[u8; 32]>,
}

// Every field zeroizes itself when dropped.
impl zeroize::ZeroizeOnDrop for AuthorityKeys {}

impl std::fmt::Debug for AuthorityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorityKeys")
            .field("certificate_key", &"<redacted>")
            .field("file_signer", &self.file_signer)
            .field("upload_key", &self.upload_key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl AuthorityKeys {
    /// All keys derived from one 32-byte master secret (kept in the server's secret store).
    ///
    /// # Errors
    /// A message if a derived key is invalid (practically never).
    pub fn derive(master: &[u8; 32], key_id: &str, key_version: &str) -> Result<Self, String> {
        let derive = |label: &[u8]| -> Zeroizing<[u8; 32]> {
            let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("any key length");
            mac.update(label);
            Zeroizing::new(mac.finalize().into_bytes().into())
        };
        let scalar = |label: &[u8]| -> Result<SigningKey, String> {
            // Hash until the bytes are a valid P-256 scalar (all but negligibly often at once).
            let mut seed = derive(label);
            for _ in 0..8 {
                if let Ok(key) = SigningKey::from_slice(seed.as_slice()) {
                    return Ok(key);
                }
                *seed = Sha256::digest(seed.as_slice()).into();
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
            upload_key: UploadOpenKey::derive(derive(b"bluezone/server/upload").as_slice())
                .map_err(|e| e.to_string())?,
            secret: derive(b"bluezone/server/code-mac"),
        })
    }

    /// The key certificates are signed with.
    #[must_use]
    pub const fn certificate_key(&self) -> &SigningKey {
        &self.certificate_key
    }

    /// The signer of key files.
    #[must_use]
    pub const fn file_signer(&self) -> &KeyFileSigner {
        &self.file_signer
    }

    /// The key uploads are opened with.
    #[must_use]
    pub const fn upload_key(&self) -> &UploadOpenKey {
        &self.upload_key
    }

    /// The key of the HMACs under which codes and tokens are stored.
    #[must_use]
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
}

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

/// The health authority.
pub struct Authority {
    pub(crate) config: AuthorityConfig,
    pub(crate) keys: AuthorityKeys,
    pub(crate) store: Arc<dyn ServerStore>,
    pub(crate) files: Arc<dyn FileStore>,
    pub(crate) rng: Mutex<rand::rngs::StdRng>,
    /// Failed code attempts, per client and overall.
    code_failures: FailureLimiter,
    /// Failed logins per client.
    login_failures_by_client: FailureLimiter,
    /// Failed logins per official name (known or not).
    login_failures_by_name: FailureLimiter,
    /// Password hashing and checks, in bounded memory and concurrency.
    passwords: PasswordChecker,
    /// An Argon2id hash no password matches, checked for unknown names so that they take
    /// as long as known ones.
    decoy_hash: OnceLock<String>,
    /// One publisher at a time in this process.
    pub(crate) publish_lock: Mutex<()>,
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn too_many(blocked: Blocked) -> ApiError {
    ApiError::too_many(match blocked {
        Blocked::Global => "too many failed attempts from everyone; try again in a minute",
        Blocked::Key | Blocked::Full => "too many failed attempts; try again later",
    })
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
            keys,
            store,
            files,
            rng: Mutex::new(rand::rngs::StdRng::from_seed(seed)),
            code_failures: FailureLimiter::new(LimitRules {
                per_key: config.failed_attempts_per_client_per_hour,
                per_key_window_secs: 3600,
                global: config.failed_attempts_per_minute,
                global_window_secs: 60,
                max_keys: 100_000,
            }),
            login_failures_by_client: FailureLimiter::new(LimitRules {
                per_key: config.failed_logins_per_client,
                per_key_window_secs: 900,
                global: usize::MAX,
                global_window_secs: 60,
                max_keys: 100_000,
            }),
            login_failures_by_name: FailureLimiter::new(LimitRules {
                per_key: config.failed_logins_per_name,
                per_key_window_secs: 900,
                global: usize::MAX,
                global_window_secs: 60,
                max_keys: 100_000,
            }),
            passwords: PasswordChecker::new(config.max_concurrent_password_checks),
            decoy_hash: OnceLock::new(),
            publish_lock: Mutex::new(()),
            config,
        }
    }

    /// The gate every password check passes: at most
    /// [`AuthorityConfig::max_concurrent_password_checks`] run at once. The HTTP layer waits
    /// for a permit (for a bounded time) before calling [`Authority::authenticate`].
    #[must_use]
    pub fn password_checks(&self) -> Arc<tokio::sync::Semaphore> {
        self.passwords.permits()
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
        let mut mac = Hmac::<Sha256>::new_from_slice(self.keys.secret()).expect("any key length");
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
        if name.is_empty() || name.len() > 64 || password.len() < 12 || password.len() > 1024 {
            return Err(ApiError::bad_request(
                "invalid_official",
                "a name of 1 to 64 characters and a password of 12 to 1,024",
            ));
        }
        let salt: [u8; 16] = self.random_bytes()?;
        let hash = self
            .passwords
            .hash(password.as_bytes(), &salt)
            .map_err(internal)?;
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

    /// Checks an official's credentials. Limits come first: a client or a name with too
    /// many recent failures is refused before any hashing. A name that does not exist costs
    /// the same Argon2id check as a wrong password (against a decoy hash), so the answer and
    /// its timing do not tell whether an official exists. Callers bound how many run at once
    /// with [`Authority::password_checks`].
    ///
    /// # Errors
    /// `unauthorized` (401), `too_many_attempts` (429).
    pub fn authenticate(
        &self,
        client: &str,
        name: &str,
        password: &str,
        now: i64,
    ) -> Result<i64, ApiError> {
        let unauthorized = || ApiError::unauthorized("unknown official or wrong password");
        let by_client = self
            .login_failures_by_client
            .begin(client, now)
            .map_err(too_many)?;
        // Names are at most 64 bytes; a longer one is limited under its first 64.
        let name_key: String = name.chars().take(64).collect();
        let by_name = match self.login_failures_by_name.begin(&name_key, now) {
            Ok(attempt) => attempt,
            Err(blocked) => {
                by_client.refund();
                return Err(too_many(blocked));
            }
        };
        let official = if name.len() <= 64 && password.len() <= 1024 {
            self.store.official(name).map_err(internal)?
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
            .map_err(internal)?;
        match official {
            Some((id, _)) if checked => {
                by_client.refund();
                by_name.refund();
                Ok(id)
            }
            _ => {
                by_client.fail();
                by_name.fail();
                Err(unauthorized())
            }
        }
    }

    fn decoy_hash(&self) -> Result<String, ApiError> {
        if let Some(hash) = self.decoy_hash.get() {
            return Ok(hash.clone());
        }
        let password: [u8; 32] = self.random_bytes()?;
        let salt: [u8; 16] = self.random_bytes()?;
        let hash = self.passwords.hash(&password, &salt).map_err(internal)?;
        Ok(self.decoy_hash.get_or_init(|| hash).clone())
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
        // Checked and counted in one step: concurrent guesses cannot pass the limit together.
        let attempt = self.code_failures.begin(client, now).map_err(too_many)?;
        let Ok(code) = VerificationCode::parse(code) else {
            attempt.fail();
            return Err(ApiError::bad_request("code_invalid", "a code is 8 digits"));
        };
        // A failure of our own (storage) is not the client's: it does not count.
        let redeemed = self.random_bytes().and_then(|token: [u8; 32]| {
            self.store
                .redeem_code(
                    &self.mac(b"code:", code.as_str().as_bytes()),
                    &self.mac(b"token:", &token),
                    now + self.config.token_validity_secs,
                    now,
                )
                .map(|outcome| (token, outcome))
                .map_err(internal)
        });
        let (token, outcome) = match redeemed {
            Ok(done) => done,
            Err(error) => {
                attempt.refund();
                return Err(error);
            }
        };
        let refusal = match outcome {
            Redeem::Ok(claims) => {
                attempt.refund();
                return Ok(VerifyResponse {
                    token: Base64::encode_string(&token),
                    report_type: claims.report_type,
                    symptom_onset_interval: claims.symptom_onset_interval,
                    padding: String::new(),
                });
            }
            Redeem::Expired => ApiError::bad_request("code_expired", "the code has expired"),
            Redeem::Used => ApiError::bad_request("code_used", "the code was already used"),
            Redeem::NotFound | Redeem::Revoked => {
                ApiError::bad_request("code_invalid", "the code is not valid")
            }
        };
        attempt.fail();
        Err(refusal)
    }

    /// Exchanges a token and the key HMAC for a certificate; the same token and HMAC again,
    /// within the certificate's validity, get the same certificate.
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
        // A repeat of the same request (same token, same HMAC) while the first certificate
        // is valid gets that certificate again: a phone whose answer was lost can go on.
        let (claims, issued_at) = match self
            .store
            .take_token(
                &self.mac(b"token:", &token),
                &tek_hmac,
                now,
                self.config.certificate_validity_secs,
            )
            .map_err(internal)?
        {
            TokenUse::Certify { claims, issued_at } => (claims, issued_at),
            TokenUse::Refused(Redeem::Expired) => {
                return Err(ApiError::bad_request(
                    "token_expired",
                    "the token has expired",
                ));
            }
            TokenUse::Refused(_) => {
                return Err(ApiError::bad_request(
                    "token_invalid",
                    "the token is not valid",
                ));
            }
        };
        // Deterministic ECDSA: the same claims give the same certificate, byte for byte.
        let certificate = Certificate::issue(
            &CertificateClaims {
                report_type: ReportType::from_i32(i32::from(claims.report_type))
                    .ok_or_else(|| internal("a stored case has an unknown report type"))?,
                symptom_onset_interval: claims.symptom_onset_interval,
                tek_hmac,
                issued_at,
                expires_at: issued_at + self.config.certificate_validity_secs,
            },
            &self.keys.certificate_key,
        );
        Ok(CertificateResponse {
            certificate: Base64::encode_string(&certificate.0),
            padding: String::new(),
        })
    }

    /// Opens a sealed request to one of the phone endpoints (see
    /// [`bluezone_protocol::exchange`]); returns its plaintext and the key for its reply.
    ///
    /// # Errors
    /// `body_too_large` (413), `unsealable` (400): answered in the clear, since there is no
    /// key to seal them with.
    pub fn open_request(
        &self,
        aad: &[u8],
        body: &[u8],
    ) -> Result<(zeroize::Zeroizing<Vec<u8>>, ReplyKey), ApiError> {
        if body.len() > self.config.max_body_bytes {
            return Err(ApiError::too_large(self.config.max_body_bytes));
        }
        self.keys.upload_key.open_request(aad, body).map_err(|_| {
            ApiError::bad_request("unsealable", "the body does not open with the server's key")
        })
    }

    /// Seals the reply to an opened request: `status` and `body`, padded to one size.
    ///
    /// # Errors
    /// Internal errors (a body too long to seal).
    pub fn seal_reply(
        &self,
        key: &ReplyKey,
        status: u16,
        body: &[u8],
    ) -> Result<Vec<u8>, ApiError> {
        let mut rng = self.rng.lock().map_err(internal)?;
        key.seal_reply(status, body, &mut *rng).map_err(internal)
    }

    /// Accepts an upload (the opened plaintext of a sealed `/v1/publish`): checks
    /// certificate, HMAC and keys, stores it.
    ///
    /// # Errors
    /// `bad_request`, `certificate_invalid`,
    /// `certificate_expired`, `hmac_mismatch`, `no_keys`, `too_many_keys`, `invalid_key`,
    /// `future_key`, `key_too_old`, `duplicate_key`, `overlapping_keys` (400).
    pub fn publish(&self, plaintext: &[u8], now: i64) -> Result<PublishResponse, ApiError> {
        let payload: PublishPayload = serde_json::from_slice(plaintext)
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
            .map(Zeroizing::new)
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
            .insert_upload(&certificate.id(), case, &stored, now)
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
