//! The end user's windows, end to end under Xvfb: the real `sos` app in window mode, the
//! real gateway, the technician's `sos-desk`. Each window is captured (PNG artefacts under
//! `target/test-artefacts/`) and its pixels checked; Allow, View only, Deny and Stop are
//! clicked with XTEST (xdotool) as the end user would, and every outcome is read back from
//! the gateway.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::binary;
use support::procs::{Running, describe};
use support::shots::Shot;
use support::stack::{Desk, Gateway};
use support::xvfb::Xvfb;
use support::xwindow::XScreen;

/// The generic branding's colours (`sos_branding::Colours::GENERIC`), as RGB.
const PRIMARY: [u8; 3] = [0x1f, 0x5f, 0xbf];
const TEXT: [u8; 3] = [0x1a, 0x1a, 0x1a];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];
/// The red of Stop (`sos_agent::ui::paint::DANGER`).
const DANGER: [u8; 3] = [0xc6, 0x28, 0x28];

/// Layout of the permission window (`sos_agent::ui::consent`): 600x400, buttons along the
/// bottom as (x, y, width, height).
const CONSENT_SIZE: (u32, u32) = (600, 400);
const DENY: (u32, u32, u32, u32) = (436, 332, 140, 44);
const VIEW_ONLY: (u32, u32, u32, u32) = (270, 332, 150, 44);
const ALLOW_CONTROL: (u32, u32, u32, u32) = (34, 332, 220, 44);
/// The permission window ignores allowing clicks for its first second.
const ARMED_AFTER: Duration = Duration::from_millis(1300);
/// Layout of the bar (`sos_agent::ui::bar`): 720x56 at the top centre.
const BAR_SIZE: (u32, u32) = (720, 56);
const STOP: (u32, u32, u32, u32) = (610, 8, 100, 40);
const PAUSE: (u32, u32, u32, u32) = (450, 8, 150, 40);
/// Layout of the main window (`sos_agent::ui::status`).
const FORM_PIN_FIELD: (i32, i32) = (270, 196);

fn centre((x, y, w, h): (u32, u32, u32, u32)) -> (i32, i32) {
    ((x + w / 2) as i32, (y + h / 2) as i32)
}

/// Starts the app in window mode on `display` with `args`.
fn app(display: &str, args: &[&str]) -> Running {
    let mut command = Command::new(binary("sos"));
    command
        .args(["--consent", "window"])
        .args(args)
        .env("DISPLAY", display)
        .env("RUST_LOG", "warn,sos_agent=info,winit=error");
    Running::spawn("sos", command)
}

/// Puts `text` on the clipboard of `display` (xclip keeps serving it in the background
/// until the display goes away).
fn copy_to_clipboard(display: &str, text: &str) {
    use std::io::Write as _;
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard"])
        .env("DISPLAY", display)
        .stdin(std::process::Stdio::piped())
        // It says "connection broken" when the test's display goes away.
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("xclip is installed (cargo xtask setup installs it)");
    xclip
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(xclip.wait().unwrap().success(), "xclip took the text");
}

/// A new session; returns its id and PIN.
fn new_session(desk: &Desk) -> (String, String) {
    let session = desk.json(&["session", "new", "--json"]);
    (
        session["id"].as_str().unwrap().to_string(),
        session["pin"].as_str().unwrap().to_string(),
    )
}

/// The app joined with the PIN on the command line, waiting for the technician.
fn joined_app(gateway: &Gateway, desk: &Desk, display: &str, extra: &[&str]) -> (String, Running) {
    let (id, pin) = new_session(desk);
    let mut args = vec!["--gateway", &gateway.quic, "--pin", &pin];
    args.extend(["--cert-sha256", &gateway.cert]);
    args.extend_from_slice(extra);
    let agent = app(display, &args);
    agent.expect_line("Waiting", Duration::from_secs(20));
    desk.wait_for(&id, "active", |s| s["status"] == "active");
    (id, agent)
}

/// Checks what the permission window shows: the title band with text, the question, and
/// Deny drawn as the default (filled) button.
fn check_consent_window(shot: &Shot, control: bool) {
    assert_eq!((shot.width, shot.height), CONSENT_SIZE);
    let (dx, dy, _, _) = DENY;
    assert_eq!(
        shot.bgr(dx + 6, dy + 6),
        [PRIMARY[2], PRIMARY[1], PRIMARY[0]],
        "Deny is filled in the primary colour"
    );
    assert!(
        shot.count_near((0, 0, 600, 52), WHITE) > 300,
        "the title is written in the band"
    );
    assert!(
        shot.count_near((24, 60, 552, 60), TEXT) > 100,
        "the technician's name is written"
    );
    // The scam warning's box, and an outlined Allow (its inside is the background).
    assert!(shot.count_near((24, 120, 552, 120), [0xff, 0xf4, 0xce]) > 5000);
    let (vx, vy, _, _) = VIEW_ONLY;
    let view_only_outlined = shot.bgr(vx + 1, vy + 20) == [PRIMARY[2], PRIMARY[1], PRIMARY[0]];
    assert_eq!(
        view_only_outlined, control,
        "View only is offered only for control"
    );
}

#[test]
fn permission_window_deny_view_only_allow_and_the_bar_with_stop() {
    let xvfb = Xvfb::start(1920, 1080);
    let screen = XScreen::connect(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    let (id, mut agent) = joined_app(&gateway, &desk, &xvfb.display, &[]);

    // The main window shows the progress.
    let main = screen.find_window("remote support", Duration::from_secs(10));
    let shot = screen.wait_drawn(main);
    shot.save("app-main-waiting");
    assert!(
        shot.count_near((24, 60, 492, 60), TEXT) > 100,
        "progress is written"
    );

    // First the end user denies.
    desk.ok(&["session", "request", &id, "--wait", "0"]);
    let prompt = screen.find_window("permission request", Duration::from_secs(10));
    std::thread::sleep(ARMED_AFTER);
    let shot = screen.wait_drawn(prompt);
    shot.save("app-consent-control");
    check_consent_window(&shot, true);
    let g = screen.geometry(prompt);
    assert_eq!((g.x, g.y), (660, 340), "centred on the screen");
    let (x, y) = centre(DENY);
    screen.click_at(prompt, x, y);
    desk.wait_for(&id, "denied", |s| s["remote"]["state"] == "denied");
    screen.wait_gone(prompt, Duration::from_secs(5));
    agent.expect_line("Access denied.", Duration::from_secs(5));

    // An allowing click in the first second counts for nothing.
    desk.ok(&["session", "request", &id, "--wait", "0"]);
    let prompt = screen.find_window("permission request", Duration::from_secs(10));
    let (x, y) = centre(ALLOW_CONTROL);
    screen.click_at(prompt, x, y);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        desk.json(&["session", "show", &id, "--json"])["remote"]["state"],
        "requested",
        "a click right after the window appeared allowed nothing"
    );
    assert!(screen.is_shown(prompt));
    // View only, clicked after the window settled.
    std::thread::sleep(ARMED_AFTER);
    let (x, y) = centre(VIEW_ONLY);
    screen.click_at(prompt, x, y);
    let granted = desk.wait_for(&id, "granted", |s| s["remote"]["state"] == "granted");
    assert_eq!(granted["remote"]["control"], false, "view only: {granted}");
    screen.wait_gone(prompt, Duration::from_secs(5));
    let bar = screen.find_window("sharing your screen", Duration::from_secs(10));
    let shot = screen.wait_drawn(bar);
    shot.save("app-bar-view-only");
    assert_eq!((shot.width, shot.height), BAR_SIZE);
    let (px, py, _, _) = PAUSE;
    assert_eq!(
        shot.bgr(px + 2, py + 2),
        [PRIMARY[2], PRIMARY[1], PRIMARY[0]],
        "no Pause button without control"
    );
    let input = desk.run(&["input", &id, "--move", "5,5"]);
    assert!(!input.status.success(), "no control after View only");

    // The technician asks for control again; this time the end user allows it.
    desk.ok(&["session", "request", &id, "--wait", "0"]);
    let prompt = screen.find_window("permission request", Duration::from_secs(10));
    std::thread::sleep(ARMED_AFTER);
    let (x, y) = centre(ALLOW_CONTROL);
    screen.click_at(prompt, x, y);
    let granted = desk.wait_for(&id, "granted control", |s| {
        s["remote"]["state"] == "granted" && s["remote"]["control"] == true
    });
    eprintln!("granted: {}", granted["remote"]);
    let bar = screen.find_window("sharing your screen", Duration::from_secs(10));
    let g = screen.geometry(bar);
    assert_eq!(
        (g.x, g.y, g.width, g.height),
        (600, 0, 720, 56),
        "top centre"
    );
    let shot = screen.wait_drawn(bar);
    shot.save("app-bar-control");
    let (sx, sy, _, _) = STOP;
    assert_eq!(
        shot.bgr(sx + 3, sy + 3),
        [DANGER[2], DANGER[1], DANGER[0]],
        "Stop is red"
    );
    assert!(
        shot.count_near((0, 0, 440, 56), WHITE) > 200,
        "who can see is written"
    );
    assert!(
        shot.count_near((px, py, 150, 40), WHITE) > 500,
        "Pause control is offered"
    );

    // The technician's input works on the screen but never reaches the bar.
    desk.ok(&["input", &id, "--move", "300,400"]);
    assert_eq!(screen.pointer(), (300, 400));
    let (bx, by) = centre(STOP);
    let onto_stop = format!("{},{}", g.x + bx, g.y + by);
    let refused = desk.run(&["input", &id, "--move", &onto_stop]);
    assert!(!refused.status.success(), "{}", describe(&refused));
    let said = describe(&refused);
    assert!(said.contains("sosdesk window"), "{said}");
    assert_eq!(
        screen.pointer(),
        (300, 400),
        "the pointer stayed off the bar"
    );
    // Even with the end user's own pointer resting on Stop, an injected click is refused.
    screen.point_at(bar, bx, by);
    let click = desk.run(&["input", &id, "--click", "left"]);
    assert!(!click.status.success(), "{}", describe(&click));
    assert!(screen.is_shown(bar), "the bar is still there");
    assert_eq!(
        desk.json(&["session", "show", &id, "--json"])["agent_online"],
        true
    );

    // Pause control: the technician's input is refused until the end user resumes.
    let (pause_x, pause_y) = centre(PAUSE);
    screen.click_at(bar, pause_x, pause_y);
    agent.expect_line("Control paused", Duration::from_secs(5));
    let paused = desk.run(&["input", &id, "--move", "310,410"]);
    assert!(!paused.status.success(), "{}", describe(&paused));
    assert_ne!(screen.pointer(), (310, 410), "no move while paused");
    screen.wait_drawn(bar).save("app-bar-paused");
    screen.click_at(bar, pause_x, pause_y);
    agent.expect_line("Control resumed", Duration::from_secs(5));
    desk.ok(&["input", &id, "--move", "310,410"]);
    assert_eq!(screen.pointer(), (310, 410), "control is back");

    // Streaming while the bar is shown: the bar stays for the whole session.
    let view = desk.run(&[
        "view",
        &id,
        "--headless",
        "--frames",
        "1",
        "--timeout",
        "60",
    ]);
    assert!(view.status.success(), "view: {}", describe(&view));
    assert!(screen.is_shown(bar), "the bar stays while streaming");

    // Stop ends the session at once.
    screen.point_at(bar, bx, by);
    let clicked = Instant::now();
    screen.xdotool(&["click", "1"]);
    desk.wait_within(&id, "stopped", Duration::from_secs(5), |s| {
        s["agent_online"] == false
    });
    let seen = clicked.elapsed();
    eprintln!(
        "Stop click to the gateway showing the app gone: {} ms (polled through sos-desk)",
        seen.as_millis()
    );
    agent.expect_line("Session ended: you stopped it.", Duration::from_secs(5));
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    let log = desk.ok(&["session", "log", &id]);
    assert!(log.contains("stopped_by_user"), "{log}");
}

#[test]
fn silence_is_denied_when_the_countdown_runs_out() {
    let xvfb = Xvfb::start(1280, 800);
    let screen = XScreen::connect(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    let (id, mut agent) = joined_app(
        &gateway,
        &desk,
        &xvfb.display,
        &["--consent-timeout-secs", "3"],
    );
    desk.ok(&["session", "request", &id, "--view-only", "--wait", "0"]);
    let prompt = screen.find_window("permission request", Duration::from_secs(10));
    let shot = screen.wait_drawn(prompt);
    shot.save("app-consent-countdown");
    eprintln!("TRANSCRIPT {}", agent.transcript());
    check_consent_window(&shot, false);
    // The countdown line, above the buttons.
    assert!(
        shot.count_near((24, 290, 552, 30), TEXT) > 80,
        "countdown is written"
    );
    desk.wait_within(
        &id,
        "denied by the countdown",
        Duration::from_secs(10),
        |s| s["remote"]["state"] == "denied",
    );
    screen.wait_gone(prompt, Duration::from_secs(5));
    agent.expect_line("no answer within 3 s", Duration::from_secs(5));
    // Closing the app's main window stops the session.
    let main = screen.find_window("remote support", Duration::from_secs(5));
    screen.request_close(main);
    let code = agent.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", agent.transcript());
    desk.wait_for(&id, "stopped", |s| s["agent_online"] == false);
}

#[test]
fn the_join_window_asks_for_gateway_and_pin_and_explains_a_refused_pin() {
    let xvfb = Xvfb::start(1280, 800);
    let screen = XScreen::connect(&xvfb.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    let (id, pin) = new_session(&desk);
    let wrong = if pin == "111111111" {
        "222222222"
    } else {
        "111111111"
    };
    let agent = app(&xvfb.display, &["--cert-sha256", &gateway.cert]);
    let main = screen.find_window("remote support", Duration::from_secs(10));
    screen.wait_drawn(main).save("app-join-empty");
    // Keyboard only: the address, Tab, a wrong PIN (pasted with spaces), Enter.
    screen.xdotool(&["windowfocus", "--sync", &main.to_string()]);
    screen.xdotool(&["type", "--delay", "20", &gateway.quic]);
    screen.xdotool(&["key", "Tab"]);
    screen.xdotool(&[
        "type",
        "--delay",
        "20",
        &format!("{} {}", &wrong[..3], &wrong[3..]),
    ]);
    screen.xdotool(&["key", "Return"]);
    agent.expect_line("Connecting to", Duration::from_secs(10));
    // The refusal is explained in red under the fields, and the PIN is asked again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let shot = loop {
        let shot = screen.shot(main);
        if shot.count_near((24, 220, 492, 50), DANGER) > 150 {
            break shot;
        }
        if Instant::now() > deadline {
            shot.save("app-join-no-error");
            panic!("no error shown; the app said:\n{}", agent.transcript());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    shot.save("app-join-refused");
    assert_eq!(
        desk.json(&["session", "show", &id, "--json"])["status"],
        "pending"
    );
    // The right PIN, pasted from the clipboard into the PIN field (spaces are dropped).
    let (fx, fy) = FORM_PIN_FIELD;
    screen.click_at(main, fx, fy);
    copy_to_clipboard(
        &xvfb.display,
        &format!("{} {} {}", &pin[..3], &pin[3..6], &pin[6..]),
    );
    screen.xdotool(&["key", "ctrl+v"]);
    screen.xdotool(&["key", "Return"]);
    agent.expect_line("Waiting", Duration::from_secs(20));
    desk.wait_for(&id, "active", |s| s["status"] == "active");
    std::thread::sleep(Duration::from_millis(300));
    screen.wait_drawn(main).save("app-join-waiting");
    // Esc closes the app, which stops the session.
    screen.xdotool(&["windowfocus", "--sync", &main.to_string()]);
    screen.xdotool(&["key", "Escape"]);
    let mut agent = agent;
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    desk.wait_for(&id, "stopped", |s| s["agent_online"] == false);
    let logs = gateway.process.transcript() + &agent.transcript();
    assert!(!logs.contains(&pin), "the PIN appeared in a log");
}

#[test]
fn without_a_display_the_terminal_asks_and_says_why() {
    let out = Command::new(binary("sos"))
        .args(["--gateway", "127.0.0.1:9", "--pin", "12345678"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let said = describe(&out);
    assert!(
        said.contains("No display found (DISPLAY is not set): asking in this terminal instead."),
        "{said}"
    );
    assert!(said.contains("The --pin is not valid"), "{said}");
    assert_eq!(out.status.code(), Some(2), "{said}");
}

#[test]
fn sigterm_while_the_join_form_is_up_closes_the_app() {
    let xvfb = Xvfb::start(1280, 800);
    let screen = XScreen::connect(&xvfb.display);
    let mut agent = app(&xvfb.display, &[]);
    let main = screen.find_window("remote support", Duration::from_secs(10));
    screen.wait_drawn(main);
    let kill = Command::new("kill")
        .args(["-TERM", &agent.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    assert_eq!(agent.wait_exit(Duration::from_secs(10)), Some(0));
    agent.expect_line("Closed before joining a session.", Duration::from_secs(1));
}
