//! A technician's viewer on a live session, whatever carries it: the native viewer's QUIC
//! connection and the browser viewer (WebTransport or WebSocket) attach, dispatch what the
//! viewer sends and detach through here, so the rules are the same for both.
//!
//! Contract: [`attach`] applies the Service Desk's `start_remote` rules (permission, grant,
//! licence, audit) and then the live registry's (at most three watchers, grant still in
//! force). The returned [`Attached`] detaches the viewer when dropped, so a transport that
//! fails half-way never leaves a ghost viewer behind.

use super::live::{FrameSlot, Technician};
use crate::domain::ActionError;
use crate::service::{Desk, DeskError};
use crate::store::User;
use sos_transport::wire::{FromViewer, Refusal, ToAgent, ToViewer, ViewerPurpose};
use std::sync::Arc;
use tokio::sync::mpsc;

/// How many control messages may wait for a viewer before newer ones are dropped.
const VIEWER_QUEUE: usize = 256;

/// A viewer attached to a live session; detaches on drop.
#[derive(Debug)]
pub struct Attached {
    desk: Arc<Desk>,
    session: String,
    viewer: u32,
    slot: Arc<FrameSlot>,
    user: User,
}

/// Attaches `user` to the live session `id` for `purpose`; returns the viewer and the queue
/// of control messages for it (accepted, screen, participants first), or why not.
pub fn attach(
    desk: &Arc<Desk>,
    user: &User,
    id: &str,
    purpose: ViewerPurpose,
) -> Result<(Attached, mpsc::Receiver<ToViewer>), Refusal> {
    desk.start_remote(user, id).map_err(refusal)?;
    let watch = purpose == ViewerPurpose::Watch;
    let (tx, rx) = mpsc::channel(VIEWER_QUEUE);
    let technician = Technician {
        id: user.id,
        name: user.name.clone(),
    };
    let (viewer, slot) = desk.live.attach_viewer(id, watch, technician, tx)?;
    tracing::info!(session = %id, technician = %user.email, watch, "viewer attached");
    let attached = Attached {
        desk: desk.clone(),
        session: id.to_string(),
        viewer,
        slot,
        user: user.clone(),
    };
    Ok((attached, rx))
}

/// What a viewer is told when the Service Desk refuses it.
fn refusal(e: DeskError) -> Refusal {
    match e {
        DeskError::NotFound(_) | DeskError::Conflict(ActionError::Final(_)) => {
            Refusal::SessionNotFound
        }
        DeskError::Conflict(ActionError::AgentOffline) => Refusal::AgentOffline,
        DeskError::Conflict(_) => Refusal::ConsentNotGranted,
        DeskError::Licence(_) => Refusal::Licence,
        DeskError::Unauthorized => Refusal::Unauthorized,
        _ => Refusal::Forbidden,
    }
}

impl Attached {
    /// Applies one message from the viewer.
    pub fn handle(&self, message: FromViewer) {
        let live = &self.desk.live;
        let id = self.session.as_str();
        match message {
            FromViewer::Input { seq, event } => {
                if let Err(outcome) = live.input(id, self.viewer, seq, event) {
                    live.to_viewer(id, self.viewer, ToViewer::InputResult { seq, outcome });
                }
            }
            FromViewer::KeyframeRequest => live.to_agent(id, ToAgent::KeyframeRequest),
            FromViewer::TakeControl => live.take_control(id, self.viewer),
            FromViewer::ShareMonitor { monitor } => live.share_monitor(id, self.viewer, monitor),
        }
    }

    /// The viewer's frame slot (closed when the viewer detaches).
    pub fn slot(&self) -> Arc<FrameSlot> {
        self.slot.clone()
    }

    /// The session attached to.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The technician behind the viewer.
    pub fn user(&self) -> &User {
        &self.user
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.desk.live.detach_viewer(&self.session, self.viewer);
    }
}
