//! The platform shell of the viewer: a winit window presented with softbuffer.
//!
//! Contract: thin. It turns winit events into calls on the pure [`Viewer`], carries out the
//! [`Effect`]s it answers with, and draws the [`Viewer::scene`] on redraw. It never waits:
//! input goes to the network task through a bounded queue (`try_send`; only pointer moves
//! are dropped when it is full, and a later move supersedes them).

use super::draw;
use super::session::{Outgoing, ToWindow};
use super::slot::FrameSlot;
use super::translate::{KeyInput, Wheel};
use super::viewer::{Effect, Viewer};
use super::viewport::{Size, initial_window_size};
use sos_branding::ui::TextPainter;
use sos_transport::wire::{InputEvent, MouseButton};
use std::num::NonZeroU32;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{self, error::TrySendError};
use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow};
use winit::platform::modifier_supplement::KeyEventExtModifierSupplement;
use winit::window::{Fullscreen, Window, WindowId};

type Surface = softbuffer::Surface<Rc<Window>, Rc<Window>>;

/// How the window opens.
#[derive(Debug, Clone)]
pub struct WindowSettings {
    /// Its title.
    pub title: String,
    /// Its size; `None`: the remote screen fitted to the monitor.
    pub size: Option<Size>,
    /// Open full screen.
    pub fullscreen: bool,
}

/// The winit application.
pub struct App {
    settings: WindowSettings,
    viewer: Viewer,
    remote: Size,
    slot: Arc<FrameSlot>,
    input: mpsc::Sender<Outgoing>,
    text: TextPainter,
    window: Option<(Rc<Window>, Surface)>,
    /// A platform failure that closed the window.
    pub failure: Option<String>,
}

impl App {
    /// An application showing what arrives in `slot` and sending input to `input`.
    pub fn new(
        settings: WindowSettings,
        viewer: Viewer,
        remote: Size,
        slot: Arc<FrameSlot>,
        input: mpsc::Sender<Outgoing>,
    ) -> Result<Self, String> {
        Ok(Self {
            settings,
            viewer,
            remote,
            slot,
            input,
            text: TextPainter::new()?,
            window: None,
            failure: None,
        })
    }

    fn open(&mut self, event_loop: &ActiveEventLoop) -> Result<(), String> {
        let monitor = event_loop
            .primary_monitor()
            .or_else(|| event_loop.available_monitors().next())
            .map(|m| Size::new(m.size().width, m.size().height));
        let size = self
            .settings
            .size
            .unwrap_or_else(|| initial_window_size(self.remote, monitor));
        let attributes = Window::default_attributes()
            .with_title(self.settings.title.clone())
            .with_inner_size(PhysicalSize::new(size.width, size.height))
            .with_fullscreen(fullscreen(self.settings.fullscreen));
        let window = Rc::new(
            event_loop
                .create_window(attributes)
                .map_err(|e| format!("cannot create the window: {e}"))?,
        );
        let context = softbuffer::Context::new(window.clone())
            .map_err(|e| format!("cannot draw in the window: {e}"))?;
        let surface = softbuffer::Surface::new(&context, window.clone())
            .map_err(|e| format!("cannot draw in the window: {e}"))?;
        let inner = window.inner_size();
        self.viewer.resized(Size::new(inner.width, inner.height));
        window.request_redraw();
        self.window = Some((window, surface));
        Ok(())
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, failure: String) {
        tracing::error!(%failure, "the viewer window failed");
        self.failure = Some(failure);
        event_loop.exit();
    }

    fn send(&self, outgoing: Outgoing) {
        match self.input.try_send(outgoing) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(Outgoing::Input(InputEvent::MouseMove { .. }))) => {}
            Err(TrySendError::Full(outgoing)) => {
                tracing::warn!(?outgoing, "input queue full: dropped");
            }
        }
    }

    fn apply(&mut self, event_loop: &ActiveEventLoop, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Send(event) => self.send(Outgoing::Input(event)),
                Effect::TakeControl => self.send(Outgoing::TakeControl),
                Effect::ShareMonitor(monitor) => self.send(Outgoing::ShareMonitor(monitor)),
                Effect::Redraw => {
                    if let Some((window, _)) = &self.window {
                        window.request_redraw();
                    }
                }
                Effect::Fullscreen(on) => {
                    if let Some((window, _)) = &self.window {
                        window.set_fullscreen(fullscreen(on));
                    }
                }
                Effect::Exit => event_loop.exit(),
            }
        }
    }

    fn redraw(&mut self) -> Result<(), String> {
        let Some((window, surface)) = &mut self.window else {
            return Ok(());
        };
        let inner = window.inner_size();
        let (Some(width), Some(height)) =
            (NonZeroU32::new(inner.width), NonZeroU32::new(inner.height))
        else {
            return Ok(());
        };
        let failed = |e: softbuffer::SoftBufferError| format!("cannot draw in the window: {e}");
        surface.resize(width, height).map_err(failed)?;
        let mut buffer = surface.buffer_mut().map_err(failed)?;
        let scene = self.viewer.scene(Instant::now());
        let size = Size::new(inner.width, inner.height);
        draw::paint(&mut buffer, size, &scene, &mut self.text);
        buffer.present().map_err(failed)
    }
}

fn fullscreen(on: bool) -> Option<Fullscreen> {
    on.then_some(Fullscreen::Borderless(None))
}

impl ApplicationHandler<ToWindow> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.window.is_none()
            && let Err(failure) = self.open(event_loop)
        {
            self.fail(event_loop, failure);
        }
    }

    fn user_event(&mut self, event_loop: &ActiveEventLoop, event: ToWindow) {
        let effects = match event {
            ToWindow::Frame => match self.slot.take() {
                Some(shown) => self.viewer.frame(shown),
                None => Vec::new(),
            },
            ToWindow::ControlRefused => self.viewer.control_refused(),
            ToWindow::Participants(list) => self.viewer.participants(list),
            ToWindow::Screen { monitors, display } => self.viewer.screen(monitors, display),
            ToWindow::AgentAway(window_secs) => self.viewer.agent_away(Some(window_secs)),
            ToWindow::AgentBack => self.viewer.agent_away(None),
            ToWindow::Ended(end) => self.viewer.ended(&end, Instant::now()),
        };
        self.apply(event_loop, effects);
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        let effects = match event {
            WindowEvent::CloseRequested => vec![Effect::Exit],
            WindowEvent::RedrawRequested => {
                if let Err(failure) = self.redraw() {
                    self.fail(event_loop, failure);
                }
                Vec::new()
            }
            WindowEvent::Resized(size) => self.viewer.resized(Size::new(size.width, size.height)),
            WindowEvent::CursorMoved { position, .. } => {
                self.viewer.pointer_moved(position.x, position.y)
            }
            WindowEvent::CursorLeft { .. } => self.viewer.pointer_left(),
            WindowEvent::MouseInput { state, button, .. } => {
                let button = match button {
                    winit::event::MouseButton::Left => MouseButton::Left,
                    winit::event::MouseButton::Middle => MouseButton::Middle,
                    winit::event::MouseButton::Right => MouseButton::Right,
                    _ => return,
                };
                self.viewer.button(button, state == ElementState::Pressed)
            }
            WindowEvent::MouseWheel { delta, .. } => self.viewer.wheel(match delta {
                MouseScrollDelta::LineDelta(x, y) => Wheel::Lines { x, y },
                MouseScrollDelta::PixelDelta(p) => Wheel::Pixels { x: p.x, y: p.y },
            }),
            // Synthetic presses replay keys already held when the window got the focus;
            // they were never pressed for the remote.
            WindowEvent::KeyboardInput {
                event,
                is_synthetic: false,
                ..
            } => {
                let input = KeyInput {
                    physical: event.physical_key,
                    key: event.key_without_modifiers(),
                    text: event.text.as_ref().map(ToString::to_string),
                    location: event.location,
                    pressed: event.state == ElementState::Pressed,
                    repeat: event.repeat,
                };
                // Never the text: it may be a password typed for the end user.
                tracing::trace!(
                    key = ?input.physical,
                    location = ?input.location,
                    pressed = input.pressed,
                    "key"
                );
                self.viewer.key(input)
            }
            WindowEvent::Focused(false) => self.viewer.focus_lost(),
            _ => Vec::new(),
        };
        self.apply(event_loop, effects);
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        let effects = self.viewer.handle_timeout(Instant::now());
        self.apply(event_loop, effects);
        event_loop.set_control_flow(match self.viewer.poll_timeout() {
            Some(at) => ControlFlow::WaitUntil(at),
            None => ControlFlow::Wait,
        });
    }
}
