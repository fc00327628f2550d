//! The network side of the windowed viewer: frames to the decoding thread, the window's
//! input to the gateway, the session's end back to the window.
//!
//! Contract: generic over the streams so tests drive it with in-memory pipes. It never
//! waits on the window: the window is told through [`Notify`] and its input arrives on a
//! queue; input goes out in the order the window produced it, each event with the next
//! sequence number. It stops when the gateway ends the session, the connection breaks, the
//! decoder stops, or the window closes (its input queue closes).

use crate::view::sink::{Sink, SinkEvent};
use crate::view::stream::{FrameStreams, Receiving};
use sos_transport::framing::write_message;
use sos_transport::wire::{
    DisplayInfo, EndReason, FromViewer, InputEvent, InputOutcome, MonitorInfo, Participant,
    ToViewer,
};
use std::fmt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the network side tells the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToWindow {
    /// A decoded picture waits in the slot.
    Frame,
    /// The agent dropped input: the end user did not allow control.
    ControlRefused,
    /// Who is on the session and who controls.
    Participants(Vec<Participant>),
    /// The end user's monitors and the picture shared now.
    Screen {
        /// Every monitor, left to right.
        monitors: Vec<MonitorInfo>,
        /// The shared picture.
        display: DisplayInfo,
    },
    /// The end user's app lost its connection; the session waits this many seconds for it.
    AgentAway(u32),
    /// The end user's app is back.
    AgentBack,
    /// The session is over for this viewer.
    Ended(SessionEnd),
}

/// What the window sends to the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// An input event for the agent.
    Input(InputEvent),
    /// Take the mouse and keyboard over.
    TakeControl,
    /// Share another monitor.
    ShareMonitor(u32),
}

/// Why the viewer stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The gateway ended the session.
    Ended(EndReason),
    /// The connection to the gateway broke.
    ConnectionLost(String),
    /// The decoding thread stopped.
    DecoderStopped(String),
    /// The technician closed the window; the session goes on.
    WindowClosed,
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::Ended(reason) => write!(f, "Session ended: {reason}"),
            SessionEnd::ConnectionLost(detail) => {
                write!(f, "The connection to the gateway was lost: {detail}")
            }
            SessionEnd::DecoderStopped(detail) => write!(f, "The video decoder stopped: {detail}"),
            SessionEnd::WindowClosed => f.write_str("The viewer was closed"),
        }
    }
}

/// How the network side reaches the window (an event loop proxy; a channel in tests).
pub trait Notify: Send + 'static {
    /// Tells the window; a closed window is not an error.
    fn notify(&self, event: ToWindow);
}

impl Notify for winit::event_loop::EventLoopProxy<ToWindow> {
    fn notify(&self, event: ToWindow) {
        // Fails only once the event loop is gone, when nobody is left to tell.
        let _ = self.send_event(event);
    }
}

impl Notify for std::sync::mpsc::Sender<ToWindow> {
    fn notify(&self, event: ToWindow) {
        let _ = self.send(event);
    }
}

/// Serves an accepted session for the window until it ends; tells the window why (unless
/// the window itself closed) and returns the same.
pub async fn serve<W, R, F, N>(
    mut control_send: W,
    control_recv: R,
    frames: F,
    sink: Sink,
    connected_at: Instant,
    mut input: mpsc::Receiver<Outgoing>,
    notify: N,
) -> SessionEnd
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin + Send + 'static,
    F: FrameStreams,
    N: Notify,
{
    let end = match Receiving::start(sink, frames, control_recv, connected_at) {
        Ok(mut receiving) => {
            let end = pump(&mut control_send, &mut receiving, &mut input, &notify).await;
            match (receiving.finish().await, end) {
                // A decoder failure explains a stop better than the stop itself.
                (Err(error), SessionEnd::DecoderStopped(_)) => {
                    SessionEnd::DecoderStopped(error.to_string())
                }
                (_, end) => end,
            }
        }
        Err(error) => SessionEnd::DecoderStopped(error.to_string()),
    };
    if let SessionEnd::DecoderStopped(detail) = &end {
        tracing::warn!(%detail, "the decoder stopped");
    }
    if end != SessionEnd::WindowClosed {
        notify.notify(ToWindow::Ended(end.clone()));
    }
    end
}

async fn pump<W, N>(
    control_send: &mut W,
    receiving: &mut Receiving,
    input: &mut mpsc::Receiver<Outgoing>,
    notify: &N,
) -> SessionEnd
where
    W: AsyncWrite + Unpin,
    N: Notify,
{
    let lost = |e: &dyn fmt::Display| SessionEnd::ConnectionLost(e.to_string());
    // No keyframe request on joining: the gateway asks the agent for one when it attaches
    // a viewer (asking here too cost a second IDR, about 0.5 MB at 1080p).
    let mut seq = 0u64;
    let mut refused = false;
    loop {
        let message = tokio::select! {
            event = receiving.events.recv() => match event {
                Some(SinkEvent::NeedKeyframe) => FromViewer::KeyframeRequest,
                None => return SessionEnd::DecoderStopped("no more frames are decoded".into()),
            },
            outgoing = input.recv() => match outgoing {
                Some(Outgoing::Input(event)) => {
                    seq += 1;
                    FromViewer::Input { seq, event }
                }
                Some(Outgoing::TakeControl) => FromViewer::TakeControl,
                Some(Outgoing::ShareMonitor(monitor)) => FromViewer::ShareMonitor { monitor },
                None => return SessionEnd::WindowClosed,
            },
            message = receiving.control.recv() => {
                match message {
                    Some(Ok(ToViewer::End(reason))) => return SessionEnd::Ended(reason),
                    Some(Ok(ToViewer::InputResult { seq, outcome })) => match outcome {
                        InputOutcome::Applied => {}
                        InputOutcome::NoControl => {
                            if !std::mem::replace(&mut refused, true) {
                                notify.notify(ToWindow::ControlRefused);
                            }
                        }
                        other => tracing::debug!(seq, %other, "input not applied"),
                    },
                    Some(Ok(ToViewer::Participants(list))) => {
                        notify.notify(ToWindow::Participants(list));
                    }
                    Some(Ok(ToViewer::Screen { monitors, display })) => {
                        notify.notify(ToWindow::Screen { monitors, display });
                    }
                    Some(Ok(ToViewer::AgentAway { window_secs })) => {
                        notify.notify(ToWindow::AgentAway(window_secs));
                    }
                    Some(Ok(ToViewer::AgentBack)) => notify.notify(ToWindow::AgentBack),
                    Some(Ok(other)) => tracing::debug!(?other, "ignoring control message"),
                    Some(Err(e)) => return lost(&e),
                    None => return lost(&"the gateway closed the control stream"),
                }
                continue;
            }
        };
        if let Err(e) = write_message(control_send, &message).await {
            return lost(&e);
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
