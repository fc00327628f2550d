//! The in-browser viewer end to end, in headless Chromium: the end user's screen is an Xvfb
//! display with known content, captured and injected by `sos`; the technician signs in to
//! the console and opens the viewer page of a granted session. Checks what the technician
//! sees and does, once over WebTransport and once forced over the WebSocket fallback: the
//! canvas shows the end user's screen, a click and typed text on the canvas arrive at the
//! end user's X server, and the page's quality indicator reports decoded frames and latency
//! (printed: the figures of the report).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use serde_json::Value;
use std::time::{Duration, Instant};
use support::browser::Browser;
use support::stack::{Desk, EMAIL, Gateway};
use support::xclient::{Seen, XClient};
use support::xvfb::Xvfb;

const REMOTE_W: u32 = 1280;
const REMOTE_H: u32 = 720;
/// Lowest PSNR accepted between the canvas (decoded at full size) and the end user's
/// screen: the walking skeleton's bar for one H.264 frame. A misplaced, mis-scaled or
/// channel-swapped picture falls to 10-25 dB.
const MIN_PSNR_DB: f64 = 35.0;

/// The page's state object (`window.sosViewer`).
fn viewer_state(browser: &Browser) -> Value {
    browser.js("return window.sosViewer || null;", vec![])
}

/// The canvas as packed BGRA, read back from the page.
fn canvas_bgra(browser: &Browser) -> (u32, u32, Vec<u8>) {
    let url = browser.js(
        "return document.getElementById('screen').toDataURL('image/png');",
        vec![],
    );
    let url = url.as_str().unwrap();
    let png = STANDARD
        .decode(url.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    // The canvas is opaque: premultiplied RGBA is plain RGBA.
    let pixmap = tiny_skia::Pixmap::decode_png(&png).unwrap();
    let mut bgra = pixmap.data().to_vec();
    for p in bgra.chunks_exact_mut(4) {
        p.swap(0, 2);
    }
    (pixmap.width(), pixmap.height(), bgra)
}

/// Waits for the first button press reaching the end user's screen.
fn next_press(user: &XClient) -> (u8, i16, i16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = user.seen.lock().unwrap().clone();
        if let Some(press) = seen.iter().find_map(|s| match s {
            Seen::Button { button, x, y } => Some((*button, *x, *y)),
            Seen::Key(_) => None,
        }) {
            return press;
        }
        assert!(
            Instant::now() < deadline,
            "no click reached the end user's screen: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How a test runs the viewer.
struct Run {
    /// Added to the page's address (`?transport=ws` forces the WebSocket).
    query: &'static str,
    /// The transport the page must end up on.
    transport: &'static str,
    /// Where the gateway's WebTransport endpoint listens.
    webtransport: &'static str,
    /// Whether the page must have fallen back from WebTransport.
    fell_back: bool,
    /// Whether to go on past the picture: click, typing, measures, end.
    drive: bool,
}

/// Opens the viewer of a granted session in the browser, checks the picture, then (when
/// `run.drive`) click and typing, measures while the screen changes, and ends the session.
fn view_and_drive(run: &Run) {
    let (query, transport) = (run.query, run.transport);
    let remote = Xvfb::start(REMOTE_W, REMOTE_H);
    let user = XClient::start(&remote.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start_webtransport_on(work.path(), run.webtransport);
    let desk = Desk::login(&gateway, work.path());
    let (id, _agent) = desk.granted_session(&gateway, &remote.display);
    let truth = user.capture();

    let browser = Browser::for_gateway(&gateway);
    browser.log_in(&gateway, EMAIL);
    let started = Instant::now();
    if query.is_empty() {
        // As a technician does: the session's panel in the console, Start remote session.
        let open = format!("#sessions tr[data-id='{id}'] button.open");
        browser.wait_for("the session in the console", support::browser::WAIT, |b| {
            b.try_find(&open).map(|_| ())
        });
        browser.click(&open);
        browser.wait_for(
            "Start remote session to be enabled",
            support::browser::WAIT,
            |b| {
                b.try_find("#act-start")?;
                let disabled = b.attribute("#act-start", "disabled");
                (disabled.as_deref() == Some("false")).then_some(())
            },
        );
        browser.click("#act-start");
    } else {
        browser.goto(&format!(
            "{}/console/sessions/{id}/view{query}",
            gateway.console
        ));
    }
    browser.wait_for("the viewer's page", support::browser::WAIT, |b| {
        b.url()
            .contains(&format!("/console/sessions/{id}/view"))
            .then_some(())
    });

    // The picture: decoded at the remote size, read back and compared with the screen.
    let state = browser.wait_for("a decoded picture", Duration::from_secs(30), |b| {
        let state = viewer_state(b);
        (state["stats"]["framesDecoded"].as_u64().unwrap_or(0) > 0).then_some(state)
    });
    eprintln!(
        "{transport}: first picture {:?} after opening the page",
        started.elapsed()
    );
    assert_eq!(state["transport"], transport, "{state}");
    assert_eq!(state["phase"], "watching");
    assert_eq!(
        !state["fallbackReason"].is_null(),
        run.fell_back,
        "fallback as expected: {state}"
    );
    let psnr = browser.wait_for(
        "the canvas to show the end user's screen",
        Duration::from_secs(20),
        |b| {
            let (w, h, pixels) = canvas_bgra(b);
            assert_eq!((w, h), (REMOTE_W, REMOTE_H), "decoded at the remote size");
            let psnr =
                sos_codec::psnr_bgra(&pixels, w as usize * 4, &truth, REMOTE_W as usize * 4, w, h);
            (psnr >= MIN_PSNR_DB).then_some(psnr)
        },
    );
    eprintln!("{transport}: canvas against the screen: PSNR {psnr:.2} dB");
    let fallback = if run.fell_back { "-fallback" } else { "" };
    browser.screenshot(&format!("viewer-{transport}{fallback}"));
    if !run.drive {
        return;
    }

    // A click in the middle of the canvas lands in the middle of the end user's screen,
    // within the scale factor.
    let rect = browser.js(
        "const r = document.getElementById('screen').getBoundingClientRect(); \
         return [r.width, r.height];",
        vec![],
    );
    let scale = f64::from(REMOTE_W) / rect[0].as_f64().unwrap();
    assert!(scale >= 1.0, "fitted into the 1280x720 window: {rect}");
    browser.click("#screen");
    let (button, x, y) = next_press(&user);
    assert_eq!(button, 1, "the left button");
    let (ex, ey) = (f64::from(REMOTE_W) / 2.0, f64::from(REMOTE_H) / 2.0);
    assert!(
        (f64::from(x) - ex).abs() <= scale + 1.0 && (f64::from(y) - ey).abs() <= scale + 1.0,
        "clicked the canvas centre, landed at {x},{y}; expected about {ex},{ey}"
    );

    // Typing on the canvas types on the end user's screen.
    let canvas = browser.find("#screen");
    browser
        .block_on(canvas.send_keys("hi\u{E007}"))
        .expect("type on the canvas");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(user.typed_text() == "hi" && user.seen.lock().unwrap().contains(&Seen::Key(0xff0d))) {
        assert!(
            Instant::now() < deadline,
            "typed \"hi\" and Enter; the end user's screen got {:?}",
            user.seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The last key-up follows the Enter press shortly; nothing stays down (within 3 s,
    // well inside the agent's own 10 s limit for keys held without news).
    let deadline = Instant::now() + Duration::from_secs(3);
    while user.anything_pressed() {
        assert!(Instant::now() < deadline, "a key stayed down after typing");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Ctrl held on the canvas is held on the end user's machine, and released there when
    // the canvas loses the keyboard.
    let hold = KeyActions::new("held".into()).then(KeyAction::Down { value: '\u{e009}' });
    browser
        .block_on(browser.client().perform_actions(hold))
        .expect("hold Ctrl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !user.anything_pressed() {
        assert!(
            Instant::now() < deadline,
            "Ctrl never went down on the end user's screen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    browser.js("document.getElementById('scale').focus();", vec![]);
    // Well within the agent's own limit for keys held without news (10 s).
    let deadline = Instant::now() + Duration::from_secs(3);
    while user.anything_pressed() {
        assert!(
            Instant::now() < deadline,
            "Ctrl stayed down after the canvas lost focus"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    browser
        .block_on(browser.client().release_actions())
        .expect("release the WebDriver keys");

    // A changing screen: decoded frames per second and capture-to-canvas latency, as the
    // page measures them (the agent's capture time against the browser's clock corrected
    // to the gateway's; one machine here, so one clock).
    let _moving = user.animate();
    std::thread::sleep(Duration::from_secs(2));
    let before = viewer_state(&browser)["stats"].clone();
    let window = Duration::from_secs(6);
    std::thread::sleep(window);
    let after = viewer_state(&browser)["stats"].clone();
    let decoded =
        after["framesDecoded"].as_u64().unwrap() - before["framesDecoded"].as_u64().unwrap();
    let fps = decoded as f64 / window.as_secs_f64();
    let seen = before["latencies"].as_array().unwrap().len();
    let mut latencies: Vec<f64> = after["latencies"].as_array().unwrap()
        [seen.min(after["latencies"].as_array().unwrap().len())..]
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    latencies.sort_by(f64::total_cmp);
    assert!(
        fps >= 5.0,
        "the page decodes a changing screen: {decoded} frames in {window:?}"
    );
    let median = latencies[latencies.len() / 2];
    let p95 = latencies[latencies.len() * 95 / 100];
    eprintln!(
        "{transport}: decoded {fps:.1} fps over {window:?}; capture-to-canvas latency median \
         {median:.0} ms, p95 {p95:.0} ms ({} frames); page shows {:?}",
        latencies.len(),
        browser.text("#quality")
    );
    assert!(
        median > 0.0 && median < 2000.0,
        "latency is measured: median {median} ms"
    );
    let quality = browser.text("#quality");
    assert!(
        quality.contains("fps"),
        "the indicator shows the rate: {quality}"
    );
    browser.screenshot(&format!("viewer-{transport}-moving"));

    if run.query == "?transport=ws" {
        // End session, confirmed on the page: closed for everyone, and the page says why.
        browser.click("#end");
        browser.click("#end-yes");
        browser.wait_for_text("#notice", "Session ended");
        assert_eq!(viewer_state(&browser)["ended"], "ClosedByTechnician");
        desk.wait_for(&id, "closed", |s| s["status"] == "closed");
        browser.screenshot("viewer-ended");
    }
}

#[test]
fn the_browser_viewer_shows_and_drives_the_remote_screen_over_webtransport() {
    view_and_drive(&Run {
        query: "",
        transport: "webtransport",
        webtransport: "127.0.0.1:0",
        fell_back: false,
        drive: true,
    });
}

#[test]
fn the_browser_viewer_works_over_the_websocket_fallback() {
    view_and_drive(&Run {
        query: "?transport=ws",
        transport: "websocket",
        webtransport: "127.0.0.1:0",
        fell_back: false,
        drive: true,
    });
}

#[test]
fn the_browser_viewer_falls_back_to_the_websocket_when_webtransport_is_out_of_reach() {
    // The endpoint listens on another loopback address than the one the page uses: as
    // if UDP were blocked between the browser and the gateway.
    view_and_drive(&Run {
        query: "",
        transport: "websocket",
        webtransport: "127.0.0.2:0",
        fell_back: true,
        drive: false,
    });
}

/// The `w`x`h` part of a `stride_px`-wide BGRA picture at (`x`, `y`).
fn crop(src: &[u8], stride_px: u32, (x, y, w, h): (u32, u32, u32, u32)) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h * 4) as usize);
    for row in y..y + h {
        let start = ((row * stride_px + x) * 4) as usize;
        out.extend_from_slice(&src[start..start + (w * 4) as usize]);
    }
    out
}

/// Waits until the canvas shows `expected` (`w`x`h`); returns the PSNR.
fn wait_for_canvas(browser: &Browser, expected: &[u8], (w, h): (u32, u32), what: &str) -> f64 {
    browser.wait_for(what, Duration::from_secs(20), |b| {
        let (cw, ch, pixels) = canvas_bgra(b);
        if (cw, ch) != (w, h) {
            return None;
        }
        let psnr = sos_codec::psnr_bgra(&pixels, w as usize * 4, expected, w as usize * 4, w, h);
        (psnr >= MIN_PSNR_DB).then_some(psnr)
    })
}

#[test]
fn the_monitor_picker_switches_the_shared_monitor() {
    let remote = Xvfb::start(REMOTE_W, REMOTE_H);
    support::screens::split_into_monitors(&remote.display, &[(0, 0, 640, 720), (640, 0, 640, 720)]);
    let user = XClient::start(&remote.display);
    let work = tempfile::tempdir().unwrap();
    let gateway = Gateway::start(work.path());
    let desk = Desk::login(&gateway, work.path());
    let (id, _agent) = desk.granted_session(&gateway, &remote.display);
    let truth = user.capture();

    let browser = Browser::for_gateway(&gateway);
    browser.log_in(&gateway, EMAIL);
    browser.goto(&format!("{}/console/sessions/{id}/view", gateway.console));
    let left = crop(&truth, REMOTE_W, (0, 0, 640, 720));
    let psnr = wait_for_canvas(&browser, &left, (640, 720), "the left (primary) monitor");
    eprintln!("left monitor: PSNR {psnr:.2} dB");
    let options = browser.js(
        "return [...document.querySelectorAll('#monitor option')].map(o => o.textContent);",
        vec![],
    );
    assert_eq!(
        options,
        serde_json::json!(["1: 640×720 (primary)", "2: 640×720"])
    );

    let picker = browser.find("#monitor");
    browser
        .block_on(picker.select_by_value("1"))
        .expect("pick monitor 2");
    let right = crop(&truth, REMOTE_W, (640, 0, 640, 720));
    let psnr = wait_for_canvas(
        &browser,
        &right,
        (640, 720),
        "the right monitor after picking it",
    );
    eprintln!("right monitor: PSNR {psnr:.2} dB");
    assert_eq!(viewer_state(&browser)["display"]["index"], 1);
    browser.screenshot("viewer-second-monitor");
}
