//! The backend a server test runs on: SQLite, or a fresh PostgreSQL schema
//! (`BLUEZONE_TEST_POSTGRES`), and `on_both_backends!`, which runs each named test on both.
//!
//! Shared by the integration tests (`tests/common`) and the authority's unit tests, which
//! include this file by path; the including module brings `Arc`, `RefCell` and the three
//! store names into scope, and the module invoking `on_both_backends!` has `on_postgres` in
//! scope.

#![allow(dead_code, unused_macros, clippy::unwrap_used)] // Test code: not every test uses every helper.

use super::{Arc, PostgresServerStore, RefCell, ServerStore, SqliteServerStore};

thread_local! {
    /// The PostgreSQL URL when the current test runs on PostgreSQL; SQLite when `None`.
    static POSTGRES: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The current test's PostgreSQL database, kept (and dropped) with the test's thread.
    static DATABASE: RefCell<Option<PostgresServerStore>> = const { RefCell::new(None) };
}

/// A store on the current test's database, the same database at each call (a restarted
/// server): `server.db` in `dir` on SQLite, one scratch schema on PostgreSQL.
pub fn reopened_store(dir: &std::path::Path) -> Arc<dyn ServerStore> {
    let Some(url) = POSTGRES.with_borrow(Clone::clone) else {
        return Arc::new(SqliteServerStore::open(&dir.join("server.db")).unwrap());
    };
    DATABASE.with_borrow_mut(|database| {
        let first = match database {
            Some(first) => first,
            None => database.insert(PostgresServerStore::scratch(&url).unwrap()),
        };
        let schema = first.scratch_schema().unwrap();
        Arc::new(PostgresServerStore::open_in_schema(&url, schema).unwrap()) as Arc<dyn ServerStore>
    })
}

/// A new store of the backend the current test runs on.
pub fn store() -> Arc<dyn ServerStore> {
    POSTGRES.with_borrow(|url| match url {
        Some(url) => Arc::new(PostgresServerStore::scratch(url).unwrap()) as Arc<dyn ServerStore>,
        None => Arc::new(SqliteServerStore::in_memory().unwrap()),
    })
}

/// The test database's URL, `None` when `BLUEZONE_TEST_POSTGRES=skip`; fails the test when
/// the variable is unset.
pub fn postgres_url() -> Option<String> {
    PostgresServerStore::test_url().unwrap()
}

/// Runs `test` with [`store`] on PostgreSQL (unless `BLUEZONE_TEST_POSTGRES=skip`).
pub fn on_postgres(test: fn()) {
    if let Some(url) = postgres_url() {
        POSTGRES.set(Some(url));
        test();
    }
}

/// Each named test function once per backend: `on_sqlite::name` and `on_postgres::name`.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $test() {
                super::$test();
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $test() {
                super::on_postgres(super::$test);
            })*
        }
    };
}

pub(crate) use on_both_backends;
