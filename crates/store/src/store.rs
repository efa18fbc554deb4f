//! The [`Store`]: one SQLite connection (the only writer), sealed rows partitioned by day,
//! sealed settings, schema migrations and retention.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bluezone_protocol::DayNumber;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::crypto::{MasterKey, SealingKey, day_key_aad, row_aad, setting_aad};
use crate::error::StoreError;
use crate::schema;

/// The day-partitioned tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// The phone's own Temporary Exposure Keys.
    OwnKeys,
    /// Folded sightings.
    Sightings,
    /// Exposure results.
    Exposures,
}

impl Table {
    /// Every table.
    pub const ALL: [Self; 3] = [Self::OwnKeys, Self::Sightings, Self::Exposures];

    /// The SQL table name (also bound into each row's associated data).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::OwnKeys => "own_keys",
            Self::Sightings => "sightings",
            Self::Exposures => "exposures",
        }
    }
}

/// The id of a sealed row: never reused, so a stored ciphertext can't be replayed into a
/// later row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowId(pub i64);

/// One stored value, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredValue {
    /// The day it is filed under.
    pub day: DayNumber,
    /// Its row.
    pub id: RowId,
    /// The plaintext (zeroized when dropped).
    pub value: Zeroizing<Vec<u8>>,
}

/// Counts and sizes of a store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Sealed rows in all tables.
    pub rows: u64,
    /// Rows of own keys.
    pub rows_own_keys: u64,
    /// Rows of sighting chunks.
    pub rows_sightings: u64,
    /// Rows of exposure results.
    pub rows_exposures: u64,
    /// Days that have a data key, oldest first.
    pub days: Vec<DayNumber>,
    /// Bytes on disk: the database, its WAL and shared-memory files (or the pages of an
    /// in-memory store).
    pub bytes: u64,
}

/// What a retention purge removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// Days whose key was destroyed.
    pub days_purged: u32,
    /// Rows deleted.
    pub rows_deleted: u64,
}

/// The encrypted store. See the crate documentation.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
    wrap: SealingKey,
    settings: SealingKey,
    day_keys: HashMap<u32, SealingKey>,
    rng: Box<dyn rand_core::CryptoRng + Send>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_AAD: &[u8] = b"bluezone/store/v1/key-check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"bluezone store";

impl Store {
    /// Opens the store at `path`, creating it if missing.
    ///
    /// # Errors
    /// [`StoreError::WrongKey`], [`StoreError::Corrupt`] (the file is left as it is),
    /// [`StoreError::TooNew`], or an I/O or SQLite failure.
    pub fn open(
        path: &Path,
        key: &MasterKey,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        Self::init(conn, Some(path.to_owned()), key, rng)
    }

    /// Opens a store that lives in memory only (simulations and tests).
    ///
    /// # Errors
    /// As [`Store::open`], in practice only SQLite failures.
    pub fn open_in_memory(
        key: &MasterKey,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, None, key, rng)
    }

    fn init(
        mut conn: Connection,
        path: Option<PathBuf>,
        key: &MasterKey,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Result<Self, StoreError> {
        // Reading the schema version is the first access: a file that is no database fails
        // here, before anything is written.
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > schema::LATEST {
            return Err(StoreError::TooNew {
                found: version,
                supported: schema::LATEST,
            });
        }
        if version == 0 {
            // Must precede the first table and the switch to WAL: lets deleted pages be
            // returned to the file system.
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
        }
        if path.is_some() {
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Corrupt(format!(
                    "cannot switch to WAL journaling (got {mode})"
                )));
            }
        }
        // A phone's store is small: checkpoint the WAL every ~256 KB and truncate it back to
        // 64 KB, so it never holds megabytes of old pages.
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA secure_delete = ON;
             PRAGMA foreign_keys = ON;
             PRAGMA busy_timeout = 5000;
             PRAGMA wal_autocheckpoint = 64;
             PRAGMA journal_size_limit = 65536;",
        )?;
        schema::migrate(&mut conn, version)?;
        let mut store = Self {
            conn,
            path,
            wrap: key.derive(b"bluezone/store/v1/wrap"),
            settings: key.derive(b"bluezone/store/v1/settings"),
            day_keys: HashMap::new(),
            rng,
        };
        store.check_key()?;
        Ok(store)
    }

    /// Proves the master key: opens the sealed check value, or writes it in a new store.
    fn check_key(&mut self) -> Result<(), StoreError> {
        let existing: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [KEY_CHECK], |r| {
                r.get(0)
            })
            .optional()?;
        match existing {
            Some(sealed) => match self.wrap.open(KEY_CHECK_AAD, &sealed) {
                Some(plain) if plain.as_slice() == KEY_CHECK_PLAINTEXT => Ok(()),
                _ => Err(StoreError::WrongKey),
            },
            None => {
                let sealed = self
                    .wrap
                    .seal(&mut *self.rng, KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT);
                self.conn.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                    params![KEY_CHECK, sealed],
                )?;
                Ok(())
            }
        }
    }

    /// The data key of `day`, unwrapped from the database or (when `create`) made anew.
    fn day_key(
        tx: &Transaction<'_>,
        wrap: &SealingKey,
        cache: &mut HashMap<u32, SealingKey>,
        rng: &mut dyn rand_core::CryptoRng,
        day: u32,
        create: bool,
    ) -> Result<bool, StoreError> {
        if cache.contains_key(&day) {
            return Ok(true);
        }
        let wrapped: Option<Vec<u8>> = tx
            .query_row("SELECT wrapped FROM day_keys WHERE day = ?1", [day], |r| {
                r.get(0)
            })
            .optional()?;
        let key = match wrapped {
            Some(wrapped) => {
                let bytes =
                    wrap.open(&day_key_aad(day), &wrapped)
                        .ok_or_else(|| StoreError::Tampered {
                            what: format!("key of day {day}"),
                        })?;
                let bytes: Zeroizing<[u8; 32]> =
                    Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
                        StoreError::Tampered {
                            what: format!("key of day {day}"),
                        }
                    })?);
                SealingKey::from_bytes(&bytes)
            }
            None if create => {
                let mut bytes = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(bytes.as_mut_slice());
                let wrapped = wrap.seal(rng, &day_key_aad(day), bytes.as_slice());
                tx.execute(
                    "INSERT INTO day_keys (day, wrapped) VALUES (?1, ?2)",
                    params![day, wrapped],
                )?;
                SealingKey::from_bytes(&bytes)
            }
            None => return Ok(false),
        };
        cache.insert(day, key);
        Ok(true)
    }

    /// Seals and appends one value to `table` under `day`.
    ///
    /// # Errors
    /// SQLite, disk-full or tampered-day-key errors; nothing is written on error.
    pub fn append(
        &mut self,
        table: Table,
        day: DayNumber,
        plaintext: &[u8],
    ) -> Result<RowId, StoreError> {
        let ids = self.append_batch(&[(table, day, plaintext)])?;
        Ok(ids[0])
    }

    /// Seals and appends many values in one transaction: all are stored, or none.
    ///
    /// # Errors
    /// As [`Store::append`].
    pub fn append_batch(
        &mut self,
        items: &[(Table, DayNumber, &[u8])],
    ) -> Result<Vec<RowId>, StoreError> {
        let tx = self.conn.transaction()?;
        let (ids, fresh) = Self::insert_all(
            &tx,
            &self.wrap,
            &mut self.day_keys,
            &mut *self.rng,
            items.iter().map(|(t, d, p)| (*t, d.get(), *p)),
        )?;
        tx.commit()?;
        self.day_keys.extend(fresh);
        Ok(ids)
    }

    /// Inserts rows inside `tx`; returns their ids and the day keys made for them, which the
    /// caller caches only once the transaction commits.
    fn insert_all<'a>(
        tx: &Transaction<'_>,
        wrap: &SealingKey,
        cache: &mut HashMap<u32, SealingKey>,
        rng: &mut dyn rand_core::CryptoRng,
        items: impl Iterator<Item = (Table, u32, &'a [u8])>,
    ) -> Result<(Vec<RowId>, HashMap<u32, SealingKey>), StoreError> {
        let mut fresh: HashMap<u32, SealingKey> = HashMap::new();
        let ids = items
            .map(|(table, day, plaintext)| {
                Self::insert_row(tx, wrap, cache, &mut fresh, rng, table, day, plaintext)
            })
            .collect::<Result<_, _>>()?;
        Ok((ids, fresh))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "split borrows of the store's fields"
    )]
    fn insert_row(
        tx: &Transaction<'_>,
        wrap: &SealingKey,
        cache: &mut HashMap<u32, SealingKey>,
        fresh: &mut HashMap<u32, SealingKey>,
        rng: &mut dyn rand_core::CryptoRng,
        table: Table,
        day: u32,
        plaintext: &[u8],
    ) -> Result<RowId, StoreError> {
        let key = match cache.get(&day) {
            Some(key) => key,
            None => {
                Self::day_key(tx, wrap, fresh, rng, day, true)?;
                fresh.get(&day).ok_or_else(|| StoreError::Tampered {
                    what: format!("key of day {day}"),
                })?
            }
        };
        let name = table.name();
        let last: Option<i64> = tx
            .query_row(
                "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        let id = last.unwrap_or(0) + 1;
        let sealed = key.seal(rng, &row_aad(name, day, id), plaintext);
        tx.execute(
            &format!("INSERT INTO {name} (id, day, sealed) VALUES (?1, ?2, ?3)"),
            params![id, day, sealed],
        )?;
        Ok(RowId(id))
    }

    /// The values of one day of `table`, in insertion order.
    ///
    /// # Errors
    /// [`StoreError::Tampered`] when a row fails authentication; SQLite errors.
    pub fn read_day(
        &mut self,
        table: Table,
        day: DayNumber,
    ) -> Result<Vec<StoredValue>, StoreError> {
        self.read_days(table, day, day)
    }

    /// The values of days `from..=to` of `table`, by day, then insertion order.
    ///
    /// # Errors
    /// As [`Store::read_day`].
    pub fn read_days(
        &mut self,
        table: Table,
        from: DayNumber,
        to: DayNumber,
    ) -> Result<Vec<StoredValue>, StoreError> {
        let tx = self.conn.transaction()?;
        let name = table.name();
        let rows: Vec<(u32, i64, Vec<u8>)> = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT day, id, sealed FROM {name} WHERE day BETWEEN ?1 AND ?2 ORDER BY day, id"
            ))?;
            stmt.query_map(params![from.get(), to.get()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (day, id, sealed) in rows {
            let tampered = || StoreError::Tampered {
                what: format!("{name} row {id} of day {day}"),
            };
            if !Self::day_key(
                &tx,
                &self.wrap,
                &mut self.day_keys,
                &mut *self.rng,
                day,
                false,
            )? {
                return Err(tampered());
            }
            let key = self.day_keys.get(&day).ok_or_else(tampered)?;
            let value = key
                .open(&row_aad(name, day, id), &sealed)
                .ok_or_else(tampered)?;
            out.push(StoredValue {
                day: DayNumber::new(day),
                id: RowId(id),
                value,
            });
        }
        tx.commit()?;
        Ok(out)
    }

    /// Replaces all values of one day of `table` with `plaintexts`, in one transaction
    /// (compaction).
    ///
    /// # Errors
    /// As [`Store::append`].
    pub fn replace_day(
        &mut self,
        table: Table,
        day: DayNumber,
        plaintexts: &[&[u8]],
    ) -> Result<Vec<RowId>, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            &format!("DELETE FROM {} WHERE day = ?1", table.name()),
            [day.get()],
        )?;
        let (ids, fresh) = Self::insert_all(
            &tx,
            &self.wrap,
            &mut self.day_keys,
            &mut *self.rng,
            plaintexts.iter().map(|p| (table, day.get(), *p)),
        )?;
        tx.commit()?;
        self.day_keys.extend(fresh);
        self.reclaim()?;
        Ok(ids)
    }

    /// Returns free pages to the file system (`auto_vacuum = INCREMENTAL`).
    fn reclaim(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("PRAGMA incremental_vacuum")?;
        Ok(())
    }

    /// Deletes rows of `table` by id.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn delete_rows(&mut self, table: Table, ids: &[RowId]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", table.name()))?;
            for id in ids {
                stmt.execute([id.0])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Days that hold rows of `table`, oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn days(&self, table: Table) -> Result<Vec<DayNumber>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT DISTINCT day FROM {} ORDER BY day",
            table.name()
        ))?;
        let days = stmt
            .query_map([], |r| r.get::<_, u32>(0))?
            .map(|d| d.map(DayNumber::new))
            .collect::<Result<_, _>>()?;
        Ok(days)
    }

    /// Stores a small sealed value under `name`, replacing any previous one. Settings are
    /// not day data: retention does not remove them.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let sealed = self
            .settings
            .seal(&mut *self.rng, &setting_aad(name), value);
        self.conn.execute(
            "INSERT INTO settings (name, sealed) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed",
            params![name, sealed],
        )?;
        Ok(())
    }

    /// The value stored under `name`, if any.
    ///
    /// # Errors
    /// [`StoreError::Tampered`] when it fails authentication; SQLite errors.
    pub fn get_setting(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT sealed FROM settings WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        sealed
            .map(|s| {
                self.settings
                    .open(&setting_aad(name), &s)
                    .ok_or_else(|| StoreError::Tampered {
                        what: format!("setting {name:?}"),
                    })
            })
            .transpose()
    }

    /// Destroys every day before `first_kept_day`: its data key and all its rows, in one
    /// transaction, then checkpoints the WAL so no copy of the deleted pages remains in it
    /// (freed pages are zeroed: `secure_delete`).
    ///
    /// # Errors
    /// SQLite errors; nothing is deleted on error.
    pub fn purge_before(&mut self, first_kept_day: DayNumber) -> Result<PurgeReport, StoreError> {
        let cutoff = first_kept_day.get();
        let tx = self.conn.transaction()?;
        let days = tx.execute("DELETE FROM day_keys WHERE day < ?1", [cutoff])?;
        let mut rows = 0u64;
        for table in Table::ALL {
            rows += tx.execute(
                &format!("DELETE FROM {} WHERE day < ?1", table.name()),
                [cutoff],
            )? as u64;
        }
        tx.commit()?;
        self.day_keys.retain(|day, _| *day >= cutoff);
        if days > 0 || rows > 0 {
            self.reclaim()?;
            self.checkpoint()?;
        }
        Ok(PurgeReport {
            days_purged: u32::try_from(days).unwrap_or(u32::MAX),
            rows_deleted: rows,
        })
    }

    /// Deletes all keys, rows and settings (the user's "delete my data"), then shrinks the
    /// file so nothing of them remains in free pages or the WAL.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn delete_everything(&mut self) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM day_keys", [])?;
        tx.execute("DELETE FROM settings", [])?;
        for table in Table::ALL {
            tx.execute(&format!("DELETE FROM {}", table.name()), [])?;
        }
        tx.commit()?;
        self.day_keys.clear();
        self.conn.execute_batch("VACUUM")?;
        self.checkpoint()
    }

    /// Copies the WAL into the database and truncates it (done after purges; the engine
    /// also calls it after daily maintenance).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        if self.path.is_some() {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Row, day and byte counts.
    ///
    /// # Errors
    /// SQLite or I/O errors.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let count = |table: Table| -> Result<u64, StoreError> {
            let n: i64 = self.conn.query_row(
                &format!("SELECT COUNT(*) FROM {}", table.name()),
                [],
                |r| r.get(0),
            )?;
            Ok(n.unsigned_abs())
        };
        let (own, sightings, exposures) = (
            count(Table::OwnKeys)?,
            count(Table::Sightings)?,
            count(Table::Exposures)?,
        );
        let mut days = BTreeSet::new();
        let mut stmt = self.conn.prepare_cached("SELECT day FROM day_keys")?;
        for day in stmt.query_map([], |r| r.get::<_, u32>(0))? {
            days.insert(DayNumber::new(day?));
        }
        let bytes = match &self.path {
            Some(path) => ["", "-wal", "-shm"]
                .iter()
                .map(|suffix| {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    std::fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
                })
                .sum(),
            None => {
                let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                (pages * size).unsigned_abs()
            }
        };
        Ok(StoreStats {
            rows: own + sightings + exposures,
            rows_own_keys: own,
            rows_sightings: sightings,
            rows_exposures: exposures,
            days: days.into_iter().collect(),
            bytes,
        })
    }

    /// Runs SQLite's full integrity check.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] with SQLite's findings.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let findings: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if findings.len() == 1 && findings[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt(findings.join("; ")))
        }
    }
}
