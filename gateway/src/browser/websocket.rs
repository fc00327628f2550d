//! The browser viewer over a WebSocket on the HTTPS server, for networks that block UDP.
//!
//! `GET /api/v1/sessions/{id}/viewer/ws` needs a login (the console's cookie, or a bearer
//! token) and, from a browser, an `Origin` of this very host; the ticket sent first must
//! have been issued to that same login. Control messages are text messages, frames binary
//! messages (see [`super::protocol`]).

use super::protocol::{FRAME_HEADER_LEN, MAX_BROWSER_MESSAGE};
use super::session::{Inbound, Outbound, serve};
use crate::api::{ApiError, Auth};
use crate::service::{Desk, DeskError};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::io;
use std::sync::Arc;

/// `GET /api/v1/sessions/{id}/viewer/ws`: upgrades to the viewer's WebSocket.
pub async fn upgrade(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::from(DeskError::Forbidden(
            "the viewer must be opened from this gateway's console".into(),
        ))
        .into_response();
    }
    ws.max_message_size(MAX_BROWSER_MESSAGE)
        .max_frame_size(MAX_BROWSER_MESSAGE)
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            serve(desk, id, Some(user.id), WsInbound(stream), WsOutbound(sink))
        })
}

/// Whether a browser's `Origin` (absent for non-browser clients) names the host the request
/// was sent to, so that another site's page cannot use the technician's cookie.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin
            .strip_prefix("https://")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

struct WsInbound(SplitStream<WebSocket>);

impl Inbound for WsInbound {
    async fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        loop {
            return match self.0.next().await? {
                Ok(Message::Text(text)) => Some(Ok(text.as_bytes().to_vec())),
                Ok(Message::Binary(_)) => Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the page sends text messages only",
                ))),
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                Ok(Message::Close(_)) => None,
                Err(e) => Some(Err(io::Error::other(e))),
            };
        }
    }
}

struct WsOutbound(SplitSink<WebSocket, Message>);

impl Outbound for WsOutbound {
    async fn control(&mut self, json: String) -> io::Result<()> {
        self.0
            .send(Message::Text(json.into()))
            .await
            .map_err(io::Error::other)
    }

    async fn frame(&mut self, header: [u8; FRAME_HEADER_LEN], payload: Bytes) -> io::Result<()> {
        let mut message = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
        message.extend_from_slice(&header);
        message.extend_from_slice(&payload);
        self.0
            .send(Message::Binary(message.into()))
            .await
            .map_err(io::Error::other)
    }

    async fn close(mut self) {
        let close = CloseFrame {
            code: 1000,
            reason: "session ended".into(),
        };
        let _ = self.0.send(Message::Close(Some(close))).await;
        let _ = self.0.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_pages_of_this_gateway_may_open_the_socket() {
        assert!(same_origin(&headers(
            Some("https://gw.example:8443"),
            "gw.example:8443"
        )));
        assert!(
            same_origin(&headers(None, "gw.example:8443")),
            "not a browser"
        );
        for other in [
            "https://evil.example",
            "http://gw.example:8443",
            "https://gw.example:8443.evil.example",
            "null",
        ] {
            assert!(
                !same_origin(&headers(Some(other), "gw.example:8443")),
                "{other}"
            );
        }
    }
}
