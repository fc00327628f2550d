//! The system for a test: a gateway on free loopback ports with a temporary data folder, a
//! technician logged in through `sos-desk`, and granted sessions with the end-user app
//! answering the permission prompt.

use super::binary;
use super::procs::{Running, describe, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Password of every user the tests add.
pub const PASSWORD: &str = "correct horse battery";
/// E-mail of the first technician.
pub const EMAIL: &str = "tina@example.com";

/// A running gateway with one technician account.
pub struct Gateway {
    /// The `sos-gateway serve` process.
    pub process: Running,
    /// HTTPS console address.
    pub console: String,
    /// QUIC address for the end-user app.
    pub quic: String,
    /// SHA-256 fingerprint of its certificate.
    pub cert: String,
    /// Its data folder (database, keys, `gateway-cert.pem`).
    pub data: PathBuf,
}

impl Gateway {
    /// Adds a technician and starts the gateway on free loopback ports, with its data in
    /// `work/gateway`.
    pub fn start(work: &Path) -> Self {
        Self::start_with(work, &[])
    }

    /// Like [`Gateway::start`], with more technicians: (e-mail, name) pairs, each with the
    /// same password (log in with [`Desk::login_as`]).
    pub fn start_with(work: &Path, more: &[(&str, &str)]) -> Self {
        let more: Vec<_> = more
            .iter()
            .map(|&(email, name)| (email, name, "technician"))
            .collect();
        Self::start_with_roles(work, &more)
    }

    /// Like [`Gateway::start`], with more users: (e-mail, name, role), each with the same
    /// password as the first technician.
    pub fn start_with_roles(work: &Path, more: &[(&str, &str, &str)]) -> Self {
        let data = Self::add_users(work, more);
        Self::serve(&data, "127.0.0.1:0", "127.0.0.1:0")
    }

    /// Like [`Gateway::start`], with the browser viewer's WebTransport endpoint on
    /// `webtransport` (an address the browser cannot reach stands for blocked UDP).
    pub fn start_webtransport_on(work: &Path, webtransport: &str) -> Self {
        let data = Self::add_users(work, &[]);
        Self::serve_on(&data, "127.0.0.1:0", "127.0.0.1:0", webtransport)
    }

    /// Adds the first technician and `more` users to a new data folder `work/gateway`;
    /// returns the folder.
    fn add_users(work: &Path, more: &[(&str, &str, &str)]) -> PathBuf {
        let folder = work.join("gateway");
        let data = folder.to_str().unwrap();
        let gateway_bin = binary("sos-gateway");
        for (email, name, role) in [(EMAIL, "Tina Tech", "technician")].iter().chain(more) {
            let out = run(
                &gateway_bin,
                &[
                    "user",
                    "add",
                    "--data",
                    data,
                    "--email",
                    email,
                    "--name",
                    name,
                    "--role",
                    role,
                    "--password-stdin",
                ],
                &format!("{PASSWORD}\n"),
                &[],
            );
            assert!(out.status.success(), "user add: {}", describe(&out));
        }
        folder
    }

    /// Like [`Gateway::start_with_roles`], with `gateway_toml` as the gateway's
    /// configuration file.
    pub fn start_configured(work: &Path, gateway_toml: &str, more: &[(&str, &str, &str)]) -> Self {
        let config = work.join("gateway.toml");
        std::fs::write(&config, gateway_toml).unwrap();
        let data = Self::add_users(work, more);
        Self::serve_with(
            &data,
            "127.0.0.1:0",
            "127.0.0.1:0",
            "127.0.0.1:0",
            Some(&config),
        )
    }

    /// Starts `sos-gateway serve` on an existing data folder and the given addresses (port 0:
    /// a free one) and reads the addresses and fingerprint it prints.
    pub fn serve(data: &Path, listen: &str, quic: &str) -> Self {
        // The browser viewer's UDP port: a free one, so that tests can run side by side.
        Self::serve_on(data, listen, quic, "127.0.0.1:0")
    }

    /// [`Gateway::serve`] with the WebTransport endpoint on `webtransport`.
    pub fn serve_on(data: &Path, listen: &str, quic: &str, webtransport: &str) -> Self {
        Self::serve_with(data, listen, quic, webtransport, None)
    }

    /// [`Gateway::serve_on`], reading the configuration file `config` when given.
    fn serve_with(
        data: &Path,
        listen: &str,
        quic: &str,
        webtransport: &str,
        config: Option<&Path>,
    ) -> Self {
        let mut serve = Command::new(binary("sos-gateway"));
        if let Some(config) = config {
            serve.arg("--config").arg(config);
        }
        serve.arg("serve").arg("--data").arg(data);
        serve.args(["--listen", listen, "--quic", quic]);
        serve.args(["--webtransport", webtransport]);
        serve.args(["--organisation", "Example Support"]);
        let process = Running::spawn("sos-gateway", serve);
        let field = |prefix: &str, wait: u64| {
            process
                .expect_line(prefix, Duration::from_secs(wait))
                .trim_start_matches(prefix)
                .trim()
                .to_string()
        };
        let console = field("console: ", 20);
        let quic = field("quic: ", 5);
        let cert = field("cert-sha256: ", 5);
        Self {
            process,
            console,
            quic,
            cert,
            data: data.to_path_buf(),
        }
    }
}

/// The technician's CLI with its own login file.
pub struct Desk {
    bin: PathBuf,
    config: PathBuf,
}

impl Desk {
    /// Logs the technician in to `gateway`, pinning its certificate; the login is kept in
    /// `work/desk.json`.
    pub fn login(gateway: &Gateway, work: &Path) -> Self {
        Self::login_as(gateway, work, EMAIL)
    }

    /// Logs the technician `email` in (added by [`Gateway::start_with`]); the login is kept
    /// in `work/desk-<email>.json` (`work/desk.json` for the first technician).
    pub fn login_as(gateway: &Gateway, work: &Path, email: &str) -> Self {
        let file = if email == EMAIL {
            "desk.json".to_string()
        } else {
            format!("desk-{email}.json")
        };
        let desk = Self {
            bin: binary("sos-desk"),
            config: work.join(file),
        };
        let login = run(
            &desk.bin,
            &[
                "--config",
                desk.config.to_str().unwrap(),
                "login",
                "--gateway",
                &gateway.console,
                "--email",
                email,
                "--password-stdin",
                "--cert-sha256",
                &gateway.cert,
            ],
            &format!("{PASSWORD}\n"),
            &[],
        );
        assert!(login.status.success(), "login: {}", describe(&login));
        desk
    }

    /// `sos-desk --config FILE ARGS`, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command.arg("--config").arg(&self.config).args(args);
        command
    }

    /// Starts `sos-desk ARGS` in the background; it is killed when the handle drops.
    pub fn spawn(&self, args: &[&str]) -> crate::support::procs::Running {
        crate::support::procs::Running::spawn("sos-desk", self.command(args))
    }

    /// Runs `sos-desk ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        let mut full = vec!["--config", self.config.to_str().unwrap()];
        full.extend_from_slice(args);
        run(&self.bin, &full, "", &[])
    }

    /// Runs `sos-desk ARGS`, which must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sos-desk {args:?} failed: {}",
            describe(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `sos-desk ARGS` and parses its JSON output.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("sos-desk --json prints JSON")
    }

    /// Waits until `session show` satisfies `check`.
    pub fn wait_for(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.wait_within(id, what, Duration::from_secs(20), check)
    }

    /// Waits at most `within` until `session show` satisfies `check`.
    pub fn wait_within(
        &self,
        id: &str,
        what: &str,
        within: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let show = self.json(&["session", "show", id, "--json"]);
            if check(&show) {
                return show;
            }
            assert!(
                Instant::now() < deadline,
                "session never became {what}: {show}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Creates a session, starts the end-user app on `display` and has the end user grant
    /// control; returns the session id and the running app.
    pub fn granted_session(&self, gateway: &Gateway, display: &str) -> (String, Running) {
        self.granted_session_via(gateway, &gateway.quic, display)
    }

    /// Like [`Desk::granted_session`], with the app reaching the gateway's QUIC side at
    /// `quic` (a forwarder in front of it).
    pub fn granted_session_via(
        &self,
        gateway: &Gateway,
        quic: &str,
        display: &str,
    ) -> (String, Running) {
        self.granted_session_with(gateway, quic, display, &[])
    }

    /// The same, with `agent_args` added to the end-user app's command line.
    pub fn granted_session_with(
        &self,
        gateway: &Gateway,
        quic: &str,
        display: &str,
        agent_args: &[&str],
    ) -> (String, Running) {
        let session = self.json(&["session", "new", "--json"]);
        let id = session["id"].as_str().unwrap().to_string();
        let pin = session["pin"].as_str().unwrap().to_string();
        let mut agent_cmd = Command::new(binary("sos"));
        agent_cmd
            .args(["--gateway", quic, "--pin", &pin])
            .args(["--cert-sha256", &gateway.cert, "--consent", "terminal"])
            .args(agent_args)
            .env("DISPLAY", display);
        let mut agent = Running::spawn("sos", agent_cmd);
        agent.expect_line("Waiting", Duration::from_secs(20));
        self.wait_for(&id, "active", |s| s["status"] == "active");
        self.ok(&["session", "request", &id, "--wait", "0"]);
        agent.expect_line("[y/N]", Duration::from_secs(10));
        agent.send_line("y");
        self.wait_for(&id, "granted", |s| s["remote"]["state"] == "granted");
        (id, agent)
    }
}
