//! A damaged row in the server's database is refused with an error an operator sees, never
//! published with a made-up report type or dropped without a trace.

#![allow(clippy::unwrap_used)] // Test code.

use bluezone_server::store::{CaseClaims, ServerStore, SqliteServerStore, StoredKey};

fn store_with_one_upload(dir: &tempfile::TempDir) -> (SqliteServerStore, std::path::PathBuf) {
    let path = dir.path().join("server.db");
    let store = SqliteServerStore::open(&path).unwrap();
    let key = StoredKey {
        key_data: [7; 16],
        rolling_start: 2_990_000,
        rolling_period: 144,
        transmission_risk: 0,
        publish_after: 0,
    };
    let claims = CaseClaims {
        report_type: 1,
        symptom_onset_interval: None,
    };
    assert_eq!(
        store.insert_upload(&[1; 32], claims, &[key], 100).unwrap(),
        1
    );
    assert_eq!(store.publishable_keys(200, 10).unwrap().len(), 1);
    (store, path)
}

#[test]
fn a_key_of_the_wrong_length_stops_publishing_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store_with_one_upload(&dir);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE upload_keys SET key_data = x'0102'", [])
        .unwrap();
    let error = store.publishable_keys(200, 10).unwrap_err();
    assert!(error.to_string().contains("2 bytes"), "{error}");
}

#[test]
fn a_report_type_out_of_range_is_refused_not_published_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store_with_one_upload(&dir);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE uploads SET report_type = 9", [])
        .unwrap();
    let error = store.publishable_keys(200, 10).unwrap_err();
    assert!(error.to_string().contains("report type is 9"), "{error}");
}
