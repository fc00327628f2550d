//! A whole support session up to the granted consent, shared by `run --demo` and `bench`:
//! a gateway on free ports with a throw-away data directory, its first technician,
//! `sos-desk` logged in, a session, and the end-user app `sos` on an X display, which
//! answers the consent prompt with `y`.
//!
//! Every child sits in a guard ([`Process`]): dropping the [`Stack`] stops them all.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::gateway::{self, Addresses, Gateway};
use crate::proc::{self, Launch, Output, Process, run_to_end};
use crate::report;
use crate::signals::Shutdown;
use crate::workspace::Workspace;

const DESK_TIMEOUT: Duration = Duration::from_secs(60);
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The running pieces of a granted session. Fields drop in order: the agent first.
pub struct Stack {
    /// The end-user app, consent given.
    pub agent: Process,
    /// The gateway.
    pub gateway: Gateway,
    /// Where the gateway listens.
    pub addresses: Addresses,
    /// The technician's CLI, logged in.
    pub desk: Desk,
    /// The granted session.
    pub session: Session,
}

/// The steps of [`Stack::start`], for numbered headers.
pub const STEPS: [&str; 6] = [
    "starting a gateway on free ports",
    "creating the first technician",
    "logging in with sos-desk",
    "creating a support session",
    "starting the end-user app on the virtual display",
    "requesting permission; the end user answers y",
];

impl Stack {
    /// Starts everything in `temp` (data) and `logs`, the app on `display` with
    /// `agent_args` added; `step(i)` is called before each of [`STEPS`].
    pub fn start(
        workspace: &Workspace,
        temp: &Path,
        logs: &Path,
        display: &str,
        agent_args: &[&str],
        step: &mut dyn FnMut(usize),
        shutdown: &Shutdown,
    ) -> Result<Self> {
        let data = temp.join("gateway-data");
        step(0);
        let addresses = Addresses::free_on_loopback()?;
        let gateway_bin = workspace.release_bin("sos-gateway");
        let gateway = gateway::start(
            &gateway_bin,
            &data,
            addresses,
            Output::Log(logs.join("gateway.log")),
            shutdown,
        )?;
        let cert = gateway.banner.cert_sha256.clone();
        report::note(&format!("console      {}", gateway.banner.console));
        report::note(&format!("quic         {}", gateway.banner.quic));
        report::note(&format!("cert-sha256  {cert}"));

        step(1);
        let technician = gateway::ensure_first_technician(
            &gateway_bin,
            &data,
            Output::Log(logs.join("technician.log")),
            shutdown,
        )?;
        report::note(&format!("{} (temporary data directory)", technician.email));

        step(2);
        let desk = Desk {
            binary: workspace.release_bin("sos-desk"),
            config: temp.join("desk.json"),
            logs: logs.to_path_buf(),
        };
        let url = addresses.console_url();
        desk.run(
            "login",
            &[
                "login",
                "--gateway",
                &url,
                "--email",
                &technician.email,
                "--password-stdin",
                "--cert-sha256",
                &cert,
            ],
            Some(&format!("{}\n", technician.password()?)),
            DESK_TIMEOUT,
            shutdown,
        )?;

        step(3);
        let created = desk.run(
            "session-new",
            &["session", "new", "--json"],
            None,
            DESK_TIMEOUT,
            shutdown,
        )?;
        let session = Session::from_json(&created)?;
        report::note(&format!("session {} (PIN hidden)", session.id));

        step(4);
        let quic = addresses.quic_address();
        let mut agent_cmd = Command::new(workspace.release_bin("sos"));
        agent_cmd
            .args([
                "--gateway",
                &quic,
                "--pin",
                &session.pin,
                "--cert-sha256",
                &cert,
                // The stack answers on standard input, as a terminal user does.
                "--consent",
                "terminal",
            ])
            .args(agent_args)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY");
        let mut agent = Launch::new("sos (end-user app)", agent_cmd)
            .output(Output::Log(logs.join("agent.log")))
            .watch_stdout()
            .pipe_stdin()
            .spawn()?;
        let waiting = agent.wait_for_output("`Waiting`", AGENT_TIMEOUT, shutdown, |line| {
            line.contains("Waiting")
        })?;
        report::note(&format!("app: {}", waiting.trim()));

        step(5);
        let id = session.id.as_str();
        desk.run(
            "session-request",
            &["session", "request", id, "--wait", "0"],
            None,
            DESK_TIMEOUT,
            shutdown,
        )?;
        let prompt =
            agent.wait_for_output("the `[y/N]` prompt", AGENT_TIMEOUT, shutdown, |line| {
                line.contains("[y/N]")
            })?;
        report::note(&format!("app: {}", prompt.trim()));
        agent.send("y\n")?;
        report::note("end user: y");
        Ok(Self {
            agent,
            gateway,
            addresses,
            desk,
            session,
        })
    }

    /// Closes the session and lets the app end by itself (it writes its `--stats` then).
    pub fn close(mut self, shutdown: &Shutdown) -> Result<()> {
        let id = self.session.id.clone();
        self.desk.run(
            "session-close",
            &["session", "close", &id],
            None,
            DESK_TIMEOUT,
            shutdown,
        )?;
        self.agent.close_stdin();
        match self.agent.wait_exit(Duration::from_secs(10), shutdown)? {
            Some(status) => report::note(&format!(
                "the end-user app exited ({})",
                proc::describe_exit(status)
            )),
            None => report::note("the end-user app is still running after the close: stopping it"),
        }
        drop(self.agent);
        self.gateway.process.stop();
        Ok(())
    }
}

/// `sos-desk` with its own config file; each call logs to `desk-<name>.log`.
pub struct Desk {
    binary: PathBuf,
    /// The login file (`sos-desk --config`).
    pub config: PathBuf,
    logs: PathBuf,
}

impl Desk {
    /// Runs `sos-desk <args>` to the end and returns its stdout.
    pub fn run(
        &self,
        name: &str,
        args: &[&str],
        stdin: Option<&str>,
        timeout: Duration,
        shutdown: &Shutdown,
    ) -> Result<String> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config").arg(&self.config).args(args);
        report::note(&format!("$ sos-desk {}", args.join(" ")));
        run_to_end(
            &format!("sos-desk {name}"),
            cmd,
            stdin,
            Output::Log(self.logs.join(format!("desk-{name}.log"))),
            timeout,
            shutdown,
        )
    }
}

/// What `sos-desk session new --json` says about the new session.
#[derive(Debug, PartialEq, Eq)]
pub struct Session {
    /// The session id.
    pub id: String,
    /// Its PIN (never printed).
    pub pin: String,
}

impl Session {
    /// Accepts the object itself or `{"session": {...}}`, ids as strings or numbers, and
    /// a JSON document alone or on the last line that parses.
    fn from_json(stdout: &str) -> Result<Self> {
        let value = serde_json::from_str::<serde_json::Value>(stdout.trim())
            .ok()
            .or_else(|| {
                stdout
                    .lines()
                    .rev()
                    .find_map(|line| serde_json::from_str(line.trim()).ok())
            });
        let Some(value) = value else {
            bail!(
                "`sos-desk session new --json` did not print JSON; it printed: {}",
                stdout.trim()
            );
        };
        let object = value.get("session").unwrap_or(&value);
        let text = |key: &str| match object.get(key) {
            Some(serde_json::Value::String(text)) => Some(text.clone()),
            Some(serde_json::Value::Number(number)) => Some(number.to_string()),
            _ => None,
        };
        match (text("id"), text("pin")) {
            (Some(id), Some(pin)) => Ok(Self { id, pin }),
            _ => bail!(
                "`sos-desk session new --json` printed no `id` and `pin` fields; the fields are: {}",
                object
                    .as_object()
                    .map(|map| map.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
        }
    }
}

/// A private temporary directory, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates it, mode 0700.
    pub fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("sosdesk-{}-{nanos:09}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        Ok(Self { path })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover in the temp dir is harmless.
        let _left_over = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_json_in_several_shapes() {
        let expected = Session {
            id: String::from("42"),
            pin: String::from("123456789"),
        };
        for stdout in [
            r#"{"id":"42","pin":"123456789","link":"https://x/j/abc"}"#,
            r#"{"id":42,"pin":"123456789"}"#,
            "{\n  \"session\": {\"id\": \"42\", \"pin\": \"123456789\"}\n}\n",
            "created\n{\"id\":\"42\",\"pin\":\"123456789\"}\n",
        ] {
            assert_eq!(Session::from_json(stdout).unwrap(), expected, "{stdout}");
        }
    }

    #[test]
    fn session_json_errors_say_what_came() {
        let error = Session::from_json(r#"{"uuid":"x"}"#).unwrap_err();
        assert!(error.to_string().contains("uuid"), "{error}");
        let error = Session::from_json("Session 42 created").unwrap_err();
        assert!(error.to_string().contains("did not print JSON"), "{error}");
    }

    #[test]
    fn temp_dirs_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempDir::create().unwrap();
        let path = temp.path().to_path_buf();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(temp);
        assert!(!path.exists());
    }
}
