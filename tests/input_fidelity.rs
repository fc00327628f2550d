//! Remote input with full fidelity, end to end with real pieces: a technician drives
//! `sos-desk input`, the gateway relays, the end-user app injects with enigo (XTest) into
//! Xvfb, and the test's own X client records exactly what arrives (keysyms resolved with
//! the mapping current at each event, modifier state, pointer positions).
//!
//! The end user's X server is one 3840x1080 screen split by RandR into two monitors, the
//! primary (shared) one on the right, and uses a German keyboard layout, while the
//! technician's combinations are US-positioned: text, shortcuts and positions must still
//! arrive as meant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use support::binary;
use support::keymap::{BUTTON1, CONTROL, MOD1, SHIFT};
use support::procs::{Running, describe};
use support::screens::{
    keyboard_group, lock_keyboard_group, set_keyboard_layout, split_into_monitors,
};
use support::stack::{Desk, Gateway};
use support::xclient::{XClient, XEvent};
use support::xvfb::Xvfb;

/// The tests of this file run one at a time: two Xvfb started at once can race for one
/// display number, and timing-sensitive input shares two cores badly.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Creates a session, starts the end-user app with `extra` arguments and waits until the
/// session is active.
fn start_agent(gateway: &Gateway, desk: &Desk, display: &str, extra: &[&str]) -> (String, Running) {
    let session = desk.json(&["session", "new", "--json"]);
    let id = session["id"].as_str().unwrap().to_string();
    let pin = session["pin"].as_str().unwrap().to_string();
    let mut command = Command::new(binary("sos"));
    command
        .args(["--gateway", &gateway.quic, "--pin", &pin])
        .args(["--cert-sha256", &gateway.cert, "--consent", "terminal"])
        .args(extra)
        .env("DISPLAY", display);
    let agent = Running::spawn("sos", command);
    agent.expect_line("Waiting", Duration::from_secs(20));
    desk.wait_for(&id, "active", |s| s["status"] == "active");
    (id, agent)
}

/// Asks for access (control or view only) and has the end user say yes.
fn grant(desk: &Desk, agent: &mut Running, id: &str, control: bool) {
    let mut args = vec!["session", "request", id, "--wait", "0"];
    if !control {
        args.push("--view-only");
    }
    desk.ok(&args);
    let prompt = agent.expect_line("[y/N]", Duration::from_secs(10));
    assert_eq!(prompt.contains("control"), control, "{prompt}");
    agent.send_line("y");
    desk.wait_for(id, "granted", |s| {
        s["remote"]["state"] == "granted" && s["remote"]["control"] == control
    });
}

/// Waits until `done` holds (events arrive asynchronously to the X client).
fn wait_until(what: &str, x: &XClient, done: impl Fn(&[XEvent]) -> bool) -> Vec<XEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = x.events();
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never arrived: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_modifier(keysym: u32) -> bool {
    (0xffe1..=0xffee).contains(&keysym) || keysym == 0xfe03
}

/// Key presses of non-modifier keys: keysym and the Shift/Ctrl/Alt state.
fn presses(events: &[XEvent]) -> Vec<(u32, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            XEvent::KeyPress { keysym, state, .. } if !is_modifier(*keysym) => {
                Some((*keysym, state & (SHIFT | CONTROL | MOD1)))
            }
            _ => None,
        })
        .collect()
}

fn button_presses(events: &[XEvent]) -> Vec<(u8, i16, i16)> {
    events
        .iter()
        .filter_map(|e| match e {
            XEvent::ButtonPress { button, x, y, .. } => Some((*button, *x, *y)),
            _ => None,
        })
        .collect()
}

fn pointer_lands(desk: &Desk, x: &XClient, id: &str, args: &[&str], expected: (i16, i16)) {
    let mut full = vec!["input", id];
    full.extend_from_slice(args);
    desk.ok(&full);
    let (px, py) = x.pointer();
    assert!(
        (px - expected.0).abs() <= 1 && (py - expected.1).abs() <= 1,
        "{args:?} put the pointer at {px},{py}, expected {expected:?}"
    );
}

#[test]
fn text_shortcuts_pointer_and_stuck_keys_on_two_monitors_and_another_layout() {
    let _serial = one_at_a_time();
    let xvfb = Xvfb::start(3840, 1080);
    // The first one listed is the primary: the right-hand monitor is the one shared.
    split_into_monitors(&xvfb.display, &[(1920, 0, 1920, 1080), (0, 0, 1920, 1080)]);
    set_keyboard_layout(&xvfb.display, "de");
    let x = XClient::start(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    let (id, mut agent) = start_agent(
        &gateway,
        &desk,
        &xvfb.display,
        &["--held-key-limit-secs", "3"],
    );

    // View only: input is not sent, the technician is told why, nothing arrives.
    grant(&desk, &mut agent, &id, false);
    let refused = desk.run(&["input", &id, "--text", "no", "--move", "5,5"]);
    assert!(!refused.status.success(), "{}", describe(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("(viewing only)"),
        "{}",
        describe(&refused)
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(x.events(), [], "nothing injected under a view-only grant");

    grant(&desk, &mut agent, &id, true);

    // Text arrives exactly, non-ASCII included, on a layout other than the technician's.
    let text = "Hello, World! yz @€ é ß 日本 ok";
    desk.ok(&["input", &id, "--text", text]);
    wait_until("the typed text", &x, |_| x.typed() == text);
    assert!(!x.anything_pressed(), "no key left pressed after typing");

    // Keys typed one by one as US-positioned keys carry their text: Shift+A is "A", the
    // @ key of a US keyboard types "@" although a German one has it on AltGr+Q.
    x.clear();
    desk.ok(&[
        "input", &id, "--key", "shift+a", "--key", "1", "--key", "@", "--key", "é",
    ]);
    wait_until("the typed keys", &x, |_| x.typed() == "A1@é");

    // Shortcuts arrive as key combinations: the key of the character with the modifiers
    // held in the event's state. On the German layout `z` sits where US has `y`.
    x.clear();
    let combos = ["ctrl+c", "alt+Tab", "ctrl+shift+t", "ctrl+z", "Return"];
    let mut args = vec!["input", id.as_str()];
    for combo in &combos {
        args.extend(["--key", combo]);
    }
    desk.ok(&args);
    let expected = vec![
        (u32::from('c'), CONTROL),
        (0xff09, MOD1),
        (u32::from('T'), CONTROL | SHIFT),
        (u32::from('z'), CONTROL),
        (0xff0d, 0),
    ];
    let events = wait_until("the shortcuts", &x, |e| presses(e).len() >= expected.len());
    assert_eq!(presses(&events), expected, "{events:?}");
    assert!(
        !x.anything_pressed(),
        "no key left pressed after the shortcuts"
    );

    // Absolute moves land within a pixel: in the shared picture (the right monitor) or on
    // the monitor named by --display (0 is the leftmost).
    let lands = |args: &[&str], at| pointer_lands(&desk, &x, &id, args, at);
    lands(&["--move", "100,200"], (2020, 200));
    lands(&["--move", "100,200", "--display", "0"], (100, 200));
    lands(&["--move", "100,200", "--display", "1"], (2020, 200));
    lands(&["--move", "1919,1079", "--display", "0"], (1919, 1079));
    lands(&["--move", "1919,1079", "--display", "1"], (3839, 1079));
    for outside in [
        &["--move", "1920,5"][..],
        &["--move", "1920,5", "--display", "0"],
        &["--move", "1,1", "--display", "2"],
    ] {
        let mut full = vec!["input", id.as_str()];
        full.extend_from_slice(outside);
        let out = desk.run(&full);
        assert!(!out.status.success(), "{outside:?}: {}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("dropped: invalid event"));
    }
    lands(&["--move", "0,0"], (1920, 0));

    // Left, middle and right buttons.
    x.clear();
    desk.ok(&[
        "input",
        &id,
        "--move",
        "500,400",
        "--display",
        "1",
        "--click",
        "left",
    ]);
    desk.ok(&["input", &id, "--click", "middle"]);
    desk.ok(&["input", &id, "--click", "right"]);
    let events = wait_until("three clicks", &x, |e| button_presses(e).len() >= 3);
    assert_eq!(
        button_presses(&events),
        [(1, 2420, 400), (2, 2420, 400), (3, 2420, 400)]
    );

    // A double click: two left clicks at one place, close enough to count as one gesture.
    x.clear();
    desk.ok(&["input", &id, "--move", "600,300", "--double-click"]);
    let events = wait_until("a double click", &x, |e| button_presses(e).len() >= 2);
    assert_eq!(button_presses(&events), [(1, 2520, 300), (1, 2520, 300)]);
    let times: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            XEvent::ButtonPress { time, .. } => Some(*time),
            _ => None,
        })
        .collect();
    assert!(
        times[1].wrapping_sub(times[0]) < 400,
        "the two clicks are {} ms apart",
        times[1].wrapping_sub(times[0])
    );

    // A drag on the left monitor: press, motion with the button held, release at the end.
    x.clear();
    desk.ok(&["input", &id, "--drag", "100,100:400,300", "--display", "0"]);
    let events = wait_until("a drag", &x, |e| {
        e.iter().any(|e| matches!(e, XEvent::ButtonRelease { .. }))
    });
    assert_eq!(button_presses(&events), [(1, 100, 100)]);
    let dragged: Vec<(i16, i16)> = events
        .iter()
        .filter_map(|e| match e {
            XEvent::Motion { x, y, state } if state & BUTTON1 != 0 => Some((*x, *y)),
            _ => None,
        })
        .collect();
    assert!(dragged.len() >= 2, "motion while dragging: {events:?}");
    assert_eq!(dragged.last(), Some(&(400, 300)));
    let release = events.iter().find_map(|e| match e {
        XEvent::ButtonRelease { button, x, y, .. } => Some((*button, *x, *y)),
        _ => None,
    });
    assert_eq!(release, Some((1, 400, 300)));

    // Vertical and horizontal wheel: buttons 4/5 (up/down) and 6/7 (left/right).
    x.clear();
    desk.ok(&["input", &id, "--wheel", "2,-3"]);
    desk.ok(&["input", &id, "--wheel", "-1,1"]);
    let events = wait_until("the wheel", &x, |e| button_presses(e).len() >= 7);
    let mut buttons: Vec<u8> = button_presses(&events).iter().map(|b| b.0).collect();
    buttons.sort_unstable();
    assert_eq!(buttons, [4, 4, 4, 5, 6, 7, 7]);
    assert!(!x.anything_pressed(), "no button left pressed");

    // The end user switches layouts mid-session, to US plus German with German active:
    // text and shortcuts still arrive as meant, and the end user's layout stays German.
    set_keyboard_layout(&xvfb.display, "us,de");
    lock_keyboard_group(&xvfb.display, 1);
    x.clear();
    let args = ["--text", "yz Zürich", "--key", "y", "--key", "ctrl+z"];
    let mut full = vec!["input", id.as_str()];
    full.extend(args);
    desk.ok(&full);
    let events = wait_until("keys after the layout switch", &x, |e| {
        presses(e).len() >= 11
    });
    assert_eq!(x.typed(), "yz Zürichy", "{events:?}");
    assert_eq!(presses(&events).last(), Some(&(u32::from('z'), CONTROL)));
    assert_eq!(
        keyboard_group(&xvfb.display),
        1,
        "the end user's layout is kept"
    );

    // A key held down and never released (a lost key-up) is let go after the limit, even
    // while the technician stays on the session.
    let holding = desk.spawn(&["input", &id, "--hold", "ctrl+a", "--stay", "30"]);
    wait_for_keys_down(&x, 2);
    assert_eq!(x.keys_down().len(), 2, "Ctrl and A are held");
    let deadline = Instant::now() + Duration::from_secs(15);
    while x.anything_pressed() {
        assert!(
            Instant::now() < deadline,
            "held keys never released: {:?}",
            x.keys_down()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Round trips on loopback (figures only; the goal is checked by the benchmark).
    drop(holding);
    let bench = desk.ok(&["input", &id, "--bench", "500"]);
    eprintln!("{}", bench.trim());

    desk.ok(&["session", "close", &id]);
    agent.expect_line("Session ended", Duration::from_secs(10));
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!x.anything_pressed(), "nothing pressed at the end");
}

#[test]
fn a_forced_disconnect_releases_every_held_key() {
    let _serial = one_at_a_time();
    let xvfb = Xvfb::start(1280, 800);
    let x = XClient::start(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let mut gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    // The stuck-key limit is far away: only the lost connection can release the keys.
    let (id, mut agent) = start_agent(
        &gateway,
        &desk,
        &xvfb.display,
        &["--held-key-limit-secs", "600", "--reconnect-secs", "0"],
    );
    grant(&desk, &mut agent, &id, true);
    let _holding = desk.spawn(&["input", &id, "--hold", "ctrl+shift+a", "--stay", "60"]);
    wait_for_keys_down(&x, 3);
    assert_eq!(x.keys_down().len(), 3, "Ctrl, Shift and A are held");

    // The gateway dies without a word: the agent notices through the QUIC idle timeout.
    gateway.process.kill_hard();
    agent.expect_line("Connection to the gateway lost", Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(10);
    while x.anything_pressed() {
        assert!(
            Instant::now() < deadline,
            "keys still held after the connection was lost: {:?}",
            x.keys_down()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(5));
    // Released for good: the X server's key repeat of the held A stopped with it.
    let seen = x.events().len();
    std::thread::sleep(Duration::from_millis(800));
    assert!(!x.anything_pressed());
    assert_eq!(x.events().len(), seen, "no key event after the release");
    let last = x.events().into_iter().rev().find_map(|e| match e {
        XEvent::KeyRelease { keysym, .. } => Some(keysym),
        XEvent::KeyPress { .. } => Some(0),
        _ => None,
    });
    assert!(
        last.is_some_and(|k| k != 0),
        "the last key event is a release"
    );
}

/// Waits until `n` keys are down on the end user's X server.
fn wait_for_keys_down(x: &XClient, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while x.keys_down().len() < n {
        assert!(
            Instant::now() < deadline,
            "keys never went down: {:?}",
            x.keys_down()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn leaving_the_session_releases_what_that_technician_held() {
    let _serial = one_at_a_time();
    let xvfb = Xvfb::start(1280, 800);
    let x = XClient::start(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    let (id, mut agent) = start_agent(
        &gateway,
        &desk,
        &xvfb.display,
        &["--held-key-limit-secs", "600"],
    );
    grant(&desk, &mut agent, &id, true);
    // The technician's client goes away with keys down (no key-up ever sent).
    desk.ok(&["input", &id, "--hold", "shift+b"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while x.anything_pressed() {
        assert!(
            Instant::now() < deadline,
            "keys of a departed technician still held: {:?}",
            x.keys_down()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn one_technician_controls_at_a_time_and_a_hand_over_releases_the_previous_ones_keys() {
    let _serial = one_at_a_time();
    let xvfb = Xvfb::start(1280, 800);
    let x = XClient::start(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let bob_email = "bob@example.com";
    let gateway = Gateway::start_with(work.path(), &[(bob_email, "Bob Backup")]);
    let tina = Desk::login(&gateway, work.path());
    let bob = Desk::login_as(&gateway, work.path(), bob_email);
    let (id, mut agent) = start_agent(
        &gateway,
        &tina,
        &xvfb.display,
        &["--held-key-limit-secs", "600"],
    );
    grant(&tina, &mut agent, &id, true);
    tina.ok(&["session", "invite", &id, bob_email]);

    // Tina types first, so she has control, and stays on the session holding Shift.
    let _tina_input = tina.spawn(&["input", &id, "--hold", "shift", "--stay", "120"]);
    wait_for_keys_down(&x, 1);

    // Bob's input is dropped while Tina controls, and he is told how to take over.
    let refused = bob.run(&["input", &id, "--text", "b"]);
    assert!(!refused.status.success(), "{}", describe(&refused));
    let said = String::from_utf8_lossy(&refused.stdout);
    assert!(
        said.contains("another technician has control") && said.contains("--take-control"),
        "{said}"
    );

    // Bob takes over: Tina's Shift is released on the end user's machine at once, and
    // Bob's text arrives (without Tina's Shift).
    let took = bob.ok(&["input", &id, "--take-control", "--text", "c"]);
    assert!(took.contains("Took control"), "{took}");
    let events = wait_until("Bob's text", &x, |events| {
        presses(events)
            .iter()
            .any(|(keysym, _)| *keysym == u32::from(b'c'))
    });
    assert!(
        !presses(&events)
            .iter()
            .any(|(keysym, _)| *keysym == u32::from(b'b') || *keysym == u32::from(b'B')),
        "Bob's input before the hand-over was injected: {events:?}"
    );
    assert_eq!(
        presses(&events)
            .iter()
            .find(|(keysym, _)| *keysym == u32::from(b'c'))
            .map(|(_, state)| state & SHIFT),
        Some(0),
        "Tina's Shift was still down when Bob typed"
    );
    assert!(
        !x.anything_pressed(),
        "keys still held after the hand-over: {:?}",
        x.keys_down()
    );
}
