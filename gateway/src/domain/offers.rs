//! Which actions a technician may take on a session now, and why not — for the console to
//! enable or disable its buttons with a reason.
//!
//! Never restates a rule: each action is tried with [`Session::apply`] on a copy. Actions
//! with a target (assign, invite, transfer to a channel) are tried against a stand-in
//! target that the rules would accept, so only what depends on the session and the actor
//! decides; the real target is checked when the technician names it.
//! Never reads the clock: `now` is an input.

use super::access::{Actor, ChannelRef, Permission};
use super::session::{ActionError, Session, SessionAction, UnixSeconds};
use sos_transport::api::{ActionState, SessionActionKind};

/// Id no real user or channel has: the stand-in target of the trials.
const STAND_IN: i64 = i64::MIN;

impl Session {
    /// Whether `actor` may take each action now, and why not.
    pub fn offers(&self, actor: &Actor, now: UnixSeconds) -> Vec<ActionState> {
        let other = Actor {
            id: STAND_IN,
            permissions: [Permission::AttendedAccess].into_iter().collect(),
            channels: Default::default(),
        };
        // A shared channel the actor may use, other than the session's.
        let mut mover = actor.clone();
        mover.channels.insert(STAND_IN);
        let elsewhere = ChannelRef {
            id: STAND_IN,
            private_owner: None,
        };
        let trials = [
            (
                SessionActionKind::Request,
                actor,
                SessionAction::RequestRemote { control: true },
            ),
            (SessionActionKind::Start, actor, SessionAction::StartRemote),
            (
                SessionActionKind::Assign,
                actor,
                SessionAction::Assign { to: other.clone() },
            ),
            (
                SessionActionKind::TransferChannel,
                &mover,
                SessionAction::TransferToChannel {
                    to: elsewhere,
                    expiry_secs: self.expiry_secs,
                },
            ),
            (
                SessionActionKind::Invite,
                actor,
                SessionAction::Invite { who: other.clone() },
            ),
            (SessionActionKind::CopyLink, actor, SessionAction::Read),
            (SessionActionKind::ShowPin, actor, SessionAction::Read),
            (SessionActionKind::Release, actor, SessionAction::Release),
            (SessionActionKind::Close, actor, SessionAction::Close),
            (SessionActionKind::Delete, actor, SessionAction::Delete),
        ];
        trials
            .into_iter()
            .map(|(kind, who, action)| {
                let verdict = self.clone().apply(Some(who), action, now);
                state(kind, verdict)
            })
            .collect()
    }
}

fn state(action: SessionActionKind, verdict: Result<(), ActionError>) -> ActionState {
    match verdict {
        Ok(()) => ActionState {
            action,
            allowed: true,
            reason: None,
        },
        Err(e) => ActionState {
            action,
            allowed: false,
            reason: Some(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::builtin_role;
    use sos_transport::api::RemoteState;

    fn actor(id: i64, role: &str) -> Actor {
        Actor {
            id,
            permissions: builtin_role(role).unwrap(),
            channels: [1].into_iter().collect(),
        }
    }

    fn session() -> Session {
        let channel = ChannelRef {
            id: 1,
            private_owner: None,
        };
        Session::new("s".into(), channel, 1, 3600, 1000)
    }

    fn verdict(s: &Session, who: &Actor, kind: SessionActionKind) -> Option<String> {
        let state = s
            .offers(who, 1000)
            .into_iter()
            .find(|o| o.action == kind)
            .unwrap();
        assert_eq!(state.allowed, state.reason.is_none());
        state.reason
    }

    #[test]
    fn a_pending_session_cannot_be_requested_and_a_technician_cannot_release() {
        let s = session();
        let tina = actor(1, "technician");
        let reason = verdict(&s, &tina, SessionActionKind::Request).unwrap();
        assert!(reason.contains("not connected"), "{reason}");
        let reason = verdict(&s, &tina, SessionActionKind::Release).unwrap();
        assert_eq!(reason, "release needs the release permission");
        assert_eq!(verdict(&s, &tina, SessionActionKind::Close), None);
        assert_eq!(verdict(&s, &tina, SessionActionKind::Invite), None);
        assert_eq!(verdict(&s, &tina, SessionActionKind::ShowPin), None);
        assert_eq!(verdict(&s, &tina, SessionActionKind::TransferChannel), None);
        let reason = verdict(&s, &tina, SessionActionKind::Assign).unwrap();
        assert!(reason.contains("release permission"), "{reason}");
        assert_eq!(
            verdict(&s, &actor(2, "admin"), SessionActionKind::Release),
            None
        );
    }

    #[test]
    fn only_the_assignee_acts_and_start_needs_a_grant() {
        let mut s = session();
        s.apply(None, SessionAction::AgentRegistered, 1000).unwrap();
        let tom = actor(2, "technician");
        let reason = verdict(&s, &tom, SessionActionKind::Close).unwrap();
        assert_eq!(reason, "only the assignee can do this");
        let tina = actor(1, "technician");
        assert_eq!(verdict(&s, &tina, SessionActionKind::Request), None);
        let reason = verdict(&s, &tina, SessionActionKind::Start).unwrap();
        assert!(reason.contains("has not granted"), "{reason}");
        s.remote = RemoteState::Granted { control: true };
        assert_eq!(verdict(&s, &tina, SessionActionKind::Start), None);
    }

    #[test]
    fn nothing_is_offered_on_a_closed_session_and_trials_change_nothing() {
        let mut s = session();
        let tina = actor(1, "technician");
        let before = s.clone();
        let _ = s.offers(&tina, 1000);
        assert_eq!(s, before);
        s.apply(Some(&tina), SessionAction::Close, 1000).unwrap();
        for state in s.offers(&tina, 1000) {
            assert!(!state.allowed, "{state:?}");
            assert!(state.reason.unwrap().contains("is Closed"));
        }
    }
}
