//! Users, roles, passwords (argon2) and API tokens (stored hashed).

use super::{Store, StoreError};
use crate::domain::access::{Permission, builtin_role};
use crate::domain::secrets::{new_token, token_hash};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::OptionalExtension;
use std::collections::BTreeSet;

/// A user of the Service Desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: i64,
    /// E-mail (login name).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role name (built-in `owner`, `admin`, `technician`, or a custom role).
    pub role: String,
    /// Where the current request came from (network part only, for the audit log); empty
    /// outside a request.
    pub origin: String,
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

fn row_to_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String)> {
    Ok((
        User {
            id: r.get(0)?,
            email: r.get(1)?,
            name: r.get(2)?,
            role: r.get(3)?,
            origin: String::new(),
        },
        r.get(4)?,
    ))
}

impl Store {
    /// Adds a user with an argon2-hashed password.
    pub fn add_user(
        &self,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
        now: i64,
    ) -> Result<User, StoreError> {
        let hash = hash_password(password)?;
        let conn = self.conn();
        let result = conn.execute(
            "INSERT INTO users (email, name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            (email, name, role, hash, now),
        );
        match result {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::Duplicate(format!("a user with e-mail {email}")))
            }
            Err(e) => Err(e.into()),
            Ok(_) => Ok(User {
                id: conn.last_insert_rowid(),
                email: email.to_string(),
                name: name.to_string(),
                role: role.to_string(),
                origin: String::new(),
            }),
        }
    }

    /// The user with this e-mail and password, or None (same work done either way).
    pub fn check_login(&self, email: &str, password: &str) -> Result<Option<User>, StoreError> {
        let found = self
            .conn()
            .query_row(
                "SELECT id, email, name, role, password_hash FROM users WHERE email = ?1",
                [email],
                row_to_user,
            )
            .optional()?;
        // Verify against a fixed hash for unknown e-mails so timing does not tell them apart.
        let (user, hash) = match found {
            Some((user, hash)) => (Some(user), hash),
            None => (None, hash_password("not a real password")?),
        };
        let parsed = PasswordHash::new(&hash).map_err(|e| StoreError::Hash(e.to_string()))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(if ok { user } else { None })
    }

    /// A user by e-mail.
    pub fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, email, name, role, password_hash FROM users WHERE email = ?1",
                [email],
                row_to_user,
            )
            .optional()?
            .map(|(u, _)| u))
    }

    /// A user by id.
    pub fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, email, name, role, password_hash FROM users WHERE id = ?1",
                [id],
                row_to_user,
            )
            .optional()?
            .map(|(u, _)| u))
    }

    /// Every user, by e-mail.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, email, name, role, password_hash FROM users ORDER BY email")?;
        let rows = stmt.query_map([], row_to_user)?;
        Ok(rows.map(|r| r.map(|(u, _)| u)).collect::<Result<_, _>>()?)
    }

    /// The permissions of a role; an unknown role has none (default deny).
    pub fn permissions_of(&self, role: &str) -> Result<BTreeSet<Permission>, StoreError> {
        if let Some(builtin) = builtin_role(role) {
            return Ok(builtin);
        }
        let stored: Option<String> = self
            .conn()
            .query_row(
                "SELECT permissions FROM roles WHERE name = ?1",
                [role],
                |r| r.get(0),
            )
            .optional()?;
        Ok(stored
            .unwrap_or_default()
            .split(',')
            .filter_map(Permission::parse)
            .collect())
    }

    /// Whether a role exists (built-in or custom).
    pub fn role_exists(&self, role: &str) -> Result<bool, StoreError> {
        if builtin_role(role).is_some() {
            return Ok(true);
        }
        let found: Option<String> = self
            .conn()
            .query_row("SELECT name FROM roles WHERE name = ?1", [role], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(found.is_some())
    }

    /// Creates or replaces a custom role.
    pub fn set_role(
        &self,
        name: &str,
        permissions: &BTreeSet<Permission>,
    ) -> Result<(), StoreError> {
        let list: Vec<&str> = permissions.iter().map(|p| p.as_str()).collect();
        self.conn().execute(
            "INSERT INTO roles (name, permissions) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET permissions = excluded.permissions",
            (name, list.join(",")),
        )?;
        Ok(())
    }

    /// Custom roles and their permissions.
    pub fn custom_roles(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT name, permissions FROM roles ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Number of users whose role carries attended access (licence seats in use).
    pub fn seats_used(&self) -> Result<u32, StoreError> {
        let mut n = 0;
        for user in self.users()? {
            if self
                .permissions_of(&user.role)?
                .contains(&Permission::AttendedAccess)
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Issues a new API token for a user; only its hash is kept.
    pub fn issue_token(&self, user_id: i64, now: i64) -> Result<String, StoreError> {
        let token = new_token::<32>().map_err(|e| StoreError::Hash(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES (?1, ?2, ?3)",
            (token_hash(&token), user_id, now),
        )?;
        Ok(token)
    }

    /// Revokes an API token; false when it was unknown or already revoked.
    pub fn revoke_token(&self, token: &str) -> Result<bool, StoreError> {
        let changed = self.conn().execute(
            "UPDATE api_tokens SET revoked = 1 WHERE token_hash = ?1 AND revoked = 0",
            [token_hash(token)],
        )?;
        Ok(changed == 1)
    }

    /// The user an unrevoked API token belongs to.
    pub fn user_by_token(&self, token: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT u.id, u.email, u.name, u.role, u.password_hash FROM api_tokens t
                 JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1 AND t.revoked = 0",
                [token_hash(token)],
                row_to_user,
            )
            .optional()?
            .map(|(u, _)| u))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_and_tokens() {
        let store = Store::in_memory().unwrap();
        let user = store
            .add_user("a@example.com", "Ann", "technician", "pw-123456", 0)
            .unwrap();
        assert!(matches!(
            store.add_user("A@example.com", "Ann", "technician", "x", 0),
            Err(StoreError::Duplicate(_))
        ));
        assert_eq!(
            store.check_login("a@example.com", "pw-123456").unwrap(),
            Some(user.clone())
        );
        assert_eq!(store.check_login("a@example.com", "wrong").unwrap(), None);
        assert_eq!(
            store.check_login("b@example.com", "pw-123456").unwrap(),
            None
        );
        let token = store.issue_token(user.id, 1).unwrap();
        assert_eq!(store.user_by_token(&token).unwrap(), Some(user));
        assert_eq!(store.user_by_token("nope").unwrap(), None);
    }
}
