//! The browser viewer's messages, the same on WebTransport and on WebSocket.
//!
//! Control messages are JSON objects with a `type` field. On WebSocket each is one text
//! message; on WebTransport they travel on the bidirectional stream the page opens, each
//! as a 4-byte big-endian length and that many bytes of UTF-8 JSON (at most
//! [`MAX_BROWSER_MESSAGE`]).
//!
//! The page sends [`FromBrowser`], the ticket first; the gateway sends [`ToBrowser`].
//! Video frames go the other way only: one binary WebSocket message, or one
//! unidirectional WebTransport stream, per frame: a [`FRAME_HEADER_LEN`]-byte header then
//! the H.264 Annex B bytes.
//!
//! | offset | size | field                                                      |
//! |--------|------|------------------------------------------------------------|
//! | 0      | 1    | version, 1                                                 |
//! | 1      | 1    | flags: bit 0 set for a keyframe (IDR with SPS and PPS)     |
//! | 2      | 8    | sequence number, increasing                                |
//! | 10     | 8    | capture time on the agent, microseconds since Unix epoch   |
//! | 18     | 4    | picture width                                              |
//! | 22     | 4    | picture height                                             |
//!
//! All numbers big-endian. Pure: parsing and mapping only.

use serde::{Deserialize, Serialize};
use sos_transport::wire::{
    DisplayInfo, EndReason, FrameHeader, FromViewer, InputEvent, InputOutcome, MonitorInfo,
    MouseButton, Participant, Press, Refusal, ToViewer,
};

/// Largest control message the page may send, in bytes.
pub const MAX_BROWSER_MESSAGE: usize = 16 * 1024;
/// Length of the binary frame header.
pub const FRAME_HEADER_LEN: usize = 26;
/// Version byte of the frame header.
pub const FRAME_VERSION: u8 = 1;

/// A mouse button as the page names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Button {
    /// Main button.
    Left,
    /// Wheel button.
    Middle,
    /// Secondary button.
    Right,
}

/// What the page sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FromBrowser {
    /// The one-time ticket from `POST /api/v1/sessions/{id}/viewer-ticket`; first, once.
    Ticket {
        /// The ticket.
        ticket: String,
    },
    /// The pointer is over remote pixel (`x`, `y`) of the shared picture.
    Pointer {
        /// Column.
        x: i32,
        /// Row.
        y: i32,
    },
    /// A button went down or up.
    Button {
        /// Which.
        button: Button,
        /// Down (true) or up.
        down: bool,
    },
    /// Wheel steps; positive `dy` scrolls down, positive `dx` right.
    Wheel {
        /// Horizontal steps.
        dx: i32,
        /// Vertical steps.
        dy: i32,
    },
    /// A physical key went down (again while held: repeat) or up.
    Key {
        /// W3C UI Events `code` (`KeyA`, `ShiftLeft`).
        code: String,
        /// What it typed on the technician's layout without Ctrl, Alt or Super; empty
        /// when nothing.
        text: String,
        /// Down (true) or up.
        down: bool,
    },
    /// Take the mouse and keyboard from another technician.
    TakeControl,
    /// Share another monitor of the end user.
    ShareMonitor {
        /// Monitor index.
        monitor: u32,
    },
    /// The decoder needs a keyframe.
    KeyframeRequest,
    /// Close the support session for everyone (as the console's Close).
    EndSession,
    /// Clock probe: answered with [`ToBrowser::Pong`].
    Ping {
        /// Echoed.
        id: u64,
    },
}

/// What the page is told.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToBrowser {
    /// Attached: the shared picture and whether input is allowed.
    Accepted {
        /// The shared picture.
        display: DisplayInfo,
        /// Whether the end user allowed control.
        control: bool,
    },
    /// Not attached.
    Refused {
        /// Machine-readable reason.
        reason: Refusal,
        /// What to tell the technician.
        message: String,
    },
    /// An input event was dropped.
    InputResult {
        /// Why.
        outcome: InputOutcome,
        /// What to tell the technician.
        message: String,
    },
    /// The session is over for this viewer.
    Ended {
        /// Machine-readable reason.
        reason: EndReason,
        /// What to tell the technician.
        message: String,
    },
    /// Who is on the session and who controls.
    Participants {
        /// Technicians, in joining order.
        list: Vec<Participant>,
    },
    /// The end user's monitors and the picture shared.
    Screen {
        /// Monitors, left to right (empty: one).
        monitors: Vec<MonitorInfo>,
        /// The shared picture.
        display: DisplayInfo,
    },
    /// The end user's app lost its connection; the session waits for it.
    AgentAway {
        /// How long it waits, in seconds.
        window_secs: u32,
        /// What to tell the technician.
        message: String,
    },
    /// The end user's app is back.
    AgentBack,
    /// Answer to [`FromBrowser::Ping`], with the gateway's clock.
    Pong {
        /// From the ping.
        id: u64,
        /// Gateway time, microseconds since the Unix epoch.
        gateway_micros: u64,
    },
    /// A command was refused.
    Error {
        /// What to tell the technician.
        message: String,
    },
}

/// What a technician is told while the end user's app is away.
pub fn away_message(window_secs: u32) -> String {
    format!(
        "The end user's connection dropped — waiting up to {window_secs} s for their app to \
         come back; access stays as granted"
    )
}

impl ToBrowser {
    /// The page's form of a relay message; `None` for what the page need not hear
    /// (applied input).
    pub fn from_viewer(message: ToViewer) -> Option<Self> {
        Some(match message {
            ToViewer::Accepted { display, control } => ToBrowser::Accepted { display, control },
            ToViewer::Refused(reason) => ToBrowser::Refused {
                reason,
                message: reason.to_string(),
            },
            ToViewer::InputResult {
                outcome: InputOutcome::Applied,
                ..
            } => return None,
            ToViewer::InputResult { outcome, .. } => ToBrowser::InputResult {
                outcome,
                message: outcome.to_string(),
            },
            ToViewer::End(reason) => ToBrowser::Ended {
                reason,
                message: reason.to_string(),
            },
            ToViewer::Participants(list) => ToBrowser::Participants { list },
            ToViewer::Screen { monitors, display } => ToBrowser::Screen { monitors, display },
            ToViewer::AgentAway { window_secs } => ToBrowser::AgentAway {
                window_secs,
                message: away_message(window_secs),
            },
            ToViewer::AgentBack => ToBrowser::AgentBack,
        })
    }

    /// A refusal with its explanation.
    pub fn refused(reason: Refusal) -> Self {
        ToBrowser::Refused {
            reason,
            message: match reason {
                // The CLI's advice does not fit a page.
                Refusal::Unauthorized => {
                    "the viewer ticket was not accepted — reload the page".into()
                }
                Refusal::ConsentNotGranted => {
                    "the end user has not granted access — request remote access first".into()
                }
                other => other.to_string(),
            },
        }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // Serialising these plain types cannot fail (string keys, no maps of other keys).
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
    }
}

/// What a page's message asks the gateway to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Pass to the relay (input gets the next sequence number).
    Relay(FromViewer),
    /// Close the session.
    EndSession,
    /// Answer a ping.
    Ping(u64),
    /// A second ticket: a protocol error.
    Unexpected,
}

/// Maps a page's message after the ticket; `seq` counts input events.
pub fn command(message: FromBrowser, seq: &mut u64) -> Command {
    let mut input = |event: InputEvent| {
        *seq += 1;
        Command::Relay(FromViewer::Input { seq: *seq, event })
    };
    let press = |down: bool| if down { Press::Down } else { Press::Up };
    match message {
        FromBrowser::Ticket { .. } => Command::Unexpected,
        FromBrowser::Pointer { x, y } => input(InputEvent::MouseMove { x, y }),
        FromBrowser::Button { button, down } => input(InputEvent::MouseButton {
            button: match button {
                Button::Left => MouseButton::Left,
                Button::Middle => MouseButton::Middle,
                Button::Right => MouseButton::Right,
            },
            press: press(down),
        }),
        FromBrowser::Wheel { dx, dy } => input(InputEvent::Wheel { dx, dy }),
        FromBrowser::Key { code, text, down } => input(InputEvent::KeyStroke {
            code,
            text,
            press: press(down),
        }),
        FromBrowser::TakeControl => Command::Relay(FromViewer::TakeControl),
        FromBrowser::ShareMonitor { monitor } => {
            Command::Relay(FromViewer::ShareMonitor { monitor })
        }
        FromBrowser::KeyframeRequest => Command::Relay(FromViewer::KeyframeRequest),
        FromBrowser::EndSession => Command::EndSession,
        FromBrowser::Ping { id } => Command::Ping(id),
    }
}

/// Parses a page's message.
pub fn parse(text: &[u8]) -> Result<FromBrowser, String> {
    if text.len() > MAX_BROWSER_MESSAGE {
        return Err(format!(
            "message of {} bytes exceeds {MAX_BROWSER_MESSAGE}",
            text.len()
        ));
    }
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

/// The binary header of a frame.
pub fn frame_header(header: &FrameHeader) -> [u8; FRAME_HEADER_LEN] {
    let mut out = [0u8; FRAME_HEADER_LEN];
    out[0] = FRAME_VERSION;
    out[1] = u8::from(header.keyframe);
    out[2..10].copy_from_slice(&header.seq.to_be_bytes());
    out[10..18].copy_from_slice(&header.capture_micros.to_be_bytes());
    out[18..22].copy_from_slice(&header.width.to_be_bytes());
    out[22..26].copy_from_slice(&header.height.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_messages_map_to_relay_messages_with_increasing_sequence_numbers() {
        let mut seq = 0;
        let parsed = |text: &str| parse(text.as_bytes()).unwrap();
        assert_eq!(
            command(parsed(r#"{"type":"pointer","x":10,"y":20}"#), &mut seq),
            Command::Relay(FromViewer::Input {
                seq: 1,
                event: InputEvent::MouseMove { x: 10, y: 20 }
            })
        );
        assert_eq!(
            command(
                parsed(r#"{"type":"key","code":"KeyA","text":"a","down":false}"#),
                &mut seq
            ),
            Command::Relay(FromViewer::Input {
                seq: 2,
                event: InputEvent::KeyStroke {
                    code: "KeyA".into(),
                    text: "a".into(),
                    press: Press::Up
                }
            })
        );
        assert_eq!(
            command(
                parsed(r#"{"type":"button","button":"right","down":true}"#),
                &mut seq
            ),
            Command::Relay(FromViewer::Input {
                seq: 3,
                event: InputEvent::MouseButton {
                    button: MouseButton::Right,
                    press: Press::Down
                }
            })
        );
        assert_eq!(
            command(parsed(r#"{"type":"take_control"}"#), &mut seq),
            Command::Relay(FromViewer::TakeControl)
        );
        assert_eq!(
            command(parsed(r#"{"type":"ticket","ticket":"x"}"#), &mut seq),
            Command::Unexpected
        );
        assert_eq!(seq, 3, "only input is numbered");
    }

    #[test]
    fn malformed_and_oversized_messages_are_refused() {
        assert!(parse(b"{\"type\":\"pointer\",\"x\":1}").is_err());
        assert!(parse(b"{\"type\":\"launch_missiles\"}").is_err());
        assert!(parse(b"\xff\xfe").is_err());
        let big = format!(
            r#"{{"type":"key","code":"KeyA","text":"{}","down":true}}"#,
            "a".repeat(MAX_BROWSER_MESSAGE)
        );
        assert!(parse(big.as_bytes()).unwrap_err().contains("exceeds"));
    }

    #[test]
    fn the_frame_header_is_laid_out_as_documented() {
        let header = frame_header(&FrameHeader {
            seq: 0x0102,
            keyframe: true,
            width: 1920,
            height: 1080,
            capture_micros: 0x0a0b,
        });
        assert_eq!(header[0], FRAME_VERSION);
        assert_eq!(header[1], 1);
        assert_eq!(&header[2..10], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(&header[10..18], &[0, 0, 0, 0, 0, 0, 0x0a, 0x0b]);
        assert_eq!(u32::from_be_bytes(header[18..22].try_into().unwrap()), 1920);
        assert_eq!(u32::from_be_bytes(header[22..26].try_into().unwrap()), 1080);
    }

    #[test]
    fn applied_input_is_not_echoed_and_endings_explain_themselves() {
        assert_eq!(
            ToBrowser::from_viewer(ToViewer::InputResult {
                seq: 1,
                outcome: InputOutcome::Applied
            }),
            None
        );
        let ended = ToBrowser::from_viewer(ToViewer::End(EndReason::StoppedByUser)).unwrap();
        assert_eq!(
            ended.to_json(),
            r#"{"type":"ended","reason":"StoppedByUser","message":"the end user stopped the session"}"#
        );
    }

    #[test]
    fn the_page_hears_when_the_app_is_away_and_back() {
        let away = ToBrowser::from_viewer(ToViewer::AgentAway { window_secs: 60 }).unwrap();
        assert_eq!(
            away.to_json(),
            format!(
                r#"{{"type":"agent_away","window_secs":60,"message":"{}"}}"#,
                away_message(60)
            )
        );
        assert!(away_message(60).contains("up to 60 s"));
        let back = ToBrowser::from_viewer(ToViewer::AgentBack).unwrap();
        assert_eq!(back.to_json(), r#"{"type":"agent_back"}"#);
    }
}
