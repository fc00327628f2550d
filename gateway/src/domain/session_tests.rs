use super::*;
use crate::domain::access::{Permission, builtin_role};
use proptest::prelude::*;

const SHARED: ChannelRef = ChannelRef {
    id: 1,
    private_owner: None,
};
const OTHER: ChannelRef = ChannelRef {
    id: 2,
    private_owner: None,
};

fn actor(id: i64, role: &str, channels: &[i64]) -> Actor {
    Actor {
        id,
        permissions: builtin_role(role).unwrap(),
        channels: channels.iter().copied().collect(),
    }
}

fn tech(id: i64) -> Actor {
    actor(id, "technician", &[1])
}

fn pending() -> Session {
    Session::new("s1".into(), SHARED, 1, 3600, 0)
}

fn grant(s: &mut Session, now: i64) {
    let t = tech(1);
    s.apply(
        Some(&t),
        SessionAction::RequestRemote { control: true },
        now,
    )
    .unwrap();
    let answer = SessionAction::ConsentAnswered {
        request_id: s.request_seq,
        decision: ConsentDecision::Grant { control: true },
    };
    s.apply(None, answer, now).unwrap();
}

#[test]
fn statuses_follow_the_facts() {
    let mut s = pending();
    assert_eq!(s.status, SessionStatus::Pending);
    s.apply(None, SessionAction::AgentRegistered, 1).unwrap();
    assert_eq!(s.status, SessionStatus::Active);
    let admin = actor(9, "admin", &[]);
    s.apply(Some(&admin), SessionAction::Release, 2).unwrap();
    assert_eq!(s.status, SessionStatus::InQueue);
    s.apply(Some(&tech(2)), SessionAction::Assign { to: tech(2) }, 3)
        .unwrap();
    assert_eq!(s.status, SessionStatus::Active);
    s.apply(None, SessionAction::AgentLost, 4).unwrap();
    assert_eq!(s.status, SessionStatus::Pending);
    s.apply(Some(&tech(2)), SessionAction::Close, 5).unwrap();
    assert_eq!(s.status, SessionStatus::Closed);
}

#[test]
fn transfer_to_another_technician_needs_release() {
    let mut s = pending();
    let refused = s.apply(Some(&tech(1)), SessionAction::Assign { to: tech(2) }, 1);
    assert_eq!(
        refused.unwrap_err().to_string(),
        "transfer needs the release permission"
    );
    let mut lead = actor(1, "admin", &[1]);
    lead.id = 1;
    s.apply(Some(&lead), SessionAction::Assign { to: tech(2) }, 1)
        .unwrap();
    assert_eq!(s.assignee, Some(2));
}

#[test]
fn transfer_to_a_channel_needs_access_to_it() {
    let mut s = pending();
    let refused = s.apply(
        Some(&tech(1)),
        SessionAction::TransferToChannel {
            to: OTHER,
            expiry_secs: 60,
        },
        1,
    );
    assert_eq!(refused, Err(ActionError::Denied(Denied::Channel)));
    let member = actor(1, "technician", &[1, 2]);
    s.apply(
        Some(&member),
        SessionAction::TransferToChannel {
            to: OTHER,
            expiry_secs: 60,
        },
        10,
    )
    .unwrap();
    assert_eq!(s.channel, OTHER);
    assert_eq!(
        s.expires_at, 70,
        "the clock restarts with the new channel's expiry"
    );
}

#[test]
fn at_most_two_invited() {
    let mut s = pending();
    s.apply(Some(&tech(1)), SessionAction::Invite { who: tech(2) }, 1)
        .unwrap();
    s.apply(Some(&tech(1)), SessionAction::Invite { who: tech(3) }, 1)
        .unwrap();
    assert_eq!(
        s.apply(Some(&tech(1)), SessionAction::Invite { who: tech(4) }, 1),
        Err(ActionError::TooManyTechnicians)
    );
    assert!(s.visible_to(&actor(3, "technician", &[])), "invited see it");
}

#[test]
fn start_needs_a_grant() {
    let mut s = pending();
    s.apply(None, SessionAction::AgentRegistered, 1).unwrap();
    assert_eq!(
        s.apply(Some(&tech(1)), SessionAction::StartRemote, 2),
        Err(ActionError::NotGranted)
    );
    grant(&mut s, 3);
    s.apply(Some(&tech(1)), SessionAction::StartRemote, 4)
        .unwrap();
}

#[test]
fn expiry_waits_while_live_and_restarts_after() {
    let mut s = pending();
    s.apply(None, SessionAction::AgentRegistered, 10).unwrap();
    grant(&mut s, 20);
    assert!(!s.tick(10_000), "a live remote session never expires");
    s.apply(None, SessionAction::AgentLost, 10_000).unwrap();
    assert_eq!(s.expires_at, 10_000 + 3600);
    assert!(!s.tick(10_000 + 3599));
    assert!(s.tick(10_000 + 3600));
    assert_eq!(s.status, SessionStatus::Expired);
    assert_eq!(
        s.apply(None, SessionAction::AgentRegistered, 20_000),
        Err(ActionError::Final(SessionStatus::Expired))
    );
}

#[test]
fn private_sessions_stay_private() {
    let private = ChannelRef {
        id: 5,
        private_owner: Some(1),
    };
    let mut s = Session::new("p".into(), private, 1, 60, 0);
    assert!(!s.visible_to(&actor(2, "owner", &[5])));
    assert_eq!(
        s.apply(Some(&tech(1)), SessionAction::Invite { who: tech(2) }, 1),
        Err(ActionError::Denied(Denied::Private))
    );
}

fn any_actor() -> impl Strategy<Value = Actor> {
    (1i64..5, prop_oneof!["technician", "admin"], any::<bool>())
        .prop_map(|(id, role, member)| actor(id, &role, if member { &[1, 2] } else { &[] }))
}

fn any_action() -> impl Strategy<Value = (Option<Actor>, SessionAction)> {
    prop_oneof![
        Just((None, SessionAction::AgentRegistered)),
        Just((None, SessionAction::AgentLost)),
        Just((None, SessionAction::StoppedByUser)),
        (0u64..4, any::<bool>()).prop_map(|(request_id, yes)| (
            None,
            SessionAction::ConsentAnswered {
                request_id,
                decision: if yes {
                    ConsentDecision::Grant { control: true }
                } else {
                    ConsentDecision::Deny
                },
            }
        )),
        any_actor().prop_map(|a| (Some(a), SessionAction::RequestRemote { control: true })),
        any_actor().prop_map(|a| (Some(a), SessionAction::StartRemote)),
        (any_actor(), any_actor()).prop_map(|(a, to)| (Some(a), SessionAction::Assign { to })),
        (any_actor(), any_actor()).prop_map(|(a, who)| (Some(a), SessionAction::Invite { who })),
        (any_actor(), any::<bool>()).prop_map(|(a, private)| (
            Some(a.clone()),
            SessionAction::TransferToChannel {
                to: ChannelRef {
                    id: if private { 7 } else { 2 },
                    private_owner: private.then_some(a.id),
                },
                expiry_secs: 600,
            }
        )),
        any_actor().prop_map(|a| (Some(a), SessionAction::Release)),
        any_actor().prop_map(|a| (Some(a), SessionAction::Close)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The lifecycle invariants hold for any sequence of actions by anyone at any time.
    #[test]
    fn invariants_hold(steps in prop::collection::vec((any_action(), 0i64..900), 1..40)) {
        let mut s = pending();
        let mut now = 0;
        let mut final_seen: Option<SessionStatus> = None;
        let mut live_input_before_grant = false;
        for ((by, action), dt) in steps {
            now += dt;
            let before = s.clone();
            let result = s.apply(by.as_ref(), action.clone(), now);
            if result.is_err() {
                let mut expected = before.clone();
                expected.tick(now);
                prop_assert_eq!(&s, &expected, "a refused action changes nothing but expiry");
            }
            if result.is_ok() {
                let by_releaser = by.as_ref().is_some_and(|a| a.has(Permission::Release));
                match &action {
                    SessionAction::Assign { to } if before.assignee.is_some_and(|a| a != to.id) => {
                        prop_assert!(by_releaser, "transfer to another technician needs release");
                    }
                    SessionAction::Release => prop_assert!(by_releaser, "release needs release"),
                    SessionAction::TransferToChannel { to, .. } => {
                        prop_assert!(by.as_ref().is_some_and(|a| a.may_use_channel(*to)), "target channel access");
                    }
                    _ => {}
                }
                if let Some(a) = &by {
                    prop_assert!(before.visible_to(a), "nobody acts on a session they cannot see");
                }
            }
            if let (Ok(()), SessionAction::StartRemote) = (&result, &action) {
                live_input_before_grant |= !matches!(before.remote, RemoteState::Granted { .. });
            }
            if s.status == SessionStatus::Active {
                prop_assert!(s.agent_online && s.assignee.is_some(), "never Active without app and assignee");
            }
            prop_assert!(s.invited.len() + usize::from(s.assignee.is_some()) <= MAX_TECHNICIANS);
            if let Some(owner) = s.channel.private_owner {
                prop_assert!(s.invited.is_empty(), "nobody is invited to a private session");
                prop_assert!(s.assignee.is_none() || s.assignee == Some(owner));
                for other in 1..5 {
                    if other != owner {
                        prop_assert!(!s.visible_to(&actor(other, "admin", &[1, 2, 7])));
                    }
                }
            }
            if let Some(f) = final_seen {
                prop_assert_eq!(s.status, f, "Closed and Expired are final");
            }
            if s.status.is_final() {
                final_seen = Some(s.status);
            }
        }
        prop_assert!(!live_input_before_grant, "watching never starts before a grant");
    }
}
