//! Input events from a technician, as the agent checks and applies them: a stream of
//! arbitrary events (decoded from the fuzzer's bytes like the wire does) is planned against
//! a two-monitor desktop and run through the held-key state. No panic; every pointer move
//! stays on the desktop; and after `release_all` nothing the stream pressed is still held.

#![no_main]

use enigo::Direction;
use libfuzzer_sys::fuzz_target;
use sos_agent::input::{Action, Area, InputState, Layout, plan};
use sos_transport::wire::{InputEvent, MonitorInfo};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn layout() -> Layout {
    let monitor = |index: u32, x: i32, width: u32, height: u32| MonitorInfo {
        index,
        x,
        y: 0,
        width,
        height,
        primary: index == 1,
    };
    Layout {
        shared: Some(Area {
            x: 1280,
            y: 0,
            width: 1920,
            height: 1080,
        }),
        monitors: vec![monitor(0, 0, 1280, 1024), monitor(1, 1280, 1920, 1080)],
    }
}

/// Counts presses minus releases per key or button.
fn track(held: &mut HashMap<String, i64>, action: &Action) {
    let (what, direction) = match action {
        Action::Key { key, direction } => (format!("{key:?}"), *direction),
        Action::Button { button, direction } => (format!("{button:?}"), *direction),
        Action::MoveTo { x, y } => {
            assert!((0..3200).contains(x) && (0..1080).contains(y), "{x},{y}");
            return;
        }
        _ => return,
    };
    let count = held.entry(what).or_default();
    match direction {
        Direction::Press => *count += 1,
        Direction::Release => *count = 0,
        Direction::Click => {}
    }
}

fuzz_target!(|bytes: &[u8]| {
    let layout = layout();
    let mut state = InputState::new(Duration::from_secs(10));
    let mut held = HashMap::new();
    let start = Instant::now();
    let mut rest = bytes;
    let mut step = 0u64;
    while let Ok((event, tail)) = postcard::take_from_bytes::<InputEvent>(rest) {
        rest = tail;
        step += 1;
        let now = start + Duration::from_millis(step * 7);
        if let Ok(planned) = plan(&event, &layout) {
            for action in state.handle(planned, now) {
                track(&mut held, &action);
                state.applied(&action, now);
            }
        }
        if step > 256 {
            break;
        }
    }
    for action in state.release_all() {
        track(&mut held, &action);
    }
    assert!(state.is_idle(), "state still holds input after release_all");
    let stuck: Vec<_> = held.iter().filter(|(_, n)| **n > 0).collect();
    assert!(
        stuck.is_empty(),
        "still pressed after release_all: {stuck:?}"
    );
});
