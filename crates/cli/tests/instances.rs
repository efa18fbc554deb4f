//! Two `bluezone server run` processes on one PostgreSQL database, as a health authority runs
//! them behind a load balancer, with their published files in the database: guessing is cut
//! off at the shared limits whichever instance is asked (and a restart remembers), an upload
//! accepted by either is published exactly once, and killing the publishing instance again
//! and again while phones upload loses nothing: the other takes over.
//!
//! Skipped (passing) when `BLUEZONE_TEST_POSTGRES=skip`.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_protocol::exchange::{VERIFY_AAD, seal_request};
use bluezone_protocol::messages::VerifyRequest;
use bluezone_server::AuthorityKeys;
use common::*;
use rand::SeedableRng;

/// A PostgreSQL site whose instances keep published files in the database.
fn shared_site() -> Option<Site> {
    Site::on_postgres().map(Site::with_files_in_database)
}

/// One wrong-code guess at `base`, from `client` as the trusted proxy reports it; the sealed
/// reply's status and body.
fn guess(base: &str, keys: &AuthorityKeys, client: &str, seed: u64) -> (u16, String) {
    let plaintext = serde_json::to_vec(&VerifyRequest {
        code: format!("{:08}", 10_000_000 + seed),
        padding: String::new(),
    })
    .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (body, reply_key) = seal_request(
        &keys.upload_key().public_key(),
        VERIFY_AAD,
        &plaintext,
        &mut rng,
    )
    .unwrap();
    let mut response = agent()
        .post(format!("{base}/v1/verify"))
        .header("X-Forwarded-For", client)
        .send(&body[..])
        .unwrap();
    let sealed = response.body_mut().read_to_vec().unwrap();
    let (status, reply) = reply_key.open_reply(&sealed).unwrap();
    (status, String::from_utf8_lossy(&reply).into_owned())
}

fn refused_with(answer: &(u16, String), code: &str) -> bool {
    answer.1.contains(&format!("\"{code}\""))
}

const BEHIND_PROXY: [&str; 2] = ["--trusted-proxy", "127.0.0.1/32"];

#[test]
fn guessing_is_cut_off_at_the_shared_limits_across_instances_and_restarts() {
    let Some(site) = shared_site() else { return };
    let keys = Arc::new(site.keys());
    let second_port = free_port();
    let first = site.start_with(&BEHIND_PROXY);
    let second = site.start_on(second_port, &BEHIND_PROXY);
    let bases = [site.base(), format!("http://127.0.0.1:{second_port}")];

    // One client alternating between the instances: its ten failures (the per-client limit
    // per hour) are counted together, and the eleventh is refused by either.
    for i in 0..10u64 {
        let answer = guess(&bases[i as usize % 2], &keys, "203.0.113.5", i);
        assert!(refused_with(&answer, "code_invalid"), "{answer:?}");
    }
    for base in &bases {
        let answer = guess(base, &keys, "203.0.113.5", 99);
        assert_eq!(answer.0, 429, "{answer:?}");
        assert!(refused_with(&answer, "too_many_attempts"), "{answer:?}");
    }

    // Ninety more clients, one guess each, half at each instance, eight at a time: with the
    // ten above, the overall limit of 100 failures a minute is reached, and the next client,
    // new to both, is refused by both.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (bases, keys) = (bases.clone(), keys.clone());
            std::thread::spawn(move || {
                for i in (t..90).step_by(8) {
                    let client = format!("198.51.100.{i}");
                    let answer = guess(&bases[i % 2], &keys, &client, 1000 + i as u64);
                    assert!(refused_with(&answer, "code_invalid"), "{answer:?}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for (i, base) in bases.iter().enumerate() {
        let answer = guess(base, &keys, &format!("192.0.2.{i}"), 2000 + i as u64);
        assert!(refused_with(&answer, "too_many_attempts"), "{answer:?}");
        assert!(answer.1.contains("from everyone"), "{answer:?}");
    }

    // A risk configuration published with the command line lands in the database, and both
    // instances serve the same signed file.
    let out = site.set_risk_config("risk.json", 25.0, "shared");
    assert!(out.status.success(), "{out:?}");
    let served: Vec<Vec<u8>> = bases
        .iter()
        .map(|base| {
            let mut response = agent()
                .get(format!("{base}/v1/risk-config.json"))
                .call()
                .unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.body_mut().read_to_vec().unwrap()
        })
        .collect();
    assert_eq!(served[0], served[1]);
    let shown = site.server_command("risk-config", &[]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("risk configuration 1")
            && String::from_utf8_lossy(&shown.stdout).contains("shared"),
        "{shown:?}"
    );

    // Both instances die; the one restarted still refuses the first client.
    first.kill();
    second.kill();
    let restarted = site.start_with(&BEHIND_PROXY);
    let answer = guess(&site.base(), &keys, "203.0.113.5", 3000);
    assert!(refused_with(&answer, "too_many_attempts"), "{answer:?}");
    let (status, log) = restarted.signal("TERM");
    assert!(status.success(), "{log}");
}

#[test]
fn uploads_to_either_instance_are_published_once_while_the_publisher_is_killed() {
    let Some(site) = shared_site() else { return };
    let keys = site.keys();
    let second_port = free_port();
    let second_base = format!("http://127.0.0.1:{second_port}");
    // The first instance to start takes the publisher lock and checks the files.
    let first = site.start();
    first.wait_for_log("published files checked");
    let second = site.start_on(second_port, &[]);
    second.wait_for_log("another instance is the publisher");
    let ports = [site.port, second_port];
    let mut servers = [Some(first), Some(second)];

    const PHONES: usize = 12;
    let phones: Vec<Arc<Phone>> = (0..PHONES)
        .map(|i| Arc::new(phone(&keys, 300 + i as u64, 3)))
        .collect();
    // Even phones upload to the publisher's address, odd ones to the other instance.
    let (even, odd): (Vec<_>, Vec<_>) = phones
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, Arc<Phone>)>| v.into_iter().map(|(_, p)| p).collect::<Vec<_>>();
    let (even, odd) = (strip(even), strip(odd));
    let (to_first, first_acks) = upload_all(
        &even,
        &site.base(),
        Duration::from_millis(300),
        upload_until_acknowledged,
    );
    let (to_second, second_acks) = upload_all(
        &odd,
        &second_base,
        Duration::from_millis(300),
        upload_until_acknowledged,
    );
    // Four times, the publishing instance is killed mid-traffic: the other takes over
    // within a publishing period (and checks what its predecessor left); the killed one
    // comes back as a follower. Only the publisher ever logs its check.
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(400));
        let holder = servers
            .iter()
            .position(|s| {
                s.as_ref()
                    .unwrap()
                    .log
                    .lock()
                    .unwrap()
                    .contains("published files checked")
            })
            .unwrap();
        servers[holder].take().unwrap().kill();
        servers[1 - holder]
            .as_ref()
            .unwrap()
            .wait_for_log("published files checked");
        servers[holder] = Some(site.start_on(ports[holder], &[]));
    }
    for upload in to_first.into_iter().chain(to_second) {
        upload.join().unwrap();
    }
    let acknowledged: Vec<usize> = first_acks
        .lock()
        .unwrap()
        .iter()
        .map(|i| 2 * i)
        .chain(second_acks.lock().unwrap().iter().map(|i| 2 * i + 1))
        .collect();
    // Not all: a verify answered but lost to a kill leaves its code used.
    assert!(
        acknowledged.len() >= PHONES / 4,
        "only {acknowledged:?} acknowledged"
    );
    // Another publishing run or two, then both instances serve the same files.
    let teks = published_teks_when_settled(&site.base(), &keys, &phones, &acknowledged);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut teks_second = published_teks(&second_base, &keys);
    while teks_second.len() != teks.len() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        teks_second = published_teks(&second_base, &keys);
    }
    assert_eq!(teks.len(), teks_second.len());
    eprintln!(
        "{} of {PHONES} uploads acknowledged by two instances, the publisher killed 4 times; \
         {} keys in the index",
        acknowledged.len(),
        teks.len()
    );
    assert_each_published_once(&phones, &acknowledged, &teks);
    for server in servers {
        let (status, log) = server.unwrap().signal("TERM");
        assert!(status.success(), "{status:?}: {log}");
        assert!(!log.contains("published file withdrawn"), "{log}");
    }
}
