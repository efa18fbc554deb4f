//! The tracer's side of chaff ([`crate::Tracer::next_chaff_at`],
//! [`crate::Tracer::run_due_chaff`], [`crate::Tracer::send_chaff`]): one fake upload
//! sequence sent over the [`Transport`] exactly as a real one is (same paths, same
//! transport, same sizes, the same spacing), and the due time of the next kept in the
//! store. It reads only the configuration and the random number generator: never the
//! pending upload, the keys or the exposure state. Logged: how many fake requests went out,
//! nothing else.

use std::time::Duration;

use rand::SeedableRng;

use crate::chaff::ChaffReport;
use crate::error::{CoreError, ServerCode};
use crate::logging::Safe;
use crate::saved_state::{self, ChaffDue};
use crate::tracer::Tracer;
use crate::transport::Transport;
use crate::upload::Step;

/// See [`crate::Tracer::next_chaff_at`].
pub(crate) fn next_chaff_at(tracer: &Tracer) -> Result<Option<i64>, CoreError> {
    let mut engine = tracer.lock()?;
    let schedule = engine.config.chaff;
    if !schedule.is_enabled() || engine.config.upload_public_key.is_none() {
        return Ok(None);
    }
    if let Some(ChaffDue(at)) = saved_state::load(&engine.store)? {
        return Ok(Some(at));
    }
    let now = engine.clock.now();
    let next = schedule.next_after(now, &mut engine.rng);
    if let Some(at) = next {
        saved_state::save(&mut engine.store, &ChaffDue(at))?;
    }
    Ok(next)
}

/// See [`crate::Tracer::run_due_chaff`].
pub(crate) fn run_due_chaff(
    tracer: &Tracer,
    transport: &dyn Transport,
    wait: &dyn Fn(Duration) -> bool,
) -> Result<ChaffReport, CoreError> {
    let Some(due) = next_chaff_at(tracer)? else {
        return Ok(ChaffReport::default());
    };
    if tracer.lock()?.clock.now() < due {
        return Ok(ChaffReport {
            next_at: Some(due),
            ..ChaffReport::default()
        });
    }
    let sent = send_chaff(tracer, transport, wait);
    // The next one is drawn from now whatever happened: a failed sequence is not retried
    // (a retry would be a pattern of its own).
    let next_at = {
        let mut engine = tracer.lock()?;
        let now = engine.clock.now();
        let schedule = engine.config.chaff;
        let next = schedule.next_after(now, &mut engine.rng);
        if let Some(at) = next {
            saved_state::save(&mut engine.store, &ChaffDue(at))?;
        }
        next
    };
    Ok(ChaffReport { next_at, ..sent? })
}

/// See [`crate::Tracer::send_chaff`].
pub(crate) fn send_chaff(
    tracer: &Tracer,
    transport: &dyn Transport,
    wait: &dyn Fn(Duration) -> bool,
) -> Result<ChaffReport, CoreError> {
    let (server_key, publish_bytes, gap, mut rng) = {
        let mut engine = tracer.lock()?;
        let key = engine
            .config
            .upload_public_key
            .ok_or(CoreError::UploadNotConfigured)?;
        let schedule = engine.config.chaff;
        let gap = schedule.gap_secs(&mut engine.rng);
        (
            key,
            engine.config.upload_request_bytes,
            gap,
            rand::rngs::StdRng::from_rng(&mut engine.rng),
        )
    };
    let mut report = ChaffReport::default();
    let mut send = |step: Step, report: &mut ChaffReport| {
        match crate::upload::chaff(transport, &server_key, step, publish_bytes, &mut rng) {
            Ok(()) => {}
            // Answered, sealed, but refused: sent all the same; the sequence goes on, as it
            // looks the same on the wire. No answer, or one not the server's, ends it.
            Err(CoreError::Server { code, .. }) if code != ServerCode::Unsealed => {
                report.refused += 1;
            }
            Err(e) => {
                log::warn!("chaff: a fake request failed: {}", Safe(&e));
                return Err(e);
            }
        }
        report.requests_sent += 1;
        Ok(())
    };
    send(Step::Verify, &mut report)?;
    // The person reads the consent screen; then certificate and publish follow at once.
    if wait(Duration::from_secs(u64::from(gap))) {
        send(Step::Certificate, &mut report)?;
        send(Step::Publish, &mut report)?;
    }
    log::debug!("chaff: {} fake requests sent", report.requests_sent);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use bluezone_protocol::exchange::{CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD};
    use bluezone_protocol::upload::UploadOpenKey;

    use super::*;
    use crate::ports::ManualClock;
    use crate::saved_state::Notified;
    use crate::tracer::StorageLocation;
    use crate::transport::{HttpReply, TransportError};
    use crate::{MasterKey, TracerConfig};

    /// The server's side of the sealed exchange, in process: opens each request, records
    /// its path and whether it was chaff, and answers chaff as the server does.
    struct FakeServer {
        key: UploadOpenKey,
        seen: Mutex<Vec<(String, bool)>>,
    }

    impl Transport for FakeServer {
        fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TransportError> {
            let aad = match path {
                "/v1/verify" => VERIFY_AAD,
                "/v1/certificate" => CERTIFICATE_AAD,
                _ => PUBLISH_AAD,
            };
            let (plaintext, reply_key) = self.key.open_request(aad, body).expect("opens");
            let chaff = plaintext.starts_with(br#"{"chaff":true,"padding":"0"#);
            self.seen
                .lock()
                .expect("lock")
                .push((path.to_owned(), chaff));
            let mut rng = <rand::rngs::StdRng as SeedableRng>::seed_from_u64(1);
            let body = reply_key
                .seal_reply(200, br#"{"chaff":true}"#, &mut rng)
                .expect("seals");
            Ok(HttpReply { status: 200, body })
        }

        fn get(&self, _: &str) -> Result<HttpReply, TransportError> {
            Err(TransportError("no downloads here".into()))
        }
    }

    #[test]
    fn chaff_reads_and_changes_nothing_but_its_own_due_time() {
        let now = 1_793_491_200;
        let key = UploadOpenKey::derive(&[3; 32]).expect("key");
        let clock = Arc::new(ManualClock::new(now));
        let tracer = Tracer::open_with(
            TracerConfig {
                upload_public_key: Some(key.public_key()),
                ..TracerConfig::default()
            },
            StorageLocation::InMemory,
            &MasterKey::from_bytes([1; 32]),
            clock.clone(),
            Box::new(rand::rngs::StdRng::seed_from_u64(1)),
        )
        .expect("tracer");
        tracer.current_advertisement().expect("advertisement");
        let state = |tracer: &Tracer| {
            let engine = tracer.lock().expect("lock");
            let pending = engine
                .pending_upload()
                .expect("pending")
                .map(|p| serde_json::to_string(&p).expect("encodes"));
            let Notified(notified) = saved_state::load_or_default(&engine.store).expect("notified");
            (
                pending,
                notified,
                engine.keys.len(),
                engine.identity_changes,
            )
        };
        {
            let mut engine = tracer.lock().expect("lock");
            let pending = engine.prepare_upload(now, "token").expect("prepared");
            engine.save_pending_upload(Some(&pending)).expect("saved");
            saved_state::save(&mut engine.store, &Notified(true)).expect("saved");
        }
        let before = state(&tracer);
        assert!(before.0.is_some() && before.1);

        let server = FakeServer {
            key,
            seen: Mutex::new(Vec::new()),
        };
        let due = tracer.next_chaff_at().expect("due").expect("enabled");
        assert!(due > now);
        assert_eq!(tracer.next_chaff_at().expect("due"), Some(due), "kept");
        let not_yet = tracer.run_due_chaff(&server, &|_| true).expect("runs");
        assert_eq!((not_yet.requests_sent, not_yet.next_at), (0, Some(due)));

        clock.set(due);
        let ran = tracer.run_due_chaff(&server, &|_| true).expect("runs");
        assert_eq!((ran.requests_sent, ran.refused), (3, 0));
        let next = ran.next_at.expect("enabled");
        assert!(next > due);
        assert_eq!(tracer.next_chaff_at().expect("due"), Some(next));
        // Cancelled during the pause: the sequence stops after verifying.
        let cut = tracer.send_chaff(&server, &|_| false).expect("runs");
        assert_eq!(cut.requests_sent, 1);

        let seen = server.seen.lock().expect("lock").clone();
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            ["/v1/verify", "/v1/certificate", "/v1/publish", "/v1/verify"]
        );
        assert!(seen.iter().all(|(_, chaff)| *chaff));
        assert_eq!(
            state(&tracer),
            before,
            "pending upload, notification, keys unchanged"
        );
    }
}
