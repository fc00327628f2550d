//! A virtual X display for the demo, on a display number nobody uses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::proc::{self, Launch, Output, POLL, Process};
use crate::signals::Shutdown;

/// The screen the end user "has".
const SCREEN: &str = "1920x1080x24";
/// Display numbers tried, above the ones desktops and CI services usually take.
const DISPLAYS: std::ops::RangeInclusive<u32> = 99..=199;
/// How many free-looking displays to try before giving up (another Xvfb may win a race).
const ATTEMPTS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A running Xvfb; dropping it stops the server.
pub struct Xvfb {
    process: Process,
    display: u32,
}

impl Xvfb {
    /// Starts Xvfb on the first free display and waits until it accepts clients.
    pub fn start(log: &Path, shutdown: &Shutdown) -> Result<Self> {
        if proc::which("Xvfb").is_none() {
            bail!("Xvfb is not on PATH; run `cargo xtask setup` (it installs the xvfb package)");
        }
        let mut failures = Vec::new();
        for display in DISPLAYS.filter(|&display| is_free(display)).take(ATTEMPTS) {
            let mut cmd = Command::new("Xvfb");
            cmd.arg(format!(":{display}")).args([
                "-screen",
                "0",
                SCREEN,
                "-noreset",
                "-nolisten",
                "tcp",
            ]);
            let mut process = Launch::new("Xvfb", cmd)
                .output(Output::Log(log.to_path_buf()))
                .spawn()?;
            match wait_ready(&mut process, display, shutdown)? {
                None => return Ok(Self { process, display }),
                Some(failure) => failures.push(format!(":{display}: {failure}")),
            }
        }
        if failures.is_empty() {
            bail!(
                "no free X display between :{} and :{} (see /tmp/.X11-unix); remove stale /tmp/.X*-lock files of dead servers",
                DISPLAYS.start(),
                DISPLAYS.end()
            );
        }
        bail!(
            "Xvfb did not start: {}; see {}",
            failures.join("; "),
            log.display()
        )
    }

    /// The value for DISPLAY.
    pub fn display(&self) -> String {
        format!(":{}", self.display)
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

fn socket(display: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{display}"))
}

fn lock(display: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X{display}-lock"))
}

fn is_free(display: u32) -> bool {
    !socket(display).exists() && !lock(display).exists()
}

/// `None` once the server's socket exists; the reason when it exits or hangs.
fn wait_ready(process: &mut Process, display: u32, shutdown: &Shutdown) -> Result<Option<String>> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if socket(display).exists() {
            return Ok(None);
        }
        if let Some(status) = process.try_wait()? {
            return Ok(Some(format!("exited ({})", proc::describe_exit(status))));
        }
        shutdown.check()?;
        if Instant::now() >= deadline {
            process.stop();
            return Ok(Some(String::from("no socket after 15s")));
        }
        std::thread::sleep(POLL);
    }
}
