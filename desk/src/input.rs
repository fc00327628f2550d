//! `sos-desk input`: send input events and report what the agent did with each.
//!
//! Contract: events are sent one at a time in the order move, drag, click, double click,
//! wheel, text, keys, held keys, and the next is sent only after the previous one's result
//! arrived, so their order on the end user's machine is the order given. A key combination
//! is sent whole (its key-ups too) even when one of its events is dropped, so nothing stays
//! pressed. The typed text is never echoed back (it may be a password the technician types
//! for the user).

mod bench;
mod combo;
mod values;

pub use bench::BenchReport;
pub use combo::{Combo, ComboError};
pub use values::{
    ButtonArg, Drag, DragParseError, Point, PointParseError, WheelParseError, WheelSteps,
    parse_drag, parse_point, parse_wheel,
};

use crate::Exit;
use crate::cli::InputArgs;
use crate::commands::LoggedIn;
use crate::quic::{Attached, attach, close};
use sos_transport::WireError;
use sos_transport::framing::{read_message, write_message};
use sos_transport::wire::{
    EndReason, FromViewer, InputEvent, InputOutcome, MouseButton, Press, ToViewer, ViewerPurpose,
};
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// How long to wait for the result of one event.
pub const RESULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting and attaching may take.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(20);
/// Pointer moves between the ends of a drag (applications notice a drag by its motion).
const DRAG_STEPS: i32 = 8;

/// One thing the technician asked for: one or more events and how to name them.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// How the step is named in the output (never the typed text itself).
    pub label: String,
    /// Its events, in order.
    pub events: Vec<InputEvent>,
}

/// The steps the arguments ask for, in the order move, drag, click, double click, wheel,
/// text, keys, held keys.
pub fn plan(args: &InputArgs) -> Vec<Step> {
    let mut steps = Vec::new();
    let on = match args.display {
        Some(n) => format!(" on display {n}"),
        None => String::new(),
    };
    let move_to = |point: Point| match args.display {
        Some(monitor) => InputEvent::MouseMoveOn {
            monitor,
            x: point.x,
            y: point.y,
        },
        None => InputEvent::MouseMove {
            x: point.x,
            y: point.y,
        },
    };
    let button = |button, press| InputEvent::MouseButton { button, press };
    if let Some(point) = args.pointer {
        steps.push(step(format!("move {point}{on}"), vec![move_to(point)]));
    }
    if let Some(drag) = args.drag {
        let mut events = vec![move_to(drag.from), button(MouseButton::Left, Press::Down)];
        let (dx, dy) = (drag.to.x - drag.from.x, drag.to.y - drag.from.y);
        events.extend((1..=DRAG_STEPS).map(|i| {
            move_to(Point {
                x: drag.from.x + dx * i / DRAG_STEPS,
                y: drag.from.y + dy * i / DRAG_STEPS,
            })
        }));
        events.push(button(MouseButton::Left, Press::Up));
        steps.push(step(format!("drag {drag}{on}"), events));
    }
    if let Some(b) = args.click {
        let events = vec![button(b.button(), Press::Click)];
        steps.push(step(format!("click {}", b.name()), events));
    }
    if let Some(b) = args.double_click {
        let events = vec![InputEvent::MouseDoubleClick { button: b.button() }];
        steps.push(step(format!("double-click {}", b.name()), events));
    }
    if let Some(w) = args.wheel {
        let events = vec![InputEvent::Wheel { dx: w.dx, dy: w.dy }];
        steps.push(step(format!("wheel {w}"), events));
    }
    if let Some(text) = &args.text {
        let count = text.chars().count();
        let plural = if count == 1 { "" } else { "s" };
        steps.push(step(
            format!("text ({count} character{plural})"),
            vec![InputEvent::Text(text.clone())],
        ));
    }
    for combo in &args.key {
        steps.push(step(format!("key {combo}"), combo.events(false)));
    }
    for combo in &args.hold {
        steps.push(step(format!("hold {combo}"), combo.events(true)));
    }
    steps
}

fn step(label: String, events: Vec<InputEvent>) -> Step {
    Step { label, events }
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

/// Sends the steps' events one by one on the control stream and writes one line per step.
pub async fn send_all<W, R>(
    send: &mut W,
    recv: &mut R,
    steps: &[Step],
    result_timeout: Duration,
    out: &mut dyn Write,
) -> Result<InputVerdict, InputError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let mut verdict = InputVerdict::AllApplied;
    let mut seq = 0u64;
    for step in steps {
        let mut step_outcome = InputOutcome::Applied;
        for event in &step.events {
            seq += 1;
            let message = FromViewer::Input {
                seq,
                event: event.clone(),
            };
            write_message(send, &message).await?;
            let outcome = tokio::time::timeout(result_timeout, result_of(recv, seq))
                .await
                .map_err(|_| InputError::TimedOut {
                    label: step.label.clone(),
                })??;
            if outcome == InputOutcome::NoControl {
                writeln!(out, "{}: {outcome}", step.label)?;
                writeln!(out, "Input dropped: the end user has not granted control")?;
                return Ok(InputVerdict::NoControl);
            }
            if outcome == InputOutcome::NotController {
                writeln!(out, "{}: {outcome}", step.label)?;
                writeln!(
                    out,
                    "Input dropped: another technician has control — add --take-control to take it over"
                )?;
                return Ok(InputVerdict::NoControl);
            }
            if step_outcome == InputOutcome::Applied {
                step_outcome = outcome;
            }
        }
        writeln!(out, "{}: {step_outcome}", step.label)?;
        if step_outcome != InputOutcome::Applied {
            verdict = InputVerdict::SomeDropped;
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
    let steps = plan(args);
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
        acceptance,
        ..
    } = attached;
    if !acceptance.control {
        writeln!(
            out,
            "Input dropped: the end user has not granted control (viewing only) — ask for \
             control with `sos-desk session request {}`",
            args.id
        )?;
        close(&endpoint, &connection).await;
        return Ok(Exit::Failure);
    }
    if args.take_control {
        write_message(&mut send, &FromViewer::TakeControl)
            .await
            .map_err(InputError::from)?;
        writeln!(out, "Took control: the other technicians watch")?;
    }
    let outcome = match args.bench {
        Some(count) => {
            let display = acceptance.display;
            bench::run(&mut send, &mut recv, count, display, RESULT_TIMEOUT, out)
                .await
                .map(|report| match report {
                    Some(_) => InputVerdict::AllApplied,
                    None => InputVerdict::SomeDropped,
                })
        }
        None => send_all(&mut send, &mut recv, &steps, RESULT_TIMEOUT, out).await,
    };
    if args.stay > 0 {
        out.flush()?;
        tokio::time::sleep(std::time::Duration::from_secs(args.stay)).await;
    }
    close(&endpoint, &connection).await;
    Ok(match outcome? {
        InputVerdict::AllApplied => Exit::Success,
        InputVerdict::NoControl | InputVerdict::SomeDropped => Exit::Failure,
    })
}

#[cfg(test)]
mod tests;
