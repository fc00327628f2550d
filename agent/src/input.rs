//! Turning a technician's wire event into checked platform actions, and remembering what is
//! held down so it can all be released when control ends.
//!
//! Contract: pure. [`plan`] refuses (`InputOutcome::Invalid`) unknown keys, positions
//! outside the shared screen or the named monitor, and events too large to inject promptly;
//! it never touches the platform. [`InputState`] turns a checked event into actions against
//! what is held (shortcuts versus text, key-ups matched to their key-downs) and releases
//! keys held past the limit; it never reads the clock.

mod held;
pub mod keys;
mod state;

pub use held::HeldInput;
pub use keys::{CodeKind, key_from_name};
pub use state::InputState;

use enigo::{Button, Direction, Key};
use sos_transport::wire::{InputEvent, MonitorInfo, MouseButton, Press};

/// Most wheel steps one event may ask for (each step is one click of the wheel).
pub const MAX_WHEEL_STEPS: i32 = 100;
/// Most characters one text event may type.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Most characters one key stroke may type (a dead key and the key after it, an IME burst).
pub const MAX_STROKE_TEXT_CHARS: usize = 32;
/// Longest physical key code accepted (the longest W3C code is well below this).
pub const MAX_CODE_LEN: usize = 32;

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
    /// The key name or code is not one this agent knows.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// The text holds characters that cannot be typed (control characters).
    #[error("text with characters that cannot be typed")]
    Untypable,
    /// The position is outside the shared screen or the monitor.
    #[error("position {x},{y} is outside the {width}x{height} area")]
    OutsideScreen {
        /// Column asked for.
        x: i32,
        /// Row asked for.
        y: i32,
        /// Area width.
        width: u32,
        /// Area height.
        height: u32,
    },
    /// No monitor has this index.
    #[error("no monitor {0}")]
    NoSuchMonitor(u32),
    /// Too many wheel steps or characters in one event.
    #[error("event too large to inject at once")]
    TooLarge,
}

/// A rectangle of the desktop, in the root window's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl From<&MonitorInfo> for Area {
    fn from(m: &MonitorInfo) -> Self {
        Self {
            x: m.x,
            y: m.y,
            width: m.width,
            height: m.height,
        }
    }
}

/// Where the shared picture and the monitors lie on the desktop, as the agent reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The part of the desktop the technician sees (the captured monitor), when known.
    pub shared: Option<Area>,
    /// The monitors, left to right; empty when unknown (the shared area is then monitor 0).
    pub monitors: Vec<MonitorInfo>,
}

impl Layout {
    fn monitor(&self, index: u32) -> Option<Area> {
        if self.monitors.is_empty() {
            return self.shared.filter(|_| index == 0);
        }
        self.monitors
            .iter()
            .find(|m| m.index == index)
            .map(Area::from)
    }
}

/// A checked event, ready for [`InputState::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// Actions applied as they are (pointer, buttons, wheel, named keys).
    Actions(Vec<Action>),
    /// Text to type (typed with Shift lifted, so it arrives exactly).
    Text(String),
    /// A physical key going down or up.
    Stroke(Stroke),
}

/// A checked physical key event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stroke {
    /// The W3C code, known to [`keys::code_kind`].
    pub code: String,
    /// What the code is to the agent.
    pub kind: CodeKind,
    /// What it typed on the technician's layout (checked typable; empty for non-text keys).
    pub text: String,
    /// Down, up or both.
    pub press: Press,
}

/// Checks an event against the layout and turns it into a planned step.
pub fn plan(event: &InputEvent, layout: &Layout) -> Result<Planned, InvalidInput> {
    let one = |action| Ok(Planned::Actions(vec![action]));
    match event {
        InputEvent::MouseMove { x, y } => {
            let unknown = Area {
                x: 0,
                y: 0,
                width: i16::MAX as u32,
                height: i16::MAX as u32,
            };
            one(place(*x, *y, layout.shared.unwrap_or(unknown))?)
        }
        InputEvent::MouseMoveOn { monitor, x, y } => {
            let area = layout
                .monitor(*monitor)
                .ok_or(InvalidInput::NoSuchMonitor(*monitor))?;
            one(place(*x, *y, area)?)
        }
        InputEvent::MouseButton { button, press } => one(Action::Button {
            button: mouse_button(*button),
            direction: direction(*press),
        }),
        InputEvent::MouseDoubleClick { button } => {
            let click = Action::Button {
                button: mouse_button(*button),
                direction: Direction::Click,
            };
            Ok(Planned::Actions(vec![click.clone(), click]))
        }
        InputEvent::Wheel { dx, dy } => {
            let steps = |v: i32| v.checked_abs().is_some_and(|v| v <= MAX_WHEEL_STEPS);
            if !steps(*dx) || !steps(*dy) {
                return Err(InvalidInput::TooLarge);
            }
            one(Action::Scroll { dx: *dx, dy: *dy })
        }
        InputEvent::Text(text) => {
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(InvalidInput::TooLarge);
            }
            // Tabs and line breaks are typed as the keys they are; other control characters
            // would be taken as shortcuts, and NUL cannot be typed at all.
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            {
                return Err(InvalidInput::Untypable);
            }
            Ok(Planned::Text(text.clone()))
        }
        InputEvent::Key { name, press } => one(Action::Key {
            key: key_from_name(name).ok_or_else(|| InvalidInput::UnknownKey(clip(name)))?,
            direction: direction(*press),
        }),
        InputEvent::KeyStroke { code, text, press } => plan_stroke(code, text, *press),
    }
}

fn plan_stroke(code: &str, text: &str, press: Press) -> Result<Planned, InvalidInput> {
    let kind = (code.len() <= MAX_CODE_LEN)
        .then(|| keys::code_kind(code))
        .flatten()
        .ok_or_else(|| InvalidInput::UnknownKey(clip(code)))?;
    let text = match kind {
        // What a non-text key "typed" (a carriage return for Enter) is not typed again.
        CodeKind::Modifier(_) | CodeKind::Ignored | CodeKind::Named(_) => String::new(),
        CodeKind::Character(_) => {
            if text.chars().count() > MAX_STROKE_TEXT_CHARS {
                return Err(InvalidInput::TooLarge);
            }
            if text.chars().any(char::is_control) {
                return Err(InvalidInput::Untypable);
            }
            text.to_string()
        }
    };
    Ok(Planned::Stroke(Stroke {
        code: code.to_string(),
        kind,
        text,
        press,
    }))
}

/// The desktop position of (`x`, `y`) counted from `area`'s top-left corner.
fn place(x: i32, y: i32, area: Area) -> Result<Action, InvalidInput> {
    let within = |v: i32, limit: u32| u32::try_from(v).is_ok_and(|v| v < limit);
    let outside = InvalidInput::OutsideScreen {
        x,
        y,
        width: area.width,
        height: area.height,
    };
    if !within(x, area.width) || !within(y, area.height) {
        return Err(outside);
    }
    match (area.x.checked_add(x), area.y.checked_add(y)) {
        (Some(x), Some(y)) => Ok(Action::MoveTo { x, y }),
        _ => Err(outside),
    }
}

/// A short, printable excerpt of a name for logs.
fn clip(name: &str) -> String {
    name.chars().take(16).collect()
}

fn mouse_button(button: MouseButton) -> Button {
    match button {
        MouseButton::Left => Button::Left,
        MouseButton::Middle => Button::Middle,
        MouseButton::Right => Button::Right,
    }
}

fn direction(press: Press) -> Direction {
    match press {
        Press::Down => Direction::Press,
        Press::Up => Direction::Release,
        Press::Click => Direction::Click,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        let monitor = |index, x, width| MonitorInfo {
            index,
            x,
            y: 0,
            width,
            height: 1080,
            primary: index == 1,
        };
        let monitors = vec![monitor(0, 0, 1920), monitor(1, 1920, 1280)];
        Layout {
            shared: Some(Area::from(&monitors[1])),
            monitors,
        }
    }

    fn moves(x: i32, y: i32) -> Planned {
        Planned::Actions(vec![Action::MoveTo { x, y }])
    }

    #[test]
    fn positions_must_be_inside_the_screen() {
        let layout = Layout {
            shared: Some(Area {
                x: 0,
                y: 0,
                width: 1920,
                height: 1080,
            }),
            monitors: Vec::new(),
        };
        let at = |x, y| plan(&InputEvent::MouseMove { x, y }, &layout);
        assert_eq!(at(0, 0), Ok(moves(0, 0)));
        assert_eq!(at(1919, 1079), Ok(moves(1919, 1079)));
        for (x, y) in [(1920, 0), (0, 1080), (-1, 5), (5, -1), (i32::MIN, i32::MAX)] {
            assert!(
                matches!(at(x, y), Err(InvalidInput::OutsideScreen { .. })),
                "{x},{y}"
            );
        }
        // Without a monitor list the whole screen is monitor 0.
        let on = |monitor, x, y| plan(&InputEvent::MouseMoveOn { monitor, x, y }, &layout);
        assert_eq!(on(0, 5, 6), Ok(moves(5, 6)));
        assert_eq!(on(1, 5, 6), Err(InvalidInput::NoSuchMonitor(1)));
    }

    #[test]
    fn monitor_positions_map_into_the_screen() {
        let layout = layout();
        let on = |monitor, x, y| plan(&InputEvent::MouseMoveOn { monitor, x, y }, &layout);
        assert_eq!(on(0, 100, 200), Ok(moves(100, 200)));
        assert_eq!(on(1, 0, 0), Ok(moves(1920, 0)));
        assert_eq!(on(1, 1279, 1079), Ok(moves(3199, 1079)));
        assert_eq!(on(2, 0, 0), Err(InvalidInput::NoSuchMonitor(2)));
        for (x, y) in [(1280, 0), (0, 1080), (-1, 0), (i32::MAX, 0)] {
            assert!(
                matches!(on(1, x, y), Err(InvalidInput::OutsideScreen { .. })),
                "{x},{y}"
            );
        }
        // Positions in the shared picture are offset by where it lies: here the right one.
        let at = |x, y| plan(&InputEvent::MouseMove { x, y }, &layout);
        assert_eq!(at(0, 0), Ok(moves(1920, 0)));
        assert_eq!(at(1279, 5), Ok(moves(3199, 5)));
        assert!(matches!(
            at(1280, 5),
            Err(InvalidInput::OutsideScreen { width: 1280, .. })
        ));
    }

    #[test]
    fn oversized_events_are_refused() {
        let layout = Layout::default();
        let wheel = |dx, dy| plan(&InputEvent::Wheel { dx, dy }, &layout);
        let scroll = |dx, dy| Ok(Planned::Actions(vec![Action::Scroll { dx, dy }]));
        assert_eq!(wheel(0, 3), scroll(0, 3));
        assert_eq!(wheel(-2, -100), scroll(-2, -100));
        assert_eq!(wheel(i32::MIN, 0), Err(InvalidInput::TooLarge));
        assert_eq!(wheel(0, 101), Err(InvalidInput::TooLarge));
        let text = plan(&InputEvent::Text("x".repeat(MAX_TEXT_CHARS + 1)), &layout);
        assert_eq!(text, Err(InvalidInput::TooLarge));
        let nul = plan(&InputEvent::Text("a\u{0}b".into()), &layout);
        assert_eq!(nul, Err(InvalidInput::Untypable));
        assert_eq!(
            plan(&InputEvent::Text("héllo 日本\n".into()), &layout),
            Ok(Planned::Text("héllo 日本\n".into()))
        );
    }

    #[test]
    fn strokes_are_checked() {
        let layout = Layout::default();
        let stroke = |code: &str, text: &str| {
            plan(
                &InputEvent::KeyStroke {
                    code: code.into(),
                    text: text.into(),
                    press: Press::Down,
                },
                &layout,
            )
        };
        assert_eq!(
            stroke("KeyE", "é"),
            Ok(Planned::Stroke(Stroke {
                code: "KeyE".into(),
                kind: CodeKind::Character(Some('e')),
                text: "é".into(),
                press: Press::Down,
            }))
        );
        // Enter's carriage return is dropped, not refused.
        let Ok(Planned::Stroke(enter)) = stroke("Enter", "\r") else {
            panic!("Enter refused")
        };
        assert_eq!(enter.text, "");
        assert_eq!(stroke("KeyA", "\u{1}"), Err(InvalidInput::Untypable));
        assert_eq!(stroke("KeyA", &"a".repeat(33)), Err(InvalidInput::TooLarge));
        assert!(matches!(
            stroke("Hyper", "a"),
            Err(InvalidInput::UnknownKey(_))
        ));
        let long = "K".repeat(10_000);
        assert_eq!(
            stroke(&long, ""),
            Err(InvalidInput::UnknownKey("K".repeat(16)))
        );
    }

    #[test]
    fn buttons_keys_and_double_clicks_map() {
        let layout = Layout::default();
        let event = InputEvent::MouseButton {
            button: MouseButton::Right,
            press: Press::Down,
        };
        let press_right = Action::Button {
            button: Button::Right,
            direction: Direction::Press,
        };
        assert_eq!(
            plan(&event, &layout),
            Ok(Planned::Actions(vec![press_right]))
        );
        let double = InputEvent::MouseDoubleClick {
            button: MouseButton::Left,
        };
        let click = Action::Button {
            button: Button::Left,
            direction: Direction::Click,
        };
        assert_eq!(
            plan(&double, &layout),
            Ok(Planned::Actions(vec![click.clone(), click]))
        );
        let unknown = InputEvent::Key {
            name: "Nope".into(),
            press: Press::Click,
        };
        assert_eq!(
            plan(&unknown, &layout),
            Err(InvalidInput::UnknownKey("Nope".into()))
        );
    }
}
