//! What the technician holds down on the end user's machine, and since when.
//!
//! Contract: pure bookkeeping fed with `now`; never reads the clock. A key counts as held
//! from its last press (key repeat presses it again); a button from its press or the last
//! pointer move while it is down (a drag in progress). [`HeldInput::overdue`] releases what
//! has been held longer than the limit, so a lost key-up never leaves a key stuck.

use super::Action;
use enigo::{Button, Direction, Key};
use std::time::{Duration, Instant};

/// Keys and buttons currently held down by the technician.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeldInput {
    keys: Vec<(Key, Instant)>,
    buttons: Vec<(Button, Instant)>,
}

impl HeldInput {
    /// Records an action that was applied at `now`.
    pub fn record(&mut self, action: &Action, now: Instant) {
        match action {
            Action::Key { key, direction } => update(&mut self.keys, *key, *direction, now),
            Action::Button { button, direction } => {
                update(&mut self.buttons, *button, *direction, now);
            }
            Action::MoveTo { .. } => {
                for (_, since) in &mut self.buttons {
                    *since = now;
                }
            }
            Action::Scroll { .. } | Action::Text(_) => {}
        }
    }

    /// Restarts the hold time of `key`, if it is held (the technician still holds it).
    pub fn touch_key(&mut self, key: Key, now: Instant) {
        for (_, since) in self.keys.iter_mut().filter(|(k, _)| *k == key) {
            *since = now;
        }
    }

    /// Whether `key` is held now.
    pub fn holds_key(&self, key: Key) -> bool {
        self.keys.iter().any(|(k, _)| *k == key)
    }

    /// The keys held now, in the order they went down.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.keys.iter().map(|(k, _)| *k)
    }

    /// When the oldest hold reaches `limit`, if anything is held.
    pub fn deadline(&self, limit: Duration) -> Option<Instant> {
        let keys = self.keys.iter().map(|(_, since)| *since);
        let buttons = self.buttons.iter().map(|(_, since)| *since);
        keys.chain(buttons).min().map(|since| since + limit)
    }

    /// The releases of everything held for `limit` or longer at `now`, and forgets it.
    pub fn overdue(&mut self, now: Instant, limit: Duration) -> Vec<Action> {
        let due = |since: &Instant| now.saturating_duration_since(*since) >= limit;
        let keys = take_where(&mut self.keys, due);
        let buttons = take_where(&mut self.buttons, due);
        releases(keys, buttons)
    }

    /// The releases of everything held, and forgets it.
    pub fn release_all(&mut self) -> Vec<Action> {
        let keys = self.keys.drain(..).map(|(key, _)| key).collect();
        let buttons = self.buttons.drain(..).map(|(button, _)| button).collect();
        releases(keys, buttons)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.buttons.is_empty()
    }
}

fn update<T: PartialEq + Copy>(
    held: &mut Vec<(T, Instant)>,
    item: T,
    direction: Direction,
    now: Instant,
) {
    match direction {
        Direction::Press => match held.iter_mut().find(|(h, _)| *h == item) {
            Some((_, since)) => *since = now,
            None => held.push((item, now)),
        },
        Direction::Release => held.retain(|(h, _)| *h != item),
        Direction::Click => {}
    }
}

fn take_where<T>(held: &mut Vec<(T, Instant)>, due: impl Fn(&Instant) -> bool) -> Vec<T> {
    let (taken, kept) = std::mem::take(held)
        .into_iter()
        .partition(|(_, since)| due(since));
    *held = kept;
    taken.into_iter().map(|(item, _)| item).collect()
}

/// Keys last pressed first, then buttons.
fn releases(keys: Vec<Key>, buttons: Vec<Button>) -> Vec<Action> {
    let keys = keys.into_iter().rev().map(|key| Action::Key {
        key,
        direction: Direction::Release,
    });
    let buttons = buttons.into_iter().rev().map(|button| Action::Button {
        button,
        direction: Direction::Release,
    });
    keys.chain(buttons).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: Key, direction: Direction) -> Action {
        Action::Key { key, direction }
    }

    fn button(button: Button, direction: Direction) -> Action {
        Action::Button { button, direction }
    }

    #[test]
    fn held_keys_and_buttons_are_released_once() {
        let now = Instant::now();
        let mut held = HeldInput::default();
        held.record(&key(Key::Control, Direction::Press), now);
        held.record(&key(Key::Shift, Direction::Press), now);
        held.record(&key(Key::Control, Direction::Press), now);
        held.record(&key(Key::Shift, Direction::Release), now);
        held.record(&key(Key::Unicode('a'), Direction::Click), now);
        held.record(&button(Button::Left, Direction::Press), now);
        assert!(held.holds_key(Key::Control) && !held.holds_key(Key::Shift));
        assert_eq!(
            held.release_all(),
            vec![
                key(Key::Control, Direction::Release),
                button(Button::Left, Direction::Release),
            ]
        );
        assert!(held.is_empty());
        assert!(held.release_all().is_empty());
        assert_eq!(held.deadline(Duration::from_secs(1)), None);
    }

    #[test]
    fn a_key_held_past_the_limit_is_released_and_repeat_keeps_it() {
        let start = Instant::now();
        let limit = Duration::from_secs(10);
        let at = |s: u64| start + Duration::from_secs(s);
        let mut held = HeldInput::default();
        held.record(&key(Key::Shift, Direction::Press), at(0));
        held.record(&key(Key::Unicode('x'), Direction::Press), at(2));
        assert_eq!(held.deadline(limit), Some(at(10)));
        assert!(held.overdue(at(9), limit).is_empty());
        // Key repeat presses `x` again: it stays held; Shift does not.
        held.record(&key(Key::Unicode('x'), Direction::Press), at(9));
        assert_eq!(
            held.overdue(at(10), limit),
            vec![key(Key::Shift, Direction::Release)]
        );
        assert_eq!(held.deadline(limit), Some(at(19)));
        assert_eq!(
            held.overdue(at(19), limit),
            vec![key(Key::Unicode('x'), Direction::Release)]
        );
        assert!(held.is_empty());
    }

    #[test]
    fn a_drag_in_progress_keeps_its_button() {
        let start = Instant::now();
        let limit = Duration::from_secs(10);
        let at = |s: u64| start + Duration::from_secs(s);
        let mut held = HeldInput::default();
        held.record(&button(Button::Left, Direction::Press), at(0));
        held.record(&Action::MoveTo { x: 1, y: 1 }, at(8));
        assert!(held.overdue(at(12), limit).is_empty());
        assert_eq!(
            held.overdue(at(18), limit),
            vec![button(Button::Left, Direction::Release)]
        );
    }
}
