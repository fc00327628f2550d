//! The synthetic technicians' viewers: each attaches to a granted session on a QUIC
//! connection and endpoint of its own, greets like `sos-desk view` (the same library call),
//! then reads every frame stream in order, as the real viewer does, and measures each
//! frame's trip from its agent's first byte to its own last byte.
//!
//! A *stalled* viewer reads normally until the measuring window opens, then stops reading
//! anything (frames and control messages alike) while keeping its connection open, as a
//! frozen viewer would: the gateway must hold no more than a bounded queue for it, and the
//! other viewers of its session must not notice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sos_desk::quic::{AttachError, greet};
use sos_transport::framing::{decode, read_message};
use sos_transport::wire::{FrameHeader, Refusal, ToViewer, ViewerPurpose, close_code};
use sos_transport::{Secret, Trust};

use super::histogram::Histogram;
use super::stage::{Phase, Stage};

/// Largest frame header accepted (as `framing::read_frame`).
const MAX_HEADER: usize = 256;
/// Attempts while the gateway has not yet recorded the end user's grant.
const ATTACH_ATTEMPTS: u32 = 50;
const ATTACH_RETRY: Duration = Duration::from_millis(100);

/// Which viewer this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seat {
    /// The stream (its agent's index among the streaming agents).
    pub stream: usize,
    /// Which of the stream's viewers (0 is the assignee's).
    pub viewer: usize,
    /// Whether it stops reading when the window opens.
    pub stalls: bool,
}

/// What one viewer measured.
#[derive(Debug)]
pub struct ViewerResult {
    /// Who it was.
    pub seat: Seat,
    /// Frames sent in the window that it received.
    pub frames: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Their trip through the gateway, microseconds.
    pub latency: Histogram,
    /// Frames it began reading after the window opened (for a stalled viewer: after it
    /// stalled).
    pub frames_after_window_opened: u64,
    /// Why it stopped before the run did, if it did.
    pub failure: Option<String>,
    /// Whether its connection was still open when the run stopped.
    pub connected_at_end: bool,
}

/// An attached viewer, not yet reading.
pub struct Attached {
    endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

/// Attaches a viewer with the technician's `token` to `session`, retrying while the
/// gateway has not recorded the grant yet.
pub async fn attach(
    (gateway, server_name): (SocketAddr, &str),
    trust: &Trust,
    token: &Secret<String>,
    session: &str,
) -> Result<Attached, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        // One endpoint per viewer, as one `sos-desk view` process has.
        let endpoint =
            sos_transport::endpoint::client(gateway, trust).map_err(|e| e.to_string())?;
        let connection = endpoint
            .connect(gateway, server_name)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut send, mut recv) = connection.open_bi().await.map_err(|e| e.to_string())?;
        match greet(&mut send, &mut recv, token, session, ViewerPurpose::Watch).await {
            Ok(_) => {
                return Ok(Attached {
                    endpoint,
                    connection,
                    send,
                    recv,
                });
            }
            Err(AttachError::Refused(Refusal::ConsentNotGranted | Refusal::AgentOffline))
                if attempt < ATTACH_ATTEMPTS =>
            {
                connection.close(close_code::NORMAL.into(), b"retry");
                tokio::time::sleep(ATTACH_RETRY).await;
            }
            Err(e) => return Err(format!("refused: {e}")),
        }
    }
}

/// Reads frames until the run stops (or, stalled, stops reading when the window opens).
pub async fn watch(attached: Attached, seat: Seat, stage: Arc<Stage>) -> ViewerResult {
    let Attached {
        endpoint,
        connection,
        send,
        mut recv,
    } = attached;
    let mut result = ViewerResult {
        seat,
        frames: 0,
        bytes: 0,
        latency: Histogram::default(),
        frames_after_window_opened: 0,
        failure: None,
        connected_at_end: false,
    };
    let phase = stage.phase();
    // Participants and screen messages are read and dropped, so the gateway never waits on
    // this viewer's control queue; a stalled viewer keeps the stream open and unread.
    let mut unread = None;
    let control = if seat.stalls {
        unread = Some(recv);
        None
    } else {
        Some(tokio::spawn(async move {
            while let Ok(Some(_)) = read_message::<_, ToViewer>(&mut recv).await {}
        }))
    };
    loop {
        let next = tokio::select! {
            biased;
            () = until(&stage, Phase::Stop) => break,
            () = until(&stage, Phase::Measuring), if seat.stalls => {
                // Stalled: hold everything open, read nothing, until the run stops.
                until(&stage, Phase::Stop).await;
                break;
            }
            next = connection.accept_uni() => next,
        };
        // A stalled viewer finishes the frame it had begun when the window opened.
        let accepted_in_window = *phase.borrow() >= Phase::Measuring;
        let stream = match next {
            Ok(stream) => stream,
            Err(e) => {
                result.failure = Some(e.to_string());
                break;
            }
        };
        match read_frame(stream).await {
            Ok((header, bytes)) => {
                if accepted_in_window {
                    result.frames_after_window_opened += 1;
                }
                if stage.in_window(header.capture_micros) {
                    let trip = stage.micros().saturating_sub(header.capture_micros);
                    result.frames += 1;
                    result.bytes += bytes as u64;
                    result.latency.record(trip);
                    stage.note_trip(header.capture_micros, trip);
                }
            }
            Err(e) => {
                result.failure = Some(e);
                break;
            }
        }
    }
    result.connected_at_end = connection.close_reason().is_none();
    if let Some(control) = control {
        control.abort();
    }
    drop((send, unread));
    connection.close(close_code::NORMAL.into(), b"load run over");
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
    result
}

/// Waits until the run reaches `phase` (or its stage is gone).
async fn until(stage: &Stage, phase: Phase) {
    let mut receiver = stage.phase();
    // The guard of the value is dropped at once: it must not live across an await.
    let _reached = receiver.wait_for(|p| *p >= phase).await.map(|_| ());
}

/// Reads one frame stream: its header into a stack buffer, decoded by the wire's own
/// decoder, then the payload chunk by chunk without copying it; returns the header and the
/// payload's length.
async fn read_frame(mut stream: quinn::RecvStream) -> Result<(FrameHeader, usize), String> {
    let mut head = [0_u8; 4 + MAX_HEADER];
    stream
        .read_exact(&mut head[..4])
        .await
        .map_err(|e| format!("frame header: {e}"))?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len > MAX_HEADER {
        return Err(format!("a frame header of {len} bytes"));
    }
    stream
        .read_exact(&mut head[4..4 + len])
        .await
        .map_err(|e| format!("frame header: {e}"))?;
    let Some((header, _)) = decode::<FrameHeader>(&head[..4 + len], MAX_HEADER)
        .map_err(|e| format!("frame header: {e}"))?
    else {
        return Err(String::from("a truncated frame header"));
    };
    let mut bytes = 0;
    while let Some(chunk) = stream
        .read_chunk(usize::MAX, true)
        .await
        .map_err(|e| format!("frame payload: {e}"))?
    {
        bytes += chunk.bytes.len();
    }
    Ok((header, bytes))
}
