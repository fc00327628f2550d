//! Shaping the test X server like an end user's desktop: several monitors on one wide screen
//! (RandR 1.5 monitors, as a multi-head desktop reports them) and a keyboard layout.

use std::process::Command;
use x11rb::connection::Connection;
use x11rb::protocol::randr::{self, ConnectionExt as _};
use x11rb::protocol::xkb::{self, ConnectionExt as _};
use x11rb::protocol::xproto::ConnectionExt as _;

/// A monitor: left, top, width, height in root pixels.
pub type Rect = (i16, i16, u16, u16);

/// Splits the screen of `display` into `monitors` (the first one is primary and takes the
/// screen's output, so the automatic whole-screen monitor goes away). Xvfb keeps them as long
/// as it runs with `-noreset`.
pub fn split_into_monitors(display: &str, monitors: &[Rect]) {
    let (conn, screen) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let root = conn.setup().roots[screen].root;
    let version = conn.randr_query_version(1, 5).unwrap().reply().unwrap();
    assert!(
        (version.major_version, version.minor_version) >= (1, 5),
        "the X server cannot define monitors (RandR 1.5 needed)"
    );
    let outputs = conn
        .randr_get_screen_resources(root)
        .unwrap()
        .reply()
        .unwrap()
        .outputs;
    for (i, &(x, y, width, height)) in monitors.iter().enumerate() {
        let name = format!("SOS-TEST-{i}");
        let atom = conn
            .intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        let info = randr::MonitorInfo {
            name: atom,
            primary: i == 0,
            automatic: false,
            x,
            y,
            width,
            height,
            width_in_millimeters: u32::from(width) * 254 / 960,
            height_in_millimeters: u32::from(height) * 254 / 960,
            outputs: if i == 0 { outputs.clone() } else { Vec::new() },
        };
        conn.randr_set_monitor(root, info)
            .unwrap()
            .check()
            .unwrap_or_else(|e| panic!("cannot define monitor {name}: {e:?}"));
    }
    let listed = conn
        .randr_get_monitors(root, true)
        .unwrap()
        .reply()
        .unwrap()
        .monitors;
    let mut listed: Vec<Rect> = listed
        .iter()
        .map(|m| (m.x, m.y, m.width, m.height))
        .collect();
    listed.sort();
    let mut wanted = monitors.to_vec();
    wanted.sort();
    assert_eq!(listed, wanted, "the X server lists the monitors asked for");
}

/// Sets the keyboard layout of `display` (an XKB layout name such as `de` or `fr`).
pub fn set_keyboard_layout(display: &str, layout: &str) {
    let status = Command::new("setxkbmap")
        .args(["-display", display, layout])
        .status()
        .expect("setxkbmap is installed (Debian package x11-xkb-utils)");
    assert!(status.success(), "setxkbmap {layout} failed: {status}");
}

fn xkb_connection(display: &str) -> x11rb::rust_connection::RustConnection {
    let (conn, _) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let reply = conn.xkb_use_extension(1, 0).unwrap().reply().unwrap();
    assert!(reply.supported, "the X server has XKB");
    conn
}

/// Locks the keyboard of `display` to layout group `group` (0 is the first layout), as a
/// layout switcher does.
pub fn lock_keyboard_group(display: &str, group: u8) {
    let conn = xkb_connection(display);
    let core = xkb::ID::USE_CORE_KBD.into();
    conn.xkb_latch_lock_state(
        core,
        0u8.into(),
        0u8.into(),
        true,
        group.into(),
        0u8.into(),
        false,
        0,
    )
    .unwrap()
    .check()
    .unwrap();
    assert_eq!(keyboard_group(display), group, "group locked");
}

/// The keyboard's active layout group on `display`.
pub fn keyboard_group(display: &str) -> u8 {
    let conn = xkb_connection(display);
    let state = conn
        .xkb_get_state(xkb::ID::USE_CORE_KBD.into())
        .unwrap()
        .reply()
        .unwrap();
    u8::from(state.group)
}
