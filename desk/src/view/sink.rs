//! The decoding thread: gate, decode, record, measure.
//!
//! Contract: runs on a thread of its own so decoding never blocks the network task; it
//! takes frames in arrival order from a bounded queue (a slow decoder slows the reading of
//! streams, which QUIC flow control passes back to the gateway) and stops after the asked
//! number of decoded frames. A frame reaches the recording only after it decoded (or was
//! accepted by the decoder), so the file never holds a frame that breaks playback. Decoded
//! pictures go to a [`FrameOutput`] when one is given (the window), in decoding order.

use super::ViewError;
use super::gate::{Admission, FrameGate};
use super::stats::{StatsCollector, ViewStats};
use sos_codec::{DecodedFrame, Decoder};
use sos_transport::wire::FrameHeader;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// What the network side hands the decoding thread.
#[derive(Debug)]
pub enum SinkInput {
    /// One whole frame stream.
    Frame {
        /// Its header.
        header: FrameHeader,
        /// Annex-B bytes.
        payload: Vec<u8>,
    },
    /// A frame stream broke (reset by the gateway, truncated): its frame is missing.
    Lost(String),
}

/// What the decoding thread asks of the network side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkEvent {
    /// The stream lost sync: ask the agent for a keyframe.
    NeedKeyframe,
}

/// The result of a decoding run.
#[derive(Debug)]
pub struct SinkReport {
    /// Frames decoded.
    pub decoded: u64,
    /// The last decoded picture.
    pub last_frame: Option<DecodedFrame>,
    /// Figures of the run.
    pub stats: ViewStats,
}

/// A file the received frames are appended to.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl Recording {
    /// Creates (or truncates) the recording file.
    pub fn create(path: PathBuf) -> Result<Self, ViewError> {
        match File::create(&path) {
            Ok(file) => Ok(Self {
                path,
                writer: BufWriter::new(file),
            }),
            Err(source) => Err(ViewError::Record {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), ViewError> {
        self.writer
            .write_all(bytes)
            .map_err(|source| self.error(source))
    }

    fn finish(mut self) -> Result<(), ViewError> {
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().sync_all())
            .map_err(|source| self.error(source))
    }

    fn error(&self, source: std::io::Error) -> ViewError {
        ViewError::Record {
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// What is known about a decoded picture besides its pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameFacts {
    /// Its sequence number.
    pub seq: u64,
    /// Milliseconds from its capture on the agent to the end of its decoding (both clocks'
    /// wall time, so only an estimate across machines).
    pub latency_ms: f64,
    /// Encoded bytes received so far, all frames counted.
    pub bytes_total: u64,
    /// When its decoding ended.
    pub decoded_at: Instant,
}

/// Where decoded pictures go instead of being kept as the last frame.
pub struct FrameOutput(Box<dyn FnMut(DecodedFrame, FrameFacts) + Send>);

impl FrameOutput {
    /// Hands every decoded picture to `show`, on the decoding thread.
    pub fn new(show: impl FnMut(DecodedFrame, FrameFacts) + Send + 'static) -> Self {
        Self(Box::new(show))
    }

    /// Hands over one picture.
    pub fn show(&mut self, frame: DecodedFrame, facts: FrameFacts) {
        (self.0)(frame, facts);
    }
}

impl std::fmt::Debug for FrameOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameOutput")
    }
}

/// The decoding side of a viewing run.
#[derive(Debug)]
pub struct Sink {
    limit: u64,
    recording: Option<Recording>,
    output: Option<FrameOutput>,
}

impl Sink {
    /// Decodes until `limit` frames decoded, appending them to `recording` if given.
    pub fn new(limit: u64, recording: Option<Recording>) -> Self {
        Self {
            limit,
            recording,
            output: None,
        }
    }

    /// Hands every decoded picture to `output` (the report then has no last frame).
    pub fn showing(mut self, output: FrameOutput) -> Self {
        self.output = Some(output);
        self
    }

    /// Starts the decoding thread. `connected_at` is the origin of the first-frame time.
    pub fn spawn(
        self,
        input: mpsc::Receiver<SinkInput>,
        events: mpsc::Sender<SinkEvent>,
        connected_at: Instant,
    ) -> Result<oneshot::Receiver<Result<SinkReport, ViewError>>, ViewError> {
        let (done, report) = oneshot::channel();
        std::thread::Builder::new()
            .name("sos-desk-decode".into())
            .spawn(move || {
                let _ = done.send(self.run(input, events, connected_at));
            })
            .map_err(|e| ViewError::DecoderThread(e.to_string()))?;
        Ok(report)
    }

    fn run(
        mut self,
        mut input: mpsc::Receiver<SinkInput>,
        events: mpsc::Sender<SinkEvent>,
        connected_at: Instant,
    ) -> Result<SinkReport, ViewError> {
        let mut decoder = Decoder::new().map_err(ViewError::Decoder)?;
        let mut gate = FrameGate::new();
        let mut stats = StatsCollector::new();
        let mut last_frame = None;
        let lose_sync = |gate: &mut FrameGate| {
            if gate.lose_sync() {
                // The network side may already be gone; then nobody needs the keyframe.
                let _ = events.blocking_send(SinkEvent::NeedKeyframe);
            }
        };
        while stats.frames() < self.limit {
            let Some(item) = input.blocking_recv() else {
                break;
            };
            let (header, payload) = match item {
                SinkInput::Frame { header, payload } => (header, payload),
                SinkInput::Lost(detail) => {
                    tracing::warn!(%detail, "a video frame was lost");
                    lose_sync(&mut gate);
                    continue;
                }
            };
            stats.received(payload.len());
            match gate.admit(&header) {
                Admission::Decode => {}
                Admission::DropUntilKeyframe | Admission::DropStale => {
                    stats.dropped();
                    continue;
                }
            }
            match decoder.decode(&payload) {
                Ok(decoded) => {
                    if let Some(recording) = &mut self.recording {
                        recording.append(&payload)?;
                    }
                    if let Some(frame) = decoded {
                        let latency_ms =
                            (unix_micros() - i128::from(header.capture_micros)) as f64 / 1000.0;
                        let decoded_at = Instant::now();
                        stats.decoded(
                            decoded_at.duration_since(connected_at),
                            latency_ms,
                            frame.width,
                            frame.height,
                        );
                        match &mut self.output {
                            Some(output) => {
                                let facts = FrameFacts {
                                    seq: header.seq,
                                    latency_ms,
                                    bytes_total: stats.bytes(),
                                    decoded_at,
                                };
                                output.show(frame, facts);
                            }
                            None => last_frame = Some(frame),
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, seq = header.seq, "a video frame did not decode");
                    stats.dropped();
                    lose_sync(&mut gate);
                }
            }
        }
        if let Some(recording) = self.recording {
            recording.finish()?;
        }
        Ok(SinkReport {
            decoded: stats.frames(),
            last_frame,
            stats: stats.summary(),
        })
    }
}

/// Wall-clock time in microseconds since the Unix epoch, the clock of `capture_micros`.
fn unix_micros() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or_default()
}
