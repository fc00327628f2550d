//! The input thread: applies technicians' events to the keyboard and mouse, one at a time.
//!
//! Contract:
//! - [`Injector::inject`] takes a [`ControlGrant`]: no injection without the end user's
//!   consent to control, by type.
//! - Events are checked ([`crate::input::plan`]) before they reach the platform; invalid ones
//!   are answered at once without touching it.
//! - Every injected event gets exactly one [`InjectResult`]; [`Injector::release_all`] lets go
//!   of every key and button still held, and dropping the injector does the same.
//! - The platform input device is opened on the thread, on first use.

use crate::consent::ControlGrant;
use crate::input::{self, Action, HeldInput};
use crate::platform::{InjectError, InputSink, Platform};
use sos_transport::wire::{InputEvent, InputOutcome};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc;

/// What became of one injected event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectResult {
    /// Viewer connection id from the event.
    pub viewer: u32,
    /// Sequence number from the event.
    pub seq: u64,
    /// Outcome.
    pub outcome: InputOutcome,
}

enum Command {
    Apply {
        viewer: u32,
        seq: u64,
        action: Action,
    },
    ReleaseAll,
}

/// Handle to the input thread.
#[derive(Debug)]
pub struct Injector {
    commands: std_mpsc::Sender<Command>,
    screen: Option<(u32, u32)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Injector {
    /// Starts the input thread. Results arrive on `results`; `screen` bounds pointer
    /// positions (`None`: unknown).
    pub fn start(
        platform: Arc<dyn Platform>,
        screen: Option<(u32, u32)>,
        results: mpsc::UnboundedSender<InjectResult>,
    ) -> std::io::Result<Self> {
        let (commands, receiver) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sos-input".into())
            .spawn(move || run(&*platform, &receiver, &results))?;
        Ok(Self {
            commands,
            screen,
            thread: Some(thread),
        })
    }

    /// Checks `event` and queues it for injection. Returns the outcome at once when the
    /// event is invalid or the thread is gone; otherwise the outcome arrives on `results`.
    pub fn inject(
        &mut self,
        _grant: &ControlGrant,
        viewer: u32,
        seq: u64,
        event: &InputEvent,
    ) -> Option<InputOutcome> {
        let action = match input::plan(event, self.screen) {
            Ok(action) => action,
            Err(reason) => {
                tracing::debug!(viewer, seq, %reason, "input refused");
                return Some(InputOutcome::Invalid);
            }
        };
        match self.commands.send(Command::Apply {
            viewer,
            seq,
            action,
        }) {
            Ok(()) => None,
            Err(_) => Some(InputOutcome::Failed),
        }
    }

    /// Releases every key and mouse button still held.
    pub fn release_all(&self) {
        let _ = self.commands.send(Command::ReleaseAll);
    }

    /// Releases everything held and waits (at most `wait`) for the thread to finish, so no
    /// key stays down when the process exits.
    pub async fn shut_down(mut self, wait: std::time::Duration) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            let joined = tokio::task::spawn_blocking(move || thread.join());
            let _ = tokio::time::timeout(wait, joined).await;
        }
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        self.release_all();
    }
}

fn run(
    platform: &dyn Platform,
    commands: &std_mpsc::Receiver<Command>,
    results: &mpsc::UnboundedSender<InjectResult>,
) {
    let mut sink: Option<Box<dyn InputSink>> = None;
    let mut held = HeldInput::default();
    // The loop ends when the handle is dropped; a ReleaseAll is always queued before that.
    while let Ok(command) = commands.recv() {
        match command {
            Command::Apply {
                viewer,
                seq,
                action,
            } => {
                let outcome = match open(platform, &mut sink) {
                    Some(sink) => match sink.apply(&action) {
                        Ok(()) => {
                            held.record(&action);
                            InputOutcome::Applied
                        }
                        Err(InjectError::Refused(reason)) => {
                            tracing::debug!(%reason, "input refused by the system");
                            InputOutcome::Invalid
                        }
                        Err(error) => {
                            tracing::warn!(%error, "input injection failed");
                            InputOutcome::Failed
                        }
                    },
                    None => InputOutcome::Failed,
                };
                let _ = results.send(InjectResult {
                    viewer,
                    seq,
                    outcome,
                });
            }
            Command::ReleaseAll => {
                let releases = held.release_all();
                if let Some(sink) = sink.as_mut() {
                    for action in &releases {
                        if let Err(error) = sink.apply(action) {
                            tracing::warn!(%error, ?action, "could not release");
                        }
                    }
                }
            }
        }
    }
}

fn open<'a>(
    platform: &dyn Platform,
    sink: &'a mut Option<Box<dyn InputSink>>,
) -> Option<&'a mut Box<dyn InputSink>> {
    if sink.is_none() {
        match platform.open_input() {
            Ok(opened) => *sink = Some(opened),
            Err(error) => tracing::warn!(%error, "cannot inject input"),
        }
    }
    sink.as_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{Answer, Prompt};
    use crate::platform::fake::FakePlatform;
    use enigo::{Button, Direction, Key};
    use sos_transport::wire::{MouseButton, Press};
    use std::time::Instant;

    fn control_grant() -> crate::consent::Grant {
        let prompt = Prompt {
            request_id: 1,
            technician: "Ann".into(),
            organisation: "Acme".into(),
            control: true,
            deadline: Instant::now(),
        };
        prompt.answer(Answer::Allow).grant.unwrap()
    }

    #[test]
    fn events_are_applied_checked_and_released() {
        let platform = FakePlatform::new(100, 50);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut injector =
            Injector::start(Arc::new(platform.clone()), Some((100, 50)), tx).unwrap();
        let grant = control_grant();
        let control = grant.control().unwrap();

        let outside = InputEvent::MouseMove { x: 100, y: 0 };
        assert_eq!(
            injector.inject(control, 1, 1, &outside),
            Some(InputOutcome::Invalid)
        );
        let events = [
            InputEvent::MouseMove { x: 99, y: 49 },
            InputEvent::Key {
                name: "Control_L".into(),
                press: Press::Down,
            },
            InputEvent::MouseButton {
                button: MouseButton::Left,
                press: Press::Down,
            },
            InputEvent::Text("fail".into()),
        ];
        for (seq, event) in events.iter().enumerate() {
            assert_eq!(injector.inject(control, 2, seq as u64, event), None);
        }
        let outcomes: Vec<_> = (0..4).map(|_| rx.blocking_recv().unwrap()).collect();
        assert_eq!(
            outcomes.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            vec![
                InputOutcome::Applied,
                InputOutcome::Applied,
                InputOutcome::Applied,
                InputOutcome::Failed
            ]
        );
        assert_eq!((outcomes[3].viewer, outcomes[3].seq), (2, 3));
        drop(injector);
        // Wait for the thread to drain: it ends when the handle is gone.
        while rx.blocking_recv().is_some() {}
        let actions = platform.actions();
        assert_eq!(
            actions[3..],
            [
                Action::Key {
                    key: Key::Control,
                    direction: Direction::Release
                },
                Action::Button {
                    button: Button::Left,
                    direction: Direction::Release
                },
            ]
        );
    }
}
