//! The logging port: a phone run from opening to an upload leaves log records an engineer
//! can follow, and none of them carries a secret (a key, an identifier, the code, the token,
//! the certificate, the HMAC secret) in any usual spelling.
//!
//! One test only: a process has one logger.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code.

use std::sync::{Arc, Mutex};

use base64ct::{Base64, Encoding};
use bluezone_core::{
    AdvertData, HttpReply, ManualClock, SightingInput, Transport, TransportError, UploadConsent,
};
use bluezone_protocol::TemporaryExposureKey;
use bluezone_protocol::exchange::{CERTIFICATE_AAD, PUBLISH_AAD, VERIFY_AAD};
use bluezone_protocol::messages::{
    CertificateResponse, PublishPayload, PublishResponse, VerifyRequest, VerifyResponse,
};
use bluezone_protocol::upload::UploadOpenKey;
use bluezone_testkit::MORNING;
use bluezone_testkit::keys::{self, advert, confirmed};
use bluezone_testkit::phone::TestPhone;
use bluezone_testkit::secrets::{assert_hidden, assert_hidden_text};
use bluezone_testkit::signer::test_signer;
use rand::SeedableRng;

const CODE: &str = "90817263";

/// Every record, as `level target message`.
static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        RECORDS.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

fn key_file(tek: &TemporaryExposureKey) -> Vec<u8> {
    keys::key_file(MORNING + 86_400, &[confirmed(tek, MORNING)], &test_signer())
}

/// The health authority's server, answering the sealed exchange, and remembering every
/// secret it saw.
struct Server {
    open_key: UploadOpenKey,
    file: Vec<u8>,
    rng: Mutex<rand::rngs::StdRng>,
    /// Secrets as they travelled (strings) or as bytes.
    seen: Mutex<(Vec<String>, Vec<Vec<u8>>)>,
}

impl Server {
    fn reply<T: serde::Serialize>(
        &self,
        aad: &[u8],
        body: &[u8],
        answer: impl FnOnce(&[u8]) -> T,
    ) -> HttpReply {
        let (plaintext, reply_key) = self.open_key.open_request(aad, body).unwrap();
        let answer = serde_json::to_vec(&answer(&plaintext)).unwrap();
        let sealed = reply_key
            .seal_reply(200, &answer, &mut *self.rng.lock().unwrap())
            .unwrap();
        HttpReply {
            status: 200,
            body: sealed,
        }
    }

    fn keep(&self, text: &str) {
        self.seen.lock().unwrap().0.push(text.to_owned());
    }
}

impl Transport for Server {
    fn post(&self, path: &str, body: &[u8]) -> Result<HttpReply, TransportError> {
        Ok(match path {
            "/v1/verify" => self.reply(VERIFY_AAD, body, |plain| {
                let request: VerifyRequest = serde_json::from_slice(plain).unwrap();
                self.keep(&request.code);
                let token = Base64::encode_string(&[0x5a; 32]);
                self.keep(&token);
                VerifyResponse {
                    token,
                    report_type: 1,
                    symptom_onset_interval: None,
                    padding: String::new(),
                }
            }),
            "/v1/certificate" => self.reply(CERTIFICATE_AAD, body, |_| {
                let certificate = Base64::encode_string(&[0xce; 48]);
                self.keep(&certificate);
                CertificateResponse {
                    certificate,
                    padding: String::new(),
                }
            }),
            "/v1/publish" => self.reply(PUBLISH_AAD, body, |plain| {
                let payload: PublishPayload = serde_json::from_slice(plain).unwrap();
                self.keep(&payload.hmac_key);
                let mut seen = self.seen.lock().unwrap();
                seen.1.push(Base64::decode_vec(&payload.hmac_key).unwrap());
                for key in &payload.keys {
                    seen.0.push(key.key.clone());
                    seen.1.push(Base64::decode_vec(&key.key).unwrap());
                }
                PublishResponse {
                    inserted: payload.keys.len() as u32,
                    padding: String::new(),
                }
            }),
            _ => HttpReply {
                status: 404,
                body: Vec::new(),
            },
        })
    }

    fn get(&self, path: &str) -> Result<HttpReply, TransportError> {
        let body = match path {
            "/v1/index.txt" => b"broken.zip\nf0.zip\n".to_vec(),
            "/v1/files/f0.zip" => self.file.clone(),
            "/v1/files/broken.zip" => b"not a zip".to_vec(),
            _ => {
                return Ok(HttpReply {
                    status: 404,
                    body: Vec::new(),
                });
            }
        };
        Ok(HttpReply { status: 200, body })
    }
}

#[test]
fn a_phone_run_is_logged_without_any_secret() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let f0 = TemporaryExposureKey::from_bytes([0xf0; 16]);
    let open_key = UploadOpenKey::derive(&[0x44; 32]).unwrap();
    let upload_public_key = Some(open_key.public_key());
    let server = Server {
        open_key,
        file: key_file(&f0),
        rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(9)),
        seen: Mutex::new((Vec::new(), Vec::new())),
    };
    let clock = Arc::new(ManualClock::new(MORNING));
    let dir = tempfile::tempdir().unwrap();
    let tracer = TestPhone::new()
        .configure(|c| c.upload_public_key = upload_public_key)
        .file(&dir.path().join("bluezone.db"))
        .master_key(1)
        .seed(1)
        .open(&clock);

    // A morning near the F0, advertising meanwhile.
    let mut secrets: Vec<Vec<u8>> = vec![f0.expose_bytes().to_vec()];
    for scan in 0..8 {
        let t = MORNING + scan * 300;
        clock.set(t + 4);
        let own = tracer.current_advertisement().unwrap();
        secrets.push(own.advertisement.rpi.as_bytes().to_vec());
        secrets.push(own.advertisement.aem.as_bytes().to_vec());
        let heard = advert(&f0, t);
        secrets.push(heard.rpi.as_bytes().to_vec());
        secrets.push(heard.aem.as_bytes().to_vec());
        let batch: Vec<SightingInput> = (0..3)
            .map(|k| SightingInput {
                advert: AdvertData::ServiceData(heard.service_data().to_vec()),
                rssi: -55 - k,
                time: t + i64::from(k),
                scan_window: Some(scan as u64),
            })
            .collect();
        tracer.record_sightings(&batch).unwrap();
    }

    // The next day: the F0's key is published, this phone downloads it and is notified.
    clock.set(MORNING + 86_400 + 7200);
    let status = tracer.download_key_files(&server).unwrap();
    assert!(status.notify, "{status:?}");
    assert_eq!((status.files_matched, status.files_failed), (1, 1));
    tracer.run_maintenance().unwrap();

    // Then this phone's person tests positive and uploads.
    let now = MORNING + 86_400 + 7300;
    clock.set(now);
    tracer.current_advertisement().unwrap();
    let verified = tracer.verify_code(&server, CODE).unwrap();
    let receipt = tracer
        .upload_keys(&server, &verified, UploadConsent { agreed_at: now })
        .unwrap();
    assert!(receipt.keys_accepted >= 2);
    drop(tracer);

    let records = RECORDS.lock().unwrap().clone();
    let all = records.join("\n");
    for expected in [
        "bluezone_core::engine store opened",
        "key file broken.zip refused: MalformedZip",
        "key file f0.zip: 1 keys, 1 matched",
        "bluezone_core::download_batch download batch: 2 fetched, 1 matched",
        "maintenance: 0 days purged",
        "upload: code verified",
        "upload: certificate obtained",
        "upload: published",
    ] {
        assert!(all.contains(expected), "no {expected:?} in\n{all}");
    }

    let (texts, bytes) = &*server.seen.lock().unwrap();
    assert!(!texts.is_empty() && !bytes.is_empty());
    for record in &records {
        assert_hidden_text(record, CODE);
        for text in texts {
            assert_hidden_text(record, text);
        }
        for secret in secrets.iter().chain(bytes) {
            assert_hidden(record, secret);
        }
    }
}
