//! One end-user app connection: registration by PIN, consent answers, input results and
//! the video frames it sends.

use super::live::{AgentHandle, Frame};
use super::{pump, refuse};
use crate::domain::SessionAction;
use crate::service::Desk;
use bytes::Bytes;
use sos_transport::framing::{self, read_message, write_message};
use sos_transport::wire::{
    AgentHello, ConsentDecision, DisplayInfo, EndReason, FromAgent, Refusal, ToAgent, ToViewer,
    close_code,
};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Every refusal is answered this long after the hello arrived, whatever the reason, so
/// timing tells a guesser nothing.
const REFUSAL_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

pub(super) async fn serve(
    desk: Arc<Desk>,
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    hello: AgentHello,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let origin = format!("quic {}", super::redact_addr(connection.remote_address()));
    if let Err(e) = desk.check_licence() {
        tracing::warn!("end-user app refused: {e}");
        return refuse(
            &connection,
            &mut send,
            &ToAgent::Refused(Refusal::Licence),
            started + REFUSAL_DELAY,
        )
        .await;
    }
    let ip = connection.remote_address().ip();
    let now = desk.clock.now();
    // The holder of a session's link is not guessing: the limits on PIN guessing (blocked
    // addresses, link-only mode) do not apply to them, for that session's PIN only.
    let linked = hello
        .link
        .as_ref()
        .and_then(|token| sos_branding::LinkToken::parse(token.expose()))
        .and_then(|token| desk.store.session_by_link(token.expose()).ok().flatten());
    let blocked = desk
        .pin_limiter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .check(ip, now);
    if blocked.is_err() && linked.is_none() {
        return refuse(
            &connection,
            &mut send,
            &ToAgent::Refused(Refusal::RateLimited),
            started + REFUSAL_DELAY,
        )
        .await;
    }
    let registering = desk.agent_registering(hello.pin.expose())?;
    let Some(row) = registering
        .filter(|r| !desk.live.agent_online(&r.session.id))
        .filter(|r| linked.as_ref().is_none_or(|id| *id == r.session.id))
    else {
        let switched = desk
            .pin_limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .failure(ip, now);
        if switched {
            tracing::warn!(
                "many wrong PINs from many addresses: PIN registration is off for 10 minutes, links still work"
            );
        }
        // Same answer, same timing for unknown, used, closed and expired PINs.
        return refuse(
            &connection,
            &mut send,
            &ToAgent::Refused(Refusal::PinNotAccepted),
            started + REFUSAL_DELAY,
        )
        .await;
    };
    let id = row.session.id.clone();
    let display = hello
        .displays
        .iter()
        .find(|d| d.primary)
        .or(hello.displays.first())
        .copied()
        .unwrap_or(DisplayInfo {
            index: 0,
            width: 0,
            height: 0,
            primary: true,
        });
    let machine: String = hello.machine_name.chars().take(64).collect();
    let (tx, rx) = mpsc::channel(256);
    let connection_id = connection.stable_id();
    if !desk.live.attach_agent(
        &id,
        AgentHandle {
            tx: tx.clone(),
            connection_id,
            display,
            monitors: hello.monitors.iter().take(16).copied().collect(),
        },
    ) {
        write_message(&mut send, &ToAgent::Refused(Refusal::PinNotAccepted)).await?;
        connection.close(close_code::REFUSED.into(), b"pin not accepted");
        return Ok(());
    }
    if let Err(e) = desk.agent_event(&id, SessionAction::AgentRegistered, Some(&machine), &origin) {
        desk.live
            .detach_agent(&id, connection_id, EndReason::AgentDisconnected);
        write_message(&mut send, &ToAgent::Refused(Refusal::PinNotAccepted)).await?;
        connection.close(close_code::REFUSED.into(), b"pin not accepted");
        return Err(e.into());
    }
    tracing::info!(session = %id, "end-user app registered");
    let _ = tx
        .send(ToAgent::Registered {
            session_id: id.clone(),
            organisation: desk.organisation.clone(),
        })
        .await;
    drop(tx);
    tokio::spawn(pump(connection.clone(), send, rx, |m| {
        matches!(m, ToAgent::End(_) | ToAgent::Refused(_))
    }));
    tokio::spawn(relay_frames(desk.clone(), connection.clone(), id.clone()));

    let stopped = control_loop(&desk, &id, &mut recv, &origin).await;
    let bound = desk.live.detach_agent(
        &id,
        connection_id,
        if stopped {
            EndReason::StoppedByUser
        } else {
            EndReason::AgentDisconnected
        },
    );
    if stopped {
        desk.agent_event(&id, SessionAction::StoppedByUser, None, &origin)?;
        tracing::info!(session = %id, "end user stopped the session");
        connection.close(close_code::NORMAL.into(), b"stopped");
    } else if bound {
        // Lost without a stop: the session waits for the app to come back.
        let _ = desk.agent_event(&id, SessionAction::AgentLost, None, &origin);
        tracing::info!(session = %id, "end-user app disconnected");
    }
    Ok(())
}

/// Reads the app's control messages; returns true when the end user stopped.
async fn control_loop(desk: &Desk, id: &str, recv: &mut quinn::RecvStream, origin: &str) -> bool {
    loop {
        let message: FromAgent = match read_message(recv).await {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => return false,
        };
        match message {
            FromAgent::ConsentReply {
                request_id,
                decision,
            } => {
                let action = SessionAction::ConsentAnswered {
                    request_id,
                    decision,
                };
                match desk.agent_event(id, action, None, origin) {
                    Ok(_) => desk.live.set_grant(
                        id,
                        match decision {
                            ConsentDecision::Grant { control } => Some(control),
                            ConsentDecision::Deny | ConsentDecision::TimedOut => None,
                        },
                    ),
                    Err(e) => tracing::debug!(session = id, "consent reply ignored: {e}"),
                }
            }
            FromAgent::InputResult {
                viewer,
                seq,
                outcome,
            } => desk
                .live
                .to_viewer(id, viewer, ToViewer::InputResult { seq, outcome }),
            FromAgent::Stopped => return true,
            FromAgent::Sharing { display } => desk.live.sharing(id, display),
        }
    }
}

/// Reads one frame per unidirectional stream from the app and hands it to the viewers, in
/// the order the app opened the streams: with several frames in flight, one held up by a
/// lost packet must not let the next overtake it (a P-frame decodes only after the one
/// before it). QUIC keeps receiving the later streams meanwhile.
async fn relay_frames(desk: Arc<Desk>, connection: quinn::Connection, id: String) {
    while let Ok(mut stream) = connection.accept_uni().await {
        match framing::read_frame(&mut stream).await {
            Ok((header, payload)) => desk.live.publish_frame(
                &id,
                &Frame {
                    header,
                    payload: Bytes::from(payload),
                },
            ),
            Err(e) => tracing::debug!(session = %id, "frame dropped: {e}"),
        }
    }
}
