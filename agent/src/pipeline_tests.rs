//! The capture thread against a fake screen.

use super::*;
use crate::platform::fake::FakePlatform;
use sos_codec::Decoder;
use std::sync::Arc;

struct Running {
    runtime: tokio::runtime::Runtime,
    frames: mpsc::Receiver<EncodedOutput>,
    controls: Arc<Controls>,
    thread: std::thread::JoinHandle<(Stats, Result<(), StreamError>)>,
}

fn start(platform: &FakePlatform) -> Running {
    start_with(platform, false)
}

/// [`start`], with a keyframe request already pending when the thread starts (as when a
/// viewer attaches: the gateway asks for the stream and for a keyframe at once).
fn start_with(platform: &FakePlatform, keyframe_requested: bool) -> Running {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (tx, frames) = mpsc::channel(1);
    let controls = Arc::new(Controls::default());
    if keyframe_requested {
        controls.request_keyframe();
    }
    let thread = std::thread::spawn({
        let platform = platform.clone();
        let controls = controls.clone();
        let handle = runtime.handle().clone();
        move || {
            let config = PipelineConfig {
                max_fps: 200.0,
                target_bitrate_bps: None,
                monitor: None,
                encoder_threads: None,
            };
            run(
                &platform,
                config,
                &controls,
                &tx,
                &handle,
                &AtomicU64::new(0),
            )
        }
    });
    Running {
        runtime,
        frames,
        controls,
        thread,
    }
}

impl Running {
    fn next(&mut self) -> Option<EncodedOutput> {
        let frames = &mut self.frames;
        let wait = async { tokio::time::timeout(Duration::from_secs(20), frames.recv()).await };
        self.runtime.block_on(wait).ok().flatten()
    }

    fn nothing_within(&mut self, time: Duration) -> bool {
        let frames = &mut self.frames;
        let wait = async { tokio::time::timeout(time, frames.recv()).await };
        self.runtime.block_on(wait).is_err()
    }

    fn stop(mut self) -> Stats {
        self.controls.stop();
        self.frames.close();
        let (stats, result) = self.thread.join().unwrap();
        result.unwrap();
        stats
    }
}

#[test]
fn first_frame_is_a_decodable_keyframe_then_only_changes_are_sent() {
    let platform = FakePlatform::new(128, 96);
    let mut running = start(&platform);
    let first = running.next().unwrap();
    assert!(first.header.keyframe);
    assert_eq!(first.header.seq, 0);
    assert_eq!((first.header.width, first.header.height), (128, 96));
    assert!(first.header.capture_micros > 0);
    let mut decoder = Decoder::new().unwrap();
    let picture = decoder.decode(&first.data).unwrap();
    assert!(picture.is_some(), "the first frame decodes on its own");

    // An unchanged screen produces nothing.
    assert!(running.nothing_within(Duration::from_millis(100)));

    platform.paint(10, 10, 30, 220);
    let changed = running.next().unwrap();
    assert!(!changed.header.keyframe);
    assert_eq!(changed.header.seq, 1);
    assert!(decoder.decode(&changed.data).unwrap().is_some());

    let stats = running.stop();
    let report = stats.report(Instant::now());
    assert!(report.unchanged_polls > 0, "{report:?}");
}

#[test]
fn a_keyframe_request_re_encodes_the_unchanged_screen() {
    let platform = FakePlatform::new(64, 64);
    let mut running = start(&platform);
    running.next().unwrap();
    assert!(running.nothing_within(Duration::from_millis(50)));
    running.controls.request_keyframe();
    let again = running.next().unwrap();
    assert!(again.header.keyframe);
    assert_eq!(again.header.seq, 1);
    // A fresh decoder can start from it.
    assert!(
        Decoder::new()
            .unwrap()
            .decode(&again.data)
            .unwrap()
            .is_some()
    );
    running.stop();
}

#[test]
fn a_request_pending_at_the_start_is_answered_by_the_first_keyframe() {
    let platform = FakePlatform::new(64, 64);
    let mut running = start_with(&platform, true);
    assert!(running.next().unwrap().header.keyframe);
    assert!(
        running.nothing_within(KEYFRAME_SPACING + Duration::from_millis(300)),
        "no second keyframe for the same request"
    );
    running.stop();
}

#[test]
fn keyframe_requests_are_answered_at_most_once_per_spacing() {
    let platform = FakePlatform::new(64, 64);
    let mut running = start(&platform);
    let first = running.next().unwrap();
    assert!(first.header.keyframe);
    let started = Instant::now();
    // A burst of requests while the screen changes: the changes go out as P-frames,
    // and the requests get one keyframe, no sooner than the spacing after the first.
    let mut keyframes = Vec::new();
    for shade in 0..40_u8 {
        running.controls.request_keyframe();
        platform.paint(0, 0, 8, shade.wrapping_mul(6));
        let frame = running.next().unwrap();
        if frame.header.keyframe {
            keyframes.push(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!keyframes.is_empty(), "the requests were answered");
    let mut previous = Duration::ZERO;
    for at in &keyframes {
        assert!(
            *at + Duration::from_millis(50) >= previous + KEYFRAME_SPACING,
            "keyframes at {keyframes:?}"
        );
        previous = *at;
    }
    running.stop();
}

#[test]
fn the_thread_waits_for_the_sender_and_then_encodes_the_newest_screen() {
    let platform = FakePlatform::new(64, 64);
    let mut running = start(&platform);
    running.next().unwrap();
    // Nobody takes frames: the change fills the single slot, then the thread waits.
    platform.paint(0, 0, 8, 100);
    let deadline = Instant::now() + Duration::from_secs(20);
    while running.frames.is_empty() {
        assert!(Instant::now() < deadline, "the change was never encoded");
        std::thread::sleep(Duration::from_millis(2));
    }
    let polls = platform.capture_count();
    platform.paint(0, 0, 8, 150);
    platform.paint(0, 0, 8, 200);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        platform.capture_count(),
        polls,
        "no capture while the slot is full"
    );
    let queued = running.next().unwrap();
    assert_eq!(queued.header.seq, 1);
    // Once the slot frees up, the newest screen is encoded; the intermediate one never is.
    let newest = running.next().unwrap();
    assert_eq!(newest.header.seq, 2);
    assert!(running.nothing_within(Duration::from_millis(50)));
    running.stop();
}

#[test]
fn stops_when_the_channel_closes_even_while_waiting_for_the_slot() {
    let platform = FakePlatform::new(64, 64);
    let mut running = start(&platform);
    running.next().unwrap();
    platform.paint(0, 0, 8, 100);
    std::thread::sleep(Duration::from_millis(30));
    // Closing the receiver without taking the queued frame ends the thread.
    let stats = running.stop();
    assert!(stats.report(Instant::now()).screen_polls >= 1);
}

#[test]
fn a_paced_thread_polls_the_screen_no_faster_than_its_pace() {
    let platform = FakePlatform::new(64, 64);
    let mut running = start(&platform);
    running.next().unwrap();
    running.controls.pace(10.0);
    let mut captured = Vec::new();
    for shade in 0..6_u8 {
        platform.paint(0, 0, 8, 40 * shade);
        captured.push(running.next().unwrap().header.capture_micros);
    }
    // The first may still follow the unpaced interval; from then on 100 ms at least.
    for pair in captured[1..].windows(2) {
        assert!(pair[1] - pair[0] >= 95_000, "{captured:?}");
    }
    // Pacing never makes the thread faster than configured.
    assert_eq!(
        running.controls.interval(Duration::from_millis(200)),
        Duration::from_millis(200)
    );
    running.controls.pace(f32::NAN);
    assert_eq!(
        running.controls.interval(Duration::from_millis(5)),
        Duration::from_millis(5)
    );
    running.stop();
}
