//! Session rows: the rules' [`Session`] plus what only the store keeps (sealed PIN, link
//! token, machine name).

use super::{Store, StoreError};
use crate::domain::Session;
use crate::domain::access::ChannelRef;
use rusqlite::OptionalExtension;
use sos_transport::api::{RemoteState, SessionStatus};

/// A session as stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The rules' view.
    pub session: Session,
    /// Channel name.
    pub channel_name: String,
    /// Sealed PIN.
    pub pin_sealed: Vec<u8>,
    /// Link token.
    pub link_token: String,
    /// End user's machine name.
    pub machine_name: Option<String>,
}

/// What is needed to insert a session.
#[derive(Debug, Clone)]
pub struct NewSessionRow {
    /// The rules' view of the new session.
    pub session: Session,
    /// PIN lookup hash.
    pub pin_hash: String,
    /// Sealed PIN.
    pub pin_sealed: Vec<u8>,
    /// Link token.
    pub link_token: String,
    /// Creator.
    pub created_by: i64,
}

const SELECT: &str = "SELECT s.id, s.channel_id, c.private_owner, s.assignee_id, s.invited,
    s.remote, s.created_at, s.expires_at, s.expiry_secs, s.request_seq, s.closed, s.expired,
    s.deleted, c.name, s.pin_sealed, s.link_token, s.machine_name
    FROM sessions s JOIN channels c ON c.id = s.channel_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let invited: String = r.get(4)?;
    let remote: String = r.get(5)?;
    let mut session = Session {
        id: r.get(0)?,
        status: SessionStatus::Pending,
        channel: ChannelRef {
            id: r.get(1)?,
            private_owner: r.get(2)?,
        },
        assignee: r.get(3)?,
        invited: serde_json::from_str(&invited).unwrap_or_default(),
        // Liveness is not durable: after a restart every app must reconnect.
        agent_online: false,
        remote: serde_json::from_str(&remote).unwrap_or(RemoteState::NotRequested),
        created_at: r.get(6)?,
        expires_at: r.get(7)?,
        expiry_secs: r.get(8)?,
        request_seq: r.get::<_, i64>(9)? as u64,
        closed: r.get(10)?,
        expired: r.get(11)?,
        deleted: r.get(12)?,
    };
    session.derive_status();
    Ok(SessionRow {
        session,
        channel_name: r.get(13)?,
        pin_sealed: r.get(14)?,
        link_token: r.get(15)?,
        machine_name: r.get(16)?,
    })
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

impl Store {
    /// Whether a PIN hash belongs to a session that is not final.
    pub fn pin_in_use(&self, pin_hash: &str) -> Result<bool, StoreError> {
        Ok(self.live_session_by_pin(pin_hash)?.is_some())
    }

    /// Id of the non-final, undeleted session with this PIN hash.
    pub fn live_session_by_pin(&self, pin_hash: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id FROM sessions WHERE pin_hash = ?1 AND deleted = 0
                 AND closed = 0 AND expired = 0 LIMIT 1",
                [pin_hash],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Id of the session with this link token (any state).
    pub fn session_by_link(&self, token: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id FROM sessions WHERE link_token = ?1",
                [token],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Inserts a new session.
    pub fn insert_session(&self, new: &NewSessionRow) -> Result<(), StoreError> {
        let s = &new.session;
        self.conn().execute(
            "INSERT INTO sessions (id, channel_id, status, pin_hash, pin_sealed, link_token,
             assignee_id, invited, created_by, created_at, expires_at, expiry_secs, remote,
             request_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            rusqlite::params![
                s.id,
                s.channel.id,
                s.status.as_str(),
                new.pin_hash,
                new.pin_sealed,
                new.link_token,
                s.assignee,
                json(&s.invited),
                new.created_by,
                s.created_at,
                s.expires_at,
                s.expiry_secs,
                json(&s.remote),
                s.request_seq as i64,
            ],
        )?;
        Ok(())
    }

    /// Saves the rules' view of a session (and the machine name when known).
    pub fn save_session(&self, s: &Session, machine_name: Option<&str>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sessions SET status = ?2, channel_id = ?3, assignee_id = ?4, invited = ?5,
             remote = ?6, expires_at = ?7, expiry_secs = ?8, request_seq = ?9, closed = ?10,
             expired = ?11, deleted = ?12, machine_name = COALESCE(?13, machine_name)
             WHERE id = ?1",
            rusqlite::params![
                s.id,
                s.status.as_str(),
                s.channel.id,
                s.assignee,
                json(&s.invited),
                json(&s.remote),
                s.expires_at,
                s.expiry_secs,
                s.request_seq as i64,
                s.closed,
                s.expired,
                s.deleted,
                machine_name,
            ],
        )?;
        Ok(())
    }

    /// A session by id, deleted ones included (callers check `deleted`).
    pub fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(&format!("{SELECT} WHERE s.id = ?1"), [id], row)
            .optional()?)
    }

    /// Every undeleted session, newest first (callers filter by visibility).
    pub fn all_sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{SELECT} WHERE s.deleted = 0 ORDER BY s.created_at DESC, s.id"
        ))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of undeleted sessions per status, for metrics.
    pub fn count_by_status(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT status, COUNT(*) FROM sessions WHERE deleted = 0 GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
