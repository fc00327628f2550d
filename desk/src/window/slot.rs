//! The hand-over of decoded pictures from the decoding thread to the window: one slot, no
//! queue.
//!
//! Contract: the slot holds at most one picture, the newest; a picture the window has not
//! taken yet is replaced by the next one, so the window never shows a frame after a newer
//! one and never falls behind. The window is woken once per empty-to-full change, not once
//! per frame.

use crate::view::sink::{FrameFacts, FrameOutput};
use sos_codec::DecodedFrame;
use std::sync::{Arc, Mutex, PoisonError};

/// A decoded picture and what is known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The pixels.
    pub frame: DecodedFrame,
    /// Sequence number, latency, bytes.
    pub facts: FrameFacts,
}

/// The newest decoded picture not yet taken by the window.
#[derive(Debug, Default)]
pub struct FrameSlot {
    latest: Mutex<Option<Shown>>,
}

impl FrameSlot {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts a picture in, replacing an older one not yet taken (a picture older than the
    /// one waiting is dropped instead). Returns `true` when the slot was empty, i.e. when the
    /// window must be woken.
    pub fn put(&self, shown: Shown) -> bool {
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let was_empty = latest.is_none();
        if latest
            .as_ref()
            .is_none_or(|waiting| waiting.facts.seq < shown.facts.seq)
        {
            *latest = Some(shown);
        }
        was_empty
    }

    /// Takes the waiting picture, if any.
    pub fn take(&self) -> Option<Shown> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// A decoding-thread output that puts every picture in `slot` and calls `wake` when the
/// window has to look.
pub fn output(slot: Arc<FrameSlot>, wake: impl Fn() + Send + 'static) -> FrameOutput {
    FrameOutput::new(move |frame, facts| {
        if slot.put(Shown { frame, facts }) {
            wake();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    fn shown(seq: u64) -> Shown {
        Shown {
            frame: DecodedFrame {
                width: 1,
                height: 1,
                bgra: vec![seq as u8, 0, 0, 255],
            },
            facts: FrameFacts {
                seq,
                latency_ms: 1.0,
                bytes_total: seq * 10,
                decoded_at: Instant::now(),
            },
        }
    }

    #[test]
    fn a_late_picture_is_replaced_never_queued() {
        let slot = FrameSlot::new();
        assert!(slot.put(shown(1)), "empty slot: wake the window");
        assert!(!slot.put(shown(2)), "already woken");
        assert!(!slot.put(shown(3)));
        assert_eq!(slot.take().unwrap().facts.seq, 3);
        assert_eq!(slot.take(), None);
        assert!(slot.put(shown(4)));
        // An older picture never replaces a newer one.
        slot.put(shown(2));
        assert_eq!(slot.take().unwrap().facts.seq, 4);
    }

    #[test]
    fn the_output_wakes_once_per_waiting_picture() {
        let slot = Arc::new(FrameSlot::new());
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let mut out = output(slot.clone(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        for seq in 1..=3 {
            let Shown { frame, facts } = shown(seq);
            out.show(frame, facts);
        }
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(slot.take().unwrap().frame.bgra[0], 3);
        let Shown { frame, facts } = shown(4);
        out.show(frame, facts);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }
}
