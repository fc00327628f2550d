//! Opening the app's windows and presenting their pictures (winit + softbuffer).
//!
//! Contract: a window is in the [`Shield`] before it is mapped (so no injected click can
//! reach it from its first frame) and its picture is drawn into the softbuffer buffer
//! through a [`Canvas`] of the size it was opened with.

use crate::shield::{Guarded, ScreenRect, Shield};
use sos_branding::ui::Canvas;
use std::num::NonZeroU32;
use std::rc::Rc;
use winit::dpi::{PhysicalPosition, PhysicalSize};
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

/// Where a window goes on the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In the middle.
    Centre,
    /// At the top, in the middle.
    TopCentre,
}

/// Opens a window of `width` x `height` at `place`, guarded as `guarded`: the bar and the
/// permission window stay on top; the bar has no frame.
pub fn open(
    event_loop: &ActiveEventLoop,
    shield: &Shield,
    title: &str,
    (width, height): (u32, u32),
    place: Place,
    guarded: Guarded,
) -> Result<Win, String> {
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
