//! A headless Chromium driven over WebDriver for the console and viewer tests.
//!
//! [`Browser::start`] runs `chromedriver` on a free loopback port (in its own process
//! group) and opens a Chromium session with a fresh profile in a temporary folder and a
//! 1280x720 window. The gateway's self-signed certificate is trusted by its public key
//! (`--ignore-certificate-errors-spki-list`), not by ignoring certificate errors.
//! Everything it started is killed when the [`Browser`] drops, test failure included.
//!
//! Every helper blocks (the WebDriver client runs on the browser's own runtime) and fails
//! the test with what it looked for and where, never skips: a missing `chromium` or
//! `chromedriver` fails with the package to install.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fantoccini::elements::Element;
pub use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Width and height of the browser window.
pub const WINDOW: (u32, u32) = (1280, 720);

/// How long a single wait helper waits unless told otherwise.
pub const WAIT: Duration = Duration::from_secs(20);

/// A Chromium session; everything it started is killed on drop.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// `base64(sha256(SubjectPublicKeyInfo))` of the first certificate in a PEM file: what
/// Chromium's `--ignore-certificate-errors-spki-list` takes.
pub fn spki_hash_of_pem(path: &Path) -> String {
    let pem = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the certificate {}: {e}", path.display()));
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = STANDARD
        .decode(body.trim())
        .unwrap_or_else(|e| panic!("{} is not a PEM certificate: {e}", path.display()));
    let key = sos_transport::KeyFingerprint::of_certificate(&der.into())
        .unwrap_or_else(|e| panic!("cannot parse the certificate {}: {e}", path.display()));
    STANDARD.encode(key.as_bytes())
}

/// Path of a program on PATH, or a failure that says which package brings it.
fn program(name: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not on PATH: install the {package} package (`cargo xtask setup`)")
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium that trusts the certificate whose SPKI
    /// hash is `spki` (see [`spki_hash_of_pem`]).
    pub fn start(spki: &str) -> Self {
        let chromium = program("chromium", "chromium");
        let chromedriver = program("chromedriver", "chromium-driver");
        let profile = tempfile::tempdir().expect("temporary Chromium profile");
        let port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group: dropping the browser kills chromedriver and Chromium.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime of the WebDriver client");
        let mut browser = Self {
            runtime,
            client: None,
            driver,
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on 127.0.0.1:{port} within 20 s"
            );
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--user-data-dir={}", browser._profile.path().display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            format!("--ignore-certificate-errors-spki-list={spki}"),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": args,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are an object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = browser
            .runtime
            .block_on(
                ClientBuilder::new(connector)
                    .capabilities(capabilities)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"));
        browser.client = Some(client);
        browser
    }

    /// [`Browser::start`] trusting `gateway`'s certificate.
    pub fn for_gateway(gateway: &super::stack::Gateway) -> Self {
        Self::start(&spki_hash_of_pem(&gateway.data.join("gateway-cert.pem")))
    }

    /// Signs in to `gateway`'s console through its login form as `email` (a user added by
    /// [`super::stack::Gateway::start_with_roles`], with the tests' password) and waits for
    /// the console.
    pub fn log_in(&self, gateway: &super::stack::Gateway, email: &str) {
        self.goto(&format!("{}/console/login", gateway.console));
        self.type_into("#email", email);
        // Enter submits, as in any form.
        self.type_into("#password", &format!("{}\n", super::stack::PASSWORD));
        self.wait_for("the console after login", WAIT, |b| {
            b.try_find("#logout").map(|_| ())
        });
    }

    /// Logs out with the console's top bar button and waits for the login form.
    pub fn log_out(&self) {
        self.click("#logout");
        self.wait_for("the login form", WAIT, |b| {
            b.try_find("#sign-in").map(|_| ())
        });
    }

    /// The WebDriver client, for what the helpers do not cover (run it with
    /// [`Browser::block_on`]).
    pub fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the session is open until drop")
    }

    /// Runs a WebDriver future to completion.
    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// The address of the page shown now.
    pub fn url(&self) -> String {
        self.block_on(self.client().current_url())
            .map(|u| u.to_string())
            .unwrap_or_else(|e| panic!("cannot read the current address: {e}"))
    }

    /// The first element matching the CSS selector, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        self.block_on(self.client().find(Locator::Css(css))).ok()
    }

    /// The first element matching the CSS selector, waiting up to [`WAIT`] for it to appear
    /// (a panel may still be loading), as a user waits; fails the test when none does.
    pub fn find(&self, css: &str) -> Element {
        self.wait_for(&format!("an element matching {css:?}"), WAIT, |b| {
            b.try_find(css)
        })
    }

    /// Clicks the element matching `css`.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.block_on(element.click())
            .unwrap_or_else(|e| panic!("cannot click {css:?} on {}: {e}", self.url()));
    }

    /// Clears the field matching `css` and types `text` into it, as a user would.
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.block_on(async {
            element.clear().await?;
            element.send_keys(text).await
        })
        .unwrap_or_else(|e| panic!("cannot type into {css:?} on {}: {e}", self.url()));
    }

    /// Focuses the element matching `css` and presses `key` on it, as a keyboard user would.
    pub fn press_on(&self, css: &str, key: Key) {
        let element = self.find(css);
        self.block_on(element.send_keys(&key))
            .unwrap_or_else(|e| panic!("cannot press {key:?} on {css:?}: {e}"));
    }

    /// Presses `key` on whatever has the focus.
    pub fn press(&self, key: Key) {
        self.block_on(async {
            let focused = self.client().active_element().await?;
            focused.send_keys(&key).await
        })
        .unwrap_or_else(|e| panic!("cannot press {key:?} on {}: {e}", self.url()));
    }

    /// The visible text of the element matching `css`, if there is one.
    pub fn try_text(&self, css: &str) -> Option<String> {
        let element = self.try_find(css)?;
        self.block_on(element.text()).ok()
    }

    /// The visible text of the element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.try_text(css)
            .unwrap_or_else(|| panic!("no element matches {css:?} on {}", self.url()))
    }

    /// An attribute or property of the element matching `css` (None when absent).
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css);
        self.block_on(element.prop(name))
            .unwrap_or_else(|e| panic!("cannot read {name} of {css:?}: {e}"))
    }

    /// Runs `script` in the page (`arguments[i]` are `args`); returns its result.
    pub fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.block_on(self.client().execute(script, args))
            .unwrap_or_else(|e| panic!("script failed on {}: {e}\n{script}", self.url()))
    }

    /// Polls `check` until it returns `Some`, at most `within`; otherwise saves a screenshot
    /// `console-failed-<what>` and fails with `what` and the page's text.
    pub fn wait_for<T>(
        &self,
        what: &str,
        within: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            if Instant::now() >= deadline {
                let shot = self.screenshot(&format!("failed-{}", slug(what)));
                let page = self.try_text("body").unwrap_or_default();
                panic!(
                    "waited {within:?} for {what} on {}; screenshot {}; page text:\n{page}",
                    self.url(),
                    shot.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the element matching `css` shows a text containing `needle`.
    pub fn wait_for_text(&self, css: &str, needle: &str) -> String {
        self.wait_for(&format!("{css} to show {needle:?}"), WAIT, |b| {
            b.try_text(css).filter(|t| t.contains(needle))
        })
    }

    /// Saves the page as `target/test-artefacts/console-<name>.png`; returns the path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .block_on(self.client().screenshot())
            .unwrap_or_else(|e| panic!("cannot take a screenshot: {e}"));
        let dir = super::bin_dir()
            .parent()
            .expect("target folder")
            .join("test-artefacts");
        std::fs::create_dir_all(&dir).expect("create target/test-artefacts");
        let path = dir.join(format!("console-{name}.png"));
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }
}

/// `what` as a file name.
fn slug(what: &str) -> String {
    let mut out: String = what
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(60);
    out
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Ends the session (Chromium quits); bounded so a hung browser cannot hang the test.
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), client.close()).await
            });
        }
        // Whatever is left of chromedriver and Chromium: the whole process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
