//! The in-browser viewer: the page the console opens for "Start remote session", its
//! one-time tickets, and the two transports that carry it, WebTransport on its own UDP
//! port and a WebSocket on the HTTPS server for networks that block UDP.
//!
//! Contract:
//! - A page attaches only with a ticket from `POST /api/v1/sessions/{id}/viewer-ticket`,
//!   which applies the same rules as the native viewer (`start_remote`); the attachment
//!   itself goes through [`crate::relay::attach`], like the native viewer's.
//! - Both transports speak the protocol of [`protocol`]; the page tries WebTransport first.
//! - The gateway never decodes video: frames go to the page as the app sent them.
//! - Tickets never reach a log.

pub mod page;
pub mod protocol;
pub mod session;
pub mod ticket;
pub mod websocket;
pub mod webtransport;

use crate::domain::secrets::random_bytes;
use crate::service::{Desk, DeskError};
use crate::store::User;
use sos_transport::Secret;
use sos_transport::api::{ViewerTicket, WebTransportOffer};
use std::sync::{Mutex, RwLock};
use ticket::{TICKET_LIFETIME, TicketError, Tickets};

/// What the gateway keeps for browser viewers.
#[derive(Debug, Default)]
pub struct BrowserViewers {
    tickets: Mutex<Tickets>,
    /// WebTransport port and the SHA-256 of its current certificate, once it listens.
    webtransport: RwLock<Option<(u16, [u8; 32])>>,
}

impl BrowserViewers {
    /// Offers the WebTransport endpoint on `port` with the certificate of hash `sha256`.
    pub fn offer_webtransport(&self, port: u16, sha256: [u8; 32]) {
        *self.webtransport.write().unwrap_or_else(|p| p.into_inner()) = Some((port, sha256));
    }

    /// The WebTransport port, once it listens.
    pub fn webtransport_port(&self) -> Option<u16> {
        self.webtransport
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(port, _)| port)
    }

    /// Uses a ticket up; see [`Tickets::redeem`].
    pub fn redeem(
        &self,
        ticket: &str,
        session: &str,
        login: Option<i64>,
        now: i64,
    ) -> Result<User, TicketError> {
        self.tickets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .redeem(ticket, session, login, now)
    }

    fn offer(&self, session: &str) -> Option<WebTransportOffer> {
        let offered = *self.webtransport.read().unwrap_or_else(|p| p.into_inner());
        offered.map(|(port, sha256)| WebTransportOffer {
            port,
            path: format!("{}{session}", webtransport::PATH_PREFIX),
            cert_sha256: hex::encode(sha256),
        })
    }
}

/// Path of a session's WebSocket viewer.
pub fn websocket_path(session: &str) -> String {
    format!("/api/v1/sessions/{session}/viewer/ws")
}

/// A ticket for `user` to watch session `id` in the browser, if they may start watching
/// now (checked as for the native viewer, recorded when the page attaches).
pub fn issue_ticket(desk: &Desk, user: &User, id: &str) -> Result<ViewerTicket, DeskError> {
    desk.check_start_remote(user, id)?;
    let ticket = desk
        .browser
        .tickets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .issue(user, id, desk.clock.now(), random_bytes::<32>()?)
        .map_err(|e| DeskError::TooManyRequests(e.to_string()))?;
    Ok(ViewerTicket {
        ticket: Secret::new(ticket),
        expires_in: TICKET_LIFETIME as u32,
        websocket: websocket_path(id),
        webtransport: desk.browser.offer(id),
    })
}
