//! Server storage behind a trait ([`ServerStore`]), so a PostgreSQL backend can replace the
//! embedded SQLite one ([`SqliteServerStore`]) when a country outgrows one machine. Every
//! method that changes state is one transaction: an accepted upload is committed before it is
//! acknowledged, and keys are marked published in the same transaction that records the file.

use std::path::Path;
use std::sync::Mutex;

use bluezone_protocol::DayNumber;
use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

use crate::limits::{AttemptCheck, AttemptCounts, Checked, Verdict};

mod postgres;

pub use postgres::PostgresServerStore;

/// A storage failure.
#[derive(Debug, Error)]
#[error("storage failure: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// A storage failure described by `message`.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// What a redeemed code or token says about the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseClaims {
    /// GAEN report type number.
    pub report_type: u8,
    /// Interval of the UTC midnight of symptom onset, if recorded.
    pub symptom_onset_interval: Option<u32>,
}

/// A code as an official sees it in their list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeStatus {
    /// Row id.
    pub id: i64,
    /// Claims recorded with it.
    pub claims: CaseClaims,
    /// Test date as entered (YYYY-MM-DD), if any.
    pub test_date: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// When the phone redeemed it.
    pub used_at: Option<i64>,
    /// When the official revoked it.
    pub revoked_at: Option<i64>,
}

/// A new code to store.
#[derive(Debug, Clone)]
pub struct NewCode {
    /// HMAC of the code under the server secret.
    pub code_mac: [u8; 32],
    /// Issuing official.
    pub official_id: i64,
    /// Claims.
    pub claims: CaseClaims,
    /// Test date as entered.
    pub test_date: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Why a code or token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeem {
    /// It worked: the claims.
    Ok(CaseClaims),
    /// Unknown.
    NotFound,
    /// Past its validity.
    Expired,
    /// Already used.
    Used,
    /// Revoked by its official.
    Revoked,
}

/// What a token is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Certify the case's claims, issued at this time (now, or the first issue's time when
    /// the same request is repeated).
    Certify {
        /// The case's claims.
        claims: CaseClaims,
        /// Unix seconds the certificate is (or was first) issued.
        issued_at: i64,
    },
    /// Refused, and why.
    Refused(Redeem),
}

/// A key accepted for publication. Its `Debug` leaves the key out (it is embargoed while
/// still in use).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StoredKey {
    /// The key.
    pub key_data: [u8; 16],
    /// First interval.
    pub rolling_start: u32,
    /// Intervals.
    pub rolling_period: u32,
    /// 0..=8.
    pub transmission_risk: u8,
    /// Unix seconds before which it must not be published (embargo while still valid).
    pub publish_after: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("key_data", &"<redacted>")
            .field("rolling_start", &self.rolling_start)
            .field("rolling_period", &self.rolling_period)
            .field("transmission_risk", &self.transmission_risk)
            .field("publish_after", &self.publish_after)
            .finish()
    }
}

/// A key ready to publish with its case's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishableKey {
    /// Row id.
    pub id: i64,
    /// The key.
    pub key: StoredKey,
    /// The case's claims.
    pub claims: CaseClaims,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The official who acted, if any (publishing is the server's own act).
    pub official_id: Option<i64>,
    /// What was done: `create_official`, `issue_code`, `revoke_code`, `publish`.
    pub action: String,
    /// Which object, without personal data.
    pub detail: String,
    /// Unix seconds.
    pub at: i64,
}

/// A published key file as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// The file's name in the index.
    pub name: String,
    /// SHA-256 of the bytes written (absent for files published before schema version 2).
    pub sha256: Option<[u8; 32]>,
    /// Unix seconds it was published.
    pub created_at: i64,
    /// Keys in it, padding included.
    pub key_count: u32,
}

/// What recording a published file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The file is recorded and every one of its keys is marked published in it.
    Recorded,
    /// A file of that name is already recorded: nothing was changed.
    NameTaken,
    /// Another file took some of these keys first (a concurrent publisher): nothing was
    /// changed, and the caller must discard the file it wrote.
    KeysTaken,
}

/// One day's totals of the authority's activity: counts only, no codes, keys or people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayActivity {
    /// The UTC day.
    pub day: DayNumber,
    /// Codes issued by officials that day.
    pub codes_issued: u64,
    /// Codes redeemed by phones that day.
    pub codes_used: u64,
    /// Uploads accepted that day.
    pub uploads_accepted: u64,
    /// Key files published that day (withdrawn ones included).
    pub files_published: u64,
}

impl DayActivity {
    /// A day with nothing counted.
    #[must_use]
    pub const fn quiet(day: DayNumber) -> Self {
        Self {
            day,
            codes_issued: 0,
            codes_used: 0,
            uploads_accepted: 0,
            files_published: 0,
        }
    }
}

/// The per-day counts behind [`DayActivity`], in its field order: each query takes the first
/// second counted (`$1`, which SQLite and PostgreSQL both bind positionally) and answers
/// (day since 1970, count) rows.
const ACTIVITY_QUERIES: [&str; 4] = [
    "SELECT created_at / 86400, COUNT(*) FROM codes WHERE created_at >= $1 \
     GROUP BY created_at / 86400",
    "SELECT used_at / 86400, COUNT(*) FROM codes WHERE used_at >= $1 GROUP BY used_at / 86400",
    "SELECT received_at / 86400, COUNT(*) FROM uploads WHERE received_at >= $1 \
     GROUP BY received_at / 86400",
    "SELECT created_at / 86400, COUNT(*) FROM files WHERE created_at >= $1 \
     GROUP BY created_at / 86400",
];

/// Merges the answers of [`ACTIVITY_QUERIES`] into days with any activity, oldest first.
fn merge_activity(answers: [Vec<(i64, i64)>; 4]) -> Result<Vec<DayActivity>, StoreError> {
    let mut days = std::collections::BTreeMap::<u32, DayActivity>::new();
    for (which, rows) in answers.into_iter().enumerate() {
        for (day, count) in rows {
            let day = u32::try_from(day).map_err(|_| StoreError::new("day out of range"))?;
            let count = u64::try_from(count).map_err(|_| StoreError::new("negative count"))?;
            let entry = days
                .entry(day)
                .or_insert_with(|| DayActivity::quiet(DayNumber::new(day)));
            match which {
                0 => entry.codes_issued = count,
                1 => entry.codes_used = count,
                2 => entry.uploads_accepted = count,
                _ => entry.files_published = count,
            }
        }
    }
    Ok(days.into_values().collect())
}

/// What a retention purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Files dropped from the records (the caller deletes their bytes).
    pub files: Vec<String>,
    /// Keys deleted.
    pub keys: u64,
    /// Uploads deleted (every key gone).
    pub uploads: u64,
    /// Codes deleted (expired before the cut-off).
    pub codes: u64,
    /// Tokens deleted (expired).
    pub tokens: u64,
}

/// The `application_id` stamped into the server's SQLite database ("BZSV"), so that no other
/// file is ever migrated or written as if it were one.
pub const SERVER_APPLICATION_ID: i32 = 0x425A_5356;

/// A code's row as `redeem_code` reads it.
struct CodeRow {
    id: i64,
    report_type: i64,
    onset: Option<i64>,
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// The storage operations of the server.
pub trait ServerStore: Send + Sync {
    /// Adds an official; `None` if the name is taken.
    fn create_official(
        &self,
        name: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// An official's id and password hash.
    fn official(&self, name: &str) -> Result<Option<(i64, String)>, StoreError>;
    /// Stores a code; `None` if the same code is already stored (the caller draws again).
    fn insert_code(&self, code: &NewCode) -> Result<Option<i64>, StoreError>;
    /// An official's codes, newest first.
    fn codes_of(&self, official_id: i64, limit: u32) -> Result<Vec<CodeStatus>, StoreError>;
    /// Revokes an unused code of this official; false if there is none such.
    fn revoke_code(&self, official_id: i64, code_id: i64, now: i64) -> Result<bool, StoreError>;
    /// Redeems a code once, storing the token that replaces it, in one transaction.
    fn redeem_code(
        &self,
        code_mac: &[u8; 32],
        token_mac: &[u8; 32],
        token_expires_at: i64,
        now: i64,
    ) -> Result<Redeem, StoreError>;
    /// Exchanges a token for a certificate on `tek_hmac`: the first time, marks it used at
    /// `now` with that HMAC; again with the same HMAC while `reissue_secs` have not passed
    /// since, answers the first issue time (so the same certificate is issued again); later,
    /// with the same HMAC while the token is valid, issues anew at `now`; any other use is
    /// refused.
    fn take_token(
        &self,
        token_mac: &[u8; 32],
        tek_hmac: &[u8; 32],
        now: i64,
        reissue_secs: i64,
    ) -> Result<TokenUse, StoreError>;
    /// Stores an upload's keys, once per certificate (`certificate_id`: its claims' digest,
    /// see `Certificate::id`), and each key once: a retry with the same certificate
    /// returns the count first stored. `Err` only on storage failure.
    fn insert_upload(
        &self,
        certificate_id: &[u8; 32],
        claims: CaseClaims,
        keys: &[StoredKey],
        now: i64,
    ) -> Result<u32, StoreError>;
    /// Keys not yet published whose embargo has passed.
    fn publishable_keys(&self, now: i64, limit: u32) -> Result<Vec<PublishableKey>, StoreError>;
    /// Records a published file and marks its keys, in one transaction; changes nothing
    /// unless every key is still unpublished and the name is free.
    fn record_file(
        &self,
        name: &str,
        sha256: &[u8; 32],
        key_ids: &[i64],
        key_count: u32,
        now: i64,
    ) -> Result<RecordOutcome, StoreError>;
    /// Published files created at or after `since` and not withdrawn, oldest first.
    fn files_since(&self, since: i64) -> Result<Vec<FileRecord>, StoreError>;
    /// Every published file not withdrawn, whatever its age, oldest first.
    fn all_files(&self) -> Result<Vec<FileRecord>, StoreError> {
        self.files_since(i64::MIN)
    }
    /// The record of a published (not withdrawn) file.
    fn file_record(&self, name: &str) -> Result<Option<FileRecord>, StoreError>;
    /// The keys marked published in a file.
    fn file_keys(&self, name: &str) -> Result<Vec<[u8; 16]>, StoreError>;
    /// Records the hash of a file published before hashes were kept.
    fn set_file_hash(&self, name: &str, sha256: &[u8; 32]) -> Result<(), StoreError>;
    /// Withdraws a file from the index and marks its keys unpublished again, in one
    /// transaction; returns how many keys will be published again.
    fn withdraw_file(&self, name: &str, now: i64) -> Result<u64, StoreError>;
    /// Deletes what is past retention: files published before `before` (and their keys),
    /// unpublished keys that ended before `before`, uploads left without keys, codes that
    /// expired before `before`, and tokens expired at `now`.
    fn purge(&self, before: i64, now: i64) -> Result<PurgeReport, StoreError>;
    /// Appends to the audit log.
    fn audit(
        &self,
        official_id: Option<i64>,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// The audit log, newest first.
    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// Per-day totals of what happened at or after `since` (Unix seconds), for the days
    /// with anything, oldest first (rows already purged are not counted).
    fn activity(&self, since: i64) -> Result<Vec<DayActivity>, StoreError>;

    /// Counts an attempt under a limit (see [`crate::limits`]) and, if the limit's verdict
    /// admits it, records it in flight, in one step that no other attempt by the same client,
    /// in this process or another on the same database, can interleave with.
    fn check_attempt(&self, check: &AttemptCheck<'_>) -> Result<Checked, StoreError>;
    /// Settles an attempt in flight: a failure is kept (it counts), a success deleted.
    fn settle_attempt(&self, id: i64, failed: bool) -> Result<(), StoreError>;
    /// Deletes attempts that began at or before `before` (past every limit's window).
    fn prune_attempts(&self, before: i64) -> Result<u64, StoreError>;
    /// Takes or keeps the right to publish: exactly one instance on a database publishes at
    /// a time, and when it dies another takes over (see [`PublisherLock`]).
    fn publisher_lock(&self) -> Result<PublisherLock, StoreError>;
    /// Gives up the right to publish (at shutdown), if held.
    fn release_publisher_lock(&self) {}
    /// Whether other server instances may use this database at the same time (so a file
    /// being published may belong to another instance's run in progress).
    fn shared_by_instances(&self) -> bool {
        false
    }
}

/// The answer to [`ServerStore::publisher_lock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublisherLock {
    /// This call took the lock: this instance publishes from now on, and first checks what
    /// the previous publisher left (`Authority::check_published_files`).
    Taken,
    /// This instance already held it.
    Held,
    /// Another instance holds it.
    Elsewhere,
}

/// [`ServerStore`] on an embedded SQLite file (WAL, synchronous FULL: an acknowledged upload
/// survives a crash or power cut).
pub struct SqliteServerStore {
    conn: Mutex<Connection>,
    /// Whether the publisher lock was handed out: one process holds a SQLite database (the
    /// server's lock file), so the first call takes it.
    publishing: std::sync::atomic::AtomicBool,
}

const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_publishing.sql"),
    include_str!("../migrations/0003_attempts.sql"),
];

/// The tables a version-1 database (before the application id was stamped) must hold.
const LEGACY_TABLES: [&str; 6] = [
    "officials",
    "codes",
    "tokens",
    "uploads",
    "upload_keys",
    "files",
];

impl SqliteServerStore {
    /// Opens or creates the database. A new file is created readable by its owner only
    /// (SQLite gives its journal files the same mode). A file that is not a Bluezone server
    /// database is refused before anything is written to it.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened, is not a server database, or cannot
    /// be migrated.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        create_private(path)?;
        let conn = Connection::open(path)?;
        Self::init(conn, true)
    }

    /// A database in memory (tests).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(mut conn: Connection, wal: bool) -> Result<Self, StoreError> {
        // Identity first, with reads only: nothing is written to a file that is not ours.
        let version = check_identity(&conn)?;
        if wal {
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
        )?;
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let v = i64::try_from(i).unwrap_or(0) + 1;
            if v > version {
                let tx = conn.transaction()?;
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", v)?;
                tx.pragma_update(None, "application_id", SERVER_APPLICATION_ID)?;
                tx.commit()?;
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
            publishing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError("storage lock poisoned".into()))
    }
}

/// Creates `path` readable and writable by its owner only, if it does not exist.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError(format!("cannot create {}: {e}", path.display()))),
    }
}

/// The schema version of a Bluezone server database (0 for a new, empty one), read without
/// writing; any other file is refused.
fn check_identity(conn: &Connection) -> Result<i64, StoreError> {
    let not_ours = || StoreError("the file is not a Bluezone server database".into());
    // The first read: a file that is not SQLite at all fails here.
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|_| not_ours())?;
    let application_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    let latest = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let ours = if application_id == SERVER_APPLICATION_ID {
        true
    } else if application_id == 0 && version == 0 {
        objects == 0
    } else if application_id == 0 && version == 1 {
        let mut present = 0;
        for table in LEGACY_TABLES {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )?;
            present += n;
        }
        present == i64::try_from(LEGACY_TABLES.len()).unwrap_or(0)
    } else {
        false
    };
    if !ours {
        return Err(not_ours());
    }
    if version > latest {
        return Err(StoreError(format!(
            "database schema {version} is newer than this server ({latest})"
        )));
    }
    Ok(version)
}

fn hash_of(bytes: Option<Vec<u8>>) -> Option<[u8; 32]> {
    bytes.and_then(|b| b.try_into().ok())
}

fn file_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        name: r.get(0)?,
        sha256: hash_of(r.get(1)?),
        created_at: r.get(2)?,
        key_count: r.get(3)?,
    })
}

/// The claims of a stored code or token. A value out of range means the row was damaged or
/// written by something else: refused, never replaced by a default (a report type of 0 would
/// publish a confirmed case's keys as "unknown").
fn claims_from(report_type: i64, onset: Option<i64>) -> Result<CaseClaims, StoreError> {
    let report_type = u8::try_from(report_type)
        .ok()
        .filter(|t| *t <= 5)
        .ok_or_else(|| StoreError::new(format!("a stored report type is {report_type}")))?;
    let symptom_onset_interval = onset
        .map(|o| {
            u32::try_from(o).map_err(|_| StoreError::new(format!("a stored onset interval is {o}")))
        })
        .transpose()?;
    Ok(CaseClaims {
        report_type,
        symptom_onset_interval,
    })
}

/// Why a code's row cannot be redeemed at `now`, or `None` when it can.
fn code_refusal(
    expires_at: i64,
    used_at: Option<i64>,
    revoked_at: Option<i64>,
    now: i64,
) -> Option<Redeem> {
    if revoked_at.is_some() {
        Some(Redeem::Revoked)
    } else if used_at.is_some() {
        Some(Redeem::Used)
    } else if now > expires_at {
        Some(Redeem::Expired)
    } else {
        None
    }
}

/// What a token use writes to the token's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenWrite {
    /// Nothing (a refusal, or the same certificate again).
    Nothing,
    /// `used_at = now`: a new certificate for the same keys.
    Reissued,
    /// `used_at = now, tek_hmac = …`: the first use.
    FirstUse,
}

/// The rules of [`ServerStore::take_token`] over a token's row (`same_keys`: the HMAC is the
/// one it was first used for): the answer, and what to write.
fn token_use(
    claims: CaseClaims,
    expires_at: i64,
    used_at: Option<i64>,
    same_keys: bool,
    now: i64,
    reissue_secs: i64,
) -> (TokenUse, TokenWrite) {
    let issue_now = TokenUse::Certify {
        claims,
        issued_at: now,
    };
    match used_at {
        Some(issued_at) if same_keys && now <= issued_at + reissue_secs => {
            (TokenUse::Certify { claims, issued_at }, TokenWrite::Nothing)
        }
        // The first certificate expired before the upload got through: a new one for
        // the same keys while the token lasts (the keys are stored once either way).
        Some(_) if same_keys && now <= expires_at => (issue_now, TokenWrite::Reissued),
        Some(_) => (TokenUse::Refused(Redeem::Used), TokenWrite::Nothing),
        None if now > expires_at => (TokenUse::Refused(Redeem::Expired), TokenWrite::Nothing),
        None => (issue_now, TokenWrite::FirstUse),
    }
}

/// A claims error inside a row mapper, as SQLite's own conversion error.
fn row_claims(report_type: i64, onset: Option<i64>) -> rusqlite::Result<CaseClaims> {
    claims_from(report_type, onset).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Integer, Box::new(e))
    })
}

impl ServerStore for SqliteServerStore {
    fn create_official(
        &self,
        name: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let conn = self.conn()?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO officials (name, password_hash, created_at) VALUES (?1, ?2, ?3)",
            params![name, password_hash, now],
        )?;
        Ok((inserted == 1).then(|| conn.last_insert_rowid()))
    }

    fn official(&self, name: &str) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT id, password_hash FROM officials WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn insert_code(&self, code: &NewCode) -> Result<Option<i64>, StoreError> {
        let conn = self.conn()?;
        let inserted = conn.execute(
            "INSERT OR IGNORE INTO codes (code_mac, official_id, report_type, symptom_onset_interval, test_date, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                code.code_mac.as_slice(),
                code.official_id,
                code.claims.report_type,
                code.claims.symptom_onset_interval,
                code.test_date,
                code.created_at,
                code.expires_at
            ],
        )?;
        Ok((inserted == 1).then(|| conn.last_insert_rowid()))
    }

    fn codes_of(&self, official_id: i64, limit: u32) -> Result<Vec<CodeStatus>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, report_type, symptom_onset_interval, test_date, created_at, expires_at, used_at, revoked_at
             FROM codes WHERE official_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![official_id, limit], |r| {
                Ok(CodeStatus {
                    id: r.get(0)?,
                    claims: row_claims(r.get(1)?, r.get(2)?)?,
                    test_date: r.get(3)?,
                    created_at: r.get(4)?,
                    expires_at: r.get(5)?,
                    used_at: r.get(6)?,
                    revoked_at: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn revoke_code(&self, official_id: i64, code_id: i64, now: i64) -> Result<bool, StoreError> {
        let changed = self.conn()?.execute(
            "UPDATE codes SET revoked_at = ?3
             WHERE id = ?1 AND official_id = ?2 AND used_at IS NULL AND revoked_at IS NULL",
            params![code_id, official_id, now],
        )?;
        Ok(changed == 1)
    }

    fn redeem_code(
        &self,
        code_mac: &[u8; 32],
        token_mac: &[u8; 32],
        token_expires_at: i64,
        now: i64,
    ) -> Result<Redeem, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let row: Option<CodeRow> = tx
            .query_row(
                "SELECT id, report_type, symptom_onset_interval, expires_at, used_at, revoked_at FROM codes WHERE code_mac = ?1",
                [code_mac.as_slice()],
                |r| {
                    Ok(CodeRow {
                        id: r.get(0)?,
                        report_type: r.get(1)?,
                        onset: r.get(2)?,
                        expires_at: r.get(3)?,
                        used_at: r.get(4)?,
                        revoked_at: r.get(5)?,
                    })
                },
            )
            .optional()?;
        let Some(CodeRow {
            id,
            report_type,
            onset,
            expires_at,
            used_at,
            revoked_at,
        }) = row
        else {
            return Ok(Redeem::NotFound);
        };
        let outcome = if let Some(refused) = code_refusal(expires_at, used_at, revoked_at, now) {
            refused
        } else {
            let claims = claims_from(report_type, onset)?;
            tx.execute(
                "UPDATE codes SET used_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
            tx.execute(
                "INSERT INTO tokens (token_mac, report_type, symptom_onset_interval, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_mac.as_slice(), claims.report_type, claims.symptom_onset_interval, token_expires_at],
            )?;
            Redeem::Ok(claims)
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn take_token(
        &self,
        token_mac: &[u8; 32],
        tek_hmac: &[u8; 32],
        now: i64,
        reissue_secs: i64,
    ) -> Result<TokenUse, StoreError> {
        type TokenRow = (i64, Option<i64>, i64, Option<i64>, Option<Vec<u8>>);
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let row: Option<TokenRow> = tx
            .query_row(
                "SELECT report_type, symptom_onset_interval, expires_at, used_at, tek_hmac
                 FROM tokens WHERE token_mac = ?1",
                [token_mac.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((report_type, onset, expires_at, used_at, used_for)) = row else {
            return Ok(TokenUse::Refused(Redeem::NotFound));
        };
        let claims = claims_from(report_type, onset)?;
        let same_keys = used_for.as_deref() == Some(tek_hmac.as_slice());
        let (outcome, write) = token_use(claims, expires_at, used_at, same_keys, now, reissue_secs);
        match write {
            TokenWrite::Nothing => {}
            TokenWrite::Reissued => {
                tx.execute(
                    "UPDATE tokens SET used_at = ?2 WHERE token_mac = ?1",
                    params![token_mac.as_slice(), now],
                )?;
            }
            TokenWrite::FirstUse => {
                tx.execute(
                    "UPDATE tokens SET used_at = ?2, tek_hmac = ?3 WHERE token_mac = ?1",
                    params![token_mac.as_slice(), now, tek_hmac.as_slice()],
                )?;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn insert_upload(
        &self,
        certificate_id: &[u8; 32],
        claims: CaseClaims,
        keys: &[StoredKey],
        now: i64,
    ) -> Result<u32, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM uploads WHERE certificate_hash = ?1",
                [certificate_id.as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        if existing.is_some() {
            // The same certificate again (a retry after a lost answer): it binds the same
            // keys, which are stored already.
            return Ok(u32::try_from(keys.len()).unwrap_or(u32::MAX));
        }
        tx.execute(
            "INSERT INTO uploads (certificate_hash, report_type, symptom_onset_interval, received_at) VALUES (?1, ?2, ?3, ?4)",
            params![certificate_id.as_slice(), claims.report_type, claims.symptom_onset_interval, now],
        )?;
        let upload_id = tx.last_insert_rowid();
        {
            // A key already stored (uploaded again with another code) is kept once.
            let mut insert = tx.prepare(
                "INSERT INTO upload_keys (upload_id, key_data, rolling_start, rolling_period, transmission_risk, publish_after)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                 WHERE NOT EXISTS (SELECT 1 FROM upload_keys WHERE key_data = ?2)",
            )?;
            for key in keys {
                insert.execute(params![
                    upload_id,
                    key.key_data.as_slice(),
                    key.rolling_start,
                    key.rolling_period,
                    key.transmission_risk,
                    key.publish_after
                ])?;
            }
        }
        tx.commit()?;
        Ok(u32::try_from(keys.len()).unwrap_or(u32::MAX))
    }

    fn publishable_keys(&self, now: i64, limit: u32) -> Result<Vec<PublishableKey>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT k.id, k.key_data, k.rolling_start, k.rolling_period, k.transmission_risk, k.publish_after,
                    u.report_type, u.symptom_onset_interval
             FROM upload_keys k JOIN uploads u ON u.id = k.upload_id
             WHERE k.file_id IS NULL AND k.publish_after <= ?1 ORDER BY k.id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![now, limit], |r| {
                let data: Vec<u8> = r.get(1)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    data,
                    r.get::<_, u32>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, u8>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        // A damaged row stops publishing with an error an operator sees; dropping it would
        // lose an acknowledged upload without a trace.
        rows.into_iter()
            .map(|(id, data, start, period, risk, after, rt, onset)| {
                Ok(PublishableKey {
                    id,
                    key: StoredKey {
                        key_data: data.try_into().map_err(|d: Vec<u8>| {
                            StoreError::new(format!("upload key {id} has {} bytes", d.len()))
                        })?,
                        rolling_start: start,
                        rolling_period: period,
                        transmission_risk: risk,
                        publish_after: after,
                    },
                    claims: claims_from(rt, onset)?,
                })
            })
            .collect()
    }

    fn record_file(
        &self,
        name: &str,
        sha256: &[u8; 32],
        key_ids: &[i64],
        key_count: u32,
        now: i64,
    ) -> Result<RecordOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO files (name, created_at, key_count, sha256) VALUES (?1, ?2, ?3, ?4)",
            params![name, now, key_count, sha256.as_slice()],
        )?;
        if inserted != 1 {
            return Ok(RecordOutcome::NameTaken);
        }
        let file_id = tx.last_insert_rowid();
        {
            let mut stmt = tx
                .prepare("UPDATE upload_keys SET file_id = ?1 WHERE id = ?2 AND file_id IS NULL")?;
            for id in key_ids {
                if stmt.execute(params![file_id, id])? != 1 {
                    // Dropping the transaction rolls everything back.
                    return Ok(RecordOutcome::KeysTaken);
                }
            }
        }
        tx.commit()?;
        Ok(RecordOutcome::Recorded)
    }

    fn files_since(&self, since: i64) -> Result<Vec<FileRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT name, sha256, created_at, key_count FROM files
             WHERE withdrawn_at IS NULL AND created_at >= ?1 ORDER BY id",
        )?;
        let files = stmt
            .query_map([since], file_record)?
            .collect::<Result<_, _>>()?;
        Ok(files)
    }

    fn file_record(&self, name: &str) -> Result<Option<FileRecord>, StoreError> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT name, sha256, created_at, key_count FROM files
                 WHERE name = ?1 AND withdrawn_at IS NULL",
                [name],
                file_record,
            )
            .optional()?)
    }

    fn file_keys(&self, name: &str) -> Result<Vec<[u8; 16]>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT k.key_data FROM upload_keys k JOIN files f ON f.id = k.file_id WHERE f.name = ?1",
        )?;
        let keys = stmt
            .query_map([name], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        keys.into_iter()
            .map(|k| {
                k.try_into().map_err(|k: Vec<u8>| {
                    StoreError::new(format!("a published key has {} bytes", k.len()))
                })
            })
            .collect()
    }

    fn set_file_hash(&self, name: &str, sha256: &[u8; 32]) -> Result<(), StoreError> {
        self.conn()?.execute(
            "UPDATE files SET sha256 = ?2 WHERE name = ?1 AND sha256 IS NULL",
            params![name, sha256.as_slice()],
        )?;
        Ok(())
    }

    fn withdraw_file(&self, name: &str, now: i64) -> Result<u64, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM files WHERE name = ?1 AND withdrawn_at IS NULL",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let Some(id) = id else {
            return Ok(0);
        };
        tx.execute(
            "UPDATE files SET withdrawn_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        let released = tx.execute(
            "UPDATE upload_keys SET file_id = NULL WHERE file_id = ?1",
            [id],
        )?;
        tx.commit()?;
        Ok(released as u64)
    }

    fn purge(&self, before: i64, now: i64) -> Result<PurgeReport, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let mut report = PurgeReport::default();
        {
            let mut stmt = tx.prepare(
                "SELECT name FROM files WHERE created_at < ?1 AND withdrawn_at IS NULL ORDER BY id",
            )?;
            report.files = stmt
                .query_map([before], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
        }
        let published = tx.execute(
            "DELETE FROM upload_keys WHERE file_id IN (SELECT id FROM files WHERE created_at < ?1)",
            [before],
        )?;
        // Interval numbers are Unix seconds / 600: a key ended before `before` when
        // (start + period) * 600 < before.
        // A day more for keys never published: uploads accept keys that ended up to 15 days
        // ago, and one whose publish failed must not be purged before its next attempt.
        let stale = tx.execute(
            "DELETE FROM upload_keys
             WHERE file_id IS NULL AND (rolling_start + rolling_period) * 600 < ?1",
            [before - 86_400],
        )?;
        report.keys = (published + stale) as u64;
        tx.execute("DELETE FROM files WHERE created_at < ?1", [before])?;
        report.uploads = tx.execute(
            "DELETE FROM uploads WHERE received_at < ?1
             AND NOT EXISTS (SELECT 1 FROM upload_keys k WHERE k.upload_id = uploads.id)",
            [before],
        )? as u64;
        report.codes = tx.execute("DELETE FROM codes WHERE expires_at < ?1", [before])? as u64;
        report.tokens = tx.execute("DELETE FROM tokens WHERE expires_at < ?1", [now])? as u64;
        tx.commit()?;
        Ok(report)
    }

    fn audit(
        &self,
        official_id: Option<i64>,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.conn()?.execute(
            "INSERT INTO audit (official_id, action, detail, at) VALUES (?1, ?2, ?3, ?4)",
            params![official_id, action, detail, now],
        )?;
        Ok(())
    }

    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT official_id, action, detail, at FROM audit ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([limit], |r| {
                Ok(AuditEntry {
                    official_id: r.get(0)?,
                    action: r.get(1)?,
                    detail: r.get(2)?,
                    at: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn activity(&self, since: i64) -> Result<Vec<DayActivity>, StoreError> {
        let conn = self.conn()?;
        let mut answers: [Vec<(i64, i64)>; 4] = Default::default();
        for (answer, query) in answers.iter_mut().zip(ACTIVITY_QUERIES) {
            let mut stmt = conn.prepare(query)?;
            *answer = stmt
                .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
        }
        merge_activity(answers)
    }

    fn check_attempt(&self, check: &AttemptCheck<'_>) -> Result<Checked, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction()?;
        let (failures, in_flight): (i64, i64) = tx.query_row(
            "SELECT COALESCE(SUM(CASE WHEN failed OR at <= ?3 THEN 1 ELSE 0 END), 0), \
                    COALESCE(SUM(CASE WHEN failed OR at <= ?3 THEN 0 ELSE 1 END), 0) \
             FROM attempts WHERE client = ?1 AND at > ?2",
            params![
                check.client.as_slice(),
                check.client_since(),
                check.abandoned_at_or_before()
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let global_failures: i64 = match check.global_cap() {
            Some(cap) => tx.query_row(
                "SELECT COUNT(*) FROM (SELECT 1 FROM attempts \
                 WHERE scope = ?1 AND at > ?2 AND failed LIMIT ?3)",
                params![check.scope, check.global_since(), cap],
                |r| r.get(0),
            )?,
            None => 0,
        };
        let verdict = check.rules.verdict(AttemptCounts {
            global_failures: u64::try_from(global_failures).unwrap_or(0),
            failures: u64::try_from(failures).unwrap_or(0),
            in_flight: u64::try_from(in_flight).unwrap_or(0),
        });
        if verdict != Verdict::Admit {
            return Ok(Checked::Not(verdict));
        }
        tx.execute(
            "INSERT INTO attempts (client, scope, at) VALUES (?1, ?2, ?3)",
            params![check.client.as_slice(), check.scope, check.now],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(Checked::Admitted(id))
    }

    fn settle_attempt(&self, id: i64, failed: bool) -> Result<(), StoreError> {
        let conn = self.conn()?;
        if failed {
            conn.execute("UPDATE attempts SET failed = 1 WHERE id = ?1", [id])?;
        } else {
            conn.execute("DELETE FROM attempts WHERE id = ?1", [id])?;
        }
        Ok(())
    }

    fn prune_attempts(&self, before: i64) -> Result<u64, StoreError> {
        Ok(self
            .conn()?
            .execute("DELETE FROM attempts WHERE at <= ?1", [before])? as u64)
    }

    fn publisher_lock(&self) -> Result<PublisherLock, StoreError> {
        let taken_before = self
            .publishing
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        Ok(if taken_before {
            PublisherLock::Held
        } else {
            PublisherLock::Taken
        })
    }

    fn release_publisher_lock(&self) {
        self.publishing
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
