//! `sos-desk view`: watch the end user's screen.
//!
//! Headless mode receives the video over QUIC, decodes it on a thread of its own, records
//! the H.264 bytes (from the first keyframe on, so ffmpeg/ffplay can play the file), and
//! reports figures. Without `--headless` the native viewer opens ([`crate::window`]); it
//! shares the receiving and decoding parts ([`stream`], [`sink`]).
//!
//! Contract: never asks the agent for more than a keyframe when it needs one, and never
//! writes a frame to the recording that the decoder refused.

mod gate;
pub mod sink;
pub mod snapshot;
pub mod stats;
pub mod stream;

use crate::Exit;
use crate::cli::ViewArgs;
use crate::commands::LoggedIn;
use crate::quic::{AttachError, attach, close};
use sink::{Recording, Sink};
use snapshot::SnapshotFormat;
use sos_codec::CodecError;
use sos_transport::framing::write_message;
use sos_transport::wire::{FromViewer, ViewerPurpose};
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use stream::{WatchEnd, watch};
use tokio::time::Instant;

pub use gate::{Admission, FrameGate};

/// Failures while viewing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// Attaching to the session failed.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// The recording file could not be written.
    #[error("cannot write the recording {path}: {source}")]
    Record {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The stats or snapshot file could not be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The snapshot file name has no known format.
    #[error(transparent)]
    SnapshotFormat(#[from] snapshot::SnapshotFormatError),
    /// The H.264 decoder could not start.
    #[error("cannot start the video decoder: {0}")]
    Decoder(CodecError),
    /// The decoding thread could not run.
    #[error("the video decoding thread failed: {0}")]
    DecoderThread(String),
    /// The deadline passed before enough frames were decoded.
    #[error(
        "timed out after {seconds} s with {decoded} of {wanted} frames decoded — is the end \
         user's app connected and access granted? (see `sos-desk session show`)"
    )]
    TimedOut {
        /// The `--timeout`.
        seconds: u64,
        /// Frames decoded.
        decoded: u64,
        /// Frames asked for.
        wanted: u64,
    },
    /// The viewer window could not open or draw.
    #[error(
        "cannot open the viewer window: {0} — run it in a desktop session (DISPLAY set), or \
         use `sos-desk view ID --headless --frames N`"
    )]
    Window(String),
    /// The gateway did not accept the viewer in time.
    #[error(
        "the gateway did not accept the viewer within {seconds} s — is it running and its QUIC \
         port reachable?"
    )]
    AttachTimedOut {
        /// The `--timeout`.
        seconds: u64,
    },
    /// The connection broke while the window was open.
    #[error("the connection to the gateway was lost: {0} — check the network, then view again")]
    ConnectionLost(String),
    /// The connection or the video stream stopped before enough frames were decoded.
    #[error("the video stopped after {decoded} of {wanted} frames: {detail}")]
    Stopped {
        /// What happened.
        detail: String,
        /// Frames decoded.
        decoded: u64,
        /// Frames asked for.
        wanted: u64,
    },
}

/// Runs `sos-desk view`.
pub async fn run(
    config_path: &Path,
    args: &ViewArgs,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    if !args.headless {
        return crate::window::run(config_path, args, out).await;
    }
    let Some(wanted) = args.frames else {
        // clap makes --headless require --frames.
        eprintln!("--headless needs --frames N");
        return Ok(Exit::Usage);
    };
    let snapshot = match &args.snapshot {
        Some(path) => Some((
            path.clone(),
            SnapshotFormat::of(path).map_err(ViewError::from)?,
        )),
        None => None,
    };
    let logged_in = LoggedIn::load(config_path)?;
    let recording = args.record.clone().map(Recording::create).transpose()?;

    // Watching for a duration: the deadline is the end of the run, not a failure.
    let seconds = args.duration.unwrap_or(args.timeout);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let timed_out = |decoded| ViewError::TimedOut {
        seconds,
        decoded,
        wanted,
    };
    let attached = tokio::time::timeout_at(
        deadline,
        attach(
            &logged_in.api,
            &logged_in.trust,
            &logged_in.config.token,
            &args.id,
            ViewerPurpose::Watch,
        ),
    )
    .await
    .map_err(|_| timed_out(0))?
    .map_err(ViewError::from)?;
    let screen = attached.acceptance.display;
    tracing::debug!(
        width = screen.width,
        height = screen.height,
        control = attached.acceptance.control,
        "attached"
    );
    let limit = if args.duration.is_some() {
        u64::MAX
    } else {
        wanted
    };
    let sink = Sink::new(limit, recording);
    let mut send = attached.send;
    if let Some(monitor) = args.monitor {
        write_message(&mut send, &FromViewer::ShareMonitor { monitor })
            .await
            .map_err(|e| ViewError::ConnectionLost(e.to_string()))?;
    }
    let outcome = watch(
        send,
        attached.recv,
        attached.connection.clone(),
        sink,
        attached.connected_at,
        deadline,
    )
    .await;
    close(&attached.endpoint, &attached.connection).await;
    let outcome = outcome?;
    let report = outcome.report;

    if let Some(path) = &args.stats {
        let json = serde_json::to_vec_pretty(&report.stats).unwrap_or_default();
        write_file(path, &json)?;
    }
    if let (Some((path, format)), Some(frame)) = (&snapshot, &report.last_frame) {
        write_file(path, &format.encode(frame))?;
    }

    let enough = report.decoded >= wanted;
    let stopped = |detail: String| ViewError::Stopped {
        detail,
        decoded: report.decoded,
        wanted,
    };
    match outcome.end {
        WatchEnd::Ended(reason) => {
            writeln!(out, "Session ended: {reason}").map_err(crate::DeskError::Output)?;
            if !enough {
                return Ok(Exit::Failure);
            }
        }
        WatchEnd::TimedOut if !enough => return Err(timed_out(report.decoded).into()),
        WatchEnd::FramesDone if !enough => {
            return Err(stopped("the gateway stopped sending frames".into()).into());
        }
        WatchEnd::ConnectionLost(detail) if !enough => return Err(stopped(detail).into()),
        WatchEnd::TimedOut | WatchEnd::FramesDone | WatchEnd::ConnectionLost(_) => {}
    }
    let (width, height) = (report.stats.width, report.stats.height);
    let line = match &args.record {
        Some(path) => format!(
            "Recorded {} frames ({width}x{height}) to {}",
            report.decoded,
            path.display()
        ),
        None => format!("Decoded {} frames ({width}x{height})", report.decoded),
    };
    writeln!(out, "{line}").map_err(crate::DeskError::Output)?;
    Ok(Exit::Success)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ViewError> {
    std::fs::write(path, bytes).map_err(|source| ViewError::Output {
        path: path.display().to_string(),
        source,
    })
}
