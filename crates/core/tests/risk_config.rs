//! The authority's risk configuration on the phone: applied when newer and signed by a
//! trusted key, kept across restarts, fetched once per download run (404 is none published).

#![allow(clippy::unwrap_used)] // Test code.

use std::sync::{Arc, Mutex};

use bluezone_core::{
    HeldRiskConfig, HttpReply, ManualClock, RiskConfigOutcome, StorageLocation, Tracer, Transport,
    TransportError,
};
use bluezone_protocol::keyfile::KeyFileSigner;
use bluezone_protocol::risk::RiskConfig;
use bluezone_protocol::risk_config::{RiskConfigDocument, RiskConfigError, write_risk_config};
use bluezone_testkit::MORNING;
use bluezone_testkit::phone::TestPhone;
use bluezone_testkit::signer::{signer_with, test_signer};

fn signed(sequence: u64, note: &str, signer: &KeyFileSigner) -> Vec<u8> {
    let document = RiskConfigDocument::new(sequence, MORNING + 60, &RiskConfig::default(), note);
    write_risk_config(&document, signer).unwrap()
}

fn phone(clock: &Arc<ManualClock>, path: &std::path::Path) -> Tracer {
    TestPhone::new()
        .storage(StorageLocation::File(path.to_owned()))
        .open(clock)
}

fn held(sequence: u64, note: &str) -> Option<HeldRiskConfig> {
    Some(HeldRiskConfig {
        sequence,
        issued_at: MORNING + 60,
        note: note.into(),
        model: "gaen-daily-summaries".into(),
    })
}

#[test]
fn a_newer_signed_configuration_is_applied_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let clock = Arc::new(ManualClock::new(MORNING));
    let tracer = phone(&clock, &path);
    assert_eq!(tracer.risk_config().unwrap(), None);
    let outcome = tracer
        .apply_risk_config(&signed(3, "weights", &test_signer()))
        .unwrap();
    assert_eq!(outcome, RiskConfigOutcome::Applied { sequence: 3 });
    drop(tracer);

    let tracer = phone(&clock, &path);
    assert_eq!(tracer.risk_config().unwrap(), held(3, "weights"));
    for sequence in [3, 2] {
        let outcome = tracer
            .apply_risk_config(&signed(sequence, "old", &test_signer()))
            .unwrap();
        assert_eq!(
            outcome,
            RiskConfigOutcome::NotNewer {
                held: 3,
                offered: sequence
            }
        );
    }
    assert_eq!(tracer.risk_config().unwrap(), held(3, "weights"));
}

#[test]
fn a_forged_or_broken_file_is_refused_and_the_held_one_kept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(MORNING));
    let tracer = phone(&clock, &dir.path().join("db"));
    tracer
        .apply_risk_config(&signed(1, "first", &test_signer()))
        .unwrap();
    let forged = signed(9, "forged", &signer_with("452", "v1", 0x42));
    assert!(matches!(
        tracer.apply_risk_config(&forged).unwrap(),
        RiskConfigOutcome::Refused(RiskConfigError::BadSignature(_))
    ));
    assert!(matches!(
        tracer.apply_risk_config(b"<html>portal</html>").unwrap(),
        RiskConfigOutcome::Refused(RiskConfigError::Malformed(_))
    ));
    assert_eq!(tracer.risk_config().unwrap(), held(1, "first"));
}

/// An authority serving an empty index and, when set, a risk configuration.
#[derive(Default)]
struct Authority {
    config: Mutex<Option<Vec<u8>>>,
    config_fetches: Mutex<u32>,
}

impl Transport for Authority {
    fn post(&self, _path: &str, _body: &[u8]) -> Result<HttpReply, TransportError> {
        Err(TransportError("downloads never post".into()))
    }

    fn get(&self, path: &str) -> Result<HttpReply, TransportError> {
        let reply = |status, body| Ok(HttpReply { status, body });
        match path {
            "/v1/index.txt" => reply(200, Vec::new()),
            "/v1/risk-config.json" => {
                *self.config_fetches.lock().unwrap() += 1;
                match self.config.lock().unwrap().clone() {
                    Some(body) => reply(200, body),
                    None => reply(404, Vec::new()),
                }
            }
            _ => reply(404, Vec::new()),
        }
    }
}

#[test]
fn downloads_fetch_the_configuration_once_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(MORNING));
    let tracer = phone(&clock, &dir.path().join("db"));
    let authority = Authority::default();

    // None published: not an error.
    tracer.download_key_files(&authority).unwrap();
    assert_eq!(tracer.risk_config().unwrap(), None);

    *authority.config.lock().unwrap() = Some(signed(2, "published", &test_signer()));
    let run = tracer.download_all(&authority, &|| false);
    assert!(matches!(run.end, bluezone_core::DownloadEnd::Done));
    assert_eq!(*authority.config_fetches.lock().unwrap(), 2);
    assert_eq!(tracer.risk_config().unwrap(), held(2, "published"));

    // A broken file is ignored; the download goes on and the held one stays.
    *authority.config.lock().unwrap() = Some(b"{\"config\":\"!!\"}".to_vec());
    tracer.download_key_files(&authority).unwrap();
    assert_eq!(tracer.risk_config().unwrap(), held(2, "published"));
}
