//! `cargo xtask run --demo`: a whole support session, played by itself, then torn down.
//!
//! Xvfb on a free display plays the end user's screen (with ffplay's moving test pattern
//! on it, so that there is something to stream); a gateway on free ports with a
//! throw-away data directory, its first technician, `sos-desk` for the technician and `sos`
//! for the end user, who answers the consent prompt with `y`. The technician records 60
//! frames headless. Every child is stopped on every exit path (they sit in guards), the
//! temporary directory is removed, and the recording and logs stay in target/sosdesk-demo.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::proc::{self, Launch, Output, Process};
use crate::report::{self, display_path};
use crate::run::{RunArgs, build_release};
use crate::setup;
use crate::signals::{Interrupted, Shutdown};
use crate::stack::{self, Stack, TempDir};
use crate::workspace::Workspace;
use crate::xvfb::Xvfb;

const STEPS: usize = 9;
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

/// The flow itself. Locals drop in reverse order: the stack, picture, Xvfb, temp dir.
fn play(workspace: &Workspace, out: &Path, logs: &Path, shutdown: &Shutdown) -> Result<PathBuf> {
    fs::create_dir_all(logs).with_context(|| format!("could not create {}", logs.display()))?;
    let recording = out.join("demo.h264");
    if recording.exists() {
        fs::remove_file(&recording)
            .with_context(|| format!("could not remove the old {}", recording.display()))?;
    }
    let temp = TempDir::create()?;

    step(
        1,
        "starting a virtual X display (Xvfb 1920x1080x24) with a moving picture",
    );
    let mut xvfb = Xvfb::start(&logs.join("xvfb.log"), shutdown)?;
    report::note(&format!("DISPLAY={}", xvfb.display()));
    let mut picture = moving_picture(&xvfb.display(), &logs.join("picture.log"), shutdown)?;

    let stack = Stack::start(
        workspace,
        temp.path(),
        logs,
        &xvfb.display(),
        &[],
        &mut |index| step(index + 2, stack::STEPS[index]),
        shutdown,
    )?;
    let id = stack.session.id.clone();
    let id = id.as_str();

    step(8, "watching headless and recording 60 frames");
    let record = recording.to_string_lossy().into_owned();
    let viewed = stack.desk.run(
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
    stack.close(shutdown)?;
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
