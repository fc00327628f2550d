//! The X server's keyboard mapping as a client sees it: keycode + modifier state -> keysym,
//! and keysym -> character, following the core protocol's rules for group 1.

use x11rb::protocol::xproto::ConnectionExt;
use x11rb::rust_connection::RustConnection;

/// Shift in a key or button event's state.
pub const SHIFT: u16 = 0x1;
/// Caps Lock.
pub const LOCK: u16 = 0x2;
/// Control.
pub const CONTROL: u16 = 0x4;
/// Mod1 (Alt).
pub const MOD1: u16 = 0x8;
/// Mod4 (Super).
pub const MOD4: u16 = 0x40;
/// Mod5: how the server shows the second layout group to clients without XKB.
pub const MOD5: u16 = 0x80;
/// Button 1 held.
pub const BUTTON1: u16 = 0x100;

/// A copy of the server's core keyboard mapping.
#[derive(Debug, Clone, Default)]
pub struct Keymap {
    min_keycode: u8,
    per_keycode: usize,
    keysyms: Vec<u32>,
}

impl Keymap {
    /// Reads the current mapping.
    pub fn fetch(conn: &RustConnection, min_keycode: u8, max_keycode: u8) -> Self {
        let reply = conn
            .get_keyboard_mapping(min_keycode, max_keycode - min_keycode + 1)
            .expect("ask for the keyboard mapping")
            .reply()
            .expect("keyboard mapping");
        Self {
            min_keycode,
            per_keycode: usize::from(reply.keysyms_per_keycode),
            keysyms: reply.keysyms,
        }
    }

    /// Whether `keycode` has no keysym at all (a stale copy, or an unused key).
    pub fn is_unmapped(&self, keycode: u8) -> bool {
        self.syms(keycode).iter().all(|s| *s == 0)
    }

    fn syms(&self, keycode: u8) -> &[u32] {
        let Some(index) = keycode.checked_sub(self.min_keycode) else {
            return &[];
        };
        let start = usize::from(index) * self.per_keycode;
        self.keysyms
            .get(start..start + self.per_keycode)
            .unwrap_or(&[])
    }

    /// The keysym a key event with `state` produces: the second layout group when the state
    /// shows it (Mod5, as the server reports it to clients without XKB; a key with one group
    /// has it in all), then the Shift and Lock level.
    pub fn keysym(&self, keycode: u8, state: u16) -> u32 {
        let syms = self.syms(keycode);
        let second_group = state & MOD5 != 0;
        let sym = |i: usize| syms.get(i).copied().unwrap_or(0);
        let base = if second_group && (sym(2) != 0 || sym(3) != 0) {
            2
        } else {
            0
        };
        let lower = sym(base);
        let upper = match sym(base + 1) {
            0 => upper_case(lower),
            upper => upper,
        };
        let shifted = (state & SHIFT != 0) != (state & LOCK != 0 && is_letter(lower));
        if shifted { upper } else { lower }
    }
}

fn is_letter(keysym: u32) -> bool {
    keysym_char(keysym).is_some_and(char::is_alphabetic)
}

fn upper_case(keysym: u32) -> u32 {
    let Some(c) = keysym_char(keysym) else {
        return keysym;
    };
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) if u != c => char_keysym(u),
        _ => keysym,
    }
}

fn char_keysym(c: char) -> u32 {
    let cp = u32::from(c);
    if (0x20..0x7f).contains(&cp) || (0xa0..=0xff).contains(&cp) {
        cp
    } else {
        0x0100_0000 | cp
    }
}

/// The character a keysym stands for, if it is a character (Latin-1, Unicode keysyms, and
/// the legacy Euro sign).
pub fn keysym_char(keysym: u32) -> Option<char> {
    match keysym {
        0x20..=0x7e | 0xa0..=0xff => char::from_u32(keysym),
        0x20ac => Some('€'),
        0x0100_0100..=0x0110_ffff => char::from_u32(keysym - 0x0100_0000),
        _ => None,
    }
}
