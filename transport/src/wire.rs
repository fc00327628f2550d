//! The messages on the gateway's QUIC port.
//!
//! A client opens one bidirectional *control stream* and sends a [`Hello`] first. The agent
//! then receives [`ToAgent`] and sends [`FromAgent`]; a technician's viewer receives
//! [`ToViewer`] and sends [`FromViewer`]. Video travels as one unidirectional stream per
//! frame: a length-prefixed [`FrameHeader`] followed by the encoded bytes up to the end of
//! the stream, relayed by the gateway without decoding.

use crate::redact::{Pin, Secret};
use serde::{Deserialize, Serialize};
use std::fmt;

/// QUIC application close codes used by every peer.
pub mod close_code {
    /// Normal end: the session was closed or stopped on purpose.
    pub const NORMAL: u32 = 0;
    /// The peer was refused (bad PIN, no permission); see the refusal message sent before.
    pub const REFUSED: u32 = 1;
    /// The peer broke the protocol (bad bytes, unexpected message).
    pub const PROTOCOL: u32 = 2;
    /// The gateway is shutting down; agents should reconnect.
    pub const SHUTDOWN: u32 = 3;
}

/// First message on the control stream: who is connecting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Hello {
    /// The end-user app registering a PIN.
    Agent(AgentHello),
    /// A technician's viewer (or input-only client) attaching to a session.
    Viewer(ViewerHello),
}

/// The end-user app's registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentHello {
    /// The session PIN the end user typed or the link carried.
    pub pin: Pin,
    /// Host name of the end user's machine, shown to the technician.
    pub machine_name: String,
    /// Operating system description.
    pub os: String,
    /// Agent version.
    pub version: String,
    /// Screens the agent can share.
    pub displays: Vec<DisplayInfo>,
    /// Monitors making up the shared screen, left to right (empty when unknown: the screen
    /// is then one monitor).
    pub monitors: Vec<MonitorInfo>,
    /// The session link's token when the app knows it (from its download's file name):
    /// proof that the end user holds the link, so PIN registration stays open to them
    /// while the gateway refuses PINs from guessers.
    pub link: Option<Secret<String>>,
    /// Coming back after a lost connection: the one-time ticket of the last registration.
    pub resume: Option<Resume>,
}

/// How an app that lost its connection comes back to its session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// The one-time ticket the gateway gave at the last registration ([`ResumeOffer`]).
    /// It stands in for the PIN: the gateway still holding the old connection, a blocked
    /// address or link-only mode do not refuse it.
    pub ticket: Secret<String>,
    /// Whether the app offers to keep the end user's grant: only within the window the
    /// gateway announced, counted from when the app noticed the loss. The grant is kept
    /// only when the gateway also finds the app back within its window.
    pub keep_consent: bool,
}

/// What the gateway gives a registered app to come back with after a lost connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeOffer {
    /// One-time ticket (256 random bits, hex); the gateway keeps only its hash.
    pub ticket: Secret<String>,
    /// How long after a loss the end user's grant may be kept without asking again.
    pub window_secs: u32,
}

/// One screen of the end user's machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayInfo {
    /// Index used to pick it.
    pub index: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether it is the primary screen.
    pub primary: bool,
}

/// One monitor of the shared screen and where it sits in the screen's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorInfo {
    /// Index a technician picks it by (`sos-desk input --display N`): 0 is the leftmost.
    pub index: u32,
    /// Column of its left edge in the shared screen.
    pub x: i32,
    /// Row of its top edge in the shared screen.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether the end user's system calls it primary.
    pub primary: bool,
}

/// A technician's viewer attaching to a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewerHello {
    /// API token of the technician (from `sos-desk login`).
    pub token: Secret<String>,
    /// Session to attach to.
    pub session_id: String,
    /// Whether this client wants the video stream or only sends input.
    pub purpose: ViewerPurpose,
}

/// What a viewer connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewerPurpose {
    /// Receive the video stream (and send input).
    Watch,
    /// Send input only; no video is sent to this connection.
    Input,
}

/// Why the gateway refused a connection. The same reason is given for unknown, used and
/// closed PINs so that a guesser learns nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Refusal {
    /// PIN unknown, already used, expired or closed.
    PinNotAccepted,
    /// Too many wrong PINs from this address.
    RateLimited,
    /// The viewer's token is missing, revoked or wrong.
    Unauthorized,
    /// The technician may not use this session.
    Forbidden,
    /// The session does not exist or has ended.
    SessionNotFound,
    /// The end user has not granted access (yet).
    ConsentNotGranted,
    /// The end user's app is not connected.
    AgentOffline,
    /// Three technicians are already watching.
    TooManyViewers,
    /// The licence does not allow support sessions.
    Licence,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::PinNotAccepted => {
                "PIN not accepted — check the 9 digits or ask your technician for a new link"
            }
            Refusal::RateLimited => {
                "too many wrong PINs from this network — wait 15 minutes or use the link your technician sent"
            }
            Refusal::Unauthorized => "not signed in — run `sos-desk login` again",
            Refusal::Forbidden => "you may not use this session — ask its assignee to invite you",
            Refusal::SessionNotFound => "no such live session — check the session id",
            Refusal::ConsentNotGranted => {
                "the end user has not granted access — run `sos-desk session request` first"
            }
            Refusal::AgentOffline => "the end user's app is not connected",
            Refusal::TooManyViewers => "three technicians are already on this session",
            Refusal::Licence => "the licence does not allow support sessions — ask your admin",
        })
    }
}

/// Why a live session ended, as both ends are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EndReason {
    /// A technician closed the session.
    ClosedByTechnician,
    /// The end user stopped it.
    StoppedByUser,
    /// The session was deleted.
    Deleted,
    /// The session expired.
    Expired,
    /// The end user's app disconnected.
    AgentDisconnected,
    /// The gateway is shutting down.
    GatewayShutdown,
    /// The session was given to another technician or released to the queue.
    Reassigned,
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndReason::ClosedByTechnician => "the technician closed the session",
            EndReason::StoppedByUser => "the end user stopped the session",
            EndReason::Deleted => "the session was deleted",
            EndReason::Expired => "the session expired",
            EndReason::AgentDisconnected => "the end user's app disconnected",
            EndReason::GatewayShutdown => "the gateway is shutting down",
            EndReason::Reassigned => "the session was given to another technician",
        })
    }
}

/// What the end user decided when asked for access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentDecision {
    /// Access granted; `control` says whether mouse and keyboard may be used.
    Grant {
        /// Whether input injection is allowed (false: view only).
        control: bool,
    },
    /// The end user said no.
    Deny,
    /// Nobody answered before the prompt timed out (treated as a deny).
    TimedOut,
}

/// Messages from the gateway to the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToAgent {
    /// The PIN was accepted.
    Registered {
        /// Session id.
        session_id: String,
        /// Organisation running the gateway, shown to the end user.
        organisation: String,
        /// The ticket to come back with if this connection is lost.
        resume: Option<ResumeOffer>,
        /// The app came back within the window with its ticket and offered to keep the
        /// grant: the end user's earlier answer stands and nobody is asked again.
        resumed: bool,
    },
    /// The registration was refused.
    Refused(Refusal),
    /// A technician asks for access.
    ConsentRequest {
        /// Id echoed in the reply.
        request_id: u64,
        /// Technician's display name.
        technician: String,
        /// Organisation of the technician.
        organisation: String,
        /// Whether control (not only viewing) is asked for.
        control: bool,
    },
    /// At least one viewer is watching: start (or keep) streaming.
    StartStream,
    /// Nobody is watching: stop capturing.
    StopStream,
    /// A viewer needs a keyframe.
    KeyframeRequest,
    /// An input event from a technician.
    Input {
        /// Gateway-local id of the sending viewer connection, echoed in the result.
        viewer: u32,
        /// Sequence number chosen by the viewer.
        seq: u64,
        /// The event.
        event: InputEvent,
    },
    /// The session ended on the gateway side.
    End(EndReason),
    /// A viewer connection left the session: the agent releases every key and button held
    /// and drops input still queued from that viewer.
    ViewerLeft {
        /// Gateway-local id of the viewer connection that left.
        viewer: u32,
    },
    /// Control passed to another technician: the agent releases every key and button held,
    /// so nothing the previous controller pressed stays down.
    ControlPassed,
    /// Share another monitor (index as in [`MonitorInfo::index`]); the agent answers with
    /// [`FromAgent::Sharing`].
    ShareMonitor {
        /// Monitor index.
        monitor: u32,
    },
}

/// Messages from the agent to the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromAgent {
    /// The end user's answer to a [`ToAgent::ConsentRequest`].
    ConsentReply {
        /// Id of the request answered.
        request_id: u64,
        /// The answer.
        decision: ConsentDecision,
    },
    /// What became of an input event.
    InputResult {
        /// Viewer connection id from the event.
        viewer: u32,
        /// Sequence number from the event.
        seq: u64,
        /// Outcome.
        outcome: InputOutcome,
    },
    /// The end user stopped the session.
    Stopped,
    /// The screen now shared (after [`ToAgent::ShareMonitor`], or refused: then the same
    /// one as before).
    Sharing {
        /// Size of the picture now streamed; `index` is the monitor's index.
        display: DisplayInfo,
    },
}

/// Messages from the gateway to a viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToViewer {
    /// Attached to the session.
    Accepted {
        /// Size of the shared screen.
        display: DisplayInfo,
        /// Whether the end user allowed control.
        control: bool,
    },
    /// Attachment refused.
    Refused(Refusal),
    /// What became of an input event sent by this viewer.
    InputResult {
        /// Sequence number from the event.
        seq: u64,
        /// Outcome.
        outcome: InputOutcome,
    },
    /// The session ended.
    End(EndReason),
    /// Who is on the session and who controls; sent on attach and on every change.
    Participants(Vec<Participant>),
    /// The monitors of the end user's screen and the one shared; sent on attach and when
    /// the shared monitor changes.
    Screen {
        /// Every monitor, left to right (empty when unknown: one monitor).
        monitors: Vec<MonitorInfo>,
        /// The shared picture; `index` is the shared monitor's index.
        display: DisplayInfo,
    },
    /// The end user's app lost its connection; the session waits for it to come back,
    /// with the end user's grant, for up to `window_secs`.
    AgentAway {
        /// How long the session waits, in seconds.
        window_secs: u32,
    },
    /// The end user's app is back and the picture resumes.
    AgentBack,
}

/// One technician on a live session, as the other technicians see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Display name.
    pub name: String,
    /// Whether this is the technician receiving the message.
    pub you: bool,
    /// Whether this technician has the mouse and keyboard.
    pub controlling: bool,
}

/// Messages from a viewer to the gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromViewer {
    /// Send an input event to the agent.
    Input {
        /// Sequence number, echoed in the result.
        seq: u64,
        /// The event.
        event: InputEvent,
    },
    /// Ask the agent for a keyframe.
    KeyframeRequest,
    /// Take the mouse and keyboard from whoever has them (hand-over); the other technicians
    /// keep watching.
    TakeControl,
    /// Share another monitor of the end user's screen (only the technician in control, or
    /// anyone while nobody controls).
    ShareMonitor {
        /// Monitor index, as in [`MonitorInfo::index`].
        monitor: u32,
    },
}

/// Outcome of one input event on the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum InputOutcome {
    /// Injected.
    Applied,
    /// Dropped: the end user granted view only, or no grant at all.
    NoControl,
    /// Dropped: the event was invalid (unknown key name, out-of-range position).
    Invalid,
    /// Dropped: injection failed on the agent's machine.
    Failed,
    /// Dropped: another technician has the mouse and keyboard (take control first).
    NotController,
    /// Dropped: it would have reached the end user's own sosdesk window (the permission
    /// prompt, the session bar), which only the end user may use.
    Protected,
}

impl fmt::Display for InputOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputOutcome::Applied => "applied",
            InputOutcome::NoControl => "dropped: the end user has not granted control",
            InputOutcome::Invalid => "dropped: invalid event",
            InputOutcome::Failed => "dropped: injection failed on the end user's machine",
            InputOutcome::NotController => {
                "dropped: another technician has control — take control first"
            }
            InputOutcome::Protected => {
                "dropped: it would have reached the end user's sosdesk window"
            }
        })
    }
}

/// Mouse buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MouseButton {
    /// Left button.
    Left,
    /// Middle button.
    Middle,
    /// Right button.
    Right,
}

/// Whether a key or button goes down, up, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Press {
    /// Goes down.
    Down,
    /// Goes up.
    Up,
    /// Down then up.
    Click,
}

/// One input event from a technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InputEvent {
    /// Move the pointer to an absolute position in the shared screen's pixels.
    MouseMove {
        /// Column.
        x: i32,
        /// Row.
        y: i32,
    },
    /// Press or release a mouse button.
    MouseButton {
        /// Which button.
        button: MouseButton,
        /// Down, up or click.
        press: Press,
    },
    /// Scroll; positive `dy` scrolls down, positive `dx` right.
    Wheel {
        /// Horizontal steps.
        dx: i32,
        /// Vertical steps.
        dy: i32,
    },
    /// Type text (any Unicode), independent of keyboard layout.
    Text(String),
    /// Press or release a named key (X keysym names: `Return`, `Tab`, `a`, `Control_L`).
    Key {
        /// Key name.
        name: String,
        /// Down, up or click.
        press: Press,
    },
    /// A key of the technician's keyboard: where it is and what it typed there, so that
    /// shortcuts are reproduced and text arrives right whatever the two keyboard layouts.
    KeyStroke {
        /// The physical key as a W3C UI Events `code`: `KeyC`, `Digit1`, `Enter`,
        /// `ControlLeft`, `F5`; `Unidentified` when the viewer cannot tell.
        code: String,
        /// What the key typed on the technician's layout with Shift, AltGr and Caps Lock
        /// applied but not Ctrl, Alt or Super (`c` for Ctrl+C, `é` after a dead key);
        /// empty when it types nothing (Enter, arrows, modifiers, a dead key itself).
        text: String,
        /// Down (sent again while held: key repeat), up, or both.
        press: Press,
    },
    /// Move the pointer to a position on one monitor of the shared screen.
    MouseMoveOn {
        /// Monitor index, as in [`MonitorInfo::index`].
        monitor: u32,
        /// Column from the monitor's left edge.
        x: i32,
        /// Row from the monitor's top edge.
        y: i32,
    },
    /// Click a button twice, close enough together to count as a double click.
    MouseDoubleClick {
        /// Which button.
        button: MouseButton,
    },
}

/// Header of one video frame stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameHeader {
    /// Frame sequence number, increasing.
    pub seq: u64,
    /// Whether the frame is an IDR (decodable on its own).
    pub keyframe: bool,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Capture time on the agent, microseconds since the Unix epoch (for latency figures).
    pub capture_micros: u64,
}

/// The character an X keysym name of common punctuation stands for (`minus` is `-`),
/// as used in [`InputEvent::Key`] names by the viewer and the agent alike.
pub fn keysym_character(name: &str) -> Option<char> {
    Some(match name {
        "minus" => '-',
        "equal" => '=',
        "plus" => '+',
        "comma" => ',',
        "period" => '.',
        "slash" => '/',
        "backslash" => '\\',
        "semicolon" => ';',
        "colon" => ':',
        "apostrophe" => '\'',
        "quotedbl" => '"',
        "grave" => '`',
        "bracketleft" => '[',
        "bracketright" => ']',
        "parenleft" => '(',
        "parenright" => ')',
        "underscore" => '_',
        "asterisk" => '*',
        "at" => '@',
        "numbersign" => '#',
        "dollar" => '$',
        "percent" => '%',
        "ampersand" => '&',
        "exclam" => '!',
        "question" => '?',
        "less" => '<',
        "greater" => '>',
        "bar" => '|',
        "asciitilde" => '~',
        "asciicircum" => '^',
        "braceleft" => '{',
        "braceright" => '}',
        _ => return None,
    })
}
