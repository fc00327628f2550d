//! Which received frames may be decoded and recorded.
//!
//! Contract: pure state, no IO. A frame passes only once the stream is in sync: the first
//! keyframe starts it, a lost or undecodable frame stops it until the next keyframe (so
//! the recording never holds a P-frame whose reference is missing), and a frame older
//! than one already passed is dropped.

use sos_transport::wire::FrameHeader;

/// What to do with a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Decode it (and record it once decoded).
    Decode,
    /// Drop it: waiting for a keyframe.
    DropUntilKeyframe,
    /// Drop it: older than a frame already passed.
    DropStale,
}

/// Keeps the frame stream decodable.
#[derive(Debug, Clone, Default)]
pub struct FrameGate {
    in_sync: bool,
    last_seq: Option<u64>,
}

impl FrameGate {
    /// A gate waiting for its first keyframe.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides about a frame with this header.
    pub fn admit(&mut self, header: &FrameHeader) -> Admission {
        if self.last_seq.is_some_and(|last| header.seq <= last) {
            return Admission::DropStale;
        }
        if !self.in_sync {
            if !header.keyframe {
                return Admission::DropUntilKeyframe;
            }
            self.in_sync = true;
        }
        self.last_seq = Some(header.seq);
        Admission::Decode
    }

    /// A frame was lost or did not decode: wait for the next keyframe. Returns `true` when
    /// the stream was in sync until now, i.e. when a keyframe should be asked for (once per
    /// loss, not once per dropped frame).
    pub fn lose_sync(&mut self) -> bool {
        std::mem::replace(&mut self.in_sync, false)
    }

    /// Whether frames are passing.
    pub fn in_sync(&self) -> bool {
        self.in_sync
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, keyframe: bool) -> FrameHeader {
        FrameHeader {
            seq,
            keyframe,
            width: 64,
            height: 64,
            capture_micros: 0,
        }
    }

    #[test]
    fn p_frames_before_the_first_keyframe_are_dropped() {
        let mut gate = FrameGate::new();
        assert_eq!(gate.admit(&frame(1, false)), Admission::DropUntilKeyframe);
        assert_eq!(gate.admit(&frame(2, false)), Admission::DropUntilKeyframe);
        assert_eq!(gate.admit(&frame(3, true)), Admission::Decode);
        assert_eq!(gate.admit(&frame(4, false)), Admission::Decode);
        assert!(gate.in_sync());
    }

    #[test]
    fn a_loss_waits_for_the_next_keyframe_and_asks_once() {
        let mut gate = FrameGate::new();
        gate.admit(&frame(1, true));
        assert!(gate.lose_sync());
        assert!(!gate.lose_sync(), "one request per loss");
        assert_eq!(gate.admit(&frame(3, false)), Admission::DropUntilKeyframe);
        assert_eq!(gate.admit(&frame(4, true)), Admission::Decode);
        assert_eq!(gate.admit(&frame(5, false)), Admission::Decode);
    }

    #[test]
    fn old_frames_are_stale() {
        let mut gate = FrameGate::new();
        gate.admit(&frame(10, true));
        assert_eq!(gate.admit(&frame(10, false)), Admission::DropStale);
        assert_eq!(gate.admit(&frame(9, true)), Admission::DropStale);
        assert_eq!(gate.admit(&frame(12, false)), Admission::Decode);
    }
}
