//! Tests of the session state machine with a fake clock: time is a base `Instant` plus offsets.

use super::*;
use sos_transport::wire::{InputEvent, MouseButton, Press};

const TIMEOUT: Duration = Duration::from_secs(60);

struct Harness {
    session: Session,
    start: Instant,
}

impl Harness {
    fn new() -> Self {
        let mut session = Session::new(SessionConfig {
            consent_timeout: TIMEOUT,
        });
        assert_eq!(drain(&mut session), vec![Output::Show(Notice::Waiting)]);
        Self {
            session,
            start: Instant::now(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    fn message(&mut self, message: ToAgent, secs: u64) -> Vec<Output> {
        let now = self.at(secs);
        assert_eq!(self.session.handle_message(message, now), Handled::Done);
        drain(&mut self.session)
    }

    fn request(&mut self, request_id: u64, control: bool, secs: u64) -> Vec<Output> {
        self.message(
            ToAgent::ConsentRequest {
                request_id,
                technician: "Ann".into(),
                organisation: "Acme".into(),
                control,
            },
            secs,
        )
    }

    fn line(&mut self, line: &str) -> Vec<Output> {
        self.line_at(line, 1)
    }

    fn line_at(&mut self, line: &str, secs: u64) -> Vec<Output> {
        let now = self.at(secs);
        self.session.handle_line(line, now);
        drain(&mut self.session)
    }

    fn granted(control: bool) -> Self {
        let mut h = Self::new();
        h.request(1, control, 0);
        h.line("y");
        h
    }
}

fn drain(session: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| session.poll_output()).collect()
}

fn reply(request_id: u64, decision: ConsentDecision) -> Output {
    Output::Send(FromAgent::ConsentReply {
        request_id,
        decision,
    })
}

fn prompt_notice(request_id: u64, control: bool) -> Output {
    Output::Show(Notice::ConsentPrompt {
        request_id,
        technician: "Ann".into(),
        organisation: "Acme".into(),
        control,
        timeout_secs: 60,
    })
}

#[test]
fn grant_with_control_after_yes() {
    let mut h = Harness::new();
    assert_eq!(h.session.state(), State::WaitingForTechnician);
    assert_eq!(h.request(4, true, 0), vec![prompt_notice(4, true)]);
    assert_eq!(
        h.session.state(),
        State::Prompting {
            request_id: 4,
            deadline: h.at(60)
        }
    );
    assert_eq!(h.session.poll_timeout(), Some(h.at(60)));
    assert_eq!(
        h.line(" Yes "),
        vec![
            reply(4, ConsentDecision::Grant { control: true }),
            Output::Show(Notice::Granted {
                technician: "Ann".into(),
                control: true
            }),
        ]
    );
    assert_eq!(h.session.state(), State::Granted { control: true });
    assert_eq!(h.session.poll_timeout(), None);
    assert!(matches!(
        h.session.input_verdict(4),
        InputVerdict::Inject(_)
    ));
    assert!(h.session.view_grant().is_some());
}

#[test]
fn anything_but_yes_denies() {
    for answer in ["n", "", "maybe", "yes please"] {
        let mut h = Harness::new();
        h.request(2, true, 0);
        assert_eq!(
            h.line(answer),
            vec![
                reply(2, ConsentDecision::Deny),
                Output::Show(Notice::Denied)
            ],
            "{answer:?}"
        );
        assert_eq!(h.session.state(), State::Denied);
        assert!(h.session.view_grant().is_none());
    }
}

#[test]
fn silence_times_out_into_a_deny() {
    let mut h = Harness::new();
    h.request(3, false, 10);
    h.session.handle_timeout(h.at(69));
    assert!(drain(&mut h.session).is_empty(), "one second early");
    h.session.handle_timeout(h.at(70));
    assert_eq!(
        drain(&mut h.session),
        vec![
            reply(3, ConsentDecision::TimedOut),
            Output::Show(Notice::TimedOut { timeout_secs: 60 })
        ]
    );
    assert_eq!(h.session.state(), State::Denied);
    // A late "y" answers nothing.
    assert_eq!(h.line("y"), vec![Output::Show(Notice::StopHint)]);
    assert!(h.session.view_grant().is_none());
}

#[test]
fn a_yes_typed_after_the_deadline_does_not_grant() {
    let mut h = Harness::new();
    h.request(3, true, 0);
    assert_eq!(
        h.line_at("y", 60),
        vec![
            reply(3, ConsentDecision::TimedOut),
            Output::Show(Notice::TimedOut { timeout_secs: 60 }),
            Output::Show(Notice::StopHint),
        ]
    );
    assert_eq!(h.session.state(), State::Denied);
}

#[test]
fn a_second_request_while_prompting_is_refused_and_the_first_stays() {
    let mut h = Harness::new();
    h.request(1, true, 0);
    let out = h.message(
        ToAgent::ConsentRequest {
            request_id: 2,
            technician: "Mallory".into(),
            organisation: "Evil".into(),
            control: true,
        },
        5,
    );
    assert_eq!(
        out,
        vec![
            reply(2, ConsentDecision::Deny),
            Output::Show(Notice::ConcurrentRequestRefused {
                technician: "Mallory".into()
            })
        ]
    );
    // The same request delivered twice is not refused.
    assert!(h.request(1, true, 6).is_empty());
    assert_eq!(
        h.session.state(),
        State::Prompting {
            request_id: 1,
            deadline: h.at(60)
        }
    );
    assert_eq!(
        h.line("y")[0],
        reply(1, ConsentDecision::Grant { control: true })
    );
}

#[test]
fn input_is_refused_without_any_grant() {
    let mut h = Harness::new();
    assert_eq!(
        h.session.input_verdict(4),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
    h.request(1, true, 0);
    assert_eq!(
        h.session.input_verdict(4),
        InputVerdict::Refuse(InputOutcome::NoControl),
        "not while the question is open"
    );
    let event = InputEvent::MouseButton {
        button: MouseButton::Left,
        press: Press::Click,
    };
    let handled = h.session.handle_message(
        ToAgent::Input {
            viewer: 9,
            seq: 1,
            event: event.clone(),
        },
        h.at(1),
    );
    assert_eq!(
        handled,
        Handled::Input {
            viewer: 9,
            seq: 1,
            event
        }
    );
    h.line("no");
    assert_eq!(
        h.session.input_verdict(4),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
}

#[test]
fn input_is_refused_with_a_view_only_grant() {
    let h = Harness::granted(false);
    assert_eq!(h.session.state(), State::Granted { control: false });
    assert!(h.session.view_grant().is_some());
    assert_eq!(
        h.session.input_verdict(4),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
}

#[test]
fn no_stream_before_grant_then_stream_and_keyframes() {
    let mut h = Harness::new();
    assert!(h.message(ToAgent::StartStream, 0).is_empty());
    assert!(h.message(ToAgent::KeyframeRequest, 0).is_empty());
    h.request(1, false, 0);
    assert!(h.message(ToAgent::KeyframeRequest, 1).is_empty());
    assert!(!h.session.is_streaming());
    let out = h.line("y");
    assert_eq!(out.last(), Some(&Output::StartStreaming));
    assert!(h.session.is_streaming());
    assert_eq!(
        h.message(ToAgent::KeyframeRequest, 2),
        vec![Output::Keyframe]
    );
    assert_eq!(
        h.message(ToAgent::StopStream, 3),
        vec![Output::StopStreaming]
    );
    assert!(h.message(ToAgent::KeyframeRequest, 4).is_empty());
    assert_eq!(
        h.message(ToAgent::StartStream, 5),
        vec![Output::StartStreaming]
    );
}

#[test]
fn a_denied_session_never_streams() {
    let mut h = Harness::new();
    h.message(ToAgent::StartStream, 0);
    h.request(1, true, 0);
    let out = h.line("n");
    assert!(!out.contains(&Output::StartStreaming));
    h.request(2, true, 1);
    h.session.handle_timeout(h.at(61));
    let out = drain(&mut h.session);
    assert!(!out.contains(&Output::StartStreaming));
    assert!(!h.session.is_streaming());
}

#[test]
fn a_new_request_while_granted_keeps_the_grant_until_answered() {
    let mut h = Harness::granted(true);
    h.message(ToAgent::StartStream, 1);
    assert_eq!(h.request(2, false, 2), vec![prompt_notice(2, false)]);
    assert!(matches!(
        h.session.input_verdict(4),
        InputVerdict::Inject(_)
    ));
    // Saying yes to a view-only request replaces the control grant: input is released.
    let out = h.line("y");
    assert_eq!(
        out[..2],
        [
            reply(2, ConsentDecision::Grant { control: false }),
            Output::ReleaseInput
        ]
    );
    assert!(!out.contains(&Output::StopStreaming));
    assert_eq!(h.session.state(), State::Granted { control: false });
    // Denying a later upgrade keeps the view grant.
    h.request(3, true, 3);
    h.line("n");
    assert_eq!(h.session.state(), State::Granted { control: false });
    assert!(h.session.is_streaming());
}

#[test]
fn stop_releases_input_stops_the_stream_and_says_so() {
    let mut h = Harness::granted(true);
    h.message(ToAgent::StartStream, 1);
    assert_eq!(
        h.line("stop"),
        vec![
            Output::StopStreaming,
            Output::ReleaseInput,
            Output::Send(FromAgent::Stopped),
            Output::Show(Notice::StoppedByUser),
            Output::Finish(Finish::Stopped),
        ]
    );
    assert_eq!(h.session.state(), State::Ended);
    assert!(h.session.view_grant().is_none());
    h.session.handle_stop();
    assert!(
        drain(&mut h.session).is_empty(),
        "stopping twice does nothing"
    );
}

#[test]
fn stop_while_prompting_denies_first() {
    let mut h = Harness::new();
    h.request(5, true, 0);
    h.session.handle_stop();
    assert_eq!(
        drain(&mut h.session),
        vec![
            reply(5, ConsentDecision::Deny),
            Output::Send(FromAgent::Stopped),
            Output::Show(Notice::StoppedByUser),
            Output::Finish(Finish::Stopped),
        ]
    );
}

#[test]
fn end_from_the_gateway_and_connection_loss_finish() {
    let mut h = Harness::granted(false);
    let out = h.message(ToAgent::End(EndReason::ClosedByTechnician), 1);
    assert_eq!(
        out,
        vec![
            Output::Show(Notice::Ended(EndReason::ClosedByTechnician)),
            Output::Finish(Finish::Ended(EndReason::ClosedByTechnician)),
        ]
    );
    let mut h = Harness::granted(true);
    h.session.handle_connection_lost(h.at(2));
    assert_eq!(
        drain(&mut h.session),
        vec![
            Output::ReleaseInput,
            Output::Show(Notice::ConnectionLost),
            Output::Finish(Finish::ConnectionLost),
        ]
    );
    // Away, nothing is asked or granted, whatever arrives.
    h.request(9, true, 3);
    h.line("y");
    assert_eq!(h.session.state(), State::Away { granted: true });
    assert_eq!(
        h.session.input_verdict(4),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
    assert!(
        h.session.view_grant().is_none(),
        "nothing streams while away"
    );
}

#[test]
fn a_comeback_the_gateway_kept_restores_the_grant_within_the_window_only() {
    let window = Duration::from_secs(60);
    let mut h = Harness::granted(true);
    h.session.handle_connection_lost(h.at(10));
    drain(&mut h.session);
    assert!(h.session.may_keep_grant(h.at(69), window));
    assert!(
        !h.session.may_keep_grant(h.at(70), window),
        "the window is over"
    );
    h.session.handle_registered(true);
    assert_eq!(
        drain(&mut h.session),
        vec![Output::Show(Notice::AccessKept {
            technician: "Ann".into(),
            control: true
        })]
    );
    assert_eq!(h.session.state(), State::Granted { control: true });
    assert!(matches!(
        h.session.input_verdict(4),
        InputVerdict::Inject(_)
    ));
    // The stream starts again only when the gateway asks for it.
    assert!(!h.session.is_streaming());
    h.message(ToAgent::StartStream, 71);
    assert!(h.session.is_streaming());
}

#[test]
fn a_comeback_not_kept_waits_for_a_new_request() {
    let mut h = Harness::granted(true);
    h.session.handle_connection_lost(h.at(10));
    drain(&mut h.session);
    h.session.handle_registered(false);
    assert_eq!(drain(&mut h.session), vec![Output::Show(Notice::Waiting)]);
    assert_eq!(h.session.state(), State::WaitingForTechnician);
    assert_eq!(
        h.session.input_verdict(4),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
    h.message(ToAgent::StartStream, 11);
    assert!(!h.session.is_streaming(), "no stream without a new yes");
}

#[test]
fn a_prompt_open_at_the_loss_is_dropped_and_grants_nothing() {
    let mut h = Harness::new();
    h.request(1, true, 1);
    h.session.handle_connection_lost(h.at(2));
    assert_eq!(h.session.state(), State::Away { granted: false });
    assert!(!h.session.may_keep_grant(h.at(3), Duration::from_secs(60)));
    h.session.handle_registered(true);
    assert_eq!(h.session.state(), State::WaitingForTechnician);
}

#[test]
fn random_sequences_never_stream_or_inject_without_a_yes() {
    // A small deterministic generator drives thousands of random inputs; the invariants are
    // checked after each: streaming implies a grant, and a grant implies a "y" was typed while
    // a prompt was open.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for _ in 0..200 {
        let mut h = Harness::new();
        let mut yes_while_prompting = false;
        let mut clock = 0;
        for _ in 0..60 {
            clock += next(40);
            let now = h.at(clock);
            match next(9) {
                0 => {
                    let id = next(4);
                    h.session.handle_message(
                        ToAgent::ConsentRequest {
                            request_id: id,
                            technician: "T".into(),
                            organisation: "O".into(),
                            control: next(2) == 0,
                        },
                        now,
                    );
                }
                1 => {
                    h.session.handle_message(ToAgent::StartStream, now);
                }
                2 => {
                    h.session.handle_message(ToAgent::StopStream, now);
                }
                3 => {
                    h.session.handle_message(ToAgent::KeyframeRequest, now);
                }
                4 => {
                    if matches!(h.session.state(), State::Prompting { deadline, .. } if now < deadline)
                    {
                        yes_while_prompting = true;
                    }
                    h.session.handle_line("y", now);
                }
                5 => h.session.handle_line("n", now),
                6 => h.session.handle_timeout(now),
                7 => h.session.handle_line("hello", now),
                _ => {
                    if next(10) == 0 {
                        h.session.handle_stop();
                    }
                }
            }
            let outputs = drain(&mut h.session);
            if h.session.is_streaming() || outputs.contains(&Output::StartStreaming) {
                assert!(yes_while_prompting);
                assert!(h.session.view_grant().is_some());
            }
            if let InputVerdict::Inject(_) = h.session.input_verdict(4) {
                assert!(yes_while_prompting);
            }
            if h.session.state() == State::Ended {
                assert!(!h.session.is_streaming());
                assert!(h.session.view_grant().is_none());
            }
        }
    }
}

#[test]
fn a_window_click_answers_only_its_own_open_request() {
    let mut h = Harness::new();
    h.request(5, true, 0);
    // A click meant for another (older) request answers nothing.
    h.session.handle_choice(4, Choice::Allow, h.at(1));
    assert_eq!(drain(&mut h.session), vec![]);
    h.session.handle_choice(5, Choice::AllowViewOnly, h.at(2));
    assert_eq!(
        drain(&mut h.session),
        vec![
            reply(5, ConsentDecision::Grant { control: false }),
            Output::Show(Notice::Granted {
                technician: "Ann".into(),
                control: false
            }),
        ]
    );
    assert_eq!(h.session.state(), State::Granted { control: false });
    assert_eq!(
        h.session.input_verdict(1),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
    // Answered: a second click does nothing.
    h.session.handle_choice(5, Choice::Allow, h.at(3));
    assert_eq!(drain(&mut h.session), vec![]);
}

#[test]
fn a_click_after_the_deadline_is_a_timeout_not_a_grant() {
    let mut h = Harness::new();
    h.request(6, true, 0);
    h.session.handle_choice(6, Choice::Allow, h.at(60));
    assert_eq!(
        drain(&mut h.session),
        vec![
            reply(6, ConsentDecision::TimedOut),
            Output::Show(Notice::TimedOut { timeout_secs: 60 }),
        ]
    );
    assert!(h.session.view_grant().is_none());
    let mut h = Harness::new();
    h.request(7, true, 0);
    h.session.handle_choice(7, Choice::Deny, h.at(1));
    assert_eq!(
        drain(&mut h.session),
        vec![
            reply(7, ConsentDecision::Deny),
            Output::Show(Notice::Denied)
        ]
    );
}

#[test]
fn pausing_refuses_input_and_releases_what_is_held_until_resumed() {
    let mut h = Harness::granted(true);
    h.session.handle_pause(true);
    assert_eq!(
        drain(&mut h.session),
        vec![Output::ReleaseInput, Output::Show(Notice::ControlPaused)]
    );
    assert!(h.session.is_paused());
    assert_eq!(
        h.session.input_verdict(1),
        InputVerdict::Refuse(InputOutcome::NoControl)
    );
    // Pausing twice changes nothing.
    h.session.handle_pause(true);
    assert_eq!(drain(&mut h.session), vec![]);
    h.session.handle_pause(false);
    assert_eq!(
        drain(&mut h.session),
        vec![Output::Show(Notice::ControlResumed)]
    );
    assert!(matches!(
        h.session.input_verdict(1),
        InputVerdict::Inject(_)
    ));
    // A view-only grant has nothing to release when paused.
    let mut h = Harness::granted(false);
    h.session.handle_pause(true);
    assert_eq!(
        drain(&mut h.session),
        vec![Output::Show(Notice::ControlPaused)]
    );
}

#[test]
fn a_new_grant_ends_a_pause() {
    let mut h = Harness::granted(true);
    h.session.handle_pause(true);
    drain(&mut h.session);
    h.request(9, true, 5);
    h.line_at("y", 6);
    assert!(!h.session.is_paused());
    assert!(matches!(
        h.session.input_verdict(1),
        InputVerdict::Inject(_)
    ));
}
