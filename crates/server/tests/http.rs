//! The server over real HTTP on loopback: an official issues a code, a phone verifies it,
//! gets a certificate, uploads sealed keys, the server publishes a signed file and a phone
//! downloads and verifies it; and every refusal the issue names, with its stable code.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

mod common;

use common::*;

use std::sync::atomic::Ordering;

use base64ct::{Base64, Encoding};
use bluezone_protocol::exchange::{PUBLISH_AAD, seal_request};
use bluezone_protocol::keyfile::{KeyFileLimits, TrustedKeys, read_key_file};
use bluezone_protocol::messages::{ErrorBody, PublishPayload};
use bluezone_protocol::upload::UploadKey;
use rand::SeedableRng;

fn code_to_published_file() {
    let server = server();
    let secret = [0x5e; 32];
    let certificate = certificate_for(&server, &keys(), &secret);
    let upload = payload(&keys(), &secret, &certificate);
    let (status, body) = publish(&server, &upload);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("\"inserted\":3"));
    // A retry of the same upload is accepted again and stores nothing twice.
    let (status, _) = publish(&server, &upload);
    assert_eq!(status, 200);

    let names = server.authority.publish_files(NOW + 60).unwrap();
    assert_eq!(names.len(), 1);
    assert!(
        server
            .authority
            .publish_files(NOW + 120)
            .unwrap()
            .is_empty(),
        "published once"
    );
    let (status, index) = server.call("GET", "/v1/index.txt", None, b"");
    assert_eq!(status, 200);
    let index = String::from_utf8(index).unwrap();
    assert_eq!(index.lines().collect::<Vec<_>>(), vec![names[0].as_str()]);
    let (status, file) = server.call("GET", &format!("/v1/files/{}", names[0]), None, b"");
    assert_eq!(status, 200);
    let trust = TrustedKeys::single(server.authority.file_signer().trusted_key());
    let verified = read_key_file(&file, &trust, &KeyFileLimits::default()).unwrap();
    assert_eq!(verified.keys.len(), 50, "padded with random keys");
    for key in keys() {
        let published = verified
            .keys
            .iter()
            .find(|k| k.key_data == key.key_data)
            .unwrap();
        assert_eq!(published.rolling_start.get(), key.rolling_start);
        assert_eq!(published.report_type as u8, 1);
    }
    let (status, _) = server.call("GET", "/v1/files/nope.zip", None, b"");
    assert_eq!(status, 404);
    let log = server.authority.audit_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "issue_code" && e.official_id.is_some())
    );
    assert!(log.iter().any(|e| e.action == "publish"));
}

fn refused_codes_tokens_and_uploads_have_stable_codes() {
    let server = server();
    // Codes: wrong, reused, expired, revoked.
    assert_eq!(
        server.error("/v1/verify", br#"{"code":"1234"}"#),
        (400, "code_invalid".into())
    );
    assert_eq!(
        server.error("/v1/verify", br#"{"code":"00000000"}"#).1,
        "code_invalid"
    );
    let code = server.official_code();
    assert_eq!(server.verify(&code).0, 200);
    let (status, body) = server.verify(&code);
    assert_eq!(
        (
            status,
            serde_json::from_slice::<ErrorBody>(&body)
                .unwrap()
                .code
                .as_str()
        ),
        (400, "code_used")
    );
    let stale = server.official_code();
    server.clock.store(NOW + 3601, Ordering::SeqCst);
    let (status, body) = server.verify(&stale);
    assert_eq!(
        (
            status,
            serde_json::from_slice::<ErrorBody>(&body)
                .unwrap()
                .code
                .as_str()
        ),
        (400, "code_expired")
    );
    server.clock.store(NOW, Ordering::SeqCst);
    assert_eq!(server.error("/v1/verify", b"{not json").1, "bad_request");
    assert_eq!(
        server
            .error("/v1/verify", br#"{"code":"12345678","extra":1}"#)
            .1,
        "bad_request"
    );

    // Tokens and HMACs.
    assert_eq!(
        server
            .error("/v1/certificate", br#"{"token":"AAAA","ekeyhmac":"AAAA"}"#)
            .1,
        "hmac_invalid"
    );
    let hmac = Base64::encode_string(&[1u8; 32]);
    let body = format!(r#"{{"token":"AAAA","ekeyhmac":"{hmac}"}}"#);
    assert_eq!(
        server.error("/v1/certificate", body.as_bytes()).1,
        "token_invalid"
    );

    // Uploads.
    let secret = [0x5e; 32];
    let certificate = certificate_for(&server, &keys(), &secret);
    let publish = |p: &PublishPayload| server.error("/v1/publish", &serde_json::to_vec(p).unwrap());
    let mut other_keys = keys();
    other_keys[0].key_data = [9; 16];
    assert_eq!(
        publish(&payload(&other_keys, &secret, &certificate)).1,
        "hmac_mismatch"
    );
    assert_eq!(
        publish(&payload(&keys(), &[0x5f; 32], &certificate)).1,
        "hmac_mismatch"
    );
    let mut forged = Base64::decode_vec(&certificate).unwrap();
    forged[10] ^= 1;
    assert_eq!(
        publish(&payload(&keys(), &secret, &Base64::encode_string(&forged))).1,
        "certificate_invalid"
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let (mut sealed, _) = seal_request(
        &server.authority.upload_public_key(),
        PUBLISH_AAD,
        &serde_json::to_vec(&payload(&keys(), &secret, &certificate)).unwrap(),
        &mut rng,
    )
    .unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    assert_eq!(
        server.plain_error("/v1/publish", &sealed),
        (400, "unsealable".into())
    );
    // A verify request sealed for the publish endpoint does not open there, nor plain JSON.
    assert_eq!(server.plain_error("/v1/verify", &sealed).1, "unsealable");
    assert_eq!(
        server
            .plain_error("/v1/verify", br#"{"code":"12345678"}"#)
            .1,
        "unsealable"
    );
    assert_eq!(server.plain_error("/v1/publish", &vec![0u8; 70_000]).0, 413);
    let mut future = keys();
    future[0].rolling_start += 10 * 144;
    let cert = certificate_for(&server, &future, &secret);
    assert_eq!(publish(&payload(&future, &secret, &cert)).1, "future_key");
    let many: Vec<UploadKey> = (0..31u8)
        .map(|i| UploadKey {
            key_data: [i; 16],
            ..keys()[0]
        })
        .collect();
    let cert = certificate_for(&server, &many, &secret);
    assert_eq!(publish(&payload(&many, &secret, &cert)).1, "too_many_keys");
    server.clock.store(NOW + 901, Ordering::SeqCst);
    assert_eq!(
        publish(&payload(&keys(), &secret, &certificate)).1,
        "certificate_expired"
    );
    // Still nothing stored: nothing to publish.
    assert!(
        server
            .authority
            .publish_files(NOW + 1000)
            .unwrap()
            .is_empty()
    );
}

fn brute_force_is_cut_off() {
    let server = server();
    let mut last = 0;
    for i in 0..12 {
        let (status, _) = server.verify(&format!("{:08}", 10_000_000 + i));
        last = status;
    }
    assert_eq!(last, 429);
    let (status, body) = server.verify(&server.official_code());
    assert_eq!(status, 429, "even a right code, until the hour has passed");
    assert_eq!(
        serde_json::from_slice::<ErrorBody>(&body).unwrap().code,
        "too_many_attempts"
    );
    server.clock.store(NOW + 3601, Ordering::SeqCst);
    let fresh = server.official_code();
    assert_eq!(server.verify(&fresh).0, 200);
}

fn officials_need_credentials_and_can_revoke() {
    let server = server();
    let (status, _) = server.call("POST", "/api/official/codes", None, b"{}");
    assert_eq!(status, 401);
    let wrong = format!(
        "Basic {}",
        Base64::encode_string(b"nurse.lan:wrong password!")
    );
    assert_eq!(
        server
            .call("GET", "/api/official/codes", Some(&wrong), b"")
            .0,
        401
    );
    let auth = format!(
        "Basic {}",
        Base64::encode_string(b"nurse.lan:correct horse battery")
    );
    let code = server.official_code();
    let (status, list) = server.call("GET", "/api/official/codes", Some(&auth), b"");
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_slice(&list).unwrap();
    assert_eq!(list[0]["status"], "pending");
    let id = list[0]["id"].as_i64().unwrap();
    let (status, _) = server.call(
        "POST",
        &format!("/api/official/codes/{id}/revoke"),
        Some(&auth),
        b"",
    );
    assert_eq!(status, 204);
    assert_eq!(server.verify(&code).0, 400, "a revoked code does not work");
    let (_, list) = server.call("GET", "/api/official/codes", Some(&auth), b"");
    assert!(String::from_utf8_lossy(&list).contains("revoked"));
    // The current risk configuration, read-only, for officials.
    let risk = "/api/official/risk-config";
    assert_eq!(server.call("GET", risk, None, b"").0, 401);
    assert_eq!(
        server.call("GET", risk, Some(&auth), b""),
        (200, b"null".to_vec())
    );
    let document = bluezone_protocol::risk_config::RiskConfigDocument::new(
        0,
        0,
        &bluezone_protocol::risk::RiskConfig::default(),
        "weights",
    );
    server
        .authority
        .publish_risk_config(document, None, NOW)
        .unwrap();
    let (status, current) = server.call("GET", risk, Some(&auth), b"");
    assert_eq!(status, 200);
    let current: serde_json::Value = serde_json::from_slice(&current).unwrap();
    assert_eq!(
        (current["sequence"].as_u64(), current["note"].as_str()),
        (Some(1), Some("weights"))
    );
    let (status, page) = server.call("GET", "/official", None, b"");
    assert_eq!(status, 200);
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains(r#"<html lang="vi">"#) && page.contains("/official.js"));
    assert_eq!(
        server
            .call(
                "POST",
                "/api/official/codes",
                Some(&auth),
                br#"{"reportType":3}"#
            )
            .0,
        400
    );
}

#[test]
fn chaff_is_answered_like_a_success_after_the_reply_floor_and_kept_nowhere() {
    let floor = std::time::Duration::from_millis(300);
    let server = start_with(
        bluezone_server::AuthorityConfig::default(),
        std::sync::Arc::new(bluezone_server::files::MemoryFileStore::default()),
        bluezone_server::serve::ServeLimits::default(),
        |state| bluezone_server::AppState {
            sealed_reply_floor: floor,
            ..state
        },
    );
    let audit = server.authority.audit_log().unwrap().len();
    for path in ["/v1/verify", "/v1/certificate", "/v1/publish"] {
        let started = std::time::Instant::now();
        // Sealed, padded to any size: only the server, once it opened it, knows it is chaff.
        let (status, body) = server.exchange(path, br#"{"chaff":true,"padding":"0000"}"#);
        assert!(
            started.elapsed() >= floor,
            "{path} answered before the floor"
        );
        assert_eq!((status, body.as_slice()), (200, &br#"{"chaff":true}"#[..]));
    }
    assert_eq!(server.authority.audit_log().unwrap().len(), audit);
    assert!(
        server
            .authority
            .publish_files(NOW + 30 * 86_400)
            .unwrap()
            .is_empty()
    );
}

/// Codes issued and used, uploads accepted and files published, per day for 14 days,
/// counted from the database: only officials see them, and they hold no code.
fn officials_see_the_authoritys_activity() {
    let server = server();
    let auth = format!(
        "Basic {}",
        Base64::encode_string(b"nurse.lan:correct horse battery")
    );
    assert_eq!(
        server.call("GET", "/api/official/activity", None, b"").0,
        401
    );
    // Twenty days ago (outside the window) and two days ago: issued, never used.
    server.clock.store(NOW - 20 * 86_400, Ordering::SeqCst);
    server.official_code();
    server.clock.store(NOW - 2 * 86_400, Ordering::SeqCst);
    let old = server.official_code();
    server.clock.store(NOW, Ordering::SeqCst);
    // Today: one code issued and used, one upload accepted, one file published.
    let secret = [0x5a; 32];
    let certificate = certificate_for(&server, &keys(), &secret);
    assert_eq!(
        publish(&server, &payload(&keys(), &secret, &certificate)).0,
        200
    );
    assert_eq!(server.authority.publish_files(NOW + 60).unwrap().len(), 1);

    let (status, body) = server.call("GET", "/api/official/activity", Some(&auth), b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(
        !String::from_utf8_lossy(&body).contains(&old),
        "no code shown"
    );
    let days: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 14);
    let counts = |d: &serde_json::Value| {
        (
            d["day"].as_str().unwrap().to_owned(),
            [
                d["codesIssued"].as_u64().unwrap(),
                d["codesUsed"].as_u64().unwrap(),
                d["uploadsAccepted"].as_u64().unwrap(),
                d["filesPublished"].as_u64().unwrap(),
            ],
        )
    };
    assert_eq!(counts(&days[0]), ("2026-11-01".to_owned(), [1, 1, 1, 1]));
    assert_eq!(counts(&days[1]), ("2026-10-31".to_owned(), [0, 0, 0, 0]));
    assert_eq!(counts(&days[2]), ("2026-10-30".to_owned(), [1, 0, 0, 0]));
    assert_eq!(counts(&days[13]).0, "2026-10-19");
    let total: u64 = days.iter().map(|d| counts(d).1[0]).sum();
    assert_eq!(
        total, 2,
        "the code of twenty days ago is outside the window"
    );
}

on_both_backends!(
    officials_see_the_authoritys_activity,
    code_to_published_file,
    refused_codes_tokens_and_uploads_have_stable_codes,
    brute_force_is_cut_off,
    officials_need_credentials_and_can_revoke,
);
