//! Channels, users, roles and the licence: the admin side of the Service Desk.

use super::{Desk, DeskError};
use crate::domain::access::Permission;
use crate::domain::licence::{self, Entitlement};
use crate::store::{Channel, User};
use sos_transport::api::{AlertView, ChannelUpdate, ChannelView, LicenceView, RoleView, UserView};
use std::collections::BTreeSet;

/// Shortest channel session expiry: 30 minutes.
pub const MIN_EXPIRY_SECS: i64 = 30 * 60;
/// Longest channel session expiry: 7 days.
pub const MAX_EXPIRY_SECS: i64 = 7 * 86_400;

fn check_expiry(secs: i64) -> Result<(), DeskError> {
    if (MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(DeskError::BadRequest(
            "session expiry must be between 30 minutes (1800 s) and 7 days (604800 s)".into(),
        ))
    }
}

impl Desk {
    /// The user as the API shows them.
    pub fn user_view(&self, user: &User) -> Result<UserView, DeskError> {
        Ok(UserView {
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role.clone(),
            permissions: self
                .store
                .permissions_of(&user.role)?
                .iter()
                .map(|p| p.as_str().to_string())
                .collect(),
        })
    }

    fn channel_view(&self, channel: &Channel) -> Result<ChannelView, DeskError> {
        let members = self
            .store
            .members(channel.id)?
            .into_iter()
            .map(|id| self.email_of(id))
            .collect::<Result<_, _>>()?;
        Ok(ChannelView {
            name: if channel.private_owner.is_some() {
                "Private".into()
            } else {
                channel.name.clone()
            },
            expiry_secs: channel.expiry_secs,
            members,
            private: channel.private_owner.is_some(),
        })
    }

    /// Channels the user may use, their private channel last.
    pub fn channels(&self, user: &User) -> Result<Vec<ChannelView>, DeskError> {
        let actor = self.actor(user)?;
        let mut out = Vec::new();
        for channel in self.store.shared_channels()? {
            if actor.may_use_channel(channel.as_ref()) {
                out.push(self.channel_view(&channel)?);
            }
        }
        if actor.has(Permission::AttendedAccess) {
            let expiry = self.store.default_channel()?.expiry_secs;
            out.push(self.channel_view(&self.store.private_channel(user.id, expiry)?)?);
        }
        Ok(out)
    }

    /// Creates a shared channel; its creator becomes a member.
    pub fn add_channel(
        &self,
        user: &User,
        name: &str,
        expiry_secs: i64,
    ) -> Result<ChannelView, DeskError> {
        self.actor(user)?
            .require(Permission::ManageChannels, "creating channels")?;
        let name = name.trim();
        if name.is_empty()
            || name.len() > 64
            || name.eq_ignore_ascii_case("private")
            || name.contains(':')
        {
            return Err(DeskError::BadRequest(
                "a channel name has 1 to 64 characters, no ':' and is not 'Private'".into(),
            ));
        }
        check_expiry(expiry_secs)?;
        let channel = self
            .store
            .add_channel(name, expiry_secs, self.clock.now())?;
        self.store.set_member(channel.id, user.id, true)?;
        self.channel_view(&channel)
    }

    /// Changes a shared channel's expiry and members.
    pub fn update_channel(
        &self,
        user: &User,
        name: &str,
        update: &ChannelUpdate,
    ) -> Result<ChannelView, DeskError> {
        self.actor(user)?
            .require(Permission::ManageChannels, "changing channels")?;
        let channel = self
            .store
            .channel_by_name(name)?
            .ok_or_else(|| DeskError::NotFound(format!("no channel named {name}")))?;
        if let Some(expiry) = update.expiry_secs {
            check_expiry(expiry)?;
            self.store.set_channel_expiry(channel.id, expiry)?;
        }
        for (emails, member) in [(&update.add_members, true), (&update.remove_members, false)] {
            for email in emails {
                let target = self
                    .store
                    .user_by_email(email)?
                    .ok_or_else(|| DeskError::NotFound(format!("no user with e-mail {email}")))?;
                self.store.set_member(channel.id, target.id, member)?;
            }
        }
        let channel = self
            .store
            .channel_by_id(channel.id)?
            .ok_or_else(|| DeskError::NotFound(format!("no channel named {name}")))?;
        self.channel_view(&channel)
    }

    /// Every user (needs manage_users).
    pub fn users(&self, user: &User) -> Result<Vec<UserView>, DeskError> {
        self.actor(user)?
            .require(Permission::ManageUsers, "listing users")?;
        self.store
            .users()?
            .iter()
            .map(|u| self.user_view(u))
            .collect()
    }

    /// Creates a user (needs manage_users; only an owner creates owners).
    pub fn add_user(
        &self,
        user: &User,
        email: &str,
        name: &str,
        role: &str,
        password: &str,
    ) -> Result<UserView, DeskError> {
        self.actor(user)?
            .require(Permission::ManageUsers, "creating users")?;
        if role == "owner" && user.role != "owner" {
            return Err(DeskError::Forbidden(
                "only an owner can create owners".into(),
            ));
        }
        let created = create_user(self, email, name, role, password)?;
        self.user_view(&created)
    }

    /// Built-in and custom roles.
    pub fn roles(&self) -> Result<Vec<RoleView>, DeskError> {
        let mut out: Vec<RoleView> = ["owner", "admin", "technician"]
            .iter()
            .map(|name| {
                Ok(RoleView {
                    name: name.to_string(),
                    permissions: self
                        .store
                        .permissions_of(name)?
                        .iter()
                        .map(|p| p.as_str().to_string())
                        .collect(),
                })
            })
            .collect::<Result<_, DeskError>>()?;
        for (name, permissions) in self.store.custom_roles()? {
            out.push(RoleView {
                name,
                permissions: permissions
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Creates or changes a custom role (needs manage_users).
    pub fn set_role(&self, user: &User, role: &RoleView) -> Result<RoleView, DeskError> {
        self.actor(user)?
            .require(Permission::ManageUsers, "changing roles")?;
        if crate::domain::access::builtin_role(&role.name).is_some() {
            return Err(DeskError::BadRequest(format!(
                "{} is a built-in role",
                role.name
            )));
        }
        let mut permissions = BTreeSet::new();
        for name in &role.permissions {
            permissions.insert(Permission::parse(name).ok_or_else(|| {
                DeskError::BadRequest(format!(
                    "unknown permission {name}: use attended_access, release, manage_channels or manage_users"
                ))
            })?);
        }
        self.store.set_role(&role.name, &permissions)?;
        Ok(role.clone())
    }

    /// What administrators (manage_users) should know now: PIN registration switched off by
    /// guessing, a licence that refuses sessions.
    pub fn alerts(&self, user: &User) -> Result<Vec<AlertView>, DeskError> {
        self.actor(user)?
            .require(Permission::ManageUsers, "reading the gateway's alerts")?;
        let now = self.clock.now();
        let mut alerts = Vec::new();
        let limiter = self.pin_limiter.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = limiter.link_only_until(now) {
            let limits = limiter.limits();
            alerts.push(AlertView {
                kind: "link_only".into(),
                message: format!(
                    "{} wrong PINs reached the gateway within {} minutes (its gateway-wide \
                     limit): PIN registration is off for {} more minutes. End users who \
                     start the app from their session link still connect; tell the others to \
                     use the link.",
                    limits.global_failures,
                    limits.window / 60,
                    ((until - now) + 59) / 60
                ),
                until: Some(until),
            });
        }
        drop(limiter);
        if let Some(problem) = self.licence_view()?.problem {
            alerts.push(AlertView {
                kind: "licence".into(),
                message: format!("Support sessions are refused: {problem}"),
                until: None,
            });
        }
        Ok(alerts)
    }

    /// Licence status, for the console and `sos-gateway licence show`.
    pub fn licence_view(&self) -> Result<LicenceView, DeskError> {
        let seats_used = self.store.seats_used()?;
        let entitlement = match self.entitlement() {
            Ok(e) => e,
            Err(DeskError::Licence(e)) => {
                return Ok(LicenceView {
                    mode: "invalid".into(),
                    licensee: None,
                    features: Vec::new(),
                    seats: 0,
                    seats_used,
                    expires_at: 0,
                    problem: Some(e.to_string()),
                });
            }
            Err(e) => return Err(e),
        };
        let problem = entitlement
            .check_sos(self.clock.now(), seats_used)
            .err()
            .map(|e| e.to_string());
        Ok(match &entitlement {
            Entitlement::Evaluation { ends_at } => LicenceView {
                mode: "evaluation".into(),
                licensee: None,
                features: vec![licence::SOS_FEATURE.into()],
                seats: entitlement.seats(),
                seats_used,
                expires_at: *ends_at,
                problem,
            },
            Entitlement::Licensed(l) => LicenceView {
                mode: "licensed".into(),
                licensee: Some(l.licensee.clone()),
                features: l.features.clone(),
                seats: l.seats,
                seats_used,
                expires_at: l.expires_at,
                problem,
            },
        })
    }

    /// Verifies and installs a licence file's text.
    pub fn install_licence(&self, text: &str) -> Result<LicenceView, DeskError> {
        licence::verify(text, &self.licence_keys)?;
        self.store.set_meta("licence", text)?;
        self.licence_view()
    }
}

/// Creates a user with its private channel (also used by `sos-gateway user add`).
pub fn create_user(
    desk: &Desk,
    email: &str,
    name: &str,
    role: &str,
    password: &str,
) -> Result<User, DeskError> {
    if !email.contains('@') || email.len() > 254 {
        return Err(DeskError::BadRequest(format!(
            "{email:?} is not an e-mail address"
        )));
    }
    if password.chars().count() < 8 {
        return Err(DeskError::BadRequest(
            "the password must have at least 8 characters".into(),
        ));
    }
    if name.trim().is_empty() {
        return Err(DeskError::BadRequest("the name must not be empty".into()));
    }
    if !desk.store.role_exists(role)? {
        return Err(DeskError::BadRequest(format!(
            "unknown role {role:?}: use owner, admin, technician or a custom role"
        )));
    }
    let user = desk
        .store
        .add_user(email, name.trim(), role, password, desk.clock.now())?;
    // Everyone starts in the default channel; admins can change memberships.
    let default = desk.store.default_channel()?;
    desk.store.set_member(default.id, user.id, true)?;
    desk.store.private_channel(user.id, default.expiry_secs)?;
    Ok(user)
}
