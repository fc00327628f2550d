//! The controller against a simulated bottleneck, at full speed with a fake clock.

use super::*;

const MS: Duration = Duration::from_millis(1);

/// A sender like the streamer's (at most four frames unacknowledged, a new frame captured
/// once a slot is free and the rate allows) in front of a first-in first-out link.
struct Simulation {
    start: Instant,
    now: Instant,
    controller: Option<RateController>,
    max_fps: f32,
    /// Link capacity in bits per second, changeable mid-run.
    bits_per_second: u64,
    /// Round trip without queueing.
    round_trip: Duration,
    frame_bytes: u64,
    link_free_at: Instant,
    next_capture: Instant,
    /// (written, acknowledged, round trip then) of the frames in flight.
    in_flight: VecDeque<(Instant, Instant, Duration)>,
    /// (captured, shown at the viewer) of every frame.
    shown: Vec<(Instant, Instant)>,
    decisions: Vec<(Instant, Decision)>,
}

impl Simulation {
    fn new(adapt: bool, bits_per_second: u64, frame_bytes: u64) -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            controller: adapt.then(|| RateController::new(30.0, start)),
            max_fps: 30.0,
            bits_per_second,
            round_trip: 10 * MS,
            frame_bytes,
            link_free_at: start,
            next_capture: start,
            in_flight: VecDeque::new(),
            shown: Vec::new(),
            decisions: Vec::new(),
        }
    }

    fn fps(&self) -> f32 {
        self.controller
            .as_ref()
            .map_or(self.max_fps, RateController::fps)
    }

    /// Runs until `seconds` after the start, one millisecond at a time.
    fn run_until(&mut self, seconds: u64) {
        let end = self.start + Duration::from_secs(seconds);
        while self.now < end {
            self.now += MS;
            let now = self.now;
            while self
                .in_flight
                .front()
                .is_some_and(|(_, acked, _)| *acked <= now)
            {
                let (written, acked, round_trip) = self.in_flight.pop_front().unwrap();
                if let Some(controller) = &mut self.controller {
                    controller.on_delivered(written, acked, round_trip);
                }
            }
            if let Some(controller) = &mut self.controller
                && controller.poll_timeout() <= now
            {
                let decision = controller.handle_timeout(now);
                self.decisions.push((now, decision));
            }
            if self.in_flight.len() < 4 && now >= self.next_capture {
                let sending = Duration::from_nanos(
                    self.frame_bytes * 8 * 1_000_000_000 / self.bits_per_second,
                );
                let waiting = self.link_free_at.saturating_duration_since(now);
                self.link_free_at = self.link_free_at.max(now) + sending;
                let shown = self.link_free_at + self.round_trip / 2;
                // The frame's packets, written at once, wait behind the queue and behind
                // each other: their round trips average half the frame's own time on top.
                let round_trip = self.round_trip + waiting + sending / 2;
                self.in_flight
                    .push_back((now, self.link_free_at + self.round_trip, round_trip));
                self.shown.push((now, shown));
                self.next_capture = now + Duration::from_secs_f32(1.0 / self.fps());
            }
        }
    }

    /// Frames shown per second and the 95th percentile of capture-to-shown latency, over
    /// the frames captured between `from` and `to` seconds.
    fn figures(&self, from: u64, to: u64) -> (f64, Duration) {
        let (from, to) = (
            self.start + Duration::from_secs(from),
            self.start + Duration::from_secs(to),
        );
        let mut latencies: Vec<Duration> = self
            .shown
            .iter()
            .filter(|(captured, _)| (from..to).contains(captured))
            .map(|(captured, shown)| *shown - *captured)
            .collect();
        latencies.sort();
        let fps = latencies.len() as f64 / (to - from).as_secs_f64();
        let p95 = latencies[latencies.len() * 95 / 100];
        (fps, p95)
    }
}

/// 22 KB frames (a quarter of a 720p screen changing like a video) over 2 Mbit/s: the
/// link carries about 11 of them a second.
const FRAME: u64 = 22_000;
const SLOW: u64 = 2_000_000;

#[test]
fn a_link_that_keeps_up_keeps_the_full_rate() {
    let mut simulation = Simulation::new(true, 100_000_000, FRAME);
    simulation.run_until(60);
    assert_eq!(simulation.fps(), 30.0);
    assert!(
        simulation
            .decisions
            .iter()
            .all(|(_, decision)| *decision == Decision::Hold)
    );
    let (fps, p95) = simulation.figures(5, 60);
    assert!(fps > 29.0, "{fps}");
    assert!(p95 < 10 * MS, "{p95:?}");
}

#[test]
fn a_slow_link_lowers_the_rate_until_frames_stop_queueing() {
    let mut fixed = Simulation::new(false, SLOW, FRAME);
    fixed.run_until(60);
    let (fixed_fps, fixed_p95) = fixed.figures(10, 60);
    let mut adapted = Simulation::new(true, SLOW, FRAME);
    adapted.run_until(60);
    let (fps, p95) = adapted.figures(10, 60);
    eprintln!(
        "2 Mbit/s, 22 KB frames: {fps:.1} fps, p95 {p95:?} adapted; \
         {fixed_fps:.1} fps, p95 {fixed_p95:?} fixed"
    );
    // Without adaptation four frames wait in front of each other: 4 x 88 ms and more.
    assert!(fixed_p95 > 300 * MS, "{fixed_p95:?}");
    // One frame's own 88 ms on the link, and little waiting.
    assert!(
        p95 < 200 * MS,
        "{p95:?} at {fps:.1} fps (fixed: {fixed_p95:?})"
    );
    // Most of the link is still used: it carries 11.4 frames a second.
    assert!(fps > 10.0, "{fps:.1} fps (fixed: {fixed_fps:.1})");
    assert!(adapted.fps() >= MIN_FPS && adapted.fps() < 15.0);
}

#[test]
fn a_link_that_gets_slower_is_followed_within_a_second() {
    let mut simulation = Simulation::new(true, 100_000_000, FRAME);
    simulation.run_until(10);
    assert_eq!(simulation.fps(), 30.0);
    simulation.bits_per_second = SLOW;
    simulation.run_until(20);
    let first_cut = simulation
        .decisions
        .iter()
        .find(|(_, decision)| matches!(decision, Decision::Lower { .. }))
        .map(|(at, _)| *at - simulation.start)
        .unwrap();
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(11)).contains(&first_cut),
        "{first_cut:?}"
    );
    let (_, p95) = simulation.figures(13, 20);
    assert!(p95 < 200 * MS, "{p95:?}");
}

#[test]
fn the_rate_climbs_back_about_once_a_second_when_the_link_recovers() {
    let mut simulation = Simulation::new(true, SLOW, FRAME);
    simulation.run_until(20);
    assert!(simulation.fps() < 15.0, "{}", simulation.fps());
    simulation.bits_per_second = 100_000_000;
    simulation.run_until(55);
    let back = simulation
        .decisions
        .iter()
        .find(|(_, decision)| *decision == Decision::Raise { fps: 30.0 })
        .map(|(at, _)| *at - simulation.start)
        .unwrap();
    eprintln!(
        "back at 30 fps {:?} after the link recovered",
        back - Duration::from_secs(20)
    );
    // Careful steps past the rate it had found (the first after a plateau of up to 8 s),
    // then quick ones.
    assert!(back < Duration::from_secs(50), "{back:?}");
    let raises: Vec<Instant> = simulation
        .decisions
        .iter()
        .filter(|(_, decision)| matches!(decision, Decision::Raise { .. }))
        .map(|(at, _)| *at)
        .collect();
    assert!(
        raises
            .windows(2)
            .all(|pair| pair[1] - pair[0] >= DECISION_INTERVAL),
        "at most one probe a second"
    );
    let (fps, _) = simulation.figures(back.as_secs() + 1, 55);
    assert!(fps > 29.0, "{fps}");
}

#[test]
fn a_link_too_slow_even_for_the_floor_goes_down_to_the_floor_and_no_lower() {
    // 200 kbit/s: about one 22 KB frame a second. (Once every delay of the baseline's
    // window is a queued one, the rate climbs again; with the floor's frames queueing
    // anyway, that changes nothing the viewer sees.)
    let mut simulation = Simulation::new(true, 200_000, FRAME);
    simulation.run_until(8);
    assert_eq!(simulation.fps(), MIN_FPS);
}

#[test]
fn a_longer_path_becomes_the_new_baseline() {
    let mut simulation = Simulation::new(true, 100_000_000, FRAME);
    simulation.run_until(10);
    // The route changes: 300 ms more round trip for good.
    simulation.round_trip = 310 * MS;
    simulation.run_until(60);
    assert_eq!(simulation.fps(), 30.0);
    let (fps, _) = simulation.figures(40, 60);
    assert!(fps > 12.0, "{fps}");
}

/// Frames written at `fps` from `from` for `seconds`; `delivery(index)` says after how long
/// each is acknowledged and the connection's round trip then.
fn frames(
    from: Instant,
    fps: u32,
    seconds: u32,
    delivery: impl Fn(u32) -> (Duration, Duration),
) -> Vec<(Instant, Duration, Duration)> {
    (0..fps * seconds)
        .map(|index| {
            let (after, round_trip) = delivery(index);
            (from + DECISION_INTERVAL * index / fps, after, round_trip)
        })
        .collect()
}

/// A frame that waited in a queue: acknowledged after `delay`, which the round trip shows.
fn queued(delay: Duration) -> (Duration, Duration) {
    (delay, delay)
}

/// Feeds the acknowledgements in time order and lets the controller decide whenever it
/// asks, until `until`; returns what it changed, and when.
fn drive(
    controller: &mut RateController,
    frames: &[(Instant, Duration, Duration)],
    until: Instant,
) -> Vec<(Instant, Decision)> {
    let mut acks: Vec<(Instant, Instant, Duration)> = frames
        .iter()
        .map(|(written, after, round_trip)| (*written + *after, *written, *round_trip))
        .collect();
    acks.sort();
    let mut acks = acks.into_iter().peekable();
    let mut changes = Vec::new();
    loop {
        let due = controller.poll_timeout();
        match acks.peek() {
            Some((acked, written, round_trip)) if *acked <= due && *acked <= until => {
                controller.on_delivered(*written, *acked, *round_trip);
                acks.next();
            }
            _ if due <= until => {
                let decision = controller.handle_timeout(due);
                if decision != Decision::Hold {
                    changes.push((due, decision));
                }
            }
            _ => return changes,
        }
    }
}

#[test]
fn a_few_late_frames_do_not_lower_the_rate() {
    let start = Instant::now();
    let mut controller = RateController::new(30.0, start);
    // A third of the frames late (a burst of cross traffic): the median stays low.
    let frames = frames(start, 30, 10, |index| {
        queued(if index % 3 == 0 { 400 * MS } else { 22 * MS })
    });
    let changes = drive(&mut controller, &frames, start + Duration::from_secs(10));
    assert_eq!(changes, []);
    assert_eq!(controller.fps(), 30.0);
}

#[test]
fn frames_waiting_for_retransmissions_do_not_lower_the_rate() {
    let start = Instant::now();
    let mut controller = RateController::new(30.0, start);
    // 30 % loss: two frames in three lose a packet and wait for its retransmission (a
    // probe timeout, backed off), while the round trip stays that of the path.
    let frames = frames(start, 30, 10, |index| {
        let after = match index % 3 {
            0 => 22 * MS,
            1 => 180 * MS,
            _ => 420 * MS,
        };
        (after, 20 * MS + MS * (index % 5))
    });
    let changes = drive(&mut controller, &frames, start + Duration::from_secs(10));
    assert_eq!(changes, []);
    assert_eq!(controller.fps(), 30.0);
}

#[test]
fn queueing_lowers_the_rate_within_a_quarter_second_then_frames_from_before_do_not_count() {
    let start = Instant::now();
    let mut controller = RateController::new(30.0, start);
    let mut sent = frames(start, 10, 2, |_| queued(100 * MS));
    // From 2 s on, every frame waits 300 ms more, for 2 s.
    let late = start + Duration::from_secs(2);
    sent.extend(frames(late, 10, 2, |_| queued(400 * MS)));
    let changes = drive(&mut controller, &sent, start + Duration::from_secs(4));
    let [(at, Decision::Lower { fps, queueing })] = changes[..] else {
        panic!("one cut, not {changes:?}");
    };
    // The third late frame is acknowledged at 2.6 s; the next check follows it.
    assert!(at <= late + 750 * MS, "{:?}", at - late);
    // Below what was delivered in the second before (7 frames: 3 on time, 4 late).
    assert!((fps - 4.9).abs() < 0.01, "{fps}");
    assert_eq!(queueing, 300 * MS);
    // The frames written before the cut went on arriving late: no second cut for them.
    assert_eq!(controller.fps(), fps);
}

#[test]
fn nothing_acknowledged_holds_and_the_controller_looks_four_times_a_second() {
    let start = Instant::now();
    let mut controller = RateController::new(30.0, start);
    assert_eq!(controller.poll_timeout(), start + 250 * MS);
    assert_eq!(controller.handle_timeout(start + 100 * MS), Decision::Hold);
    assert_eq!(controller.poll_timeout(), start + 250 * MS);
    let changes = drive(&mut controller, &[], start + Duration::from_secs(10));
    assert_eq!(changes, []);
    assert_eq!(
        controller.poll_timeout(),
        start + Duration::from_secs(10) + 250 * MS
    );
    assert_eq!(controller.fps(), 30.0);
}

#[test]
fn odd_maximum_rates_are_kept_within_bounds() {
    let now = Instant::now();
    assert_eq!(RateController::new(f32::NAN, now).fps(), MIN_FPS);
    assert_eq!(RateController::new(0.5, now).fps(), MIN_FPS);
    assert_eq!(RateController::new(60.0, now).fps(), 60.0);
}

#[test]
fn a_probe_that_makes_frames_wait_is_taken_back_before_it_needs_a_cut() {
    let mut simulation = Simulation::new(true, SLOW, FRAME);
    simulation.run_until(60);
    // Once the rate found the link, each probe past it is taken back while its queue is
    // short: no cut after the first seconds, only small steps down.
    let settled = simulation.start + Duration::from_secs(10);
    let cuts: Vec<_> = simulation
        .decisions
        .iter()
        .filter(|(at, decision)| {
            *at >= settled
                && matches!(decision, Decision::Lower { queueing, .. } if *queueing > CONGESTED)
        })
        .collect();
    assert_eq!(cuts, [] as [&(Instant, Decision); 0]);
    // The start included, frames wait little: one frame's 88 ms on the link, and some.
    let (fps, p95) = simulation.figures(0, 60);
    assert!(p95 < 190 * MS, "{p95:?} at {fps:.1} fps");
    assert!(fps > 10.0, "{fps:.1} fps");
}
