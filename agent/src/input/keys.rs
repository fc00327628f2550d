//! Names of keys: X keysym-style names (`Return`, `Control_L`) for [`InputEvent::Key`] and
//! W3C UI Events codes (`KeyC`, `ControlLeft`) for [`InputEvent::KeyStroke`].
//!
//! Contract: pure lookup tables; unknown names map to `None`, never to a guess.
//!
//! [`InputEvent::Key`]: sos_transport::wire::InputEvent::Key
//! [`InputEvent::KeyStroke`]: sos_transport::wire::InputEvent::KeyStroke

use enigo::Key;

/// What a physical key (a W3C `code`) is to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// A modifier pressed and held as it is: Shift, Ctrl, Alt, Super.
    Modifier(Key),
    /// A key whose effect is already in the text of the keys that follow (AltGr, Caps Lock,
    /// Num Lock): never pressed on the end user's machine, where it would apply twice.
    Ignored,
    /// A key that types nothing and is pressed as itself: Enter, Tab, arrows, F1.
    Named(Key),
    /// A key that types text; the character it types on a US layout, when there is one
    /// (used for shortcuts when the viewer sent no text).
    Character(Option<char>),
}

/// Whether `key` makes other keys shortcuts (Ctrl, Alt, Super) rather than text.
pub fn is_shortcut_modifier(key: Key) -> bool {
    matches!(key, Key::Control | Key::RControl | Key::Alt | Key::Meta)
}

/// Whether `key` only changes which character a key types (Shift).
pub fn is_level_modifier(key: Key) -> bool {
    matches!(key, Key::Shift | Key::RShift)
}

/// Classifies a W3C UI Events `code`.
pub fn code_kind(code: &str) -> Option<CodeKind> {
    if let Some(letter) = code.strip_prefix("Key") {
        return single_char(letter)
            .filter(char::is_ascii_uppercase)
            .map(|c| CodeKind::Character(Some(c.to_ascii_lowercase())));
    }
    if let Some(digit) = code
        .strip_prefix("Digit")
        .or_else(|| code.strip_prefix("Numpad"))
        .and_then(single_char)
        .filter(char::is_ascii_digit)
    {
        return Some(CodeKind::Character(Some(digit)));
    }
    if let Some(n) = code.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()) {
        return function_key(n).map(CodeKind::Named);
    }
    let kind = match code {
        "ShiftLeft" => CodeKind::Modifier(Key::Shift),
        "ShiftRight" => CodeKind::Modifier(Key::RShift),
        "ControlLeft" => CodeKind::Modifier(Key::Control),
        "ControlRight" => CodeKind::Modifier(Key::RControl),
        "AltLeft" => CodeKind::Modifier(Key::Alt),
        "MetaLeft" | "MetaRight" | "OSLeft" | "OSRight" => CodeKind::Modifier(Key::Meta),
        "AltRight" | "CapsLock" | "NumLock" => CodeKind::Ignored,
        "Unidentified" => CodeKind::Character(None),
        _ => return named_code(code).or_else(|| punctuation_code(code)),
    };
    Some(kind)
}

fn single_char(text: &str) -> Option<char> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

fn named_code(code: &str) -> Option<CodeKind> {
    let key = match code {
        "Enter" | "NumpadEnter" => Key::Return,
        "Tab" => Key::Tab,
        "Escape" => Key::Escape,
        "Backspace" => Key::Backspace,
        "Delete" => Key::Delete,
        "Insert" => Key::Insert,
        "Home" => Key::Home,
        "End" => Key::End,
        "PageUp" => Key::PageUp,
        "PageDown" => Key::PageDown,
        "ArrowLeft" => Key::LeftArrow,
        "ArrowRight" => Key::RightArrow,
        "ArrowUp" => Key::UpArrow,
        "ArrowDown" => Key::DownArrow,
        "Space" => Key::Space,
        "PrintScreen" => Key::PrintScr,
        "Pause" => Key::Pause,
        "ScrollLock" => Key::ScrollLock,
        "ContextMenu" => Key::LMenu,
        _ => return None,
    };
    Some(CodeKind::Named(key))
}

fn punctuation_code(code: &str) -> Option<CodeKind> {
    let c = match code {
        "Minus" | "NumpadSubtract" => '-',
        "Equal" => '=',
        "BracketLeft" => '[',
        "BracketRight" => ']',
        "Backslash" | "IntlBackslash" => '\\',
        "Semicolon" => ';',
        "Quote" => '\'',
        "Backquote" => '`',
        "Comma" => ',',
        "Period" | "NumpadDecimal" => '.',
        "Slash" | "NumpadDivide" => '/',
        "NumpadAdd" => '+',
        "NumpadMultiply" => '*',
        "IntlRo" | "IntlYen" => return Some(CodeKind::Character(None)),
        _ => return None,
    };
    Some(CodeKind::Character(Some(c)))
}

/// Maps an X keysym-style key name (`Return`, `Control_L`, `F5`, `a`) or a short alias
/// (`ctrl`, `shift`, `alt`, `enter`) to a key. Single characters map to themselves.
pub fn key_from_name(name: &str) -> Option<Key> {
    if let Some(c) = single_char(name) {
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
        _ => Key::Unicode(sos_transport::wire::keysym_character(name)?),
    };
    Some(key)
}

fn function_key(n: u8) -> Option<Key> {
    const KEYS: [Key; 24] = [
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
        Key::F13,
        Key::F14,
        Key::F15,
        Key::F16,
        Key::F17,
        Key::F18,
        Key::F19,
        Key::F20,
        Key::F21,
        Key::F22,
        Key::F23,
        Key::F24,
    ];
    KEYS.get(usize::from(n).checked_sub(1)?).copied()
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
            ("F24", Key::F24),
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
            "", "F0", "F25", "F99", "Hyper_Q", "ab", "\u{1b}", "\n", "return!",
        ] {
            assert_eq!(key_from_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn codes_are_classified() {
        let cases = [
            ("KeyA", CodeKind::Character(Some('a'))),
            ("KeyZ", CodeKind::Character(Some('z'))),
            ("Digit0", CodeKind::Character(Some('0'))),
            ("Numpad7", CodeKind::Character(Some('7'))),
            ("Minus", CodeKind::Character(Some('-'))),
            ("NumpadAdd", CodeKind::Character(Some('+'))),
            ("IntlRo", CodeKind::Character(None)),
            ("Unidentified", CodeKind::Character(None)),
            ("Enter", CodeKind::Named(Key::Return)),
            ("NumpadEnter", CodeKind::Named(Key::Return)),
            ("Tab", CodeKind::Named(Key::Tab)),
            ("Space", CodeKind::Named(Key::Space)),
            ("ArrowLeft", CodeKind::Named(Key::LeftArrow)),
            ("F5", CodeKind::Named(Key::F5)),
            ("ShiftLeft", CodeKind::Modifier(Key::Shift)),
            ("ShiftRight", CodeKind::Modifier(Key::RShift)),
            ("ControlLeft", CodeKind::Modifier(Key::Control)),
            ("AltLeft", CodeKind::Modifier(Key::Alt)),
            ("MetaLeft", CodeKind::Modifier(Key::Meta)),
            ("AltRight", CodeKind::Ignored),
            ("CapsLock", CodeKind::Ignored),
        ];
        for (code, kind) in cases {
            assert_eq!(code_kind(code), Some(kind), "{code}");
        }
        for code in [
            "", "Key", "Keya", "KeyAB", "Digit", "Digit10", "F0", "Fn", "Hyper",
        ] {
            assert_eq!(code_kind(code), None, "{code:?}");
        }
    }

    #[test]
    fn modifier_roles() {
        for key in [Key::Control, Key::RControl, Key::Alt, Key::Meta] {
            assert!(is_shortcut_modifier(key) && !is_level_modifier(key));
        }
        for key in [Key::Shift, Key::RShift] {
            assert!(is_level_modifier(key) && !is_shortcut_modifier(key));
        }
        assert!(!is_shortcut_modifier(Key::Unicode('c')));
    }
}
