//! Screen change notifications from the X DAMAGE extension, so the capture loop sleeps while
//! nothing is drawn and wakes as soon as something is.
//!
//! Contract: a connection and a thread of its own. The thread blocks on the X connection;
//! each time the root window is drawn to it clears the damage (so the next drawing is
//! reported again) and sends one wake-up; [`DamageWatch::wait`] folds the wake-ups that
//! arrived since the last call into one answer. No drawing is missed: the damage is cleared
//! before the capture that follows the wake-up, so anything drawn after the clear reports
//! anew. Dropping the watch stops the thread (it wakes it with a message to its own window).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::damage::{ConnectionExt as _, ReportLevel};
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{
    ClientMessageEvent, ConnectionExt as _, CreateWindowAux, EventMask, WindowClass,
};
use x11rb::rust_connection::RustConnection;

/// Watches the root window of `$DISPLAY` for drawing.
pub struct DamageWatch {
    conn: Arc<RustConnection>,
    /// Our own window, where the stop message goes.
    window: u32,
    wakes: mpsc::Receiver<()>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DamageWatch {
    /// Starts watching; fails when there is no X server or it lacks DAMAGE.
    pub fn open() -> Result<Self, String> {
        let x = |e: &dyn std::fmt::Display| e.to_string();
        let (conn, screen) = x11rb::connect(None).map_err(|e| x(&e))?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .ok_or("no default screen")?
            .root;
        // DAMAGE needs XFIXES to be initialised first.
        conn.xfixes_query_version(5, 0)
            .map_err(|e| x(&e))?
            .reply()
            .map_err(|e| x(&e))?;
        conn.damage_query_version(1, 1)
            .map_err(|e| x(&e))?
            .reply()
            .map_err(|e| x(&e))?;
        let damage = conn.generate_id().map_err(|e| x(&e))?;
        conn.damage_create(damage, root, ReportLevel::NON_EMPTY)
            .map_err(|e| x(&e))?;
        let window = conn.generate_id().map_err(|e| x(&e))?;
        conn.create_window(
            0,
            window,
            root,
            -1,
            -1,
            1,
            1,
            0,
            WindowClass::INPUT_ONLY,
            0,
            &CreateWindowAux::new().event_mask(EventMask::NO_EVENT),
        )
        .map_err(|e| x(&e))?;
        conn.flush().map_err(|e| x(&e))?;
        let conn = Arc::new(conn);
        let (tx, wakes) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("sos-damage".into())
            .spawn({
                let conn = conn.clone();
                let stop = stop.clone();
                move || watch(&conn, damage, &tx, &stop)
            })
            .map_err(|e| x(&e))?;
        Ok(Self {
            conn,
            window,
            wakes,
            stop,
            thread: Some(thread),
        })
    }

    /// Whether something was drawn since the last call, waiting for it until `deadline`.
    /// True also when the watch broke (then every poll must capture).
    pub fn wait(&mut self, deadline: Instant) -> bool {
        let mut drawn = false;
        loop {
            match self.wakes.try_recv() {
                Ok(()) => drawn = true,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return true,
            }
        }
        if drawn {
            return true;
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        match self.wakes.recv_timeout(timeout) {
            Ok(()) => true,
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        }
    }
}

impl Drop for DamageWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let wake = ClientMessageEvent::new(32, self.window, 0u32, [0u32; 5]);
        let sent = self
            .conn
            .send_event(false, self.window, EventMask::NO_EVENT, wake)
            .and_then(|_| self.conn.flush());
        if let (Ok(()), Some(thread)) = (sent, self.thread.take()) {
            let _ = thread.join();
        }
    }
}

/// The thread: clears each damage report and passes a wake-up on, until stopped.
fn watch(conn: &RustConnection, damage: u32, wakes: &mpsc::Sender<()>, stop: &AtomicBool) {
    loop {
        let event = match conn.wait_for_event() {
            Ok(event) => event,
            Err(error) => {
                tracing::debug!(%error, "the damage watch lost the X connection");
                return;
            }
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if let Event::DamageNotify(_) = event {
            let cleared = conn
                .damage_subtract(damage, x11rb::NONE, x11rb::NONE)
                .and_then(|_| conn.flush());
            if cleared.is_err() || wakes.send(()).is_err() {
                return;
            }
        }
    }
}

impl std::fmt::Debug for DamageWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DamageWatch").finish_non_exhaustive()
    }
}
