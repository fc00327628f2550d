//! The screen rectangles of the app's own windows (permission prompt, session bar, status
//! window), kept out of the technician's reach.
//!
//! The windows set their rectangles as they are shown, moved and hidden; the input thread
//! asks before every injected pointer move, button press and scroll. X11 cannot tell an
//! injected (XTEST) click from the end user's own, so refusing it before it is injected is
//! the guard that holds: a technician in control can never click Allow, Stop or Pause.
//!
//! Contract: a handle, never a global; a rectangle is covered from the moment it is set
//! until it is cleared; button releases are never refused (a held button is always let
//! go). Pure apart from the shared lock; no IO.

use crate::input::Action;
use enigo::Direction;
use std::sync::{Arc, Mutex, PoisonError};

/// Which window a rectangle belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guarded {
    /// The permission prompt.
    Consent,
    /// The in-session bar.
    Bar,
    /// The join and status window.
    Status,
}

/// A rectangle in screen (root window) coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreenRect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl ScreenRect {
    fn contains(&self, (x, y): (i32, i32)) -> bool {
        let (x, y) = (i64::from(x), i64::from(y));
        let (left, top) = (i64::from(self.x), i64::from(self.y));
        x >= left
            && y >= top
            && x < left + i64::from(self.width)
            && y < top + i64::from(self.height)
    }
}

/// Shared handle to the guarded rectangles. Clones share them.
#[derive(Debug, Clone, Default)]
pub struct Shield {
    rects: Arc<Mutex<Vec<(Guarded, ScreenRect)>>>,
}

impl Shield {
    /// Covers `rect` for `window` (replacing its previous one), or uncovers it (`None`).
    pub fn cover(&self, window: Guarded, rect: Option<ScreenRect>) {
        let mut rects = self.rects.lock().unwrap_or_else(PoisonError::into_inner);
        rects.retain(|(w, _)| *w != window);
        if let Some(rect) = rect {
            rects.push((window, rect));
        }
    }

    /// Whether the screen position `at` is inside a guarded window.
    pub fn covers(&self, at: (i32, i32)) -> bool {
        let rects = self.rects.lock().unwrap_or_else(PoisonError::into_inner);
        rects.iter().any(|(_, rect)| rect.contains(at))
    }

    /// Whether `action` must not be injected: a move into a guarded window, or a press,
    /// click or scroll while the pointer (`pointer()`, asked only then) is over one.
    pub fn refuses(&self, action: &Action, pointer: impl FnOnce() -> Option<(i32, i32)>) -> bool {
        match action {
            Action::MoveTo { x, y } => self.covers((*x, *y)),
            Action::Button {
                direction: Direction::Release,
                ..
            } => false,
            Action::Button { .. } | Action::Scroll { .. } => {
                // Where the pointer is cannot be known: refuse while anything is guarded.
                pointer().map_or_else(|| !self.is_empty(), |at| self.covers(at))
            }
            Action::Text(_) | Action::Key { .. } => false,
        }
    }

    fn is_empty(&self) -> bool {
        self.rects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use enigo::Button;

    const PROMPT: ScreenRect = ScreenRect {
        x: 100,
        y: 50,
        width: 200,
        height: 100,
    };

    fn press() -> Action {
        Action::Button {
            button: Button::Left,
            direction: Direction::Press,
        }
    }

    #[test]
    fn moves_and_presses_into_a_guarded_window_are_refused() {
        let shield = Shield::default();
        assert!(!shield.refuses(&Action::MoveTo { x: 150, y: 60 }, || None));
        shield.cover(Guarded::Consent, Some(PROMPT));
        assert!(shield.refuses(&Action::MoveTo { x: 150, y: 60 }, || None));
        assert!(shield.refuses(&Action::MoveTo { x: 100, y: 50 }, || None));
        assert!(!shield.refuses(&Action::MoveTo { x: 300, y: 60 }, || None));
        assert!(!shield.refuses(&Action::MoveTo { x: 99, y: 60 }, || None));
        // The end user's own pointer may sit on the prompt: no injected click lands there.
        assert!(shield.refuses(&press(), || Some((120, 70))));
        assert!(shield.refuses(&Action::Scroll { dx: 0, dy: 1 }, || Some((120, 70))));
        assert!(!shield.refuses(&press(), || Some((10, 10))));
        assert!(
            shield.refuses(&press(), || None),
            "unknown pointer: refused"
        );
        // A release is never refused: nothing may stay held.
        let release = Action::Button {
            button: Button::Left,
            direction: Direction::Release,
        };
        assert!(!shield.refuses(&release, || Some((120, 70))));
        assert!(!shield.refuses(&Action::Text("y".into()), || Some((120, 70))));
    }

    #[test]
    fn windows_are_covered_until_cleared() {
        let shield = Shield::default();
        let copy = shield.clone();
        shield.cover(Guarded::Bar, Some(PROMPT));
        assert!(copy.covers((100, 50)));
        shield.cover(
            Guarded::Bar,
            Some(ScreenRect {
                x: 0,
                y: 0,
                width: 10,
                height: 10,
            }),
        );
        assert!(
            !copy.covers((100, 50)),
            "the new rectangle replaced the old"
        );
        assert!(copy.covers((5, 5)));
        shield.cover(Guarded::Bar, None);
        assert!(!copy.covers((5, 5)));
        assert!(!shield.refuses(&press(), || None), "nothing guarded");
    }
}
