//! A streaming period: the capture thread plus the task that puts each encoded frame on its
//! own QUIC unidirectional stream.
//!
//! Contract:
//! - [`Streamer::start`] takes a [`ViewGrant`]: no streaming without consent, by type.
//! - At most [`MAX_IN_FLIGHT`] frames are in flight: the sender waits for the gateway to
//!   acknowledge the oldest before taking another, and the capture thread only encodes once
//!   the single slot frees up, so a slow link lowers the frame rate instead of building a
//!   queue of stale frames, while a long round trip does not cap it at one frame per RTT.
//! - After [`Streamer::stop`], no further frame is started and a frame being written is
//!   reset rather than delivered truncated.
//! - With [`RateControl::FollowDelay`], the connection's round trip at each frame's
//!   acknowledgement feeds a [`RateController`], whose frame rate paces the capture thread:
//!   frames stop queueing on a link slower than the stream, instead of the in-flight frames
//!   waiting behind each other.

use crate::consent::ViewGrant;
use crate::pipeline::{self, Controls, EncodedOutput, PipelineConfig, StreamError};
use crate::platform::Platform;
use crate::rate::{Decision, RateControl, RateController};
use crate::stats::Stats;
use quinn::VarInt;
use sos_transport::framing;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Longest wait for a frame's acknowledgement before it stops counting as in flight.
const ACK_WAIT: Duration = Duration::from_secs(2);
/// Frames written but not yet acknowledged, at most. One would cap the rate at one frame per
/// round trip (under 10 fps at 100 ms); a few keep a long link busy while the frames that
/// can wait behind each other stay few, so the picture stays fresh on a slow one.
pub const MAX_IN_FLIGHT: usize = 4;

/// A running capture thread and frame sender.
#[derive(Debug)]
pub struct Streamer {
    controls: Arc<Controls>,
    stop: watch::Sender<bool>,
    capture: std::thread::JoinHandle<(Stats, Result<(), StreamError>)>,
    sender: tokio::task::JoinHandle<Stats>,
}

impl Streamer {
    /// Starts capturing and sending on `connection`, adapting the frame rate as `rate`
    /// says. Capture failures are reported on `failures` (the period then ends by itself).
    /// `seq` numbers frames across periods.
    pub fn start(
        _grant: &ViewGrant,
        connection: quinn::Connection,
        platform: Arc<dyn Platform>,
        config: PipelineConfig,
        rate: RateControl,
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
        let pacer = match rate {
            RateControl::FollowDelay => Some(Pacer {
                controller: RateController::new(config.max_fps, Instant::now()),
                controls: controls.clone(),
            }),
            RateControl::Fixed => None,
        };
        let sender = tokio::spawn(send_frames(connection, frames_rx, stop_rx, pacer));
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
    mut pacer: Option<Pacer>,
) -> Stats {
    let mut stats = Stats::default();
    // Each task waits for one frame's acknowledgement and reports it.
    let mut in_flight = tokio::task::JoinSet::new();
    'frames: loop {
        while in_flight.len() >= MAX_IN_FLIGHT {
            let decision = pacer.as_ref().map(Pacer::next_decision);
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopped| *stopped) => break 'frames,
                Some(acked) = in_flight.join_next() => record(&mut stats, &mut pacer, acked),
                () = until(decision) => decide(&mut pacer),
            }
        }
        let decision = pacer.as_ref().map(Pacer::next_decision);
        let frame = tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => break,
            Some(acked) = in_flight.join_next() => {
                record(&mut stats, &mut pacer, acked);
                continue;
            }
            () = until(decision) => {
                decide(&mut pacer);
                continue;
            }
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => break,
            },
        };
        let started = Instant::now();
        match write_one(&connection, &frame, &mut stop).await {
            Ok(Some(stream)) => {
                let connection = connection.clone();
                in_flight.spawn(async move {
                    // An unanswered frame stops counting after a while; QUIC still delivers it.
                    let _ = tokio::time::timeout(ACK_WAIT, stream.stopped()).await;
                    Delivered {
                        frame,
                        started,
                        sent_at: Instant::now(),
                        round_trip: connection.rtt(),
                    }
                });
            }
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(%error, "frame not sent; streaming ends");
                break;
            }
        }
    }
    // Frames still in flight are delivered by QUIC; only their figures are not waited for.
    while let Some(acked) = in_flight.try_join_next() {
        record(&mut stats, &mut pacer, acked);
    }
    stats
}

/// The rate controller and the capture thread it paces.
struct Pacer {
    controller: RateController,
    controls: Arc<Controls>,
}

impl Pacer {
    fn next_decision(&self) -> Instant {
        self.controller.poll_timeout()
    }
}

/// Resolves at `at`, never without one.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Lets the controller decide and paces the capture thread by its rate.
fn decide(pacer: &mut Option<Pacer>) {
    let Some(pacer) = pacer else {
        return;
    };
    match pacer.controller.handle_timeout(Instant::now()) {
        Decision::Hold => {}
        Decision::Lower { fps, queueing } => {
            tracing::debug!(
                fps,
                queueing_ms = ms(queueing),
                "frames queue: fewer per second"
            );
            pacer.controls.pace(fps);
        }
        Decision::Raise { fps } => {
            tracing::debug!(fps, "the link is clear: more frames per second");
            pacer.controls.pace(fps);
        }
    }
}

/// A frame the gateway acknowledged (or that waited [`ACK_WAIT`]).
struct Delivered {
    frame: EncodedOutput,
    started: Instant,
    sent_at: Instant,
    /// The connection's round-trip estimate then.
    round_trip: Duration,
}

fn record(
    stats: &mut Stats,
    pacer: &mut Option<Pacer>,
    acked: Result<Delivered, tokio::task::JoinError>,
) {
    let Ok(Delivered {
        frame,
        started,
        sent_at,
        round_trip,
    }) = acked
    else {
        return;
    };
    if let Some(pacer) = pacer {
        pacer.controller.on_delivered(started, sent_at, round_trip);
    }
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

/// Opens a stream and writes one whole frame on it: the finished stream, or `None` when
/// streaming stopped meanwhile (a half-written frame is then reset, never delivered cut).
async fn write_one(
    connection: &quinn::Connection,
    frame: &EncodedOutput,
    stop: &mut watch::Receiver<bool>,
) -> Result<Option<quinn::SendStream>, String> {
    let mut stream = tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => return Ok(None),
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
            Ok(None)
        }
        Some(written) => {
            written.map_err(|e| e.to_string())?;
            Ok(Some(stream))
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
