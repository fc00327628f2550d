//! A support session's lifecycle.
//!
//! Statuses: Pending (created, waiting for the end user's app) -> Active (app registered
//! and a technician assigned) -> Closed (final). Expired is final too.
//!
//! Expiry: the clock starts when the session is created (`expires_at = created + channel
//! expiry`). While a remote session is live (access granted and the app connected) the
//! session cannot expire; when that live period ends the clock restarts from that moment.
//! Never reads the clock: `now` is always an input (seconds since the Unix epoch).

use sos_transport::api::{RemoteState, SessionStatus};
use sos_transport::wire::ConsentDecision;

/// Seconds since the Unix epoch, as given by the caller.
pub type UnixSeconds = i64;

/// One support session's state as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Status.
    pub status: SessionStatus,
    /// Assigned technician (user id).
    pub assignee: Option<i64>,
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
}

/// Something that happens to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAction {
    /// The end user's app registered with the PIN.
    AgentRegistered,
    /// The end user's app disconnected without stopping.
    AgentLost,
    /// A technician asks for access.
    RequestRemote {
        /// Ask for control too.
        control: bool,
    },
    /// The end user answered request `request_id`.
    ConsentAnswered {
        /// Which request.
        request_id: u64,
        /// The answer.
        decision: ConsentDecision,
    },
    /// A technician closed the session.
    Close,
    /// The end user stopped the session from the app.
    StoppedByUser,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The session is closed or expired.
    #[error("the session is {0} and cannot change any more — create a new session")]
    Final(SessionStatus),
    /// The end user's app is not connected.
    #[error("the end user's app is not connected yet — give them the link or the PIN")]
    AgentOffline,
    /// The app is already connected for this session.
    #[error("the end user's app is already connected to this session")]
    AlreadyConnected,
    /// A reply to a request that is not the open one.
    #[error("no open permission request with that id")]
    UnknownRequest,
}

impl Session {
    /// A new Pending session assigned to its creator.
    pub fn new(id: String, creator: i64, expiry_secs: i64, now: UnixSeconds) -> Self {
        Self {
            id,
            status: SessionStatus::Pending,
            assignee: Some(creator),
            agent_online: false,
            remote: RemoteState::NotRequested,
            created_at: now,
            expires_at: now.saturating_add(expiry_secs),
            expiry_secs,
            request_seq: 0,
        }
    }

    /// Whether a remote session is live (the expiry clock is stopped).
    pub fn is_live(&self) -> bool {
        self.agent_online && matches!(self.remote, RemoteState::Granted { .. })
    }

    /// Applies the expiry rule at `now`; returns true if the session just expired.
    pub fn tick(&mut self, now: UnixSeconds) -> bool {
        if self.status.is_final() || self.is_live() || now < self.expires_at {
            return false;
        }
        self.status = SessionStatus::Expired;
        self.agent_online = false;
        true
    }

    /// Applies `action` at `now`, or says why not. On error nothing changed.
    pub fn apply(&mut self, action: SessionAction, now: UnixSeconds) -> Result<(), ActionError> {
        self.tick(now);
        if self.status.is_final() {
            return Err(ActionError::Final(self.status));
        }
        let was_live = self.is_live();
        match action {
            SessionAction::AgentRegistered => {
                if self.agent_online {
                    return Err(ActionError::AlreadyConnected);
                }
                self.agent_online = true;
                self.remote = RemoteState::NotRequested;
                self.status = if self.assignee.is_some() {
                    SessionStatus::Active
                } else {
                    SessionStatus::InQueue
                };
            }
            SessionAction::AgentLost => {
                self.agent_online = false;
                self.remote = RemoteState::NotRequested;
                self.status = SessionStatus::Pending;
            }
            SessionAction::RequestRemote { .. } => {
                if !self.agent_online {
                    return Err(ActionError::AgentOffline);
                }
                self.request_seq += 1;
                self.remote = RemoteState::Requested;
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
            SessionAction::Close | SessionAction::StoppedByUser => {
                self.status = SessionStatus::Closed;
                self.agent_online = false;
            }
        }
        if was_live && !self.is_live() {
            self.expires_at = now.saturating_add(self.expiry_secs);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(now: i64) -> Session {
        Session::new("s1".into(), 7, 3600, now)
    }

    #[test]
    fn registration_makes_an_assigned_session_active() {
        let mut s = pending(0);
        assert_eq!(s.status, SessionStatus::Pending);
        s.apply(SessionAction::AgentRegistered, 10).unwrap();
        assert_eq!(s.status, SessionStatus::Active);
        assert_eq!(
            s.apply(SessionAction::AgentRegistered, 11),
            Err(ActionError::AlreadyConnected)
        );
    }

    #[test]
    fn request_needs_the_app_and_answers_match_the_request() {
        let mut s = pending(0);
        assert_eq!(
            s.apply(SessionAction::RequestRemote { control: true }, 1),
            Err(ActionError::AgentOffline)
        );
        s.apply(SessionAction::AgentRegistered, 2).unwrap();
        s.apply(SessionAction::RequestRemote { control: true }, 3)
            .unwrap();
        assert_eq!(s.remote, RemoteState::Requested);
        let stale = SessionAction::ConsentAnswered {
            request_id: 99,
            decision: ConsentDecision::Grant { control: true },
        };
        assert_eq!(s.apply(stale, 4), Err(ActionError::UnknownRequest));
        let grant = SessionAction::ConsentAnswered {
            request_id: s.request_seq,
            decision: ConsentDecision::Grant { control: false },
        };
        s.apply(grant, 5).unwrap();
        assert_eq!(s.remote, RemoteState::Granted { control: false });
    }

    #[test]
    fn closed_is_final() {
        let mut s = pending(0);
        s.apply(SessionAction::Close, 1).unwrap();
        assert_eq!(s.status, SessionStatus::Closed);
        for action in [
            SessionAction::AgentRegistered,
            SessionAction::RequestRemote { control: true },
            SessionAction::Close,
        ] {
            assert_eq!(
                s.apply(action, 2),
                Err(ActionError::Final(SessionStatus::Closed))
            );
        }
    }

    #[test]
    fn expiry_waits_while_live_and_restarts_after() {
        let mut s = pending(0);
        s.apply(SessionAction::AgentRegistered, 10).unwrap();
        s.apply(SessionAction::RequestRemote { control: true }, 20)
            .unwrap();
        let grant = SessionAction::ConsentAnswered {
            request_id: 1,
            decision: ConsentDecision::Grant { control: true },
        };
        s.apply(grant, 30).unwrap();
        assert!(!s.tick(10_000), "a live remote session never expires");
        s.apply(SessionAction::AgentLost, 10_000).unwrap();
        assert_eq!(s.expires_at, 10_000 + 3600);
        assert!(!s.tick(10_000 + 3599));
        assert!(s.tick(10_000 + 3600));
        assert_eq!(s.status, SessionStatus::Expired);
        assert_eq!(
            s.apply(SessionAction::AgentRegistered, 20_000),
            Err(ActionError::Final(SessionStatus::Expired))
        );
    }

    #[test]
    fn a_pending_session_expires_from_creation() {
        let mut s = pending(100);
        assert_eq!(s.expires_at, 3700);
        assert_eq!(
            s.apply(SessionAction::AgentRegistered, 3700),
            Err(ActionError::Final(SessionStatus::Expired))
        );
    }

    #[test]
    fn random_action_sequences_keep_the_invariants() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2_000 {
            let mut s = pending(0);
            let mut now = 0;
            let mut final_seen = None;
            for _ in 0..30 {
                now += (next() % 900) as i64;
                let action = match next() % 7 {
                    0 => SessionAction::AgentRegistered,
                    1 => SessionAction::AgentLost,
                    2 => SessionAction::RequestRemote { control: true },
                    3 => SessionAction::ConsentAnswered {
                        request_id: s.request_seq,
                        decision: ConsentDecision::Grant { control: true },
                    },
                    4 => SessionAction::ConsentAnswered {
                        request_id: s.request_seq,
                        decision: ConsentDecision::Deny,
                    },
                    5 => SessionAction::Close,
                    _ => SessionAction::StoppedByUser,
                };
                let before = s.clone();
                if s.apply(action, now).is_err() {
                    let mut expected = before;
                    expected.tick(now);
                    assert_eq!(s, expected, "a refused action changes nothing but expiry");
                }
                if s.status == SessionStatus::Active {
                    assert!(s.agent_online && s.assignee.is_some());
                }
                if let Some(f) = final_seen {
                    assert_eq!(s.status, f, "final statuses never change");
                }
                if s.status.is_final() {
                    final_seen = Some(s.status);
                }
            }
        }
    }
}
