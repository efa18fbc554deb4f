//! Chaff, end to end against a real server on loopback: a fake upload sequence is, on the
//! wire, the same requests as a real one (same paths, same request and reply sizes, same
//! HTTP status, through the same transport), and the server answers it without spending a
//! code, issuing a token that works, storing a key, writing an audit row or counting a
//! guess.

#![allow(clippy::unwrap_used)] // Test code.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bluezone_core::{
    Clock, CoreError, HttpReply, HttpTransport, ManualClock, Tracer, Transport, TransportError,
    UploadConsent,
};
use bluezone_e2e::LoopbackServer;
use bluezone_server::store::{ServerStore, SqliteServerStore};
use bluezone_server::{Authority, AuthorityConfig};

/// 2026-11-02 00:00 UTC.
const DAY: i64 = 1_793_577_600;

/// One exchange as an observer of the connection sees it: method and path, request size,
/// HTTP status and reply size.
type Seen = (&'static str, String, usize, u16, usize);

/// A [`Transport`] that records what crosses it and can refuse to send a publish.
struct Recorder {
    inner: HttpTransport,
    seen: Mutex<Vec<Seen>>,
    publish_fails: bool,
}

impl Recorder {
    fn new(base: &str) -> Self {
        Self {
            inner: HttpTransport::new(base),
            seen: Mutex::new(Vec::new()),
            publish_fails: false,
        }
    }

    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl Transport for Recorder {
    fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TransportError> {
        if self.publish_fails && path == "/v1/publish" {
            return Err(TransportError("the network dropped".into()));
        }
        let reply = self.inner.post(path, body)?;
        self.seen.lock().unwrap().push((
            "POST",
            path.to_owned(),
            body.len(),
            reply.status,
            reply.body.len(),
        ));
        Ok(reply)
    }

    fn get(&self, path: &str) -> Result<HttpReply, TransportError> {
        self.inner.get(path)
    }
}

struct World {
    clock: Arc<ManualClock>,
    authority: Arc<Authority>,
    store: Arc<SqliteServerStore>,
    server: LoopbackServer,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new(DAY + 8 * 3600));
    let store = Arc::new(SqliteServerStore::in_memory().unwrap());
    let authority = bluezone_e2e::authority(AuthorityConfig::default(), store.clone(), DAY);
    let server = bluezone_e2e::serve(authority.clone(), clock.clone());
    World {
        clock,
        authority,
        store,
        server,
    }
}

impl World {
    fn phone(&self, seed: u64) -> Tracer {
        bluezone_e2e::phone(&self.authority, self.clock.clone(), seed).unwrap()
    }

    fn code(&self) -> String {
        self.authority
            .issue_code(1, 1, None, None, self.clock.now())
            .unwrap()
            .code
    }

    /// Everything the server could have kept of an upload: keys waiting to be published
    /// and audit rows.
    fn kept(&self) -> (usize, usize) {
        let keys = self
            .store
            .publishable_keys(self.clock.now() + 30 * 86_400, 10_000)
            .unwrap()
            .len();
        (keys, self.authority.audit_log().unwrap().len())
    }
}

/// A phone's real upload (`days` days of keys), as the network saw it.
fn real_upload(world: &World, seed: u64, days: i64) -> Vec<Seen> {
    let phone = world.phone(seed);
    let start = world.clock.now();
    for day in 0..days {
        world.clock.set(start + day * 86_400);
        phone.current_advertisement().unwrap();
    }
    let code = world.code();
    let recorder = Recorder::new(&world.server.base);
    let verified = phone.verify_code(&recorder, &code).unwrap();
    let consent = UploadConsent {
        agreed_at: world.clock.now(),
    };
    let receipt = phone.upload_keys(&recorder, &verified, consent).unwrap();
    assert!(receipt.keys_accepted >= 1);
    recorder.take()
}

/// A phone's fake sequence, as the network saw it, and the wait it asked for.
fn fake_sequence(world: &World, phone: &Tracer) -> (Vec<Seen>, Vec<Duration>) {
    let recorder = Recorder::new(&world.server.base);
    let waits = Mutex::new(Vec::new());
    let report = phone
        .send_chaff(&recorder, &|gap| {
            waits.lock().unwrap().push(gap);
            true
        })
        .unwrap();
    assert_eq!(report.requests_sent, 3);
    assert_eq!(report.refused, 0, "every one answered as chaff");
    (recorder.take(), waits.into_inner().unwrap())
}

#[test]
fn real_and_fake_sequences_are_the_same_on_the_wire() {
    let world = world();
    let one_day = real_upload(&world, 1, 1);
    let two_weeks = real_upload(&world, 2, 14);
    let (fake, waits) = fake_sequence(&world, &world.phone(3));

    let paths: Vec<&str> = fake.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(paths, ["/v1/verify", "/v1/certificate", "/v1/publish"]);
    // Every step: same method, path, request size, status and reply size, whatever the
    // number of keys the real upload carried.
    assert_eq!(one_day, two_weeks);
    assert_eq!(fake, one_day);
    assert_eq!(fake[0].2, 32 + 256 + 16, "{fake:?}");
    assert_eq!(fake[2].2, 32 + 8192 + 16, "{fake:?}");
    assert!(fake.iter().all(|s| s.3 == 200 && s.4 == fake[0].4));
    // Spaced like a person: a pause after verifying, within the schedule's bounds.
    assert_eq!(waits.len(), 1);
    assert!((5..=20).contains(&waits[0].as_secs()), "{waits:?}");
}

#[test]
fn the_server_keeps_nothing_of_chaff_and_counts_no_guess() {
    let world = world();
    let code = world.code();
    let before = world.kept();
    let codes_before = world.authority.codes(1).unwrap();
    let phone = world.phone(4);
    phone.current_advertisement().unwrap();
    // More fake verifies from one client than the failed-guess limit allows (10 an hour).
    for _ in 0..12 {
        fake_sequence(&world, &phone);
    }
    assert_eq!(world.kept(), before, "no key stored, no audit row");
    let codes_after = world.authority.codes(1).unwrap();
    assert_eq!(codes_after.len(), codes_before.len());
    assert!(
        codes_after.iter().all(|c| c.used_at.is_none()),
        "no code spent"
    );

    // The same client still verifies a real code: chaff counted no failed guess.
    let transport = HttpTransport::new(&world.server.base);
    let verified = phone.verify_code(&transport, &code).unwrap();
    let now = UploadConsent {
        agreed_at: world.clock.now(),
    };
    let receipt = phone.upload_keys(&transport, &verified, now).unwrap();
    assert_eq!(receipt.keys_accepted, 1);
    assert_eq!(world.kept().0, before.0 + 1);
}

#[test]
fn chaff_leaves_a_pending_upload_to_be_sent_unchanged() {
    let world = world();
    let phone = world.phone(5);
    phone.current_advertisement().unwrap();
    let code = world.code();
    let mut cut = Recorder::new(&world.server.base);
    cut.publish_fails = true;
    let verified = phone.verify_code(&cut, &code).unwrap();
    let consent = UploadConsent {
        agreed_at: world.clock.now(),
    };
    // The certificate came; the publish never left: the upload is pending.
    assert!(matches!(
        phone.upload_keys(&cut, &verified, consent),
        Err(CoreError::Network(_))
    ));
    let status = phone.exposure_status().unwrap();

    fake_sequence(&world, &phone);
    let report = phone
        .run_due_chaff(&Recorder::new(&world.server.base), &|_| true)
        .unwrap();
    assert_eq!(report.requests_sent, 0, "not due yet");
    assert!(report.next_at.unwrap() > world.clock.now());

    // The retry sends the pending request: certificate held, one key accepted.
    let recorder = Recorder::new(&world.server.base);
    let receipt = phone.upload_keys(&recorder, &verified, consent).unwrap();
    assert_eq!(receipt.keys_accepted, 1);
    let paths: Vec<String> = recorder.take().into_iter().map(|s| s.1).collect();
    assert_eq!(paths, ["/v1/publish"], "the certificate was still held");
    assert_eq!(phone.exposure_status().unwrap(), status);
}
