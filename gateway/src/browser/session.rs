//! One browser viewer connection, whatever carries it: the ticket, the attachment through
//! [`crate::relay::attach`], then two loops: the page's messages in, control messages and
//! frames out.
//!
//! Contract: nothing is sent before the ticket is accepted but the refusal; frames come
//! from the viewer's own [`FrameSlot`](crate::relay::live::FrameSlot), so a page that reads
//! slowly only ever has the newest frame waiting and holds nobody else up; input and
//! commands are never delayed behind a frame being written (they are read by their own
//! loop); a page that takes nothing for [`SEND_TIMEOUT`] is dropped; the viewer is
//! detached when either loop ends.

use super::protocol::{self, Command, FromBrowser, ToBrowser};
use crate::relay::HELLO_TIMEOUT;
use crate::relay::attach::{Attached, attach};
use crate::service::Desk;
use bytes::Bytes;
use sos_transport::wire::{Refusal, ToViewer, ViewerPurpose};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest a page may take to take one message or frame: past it the page is taken for
/// gone and detached, so that it does not hold a viewer's place.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

async fn sent(sending: impl Future<Output = io::Result<()>>) -> io::Result<()> {
    tokio::time::timeout(SEND_TIMEOUT, sending)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// The sending half of a browser transport.
pub trait Outbound: Send + 'static {
    /// Sends one control message (JSON text).
    fn control(&mut self, json: String) -> impl Future<Output = io::Result<()>> + Send;
    /// Sends one frame: the binary header, then the Annex B bytes.
    fn frame(
        &mut self,
        header: [u8; protocol::FRAME_HEADER_LEN],
        payload: Bytes,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// Ends the connection gracefully after what was sent.
    fn close(self) -> impl Future<Output = ()> + Send;
}

/// The receiving half of a browser transport.
pub trait Inbound: Send {
    /// The next control message's bytes; `None` once the page is gone.
    fn next(&mut self) -> impl Future<Output = Option<io::Result<Vec<u8>>>> + Send;
}

/// Serves one page's viewer connection for `session` until it ends. `login` is the user
/// the connection itself is logged in as (the console's cookie), when it carries one.
pub async fn serve<I: Inbound, O: Outbound>(
    desk: Arc<Desk>,
    session: String,
    login: Option<i64>,
    mut inbound: I,
    outbound: O,
) {
    let ticket = match tokio::time::timeout(HELLO_TIMEOUT, inbound.next()).await {
        Ok(Some(Ok(bytes))) => match protocol::parse(&bytes) {
            Ok(FromBrowser::Ticket { ticket }) => ticket,
            _ => return refuse(outbound, Refusal::Unauthorized).await,
        },
        _ => return refuse(outbound, Refusal::Unauthorized).await,
    };
    let user = match desk
        .browser
        .redeem(&ticket, &session, login, desk.clock.now())
    {
        Ok(user) => user,
        Err(e) => {
            tracing::info!(session = %session, "browser viewer refused: {e}");
            return refuse(outbound, Refusal::Unauthorized).await;
        }
    };
    let (attached, messages) = match attach(&desk, &user, &session, ViewerPurpose::Watch) {
        Ok(attached) => attached,
        Err(refusal) => return refuse(outbound, refusal).await,
    };
    let (local_tx, local_rx) = mpsc::channel(16);
    let mut writer = tokio::spawn(write(desk.clone(), outbound, messages, local_rx, {
        attached.slot()
    }));
    tokio::select! {
        () = read(&desk, &attached, &mut inbound, local_tx) => {}
        _ = &mut writer => {}
    }
    // Detaching closes the slot and the message queue: the writer sends what is left
    // (the reason the session ended) and closes.
    drop(attached);
    let _ = tokio::time::timeout(HELLO_TIMEOUT, writer).await;
}

async fn refuse<O: Outbound>(mut outbound: O, reason: Refusal) {
    let _ = sent(outbound.control(ToBrowser::refused(reason).to_json())).await;
    let _ = tokio::time::timeout(SEND_TIMEOUT, outbound.close()).await;
}

/// Applies the page's messages until it leaves or breaks the protocol.
async fn read<I: Inbound>(
    desk: &Desk,
    attached: &Attached,
    inbound: &mut I,
    local: mpsc::Sender<ToBrowser>,
) {
    let mut seq = 0;
    while let Some(Ok(bytes)) = inbound.next().await {
        let message = match protocol::parse(&bytes) {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(session = %attached.session(), "browser viewer broke the protocol: {e}");
                return;
            }
        };
        match protocol::command(message, &mut seq) {
            Command::Relay(message) => attached.handle(message),
            Command::EndSession => {
                if let Err(e) = desk.close(attached.user(), attached.session()) {
                    let _ = local.try_send(ToBrowser::Error {
                        message: format!("The session was not ended: {e}"),
                    });
                }
            }
            Command::Ping(id) => {
                let _ = local.try_send(ToBrowser::Pong {
                    id,
                    gateway_micros: unix_micros(),
                });
            }
            Command::Unexpected => return,
        }
    }
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Sends control messages and frames until the relay lets the viewer go or the page is
/// gone. Control messages go first when both wait.
async fn write<O: Outbound>(
    desk: Arc<Desk>,
    mut outbound: O,
    mut messages: mpsc::Receiver<ToViewer>,
    mut local: mpsc::Receiver<ToBrowser>,
    slot: Arc<crate::relay::live::FrameSlot>,
) {
    let mut frames_open = true;
    loop {
        tokio::select! {
            biased;
            message = messages.recv() => {
                let Some(message) = message else { break };
                let last = matches!(message, ToViewer::End(_));
                if let Some(message) = ToBrowser::from_viewer(message)
                    && sent(outbound.control(message.to_json())).await.is_err()
                {
                    return;
                }
                if last {
                    break;
                }
            }
            Some(message) = local.recv() => {
                if sent(outbound.control(message.to_json())).await.is_err() {
                    return;
                }
            }
            frame = slot.next(), if frames_open => match frame {
                Some(frame) => {
                    let header = protocol::frame_header(&frame.header);
                    let len = frame.payload.len();
                    if sent(outbound.frame(header, frame.payload)).await.is_err() {
                        return;
                    }
                    desk.count_relayed(len);
                }
                // Closed: the reason, if any, is on its way in `messages`.
                None => frames_open = false,
            },
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, outbound.close()).await;
}
