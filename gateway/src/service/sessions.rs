//! Session actions of the Service Desk.

use super::{Desk, DeskError};
use crate::domain::SessionAction;
use crate::domain::access::Permission;
use crate::domain::secrets::{new_pin, new_token, random_bytes};
use crate::domain::{ActionError, Session};
use crate::store::{Channel, NewSessionRow, SessionRow, User};
use sos_transport::api::{AuditEvent, SessionView};
use sos_transport::wire::{ConsentDecision, EndReason, ToAgent};

/// Which sessions a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every session the user may see.
    All,
    /// Assigned to me or I was invited (Home).
    Home,
    /// One shared channel by name, or `Private`.
    Channel(String),
    /// Released sessions waiting for a technician.
    Queue,
}

impl Desk {
    /// A channel the user names: `Private` is their own private channel.
    pub fn channel_named(&self, user: &User, name: &str) -> Result<Channel, DeskError> {
        if name.eq_ignore_ascii_case("private") {
            let expiry = self.store.default_channel()?.expiry_secs;
            return Ok(self.store.private_channel(user.id, expiry)?);
        }
        self.store
            .channel_by_name(name)?
            .ok_or_else(|| DeskError::NotFound(format!("no channel named {name}")))
    }

    /// Creates a Pending session with a fresh PIN and link, assigned to its creator.
    pub fn new_session(
        &self,
        user: &User,
        channel: Option<&str>,
    ) -> Result<SessionView, DeskError> {
        let actor = self.actor(user)?;
        actor.require(Permission::AttendedAccess, "creating a session")?;
        self.check_licence()?;
        let channel = match channel {
            Some(name) => self.channel_named(user, name)?,
            None => self.store.default_channel()?,
        };
        if !actor.may_use_channel(channel.as_ref()) {
            return Err(DeskError::Forbidden(format!(
                "you are not a member of the channel {}",
                channel.name
            )));
        }
        let (pin, pin_hash) = loop {
            let pin = new_pin()?;
            let hash = self.keys.pin_hash(&pin);
            if !self.store.pin_in_use(&hash)? {
                break (pin, hash);
            }
        };
        let now = self.clock.now();
        let id = hex::encode(random_bytes::<8>()?);
        let session = Session::new(
            id.clone(),
            channel.as_ref(),
            user.id,
            channel.expiry_secs,
            now,
        );
        self.store.insert_session(&NewSessionRow {
            session: session.clone(),
            pin_sealed: self.keys.seal_pin(&pin)?,
            pin_hash,
            link_token: new_token::<18>()?,
            created_by: user.id,
        })?;
        self.store.audit(
            &id,
            now,
            (&user.email, &user.origin),
            "created",
            &format!("in {}", channel.name),
        )?;
        self.announce(&session, "created");
        let row = self.load(&id)?;
        self.view(&row, Some(pin), user)
    }

    /// Sessions the user may see, narrowed by `scope`.
    pub fn list(&self, user: &User, scope: &Scope) -> Result<Vec<SessionView>, DeskError> {
        let actor = self.actor(user)?;
        let channel = match scope {
            Scope::Channel(name) => Some(self.channel_named(user, name)?),
            _ => None,
        };
        let mut out = Vec::new();
        for row in self.store.all_sessions()? {
            let mut s = row.session.clone();
            s.agent_online = self.live.agent_online(&s.id);
            s.derive_status();
            if !s.visible_to(&actor) {
                continue;
            }
            let keep = match scope {
                Scope::All => true,
                Scope::Home => s.is_on(&actor),
                Scope::Queue => s.assignee.is_none() && !s.status.is_final(),
                Scope::Channel(_) => channel.as_ref().is_some_and(|c| c.id == s.channel.id),
            };
            if keep {
                let row = self.load(&s.id)?;
                out.push(self.view_as(&row, None, &actor)?);
            }
        }
        Ok(out)
    }

    /// One session.
    pub fn show(&self, user: &User, id: &str) -> Result<SessionView, DeskError> {
        let row = self.session_for(user, id)?;
        self.view(&row, None, user)
    }

    /// A session the user may read, without recording anything.
    pub fn session_for(&self, user: &User, id: &str) -> Result<SessionRow, DeskError> {
        let actor = self.actor(user)?;
        let row = self.load(id)?;
        if !row.session.visible_to(&actor) {
            return Err(DeskError::NotFound(format!("no session {id}")));
        }
        Ok(row)
    }

    /// The PIN of a live session ("Show PIN").
    pub fn pin(&self, user: &User, id: &str) -> Result<String, DeskError> {
        let row = self.act(user, id, SessionAction::Read, "show_pin", "")?;
        Ok(self.keys.open_pin(&row.pin_sealed)?)
    }

    /// The link of a live session ("Copy link").
    pub fn link(&self, user: &User, id: &str) -> Result<String, DeskError> {
        let row = self.act(user, id, SessionAction::Read, "copy_link", "")?;
        Ok(self.view(&row, None, user)?.link)
    }

    /// Asks the end user for access.
    pub fn request_remote(
        &self,
        user: &User,
        id: &str,
        control: bool,
    ) -> Result<SessionView, DeskError> {
        self.check_licence()?;
        let what = if control {
            "view and control"
        } else {
            "view only"
        };
        let row = self.act(
            user,
            id,
            SessionAction::RequestRemote { control },
            "request_remote",
            what,
        )?;
        self.live.to_agent(
            id,
            ToAgent::ConsentRequest {
                request_id: row.session.request_seq,
                technician: user.name.clone(),
                organisation: self.organisation.clone(),
                control,
            },
        );
        self.view(&row, None, user)
    }

    /// Whether the user may start watching now, recording nothing: the same rules as
    /// [`Desk::start_remote`], which the viewer's attachment then applies and records.
    pub fn check_start_remote(&self, user: &User, id: &str) -> Result<(), DeskError> {
        self.check_licence()?;
        let actor = self.actor(user)?;
        let row = self.load(id)?;
        if !row.session.visible_to(&actor) {
            return Err(DeskError::NotFound(format!("no session {id}")));
        }
        let mut session = row.session;
        session.apply(Some(&actor), SessionAction::StartRemote, self.clock.now())?;
        Ok(())
    }

    /// Checks that the user may start watching now (grant given, licence valid).
    pub fn start_remote(&self, user: &User, id: &str) -> Result<SessionView, DeskError> {
        self.check_licence()?;
        let row = self.act(user, id, SessionAction::StartRemote, "start_remote", "")?;
        self.view(&row, None, user)
    }

    fn user_named(&self, email: &str) -> Result<User, DeskError> {
        self.store
            .user_by_email(email)?
            .ok_or_else(|| DeskError::NotFound(format!("no user with e-mail {email}")))
    }

    /// Assigns the session (take it from the queue, or transfer it to another technician).
    pub fn assign(&self, user: &User, id: &str, email: &str) -> Result<SessionView, DeskError> {
        let target = self.user_named(email)?;
        let to = self.actor(&target)?;
        let row = self.act(user, id, SessionAction::Assign { to }, "assigned", email)?;
        // The previous technicians lose the live view they had.
        self.live.end_viewers(id, EndReason::Reassigned);
        self.view(&row, None, user)
    }

    /// Moves the session to another channel.
    pub fn transfer_to_channel(
        &self,
        user: &User,
        id: &str,
        name: &str,
    ) -> Result<SessionView, DeskError> {
        let channel = self.channel_named(user, name)?;
        let action = SessionAction::TransferToChannel {
            to: channel.as_ref(),
            expiry_secs: channel.expiry_secs,
        };
        let row = self.act(
            user,
            id,
            action,
            "transferred",
            &format!("to channel {name}"),
        )?;
        self.view(&row, None, user)
    }

    /// Invites another technician.
    pub fn invite(&self, user: &User, id: &str, email: &str) -> Result<SessionView, DeskError> {
        let target = self.user_named(email)?;
        let who = self.actor(&target)?;
        let row = self.act(user, id, SessionAction::Invite { who }, "invited", email)?;
        self.view(&row, None, user)
    }

    /// Releases the session to the channel's queue.
    pub fn release(&self, user: &User, id: &str) -> Result<SessionView, DeskError> {
        let row = self.act(user, id, SessionAction::Release, "released", "")?;
        self.live.end_viewers(id, EndReason::Reassigned);
        self.view(&row, None, user)
    }

    /// Closes a session for good.
    pub fn close(&self, user: &User, id: &str) -> Result<SessionView, DeskError> {
        let row = self.act(user, id, SessionAction::Close, "closed", "")?;
        self.live.end(id, EndReason::ClosedByTechnician);
        self.view(&row, None, user)
    }

    /// Deletes a session: gone from every list, kept in the audit log.
    pub fn delete(&self, user: &User, id: &str) -> Result<(), DeskError> {
        self.act(user, id, SessionAction::Delete, "deleted", "")?;
        self.live.end(id, EndReason::Deleted);
        Ok(())
    }

    /// The audit log of a session the user may see.
    pub fn log(&self, user: &User, id: &str) -> Result<Vec<AuditEvent>, DeskError> {
        self.session_for(user, id)?;
        Ok(self.store.audit_log(id)?)
    }

    /// The session a PIN registers, if it may register now.
    pub fn agent_registering(&self, pin: &str) -> Result<Option<SessionRow>, DeskError> {
        let hash = self.keys.pin_hash(pin);
        let Some(id) = self.store.live_session_by_pin(&hash)? else {
            return Ok(None);
        };
        let row = self.load(&id)?;
        Ok((!row.session.status.is_final()).then_some(row))
    }

    /// Records an event from the end user's side (registration, loss, answer, stop).
    pub fn agent_event(
        &self,
        id: &str,
        action: SessionAction,
        machine_name: Option<&str>,
        origin: &str,
    ) -> Result<Session, DeskError> {
        let mut row = self.load(id)?;
        let now = self.clock.now();
        // Registration is recorded before the live registry lists the app.
        if action == SessionAction::AgentRegistered {
            row.session.agent_online = false;
        }
        row.session
            .apply(None, action.clone(), now)
            .map_err(|e: ActionError| DeskError::from(e))?;
        self.store.save_session(&row.session, machine_name)?;
        let (what, detail) = match &action {
            SessionAction::AgentRegistered => {
                ("agent_registered", machine_name.unwrap_or("").to_string())
            }
            SessionAction::AgentLost => ("agent_lost", String::new()),
            SessionAction::AgentResumed => (
                "agent_resumed",
                "came back within the resume window; the end user's answer stands".into(),
            ),
            SessionAction::ConsentAnswered { decision, .. } => (
                "consent",
                match decision {
                    ConsentDecision::Grant { control: true } => "granted view and control".into(),
                    ConsentDecision::Grant { control: false } => "granted view only".into(),
                    ConsentDecision::Deny => "denied".into(),
                    ConsentDecision::TimedOut => "no answer, denied".into(),
                },
            ),
            SessionAction::StoppedByUser => ("stopped_by_user", String::new()),
            other => ("event", format!("{other:?}")),
        };
        self.store
            .audit(id, now, ("end user", origin), what, &detail)?;
        self.announce(&row.session, what);
        Ok(row.session)
    }
}
