//! The scene drawer: plays a [`Scene`] on an X display, with the timestamp code on top of
//! every frame (`cargo xtask bench-scene`, started by the bench on its Xvfb).
//!
//! Contract: draws on the root window with plain PutImage requests inside a server grab,
//! so a capture sees either the whole previous frame or the whole new one, never content
//! without its code. The code's time is read after the content reached the server (a round
//! trip), so latencies are measured from the moment the frame could be seen. Frames it
//! falls behind on are skipped, not queued. The echo scene advances one frame per key
//! press that reaches the screen (injected by the `sos` app), at once. Prints `ready` once
//! the first frame is up and runs until stopped.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConnectionExt, CreateGCAux, EventMask, ImageFormat,
};
use x11rb::rust_connection::RustConnection;

use super::code::{self, Code};
use super::scene::{Rect, Scene, SceneKind};
use crate::signals::Shutdown;

/// How often a still scene looks at the stop flag.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs the drawer on `display` (or DISPLAY) until `shutdown`.
pub fn run(kind: SceneKind, display: Option<&str>, shutdown: &Shutdown) -> Result<()> {
    let (connection, screen) = x11rb::connect(display)
        .context("the scene drawer could not connect to the X display (is DISPLAY set?)")?;
    let setup = &connection.setup().roots[screen];
    let (root, depth) = (setup.root, setup.root_depth);
    let (width, height) = (
        u32::from(setup.width_in_pixels),
        u32::from(setup.height_in_pixels),
    );
    if depth != 24 {
        bail!("the scene drawer needs a 24-bit screen (Xvfb -screen 0 WxHx24), not {depth}-bit");
    }
    let gc = connection.generate_id()?;
    connection.create_gc(gc, root, &CreateGCAux::new())?;
    // Whole-screen frames need BIG-REQUESTS; ask for the limit once, up front.
    connection.prefetch_maximum_request_bytes();
    let mut scene = Scene::new(kind, width, height).map_err(anyhow::Error::msg)?;
    let mut frame = Vec::new();
    scene.render(0, &mut frame);
    let x = X {
        connection: &connection,
        root,
        gc,
        depth,
        stride: scene.stride(),
    };
    x.show(&mut frame, &[scene.screen()], 0, width, height)?;
    if kind == SceneKind::Echo {
        // Key presses on the screen (no window manager: they go to the root window).
        connection.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::KEY_PRESS),
        )?;
        connection.flush()?;
    }
    println!("ready {width}x{height}");
    if kind == SceneKind::Echo {
        return echo(&x, &mut scene, &mut frame, (width, height), shutdown);
    }

    let fps = kind.fps();
    let started = Instant::now();
    let mut n: u64 = 0;
    loop {
        shutdown.check()?;
        if fps <= 0.0 {
            std::thread::sleep(IDLE_POLL);
            continue;
        }
        let due = started + Duration::from_secs_f64((n + 1) as f64 / fps);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        // Behind schedule: jump to the frame that is due now.
        let current = (started.elapsed().as_secs_f64() * fps).floor() as u64;
        let next = current.max(n + 1);
        let changed = if next == n + 1 {
            scene.step(next, &mut frame)
        } else {
            scene.render(next, &mut frame);
            vec![scene.screen()]
        };
        x.show(&mut frame, &changed, next, width, height)?;
        n = next;
    }
}

/// The echo scene: the next character for every key press, drawn as soon as it arrives.
fn echo(
    x: &X<'_>,
    scene: &mut Scene,
    frame: &mut Vec<u8>,
    (width, height): (u32, u32),
    shutdown: &Shutdown,
) -> Result<()> {
    let mut n: u64 = 0;
    loop {
        shutdown.check()?;
        match x.connection.poll_for_event()? {
            Some(Event::KeyPress(_)) => {
                n += 1;
                let changed = scene.step(n, frame);
                x.show(frame, &changed, n, width, height)?;
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

struct X<'a> {
    connection: &'a RustConnection,
    root: u32,
    gc: u32,
    depth: u8,
    stride: usize,
}

impl X<'_> {
    /// Sends the changed rectangles, then the code with the time they became visible.
    fn show(
        &self,
        frame: &mut [u8],
        changed: &[Rect],
        n: u64,
        width: u32,
        height: u32,
    ) -> Result<()> {
        let connection = self.connection;
        connection.grab_server()?;
        for rect in changed {
            self.put(frame, *rect)?;
        }
        // A round trip: the content is on the screen before the time is read.
        connection.get_input_focus()?.reply()?;
        let painted = Code {
            // The low 32 bits: the reader unwraps them against its own clock.
            painted_ms: unix_ms() as u32,
            frame: (n as u32) & code::FRAME_MASK,
        };
        code::paint(frame, self.stride, width, height, painted);
        let (x, y, code_width, code_height) = code::area(width, height);
        self.put(
            frame,
            Rect {
                x,
                y,
                width: code_width,
                height: code_height,
            },
        )?;
        connection.ungrab_server()?;
        connection.flush()?;
        Ok(())
    }

    fn put(&self, frame: &[u8], rect: Rect) -> Result<()> {
        if rect.width == 0 || rect.height == 0 {
            return Ok(());
        }
        let row = rect.width as usize * 4;
        let data: std::borrow::Cow<'_, [u8]> = if rect.x == 0 && row == self.stride {
            let start = rect.y as usize * self.stride;
            frame[start..start + rect.height as usize * self.stride].into()
        } else {
            let mut data = Vec::with_capacity(row * rect.height as usize);
            for y in rect.y..rect.y + rect.height {
                let start = y as usize * self.stride + rect.x as usize * 4;
                data.extend_from_slice(&frame[start..start + row]);
            }
            data.into()
        };
        self.connection.put_image(
            ImageFormat::Z_PIXMAP,
            self.root,
            self.gc,
            rect.width as u16,
            rect.height as u16,
            rect.x as i16,
            rect.y as i16,
            0,
            self.depth,
            &data,
        )?;
        Ok(())
    }
}
