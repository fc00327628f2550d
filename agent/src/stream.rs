//! A streaming period: the capture thread plus the task that puts each encoded frame on its
//! own QUIC unidirectional stream.
//!
//! Contract:
//! - [`Streamer::start`] takes a [`ViewGrant`]: no streaming without consent, by type.
//! - At most one frame is in flight: the sender waits for the gateway to acknowledge a frame
//!   before taking the next, and the capture thread only encodes once the single slot frees
//!   up, so a slow link lowers the frame rate instead of building a queue of stale frames.
//! - After [`Streamer::stop`], no further frame is started and a frame being written is
//!   reset rather than delivered truncated.

use crate::consent::ViewGrant;
use crate::pipeline::{self, Controls, EncodedOutput, PipelineConfig, StreamError};
use crate::platform::Platform;
use crate::stats::Stats;
use quinn::VarInt;
use sos_transport::framing;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Longest wait for a frame's acknowledgement before the next frame is sent anyway.
const ACK_WAIT: Duration = Duration::from_secs(2);

/// A running capture thread and frame sender.
#[derive(Debug)]
pub struct Streamer {
    controls: Arc<Controls>,
    stop: watch::Sender<bool>,
    capture: std::thread::JoinHandle<(Stats, Result<(), StreamError>)>,
    sender: tokio::task::JoinHandle<Stats>,
}

impl Streamer {
    /// Starts capturing and sending on `connection`. Capture failures are reported on
    /// `failures` (the period then ends by itself). `seq` numbers frames across periods.
    pub fn start(
        _grant: &ViewGrant,
        connection: quinn::Connection,
        platform: Arc<dyn Platform>,
        config: PipelineConfig,
        seq: Arc<AtomicU64>,
        failures: mpsc::UnboundedSender<StreamError>,
    ) -> Result<Self, StreamError> {
        let controls = Arc::new(Controls::default());
        let (stop, stop_rx) = watch::channel(false);
        let (frames_tx, frames_rx) = mpsc::channel(1);
        let runtime = tokio::runtime::Handle::current();
        let capture = std::thread::Builder::new()
            .name("sos-capture".into())
            .spawn({
                let controls = controls.clone();
                move || {
                    let (stats, result) =
                        pipeline::run(&*platform, config, &controls, &frames_tx, &runtime, &seq);
                    if let Err(error) = &result {
                        tracing::warn!(%error, "streaming stopped");
                        let _ = failures.send(error.clone());
                    }
                    (stats, result)
                }
            })
            .map_err(|e| StreamError::Thread(e.to_string()))?;
        let sender = tokio::spawn(send_frames(connection, frames_rx, stop_rx));
        Ok(Self {
            controls,
            stop,
            capture,
            sender,
        })
    }

    /// Makes the next frame a keyframe (re-encoding the screen if it did not change).
    pub fn request_keyframe(&self) {
        self.controls.request_keyframe();
    }

    /// Stops capturing and sending; resolves to the period's figures once both ended.
    pub async fn stop(self) -> Stats {
        self.controls.stop();
        let _ = self.stop.send(true);
        let mut stats = self.sender.await.unwrap_or_default();
        let capture = self.capture;
        match tokio::task::spawn_blocking(move || capture.join()).await {
            Ok(Ok((capture_stats, _))) => stats.merge(&capture_stats),
            _ => tracing::warn!("the capture thread ended abnormally"),
        }
        stats
    }
}

async fn send_frames(
    connection: quinn::Connection,
    mut frames: mpsc::Receiver<EncodedOutput>,
    mut stop: watch::Receiver<bool>,
) -> Stats {
    let mut stats = Stats::default();
    loop {
        let frame = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
        };
        let started = Instant::now();
        match send_one(&connection, &frame, &mut stop).await {
            Ok(Sent::Delivered) => {
                let sent_at = Instant::now();
                let send = sent_at - started;
                let t = &frame.timings;
                tracing::debug!(
                    seq = frame.header.seq,
                    keyframe = frame.header.keyframe,
                    bytes = frame.data.len(),
                    capture_ms = ms(t.capture),
                    detect_ms = ms(t.detect),
                    convert_ms = ms(t.convert),
                    encode_ms = ms(t.encode),
                    send_ms = ms(send),
                    "frame sent"
                );
                stats.record_sent(t, frame.data.len(), frame.header.keyframe, send, sent_at);
            }
            Ok(Sent::Stopped) => break,
            Err(error) => {
                tracing::debug!(%error, "frame not sent; streaming ends");
                break;
            }
        }
    }
    stats
}

enum Sent {
    Delivered,
    Stopped,
}

async fn send_one(
    connection: &quinn::Connection,
    frame: &EncodedOutput,
    stop: &mut watch::Receiver<bool>,
) -> Result<Sent, String> {
    let mut stream = tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => return Ok(Sent::Stopped),
        stream = connection.open_uni() => stream.map_err(|e| e.to_string())?,
    };
    let written = tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => None,
        written = framing::write_frame(&mut stream, &frame.header, &frame.data) => Some(written),
    };
    match written {
        None => {
            // Dropping an unfinished stream would finish it and deliver a truncated frame.
            let _ = stream.reset(VarInt::from_u32(0));
            return Ok(Sent::Stopped);
        }
        Some(written) => written.map_err(|e| e.to_string())?,
    }
    // Wait for the acknowledgement so that at most one frame is ever in flight.
    tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => {}
        _ = tokio::time::timeout(ACK_WAIT, stream.stopped()) => {}
    }
    Ok(Sent::Delivered)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
