//! Input safety in the session state machine: viewers leaving, grants replaced.

use super::*;

fn drain(session: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| session.poll_output()).collect()
}

fn granted(control: bool) -> (Session, Instant) {
    let now = Instant::now();
    let mut session = Session::new(SessionConfig::default());
    let request = ToAgent::ConsentRequest {
        request_id: 1,
        technician: "Ann".into(),
        organisation: "Acme".into(),
        control,
    };
    assert_eq!(session.handle_message(request, now), Handled::Done);
    session.handle_line("y", now);
    drain(&mut session);
    (session, now)
}

#[test]
fn a_viewer_leaving_releases_input_and_its_queued_events_are_refused() {
    let (mut session, now) = granted(true);
    assert!(matches!(session.input_verdict(7), InputVerdict::Inject(_)));
    let left = ToAgent::ViewerLeft { viewer: 7 };
    assert_eq!(session.handle_message(left, now), Handled::Done);
    assert_eq!(drain(&mut session), vec![Output::ReleaseInput]);
    assert_eq!(
        session.input_verdict(7),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
    // Another technician's viewer still has control.
    assert!(matches!(session.input_verdict(8), InputVerdict::Inject(_)));
}

#[test]
fn a_viewer_leaving_a_view_only_session_has_nothing_to_release() {
    let (mut session, now) = granted(false);
    session.handle_message(ToAgent::ViewerLeft { viewer: 3 }, now);
    assert!(drain(&mut session).is_empty());
}

#[test]
fn departed_viewers_are_remembered_within_a_bound() {
    let (mut session, now) = granted(true);
    for viewer in 0..100 {
        session.handle_message(ToAgent::ViewerLeft { viewer }, now);
        session.handle_message(ToAgent::ViewerLeft { viewer }, now);
    }
    assert!(session.departed.len() <= DEPARTED_MEMORY);
    assert!(matches!(session.input_verdict(99), InputVerdict::Refuse(_)));
    assert!(matches!(session.input_verdict(0), InputVerdict::Inject(_)));
}

#[test]
fn a_new_control_grant_releases_what_the_previous_one_held() {
    let (mut session, now) = granted(true);
    let request = ToAgent::ConsentRequest {
        request_id: 2,
        technician: "Bob".into(),
        organisation: "Acme".into(),
        control: true,
    };
    session.handle_message(request, now);
    drain(&mut session);
    session.handle_line("y", now);
    let out = drain(&mut session);
    assert!(out.contains(&Output::ReleaseInput), "{out:?}");
    assert_eq!(session.state(), State::Granted { control: true });
}

#[test]
fn a_hand_over_releases_what_the_previous_controller_held() {
    let (mut session, now) = granted(true);
    assert_eq!(
        session.handle_message(ToAgent::ControlPassed, now),
        Handled::Done
    );
    assert_eq!(drain(&mut session), vec![Output::ReleaseInput]);
    // The new controller's viewer may inject.
    assert!(matches!(session.input_verdict(9), InputVerdict::Inject(_)));
}

#[test]
fn a_monitor_switch_is_left_to_the_shell() {
    let (mut session, now) = granted(false);
    assert_eq!(
        session.handle_message(ToAgent::ShareMonitor { monitor: 1 }, now),
        Handled::ShareMonitor { monitor: 1 }
    );
    assert_eq!(drain(&mut session), vec![]);
}
