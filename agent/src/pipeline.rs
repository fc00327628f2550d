//! The capture thread: screen -> change detection -> BGRA to I420 -> H.264, one frame at a
//! time, at the pace the sender keeps up with.
//!
//! Contract:
//! - Runs only inside a [`crate::stream::Streamer`], which needs a consent grant to exist.
//! - Never queues stale frames: it reserves the single slot of the frame channel *before*
//!   capturing, so what it encodes is the newest screen once the sender is ready for it.
//! - An unchanged screen is not converted or encoded, except to answer a keyframe request,
//!   which re-encodes the last picture as an IDR. The first frame is always a keyframe.
//! - At most one keyframe per [`KEYFRAME_SPACING`]: requests in between (a viewer that keeps
//!   falling behind, several joining at once) are answered together at the end of it, so
//!   no viewer can make everyone pay for a stream of IDRs.
//! - At most `max_fps` screen polls per second (fewer while the sender paces it with
//!   [`Controls::pace`]); it stops within one poll of [`Controls::stop`] or as soon as the
//!   frame channel closes.

use crate::platform::{CaptureError, Captured, Platform};
use crate::stats::{FrameTimings, Stats};
use sos_codec::{ChangeDetector, CodecError, Encoder, EncoderConfig, I420Picture, bgra_to_i420};
use sos_transport::wire::FrameHeader;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Settings of the capture thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineConfig {
    /// Most screen polls (and frames) per second.
    pub max_fps: f32,
    /// Encoder bitrate; `None` picks the codec's default for the screen size.
    pub target_bitrate_bps: Option<u32>,
    /// Monitor to capture (index as the technician picks it); `None`: the default one.
    pub monitor: Option<u32>,
    /// Encoding threads; `None` picks the codec's default (one per core, at most 4).
    pub encoder_threads: Option<u16>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            max_fps: 30.0,
            target_bitrate_bps: None,
            monitor: None,
            encoder_threads: None,
        }
    }
}

/// One encoded frame ready for the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedOutput {
    /// Header to send in front of it.
    pub header: FrameHeader,
    /// Annex-B bytes.
    pub data: Vec<u8>,
    /// How long each stage took.
    pub timings: FrameTimings,
}

/// Failures that end a streaming period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The screen could not be opened or read.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// Conversion or encoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The capture thread could not be started.
    #[error("cannot start the capture thread: {0}")]
    Thread(String),
}

/// Signals from the streamer to the capture thread.
#[derive(Debug, Default)]
pub struct Controls {
    keyframe: AtomicBool,
    stop: AtomicBool,
    /// Least time between screen polls set by the sender's rate control, in microseconds
    /// (0: none, the configured rate applies).
    paced_micros: AtomicU64,
}

impl Controls {
    /// Makes the next frame a keyframe.
    pub fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Relaxed);
    }
    /// Asks the thread to end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
    /// Whether the thread was asked to end.
    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
    /// Polls the screen at most `fps` times a second (never faster than configured).
    pub fn pace(&self, fps: f32) {
        let micros = if fps.is_finite() && fps > 0.0 {
            // Whole microseconds are precise enough; the float-to-int cast saturates.
            (1_000_000.0 / f64::from(fps)) as u64
        } else {
            0
        };
        self.paced_micros.store(micros, Ordering::Relaxed);
    }
    /// The time between polls: `configured`, or longer when the sender paces the thread.
    pub fn interval(&self, configured: Duration) -> Duration {
        configured.max(Duration::from_micros(
            self.paced_micros.load(Ordering::Relaxed),
        ))
    }
    fn take_keyframe(&self) -> bool {
        self.keyframe.swap(false, Ordering::Relaxed)
    }
    fn keyframe_pending(&self) -> bool {
        self.keyframe.load(Ordering::Relaxed)
    }
}

/// How often a capture loop sleeping on an unchanged screen wakes to look at its controls.
const QUIET_WAKE: Duration = Duration::from_millis(50);

/// Shortest time between two keyframes (an IDR of a 1080p desktop is about half a megabyte).
pub const KEYFRAME_SPACING: Duration = Duration::from_millis(500);

/// Runs the capture loop on the calling thread until stopped. `seq` numbers frames across
/// streaming periods; `runtime` is only used to wait for the frame channel's slot.
pub fn run(
    platform: &dyn Platform,
    config: PipelineConfig,
    controls: &Controls,
    frames: &mpsc::Sender<EncodedOutput>,
    runtime: &tokio::runtime::Handle,
    seq: &AtomicU64,
) -> (Stats, Result<(), StreamError>) {
    let mut stats = Stats::default();
    let result = Pipeline::open(platform, config).and_then(|mut pipeline| {
        let result = pipeline.run(controls, frames, runtime, seq);
        stats.record_polls(pipeline.polls, pipeline.unchanged);
        result
    });
    (stats, result)
}

struct Pipeline {
    source: Box<dyn crate::platform::ScreenSource>,
    detector: ChangeDetector,
    picture: I420Picture,
    encoder: Encoder,
    have_picture: bool,
    interval: Duration,
    polls: u64,
    unchanged: u64,
}

/// What one poll of the screen produced.
struct Poll {
    changed: bool,
    captured_at: SystemTime,
    timings: FrameTimings,
}

impl Pipeline {
    fn open(platform: &dyn Platform, config: PipelineConfig) -> Result<Self, StreamError> {
        let source = platform.open_screen(config.monitor)?;
        let (width, height) = source.size();
        let mut encoder_config = EncoderConfig::new(width, height);
        encoder_config.max_fps = config.max_fps;
        if let Some(bitrate) = config.target_bitrate_bps {
            encoder_config.target_bitrate_bps = bitrate;
        }
        if let Some(threads) = config.encoder_threads {
            encoder_config.threads = threads;
        }
        let encoder = Encoder::new(encoder_config)?;
        let fps = if config.max_fps.is_finite() && config.max_fps >= 1.0 {
            config.max_fps
        } else {
            30.0
        };
        Ok(Self {
            source,
            detector: ChangeDetector::new(),
            picture: I420Picture::new(width, height),
            encoder,
            have_picture: false,
            interval: Duration::from_secs_f32(1.0 / fps),
            polls: 0,
            unchanged: 0,
        })
    }

    fn run(
        &mut self,
        controls: &Controls,
        frames: &mpsc::Sender<EncodedOutput>,
        runtime: &tokio::runtime::Handle,
        seq: &AtomicU64,
    ) -> Result<(), StreamError> {
        let mut next_poll = Instant::now();
        let mut first = true;
        let mut last_keyframe: Option<Instant> = None;
        'frames: loop {
            // Wait until the sender took the previous frame, then encode the newest screen.
            let Ok(permit) = runtime.block_on(frames.reserve()) else {
                return Ok(());
            };
            loop {
                if controls.is_stopped() {
                    return Ok(());
                }
                let now = Instant::now();
                if next_poll > now {
                    std::thread::sleep(next_poll - now);
                }
                // Sleep while nothing is drawn (screens that report drawing), waking now
                // and then for a stop or a keyframe request.
                let key_allowed = last_keyframe.is_none_or(|at| at.elapsed() >= KEYFRAME_SPACING);
                let due = first || (key_allowed && controls.keyframe_pending());
                if !due && !self.source.wait_for_change(Instant::now() + QUIET_WAKE) {
                    continue;
                }
                next_poll = Instant::now() + controls.interval(self.interval);
                // A request already pending is answered by the first frame too (taken, not
                // left to cause a second keyframe once the spacing has passed).
                let requested = key_allowed && controls.take_keyframe();
                let keyframe = first || requested;
                let Some(poll) = self.poll()? else {
                    continue;
                };
                if !poll.changed && !keyframe {
                    self.unchanged += 1;
                    continue;
                }
                let mut timings = poll.timings;
                let started = Instant::now();
                let encoded = self.encoder.encode(&self.picture, keyframe)?;
                timings.encode = started.elapsed();
                first = false;
                if encoded.keyframe {
                    last_keyframe = Some(started);
                }
                let header = FrameHeader {
                    seq: seq.fetch_add(1, Ordering::Relaxed),
                    keyframe: encoded.keyframe,
                    width: self.picture.width(),
                    height: self.picture.height(),
                    capture_micros: micros_since_epoch(poll.captured_at),
                };
                tracing::trace!(
                    seq = header.seq,
                    keyframe = header.keyframe,
                    "frame encoded"
                );
                permit.send(EncodedOutput {
                    header,
                    data: encoded.data,
                    timings,
                });
                continue 'frames;
            }
        }
    }

    /// Captures once; converts the image when it changed. `None` when no image was ready.
    fn poll(&mut self) -> Result<Option<Poll>, StreamError> {
        let started = Instant::now();
        let mut seen: Option<(Poll, Result<(), CodecError>)> = None;
        let (detector, picture, have_picture) =
            (&mut self.detector, &mut self.picture, self.have_picture);
        let got = self.source.capture(&mut |captured: Captured<'_>| {
            let lent = Instant::now();
            let changed = detector.update(&captured.frame).any() || !have_picture;
            let detected = Instant::now();
            let converted = if changed {
                bgra_to_i420(&captured.frame, picture)
            } else {
                Ok(())
            };
            let timings = FrameTimings {
                capture: lent.saturating_duration_since(started),
                detect: detected - lent,
                convert: detected.elapsed(),
                encode: Duration::ZERO,
            };
            let poll = Poll {
                changed,
                captured_at: captured.captured_at,
                timings,
            };
            seen = Some((poll, converted));
        })?;
        self.polls += 1;
        let Some((poll, converted)) = seen.filter(|_| got) else {
            return Ok(None);
        };
        if poll.changed {
            // A failed conversion leaves the picture unusable until the next good one.
            self.have_picture = converted.is_ok();
            if converted.is_err() {
                self.detector.forget();
            }
            converted?;
        }
        Ok(Some(poll))
    }
}

fn micros_since_epoch(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
