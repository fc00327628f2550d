//! What one viewer has yet to receive: a short queue of frames that never holds stale ones
//! for long and never grows without bound.
//!
//! Pacing rule: a viewer holds at most [`MAX_PENDING_FRAMES`] unsent frames and at most
//! [`MAX_PENDING_BYTES`]. A keyframe replaces whatever is pending (nothing before it is
//! needed any more). A P-frame joins the queue: frames that arrive in a burst — after a
//! lost packet held the app's stream up — all reach the viewer and decode. A P-frame that
//! does not fit means the viewer is not keeping up: everything pending is dropped and the
//! viewer waits for the next keyframe. The app is asked for one once the viewer has caught
//! up (its sender found nothing left to send), and only once per wait: a stalled viewer
//! asks for nothing, so it cannot make every viewer of the session pay for a stream of
//! keyframes. A slow or stalled viewer therefore costs the others nothing and holds a
//! bounded buffer.
//!
//! [`Pending`] is the rule without IO or clock; [`FrameSlot`] adds the waiting.

use super::live::Frame;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// Most frames waiting for one viewer: a burst after a loss, not a backlog.
pub const MAX_PENDING_FRAMES: usize = 8;
/// Most bytes waiting for one viewer (a keyframe alone may reach the frame size limit).
pub const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// The unsent frames of one viewer, decided frame by frame.
#[derive(Debug, Default)]
pub struct Pending {
    frames: VecDeque<Frame>,
    bytes: usize,
    waiting_for_key: bool,
    /// While waiting for a keyframe: the viewer's sender found nothing left to send.
    caught_up: bool,
    /// While waiting for a keyframe: the app was asked for one.
    asked: bool,
}

impl Pending {
    /// A viewer that has no picture yet: it starts at a keyframe, which the gateway asks
    /// for when it attaches the viewer.
    pub fn waiting_for_key() -> Self {
        Self {
            waiting_for_key: true,
            asked: true,
            ..Self::default()
        }
    }

    /// Offers a frame; returns true when the app must be asked for a keyframe for this
    /// viewer (it dropped frames, has caught up since, and has not asked yet).
    pub fn offer(&mut self, frame: Frame) -> bool {
        if frame.header.keyframe {
            self.frames.clear();
            self.bytes = frame.payload.len();
            self.frames.push_back(frame);
            self.waiting_for_key = false;
            return false;
        }
        if self.waiting_for_key {
            let ask = self.caught_up && !self.asked;
            self.asked |= ask;
            return ask;
        }
        let fits = self.frames.len() < MAX_PENDING_FRAMES
            && self.bytes + frame.payload.len() <= MAX_PENDING_BYTES;
        if fits {
            self.bytes += frame.payload.len();
            self.frames.push_back(frame);
            false
        } else {
            self.frames.clear();
            self.bytes = 0;
            self.waiting_for_key = true;
            self.caught_up = false;
            self.asked = false;
            false
        }
    }

    /// The oldest unsent frame; none also means the viewer's sender has caught up.
    pub fn take(&mut self) -> Option<Frame> {
        let Some(frame) = self.frames.pop_front() else {
            self.caught_up = true;
            return None;
        };
        self.bytes -= frame.payload.len();
        Some(frame)
    }

    /// Frames and bytes waiting.
    pub fn held(&self) -> (usize, usize) {
        (self.frames.len(), self.bytes)
    }
}

#[derive(Debug, Default)]
struct SlotState {
    pending: Pending,
    closed: bool,
}

/// The unsent frames of one viewer, shared by the relay (offering) and the viewer's sender
/// (waiting for the next).
#[derive(Debug, Default)]
pub struct FrameSlot {
    state: Mutex<SlotState>,
    notify: Notify,
}

impl FrameSlot {
    /// A slot for a viewer that starts at the next keyframe.
    pub fn new_waiting_for_key() -> Self {
        Self {
            state: Mutex::new(SlotState {
                pending: Pending::waiting_for_key(),
                closed: false,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Offers a frame; returns true when the viewer now needs a keyframe.
    pub fn offer(&self, frame: Frame) -> bool {
        let need_key = self.lock().pending.offer(frame);
        self.notify.notify_one();
        need_key
    }

    /// Waits for the next frame to send; None once closed.
    pub async fn next(&self) -> Option<Frame> {
        loop {
            let notified = self.notify.notified();
            {
                let mut st = self.lock();
                if st.closed {
                    return None;
                }
                if let Some(frame) = st.pending.take() {
                    return Some(frame);
                }
            }
            notified.await;
        }
    }

    /// Frames and bytes waiting for this viewer.
    pub fn held(&self) -> (usize, usize) {
        self.lock().pending.held()
    }

    /// Wakes the sender for good.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use bytes::Bytes;
    use sos_transport::wire::FrameHeader;

    fn frame(seq: u64, keyframe: bool, bytes: usize) -> Frame {
        Frame {
            header: FrameHeader {
                seq,
                keyframe,
                width: 2,
                height: 2,
                capture_micros: 0,
            },
            payload: Bytes::from(vec![0_u8; bytes]),
        }
    }

    fn seqs(pending: &mut Pending) -> Vec<u64> {
        std::iter::from_fn(|| pending.take())
            .map(|f| f.header.seq)
            .collect()
    }

    #[tokio::test]
    async fn a_new_viewer_starts_at_a_keyframe() {
        let slot = FrameSlot::new_waiting_for_key();
        assert!(!slot.offer(frame(1, false, 1)));
        assert!(!slot.offer(frame(2, true, 1)));
        assert_eq!(slot.next().await.unwrap().header.seq, 2);
        slot.close();
        assert!(slot.next().await.is_none());
    }

    #[test]
    fn a_burst_after_a_loss_is_delivered_whole_and_in_order() {
        let mut pending = Pending::waiting_for_key();
        pending.offer(frame(1, true, 100));
        for seq in 2..=MAX_PENDING_FRAMES as u64 {
            assert!(!pending.offer(frame(seq, false, 100)));
        }
        assert_eq!(
            seqs(&mut pending),
            (1..=MAX_PENDING_FRAMES as u64).collect::<Vec<_>>()
        );
        assert!(!pending.offer(frame(99, false, 100)), "the chain goes on");
        assert_eq!(seqs(&mut pending), [99]);
    }

    #[test]
    fn a_viewer_that_falls_behind_drops_everything_and_waits_for_a_keyframe() {
        let mut pending = Pending::waiting_for_key();
        pending.offer(frame(1, true, 10));
        for seq in 2..=MAX_PENDING_FRAMES as u64 {
            pending.offer(frame(seq, false, 10));
        }
        assert!(
            !pending.offer(frame(50, false, 10)),
            "not while it is behind"
        );
        assert_eq!(pending.held(), (0, 0), "nothing stale is kept");
        assert!(
            !pending.offer(frame(51, false, 10)),
            "dropped while waiting"
        );
        assert_eq!(pending.held(), (0, 0));
        // Its sender comes for the next frame: it caught up, and one keyframe is asked for.
        assert!(pending.take().is_none());
        assert!(pending.offer(frame(52, false, 10)), "ask for a keyframe");
        assert!(!pending.offer(frame(53, false, 10)), "once");
        pending.offer(frame(54, true, 10));
        pending.offer(frame(55, false, 10));
        assert_eq!(seqs(&mut pending), [54, 55]);
    }

    #[test]
    fn the_bytes_held_are_bounded_too() {
        let mut pending = Pending::waiting_for_key();
        pending.offer(frame(1, true, MAX_PENDING_BYTES - 10));
        pending.offer(frame(2, false, 11));
        assert_eq!(pending.held(), (0, 0), "over the byte bound");
    }

    #[test]
    fn a_keyframe_replaces_what_is_pending() {
        let mut pending = Pending::waiting_for_key();
        pending.offer(frame(1, true, 10));
        pending.offer(frame(2, false, 10));
        pending.offer(frame(3, true, 10));
        assert_eq!(pending.held(), (1, 10));
        assert_eq!(seqs(&mut pending), [3]);
    }

    #[test]
    fn a_stalled_viewer_never_holds_more_than_the_bounds_nor_asks_for_keyframes() {
        // Thousands of frames, nobody taking any: the keyframes other viewers cause restart
        // the chain, the queue never passes its bounds, and this viewer asks for nothing.
        let mut pending = Pending::waiting_for_key();
        let mut requests = 0;
        for seq in 0..10_000_u64 {
            let keyframe = seq % 97 == 0;
            requests +=
                u32::from(pending.offer(frame(seq, keyframe, 1_000 + (seq as usize % 5_000))));
            let (frames, bytes) = pending.held();
            assert!(frames <= MAX_PENDING_FRAMES && bytes <= MAX_PENDING_BYTES);
        }
        assert_eq!(requests, 0);
    }
}
