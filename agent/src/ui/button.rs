//! Buttons that act only on a whole click: pressed and released inside the same button.
//!
//! Contract: pure; a press outside every button, or a release outside the pressed button,
//! does nothing, so a drag that merely ends on a button never triggers it.

use sos_branding::ui::Rect;

/// A row of buttons, each with what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buttons<T> {
    buttons: Vec<(T, Rect)>,
    pressed: Option<T>,
}

impl<T: Copy + PartialEq> Buttons<T> {
    /// Buttons at these places.
    pub fn new(buttons: Vec<(T, Rect)>) -> Self {
        Self {
            buttons,
            pressed: None,
        }
    }

    /// The buttons and their places.
    pub fn iter(&self) -> impl Iterator<Item = &(T, Rect)> {
        self.buttons.iter()
    }

    /// Where `which` is.
    pub fn rect(&self, which: T) -> Option<Rect> {
        self.buttons
            .iter()
            .find(|(b, _)| *b == which)
            .map(|(_, r)| *r)
    }

    /// The button under (`x`, `y`).
    pub fn at(&self, (x, y): (f64, f64)) -> Option<T> {
        self.buttons
            .iter()
            .find(|(_, rect)| rect.contains(x, y))
            .map(|(b, _)| *b)
    }

    /// The button being held down, if any.
    pub fn pressed(&self) -> Option<T> {
        self.pressed
    }

    /// The main button went down at `at`.
    pub fn press(&mut self, at: (f64, f64)) {
        self.pressed = self.at(at);
    }

    /// The main button came up at `at`: the button clicked, if it went down on it too.
    pub fn release(&mut self, at: (f64, f64)) -> Option<T> {
        let pressed = self.pressed.take()?;
        (self.at(at) == Some(pressed)).then_some(pressed)
    }

    /// Forgets a press (the pointer left, the window lost focus).
    pub fn cancel(&mut self) {
        self.pressed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Buttons<u8> {
        Buttons::new(vec![
            (
                1,
                Rect {
                    x: 0,
                    y: 0,
                    width: 10,
                    height: 10,
                },
            ),
            (
                2,
                Rect {
                    x: 20,
                    y: 0,
                    width: 10,
                    height: 10,
                },
            ),
        ])
    }

    #[test]
    fn only_a_press_and_release_on_the_same_button_clicks() {
        let mut b = two();
        b.press((5.0, 5.0));
        assert_eq!(b.pressed(), Some(1));
        assert_eq!(b.release((6.0, 6.0)), Some(1));
        // Pressed on 1, released on 2: nothing.
        b.press((5.0, 5.0));
        assert_eq!(b.release((25.0, 5.0)), None);
        // Released without a press (a drag from outside): nothing.
        assert_eq!(b.release((25.0, 5.0)), None);
        b.press((15.0, 5.0));
        assert_eq!(b.release((25.0, 5.0)), None);
        b.press((25.0, 5.0));
        b.cancel();
        assert_eq!(b.release((25.0, 5.0)), None);
        assert_eq!(b.rect(2).map(|r| r.x), Some(20));
    }
}
