//! Looking at and driving another program's window on an X display, as a person would:
//! find it by its title, read its geometry, capture its pixels, resize it; pointer and
//! keys go through xdotool (XTEST, real input events).

use super::xclient::bgra_image;
use std::process::Command;
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConfigureWindowAux, ConnectionExt, Window};
use x11rb::rust_connection::RustConnection;

/// A connection to one X display.
pub struct XScreen {
    conn: RustConnection,
    root: Window,
    display: String,
}

/// Where a window is, in root coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl XScreen {
    /// Connects to `display`.
    pub fn connect(display: &str) -> Self {
        let (conn, screen) = x11rb::connect(Some(display)).expect("connect to the X display");
        let root = conn.setup().roots[screen].root;
        Self {
            conn,
            root,
            display: display.to_string(),
        }
    }

    fn title(&self, window: Window) -> String {
        let utf8 = self
            .conn
            .intern_atom(false, b"UTF8_STRING")
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        let net_name = self
            .conn
            .intern_atom(false, b"_NET_WM_NAME")
            .unwrap()
            .reply()
            .unwrap()
            .atom;
        for (property, kind) in [
            (net_name, utf8),
            (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
        ] {
            let reply = self
                .conn
                .get_property(false, window, property, kind, 0, 1024)
                .unwrap()
                .reply();
            if let Ok(reply) = reply
                && !reply.value.is_empty()
            {
                return String::from_utf8_lossy(&reply.value).to_string();
            }
        }
        String::new()
    }

    /// Waits for a mapped top-level window whose title contains `part`.
    pub fn find_window(&self, part: &str, timeout: Duration) -> Window {
        let deadline = Instant::now() + timeout;
        loop {
            let tree = self.conn.query_tree(self.root).unwrap().reply().unwrap();
            for &window in &tree.children {
                let mapped = self
                    .conn
                    .get_window_attributes(window)
                    .unwrap()
                    .reply()
                    .is_ok_and(|a| a.map_state == x11rb::protocol::xproto::MapState::VIEWABLE);
                if mapped && self.title(window).contains(part) {
                    return window;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no window titled like {part:?} appeared on {} within {timeout:?}",
                self.display
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The window's position and size.
    pub fn geometry(&self, window: Window) -> Geometry {
        let geometry = self.conn.get_geometry(window).unwrap().reply().unwrap();
        let origin = self
            .conn
            .translate_coordinates(window, self.root, 0, 0)
            .unwrap()
            .reply()
            .unwrap();
        Geometry {
            x: i32::from(origin.dst_x),
            y: i32::from(origin.dst_y),
            width: u32::from(geometry.width),
            height: u32::from(geometry.height),
        }
    }

    /// The window's pixels as packed BGRA (alpha 255), with its size.
    pub fn capture(&self, window: Window) -> (u32, u32, Vec<u8>) {
        let g = self.geometry(window);
        let data = bgra_image(&self.conn, window, g.width as u16, g.height as u16);
        (g.width, g.height, data)
    }

    /// Asks `window` to close, as a window manager's close button does (WM_DELETE_WINDOW).
    pub fn request_close(&self, window: Window) {
        use x11rb::protocol::xproto::{ClientMessageEvent, EventMask};
        let atom = |name: &[u8]| {
            self.conn
                .intern_atom(false, name)
                .unwrap()
                .reply()
                .unwrap()
                .atom
        };
        let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
        let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
        self.conn
            .send_event(false, window, EventMask::NO_EVENT, event)
            .unwrap();
        x11rb::wrapper::ConnectionExt::sync(&self.conn).unwrap();
    }

    /// Waits until `window` shows a picture (not the black of a window not yet drawn);
    /// returns it.
    pub fn wait_drawn(&self, window: Window) -> super::shots::Shot {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let shot = self.shot(window);
            let lit = shot
                .bgra
                .chunks_exact(4)
                .filter(|p| p[..3] != [0, 0, 0])
                .count();
            if lit * 2 > shot.bgra.len() / 4 {
                // Once more after a moment: the whole picture, not a half-presented one.
                std::thread::sleep(Duration::from_millis(100));
                return self.shot(window);
            }
            assert!(Instant::now() < deadline, "window {window} was never drawn");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `window` still exists and is shown.
    pub fn is_shown(&self, window: Window) -> bool {
        self.conn
            .get_window_attributes(window)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .is_some_and(|a| a.map_state == x11rb::protocol::xproto::MapState::VIEWABLE)
    }

    /// Waits until `window` is gone or hidden.
    pub fn wait_gone(&self, window: Window, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.is_shown(window) {
            assert!(
                Instant::now() < deadline,
                "window {window} still shown after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pointer's position on the screen.
    pub fn pointer(&self) -> (i32, i32) {
        let reply = self.conn.query_pointer(self.root).unwrap().reply().unwrap();
        (i32::from(reply.root_x), i32::from(reply.root_y))
    }

    /// A screenshot of `window`.
    pub fn shot(&self, window: Window) -> super::shots::Shot {
        let (width, height, bgra) = self.capture(window);
        super::shots::Shot {
            width,
            height,
            bgra,
        }
    }

    /// Clicks the left button at (`x`, `y`) inside `window`, as the end user would.
    pub fn click_at(&self, window: Window, x: i32, y: i32) {
        self.point_at(window, x, y);
        self.xdotool(&["click", "1"]);
    }

    /// Resizes the window (no window manager: the request is the outcome).
    pub fn resize(&self, window: Window, width: u32, height: u32) {
        self.conn
            .configure_window(
                window,
                &ConfigureWindowAux::new().width(width).height(height),
            )
            .unwrap();
        x11rb::wrapper::ConnectionExt::sync(&self.conn).unwrap();
    }

    /// Runs xdotool on this display.
    pub fn xdotool(&self, args: &[&str]) {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool is installed (cargo xtask setup installs it)");
        assert!(
            out.status.success(),
            "xdotool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Presses (`down`) or releases the key with X keysym `keysym` through XTEST, exactly
    /// that key (xdotool presses Control_L along with Control_R).
    pub fn key(&self, keysym: u32, down: bool) {
        use x11rb::protocol::xtest::ConnectionExt as _;
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let mapping = self
            .conn
            .get_keyboard_mapping(min, max - min + 1)
            .unwrap()
            .reply()
            .unwrap();
        let per = usize::from(mapping.keysyms_per_keycode);
        let index = mapping
            .keysyms
            .chunks(per)
            .position(|syms| syms.contains(&keysym))
            .unwrap_or_else(|| panic!("no key for keysym {keysym:#x}"));
        let keycode = min + u8::try_from(index).unwrap();
        let kind = if down {
            x11rb::protocol::xproto::KEY_PRESS_EVENT
        } else {
            x11rb::protocol::xproto::KEY_RELEASE_EVENT
        };
        self.conn
            .xtest_fake_input(kind, keycode, x11rb::CURRENT_TIME, self.root, 0, 0, 0)
            .unwrap();
        x11rb::wrapper::ConnectionExt::sync(&self.conn).unwrap();
    }

    /// Moves the pointer to (`x`, `y`) inside `window`.
    pub fn point_at(&self, window: Window, x: i32, y: i32) {
        let g = self.geometry(window);
        let (x, y) = ((g.x + x).to_string(), (g.y + y).to_string());
        self.xdotool(&["mousemove", "--sync", &x, &y]);
    }
}
