//! Session rows: the rules' [`Session`] plus what only the store keeps (sealed PIN, link
//! token, channel, machine name).

use super::{Store, StoreError};
use crate::domain::Session;
use rusqlite::OptionalExtension;
use sos_transport::api::{RemoteState, SessionStatus};

/// A session as stored.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The rules' view.
    pub session: Session,
    /// Channel name.
    pub channel: String,
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
    /// Channel id.
    pub channel_id: i64,
    /// PIN lookup hash.
    pub pin_hash: String,
    /// Sealed PIN.
    pub pin_sealed: Vec<u8>,
    /// Link token.
    pub link_token: String,
    /// Creator.
    pub created_by: i64,
}

const SELECT: &str = "SELECT s.id, s.status, s.assignee_id, s.remote, s.created_at, s.expires_at,
    s.expiry_secs, s.request_seq, c.name, s.pin_sealed, s.link_token, s.machine_name
    FROM sessions s JOIN channels c ON c.id = s.channel_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let status: String = r.get(1)?;
    let remote: String = r.get(3)?;
    Ok(SessionRow {
        session: Session {
            id: r.get(0)?,
            status: SessionStatus::parse(&status).unwrap_or(SessionStatus::Closed),
            assignee: r.get(2)?,
            // Liveness is not durable: after a restart every app must reconnect.
            agent_online: false,
            remote: serde_json::from_str(&remote).unwrap_or(RemoteState::NotRequested),
            created_at: r.get(4)?,
            expires_at: r.get(5)?,
            expiry_secs: r.get(6)?,
            request_seq: r.get::<_, i64>(7)? as u64,
        },
        channel: r.get(8)?,
        pin_sealed: r.get(9)?,
        link_token: r.get(10)?,
        machine_name: r.get(11)?,
    })
}

fn remote_json(remote: &RemoteState) -> String {
    serde_json::to_string(remote).unwrap_or_else(|_| "{\"state\":\"not_requested\"}".into())
}

impl Store {
    /// The default channel: (id, name, expiry seconds).
    pub fn default_channel(&self) -> Result<(i64, String, i64), StoreError> {
        Ok(self.conn().query_row(
            "SELECT id, name, expiry_secs FROM channels ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// A channel by name: (id, name, expiry seconds).
    pub fn channel_by_name(&self, name: &str) -> Result<Option<(i64, String, i64)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, name, expiry_secs FROM channels WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

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
                 AND status NOT IN ('closed', 'expired') LIMIT 1",
                [pin_hash],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Inserts a new session.
    pub fn insert_session(&self, new: &NewSessionRow) -> Result<(), StoreError> {
        let s = &new.session;
        self.conn().execute(
            "INSERT INTO sessions (id, channel_id, status, pin_hash, pin_sealed, link_token,
             assignee_id, created_by, created_at, expires_at, expiry_secs, remote, request_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            rusqlite::params![
                s.id,
                new.channel_id,
                s.status.as_str(),
                new.pin_hash,
                new.pin_sealed,
                new.link_token,
                s.assignee,
                new.created_by,
                s.created_at,
                s.expires_at,
                s.expiry_secs,
                remote_json(&s.remote),
                s.request_seq as i64,
            ],
        )?;
        Ok(())
    }

    /// Saves the rules' view of a session (and the machine name when known).
    pub fn save_session(&self, s: &Session, machine_name: Option<&str>) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sessions SET status = ?2, assignee_id = ?3, remote = ?4, expires_at = ?5,
             request_seq = ?6, machine_name = COALESCE(?7, machine_name) WHERE id = ?1",
            rusqlite::params![
                s.id,
                s.status.as_str(),
                s.assignee,
                remote_json(&s.remote),
                s.expires_at,
                s.request_seq as i64,
                machine_name,
            ],
        )?;
        Ok(())
    }

    /// A session by id (deleted ones are not found).
    pub fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("{SELECT} WHERE s.id = ?1 AND s.deleted = 0"),
                [id],
                row,
            )
            .optional()?)
    }

    /// Sessions visible to a user: all for `everything`, else those assigned to them.
    pub fn sessions_for(
        &self,
        user_id: i64,
        everything: bool,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{SELECT} WHERE s.deleted = 0 AND (?1 OR s.assignee_id = ?2 OR s.created_by = ?2)
             ORDER BY s.created_at DESC, s.id"
        ))?;
        let rows = stmt.query_map((everything, user_id), row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
