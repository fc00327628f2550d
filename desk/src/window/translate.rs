//! Turning what the technician does in the viewer window into input events for the end
//! user's machine, and into the viewer's own shortcuts.
//!
//! Contract: pure, fed with window events reduced to plain values (pointer positions
//! already in remote pixels, logical keys without modifiers). Sends nothing without
//! control. Typed characters travel as `Text`, so the keyboard layouts at both ends do not
//! matter; named keys and shortcuts (with Ctrl, Alt or Super held) travel as the X keysym
//! names the agent knows, down and up. Every key or button sent down is sent up: on
//! release, or all at once when the window loses focus.
//!
//! Kept by the viewer, never sent: F8 (share the next monitor), F9 (take control from
//! another technician), F10 (fit / 1:1), F11 (full screen), F12 (status overlay) and the right Ctrl key (held, the wheel and the arrow keys scroll a 1:1 view;
//! without control they always do). Shift goes down on the remote only in front of a named
//! key or a shortcut, and Caps Lock and AltGr not at all: the text they produce is sent.

use sos_transport::wire::{InputEvent, MouseButton, Press};
use winit::keyboard::{Key, KeyLocation, NamedKey, PhysicalKey};

/// Window pixels scrolled per wheel notch or arrow key press.
pub const SCROLL_STEP: i32 = 48;
/// Touchpad pixels per wheel step sent to the agent.
const PIXELS_PER_WHEEL_STEP: f64 = 40.0;

/// A viewer shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    /// F8: share the end user's next monitor.
    NextMonitor,
    /// F9: take the mouse and keyboard from another technician.
    TakeControl,
    /// F10: fit or 1:1.
    ToggleScaling,
    /// F11: full screen or window.
    ToggleFullscreen,
    /// F12: show or hide the status overlay.
    ToggleOverlay,
}

/// What a window event turns into.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// An input event for the agent.
    Send(InputEvent),
    /// A viewer shortcut.
    Shortcut(Shortcut),
    /// Scroll the 1:1 view by window pixels (positive: right / down).
    Scroll {
        /// Horizontal.
        dx: i32,
        /// Vertical.
        dy: i32,
    },
}

/// A key going down or up, as the window reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInput {
    /// The physical key (matches a release with its press).
    pub physical: PhysicalKey,
    /// The logical key without modifiers (`a` for Shift+A and Ctrl+A alike).
    pub key: Key,
    /// The text the key types with the modifiers held, if any.
    pub text: Option<String>,
    /// Left, right, keypad or standard.
    pub location: KeyLocation,
    /// Down (`true`) or up.
    pub pressed: bool,
    /// An automatic repeat of a held key.
    pub repeat: bool,
}

/// A wheel or touchpad scroll; positive values move the content right / down (wheel up).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wheel {
    /// Notches.
    Lines {
        /// Horizontal.
        x: f32,
        /// Vertical.
        y: f32,
    },
    /// Touchpad pixels.
    Pixels {
        /// Horizontal.
        x: f64,
        /// Vertical.
        y: f64,
    },
}

/// The translation state: what is held, where the pointer is.
#[derive(Debug, Default, Clone)]
pub struct Translator {
    control: bool,
    /// Remote pixel under the pointer; `None` outside the picture.
    pointer: Option<(i32, i32)>,
    /// Last position sent.
    sent_position: Option<(i32, i32)>,
    /// Buttons sent down.
    buttons: Vec<MouseButton>,
    /// Keys sent down, with the physical key that releases them.
    keys: Vec<(PhysicalKey, String)>,
    /// Shift held here, and the name it goes down with on the remote.
    shift: Option<(PhysicalKey, &'static str)>,
    /// The right Ctrl key, held.
    host: Option<PhysicalKey>,
    /// Touchpad scrolling not yet worth a wheel step.
    wheel_rest: (f64, f64),
}

impl Translator {
    /// A translator that sends input only if `control` was granted.
    pub fn new(control: bool) -> Self {
        Self {
            control,
            ..Self::default()
        }
    }

    /// Whether input is being sent.
    pub fn control(&self) -> bool {
        self.control
    }

    /// Stops sending input (control refused or session over). What was held is forgotten:
    /// the agent releases it when control ends.
    pub fn revoke_control(&mut self) {
        *self = Self {
            pointer: self.pointer,
            ..Self::default()
        };
    }

    /// The pointer moved to remote pixel `at` (`None`: off the picture).
    pub fn pointer_moved(&mut self, at: Option<(i32, i32)>, out: &mut Vec<Output>) {
        self.pointer = at;
        if self.control && at.is_some() && at != self.sent_position {
            self.send_position(out);
        }
    }

    fn send_position(&mut self, out: &mut Vec<Output>) {
        if let Some((x, y)) = self.pointer {
            self.sent_position = self.pointer;
            out.push(Output::Send(InputEvent::MouseMove { x, y }));
        }
    }

    /// A mouse button went down or up.
    pub fn button(&mut self, button: MouseButton, pressed: bool, out: &mut Vec<Output>) {
        if !pressed {
            if let Some(i) = self.buttons.iter().position(|b| *b == button) {
                self.buttons.remove(i);
                out.push(Output::Send(InputEvent::MouseButton {
                    button,
                    press: Press::Up,
                }));
            }
            return;
        }
        if !self.control || self.pointer.is_none() || self.buttons.contains(&button) {
            return;
        }
        if self.sent_position != self.pointer {
            self.send_position(out);
        }
        self.buttons.push(button);
        out.push(Output::Send(InputEvent::MouseButton {
            button,
            press: Press::Down,
        }));
    }

    /// The wheel turned or the touchpad scrolled.
    pub fn wheel(&mut self, wheel: Wheel, out: &mut Vec<Output>) {
        let (x, y) = match wheel {
            Wheel::Lines { x, y } => (f64::from(x), f64::from(y)),
            Wheel::Pixels { x, y } => (x / PIXELS_PER_WHEEL_STEP, y / PIXELS_PER_WHEEL_STEP),
        };
        // Wheel up moves the content down, which on the wire is a negative step.
        let (x, y) = (-x, -y);
        if !self.control || self.host.is_some() {
            let px = |v: f64| (v * f64::from(SCROLL_STEP)).round() as i32;
            out.push(Output::Scroll {
                dx: px(x),
                dy: px(y),
            });
            return;
        }
        if self.pointer.is_none() {
            return;
        }
        let (rest_x, rest_y) = (self.wheel_rest.0 + x, self.wheel_rest.1 + y);
        let (dx, dy) = (rest_x.trunc(), rest_y.trunc());
        self.wheel_rest = (rest_x - dx, rest_y - dy);
        if dx != 0.0 || dy != 0.0 {
            let steps = |v: f64| v.clamp(-100.0, 100.0) as i32;
            out.push(Output::Send(InputEvent::Wheel {
                dx: steps(dx),
                dy: steps(dy),
            }));
        }
    }

    /// A key went down or up.
    pub fn key(&mut self, input: KeyInput, out: &mut Vec<Output>) {
        if !input.pressed {
            self.release(input.physical, out);
            return;
        }
        if let Key::Named(named) = &input.key {
            match (named, input.location) {
                (
                    NamedKey::F8 | NamedKey::F9 | NamedKey::F10 | NamedKey::F11 | NamedKey::F12,
                    _,
                ) => {
                    if !input.repeat {
                        out.push(Output::Shortcut(match named {
                            NamedKey::F8 => Shortcut::NextMonitor,
                            NamedKey::F9 => Shortcut::TakeControl,
                            NamedKey::F10 => Shortcut::ToggleScaling,
                            NamedKey::F11 => Shortcut::ToggleFullscreen,
                            _ => Shortcut::ToggleOverlay,
                        }));
                    }
                    return;
                }
                (NamedKey::Control, KeyLocation::Right) => {
                    self.host = Some(input.physical);
                    return;
                }
                (NamedKey::Shift, location) => {
                    let name = match location {
                        KeyLocation::Right => "Shift_R",
                        _ => "Shift_L",
                    };
                    self.shift = Some((input.physical, name));
                    return;
                }
                (NamedKey::CapsLock | NamedKey::NumLock | NamedKey::AltGraph, _) => return,
                _ => {}
            }
            if !self.control || self.host.is_some() {
                if let Some((dx, dy)) = arrow(named) {
                    out.push(Output::Scroll { dx, dy });
                }
                return;
            }
        }
        if !self.control || self.host.is_some() {
            return;
        }
        let shortcut = self.keys.iter().any(|(_, name)| is_command(name));
        if !shortcut
            && matches!(input.key, Key::Character(_))
            && let Some(text) = input.text.filter(|t| typeable(t))
        {
            self.lift_shift(out);
            out.push(Output::Send(InputEvent::Text(text)));
            return;
        }
        let Some(name) = key_name(&input.key) else {
            return;
        };
        if !is_command(&name) {
            self.press_shift(out);
        }
        if !self.keys.iter().any(|(p, _)| *p == input.physical) {
            self.keys.push((input.physical, name.clone()));
        }
        out.push(Output::Send(InputEvent::Key {
            name,
            press: Press::Down,
        }));
    }

    fn release(&mut self, physical: PhysicalKey, out: &mut Vec<Output>) {
        if self.host == Some(physical) {
            self.host = None;
        }
        if self.shift.is_some_and(|(p, _)| p == physical) {
            self.shift = None;
        }
        if let Some(i) = self.keys.iter().position(|(p, _)| *p == physical) {
            let (_, name) = self.keys.remove(i);
            out.push(Output::Send(InputEvent::Key {
                name,
                press: Press::Up,
            }));
        }
    }

    /// Shift held here goes down on the remote (before a named key or a shortcut).
    fn press_shift(&mut self, out: &mut Vec<Output>) {
        if let Some((physical, name)) = self.shift
            && !self.keys.iter().any(|(p, _)| *p == physical)
        {
            self.keys.push((physical, name.to_string()));
            out.push(Output::Send(InputEvent::Key {
                name: name.to_string(),
                press: Press::Down,
            }));
        }
    }

    /// Shift goes up on the remote before text: the text already has its case.
    fn lift_shift(&mut self, out: &mut Vec<Output>) {
        let Some((physical, _)) = self.shift else {
            return;
        };
        if let Some(i) = self.keys.iter().position(|(p, _)| *p == physical) {
            let (_, name) = self.keys.remove(i);
            out.push(Output::Send(InputEvent::Key {
                name,
                press: Press::Up,
            }));
        }
    }

    /// Releases every key and button sent down (the window lost the keyboard and mouse).
    pub fn release_all(&mut self, out: &mut Vec<Output>) {
        for (_, name) in self.keys.drain(..).rev() {
            out.push(Output::Send(InputEvent::Key {
                name,
                press: Press::Up,
            }));
        }
        for button in self.buttons.drain(..).rev() {
            out.push(Output::Send(InputEvent::MouseButton {
                button,
                press: Press::Up,
            }));
        }
        self.shift = None;
        self.host = None;
    }
}

fn arrow(named: &NamedKey) -> Option<(i32, i32)> {
    Some(match named {
        NamedKey::ArrowLeft => (-SCROLL_STEP, 0),
        NamedKey::ArrowRight => (SCROLL_STEP, 0),
        NamedKey::ArrowUp => (0, -SCROLL_STEP),
        NamedKey::ArrowDown => (0, SCROLL_STEP),
        _ => return None,
    })
}

/// Modifiers that make the next key a shortcut rather than typing.
fn is_command(name: &str) -> bool {
    matches!(name, "Control_L" | "Control_R" | "Alt_L" | "Super_L")
}

fn typeable(text: &str) -> bool {
    !text.is_empty() && !text.chars().any(char::is_control)
}

/// The X keysym name the agent knows for a key (see `agent/src/input.rs`), if any.
pub fn key_name(key: &Key) -> Option<String> {
    let named = match key {
        Key::Character(text) => {
            let mut chars = text.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => Some(c.to_string()),
                _ => None,
            };
        }
        Key::Named(named) => named,
        _ => return None,
    };
    let name = match named {
        NamedKey::Enter => "Return",
        NamedKey::Tab => "Tab",
        NamedKey::Escape => "Escape",
        NamedKey::Backspace => "BackSpace",
        NamedKey::Delete => "Delete",
        NamedKey::Insert => "Insert",
        NamedKey::Home => "Home",
        NamedKey::End => "End",
        NamedKey::ArrowLeft => "Left",
        NamedKey::ArrowRight => "Right",
        NamedKey::ArrowUp => "Up",
        NamedKey::ArrowDown => "Down",
        NamedKey::PageUp => "Page_Up",
        NamedKey::PageDown => "Page_Down",
        NamedKey::Space => "space",
        NamedKey::Control => "Control_L",
        // The agent knows one Alt; both act the same in shortcuts.
        NamedKey::Alt => "Alt_L",
        NamedKey::Super | NamedKey::Meta => "Super_L",
        NamedKey::PrintScreen => "Print",
        NamedKey::ContextMenu => "Menu",
        NamedKey::F1 => "F1",
        NamedKey::F2 => "F2",
        NamedKey::F3 => "F3",
        NamedKey::F4 => "F4",
        NamedKey::F5 => "F5",
        NamedKey::F6 => "F6",
        NamedKey::F7 => "F7",
        NamedKey::F8 => "F8",
        NamedKey::F9 => "F9",
        _ => return None,
    };
    Some(name.to_string())
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
