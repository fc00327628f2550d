//! The platform shell of the windows: winit on the main thread, softbuffer to present.
//!
//! Contract: thin. It turns winit events into calls on the pure views ([`ConsentView`],
//! [`BarView`], [`StatusView`]), sends what the end user chose to the session as
//! [`Command`]s, and draws with [`super::paint`]. It decides nothing about consent. Every
//! window's rectangle is in the [`Shield`] from before it is mapped until it is gone, so
//! the technician's injected input cannot reach it.

use super::bar::{BarAction, BarView};
use super::consent::{ConsentView, Key};
use super::paint::{self, Look};
use super::status::{FormKey, StatusEvent, StatusView};
use super::window::{Gesture, Win, open};
use super::{Joining, ToUi};
use crate::consent::Choice;
use crate::console::Command;
use crate::notice::Notice;
use crate::shield::{Guarded, ScreenRect, Shield};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use winit::application::ApplicationHandler;
use winit::event::{KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow};
use winit::keyboard::{Key as WinitKey, ModifiersState, NamedKey};
use winit::window::WindowId;

/// How long the final message stays before the app closes by itself.
const FINISHED_LINGER: Duration = Duration::from_secs(10);

/// The winit application.
pub struct App {
    look: Look,
    shield: Shield,
    commands: mpsc::Sender<Command>,
    joins: std_mpsc::Sender<Option<Joining>>,
    consent_timeout: Duration,
    status: StatusView,
    status_win: Option<Win>,
    consent: Option<(ConsentView, Win)>,
    bar: Option<(BarView, Win)>,
    organisation: String,
    modifiers: ModifiersState,
    close_at: Option<Instant>,
    /// When the permission window is drawn again (countdown, arming).
    tick: Option<Instant>,
    /// A platform failure that closed the windows.
    pub failure: Option<String>,
}

impl App {
    /// The app, first showing `status`.
    pub fn new(
        look: Look,
        shield: Shield,
        commands: mpsc::Sender<Command>,
        joins: std_mpsc::Sender<Option<Joining>>,
        consent_timeout: Duration,
        status: StatusView,
    ) -> Self {
        Self {
            look,
            shield,
            commands,
            joins,
            consent_timeout,
            status,
            status_win: None,
            consent: None,
            bar: None,
            organisation: String::new(),
            modifiers: ModifiersState::empty(),
            close_at: None,
            tick: None,
            failure: None,
        }
    }

    fn open_status(&mut self, event_loop: &ActiveEventLoop) {
        if self.status_win.is_some() {
            return;
        }
        match open(
            event_loop,
            &self.shield,
            &self.look.product,
            Guarded::Status,
        ) {
            Ok(win) => self.status_win = Some(win),
            Err(failure) => self.fail(event_loop, failure),
        }
    }

    fn close(&self, win: Win) {
        self.shield.cover(win.guarded, None);
        drop(win);
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, failure: String) {
        tracing::error!(%failure, "a window failed");
        self.failure = Some(failure);
        self.quit(event_loop);
    }

    /// Ends everything: stops the session (or the wait for the form) and closes.
    fn quit(&mut self, event_loop: &ActiveEventLoop) {
        let _ = self.commands.try_send(Command::Stop);
        let _ = self.joins.send(None);
        for win in [
            self.consent.take().map(|(_, w)| w),
            self.bar.take().map(|(_, w)| w),
            self.status_win.take(),
        ]
        .into_iter()
        .flatten()
        {
            self.close(win);
        }
        event_loop.exit();
    }

    fn send(&self, command: Command) {
        if let Err(error) = self.commands.try_send(command) {
            tracing::warn!(%error, "the session did not take the command");
        }
    }

    fn on_notice(&mut self, event_loop: &ActiveEventLoop, notice: Notice) {
        if let Some(line) = line_for(&notice) {
            self.status.push_line(line);
            self.redraw_status();
        }
        match notice {
            Notice::Registered { organisation } => self.organisation = organisation,
            Notice::ConsentPrompt {
                request_id,
                technician,
                organisation,
                control,
                ..
            } => {
                if let Some((_, win)) = self.consent.take() {
                    self.close(win);
                }
                self.organisation.clone_from(&organisation);
                let view = ConsentView::new(
                    request_id,
                    technician,
                    organisation,
                    control,
                    self.consent_timeout,
                    Instant::now(),
                );
                match open(
                    event_loop,
                    &self.shield,
                    &self.look.product,
                    Guarded::Consent,
                ) {
                    Ok(win) => self.consent = Some((view, win)),
                    Err(failure) => {
                        // Without the window the question cannot be seen: deny it.
                        self.send(Command::Answer {
                            request_id,
                            choice: Choice::Deny,
                        });
                        self.fail(event_loop, failure);
                    }
                }
            }
            Notice::Granted {
                technician,
                control,
            }
            | Notice::AccessKept {
                technician,
                control,
            } => {
                self.close_consent();
                if let Some((_, win)) = self.bar.take() {
                    self.close(win);
                }
                let view = BarView::new(technician, self.organisation.clone(), control);
                match open(event_loop, &self.shield, &self.look.product, Guarded::Bar) {
                    Ok(win) => {
                        self.bar = Some((view, win));
                        // Out of the technician's way while the bar is there.
                        if let Some(win) = self.status_win.take() {
                            self.close(win);
                        }
                    }
                    Err(failure) => {
                        // Sharing without the bar is not allowed: stop.
                        self.send(Command::Stop);
                        self.fail(event_loop, failure);
                    }
                }
            }
            Notice::Denied | Notice::TimedOut { .. } => self.close_consent(),
            Notice::ControlPaused | Notice::ControlResumed => {
                if let Some((view, win)) = &mut self.bar {
                    view.set_paused(matches!(notice, Notice::ControlPaused));
                    win.window.request_redraw();
                }
            }
            Notice::StoppedByUser
            | Notice::Ended(_)
            | Notice::ConnectionLost
            | Notice::Reconnecting { .. }
            | Notice::GaveUp { .. } => {
                self.close_consent();
                if let Some((_, win)) = self.bar.take() {
                    self.close(win);
                }
                self.open_status(event_loop);
            }
            _ => {}
        }
    }

    fn close_consent(&mut self) {
        if let Some((_, win)) = self.consent.take() {
            self.close(win);
        }
    }

    fn redraw_status(&self) {
        if let Some(win) = &self.status_win {
            win.window.request_redraw();
        }
    }

    fn on_status(&mut self, event_loop: &ActiveEventLoop, event: StatusEvent) {
        match event {
            StatusEvent::Join { gateway, pin } => {
                self.status = StatusView::progress();
                self.redraw_status();
                if self.joins.send(Some(Joining { gateway, pin })).is_err() {
                    self.quit(event_loop);
                }
            }
            StatusEvent::Quit => self.quit(event_loop),
        }
    }

    fn redraw(&mut self, id: WindowId) -> Result<(), String> {
        let now = Instant::now();
        let Self {
            look,
            consent,
            bar,
            status,
            status_win,
            ..
        } = self;
        if let Some((view, win)) = consent.as_mut().filter(|(_, w)| w.is(id)) {
            return win.present(|canvas| paint::paint_consent(canvas, look, view, now));
        }
        if let Some((view, win)) = bar.as_mut().filter(|(_, w)| w.is(id)) {
            return win.present(|canvas| paint::paint_bar(canvas, look, view));
        }
        if let Some(win) = status_win.as_mut().filter(|w| w.is(id)) {
            return win.present(|canvas| paint::paint_status(canvas, look, status));
        }
        Ok(())
    }

    fn consent_event(&mut self, event: WindowEvent) {
        let Some((view, win)) = &mut self.consent else {
            return;
        };
        let now = Instant::now();
        let choice = match win.gesture(event) {
            Gesture::Press(at) => {
                view.press(at, now);
                None
            }
            Gesture::Release(at) => view.release(at, now),
            Gesture::Cancel => {
                view.cancel();
                None
            }
            Gesture::Key(key) => match key.logical_key {
                WinitKey::Named(NamedKey::Enter) => view.key(Key::Enter),
                WinitKey::Named(NamedKey::Escape) => view.key(Key::Escape),
                _ => None,
            },
            // Closing the question is a no.
            Gesture::Close => Some(Choice::Deny),
            Gesture::Nothing => None,
        };
        if let Some(choice) = choice {
            let request_id = view.request_id;
            tracing::info!(request_id, ?choice, "answered in the permission window");
            self.send(Command::Answer { request_id, choice });
            self.close_consent();
        }
    }

    fn bar_event(&mut self, event: WindowEvent) {
        let Some((view, win)) = &mut self.bar else {
            return;
        };
        let action = match win.gesture(event) {
            Gesture::Press(at) => {
                view.press(at);
                None
            }
            Gesture::Release(at) => view.release(at),
            Gesture::Cancel => {
                view.cancel();
                None
            }
            Gesture::Close => Some(BarAction::Stop),
            Gesture::Key(_) | Gesture::Nothing => None,
        };
        match action {
            Some(BarAction::Stop) => {
                tracing::info!("Stop clicked");
                self.send(Command::Stop);
                if let Some((_, win)) = self.bar.take() {
                    self.close(win);
                }
            }
            Some(BarAction::Pause(paused)) => self.send(Command::PauseControl(paused)),
            None => {}
        }
    }

    fn status_event(&mut self, event_loop: &ActiveEventLoop, event: WindowEvent) {
        let Some(win) = &mut self.status_win else {
            return;
        };
        let outcome = match win.gesture(event) {
            Gesture::Press(at) => {
                self.status.press(at);
                None
            }
            Gesture::Release(at) => self.status.release(at),
            Gesture::Cancel | Gesture::Nothing => return,
            Gesture::Key(key) => self.status_key(&key),
            Gesture::Close => Some(StatusEvent::Quit),
        };
        self.redraw_status();
        if let Some(outcome) = outcome {
            self.on_status(event_loop, outcome);
        }
    }

    fn status_key(&mut self, event: &KeyEvent) -> Option<StatusEvent> {
        let shift = self.modifiers.shift_key();
        let key = match &event.logical_key {
            WinitKey::Named(NamedKey::Tab) if shift => Some(FormKey::BackTab),
            WinitKey::Named(NamedKey::Tab) => Some(FormKey::Tab),
            WinitKey::Named(NamedKey::Enter) => Some(FormKey::Enter),
            WinitKey::Named(NamedKey::Escape) => Some(FormKey::Escape),
            WinitKey::Named(NamedKey::Backspace) => Some(FormKey::Backspace),
            _ => None,
        };
        if let Some(key) = key {
            return self.status.key(key);
        }
        // Ctrl+V, and Shift+Insert as X11 programs have it: paste.
        let paste = match &event.logical_key {
            WinitKey::Character(c) => self.modifiers.control_key() && c.eq_ignore_ascii_case("v"),
            WinitKey::Named(NamedKey::Insert) => self.modifiers.shift_key(),
            _ => false,
        };
        if paste {
            if let Some(text) = crate::platform::clipboard::text() {
                self.status.text(&text);
            }
            return None;
        }
        if let Some(text) = &event.text {
            self.status.text(text);
        }
        None
    }
}

/// The line the main window shows for a notice; `None` for terminal-only hints.
fn line_for(notice: &Notice) -> Option<String> {
    Some(match notice {
        Notice::StopHint => return None,
        Notice::Waiting => {
            "Waiting for your technician… Close this window to end the session.".to_string()
        }
        Notice::ConsentPrompt {
            technician,
            organisation,
            ..
        } => format!(
            "{technician} from {organisation} asks for access — answer in the permission window."
        ),
        Notice::Granted { technician, .. } => {
            format!("Access granted — {technician} can now see your screen.")
        }
        Notice::Reconnecting { keep_secs: None } => "Reconnecting…".to_string(),
        Notice::Reconnecting {
            keep_secs: Some(secs),
        } => format!(
            "Reconnecting… Back within {secs} s, your technician keeps the access you gave."
        ),
        Notice::AccessKept { technician, .. } => {
            format!("Access continues — {technician} can see your screen again.")
        }
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    })
}

impl ApplicationHandler<ToUi> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.status_win.is_none() && self.bar.is_none() {
            self.open_status(event_loop);
        }
    }

    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: ToUi) {
        match event {
            ToUi::Notice(notice) => self.on_notice(event_loop, notice),
            ToUi::AskJoin {
                gateway,
                ask_gateway,
                error,
            } => {
                self.status = StatusView::form(gateway, ask_gateway, error);
                self.open_status(event_loop);
                self.redraw_status();
            }
            ToUi::Finished { message, close } => {
                if close {
                    self.quit(event_loop);
                } else {
                    self.close_consent();
                    if let Some((_, win)) = self.bar.take() {
                        self.close(win);
                    }
                    self.status.finish(message);
                    self.open_status(event_loop);
                    self.redraw_status();
                    self.close_at = Some(Instant::now() + FINISHED_LINGER);
                }
            }
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, id: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::RedrawRequested => {
                if let Err(failure) = self.redraw(id) {
                    self.fail(event_loop, failure);
                }
                return;
            }
            WindowEvent::ModifiersChanged(modifiers) => {
                self.modifiers = modifiers.state();
                return;
            }
            WindowEvent::Moved(at) => {
                let all = [
                    self.consent.as_ref().map(|(_, w)| w),
                    self.bar.as_ref().map(|(_, w)| w),
                    self.status_win.as_ref(),
                ];
                if let Some(win) = all.into_iter().flatten().find(|w| w.window.id() == id) {
                    let size = win.window.outer_size();
                    let rect = ScreenRect {
                        x: at.x,
                        y: at.y,
                        width: size.width,
                        height: size.height,
                    };
                    self.shield.cover(win.guarded, Some(rect));
                }
                return;
            }
            _ => {}
        }
        let is = |win: Option<&Win>| win.is_some_and(|w| w.window.id() == id);
        if is(self.consent.as_ref().map(|(_, w)| w)) {
            self.consent_event(event);
        } else if is(self.bar.as_ref().map(|(_, w)| w)) {
            self.bar_event(event);
        } else if is(self.status_win.as_ref()) {
            self.status_event(event_loop, event);
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        let now = Instant::now();
        if self.close_at.is_some_and(|at| now >= at) {
            self.quit(event_loop);
            return;
        }
        let mut wake = self.close_at;
        match &self.consent {
            Some((view, win)) => {
                if self.tick.is_none_or(|tick| now >= tick) {
                    // The countdown and the buttons' arming show at each tick.
                    win.window.request_redraw();
                    self.tick = view.poll_timeout(now);
                }
                if let Some(tick) = self.tick
                    && wake.is_none_or(|w| tick < w)
                {
                    wake = Some(tick);
                }
            }
            None => self.tick = None,
        }
        event_loop.set_control_flow(match wake {
            Some(at) => ControlFlow::WaitUntil(at),
            None => ControlFlow::Wait,
        });
    }
}
