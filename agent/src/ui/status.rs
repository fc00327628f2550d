//! The main window's logic: the join form (gateway address and PIN when they are not
//! known), then the progress of the session, then how it ended.
//!
//! Contract: pure. Keyboard alone is enough: Tab and Shift-Tab move between the fields and
//! buttons, Enter connects (or presses the focused button), Esc cancels, and pasted text
//! goes into the focused field (a PIN field keeps only the digits). The PIN is never put
//! into an error or a log line.

use super::button::Buttons;
use sos_branding::ui::Rect;
use sos_transport::Pin;

/// Window width.
pub const WIDTH: u32 = 540;
/// Window height.
pub const HEIGHT: u32 = 360;
/// Height of the title band.
pub const HEADER: u32 = 52;
/// Top of the first field's label.
const FIRST_LABEL_Y: u32 = HEADER + 20;
/// Distance between two fields.
const FIELD_STEP: u32 = 82;
/// Height of a text field.
pub const FIELD_HEIGHT: u32 = 38;
/// The primary button (Connect, Close), at the bottom right.
pub const PRIMARY: Rect = Rect {
    x: WIDTH - 24 - 140,
    y: HEIGHT - 64,
    width: 140,
    height: 44,
};
/// Cancel, left of the primary button.
pub const CANCEL: Rect = Rect {
    x: PRIMARY.x - 16 - 120,
    y: HEIGHT - 64,
    width: 120,
    height: 44,
};
/// Most progress lines kept.
const MAX_LINES: usize = 6;

/// What a field is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// The gateway's `host:port`.
    Gateway,
    /// The 9-digit PIN.
    Pin,
}

/// One text field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// What it holds.
    pub kind: FieldKind,
    /// What was typed.
    pub value: String,
}

impl Field {
    /// The label above it.
    pub fn label(&self) -> &'static str {
        match self.kind {
            FieldKind::Gateway => "Gateway address from your technician (host:port)",
            FieldKind::Pin => "9-digit PIN from your technician",
        }
    }

    fn accept(&mut self, text: &str) {
        for c in text.chars() {
            match self.kind {
                FieldKind::Pin if c.is_ascii_digit() && self.value.len() < 9 => self.value.push(c),
                FieldKind::Gateway if !c.is_control() && self.value.chars().count() < 255 => {
                    self.value.push(c);
                }
                _ => {}
            }
        }
    }
}

/// The buttons of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusButton {
    /// Connect with what was typed.
    Connect,
    /// Give up and close the app.
    Cancel,
    /// Close the app (after the session ended).
    Close,
}

/// Where the keyboard goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The field with this index.
    Field(usize),
    /// A button.
    Button(StatusButton),
}

/// A key that means something to the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    /// Next field or button.
    Tab,
    /// Previous field or button.
    BackTab,
    /// Connect, or press the focused button.
    Enter,
    /// Cancel.
    Escape,
    /// Delete the last character.
    Backspace,
}

/// What the window asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusEvent {
    /// Join with this gateway (when it was asked for) and PIN.
    Join {
        /// The typed gateway, when the form asked for it.
        gateway: Option<String>,
        /// The PIN.
        pin: Pin,
    },
    /// Close the app (stopping whatever runs).
    Quit,
}

/// What the window shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Asking for what is missing.
    Form {
        /// The fields, top to bottom.
        fields: Vec<Field>,
        /// Where the keyboard goes.
        focus: Focus,
        /// Why the last attempt failed.
        error: Option<String>,
    },
    /// The session's progress, latest last.
    Progress(Vec<String>),
    /// The session is over.
    Finished(String),
}

/// The main window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    mode: Mode,
    buttons: Buttons<StatusButton>,
}

impl StatusView {
    /// Shows progress lines (the join starts at once).
    pub fn progress() -> Self {
        Self {
            mode: Mode::Progress(Vec::new()),
            buttons: Buttons::new(vec![(StatusButton::Cancel, PRIMARY)]),
        }
    }

    /// Asks for the gateway (when `gateway` is `None`) and the PIN (pre-filled with `pin`),
    /// explaining `error` when a previous attempt failed.
    pub fn form(gateway: Option<String>, ask_gateway: bool, error: Option<String>) -> Self {
        let mut fields = Vec::new();
        if ask_gateway {
            fields.push(Field {
                kind: FieldKind::Gateway,
                value: gateway.unwrap_or_default(),
            });
        }
        fields.push(Field {
            kind: FieldKind::Pin,
            value: String::new(),
        });
        // The keyboard starts in the first empty field.
        let focus = fields.iter().position(|f| f.value.is_empty()).unwrap_or(0);
        Self {
            mode: Mode::Form {
                fields,
                focus: Focus::Field(focus),
                error,
            },
            buttons: Buttons::new(vec![
                (StatusButton::Cancel, CANCEL),
                (StatusButton::Connect, PRIMARY),
            ]),
        }
    }

    /// What is shown.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The buttons.
    pub fn buttons(&self) -> &Buttons<StatusButton> {
        &self.buttons
    }

    /// Label of a button.
    pub fn label(button: StatusButton) -> &'static str {
        match button {
            StatusButton::Connect => "Connect",
            StatusButton::Cancel => "Cancel",
            StatusButton::Close => "Close",
        }
    }

    /// The label's top and the field's rectangle of field `index`.
    pub fn field_place(index: usize) -> (u32, Rect) {
        let label = FIRST_LABEL_Y + index as u32 * FIELD_STEP;
        let rect = Rect {
            x: 24,
            y: label + 24,
            width: WIDTH - 48,
            height: FIELD_HEIGHT,
        };
        (label, rect)
    }

    /// Adds a progress line (switching from the form to progress).
    pub fn push_line(&mut self, line: String) {
        if !matches!(self.mode, Mode::Progress(_)) {
            *self = Self::progress();
        }
        if let Mode::Progress(lines) = &mut self.mode {
            lines.push(line);
            if lines.len() > MAX_LINES {
                lines.remove(0);
            }
        }
    }

    /// The session ended with `message`.
    pub fn finish(&mut self, message: String) {
        self.mode = Mode::Finished(message);
        self.buttons = Buttons::new(vec![(StatusButton::Close, PRIMARY)]);
    }

    /// Text typed or pasted into the focused field.
    pub fn text(&mut self, text: &str) {
        if let Mode::Form {
            fields,
            focus: Focus::Field(index),
            ..
        } = &mut self.mode
            && let Some(field) = fields.get_mut(*index)
        {
            field.accept(text);
        }
    }

    /// A key went down.
    pub fn key(&mut self, key: FormKey) -> Option<StatusEvent> {
        let Mode::Form { fields, focus, .. } = &mut self.mode else {
            // Outside the form Enter and Esc press the only button.
            return matches!(key, FormKey::Enter | FormKey::Escape).then_some(StatusEvent::Quit);
        };
        let stops: Vec<Focus> = (0..fields.len())
            .map(Focus::Field)
            .chain([
                Focus::Button(StatusButton::Cancel),
                Focus::Button(StatusButton::Connect),
            ])
            .collect();
        let at = stops.iter().position(|s| s == focus).unwrap_or(0);
        match key {
            FormKey::Tab => *focus = stops[(at + 1) % stops.len()],
            FormKey::BackTab => *focus = stops[(at + stops.len() - 1) % stops.len()],
            FormKey::Backspace => {
                if let Focus::Field(index) = *focus
                    && let Some(field) = fields.get_mut(index)
                {
                    field.value.pop();
                }
            }
            FormKey::Escape => return Some(StatusEvent::Quit),
            FormKey::Enter if *focus == Focus::Button(StatusButton::Cancel) => {
                return Some(StatusEvent::Quit);
            }
            FormKey::Enter => return self.submit(),
        }
        None
    }

    /// The main mouse button went down at `at` (a click in a field focuses it).
    pub fn press(&mut self, at: (f64, f64)) {
        self.buttons.press(at);
        if let Mode::Form { fields, focus, .. } = &mut self.mode
            && let Some(index) =
                (0..fields.len()).find(|i| Self::field_place(*i).1.contains(at.0, at.1))
        {
            *focus = Focus::Field(index);
        }
    }

    /// The main mouse button came up at `at`.
    pub fn release(&mut self, at: (f64, f64)) -> Option<StatusEvent> {
        match self.buttons.release(at)? {
            StatusButton::Connect => self.submit(),
            StatusButton::Cancel | StatusButton::Close => Some(StatusEvent::Quit),
        }
    }

    /// Checks the form; on a problem, says what to fix and moves the keyboard there.
    fn submit(&mut self) -> Option<StatusEvent> {
        let Mode::Form {
            fields,
            focus,
            error,
        } = &mut self.mode
        else {
            return None;
        };
        let mut gateway = None;
        let mut pin = None;
        for (index, field) in fields.iter().enumerate() {
            let value = field.value.trim();
            let problem = match field.kind {
                FieldKind::Gateway if valid_gateway(value) => {
                    gateway = Some(value.to_string());
                    None
                }
                FieldKind::Gateway => Some(
                    "Type the gateway address from your technician, like \
                     support.example.com:4433.",
                ),
                FieldKind::Pin => match Pin::parse(value) {
                    Ok(parsed) => {
                        pin = Some(parsed);
                        None
                    }
                    Err(_) => Some(
                        "The PIN has 9 digits — check it, or ask your technician for a new link.",
                    ),
                },
            };
            if let Some(problem) = problem {
                *error = Some(problem.to_string());
                *focus = Focus::Field(index);
                return None;
            }
        }
        Some(StatusEvent::Join { gateway, pin: pin? })
    }
}

/// `host:port` with a port number.
fn valid_gateway(text: &str) -> bool {
    text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(view: &mut StatusView, text: &str) {
        view.text(text);
    }

    #[test]
    fn the_keyboard_alone_fills_and_sends_the_form() {
        let mut v = StatusView::form(None, true, None);
        typed(&mut v, "gw.example:4433");
        assert_eq!(v.key(FormKey::Tab), None);
        // Pasted with spaces and dashes: only the digits stay.
        typed(&mut v, "123 456-78");
        assert_eq!(v.key(FormKey::Enter), None, "only 8 digits");
        let Mode::Form { error, focus, .. } = v.mode() else {
            panic!("still the form")
        };
        assert!(error.as_deref().unwrap().contains("9 digits"));
        assert_eq!(*focus, Focus::Field(1));
        typed(&mut v, "99");
        let Some(StatusEvent::Join { gateway, pin }) = v.key(FormKey::Enter) else {
            panic!("joins")
        };
        assert_eq!(gateway.as_deref(), Some("gw.example:4433"));
        assert_eq!(pin, Pin::parse("123456789").unwrap());
    }

    #[test]
    fn tab_cycles_and_escape_or_cancel_quits() {
        let mut v = StatusView::form(None, false, Some("PIN not accepted".into()));
        let focus = |v: &StatusView| match v.mode() {
            Mode::Form { focus, .. } => *focus,
            _ => panic!("form"),
        };
        assert_eq!(focus(&v), Focus::Field(0));
        v.key(FormKey::Tab);
        assert_eq!(focus(&v), Focus::Button(StatusButton::Cancel));
        v.key(FormKey::Tab);
        v.key(FormKey::Tab);
        assert_eq!(focus(&v), Focus::Field(0));
        v.key(FormKey::BackTab);
        assert_eq!(focus(&v), Focus::Button(StatusButton::Connect));
        assert_eq!(v.key(FormKey::Enter), None, "an empty PIN is explained");
        assert_eq!(focus(&v), Focus::Field(0), "back to the field to fix");
        v.key(FormKey::BackTab);
        v.key(FormKey::BackTab);
        assert_eq!(focus(&v), Focus::Button(StatusButton::Cancel));
        assert_eq!(v.key(FormKey::Enter), Some(StatusEvent::Quit));
        assert_eq!(v.key(FormKey::Escape), Some(StatusEvent::Quit));
    }

    #[test]
    fn a_bad_gateway_is_explained_and_backspace_edits() {
        let mut v = StatusView::form(Some("gw".into()), true, None);
        // The keyboard starts in the first empty field: the PIN.
        v.key(FormKey::BackTab);
        typed(&mut v, "x");
        v.key(FormKey::Backspace);
        v.key(FormKey::Tab);
        typed(&mut v, "123456789");
        assert_eq!(v.key(FormKey::Enter), None);
        let Mode::Form { error, focus, .. } = v.mode() else {
            panic!("form")
        };
        assert!(error.as_deref().unwrap().contains("gateway address"));
        assert_eq!(*focus, Focus::Field(0));
        assert!(valid_gateway("127.0.0.1:4433") && valid_gateway("[::1]:1"));
        assert!(!valid_gateway("host") && !valid_gateway(":1") && !valid_gateway("a b:1"));
    }

    #[test]
    fn progress_then_finish() {
        let mut v = StatusView::form(None, false, None);
        for i in 0..10 {
            v.push_line(format!("line {i}"));
        }
        let Mode::Progress(lines) = v.mode() else {
            panic!("progress")
        };
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines.last().unwrap(), "line 9");
        v.finish("Session ended: you stopped it.".into());
        assert_eq!(v.key(FormKey::Enter), Some(StatusEvent::Quit));
        let close = (f64::from(PRIMARY.x + 5), f64::from(PRIMARY.y + 5));
        v.press(close);
        assert_eq!(v.release(close), Some(StatusEvent::Quit));
    }
}
