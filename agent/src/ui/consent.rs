//! The permission window's logic: what it asks, its buttons, its countdown and the rules
//! that make it hard to answer by accident.
//!
//! Contract: pure (time is given). It never decides: it reports the end user's [`Choice`]
//! for its request and the session state machine answers. Deny is the default: Enter and
//! Esc deny, closing the window denies, and no key allows. An allowing click counts only
//! when pressed and released on the same button, both at least [`ARM_DELAY`] after the
//! window appeared, so a click meant for something else that happens to land on the new
//! window allows nothing.

use super::button::Buttons;
use crate::consent::Choice;
use sos_branding::ui::Rect;
use std::time::{Duration, Instant};

/// Window width.
pub const WIDTH: u32 = 600;
/// Window height.
pub const HEIGHT: u32 = 400;
/// How long the window must have been shown before a click allows.
pub const ARM_DELAY: Duration = Duration::from_millis(1000);
/// Top of the button row.
pub const BUTTONS_Y: u32 = HEIGHT - 68;
/// Height of a button.
pub const BUTTON_HEIGHT: u32 = 44;
/// The Deny button (the default, at the right).
pub const DENY: Rect = Rect {
    x: WIDTH - 24 - 140,
    y: BUTTONS_Y,
    width: 140,
    height: BUTTON_HEIGHT,
};
/// "View only" (offered when control was asked).
pub const VIEW_ONLY: Rect = Rect {
    x: DENY.x - 16 - 150,
    y: BUTTONS_Y,
    width: 150,
    height: BUTTON_HEIGHT,
};

/// A key that means something to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Enter / Return.
    Enter,
    /// Escape.
    Escape,
}

/// One open permission question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentView {
    /// The request it answers.
    pub request_id: u64,
    /// Who asks (sanitised).
    pub technician: String,
    /// Their organisation (sanitised).
    pub organisation: String,
    /// Whether control is asked for.
    pub control: bool,
    shown_at: Instant,
    deadline: Instant,
    buttons: Buttons<Choice>,
}

impl ConsentView {
    /// The question for `request_id`, shown at `now`, denied by the session at
    /// `now + timeout`.
    pub fn new(
        request_id: u64,
        technician: String,
        organisation: String,
        control: bool,
        timeout: Duration,
        now: Instant,
    ) -> Self {
        let allow_width = if control { 220 } else { 150 };
        let allow_right = if control { VIEW_ONLY.x } else { DENY.x };
        let allow = Rect {
            x: allow_right - 16 - allow_width,
            y: BUTTONS_Y,
            width: allow_width,
            height: BUTTON_HEIGHT,
        };
        let mut buttons = vec![(Choice::Allow, allow)];
        if control {
            buttons.push((Choice::AllowViewOnly, VIEW_ONLY));
        }
        buttons.push((Choice::Deny, DENY));
        Self {
            request_id,
            technician,
            organisation,
            control,
            shown_at: now,
            deadline: now + timeout,
            buttons: Buttons::new(buttons),
        }
    }

    /// The buttons.
    pub fn buttons(&self) -> &Buttons<Choice> {
        &self.buttons
    }

    /// Label of a button.
    pub fn label(&self, choice: Choice) -> &'static str {
        match choice {
            Choice::Allow if self.control => "Allow view and control",
            Choice::Allow => "Allow",
            Choice::AllowViewOnly => "View only",
            Choice::Deny => "Deny",
        }
    }

    /// Whether a click may allow now.
    pub fn armed(&self, now: Instant) -> bool {
        now >= self.shown_at + ARM_DELAY
    }

    /// Whole seconds left before the automatic deny (rounded up).
    pub fn seconds_left(&self, now: Instant) -> u64 {
        let left = self.deadline.saturating_duration_since(now);
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }

    /// When the picture changes next (the countdown ticks, the buttons arm).
    pub fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        if now >= self.deadline {
            return None;
        }
        let armed_at = self.shown_at + ARM_DELAY;
        if now < armed_at {
            return Some(armed_at);
        }
        let left = self.deadline - now;
        let tick = Duration::from_nanos(u64::from(left.subsec_nanos()));
        Some(
            now + if tick.is_zero() {
                Duration::from_secs(1)
            } else {
                tick
            },
        )
    }

    /// The main mouse button went down at `at`. Ignored before the window is armed.
    pub fn press(&mut self, at: (f64, f64), now: Instant) {
        if self.armed(now) {
            self.buttons.press(at);
        } else {
            self.buttons.cancel();
        }
    }

    /// The main mouse button came up at `at`: the choice clicked, if any.
    pub fn release(&mut self, at: (f64, f64), now: Instant) -> Option<Choice> {
        let clicked = self.buttons.release(at)?;
        (self.armed(now) || clicked == Choice::Deny).then_some(clicked)
    }

    /// A key went down: Enter and Esc deny; nothing else answers.
    pub fn key(&mut self, key: Key) -> Option<Choice> {
        match key {
            Key::Enter | Key::Escape => Some(Choice::Deny),
        }
    }

    /// The pointer left or the window lost the focus: a half-made click is forgotten.
    pub fn cancel(&mut self) {
        self.buttons.cancel();
    }

    /// The main line: who asks for what.
    pub fn headline(&self) -> String {
        format!("{} from {}", self.technician, self.organisation)
    }

    /// What is asked, in words.
    pub fn request_text(&self) -> &'static str {
        if self.control {
            "wants to see your screen and use your mouse and keyboard."
        } else {
            "wants to see your screen."
        }
    }

    /// The scam warning.
    pub fn warning(&self) -> String {
        format!(
            "Only allow this if you contacted {} yourself. Never allow someone who called or \
             messaged you out of the blue.",
            self.organisation
        )
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

    fn view(control: bool, now: Instant) -> ConsentView {
        ConsentView::new(
            3,
            "Ann".into(),
            "Acme".into(),
            control,
            Duration::from_secs(60),
            now,
        )
    }

    #[test]
    fn allow_needs_a_whole_click_after_the_window_settled() {
        let t0 = Instant::now();
        let mut v = view(true, t0);
        let allow = centre(v.buttons().rect(Choice::Allow).unwrap());
        // Too early: the press is ignored, so its release allows nothing.
        v.press(allow, t0 + Duration::from_millis(200));
        assert_eq!(v.release(allow, t0 + ARM_DELAY * 2), None);
        let armed = t0 + ARM_DELAY;
        assert!(v.armed(armed));
        v.press(allow, armed);
        assert_eq!(v.release(allow, armed), Some(Choice::Allow));
        v.press(centre(VIEW_ONLY), armed);
        assert_eq!(
            v.release(centre(VIEW_ONLY), armed),
            Some(Choice::AllowViewOnly)
        );
        // Pressed on Allow, released on Deny: nothing.
        v.press(allow, armed);
        assert_eq!(v.release(centre(DENY), armed), None);
    }

    #[test]
    fn deny_is_the_default_and_no_key_allows() {
        let t0 = Instant::now();
        let mut v = view(false, t0);
        assert_eq!(v.key(Key::Enter), Some(Choice::Deny));
        assert_eq!(v.key(Key::Escape), Some(Choice::Deny));
        assert!(v.buttons().rect(Choice::AllowViewOnly).is_none());
        let deny = centre(DENY);
        v.press(deny, t0 + ARM_DELAY);
        assert_eq!(v.release(deny, t0 + ARM_DELAY), Some(Choice::Deny));
        // The buttons never overlap and stay inside the window.
        let v = view(true, t0);
        let rects: Vec<Rect> = v.buttons().iter().map(|(_, r)| *r).collect();
        for (i, a) in rects.iter().enumerate() {
            assert!(a.x + a.width <= WIDTH && a.y + a.height <= HEIGHT);
            for b in &rects[i + 1..] {
                assert!(a.x + a.width <= b.x, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn the_countdown_ticks_each_second_until_the_deadline() {
        let t0 = Instant::now();
        let v = view(true, t0);
        assert_eq!(v.seconds_left(t0), 60);
        assert_eq!(v.seconds_left(t0 + Duration::from_millis(500)), 60);
        assert_eq!(v.seconds_left(t0 + Duration::from_secs(1)), 59);
        assert_eq!(v.seconds_left(t0 + Duration::from_secs(61)), 0);
        assert_eq!(v.poll_timeout(t0), Some(t0 + ARM_DELAY));
        let later = t0 + Duration::from_millis(2300);
        assert_eq!(v.poll_timeout(later), Some(t0 + Duration::from_secs(3)));
        assert_eq!(v.poll_timeout(t0 + Duration::from_secs(60)), None);
        assert!(
            v.warning()
                .contains("Only allow this if you contacted Acme yourself")
        );
        assert_eq!(v.headline(), "Ann from Acme");
    }
}
