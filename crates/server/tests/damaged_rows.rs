//! A damaged row in the server's database is refused with an error an operator sees, never
//! published with a made-up report type or dropped without a trace: on SQLite and on
//! PostgreSQL.

#![allow(clippy::unwrap_used)] // Test code.

use bluezone_server::store::{
    CaseClaims, PostgresServerStore, ServerStore, SqliteServerStore, StoredKey,
};

fn add_one_upload(store: &dyn ServerStore) {
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
}

/// Damages the one upload with `sql` (SQLite spelling, then PostgreSQL's) on each backend
/// and returns the errors `publishable_keys` gives.
fn damaged(sqlite_sql: &str, postgres_sql: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let store = SqliteServerStore::open(&path).unwrap();
    add_one_upload(&store);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(sqlite_sql, [])
        .unwrap();
    errors.push(store.publishable_keys(200, 10).unwrap_err().to_string());

    if let Some(url) = PostgresServerStore::test_url().unwrap() {
        let store = PostgresServerStore::scratch(&url).unwrap();
        add_one_upload(&store);
        let sql = format!(
            "SET search_path = {}; {postgres_sql}",
            store.scratch_schema().unwrap()
        );
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client.batch_execute(&sql).await.unwrap();
            });
        errors.push(store.publishable_keys(200, 10).unwrap_err().to_string());
    }
    errors
}

#[test]
fn a_key_of_the_wrong_length_stops_publishing_with_an_error() {
    for error in damaged(
        "UPDATE upload_keys SET key_data = x'0102'",
        "UPDATE upload_keys SET key_data = '\\x0102'",
    ) {
        assert!(error.contains("2 bytes"), "{error}");
    }
}

#[test]
fn a_report_type_out_of_range_is_refused_not_published_as_unknown() {
    let update = "UPDATE uploads SET report_type = 9";
    for error in damaged(update, update) {
        assert!(error.contains("report type is 9"), "{error}");
    }
}
