//! A support session's lifecycle and the actions on it.
//!
//! Status is derived, never set by hand, so illegal combinations cannot be stored:
//! Closed and Expired are final; otherwise no assignee means **In queue**, an assignee with
//! the end user's app connected means **Active**, and an assignee without it **Pending**.
//!
//! Expiry: the clock starts when the session is created (`expires_at = created + channel
//! expiry`). While a remote session is live (access granted and the app connected) the
//! session cannot expire; when that live period ends, or the session moves to another
//! channel, the clock restarts from that moment with the channel's expiry.
//!
//! Never reads the clock: `now` is always an input (seconds since the Unix epoch).

use super::access::{Actor, ChannelRef, Denied, Permission};
use sos_transport::api::{RemoteState, SessionStatus};
use sos_transport::wire::ConsentDecision;

/// Seconds since the Unix epoch, as given by the caller.
pub type UnixSeconds = i64;

/// Most technicians on one session: the assignee and two invited.
pub const MAX_TECHNICIANS: usize = 3;

/// One support session's state as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Status (derived; see the module docs).
    pub status: SessionStatus,
    /// Channel it lives in.
    pub channel: ChannelRef,
    /// Assigned technician (user id); None while in the queue.
    pub assignee: Option<i64>,
    /// Technicians invited besides the assignee (at most two).
    pub invited: Vec<i64>,
    /// Whether the end user's app is connected.
    pub agent_online: bool,
    /// Permission state.
    pub remote: RemoteState,
    /// Creation time.
    pub created_at: UnixSeconds,
    /// Expiry deadline while no remote session is live.
    pub expires_at: UnixSeconds,
    /// The channel's session expiry in seconds.
    pub expiry_secs: i64,
    /// Id of the last permission request sent to the agent.
    pub request_seq: u64,
    /// Closed by a technician (final).
    pub closed: bool,
    /// Passed its expiry (final).
    pub expired: bool,
    /// Deleted: gone from every list; kept only in the audit log.
    pub deleted: bool,
}

/// Something that happens to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAction {
    /// The end user's app registered with the PIN.
    AgentRegistered,
    /// The end user's app disconnected without stopping.
    AgentLost,
    /// The end user's app came back with its ticket within the resume window: it is
    /// connected again and the end user's answer stands.
    AgentResumed,
    /// The end user answered request `request_id`.
    ConsentAnswered {
        /// Which request.
        request_id: u64,
        /// The answer.
        decision: ConsentDecision,
    },
    /// The end user stopped the session from the app.
    StoppedByUser,
    /// A technician asks the end user for access.
    RequestRemote {
        /// Ask for control too.
        control: bool,
    },
    /// A technician starts watching (only after a grant).
    StartRemote,
    /// Give the session to a technician (take it from the queue, or transfer it).
    Assign {
        /// The new assignee.
        to: Actor,
    },
    /// Move the session to another channel.
    TransferToChannel {
        /// Target channel.
        to: ChannelRef,
        /// Its session expiry.
        expiry_secs: i64,
    },
    /// Invite another technician to watch.
    Invite {
        /// Who.
        who: Actor,
    },
    /// Release the session to the channel's queue.
    Release,
    /// Close the session for good.
    Close,
    /// Delete the session (audit log kept).
    Delete,
    /// Read the PIN or the link.
    Read,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The session is closed or expired.
    #[error("the session is {0} and cannot change any more — create a new session")]
    Final(SessionStatus),
    /// The session was deleted.
    #[error("the session was deleted")]
    Deleted,
    /// The end user's app is not connected.
    #[error("the end user's app is not connected — give them the link or the PIN")]
    AgentOffline,
    /// The app is already connected for this session.
    #[error("the end user's app is already connected to this session")]
    AlreadyConnected,
    /// A reply to a request that is not the open one.
    #[error("no open permission request with that id")]
    UnknownRequest,
    /// Watching needs the end user's grant first.
    #[error("the end user has not granted access — request the remote session first")]
    NotGranted,
    /// Three technicians already.
    #[error("a session has at most 3 technicians (the assignee and 2 invited)")]
    TooManyTechnicians,
    /// Nothing to do.
    #[error("{0}")]
    Redundant(&'static str),
    /// The actor may not do this.
    #[error(transparent)]
    Denied(#[from] Denied),
}

impl Session {
    /// A new Pending session in `channel`, assigned to its creator.
    pub fn new(
        id: String,
        channel: ChannelRef,
        creator: i64,
        expiry_secs: i64,
        now: UnixSeconds,
    ) -> Self {
        let mut s = Self {
            id,
            status: SessionStatus::Pending,
            channel,
            assignee: Some(creator),
            invited: Vec::new(),
            agent_online: false,
            remote: RemoteState::NotRequested,
            created_at: now,
            expires_at: now.saturating_add(expiry_secs),
            expiry_secs,
            request_seq: 0,
            closed: false,
            expired: false,
            deleted: false,
        };
        s.derive_status();
        s
    }

    /// Recomputes the status from the facts.
    pub fn derive_status(&mut self) {
        self.status = if self.closed {
            SessionStatus::Closed
        } else if self.expired {
            SessionStatus::Expired
        } else if self.assignee.is_none() {
            SessionStatus::InQueue
        } else if self.agent_online {
            SessionStatus::Active
        } else {
            SessionStatus::Pending
        };
    }

    /// Whether a remote session is live (the expiry clock is stopped).
    pub fn is_live(&self) -> bool {
        self.agent_online && matches!(self.remote, RemoteState::Granted { .. })
    }

    /// Whether `actor` is on the session (assignee or invited).
    pub fn is_on(&self, actor: &Actor) -> bool {
        self.assignee == Some(actor.id) || self.invited.contains(&actor.id)
    }

    /// Whether `actor` may see the session at all.
    pub fn visible_to(&self, actor: &Actor) -> bool {
        if self.deleted {
            return false;
        }
        match self.channel.private_owner {
            Some(owner) => owner == actor.id,
            None => self.is_on(actor) || actor.may_use_channel(self.channel),
        }
    }

    /// Applies the expiry rule at `now`; returns true if the session just expired.
    pub fn tick(&mut self, now: UnixSeconds) -> bool {
        if self.status.is_final() || self.deleted || self.is_live() || now < self.expires_at {
            return false;
        }
        self.expired = true;
        self.agent_online = false;
        self.derive_status();
        true
    }

    /// Applies `action` by `actor` (None: the end user's app or the gateway) at `now`, or
    /// says why not. On error nothing changed except a due expiry.
    pub fn apply(
        &mut self,
        actor: Option<&Actor>,
        action: SessionAction,
        now: UnixSeconds,
    ) -> Result<(), ActionError> {
        self.tick(now);
        if self.deleted {
            return Err(ActionError::Deleted);
        }
        if self.status.is_final() {
            return Err(ActionError::Final(self.status));
        }
        if let Some(actor) = actor {
            self.check(actor, &action)?;
        }
        let was_live = self.is_live();
        let mut next = self.clone();
        next.change(action, now)?;
        if was_live && !next.is_live() {
            next.expires_at = now.saturating_add(next.expiry_secs);
        }
        next.derive_status();
        *self = next;
        Ok(())
    }

    /// Whether `actor` may take `action` (the rules of the Service Desk).
    fn check(&self, actor: &Actor, action: &SessionAction) -> Result<(), ActionError> {
        actor.require(Permission::AttendedAccess, "using support sessions")?;
        if !self.visible_to(actor) {
            return Err(Denied::NotYours("you cannot see this session").into());
        }
        let manager = actor.has(Permission::ManageChannels);
        let owns = self.assignee == Some(actor.id) || manager;
        match action {
            SessionAction::Read => Ok(()),
            SessionAction::StartRemote => {
                if self.is_on(actor) || manager {
                    Ok(())
                } else {
                    Err(Denied::NotYours("only the session's technicians can watch it").into())
                }
            }
            SessionAction::RequestRemote { .. } | SessionAction::Close | SessionAction::Delete => {
                if owns {
                    Ok(())
                } else {
                    Err(Denied::NotYours("only the assignee can do this").into())
                }
            }
            SessionAction::Release => {
                actor.require(Permission::Release, "release")?;
                if owns {
                    Ok(())
                } else {
                    Err(Denied::NotYours("only the assignee can release the session").into())
                }
            }
            SessionAction::Assign { to } => {
                to.require(Permission::AttendedAccess, "being assigned a session")?;
                if let Some(owner) = self.channel.private_owner
                    && owner != to.id
                {
                    return Err(Denied::Private.into());
                }
                match self.assignee {
                    // Taking from the queue: anyone who sees the channel.
                    None => Ok(()),
                    Some(current) if current == to.id => Ok(()),
                    Some(_) => {
                        actor.require(Permission::Release, "transfer")?;
                        if owns {
                            Ok(())
                        } else {
                            Err(
                                Denied::NotYours("only the assignee can transfer the session")
                                    .into(),
                            )
                        }
                    }
                }
            }
            SessionAction::TransferToChannel { to, .. } => {
                if !owns {
                    return Err(Denied::NotYours("only the assignee can move the session").into());
                }
                if !actor.may_use_channel(*to) {
                    return Err(Denied::Channel.into());
                }
                match to.private_owner {
                    Some(owner) if Some(owner) != self.assignee => Err(Denied::Private.into()),
                    _ => Ok(()),
                }
            }
            SessionAction::Invite { who } => {
                if self.channel.private_owner.is_some() {
                    return Err(Denied::Private.into());
                }
                who.require(Permission::AttendedAccess, "being invited to a session")?;
                if owns {
                    Ok(())
                } else {
                    Err(Denied::NotYours("only the assignee can invite").into())
                }
            }
            SessionAction::AgentRegistered
            | SessionAction::AgentLost
            | SessionAction::AgentResumed
            | SessionAction::ConsentAnswered { .. }
            | SessionAction::StoppedByUser => {
                Err(Denied::NotYours("only the end user's app reports this").into())
            }
        }
    }

    fn change(&mut self, action: SessionAction, now: UnixSeconds) -> Result<(), ActionError> {
        match action {
            SessionAction::Read => {}
            SessionAction::AgentRegistered => {
                if self.agent_online {
                    return Err(ActionError::AlreadyConnected);
                }
                self.agent_online = true;
                self.remote = RemoteState::NotRequested;
            }
            SessionAction::AgentLost => {
                self.agent_online = false;
                self.remote = RemoteState::NotRequested;
            }
            SessionAction::AgentResumed => {
                // Within the window the session never went offline.
                if !self.agent_online {
                    return Err(ActionError::AgentOffline);
                }
            }
            SessionAction::ConsentAnswered {
                request_id,
                decision,
            } => {
                if request_id != self.request_seq || self.remote != RemoteState::Requested {
                    return Err(ActionError::UnknownRequest);
                }
                self.remote = match decision {
                    ConsentDecision::Grant { control } => RemoteState::Granted { control },
                    ConsentDecision::Deny | ConsentDecision::TimedOut => RemoteState::Denied,
                };
            }
            SessionAction::StoppedByUser | SessionAction::Close => {
                self.closed = true;
                self.agent_online = false;
            }
            SessionAction::Delete => {
                self.deleted = true;
                self.closed = true;
                self.agent_online = false;
            }
            SessionAction::RequestRemote { .. } => {
                if !self.agent_online {
                    return Err(ActionError::AgentOffline);
                }
                if self.assignee.is_none() {
                    return Err(ActionError::Redundant(
                        "take the session from the queue before requesting access",
                    ));
                }
                self.request_seq += 1;
                self.remote = RemoteState::Requested;
            }
            SessionAction::StartRemote => {
                if !self.agent_online {
                    return Err(ActionError::AgentOffline);
                }
                if !matches!(self.remote, RemoteState::Granted { .. }) {
                    return Err(ActionError::NotGranted);
                }
            }
            SessionAction::Assign { to } => {
                if self.assignee == Some(to.id) {
                    return Err(ActionError::Redundant(
                        "already assigned to that technician",
                    ));
                }
                self.invited.retain(|id| *id != to.id);
                self.assignee = Some(to.id);
                self.remote = RemoteState::NotRequested;
            }
            SessionAction::TransferToChannel { to, expiry_secs } => {
                if to.id == self.channel.id {
                    return Err(ActionError::Redundant(
                        "the session is already in that channel",
                    ));
                }
                if to.private_owner.is_some() {
                    self.invited.clear();
                }
                self.channel = to;
                self.expiry_secs = expiry_secs;
                self.expires_at = now.saturating_add(expiry_secs);
            }
            SessionAction::Invite { who } => {
                if self.is_on(&who) {
                    return Err(ActionError::Redundant(
                        "that technician is already on the session",
                    ));
                }
                if self.invited.len() + 1 >= MAX_TECHNICIANS {
                    return Err(ActionError::TooManyTechnicians);
                }
                self.invited.push(who.id);
            }
            SessionAction::Release => {
                self.assignee = None;
                self.remote = RemoteState::NotRequested;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
