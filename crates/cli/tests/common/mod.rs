//! What the server process tests share: a site (database, secret, files) on SQLite or a
//! scratch PostgreSQL schema, `bluezone server run` processes on it, officials' codes,
//! phones that upload through the real client, and reading back what was published.

#![allow(dead_code, clippy::unwrap_used, clippy::cast_possible_truncation)] // Test code: not every binary uses every helper.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use bluezone_core::{
    CoreError, HttpTransport, ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig,
    UploadConsent,
};
use bluezone_protocol::keyfile::{KeyFileLimits, TrustedKeys, read_key_file};
use bluezone_protocol::{IntervalNumber, RollingProximityIdentifier, TemporaryExposureKey};
use bluezone_server::AuthorityKeys;
use bluezone_server::store::PostgresServerStore;
use rand::SeedableRng;

pub const PASSWORD: &str = "a long password for ops";

pub fn bluezone(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bluezone"))
        .args(args)
        .env("BLUEZONE_OFFICIAL_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server's files in one folder.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// `--db <file>`, or `--database <PostgreSQL URL>`.
    pub database: [String; 2],
    /// The scratch schema of a PostgreSQL site, dropped with it.
    _postgres: Option<PostgresServerStore>,
    /// Whether published files live in the database (PostgreSQL, no `--files`).
    pub files_in_database: bool,
}

impl Site {
    /// A site on a SQLite file.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db").to_str().unwrap().to_owned();
        Self::with_database(dir, ["--db".into(), db], None)
    }

    /// A site on a scratch schema of the test PostgreSQL (`None` when it is skipped).
    pub fn on_postgres() -> Option<Self> {
        let url = PostgresServerStore::test_url().unwrap()?;
        let scratch = PostgresServerStore::scratch(&url).unwrap();
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!(
            "{url}{separator}options=-csearch_path%3D{}",
            scratch.scratch_schema().unwrap()
        );
        let dir = tempfile::tempdir().unwrap();
        Some(Self::with_database(
            dir,
            ["--database".into(), url],
            Some(scratch),
        ))
    }

    pub fn with_database(
        dir: tempfile::TempDir,
        database: [String; 2],
        postgres: Option<PostgresServerStore>,
    ) -> Self {
        let site = Self {
            dir,
            port: free_port(),
            database,
            _postgres: postgres,
            files_in_database: false,
        };
        let mut args = vec!["official", "add", "--name", "ops"];
        args.extend(site.database.iter().map(String::as_str));
        let secret = site.path("secret");
        args.extend(["--secret-file", secret.to_str().unwrap()]);
        let out = bluezone(&args);
        assert!(out.status.success(), "{out:?}");
        site
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `bluezone server <command>` on this site's database, secret and files folder,
    /// with `extra` arguments.
    pub fn server_command(&self, command: &str, extra: &[&str]) -> Output {
        let path = |name: &str| self.path(name).to_str().unwrap().to_owned();
        let mut args = vec![
            "server".to_owned(),
            command.to_owned(),
            self.database[0].clone(),
            self.database[1].clone(),
            "--secret-file".to_owned(),
            path("secret"),
        ];
        if !self.files_in_database {
            args.extend(["--files".to_owned(), path("files")]);
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        bluezone(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn keys(&self) -> AuthorityKeys {
        let secret: [u8; 32] = std::fs::read(self.path("secret"))
            .unwrap()
            .try_into()
            .unwrap();
        AuthorityKeys::derive(&secret, "452", "v1").unwrap()
    }

    /// The same site with its published files in the database (PostgreSQL only), as
    /// stateless instances run it.
    #[must_use]
    pub fn with_files_in_database(mut self) -> Self {
        assert!(self._postgres.is_some(), "files live in PostgreSQL only");
        self.files_in_database = true;
        self
    }

    /// Starts `bluezone server run`, publishing every second, and waits until it answers.
    pub fn start(&self) -> Server {
        self.start_with(&[])
    }

    /// [`Site::start`] with more arguments.
    pub fn start_with(&self, extra: &[&str]) -> Server {
        self.start_on(self.port, extra)
    }

    /// [`Site::start_with`] listening on `port` (another instance of the same site).
    pub fn start_on(&self, port: u16, extra: &[&str]) -> Server {
        let files = self.path("files").to_str().unwrap().to_owned();
        let files_args: &[&str] = if self.files_in_database {
            &[]
        } else {
            &["--files", &files]
        };
        let base = format!("http://127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_bluezone"))
            .args(["server", "run", &self.database[0], &self.database[1]])
            .args(files_args)
            .args([
                "--secret-file",
                self.path("secret").to_str().unwrap(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--publish-every",
                "1",
                "--min-keys-per-file",
                "10",
            ])
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&(line + "\n"));
                }
            })
        };
        let agent = agent();
        let started = Instant::now();
        while agent.get(format!("{base}/v1/index.txt")).call().is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the server did not start: {}",
                log.lock().unwrap()
            );
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the server exited ({status}): {}", log.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            child,
            log,
            reader: Some(reader),
        }
    }
}

pub struct Server {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends a signal with the system's `kill`.
    pub fn send(&self, name: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits until the log has a line containing `text`.
    pub fn wait_for_log(&self, text: &str) {
        let started = Instant::now();
        while !self.log.lock().unwrap().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never logged {text:?}: {}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal with the system's `kill` and waits for the exit.
    pub fn signal(self, name: &str) -> (std::process::ExitStatus, String) {
        self.send(name);
        self.signal_sent()
    }

    /// Waits for the exit after a signal [`Server::send`] sent.
    pub fn signal_sent(mut self) -> (std::process::ExitStatus, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no exit after the signal"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }

    /// Peak resident memory so far, in KiB (Linux).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

pub fn issue_code(base: &str) -> String {
    let auth = format!(
        "Basic {}",
        Base64::encode_string(format!("ops:{PASSWORD}").as_bytes())
    );
    let mut response = agent()
        .post(format!("{base}/api/official/codes"))
        .header("Authorization", &auth)
        .header("Content-Type", "application/json")
        .send(&br#"{"reportType":1}"#[..])
        .unwrap();
    let body = response.body_mut().read_to_vec().unwrap();
    assert_eq!(
        response.status().as_u16(),
        201,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["code"].as_str().unwrap().to_owned()
}

/// A phone that advertised on each of the last `days` days; remembers one RPI per day.
pub struct Phone {
    pub tracer: Tracer,
    pub clock: Arc<ManualClock>,
    pub heard: Vec<(IntervalNumber, RollingProximityIdentifier)>,
}

pub fn phone(keys: &AuthorityKeys, seed: u64, days: i64) -> Phone {
    let now = unix_now();
    let clock = Arc::new(ManualClock::new(now - days * 86_400));
    let config = TracerConfig {
        trusted_signers: TrustedKeys::single(keys.file_signer().trusted_key()),
        upload_public_key: Some(keys.upload_key().public_key()),
        ..TracerConfig::default()
    };
    let tracer = Tracer::open_with(
        config,
        StorageLocation::InMemory,
        &MasterKey::from_bytes([seed as u8; 32]),
        clock.clone(),
        Box::new(rand::rngs::StdRng::seed_from_u64(seed)),
    )
    .unwrap();
    let mut heard = Vec::new();
    for day in (1..=days).rev() {
        clock.set(now - day * 86_400);
        let advert = tracer.current_advertisement().unwrap();
        heard.push((advert.interval, advert.advertisement.rpi));
    }
    clock.set(now);
    Phone {
        tracer,
        clock,
        heard,
    }
}

/// Verifies a code and uploads, retrying through network failures (the server is being
/// killed and restarted); `true` once the server acknowledged the upload.
pub fn upload_until_acknowledged(phone: &Phone, base: &str, code: &str) -> bool {
    let transport = HttpTransport::new(base);
    let deadline = Instant::now() + Duration::from_secs(60);
    let verified = loop {
        match phone.tracer.verify_code(&transport, code) {
            Ok(v) => break v,
            Err(CoreError::Network(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            // A verify answered but lost to a kill leaves the code used: no upload.
            Err(_) => return false,
        }
    };
    loop {
        phone.clock.set(unix_now());
        let consent = UploadConsent {
            agreed_at: unix_now(),
        };
        match phone.tracer.upload_keys(&transport, &verified, consent) {
            Ok(receipt) => {
                assert!(receipt.keys_accepted >= 1);
                return true;
            }
            Err(CoreError::Network(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("upload refused: {e}"),
        }
    }
}

/// Uploads from every phone, each in its own thread with its own code, the i-th starting
/// after i × `stagger`; returns the threads and the indices of the phones acknowledged.
pub fn upload_all(
    phones: &[Arc<Phone>],
    base: &str,
    stagger: Duration,
    upload: fn(&Phone, &str, &str) -> bool,
) -> (Vec<std::thread::JoinHandle<()>>, Arc<Mutex<Vec<usize>>>) {
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let threads = phones
        .iter()
        .enumerate()
        .map(|(i, phone)| {
            let code = issue_code(base);
            let (phone, base, acknowledged) =
                (phone.clone(), base.to_owned(), acknowledged.clone());
            std::thread::spawn(move || {
                std::thread::sleep(stagger * i as u32);
                if upload(&phone, &base, &code) {
                    acknowledged.lock().unwrap().push(i);
                }
            })
        })
        .collect();
    (threads, acknowledged)
}

/// Every TEK in the files the server's index lists, verified.
pub fn published_teks(base: &str, keys: &AuthorityKeys) -> Vec<([u8; 16], u32)> {
    let agent = agent();
    let trust = TrustedKeys::single(keys.file_signer().trusted_key());
    let index = agent
        .get(format!("{base}/v1/index.txt"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let mut teks = Vec::new();
    for name in index.lines() {
        let mut response = agent.get(format!("{base}/v1/files/{name}")).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{name}");
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        let file = read_key_file(&bytes, &trust, &KeyFileLimits::default()).unwrap();
        teks.extend(
            file.keys
                .iter()
                .map(|k| (k.key_data, k.rolling_start.get())),
        );
    }
    teks
}

/// [`published_teks`] once every key the `acknowledged` phones uploaded is listed (a
/// publishing run may still be due after a restart), or after a minute if one never is: the
/// caller's assertions then say which.
pub fn published_teks_when_settled(
    base: &str,
    keys: &AuthorityKeys,
    phones: &[Arc<Phone>],
    acknowledged: &[usize],
) -> Vec<([u8; 16], u32)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let teks = published_teks(base, keys);
        let all_listed = acknowledged.iter().all(|i| {
            phones[*i]
                .heard
                .iter()
                .all(|(interval, rpi)| times_published(&teks, *interval, *rpi) >= 1)
        });
        if all_listed || Instant::now() >= deadline {
            return teks;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// How many published keys produce the RPI this phone advertised at that interval.
pub fn times_published(
    teks: &[([u8; 16], u32)],
    interval: IntervalNumber,
    rpi: RollingProximityIdentifier,
) -> usize {
    teks.iter()
        .filter(|(_, start)| *start == interval.rolling_start().get())
        .filter(|(key, _)| {
            let tek = TemporaryExposureKey::from_slice(key).unwrap();
            tek.derive_keys().rpik.identifier(interval) == rpi
        })
        .count()
}

/// A sealed request to a phone endpoint over ureq; the reply opened.
pub fn sealed_exchange(base: &str, keys: &AuthorityKeys, path: &str, plaintext: &[u8]) -> Vec<u8> {
    use bluezone_protocol::exchange::{CERTIFICATE_AAD, VERIFY_AAD, seal_request};
    let aad = if path == "/v1/verify" {
        VERIFY_AAD
    } else {
        CERTIFICATE_AAD
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(plaintext.len() as u64);
    let (body, reply_key) =
        seal_request(&keys.upload_key().public_key(), aad, plaintext, &mut rng).unwrap();
    let mut response = agent()
        .post(format!("{base}{path}"))
        .send(&body[..])
        .unwrap();
    let sealed = response.body_mut().read_to_vec().unwrap();
    let (status, reply) = reply_key.open_reply(&sealed).unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    reply.to_vec()
}

/// Verifies a code and uploads once; `true` if the server acknowledged the upload (a
/// network failure, the server having stopped, is `false`).
pub fn upload_once(phone: &Phone, base: &str, code: &str) -> bool {
    let transport = HttpTransport::new(base);
    let Ok(verified) = phone.tracer.verify_code(&transport, code) else {
        return false;
    };
    phone.clock.set(unix_now());
    let consent = UploadConsent {
        agreed_at: unix_now(),
    };
    match phone.tracer.upload_keys(&transport, &verified, consent) {
        Ok(receipt) => receipt.keys_accepted >= 1,
        Err(CoreError::Network(_)) => false,
        Err(e) => panic!("upload refused: {e}"),
    }
}

/// Asserts that every key each acknowledged phone advertised with is in exactly one of the
/// published files' `teks`.
pub fn assert_each_published_once(
    phones: &[Arc<Phone>],
    acknowledged: &[usize],
    teks: &[([u8; 16], u32)],
) {
    for i in acknowledged {
        for (interval, rpi) in &phones[*i].heard {
            assert_eq!(
                times_published(teks, *interval, *rpi),
                1,
                "phone {i}'s key of interval {interval} is not in exactly one file"
            );
        }
    }
}

impl Site {
    /// Writes a GAEN risk configuration document with this notification level and note to
    /// `name` in the site's folder and runs `server risk-config --set` on it.
    pub fn set_risk_config(&self, name: &str, notify_minutes: f64, note: &str) -> Output {
        let mut document = bluezone_protocol::risk_config::RiskConfigDocument::new(
            0,
            0,
            &bluezone_protocol::risk::RiskConfig::default(),
            note,
        );
        document
            .parameters
            .gaen_mut()
            .unwrap()
            .notify_weighted_minutes = notify_minutes;
        std::fs::write(self.path(name), serde_json::to_vec(&document).unwrap()).unwrap();
        self.server_command("risk-config", &["--set", self.path(name).to_str().unwrap()])
    }
}
