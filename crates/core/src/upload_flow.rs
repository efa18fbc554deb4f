//! The tracer's side of the F0 upload ([`crate::Tracer::verify_code`],
//! [`crate::Tracer::upload_keys`]): consent checked, today's key released, the pending
//! upload prepared and saved before anything is sent, then the requests of
//! [`crate::upload`] made outside the engine's lock, each step saved so a retry sends the
//! same request. Logged: the steps and the server's status and stable code, never the
//! code, token, keys, secret or certificate.

use std::collections::HashMap;

use base64ct::{Base64, Encoding};
use bluezone_protocol::IntervalNumber;
use bluezone_protocol::messages::PublishKey;
use bluezone_protocol::refusal::RefusalCode;
use rand::{Rng, SeedableRng};

use crate::engine::Engine;
use crate::error::CoreError;
use crate::logging::Safe;
use crate::own_keys::OwnKey;
use crate::tracer::Tracer;
use crate::transport::Transport;
use crate::upload::{
    CONSENT_VALIDITY_SECS, PendingUpload, UploadConsent, UploadReceipt, VerifiedCode,
};

/// See [`crate::Tracer::verify_code`].
pub(crate) fn verify_code(
    tracer: &Tracer,
    transport: &dyn Transport,
    code: &str,
) -> Result<VerifiedCode, CoreError> {
    bluezone_protocol::upload::VerificationCode::parse(code).map_err(|_| CoreError::InvalidCode)?;
    let (server_key, mut rng) = {
        let mut engine = tracer.lock()?;
        let key = engine
            .config
            .upload_public_key
            .ok_or(CoreError::UploadNotConfigured)?;
        (key, rand::rngs::StdRng::from_rng(&mut engine.rng))
    };
    let verified = crate::upload::verify(transport, &server_key, code, &mut rng)
        .inspect_err(|e| log::warn!("upload: the code was not verified: {}", Safe(e)))?;
    log::info!(
        "upload: code verified (report type {})",
        verified.report_type
    );
    Ok(verified)
}

/// See [`crate::Tracer::upload_keys`].
pub(crate) fn upload_keys(
    tracer: &Tracer,
    transport: &dyn Transport,
    verified: &VerifiedCode,
    consent: UploadConsent,
) -> Result<UploadReceipt, CoreError> {
    let (server_key, request_bytes, mut pending) = {
        let mut engine = tracer.lock()?;
        let now = engine.clock.now();
        if consent.agreed_at > now + 60 || now - consent.agreed_at > CONSENT_VALIDITY_SECS {
            log::warn!("upload: refused, consent missing or too old");
            return Err(CoreError::ConsentRequired);
        }
        let server_key = engine
            .config
            .upload_public_key
            .ok_or(CoreError::UploadNotConfigured)?;
        let pending = match engine.pending_upload()? {
            Some(p) if p.token == verified.token => {
                log::info!(
                    "upload: resuming the pending upload (certificate held: {})",
                    p.certificate.is_some()
                );
                p
            }
            _ => {
                let pending = engine.prepare_upload(now, &verified.token)?;
                engine.save_pending_upload(Some(&pending))?;
                log::info!("upload: prepared with {} keys", pending.keys.len());
                pending
            }
        };
        (server_key, engine.config.upload_request_bytes, pending)
    };
    let mut rng = {
        let mut engine = tracer.lock()?;
        rand::rngs::StdRng::from_rng(&mut engine.rng)
    };
    let mut renewed = false;
    let receipt = loop {
        let had_certificate = pending.certificate.is_some();
        crate::upload::certificate(transport, &server_key, &mut pending, &mut rng)
            .inspect_err(|e| log::warn!("upload: no certificate: {}", Safe(e)))?;
        if !had_certificate {
            log::info!("upload: certificate obtained");
        }
        tracer.lock()?.save_pending_upload(Some(&pending))?;
        match crate::upload::publish(transport, &pending, &server_key, request_bytes, &mut rng) {
            // The certificate (valid 15 minutes) ran out between a failed attempt and
            // this retry: the server issues a new one for the same token and keys.
            Err(CoreError::Server { code, .. })
                if code == RefusalCode::CertificateExpired && !renewed =>
            {
                log::info!("upload: the certificate expired; asking for a new one");
                renewed = true;
                pending.certificate = None;
            }
            other => {
                break other.inspect_err(|e| log::warn!("upload: not published: {}", Safe(e)))?;
            }
        }
    };
    tracer.lock()?.save_pending_upload(None)?;
    log::info!("upload: published, {} keys accepted", receipt.keys_accepted);
    Ok(receipt)
}

impl Engine {
    /// The keys to upload (the last 14 days, today's released) and a fresh HMAC secret.
    pub(crate) fn prepare_upload(
        &mut self,
        now: i64,
        token: &str,
    ) -> Result<PendingUpload, CoreError> {
        self.release_current_key(now)?;
        let interval = IntervalNumber::from_unix_seconds(now)?;
        let oldest = interval.day().get().saturating_sub(13);
        let mut latest: HashMap<[u8; 16], &OwnKey> = HashMap::new();
        for key in &self.keys {
            if key.rolling_start <= interval && key.rolling_start.day().get() >= oldest {
                latest.insert(*key.tek.expose_bytes(), key);
            }
        }
        let mut keys: Vec<PublishKey> = latest
            .values()
            .map(|k| PublishKey {
                key: Base64::encode_string(k.tek.expose_bytes()),
                rolling_start_number: k.rolling_start.get(),
                rolling_period: k.rolling_period.get(),
                transmission_risk: 0,
            })
            .collect();
        keys.sort_by_key(|k| k.rolling_start_number);
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        self.rng.fill_bytes(secret.as_mut_slice());
        Ok(PendingUpload {
            token: token.to_owned(),
            secret: Base64::encode_string(secret.as_slice()),
            keys,
            certificate: None,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ManualClock;
    use crate::tracer::StorageLocation;
    use crate::{MasterKey, TracerConfig};
    use std::sync::Arc;

    #[test]
    fn pending_uploads_from_before_created_at_or_unreadable_are_purged() {
        let now = 1_793_491_200;
        let clock = Arc::new(ManualClock::new(now));
        let tracer = Tracer::open_with(
            TracerConfig::default(),
            StorageLocation::InMemory,
            &MasterKey::from_bytes([1; 32]),
            clock,
            Box::new(rand::rngs::StdRng::seed_from_u64(1)),
        )
        .unwrap();
        let mut engine = tracer.lock().unwrap();
        // A record written before `created_at` existed reads as created at 0: purged.
        let old = br#"{"token":"t","secret":"c2VjcmV0","keys":[],"certificate":null}"#;
        engine.store.put_setting("pending_upload", old).unwrap();
        assert_eq!(engine.pending_upload().unwrap().unwrap().created_at, 0);
        engine.purge_expired().unwrap();
        assert!(engine.pending_upload().unwrap().is_none());
        // A fresh one stays.
        let fresh = PendingUpload {
            token: "t".into(),
            secret: "c2VjcmV0".into(),
            keys: Vec::new(),
            certificate: None,
            created_at: now,
        };
        engine.save_pending_upload(Some(&fresh)).unwrap();
        engine.purge_expired().unwrap();
        assert!(engine.pending_upload().unwrap().is_some());
        // An unreadable one could never be sent: purged, and opening does not fail.
        engine
            .store
            .put_setting("pending_upload", b"{garbage")
            .unwrap();
        engine.purge_expired().unwrap();
        assert!(engine.pending_upload().unwrap().is_none());
    }

    #[test]
    fn a_pending_upload_is_destroyed_with_the_data_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        // 2026-11-01 08:00 UTC.
        let start = 1_793_520_000;
        let clock = Arc::new(ManualClock::new(start));
        let open = |seed| {
            Tracer::open_with(
                TracerConfig::default(),
                StorageLocation::File(path.clone()),
                &MasterKey::from_bytes([1; 32]),
                clock.clone(),
                Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
            )
            .unwrap()
        };
        let pending_after = |tracer: &Tracer| tracer.lock().unwrap().pending_upload().unwrap();
        let leave_pending = |tracer: &Tracer| {
            tracer.current_advertisement().unwrap();
            let mut engine = tracer.lock().unwrap();
            let now = engine.clock.now();
            let pending = engine.prepare_upload(now, "token").unwrap();
            assert_eq!(pending.created_at, now);
            engine.save_pending_upload(Some(&pending)).unwrap();
        };

        // An upload that never completes (the certificate request kept failing).
        let tracer = open(1);
        leave_pending(&tracer);
        // Its day is still within retention 14 days later: maintenance and opening keep it.
        clock.set(start + 14 * 86_400);
        tracer.run_maintenance().unwrap();
        assert!(pending_after(&tracer).is_some());
        drop(tracer);
        let tracer = open(2);
        assert!(pending_after(&tracer).is_some());
        // A day later, maintenance destroys it with the keys of its day.
        clock.set(start + 15 * 86_400);
        assert_eq!(tracer.run_maintenance().unwrap().days_purged, 1);
        assert!(pending_after(&tracer).is_none());

        // Opening the store past retention destroys it too.
        leave_pending(&tracer);
        drop(tracer);
        clock.set(start + 30 * 86_400);
        assert!(pending_after(&open(3)).is_none());
    }
}
