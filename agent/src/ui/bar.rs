//! The in-session bar's logic: who can see (and control) the screen, Stop, and pausing
//! control.
//!
//! Contract: pure. Stop acts on a single whole click and is never disabled; pausing is
//! offered only while control is granted.

use super::button::Buttons;
use sos_branding::ui::Rect;

/// Bar width.
pub const WIDTH: u32 = 720;
/// Bar height.
pub const HEIGHT: u32 = 56;
/// The Stop button, at the right.
pub const STOP: Rect = Rect {
    x: WIDTH - 10 - 100,
    y: 8,
    width: 100,
    height: HEIGHT - 16,
};
/// Pause or resume control, left of Stop.
pub const PAUSE: Rect = Rect {
    x: STOP.x - 10 - 150,
    y: 8,
    width: 150,
    height: HEIGHT - 16,
};

// The buttons never overlap.
const _: () = assert!(PAUSE.x + PAUSE.width <= STOP.x);

/// What a click on the bar asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarAction {
    /// End the session now.
    Stop,
    /// Pause (`true`) or resume (`false`) control.
    Pause(bool),
}

/// The bar while a technician has access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarView {
    technician: String,
    organisation: String,
    control: bool,
    paused: bool,
    buttons: Buttons<Button>,
}

/// The bar's buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// Stop sharing.
    Stop,
    /// Pause or resume control.
    Pause,
}

impl BarView {
    /// The bar for a grant to `technician` of `organisation`, with or without control.
    pub fn new(technician: String, organisation: String, control: bool) -> Self {
        let mut buttons = vec![(Button::Stop, STOP)];
        if control {
            buttons.push((Button::Pause, PAUSE));
        }
        Self {
            technician,
            organisation,
            control,
            paused: false,
            buttons: Buttons::new(buttons),
        }
    }

    /// The buttons.
    pub fn buttons(&self) -> &Buttons<Button> {
        &self.buttons
    }

    /// Label of a button.
    pub fn label(&self, button: Button) -> &'static str {
        match button {
            Button::Stop => "Stop",
            Button::Pause if self.paused => "Resume control",
            Button::Pause => "Pause control",
        }
    }

    /// The sentence on the bar.
    pub fn text(&self) -> String {
        let who = format!("{} from {}", self.technician, self.organisation);
        match (self.control, self.paused) {
            (true, false) => format!("{who} can see and control your screen"),
            (true, true) => format!("{who} can see your screen (control paused)"),
            (false, _) => format!("{who} can see your screen"),
        }
    }

    /// The session says control is paused (or resumed).
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// The main mouse button went down at `at`.
    pub fn press(&mut self, at: (f64, f64)) {
        self.buttons.press(at);
    }

    /// The main mouse button came up at `at`.
    pub fn release(&mut self, at: (f64, f64)) -> Option<BarAction> {
        match self.buttons.release(at)? {
            Button::Stop => Some(BarAction::Stop),
            Button::Pause => Some(BarAction::Pause(!self.paused)),
        }
    }

    /// A half-made click is forgotten.
    pub fn cancel(&mut self) {
        self.buttons.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn centre(rect: Rect) -> (f64, f64) {
        (
            f64::from(rect.x + rect.width / 2),
            f64::from(rect.y + rect.height / 2),
        )
    }

    #[test]
    fn stop_and_pause() {
        let mut bar = BarView::new("Ann".into(), "Acme".into(), true);
        assert_eq!(bar.text(), "Ann from Acme can see and control your screen");
        bar.press(centre(PAUSE));
        assert_eq!(bar.release(centre(PAUSE)), Some(BarAction::Pause(true)));
        bar.set_paused(true);
        assert_eq!(bar.label(Button::Pause), "Resume control");
        assert!(bar.text().ends_with("(control paused)"));
        bar.press(centre(PAUSE));
        assert_eq!(bar.release(centre(PAUSE)), Some(BarAction::Pause(false)));
        bar.press(centre(STOP));
        assert_eq!(bar.release(centre(STOP)), Some(BarAction::Stop));
    }

    #[test]
    fn view_only_has_no_pause() {
        let mut bar = BarView::new("Ann".into(), "Acme".into(), false);
        assert_eq!(bar.text(), "Ann from Acme can see your screen");
        assert!(bar.buttons().rect(Button::Pause).is_none());
        bar.press(centre(PAUSE));
        assert_eq!(bar.release(centre(PAUSE)), None);
    }
}
