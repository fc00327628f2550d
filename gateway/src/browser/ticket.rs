//! One-time tickets that let a browser page attach its viewer connection.
//!
//! A browser cannot put the API token on a WebTransport connection (no cookies, no custom
//! headers), so the page asks the HTTPS API for a ticket and sends it first on the viewer
//! connection. Contract: a ticket works once, for [`TICKET_LIFETIME`] seconds, for the user
//! and session it was issued to; only its SHA-256 is kept; a redemption attempt uses the
//! ticket up whatever its outcome. Pure: time is an input, randomness is given.

use crate::store::User;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Seconds a ticket stays valid.
pub const TICKET_LIFETIME: i64 = 30;
/// Most tickets outstanding at once (expired ones are forgotten first).
pub const MAX_TICKETS: usize = 10_000;

/// Why a ticket was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TicketError {
    /// Unknown, already used, or expired.
    #[error("the viewer ticket is not valid — reload the page")]
    NotValid,
    /// Issued for another session or another user.
    #[error("the viewer ticket was issued for another session or user — reload the page")]
    Mismatch,
    /// Too many tickets outstanding.
    #[error("too many viewers are connecting — try again in a minute")]
    Busy,
}

#[derive(Debug, Clone)]
struct Entry {
    user: User,
    session: String,
    expires_at: i64,
}

/// The outstanding tickets.
#[derive(Debug, Default)]
pub struct Tickets {
    by_hash: HashMap<[u8; 32], Entry>,
}

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

impl Tickets {
    /// Issues a ticket made of `random` for `user` on `session` at `now`.
    pub fn issue(
        &mut self,
        user: &User,
        session: &str,
        now: i64,
        random: [u8; 32],
    ) -> Result<String, TicketError> {
        self.by_hash.retain(|_, e| e.expires_at > now);
        if self.by_hash.len() >= MAX_TICKETS {
            return Err(TicketError::Busy);
        }
        let ticket = URL_SAFE_NO_PAD.encode(random);
        self.by_hash.insert(
            digest(&ticket),
            Entry {
                user: user.clone(),
                session: session.to_string(),
                expires_at: now + TICKET_LIFETIME,
            },
        );
        Ok(ticket)
    }

    /// Uses `ticket` up for `session` at `now`; `user`, when the connection also carries a
    /// login (a cookie), must be the user it was issued to. Returns that user.
    pub fn redeem(
        &mut self,
        ticket: &str,
        session: &str,
        user: Option<i64>,
        now: i64,
    ) -> Result<User, TicketError> {
        let entry = self
            .by_hash
            .remove(&digest(ticket))
            .filter(|e| e.expires_at > now)
            .ok_or(TicketError::NotValid)?;
        if entry.session != session || user.is_some_and(|u| u != entry.user.id) {
            return Err(TicketError::Mismatch);
        }
        Ok(entry.user)
    }

    /// Tickets outstanding (expired ones included until the next issue).
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether none are outstanding.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            email: format!("u{id}@example.com"),
            name: format!("User {id}"),
            role: "technician".into(),
            origin: String::new(),
        }
    }

    #[test]
    fn a_ticket_works_once_for_its_user_and_session() {
        let mut t = Tickets::default();
        let ticket = t.issue(&user(1), "s1", 100, [7; 32]).unwrap();
        assert!(ticket.len() >= 43, "256 bits, URL-safe");
        assert_eq!(t.redeem(&ticket, "s1", Some(1), 129).unwrap().id, 1);
        assert_eq!(
            t.redeem(&ticket, "s1", Some(1), 129),
            Err(TicketError::NotValid),
            "used up"
        );
    }

    #[test]
    fn expired_wrong_session_and_wrong_user_are_refused_and_use_the_ticket_up() {
        let mut t = Tickets::default();
        let a = t.issue(&user(1), "s1", 100, [1; 32]).unwrap();
        assert_eq!(t.redeem(&a, "s1", None, 130), Err(TicketError::NotValid));
        let b = t.issue(&user(1), "s1", 100, [2; 32]).unwrap();
        assert_eq!(t.redeem(&b, "s2", None, 101), Err(TicketError::Mismatch));
        assert_eq!(t.redeem(&b, "s1", None, 101), Err(TicketError::NotValid));
        let c = t.issue(&user(1), "s1", 100, [3; 32]).unwrap();
        assert_eq!(t.redeem(&c, "s1", Some(2), 101), Err(TicketError::Mismatch));
        assert_eq!(t.redeem(&c, "s1", Some(1), 101), Err(TicketError::NotValid));
        assert_eq!(
            t.redeem("made-up", "s1", None, 101),
            Err(TicketError::NotValid)
        );
    }

    #[test]
    fn only_hashes_are_kept_and_expired_tickets_are_forgotten() {
        let mut t = Tickets::default();
        let a = t.issue(&user(1), "s1", 100, [1; 32]).unwrap();
        assert!(
            !format!("{t:?}").contains(&a),
            "the ticket itself is not stored"
        );
        t.issue(&user(1), "s1", 200, [2; 32]).unwrap();
        assert_eq!(t.len(), 1, "the expired one went");
    }

    #[test]
    fn the_number_outstanding_is_bounded() {
        let mut t = Tickets::default();
        for i in 0..MAX_TICKETS {
            let mut random = [0; 32];
            random[..8].copy_from_slice(&(i as u64).to_le_bytes());
            t.issue(&user(1), "s1", 100, random).unwrap();
        }
        assert_eq!(
            t.issue(&user(1), "s1", 100, [0xff; 32]),
            Err(TicketError::Busy)
        );
        assert!(t.issue(&user(1), "s1", 131, [0xff; 32]).is_ok());
    }
}
