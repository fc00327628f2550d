//! The input thread: applies technicians' events to the keyboard and mouse, one at a time.
//!
//! Contract:
//! - [`Injector::inject`] takes a [`ControlGrant`]: no injection without the end user's
//!   consent to control, by type.
//! - Events are checked ([`crate::input::plan`]) before they reach the platform; invalid ones
//!   are answered at once without touching it.
//! - Every injected event gets exactly one [`InjectResult`]; [`Injector::release_all`] lets go
//!   of every key and button still held, and dropping the injector does the same.
//! - A key or button held longer than the limit ([`HELD_LIMIT`] by default) is released by
//!   the thread itself, whatever the network does.
//! - The platform input device is opened on the thread, on first use.
//! - A pointer move into one of the app's own windows, or a press or scroll over one, is
//!   never injected ([`Shield`]): the event is answered [`InputOutcome::Protected`].

use crate::consent::ControlGrant;
use crate::input::{self, Action, InputState, Layout, Planned};
use crate::platform::{InjectError, InputSink, Platform};
use crate::shield::Shield;
use sos_transport::wire::{InputEvent, InputOutcome};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a key or button may stay down without news from the technician before it is
/// released (a lost key-up must never leave a key stuck on the end user's machine).
pub const HELD_LIMIT: Duration = Duration::from_secs(10);

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
        planned: Planned,
    },
    ReleaseAll,
}

/// Handle to the input thread.
#[derive(Debug)]
pub struct Injector {
    commands: std_mpsc::Sender<Command>,
    layout: Layout,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Injector {
    /// Starts the input thread. Results arrive on `results`; `layout` bounds pointer
    /// positions and maps monitor positions; keys and buttons held longer than `held_limit`
    /// are released.
    pub fn start(
        platform: Arc<dyn Platform>,
        layout: Layout,
        held_limit: Duration,
        shield: Shield,
        results: mpsc::UnboundedSender<InjectResult>,
    ) -> std::io::Result<Self> {
        let (commands, receiver) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sos-input".into())
            .spawn(move || run(&*platform, &receiver, held_limit, &shield, &results))?;
        Ok(Self {
            commands,
            layout,
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
        let planned = match input::plan(event, &self.layout) {
            Ok(planned) => planned,
            Err(reason) => {
                tracing::debug!(viewer, seq, %reason, "input refused");
                return Some(InputOutcome::Invalid);
            }
        };
        match self.commands.send(Command::Apply {
            viewer,
            seq,
            planned,
        }) {
            Ok(()) => None,
            Err(_) => Some(InputOutcome::Failed),
        }
    }

    /// Maps pointer positions with `layout` from now on (another monitor is shared).
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
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

/// The input thread: the IO shell around [`InputState`]. It reads the clock and wakes up
/// for the held-key limit; every decision is the state's.
fn run(
    platform: &dyn Platform,
    commands: &std_mpsc::Receiver<Command>,
    held_limit: Duration,
    shield: &Shield,
    results: &mpsc::UnboundedSender<InjectResult>,
) {
    let mut sink: Option<Box<dyn InputSink>> = None;
    let mut state = InputState::new(held_limit);
    // The loop ends when the handle is dropped; a ReleaseAll is always queued before that.
    loop {
        let command = match state.poll_timeout() {
            Some(deadline) => {
                let wait = deadline.saturating_duration_since(Instant::now());
                match commands.recv_timeout(wait) {
                    Ok(command) => Some(command),
                    Err(std_mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            None => match commands.recv() {
                Ok(command) => Some(command),
                Err(_) => break,
            },
        };
        match command {
            None => {
                let releases = state.handle_timeout(Instant::now());
                if !releases.is_empty() {
                    tracing::info!(?releases, "released keys held past the limit");
                }
                release(sink.as_mut(), &mut state, &releases);
            }
            Some(Command::ReleaseAll) => {
                let releases = state.release_all();
                release(sink.as_mut(), &mut state, &releases);
            }
            Some(Command::Apply {
                viewer,
                seq,
                planned,
            }) => {
                let outcome = match open(platform, &mut sink) {
                    Some(sink) => apply_all(&mut **sink, &mut state, shield, planned),
                    None => InputOutcome::Failed,
                };
                let _ = results.send(InjectResult {
                    viewer,
                    seq,
                    outcome,
                });
            }
        }
    }
    // Whatever is still held when the thread ends is let go.
    let releases = state.release_all();
    release(sink.as_mut(), &mut state, &releases);
}

/// Applies the actions of one event in order; stops at the first failure.
fn apply_all(
    sink: &mut dyn InputSink,
    state: &mut InputState,
    shield: &Shield,
    planned: Planned,
) -> InputOutcome {
    for action in state.handle(planned, Instant::now()) {
        if shield.refuses(&action, || sink.pointer()) {
            tracing::info!(?action, "refused: it would reach the app's own window");
            return InputOutcome::Protected;
        }
        match sink.apply(&action) {
            Ok(()) => state.applied(&action, Instant::now()),
            Err(InjectError::Refused(reason)) => {
                tracing::debug!(%reason, "input refused by the system");
                return InputOutcome::Invalid;
            }
            Err(error) => {
                tracing::warn!(%error, "input injection failed");
                return InputOutcome::Failed;
            }
        }
    }
    InputOutcome::Applied
}

fn release(sink: Option<&mut Box<dyn InputSink>>, state: &mut InputState, releases: &[Action]) {
    let Some(sink) = sink else {
        return;
    };
    for action in releases {
        match sink.apply(action) {
            Ok(()) => state.applied(action, Instant::now()),
            Err(error) => tracing::warn!(%error, ?action, "could not release"),
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

    /// The whole 100x50 fake screen is shared.
    fn screen_100x50() -> Layout {
        Layout {
            shared: Some(crate::input::Area {
                x: 0,
                y: 0,
                width: 100,
                height: 50,
            }),
            monitors: Vec::new(),
        }
    }

    #[test]
    fn events_are_applied_checked_and_released() {
        let platform = FakePlatform::new(100, 50);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let layout = screen_100x50();
        let mut injector = Injector::start(
            Arc::new(platform.clone()),
            layout,
            HELD_LIMIT,
            Shield::default(),
            tx,
        )
        .unwrap();
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

    #[test]
    fn the_apps_own_windows_are_out_of_reach() {
        use crate::shield::{Guarded, ScreenRect};
        let platform = FakePlatform::new(100, 50);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let layout = screen_100x50();
        let shield = Shield::default();
        let mut injector = Injector::start(
            Arc::new(platform.clone()),
            layout,
            HELD_LIMIT,
            shield.clone(),
            tx,
        )
        .unwrap();
        shield.cover(
            Guarded::Consent,
            Some(ScreenRect {
                x: 40,
                y: 10,
                width: 20,
                height: 20,
            }),
        );
        let grant = control_grant();
        let control = grant.control().unwrap();
        let click = InputEvent::MouseButton {
            button: MouseButton::Left,
            press: Press::Click,
        };
        let steps = [
            InputEvent::MouseMove { x: 45, y: 15 },
            InputEvent::MouseMove { x: 10, y: 15 },
            click.clone(),
        ];
        for (seq, event) in steps.iter().enumerate() {
            assert_eq!(injector.inject(control, 1, seq as u64, event), None);
        }
        let outcomes: Vec<_> = (0..3)
            .map(|_| rx.blocking_recv().unwrap().outcome)
            .collect();
        assert_eq!(
            outcomes,
            [
                InputOutcome::Protected,
                InputOutcome::Applied,
                InputOutcome::Applied
            ]
        );
        // The end user's pointer now rests on the prompt: a click there is refused.
        platform
            .actions
            .lock()
            .unwrap()
            .push(Action::MoveTo { x: 50, y: 20 });
        assert_eq!(injector.inject(control, 1, 3, &click), None);
        assert_eq!(rx.blocking_recv().unwrap().outcome, InputOutcome::Protected);
        drop(injector);
        while rx.blocking_recv().is_some() {}
        assert!(
            !platform
                .actions()
                .contains(&Action::MoveTo { x: 45, y: 15 }),
            "never moved onto the prompt"
        );
    }

    #[test]
    fn a_key_held_too_long_is_released_by_the_thread() {
        let platform = FakePlatform::new(100, 50);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let limit = Duration::from_millis(50);
        let mut injector = Injector::start(
            Arc::new(platform.clone()),
            Layout::default(),
            limit,
            Shield::default(),
            tx,
        )
        .unwrap();
        let grant = control_grant();
        let hold = InputEvent::KeyStroke {
            code: "ShiftLeft".into(),
            text: String::new(),
            press: Press::Down,
        };
        assert_eq!(injector.inject(grant.control().unwrap(), 1, 1, &hold), None);
        assert_eq!(rx.blocking_recv().unwrap().outcome, InputOutcome::Applied);
        let released = Action::Key {
            key: Key::Shift,
            direction: Direction::Release,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !platform.actions().contains(&released) {
            assert!(Instant::now() < deadline, "Shift was never released");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(injector);
        while rx.blocking_recv().is_some() {}
        // Released once: dropping the injector finds nothing left to release.
        let count = platform
            .actions()
            .iter()
            .filter(|a| **a == released)
            .count();
        assert_eq!(count, 1);
    }
}
