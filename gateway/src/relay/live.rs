//! Registry of live connections: which session has its app connected, who watches, and
//! each viewer's [`FrameSlot`] (its pacing rule is in [`super::slot`]).
//!
//! Control rule: one technician at a time has the mouse and keyboard. The first to send
//! input while nobody controls takes it; another takes it over only on purpose
//! ([`Live::take_control`]), and the agent then releases whatever the previous one held.
//! Every viewer is told who is on the session and who controls on each change.
//!
//! Comeback rule: an app that loses its connection without stopping leaves its session
//! *away*: grant, viewers and control stay for the resume window. Its one-time ticket
//! (only the hash is kept) brings it back on a new connection: with the grant kept when
//! the app offers to keep it, afresh otherwise. A PIN registration ends an away session
//! first; the window's end does too.

use bytes::Bytes;
use sos_transport::wire::{
    DisplayInfo, EndReason, FrameHeader, InputEvent, InputOutcome, MonitorInfo, Participant,
    Refusal, ToAgent, ToViewer,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot};

pub use super::slot::FrameSlot;

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

/// The connected app of a session.
#[derive(Debug)]
pub struct AgentHandle {
    /// Control messages to it.
    pub tx: mpsc::Sender<ToAgent>,
    /// Its connection's stable id.
    pub connection_id: usize,
    /// The screen it shares.
    pub display: DisplayInfo,
    /// The monitors of its desktop, left to right.
    pub monitors: Vec<MonitorInfo>,
    /// Told when the app came back on another connection, so this one is let go.
    pub replaced: Option<oneshot::Sender<()>>,
}

/// How an app came back with its ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comeback {
    /// The session it belongs to.
    pub session: String,
    /// Whether the end user's grant (and with it the viewers) was kept.
    pub kept: bool,
}

/// The technician behind a viewer connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technician {
    /// User id.
    pub id: i64,
    /// Display name shown to the other technicians.
    pub name: String,
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
    /// Who it belongs to.
    pub technician: Technician,
}

#[derive(Debug)]
struct LiveSession {
    agent: AgentHandle,
    viewers: HashMap<u32, ViewerHandle>,
    grant: Option<bool>,
    /// User id of the technician with the mouse and keyboard.
    controller: Option<i64>,
    /// SHA-256 of the app's one-time comeback ticket.
    ticket: Option<[u8; 32]>,
    /// The app's connection is lost; the session waits for it to come back.
    away: bool,
}

impl LiveSession {
    fn technician_of(&self, viewer: u32) -> Option<&Technician> {
        self.viewers.get(&viewer).map(|v| &v.technician)
    }

    /// Tells every viewer who is on the session (each technician once, in joining order of
    /// their first connection) and who controls.
    fn announce_participants(&self) {
        let mut order: Vec<(u32, &Technician)> = self
            .viewers
            .iter()
            .map(|(id, v)| (*id, &v.technician))
            .collect();
        order.sort_by_key(|(id, _)| *id);
        let mut technicians: Vec<&Technician> = Vec::new();
        for (_, technician) in order {
            if !technicians.iter().any(|t| t.id == technician.id) {
                technicians.push(technician);
            }
        }
        for v in self.viewers.values() {
            let list = technicians
                .iter()
                .map(|t| Participant {
                    name: t.name.clone(),
                    you: t.id == v.technician.id,
                    controlling: self.controller == Some(t.id),
                })
                .collect();
            let _ = v.tx.try_send(ToViewer::Participants(list));
        }
    }

    fn screen(&self) -> ToViewer {
        ToViewer::Screen {
            monitors: self.agent.monitors.clone(),
            display: self.agent.display,
        }
    }

    /// Whether the technician may steer the session (control, monitor choice): they hold
    /// control, or nobody does.
    fn may_steer(&self, technician: i64) -> bool {
        self.controller.is_none_or(|c| c == technician)
    }
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

    /// Whether the session's app lost its connection and the session waits for it.
    pub fn is_away(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|s| s.away)
    }

    /// Whether the session's app is connected (or the gateway has not noticed its loss).
    pub fn agent_online(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|s| !s.away)
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
                controller: None,
                ticket: None,
                away: false,
            },
        );
        true
    }

    /// Sets the comeback ticket (its SHA-256) of the app bound by `connection_id`,
    /// replacing any earlier one.
    pub fn set_ticket(&self, id: &str, connection_id: usize, ticket: [u8; 32]) {
        if let Some(s) = self.lock().get_mut(id)
            && s.agent.connection_id == connection_id
        {
            s.ticket = Some(ticket);
        }
    }

    /// The app bound by `connection_id` lost its connection: the session waits for it
    /// for `window`, and the viewers are told. Returns whether it was the bound one.
    pub fn agent_away(&self, id: &str, connection_id: usize, window: std::time::Duration) -> bool {
        match self.lock().get_mut(id) {
            Some(s) if s.agent.connection_id == connection_id => {
                s.away = true;
                let window_secs = u32::try_from(window.as_secs()).unwrap_or(u32::MAX);
                if window_secs > 0 {
                    for v in s.viewers.values() {
                        let _ = v.tx.try_send(ToViewer::AgentAway { window_secs });
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// Ends a session whose app is away, before a PIN registration binds a new one; tells
    /// the viewers why. Returns whether it was away.
    pub fn end_away(&self, id: &str) -> bool {
        let mut map = self.lock();
        if !map.get(id).is_some_and(|s| s.away) {
            return false;
        }
        if let Some(session) = map.remove(id) {
            end_viewers(session, EndReason::AgentDisconnected);
        }
        true
    }

    /// Binds the app that came back with the ticket whose SHA-256 is `ticket` (used up
    /// whatever the outcome; `next` is its successor), replacing its old connection, away
    /// or not. With `keep_consent` and a grant in force, the grant, the viewers and control
    /// stay and the stream resumes; otherwise they end and the app starts afresh. The app
    /// is told first, with `registered(session, kept)`, before anything else reaches it.
    /// An unknown ticket gives the handle back.
    pub fn come_back(
        &self,
        ticket: &[u8; 32],
        next: [u8; 32],
        mut agent: AgentHandle,
        keep_consent: bool,
        registered: impl FnOnce(&str, bool) -> ToAgent,
    ) -> Result<Comeback, AgentHandle> {
        let mut map = self.lock();
        let Some((id, session)) = map
            .iter_mut()
            .find(|(_, s)| s.ticket.as_ref() == Some(ticket))
        else {
            return Err(agent);
        };
        session.ticket = Some(next);
        session.away = false;
        if let Some(replaced) = session.agent.replaced.take() {
            let _ = replaced.send(());
        }
        // The new connection keeps what the app told about its screen this time.
        std::mem::swap(&mut session.agent, &mut agent);
        let kept = keep_consent && session.grant.is_some();
        let _ = session.agent.tx.try_send(registered(id, kept));
        if kept {
            for v in session.viewers.values() {
                let _ = v.tx.try_send(ToViewer::AgentBack);
            }
            if session.viewers.values().any(|v| v.watch) {
                // A new stream starts with a keyframe: no need to ask for one.
                let _ = session.agent.tx.try_send(ToAgent::StartStream);
            }
            let screen = session.screen();
            for v in session.viewers.values() {
                let _ = v.tx.try_send(screen.clone());
            }
        } else {
            session.grant = None;
            session.controller = None;
            for (_, v) in session.viewers.drain() {
                v.slot.close();
                let _ = v.tx.try_send(ToViewer::End(EndReason::AgentDisconnected));
            }
        }
        Ok(Comeback {
            session: id.clone(),
            kept,
        })
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
            && !s.away
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

    /// Attaches a viewer and queues its first messages (`Accepted`, the screen, who is on
    /// the session); returns its id and frame slot.
    pub fn attach_viewer(
        &self,
        id: &str,
        watch: bool,
        technician: Technician,
        tx: mpsc::Sender<ToViewer>,
    ) -> Result<(u32, Arc<FrameSlot>), Refusal> {
        let mut map = self.lock();
        let session = map.get_mut(id).ok_or(Refusal::AgentOffline)?;
        let control = session.grant.ok_or(Refusal::ConsentNotGranted)?;
        let watchers = session.viewers.values().filter(|v| v.watch).count();
        if watch && watchers >= MAX_VIEWERS {
            return Err(Refusal::TooManyViewers);
        }
        let viewer = self.next_viewer.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(FrameSlot::new_waiting_for_key());
        // A fresh queue: these fit, and they come before anything else.
        let _ = tx.try_send(ToViewer::Accepted {
            display: session.agent.display,
            control,
        });
        let _ = tx.try_send(session.screen());
        session.viewers.insert(
            viewer,
            ViewerHandle {
                tx,
                watch,
                slot: slot.clone(),
                technician,
            },
        );
        session.announce_participants();
        if watch {
            // The first watcher starts the stream, which begins with a keyframe; a later
            // one needs a keyframe of the running stream.
            let _ = session.agent.tx.try_send(if watchers == 0 {
                ToAgent::StartStream
            } else {
                ToAgent::KeyframeRequest
            });
        }
        Ok((viewer, slot))
    }

    /// Detaches a viewer; the app stops streaming when nobody watches. Control is free
    /// again once its technician has no connection left.
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
            let gone = !session
                .viewers
                .values()
                .any(|o| o.technician.id == v.technician.id);
            if gone && session.controller == Some(v.technician.id) {
                session.controller = None;
            }
            session.announce_participants();
        }
    }

    /// Passes one input event of a viewer to the app, if the end user allowed control and
    /// the viewer's technician controls (or nobody does: then they take control). Otherwise
    /// returns why it was dropped.
    pub fn input(
        &self,
        id: &str,
        viewer: u32,
        seq: u64,
        event: InputEvent,
    ) -> Result<(), InputOutcome> {
        let mut map = self.lock();
        let session = map.get_mut(id).ok_or(InputOutcome::NoControl)?;
        if session.grant != Some(true) || session.away {
            return Err(InputOutcome::NoControl);
        }
        let technician = session
            .technician_of(viewer)
            .ok_or(InputOutcome::NoControl)?
            .id;
        match session.controller {
            Some(c) if c != technician => return Err(InputOutcome::NotController),
            Some(_) => {}
            None => {
                session.controller = Some(technician);
                session.announce_participants();
            }
        }
        if session
            .agent
            .tx
            .try_send(ToAgent::Input { viewer, seq, event })
            .is_err()
        {
            tracing::warn!(session = id, "agent control queue full; input dropped");
        }
        Ok(())
    }

    /// The viewer's technician takes the mouse and keyboard (hand-over). The app releases
    /// whatever the previous controller held; everyone is told.
    pub fn take_control(&self, id: &str, viewer: u32) {
        let mut map = self.lock();
        let Some(session) = map.get_mut(id) else {
            return;
        };
        let Some(technician) = session.technician_of(viewer).map(|t| t.id) else {
            return;
        };
        match session.controller.replace(technician) {
            Some(previous) if previous == technician => return,
            Some(_) => {
                let _ = session.agent.tx.try_send(ToAgent::ControlPassed);
            }
            None => {}
        }
        session.announce_participants();
    }

    /// Asks the app to share another monitor, if the viewer's technician may steer;
    /// otherwise the viewer is told the screen as it stays.
    pub fn share_monitor(&self, id: &str, viewer: u32, monitor: u32) {
        let map = self.lock();
        let Some(session) = map.get(id) else {
            return;
        };
        let Some(v) = session.viewers.get(&viewer) else {
            return;
        };
        if session.may_steer(v.technician.id) {
            let _ = session.agent.tx.try_send(ToAgent::ShareMonitor { monitor });
        } else {
            let _ = v.tx.try_send(session.screen());
        }
    }

    /// The app now shares `display`: every viewer is told.
    pub fn sharing(&self, id: &str, display: DisplayInfo) {
        let mut map = self.lock();
        let Some(session) = map.get_mut(id) else {
            return;
        };
        session.agent.display = display;
        let screen = session.screen();
        for v in session.viewers.values() {
            let _ = v.tx.try_send(screen.clone());
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
        session.controller = None;
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
#[path = "live_tests.rs"]
mod tests;
