//! Headless Chromium for the web-page tests (the vault console, the emergency viewer), driven
//! through ChromeDriver's W3C WebDriver protocol.
//!
//! Debian's `chromium` and `chromium-driver` packages provide `/usr/bin/chromium` and
//! `/usr/bin/chromedriver`; `scripts/test-all.sh` installs them and sets `KURA_REQUIRE_BROWSER`,
//! which turns a missing browser into a failure instead of a skip.
//!
//! The WebDriver client is written here by hand on purpose: it talks to one ChromeDriver on
//! loopback with a dozen JSON commands, and the crates made for this (fantoccini, thirtyfour)
//! would add a second async HTTP stack and the `webdriver` crate to every CI build for that.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key for a web element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless Chromium session; closed and its driver killed on drop.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// A browser for `test`, or `None` (with a message) when Chromium is not installed and
/// `KURA_REQUIRE_BROWSER` is unset.
pub fn start(test: &str) -> Option<Browser> {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        if std::env::var_os("KURA_REQUIRE_BROWSER").is_some() {
            panic!("{test}: KURA_REQUIRE_BROWSER is set but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        }
        eprintln!("{test}: skipped: headless Chromium is not installed (apt-get install chromium chromium-driver)");
        return None;
    }
    Some(Browser::launch())
}

impl Browser {
    fn launch() -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("browser profile dir");
        let mut browser = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
        };
        browser.wait_for_driver();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            // Without these Chromium keeps trying to reach Google's hosts, which this
            // network refuses, many connections at a time.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1024",
            "--lang=ja",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        ));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // The vault's self-signed certificate: the tests pin nothing in the browser.
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let answer = browser.call("POST", "/session", Some(caps));
        browser.session = answer["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        browser
    }

    fn wait_for_driver(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "chromedriver did not listen on port {} within 20 s",
            self.port
        );
    }

    /// One WebDriver command; panics with the driver's message on an error answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = http(self.port, method, path, body);
        if status >= 400 {
            panic!("WebDriver {method} {path} -> {status}: {}", answer["value"]);
        }
        answer.get("value").cloned().unwrap_or(Value::Null)
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.session_call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element matching `css`, waiting up to 10 s for it to appear.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, answer) = http(
                self.port,
                "POST",
                &format!("/session/{}/element", self.session),
                Some(json!({"using": "css selector", "value": css})),
            );
            if status < 400 {
                return answer["value"][ELEMENT_KEY]
                    .as_str()
                    .expect("element id")
                    .to_string();
            }
            if Instant::now() > deadline {
                panic!(
                    "no element {css:?} on {} within 10 s; the page says:\n{}",
                    self.url(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn exists(&self, css: &str) -> bool {
        let found = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found.as_array().is_some_and(|a| !a.is_empty())
    }

    /// Clear the input matching `css` and type `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.session_call("POST", &format!("/element/{el}/clear"), Some(json!({})));
        self.session_call(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub fn click(&self, css: &str) {
        let el = self.find(css);
        self.session_call("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    /// Click an element that loads a new page (a submit button, a link) and wait until the new
    /// page has replaced the old one and finished loading. Waiting for a text alone is not
    /// enough: it can match the old page while the new one is still on its way.
    pub fn click_to_load(&self, css: &str) {
        self.execute("window.__kuraOldPage = true;", json!([]));
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = json!({
            "script": "return window.__kuraOldPage === true ? 'old' : document.readyState;",
            "args": [],
        });
        loop {
            // During the navigation the script may fail; that only means "not yet".
            let (status, answer) = http(
                self.port,
                "POST",
                &format!("/session/{}/execute/sync", self.session),
                Some(probe.clone()),
            );
            if status < 400 && answer["value"] == "complete" {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "clicking {css:?} on {} loaded no new page within 20 s",
                    self.url()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The rendered text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let el = self.find(css);
        let v = self.session_call("GET", &format!("/element/{el}/text"), None);
        v.as_str().unwrap_or_default().to_string()
    }

    /// The rendered text of the whole page (what a user reads).
    pub fn page_text(&self) -> String {
        let v = self.execute(
            "return document.body ? document.body.innerText : '';",
            json!([]),
        );
        v.as_str().unwrap_or_default().to_string()
    }

    pub fn source(&self) -> String {
        self.session_call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn title(&self) -> String {
        self.session_call("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The page printed to PDF, as Chromium's print dialog would (WebDriver "Print Page"): the
    /// print style sheet applies.
    pub fn print_pdf(&self) -> Vec<u8> {
        let v = self.session_call("POST", "/print", Some(json!({"orientation": "portrait"})));
        decode_base64(v.as_str().expect("base64 PDF"))
    }

    /// A PNG of the viewport, for looking at a failing page.
    pub fn screenshot(&self, path: &Path) {
        let v = self.session_call("GET", "/screenshot", None);
        std::fs::write(path, decode_base64(v.as_str().expect("base64 PNG"))).expect("write PNG");
    }

    /// Wait until the page's text contains `needle` (pages that redirect or load after a submit).
    pub fn wait_for_text(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.page_text().contains(needle) {
            if Instant::now() > deadline {
                panic!(
                    "{needle:?} did not appear on {} within 10 s; the page says:\n{}",
                    self.url(),
                    self.page_text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = http(
                self.port,
                "DELETE",
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A minimal HTTP/1.1 exchange with ChromeDriver, one request per connection. ChromeDriver keeps
/// connections open whatever `Connection: close` says, so the answer is read by its
/// `Content-Length` (or its chunks), never to EOF.
fn http(port: u16, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to chromedriver");
    stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .expect("send to chromedriver");
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let (head_len, status, length, chunked) = loop {
        let n = stream.read(&mut buf).expect("read chromedriver's answer");
        assert!(
            n > 0,
            "chromedriver closed the connection before answering {method} {path}"
        );
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let status = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(599);
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            break (
                end + 4,
                status,
                length,
                head.contains("transfer-encoding: chunked"),
            );
        }
    };
    let complete = |raw: &[u8]| match length {
        Some(n) => raw.len() >= head_len + n,
        None if chunked => raw.ends_with(b"0\r\n\r\n"),
        None => false,
    };
    while !complete(&raw) {
        let n = stream.read(&mut buf).expect("read chromedriver's answer");
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let payload = String::from_utf8_lossy(&raw[head_len..]).into_owned();
    let payload = if chunked { dechunk(&payload) } else { payload };
    (
        status,
        serde_json::from_str(&payload).unwrap_or(Value::Null),
    )
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Standard base64 (RFC 4648) for the PDF and PNG answers; four lines are not worth a crate.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(sextets.len() * 3 / 4);
    for group in sextets.chunks(4) {
        let mut acc = 0u32;
        for (i, s) in group.iter().enumerate() {
            acc |= (*s as u32) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

#[test]
fn base64_decodes_the_rfc_4648_vectors() {
    assert_eq!(decode_base64("Zm9vYmFy"), b"foobar");
    assert_eq!(decode_base64("Zm9vYg=="), b"foob");
    assert_eq!(decode_base64("Zm9vYmE="), b"fooba");
    assert_eq!(decode_base64(""), b"");
}

#[test]
fn chunked_answers_are_joined() {
    assert_eq!(dechunk("4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n"), "{\"a\":1}");
}

/// The harness itself against a page Chromium renders from a data: URL (no server needed).
#[test]
fn chromium_renders_fills_and_prints_a_page() {
    let Some(b) = start("chromium_renders_fills_and_prints_a_page") else {
        return;
    };
    b.goto("data:text/html;charset=utf-8,<title>t</title><input id=q><button id=go onclick=\"document.getElementById('out').textContent='検索: '+document.getElementById('q').value\">go</button><p id=out></p>");
    b.fill("#q", "ヤマダ");
    b.click("#go");
    assert_eq!(b.text("#out"), "検索: ヤマダ");
    let pdf = b.print_pdf();
    assert!(
        pdf.starts_with(b"%PDF-"),
        "print answered {} bytes that are not a PDF",
        pdf.len()
    );
}
