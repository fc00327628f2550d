//! `sos-desk input`: send a few input events and report what the agent did with each.
//!
//! Contract: events are sent one at a time in the order move, click, text, keys, and the
//! next is sent only after the previous one's result arrived, so their order on the end
//! user's machine is the order given. The typed text is never echoed back (it may be a
//! password the technician types for the user).

use crate::Exit;
use crate::cli::InputArgs;
use crate::commands::LoggedIn;
use crate::quic::{Attached, attach, close};
use sos_transport::WireError;
use sos_transport::framing::{read_message, write_message};
use sos_transport::wire::{
    EndReason, FromViewer, InputEvent, InputOutcome, MouseButton, Press, ToViewer, ViewerPurpose,
};
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// How long to wait for the result of one event.
pub const RESULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting and attaching may take.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(20);

/// A pointer position in the shared screen's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    /// Column.
    pub x: i32,
    /// Row.
    pub y: i32,
}

/// Why a `--move` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a position — give X,Y as two whole numbers, such as 10,20")]
pub struct PointParseError {
    text: String,
}

/// Parses `X,Y` (spaces around the numbers allowed).
pub fn parse_point(text: &str) -> Result<Point, PointParseError> {
    let refuse = || PointParseError {
        text: text.to_string(),
    };
    let (x, y) = text.split_once(',').ok_or_else(refuse)?;
    let number = |part: &str| part.trim().parse::<i32>().map_err(|_| refuse());
    Ok(Point {
        x: number(x)?,
        y: number(y)?,
    })
}

impl FromStr for Point {
    type Err = PointParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_point(text)
    }
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.x, self.y)
    }
}

/// A mouse button as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ButtonArg {
    /// Left button.
    Left,
    /// Middle button.
    Middle,
    /// Right button.
    Right,
}

impl ButtonArg {
    fn button(self) -> MouseButton {
        match self {
            ButtonArg::Left => MouseButton::Left,
            ButtonArg::Middle => MouseButton::Middle,
            ButtonArg::Right => MouseButton::Right,
        }
    }
    fn name(self) -> &'static str {
        match self {
            ButtonArg::Left => "left",
            ButtonArg::Middle => "middle",
            ButtonArg::Right => "right",
        }
    }
}

/// One event to send, with its sequence number and how to name it to the technician.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedInput {
    /// Sequence number echoed in the result.
    pub seq: u64,
    /// The event.
    pub event: InputEvent,
    /// How the event is named in the output (never the typed text itself).
    pub label: String,
}

/// The events the arguments ask for, in the order move, click, text, keys.
pub fn plan(args: &InputArgs) -> Vec<PlannedInput> {
    let mut events = Vec::new();
    if let Some(point) = args.pointer {
        events.push((
            InputEvent::MouseMove {
                x: point.x,
                y: point.y,
            },
            format!("move {point}"),
        ));
    }
    if let Some(button) = args.click {
        events.push((
            InputEvent::MouseButton {
                button: button.button(),
                press: Press::Click,
            },
            format!("click {}", button.name()),
        ));
    }
    if let Some(text) = &args.text {
        let count = text.chars().count();
        let plural = if count == 1 { "" } else { "s" };
        events.push((
            InputEvent::Text(text.clone()),
            format!("text ({count} character{plural})"),
        ));
    }
    for name in &args.key {
        events.push((
            InputEvent::Key {
                name: name.clone(),
                press: Press::Click,
            },
            format!("key {name}"),
        ));
    }
    events
        .into_iter()
        .zip(1u64..)
        .map(|((event, label), seq)| PlannedInput { seq, event, label })
        .collect()
}

/// Failures while sending input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// Sending or reading a message failed.
    #[error("the connection to the gateway failed: {0}")]
    Wire(#[from] WireError),
    /// The gateway closed the control stream.
    #[error("the gateway closed the connection before answering — see its log")]
    Closed,
    /// No result within [`RESULT_TIMEOUT`].
    #[error("no answer for `{label}` within {} s — is the end user's app still connected?", RESULT_TIMEOUT.as_secs())]
    TimedOut {
        /// The event waited for.
        label: String,
    },
    /// Connecting to the gateway took too long.
    #[error("the gateway did not accept the connection within {} s — is it running and its QUIC port open?", ATTACH_TIMEOUT.as_secs())]
    AttachTimedOut,
    /// The session ended while sending.
    #[error("Session ended: {0}")]
    Ended(EndReason),
    /// Writing the report failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// How a run of events went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputVerdict {
    /// Every event was applied.
    AllApplied,
    /// The agent dropped input because control was not granted; later events were not sent.
    NoControl,
    /// At least one event was invalid or failed.
    SomeDropped,
}

/// Sends `events` one by one on the control stream and writes one line per result to `out`.
pub async fn send_all<W, R>(
    send: &mut W,
    recv: &mut R,
    events: &[PlannedInput],
    result_timeout: Duration,
    out: &mut dyn Write,
) -> Result<InputVerdict, InputError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let mut verdict = InputVerdict::AllApplied;
    for planned in events {
        write_message(
            send,
            &FromViewer::Input {
                seq: planned.seq,
                event: planned.event.clone(),
            },
        )
        .await?;
        let outcome = tokio::time::timeout(result_timeout, result_of(recv, planned.seq))
            .await
            .map_err(|_| InputError::TimedOut {
                label: planned.label.clone(),
            })??;
        writeln!(out, "{}: {outcome}", planned.label)?;
        match outcome {
            InputOutcome::Applied => {}
            InputOutcome::NoControl => {
                writeln!(out, "Input dropped: the end user has not granted control")?;
                return Ok(InputVerdict::NoControl);
            }
            _ => verdict = InputVerdict::SomeDropped,
        }
    }
    Ok(verdict)
}

/// Reads control messages until the result of `seq` arrives.
async fn result_of<R>(recv: &mut R, seq: u64) -> Result<InputOutcome, InputError>
where
    R: AsyncRead + Unpin,
{
    loop {
        match read_message::<_, ToViewer>(recv).await? {
            Some(ToViewer::InputResult { seq: got, outcome }) if got == seq => {
                return Ok(outcome);
            }
            Some(ToViewer::End(reason)) => return Err(InputError::Ended(reason)),
            Some(other) => tracing::debug!(?other, "ignoring control message"),
            None => return Err(InputError::Closed),
        }
    }
}

/// Runs `sos-desk input`.
pub async fn run(
    config_path: &Path,
    args: &InputArgs,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    let events = plan(args);
    let logged_in = LoggedIn::load(config_path)?;
    let attached = tokio::time::timeout(
        ATTACH_TIMEOUT,
        attach(
            &logged_in.api,
            &logged_in.trust,
            &logged_in.config.token,
            &args.id,
            ViewerPurpose::Input,
        ),
    )
    .await
    .map_err(|_| InputError::AttachTimedOut)??;
    let Attached {
        endpoint,
        connection,
        mut send,
        mut recv,
        ..
    } = attached;
    let verdict = send_all(&mut send, &mut recv, &events, RESULT_TIMEOUT, out).await;
    close(&endpoint, &connection).await;
    Ok(match verdict? {
        InputVerdict::AllApplied => Exit::Success,
        InputVerdict::NoControl | InputVerdict::SomeDropped => Exit::Failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(line: &[&str]) -> InputArgs {
        let mut full = vec!["sos-desk", "input", "s1"];
        full.extend_from_slice(line);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Input(args) => args,
            _ => panic!("not input"),
        }
    }

    #[test]
    fn points_parse_with_spaces_and_signs() {
        assert_eq!(parse_point("10,20"), Ok(Point { x: 10, y: 20 }));
        assert_eq!(parse_point(" 3 , -4 "), Ok(Point { x: 3, y: -4 }));
    }

    #[test]
    fn bad_points_say_what_is_expected() {
        for bad in [
            "",
            "10",
            "10,",
            ",20",
            "a,b",
            "1.5,2",
            "10,20,30",
            "10;20",
            "99999999999,1",
        ] {
            let err = parse_point(bad).unwrap_err();
            assert!(err.to_string().contains("such as 10,20"), "{bad}: {err}");
        }
    }

    #[test]
    fn plan_follows_move_click_text_keys() {
        let planned = plan(&args(&[
            "--key", "Tab", "--text", "héllo", "--click", "right", "--move", "1,2", "--key",
            "Return",
        ]));
        let labels: Vec<_> = planned.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "move 1,2",
                "click right",
                "text (5 characters)",
                "key Tab",
                "key Return"
            ]
        );
        let seqs: Vec<_> = planned.iter().map(|p| p.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(planned[2].event, InputEvent::Text("héllo".into()));
        assert_eq!(
            planned[1].event,
            InputEvent::MouseButton {
                button: MouseButton::Right,
                press: Press::Click
            }
        );
    }

    /// A fake gateway answering each input with the next outcome from `outcomes`.
    async fn run_against(
        outcomes: Vec<InputOutcome>,
        line: &[&str],
    ) -> (Result<InputVerdict, InputError>, String, usize) {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let gateway = tokio::spawn(async move {
            let mut seen = 0;
            for outcome in outcomes {
                let Ok(Some(FromViewer::Input { seq, .. })) =
                    read_message::<_, FromViewer>(&mut theirs).await
                else {
                    break;
                };
                seen += 1;
                // An unrelated result first: the client must skip it.
                write_message(
                    &mut theirs,
                    &ToViewer::InputResult {
                        seq: seq + 100,
                        outcome,
                    },
                )
                .await
                .unwrap();
                write_message(&mut theirs, &ToViewer::InputResult { seq, outcome })
                    .await
                    .unwrap();
            }
            seen
        });
        let (mut recv, mut send) = tokio::io::split(ours);
        let mut out = Vec::new();
        let planned = plan(&args(line));
        let verdict = send_all(
            &mut send,
            &mut recv,
            &planned,
            Duration::from_secs(5),
            &mut out,
        )
        .await;
        drop((recv, send));
        let seen = gateway.await.unwrap();
        (verdict, String::from_utf8(out).unwrap(), seen)
    }

    #[tokio::test]
    async fn all_applied() {
        let (verdict, out, seen) = run_against(
            vec![InputOutcome::Applied; 3],
            &["--move", "10,20", "--click", "left", "--text", "secret"],
        )
        .await;
        assert_eq!(verdict.unwrap(), InputVerdict::AllApplied);
        assert_eq!(seen, 3);
        assert_eq!(
            out,
            "move 10,20: applied\nclick left: applied\ntext (6 characters): applied\n"
        );
        assert!(!out.contains("secret"));
    }

    #[tokio::test]
    async fn no_control_stops_early() {
        let (verdict, out, seen) = run_against(
            vec![InputOutcome::NoControl, InputOutcome::Applied],
            &["--move", "10,20", "--click", "left"],
        )
        .await;
        assert_eq!(verdict.unwrap(), InputVerdict::NoControl);
        assert_eq!(seen, 1);
        assert!(out.ends_with("Input dropped: the end user has not granted control\n"));
    }

    #[tokio::test]
    async fn invalid_keys_are_reported_and_the_rest_still_sent() {
        let (verdict, out, seen) = run_against(
            vec![InputOutcome::Invalid, InputOutcome::Applied],
            &["--key", "NoSuchKey", "--key", "Return"],
        )
        .await;
        assert_eq!(verdict.unwrap(), InputVerdict::SomeDropped);
        assert_eq!(seen, 2);
        assert!(out.contains("key NoSuchKey: dropped: invalid event"));
    }

    #[tokio::test]
    async fn silence_times_out_and_end_is_reported() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let (mut recv, mut send) = tokio::io::split(ours);
        let planned = plan(&args(&["--key", "a"]));
        let mut out = Vec::new();
        let err = send_all(
            &mut send,
            &mut recv,
            &planned,
            Duration::from_millis(50),
            &mut out,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, InputError::TimedOut { .. }), "{err}");
        write_message(&mut theirs, &ToViewer::End(EndReason::StoppedByUser))
            .await
            .unwrap();
        let err = send_all(
            &mut send,
            &mut recv,
            &planned,
            Duration::from_secs(5),
            &mut out,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Session ended: the end user stopped the session"
        );
    }
}
