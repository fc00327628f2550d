//! Durable state in embedded SQLite under the data folder.
//!
//! The store keeps users, API tokens, channels, sessions and the append-only audit log.
//! It knows nothing of HTTP or QUIC and applies no rules: callers load a
//! [`Session`](crate::domain::Session), apply an action and save it back. Schema changes are
//! versioned migrations (`PRAGMA user_version`). Every write is committed before the call
//! returns, so `kill -9` loses nothing that was acknowledged.

mod channels;
mod migrations;
mod sessions;
mod users;

pub use channels::Channel;
pub use sessions::{NewSessionRow, SessionRow};
pub use users::User;

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// Failures of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer gateway.
    #[error(
        "the database schema version {found} is newer than this gateway supports ({supported}); upgrade the gateway"
    )]
    TooNew {
        /// Version on disk.
        found: i64,
        /// Newest this build knows.
        supported: i64,
    },
    /// A unique value is taken.
    #[error("{0} already exists")]
    Duplicate(String),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The SQLite database of one gateway.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating and migrating if needed) `sosdesk.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(dir.join("sosdesk.db"))?;
        Self::setup(conn)
    }

    /// An in-memory store for tests.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::run(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The folder holding the database file (the gateway's data folder); `None` in memory.
    pub fn folder(&self) -> Option<std::path::PathBuf> {
        let conn = self.conn();
        let file = Path::new(conn.path().filter(|p| !p.is_empty())?);
        file.parent().map(Path::to_path_buf)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (each write is
        // its own transaction), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an audit event; `actor` is who acted and from where.
    pub fn audit(
        &self,
        session_id: &str,
        at: i64,
        actor: (&str, &str),
        action: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let (who, origin) = actor;
        self.conn().execute(
            "INSERT INTO audit (session_id, at, actor, origin, action, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (session_id, at, who, origin, action, detail),
        )?;
        Ok(())
    }

    /// The audit events of a session, oldest first.
    pub fn audit_log(
        &self,
        session_id: &str,
    ) -> Result<Vec<sos_transport::api::AuditEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, actor, origin, action, detail FROM audit WHERE session_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([session_id], |r| {
            Ok(sos_transport::api::AuditEvent {
                at: r.get(0)?,
                actor: r.get(1)?,
                origin: r.get(2)?,
                action: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
