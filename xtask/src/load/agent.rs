//! The synthetic end-user apps: each registers a session's PIN on a QUIC connection of its
//! own (the transport settings of the real app, QUIC keep-alive included), then stays
//! connected; asked for access, it grants view only; told to stream, it sends frames of
//! realistic sizes at the asked rate, one unidirectional stream per frame, as the real app
//! does (at most [`MAX_IN_FLIGHT`] unacknowledged, a keyframe first and on request).
//!
//! A frame's header carries, in `capture_micros`, the run's monotonic clock when the agent
//! started sending it (see [`super::stage`]); the payload is opaque noise, since the relay
//! never decodes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use sos_transport::framing::{self, read_message, write_message};
use sos_transport::wire::{
    AgentHello, ConsentDecision, DisplayInfo, FrameHeader, FromAgent, Hello, Refusal, ToAgent,
};
use sos_transport::{Pin, WireError};
use tokio::sync::{Notify, watch};
use tokio::time::MissedTickBehavior;

use super::stage::{FrameShape, Phase, Stage, xorshift};

/// The real app's limit on frames written but not yet acknowledged (agent/src/stream.rs).
pub const MAX_IN_FLIGHT: usize = 4;
/// The real app stops waiting for a frame's acknowledgement after this.
const ACK_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for the gateway's answer to the registration (as the real app).
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// The screen every synthetic agent shares.
const SCREEN: DisplayInfo = DisplayInfo {
    index: 0,
    width: 1920,
    height: 1080,
    primary: true,
};

/// The registration message of synthetic agent `index`: the one place it is built.
pub fn hello(pin: Pin, index: usize) -> Hello {
    Hello::Agent(AgentHello {
        pin,
        machine_name: format!("load-agent-{index:05}"),
        os: String::from("Linux (xtask load)"),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        displays: vec![SCREEN],
        monitors: Vec::new(),
        link: None,
        resume: None,
    })
}

/// What a synthetic agent does about one message from the gateway.
#[derive(Debug, PartialEq)]
pub enum Reaction {
    /// Answer this on the control stream.
    Reply(FromAgent),
    /// Start (or keep) streaming.
    Start,
    /// Stop streaming.
    Stop,
    /// Make the next frame a keyframe.
    Keyframe,
    /// The session ended: the connection goes.
    End,
    /// Nothing to do (input is refused by the gateway anyway: access is view only).
    Nothing,
}

/// The synthetic end user: grants view-only access to whoever asks, at once.
pub fn react(message: &ToAgent) -> Reaction {
    match message {
        ToAgent::ConsentRequest { request_id, .. } => Reaction::Reply(FromAgent::ConsentReply {
            request_id: *request_id,
            decision: ConsentDecision::Grant { control: false },
        }),
        ToAgent::StartStream => Reaction::Start,
        ToAgent::StopStream => Reaction::Stop,
        ToAgent::KeyframeRequest => Reaction::Keyframe,
        ToAgent::End(_) | ToAgent::Refused(_) => Reaction::End,
        _ => Reaction::Nothing,
    }
}

/// Frame sizes: uniform between the shape's bounds, deterministic per agent.
#[derive(Debug)]
pub struct FrameSizes {
    shape: FrameShape,
    state: u64,
}

impl FrameSizes {
    /// The sizes of agent `index`.
    pub fn new(shape: FrameShape, index: usize) -> Self {
        Self {
            shape,
            state: 0x2545_f491_4f6c_dd1d ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9),
        }
    }

    /// The next frame's size.
    pub fn next(&mut self, keyframe: bool) -> usize {
        if keyframe {
            return self.shape.keyframe_bytes;
        }
        self.state = xorshift(self.state);
        let spread = (self.shape.max_bytes - self.shape.min_bytes) as u64 + 1;
        self.shape.min_bytes + (self.state % spread) as usize
    }
}

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterFailure {
    /// No QUIC connection.
    Connect(String),
    /// The gateway refused the PIN.
    Refused(Refusal),
    /// The connection dropped or the gateway said something else.
    Lost(String),
    /// No answer within the real app's timeout.
    NoAnswer,
}

impl RegisterFailure {
    /// A short name to count failures by.
    pub fn kind(&self) -> String {
        match self {
            Self::Connect(detail) => format!("connect: {detail}"),
            Self::Refused(refusal) => format!("refused: {refusal:?}"),
            Self::Lost(detail) => format!("lost: {detail}"),
            Self::NoAnswer => String::from("no answer in time"),
        }
    }
}

/// Counters of one agent, updated by its tasks and read by the run.
#[derive(Debug, Default)]
pub struct AgentCounters {
    /// Frames sent that were stamped inside the window.
    pub frames: AtomicU64,
    /// Of which keyframes.
    pub keyframes: AtomicU64,
    /// Payload bytes of those frames.
    pub bytes: AtomicU64,
    /// Frame ticks of the window skipped because [`MAX_IN_FLIGHT`] frames were unacknowledged.
    pub skipped: AtomicU64,
    /// Keyframe requests received during the window.
    pub keyframe_requests: AtomicU64,
}

/// What the run knows of one registered agent.
#[derive(Debug)]
pub struct AgentState {
    /// Its counters.
    pub counters: AgentCounters,
    /// Signalled once it answered a consent request.
    pub granted: Notify,
    keyframe: AtomicBool,
    streaming: watch::Sender<bool>,
    ended: Mutex<Option<String>>,
}

impl AgentState {
    fn new() -> Self {
        Self {
            counters: AgentCounters::default(),
            granted: Notify::new(),
            keyframe: AtomicBool::new(false),
            streaming: watch::Sender::new(false),
            ended: Mutex::new(None),
        }
    }

    /// Why its control stream or streaming ended, if it did.
    pub fn ended(&self) -> Option<String> {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn end(&self, why: String) {
        let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
        if ended.is_none() {
            *ended = Some(why);
        }
    }
}

/// A registered synthetic agent.
#[derive(Debug)]
pub struct Agent {
    /// Its session, as the gateway said.
    pub session_id: String,
    /// Its connection.
    pub connection: quinn::Connection,
    /// Its state and counters.
    pub state: Arc<AgentState>,
}

/// Connects on `endpoint` and registers `pin` as agent `index`; then answers the gateway
/// (and streams when told) until the run stops.
pub async fn register(
    endpoint: &quinn::Endpoint,
    (gateway, server_name): (SocketAddr, &str),
    pin: Pin,
    index: usize,
    stage: Arc<Stage>,
) -> Result<Agent, RegisterFailure> {
    let connection = endpoint
        .connect(gateway, server_name)
        .map_err(|e| RegisterFailure::Connect(e.to_string()))?
        .await
        .map_err(|e| RegisterFailure::Connect(e.to_string()))?;
    let lost = |e: String| RegisterFailure::Lost(e);
    let (mut send, mut recv) = connection
        .open_bi()
        .await
        .map_err(|e| lost(e.to_string()))?;
    write_message(&mut send, &hello(pin, index))
        .await
        .map_err(|e| lost(e.to_string()))?;
    let answer = tokio::time::timeout(REGISTRATION_TIMEOUT, read_message(&mut recv))
        .await
        .map_err(|_| RegisterFailure::NoAnswer)?;
    let session_id = match answer {
        Ok(Some(ToAgent::Registered { session_id, .. })) => session_id,
        Ok(Some(ToAgent::Refused(refusal))) => return Err(RegisterFailure::Refused(refusal)),
        Ok(Some(_)) => return Err(lost(String::from("an unexpected message"))),
        Ok(None) => return Err(lost(String::from("the stream ended"))),
        Err(e) => return Err(lost(e.to_string())),
    };
    // As the app does.
    sos_transport::endpoint::discard_ack_carriers(&connection);
    let state = Arc::new(AgentState::new());
    tokio::spawn(control(
        connection.clone(),
        send,
        recv,
        state.clone(),
        stage,
        index,
    ));
    Ok(Agent {
        session_id,
        connection,
        state,
    })
}

/// Reads the gateway's messages and reacts, as the real app's session loop does.
async fn control(
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    state: Arc<AgentState>,
    stage: Arc<Stage>,
    index: usize,
) {
    let mut streamer = None;
    let why = loop {
        let message = match read_message::<_, ToAgent>(&mut recv).await {
            Ok(Some(message)) => message,
            Ok(None) => break String::from("the gateway finished the control stream"),
            Err(WireError::Io(e)) => break e.to_string(),
            Err(e) => break format!("control stream: {e}"),
        };
        match react(&message) {
            Reaction::Reply(reply) => {
                if let Err(e) = write_message(&mut send, &reply).await {
                    break e.to_string();
                }
                state.granted.notify_one();
            }
            Reaction::Start => {
                state.streaming.send_replace(true);
                if streamer.is_none() {
                    streamer = Some(tokio::spawn(stream(
                        connection.clone(),
                        state.clone(),
                        stage.clone(),
                        index,
                    )));
                }
            }
            Reaction::Stop => {
                state.streaming.send_replace(false);
            }
            Reaction::Keyframe => {
                state.keyframe.store(true, Ordering::Relaxed);
                if *stage.phase().borrow() == Phase::Measuring {
                    state
                        .counters
                        .keyframe_requests
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            Reaction::End => break format!("the gateway ended the session ({message:?})"),
            Reaction::Nothing => {}
        }
    };
    state.streaming.send_replace(false);
    // The run's own stop closes connections on purpose: that is not a failure.
    if *stage.phase().borrow() != Phase::Stop {
        state.end(why);
    }
}

/// Sends frames at the stage's rate while streaming is on, until the run stops.
async fn stream(
    connection: quinn::Connection,
    state: Arc<AgentState>,
    stage: Arc<Stage>,
    index: usize,
) {
    let mut streaming = state.streaming.subscribe();
    let mut phase = stage.phase();
    let mut sizes = FrameSizes::new(stage.shape, index);
    let period = Duration::from_secs(1) / stage.shape.fps.max(1);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut in_flight = tokio::task::JoinSet::new();
    let mut seq = 0_u64;
    // The first frame of a streaming period is a keyframe, as in the real app.
    let mut first = true;
    let counters = &state.counters;
    loop {
        if !*streaming.borrow_and_update() {
            first = true;
            tokio::select! {
                changed = streaming.changed() => if changed.is_err() { return },
                _ = phase.wait_for(|p| *p == Phase::Stop) => return,
            }
            continue;
        }
        tokio::select! {
            _ = tick.tick() => {}
            _ = streaming.changed() => continue,
            _ = phase.wait_for(|p| *p == Phase::Stop) => return,
        }
        while in_flight.try_join_next().is_some() {}
        let sent = stage.micros();
        let counted = stage.in_window(sent);
        if in_flight.len() >= MAX_IN_FLIGHT {
            if counted {
                counters.skipped.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let keyframe = std::mem::take(&mut first) | state.keyframe.swap(false, Ordering::Relaxed);
        let size = sizes.next(keyframe);
        let header = FrameHeader {
            seq,
            keyframe,
            width: SCREEN.width,
            height: SCREEN.height,
            capture_micros: sent,
        };
        match send_frame(&connection, &header, stage.payload.slice(..size)).await {
            Ok(stream) => {
                in_flight.spawn(async move {
                    let _ = tokio::time::timeout(ACK_WAIT, stream.stopped()).await;
                });
            }
            Err(e) => {
                if *phase.borrow() != Phase::Stop {
                    state.end(format!("frame not sent: {e}"));
                }
                return;
            }
        }
        seq += 1;
        if counted {
            counters.frames.fetch_add(1, Ordering::Relaxed);
            counters
                .keyframes
                .fetch_add(u64::from(keyframe), Ordering::Relaxed);
            counters.bytes.fetch_add(size as u64, Ordering::Relaxed);
        }
    }
}

/// One frame on a stream of its own: the header as the wire encodes it, then the payload
/// without copying it, then the end of the stream.
async fn send_frame(
    connection: &quinn::Connection,
    header: &FrameHeader,
    payload: Bytes,
) -> Result<quinn::SendStream, String> {
    let mut stream = connection.open_uni().await.map_err(|e| e.to_string())?;
    let head = framing::encode(header).map_err(|e| e.to_string())?;
    stream
        .write_chunk(Bytes::from(head))
        .await
        .map_err(|e| e.to_string())?;
    stream
        .write_chunk(payload)
        .await
        .map_err(|e| e.to_string())?;
    stream.finish().map_err(|e| e.to_string())?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sos_transport::framing::{decode, encode};
    use sos_transport::wire::EndReason;

    #[test]
    fn the_synthetic_end_user_grants_view_only_and_follows_the_gateway() {
        let request = ToAgent::ConsentRequest {
            request_id: 7,
            technician: String::from("Ann"),
            organisation: String::from("Org"),
            control: true,
        };
        assert_eq!(
            react(&request),
            Reaction::Reply(FromAgent::ConsentReply {
                request_id: 7,
                decision: ConsentDecision::Grant { control: false },
            })
        );
        assert_eq!(react(&ToAgent::StartStream), Reaction::Start);
        assert_eq!(react(&ToAgent::StopStream), Reaction::Stop);
        assert_eq!(react(&ToAgent::KeyframeRequest), Reaction::Keyframe);
        assert_eq!(
            react(&ToAgent::End(EndReason::ClosedByTechnician)),
            Reaction::End
        );
        assert_eq!(react(&ToAgent::ViewerLeft { viewer: 1 }), Reaction::Nothing);
    }

    #[test]
    fn frame_sizes_stay_in_their_bounds_and_differ_between_agents() {
        let shape = FrameShape {
            fps: 30,
            min_bytes: 5_000,
            max_bytes: 20_000,
            keyframe_bytes: 200_000,
        };
        let mut first = FrameSizes::new(shape, 0);
        let mut second = FrameSizes::new(shape, 1);
        let a: Vec<usize> = (0..1_000).map(|_| first.next(false)).collect();
        let b: Vec<usize> = (0..1_000).map(|_| second.next(false)).collect();
        assert!(a.iter().all(|size| (5_000..=20_000).contains(size)));
        assert_ne!(a, b);
        let mean = a.iter().sum::<usize>() / a.len();
        assert!((11_000..14_000).contains(&mean), "{mean}");
        assert_eq!(first.next(true), 200_000);
    }

    #[test]
    fn the_hello_carries_the_pin_and_decodes() {
        let pin = Pin::parse("123456789").unwrap();
        let bytes = encode(&hello(pin, 3)).unwrap();
        let (back, _): (Hello, usize) = decode(&bytes, sos_transport::MAX_CONTROL_MESSAGE)
            .unwrap()
            .unwrap();
        let Hello::Agent(agent) = back else {
            panic!("not an agent hello");
        };
        assert_eq!(agent.pin.expose(), "123456789");
        assert_eq!(agent.machine_name, "load-agent-00003");
        assert!(
            !format!("{agent:?}").contains("123456789"),
            "the PIN is redacted"
        );
    }
}
