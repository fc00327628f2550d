//! Registry of live connections: which session has its app connected, who watches, and
//! the per-viewer frame slot that never queues stale frames.
//!
//! Pacing rule: each viewer holds at most one unsent frame. A newer frame replaces it; if
//! the replaced frame was not a keyframe the viewer's picture chain is broken, so it drops
//! frames until the next keyframe and the agent is asked for one. A slow viewer therefore
//! costs the others nothing.

use bytes::Bytes;
use sos_transport::wire::{DisplayInfo, EndReason, FrameHeader, Refusal, ToAgent, ToViewer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, mpsc};

/// Most technicians watching one session.
pub const MAX_VIEWERS: usize = 3;

/// One encoded frame as relayed.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Its header.
    pub header: FrameHeader,
    /// Annex-B bytes, shared between viewers.
    pub payload: Bytes,
}

#[derive(Debug, Default)]
struct SlotState {
    pending: Option<Frame>,
    waiting_for_key: bool,
    closed: bool,
}

/// The latest unsent frame of one viewer.
#[derive(Debug, Default)]
pub struct FrameSlot {
    state: Mutex<SlotState>,
    notify: Notify,
}

impl FrameSlot {
    fn new_waiting_for_key() -> Self {
        Self {
            state: Mutex::new(SlotState {
                waiting_for_key: true,
                ..SlotState::default()
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Offers a frame; returns true when the viewer now needs a keyframe.
    pub fn offer(&self, frame: Frame) -> bool {
        let mut st = self.lock();
        let mut need_key = false;
        if frame.header.keyframe {
            st.waiting_for_key = false;
            st.pending = Some(frame);
        } else if st.waiting_for_key {
            return false;
        } else if st.pending.take().is_some() {
            st.waiting_for_key = true;
            need_key = true;
        } else {
            st.pending = Some(frame);
        }
        drop(st);
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

    /// Wakes the sender for good.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }
}

/// The connected app of a session.
#[derive(Debug)]
pub struct AgentHandle {
    /// Control messages to it.
    pub tx: mpsc::Sender<ToAgent>,
    /// Its connection's stable id.
    pub connection_id: usize,
    /// The screen it shares.
    pub display: DisplayInfo,
}

/// One attached technician connection.
#[derive(Debug)]
pub struct ViewerHandle {
    /// Control messages to it.
    pub tx: mpsc::Sender<ToViewer>,
    /// Whether it receives video.
    pub watch: bool,
    /// Its frame slot.
    pub slot: Arc<FrameSlot>,
}

#[derive(Debug)]
struct LiveSession {
    agent: AgentHandle,
    viewers: HashMap<u32, ViewerHandle>,
    grant: Option<bool>,
}

/// All live sessions of this gateway.
#[derive(Debug, Default)]
pub struct Live {
    sessions: Mutex<HashMap<String, LiveSession>>,
    next_viewer: AtomicU32,
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, LiveSession>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the session's app is connected.
    pub fn agent_online(&self, id: &str) -> bool {
        self.lock().contains_key(id)
    }

    /// Binds an app connection to a session; false if one is bound already.
    pub fn attach_agent(&self, id: &str, agent: AgentHandle) -> bool {
        let mut map = self.lock();
        if map.contains_key(id) {
            return false;
        }
        map.insert(
            id.to_string(),
            LiveSession {
                agent,
                viewers: HashMap::new(),
                grant: None,
            },
        );
        true
    }

    /// Unbinds the app connection `connection_id` (if it is still the bound one) and tells
    /// the viewers why. Returns whether it was bound.
    pub fn detach_agent(&self, id: &str, connection_id: usize, reason: EndReason) -> bool {
        let mut map = self.lock();
        if map.get(id).map(|s| s.agent.connection_id) != Some(connection_id) {
            return false;
        }
        if let Some(session) = map.remove(id) {
            end_viewers(session, reason);
        }
        true
    }

    /// Sends a control message to the session's app, if connected. Never blocks: a full
    /// queue means the app is not reading, and the message is dropped.
    pub fn to_agent(&self, id: &str, message: ToAgent) {
        if let Some(s) = self.lock().get(id)
            && s.agent.tx.try_send(message).is_err()
        {
            tracing::warn!(session = id, "agent control queue full; message dropped");
        }
    }

    /// Records the end user's answer: `Some(control)` granted, `None` not granted.
    pub fn set_grant(&self, id: &str, grant: Option<bool>) {
        if let Some(s) = self.lock().get_mut(id) {
            s.grant = grant;
        }
    }

    /// The current grant: `Some(control)` when access is granted.
    pub fn grant(&self, id: &str) -> Option<bool> {
        self.lock().get(id).and_then(|s| s.grant)
    }

    /// Attaches a viewer; returns its id, the shared display and whether control is granted.
    pub fn attach_viewer(
        &self,
        id: &str,
        watch: bool,
        tx: mpsc::Sender<ToViewer>,
    ) -> Result<(u32, DisplayInfo, bool, Arc<FrameSlot>), Refusal> {
        let mut map = self.lock();
        let session = map.get_mut(id).ok_or(Refusal::AgentOffline)?;
        let control = session.grant.ok_or(Refusal::ConsentNotGranted)?;
        let watchers = session.viewers.values().filter(|v| v.watch).count();
        if watch && watchers >= MAX_VIEWERS {
            return Err(Refusal::TooManyViewers);
        }
        let viewer = self.next_viewer.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(FrameSlot::new_waiting_for_key());
        session.viewers.insert(
            viewer,
            ViewerHandle {
                tx,
                watch,
                slot: slot.clone(),
            },
        );
        if watch {
            if watchers == 0 {
                let _ = session.agent.tx.try_send(ToAgent::StartStream);
            }
            let _ = session.agent.tx.try_send(ToAgent::KeyframeRequest);
        }
        Ok((viewer, session.agent.display, control, slot))
    }

    /// Detaches a viewer; the app stops streaming when nobody watches.
    pub fn detach_viewer(&self, id: &str, viewer: u32) {
        let mut map = self.lock();
        let Some(session) = map.get_mut(id) else {
            return;
        };
        if let Some(v) = session.viewers.remove(&viewer) {
            v.slot.close();
            // Whatever that technician held down is released on the end user's machine.
            let _ = session.agent.tx.try_send(ToAgent::ViewerLeft { viewer });
            if v.watch && !session.viewers.values().any(|v| v.watch) {
                let _ = session.agent.tx.try_send(ToAgent::StopStream);
            }
        }
    }

    /// Sends a message to one viewer.
    pub fn to_viewer(&self, id: &str, viewer: u32, message: ToViewer) {
        if let Some(v) = self.lock().get(id).and_then(|s| s.viewers.get(&viewer)) {
            let _ = v.tx.try_send(message);
        }
    }

    /// Hands a frame to every watching viewer (only while access is granted).
    pub fn publish_frame(&self, id: &str, frame: &Frame) {
        let map = self.lock();
        let Some(session) = map.get(id) else {
            return;
        };
        if session.grant.is_none() {
            return;
        }
        let mut need_key = false;
        for v in session.viewers.values().filter(|v| v.watch) {
            need_key |= v.slot.offer(frame.clone());
        }
        if need_key {
            let _ = session.agent.tx.try_send(ToAgent::KeyframeRequest);
        }
    }

    /// Ends a live session: tells the app and every viewer why, and forgets it.
    pub fn end(&self, id: &str, reason: EndReason) {
        if let Some(session) = self.lock().remove(id) {
            let _ = session.agent.tx.try_send(ToAgent::End(reason));
            end_viewers(session, reason);
        }
    }

    /// Ends the viewers of a session (reassigned or released) and withdraws the grant;
    /// the app stays connected and stops streaming.
    pub fn end_viewers(&self, id: &str, reason: EndReason) {
        let mut map = self.lock();
        let Some(session) = map.get_mut(id) else {
            return;
        };
        session.grant = None;
        let had_watchers = session.viewers.values().any(|v| v.watch);
        for (viewer, v) in session.viewers.drain() {
            v.slot.close();
            let _ = v.tx.try_send(ToViewer::End(reason));
            let _ = session.agent.tx.try_send(ToAgent::ViewerLeft { viewer });
        }
        if had_watchers {
            let _ = session.agent.tx.try_send(ToAgent::StopStream);
        }
    }

    /// Number of connected apps.
    pub fn agents(&self) -> usize {
        self.lock().len()
    }

    /// Ends every live session (gateway shutdown).
    pub fn end_all(&self, reason: EndReason) {
        let ids: Vec<String> = self.lock().keys().cloned().collect();
        for id in ids {
            self.end(&id, reason);
        }
    }
}

fn end_viewers(session: LiveSession, reason: EndReason) {
    for v in session.viewers.into_values() {
        v.slot.close();
        let _ = v.tx.try_send(ToViewer::End(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, keyframe: bool) -> Frame {
        Frame {
            header: FrameHeader {
                seq,
                keyframe,
                width: 2,
                height: 2,
                capture_micros: 0,
            },
            payload: Bytes::from_static(b"x"),
        }
    }

    #[tokio::test]
    async fn a_new_viewer_starts_at_a_keyframe() {
        let slot = FrameSlot::new_waiting_for_key();
        assert!(!slot.offer(frame(1, false)));
        assert!(!slot.offer(frame(2, true)));
        assert_eq!(slot.next().await.unwrap().header.seq, 2);
    }

    #[tokio::test]
    async fn a_superseded_frame_is_never_sent_and_a_keyframe_is_asked_for() {
        let slot = FrameSlot::new_waiting_for_key();
        slot.offer(frame(1, true));
        assert!(
            slot.offer(frame(2, false)),
            "chain broken: ask for a keyframe"
        );
        assert!(!slot.offer(frame(3, false)), "dropped while waiting");
        slot.offer(frame(4, true));
        assert_eq!(slot.next().await.unwrap().header.seq, 4);
        slot.close();
        assert!(slot.next().await.is_none());
    }

    #[tokio::test]
    async fn at_most_three_watchers_and_only_after_grant() {
        let live = Live::default();
        let (tx, mut agent_rx) = mpsc::channel(16);
        let display = DisplayInfo {
            index: 0,
            width: 4,
            height: 4,
            primary: true,
        };
        assert!(live.attach_agent(
            "s",
            AgentHandle {
                tx,
                connection_id: 1,
                display
            }
        ));
        let (vtx, _vrx) = mpsc::channel(4);
        assert_eq!(
            live.attach_viewer("s", true, vtx.clone()).unwrap_err(),
            Refusal::ConsentNotGranted
        );
        live.set_grant("s", Some(true));
        for _ in 0..3 {
            live.attach_viewer("s", true, vtx.clone()).unwrap();
        }
        assert_eq!(
            live.attach_viewer("s", true, vtx.clone()).unwrap_err(),
            Refusal::TooManyViewers
        );
        assert!(
            live.attach_viewer("s", false, vtx).is_ok(),
            "input-only clients do not count"
        );
        assert_eq!(agent_rx.recv().await, Some(ToAgent::StartStream));
    }
}
