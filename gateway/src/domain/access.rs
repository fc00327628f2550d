//! Who may see and do what: roles, permissions and channel access, without IO.
//!
//! The default is deny: every check returns `Ok` only when a rule allows the action.
//! Private channels are seen by their owner alone, whatever the other user's role.

use std::collections::BTreeSet;
use std::fmt;

/// A permission a role can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Use attended (SOS) support sessions at all.
    AttendedAccess,
    /// Hand a session to another assignee, or release it to the queue.
    Release,
    /// Create channels, change their members and expiry, see every shared channel.
    ManageChannels,
    /// Create users and roles.
    ManageUsers,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 4] = [
        Permission::AttendedAccess,
        Permission::Release,
        Permission::ManageChannels,
        Permission::ManageUsers,
    ];
    /// Name in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AttendedAccess => "attended_access",
            Permission::Release => "release",
            Permission::ManageChannels => "manage_channels",
            Permission::ManageUsers => "manage_users",
        }
    }
    /// Parses a permission name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The permissions of a built-in role, or None for a custom role name.
pub fn builtin_role(name: &str) -> Option<BTreeSet<Permission>> {
    match name {
        "owner" | "admin" => Some(Permission::ALL.into_iter().collect()),
        "technician" => Some([Permission::AttendedAccess].into_iter().collect()),
        _ => None,
    }
}

/// The acting user as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// User id.
    pub id: i64,
    /// Permissions of their role.
    pub permissions: BTreeSet<Permission>,
    /// Shared channels they are a member of.
    pub channels: BTreeSet<i64>,
}

/// A channel as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRef {
    /// Channel id.
    pub id: i64,
    /// Owner of a private channel; None for a shared channel.
    pub private_owner: Option<i64>,
}

/// Why the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// A permission is missing.
    #[error("{what} needs the {permission} permission")]
    Missing {
        /// What was attempted.
        what: &'static str,
        /// The permission it needs.
        permission: Permission,
    },
    /// The user cannot use this channel.
    #[error("you have no access to this channel")]
    Channel,
    /// The session belongs to someone else.
    #[error("{0}")]
    NotYours(&'static str),
    /// A private channel's sessions stay with its owner.
    #[error(
        "sessions in a private channel stay with its owner — transfer it to a shared channel first"
    )]
    Private,
}

impl Actor {
    /// Whether the actor's role carries `p`.
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Requires a permission for `what`.
    pub fn require(&self, p: Permission, what: &'static str) -> Result<(), Denied> {
        if self.has(p) {
            Ok(())
        } else {
            Err(Denied::Missing {
                what,
                permission: p,
            })
        }
    }

    /// Whether the actor may use (see and create sessions in) a channel.
    pub fn may_use_channel(&self, channel: ChannelRef) -> bool {
        match channel.private_owner {
            Some(owner) => owner == self.id,
            None => self.channels.contains(&channel.id) || self.has(Permission::ManageChannels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: i64, role: &str, channels: &[i64]) -> Actor {
        Actor {
            id,
            permissions: builtin_role(role).unwrap(),
            channels: channels.iter().copied().collect(),
        }
    }

    #[test]
    fn technicians_lack_release_and_admins_have_everything() {
        let tech = actor(1, "technician", &[]);
        assert!(tech.has(Permission::AttendedAccess));
        assert_eq!(
            tech.require(Permission::Release, "transfer")
                .unwrap_err()
                .to_string(),
            "transfer needs the release permission"
        );
        let admin = actor(2, "admin", &[]);
        assert!(Permission::ALL.iter().all(|p| admin.has(*p)));
    }

    #[test]
    fn private_channels_are_their_owners_alone() {
        let private = ChannelRef {
            id: 9,
            private_owner: Some(1),
        };
        assert!(actor(1, "technician", &[]).may_use_channel(private));
        assert!(!actor(2, "owner", &[9]).may_use_channel(private));
        let shared = ChannelRef {
            id: 3,
            private_owner: None,
        };
        assert!(actor(1, "technician", &[3]).may_use_channel(shared));
        assert!(!actor(1, "technician", &[4]).may_use_channel(shared));
        assert!(actor(2, "admin", &[]).may_use_channel(shared));
    }
}
