//! The [`Store`]: one SQLite connection (the only writer), sealed rows partitioned by day,
//! sealed settings, schema migrations and retention; or a read-only connection for
//! inspection.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bluezone_protocol::DayNumber;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use zeroize::Zeroizing;

use crate::crypto::{MasterKey, SealingKey, day_key_aad, row_aad, setting_aad};
use crate::error::StoreError;
use crate::schema::{self, Found};

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

/// One stored value, opened. Its `Debug` gives the plaintext's length, not its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredValue {
    /// The day it is filed under.
    pub day: DayNumber,
    /// Its row.
    pub id: RowId,
    /// The plaintext (zeroized when dropped).
    pub value: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for StoredValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredValue")
            .field("day", &self.day)
            .field("id", &self.id)
            .field(
                "value",
                &format_args!("<redacted, {} bytes>", self.value.len()),
            )
            .finish()
    }
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
    /// The source of keys and nonces; `None` for a store opened read-only, which seals
    /// nothing.
    rng: Option<Box<dyn rand_core::CryptoRng + Send>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("read_only", &self.rng.is_none())
            .finish_non_exhaustive()
    }
}

const KEY_CHECK: &str = "key_check";
const KEY_CHECK_AAD: &[u8] = b"bluezone/store/v1/key-check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"bluezone store";

impl Store {
    /// Opens the store at `path`, creating it if missing, and migrates it to the newest
    /// schema.
    ///
    /// An existing file is first identified through a read-only connection (see
    /// [`Store::open_read_only`] for how it avoids touching the file): only an empty database,
    /// a store (`PRAGMA application_id` = [`APPLICATION_ID`](crate::APPLICATION_ID)) or a
    /// version-1 store from before the id is opened for writing.
    ///
    /// # Errors
    /// [`StoreError::NotAStore`] and [`StoreError::Corrupt`] (the file is left byte for byte
    /// as it was, with no `-wal` or `-shm` file added), [`StoreError::WrongKey`],
    /// [`StoreError::TooNew`], or an I/O or SQLite failure.
    pub fn open(
        path: &Path,
        key: &MasterKey,
        rng: Box<dyn rand_core::CryptoRng + Send>,
    ) -> Result<Self, StoreError> {
        if path.try_exists()? {
            // Identity first, through a connection that cannot write: a foreign file is
            // refused before the writable connection exists (closing that one could
            // checkpoint someone else's WAL or roll back their journal).
            let probe = connect_read_only(path)?;
            schema::identify(&probe)?;
            drop(probe);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        Self::init(conn, Some(path.to_owned()), key, rng)
    }

    /// Opens the existing store at `path` for reading only (inspection: `bluezone store
    /// stats`): never creates, migrates or writes to the file. The same identity check as
    /// [`Store::open`] runs first; the key is checked against the sealed check value without
    /// writing one. Every schema version up to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION) is
    /// read as it is, without migrating.
    ///
    /// Reads ([`Store::stats`], [`Store::read_days`], [`Store::get_setting`], ...) work;
    /// changes fail with [`StoreError::ReadOnly`].
    ///
    /// The files: when no `-wal` file exists (no store connection is open and the last one
    /// closed cleanly, checkpointing), the database is opened `immutable`: SQLite takes no
    /// locks and creates no `-wal` or `-shm` file. When a `-wal` file exists (the store is
    /// open in another process, or a writer died), its committed data is read through an
    /// ordinary read-only connection, which uses the `-shm` file and creates it if it is
    /// missing; the database and `-wal` files are never written.
    ///
    /// # Errors
    /// [`StoreError::Io`] (not found) when there is no file, [`StoreError::NotAStore`] for
    /// another database or an empty one, [`StoreError::Corrupt`], [`StoreError::TooNew`],
    /// [`StoreError::WrongKey`], or an SQLite failure.
    pub fn open_read_only(path: &Path, key: &MasterKey) -> Result<Self, StoreError> {
        if !path.try_exists()? {
            return Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no store at {}", path.display()),
            )));
        }
        let conn = connect_read_only(path)?;
        match schema::identify(&conn)? {
            Found::Empty => return Err(StoreError::NotAStore),
            // Every version so far holds the tables the reads use (see `schema`).
            Found::Store { .. } => {}
        }
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;")?;
        let store = Self {
            conn,
            path: Some(path.to_owned()),
            wrap: key.derive(b"bluezone/store/v1/wrap"),
            settings: key.derive(b"bluezone/store/v1/settings"),
            day_keys: HashMap::new(),
            rng: None,
        };
        store.verify_key()?;
        Ok(store)
    }

    /// Whether the store was opened with [`Store::open_read_only`].
    #[must_use]
    pub const fn is_read_only(&self) -> bool {
        self.rng.is_none()
    }

    /// Deletes the store at `path` for good: the database and the `-wal`, `-shm` and
    /// `-journal` files SQLite keeps beside it. Files that do not exist are skipped. Call it
    /// only with no store open on `path` (after [`Store::open`] refused the file, say).
    ///
    /// # Errors
    /// [`StoreError::Io`] when a file exists but cannot be removed.
    pub fn remove_files(path: &Path) -> Result<(), StoreError> {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            match std::fs::remove_file(&name) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::Io(e)),
            }
        }
        Ok(())
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
        // Identity is the first access, with reads only: a file that is no database, not a
        // store or too new fails here, before anything is written.
        let version = match schema::identify(&conn)? {
            Found::Empty => 0,
            Found::Store { version } => version,
        };
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
            rng: Some(rng),
        };
        store.check_key()?;
        Ok(store)
    }

    /// The sealed key-check value, if the store has one.
    fn key_check(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [KEY_CHECK], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Whether the master key opens the sealed check value.
    fn key_opens(&self, sealed: &[u8]) -> Result<(), StoreError> {
        match self.wrap.open(KEY_CHECK_AAD, sealed) {
            Some(plain) if plain.as_slice() == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(StoreError::WrongKey),
        }
    }

    /// Proves the master key: opens the sealed check value, or writes it in a new store.
    fn check_key(&mut self) -> Result<(), StoreError> {
        match self.key_check()? {
            Some(sealed) => self.key_opens(&sealed),
            None => {
                let rng = self.rng.as_deref_mut().ok_or(StoreError::ReadOnly)?;
                let sealed = self.wrap.seal(rng, KEY_CHECK_AAD, KEY_CHECK_PLAINTEXT);
                self.conn.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                    params![KEY_CHECK, sealed],
                )?;
                Ok(())
            }
        }
    }

    /// Proves the master key without writing (read-only stores). A store without a check
    /// value passes only if it holds nothing sealed (a writer stopped between creating the
    /// schema and writing the check value); otherwise the check value was removed.
    fn verify_key(&self) -> Result<(), StoreError> {
        match self.key_check()? {
            Some(sealed) => self.key_opens(&sealed),
            None => {
                let sealed: i64 = self.conn.query_row(
                    "SELECT (SELECT COUNT(*) FROM day_keys) + (SELECT COUNT(*) FROM settings)",
                    [],
                    |r| r.get(0),
                )?;
                if sealed == 0 {
                    Ok(())
                } else {
                    Err(StoreError::Tampered {
                        what: "key check (missing)".to_owned(),
                    })
                }
            }
        }
    }

    /// [`StoreError::ReadOnly`] for a store opened read-only.
    const fn ensure_writable(&self) -> Result<(), StoreError> {
        if self.rng.is_some() {
            Ok(())
        } else {
            Err(StoreError::ReadOnly)
        }
    }

    /// The data key of `day`, unwrapped from the database or (when given a `create` source
    /// of randomness) made anew.
    fn day_key(
        tx: &Transaction<'_>,
        wrap: &SealingKey,
        cache: &mut HashMap<u32, SealingKey>,
        create: Option<&mut dyn rand_core::CryptoRng>,
        day: u32,
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
            None => {
                let Some(rng) = create else {
                    return Ok(false);
                };
                let mut bytes = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(bytes.as_mut_slice());
                let wrapped = wrap.seal(rng, &day_key_aad(day), bytes.as_slice());
                tx.execute(
                    "INSERT INTO day_keys (day, wrapped) VALUES (?1, ?2)",
                    params![day, wrapped],
                )?;
                SealingKey::from_bytes(&bytes)
            }
        };
        cache.insert(day, key);
        Ok(true)
    }

    /// Seals and appends one value to `table` under `day`.
    ///
    /// # Errors
    /// SQLite, disk-full or tampered-day-key errors; nothing is written on error.
    /// [`StoreError::ReadOnly`] on a store opened read-only.
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
        let rng = self.rng.as_deref_mut().ok_or(StoreError::ReadOnly)?;
        let tx = self.conn.transaction()?;
        let (ids, fresh) = Self::insert_all(
            &tx,
            &self.wrap,
            &mut self.day_keys,
            rng,
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
                Self::day_key(tx, wrap, fresh, Some(&mut *rng), day)?;
                fresh.get(&day).ok_or_else(|| StoreError::Tampered {
                    what: format!("key of day {day}"),
                })?
            }
        };
        let name = table.name();
        // Cached statements: a phone appends a batch every few seconds to minutes.
        let last: Option<i64> = tx
            .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        let id = last.unwrap_or(0) + 1;
        let sealed = key.seal(rng, &row_aad(name, day, id), plaintext);
        tx.prepare_cached(&format!(
            "INSERT INTO {name} (id, day, sealed) VALUES (?1, ?2, ?3)"
        ))?
        .execute(params![id, day, sealed])?;
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
            if !Self::day_key(&tx, &self.wrap, &mut self.day_keys, None, day)? {
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
        let rng = self.rng.as_deref_mut().ok_or(StoreError::ReadOnly)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            &format!("DELETE FROM {} WHERE day = ?1", table.name()),
            [day.get()],
        )?;
        let (ids, fresh) = Self::insert_all(
            &tx,
            &self.wrap,
            &mut self.day_keys,
            rng,
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
    /// SQLite errors; [`StoreError::ReadOnly`] on a store opened read-only.
    pub fn delete_rows(&mut self, table: Table, ids: &[RowId]) -> Result<(), StoreError> {
        self.ensure_writable()?;
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
    /// SQLite errors; [`StoreError::ReadOnly`] on a store opened read-only.
    pub fn put_setting(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let rng = self.rng.as_deref_mut().ok_or(StoreError::ReadOnly)?;
        let sealed = self.settings.seal(rng, &setting_aad(name), value);
        self.conn
            .prepare_cached(
                "INSERT INTO settings (name, sealed) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed",
            )?
            .execute(params![name, sealed])?;
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
    /// SQLite errors, nothing deleted; [`StoreError::ReadOnly`] on a store opened read-only.
    pub fn purge_before(&mut self, first_kept_day: DayNumber) -> Result<PurgeReport, StoreError> {
        self.ensure_writable()?;
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
    /// SQLite errors; [`StoreError::ReadOnly`] on a store opened read-only.
    pub fn delete_everything(&mut self) -> Result<(), StoreError> {
        self.ensure_writable()?;
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
    /// SQLite errors; [`StoreError::ReadOnly`] on a store opened read-only.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.ensure_writable()?;
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

/// Opens `path` for reading through a connection that writes nothing, ever: `immutable` when no
/// `-wal` file exists (then the database file holds every committed change, and SQLite takes
/// no locks and creates no `-wal` or `-shm` file), otherwise an ordinary read-only connection
/// that reads the committed frames of the `-wal` file (using its `-shm` file, which SQLite
/// creates if missing).
fn connect_read_only(path: &Path) -> Result<Connection, StoreError> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if Path::new(&wal).try_exists()? {
        Ok(Connection::open_with_flags(path, flags)?)
    } else {
        let uri = format!("{}?immutable=1", file_uri(path)?);
        Ok(Connection::open_with_flags(
            uri,
            flags | OpenFlags::SQLITE_OPEN_URI,
        )?)
    }
}

/// `path` as an SQLite `file:` URI: absolute, every byte but unreserved ones and `/`
/// percent-encoded (so `?`, `#` and `%` in a name stay part of it).
fn file_uri(path: &Path) -> Result<String, StoreError> {
    let absolute = std::path::absolute(path)?;
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        absolute.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = {
        let text = absolute.to_str().ok_or_else(|| {
            StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the path {} is not valid Unicode", absolute.display()),
            ))
        })?;
        // `C:\x\y` becomes `/C:/x/y`.
        format!("/{}", text.replace('\\', "/")).into_bytes()
    };
    let mut uri = String::from("file://");
    for byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~') {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(uri)
}
