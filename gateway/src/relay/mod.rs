//! The QUIC side of the gateway: end-user apps register here and technicians' viewers
//! attach here; video frames are relayed from the app to the viewers without decoding.
//!
//! Contract: nothing is relayed before the end user granted access; a connection must
//! complete its handshake (no 0-RTT) and say [`Hello`] within [`HELLO_TIMEOUT`].

mod agent;
pub mod attach;
pub mod live;
pub mod slot;
mod viewer;

use crate::service::Desk;
use sos_transport::framing::{self, write_message};
use sos_transport::wire::{Hello, close_code};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How long a new connection may take to say who it is.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the endpoint closes.
pub async fn run(desk: Arc<Desk>, endpoint: quinn::Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        let desk = desk.clone();
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            if let Err(e) = handle(desk, incoming).await {
                tracing::debug!(peer = %redact_addr(remote), "connection ended: {e}");
            }
        });
    }
}

/// Logs only the network part of an address.
pub fn redact_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => {
            let [a, b, c, _] = a.ip().octets();
            format!("{a}.{b}.{c}.x")
        }
        SocketAddr::V6(a) => {
            let s = a.ip().segments();
            format!("{:x}:{:x}:{:x}::x", s[0], s[1], s[2])
        }
    }
}

async fn handle(desk: Arc<Desk>, incoming: quinn::Incoming) -> anyhow::Result<()> {
    let connection = tokio::time::timeout(HELLO_TIMEOUT, incoming).await??;
    let (mut send, mut recv) =
        tokio::time::timeout(HELLO_TIMEOUT, connection.accept_bi()).await??;
    let hello: Option<Hello> =
        match tokio::time::timeout(HELLO_TIMEOUT, framing::read_message(&mut recv)).await? {
            Ok(hello) => hello,
            Err(e) => {
                connection.close(close_code::PROTOCOL.into(), b"malformed hello");
                return Err(e.into());
            }
        };
    match hello {
        Some(Hello::Agent(hello)) => agent::serve(desk, connection, send, recv, hello).await,
        Some(Hello::Viewer(hello)) => viewer::serve(desk, connection, send, recv, hello).await,
        None => {
            let _ = send.finish();
            connection.close(close_code::PROTOCOL.into(), b"no hello");
            Ok(())
        }
    }
}

/// Sends a refusal no sooner than `not_before`, finishes the stream and closes the
/// connection once the peer had a moment to read why.
async fn refuse<T: serde::Serialize>(
    connection: &quinn::Connection,
    send: &mut quinn::SendStream,
    message: &T,
    not_before: tokio::time::Instant,
) -> anyhow::Result<()> {
    tokio::time::sleep_until(not_before).await;
    write_message(send, message).await?;
    let _ = send.finish();
    tokio::time::sleep(Duration::from_millis(200)).await;
    connection.close(close_code::REFUSED.into(), b"refused");
    Ok(())
}

/// Writes queued messages to a control stream until the queue closes; after a message
/// for which `is_last` holds, finishes the stream and closes the connection gracefully.
async fn pump<T: serde::Serialize>(
    connection: quinn::Connection,
    mut send: quinn::SendStream,
    mut rx: tokio::sync::mpsc::Receiver<T>,
    is_last: impl Fn(&T) -> bool,
) {
    while let Some(message) = rx.recv().await {
        if write_message(&mut send, &message).await.is_err() {
            return;
        }
        if is_last(&message) {
            let _ = send.finish();
            // Give the peer a moment to read the reason before the connection goes.
            tokio::time::sleep(Duration::from_millis(300)).await;
            connection.close(close_code::NORMAL.into(), b"session ended");
            return;
        }
    }
}
