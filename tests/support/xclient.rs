//! A small X client: paints known content over the whole screen, keeps keyboard focus and
//! records the key and button events it receives; also captures the root window and
//! reads the pointer position, as an observer independent of the agent.

use super::keymap::{self, Keymap};
use std::sync::{Arc, Mutex};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    ConnectionExt, CreateGCAux, CreateWindowAux, EventMask, ImageFormat, InputFocus, WindowClass,
};
use x11rb::rust_connection::RustConnection;

/// An input event seen by the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A key went down: its keysym (unshifted).
    Key(u32),
    /// A mouse button went down at a root position.
    Button { button: u8, x: i16, y: i16 },
}

/// An input event seen by the window, in full: keys with the keysym they produce given the
/// keyboard mapping and modifier state at the time, buttons and motion with positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XEvent {
    /// A key went down.
    KeyPress {
        keycode: u8,
        keysym: u32,
        state: u16,
        time: u32,
    },
    /// A key came up.
    KeyRelease {
        keycode: u8,
        keysym: u32,
        state: u16,
    },
    /// A button went down at a root position.
    ButtonPress {
        button: u8,
        x: i16,
        y: i16,
        state: u16,
        time: u32,
    },
    /// A button came up at a root position.
    ButtonRelease {
        button: u8,
        x: i16,
        y: i16,
        state: u16,
    },
    /// The pointer moved over the window.
    Motion { x: i16, y: i16, state: u16 },
}

/// The test's own X client.
pub struct XClient {
    conn: Arc<RustConnection>,
    root: u32,
    window: u32,
    width: u16,
    height: u16,
    /// Events seen so far.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Every key, button and motion event seen so far, in full.
    pub events: Arc<Mutex<Vec<XEvent>>>,
}

/// Known screen content: smooth gradients, solid blocks and thin, sharp "text-like" strokes.
pub fn pattern(width: u32, height: u32) -> Vec<u8> {
    let mut bgra = vec![0u8; (width * height * 4) as usize];
    for y in 0..height {
        for x in 0..width {
            let i = ((y * width + x) * 4) as usize;
            let (mut r, mut g, mut b) = (
                (x * 255 / width) as u8,
                (y * 255 / height) as u8,
                (((x + y) / 8) % 256) as u8,
            );
            if (x / 240 + y / 270) % 3 == 0 {
                (r, g, b) = (230, 230, 230);
                // Dark strokes every 6 px, like lines of text.
                if y % 18 < 2 && x % 240 < 200 {
                    (r, g, b) = (20, 20, 20);
                }
            }
            bgra[i] = b;
            bgra[i + 1] = g;
            bgra[i + 2] = r;
            bgra[i + 3] = 255;
        }
    }
    bgra
}

impl XClient {
    /// Connects to `display`, covers the screen with [`pattern`] and starts recording.
    pub fn start(display: &str) -> Self {
        let (conn, screen_num) = x11rb::connect(Some(display)).expect("connect to Xvfb");
        let conn = Arc::new(conn);
        let screen = conn.setup().roots[screen_num].clone();
        let (width, height) = (screen.width_in_pixels, screen.height_in_pixels);
        let pixmap = conn.generate_id().unwrap();
        conn.create_pixmap(screen.root_depth, pixmap, screen.root, width, height)
            .unwrap();
        let gc = conn.generate_id().unwrap();
        conn.create_gc(gc, pixmap, &CreateGCAux::new()).unwrap();
        let image = pattern(width as u32, height as u32);
        let stride = width as usize * 4;
        for top in (0..height).step_by(32) {
            let rows = 32.min(height - top);
            let start = top as usize * stride;
            let end = start + rows as usize * stride;
            conn.put_image(
                ImageFormat::Z_PIXMAP,
                pixmap,
                gc,
                width,
                rows,
                0,
                top as i16,
                0,
                screen.root_depth,
                &image[start..end],
            )
            .unwrap();
        }
        let window = conn.generate_id().unwrap();
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            screen.root,
            0,
            0,
            width,
            height,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new()
                .background_pixmap(pixmap)
                .override_redirect(1)
                .event_mask(
                    EventMask::KEY_PRESS
                        | EventMask::KEY_RELEASE
                        | EventMask::BUTTON_PRESS
                        | EventMask::BUTTON_RELEASE
                        | EventMask::POINTER_MOTION,
                ),
        )
        .unwrap();
        conn.map_window(window).unwrap();
        conn.set_input_focus(InputFocus::POINTER_ROOT, window, x11rb::CURRENT_TIME)
            .unwrap();
        x11rb::wrapper::ConnectionExt::sync(&*conn).unwrap();

        let seen = Arc::new(Mutex::new(Vec::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (conn2, seen2, events2) = (conn.clone(), seen.clone(), events.clone());
        let min_keycode = conn.setup().min_keycode;
        let max_keycode = conn.setup().max_keycode;
        std::thread::spawn(move || {
            let mut keys = Keymap::fetch(&conn2, min_keycode, max_keycode);
            while let Ok(event) = conn2.wait_for_event() {
                if let Some(full) =
                    full_event(&event, &conn2, &mut keys, (min_keycode, max_keycode))
                {
                    events2.lock().unwrap().push(full);
                }
                let item = match event {
                    Event::KeyPress(e) => {
                        let mapping = conn2
                            .get_keyboard_mapping(min_keycode, max_keycode - min_keycode + 1)
                            .ok()
                            .and_then(|c| c.reply().ok());
                        let keysym = mapping.map_or(0, |m| {
                            let per = m.keysyms_per_keycode as usize;
                            let index = (e.detail - min_keycode) as usize * per;
                            m.keysyms.get(index).copied().unwrap_or(0)
                        });
                        Seen::Key(keysym)
                    }
                    Event::ButtonPress(e) => Seen::Button {
                        button: e.detail,
                        x: e.root_x,
                        y: e.root_y,
                    },
                    _ => continue,
                };
                seen2.lock().unwrap().push(item);
            }
        });
        // Wait until the background is on screen.
        std::thread::sleep(std::time::Duration::from_millis(300));
        Self {
            conn,
            root: screen.root,
            window,
            width,
            height,
            seen,
            events,
        }
    }

    /// The full events seen so far.
    pub fn events(&self) -> Vec<XEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Forgets the events seen so far (both records).
    pub fn clear(&self) {
        self.events.lock().unwrap().clear();
        self.seen.lock().unwrap().clear();
    }

    /// The text typed: characters of key presses made without Ctrl, Alt or Super.
    pub fn typed(&self) -> String {
        self.events()
            .iter()
            .filter_map(|e| match e {
                XEvent::KeyPress { keysym, state, .. }
                    if state & (keymap::CONTROL | keymap::MOD1 | keymap::MOD4) == 0 =>
                {
                    keymap::keysym_char(*keysym)
                }
                _ => None,
            })
            .collect()
    }

    /// Keycodes held down now.
    pub fn keys_down(&self) -> Vec<u8> {
        let keys = self.conn.query_keymap().unwrap().reply().unwrap();
        (0..=255u8)
            .filter(|k| keys.keys[usize::from(*k / 8)] & (1 << (k % 8)) != 0)
            .collect()
    }

    /// Keeps a small square moving in the bottom-right corner (a changing screen) until
    /// the returned guard is dropped.
    pub fn animate(&self) -> Animation {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (conn, window, stop2) = (self.conn.clone(), self.window, stop.clone());
        let (w, h) = (self.width as i16, self.height as i16);
        std::thread::spawn(move || {
            let gc = conn.generate_id().unwrap();
            conn.create_gc(gc, window, &CreateGCAux::new()).unwrap();
            let mut step = 0i16;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let colour = 0x00ff_4020u32.rotate_left(u32::from(step as u16 % 24));
                conn.change_gc(
                    gc,
                    &x11rb::protocol::xproto::ChangeGCAux::new().foreground(colour),
                )
                .unwrap();
                let rect = x11rb::protocol::xproto::Rectangle {
                    x: w - 200 + (step % 8) * 16,
                    y: h - 80,
                    width: 48,
                    height: 48,
                };
                conn.poly_fill_rectangle(window, gc, &[rect]).unwrap();
                conn.flush().unwrap();
                step = step.wrapping_add(1);
                std::thread::sleep(std::time::Duration::from_millis(33));
            }
        });
        Animation(stop)
    }

    /// Keeps the top-left `width` x `height` of the window scrolling: coloured stripes
    /// moving down 30 times a second, so every frame changes a large area (multi-packet
    /// frames), until the returned guard is dropped.
    pub fn animate_area(&self, width: u16, height: u16) -> Animation {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (conn, window, stop2) = (self.conn.clone(), self.window, stop.clone());
        std::thread::spawn(move || {
            let gc = conn.generate_id().unwrap();
            conn.create_gc(gc, window, &CreateGCAux::new()).unwrap();
            let stripe = 12_u16;
            let mut step = 0_u16;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                for index in 0..height.div_ceil(stripe) {
                    let band = index.wrapping_sub(step);
                    let colour = 0x0030_60c0_u32
                        .rotate_left(u32::from(band % 24))
                        .wrapping_add(u32::from(band).wrapping_mul(0x0001_0307));
                    conn.change_gc(
                        gc,
                        &x11rb::protocol::xproto::ChangeGCAux::new()
                            .foreground(colour & 0x00ff_ffff),
                    )
                    .unwrap();
                    let rect = x11rb::protocol::xproto::Rectangle {
                        x: 0,
                        y: (index * stripe) as i16,
                        width,
                        height: stripe,
                    };
                    conn.poly_fill_rectangle(window, gc, &[rect]).unwrap();
                }
                conn.flush().unwrap();
                step = step.wrapping_add(1);
                std::thread::sleep(std::time::Duration::from_millis(33));
            }
        });
        Animation(stop)
    }

    /// Keeps the top-left `width` x `height` of the window busy like a video: squares of
    /// `block` pixels that all take a new colour (one of 16, from a fixed pseudo-random
    /// sequence) 30 times a second, so every frame costs many bits to encode, until the
    /// returned guard is dropped.
    pub fn animate_blocks(&self, width: u16, height: u16, block: u16) -> Animation {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (conn, window, stop2) = (self.conn.clone(), self.window, stop.clone());
        std::thread::spawn(move || {
            let gc = conn.generate_id().unwrap();
            conn.create_gc(gc, window, &CreateGCAux::new()).unwrap();
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let mut by_colour: [Vec<x11rb::protocol::xproto::Rectangle>; 16] =
                    Default::default();
                for y in (0..height).step_by(usize::from(block)) {
                    for x in (0..width).step_by(usize::from(block)) {
                        // xorshift64: the same sequence every run.
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        by_colour[(state % 16) as usize].push(x11rb::protocol::xproto::Rectangle {
                            x: x as i16,
                            y: y as i16,
                            width: block,
                            height: block,
                        });
                    }
                }
                for (index, rects) in by_colour.iter().enumerate() {
                    let level = (index as u32) * 17;
                    let colour = (level << 16) | ((255 - level) << 8) | ((level * 7) & 0xff);
                    conn.change_gc(
                        gc,
                        &x11rb::protocol::xproto::ChangeGCAux::new().foreground(colour),
                    )
                    .unwrap();
                    conn.poly_fill_rectangle(window, gc, rects).unwrap();
                }
                conn.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(33));
            }
        });
        Animation(stop)
    }

    /// The root window as packed BGRA (what is on screen now).
    pub fn capture(&self) -> Vec<u8> {
        bgra_image(&self.conn, self.root, self.width, self.height)
    }

    /// The pointer's position on the root window.
    pub fn pointer(&self) -> (i16, i16) {
        let reply = self.conn.query_pointer(self.root).unwrap().reply().unwrap();
        (reply.root_x, reply.root_y)
    }

    /// Whether any key or button is held down now.
    pub fn anything_pressed(&self) -> bool {
        let keys = self.conn.query_keymap().unwrap().reply().unwrap();
        let pointer = self.conn.query_pointer(self.root).unwrap().reply().unwrap();
        let buttons = u16::from(pointer.mask) & 0x1f00;
        keys.keys.iter().any(|b| *b != 0) || buttons != 0
    }

    /// The typed text: keysyms of key presses that are Latin-1 characters.
    pub fn typed_text(&self) -> String {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|s| match s {
                Seen::Key(k) if (0x20..0x7f).contains(k) => char::from_u32(*k),
                _ => None,
            })
            .collect()
    }
}

/// Stops an [`XClient::animate`] loop when dropped.
pub struct Animation(Arc<std::sync::atomic::AtomicBool>);

impl Drop for Animation {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
}

/// The full record of an input event, resolving keysyms with the mapping current at the
/// event (refreshed when the server announces a mapping change, or when a key arrives whose
/// keycode the copy does not know yet).
fn full_event(
    event: &Event,
    conn: &RustConnection,
    keys: &mut Keymap,
    (min_keycode, max_keycode): (u8, u8),
) -> Option<XEvent> {
    let mut keysym = |keycode: u8, state: u16| {
        if keys.is_unmapped(keycode) {
            *keys = Keymap::fetch(conn, min_keycode, max_keycode);
        }
        keys.keysym(keycode, state)
    };
    Some(match event {
        Event::MappingNotify(_) => {
            *keys = Keymap::fetch(conn, min_keycode, max_keycode);
            return None;
        }
        Event::KeyPress(e) => XEvent::KeyPress {
            keycode: e.detail,
            keysym: keysym(e.detail, e.state.into()),
            state: e.state.into(),
            time: e.time,
        },
        Event::KeyRelease(e) => XEvent::KeyRelease {
            keycode: e.detail,
            keysym: keysym(e.detail, e.state.into()),
            state: e.state.into(),
        },
        Event::ButtonPress(e) => XEvent::ButtonPress {
            button: e.detail,
            x: e.root_x,
            y: e.root_y,
            state: e.state.into(),
            time: e.time,
        },
        Event::ButtonRelease(e) => XEvent::ButtonRelease {
            button: e.detail,
            x: e.root_x,
            y: e.root_y,
            state: e.state.into(),
        },
        Event::MotionNotify(e) => XEvent::Motion {
            x: e.root_x,
            y: e.root_y,
            state: e.state.into(),
        },
        _ => return None,
    })
}

/// The pixels of `drawable` (`width` x `height` from its corner) as packed BGRA, alpha 255.
pub fn bgra_image(conn: &RustConnection, drawable: u32, width: u16, height: u16) -> Vec<u8> {
    let reply = conn
        .get_image(ImageFormat::Z_PIXMAP, drawable, 0, 0, width, height, !0)
        .unwrap()
        .reply()
        .unwrap();
    let mut data = reply.data;
    for px in data.chunks_exact_mut(4) {
        px[3] = 255;
    }
    data
}
