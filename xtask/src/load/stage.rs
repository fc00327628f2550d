//! What every synthetic agent and viewer of a load run shares: the run's clock, the
//! measuring window, the phase the run is in, and the bytes frames are cut from.
//!
//! Agents and viewers live in the same process, so one monotonic clock stamps a frame when
//! its agent starts sending it and again when a viewer has read its last byte: the
//! difference is the time the frame spent crossing the gateway, without any clock skew.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::watch;

/// Where the run is; agents and viewers watch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Registering, granting, attaching, warming up.
    Setup,
    /// The measuring window: stalled viewers stop reading now.
    Measuring,
    /// The window closed; frames sent in it are still arriving.
    Draining,
    /// Everything stops.
    Stop,
}

/// The sizes of the synthetic frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameShape {
    /// Frames a second each streaming agent sends.
    pub fps: u32,
    /// Smallest P-frame, bytes.
    pub min_bytes: usize,
    /// Largest P-frame, bytes.
    pub max_bytes: usize,
    /// A keyframe (the first frame, and the answer to a keyframe request), bytes.
    pub keyframe_bytes: usize,
}

/// The state shared by the whole run.
#[derive(Debug)]
pub struct Stage {
    origin: Instant,
    window_start: AtomicU64,
    window_end: AtomicU64,
    phase: watch::Sender<Phase>,
    /// The slowest trip of the frames sent in each second of the window, microseconds.
    worst: Box<[AtomicU64]>,
    /// The frames' sizes.
    pub shape: FrameShape,
    /// Bytes every frame's payload is a slice of (shared, never copied per frame).
    pub payload: Bytes,
}

impl Stage {
    /// A run starting now, in [`Phase::Setup`], with a window of about `seconds`.
    pub fn new(shape: FrameShape, seconds: u64) -> Self {
        let largest = shape.keyframe_bytes.max(shape.max_bytes);
        Self {
            origin: Instant::now(),
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
            phase: watch::Sender::new(Phase::Setup),
            // A spare second: the window closes a little after its last full second.
            worst: (0..=seconds).map(|_| AtomicU64::new(0)).collect(),
            shape,
            payload: noise(largest),
        }
    }

    /// Microseconds since the run started (monotonic).
    pub fn micros(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    /// Opens the measuring window now and tells everyone.
    pub fn open_window(&self) {
        self.window_start.store(self.micros(), Ordering::SeqCst);
        self.phase.send_replace(Phase::Measuring);
    }

    /// Closes the measuring window now; frames sent in it may still arrive.
    pub fn close_window(&self) {
        self.window_end.store(self.micros(), Ordering::SeqCst);
        self.phase.send_replace(Phase::Draining);
    }

    /// Tells every agent and viewer to stop.
    pub fn stop(&self) {
        self.phase.send_replace(Phase::Stop);
    }

    /// Whether a frame sent at `micros` is measured.
    pub fn in_window(&self, micros: u64) -> bool {
        in_window(
            micros,
            self.window_start.load(Ordering::Relaxed),
            self.window_end.load(Ordering::Relaxed),
        )
    }

    /// Notes the trip of a frame sent at `sent` in the window (for the per-second worst).
    pub fn note_trip(&self, sent: u64, trip: u64) {
        let start = self.window_start.load(Ordering::Relaxed);
        let second = (sent.saturating_sub(start) / 1_000_000) as usize;
        if let Some(worst) = self.worst.get(second) {
            worst.fetch_max(trip, Ordering::Relaxed);
        }
    }

    /// The slowest trip of the frames sent in the window's `second` (0-based), if any
    /// arrived.
    pub fn worst_trip(&self, second: usize) -> Option<u64> {
        self.worst
            .get(second)
            .map(|worst| worst.load(Ordering::Relaxed))
            .filter(|micros| *micros > 0)
    }

    /// The window's length in seconds, once closed.
    pub fn window_seconds(&self) -> f64 {
        let start = self.window_start.load(Ordering::SeqCst);
        let end = self.window_end.load(Ordering::SeqCst);
        end.saturating_sub(start) as f64 / 1e6
    }

    /// Seconds since the window opened (0 before).
    pub fn window_seconds_so_far(&self) -> f64 {
        let start = self.window_start.load(Ordering::SeqCst);
        self.micros().saturating_sub(start) as f64 / 1e6
    }

    /// Follows the phase.
    pub fn phase(&self) -> watch::Receiver<Phase> {
        self.phase.subscribe()
    }
}

/// `start <= micros < end`; an unopened window (start at `u64::MAX`) holds nothing.
fn in_window(micros: u64, start: u64, end: u64) -> bool {
    start <= micros && micros < end
}

/// `len` bytes of deterministic noise (frame payloads are opaque to the relay, but zeros
/// would flatter any layer that compresses).
fn noise(len: usize) -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut bytes = Vec::with_capacity(len);
    while bytes.len() < len {
        state = xorshift(state);
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    Bytes::from(bytes)
}

/// One step of xorshift64 (never returns 0 for a non-zero state).
pub fn xorshift(mut state: u64) -> u64 {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_what_was_sent_while_it_was_open() {
        assert!(!in_window(5, u64::MAX, u64::MAX), "not opened yet");
        assert!(in_window(5, 5, u64::MAX), "open");
        assert!(in_window(9, 5, 10));
        assert!(!in_window(10, 5, 10), "closed at 10");
        assert!(!in_window(4, 5, 10));
    }

    #[test]
    fn phases_are_announced_in_order() {
        let stage = Stage::new(
            FrameShape {
                fps: 30,
                min_bytes: 10,
                max_bytes: 20,
                keyframe_bytes: 100,
            },
            2,
        );
        let phase = stage.phase();
        assert_eq!(*phase.borrow(), Phase::Setup);
        assert!(!stage.in_window(stage.micros()));
        stage.open_window();
        assert!(stage.in_window(stage.micros()));
        let now = stage.micros();
        stage.note_trip(now, 700);
        stage.note_trip(now, 500);
        stage.note_trip(now + 1_000_000, 900);
        stage.note_trip(now + 9_000_000, 900);
        assert_eq!(stage.worst_trip(0), Some(700));
        assert_eq!(stage.worst_trip(1), Some(900));
        assert_eq!(stage.worst_trip(2), None);
        assert_eq!(stage.worst_trip(9), None, "beyond the window: ignored");
        assert_eq!(*phase.borrow(), Phase::Measuring);
        stage.close_window();
        assert!(!stage.in_window(stage.micros() + 1));
        assert_eq!(*phase.borrow(), Phase::Draining);
        assert!(stage.window_seconds() >= 0.0);
        stage.stop();
        assert_eq!(*phase.borrow(), Phase::Stop);
        assert_eq!(stage.payload.len(), 100);
    }
}
