//! Regression tests for the defects a security and reliability audit found in the server
//! (issue 12): each failed on the code before the fix. Process-level cases (kill -9 and
//! restart, SIGTERM, memory under concurrent password checks) are in
//! `crates/cli/tests/server_process.rs`, which runs the real binary. The cases that go
//! through the store run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use bluezone_protocol::keyfile::{KeyFileLimits, TrustedKeys, read_key_file};
use bluezone_protocol::messages::ErrorBody;
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::upload::UploadKey;
use bluezone_server::client::ClientAddressPolicy;
use bluezone_server::files::{FileStore, FolderFileStore, MemoryFileStore};
use bluezone_server::serve::ServeLimits;
use bluezone_server::store::{CaseClaims, ServerStore, StoredKey};
use bluezone_server::{AppState, Authority, AuthorityConfig, AuthorityKeys};
use common::*;

/// An authority over a database and a folder in `dir`, the store kept for direct inserts.
fn authority_in(
    dir: &std::path::Path,
    config: AuthorityConfig,
) -> (Arc<Authority>, Arc<dyn ServerStore>) {
    let store = reopened_store(dir);
    let files = Arc::new(FolderFileStore::new(dir.join("files")).unwrap());
    let authority = Arc::new(Authority::new(
        config,
        AuthorityKeys::derive(&[4; 32], "452", "v1").unwrap(),
        store.clone(),
        files,
        [5; 32],
    ));
    (authority, store)
}

fn small_files() -> AuthorityConfig {
    AuthorityConfig {
        min_keys_per_file: 5,
        ..AuthorityConfig::default()
    }
}

/// Stores `count` keys, publishable from `at`, as one upload; returns them.
fn accept_keys(store: &Arc<dyn ServerStore>, seed: u32, count: u32, at: i64) -> Vec<[u8; 16]> {
    let start = u32::try_from(at / 600).unwrap() / 144 * 144 - 144;
    let keys: Vec<StoredKey> = (0..count)
        .map(|i| {
            let mut key_data = [0u8; 16];
            key_data[..4].copy_from_slice(&seed.to_le_bytes());
            key_data[4..8].copy_from_slice(&i.to_le_bytes());
            StoredKey {
                key_data,
                rolling_start: start - i * 144,
                rolling_period: 144,
                transmission_risk: 0,
                publish_after: at,
            }
        })
        .collect();
    let mut id = [0u8; 32];
    id[..4].copy_from_slice(&seed.to_le_bytes());
    let claims = CaseClaims {
        report_type: 1,
        symptom_onset_interval: None,
    };
    store.insert_upload(&id, claims, &keys, at).unwrap();
    keys.iter().map(|k| k.key_data).collect()
}

/// Every key in the indexed files, with how many times it appears.
fn published_keys(authority: &Authority, now: i64) -> Vec<[u8; 16]> {
    let trust = TrustedKeys::single(authority.file_signer().trusted_key());
    let mut keys = Vec::new();
    for name in authority.index(now).unwrap().lines() {
        let bytes = authority.file(name, now).unwrap();
        let file = read_key_file(&bytes, &trust, &KeyFileLimits::default()).unwrap();
        keys.extend(file.keys.iter().map(|k| k.key_data));
    }
    keys
}

fn assert_each_published_once(authority: &Authority, now: i64, accepted: &[[u8; 16]]) {
    let published = published_keys(authority, now);
    for key in accepted {
        let n = published.iter().filter(|k| *k == key).count();
        assert_eq!(n, 1, "key {key:02x?} is in {n} files");
    }
}

fn two_publishes_in_one_second_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (first, store) = authority_in(dir.path(), small_files());
    let mut accepted = accept_keys(&store, 1, 3, NOW);
    assert_eq!(first.publish_files(NOW).unwrap().len(), 1);
    accepted.extend(accept_keys(&store, 2, 3, NOW));
    // Published again within the same second: a new name, the first file untouched.
    let second = first.publish_files(NOW).unwrap();
    assert_eq!(second.len(), 1);
    drop((first, store));
    // A restart within that second publishes at start, again.
    let (restarted, store) = authority_in(dir.path(), small_files());
    accepted.extend(accept_keys(&store, 3, 3, NOW));
    assert_eq!(restarted.publish_files(NOW).unwrap().len(), 1);
    let check = restarted.check_published_files(NOW, false).unwrap();
    assert_eq!(check.files_intact, 3);
    assert!(check.files_withdrawn.is_empty());
    assert_eq!(restarted.index(NOW).unwrap().lines().count(), 3);
    assert_each_published_once(&restarted, NOW, &accepted);
}

fn the_start_up_check_republishes_keys_of_missing_or_altered_files() {
    let dir = tempfile::tempdir().unwrap();
    let (authority, store) = authority_in(dir.path(), small_files());
    let a = accept_keys(&store, 1, 2, NOW);
    let file_a = authority.publish_files(NOW).unwrap().remove(0);
    let b = accept_keys(&store, 2, 2, NOW);
    let file_b = authority.publish_files(NOW + 1).unwrap().remove(0);
    let c = accept_keys(&store, 3, 2, NOW);
    let file_c = authority.publish_files(NOW + 2).unwrap().remove(0);
    let folder = dir.path().join("files");
    // A lost file, a file overwritten with another (validly signed) file, and an orphan
    // left by a publish that died before its commit.
    std::fs::remove_file(folder.join(&file_a)).unwrap();
    std::fs::copy(folder.join(&file_c), folder.join(&file_b)).unwrap();
    // It is 11 minutes old; a second one, just written, may be another instance's publish
    // in progress where instances share the database (PostgreSQL): kept there.
    std::fs::write(folder.join("1793530000-00001.zip"), b"never recorded").unwrap();
    std::fs::File::options()
        .write(true)
        .open(folder.join("1793530000-00001.zip"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(660))
        .unwrap();
    std::fs::write(folder.join("1793530001-00001.zip"), b"being recorded").unwrap();
    drop((authority, store));

    let (restarted, store) = authority_in(dir.path(), small_files());
    let check = restarted.check_published_files(NOW + 10, false).unwrap();
    assert_eq!(check.files_intact, 1);
    assert_eq!(check.files_withdrawn, [file_a.clone(), file_b.clone()]);
    assert_eq!(check.keys_republished, 4);
    let fresh_orphan_kept = store.shared_by_instances();
    if fresh_orphan_kept {
        assert_eq!(check.orphans_removed, ["1793530000-00001.zip"]);
    } else {
        assert_eq!(
            check.orphans_removed,
            ["1793530000-00001.zip", "1793530001-00001.zip"]
        );
    }
    assert!(!folder.join("1793530000-00001.zip").exists());
    assert_eq!(
        folder.join("1793530001-00001.zip").exists(),
        fresh_orphan_kept
    );
    let index = restarted.index(NOW + 10).unwrap();
    assert!(!index.contains(&file_a) && !index.contains(&file_b));
    assert_eq!(restarted.publish_files(NOW + 10).unwrap().len(), 1);
    let accepted: Vec<[u8; 16]> = a.into_iter().chain(b).chain(c).collect();
    assert_each_published_once(&restarted, NOW + 10, &accepted);
    // Checking again finds everything intact.
    let again = restarted.check_published_files(NOW + 11, false).unwrap();
    assert_eq!(again.files_intact, 2);
    assert!(again.files_withdrawn.is_empty());
}

fn the_index_lists_only_the_retention_window_of_2500_hourly_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = AuthorityConfig {
        min_keys_per_file: 1,
        ..AuthorityConfig::default()
    };
    let (authority, store) = authority_in(dir.path(), config);
    let first = NOW - 2_499 * 3600;
    let mut names = Vec::new();
    for hour in 0..2_500 {
        let at = first + hour * 3600;
        accept_keys(&store, u32::try_from(hour).unwrap(), 1, at);
        names.extend(authority.publish_files(at).unwrap());
    }
    assert_eq!(names.len(), 2_500);
    let index: Vec<String> = authority
        .index(NOW)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    // 14 days of hourly files (the window includes both ends' hours), oldest first.
    assert_eq!(index.len(), 14 * 24 + 1);
    assert_eq!(index.last(), names.last());
    assert_eq!(index[..], names[names.len() - index.len()..]);
    // An old file is neither listed nor served.
    assert_eq!(
        authority.file(&names[0], NOW).unwrap_err().code,
        RefusalCode::FileNotFound
    );
    // The purge deletes what left the window, records and bytes.
    let purged = authority.purge_expired(NOW).unwrap();
    assert_eq!(purged.files.len(), 2_500 - index.len());
    assert_eq!(purged.keys, u64::try_from(2_500 - index.len()).unwrap());
    assert!(!dir.path().join("files").join(&names[0]).exists());
    assert!(dir.path().join("files").join(&index[0]).exists());
    assert_eq!(authority.index(NOW).unwrap().lines().count(), index.len());
}

fn only_recorded_files_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let folder = Arc::new(FolderFileStore::new(dir.path().to_owned()).unwrap());
    assert!(
        folder
            .put_new("bluezone-server.db", b"the database")
            .unwrap()
    );
    assert!(folder.put_new("secret", b"the master secret").unwrap());
    let server = start_with(small_files(), folder, ServeLimits::default(), |state| state);
    for name in ["bluezone-server.db", "secret", "..%2Fsecret", "nope.zip"] {
        let (status, body) = server.call("GET", &format!("/v1/files/{name}"), None, b"");
        assert_eq!(status, 404, "{name}");
        let error: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(error.code, "file_not_found");
    }
}

fn high_s_certificates_are_refused_and_keys_are_stored_once() {
    use p256::ecdsa::Signature;
    let server = server();
    let secret = [0x5e; 32];
    let certificate = certificate_for(&server, &keys(), &secret);
    let mut bytes = Base64::decode_vec(&certificate).unwrap();
    let split = bytes.len() - 64;
    let signature = Signature::from_slice(&bytes[split..]).unwrap();
    let (r, s) = signature.split_scalars();
    let flipped = Signature::from_scalars(r.to_bytes(), (-s).to_bytes()).unwrap();
    bytes[split..].copy_from_slice(&flipped.to_bytes());
    let malleated = Base64::encode_string(&bytes);
    let (status, body) = publish(&server, &payload(&keys(), &secret, &malleated));
    assert_eq!(status, 400);
    let error: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(error.code, "certificate_invalid");
    assert_eq!(
        publish(&server, &payload(&keys(), &secret, &certificate)).0,
        200
    );
    // The same keys uploaded again with a second code are stored once.
    let again = certificate_for(&server, &keys(), &[0x61; 32]);
    assert_eq!(
        publish(&server, &payload(&keys(), &[0x61; 32], &again)).0,
        200
    );
    let names = server.authority.publish_files(NOW + 60).unwrap();
    assert_eq!(names.len(), 1);
    let accepted: Vec<[u8; 16]> = keys().iter().map(|k: &UploadKey| k.key_data).collect();
    assert_each_published_once(&server.authority, NOW + 60, &accepted);
}

fn concurrent_guesses_never_pass_the_limit() {
    let server = Arc::new(server());
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (server, barrier) = (server.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..50)
                    .filter(|i| server.verify(&format!("{:08}", 10_000_000 + t * 100 + i)).0 != 429)
                    .count()
            })
        })
        .collect();
    let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(admitted, 10, "400 concurrent guesses, a limit of 10");
}

fn verify_from(server: &Server, forwarded_for: &str, code: &str) -> u16 {
    use bluezone_protocol::exchange::{VERIFY_AAD, seal_request};
    use rand::SeedableRng;
    let plaintext = format!(r#"{{"code":"{code}"}}"#);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (body, key) = seal_request(
        &server.authority.upload_public_key(),
        VERIFY_AAD,
        plaintext.as_bytes(),
        &mut rng,
    )
    .unwrap();
    let mut response = server
        .agent
        .post(format!("{}/v1/verify", server.base))
        .header("X-Forwarded-For", forwarded_for)
        .send(&body[..])
        .unwrap();
    let reply = response.body_mut().read_to_vec().unwrap();
    key.open_reply(&reply).unwrap().0
}

#[test]
fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let trusting = |state: AppState| AppState {
        clients: Arc::new(ClientAddressPolicy {
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            header: None,
        }),
        ..state
    };
    let server = start_with(
        small_files(),
        Arc::new(MemoryFileStore::default()),
        ServeLimits::default(),
        trusting,
    );
    for i in 0..10 {
        assert_eq!(
            verify_from(&server, "203.0.113.1", &format!("{:08}", 20_000_000 + i)),
            400
        );
    }
    assert_eq!(verify_from(&server, "203.0.113.1", "20000099"), 429);
    assert_eq!(
        verify_from(&server, "203.0.113.2", "20000100"),
        400,
        "another phone is not blocked"
    );
    // The same /64 is one client.
    for i in 0..10 {
        verify_from(
            &server,
            &format!("2001:db8:0:1::{i}"),
            &format!("{:08}", 30_000_000 + i),
        );
    }
    assert_eq!(
        verify_from(&server, "2001:db8:0:1:ffff::1", "30000099"),
        429
    );

    // Without trust, the header is the client's own claim and is ignored: one bucket.
    let plain = server_with_official(start(small_files()));
    for i in 0..10 {
        verify_from(
            &plain,
            &format!("198.51.100.{i}"),
            &format!("{:08}", 40_000_000 + i),
        );
    }
    assert_eq!(verify_from(&plain, "198.51.100.77", "40000099"), 429);
}

fn server_with_official(server: Server) -> Server {
    server
        .authority
        .create_official("nurse.lan", "correct horse battery", NOW)
        .unwrap();
    server
}

#[test]
fn unknown_names_cost_as_much_as_wrong_passwords() {
    let server = server();
    let authority = &server.authority;
    // The Argon2 work of one refused login, counted (not timed: a busy machine cannot move it).
    let work = |name: &str, client: &str| {
        let before = authority.password_work();
        let result = authority.authenticate(client, name, "wrong password!", NOW);
        assert_eq!(result.unwrap_err().code, RefusalCode::Unauthorized);
        authority.password_work() - before
    };
    // The decoy hash an unknown name is checked against is made once, at the first one.
    work("warm.up", "w");
    let known = work("nurse.lan", "k");
    assert_eq!(known, 19_456 * 2, "one Argon2id check at the default cost");
    for (name, client) in [
        ("nobody", "u1"),
        ("x".repeat(65).as_str(), "u2"),
        ("", "u3"),
    ] {
        assert_eq!(
            work(name, client),
            known,
            "{name:?} costs less than a real name"
        );
    }
}

#[test]
fn logins_are_limited_per_client_and_per_name() {
    let server = server();
    let authority = &server.authority;
    let right = "correct horse battery";
    for _ in 0..10 {
        assert_eq!(
            authority
                .authenticate("attacker", "nurse.lan", "guess guess guess", NOW)
                .unwrap_err()
                .code,
            RefusalCode::Unauthorized
        );
    }
    // Blocked before any hashing, even with the right password.
    assert_eq!(
        authority
            .authenticate("attacker", "nurse.lan", right, NOW)
            .unwrap_err()
            .code,
        RefusalCode::TooManyAttempts
    );
    assert!(
        authority
            .authenticate("clinic", "nurse.lan", right, NOW)
            .is_ok()
    );
    // Spread over many clients, guesses at one name stop at the name's limit.
    for i in 0..10 {
        let _ =
            authority.authenticate(&format!("botnet{i}"), "nurse.lan", "guess guess guess", NOW);
    }
    assert_eq!(
        authority
            .authenticate("botnet99", "nurse.lan", "guess guess guess", NOW)
            .unwrap_err()
            .code,
        RefusalCode::TooManyAttempts
    );
    // A name that does not exist is limited the same way (nothing tells them apart).
    for i in 0..20 {
        let _ = authority.authenticate(&format!("probe{i}"), "ghost", "guess guess guess", NOW);
    }
    assert_eq!(
        authority
            .authenticate("probe99", "ghost", "x", NOW)
            .unwrap_err()
            .code,
        RefusalCode::TooManyAttempts
    );
    // The windows pass.
    assert!(
        authority
            .authenticate("attacker", "nurse.lan", right, NOW + 3600)
            .is_ok()
    );
}

#[test]
fn password_checks_wait_for_a_bounded_number_of_permits() {
    let config = AuthorityConfig {
        max_concurrent_password_checks: 1,
        failed_logins_per_client: 1000,
        failed_logins_per_name: 1000,
        ..small_files()
    };
    let short_wait = |state: AppState| AppState {
        password_wait: Duration::from_millis(50),
        ..state
    };
    let server = Arc::new(server_with_official(start_with(
        config,
        Arc::new(MemoryFileStore::default()),
        ServeLimits::default(),
        short_wait,
    )));
    let auth = format!(
        "Basic {}",
        Base64::encode_string(b"nurse.lan:wrong password!!")
    );
    let threads: Vec<_> = (0..24)
        .map(|_| {
            let (server, auth) = (server.clone(), auth.clone());
            std::thread::spawn(move || {
                let (status, body) = server.call("GET", "/api/official/codes", Some(&auth), b"");
                let error: ErrorBody = serde_json::from_slice(&body).unwrap();
                (status, error.code)
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let busy = answers.iter().filter(|(s, _)| *s == 503).count();
    assert!(
        busy > 0,
        "24 checks at once, one permit, 50 ms of waiting: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(s, c)| (*s, c.as_str()) == (401, "unauthorized")
                || (*s, c.as_str()) == (503, "server_busy"))
    );
}

fn limited_server() -> Server {
    let limits = ServeLimits {
        max_connections: 16,
        header_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(1),
        max_connection_age: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(1),
    };
    server_with_official(start_with(
        small_files(),
        Arc::new(MemoryFileStore::default()),
        limits,
        |state| state,
    ))
}

/// Reads until the server closes the connection; how long that took and what it sent.
fn until_closed(mut stream: TcpStream) -> (Duration, String) {
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

#[test]
fn slow_and_idle_clients_are_cut_off_in_bounded_time() {
    let server = limited_server();
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Half a request's headers, then nothing.
    let mut half = TcpStream::connect(&addr).unwrap();
    half.write_all(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (took, _) = until_closed(half);
    eprintln!("half-sent headers closed after {took:?} (header deadline 1 s)");
    assert!(took < Duration::from_secs(5), "headers: {took:?}");
    // Headers in full, the body a trickle.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(
        b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789",
    )
    .unwrap();
    let (took, answer) = until_closed(slow);
    eprintln!("trickled body answered 408 and closed after {took:?} (request deadline 2 s)");
    assert!(took < Duration::from_secs(6), "body: {took:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // Nothing at all.
    let (took, _) = until_closed(TcpStream::connect(&addr).unwrap());
    eprintln!("silent connection closed after {took:?} (idle deadline 1 s)");
    assert!(took < Duration::from_secs(5), "idle: {took:?}");
}

#[test]
fn idle_connections_cannot_starve_real_requests() {
    let server = limited_server();
    let addr = server.base.trim_start_matches("http://").to_owned();
    // Far more idle connections than the server holds at once.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let started = Instant::now();
    let (status, _) = server.call("GET", "/v1/index.txt", None, b"");
    assert_eq!(status, 200);
    eprintln!(
        "a real request behind 200 idle connections (cap 16, idle deadline 1 s) answered after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // And every idle one is closed by the server, not held.
    let still_open = idle
        .into_iter()
        .take(20)
        .map(until_closed)
        .filter(|(took, _)| *took >= Duration::from_secs(15))
        .count();
    assert_eq!(still_open, 0);
}

#[test]
fn every_refusal_is_json_and_the_officials_page_is_locked_down() {
    let server = server();
    let json_error = |method: &str, path: &str, auth: Option<&str>, body: &[u8]| {
        let (status, bytes) = server.call(method, path, auth, body);
        let error: ErrorBody = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("{method} {path}: {}", String::from_utf8_lossy(&bytes)));
        (status, error.code)
    };
    assert_eq!(
        json_error("GET", "/nope", None, b""),
        (404, "not_found".into())
    );
    assert_eq!(
        json_error("GET", "/v1/verify", None, b""),
        (405, "method_not_allowed".into())
    );
    let auth = format!(
        "Basic {}",
        Base64::encode_string(b"nurse.lan:correct horse battery")
    );
    assert_eq!(
        json_error("POST", "/api/official/codes/abc/revoke", Some(&auth), b"").0,
        400
    );
    // Dates must exist.
    assert_eq!(
        json_error(
            "POST",
            "/api/official/codes",
            Some(&auth),
            br#"{"symptomOnsetDate":"2026-02-31"}"#
        ),
        (400, "invalid_date".into())
    );
    assert_eq!(
        json_error(
            "POST",
            "/api/official/codes",
            Some(&auth),
            br#"{"testDate":"2026-04-31"}"#
        ),
        (400, "invalid_date".into())
    );
    // A cross-site form cannot post to the officials' API.
    let mut response = server
        .agent
        .post(format!("{}/api/official/codes", server.base))
        .header("Authorization", &auth)
        .header("Content-Type", "text/plain")
        .send(&br#"{"reportType":1}"#[..])
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let error: ErrorBody =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    assert_eq!(error.code, "unsupported_media_type");
    // The page: no framing, no sniffing, only its own script.
    let response = server
        .agent
        .get(format!("{}/official", server.base))
        .call()
        .unwrap();
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, script) = server.call("GET", "/official.js", None, b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&script).contains("/api/official/codes"));
}

#[test]
fn a_proxy_sees_the_same_answer_for_every_outcome() {
    // Each exchange below asserts an outer 200 of the one sealed size (see
    // `Server::exchange`); here the outcomes inside differ.
    let server = server();
    let code = server.official_code();
    let outcomes: Vec<u16> = [
        server.verify(&code).0,
        server.verify(&code).0,
        server.verify("00000000").0,
        server.verify("12").0,
    ]
    .to_vec();
    assert_eq!(outcomes, [200, 400, 400, 400]);
    server.clock.store(NOW, Ordering::SeqCst);
    let secret = [0x5e; 32];
    let certificate = certificate_for(&server, &keys(), &secret);
    assert_eq!(
        publish(&server, &payload(&keys(), &secret, &certificate)).0,
        200
    );
    assert_eq!(
        publish(&server, &payload(&keys(), &[1; 32], &certificate)).0,
        400
    );
}

fn retention_purges_keys_files_codes_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let (authority, store) = authority_in(dir.path(), small_files());
    authority
        .create_official("ops", "twelve chars!", NOW)
        .unwrap();
    let official = authority
        .authenticate("c", "ops", "twelve chars!", NOW)
        .unwrap();
    let issued = authority.issue_code(official, 1, None, None, NOW).unwrap();
    authority.verify("phone", &issued.code, NOW).unwrap();
    authority.issue_code(official, 1, None, None, NOW).unwrap();
    accept_keys(&store, 1, 2, NOW);
    let name = authority.publish_files(NOW).unwrap().remove(0);
    let later = NOW + 15 * 86_400;
    let report = authority.purge_expired(later).unwrap();
    assert_eq!(report.files, std::slice::from_ref(&name));
    assert_eq!(report.keys, 2);
    assert_eq!(report.uploads, 1);
    assert_eq!(report.codes, 2);
    assert_eq!(report.tokens, 1);
    assert!(!dir.path().join("files").join(&name).exists());
    assert!(authority.codes(official).unwrap().is_empty());
    let memory = MemoryFileStore::default();
    assert!(memory.list().unwrap().is_empty());
}

fn a_certificate_request_repeated_after_a_lost_answer_gets_the_same_certificate() {
    use bluezone_protocol::messages::{CertificateRequest, CertificateResponse, VerifyResponse};
    use bluezone_protocol::upload::tek_hmac;
    let server = server();
    let (status, body) = server.verify(&server.official_code());
    assert_eq!(status, 200);
    let token = serde_json::from_slice::<VerifyResponse>(&body)
        .unwrap()
        .token
        .clone();
    let request = |secret: &[u8]| CertificateRequest {
        token: token.clone(),
        ekeyhmac: Base64::encode_string(&tek_hmac(secret, &keys())),
        padding: String::new(),
    };
    let certify = |secret: &[u8]| {
        let (status, body) = server.json("/v1/certificate", &request(secret));
        if status == 200 {
            Ok(serde_json::from_slice::<CertificateResponse>(&body)
                .unwrap()
                .certificate)
        } else {
            Err(serde_json::from_slice::<ErrorBody>(&body).unwrap().code)
        }
    };
    let first = certify(&[1; 32]).unwrap();
    // The answer was lost; the phone asks again with the same token and keys.
    server.clock.store(NOW + 60, Ordering::SeqCst);
    assert_eq!(certify(&[1; 32]).unwrap(), first, "the same certificate");
    // Other keys under the same token are refused, and so is a late repeat.
    assert_eq!(certify(&[2; 32]).unwrap_err(), "token_invalid");
    // After the certificate expired (the upload never got through), a new one for the same
    // keys while the token lasts; never after it.
    server.clock.store(NOW + 901, Ordering::SeqCst);
    let renewed = certify(&[1; 32]).unwrap();
    assert_ne!(renewed, first);
    server.clock.store(NOW + 86_401, Ordering::SeqCst);
    assert_eq!(certify(&[1; 32]).unwrap_err(), "token_invalid");
    // Uploading with it twice stores the keys once.
    server.clock.store(NOW + 60, Ordering::SeqCst);
    assert_eq!(publish(&server, &payload(&keys(), &[1; 32], &first)).0, 200);
    assert_eq!(publish(&server, &payload(&keys(), &[1; 32], &first)).0, 200);
}

fn a_new_signing_key_name_or_a_wrong_folder_withdraws_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (authority, store) = authority_in(dir.path(), small_files());
    accept_keys(&store, 1, 2, NOW);
    authority.publish_files(NOW).unwrap();
    accept_keys(&store, 2, 2, NOW);
    authority.publish_files(NOW + 1).unwrap();
    drop((authority, store));
    // Restarted with another key version: the files are what was written, still intact.
    let store = reopened_store(dir.path());
    let renamed = Authority::new(
        small_files(),
        AuthorityKeys::derive(&[4; 32], "452", "v2").unwrap(),
        store.clone(),
        Arc::new(FolderFileStore::new(dir.path().join("files")).unwrap()),
        [5; 32],
    );
    let check = renamed.check_published_files(NOW + 10, false).unwrap();
    assert_eq!((check.files_intact, check.files_withdrawn.len()), (2, 0));
    // Pointed at an empty folder: every file "missing" is refused, nothing withdrawn...
    let elsewhere = Authority::new(
        small_files(),
        AuthorityKeys::derive(&[4; 32], "452", "v1").unwrap(),
        store.clone(),
        Arc::new(FolderFileStore::new(dir.path().join("empty")).unwrap()),
        [5; 32],
    );
    let refused = elsewhere
        .check_published_files(NOW + 10, false)
        .unwrap_err();
    assert!(
        refused.message.contains("--republish-lost-files"),
        "{}",
        refused.message
    );
    assert_eq!(elsewhere.index(NOW + 10).unwrap().lines().count(), 2);
    // ...unless the operator confirms the files are lost.
    let confirmed = elsewhere.check_published_files(NOW + 10, true).unwrap();
    assert_eq!(confirmed.keys_republished, 4);
}

#[test]
fn refusals_quoting_long_input_still_fit_a_sealed_reply() {
    let server = server();
    let long = format!(r#"{{"code":"12345678","{}":1}}"#, "x".repeat(5000));
    let (status, code) = server.error("/v1/verify", long.as_bytes());
    assert_eq!((status, code.as_str()), (400, "bad_request"));
}

// The tests that go through the store, on both backends; the others test the HTTP layer.
on_both_backends!(
    two_publishes_in_one_second_lose_nothing,
    the_start_up_check_republishes_keys_of_missing_or_altered_files,
    the_index_lists_only_the_retention_window_of_2500_hourly_files,
    only_recorded_files_are_served,
    high_s_certificates_are_refused_and_keys_are_stored_once,
    concurrent_guesses_never_pass_the_limit,
    retention_purges_keys_files_codes_and_tokens,
    a_certificate_request_repeated_after_a_lost_answer_gets_the_same_certificate,
    a_new_signing_key_name_or_a_wrong_folder_withdraws_nothing,
);
