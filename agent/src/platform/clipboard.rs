//! Reading the X11 clipboard, for pasting into the app's own join form.
//!
//! Contract: reads only (never owns a selection), waits at most [`WAIT`] for the owner,
//! reads at most [`MAX_BYTES`], and returns only valid UTF-8. Never logs what it read (it
//! may be a PIN).

use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt, CreateWindowAux, WindowClass};
use x11rb::{COPY_DEPTH_FROM_PARENT, CURRENT_TIME};

/// Longest wait for the clipboard's owner to answer.
pub const WAIT: Duration = Duration::from_millis(500);
/// Most bytes read.
pub const MAX_BYTES: u32 = 4096;

/// The text on the clipboard (CLIPBOARD, else the PRIMARY selection), if any.
pub fn text() -> Option<String> {
    let (conn, screen) = x11rb::connect(None).ok()?;
    let root = conn.setup().roots.get(screen)?.root;
    let window = conn.generate_id().ok()?;
    conn.create_window(
        COPY_DEPTH_FROM_PARENT,
        window,
        root,
        0,
        0,
        1,
        1,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &CreateWindowAux::new(),
    )
    .ok()?;
    let atom = |name: &[u8]| Some(conn.intern_atom(false, name).ok()?.reply().ok()?.atom);
    let (utf8, property) = (atom(b"UTF8_STRING")?, atom(b"SOS_PASTE")?);
    let clipboard = atom(b"CLIPBOARD")?;
    [clipboard, AtomEnum::PRIMARY.into()]
        .into_iter()
        .find_map(|selection| {
            conn.convert_selection(window, selection, utf8, property, CURRENT_TIME)
                .ok()?;
            conn.flush().ok()?;
            let deadline = Instant::now() + WAIT;
            loop {
                match conn.poll_for_event().ok()? {
                    Some(Event::SelectionNotify(notify)) if notify.selection == selection => {
                        if notify.property == u32::from(AtomEnum::NONE) {
                            return None;
                        }
                        let reply = conn
                            .get_property(true, window, property, AtomEnum::ANY, 0, MAX_BYTES / 4)
                            .ok()?
                            .reply()
                            .ok()?;
                        return String::from_utf8(reply.value).ok();
                    }
                    Some(_) => {}
                    None if Instant::now() >= deadline => return None,
                    None => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        })
}
