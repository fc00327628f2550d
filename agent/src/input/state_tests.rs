use super::*;
use crate::input::{Layout, plan};
use sos_transport::wire::InputEvent;

const LIMIT: Duration = Duration::from_secs(10);

/// An input state driven like the injector drives it: every action applies.
struct Driver {
    state: InputState,
    now: Instant,
}

impl Driver {
    fn new() -> Self {
        Self {
            state: InputState::new(LIMIT),
            now: Instant::now(),
        }
    }

    fn apply(&mut self, actions: Vec<Action>) -> Vec<Action> {
        for action in &actions {
            self.state.applied(action, self.now);
        }
        actions
    }

    fn event(&mut self, event: InputEvent) -> Vec<Action> {
        let planned = plan(&event, &Layout::default()).unwrap();
        let actions = self.state.handle(planned, self.now);
        self.apply(actions)
    }

    fn stroke(&mut self, code: &str, text: &str, press: Press) -> Vec<Action> {
        self.event(InputEvent::KeyStroke {
            code: code.into(),
            text: text.into(),
            press,
        })
    }

    fn advance(&mut self, by: Duration) -> Vec<Action> {
        self.now += by;
        let due = self.state.poll_timeout().is_some_and(|t| t <= self.now);
        let actions = if due {
            self.state.handle_timeout(self.now)
        } else {
            Vec::new()
        };
        self.apply(actions)
    }
}

fn text(t: &str) -> Action {
    Action::Text(t.into())
}

#[test]
fn text_keys_type_their_text_whatever_the_position() {
    let mut d = Driver::new();
    // A German technician's Z key sits where a US keyboard has Y.
    assert_eq!(d.stroke("KeyY", "z", Press::Down), vec![text("z")]);
    assert_eq!(d.stroke("KeyY", "z", Press::Up), vec![]);
    assert_eq!(d.stroke("KeyE", "€", Press::Click), vec![text("€")]);
    assert!(d.state.is_idle());
}

#[test]
fn shifted_text_is_typed_with_shift_lifted() {
    let mut d = Driver::new();
    assert_eq!(
        d.stroke("ShiftLeft", "", Press::Down),
        vec![press(Key::Shift)]
    );
    // Shift+7 on a German layout types '/', which is unshifted on a US layout.
    assert_eq!(
        d.stroke("Digit7", "/", Press::Down),
        vec![release(Key::Shift), text("/"), press(Key::Shift)]
    );
    assert_eq!(d.stroke("Digit7", "/", Press::Up), vec![]);
    assert_eq!(
        d.stroke("ShiftLeft", "", Press::Up),
        vec![release(Key::Shift)]
    );
    assert!(d.state.is_idle());
}

#[test]
fn shortcuts_press_the_key_of_the_character() {
    let mut d = Driver::new();
    d.stroke("ControlLeft", "", Press::Down);
    // On an AZERTY keyboard the key typing 'a' is where QWERTY has Q.
    assert_eq!(
        d.stroke("KeyQ", "a", Press::Down),
        vec![press(Key::Unicode('a'))]
    );
    assert_eq!(
        d.stroke("KeyQ", "a", Press::Up),
        vec![release(Key::Unicode('a'))]
    );
    // Ctrl+Shift+T: the held Shift makes it upper case, the key pressed is 't'.
    d.stroke("ShiftLeft", "", Press::Down);
    assert_eq!(
        d.stroke("KeyT", "T", Press::Click),
        vec![press(Key::Unicode('t')), release(Key::Unicode('t'))]
    );
    // No text from the viewer: the US character of the key.
    assert_eq!(
        d.stroke("KeyC", "", Press::Click),
        vec![press(Key::Unicode('c')), release(Key::Unicode('c'))]
    );
    d.stroke("ShiftLeft", "", Press::Up);
    d.stroke("ControlLeft", "", Press::Up);
    assert!(d.state.is_idle());
}

#[test]
fn alt_tab_holds_alt_around_tab() {
    let mut d = Driver::new();
    let mut actions = d.stroke("AltLeft", "", Press::Down);
    actions.extend(d.stroke("Tab", "\t", Press::Click));
    actions.extend(d.stroke("AltLeft", "", Press::Up));
    assert_eq!(
        actions,
        vec![
            press(Key::Alt),
            press(Key::Tab),
            release(Key::Tab),
            release(Key::Alt)
        ]
    );
}

#[test]
fn dead_keys_altgr_and_caps_lock_are_not_pressed() {
    let mut d = Driver::new();
    assert_eq!(d.stroke("BracketLeft", "", Press::Down), vec![]);
    assert_eq!(d.stroke("BracketLeft", "", Press::Up), vec![]);
    assert_eq!(d.stroke("KeyE", "é", Press::Click), vec![text("é")]);
    assert_eq!(d.stroke("AltRight", "", Press::Down), vec![]);
    assert_eq!(d.stroke("KeyQ", "@", Press::Click), vec![text("@")]);
    assert_eq!(d.stroke("AltRight", "", Press::Up), vec![]);
    assert_eq!(d.stroke("CapsLock", "", Press::Click), vec![]);
    assert!(d.state.is_idle());
}

#[test]
fn a_key_up_releases_what_its_key_down_pressed() {
    let mut d = Driver::new();
    d.stroke("ControlLeft", "", Press::Down);
    assert_eq!(
        d.stroke("KeyC", "c", Press::Down),
        vec![press(Key::Unicode('c'))]
    );
    d.stroke("ControlLeft", "", Press::Up);
    // Ctrl went up first; the C key still releases the key it pressed.
    assert_eq!(
        d.stroke("KeyC", "c", Press::Up),
        vec![release(Key::Unicode('c'))]
    );
    // A key-up never preceded by its key-down does nothing.
    assert_eq!(d.stroke("KeyX", "x", Press::Up), vec![]);
    assert_eq!(d.stroke("F5", "", Press::Up), vec![]);
    assert!(d.state.is_idle());
}

#[test]
fn key_repeat_keeps_keys_held_types_text_again_and_follows_modifier_changes() {
    let mut d = Driver::new();
    assert_eq!(
        d.stroke("Backspace", "", Press::Down),
        vec![press(Key::Backspace)]
    );
    // Repeats press nothing (the end user's machine repeats a held key) but keep it held.
    d.advance(Duration::from_secs(8));
    assert_eq!(d.stroke("Backspace", "", Press::Down), vec![]);
    assert_eq!(d.advance(Duration::from_secs(8)), vec![]);
    assert_eq!(
        d.stroke("Backspace", "", Press::Up),
        vec![release(Key::Backspace)]
    );
    // A text key types again on each repeat.
    assert_eq!(d.stroke("KeyX", "x", Press::Down), vec![text("x")]);
    assert_eq!(d.stroke("KeyX", "x", Press::Down), vec![text("x")]);
    assert_eq!(d.stroke("KeyX", "x", Press::Up), vec![]);
    d.stroke("ControlLeft", "", Press::Down);
    d.stroke("KeyZ", "z", Press::Down);
    d.stroke("ControlLeft", "", Press::Up);
    // Repeating after Ctrl went up: the shortcut key is let go, the text is typed.
    assert_eq!(
        d.stroke("KeyZ", "z", Press::Down),
        vec![release(Key::Unicode('z')), text("z")]
    );
    assert_eq!(d.stroke("KeyZ", "z", Press::Up), vec![]);
    assert!(d.state.is_idle());
}

#[test]
fn keys_held_too_long_are_released_and_their_key_up_is_harmless() {
    let mut d = Driver::new();
    d.stroke("ShiftLeft", "", Press::Down);
    d.event(InputEvent::MouseButton {
        button: sos_transport::wire::MouseButton::Left,
        press: Press::Down,
    });
    assert_eq!(d.state.poll_timeout(), Some(d.now + LIMIT));
    assert_eq!(d.advance(Duration::from_secs(9)), vec![]);
    // Moving the pointer with the button down is a drag: the button stays.
    d.event(InputEvent::MouseMove { x: 1, y: 1 });
    assert_eq!(d.advance(Duration::from_secs(1)), vec![release(Key::Shift)]);
    assert_eq!(
        d.advance(Duration::from_secs(9)),
        vec![Action::Button {
            button: enigo::Button::Left,
            direction: Direction::Release
        }]
    );
    assert!(d.state.is_idle());
    assert_eq!(d.state.poll_timeout(), None);
    // The late key-up does not release Shift a second time.
    assert_eq!(d.stroke("ShiftLeft", "", Press::Up), vec![]);
}

#[test]
fn release_all_lets_go_of_everything_and_forgets_the_keys() {
    let mut d = Driver::new();
    d.stroke("ControlLeft", "", Press::Down);
    d.stroke("KeyC", "c", Press::Down);
    d.event(InputEvent::Key {
        name: "Shift_R".into(),
        press: Press::Down,
    });
    let releases = d.state.release_all();
    assert_eq!(
        releases,
        vec![
            release(Key::RShift),
            release(Key::Unicode('c')),
            release(Key::Control)
        ]
    );
    assert!(d.state.is_idle());
    assert_eq!(d.stroke("KeyC", "c", Press::Up), vec![]);
}

#[test]
fn text_events_lift_shift_too() {
    let mut d = Driver::new();
    d.event(InputEvent::Key {
        name: "Shift_L".into(),
        press: Press::Down,
    });
    assert_eq!(
        d.event(InputEvent::Text("a/".into())),
        vec![release(Key::Shift), text("a/"), press(Key::Shift)]
    );
}
