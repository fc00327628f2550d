//! Opening the app's windows and presenting their pictures (winit + softbuffer).
//!
//! Contract: a window is in the [`Shield`] before it is mapped (so no injected click can
//! reach it from its first frame) and its picture is drawn into the softbuffer buffer
//! through a [`Canvas`] of the size it was opened with.

use super::{bar, consent, status};
use crate::shield::{Guarded, ScreenRect, Shield};
use sos_branding::ui::Canvas;
use std::num::NonZeroU32;
use std::rc::Rc;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, KeyEvent, MouseButton, WindowEvent};
use winit::event_loop::ActiveEventLoop;
use winit::window::{Window, WindowId, WindowLevel};

type Surface = softbuffer::Surface<Rc<Window>, Rc<Window>>;

/// One open window.
pub struct Win {
    /// The window.
    pub window: Rc<Window>,
    surface: Surface,
    /// Where the pointer was last seen in it.
    pub pointer: (f64, f64),
    /// Which of the app's windows it is.
    pub guarded: Guarded,
    /// The size it was opened with (it is not resizable). Kept rather than asked, because
    /// winit cannot answer for a window the X server already destroyed.
    size: (u32, u32),
}

impl Win {
    /// Whether this is window `id`.
    pub fn is(&self, id: WindowId) -> bool {
        self.window.id() == id
    }

    /// Draws with `paint` and shows the result.
    pub fn present(&mut self, paint: impl FnOnce(&mut Canvas<'_>)) -> Result<(), String> {
        let (w, h) = self.size;
        let (Some(width), Some(height)) = (NonZeroU32::new(w), NonZeroU32::new(h)) else {
            return Ok(());
        };
        let failed = |e: softbuffer::SoftBufferError| format!("cannot draw in the window: {e}");
        self.surface.resize(width, height).map_err(failed)?;
        let mut buffer = self.surface.buffer_mut().map_err(failed)?;
        if let Some(mut canvas) = Canvas::new(&mut buffer, w, h) {
            paint(&mut canvas);
        }
        buffer.present().map_err(failed)
    }
}

/// What a window event means to a window made of buttons (and fields).
#[derive(Debug)]
pub enum Gesture {
    /// The main button went down at this position.
    Press((f64, f64)),
    /// The main button came up at this position.
    Release((f64, f64)),
    /// The pointer left or the focus went: a half-made click is forgotten.
    Cancel,
    /// A key went down.
    Key(KeyEvent),
    /// The window is asked to close, or is gone.
    Close,
    /// Nothing for the view (the pointer moved, and everything else).
    Nothing,
}

impl Win {
    /// Follows the pointer and turns `event` into a [`Gesture`].
    pub fn gesture(&mut self, event: WindowEvent) -> Gesture {
        match event {
            WindowEvent::CursorMoved { position, .. } => {
                self.pointer = (position.x, position.y);
                Gesture::Nothing
            }
            WindowEvent::CursorLeft { .. } | WindowEvent::Focused(false) => Gesture::Cancel,
            WindowEvent::MouseInput {
                state,
                button: MouseButton::Left,
                ..
            } => match state {
                ElementState::Pressed => Gesture::Press(self.pointer),
                ElementState::Released => Gesture::Release(self.pointer),
            },
            WindowEvent::KeyboardInput { event, .. } if event.state == ElementState::Pressed => {
                Gesture::Key(event)
            }
            WindowEvent::CloseRequested | WindowEvent::Destroyed => Gesture::Close,
            _ => Gesture::Nothing,
        }
    }
}

/// Where a window goes on the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the middle.
    Centre,
    /// At the top, in the middle.
    TopCentre,
}

/// Opens `guarded`'s window for `product`: the bar at the top centre without a frame, the
/// others centred; the bar and the permission window stay on top.
pub fn open(
    event_loop: &ActiveEventLoop,
    shield: &Shield,
    product: &str,
    guarded: Guarded,
) -> Result<Win, String> {
    let (what, (width, height), place) = match guarded {
        Guarded::Status => (
            "remote support",
            (status::WIDTH, status::HEIGHT),
            Place::Centre,
        ),
        Guarded::Consent => (
            "permission request",
            (consent::WIDTH, consent::HEIGHT),
            Place::Centre,
        ),
        Guarded::Bar => (
            "sharing your screen",
            (bar::WIDTH, bar::HEIGHT),
            Place::TopCentre,
        ),
    };
    let title = format!("{product} — {what}");
    let monitor = event_loop
        .primary_monitor()
        .or_else(|| event_loop.available_monitors().next());
    let (mx, my, mw, mh) = monitor.map_or((0, 0, width, height), |m| {
        (
            m.position().x,
            m.position().y,
            m.size().width,
            m.size().height,
        )
    });
    let x = mx + i32::try_from(mw.saturating_sub(width) / 2).unwrap_or(0);
    let y = match place {
        Place::Centre => my + i32::try_from(mh.saturating_sub(height) / 2).unwrap_or(0),
        Place::TopCentre => my,
    };
    let on_top = !matches!(guarded, Guarded::Status);
    let attributes = Window::default_attributes()
        .with_title(title)
        .with_inner_size(PhysicalSize::new(width, height))
        .with_position(PhysicalPosition::new(x, y))
        .with_resizable(false)
        .with_decorations(!matches!(guarded, Guarded::Bar))
        .with_window_level(if on_top {
            WindowLevel::AlwaysOnTop
        } else {
            WindowLevel::Normal
        })
        .with_visible(false);
    let window = Rc::new(
        event_loop
            .create_window(attributes)
            .map_err(|e| format!("cannot open a window: {e}"))?,
    );
    let context = softbuffer::Context::new(window.clone())
        .map_err(|e| format!("cannot draw in the window: {e}"))?;
    let surface = softbuffer::Surface::new(&context, window.clone())
        .map_err(|e| format!("cannot draw in the window: {e}"))?;
    // Guarded before it can be seen, so no injected click ever reaches it.
    shield.cover(
        guarded,
        Some(ScreenRect {
            x,
            y,
            width,
            height,
        }),
    );
    window.set_visible(true);
    window.request_redraw();
    Ok(Win {
        window,
        surface,
        pointer: (-1.0, -1.0),
        guarded,
        size: (width, height),
    })
}
