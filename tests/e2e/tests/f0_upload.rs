//! The whole F0 path, as the issue describes it: an official issues a code, phone A (who
//! tested positive) uploads, the server publishes, phone B (who spent 45 minutes near A)
//! downloads, matches and is notified, and phone C (never near A) is not.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use bluezone_core::{
    AdvertData, Clock, CoreError, HttpTransport, ManualClock, SightingInput, Tracer, UploadConsent,
};
use bluezone_e2e::LoopbackServer;
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::{Advertisement, Metadata, TemporaryExposureKey};
use bluezone_server::store::SqliteServerStore;
use bluezone_server::{Authority, AuthorityConfig};

/// 2026-11-02 00:00 UTC.
const DAY: i64 = 1_793_577_600;

struct World {
    clock: Arc<ManualClock>,
    authority: Arc<Authority>,
    base: String,
    _server: LoopbackServer,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::new(DAY + 8 * 3600));
    let authority = bluezone_e2e::authority(
        AuthorityConfig {
            min_keys_per_file: 100,
            ..AuthorityConfig::default()
        },
        Arc::new(SqliteServerStore::in_memory().unwrap()),
        DAY,
    );
    let server = bluezone_e2e::serve(authority.clone(), clock.clone());
    World {
        clock,
        authority,
        base: server.base.clone(),
        _server: server,
    }
}

fn phone(world: &World, seed: u8) -> Tracer {
    bluezone_e2e::phone(&world.authority, world.clock.clone(), u64::from(seed)).unwrap()
}

fn heard(payload: &[u8], rssi: i16, time: i64, window: u64) -> SightingInput {
    SightingInput {
        advert: AdvertData::Raw(payload.to_vec()),
        rssi,
        time,
        scan_window: Some(window),
    }
}

fn issue_code(world: &World) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{}/api/official/codes", world.base))
        .header(
            "Authorization",
            &format!(
                "Basic {}",
                Base64::encode_string(b"dr.minh:a long enough password")
            ),
        )
        .header("Content-Type", "application/json")
        .send(br#"{"reportType":1,"symptomOnsetDate":"2026-11-01"}"#.as_slice())
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let v: serde_json::Value =
        serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
    v["code"].as_str().unwrap().to_owned()
}

#[test]
fn an_official_code_an_upload_and_a_notification() {
    let world = world();
    let a = phone(&world, 1);
    let b = phone(&world, 2);
    let c = phone(&world, 3);
    let stranger = TemporaryExposureKey::from_bytes([0x99; 16]).derive_keys();

    // 08:00 to 08:45: A and B share a table; C sits elsewhere, near a stranger.
    for scan in 0..10u64 {
        let t = DAY + 8 * 3600 + scan as i64 * 300;
        world.clock.set(t);
        let a_payload = a.current_advertisement().unwrap().payload;
        b.current_advertisement().unwrap();
        c.current_advertisement().unwrap();
        world.clock.set(t + 4);
        let batch: Vec<SightingInput> = (0..8i16)
            .map(|k| heard(&a_payload, -55 - (k % 3), t + i64::from(k / 3), scan))
            .collect();
        b.record_sightings(&batch).unwrap();
        let rpi = stranger
            .rpik
            .identifier(bluezone_protocol::IntervalNumber::from_unix_seconds(t).unwrap());
        let aem = stranger
            .aemk
            .encrypt(&rpi, Metadata::v1_0(-15).to_bytes().unwrap());
        let stranger_payload = Advertisement { rpi, aem }.to_legacy_payload();
        c.record_sightings(&[heard(&stranger_payload, -60, t, scan)])
            .unwrap();
    }

    // 15:00: A tests positive. The official issues a code; A enters it and agrees.
    world.clock.set(DAY + 15 * 3600);
    let code = issue_code(&world);
    let transport = HttpTransport::new(&world.base);
    assert!(matches!(
        a.verify_code(&transport, "1234"),
        Err(CoreError::InvalidCode)
    ));
    let wrong = format!("{:08}", (code.parse::<u32>().unwrap() + 1) % 100_000_000);
    assert!(matches!(
        a.verify_code(&transport, &wrong),
        Err(CoreError::Server { status: 400, ref code, .. }) if *code == RefusalCode::CodeInvalid
    ));
    let verified = a.verify_code(&transport, &code).unwrap();
    assert_eq!(verified.report_type, 1);
    let stale = UploadConsent {
        agreed_at: world.clock.now() - 3600,
    };
    assert!(matches!(
        a.upload_keys(&transport, &verified, stale),
        Err(CoreError::ConsentRequired)
    ));
    let receipt = a
        .upload_keys(
            &transport,
            &verified,
            UploadConsent {
                agreed_at: world.clock.now(),
            },
        )
        .unwrap();
    assert_eq!(
        receipt.keys_accepted, 1,
        "only today's key exists, released early"
    );
    // After the release A broadcasts from a new key.
    world.clock.set(DAY + 15 * 3600 + 600);
    let after = a.current_advertisement().unwrap();
    assert!(after.interval.get() > u32::try_from((DAY + 15 * 3600) / 600).unwrap());

    // Today's key is embargoed until two hours after its release; then the server publishes.
    assert!(
        world
            .authority
            .publish_files(world.clock.now())
            .unwrap()
            .is_empty()
    );
    world.clock.set(DAY + 18 * 3600);
    let files = world.authority.publish_files(world.clock.now()).unwrap();
    assert_eq!(files.len(), 1);

    let b_status = b.download_key_files(&transport).unwrap();
    assert!(b_status.notify, "{b_status:?}");
    assert!(b_status.newly_notified);
    assert_eq!(b_status.files_matched, 1);
    assert_eq!(
        b_status.exposure_day.map(|d| i64::from(d.get())),
        Some(DAY / 86_400)
    );
    let c_status = c.download_key_files(&transport).unwrap();
    assert!(!c_status.notify && c_status.days.is_empty(), "{c_status:?}");
    // Nothing new to download the second time.
    let again = b.download_key_files(&transport).unwrap();
    assert_eq!(again.files_matched + again.files_already_matched, 0);
    assert!(again.notify && !again.newly_notified);
}

/// A transport that loses the first publish on the way back (the server got it, the phone
/// never heard the answer).
/// The network fails the first publish: after the server got it (the answer is lost) or
/// before it left the phone.
struct FailFirstPublish {
    inner: HttpTransport,
    /// Whether the lost request reached the server.
    delivered: bool,
    failed: std::sync::atomic::AtomicBool,
}

impl FailFirstPublish {
    fn new(world: &World, delivered: bool) -> Self {
        Self {
            inner: HttpTransport::new(&world.base),
            delivered,
            failed: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl bluezone_core::Transport for FailFirstPublish {
    fn post(
        &self,
        path: &str,
        body: &[u8],
    ) -> Result<bluezone_core::HttpReply, bluezone_core::TransportError> {
        let fail =
            path == "/v1/publish" && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst);
        if fail && !self.delivered {
            return Err(bluezone_core::TransportError("network unreachable".into()));
        }
        let reply = self.inner.post(path, body)?;
        if fail {
            return Err(bluezone_core::TransportError("connection reset".into()));
        }
        Ok(reply)
    }

    fn get(&self, path: &str) -> Result<bluezone_core::HttpReply, bluezone_core::TransportError> {
        self.inner.get(path)
    }
}

#[test]
fn a_retried_upload_sends_the_same_request_and_is_stored_once() {
    let world = world();
    let a = phone(&world, 7);
    // A has keys from three days.
    for day in 0..3 {
        world.clock.set(DAY - (2 - day) * 86_400 + 9 * 3600);
        a.current_advertisement().unwrap();
    }
    let transport = FailFirstPublish::new(&world, true);
    let verified = a.verify_code(&transport, &issue_code(&world)).unwrap();
    let consent = UploadConsent {
        agreed_at: world.clock.now(),
    };
    let err = a.upload_keys(&transport, &verified, consent).unwrap_err();
    assert!(matches!(err, CoreError::Network(_)), "{err:?}");
    // The retry reuses the pending request: same certificate, same keys, same secret.
    let receipt = a.upload_keys(&transport, &verified, consent).unwrap();
    assert_eq!(receipt.keys_accepted, 3);
    world.clock.set(DAY + 86_400 + 3 * 3600);
    let files = world.authority.publish_files(world.clock.now()).unwrap();
    assert_eq!(files.len(), 1);
    let file = world.authority.file(&files[0], world.clock.now()).unwrap();
    let trust = bluezone_protocol::keyfile::TrustedKeys::single(
        world.authority.file_signer().trusted_key(),
    );
    let published = bluezone_protocol::keyfile::read_key_file(
        &file,
        &trust,
        &bluezone_protocol::keyfile::KeyFileLimits::default(),
    )
    .unwrap();
    assert_eq!(published.keys.len(), 100, "padded");
    let log = world.authority.audit_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "publish" && e.detail.ends_with("100 keys, 3 real")),
        "the three keys were stored once: {log:?}"
    );
    // After success nothing is pending: a new upload needs a new code.
    let fresh = UploadConsent {
        agreed_at: world.clock.now(),
    };
    assert!(matches!(
        a.upload_keys(&transport, &verified, fresh),
        Err(CoreError::Server { ref code, .. }) if *code == RefusalCode::TokenInvalid
    ));
}

/// A transport whose first publish never leaves the phone (the network dropped).
#[test]
fn an_upload_retried_after_its_certificate_expired_gets_a_new_one() {
    let world = world();
    let a = phone(&world, 8);
    world.clock.set(DAY - 86_400 + 9 * 3600);
    a.current_advertisement().unwrap();
    world.clock.set(DAY + 9 * 3600);
    let transport = FailFirstPublish::new(&world, false);
    let verified = a.verify_code(&transport, &issue_code(&world)).unwrap();
    let consent = UploadConsent {
        agreed_at: world.clock.now(),
    };
    let err = a.upload_keys(&transport, &verified, consent).unwrap_err();
    assert!(matches!(err, CoreError::Network(_)), "{err:?}");
    // Back online 20 minutes later: the cached certificate (15 minutes) has expired.
    world.clock.set(DAY + 9 * 3600 + 1200);
    let consent = UploadConsent {
        agreed_at: world.clock.now(),
    };
    let receipt = a.upload_keys(&transport, &verified, consent).unwrap();
    assert!(receipt.keys_accepted >= 1);
}
