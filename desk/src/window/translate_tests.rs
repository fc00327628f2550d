use super::*;
use winit::keyboard::KeyCode;

fn down(code: KeyCode, key: Key, text: Option<&str>) -> KeyInput {
    KeyInput {
        physical: PhysicalKey::Code(code),
        key,
        text: text.map(str::to_string),
        location: KeyLocation::Standard,
        pressed: true,
        repeat: false,
    }
}

fn up(code: KeyCode, key: Key) -> KeyInput {
    KeyInput {
        pressed: false,
        ..down(code, key, None)
    }
}

fn at(mut input: KeyInput, location: KeyLocation) -> KeyInput {
    input.location = location;
    input
}

fn named(key: NamedKey) -> Key {
    Key::Named(key)
}

fn character(c: &str) -> Key {
    Key::Character(c.into())
}

fn key_event(name: &str, press: Press) -> Output {
    Output::Send(InputEvent::Key {
        name: name.into(),
        press,
    })
}

fn text(t: &str) -> Output {
    Output::Send(InputEvent::Text(t.into()))
}

/// Feeds `inputs` and returns everything they produced.
fn keys(translator: &mut Translator, inputs: Vec<KeyInput>) -> Vec<Output> {
    let mut out = Vec::new();
    for input in inputs {
        translator.key(input, &mut out);
    }
    out
}

#[test]
fn typed_characters_travel_as_text_whatever_the_shift() {
    let mut t = Translator::new(true);
    let out = keys(
        &mut t,
        vec![
            at(
                down(KeyCode::ShiftLeft, named(NamedKey::Shift), None),
                KeyLocation::Left,
            ),
            down(KeyCode::KeyH, character("h"), Some("H")),
            up(KeyCode::KeyH, character("h")),
            up(KeyCode::ShiftLeft, named(NamedKey::Shift)),
            down(KeyCode::KeyI, character("i"), Some("i")),
            up(KeyCode::KeyI, character("i")),
            down(KeyCode::Digit1, character("1"), Some("!")),
        ],
    );
    assert_eq!(out, [text("H"), text("i"), text("!")]);
}

#[test]
fn named_keys_go_down_and_up_with_shift_only_when_needed() {
    let mut t = Translator::new(true);
    let shift = at(
        down(KeyCode::ShiftRight, named(NamedKey::Shift), None),
        KeyLocation::Right,
    );
    let out = keys(
        &mut t,
        vec![
            down(KeyCode::Enter, named(NamedKey::Enter), Some("\r")),
            up(KeyCode::Enter, named(NamedKey::Enter)),
            shift,
            down(KeyCode::Tab, named(NamedKey::Tab), Some("\t")),
            up(KeyCode::Tab, named(NamedKey::Tab)),
            // Text while Shift is down on the remote: Shift goes up first.
            down(KeyCode::KeyA, character("a"), Some("A")),
            down(KeyCode::ArrowLeft, named(NamedKey::ArrowLeft), None),
            up(KeyCode::ArrowLeft, named(NamedKey::ArrowLeft)),
            up(KeyCode::ShiftRight, named(NamedKey::Shift)),
        ],
    );
    assert_eq!(
        out,
        [
            key_event("Return", Press::Down),
            key_event("Return", Press::Up),
            key_event("Shift_R", Press::Down),
            key_event("Tab", Press::Down),
            key_event("Tab", Press::Up),
            key_event("Shift_R", Press::Up),
            text("A"),
            key_event("Shift_R", Press::Down),
            key_event("Left", Press::Down),
            key_event("Left", Press::Up),
            key_event("Shift_R", Press::Up),
        ]
    );
}

#[test]
fn shortcuts_send_the_unmodified_key_by_name() {
    let mut t = Translator::new(true);
    let out = keys(
        &mut t,
        vec![
            at(
                down(KeyCode::ControlLeft, named(NamedKey::Control), None),
                KeyLocation::Left,
            ),
            at(
                down(KeyCode::ShiftLeft, named(NamedKey::Shift), None),
                KeyLocation::Left,
            ),
            down(KeyCode::KeyT, character("t"), Some("\u{14}")),
            up(KeyCode::ControlLeft, named(NamedKey::Control)),
            up(KeyCode::KeyT, character("t")),
            up(KeyCode::ShiftLeft, named(NamedKey::Shift)),
        ],
    );
    assert_eq!(
        out,
        [
            key_event("Control_L", Press::Down),
            key_event("Shift_L", Press::Down),
            key_event("t", Press::Down),
            key_event("Control_L", Press::Up),
            key_event("t", Press::Up),
            key_event("Shift_L", Press::Up),
        ]
    );
}

#[test]
fn viewer_keys_caps_lock_and_altgr_are_never_sent() {
    let mut t = Translator::new(true);
    let mut repeat = down(KeyCode::F11, named(NamedKey::F11), None);
    repeat.repeat = true;
    let out = keys(
        &mut t,
        vec![
            down(KeyCode::F10, named(NamedKey::F10), None),
            up(KeyCode::F10, named(NamedKey::F10)),
            down(KeyCode::F11, named(NamedKey::F11), None),
            repeat,
            down(KeyCode::F12, named(NamedKey::F12), None),
            down(KeyCode::CapsLock, named(NamedKey::CapsLock), None),
            down(KeyCode::AltRight, named(NamedKey::AltGraph), None),
            down(KeyCode::KeyQ, character("q"), Some("@")),
            down(KeyCode::F5, named(NamedKey::F5), None),
        ],
    );
    assert_eq!(
        out,
        [
            Output::Shortcut(Shortcut::ToggleScaling),
            Output::Shortcut(Shortcut::ToggleFullscreen),
            Output::Shortcut(Shortcut::ToggleOverlay),
            text("@"),
            key_event("F5", Press::Down),
        ]
    );
}

#[test]
fn the_right_ctrl_key_scrolls_instead_of_sending() {
    let mut t = Translator::new(true);
    let mut out = keys(
        &mut t,
        vec![
            at(
                down(KeyCode::ControlRight, named(NamedKey::Control), None),
                KeyLocation::Right,
            ),
            down(KeyCode::ArrowDown, named(NamedKey::ArrowDown), None),
            down(KeyCode::KeyA, character("a"), Some("a")),
        ],
    );
    t.pointer_moved(Some((5, 5)), &mut Vec::new());
    t.wheel(Wheel::Lines { x: 0.0, y: -2.0 }, &mut out);
    t.key(
        up(KeyCode::ControlRight, named(NamedKey::Control)),
        &mut out,
    );
    t.wheel(Wheel::Lines { x: 0.0, y: -2.0 }, &mut out);
    assert_eq!(
        out,
        [
            Output::Scroll {
                dx: 0,
                dy: SCROLL_STEP
            },
            Output::Scroll {
                dx: 0,
                dy: 2 * SCROLL_STEP
            },
            Output::Send(InputEvent::Wheel { dx: 0, dy: 2 }),
        ]
    );
}

#[test]
fn without_control_nothing_is_sent() {
    let mut t = Translator::new(false);
    let mut out = keys(
        &mut t,
        vec![
            down(KeyCode::KeyA, character("a"), Some("a")),
            down(KeyCode::Enter, named(NamedKey::Enter), None),
            down(KeyCode::ArrowRight, named(NamedKey::ArrowRight), None),
            down(KeyCode::F12, named(NamedKey::F12), None),
        ],
    );
    t.pointer_moved(Some((10, 10)), &mut out);
    t.button(MouseButton::Left, true, &mut out);
    t.button(MouseButton::Left, false, &mut out);
    t.wheel(Wheel::Lines { x: 1.0, y: 0.0 }, &mut out);
    t.release_all(&mut out);
    assert!(!t.control());
    assert_eq!(
        out,
        [
            Output::Scroll {
                dx: SCROLL_STEP,
                dy: 0
            },
            Output::Shortcut(Shortcut::ToggleOverlay),
            Output::Scroll {
                dx: -SCROLL_STEP,
                dy: 0
            },
        ]
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::Send(_))),
        "view only sends nothing: {out:?}"
    );
}

#[test]
fn clicks_land_where_the_pointer_is_and_only_on_the_picture() {
    let mut t = Translator::new(true);
    let mut out = Vec::new();
    t.pointer_moved(Some((100, 200)), &mut out);
    t.pointer_moved(Some((100, 200)), &mut out);
    t.button(MouseButton::Left, true, &mut out);
    t.pointer_moved(Some((150, 210)), &mut out);
    t.button(MouseButton::Left, false, &mut out);
    // Off the picture: no move, no press, no stray release.
    t.pointer_moved(None, &mut out);
    t.button(MouseButton::Right, true, &mut out);
    t.button(MouseButton::Right, false, &mut out);
    t.wheel(Wheel::Lines { x: 0.0, y: 1.0 }, &mut out);
    t.pointer_moved(Some((1, 2)), &mut out);
    t.button(MouseButton::Middle, true, &mut out);
    t.button(MouseButton::Middle, false, &mut out);
    use InputEvent::{MouseButton as Button, MouseMove};
    let send = Output::Send;
    assert_eq!(
        out,
        [
            send(MouseMove { x: 100, y: 200 }),
            send(Button {
                button: MouseButton::Left,
                press: Press::Down
            }),
            send(MouseMove { x: 150, y: 210 }),
            send(Button {
                button: MouseButton::Left,
                press: Press::Up
            }),
            send(MouseMove { x: 1, y: 2 }),
            send(Button {
                button: MouseButton::Middle,
                press: Press::Down
            }),
            send(Button {
                button: MouseButton::Middle,
                press: Press::Up
            }),
        ]
    );
}

#[test]
fn wheel_notches_and_touchpad_pixels_become_whole_steps() {
    let mut t = Translator::new(true);
    let mut out = Vec::new();
    t.pointer_moved(Some((0, 0)), &mut Vec::new());
    t.wheel(Wheel::Lines { x: 0.0, y: 1.0 }, &mut out);
    t.wheel(Wheel::Lines { x: -1.0, y: 0.0 }, &mut out);
    t.wheel(Wheel::Pixels { x: 0.0, y: -30.0 }, &mut out);
    t.wheel(Wheel::Pixels { x: 0.0, y: -30.0 }, &mut out);
    t.wheel(Wheel::Pixels { x: 0.0, y: -20.0 }, &mut out);
    assert_eq!(
        out,
        [
            Output::Send(InputEvent::Wheel { dx: 0, dy: -1 }),
            Output::Send(InputEvent::Wheel { dx: 1, dy: 0 }),
            Output::Send(InputEvent::Wheel { dx: 0, dy: 1 }),
            Output::Send(InputEvent::Wheel { dx: 0, dy: 1 }),
        ]
    );
}

#[test]
fn losing_focus_releases_everything_held() {
    let mut t = Translator::new(true);
    let mut out = keys(
        &mut t,
        vec![
            at(
                down(KeyCode::AltLeft, named(NamedKey::Alt), None),
                KeyLocation::Left,
            ),
            down(KeyCode::Tab, named(NamedKey::Tab), None),
        ],
    );
    t.pointer_moved(Some((3, 4)), &mut out);
    t.button(MouseButton::Right, true, &mut out);
    out.clear();
    t.release_all(&mut out);
    assert_eq!(
        out,
        [
            key_event("Tab", Press::Up),
            key_event("Alt_L", Press::Up),
            Output::Send(InputEvent::MouseButton {
                button: MouseButton::Right,
                press: Press::Up
            }),
        ]
    );
    // Released keys are not released twice.
    out.clear();
    t.key(up(KeyCode::Tab, named(NamedKey::Tab)), &mut out);
    assert!(out.is_empty());
}

#[test]
fn repeats_press_again_and_release_once() {
    let mut t = Translator::new(true);
    let mut repeat = down(KeyCode::Backspace, named(NamedKey::Backspace), None);
    repeat.repeat = true;
    let out = keys(
        &mut t,
        vec![
            down(KeyCode::Backspace, named(NamedKey::Backspace), None),
            repeat,
            up(KeyCode::Backspace, named(NamedKey::Backspace)),
        ],
    );
    assert_eq!(
        out,
        [
            key_event("BackSpace", Press::Down),
            key_event("BackSpace", Press::Down),
            key_event("BackSpace", Press::Up),
        ]
    );
}

#[test]
fn revoking_control_stops_sending() {
    let mut t = Translator::new(true);
    let mut out = Vec::new();
    t.pointer_moved(Some((1, 1)), &mut out);
    t.revoke_control();
    out.clear();
    t.pointer_moved(Some((2, 2)), &mut out);
    t.key(down(KeyCode::KeyA, character("a"), Some("a")), &mut out);
    assert!(out.is_empty());
}

#[test]
fn key_names_are_the_ones_the_agent_knows() {
    assert_eq!(key_name(&named(NamedKey::PageDown)).unwrap(), "Page_Down");
    assert_eq!(key_name(&named(NamedKey::Space)).unwrap(), "space");
    assert_eq!(key_name(&named(NamedKey::Super)).unwrap(), "Super_L");
    assert_eq!(key_name(&character("é")).unwrap(), "é");
    assert_eq!(key_name(&character("ab")), None);
    assert_eq!(key_name(&named(NamedKey::F12)), None);
    assert_eq!(key_name(&named(NamedKey::MediaPlay)), None);
}
