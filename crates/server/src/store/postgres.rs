//! [`PostgresServerStore`]: the [`ServerStore`] port on PostgreSQL, for several server
//! instances on one database (decision 0014). The driver is `tokio-postgres` with a
//! `deadpool-postgres` pool, run on a small runtime of the store's own; the port stays
//! synchronous and is called from the blocking pool, as the SQLite store is.
//!
//! SQLite made every write safe by having one writer. Here several connections write at
//! once, so every method that reads and then changes a row locks it first (`SELECT … FOR
//! UPDATE`, in id order when there are several) or changes it with one conditional
//! statement (`ON CONFLICT DO NOTHING`, `UPDATE … WHERE … IS NULL`): a code is redeemed
//! once, a token used once, an upload and each key stored once, a key published in one file.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

mod shared;

use super::{
    ACTIVITY_QUERIES, AuditEntry, CaseClaims, CodeStatus, DayActivity, FileRecord, NewCode,
    PublishableKey, PublisherLock, PurgeReport, RecordOutcome, Redeem, ServerStore, StoreError,
    StoredKey, TokenUse, TokenWrite, claims_from, code_refusal, hash_of, merge_activity, token_use,
};

/// The PostgreSQL migrations, in order; the version table records how many are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_init.sql"),
    include_str!("../../migrations/postgres/0002_instances.sql"),
];

/// The table that records the schema version: its presence marks a Bluezone schema.
const VERSION_TABLE: &str = "bluezone_schema_version";

/// The variable naming the test database (see [`PostgresServerStore::test_url`]).
const TEST_URL_VARIABLE: &str = "BLUEZONE_TEST_POSTGRES";

/// Connections each store keeps at most.
const POOL_SIZE: usize = 16;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        // The server's message only: its detail may quote a row's values.
        match e.as_db_error() {
            Some(db) => Self(format!("postgres: {} ({})", db.message(), db.code().code())),
            None => Self(format!("postgres: {e}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self(format!("postgres pool: {other}")),
        }
    }
}

/// [`ServerStore`] on a PostgreSQL database (or one schema of it).
pub struct PostgresServerStore {
    /// Runs the driver; taken only on drop.
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// How to connect (for the publisher's own session).
    config: tokio_postgres::Config,
    /// The session holding the publisher lock, when this instance publishes.
    publisher: tokio::sync::Mutex<shared::PublisherSession>,
    /// A throwaway schema dropped with the store (tests), with the URL to reach it.
    scratch: Option<(String, String)>,
}

impl std::fmt::Debug for PostgresServerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: not printed.
        f.debug_struct("PostgresServerStore")
            .finish_non_exhaustive()
    }
}

impl PostgresServerStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`, or a key=value
    /// string), migrates its search-path schema (normally `public`) and returns the store.
    /// A schema that holds other tables but not Bluezone's version table is refused before
    /// anything is written to it.
    ///
    /// # Errors
    /// [`StoreError`] when the URL is invalid, the server cannot be reached, the schema is
    /// not a Bluezone one or is newer than this server.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, None)
    }

    /// As [`open`](Self::open), in the schema `schema` (created if absent), so several
    /// servers or tests can share one database. The name is lower-case ASCII letters,
    /// digits and `_`.
    ///
    /// # Errors
    /// As [`open`](Self::open), and for a name outside that alphabet.
    pub fn open_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        Self::open_with(url, Some(schema))
    }

    /// A store in a new, uniquely named schema of the database at `url`, dropped with
    /// everything in it when the store is dropped: each test gets its own.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn scratch(url: &str) -> Result<Self, StoreError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!(
            "bluezone_scratch_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut store = Self::open_with(url, Some(&schema))?;
        store.scratch = Some((url.to_owned(), schema));
        Ok(store)
    }

    /// The PostgreSQL the test suites run against: the URL in `BLUEZONE_TEST_POSTGRES`, or
    /// `None` when it is `skip`. Unset is an error naming `scripts/postgres`, which prints a
    /// usable URL, so a suite never passes without having run its PostgreSQL half by accident.
    ///
    /// # Errors
    /// The message to fail the test with when the variable is unset.
    pub fn test_url() -> Result<Option<String>, String> {
        match std::env::var(TEST_URL_VARIABLE) {
            Ok(skip) if skip == "skip" => Ok(None),
            Ok(url) => Ok(Some(url)),
            Err(_) => Err(format!(
                "{TEST_URL_VARIABLE} is not set: run `export {TEST_URL_VARIABLE}=$(scripts/postgres)` \
                 (or set it to `skip` to leave the PostgreSQL tests out)"
            )),
        }
    }

    /// The schema of a [`scratch`](Self::scratch) store, for a second instance
    /// ([`open_in_schema`](Self::open_in_schema)) or a test's direct SQL.
    #[must_use]
    pub fn scratch_schema(&self) -> Option<&str> {
        self.scratch.as_ref().map(|(_, schema)| schema.as_str())
    }

    fn open_with(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|_| StoreError::new("not a valid PostgreSQL URL"))?;
        if let Some(schema) = schema {
            check_schema_name(schema)?;
            config.options(format!("-c search_path={schema}"));
        }
        // A peer that vanished without closing (a partition, a powered-off host) is noticed
        // within about a minute, on both sides: its publisher lock is then released. A
        // database that does not answer fails a connection in 10 s instead of hanging.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .connect_timeout(Duration::from_secs(10));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bluezone-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::new(format!("cannot start the database runtime: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|e| StoreError::new(format!("cannot build the connection pool: {e}")))?;
        let store = Self {
            runtime: Some(runtime),
            pool,
            config,
            publisher: tokio::sync::Mutex::default(),
            scratch: None,
        };
        store.run(async {
            let client = store.client().await?;
            if let Some(schema) = schema {
                client
                    .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                    .await?;
            }
            migrate(client).await
        })?;
        Ok(store)
    }

    /// Runs `work` to completion on the store's runtime. Called from a thread that is not
    /// running async tasks (the blocking pool, a test), as every [`ServerStore`] call is.
    fn run<T>(&self, work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.runtime
            .as_ref()
            .ok_or_else(|| StoreError::new("the store is closed"))?
            .block_on(work)
    }

    async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

impl Drop for PostgresServerStore {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        self.pool.close();
        if let Some((url, schema)) = self.scratch.take() {
            // On a thread of its own: the store may be dropped inside an async task.
            let drop_schema = async move {
                let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
                let connection = tokio::spawn(connection);
                let done = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await;
                drop(client);
                let _ = connection.await;
                done
            };
            std::thread::scope(|s| {
                let _ = s.spawn(|| runtime.block_on(drop_schema)).join();
            });
        }
        // Never blocks, so dropping the store inside an async task is safe.
        runtime.shutdown_background();
    }
}

/// Refuses a schema name that would need quoting (it is spliced into SQL).
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if valid {
        Ok(())
    } else {
        Err(StoreError::new(
            "a schema name is lower-case letters, digits and _",
        ))
    }
}

/// Applies the migrations not yet applied, in one transaction under an advisory lock (two
/// instances starting together migrate once).
async fn migrate(mut client: Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute(
        &tx.prepare_cached(
            "SELECT pg_advisory_xact_lock(hashtext('bluezone-migrate:' || current_schema()))",
        )
        .await?,
        &[],
    )
    .await?;
    let marked: bool = tx
        .query_one(
            &tx.prepare_cached("SELECT to_regclass($1) IS NOT NULL")
                .await?,
            &[&VERSION_TABLE],
        )
        .await?
        .try_get(0)?;
    if !marked {
        let tables: i64 = tx
            .query_one(
                &tx.prepare_cached("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").await?,
                &[],
            )
            .await?
            .try_get(0)?;
        if tables > 0 {
            return Err(StoreError::new(
                "the schema holds tables but is not a Bluezone server database",
            ));
        }
        tx.batch_execute(&format!(
            "CREATE TABLE {VERSION_TABLE} (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        ))
        .await?;
    }
    let version: i64 = tx
        .query_one(
            &format!("SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}"),
            &[],
        )
        .await?
        .try_get(0)?;
    let latest = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > latest {
        return Err(StoreError::new(format!(
            "database schema {version} is newer than this server ({latest})"
        )));
    }
    for (v, sql) in (1..).zip(MIGRATIONS) {
        if v > version {
            tx.batch_execute(sql).await?;
            tx.execute(
                &format!(
                    "INSERT INTO {VERSION_TABLE} (version, applied_at) \
                     VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)"
                ),
                &[&v],
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A stored integer as the unsigned type the port uses; out of range is a damaged row.
fn stored<T: TryFrom<i64>>(value: i64, what: &str) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::new(format!("a stored {what} is {value}")))
}

/// The keys' count as the port answers it.
fn key_total(keys: &[StoredKey]) -> u32 {
    u32::try_from(keys.len()).unwrap_or(u32::MAX)
}

fn file_record(row: &tokio_postgres::Row) -> Result<FileRecord, StoreError> {
    Ok(FileRecord {
        name: row.try_get(0)?,
        sha256: hash_of(row.try_get(1)?),
        created_at: row.try_get(2)?,
        key_count: stored(row.try_get(3)?, "key count")?,
    })
}

impl ServerStore for PostgresServerStore {
    fn create_official(
        &self,
        name: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.run(async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "INSERT INTO officials (name, password_hash, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO NOTHING RETURNING id",
                    &[&name, &password_hash, &now],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn official(&self, name: &str) -> Result<Option<(i64, String)>, StoreError> {
        self.run(async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT id, password_hash FROM officials WHERE name = $1",
                    &[&name],
                )
                .await?;
            Ok(row
                .map(|r| Ok::<_, tokio_postgres::Error>((r.try_get(0)?, r.try_get(1)?)))
                .transpose()?)
        })
    }

    fn insert_code(&self, code: &NewCode) -> Result<Option<i64>, StoreError> {
        self.run(async {
            let onset = code.claims.symptom_onset_interval.map(i64::from);
            let row = self
                .client()
                .await?
                .query_opt(
                    "INSERT INTO codes (code_mac, official_id, report_type, symptom_onset_interval, test_date, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (code_mac) DO NOTHING RETURNING id",
                    &[
                        &code.code_mac.as_slice(),
                        &code.official_id,
                        &i64::from(code.claims.report_type),
                        &onset,
                        &code.test_date,
                        &code.created_at,
                        &code.expires_at,
                    ],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn codes_of(&self, official_id: i64, limit: u32) -> Result<Vec<CodeStatus>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT id, report_type, symptom_onset_interval, test_date, created_at, expires_at, used_at, revoked_at
                     FROM codes WHERE official_id = $1 ORDER BY id DESC LIMIT $2",
                    &[&official_id, &i64::from(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(CodeStatus {
                        id: r.try_get(0)?,
                        claims: claims_from(r.try_get(1)?, r.try_get(2)?)?,
                        test_date: r.try_get(3)?,
                        created_at: r.try_get(4)?,
                        expires_at: r.try_get(5)?,
                        used_at: r.try_get(6)?,
                        revoked_at: r.try_get(7)?,
                    })
                })
                .collect()
        })
    }

    fn revoke_code(&self, official_id: i64, code_id: i64, now: i64) -> Result<bool, StoreError> {
        self.run(async {
            let changed = self
                .client()
                .await?
                .execute(
                    "UPDATE codes SET revoked_at = $3
                     WHERE id = $1 AND official_id = $2 AND used_at IS NULL AND revoked_at IS NULL",
                    &[&code_id, &official_id, &now],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    fn redeem_code(
        &self,
        code_mac: &[u8; 32],
        token_mac: &[u8; 32],
        token_expires_at: i64,
        now: i64,
    ) -> Result<Redeem, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // The row lock makes a concurrent redemption wait, then see the code used.
            let Some(row) = tx
                .query_opt(
                    &tx.prepare_cached("SELECT id, report_type, symptom_onset_interval, expires_at, used_at, revoked_at
                     FROM codes WHERE code_mac = $1 FOR UPDATE").await?,
                    &[&code_mac.as_slice()],
                )
                .await?
            else {
                return Ok(Redeem::NotFound);
            };
            let id: i64 = row.try_get(0)?;
            let expires_at: i64 = row.try_get(3)?;
            let used_at: Option<i64> = row.try_get(4)?;
            let revoked_at: Option<i64> = row.try_get(5)?;
            let outcome = if let Some(refused) = code_refusal(expires_at, used_at, revoked_at, now)
            {
                refused
            } else {
                let claims = claims_from(row.try_get(1)?, row.try_get(2)?)?;
                tx.execute(&tx.prepare_cached("UPDATE codes SET used_at = $2 WHERE id = $1").await?, &[&id, &now])
                    .await?;
                tx.execute(
                    &tx.prepare_cached("INSERT INTO tokens (token_mac, report_type, symptom_onset_interval, expires_at)
                     VALUES ($1, $2, $3, $4)").await?,
                    &[
                        &token_mac.as_slice(),
                        &i64::from(claims.report_type),
                        &claims.symptom_onset_interval.map(i64::from),
                        &token_expires_at,
                    ],
                )
                .await?;
                Redeem::Ok(claims)
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    fn take_token(
        &self,
        token_mac: &[u8; 32],
        tek_hmac: &[u8; 32],
        now: i64,
        reissue_secs: i64,
    ) -> Result<TokenUse, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    &tx.prepare_cached(
                        "SELECT report_type, symptom_onset_interval, expires_at, used_at, tek_hmac
                     FROM tokens WHERE token_mac = $1 FOR UPDATE",
                    )
                    .await?,
                    &[&token_mac.as_slice()],
                )
                .await?
            else {
                return Ok(TokenUse::Refused(Redeem::NotFound));
            };
            let claims = claims_from(row.try_get(0)?, row.try_get(1)?)?;
            let expires_at: i64 = row.try_get(2)?;
            let used_at: Option<i64> = row.try_get(3)?;
            let used_for: Option<Vec<u8>> = row.try_get(4)?;
            let same_keys = used_for.as_deref() == Some(tek_hmac.as_slice());
            let (outcome, write) =
                token_use(claims, expires_at, used_at, same_keys, now, reissue_secs);
            match write {
                TokenWrite::Nothing => {}
                TokenWrite::Reissued => {
                    tx.execute(
                        &tx.prepare_cached("UPDATE tokens SET used_at = $2 WHERE token_mac = $1")
                            .await?,
                        &[&token_mac.as_slice(), &now],
                    )
                    .await?;
                }
                TokenWrite::FirstUse => {
                    tx.execute(
                        &tx.prepare_cached(
                            "UPDATE tokens SET used_at = $2, tek_hmac = $3 WHERE token_mac = $1",
                        )
                        .await?,
                        &[&token_mac.as_slice(), &now, &tek_hmac.as_slice()],
                    )
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(outcome)
        })
    }

    fn insert_upload(
        &self,
        certificate_id: &[u8; 32],
        claims: CaseClaims,
        keys: &[StoredKey],
        now: i64,
    ) -> Result<u32, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // A concurrent insert of the same certificate waits for the first to commit,
            // then inserts nothing: the retry answers the count as SQLite's does.
            let Some(row) = tx
                .query_opt(
                    &tx.prepare_cached("INSERT INTO uploads (certificate_hash, report_type, symptom_onset_interval, received_at)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (certificate_hash) DO NOTHING RETURNING id").await?,
                    &[
                        &certificate_id.as_slice(),
                        &i64::from(claims.report_type),
                        &claims.symptom_onset_interval.map(i64::from),
                        &now,
                    ],
                )
                .await?
            else {
                return Ok(key_total(keys));
            };
            let upload_id: i64 = row.try_get(0)?;
            let data: Vec<&[u8]> = keys.iter().map(|k| k.key_data.as_slice()).collect();
            let starts: Vec<i64> = keys.iter().map(|k| i64::from(k.rolling_start)).collect();
            let periods: Vec<i64> = keys.iter().map(|k| i64::from(k.rolling_period)).collect();
            let risks: Vec<i64> = keys
                .iter()
                .map(|k| i64::from(k.transmission_risk))
                .collect();
            let afters: Vec<i64> = keys.iter().map(|k| k.publish_after).collect();
            // A key already stored (uploaded again with another code) is kept once; the
            // unique index decides between concurrent uploads of the same key, taken in key
            // order so that two uploads sharing keys never wait on each other in a cycle.
            tx.execute(
                &tx.prepare_cached("INSERT INTO upload_keys (upload_id, key_data, rolling_start, rolling_period, transmission_risk, publish_after)
                 SELECT $1, k.key_data, k.rolling_start, k.rolling_period, k.transmission_risk, k.publish_after
                 FROM unnest($2::bytea[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
                      AS k(key_data, rolling_start, rolling_period, transmission_risk, publish_after)
                 ORDER BY k.key_data
                 ON CONFLICT (key_data) DO NOTHING").await?,
                &[&upload_id, &data, &starts, &periods, &risks, &afters],
            )
            .await?;
            tx.commit().await?;
            Ok(key_total(keys))
        })
    }

    fn publishable_keys(&self, now: i64, limit: u32) -> Result<Vec<PublishableKey>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT k.id, k.key_data, k.rolling_start, k.rolling_period, k.transmission_risk, k.publish_after,
                            u.report_type, u.symptom_onset_interval
                     FROM upload_keys k JOIN uploads u ON u.id = k.upload_id
                     WHERE k.file_id IS NULL AND k.publish_after <= $1 ORDER BY k.id LIMIT $2",
                    &[&now, &i64::from(limit)],
                )
                .await?;
            // A damaged row stops publishing with an error an operator sees, as in SQLite.
            rows.iter()
                .map(|r| {
                    let id: i64 = r.try_get(0)?;
                    let data: Vec<u8> = r.try_get(1)?;
                    Ok(PublishableKey {
                        id,
                        key: StoredKey {
                            key_data: data.try_into().map_err(|d: Vec<u8>| {
                                StoreError::new(format!("upload key {id} has {} bytes", d.len()))
                            })?,
                            rolling_start: stored(r.try_get(2)?, "rolling start")?,
                            rolling_period: stored(r.try_get(3)?, "rolling period")?,
                            transmission_risk: stored(r.try_get(4)?, "transmission risk")?,
                            publish_after: r.try_get(5)?,
                        },
                        claims: claims_from(r.try_get(6)?, r.try_get(7)?)?,
                    })
                })
                .collect()
        })
    }

    fn record_file(
        &self,
        name: &str,
        sha256: &[u8; 32],
        key_ids: &[i64],
        key_count: u32,
        now: i64,
    ) -> Result<RecordOutcome, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    &tx.prepare_cached("INSERT INTO files (name, created_at, key_count, sha256) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO NOTHING RETURNING id").await?,
                    &[&name, &now, &i64::from(key_count), &sha256.as_slice()],
                )
                .await?
            else {
                return Ok(RecordOutcome::NameTaken);
            };
            let file_id: i64 = row.try_get(0)?;
            // Locked in id order, so two publishers with overlapping keys never deadlock;
            // the second sees the keys taken once the first commits.
            let free = tx
                .query(
                    &tx.prepare_cached("SELECT id FROM upload_keys WHERE id = ANY($1) AND file_id IS NULL
                     ORDER BY id FOR UPDATE").await?,
                    &[&key_ids],
                )
                .await?;
            if free.len() != key_ids.len() {
                // Taken, unknown or named twice. Dropping the transaction rolls back.
                return Ok(RecordOutcome::KeysTaken);
            }
            tx.execute(
                &tx.prepare_cached("UPDATE upload_keys SET file_id = $1 WHERE id = ANY($2)").await?,
                &[&file_id, &key_ids],
            )
            .await?;
            tx.commit().await?;
            Ok(RecordOutcome::Recorded)
        })
    }

    fn files_since(&self, since: i64) -> Result<Vec<FileRecord>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT name, sha256, created_at, key_count FROM files
                     WHERE withdrawn_at IS NULL AND created_at >= $1 ORDER BY id",
                    &[&since],
                )
                .await?;
            rows.iter().map(file_record).collect()
        })
    }

    fn file_record(&self, name: &str) -> Result<Option<FileRecord>, StoreError> {
        self.run(async {
            let row = self
                .client()
                .await?
                .query_opt(
                    "SELECT name, sha256, created_at, key_count FROM files
                     WHERE name = $1 AND withdrawn_at IS NULL",
                    &[&name],
                )
                .await?;
            row.as_ref().map(file_record).transpose()
        })
    }

    fn file_keys(&self, name: &str) -> Result<Vec<[u8; 16]>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT k.key_data FROM upload_keys k JOIN files f ON f.id = k.file_id
                     WHERE f.name = $1",
                    &[&name],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let key: Vec<u8> = r.try_get(0)?;
                    key.try_into().map_err(|k: Vec<u8>| {
                        StoreError::new(format!("a published key has {} bytes", k.len()))
                    })
                })
                .collect()
        })
    }

    fn set_file_hash(&self, name: &str, sha256: &[u8; 32]) -> Result<(), StoreError> {
        self.run(async {
            self.client()
                .await?
                .execute(
                    "UPDATE files SET sha256 = $2 WHERE name = $1 AND sha256 IS NULL",
                    &[&name, &sha256.as_slice()],
                )
                .await?;
            Ok(())
        })
    }

    fn withdraw_file(&self, name: &str, now: i64) -> Result<u64, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(row) = tx
                .query_opt(
                    &tx.prepare_cached(
                        "SELECT id FROM files WHERE name = $1 AND withdrawn_at IS NULL FOR UPDATE",
                    )
                    .await?,
                    &[&name],
                )
                .await?
            else {
                return Ok(0);
            };
            let id: i64 = row.try_get(0)?;
            tx.execute(
                &tx.prepare_cached("UPDATE files SET withdrawn_at = $2 WHERE id = $1")
                    .await?,
                &[&id, &now],
            )
            .await?;
            let released = tx
                .execute(
                    &tx.prepare_cached("UPDATE upload_keys SET file_id = NULL WHERE file_id = $1")
                        .await?,
                    &[&id],
                )
                .await?;
            tx.commit().await?;
            Ok(released)
        })
    }

    fn purge(&self, before: i64, now: i64) -> Result<PurgeReport, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let files = tx
                .query(
                    &tx.prepare_cached("SELECT name FROM files WHERE created_at < $1 AND withdrawn_at IS NULL ORDER BY id").await?,
                    &[&before],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let mut report = PurgeReport {
                files,
                ..PurgeReport::default()
            };
            let published = tx
                .execute(
                    &tx.prepare_cached("DELETE FROM upload_keys WHERE file_id IN (SELECT id FROM files WHERE created_at < $1)").await?,
                    &[&before],
                )
                .await?;
            // As in SQLite: a day more for keys never published (see `SqliteServerStore`).
            let stale = tx
                .execute(
                    &tx.prepare_cached("DELETE FROM upload_keys
                     WHERE file_id IS NULL AND (rolling_start + rolling_period) * 600 < $1").await?,
                    &[&(before - 86_400)],
                )
                .await?;
            report.keys = published + stale;
            tx.execute(&tx.prepare_cached("DELETE FROM files WHERE created_at < $1").await?, &[&before])
                .await?;
            report.uploads = tx
                .execute(
                    &tx.prepare_cached("DELETE FROM uploads WHERE received_at < $1
                     AND NOT EXISTS (SELECT 1 FROM upload_keys k WHERE k.upload_id = uploads.id)").await?,
                    &[&before],
                )
                .await?;
            report.codes = tx
                .execute(&tx.prepare_cached("DELETE FROM codes WHERE expires_at < $1").await?, &[&before])
                .await?;
            report.tokens = tx
                .execute(&tx.prepare_cached("DELETE FROM tokens WHERE expires_at < $1").await?, &[&now])
                .await?;
            tx.commit().await?;
            Ok(report)
        })
    }

    fn audit(
        &self,
        official_id: Option<i64>,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.run(async {
            self.client()
                .await?
                .execute(
                    "INSERT INTO audit (official_id, action, detail, at) VALUES ($1, $2, $3, $4)",
                    &[&official_id, &action, &detail, &now],
                )
                .await?;
            Ok(())
        })
    }

    fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT official_id, action, detail, at FROM audit ORDER BY id DESC LIMIT $1",
                    &[&i64::from(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(AuditEntry {
                        official_id: r.try_get(0)?,
                        action: r.try_get(1)?,
                        detail: r.try_get(2)?,
                        at: r.try_get(3)?,
                    })
                })
                .collect()
        })
    }

    fn activity(&self, since: i64) -> Result<Vec<DayActivity>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let mut answers: [Vec<(i64, i64)>; 4] = Default::default();
            for (answer, query) in answers.iter_mut().zip(ACTIVITY_QUERIES) {
                *answer = client
                    .query(query, &[&since])
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<_, StoreError>>()?;
            }
            merge_activity(answers)
        })
    }

    fn check_attempt(
        &self,
        check: &crate::limits::AttemptCheck<'_>,
    ) -> Result<crate::limits::Checked, StoreError> {
        self.run(self.check_attempt_async(check))
    }

    fn settle_attempt(&self, id: i64, failed: bool) -> Result<(), StoreError> {
        self.run(self.settle_attempt_async(id, failed))
    }

    fn prune_attempts(&self, before: i64) -> Result<u64, StoreError> {
        self.run(self.prune_attempts_async(before))
    }

    fn publisher_lock(&self) -> Result<PublisherLock, StoreError> {
        self.run(self.publisher_lock_async())
    }

    fn release_publisher_lock(&self) {
        let _ = self.run(async {
            self.release_publisher_lock_async().await;
            Ok(())
        });
    }

    fn shared_by_instances(&self) -> bool {
        true
    }
}
