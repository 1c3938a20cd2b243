//! Headless Chromium driven through chromedriver's W3C WebDriver HTTP
//! protocol: a chromedriver on a free port, one browser session, and the few
//! commands a console test needs (navigate, find, click, read text, run a
//! script), as JSON over plain HTTP/1.1. Debian's `chromium` and
//! `chromium-driver` packages are required (`scripts/test` installs them);
//! when they are missing the test fails saying so, it is not skipped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The Chromium binary (`WHARF_CHROMIUM` overrides).
fn chromium() -> String {
    std::env::var("WHARF_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

/// The chromedriver binary (`WHARF_CHROMEDRIVER` overrides).
fn chromedriver() -> String {
    std::env::var("WHARF_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned())
}

/// A chromedriver process and one headless browser session; both end on drop.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

/// A WebDriver element reference.
#[derive(Debug, Clone)]
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a window of
    /// `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = chromium();
        assert!(
            std::path::Path::new(&chromium).exists(),
            "{chromium} is missing: install Debian's chromium and chromium-driver packages \
             (apt-get install chromium chromium-driver; scripts/test does) or set WHARF_CHROMIUM"
        );
        let addr = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port");
        let driver = Command::new(chromedriver())
            .arg(format!("--port={}", addr.port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start chromedriver ({e}): install Debian's chromium-driver package \
                     (scripts/test does) or set WHARF_CHROMEDRIVER"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver is not listening on {addr}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let profile = tempfile::tempdir().expect("profile directory");
        let mut browser = Browser { driver, addr, session: String::new(), _profile: profile };
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let created = browser.command(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args}
            }}}),
        );
        browser.session = created["sessionId"].as_str().expect("a WebDriver session").to_owned();
        browser
    }

    /// One WebDriver command; its `value`. Panics on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.request(method, path, body);
        assert!(status == 200, "WebDriver {method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    /// One WebDriver request: the status and the JSON answer.
    fn request(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let body = if body.is_null() { String::new() } else { body.to_string() };
        let mut s = TcpStream::connect(self.addr).expect("connect to chromedriver");
        s.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).expect("write");
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let (header_end, length) = loop {
            let n = s.read(&mut buf).expect("read from chromedriver");
            assert!(n > 0, "chromedriver closed the connection: {}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .expect("chromedriver sends Content-Length");
                break (end + 4, length);
            }
        };
        while raw.len() < header_end + length {
            let n = s.read(&mut buf).expect("read from chromedriver");
            assert!(n > 0, "chromedriver closed the connection early");
            raw.extend_from_slice(&buf[..n]);
        }
        let status = String::from_utf8_lossy(&raw[9..12]).parse().unwrap_or(0);
        let answer = serde_json::from_slice(&raw[header_end..header_end + length])
            .expect("chromedriver answers JSON");
        (status, answer)
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens a URL.
    pub fn open(&self, url: &str) {
        self.command("POST", &self.session_path("/url"), json!({ "url": url }));
    }

    /// Runs a script in the page (its `arguments` are `args`); its result.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            json!({"script": script, "args": args}),
        )
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<Element> {
        let (status, answer) = self.request(
            "POST",
            &self.session_path("/element"),
            json!({"using": "css selector", "value": css}),
        );
        match status {
            200 => answer["value"][ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())),
            404 => None,
            _ => panic!("WebDriver find {css}: {status} {answer}"),
        }
    }

    /// Waits until an element matches `css`, or panics after `within`.
    pub fn wait_for(&self, css: &str, within: Duration) -> Element {
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {css} after {within:?}; the page shows:\n{}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `check` holds for the text of the first element matching
    /// `css`; that text.
    pub fn wait_text(&self, css: &str, within: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.find(css).map(|e| self.text(&e)).unwrap_or_default();
            if check(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed what was awaited within {within:?}; it shows {text:?}; \
                 the page:\n{}",
                self.page_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.command("POST", &self.session_path(&format!("/element/{}/click", e.0)), json!({}));
    }

    /// An element's rendered text.
    pub fn text(&self, e: &Element) -> String {
        let (status, answer) =
            self.request("GET", &self.session_path(&format!("/element/{}/text", e.0)), Value::Null);
        // A row patched away between finding and reading: no text.
        if status != 200 {
            return String::new();
        }
        answer["value"].as_str().unwrap_or_default().to_owned()
    }

    /// The text of the page's main area, for failure messages.
    pub fn page_text(&self) -> String {
        self.script("return document.body.innerText", json!([])).as_str().unwrap_or("").to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &self.session_path(""), Value::Null);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
