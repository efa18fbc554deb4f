//! What several instances on one PostgreSQL database share beyond the rows every request
//! reads (decision 0015): the limits on guessing, the one publisher, and the published files
//! when no shared folder is given.

use tokio_postgres::NoTls;

use super::PostgresServerStore;
use crate::files::{FileStore, bad_name, is_valid_name};
use crate::limits::{AttemptCheck, AttemptCounts, Checked, Verdict};
use crate::store::{PublisherLock, StoreError};

/// The advisory lock (two-key form, so it never meets the migration's one-key lock) that
/// serializes one client's attempts: the first key marks Bluezone's limits ("BZLM"), the
/// second is taken from the client's hash. Clients that share it only wait for each other.
const LIMIT_LOCK_CLASS: i32 = 0x425A_4C4D;

/// The session advisory lock the publisher holds, per schema.
const PUBLISHER_LOCK: &str =
    "SELECT pg_try_advisory_lock(hashtext('bluezone-publisher:' || current_schema()))";

/// The publisher's own connection: the session that holds the publisher lock. When the
/// process dies its connection closes and PostgreSQL releases the lock at once, so another
/// instance takes over at its next publishing run.
#[derive(Default)]
pub(super) struct PublisherSession {
    client: Option<tokio_postgres::Client>,
}

impl PostgresServerStore {
    pub(super) async fn check_attempt_async(
        &self,
        check: &AttemptCheck<'_>,
    ) -> Result<Checked, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let lock_key = i32::from_le_bytes([
            check.client[0],
            check.client[1],
            check.client[2],
            check.client[3],
        ]);
        // Counting attempts is not acknowledged data: a crash may forget the last fraction of
        // a second of them (decision 0015), and no attempt waits for a disk flush. The lock's
        // keys are integers: one simple query, no statement to prepare.
        tx.batch_execute(&format!(
            "SET LOCAL synchronous_commit TO OFF; \
             SELECT pg_advisory_xact_lock({LIMIT_LOCK_CLASS}, {lock_key})"
        ))
        .await?;
        let client_hash = check.client.as_slice();
        let counts = tx
            .prepare_cached(
                "SELECT COUNT(*) FILTER (WHERE failed OR at <= $3), \
                        COUNT(*) FILTER (WHERE NOT failed AND at > $3) \
                 FROM attempts WHERE client = $1 AND at > $2",
            )
            .await?;
        let row = tx
            .query_one(
                &counts,
                &[
                    &client_hash,
                    &check.client_since(),
                    &check.abandoned_at_or_before(),
                ],
            )
            .await?;
        let (failures, in_flight): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let global_failures: i64 = match check.global_cap() {
            Some(cap) => {
                let global = tx
                    .prepare_cached(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM attempts \
                         WHERE scope = $1 AND at > $2 AND failed LIMIT $3) AS counted",
                    )
                    .await?;
                tx.query_one(&global, &[&check.scope, &check.global_since(), &cap])
                    .await?
                    .try_get(0)?
            }
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
        let insert = tx
            .prepare_cached(
                "INSERT INTO attempts (client, scope, at) VALUES ($1, $2, $3) RETURNING id",
            )
            .await?;
        let id: i64 = tx
            .query_one(&insert, &[&client_hash, &check.scope, &check.now])
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(Checked::Admitted(id))
    }

    pub(super) async fn settle_attempt_async(
        &self,
        id: i64,
        failed: bool,
    ) -> Result<(), StoreError> {
        // One round trip, committed without waiting for the disk (as in `check_attempt_async`).
        let change = if failed {
            format!("UPDATE attempts SET failed = TRUE WHERE id = {id}")
        } else {
            format!("DELETE FROM attempts WHERE id = {id}")
        };
        self.client()
            .await?
            .batch_execute(&format!(
                "BEGIN; SET LOCAL synchronous_commit TO OFF; {change}; COMMIT"
            ))
            .await?;
        Ok(())
    }

    pub(super) async fn prune_attempts_async(&self, before: i64) -> Result<u64, StoreError> {
        Ok(self
            .client()
            .await?
            .execute("DELETE FROM attempts WHERE at <= $1", &[&before])
            .await?)
    }

    /// Keeps the publisher session if it still answers, or tries to open one and take the
    /// lock.
    pub(super) async fn publisher_lock_async(&self) -> Result<PublisherLock, StoreError> {
        let mut session = self.publisher.lock().await;
        if let Some(client) = &session.client {
            let alive = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                client.simple_query("SELECT 1"),
            )
            .await;
            if matches!(alive, Ok(Ok(_))) {
                return Ok(PublisherLock::Held);
            }
            // The session is gone, and with it the lock: another instance may hold it now.
            session.client = None;
        }
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(connection);
        let taken: bool = client.query_one(PUBLISHER_LOCK, &[]).await?.try_get(0)?;
        if taken {
            session.client = Some(client);
            Ok(PublisherLock::Taken)
        } else {
            Ok(PublisherLock::Elsewhere)
        }
    }

    /// Closes the publisher session, which releases its lock.
    pub(super) async fn release_publisher_lock_async(&self) {
        self.publisher.lock().await.client = None;
    }
}

/// Published files in the `file_contents` table: every instance serves every file.
impl FileStore for PostgresServerStore {
    fn put_new(&self, name: &str, bytes: &[u8]) -> Result<bool, StoreError> {
        if !is_valid_name(name) {
            return Err(bad_name());
        }
        self.run(async {
            let inserted = self
                .client()
                .await?
                .execute(
                    "INSERT INTO file_contents (name, bytes, stored_at) \
                     VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT) \
                     ON CONFLICT (name) DO NOTHING",
                    &[&name, &bytes],
                )
                .await?;
            Ok(inserted == 1)
        })
    }

    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if !is_valid_name(name) {
            return Ok(None);
        }
        self.run(async {
            let row = self
                .client()
                .await?
                .query_opt("SELECT bytes FROM file_contents WHERE name = $1", &[&name])
                .await?;
            Ok(match row {
                Some(row) => Some(row.try_get(0)?),
                None => None,
            })
        })
    }

    fn remove(&self, name: &str) -> Result<(), StoreError> {
        if !is_valid_name(name) {
            return Err(bad_name());
        }
        self.run(async {
            self.client()
                .await?
                .execute("DELETE FROM file_contents WHERE name = $1", &[&name])
                .await?;
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<(String, Option<u64>)>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT name, GREATEST(EXTRACT(EPOCH FROM now())::BIGINT - stored_at, 0) \
                     FROM file_contents ORDER BY name",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let age: i64 = row.try_get(1)?;
                    Ok((row.try_get(0)?, u64::try_from(age).ok()))
                })
                .collect()
        })
    }
}
