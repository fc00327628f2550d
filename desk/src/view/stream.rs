//! The network side of watching: the control stream, the frame streams, the deadline.
//!
//! Contract: generic over the streams so tests drive it with in-memory pipes; it never
//! decodes (that is the sink's thread) and every way out — frames done, session ended,
//! deadline, broken connection — stops the readers and waits for the sink's report.

use super::ViewError;
use super::sink::{Sink, SinkEvent, SinkInput, SinkReport};
use sos_transport::WireError;
use sos_transport::framing::{read_frame, read_message, write_message};
use sos_transport::wire::{EndReason, FromViewer, ToViewer};
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Frames waiting for the decoder; beyond this, reading streams pauses.
const FRAME_QUEUE: usize = 8;
/// Control messages waiting to be handled.
const CONTROL_QUEUE: usize = 16;

/// A source of video frame streams (one stream per frame), in the order they were opened.
pub trait FrameStreams: Send + 'static {
    /// One frame's stream.
    type Stream: AsyncRead + Unpin + Send;
    /// The next stream, or `None` once no more will come.
    fn next_stream(&mut self) -> impl Future<Output = Option<Self::Stream>> + Send;
}

impl FrameStreams for quinn::Connection {
    type Stream = quinn::RecvStream;
    async fn next_stream(&mut self) -> Option<Self::Stream> {
        self.accept_uni().await.ok()
    }
}

impl<S: AsyncRead + Unpin + Send + 'static> FrameStreams for mpsc::Receiver<S> {
    type Stream = S;
    async fn next_stream(&mut self) -> Option<S> {
        self.recv().await
    }
}

/// Why watching stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEnd {
    /// The decoder stopped: it has all the frames asked for, or no more frames came.
    FramesDone,
    /// The gateway ended the session.
    Ended(EndReason),
    /// The deadline passed.
    TimedOut,
    /// The control stream broke or closed.
    ConnectionLost(String),
}

/// What a viewing run produced.
#[derive(Debug)]
pub struct WatchOutcome {
    /// Why it stopped.
    pub end: WatchEnd,
    /// What the decoder did.
    pub report: SinkReport,
}

/// Watches an accepted session: asks for a keyframe, feeds every frame stream to `sink`,
/// answers its keyframe needs and stops as described in [`WatchEnd`].
pub async fn watch<W, R, F>(
    mut control_send: W,
    control_recv: R,
    frames: F,
    sink: Sink,
    connected_at: Instant,
    deadline: Instant,
) -> Result<WatchOutcome, ViewError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin + Send + 'static,
    F: FrameStreams,
{
    let mut receiving = Receiving::start(sink, frames, control_recv, connected_at)?;
    let end = drive(
        &mut control_send,
        &mut receiving.control,
        &mut receiving.events,
        deadline,
    )
    .await;
    let report = receiving.finish().await?;
    Ok(WatchOutcome { end, report })
}

/// The tasks and the thread that receive a session: frame streams to the decoding thread,
/// control messages to a queue.
#[derive(Debug)]
pub struct Receiving {
    /// What the decoding thread asks for.
    pub events: mpsc::Receiver<SinkEvent>,
    /// Control messages from the gateway, in order; an error ends them.
    pub control: mpsc::Receiver<Result<ToViewer, WireError>>,
    reader: tokio::task::JoinHandle<()>,
    control_reader: tokio::task::JoinHandle<()>,
    report: tokio::sync::oneshot::Receiver<Result<SinkReport, ViewError>>,
}

impl Receiving {
    /// Starts the decoding thread and the readers of frames and control messages.
    pub fn start<R, F>(
        sink: Sink,
        frames: F,
        control_recv: R,
        connected_at: Instant,
    ) -> Result<Self, ViewError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        F: FrameStreams,
    {
        let (input_tx, input_rx) = mpsc::channel(FRAME_QUEUE);
        let (event_tx, events) = mpsc::channel(FRAME_QUEUE);
        let (control_tx, control) = mpsc::channel(CONTROL_QUEUE);
        let report = sink.spawn(input_rx, event_tx, connected_at.into_std())?;
        Ok(Self {
            events,
            control,
            reader: tokio::spawn(read_frames(frames, input_tx)),
            control_reader: tokio::spawn(read_control(control_recv, control_tx)),
            report,
        })
    }

    /// Stops reading; the decoding thread drains what is queued, sees its input closed and
    /// reports.
    pub async fn finish(self) -> Result<SinkReport, ViewError> {
        self.reader.abort();
        self.control_reader.abort();
        drop(self.events);
        self.report
            .await
            .map_err(|_| ViewError::DecoderThread("it stopped without a report".into()))?
    }
}

async fn drive<W: AsyncWrite + Unpin>(
    control_send: &mut W,
    control_rx: &mut mpsc::Receiver<Result<ToViewer, WireError>>,
    event_rx: &mut mpsc::Receiver<SinkEvent>,
    deadline: Instant,
) -> WatchEnd {
    // No keyframe request on joining: the gateway asks the agent for one when it attaches
    // a viewer. Later ones come from the decoder losing the picture chain.
    loop {
        tokio::select! {
            event = event_rx.recv() => match event {
                Some(SinkEvent::NeedKeyframe) => {
                    tracing::debug!("asking for a keyframe");
                    if let Err(e) = write_message(control_send, &FromViewer::KeyframeRequest).await {
                        return WatchEnd::ConnectionLost(e.to_string());
                    }
                }
                None => return WatchEnd::FramesDone,
            },
            message = control_rx.recv() => match message {
                Some(Ok(ToViewer::End(reason))) => return WatchEnd::Ended(reason),
                Some(Ok(other)) => tracing::debug!(?other, "ignoring control message"),
                Some(Err(e)) => return WatchEnd::ConnectionLost(e.to_string()),
                None => {
                    return WatchEnd::ConnectionLost("the gateway closed the control stream".into());
                }
            },
            () = tokio::time::sleep_until(deadline) => return WatchEnd::TimedOut,
        }
    }
}

/// Reads frame streams one after the other, in the order the gateway opened them; QUIC
/// keeps receiving the later ones meanwhile.
async fn read_frames<F: FrameStreams>(mut frames: F, sink: mpsc::Sender<SinkInput>) {
    while let Some(mut stream) = frames.next_stream().await {
        let input = match read_frame(&mut stream).await {
            Ok((header, payload)) => SinkInput::Frame { header, payload },
            Err(e) => SinkInput::Lost(e.to_string()),
        };
        if sink.send(input).await.is_err() {
            break;
        }
    }
}

/// Forwards control messages so the driving loop can wait on them without losing half a
/// message when another branch wins.
async fn read_control<R: AsyncRead + Unpin>(
    mut recv: R,
    out: mpsc::Sender<Result<ToViewer, WireError>>,
) {
    loop {
        let message = match read_message::<_, ToViewer>(&mut recv).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        let failed = message.is_err();
        if out.send(message).await.is_err() || failed {
            break;
        }
    }
}
