//! The stateful half of input: what a checked event means given what is held.
//!
//! Contract (sans-IO: fed with `now`, never reads the clock):
//! - A key that types text is typed as that text (layout-independent) unless Ctrl, Alt or
//!   Super is held, in which case the key of that character is pressed so the shortcut
//!   arrives as a key combination (Ctrl+C is Ctrl plus the `c` key on any layout).
//! - Text is typed with the held Shift keys lifted, so it arrives exactly as sent.
//! - A key-up releases exactly what its key-down pressed, even if the modifiers changed
//!   in between; a key-up without a key-down does nothing.
//! - Key repeat: a repeated key-down of a key held on the end user's machine presses
//!   nothing again (that machine repeats it itself, as for a local key) but keeps it held;
//!   a repeated key-down of a text key types its text again.
//! - Keys and buttons held longer than the limit are released ([`InputState::poll_timeout`],
//!   [`InputState::handle_timeout`]); [`InputState::release_all`] lets go of everything.

use super::held::HeldInput;
use super::keys::{CodeKind, is_level_modifier, is_shortcut_modifier};
use super::{Action, Planned, Stroke};
use enigo::{Direction, Key};
use sos_transport::wire::Press;
use std::time::{Duration, Instant};

/// What a physical key's key-down did, so its key-up can undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pressed {
    /// A key was pressed and must be released.
    Key(Key),
    /// Text was typed: nothing to release.
    Typed,
    /// Nothing was done (a dead key, AltGr).
    Nothing,
}

/// Input state of one controlled session. See the module documentation.
#[derive(Debug, Clone)]
pub struct InputState {
    limit: Duration,
    held: HeldInput,
    /// Physical keys down, by W3C code (a bounded set: codes are checked against a table).
    strokes: Vec<(String, Pressed)>,
}

impl InputState {
    /// A state with nothing held; keys and buttons held longer than `limit` are released.
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            held: HeldInput::default(),
            strokes: Vec::new(),
        }
    }

    /// The actions that carry out a checked event received at `now`, in order.
    pub fn handle(&mut self, planned: Planned, now: Instant) -> Vec<Action> {
        match planned {
            Planned::Actions(actions) => actions,
            Planned::Text(text) => self.typed(text),
            Planned::Stroke(stroke) => match stroke.press {
                Press::Down => self.down(&stroke, now),
                Press::Up => self.up(&stroke.code),
                Press::Click => {
                    let mut actions = self.down(&stroke, now);
                    actions.extend(self.up(&stroke.code));
                    actions
                }
            },
        }
    }

    /// Records an action the platform applied at `now`.
    pub fn applied(&mut self, action: &Action, now: Instant) {
        self.held.record(action, now);
    }

    /// When [`InputState::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.held.deadline(self.limit)
    }

    /// The releases of whatever has been held for the limit or longer at `now`.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let releases = self.held.overdue(now, self.limit);
        self.strokes.retain(|(_, pressed)| match pressed {
            Pressed::Key(key) => !releases.contains(&release(*key)),
            Pressed::Typed | Pressed::Nothing => true,
        });
        releases
    }

    /// The releases of everything held; forgets every key that is down.
    pub fn release_all(&mut self) -> Vec<Action> {
        self.strokes.clear();
        self.held.release_all()
    }

    /// Whether nothing is held.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty()
    }

    fn down(&mut self, stroke: &Stroke, now: Instant) -> Vec<Action> {
        let (pressed, mut actions) = match stroke.kind {
            CodeKind::Ignored => (Pressed::Nothing, Vec::new()),
            CodeKind::Modifier(key) | CodeKind::Named(key) => (Pressed::Key(key), vec![press(key)]),
            CodeKind::Character(us_char) if self.shortcut_held() => {
                match shortcut_key(&stroke.text, us_char) {
                    Some(key) => (Pressed::Key(key), vec![press(key)]),
                    None => (Pressed::Nothing, Vec::new()),
                }
            }
            // A dead key types nothing yet: the composed character comes with the next key.
            CodeKind::Character(_) if stroke.text.is_empty() => (Pressed::Nothing, Vec::new()),
            CodeKind::Character(_) => (Pressed::Typed, self.typed(stroke.text.clone())),
        };
        let Some(at) = self
            .strokes
            .iter()
            .position(|(code, _)| *code == stroke.code)
        else {
            self.strokes.push((stroke.code.clone(), pressed));
            return actions;
        };
        match self.strokes[at].1 {
            // Key repeat of a key still held: the end user's machine repeats it itself.
            Pressed::Key(old) if Pressed::Key(old) == pressed && self.held.holds_key(old) => {
                self.held.touch_key(old, now);
                return Vec::new();
            }
            // The modifiers changed since the first key-down: the key pressed then is
            // released before the new meaning is applied.
            Pressed::Key(old) if Pressed::Key(old) != pressed => actions.insert(0, release(old)),
            _ => {}
        }
        self.strokes[at].1 = pressed;
        actions
    }

    fn up(&mut self, code: &str) -> Vec<Action> {
        let Some(at) = self.strokes.iter().position(|(c, _)| c == code) else {
            return Vec::new();
        };
        match self.strokes.remove(at).1 {
            Pressed::Key(key) => vec![release(key)],
            Pressed::Typed | Pressed::Nothing => Vec::new(),
        }
    }

    fn shortcut_held(&self) -> bool {
        self.held.keys().any(is_shortcut_modifier)
    }

    /// Types `text` with the held Shift keys lifted around it.
    fn typed(&self, text: String) -> Vec<Action> {
        let lifted: Vec<Key> = self.held.keys().filter(|k| is_level_modifier(*k)).collect();
        let mut actions: Vec<Action> = lifted.iter().rev().map(|k| release(*k)).collect();
        actions.push(Action::Text(text));
        actions.extend(lifted.iter().map(|k| press(*k)));
        actions
    }
}

/// The key a shortcut presses: the character the technician's key typed, in lower case so
/// that the held Shift (if any) is what makes it upper case, or the key's US character.
fn shortcut_key(text: &str, us_char: Option<char>) -> Option<Key> {
    let mut chars = text.chars();
    let typed = match (chars.next(), chars.next()) {
        (Some(c), None) => {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => Some(l),
                _ => Some(c),
            }
        }
        _ => None,
    };
    typed.or(us_char).map(Key::Unicode)
}

fn press(key: Key) -> Action {
    Action::Key {
        key,
        direction: Direction::Press,
    }
}

fn release(key: Key) -> Action {
    Action::Key {
        key,
        direction: Direction::Release,
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
