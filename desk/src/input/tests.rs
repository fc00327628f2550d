use super::*;
use crate::cli::{Cli, Command};
use clap::Parser;

fn args(line: &[&str]) -> InputArgs {
    let mut full = vec!["sos-desk", "input", "s1"];
    full.extend_from_slice(line);
    match Cli::try_parse_from(full).unwrap().command {
        Command::Input(args) => args,
        _ => panic!("not input"),
    }
}

fn stroke(code: &str, text: &str, press: Press) -> InputEvent {
    InputEvent::KeyStroke {
        code: code.into(),
        text: text.into(),
        press,
    }
}

#[test]
fn plan_follows_move_drag_click_wheel_text_keys() {
    let steps = plan(&args(&[
        "--key",
        "Tab",
        "--text",
        "héllo",
        "--click",
        "right",
        "--move",
        "1,2",
        "--key",
        "ctrl+c",
        "--wheel",
        "-1,3",
        "--double-click",
        "--drag",
        "0,0:16,-8",
    ]));
    let labels: Vec<_> = steps.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "move 1,2",
            "drag 0,0:16,-8",
            "click right",
            "double-click left",
            "wheel -1,3",
            "text (5 characters)",
            "key Tab",
            "key ctrl+c"
        ]
    );
    assert_eq!(steps[0].events, [InputEvent::MouseMove { x: 1, y: 2 }]);
    let drag = &steps[1].events;
    assert_eq!(drag.len(), 2 + DRAG_STEPS as usize + 1);
    assert_eq!(drag[0], InputEvent::MouseMove { x: 0, y: 0 });
    assert_eq!(
        drag[1],
        InputEvent::MouseButton {
            button: MouseButton::Left,
            press: Press::Down
        }
    );
    assert_eq!(drag[2], InputEvent::MouseMove { x: 2, y: -1 });
    assert_eq!(drag[drag.len() - 2], InputEvent::MouseMove { x: 16, y: -8 });
    assert_eq!(
        drag[drag.len() - 1],
        InputEvent::MouseButton {
            button: MouseButton::Left,
            press: Press::Up
        }
    );
    assert_eq!(
        steps[3].events,
        [InputEvent::MouseDoubleClick {
            button: MouseButton::Left
        }]
    );
    assert_eq!(steps[4].events, [InputEvent::Wheel { dx: -1, dy: 3 }]);
    assert_eq!(steps[5].events, [InputEvent::Text("héllo".into())]);
    assert_eq!(
        steps[7].events,
        [
            stroke("ControlLeft", "", Press::Down),
            stroke("KeyC", "c", Press::Down),
            stroke("KeyC", "c", Press::Up),
            stroke("ControlLeft", "", Press::Up),
        ]
    );
}

#[test]
fn display_moves_positions_onto_a_monitor_and_hold_keeps_keys_down() {
    let steps = plan(&args(&[
        "--move",
        "5,6",
        "--display",
        "1",
        "--hold",
        "shift+a",
    ]));
    assert_eq!(steps[0].label, "move 5,6 on display 1");
    assert_eq!(
        steps[0].events,
        [InputEvent::MouseMoveOn {
            monitor: 1,
            x: 5,
            y: 6
        }]
    );
    assert_eq!(steps[1].label, "hold shift+a");
    assert_eq!(
        steps[1].events,
        [
            stroke("ShiftLeft", "", Press::Down),
            stroke("KeyA", "A", Press::Down)
        ]
    );
}

#[test]
fn bad_values_are_usage_errors() {
    for line in [
        &["--key", "ctrl+"][..],
        &["--drag", "1,2"],
        &["--wheel", "0,0"],
        &["--display", "1", "--click", "left"],
        &["--double-click", "sideways"],
    ] {
        let mut full = vec!["sos-desk", "input", "s1"];
        full.extend_from_slice(line);
        let err = Cli::try_parse_from(full).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{line:?}: {err}");
    }
}

/// A fake gateway answering each input with the next outcome from `outcomes`.
async fn run_against(
    outcomes: Vec<InputOutcome>,
    line: &[&str],
) -> (Result<InputVerdict, InputError>, String, usize) {
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let gateway = tokio::spawn(async move {
        let mut seen = 0;
        for outcome in outcomes {
            let Ok(Some(FromViewer::Input { seq, .. })) =
                read_message::<_, FromViewer>(&mut theirs).await
            else {
                break;
            };
            seen += 1;
            // An unrelated result first: the client must skip it.
            write_message(
                &mut theirs,
                &ToViewer::InputResult {
                    seq: seq + 100,
                    outcome,
                },
            )
            .await
            .unwrap();
            write_message(&mut theirs, &ToViewer::InputResult { seq, outcome })
                .await
                .unwrap();
        }
        seen
    });
    let (mut recv, mut send) = tokio::io::split(ours);
    let mut out = Vec::new();
    let steps = plan(&args(line));
    let verdict = send_all(
        &mut send,
        &mut recv,
        &steps,
        Duration::from_secs(5),
        &mut out,
    )
    .await;
    drop((recv, send));
    let seen = gateway.await.unwrap();
    (verdict, String::from_utf8(out).unwrap(), seen)
}

#[tokio::test]
async fn all_applied() {
    let (verdict, out, seen) = run_against(
        vec![InputOutcome::Applied; 7],
        &[
            "--move", "10,20", "--click", "left", "--text", "secret", "--key", "ctrl+c",
        ],
    )
    .await;
    assert_eq!(verdict.unwrap(), InputVerdict::AllApplied);
    assert_eq!(seen, 7);
    assert_eq!(
        out,
        "move 10,20: applied\nclick left: applied\ntext (6 characters): applied\n\
         key ctrl+c: applied\n"
    );
    assert!(!out.contains("secret"));
}

#[tokio::test]
async fn no_control_stops_early() {
    let (verdict, out, seen) = run_against(
        vec![InputOutcome::NoControl, InputOutcome::Applied],
        &["--move", "10,20", "--click", "left"],
    )
    .await;
    assert_eq!(verdict.unwrap(), InputVerdict::NoControl);
    assert_eq!(seen, 1);
    assert!(out.ends_with("Input dropped: the end user has not granted control\n"));
}

#[tokio::test]
async fn a_dropped_key_still_sends_the_rest_of_its_combination() {
    let mut outcomes = vec![InputOutcome::Applied, InputOutcome::Invalid];
    outcomes.extend([InputOutcome::Applied; 4]);
    let (verdict, out, seen) =
        run_against(outcomes, &["--key", "ctrl+F13", "--key", "Return"]).await;
    assert_eq!(verdict.unwrap(), InputVerdict::SomeDropped);
    // Ctrl down, F13 down (dropped), F13 up, Ctrl up: all sent, then Return down and up.
    assert_eq!(seen, 6);
    assert!(out.ends_with("key Return: applied\n"), "{out}");
    assert!(
        out.contains("key ctrl+F13: dropped: invalid event"),
        "{out}"
    );
}

#[tokio::test]
async fn silence_times_out_and_end_is_reported() {
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    let (mut recv, mut send) = tokio::io::split(ours);
    let steps = plan(&args(&["--text", "a"]));
    let mut out = Vec::new();
    let err = send_all(
        &mut send,
        &mut recv,
        &steps,
        Duration::from_millis(50),
        &mut out,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, InputError::TimedOut { .. }), "{err}");
    write_message(&mut theirs, &ToViewer::End(EndReason::StoppedByUser))
        .await
        .unwrap();
    let err = send_all(
        &mut send,
        &mut recv,
        &steps,
        Duration::from_secs(5),
        &mut out,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Session ended: the end user stopped the session"
    );
}

#[tokio::test]
async fn the_benchmark_reports_round_trips() {
    let (ours, mut theirs) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        while let Ok(Some(FromViewer::Input { seq, event })) =
            read_message::<_, FromViewer>(&mut theirs).await
        {
            assert!(matches!(event, InputEvent::MouseMove { .. }));
            let outcome = InputOutcome::Applied;
            write_message(&mut theirs, &ToViewer::InputResult { seq, outcome })
                .await
                .unwrap();
        }
    });
    let (mut recv, mut send) = tokio::io::split(ours);
    let display = sos_transport::wire::DisplayInfo {
        index: 0,
        width: 64,
        height: 48,
        primary: true,
    };
    let mut out = Vec::new();
    let report = bench::run(
        &mut send,
        &mut recv,
        50,
        display,
        Duration::from_secs(5),
        &mut out,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.count, 50);
    assert!(report.p50 <= report.p99 && report.p99 <= report.max);
    assert!(String::from_utf8(out).unwrap().contains("p99"));
}
