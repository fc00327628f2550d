//! One technician connection: authentication, the video it watches and the input it sends.

use super::live::Technician;
use super::{pump, refuse};
use crate::domain::ActionError;
use crate::service::{Desk, DeskError};
use sos_transport::framing::{read_message, write_frame};
use sos_transport::wire::{FromViewer, Refusal, ToAgent, ToViewer, ViewerHello, ViewerPurpose};
use std::sync::Arc;
use tokio::sync::mpsc;

pub(super) async fn serve(
    desk: Arc<Desk>,
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    hello: ViewerHello,
) -> anyhow::Result<()> {
    let user = match desk.authenticate(hello.token.expose()) {
        Ok(user) => user,
        Err(_) => {
            return refuse(
                &connection,
                &mut send,
                &ToViewer::Refused(Refusal::Unauthorized),
                tokio::time::Instant::now(),
            )
            .await;
        }
    };
    let id = hello.session_id;
    if let Err(e) = desk.start_remote(&user, &id) {
        let refusal = match e {
            DeskError::NotFound(_) | DeskError::Conflict(ActionError::Final(_)) => {
                Refusal::SessionNotFound
            }
            DeskError::Conflict(ActionError::AgentOffline) => Refusal::AgentOffline,
            DeskError::Conflict(_) => Refusal::ConsentNotGranted,
            DeskError::Licence(_) => Refusal::Licence,
            DeskError::Unauthorized => Refusal::Unauthorized,
            _ => Refusal::Forbidden,
        };
        return refuse(
            &connection,
            &mut send,
            &ToViewer::Refused(refusal),
            tokio::time::Instant::now(),
        )
        .await;
    }
    let watch = hello.purpose == ViewerPurpose::Watch;
    let (tx, rx) = mpsc::channel(256);
    let technician = Technician {
        id: user.id,
        name: user.name.clone(),
    };
    let (viewer, slot) = match desk.live.attach_viewer(&id, watch, technician, tx) {
        Ok(attached) => attached,
        Err(refusal) => {
            return refuse(
                &connection,
                &mut send,
                &ToViewer::Refused(refusal),
                tokio::time::Instant::now(),
            )
            .await;
        }
    };
    tracing::info!(session = %id, technician = %user.email, watch, "viewer attached");
    tokio::spawn(pump(connection.clone(), send, rx, |m| {
        matches!(m, ToViewer::End(_))
    }));
    if watch {
        let connection = connection.clone();
        let slot = slot.clone();
        let desk = desk.clone();
        tokio::spawn(async move {
            while let Some(frame) = slot.next().await {
                let Ok(mut stream) = connection.open_uni().await else {
                    return;
                };
                if write_frame(&mut stream, &frame.header, &frame.payload)
                    .await
                    .is_err()
                {
                    return;
                }
                desk.counters.relayed_bytes.fetch_add(
                    frame.payload.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
            }
        });
    }

    loop {
        let message: FromViewer = match read_message(&mut recv).await {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => break,
        };
        match message {
            FromViewer::Input { seq, event } => {
                if let Err(outcome) = desk.live.input(&id, viewer, seq, event) {
                    desk.live
                        .to_viewer(&id, viewer, ToViewer::InputResult { seq, outcome });
                }
            }
            FromViewer::KeyframeRequest => desk.live.to_agent(&id, ToAgent::KeyframeRequest),
            FromViewer::TakeControl => desk.live.take_control(&id, viewer),
            FromViewer::ShareMonitor { monitor } => desk.live.share_monitor(&id, viewer, monitor),
        }
    }
    desk.live.detach_viewer(&id, viewer);
    slot.close();
    Ok(())
}
