//! `cargo xtask run --demo`: a whole support session, played by itself, then torn down.
//!
//! Xvfb on a free display plays the end user's screen (with ffplay's moving test pattern
//! on it, so that there is something to stream); a gateway on free ports with a
//! throw-away data directory, its first technician, `sos-desk` for the technician and `sos`
//! for the end user, who answers the consent prompt with `y`. The technician records 60
//! frames headless. Every child is stopped on every exit path (they sit in guards), the
//! temporary directory is removed, and the recording and logs stay in target/sosdesk-demo.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::gateway::{self, Addresses};
use crate::proc::{self, Launch, Output, Process, run_to_end};
use crate::report::{self, display_path};
use crate::run::{RunArgs, build_release};
use crate::setup;
use crate::signals::{Interrupted, Shutdown};
use crate::workspace::Workspace;
use crate::xvfb::Xvfb;

const STEPS: usize = 9;
const DESK_TIMEOUT: Duration = Duration::from_secs(60);
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);
/// `sos-desk view --timeout 60` stops by itself; this is the guard behind it.
const VIEW_TIMEOUT: Duration = Duration::from_secs(120);
const FRAMES: &str = "60";

/// Runs the demo; on failure, says where the logs are.
pub fn run(workspace: &Workspace, args: &RunArgs, shutdown: &Shutdown) -> Result<()> {
    if !args.skip_setup {
        setup::run(workspace, shutdown)?;
    }
    build_release(workspace, shutdown)?;
    let out = workspace.root.join("target").join("sosdesk-demo");
    let logs = out.join("logs");
    let started = Instant::now();
    let result = play(workspace, &out, &logs, shutdown);
    match result {
        Ok(recording) => {
            report::header(&format!(
                "demo complete in {}",
                report::duration(started.elapsed())
            ));
            report::note(&format!("recording  {}", display_path(&recording)));
            report::note(&format!("play it    ffplay {}", display_path(&recording)));
            report::note(&format!("logs       {}", display_path(&logs)));
            Ok(())
        }
        Err(error) if error.downcast_ref::<Interrupted>().is_some() => Err(error),
        Err(error) => Err(error.context(format!(
            "the demo failed; every process it started is stopped, logs are in {}",
            display_path(&logs)
        ))),
    }
}

fn step(number: usize, text: &str) {
    report::header(&format!("demo [{number}/{STEPS}] {text}"));
}

/// The flow itself. Locals drop in reverse order: agent, gateway, picture, Xvfb, temp dir.
fn play(workspace: &Workspace, out: &Path, logs: &Path, shutdown: &Shutdown) -> Result<PathBuf> {
    fs::create_dir_all(logs).with_context(|| format!("could not create {}", logs.display()))?;
    let recording = out.join("demo.h264");
    if recording.exists() {
        fs::remove_file(&recording)
            .with_context(|| format!("could not remove the old {}", recording.display()))?;
    }
    let temp = TempDir::create()?;
    let data = temp.path().join("gateway-data");

    step(
        1,
        "starting a virtual X display (Xvfb 1920x1080x24) with a moving picture",
    );
    let mut xvfb = Xvfb::start(&logs.join("xvfb.log"), shutdown)?;
    report::note(&format!("DISPLAY={}", xvfb.display()));
    let mut picture = moving_picture(&xvfb.display(), &logs.join("picture.log"), shutdown)?;

    step(2, "starting a gateway on free ports");
    let addresses = Addresses::free_on_loopback()?;
    let gateway_bin = workspace.release_bin("sos-gateway");
    let mut gateway = gateway::start(
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

    step(3, "creating the first technician");
    let technician = gateway::ensure_first_technician(
        &gateway_bin,
        &data,
        Output::Log(logs.join("technician.log")),
        shutdown,
    )?;
    report::note(&format!("{} (temporary data directory)", technician.email));

    step(4, "logging in with sos-desk");
    let desk = Desk {
        binary: workspace.release_bin("sos-desk"),
        config: temp.path().join("desk.json"),
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

    step(5, "creating a support session");
    let created = desk.run(
        "session-new",
        &["session", "new", "--json"],
        None,
        DESK_TIMEOUT,
        shutdown,
    )?;
    let session = Session::from_json(&created)?;
    report::note(&format!("session {} (PIN hidden)", session.id));

    step(6, "starting the end-user app on the virtual display");
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
            // The demo answers on standard input, as a terminal user does.
            "--consent",
            "terminal",
        ])
        .env("DISPLAY", xvfb.display())
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

    step(7, "requesting permission; the end user answers y");
    let id = session.id.as_str();
    desk.run(
        "session-request",
        &["session", "request", id, "--wait", "0"],
        None,
        DESK_TIMEOUT,
        shutdown,
    )?;
    let prompt = agent.wait_for_output("the `[y/N]` prompt", AGENT_TIMEOUT, shutdown, |line| {
        line.contains("[y/N]")
    })?;
    report::note(&format!("app: {}", prompt.trim()));
    agent.send("y\n")?;
    report::note("end user: y");

    step(8, "watching headless and recording 60 frames");
    let record = recording.to_string_lossy().into_owned();
    let viewed = desk.run(
        "view",
        &[
            "view",
            id,
            "--headless",
            "--record",
            &record,
            "--frames",
            FRAMES,
            "--timeout",
            "60",
        ],
        None,
        VIEW_TIMEOUT,
        shutdown,
    )?;
    for line in viewed.lines().filter(|line| !line.trim().is_empty()) {
        report::note(&format!("viewer: {line}"));
    }
    let size = fs::metadata(&recording).map(|meta| meta.len()).unwrap_or(0);
    if size == 0 {
        bail!(
            "sos-desk view succeeded but {} is missing or empty",
            recording.display()
        );
    }
    report::note(&format!(
        "{}: {} KiB, {}",
        display_path(&recording),
        size.div_ceil(1024),
        probe(&recording)
    ));

    step(9, "closing the session and stopping everything");
    desk.run(
        "session-close",
        &["session", "close", id],
        None,
        DESK_TIMEOUT,
        shutdown,
    )?;
    agent.close_stdin();
    match agent.wait_exit(Duration::from_secs(10), shutdown)? {
        Some(status) => report::note(&format!(
            "the end-user app exited ({})",
            proc::describe_exit(status)
        )),
        None => report::note("the end-user app is still running after the close: stopping it"),
    }
    drop(agent);
    gateway.process.stop();
    picture.stop();
    xvfb.stop();
    Ok(recording)
}

/// Something that changes on the virtual screen: the app skips unchanged screens, so a
/// still desktop would give the viewer one frame, not 60. ffplay's test pattern (from the
/// ffmpeg package) moves at 30 frames per second.
fn moving_picture(display: &str, log: &Path, shutdown: &Shutdown) -> Result<Process> {
    let mut cmd = Command::new("ffplay");
    cmd.args(["-loglevel", "warning", "-an", "-f", "lavfi"])
        .args(["-i", "testsrc2=size=1280x720:rate=30"])
        .args(["-left", "0", "-top", "0", "-window_title", "sosdesk demo"])
        .env("DISPLAY", display)
        .env("SDL_AUDIODRIVER", "dummy")
        .env_remove("WAYLAND_DISPLAY");
    let mut process = Launch::new("ffplay (moving picture)", cmd)
        .output(Output::Log(log.to_path_buf()))
        .spawn()?;
    // It fails at once when it cannot open the display; otherwise it runs until stopped.
    if let Some(status) = process.wait_exit(Duration::from_secs(1), shutdown)? {
        bail!(
            "ffplay could not show the moving picture ({}); run `cargo xtask setup` (ffmpeg package){}",
            proc::describe_exit(status),
            process.tail()
        );
    }
    Ok(process)
}

/// `sos-desk` with the demo's own config file; each call logs to `desk-<name>.log`.
struct Desk {
    binary: PathBuf,
    config: PathBuf,
    logs: PathBuf,
}

impl Desk {
    fn run(
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
struct Session {
    id: String,
    pin: String,
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

/// "1920x1080, 60 frames" from ffprobe, or why not.
fn probe(recording: &Path) -> String {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args(["-show_entries", "stream=width,height,nb_read_frames"])
        .args(["-of", "csv=p=0"])
        .arg(recording)
        .stdin(std::process::Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout);
            match text.trim().split(',').collect::<Vec<_>>().as_slice() {
                [width, height, frames] => format!("{width}x{height}, {frames} frames (ffprobe)"),
                _ => format!("ffprobe says: {}", text.trim()),
            }
        }
        Ok(output) => format!(
            "ffprobe could not read it: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => format!("not checked (ffprobe: {error})"),
    }
}

/// A private temporary directory, removed on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn create() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("sosdesk-demo-{}-{nanos:09}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("could not create {}", path.display()))?;
        Ok(Self { path })
    }

    fn path(&self) -> &Path {
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
