//! The viewer window's state without the window: the picture, the scaling, the overlay,
//! control, the end of the session.
//!
//! Contract: pure, like quinn-proto: fed with window events and `now`, it answers with
//! [`Effect`]s for the platform shell to carry out and with a [`Scene`] to draw; it never
//! reads the clock. [`Viewer::poll_timeout`] says when [`Viewer::handle_timeout`] is due.
//! Nothing is sent without control, while another technician controls, or after the
//! session ended.

use super::rates::RateMeter;
use super::session::SessionEnd;
use super::slot::Shown;
use super::translate::{KeyInput, Output, Shortcut, Translator, Wheel};
use super::viewport::{Placement, Scaling, Size, Viewport};
use sos_codec::DecodedFrame;
use sos_transport::wire::{DisplayInfo, InputEvent, MonitorInfo, MouseButton, Participant};
use std::time::{Duration, Instant};

/// How long the end message stays up before the viewer closes by itself.
pub const END_LINGER: Duration = Duration::from_secs(4);
/// How often the overlay's figures refresh while no frame arrives.
pub const OVERLAY_REFRESH: Duration = Duration::from_millis(500);

/// What the platform shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send an input event to the agent.
    Send(InputEvent),
    /// Take the mouse and keyboard from the technician who has them.
    TakeControl,
    /// Ask the end user's app to share this monitor.
    ShareMonitor(u32),
    /// Draw the window again.
    Redraw,
    /// Enter (`true`) or leave full screen.
    Fullscreen(bool),
    /// Close the window and stop.
    Exit,
}

/// What to draw.
#[derive(Debug)]
pub struct Scene<'a> {
    /// The newest picture, if one arrived.
    pub frame: Option<&'a DecodedFrame>,
    /// Where it goes.
    pub placement: Option<Placement>,
    /// A small permanent label ("view only", who else controls).
    pub badge: Option<String>,
    /// The status overlay's lines, when shown.
    pub overlay: Option<Vec<String>>,
    /// A message in the middle (waiting, or the end of the session).
    pub banner: Option<String>,
}

/// The window's state.
#[derive(Debug)]
pub struct Viewer {
    display: DisplayInfo,
    monitors: Vec<MonitorInfo>,
    participants: Vec<Participant>,
    viewport: Viewport,
    translator: Translator,
    control_refused: bool,
    /// The end user's app lost its connection; the session waits this many seconds.
    away: Option<u32>,
    overlay: bool,
    fullscreen: bool,
    frame: Option<DecodedFrame>,
    rates: RateMeter,
    ended: Option<String>,
    exit_at: Option<Instant>,
    refresh_at: Option<Instant>,
}

impl Viewer {
    /// A viewer of `display` in a window of `window` pixels; `control` as granted.
    pub fn new(display: DisplayInfo, window: Size, control: bool, fullscreen: bool) -> Self {
        Self {
            display,
            monitors: Vec::new(),
            participants: Vec::new(),
            viewport: Viewport::new(Size::new(display.width, display.height), window),
            translator: Translator::new(control),
            control_refused: false,
            away: None,
            overlay: false,
            fullscreen,
            frame: None,
            rates: RateMeter::new(),
            ended: None,
            exit_at: None,
            refresh_at: None,
        }
    }

    /// The window has a new size.
    pub fn resized(&mut self, window: Size) -> Vec<Effect> {
        self.viewport.set_window(window);
        vec![Effect::Redraw]
    }

    /// A decoded picture was taken from the slot.
    pub fn frame(&mut self, shown: Shown) -> Vec<Effect> {
        let Shown { frame, facts } = shown;
        self.rates
            .record(facts.decoded_at, facts.bytes_total, facts.latency_ms);
        let size = Size::new(frame.width, frame.height);
        if size != self.viewport.remote() {
            self.viewport.set_remote(size);
        }
        self.frame = Some(frame);
        vec![Effect::Redraw]
    }

    /// The pointer moved to window position (`x`, `y`).
    pub fn pointer_moved(&mut self, x: f64, y: f64) -> Vec<Effect> {
        let at = self.viewport.to_remote(x, y);
        self.translate(|t, out| t.pointer_moved(at, out))
    }

    /// The pointer left the window.
    pub fn pointer_left(&mut self) -> Vec<Effect> {
        self.translate(|t, out| t.pointer_moved(None, out))
    }

    /// A mouse button went down or up.
    pub fn button(&mut self, button: MouseButton, pressed: bool) -> Vec<Effect> {
        self.translate(|t, out| t.button(button, pressed, out))
    }

    /// The wheel turned.
    pub fn wheel(&mut self, wheel: Wheel) -> Vec<Effect> {
        self.translate(|t, out| t.wheel(wheel, out))
    }

    /// A key went down or up.
    pub fn key(&mut self, key: KeyInput) -> Vec<Effect> {
        self.translate(|t, out| t.key(key, out))
    }

    /// The window lost the keyboard: release what is held on the remote.
    pub fn focus_lost(&mut self) -> Vec<Effect> {
        self.translate(Translator::release_all)
    }

    /// The agent dropped input: the end user allows viewing only.
    pub fn control_refused(&mut self) -> Vec<Effect> {
        self.control_refused = true;
        self.translator.revoke_control();
        vec![Effect::Redraw]
    }

    /// The end user's app lost its connection and the session waits `Some(seconds)` for
    /// it, or it is back (`None`).
    pub fn agent_away(&mut self, away: Option<u32>) -> Vec<Effect> {
        self.away = away;
        vec![Effect::Redraw]
    }

    /// Who is on the session changed, or who controls.
    pub fn participants(&mut self, participants: Vec<Participant>) -> Vec<Effect> {
        let was = self.other_controller().is_some();
        self.participants = participants;
        if !was && self.other_controller().is_some() {
            // Taken over: whatever this window held is released on the remote by the
            // agent; forget it here without sending.
            let mut dropped = Vec::new();
            self.translator.release_all(&mut dropped);
        }
        vec![Effect::Redraw]
    }

    /// The end user's monitors, and the one shared now.
    pub fn screen(&mut self, monitors: Vec<MonitorInfo>, display: DisplayInfo) -> Vec<Effect> {
        self.monitors = monitors;
        self.display = display;
        vec![Effect::Redraw]
    }

    /// The name of another technician who has the mouse and keyboard.
    fn other_controller(&self) -> Option<&str> {
        self.participants
            .iter()
            .find(|p| p.controlling && !p.you)
            .map(|p| p.name.as_str())
    }

    /// The session is over: show why, close after [`END_LINGER`].
    pub fn ended(&mut self, end: &SessionEnd, now: Instant) -> Vec<Effect> {
        // Nothing can be sent any more; the agent releases what was held.
        self.translator.revoke_control();
        self.ended = Some(end.to_string());
        self.exit_at = Some(now + END_LINGER);
        vec![Effect::Redraw]
    }

    /// When [`Viewer::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.exit_at, self.refresh_at.filter(|_| self.overlay)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Does what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Effect> {
        if self.exit_at.is_some_and(|at| now >= at) {
            return vec![Effect::Exit];
        }
        if self.overlay && self.refresh_at.is_some_and(|at| now >= at) {
            self.refresh_at = Some(now + OVERLAY_REFRESH);
            return vec![Effect::Redraw];
        }
        Vec::new()
    }

    fn translate(&mut self, step: impl FnOnce(&mut Translator, &mut Vec<Output>)) -> Vec<Effect> {
        let mut out = Vec::new();
        step(&mut self.translator, &mut out);
        let mut effects = Vec::new();
        for output in out {
            match output {
                // Another technician has the mouse and keyboard: watch until F9.
                Output::Send(_) if self.other_controller().is_some() => {}
                Output::Send(event) => effects.push(Effect::Send(event)),
                Output::Shortcut(Shortcut::TakeControl) => {
                    if self.translator.control() && self.ended.is_none() {
                        effects.push(Effect::TakeControl);
                    }
                }
                Output::Shortcut(Shortcut::NextMonitor) => {
                    if let Some(next) = self.next_monitor() {
                        effects.push(Effect::ShareMonitor(next));
                    }
                }
                Output::Scroll { dx, dy } => {
                    self.viewport.scroll_by(dx, dy);
                    effects.push(Effect::Redraw);
                }
                Output::Shortcut(Shortcut::ToggleScaling) => {
                    self.viewport.toggle_scaling();
                    effects.push(Effect::Redraw);
                }
                Output::Shortcut(Shortcut::ToggleFullscreen) => {
                    self.fullscreen = !self.fullscreen;
                    effects.push(Effect::Fullscreen(self.fullscreen));
                }
                Output::Shortcut(Shortcut::ToggleOverlay) => {
                    self.overlay = !self.overlay;
                    self.refresh_at = None;
                    effects.push(Effect::Redraw);
                }
            }
        }
        effects
    }

    /// What to draw at `now`.
    pub fn scene(&mut self, now: Instant) -> Scene<'_> {
        let overlay = self.overlay.then(|| {
            self.refresh_at.get_or_insert(now + OVERLAY_REFRESH);
            self.overlay_lines(now)
        });
        let banner = match (&self.ended, &self.frame, self.away) {
            (Some(end), _, _) => Some(format!("{end}\nThis window closes by itself.")),
            (None, _, Some(seconds)) => Some(format!(
                "The end user's connection dropped.\nWaiting up to {seconds} s for their app \
                 to come back; access stays as granted."
            )),
            (None, None, None) => Some("Waiting for the end user's screen…".to_string()),
            (None, Some(_), None) => None,
        };
        let badge = match self.other_controller() {
            _ if self.ended.is_some() => None,
            _ if !self.translator.control() => Some("view only".to_string()),
            Some(name) => Some(format!("{name} has control — F9 takes it")),
            None => None,
        };
        Scene {
            frame: self.frame.as_ref(),
            placement: self.viewport.placement(),
            badge,
            overlay,
            banner,
        }
    }

    /// The monitor after the shared one, wrapping around; none with a single monitor.
    fn next_monitor(&self) -> Option<u32> {
        if self.monitors.len() < 2 || self.ended.is_some() {
            return None;
        }
        let at = self
            .monitors
            .iter()
            .position(|m| m.index == self.display.index)
            .map_or(0, |i| (i + 1) % self.monitors.len());
        Some(self.monitors[at].index)
    }

    fn overlay_lines(&mut self, now: Instant) -> Vec<String> {
        let display = self.display;
        let remote = self.viewport.remote();
        let scaling = match self.viewport.scaling() {
            Scaling::Fit => format!("fit {}%", self.viewport.percent()),
            Scaling::Actual => "1:1".to_string(),
        };
        let primary = if display.primary { ", primary" } else { "" };
        let rates = self.rates.rates(now);
        let latency = rates
            .latency_ms
            .map_or("–".to_string(), |ms| format!("{ms:.0} ms"));
        let control = match (self.translator.control(), self.control_refused) {
            _ if self.ended.is_some() => "Session over: no input is sent".to_string(),
            (true, _) => match self.other_controller() {
                Some(name) => format!("Control: {name} has mouse and keyboard — F9 takes it"),
                None => "Control: you have mouse and keyboard".to_string(),
            },
            (false, true) => "View only: the end user's app refused input".to_string(),
            (false, false) => "View only: the end user allowed viewing, not control".to_string(),
        };
        let monitors = match self.monitors.len() {
            0 | 1 => String::new(),
            n => format!(" (monitor {} of {n}, F8 next)", display.index + 1),
        };
        let on_session = self
            .participants
            .iter()
            .map(|p| {
                let you = if p.you { " (you)" } else { "" };
                let control = if p.controlling { " [control]" } else { "" };
                format!("{}{you}{control}", p.name)
            })
            .collect::<Vec<_>>()
            .join(", ");
        vec![
            format!(
                "Display {}{primary}: {}x{}, {scaling}{monitors}",
                display.index, remote.width, remote.height
            ),
            format!(
                "{:.0} fps, latency {latency}, {:.2} Mbit/s",
                rates.fps,
                rates.bits_per_second / 1e6
            ),
            control,
            format!("On the session: {on_session}"),
            "F8 next monitor  F9 take control  F10 fit/1:1  F11 full screen  F12 overlay"
                .to_string(),
            "Right Ctrl + wheel or arrows: scroll at 1:1".to_string(),
        ]
    }
}

#[cfg(test)]
#[path = "viewer_tests.rs"]
mod tests;
