//! The officials' web page in headless Chromium, driven over WebDriver (chromedriver), in
//! both its languages: Vietnamese by default, English chosen with the switch (and
//! remembered) or preferred by the browser. An official signs in, is refused with a
//! translated message, issues a code, sees it pending and counted in the activity table,
//! revokes it, sees it revoked; the server agrees. Needs Debian's `chromium` and `chromium-driver`, which `scripts/test` installs
//! and then runs this test explicitly (it is `#[ignore]`d for plain `cargo test`).

#![allow(clippy::unwrap_used)] // Test code.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::{Clock, ManualClock};
use bluezone_server::files::MemoryFileStore;
use bluezone_server::store::SqliteServerStore;
use bluezone_server::{Authority, AuthorityConfig, AuthorityKeys};
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
    session: String,
}

impl Driver {
    /// A browser whose preferred languages are `languages` (as `Accept-Language`).
    fn start(languages: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (scripts/test installs chromium-driver)");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap().keep();
        let mut driver = Self {
            child,
            base,
            agent,
            session: String::new(),
        };
        let created = driver.call(
            "POST",
            "/session",
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run",
                             "--disable-quic", format!("--lang={languages}"),
                             format!("--user-data-dir={}", profile.display())],
                    "prefs": { "intl.accept_languages": languages }
                }
            }}}),
        );
        driver.session = created["sessionId"].as_str().unwrap().to_owned();
        driver
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match method {
            "GET" => self.agent.get(&url).call().unwrap(),
            "DELETE" => self.agent.delete(&url).call().unwrap(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(body).unwrap().as_slice())
                .unwrap(),
        };
        let status = response.status().as_u16();
        let value: Value =
            serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
        assert_eq!(status, 200, "{method} {path}: {value}");
        value["value"].clone()
    }

    fn session(&self, method: &str, path: &str, body: &Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn find(&self, css: &str) -> String {
        let found = self.session(
            "POST",
            "/element",
            &json!({"using": "css selector", "value": css}),
        );
        found[ELEMENT].as_str().unwrap().to_owned()
    }

    fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.session("GET", &format!("/element/{id}/text"), &Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.find(css);
        self.session(
            "GET",
            &format!("/element/{id}/attribute/{name}"),
            &Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    fn clear(&self, css: &str) {
        let id = self.find(css);
        self.session("POST", &format!("/element/{id}/clear"), &json!({}));
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session(
            "POST",
            &format!("/element/{id}/value"),
            &json!({ "text": text }),
        );
    }

    fn click(&self, css: &str) {
        let id = self.find(css);
        self.session("POST", &format!("/element/{id}/click"), &json!({}));
    }

    fn wait_for(&self, css: &str, what: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text(css);
            if what(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed what was expected: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The strings a test expects in one language.
struct Expected {
    lang: &'static str,
    heading: &'static str,
    wrong_password: &'static str,
    pending: &'static str,
    revoked: &'static str,
}

const VIETNAMESE: Expected = Expected {
    lang: "vi",
    heading: "Cấp mã xác minh",
    wrong_password: "Tên đăng nhập hoặc mật khẩu không đúng.",
    pending: "Chưa sử dụng",
    revoked: "Đã thu hồi",
};

const ENGLISH: Expected = Expected {
    lang: "en",
    heading: "Issue a verification code",
    wrong_password: "Wrong name or password.",
    pending: "Pending",
    revoked: "Revoked",
};

/// An authority with one official, served on loopback, and a browser on its page.
struct Setup {
    authority: Arc<Authority>,
    official: i64,
    browser: Driver,
    _server: bluezone_server::loopback::LoopbackServer,
}

fn open_page(languages: &str) -> Setup {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_793_613_600)); // 2026-11-02 10:00
    let authority = Arc::new(Authority::new(
        AuthorityConfig::default(),
        AuthorityKeys::derive(&[6; 32], "452", "v1").unwrap(),
        Arc::new(SqliteServerStore::in_memory().unwrap()),
        Arc::new(MemoryFileStore::default()),
        [7; 32],
    ));
    let official = authority
        .create_official("dr.hoa", "correct horse battery", clock.now())
        .unwrap();
    let server = bluezone_e2e::serve(authority.clone(), clock);
    let browser = Driver::start(languages);
    browser.session(
        "POST",
        "/url",
        &json!({ "url": format!("{}/official", server.base) }),
    );
    Setup {
        authority,
        official,
        browser,
        _server: server,
    }
}

/// Checks the page is in `expected`'s language, is refused a wrong password with the
/// translated message, issues a code (the `issued`th of the official, shown in the
/// activity table), and revokes it.
fn issue_and_revoke(setup: &Setup, expected: &Expected, issued: usize) {
    let browser = &setup.browser;
    assert_eq!(browser.attribute("html", "lang"), expected.lang);
    browser.wait_for("h1", |t| t == expected.heading);

    browser.clear("#name");
    browser.type_into("#name", "dr.hoa");
    browser.clear("#password");
    browser.type_into("#password", "wrong password");
    browser.click("#issue");
    browser.wait_for("#message", |t| t == expected.wrong_password);

    browser.clear("#password");
    browser.type_into("#password", "correct horse battery");
    browser.click("#issue");
    let shown = browser.wait_for("#code", |t| t.len() == 9 && t.as_bytes()[4] == b' ');
    let codes = setup.authority.codes(setup.official).unwrap();
    assert_eq!(
        codes.len(),
        issued,
        "the server stored the code the page shows: {shown}"
    );
    browser.wait_for("#codes", |t| t.contains(expected.pending));
    let today = format!("2026-11-02 {issued} 0 0 0");
    // The table body, not a row: rows are replaced when the table is drawn.
    browser.wait_for("#activity", |t| {
        t.lines()
            .next()
            .is_some_and(|row| row.split_whitespace().collect::<Vec<_>>().join(" ") == today)
    });
    assert_eq!(browser.text("#riskConfig"), "—");

    browser.click("#codes tr[data-status=pending] button");
    browser.wait_for("#codes", |t| {
        t.matches(expected.revoked).count() == issued && !t.contains(expected.pending)
    });
    let newest = &setup.authority.codes(setup.official).unwrap()[0];
    assert!(newest.revoked_at.is_some());
    let log = setup.authority.audit_log().unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "revoke_code" && e.official_id == Some(setup.official))
    );
}

#[test]
#[ignore = "needs chromium and chromium-driver; scripts/test installs them and runs it"]
fn vietnamese_by_default_and_english_by_the_switch_which_is_remembered() {
    // A browser preferring neither language gets the default, Vietnamese.
    let setup = open_page("fr-FR,fr");
    issue_and_revoke(&setup, &VIETNAMESE, 1);

    setup.browser.click("#lang option[value=en]");
    setup.browser.wait_for("h1", |t| t == ENGLISH.heading);
    // The codes already shown are translated in place.
    setup
        .browser
        .wait_for("#codes", |t| t.contains(ENGLISH.revoked));
    setup.browser.session("POST", "/refresh", &json!({}));
    issue_and_revoke(&setup, &ENGLISH, 2);

    // Back in Vietnamese, a configuration of CWA's model.
    setup.browser.click("#lang option[value=vi]");
    setup.browser.wait_for("h1", |t| t == VIETNAMESE.heading);
    publish_cwa(&setup, 1);
    setup.browser.click("#refresh");
    setup.browser.wait_for("#riskConfig", |t| {
        t.starts_with("Số 1, ban hành ")
            && t.contains("mô hình Corona-Warn-App")
            && t.contains("nguy cơ cao từ 15 phút chuẩn hóa trong một ngày")
            && t.contains("khoảng suy hao 0–55/55–63/63–73 dB")
    });
}

#[test]
#[ignore = "needs chromium and chromium-driver; scripts/test installs them and runs it"]
fn english_for_a_browser_that_prefers_it() {
    let setup = open_page("en-US,en");
    issue_and_revoke(&setup, &ENGLISH, 1);

    // The authority publishes a risk configuration: the page shows it at the next refresh.
    let risk = bluezone_protocol::risk::RiskConfig {
        attenuation_thresholds_db: [55, 63, 70],
        notify_score: 1800.0,
        ..bluezone_protocol::risk::RiskConfig::default()
    };
    let document =
        bluezone_protocol::risk_config::RiskConfigDocument::new(1, 0, &risk, "from the sweep");
    setup
        .authority
        .publish_risk_config(document, None, 1_793_613_600)
        .unwrap();
    setup.browser.click("#refresh");
    setup.browser.wait_for("#riskConfig", |t| {
        t.starts_with("No. 1, issued ")
            && t.contains("notify from 30 weighted minutes in a day")
            && t.contains("attenuation thresholds 55/63/70 dB")
            && t.ends_with("from the sweep")
    });

    // Then a configuration of CWA's model.
    publish_cwa(&setup, 2);
    setup.browser.click("#refresh");
    setup.browser.wait_for("#riskConfig", |t| {
        t.starts_with("No. 2, issued ")
            && t.contains("Corona-Warn-App model")
            && t.contains("high risk from 15 normalized minutes in a day")
            && t.contains("attenuation ranges 0–55/55–63/63–73 dB")
            && t.ends_with("CWA's test configuration")
    });
}

/// Publishes CWA's test configuration (its published cases') as number `sequence`.
fn publish_cwa(setup: &Setup, sequence: u64) {
    let cases: Value = serde_json::from_str(include_str!(
        "../../../crates/protocol/tests/fixtures/cwa/exposure-windows-risk-calculation.json"
    ))
    .unwrap();
    let document = bluezone_protocol::risk_config::RiskConfigDocument::new_cwa(
        sequence,
        0,
        serde_json::from_value(cases["defaultRiskCalculationConfiguration"].clone()).unwrap(),
        "CWA's test configuration",
    );
    setup
        .authority
        .publish_risk_config(document, None, 1_793_613_600)
        .unwrap();
}
