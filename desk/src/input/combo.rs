//! Key combinations typed on the command line (`ctrl+c`, `alt+tab`, `shift+F10`, `Return`)
//! and the physical key events they stand for.
//!
//! Contract: pure parsing. A combination is zero or more modifiers and one key, joined by
//! `+`; the key is sent as the key of a US keyboard that types it, together with the text it
//! types, so the end user's machine reproduces it whatever its own layout.

use sos_transport::wire::{InputEvent, Press};
use std::fmt;
use std::str::FromStr;

/// A modifier of a combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    /// Ctrl.
    Control,
    /// Alt.
    Alt,
    /// Shift.
    Shift,
    /// Super (the Windows or Command key).
    Super,
}

impl Modifier {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ctrl" | "control" | "control_l" => Self::Control,
            "alt" | "alt_l" => Self::Alt,
            "shift" | "shift_l" => Self::Shift,
            "super" | "super_l" | "meta" | "win" | "cmd" => Self::Super,
            _ => return None,
        })
    }

    fn code(self) -> &'static str {
        match self {
            Self::Control => "ControlLeft",
            Self::Alt => "AltLeft",
            Self::Shift => "ShiftLeft",
            Self::Super => "MetaLeft",
        }
    }
}

/// A parsed key combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combo {
    modifiers: Vec<Modifier>,
    /// W3C code of the main key.
    code: String,
    /// What the main key types with the combination's Shift applied (empty for non-text keys).
    text: String,
    /// As typed, for messages.
    spelled: String,
}

/// Why a `--key` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a key combination — {hint}")]
pub struct ComboError {
    text: String,
    hint: &'static str,
}

const KEY_HINT: &str = "use modifiers (ctrl, alt, shift, super) and one key joined by +, such as ctrl+c, alt+tab, shift+F10 or Return";
const NAME_HINT: &str = "name one key: a character (a, é, 1) or Return, Tab, Escape, BackSpace, Delete, Home, End, Page_Up, Page_Down, Left, Right, Up, Down, space, F1-F24";

impl Combo {
    /// Parses `ctrl+c`, `alt+tab`, `ctrl++` (Ctrl and plus), `super`, `Return`.
    pub fn parse(text: &str) -> Result<Self, ComboError> {
        let refuse = |hint| ComboError {
            text: text.to_string(),
            hint,
        };
        let (head, key) = match text.strip_suffix("++") {
            Some(head) => (head, "+"),
            None if text == "+" => ("", "+"),
            None => match text.rsplit_once('+') {
                Some((head, key)) => (head, key),
                None => ("", text),
            },
        };
        if key.is_empty() {
            return Err(refuse(KEY_HINT));
        }
        let mut modifiers = Vec::new();
        for name in head.split('+').filter(|_| !head.is_empty()) {
            let modifier = Modifier::parse(name).ok_or_else(|| refuse(KEY_HINT))?;
            if modifiers.contains(&modifier) {
                return Err(refuse(KEY_HINT));
            }
            modifiers.push(modifier);
        }
        let shift = modifiers.contains(&Modifier::Shift);
        let (code, text_typed) = match (key_code(key), Modifier::parse(key)) {
            (Some(code), _) => (code.to_string(), String::new()),
            // A modifier alone (`super`) is a key too.
            (None, Some(modifier)) if !modifiers.contains(&modifier) => {
                (modifier.code().to_string(), String::new())
            }
            _ => {
                let c = character(key).ok_or_else(|| refuse(NAME_HINT))?;
                let typed = if shift {
                    c.to_uppercase().collect()
                } else {
                    c.to_string()
                };
                (us_code(c).unwrap_or("Unidentified").to_string(), typed)
            }
        };
        Ok(Self {
            modifiers,
            code,
            text: text_typed,
            spelled: text.to_string(),
        })
    }

    /// The key events of the combination: modifiers down, the key down and up, modifiers up
    /// in reverse order; with `hold`, only the downs (the keys stay pressed).
    pub fn events(&self, hold: bool) -> Vec<InputEvent> {
        let stroke = |code: &str, text: &str, press| InputEvent::KeyStroke {
            code: code.to_string(),
            text: text.to_string(),
            press,
        };
        let mut events: Vec<InputEvent> = self
            .modifiers
            .iter()
            .map(|m| stroke(m.code(), "", Press::Down))
            .collect();
        events.push(stroke(&self.code, &self.text, Press::Down));
        if !hold {
            events.push(stroke(&self.code, &self.text, Press::Up));
            events.extend(
                self.modifiers
                    .iter()
                    .rev()
                    .map(|m| stroke(m.code(), "", Press::Up)),
            );
        }
        events
    }
}

impl FromStr for Combo {
    type Err = ComboError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Combo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelled)
    }
}

/// The W3C code of a named key that types nothing.
fn key_code(name: &str) -> Option<&'static str> {
    if let Some(n) = name
        .strip_prefix(['F', 'f'])
        .and_then(|n| n.parse::<u8>().ok())
    {
        const F: [&str; 24] = [
            "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12", "F13",
            "F14", "F15", "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24",
        ];
        return F.get(usize::from(n).checked_sub(1)?).copied();
    }
    Some(match name.to_ascii_lowercase().as_str() {
        "return" | "enter" | "kp_enter" => "Enter",
        "tab" => "Tab",
        "escape" | "esc" => "Escape",
        "backspace" => "Backspace",
        "delete" | "del" => "Delete",
        "insert" | "ins" => "Insert",
        "home" => "Home",
        "end" => "End",
        "page_up" | "pageup" | "prior" => "PageUp",
        "page_down" | "pagedown" | "next" => "PageDown",
        "left" => "ArrowLeft",
        "right" => "ArrowRight",
        "up" => "ArrowUp",
        "down" => "ArrowDown",
        "space" => "Space",
        "print" | "printscreen" => "PrintScreen",
        "menu" => "ContextMenu",
        "pause" => "Pause",
        _ => return None,
    })
}

/// The character a key name types: itself when it is one character, else an X keysym name.
fn character(name: &str) -> Option<char> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return (!c.is_control()).then_some(c);
    }
    sos_transport::wire::keysym_character(name)
}

/// The key of a US keyboard that types `c` (with or without Shift).
fn us_code(c: char) -> Option<&'static str> {
    const LETTERS: [&str; 26] = [
        "KeyA", "KeyB", "KeyC", "KeyD", "KeyE", "KeyF", "KeyG", "KeyH", "KeyI", "KeyJ", "KeyK",
        "KeyL", "KeyM", "KeyN", "KeyO", "KeyP", "KeyQ", "KeyR", "KeyS", "KeyT", "KeyU", "KeyV",
        "KeyW", "KeyX", "KeyY", "KeyZ",
    ];
    const DIGITS: [&str; 10] = [
        "Digit0", "Digit1", "Digit2", "Digit3", "Digit4", "Digit5", "Digit6", "Digit7", "Digit8",
        "Digit9",
    ];
    if c.is_ascii_alphabetic() {
        return LETTERS
            .get(usize::from(c.to_ascii_lowercase() as u8 - b'a'))
            .copied();
    }
    if let Some(d) = c.to_digit(10) {
        return DIGITS.get(d as usize).copied();
    }
    Some(match c {
        ')' => "Digit0",
        '!' => "Digit1",
        '@' => "Digit2",
        '#' => "Digit3",
        '$' => "Digit4",
        '%' => "Digit5",
        '^' => "Digit6",
        '&' => "Digit7",
        '*' => "Digit8",
        '(' => "Digit9",
        '-' | '_' => "Minus",
        '=' | '+' => "Equal",
        '[' | '{' => "BracketLeft",
        ']' | '}' => "BracketRight",
        '\\' | '|' => "Backslash",
        ';' | ':' => "Semicolon",
        '\'' | '"' => "Quote",
        '`' | '~' => "Backquote",
        ',' | '<' => "Comma",
        '.' | '>' => "Period",
        '/' | '?' => "Slash",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stroke(code: &str, text: &str, press: Press) -> InputEvent {
        InputEvent::KeyStroke {
            code: code.into(),
            text: text.into(),
            press,
        }
    }

    #[test]
    fn shortcuts_are_modifiers_around_one_key() {
        let combo = Combo::parse("ctrl+c").unwrap();
        assert_eq!(
            combo.events(false),
            vec![
                stroke("ControlLeft", "", Press::Down),
                stroke("KeyC", "c", Press::Down),
                stroke("KeyC", "c", Press::Up),
                stroke("ControlLeft", "", Press::Up),
            ]
        );
        assert_eq!(
            Combo::parse("alt+tab").unwrap().events(false),
            vec![
                stroke("AltLeft", "", Press::Down),
                stroke("Tab", "", Press::Down),
                stroke("Tab", "", Press::Up),
                stroke("AltLeft", "", Press::Up),
            ]
        );
        let held = Combo::parse("Ctrl+Shift+t").unwrap().events(true);
        assert_eq!(
            held,
            vec![
                stroke("ControlLeft", "", Press::Down),
                stroke("ShiftLeft", "", Press::Down),
                stroke("KeyT", "T", Press::Down),
            ]
        );
    }

    #[test]
    fn single_keys_names_and_characters() {
        let main = |text: &str| {
            let combo = Combo::parse(text).unwrap();
            (combo.code, combo.text, combo.modifiers.len())
        };
        let key = |code: &str, text: &str| (code.to_string(), text.to_string(), 0);
        assert_eq!(main("Return"), key("Enter", ""));
        assert_eq!(main("enter"), key("Enter", ""));
        assert_eq!(main("BackSpace"), key("Backspace", ""));
        assert_eq!(main("Page_Up"), key("PageUp", ""));
        assert_eq!(main("F5"), key("F5", ""));
        assert_eq!(main("f12"), key("F12", ""));
        assert_eq!(main("space"), key("Space", ""));
        assert_eq!(main("a"), key("KeyA", "a"));
        assert_eq!(main("A"), key("KeyA", "A"));
        assert_eq!(main("@"), key("Digit2", "@"));
        assert_eq!(main("7"), key("Digit7", "7"));
        assert_eq!(main("é"), key("Unidentified", "é"));
        assert_eq!(main("period"), key("Period", "."));
        assert_eq!(main("+"), key("Equal", "+"));
        assert_eq!(main("super"), key("MetaLeft", ""));
        assert_eq!(main("ctrl++"), ("Equal".into(), "+".into(), 1));
        assert_eq!(main("shift+é"), ("Unidentified".into(), "É".into(), 1));
        assert_eq!(main("ctrl+alt+Delete"), ("Delete".into(), String::new(), 2));
    }

    #[test]
    fn bad_combinations_say_what_is_expected() {
        for bad in [
            "",
            "ctrl+",
            "ctrl+ctrl+c",
            "hyper+c",
            "c+ctrl",
            "ctrl+Retrun",
            "F0",
            "F25",
            "ab",
            "ctrl+ctrl",
            "\u{7}",
        ] {
            let err = Combo::parse(bad).unwrap_err().to_string();
            assert!(err.contains("is not a key combination"), "{bad:?}: {err}");
        }
        assert!(
            Combo::parse("ctrl+Retrun")
                .unwrap_err()
                .to_string()
                .contains("Return, Tab")
        );
        assert_eq!(Combo::parse("alt+F4").unwrap().to_string(), "alt+F4");
    }
}
