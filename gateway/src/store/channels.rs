//! Channels, their members, and the key-value `meta` table.

use super::{Store, StoreError};
use crate::domain::access::ChannelRef;
use rusqlite::OptionalExtension;

/// A channel as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Id.
    pub id: i64,
    /// Name (private channels: `Private:<owner id>`).
    pub name: String,
    /// Session expiry in seconds.
    pub expiry_secs: i64,
    /// Owner of a private channel.
    pub private_owner: Option<i64>,
}

impl Channel {
    /// The rules' view.
    pub fn as_ref(&self) -> ChannelRef {
        ChannelRef {
            id: self.id,
            private_owner: self.private_owner,
        }
    }
}

fn channel(r: &rusqlite::Row<'_>) -> rusqlite::Result<Channel> {
    Ok(Channel {
        id: r.get(0)?,
        name: r.get(1)?,
        expiry_secs: r.get(2)?,
        private_owner: r.get(3)?,
    })
}

const SELECT: &str = "SELECT id, name, expiry_secs, private_owner FROM channels";

fn duplicate(e: rusqlite::Error, what: String) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Duplicate(what)
        }
        other => other.into(),
    }
}

impl Store {
    /// The default channel (the first one created).
    pub fn default_channel(&self) -> Result<Channel, StoreError> {
        Ok(self.conn().query_row(
            &format!("{SELECT} WHERE private_owner IS NULL ORDER BY id LIMIT 1"),
            [],
            channel,
        )?)
    }

    /// A shared channel by name.
    pub fn channel_by_name(&self, name: &str) -> Result<Option<Channel>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("{SELECT} WHERE name = ?1 AND private_owner IS NULL"),
                [name],
                channel,
            )
            .optional()?)
    }

    /// A channel by id.
    pub fn channel_by_id(&self, id: i64) -> Result<Option<Channel>, StoreError> {
        Ok(self
            .conn()
            .query_row(&format!("{SELECT} WHERE id = ?1"), [id], channel)
            .optional()?)
    }

    /// The private channel of a user, created on first use.
    pub fn private_channel(&self, user_id: i64, expiry_secs: i64) -> Result<Channel, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO channels (name, expiry_secs, private_owner, created_at)
             VALUES (?1, ?2, ?3, 0)",
            (format!("Private:{user_id}"), expiry_secs, user_id),
        )?;
        Ok(conn.query_row(
            &format!("{SELECT} WHERE private_owner = ?1"),
            [user_id],
            channel,
        )?)
    }

    /// All shared channels.
    pub fn shared_channels(&self) -> Result<Vec<Channel>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "{SELECT} WHERE private_owner IS NULL ORDER BY name"
        ))?;
        let rows = stmt.query_map([], channel)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Creates a shared channel.
    pub fn add_channel(
        &self,
        name: &str,
        expiry_secs: i64,
        now: i64,
    ) -> Result<Channel, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO channels (name, expiry_secs, created_at) VALUES (?1, ?2, ?3)",
            (name, expiry_secs, now),
        )
        .map_err(|e| duplicate(e, format!("a channel named {name}")))?;
        Ok(Channel {
            id: conn.last_insert_rowid(),
            name: name.to_string(),
            expiry_secs,
            private_owner: None,
        })
    }

    /// Changes a channel's session expiry.
    pub fn set_channel_expiry(&self, id: i64, expiry_secs: i64) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE channels SET expiry_secs = ?2 WHERE id = ?1",
            (id, expiry_secs),
        )?;
        Ok(())
    }

    /// Adds or removes a member.
    pub fn set_member(
        &self,
        channel_id: i64,
        user_id: i64,
        member: bool,
    ) -> Result<(), StoreError> {
        let sql = if member {
            "INSERT OR IGNORE INTO channel_members (channel_id, user_id) VALUES (?1, ?2)"
        } else {
            "DELETE FROM channel_members WHERE channel_id = ?1 AND user_id = ?2"
        };
        self.conn().execute(sql, (channel_id, user_id))?;
        Ok(())
    }

    /// Members of a channel (user ids).
    pub fn members(&self, channel_id: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT user_id FROM channel_members WHERE channel_id = ?1 ORDER BY user_id",
        )?;
        let rows = stmt.query_map([channel_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Shared channels a user is a member of (ids).
    pub fn memberships(&self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT channel_id FROM channel_members WHERE user_id = ?1")?;
        let rows = stmt.query_map([user_id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A value of the meta table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value of the meta table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )?;
        Ok(())
    }
}
