//! Versioned schema migrations; each runs once, in order, inside a transaction.

use super::StoreError;
use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: users, roles, tokens, channels, sessions, audit, meta.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE roles (
        name TEXT PRIMARY KEY,
        permissions TEXT NOT NULL
    );
    CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE channels (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        expiry_secs INTEGER NOT NULL,
        private_owner INTEGER UNIQUE REFERENCES users(id),
        created_at INTEGER NOT NULL
    );
    INSERT INTO channels (name, expiry_secs, created_at) VALUES ('Default', 86400, 0);
    CREATE TABLE channel_members (
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        PRIMARY KEY (channel_id, user_id)
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        channel_id INTEGER NOT NULL REFERENCES channels(id),
        status TEXT NOT NULL,
        pin_hash TEXT NOT NULL,
        pin_sealed BLOB NOT NULL,
        link_token TEXT NOT NULL UNIQUE,
        assignee_id INTEGER REFERENCES users(id),
        invited TEXT NOT NULL DEFAULT '[]',
        created_by INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        expiry_secs INTEGER NOT NULL,
        machine_name TEXT,
        remote TEXT NOT NULL,
        request_seq INTEGER NOT NULL DEFAULT 0,
        closed INTEGER NOT NULL DEFAULT 0,
        expired INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_pin ON sessions (pin_hash);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_session ON audit (session_id, id);
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );",
    // 2: where each audited action came from.
    "ALTER TABLE audit ADD COLUMN origin TEXT NOT NULL DEFAULT '';",
];

/// Brings the schema to the newest version.
pub fn run(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
