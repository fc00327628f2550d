//! Tests of the live registry: viewers, control, frames and the app's comeback.

use super::*;

fn online(live: &Live, control: bool) -> mpsc::Receiver<ToAgent> {
    let (tx, agent_rx) = mpsc::channel(64);
    let display = DisplayInfo {
        index: 0,
        width: 4,
        height: 4,
        primary: true,
    };
    assert!(live.attach_agent(
        "s",
        AgentHandle {
            tx,
            connection_id: 1,
            display,
            monitors: Vec::new(),
            replaced: None,
        }
    ));
    live.set_grant("s", Some(control));
    agent_rx
}

fn technician(id: i64, name: &str) -> Technician {
    Technician {
        id,
        name: name.into(),
    }
}

fn drain(rx: &mut mpsc::Receiver<ToViewer>) -> Vec<ToViewer> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn last_participants(rx: &mut mpsc::Receiver<ToViewer>) -> Vec<(String, bool, bool)> {
    drain(rx)
        .into_iter()
        .rev()
        .find_map(|m| match m {
            ToViewer::Participants(list) => Some(list),
            _ => None,
        })
        .expect("a participants message")
        .into_iter()
        .map(|p| (p.name, p.you, p.controlling))
        .collect()
}

fn agent_inputs(rx: &mut mpsc::Receiver<ToAgent>) -> Vec<ToAgent> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|m| matches!(m, ToAgent::Input { .. } | ToAgent::ControlPassed))
        .collect()
}

fn registered(session: &str, resumed: bool) -> ToAgent {
    ToAgent::Registered {
        session_id: session.into(),
        organisation: "Acme".into(),
        resume: None,
        resumed,
    }
}

/// Another connection of the app.
fn handle(connection_id: usize) -> (AgentHandle, mpsc::Receiver<ToAgent>) {
    let (tx, rx) = mpsc::channel(64);
    let display = DisplayInfo {
        index: 0,
        width: 8,
        height: 8,
        primary: true,
    };
    let handle = AgentHandle {
        tx,
        connection_id,
        display,
        monitors: Vec::new(),
        replaced: None,
    };
    (handle, rx)
}

/// A granted session with one watching viewer, whose app (connection 1) has the
/// ticket `[7; 32]` and a `replaced` signal.
fn watched() -> (Live, mpsc::Receiver<ToViewer>, oneshot::Receiver<()>) {
    let live = Live::default();
    let (mut first, _rx) = handle(1);
    let (replaced_tx, replaced) = oneshot::channel();
    first.replaced = Some(replaced_tx);
    assert!(live.attach_agent("s", first));
    live.set_grant("s", Some(true));
    live.set_ticket("s", 1, [7; 32]);
    let (vtx, mut vrx) = mpsc::channel(64);
    live.attach_viewer("s", true, technician(1, "Ann"), vtx)
        .unwrap();
    drain(&mut vrx);
    (live, vrx, replaced)
}

#[test]
fn a_comeback_within_the_window_keeps_grant_and_viewers_and_uses_the_ticket_up() {
    let (live, mut viewer, mut replaced) = watched();
    assert!(live.agent_away("s", 1, std::time::Duration::from_secs(60)));
    assert!(!live.agent_online("s"), "away is not online");
    let (second, mut agent_rx) = handle(2);
    let Err(second) = live.come_back(&[8; 32], [9; 32], second, true, registered) else {
        panic!("an unknown ticket binds nothing");
    };
    assert_eq!(
        live.come_back(&[7; 32], [9; 32], second, true, registered)
            .unwrap(),
        Comeback {
            session: "s".into(),
            kept: true
        }
    );
    assert!(live.agent_online("s"));
    assert_eq!(replaced.try_recv(), Ok(()), "the old connection is let go");
    assert_eq!(
        std::iter::from_fn(|| agent_rx.try_recv().ok()).collect::<Vec<_>>(),
        vec![registered("s", true), ToAgent::StartStream],
        "told first, then the stream resumes for the viewer kept"
    );
    let told = drain(&mut viewer);
    assert!(
        told.iter().all(|m| !matches!(m, ToViewer::End(_))),
        "the viewer stays: {told:?}"
    );
    let away = told
        .iter()
        .position(|m| *m == ToViewer::AgentAway { window_secs: 60 });
    let back = told.iter().position(|m| *m == ToViewer::AgentBack);
    assert!(
        matches!((away, back), (Some(a), Some(b)) if a < b),
        "told the app is away, then back: {told:?}"
    );
    assert!(
        live.input("s", 0, 1, InputEvent::MouseMove { x: 1, y: 1 })
            .is_ok()
    );
    // Used up: the same ticket does not work twice; its successor does.
    let (third, _) = handle(3);
    let Err(third) = live.come_back(&[7; 32], [9; 32], third, true, registered) else {
        panic!("a ticket works once");
    };
    assert!(
        live.come_back(&[9; 32], [10; 32], third, true, registered)
            .is_ok()
    );
    // The old connection's end changes nothing now.
    assert!(!live.agent_away("s", 1, std::time::Duration::from_secs(60)));
    assert!(!live.detach_agent("s", 1, EndReason::AgentDisconnected));
}

#[test]
fn a_comeback_without_keeping_ends_the_viewers_and_the_grant() {
    let (live, mut viewer, _replaced) = watched();
    let (second, _agent_rx) = handle(2);
    // The gateway had not noticed the loss yet: the ticket replaces the connection.
    let comeback = live
        .come_back(&[7; 32], [9; 32], second, false, registered)
        .unwrap();
    assert!(!comeback.kept);
    assert!(
        drain(&mut viewer).contains(&ToViewer::End(EndReason::AgentDisconnected)),
        "the viewer is told"
    );
    let (vtx, _vrx) = mpsc::channel(64);
    assert_eq!(
        live.attach_viewer("s", true, technician(1, "Ann"), vtx)
            .unwrap_err(),
        Refusal::ConsentNotGranted,
        "access must be asked again"
    );
}

#[test]
fn a_pin_registration_ends_an_away_session_only() {
    let (live, mut viewer, _replaced) = watched();
    assert!(!live.end_away("s"), "a connected app is not ended");
    assert!(live.agent_away("s", 1, std::time::Duration::from_secs(60)));
    assert!(live.end_away("s"));
    assert!(drain(&mut viewer).contains(&ToViewer::End(EndReason::AgentDisconnected)));
    assert!(!live.agent_online("s"));
    let (again, _) = handle(2);
    assert!(live.attach_agent("s", again));
}

#[tokio::test]
async fn at_most_three_watchers_and_only_after_grant() {
    let live = Live::default();
    let mut agent_rx = online(&live, true);
    live.set_grant("s", None);
    let (vtx, _vrx) = mpsc::channel(64);
    let ann = || technician(1, "Ann");
    assert_eq!(
        live.attach_viewer("s", true, ann(), vtx.clone())
            .unwrap_err(),
        Refusal::ConsentNotGranted
    );
    live.set_grant("s", Some(true));
    for _ in 0..3 {
        live.attach_viewer("s", true, ann(), vtx.clone()).unwrap();
    }
    assert_eq!(
        live.attach_viewer("s", true, ann(), vtx.clone())
            .unwrap_err(),
        Refusal::TooManyViewers
    );
    assert!(
        live.attach_viewer("s", false, ann(), vtx).is_ok(),
        "input-only clients do not count"
    );
    assert_eq!(agent_rx.recv().await, Some(ToAgent::StartStream));
}

#[test]
fn a_viewer_is_accepted_then_told_the_screen_and_who_is_on() {
    let live = Live::default();
    let _agent = online(&live, false);
    let (tx, mut rx) = mpsc::channel(64);
    live.attach_viewer("s", true, technician(1, "Ann"), tx)
        .unwrap();
    let messages = drain(&mut rx);
    assert!(matches!(
        messages[0],
        ToViewer::Accepted { control: false, .. }
    ));
    assert!(matches!(messages[1], ToViewer::Screen { .. }));
    assert_eq!(
        messages[2],
        ToViewer::Participants(vec![Participant {
            name: "Ann".into(),
            you: true,
            controlling: false
        }])
    );
}

/// Ann and Bob watching: their viewer ids and message queues.
fn ann_and_bob(live: &Live) -> (u32, mpsc::Receiver<ToViewer>, u32, mpsc::Receiver<ToViewer>) {
    let (ann_tx, ann) = mpsc::channel(64);
    let (bob_tx, bob) = mpsc::channel(64);
    let (a, _) = live
        .attach_viewer("s", true, technician(1, "Ann"), ann_tx)
        .unwrap();
    let (b, _) = live
        .attach_viewer("s", true, technician(2, "Bob"), bob_tx)
        .unwrap();
    (a, ann, b, bob)
}

#[test]
fn one_technician_controls_until_another_takes_over() {
    let live = Live::default();
    let mut agent = online(&live, true);
    let (a, mut ann, b, mut bob) = ann_and_bob(&live);
    let key = || InputEvent::Text("x".into());

    // Nobody controls: the first to type takes control.
    assert_eq!(live.input("s", a, 1, key()), Ok(()));
    assert_eq!(
        last_participants(&mut bob),
        vec![("Ann".into(), false, true), ("Bob".into(), true, false)]
    );
    assert_eq!(
        live.input("s", b, 1, key()),
        Err(InputOutcome::NotController)
    );

    // Bob takes over on purpose: the app releases Ann's keys, both are told.
    live.take_control("s", b);
    assert_eq!(live.input("s", b, 2, key()), Ok(()));
    assert_eq!(
        live.input("s", a, 2, key()),
        Err(InputOutcome::NotController)
    );
    assert_eq!(
        last_participants(&mut ann),
        vec![("Ann".into(), true, false), ("Bob".into(), false, true)]
    );
    let sent = agent_inputs(&mut agent);
    assert!(matches!(sent[0], ToAgent::Input { viewer, .. } if viewer == a));
    assert_eq!(sent[1], ToAgent::ControlPassed);
    assert!(matches!(sent[2], ToAgent::Input { viewer, .. } if viewer == b));
    assert_eq!(sent.len(), 3, "nothing of Ann's after the hand-over");

    // Bob leaves: control is free, Ann types again.
    live.detach_viewer("s", b);
    assert_eq!(
        last_participants(&mut ann),
        vec![("Ann".into(), true, false)]
    );
    assert_eq!(live.input("s", a, 3, key()), Ok(()));
}

#[test]
fn only_the_controller_picks_the_monitor_and_everyone_sees_the_switch() {
    let live = Live::default();
    let mut agent = online(&live, true);
    let (a, mut ann, b, mut bob) = ann_and_bob(&live);
    live.take_control("s", a);
    drain(&mut bob);
    live.share_monitor("s", b, 1);
    assert!(
        matches!(drain(&mut bob)[..], [ToViewer::Screen { .. }]),
        "Bob is told the screen as it stays"
    );
    live.share_monitor("s", a, 1);
    let asked: Vec<ToAgent> = std::iter::from_fn(|| agent.try_recv().ok())
        .filter(|m| matches!(m, ToAgent::ShareMonitor { .. }))
        .collect();
    assert_eq!(asked, vec![ToAgent::ShareMonitor { monitor: 1 }]);
    let second = DisplayInfo {
        index: 1,
        width: 8,
        height: 6,
        primary: false,
    };
    live.sharing("s", second);
    for rx in [&mut ann, &mut bob] {
        assert!(drain(rx).contains(&ToViewer::Screen {
            monitors: Vec::new(),
            display: second
        }));
    }
}

#[tokio::test]
async fn a_stalled_viewer_holds_a_bounded_queue_and_the_others_get_every_frame() {
    use super::super::slot::{MAX_PENDING_BYTES, MAX_PENDING_FRAMES};
    let live = Live::default();
    let mut agent_rx = online(&live, false);
    let (ann_tx, _ann_rx) = mpsc::channel(64);
    let (bob_tx, _bob_rx) = mpsc::channel(64);
    let (_, stalled) = live
        .attach_viewer("s", true, technician(1, "Ann"), ann_tx)
        .unwrap();
    let (_, keeping_up) = live
        .attach_viewer("s", true, technician(2, "Bob"), bob_tx)
        .unwrap();
    let payload = Bytes::from(vec![0_u8; 20_000]);
    let mut received = Vec::new();
    let mut keyframe_asked = true;
    for seq in 0..3_000_u64 {
        // The app answers a keyframe request with its next frame, as it does.
        keyframe_asked |=
            std::iter::from_fn(|| agent_rx.try_recv().ok()).any(|m| m == ToAgent::KeyframeRequest);
        let header = FrameHeader {
            seq,
            keyframe: std::mem::take(&mut keyframe_asked),
            width: 4,
            height: 4,
            capture_micros: 0,
        };
        live.publish_frame(
            "s",
            &Frame {
                header,
                payload: payload.clone(),
            },
        );
        // Bob's sender sends what is pending; Ann's never takes anything.
        while keeping_up.held().0 > 0 {
            received.push(keeping_up.next().await.unwrap().header.seq);
        }
        let (frames, bytes) = stalled.held();
        assert!(frames <= MAX_PENDING_FRAMES && bytes <= MAX_PENDING_BYTES);
    }
    assert_eq!(
        received,
        (0..3_000).collect::<Vec<_>>(),
        "the viewer that keeps up gets every frame, in order"
    );
}
