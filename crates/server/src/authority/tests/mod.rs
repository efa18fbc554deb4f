//! Unit tests of the authority's rules, called directly (no HTTP): files in memory, the time
//! passed in as `now`, and every test run twice, on an in-memory SQLite store and on a fresh
//! PostgreSQL schema (`BLUEZONE_TEST_POSTGRES`). Every refusal is checked by its code.

use std::cell::RefCell;
use std::sync::Arc;

use base64ct::{Base64, Encoding};
use bluezone_protocol::messages::{PublishKey, PublishPayload};
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::upload::{UploadKey, tek_hmac};

use super::*;
use crate::files::MemoryFileStore;
use crate::store::{PostgresServerStore, ServerStore, SqliteServerStore};

/// 2026-11-01 10:20 UTC.
const NOW: i64 = 1_793_530_800;
const CLIENT: &str = "192.0.2.1";
const PASSWORD: &str = "correct horse battery";
/// The HMAC secret of the uploads in these tests.
const SECRET: [u8; 32] = [0x5e; 32];

#[path = "../../../tests/common/backends.rs"]
mod backends;
use backends::{on_both_backends, on_postgres, store};

on_both_backends!(
    officials_are_added_once_and_authenticated,
    failed_logins_are_limited,
    codes_are_issued_listed_and_revoked,
    a_code_is_redeemed_once_within_its_validity,
    failed_code_attempts_are_limited_per_client,
    a_token_buys_one_certificate_while_it_is_valid,
    an_upload_is_accepted_once_with_its_certificate,
    an_upload_s_certificate_and_hmac_are_checked,
    every_key_check_refuses_with_its_code,
    sealed_requests_are_bounded_and_must_open,
    a_file_outside_the_index_is_not_found,
    activity_counts_whole_utc_days_of_the_window,
);

pub(super) fn authority() -> Authority {
    Authority::new(
        AuthorityConfig::default(),
        AuthorityKeys::derive(&[7; 32], "452", "v1").unwrap(),
        store(),
        Arc::new(MemoryFileStore::default()),
        [9; 32],
    )
}

/// An authority with one official, and the official's id.
fn with_official() -> (Authority, i64) {
    let authority = authority();
    let id = authority.create_official("nurse", PASSWORD, NOW).unwrap();
    (authority, id)
}

fn code_of<T: std::fmt::Debug>(result: Result<T, AuthorityError>) -> RefusalCode {
    let error = result.unwrap_err();
    assert!(!error.message.is_empty());
    error.code
}

fn issue(authority: &Authority, official: i64, now: i64) -> String {
    authority
        .issue_code(official, 1, None, None, now)
        .unwrap()
        .code
}

/// A token for a new code, redeemed at `now`.
fn token(authority: &Authority, official: i64, now: i64) -> String {
    let code = issue(authority, official, now);
    let mut verified = authority.verify(CLIENT, &code, now).unwrap();
    std::mem::take(&mut verified.token)
}

/// Yesterday's and the two days before's keys, whole days.
fn three_keys() -> Vec<UploadKey> {
    let today = u32::try_from(NOW / 600).unwrap() / 144 * 144;
    (1..=3u8)
        .map(|d| UploadKey {
            key_data: [d; 16],
            rolling_start: today - u32::from(d) * 144,
            rolling_period: 144,
            transmission_risk: 0,
        })
        .collect()
}

fn wire(keys: &[UploadKey]) -> Vec<PublishKey> {
    keys.iter()
        .map(|k| PublishKey {
            key: Base64::encode_string(&k.key_data),
            rolling_start_number: k.rolling_start,
            rolling_period: k.rolling_period,
            transmission_risk: k.transmission_risk,
        })
        .collect()
}

/// A certificate, issued at `now`, for the HMAC of `keys` under [`SECRET`].
fn certificate_for(authority: &Authority, official: i64, keys: &[UploadKey], now: i64) -> String {
    let token = token(authority, official, now);
    let hmac = Base64::encode_string(&tek_hmac(&SECRET, keys));
    authority
        .certificate(&token, &hmac, now)
        .unwrap()
        .certificate
}

fn publish(
    authority: &Authority,
    keys: Vec<PublishKey>,
    certificate: &str,
    now: i64,
) -> Result<bluezone_protocol::messages::PublishResponse, AuthorityError> {
    let payload = PublishPayload {
        keys,
        hmac_key: Base64::encode_string(&SECRET),
        certificate: certificate.to_owned(),
        padding: String::new(),
    };
    authority.publish(&serde_json::to_vec(&payload).unwrap(), now)
}

fn officials_are_added_once_and_authenticated() {
    let (authority, id) = with_official();
    assert_eq!(
        code_of(authority.create_official("nurse", "another long password", NOW)),
        RefusalCode::OfficialExists
    );
    for (name, password) in [
        ("", PASSWORD),
        ("clerk", "too short"),
        (&*"n".repeat(65), PASSWORD),
    ] {
        assert_eq!(
            code_of(authority.create_official(name, password, NOW)),
            RefusalCode::InvalidOfficial
        );
    }
    assert_eq!(
        authority.authenticate(CLIENT, "nurse", PASSWORD, NOW),
        Ok(id)
    );
    assert_eq!(
        code_of(authority.authenticate(CLIENT, "nurse", "a wrong password", NOW)),
        RefusalCode::Unauthorized
    );
    assert_eq!(
        code_of(authority.authenticate(CLIENT, "nobody", PASSWORD, NOW)),
        RefusalCode::Unauthorized
    );
}

fn failed_logins_are_limited() {
    let (authority, _) = with_official();
    for _ in 0..authority.config().failed_logins_per_client {
        assert_eq!(
            code_of(authority.authenticate(CLIENT, "nurse", "a wrong password", NOW)),
            RefusalCode::Unauthorized
        );
    }
    assert_eq!(
        code_of(authority.authenticate(CLIENT, "nurse", PASSWORD, NOW)),
        RefusalCode::TooManyAttempts
    );
}

fn codes_are_issued_listed_and_revoked() {
    let (authority, official) = with_official();
    assert_eq!(
        code_of(authority.issue_code(official, 3, None, None, NOW)),
        RefusalCode::InvalidReportType
    );
    let issued = authority
        .issue_code(official, 2, Some(144 * 20_000 + 7), None, NOW)
        .unwrap();
    assert_eq!(issued.code.len(), 8);
    assert_eq!(
        issued.expires_at,
        NOW + authority.config().code_validity_secs
    );
    let listed = authority.codes(official).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].claims.symptom_onset_interval, Some(144 * 20_000));
    authority.revoke_code(official, issued.id, NOW).unwrap();
    assert_eq!(
        code_of(authority.revoke_code(official, issued.id, NOW)),
        RefusalCode::CodeNotFound
    );
    assert_eq!(
        code_of(authority.verify(CLIENT, &issued.code, NOW)),
        RefusalCode::CodeInvalid
    );
    let actions: Vec<String> = authority
        .audit_log()
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["revoke_code", "issue_code", "create_official"]);
}

fn activity_counts_whole_utc_days_of_the_window() {
    let (authority, official) = with_official();
    let today = NOW.div_euclid(86_400) * 86_400;
    let first = today - 13 * 86_400;
    issue(&authority, official, first - 1); // The day before the window.
    issue(&authority, official, first);
    // Issued in the last second of a day, used in the first of the next.
    let code = issue(&authority, official, today - 1);
    authority.verify(CLIENT, &code, today).unwrap();

    let days = authority.activity(NOW).unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(i64::from(days[0].day.get()) * 86_400, today, "newest first");
    assert_eq!(i64::from(days[13].day.get()) * 86_400, first);
    let counts: Vec<(u64, u64)> = days
        .iter()
        .map(|d| (d.codes_issued, d.codes_used))
        .collect();
    let mut expected = vec![(0, 0); 14];
    expected[0] = (0, 1);
    expected[1] = (1, 0);
    expected[13] = (1, 0);
    assert_eq!(counts, expected);
    assert!(
        days.iter()
            .all(|d| d.uploads_accepted == 0 && d.files_published == 0)
    );
}

fn a_code_is_redeemed_once_within_its_validity() {
    let (authority, official) = with_official();
    let code = issue(&authority, official, NOW);
    let verified = authority.verify(CLIENT, &code, NOW).unwrap();
    assert_eq!(verified.report_type, 1);
    assert_eq!(Base64::decode_vec(&verified.token).unwrap().len(), 32);
    assert_eq!(
        code_of(authority.verify(CLIENT, &code, NOW)),
        RefusalCode::CodeUsed
    );
    let late = issue(&authority, official, NOW);
    let after = NOW + authority.config().code_validity_secs + 1;
    assert_eq!(
        code_of(authority.verify(CLIENT, &late, after)),
        RefusalCode::CodeExpired
    );
    for invalid in ["1234567", "abcdefgh", "123456789"] {
        assert_eq!(
            code_of(authority.verify(CLIENT, invalid, NOW)),
            RefusalCode::CodeInvalid
        );
    }
}

fn failed_code_attempts_are_limited_per_client() {
    let (authority, official) = with_official();
    for _ in 0..authority.config().failed_attempts_per_client_per_hour {
        assert_eq!(
            code_of(authority.verify(CLIENT, "00000000", NOW)),
            RefusalCode::CodeInvalid
        );
    }
    let code = issue(&authority, official, NOW);
    assert_eq!(
        code_of(authority.verify(CLIENT, &code, NOW)),
        RefusalCode::TooManyAttempts
    );
    // Another client is not held back, and the window passes.
    assert!(authority.verify("198.51.100.7", &code, NOW).is_ok());
    let later = NOW + 3601;
    let other = issue(&authority, official, later);
    assert!(authority.verify(CLIENT, &other, later).is_ok());
}

#[test]
fn an_attempt_the_store_cannot_count_is_an_internal_error_not_a_limit() {
    // The database loses the limits' table: verifying is refused, but as the server's fault
    // (the phone retries later), never as "you guessed too often", and nothing is redeemed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.db");
    let authority = Authority::new(
        AuthorityConfig::default(),
        AuthorityKeys::derive(&[7; 32], "452", "v1").unwrap(),
        Arc::new(SqliteServerStore::open(&path).unwrap()),
        Arc::new(MemoryFileStore::default()),
        [9; 32],
    );
    let official = authority.create_official("nurse", PASSWORD, NOW).unwrap();
    let code = issue(&authority, official, NOW);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE attempts")
        .unwrap();
    assert_eq!(
        code_of(authority.verify(CLIENT, &code, NOW)),
        RefusalCode::InternalError
    );
    assert_eq!(
        authority.codes(official).unwrap()[0].used_at,
        None,
        "the code was not spent"
    );
}

fn a_token_buys_one_certificate_while_it_is_valid() {
    let (authority, official) = with_official();
    let hmac = Base64::encode_string(&[1u8; 32]);
    let token = token(&authority, official, NOW);
    let first = authority.certificate(&token, &hmac, NOW).unwrap();
    // The same request again gets the same certificate; other keys do not.
    assert_eq!(authority.certificate(&token, &hmac, NOW + 60), Ok(first));
    assert_eq!(
        code_of(authority.certificate(&token, &Base64::encode_string(&[2u8; 32]), NOW)),
        RefusalCode::TokenInvalid
    );
    for bad in ["", "not base64!", &Base64::encode_string(&[1u8; 31])] {
        assert_eq!(
            code_of(authority.certificate(&token, bad, NOW)),
            RefusalCode::HmacInvalid
        );
    }
    for bad in ["not base64!", &Base64::encode_string(&[0u8; 32])] {
        assert_eq!(
            code_of(authority.certificate(bad, &hmac, NOW)),
            RefusalCode::TokenInvalid
        );
    }
    let stale = self::token(&authority, official, NOW);
    let after = NOW + authority.config().token_validity_secs + 1;
    assert_eq!(
        code_of(authority.certificate(&stale, &hmac, after)),
        RefusalCode::TokenExpired
    );
}

fn an_upload_is_accepted_once_with_its_certificate() {
    let (authority, official) = with_official();
    let keys = three_keys();
    let certificate = certificate_for(&authority, official, &keys, NOW);
    let accepted = publish(&authority, wire(&keys), &certificate, NOW + 60).unwrap();
    assert_eq!(accepted.inserted, 3);
    // A retry with the same certificate gets the same answer and stores nothing more.
    let again = publish(&authority, wire(&keys), &certificate, NOW + 120).unwrap();
    assert_eq!(again.inserted, 3);
    assert_eq!(
        authority
            .store
            .publishable_keys(NOW + 120, 100)
            .unwrap()
            .len(),
        3
    );
}

fn an_upload_s_certificate_and_hmac_are_checked() {
    let (authority, official) = with_official();
    let keys = three_keys();
    let certificate = certificate_for(&authority, official, &keys, NOW);
    let after = NOW + authority.config().certificate_validity_secs + 1;
    assert_eq!(
        code_of(publish(&authority, wire(&keys), &certificate, after)),
        RefusalCode::CertificateExpired
    );
    let mut forged = Base64::decode_vec(&certificate).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    for bad in ["not base64!".to_owned(), Base64::encode_string(&forged)] {
        assert_eq!(
            code_of(publish(&authority, wire(&keys), &bad, NOW)),
            RefusalCode::CertificateInvalid
        );
    }
    // Keys other than those the certificate was issued for.
    assert_eq!(
        code_of(publish(&authority, wire(&keys[..2]), &certificate, NOW)),
        RefusalCode::HmacMismatch
    );
    assert_eq!(
        code_of(authority.publish(b"{\"keys\": [", NOW)),
        RefusalCode::BadRequest
    );
}

/// An edit of an upload's keys.
type Change<'a> = dyn Fn(&mut Vec<PublishKey>) + 'a;

fn every_key_check_refuses_with_its_code() {
    let (authority, official) = with_official();
    let keys = three_keys();
    // Keys are checked before the HMAC: one certificate serves every case.
    let certificate = certificate_for(&authority, official, &keys, NOW);
    let now_interval = u32::try_from(NOW / 600).unwrap();
    let edit = |change: &Change<'_>| {
        let mut keys = wire(&keys);
        change(&mut keys);
        code_of(publish(&authority, keys, &certificate, NOW))
    };
    let cases: [(&Change<'_>, RefusalCode); 10] = [
        (&|k| k.clear(), RefusalCode::NoKeys),
        (
            &|k| {
                let many = k[0].clone();
                k.resize(31, many);
            },
            RefusalCode::TooManyKeys,
        ),
        (
            &|k| k[0].key = Base64::encode_string(&[1u8; 15]),
            RefusalCode::InvalidKey,
        ),
        (
            &|k| k[0].key = "not base64!".into(),
            RefusalCode::InvalidKey,
        ),
        (&|k| k[0].rolling_period = 0, RefusalCode::InvalidKey),
        (&|k| k[0].transmission_risk = 9, RefusalCode::InvalidKey),
        (
            &|k| k[0].rolling_start_number = now_interval + 1,
            RefusalCode::FutureKey,
        ),
        (
            &|k| k[2].rolling_start_number = now_interval - 16 * 144 - 144,
            RefusalCode::KeyTooOld,
        ),
        (&|k| k[1].key = k[0].key.clone(), RefusalCode::DuplicateKey),
        (
            &|k| k[1].rolling_start_number = k[0].rolling_start_number - 10,
            RefusalCode::OverlappingKeys,
        ),
    ];
    for (i, (change, code)) in cases.into_iter().enumerate() {
        assert_eq!(edit(change), code, "case {i}");
    }
    // Untouched, the same keys pass.
    assert!(publish(&authority, wire(&keys), &certificate, NOW).is_ok());
}

fn sealed_requests_are_bounded_and_must_open() {
    let authority = authority();
    let limit = authority.config().max_body_bytes;
    assert_eq!(
        code_of(authority.open_request(VERIFY_AAD, &vec![0; limit + 1])),
        RefusalCode::BodyTooLarge
    );
    assert_eq!(
        code_of(authority.open_request(VERIFY_AAD, &[0; 100])),
        RefusalCode::Unsealable
    );
}

fn a_file_outside_the_index_is_not_found() {
    let authority = authority();
    assert_eq!(
        code_of(authority.file("1793530800-00001.zip", NOW)),
        RefusalCode::FileNotFound
    );
}

#[test]
fn only_a_chaff_marker_is_answered_as_chaff() {
    let authority = authority();
    for chaff in [
        &br#"{"chaff":true}"#[..],
        br#"{"chaff":true,"padding":"000000"}"#,
    ] {
        for aad in [VERIFY_AAD, CERTIFICATE_AAD, PUBLISH_AAD] {
            assert!(authority.answer_chaff(aad, chaff).is_some());
        }
    }
    for real in [
        &br#"{"chaff":false,"padding":""}"#[..],
        br#"{"code":"12345678","padding":"","chaff":true}"#,
        br#"{"token":"dA==","ekeyhmac":"","padding":""}"#,
        br#"{"keys":[],"hmacKey":"","certificate":"","padding":""}"#,
        b"not json",
        b"",
    ] {
        assert!(authority.answer_chaff(VERIFY_AAD, real).is_none());
    }
}
