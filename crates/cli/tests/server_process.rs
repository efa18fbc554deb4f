//! The health-authority server as a process (`bluezone server run`), treated as an operator
//! and an attacker would: killed with SIGKILL and restarted while phones upload (no
//! acknowledged key may be lost or published twice), stopped with SIGTERM, flooded with
//! concurrent password checks (memory must stay bounded), and started with unsafe files.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use common::*;
use rand::SeedableRng;

#[test]
fn kill_and_restart_while_phones_upload_loses_no_acknowledged_key() {
    kill_and_restart_loses_no_acknowledged_key(&Site::new());
}

#[test]
fn kill_and_restart_on_postgres_loses_no_acknowledged_key() {
    if let Some(site) = Site::on_postgres() {
        kill_and_restart_loses_no_acknowledged_key(&site);
    }
}

fn kill_and_restart_loses_no_acknowledged_key(site: &Site) {
    let keys = site.keys();
    let mut server = site.start();
    const PHONES: usize = 12;
    let phones: Vec<Arc<Phone>> = (0..PHONES)
        .map(|i| Arc::new(phone(&keys, 100 + i as u64, 4)))
        .collect();
    let (uploads, acknowledged) = upload_all(
        &phones,
        &site.base(),
        Duration::from_millis(250),
        upload_until_acknowledged,
    );
    // Ten times: SIGKILL mid-traffic, restart at once (often within the same second, and
    // a start publishes at once).
    for cycle in 0..10u64 {
        std::thread::sleep(Duration::from_millis(150 + 40 * (cycle % 5)));
        server.kill();
        server = site.start();
    }
    for upload in uploads {
        upload.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    // Not all: a verify answered but lost to a kill leaves its code used (more of them on a
    // loaded machine, where requests stay in flight longer).
    assert!(
        acknowledged.len() >= PHONES / 4,
        "only {acknowledged:?} acknowledged"
    );
    // One more restart: the start-up check runs, then a publish.
    server.kill();
    let server = site.start();
    let teks = published_teks_when_settled(&site.base(), &keys, &phones, &acknowledged);
    eprintln!(
        "{} of {PHONES} uploads acknowledged across 10 kills; {} keys in the index",
        acknowledged.len(),
        teks.len()
    );
    assert_each_published_once(&phones, &acknowledged, &teks);
    let (status, log) = server.signal("TERM");
    assert!(status.success(), "{status:?}: {log}");
    assert!(
        !log.contains("published file withdrawn"),
        "a published file was lost: {log}"
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let site = Site::new();
    let server = site.start();
    let (status, log) = server.signal("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
    // The database is intact and opens again.
    let (status, _) = site.start().signal("INT");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let site = Site::new();
    let server = site.start_with(&["--log-format", "json"]);
    let (status, log) = server.signal("TERM");
    assert_eq!(status.code(), Some(0), "{log}");
    let mut messages = Vec::new();
    for line in log.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(event["level"].is_string(), "{line}");
        messages.push(
            event["message"]
                .as_str()
                .unwrap_or_else(|| panic!("{line}"))
                .to_owned(),
        );
    }
    for expected in [
        "published files checked",
        "listening",
        "shutting down",
        "stopped",
    ] {
        assert!(messages.iter().any(|m| m == expected), "{expected}: {log}");
    }
}

#[test]
fn concurrent_password_checks_stay_within_a_memory_bound() {
    let site = Site::new();
    // Behind a trusted proxy every request comes from its own client, and every name is
    // different: no rate limit stops them before the password check; only the gate does.
    let server = site.start_with(&["--trusted-proxy", "127.0.0.1"]);
    let before = server.peak_rss_kib();
    let base = site.base();
    let started = Instant::now();
    let threads: Vec<_> = (0..400)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let auth = format!(
                    "Basic {}",
                    Base64::encode_string(format!("user{i}:wrong password {i}").as_bytes())
                );
                agent()
                    .get(format!("{base}/api/official/codes"))
                    .header("Authorization", &auth)
                    .header(
                        "X-Forwarded-For",
                        format!("10.9.{}.{}", i / 250, i % 250 + 1),
                    )
                    .call()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let took = started.elapsed();
    let peak = server.peak_rss_kib();
    // Four checks of 19 MiB at a time, whatever the load (before: 13.3 GiB and no answer).
    assert!(
        peak < before + 200 * 1024,
        "peak {peak} KiB, {before} KiB before"
    );
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 503)),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 401).count() >= 40,
        "{statuses:?}"
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
    eprintln!(
        "400 concurrent wrong passwords: {} KiB peak added, {:?}, {} answered 401, {} 429, {} 503",
        peak.saturating_sub(before),
        took,
        statuses.iter().filter(|s| **s == 401).count(),
        statuses.iter().filter(|s| **s == 429).count(),
        statuses.iter().filter(|s| **s == 503).count()
    );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn unsafe_files_are_refused_and_read_only_commands_create_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    assert_eq!(mode(&site.path("server.db")), 0o600);
    assert_eq!(mode(&site.path("secret")), 0o600);
    let s = |p: &str| site.path(p).to_str().unwrap().to_owned();

    // `server keys` with a mistyped secret path: an error, and no new secret.
    let out = bluezone(&["server", "keys", "--secret-file", &s("secert")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no secret at"),
        "{out:?}"
    );
    assert!(!site.path("secert").exists());
    let out = bluezone(&["server", "keys", "--secret-file", &s("secret")]);
    assert!(out.status.success(), "{out:?}");

    // A secret others can read is refused.
    std::fs::set_permissions(site.path("secret"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = bluezone(&["server", "keys", "--secret-file", &s("secret")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chmod 600"),
        "{out:?}"
    );
    std::fs::set_permissions(site.path("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();

    // A files folder that holds the secret or the database is refused before serving.
    let out = bluezone(&[
        "server",
        "run",
        "--db",
        &s("server.db"),
        "--secret-file",
        &s("secret"),
        "--files",
        site.dir.path().to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would hold the"),
        "{out:?}"
    );

    // A database that is not the server's is refused, unchanged.
    let foreign = site.path("other.db");
    let conn = rusqlite::Connection::open(&foreign).unwrap();
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    drop(conn);
    let before = std::fs::read(&foreign).unwrap();
    let out = bluezone(&[
        "official",
        "add",
        "--name",
        "x",
        "--db",
        foreign.to_str().unwrap(),
        "--secret-file",
        &s("secret"),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a Bluezone server database"),
        "{out:?}"
    );
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
}

#[test]
fn a_second_server_on_the_same_database_is_refused() {
    let site = Site::new();
    let server = site.start();
    let out = site.server_command("run", &["--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another bluezone server is running"),
        "{out:?}"
    );
    let (status, _) = server.signal("TERM");
    assert!(status.success());
}

#[test]
fn sigterm_lets_uploads_in_flight_finish_and_stores_them() {
    use bluezone_protocol::exchange::{PUBLISH_AAD, seal_request};
    use bluezone_protocol::messages::{
        CertificateRequest, CertificateResponse, VerifyRequest, VerifyResponse,
    };
    use bluezone_protocol::upload::{UploadKey, tek_hmac};
    use std::io::{Read, Write};

    let site = Site::new();
    let keys = site.keys();
    let server = site.start();
    let base = site.base();

    // One upload sent by hand, its body held back: it is in flight when the signal comes.
    let code = issue_code(&base);
    let verified: VerifyResponse = serde_json::from_slice(&sealed_exchange(
        &base,
        &keys,
        "/v1/verify",
        &serde_json::to_vec(&VerifyRequest {
            code,
            padding: String::new(),
        })
        .unwrap(),
    ))
    .unwrap();
    let today = (unix_now() / 600) as u32 / 144 * 144;
    let upload: Vec<UploadKey> = (1..=3u8)
        .map(|d| UploadKey {
            key_data: [0xd0 + d; 16],
            rolling_start: today - u32::from(d) * 144,
            rolling_period: 144,
            transmission_risk: 0,
        })
        .collect();
    let hmac_secret = [0x5a; 32];
    let certificate: CertificateResponse = serde_json::from_slice(&sealed_exchange(
        &base,
        &keys,
        "/v1/certificate",
        &serde_json::to_vec(&CertificateRequest {
            token: verified.token.clone(),
            ekeyhmac: Base64::encode_string(&tek_hmac(&hmac_secret, &upload)),
            padding: String::new(),
        })
        .unwrap(),
    ))
    .unwrap();
    let payload =
        bluezone_testkit::uploads::publish_payload(&upload, &hmac_secret, &certificate.certificate);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let (body, reply_key) = seal_request(
        &keys.upload_key().public_key(),
        PUBLISH_AAD,
        &serde_json::to_vec(&payload).unwrap(),
        &mut rng,
    )
    .unwrap();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", site.port)).unwrap();
    write!(
        stream,
        "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let half = body.len() / 2;
    stream.write_all(&body[..half]).unwrap();
    stream.flush().unwrap();

    // Phones uploading as usual at the same time.
    const PHONES: usize = 4;
    let phones: Vec<Arc<Phone>> = (0..PHONES)
        .map(|i| Arc::new(phone(&keys, 200 + i as u64, 3)))
        .collect();
    let (uploads, acknowledged) =
        upload_all(&phones, &base, Duration::from_millis(60), upload_once);

    std::thread::sleep(Duration::from_millis(150));
    server.send("TERM");
    server.wait_for_log("stop signal received");
    // The signal is in: no new connection is taken, but this request still completes.
    stream.write_all(&body[half..]).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (status, reply) = reply_key.open_reply(&answer[split..]).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    assert!(
        agent().get(format!("{base}/v1/index.txt")).call().is_err(),
        "a new connection is refused while draining"
    );
    for upload in uploads {
        upload.join().unwrap();
    }
    let (status, log) = server.signal_sent();
    assert_eq!(status.code(), Some(0), "{log}");

    // Restarted, the server publishes every acknowledged key, each once.
    let server = site.start();
    let teks = {
        let started = Instant::now();
        loop {
            let teks = published_teks(&base, &keys);
            // Files published before the stop are listed at once; the restart's first
            // publish (the held-back upload's file) may still be running.
            let all_in = upload.iter().all(|key| {
                teks.iter()
                    .any(|(data, start)| *data == key.key_data && *start == key.rolling_start)
            });
            if all_in || started.elapsed() > Duration::from_secs(20) {
                break teks;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    for key in &upload {
        let copies = teks
            .iter()
            .filter(|(data, start)| *data == key.key_data && *start == key.rolling_start)
            .count();
        assert_eq!(
            copies, 1,
            "the upload in flight at SIGTERM is published once"
        );
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "SIGTERM during uploads: the held-back upload answered 200; {} of {PHONES} phones acknowledged",
        acknowledged.len()
    );
    assert_each_published_once(&phones, &acknowledged, &teks);
    let (status, _) = server.signal("TERM");
    assert!(status.success());
}

#[test]
fn ops_listener_and_export() {
    let site = Site::new();
    let ops_port = free_port();
    let server = site.start_with(&["--ops-listen", &format!("127.0.0.1:{ops_port}")]);
    let ops = format!("http://127.0.0.1:{ops_port}");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = agent().get(format!("{ops}{path}")).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let (status, _) = {
        let response = agent()
            .get(format!("{}/metrics", site.base()))
            .call()
            .unwrap();
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 404, "metrics are not on the public port");
    let mut response = agent().get(format!("{ops}/metrics")).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    assert!(text.contains("bluezone_publish_runs_total"), "{text}");
    assert!(
        text.contains("bluezone_http_requests_total{route=\"/v1/index.txt\",status=\"200\"}"),
        "{text}"
    );
    let (status, log) = server.signal("TERM");
    assert!(status.success(), "{log}");

    let s = |p: &str| site.path(p).to_str().unwrap().to_owned();
    let out = site.server_command("export", &["--to", &s("origin")]);
    assert!(out.status.success(), "{out:?}");
    assert!(site.path("origin/v1/index.txt").exists());
    assert!(site.path("origin/headers.json").exists());
    // A mistyped database is an error, and creates nothing.
    let out = bluezone(&[
        "server",
        "export",
        "--db",
        &s("srever.db"),
        "--secret-file",
        &s("secret"),
        "--to",
        &s("origin2"),
    ]);
    assert!(!out.status.success());
    assert!(!site.path("srever.db").exists() && !site.path("origin2").exists());

    // The risk configuration: none, an invalid one refused with its field, then published.
    let out = site.server_command("risk-config", &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no risk configuration"));
    let out = site.set_risk_config("bad.json", 0.0, "sweep");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("notify_weighted_minutes"),
        "{out:?}"
    );
    let out = site.set_risk_config("good.json", 20.0, "sweep");
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("risk configuration 1 issued at") && said.contains("sweep"),
        "{said}"
    );
}
