use super::*;
use crate::view::sink::FrameFacts;
use sos_transport::wire::{EndReason, Press};
use winit::keyboard::{Key, KeyCode, KeyLocation, NamedKey, PhysicalKey};

const DISPLAY: DisplayInfo = DisplayInfo {
    index: 0,
    width: 1920,
    height: 1080,
    primary: true,
};

fn viewer(control: bool) -> Viewer {
    Viewer::new(DISPLAY, Size::new(1152, 648), control, false)
}

fn shown(width: u32, height: u32, at: Instant) -> Shown {
    Shown {
        frame: DecodedFrame {
            width,
            height,
            bgra: vec![255; (width * height * 4) as usize],
        },
        facts: FrameFacts {
            seq: 1,
            latency_ms: 25.0,
            bytes_total: 50_000,
            decoded_at: at,
        },
    }
}

fn press(key: NamedKey, code: KeyCode) -> KeyInput {
    KeyInput {
        physical: PhysicalKey::Code(code),
        key: Key::Named(key),
        text: None,
        location: KeyLocation::Standard,
        pressed: true,
        repeat: false,
    }
}

fn sent(effects: &[Effect]) -> Vec<InputEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn clicks_map_through_the_scaling_and_follow_f10() {
    let mut v = viewer(true);
    let mut effects = v.pointer_moved(100.0, 100.0);
    effects.extend(v.button(MouseButton::Left, true));
    effects.extend(v.button(MouseButton::Left, false));
    assert_eq!(
        sent(&effects),
        [
            InputEvent::MouseMove { x: 167, y: 167 },
            InputEvent::MouseButton {
                button: MouseButton::Left,
                press: Press::Down
            },
            InputEvent::MouseButton {
                button: MouseButton::Left,
                press: Press::Up
            },
        ]
    );
    // 1:1: window pixels are remote pixels.
    assert_eq!(v.key(press(NamedKey::F10, KeyCode::F10)), [Effect::Redraw]);
    assert_eq!(
        sent(&v.pointer_moved(100.0, 100.0)),
        [InputEvent::MouseMove { x: 100, y: 100 }]
    );
    assert_eq!(
        v.key(press(NamedKey::F11, KeyCode::F11)),
        [Effect::Fullscreen(true)]
    );
    assert_eq!(
        v.key(press(NamedKey::F11, KeyCode::F11)),
        [Effect::Fullscreen(false)]
    );
}

#[test]
fn view_only_shows_a_badge_and_sends_nothing() {
    let now = Instant::now();
    let mut v = viewer(false);
    let mut effects = v.pointer_moved(10.0, 10.0);
    effects.extend(v.button(MouseButton::Left, true));
    effects.extend(v.key(press(NamedKey::Enter, KeyCode::Enter)));
    effects.extend(v.focus_lost());
    assert!(sent(&effects).is_empty(), "{effects:?}");
    assert_eq!(v.scene(now).badge.as_deref(), Some("view only"));
    assert!(viewer(true).scene(now).badge.is_none());

    // Control granted, then refused by the agent: the badge appears, input stops.
    let mut v = viewer(true);
    assert_eq!(v.control_refused(), [Effect::Redraw]);
    assert!(sent(&v.pointer_moved(10.0, 10.0)).is_empty());
    assert_eq!(v.scene(now).badge.as_deref(), Some("view only"));
    v.key(press(NamedKey::F12, KeyCode::F12));
    let overlay = v.scene(now).overlay.unwrap();
    assert!(overlay[2].contains("refused"), "{overlay:?}");
}

#[test]
fn the_end_users_connection_dropping_shows_until_their_app_is_back() {
    let now = Instant::now();
    let mut v = viewer(true);
    v.frame(shown(1280, 720, now));
    assert!(v.scene(now).banner.is_none());
    assert_eq!(v.agent_away(Some(60)), [Effect::Redraw]);
    let scene = v.scene(now);
    let banner = scene.banner.unwrap();
    assert!(banner.contains("connection dropped"), "{banner}");
    assert!(banner.contains("60 s"), "{banner}");
    assert!(scene.frame.is_some(), "the last picture stays under it");
    v.agent_away(None);
    assert!(v.scene(now).banner.is_none());
}

#[test]
fn frames_replace_the_waiting_banner_and_feed_the_overlay() {
    let now = Instant::now();
    let mut v = viewer(true);
    let scene = v.scene(now);
    assert!(scene.frame.is_none());
    assert!(scene.banner.unwrap().contains("Waiting"));
    assert!(scene.overlay.is_none());

    assert_eq!(v.frame(shown(1280, 720, now)), [Effect::Redraw]);
    assert_eq!(v.key(press(NamedKey::F12, KeyCode::F12)), [Effect::Redraw]);
    let scene = v.scene(now);
    assert_eq!(scene.frame.unwrap().width, 1280);
    assert!(scene.banner.is_none());
    // The picture's own size wins over the announced display size.
    assert_eq!(scene.placement.unwrap().source.width, 1280);
    let overlay = scene.overlay.unwrap();
    assert_eq!(overlay[0], "Display 0, primary: 1280x720, fit 90%");
    assert!(overlay[1].contains("latency 25 ms"), "{overlay:?}");
    assert!(overlay[2].starts_with("Control: you"), "{overlay:?}");

    // The overlay refreshes by itself while shown.
    let due = v.poll_timeout().unwrap();
    assert_eq!(due, now + OVERLAY_REFRESH);
    assert!(v.handle_timeout(now).is_empty());
    assert_eq!(v.handle_timeout(due), [Effect::Redraw]);
    v.key(press(NamedKey::F12, KeyCode::F12));
    assert_eq!(v.poll_timeout(), None);
}

#[test]
fn the_end_is_shown_then_the_viewer_closes_by_itself() {
    let now = Instant::now();
    let mut v = viewer(true);
    v.frame(shown(1920, 1080, now));
    let end = SessionEnd::Ended(EndReason::ClosedByTechnician);
    assert_eq!(v.ended(&end, now), [Effect::Redraw]);
    let banner = v.scene(now).banner.unwrap();
    assert!(
        banner.starts_with("Session ended: the technician closed the session"),
        "{banner}"
    );
    assert!(sent(&v.pointer_moved(10.0, 10.0)).is_empty());
    v.key(press(NamedKey::F12, KeyCode::F12));
    let scene = v.scene(now);
    assert_eq!(scene.badge, None, "no view-only badge once over");
    assert_eq!(scene.overlay.unwrap()[2], "Session over: no input is sent");
    v.key(press(NamedKey::F12, KeyCode::F12));
    assert_eq!(v.poll_timeout(), Some(now + END_LINGER));
    assert!(v.handle_timeout(now + Duration::from_secs(1)).is_empty());
    assert_eq!(v.handle_timeout(now + END_LINGER), [Effect::Exit]);
}

#[test]
fn resizing_and_scrolling_move_the_picture() {
    let mut v = viewer(false);
    assert_eq!(v.resized(Size::new(800, 600)), [Effect::Redraw]);
    let now = Instant::now();
    assert_eq!(v.scene(now).placement.unwrap().dest.y, 75);
    v.key(press(NamedKey::F10, KeyCode::F10));
    // Without control the arrows scroll the 1:1 view.
    assert_eq!(
        v.key(press(NamedKey::ArrowDown, KeyCode::ArrowDown)),
        [Effect::Redraw]
    );
    let placement = v.scene(now).placement.unwrap();
    assert_eq!((placement.source.x, placement.source.y), (0, 48));
}

fn on_session(names: &[(&str, bool, bool)]) -> Vec<Participant> {
    names
        .iter()
        .map(|(name, you, controlling)| Participant {
            name: (*name).into(),
            you: *you,
            controlling: *controlling,
        })
        .collect()
}

#[test]
fn while_another_technician_controls_nothing_is_sent_until_f9() {
    let now = Instant::now();
    let mut v = viewer(true);
    v.participants(on_session(&[("Ann", true, false), ("Bob", false, true)]));
    let mut effects = v.pointer_moved(10.0, 10.0);
    effects.extend(v.button(MouseButton::Left, true));
    assert!(sent(&effects).is_empty(), "{effects:?}");
    assert_eq!(
        v.scene(now).badge.as_deref(),
        Some("Bob has control — F9 takes it")
    );
    v.key(press(NamedKey::F12, KeyCode::F12));
    let overlay = v.scene(now).overlay.unwrap();
    assert!(
        overlay[2].contains("Bob has mouse and keyboard"),
        "{overlay:?}"
    );
    assert_eq!(overlay[3], "On the session: Ann (you), Bob [control]");

    // F9 asks for the hand-over; once the gateway says so, input flows again.
    assert_eq!(
        v.key(press(NamedKey::F9, KeyCode::F9)),
        [Effect::TakeControl]
    );
    v.participants(on_session(&[("Ann", true, true), ("Bob", false, false)]));
    assert!(!sent(&v.pointer_moved(20.0, 20.0)).is_empty());
    assert!(v.scene(now).badge.is_none());
}

#[test]
fn being_taken_over_forgets_what_was_held_without_sending_it() {
    let mut v = viewer(true);
    v.participants(on_session(&[("Ann", true, true)]));
    v.pointer_moved(10.0, 10.0);
    assert!(!sent(&v.button(MouseButton::Left, true)).is_empty());
    v.participants(on_session(&[("Ann", true, false), ("Bob", false, true)]));
    // The agent released Ann's button at the hand-over; Ann's release goes nowhere.
    assert!(sent(&v.button(MouseButton::Left, false)).is_empty());
    assert!(sent(&v.focus_lost()).is_empty());
}

#[test]
fn f8_walks_through_the_monitors() {
    let monitor = |index: u32, x: i32| MonitorInfo {
        index,
        x,
        y: 0,
        width: 1920,
        height: 1080,
        primary: index == 0,
    };
    let mut v = viewer(true);
    assert!(
        v.key(press(NamedKey::F8, KeyCode::F8)).is_empty(),
        "one monitor: nothing to pick"
    );
    v.screen(vec![monitor(0, 0), monitor(1, 1920)], DISPLAY);
    assert_eq!(
        v.key(press(NamedKey::F8, KeyCode::F8)),
        [Effect::ShareMonitor(1)]
    );
    let second = DisplayInfo {
        index: 1,
        primary: false,
        ..DISPLAY
    };
    v.screen(vec![monitor(0, 0), monitor(1, 1920)], second);
    assert_eq!(
        v.key(press(NamedKey::F8, KeyCode::F8)),
        [Effect::ShareMonitor(0)]
    );
    v.key(press(NamedKey::F12, KeyCode::F12));
    let overlay = v.scene(Instant::now()).overlay.unwrap();
    assert!(
        overlay[0].starts_with("Display 1: ") && overlay[0].ends_with("(monitor 2 of 2, F8 next)"),
        "{overlay:?}"
    );
}
