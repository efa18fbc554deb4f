//! What instances on one database share besides rows (decision 0015), at the store: the
//! publisher lock (one holder; released when the holder closes or dies, then taken by
//! another) and the published files every `FileStore` keeps the same way (a folder, memory,
//! PostgreSQL's `file_contents`).

#![allow(clippy::unwrap_used)] // Test code.

use std::sync::Arc;

use bluezone_server::files::{FileStore, FolderFileStore, MemoryFileStore};
use bluezone_server::store::{PostgresServerStore, PublisherLock, ServerStore, SqliteServerStore};

/// Two stores on one scratch schema (two instances), or `None` when PostgreSQL is skipped.
fn two_instances() -> Option<(PostgresServerStore, PostgresServerStore)> {
    let url = PostgresServerStore::test_url().unwrap()?;
    let first = PostgresServerStore::scratch(&url).unwrap();
    let second =
        PostgresServerStore::open_in_schema(&url, first.scratch_schema().unwrap()).unwrap();
    Some((first, second))
}

#[test]
fn one_instance_holds_the_publisher_lock_and_another_takes_it_over() {
    let Some((first, second)) = two_instances() else {
        return;
    };
    assert_eq!(first.publisher_lock().unwrap(), PublisherLock::Taken);
    assert_eq!(second.publisher_lock().unwrap(), PublisherLock::Elsewhere);
    assert_eq!(first.publisher_lock().unwrap(), PublisherLock::Held);
    assert_eq!(second.publisher_lock().unwrap(), PublisherLock::Elsewhere);
    // A clean stop releases it at once.
    first.release_publisher_lock();
    assert_eq!(second.publisher_lock().unwrap(), PublisherLock::Taken);
    assert_eq!(first.publisher_lock().unwrap(), PublisherLock::Elsewhere);
    // The holder's process ends without releasing: its connection closes, and so the lock.
    let url = PostgresServerStore::test_url().unwrap().unwrap();
    let third = PostgresServerStore::open_in_schema(&url, first.scratch_schema().unwrap()).unwrap();
    drop(second);
    let mut outcome = third.publisher_lock().unwrap();
    for _ in 0..50 {
        if outcome == PublisherLock::Taken {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        outcome = third.publisher_lock().unwrap();
    }
    assert_eq!(outcome, PublisherLock::Taken);
    // Each schema has its own publisher.
    let other = PostgresServerStore::scratch(&url).unwrap();
    assert_eq!(other.publisher_lock().unwrap(), PublisherLock::Taken);
}

#[test]
fn one_sqlite_process_publishes() {
    let store = SqliteServerStore::in_memory().unwrap();
    assert_eq!(store.publisher_lock().unwrap(), PublisherLock::Taken);
    assert_eq!(store.publisher_lock().unwrap(), PublisherLock::Held);
    assert!(!store.shared_by_instances());
}

/// The contract every file store keeps.
fn keeps_files_as_published(files: &dyn FileStore) {
    assert!(files.put_new("1793530800-00001.zip", b"first").unwrap());
    assert!(!files.put_new("1793530800-00001.zip", b"second").unwrap());
    assert_eq!(
        files.get("1793530800-00001.zip").unwrap().unwrap(),
        b"first"
    );
    assert_eq!(files.get("1793530800-00002.zip").unwrap(), None);
    assert!(files.put_new("risk-config-1.json", b"{}").unwrap());
    let names: Vec<String> = files.list().unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["1793530800-00001.zip", "risk-config-1.json"]);
    files.remove("1793530800-00001.zip").unwrap();
    files.remove("1793530800-00001.zip").unwrap(); // Already gone: fine.
    assert_eq!(files.get("1793530800-00001.zip").unwrap(), None);
    for name in ["../x", "a/b", ".hidden", "", &"x".repeat(65)] {
        assert!(files.put_new(name, b"x").is_err(), "{name}");
        assert_eq!(files.get(name).unwrap(), None, "{name}");
    }
}

#[test]
fn every_file_store_keeps_files_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    keeps_files_as_published(&FolderFileStore::new(dir.path().join("files")).unwrap());
    keeps_files_as_published(&MemoryFileStore::default());
    if let Some((first, second)) = two_instances() {
        keeps_files_as_published(&first);
        // What one instance stored, the other serves; its age comes from the database.
        assert!(first.put_new("1793530801-00001.zip", b"shared").unwrap());
        assert_eq!(
            second.get("1793530801-00001.zip").unwrap().unwrap(),
            b"shared"
        );
        let listed = second.list().unwrap();
        assert!(
            listed
                .iter()
                .any(|(name, age)| name == "1793530801-00001.zip" && age.is_some_and(|a| a < 5))
        );
        assert!(second.shared_by_instances());
        let _: Arc<dyn FileStore> = Arc::new(second);
    }
}
