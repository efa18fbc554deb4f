//! End to end on the phone side: a phone that was near a person who tested positive (F0) is
//! notified after downloading a signed key file; one that was not near is not.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

use std::sync::Arc;

use bluezone_core::{
    AdvertData, CoreError, ManualClock, RiskConfigOutcome, SightingInput, Tracer, TracerConfig,
};
use bluezone_protocol::TemporaryExposureKey;
use bluezone_protocol::keyfile::{DiagnosisKey, KeyFileError};
use bluezone_protocol::risk::RiskConfig;
use bluezone_protocol::risk_config::{GaenParameters, RiskConfigDocument, write_risk_config};
use bluezone_testkit::MORNING;
use bluezone_testkit::keys::{advert, confirmed, key_file};
use bluezone_testkit::phone::TestPhone;
use bluezone_testkit::signer::{signer_with, test_signer};

fn phone(clock: &Arc<ManualClock>, seed: u64) -> Tracer {
    TestPhone::new()
        .master_key(seed as u8)
        .seed(seed)
        .open(clock)
}

/// A morning of scans every 5 minutes; from `near_from` for 30 minutes the F0 is heard at
/// `f0_rssi`, and a stranger is heard all along.
fn morning(phone: &Tracer, clock: &ManualClock, f0: Option<(&TemporaryExposureKey, i16)>) {
    let stranger = TemporaryExposureKey::from_bytes([0x77; 16]);
    for scan in 0..24 {
        let t = MORNING + scan * 300;
        clock.set(t + 4);
        let mut batch = vec![SightingInput {
            advert: AdvertData::Raw(advert(&stranger, t).to_legacy_payload().to_vec()),
            rssi: -80,
            time: t,
            scan_window: Some(scan as u64),
        }];
        if let Some((tek, rssi)) = f0.filter(|_| (6..13).contains(&scan)) {
            for k in 0..10 {
                batch.push(SightingInput {
                    advert: AdvertData::ServiceData(advert(tek, t).service_data().to_vec()),
                    rssi: rssi + (k % 3),
                    time: t + i64::from(k / 3),
                    scan_window: Some(scan as u64),
                });
            }
        }
        phone.record_sightings(&batch).unwrap();
    }
}

struct Told(std::sync::atomic::AtomicU32);

impl bluezone_core::Notifier for Told {
    fn exposure_detected(&self, status: &bluezone_core::ExposureStatus) {
        assert!(status.notify);
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn published(teks: &[&TemporaryExposureKey]) -> Vec<u8> {
    let keys: Vec<DiagnosisKey> = teks.iter().map(|tek| confirmed(tek, MORNING)).collect();
    key_file(MORNING + 86_400, &keys, &test_signer())
}

#[test]
fn the_phone_near_the_f0_is_notified_and_the_other_is_not() {
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let others: Vec<TemporaryExposureKey> = (0..50u8)
        .map(|i| TemporaryExposureKey::from_bytes([i; 16]))
        .collect();
    let clock = Arc::new(ManualClock::new(MORNING));
    let near = phone(&clock, 1);
    let far = phone(&clock, 2);
    let across_the_street = phone(&clock, 3);
    morning(&near, &clock, Some((&f0, -55)));
    morning(&far, &clock, None);
    morning(&across_the_street, &clock, Some((&f0, -92)));

    let mut keys: Vec<&TemporaryExposureKey> = others.iter().collect();
    keys.push(&f0);
    let file = published(&keys);
    clock.set(MORNING + 86_400 + 7200);

    let told = Arc::new(Told(std::sync::atomic::AtomicU32::new(0)));
    near.set_notifier(Some(told.clone())).unwrap();
    let status = near.process_key_file(&file).unwrap();
    assert!(status.notify, "{status:?}");
    assert_eq!(
        told.0.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the notifier was told"
    );
    assert!(status.newly_notified);
    assert_eq!(status.files_matched, 1);
    assert_eq!(status.keys_checked, 51);
    let day = status.exposure_day.unwrap();
    assert_eq!(i64::from(day.get()), MORNING / 86_400);
    assert_eq!(status.days.len(), 1);
    // 7 scans of 5 minutes at 40 dB (−15 − (−55)): 35 weighted minutes.
    assert_eq!(status.days[0].weighted_minutes, 35.0);
    assert!(status.days[0].over_threshold);

    let again = near.process_key_file(&file).unwrap();
    assert_eq!(
        told.0.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "told once"
    );
    assert_eq!((again.files_matched, again.files_already_matched), (0, 1));
    assert!(again.notify && !again.newly_notified, "told once");
    assert_eq!(again.days, status.days, "not counted twice");
    assert_eq!(near.exposure_status().unwrap().days, status.days);

    let status = far.process_key_file(&file).unwrap();
    assert!(!status.notify && status.days.is_empty(), "{status:?}");
    let status = across_the_street.process_key_file(&file).unwrap();
    assert!(!status.notify, "77 dB away is too far: {status:?}");
}

#[test]
fn refused_files_change_nothing() {
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let clock = Arc::new(ManualClock::new(MORNING));
    let near = phone(&clock, 1);
    morning(&near, &clock, Some((&f0, -55)));
    let good = published(&[&f0]);
    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x40;
    let err = near.process_key_files(&[&tampered]).unwrap_err();
    assert!(
        matches!(err, CoreError::KeyFile { index: 0, .. }),
        "{err:?}"
    );
    assert!(!near.exposure_status().unwrap().notify);

    let impostor = signer_with("452", "v1", 0x99);
    let forged = key_file(MORNING + 86_400, &[], &impostor);
    let err = near.process_key_files(&[&good, &forged]).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::KeyFile {
                index: 1,
                error: KeyFileError::BadSignature(_)
            }
        ),
        "{err:?}"
    );
    // The good file before it was processed and kept.
    assert!(near.exposure_status().unwrap().notify);

    let untrusting = TestPhone::new()
        .config(TracerConfig::default())
        .master_key(5)
        .seed(5)
        .open(&clock);
    assert!(matches!(
        untrusting.process_key_file(&good),
        Err(CoreError::NoTrustedSigners)
    ));
}

/// `export.bin` and `export.sig` zipped, the signature first.
fn zipped(export: &[u8], sig: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in [("export.sig", sig), ("export.bin", export)] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A file is matched while it is read, but what it matched counts only if its signature
/// verifies at the end: a file whose keys match and whose signature fails leaves nothing
/// stored, tells no one and is not recorded as processed.
#[test]
fn a_file_whose_signature_fails_at_the_end_leaves_no_trace() {
    use bluezone_protocol::keyfile::encode_export;
    use bluezone_testkit::keys::export_info;
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let clock = Arc::new(ManualClock::new(MORNING));
    let near = phone(&clock, 1);
    morning(&near, &clock, Some((&f0, -55)));
    let mut keys: Vec<DiagnosisKey> = (0..40_000u32)
        .map(|i| {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&i.to_le_bytes());
            confirmed(&TemporaryExposureKey::from_bytes(bytes), MORNING)
        })
        .collect();
    keys.push(confirmed(&f0, MORNING));
    let export = encode_export(&export_info(MORNING + 86_400), &keys, &[], &[]);
    let signer = test_signer();
    let good = zipped(&export, &signer.signature_list(&export, 1, 1));
    let bad = zipped(&export, &signer.signature_list(b"another export.bin", 1, 1));
    clock.set(MORNING + 86_400 + 7200);
    let told = Arc::new(Told(std::sync::atomic::AtomicU32::new(0)));
    near.set_notifier(Some(told.clone())).unwrap();

    let err = near.process_key_file(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::KeyFile {
                index: 0,
                error: KeyFileError::BadSignature(_)
            }
        ),
        "{err:?}"
    );
    let status = near.exposure_status().unwrap();
    assert!(!status.notify && status.days.is_empty(), "{status:?}");
    assert_eq!(told.0.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The same export.bin, signed: matched now, so it was not recorded as processed.
    let status = near.process_key_file(&good).unwrap();
    assert_eq!((status.files_matched, status.files_already_matched), (1, 0));
    assert_eq!(status.keys_checked, 40_001);
    assert!(status.notify && status.newly_notified, "{status:?}");
    assert_eq!(told.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// The authority's configuration `document`, signed by the trusted test signer.
fn signed_config(sequence: u64, change: impl FnOnce(&mut GaenParameters)) -> Vec<u8> {
    let mut document = RiskConfigDocument::new(sequence, MORNING, &RiskConfig::default(), "test");
    change(document.parameters.gaen_mut().unwrap());
    write_risk_config(&document, &test_signer()).unwrap()
}

#[test]
fn the_authoritys_configuration_rescores_the_stored_windows() {
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let clock = Arc::new(ManualClock::new(MORNING));
    let across_the_street = phone(&clock, 3);
    morning(&across_the_street, &clock, Some((&f0, -92)));
    clock.set(MORNING + 86_400 + 7200);
    let status = across_the_street
        .process_key_file(&published(&[&f0]))
        .unwrap();
    assert!(!status.notify, "77 dB away weighs nothing by default");

    // The authority counts the farthest bucket fully: the same window now notifies.
    let file = signed_config(1, |p| p.attenuation_weights = [1.0, 1.0, 1.0, 1.0]);
    assert_eq!(
        across_the_street.apply_risk_config(&file).unwrap(),
        RiskConfigOutcome::Applied { sequence: 1 }
    );
    let status = across_the_street.exposure_status().unwrap();
    assert!(status.notify && status.newly_notified, "{status:?}");
    assert_eq!(status.days[0].weighted_minutes, 35.0);

    // A higher threshold takes it back.
    let file = signed_config(2, |p| p.notify_weighted_minutes = 60.0);
    across_the_street.apply_risk_config(&file).unwrap();
    assert!(!across_the_street.exposure_status().unwrap().notify);
}

#[test]
fn a_cwa_configuration_switches_the_phone_to_cwas_model_and_back() {
    // 60 dB for the morning: beyond GAEN's default near buckets, inside CWA's [55, 63) range
    // weighted 0.5 (times 1.6 for a confirmed case one day after onset).
    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let clock = Arc::new(ManualClock::new(MORNING));
    let tracer = phone(&clock, 3);
    morning(&tracer, &clock, Some((&f0, -75)));
    clock.set(MORNING + 86_400 + 7200);
    let status = tracer.process_key_file(&published(&[&f0])).unwrap();
    assert!(!status.notify, "60 dB weighs nothing under GAEN's defaults");

    let cases: serde_json::Value = serde_json::from_str(include_str!(
        "../../protocol/tests/fixtures/cwa/exposure-windows-risk-calculation.json"
    ))
    .unwrap();
    let cwa = RiskConfigDocument::new_cwa(
        1,
        MORNING,
        serde_json::from_value(cases["defaultRiskCalculationConfiguration"].clone()).unwrap(),
        "CWA",
    );
    let file = write_risk_config(&cwa, &test_signer()).unwrap();
    assert_eq!(
        tracer.apply_risk_config(&file).unwrap(),
        RiskConfigOutcome::Applied { sequence: 1 }
    );
    assert_eq!(tracer.risk_config().unwrap().unwrap().model, "cwa");
    let status = tracer.exposure_status().unwrap();
    assert!(status.notify && status.newly_notified, "{status:?}");
    assert!(status.days[0].over_threshold);
    // The first 30-minute window: weighted 0.5 is 15 minutes, times the transmission risk
    // value 1.6 is 24; the last 5 minutes' window (4) maps to no level and CWA ignores it.
    assert!(
        (status.days[0].score / 60.0 - 24.0).abs() < 1e-9,
        "{status:?}"
    );
    assert_eq!(status.days[0].weighted_minutes, 15.0);

    // A later GAEN configuration takes the phone back to GAEN's model.
    let file = signed_config(2, |p| p.notify_weighted_minutes = 20.0);
    tracer.apply_risk_config(&file).unwrap();
    assert_eq!(
        tracer.risk_config().unwrap().unwrap().model,
        "gaen-daily-summaries"
    );
    assert!(!tracer.exposure_status().unwrap().notify);
}
