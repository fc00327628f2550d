//! Turning a technician's wire event into one checked platform action, and remembering what
//! is held down so it can all be released when control ends.
//!
//! Contract: pure. [`plan`] refuses (`InputOutcome::Invalid`) unknown key names, positions
//! outside the shared screen, and events too large to inject promptly; it never touches the
//! platform. [`HeldInput`] tracks keys and buttons that went down and not up.

use enigo::{Button, Direction, Key};
use sos_transport::wire::{InputEvent, MouseButton, Press};

/// Most wheel steps one event may ask for (each step is one click of the wheel).
pub const MAX_WHEEL_STEPS: i32 = 100;
/// Most characters one text event may type.
pub const MAX_TEXT_CHARS: usize = 4096;

/// One checked action for an [`crate::platform::InputSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Move the pointer to an absolute screen position.
    MoveTo {
        /// Column, inside the screen.
        x: i32,
        /// Row, inside the screen.
        y: i32,
    },
    /// Press, release or click a mouse button.
    Button {
        /// Which button.
        button: Button,
        /// Press, release or click.
        direction: Direction,
    },
    /// Scroll by whole steps; positive is down / right.
    Scroll {
        /// Horizontal steps.
        dx: i32,
        /// Vertical steps.
        dy: i32,
    },
    /// Type text, independent of the keyboard layout.
    Text(String),
    /// Press, release or click a key.
    Key {
        /// Which key.
        key: Key,
        /// Press, release or click.
        direction: Direction,
    },
}

/// Why an event cannot be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidInput {
    /// The key name is not one this agent knows.
    #[error("unknown key name {0:?}")]
    UnknownKey(String),
    /// The position is outside the shared screen.
    #[error("position {x},{y} is outside the {width}x{height} screen")]
    OutsideScreen {
        /// Column asked for.
        x: i32,
        /// Row asked for.
        y: i32,
        /// Screen width.
        width: u32,
        /// Screen height.
        height: u32,
    },
    /// Too many wheel steps or characters in one event.
    #[error("event too large to inject at once")]
    TooLarge,
}

/// Checks an event against the screen size (`None`: unknown) and turns it into an action.
pub fn plan(event: &InputEvent, screen: Option<(u32, u32)>) -> Result<Action, InvalidInput> {
    Ok(match event {
        InputEvent::MouseMove { x, y } => {
            let (x, y) = (*x, *y);
            let (width, height) = screen.unwrap_or((i16::MAX as u32, i16::MAX as u32));
            let inside = |v: i32, limit: u32| u32::try_from(v).is_ok_and(|v| v < limit);
            if !inside(x, width) || !inside(y, height) {
                return Err(InvalidInput::OutsideScreen {
                    x,
                    y,
                    width,
                    height,
                });
            }
            Action::MoveTo { x, y }
        }
        InputEvent::MouseButton { button, press } => Action::Button {
            button: match button {
                MouseButton::Left => Button::Left,
                MouseButton::Middle => Button::Middle,
                MouseButton::Right => Button::Right,
            },
            direction: direction(*press),
        },
        InputEvent::Wheel { dx, dy } => {
            let steps = |v: i32| v.checked_abs().is_some_and(|v| v <= MAX_WHEEL_STEPS);
            if !steps(*dx) || !steps(*dy) {
                return Err(InvalidInput::TooLarge);
            }
            Action::Scroll { dx: *dx, dy: *dy }
        }
        InputEvent::Text(text) => {
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(InvalidInput::TooLarge);
            }
            // NUL cannot be typed and other control characters would be interpreted as
            // shortcuts; tabs and line breaks are typed as the keys they are.
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            {
                return Err(InvalidInput::UnknownKey(text.chars().take(16).collect()));
            }
            Action::Text(text.clone())
        }
        InputEvent::Key { name, press } => Action::Key {
            key: key_from_name(name).ok_or_else(|| InvalidInput::UnknownKey(name.clone()))?,
            direction: direction(*press),
        },
    })
}

fn direction(press: Press) -> Direction {
    match press {
        Press::Down => Direction::Press,
        Press::Up => Direction::Release,
        Press::Click => Direction::Click,
    }
}

/// Maps an X keysym-style key name (`Return`, `Control_L`, `F5`, `a`) or a short alias
/// (`ctrl`, `shift`, `alt`, `enter`) to a key. Single characters map to themselves.
pub fn key_from_name(name: &str) -> Option<Key> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return (!c.is_control()).then_some(Key::Unicode(c));
    }
    if let Some(n) = name.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()) {
        return function_key(n);
    }
    let key = match name {
        "Return" | "Enter" | "enter" | "KP_Enter" => Key::Return,
        "Tab" | "tab" => Key::Tab,
        "Escape" | "Esc" | "escape" | "esc" => Key::Escape,
        "BackSpace" | "Backspace" | "backspace" => Key::Backspace,
        "Delete" | "delete" | "Del" => Key::Delete,
        "Insert" | "insert" => Key::Insert,
        "Home" | "home" => Key::Home,
        "End" | "end" => Key::End,
        "Left" | "left" => Key::LeftArrow,
        "Right" | "right" => Key::RightArrow,
        "Up" | "up" => Key::UpArrow,
        "Down" | "down" => Key::DownArrow,
        "Page_Up" | "Prior" | "PageUp" => Key::PageUp,
        "Page_Down" | "Next" | "PageDown" => Key::PageDown,
        "Control_L" | "Control" | "ctrl" | "control" => Key::Control,
        "Control_R" => Key::RControl,
        "Shift_L" | "Shift" | "shift" => Key::Shift,
        "Shift_R" => Key::RShift,
        "Alt_L" | "Alt" | "alt" => Key::Alt,
        "Super_L" | "Super_R" | "Super" | "super" | "Meta_L" | "meta" => Key::Meta,
        "Caps_Lock" | "CapsLock" => Key::CapsLock,
        "space" | "Space" => Key::Space,
        "Print" => Key::PrintScr,
        "Menu" => Key::LMenu,
        _ => Key::Unicode(named_character(name)?),
    };
    Some(key)
}

fn function_key(n: u8) -> Option<Key> {
    const KEYS: [Key; 12] = [
        Key::F1,
        Key::F2,
        Key::F3,
        Key::F4,
        Key::F5,
        Key::F6,
        Key::F7,
        Key::F8,
        Key::F9,
        Key::F10,
        Key::F11,
        Key::F12,
    ];
    KEYS.get(usize::from(n).checked_sub(1)?).copied()
}

/// X keysym names of common punctuation.
fn named_character(name: &str) -> Option<char> {
    Some(match name {
        "minus" => '-',
        "equal" => '=',
        "plus" => '+',
        "comma" => ',',
        "period" => '.',
        "slash" => '/',
        "backslash" => '\\',
        "semicolon" => ';',
        "colon" => ':',
        "apostrophe" => '\'',
        "quotedbl" => '"',
        "grave" => '`',
        "bracketleft" => '[',
        "bracketright" => ']',
        "parenleft" => '(',
        "parenright" => ')',
        "underscore" => '_',
        "asterisk" => '*',
        "at" => '@',
        "numbersign" => '#',
        "dollar" => '$',
        "percent" => '%',
        "ampersand" => '&',
        "exclam" => '!',
        "question" => '?',
        "less" => '<',
        "greater" => '>',
        "bar" => '|',
        "asciitilde" => '~',
        "asciicircum" => '^',
        "braceleft" => '{',
        "braceright" => '}',
        _ => return None,
    })
}

/// Keys and buttons currently held down by the technician.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeldInput {
    keys: Vec<Key>,
    buttons: Vec<Button>,
}

impl HeldInput {
    /// Records an action that was applied.
    pub fn record(&mut self, action: &Action) {
        match action {
            Action::Key { key, direction } => update(&mut self.keys, *key, *direction),
            Action::Button { button, direction } => {
                update(&mut self.buttons, *button, *direction);
            }
            Action::MoveTo { .. } | Action::Scroll { .. } | Action::Text(_) => {}
        }
    }

    /// The actions that release everything held, and forgets it.
    pub fn release_all(&mut self) -> Vec<Action> {
        let keys = self.keys.drain(..).rev().map(|key| Action::Key {
            key,
            direction: Direction::Release,
        });
        let buttons = self.buttons.drain(..).rev().map(|button| Action::Button {
            button,
            direction: Direction::Release,
        });
        keys.chain(buttons).collect()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.buttons.is_empty()
    }
}

fn update<T: PartialEq>(held: &mut Vec<T>, item: T, direction: Direction) {
    match direction {
        Direction::Press => {
            if !held.contains(&item) {
                held.push(item);
            }
        }
        Direction::Release => held.retain(|h| *h != item),
        Direction::Click => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keysym_names_map_to_keys() {
        let cases = [
            ("Return", Key::Return),
            ("Tab", Key::Tab),
            ("Escape", Key::Escape),
            ("BackSpace", Key::Backspace),
            ("Delete", Key::Delete),
            ("Home", Key::Home),
            ("End", Key::End),
            ("Left", Key::LeftArrow),
            ("Right", Key::RightArrow),
            ("Up", Key::UpArrow),
            ("Down", Key::DownArrow),
            ("Page_Up", Key::PageUp),
            ("Page_Down", Key::PageDown),
            ("F1", Key::F1),
            ("F12", Key::F12),
            ("Control_L", Key::Control),
            ("ctrl", Key::Control),
            ("Shift_L", Key::Shift),
            ("shift", Key::Shift),
            ("Alt_L", Key::Alt),
            ("alt", Key::Alt),
            ("Super_L", Key::Meta),
            ("space", Key::Space),
            ("a", Key::Unicode('a')),
            ("Z", Key::Unicode('Z')),
            ("7", Key::Unicode('7')),
            ("é", Key::Unicode('é')),
            ("period", Key::Unicode('.')),
        ];
        for (name, key) in cases {
            assert_eq!(key_from_name(name), Some(key), "{name}");
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        for name in [
            "", "F0", "F13", "F99", "Hyper_Q", "ab", "\u{1b}", "\n", "return!",
        ] {
            assert_eq!(key_from_name(name), None, "{name:?}");
        }
        let event = InputEvent::Key {
            name: "Nope".into(),
            press: Press::Click,
        };
        assert_eq!(
            plan(&event, None),
            Err(InvalidInput::UnknownKey("Nope".into()))
        );
    }

    #[test]
    fn positions_must_be_inside_the_screen() {
        let screen = Some((1920, 1080));
        let at = |x, y| plan(&InputEvent::MouseMove { x, y }, screen);
        assert_eq!(at(0, 0), Ok(Action::MoveTo { x: 0, y: 0 }));
        assert_eq!(at(1919, 1079), Ok(Action::MoveTo { x: 1919, y: 1079 }));
        for (x, y) in [(1920, 0), (0, 1080), (-1, 5), (5, -1), (i32::MIN, i32::MAX)] {
            assert!(
                matches!(at(x, y), Err(InvalidInput::OutsideScreen { .. })),
                "{x},{y}"
            );
        }
    }

    #[test]
    fn oversized_events_are_refused() {
        let wheel = |dx, dy| plan(&InputEvent::Wheel { dx, dy }, None);
        assert_eq!(wheel(0, 3), Ok(Action::Scroll { dx: 0, dy: 3 }));
        assert_eq!(wheel(0, -100), Ok(Action::Scroll { dx: 0, dy: -100 }));
        assert_eq!(wheel(i32::MIN, 0), Err(InvalidInput::TooLarge));
        assert_eq!(wheel(0, 101), Err(InvalidInput::TooLarge));
        let text = plan(&InputEvent::Text("x".repeat(MAX_TEXT_CHARS + 1)), None);
        assert_eq!(text, Err(InvalidInput::TooLarge));
        assert!(plan(&InputEvent::Text("a\u{0}b".into()), None).is_err());
        assert_eq!(
            plan(&InputEvent::Text("héllo\n".into()), None),
            Ok(Action::Text("héllo\n".into()))
        );
    }

    #[test]
    fn buttons_and_presses_map() {
        let event = InputEvent::MouseButton {
            button: MouseButton::Right,
            press: Press::Down,
        };
        assert_eq!(
            plan(&event, None),
            Ok(Action::Button {
                button: Button::Right,
                direction: Direction::Press
            })
        );
    }

    #[test]
    fn held_keys_and_buttons_are_released_once() {
        let mut held = HeldInput::default();
        let press = |key| Action::Key {
            key,
            direction: Direction::Press,
        };
        held.record(&press(Key::Control));
        held.record(&press(Key::Shift));
        held.record(&press(Key::Control));
        held.record(&Action::Key {
            key: Key::Shift,
            direction: Direction::Release,
        });
        held.record(&Action::Key {
            key: Key::Unicode('a'),
            direction: Direction::Click,
        });
        held.record(&Action::Button {
            button: Button::Left,
            direction: Direction::Press,
        });
        assert_eq!(
            held.release_all(),
            vec![
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
        assert!(held.is_empty());
        assert!(held.release_all().is_empty());
    }
}
