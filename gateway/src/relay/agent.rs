//! One end-user app connection: registration by PIN, consent answers, input results and
//! the video frames it sends.

use super::live::{AgentHandle, Comeback, Frame};
use super::{pump, refuse};
use crate::domain::SessionAction;
use crate::domain::secrets::random_bytes;
use crate::service::Desk;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use sos_transport::Secret;
use sos_transport::framing::{self, read_message};
use sos_transport::wire::{
    AgentHello, ConsentDecision, DisplayInfo, EndReason, FromAgent, Refusal, ResumeOffer, ToAgent,
    ToViewer, close_code,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

/// Every refusal is answered this long after the hello arrived, whatever the reason, so
/// timing tells a guesser nothing.
const REFUSAL_DELAY: Duration = Duration::from_millis(250);

pub(super) async fn serve(
    desk: Arc<Desk>,
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    hello: AgentHello,
) -> anyhow::Result<()> {
    let started = Instant::now();
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
    let (replaced_tx, replaced) = oneshot::channel();
    let connection_id = connection.stable_id();
    let handle = AgentHandle {
        tx: tx.clone(),
        connection_id,
        display,
        monitors: hello.monitors.iter().take(16).copied().collect(),
        replaced: Some(replaced_tx),
    };
    let ticket = hex::encode(random_bytes::<32>()?);
    let window_secs = u32::try_from(desk.resume_window.as_secs()).unwrap_or(u32::MAX);
    let registered = |id: &str, resumed: bool| ToAgent::Registered {
        session_id: id.to_string(),
        organisation: desk.organisation.clone(),
        resume: Some(ResumeOffer {
            ticket: Secret::new(ticket.clone()),
            window_secs,
        }),
        resumed,
    };
    let next = digest(&ticket);
    let id = match register(
        &desk,
        &connection,
        &hello,
        handle,
        next,
        registered,
        &machine,
        &origin,
    )? {
        Registration::Bound(id) => id,
        Registration::Refused(refusal) => {
            return refuse(
                &connection,
                &mut send,
                &ToAgent::Refused(refusal),
                started + REFUSAL_DELAY,
            )
            .await;
        }
    };
    drop(tx);
    tokio::spawn(pump(connection.clone(), send, rx, |m| {
        matches!(m, ToAgent::End(_) | ToAgent::Refused(_))
    }));
    tokio::spawn(relay_frames(desk.clone(), connection.clone(), id.clone()));

    let stopped = tokio::select! {
        stopped = control_loop(&desk, &id, &mut recv, &origin) => stopped,
        // A dropped sender (the session ended) is no replacement: the branch then waits no
        // more, and the end reaches the app through the control stream.
        Ok(()) = replaced => {
            // The app came back on another connection; this one is stale.
            connection.close(close_code::NORMAL.into(), b"replaced");
            return Ok(());
        }
    };
    if stopped {
        desk.live
            .detach_agent(&id, connection_id, EndReason::StoppedByUser);
        desk.agent_event(&id, SessionAction::StoppedByUser, None, &origin)?;
        tracing::info!(session = %id, "end user stopped the session");
        connection.close(close_code::NORMAL.into(), b"stopped");
        return Ok(());
    }
    // Lost without a stop: the session waits for the app to come back with its ticket,
    // keeping the grant and the viewers for the resume window.
    if !desk.live.agent_away(&id, connection_id, desk.resume_window) {
        return Ok(());
    }
    tracing::info!(session = %id, "end-user app disconnected; waiting for it to come back");
    desk.announce_live(&id, "agent_away");
    tokio::time::sleep(desk.resume_window).await;
    if desk
        .live
        .detach_agent(&id, connection_id, EndReason::AgentDisconnected)
    {
        let _ = desk.agent_event(&id, SessionAction::AgentLost, None, &origin);
        tracing::info!(session = %id, "end-user app did not come back in time");
    }
    Ok(())
}

/// How a registration ended.
enum Registration {
    /// The app is bound to this session and was told so.
    Bound(String),
    /// Refused, with this answer.
    Refused(Refusal),
}

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

/// Binds the app to its session and tells it with `registered(session, resumed)`: by its
/// comeback ticket, else by its PIN (within the limits on PIN guessing, which the link's
/// holder does not meet). `next` is the SHA-256 of the ticket it is given.
#[allow(clippy::too_many_arguments)]
fn register(
    desk: &Desk,
    connection: &quinn::Connection,
    hello: &AgentHello,
    handle: AgentHandle,
    next: [u8; 32],
    registered: impl Fn(&str, bool) -> ToAgent,
    machine: &str,
    origin: &str,
) -> anyhow::Result<Registration> {
    let handle = match &hello.resume {
        Some(resume) => {
            let ticket = digest(resume.ticket.expose());
            match desk
                .live
                .come_back(&ticket, next, handle, resume.keep_consent, &registered)
            {
                Ok(comeback) => return Ok(come_back(desk, comeback, machine, origin)),
                // Unknown (a restarted gateway, a window gone by): the PIN decides.
                Err(handle) => handle,
            }
        }
        None => handle,
    };
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
        return Ok(Registration::Refused(Refusal::RateLimited));
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
        return Ok(Registration::Refused(Refusal::PinNotAccepted));
    };
    let id = row.session.id.clone();
    // An app registering by PIN while its session waits for the lost one: the old one
    // is not coming back with its grant.
    if desk.live.end_away(&id) {
        let _ = desk.agent_event(&id, SessionAction::AgentLost, None, origin);
    }
    let connection_id = handle.connection_id;
    let tx = handle.tx.clone();
    if !desk.live.attach_agent(&id, handle) {
        return Ok(Registration::Refused(Refusal::PinNotAccepted));
    }
    desk.live.set_ticket(&id, connection_id, next);
    if let Err(e) = desk.agent_event(&id, SessionAction::AgentRegistered, Some(machine), origin) {
        desk.live
            .detach_agent(&id, connection_id, EndReason::AgentDisconnected);
        return Err(e.into());
    }
    tracing::info!(session = %id, "end-user app registered");
    // Nothing else is sent to the app before it granted access, so this comes first.
    let _ = tx.try_send(registered(&id, false));
    Ok(Registration::Bound(id))
}

/// Records an app's comeback with its ticket.
fn come_back(desk: &Desk, comeback: Comeback, machine: &str, origin: &str) -> Registration {
    let Comeback { session: id, kept } = comeback;
    if kept {
        let _ = desk.agent_event(&id, SessionAction::AgentResumed, None, origin);
        tracing::info!(session = %id, "end-user app came back; the grant stands");
    } else {
        // Back too late to keep the grant: as a new registration, asked again.
        let _ = desk.agent_event(&id, SessionAction::AgentLost, None, origin);
        let _ = desk.agent_event(&id, SessionAction::AgentRegistered, Some(machine), origin);
        tracing::info!(session = %id, "end-user app came back; access must be asked again");
    }
    Registration::Bound(id)
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
    let frames = Arc::new(Notify::new());
    tokio::spawn(carry_acks(connection.clone(), frames.clone()));
    while let Ok(mut stream) = connection.accept_uni().await {
        frames.notify_one();
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

/// How often the gateway sends a streaming app an acknowledgement carrier.
const CARRIER_INTERVAL: Duration = Duration::from_millis(50);
/// How long after the app's last frame it goes on doing so: through a stall of the app's
/// sending, which is when the acknowledgements matter most.
const CARRIER_AFTER: Duration = Duration::from_secs(30);

/// Sends a streaming app a one-byte datagram every [`CARRIER_INTERVAL`], from its first
/// frame (`frames` is notified at each one) until [`CARRIER_AFTER`] passed without one.
///
/// The app's frames flow one way, and QUIC acknowledges them in packets of their own: when
/// such a packet is lost on a lossy link, nothing repeats it until the app's loss probe
/// fires, and each probe whose acknowledgement is lost doubles the wait for the next (quinn
/// does not cap it: at 30 % loss each way the picture froze for seconds). Each carrier is
/// ack-eliciting, so QUIC bundles the acknowledgements of everything it received into its
/// packet: a lost one is repeated within 50 ms. The app discards the datagrams.
async fn carry_acks(connection: quinn::Connection, frames: Arc<Notify>) {
    let mut interval = tokio::time::interval(CARRIER_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = frames.notified() => {}
            _ = connection.closed() => return,
        }
        let mut until = Instant::now() + CARRIER_AFTER;
        while Instant::now() < until {
            tokio::select! {
                () = frames.notified() => until = Instant::now() + CARRIER_AFTER,
                _ = interval.tick() => {
                    // An app without datagrams, or a closed connection: nothing to carry.
                    if let Err(error) = connection.send_datagram(Bytes::from_static(&[0])) {
                        tracing::debug!(%error, "no acknowledgement carriers to this app");
                        return;
                    }
                }
            }
        }
    }
}
