//! The frame rate that follows the link's delay: a delay-based controller in the manner of
//! RustDesk's video QoS, one decision a second.
//!
//! The signal is the connection's round-trip time as QUIC estimates it, read when each frame
//! is acknowledged (the frame counts for the rate delivered; its round trip is the delay).
//! The smallest of the last few seconds is the baseline: the path with nothing waiting in a
//! router's buffer. Once a second the median round trip of the frames acknowledged since the
//! last decision is compared with it:
//! - well above it, packets are queueing somewhere (a slow uplink, a full router buffer): the
//!   rate drops below what the link delivered in the last second, so the queue drains (this
//!   is also checked every quarter of a second, so a link that gets slower is followed fast);
//! - near it, the rate probes upward by a step, quickly up to just under the rate at which
//!   frames last queued, then carefully past it, so a link that got faster is used again;
//!   a probe that makes frames wait a little is taken back at the next check (within its
//!   first second for a quick one, for as long as the rate stays past that rate for a
//!   careful one), a little further down while its queue drains, so it never grows into a
//!   cut;
//! - in between, or without any fresh sample (an idle screen), it holds (or takes back a
//!   careful probe that made frames wait).
//!
//! Why the round trip and not the frame's own delivery time: on a lossy link most frames
//! wait for a retransmission (a packet-threshold or probe timeout, which backs off), and
//! that wait is not a queue. Fewer frames would not shorten it, and cutting the rate for it
//! starved a 30 %-loss link to 4 fps that carries 26 at the full rate. QUIC takes its
//! round-trip samples from newly sent packets, so retransmissions leave them alone, while a
//! bottleneck's queue shows in every one of them.
//!
//! Only the frame rate is adapted: the encoder's quantiser is capped so that text stays
//! sharp, so fewer frames, not blurrier ones, is how the stream fits a slow link.
//!
//! Contract: sans-IO and deterministic; never reads the clock (every time is an input),
//! never sleeps, never allocates without bound. The rate stays within
//! [`MIN_FPS`]`..=max_fps`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Whether the sender adapts the frame rate to the link's delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateControl {
    /// Lower the frame rate while frames queue, raise it again when they stop (the default).
    #[default]
    FollowDelay,
    /// Capture at the configured rate whatever the delay (to compare, in tests).
    Fixed,
}

/// How often the controller decides to probe up or to hold: once a second.
pub const DECISION_INTERVAL: Duration = Duration::from_secs(1);
/// How often it looks for queueing in between, to lower the rate within a quarter of a
/// second of a link getting slower (checks per decision).
const CHECKS_PER_DECISION: u32 = 4;
/// Samples a check between decisions needs: one late frame is not a queue.
const CHECK_SAMPLES: usize = 3;
/// The lowest rate it sets: a picture every half second still shows what happens.
pub const MIN_FPS: f32 = 2.0;
/// Median round trip above the baseline at which packets count as queueing: about one
/// frame waiting in front of another on a slow link, well above the scheduling noise of a
/// busy machine.
const CONGESTED: Duration = Duration::from_millis(100);
/// Median round trip above the baseline under which the link counts as clear, for a probe up.
const CLEAR: Duration = Duration::from_millis(50);
/// On congestion the rate drops to this share of what the link delivered in the last
/// second: the queue then drains at the rest.
const CUT: f32 = 0.7;
/// Frames that wait a little (between [`CLEAR`] and [`CONGESTED`]) ease the rate down by
/// this factor a second.
const EASE: f32 = 0.95;
/// A probe up adds this share of the current rate, at least [`PROBE_MIN_STEP`].
const PROBE_SHARE: f32 = 0.15;
/// Smallest probe step, in frames per second.
const PROBE_MIN_STEP: f32 = 1.0;
/// Quick probes stop at this share of the rate the link delivered when frames last queued
/// (its capacity, as far as known): the rate stays just under it.
const UNDER_CEILING: f32 = 0.95;
/// Clear seconds in a row before a probe past that rate; each probe past it that makes
/// frames wait doubles the wait before the next, up to [`MAX_PLATEAU_SECONDS`], so a rate
/// at the link's capacity stays there and probes only now and then (one that holds sets
/// it back to this).
const PLATEAU_SECONDS: u32 = 2;
/// The longest wait between two probes past the ceiling.
const MAX_PLATEAU_SECONDS: u32 = 8;
/// A probe past that rate adds this share of it (at least [`CAREFUL_MIN_STEP`]): small
/// enough that the queue of a probe too far grows slowly, and is taken back in time.
const CAREFUL_SHARE: f32 = 0.05;
/// Smallest probe step past that rate, in frames per second.
const CAREFUL_MIN_STEP: f32 = 0.5;
/// A cut at which the link delivered less than this share of the ceiling found a slower
/// link: probes past the new ceiling start again after the shortest plateau.
const SLOWER_LINK: f32 = 0.8;
/// Past this share of that rate without queueing, it is forgotten: the link got faster.
const PAST_CEILING: f32 = 1.25;
/// Seconds of per-second minima the baseline is the minimum of; a path whose round trip grew
/// for good (a new route) is taken as the new baseline after that long.
const BASELINE_SECONDS: usize = 10;
/// Samples kept per decision, at most (more frames a second than this are not expected;
/// past it, the oldest are forgotten).
const MAX_SAMPLES: usize = 256;

/// What the controller did at a decision, for the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Frames queue: the rate went down to `fps`.
    Lower {
        /// The new rate.
        fps: f32,
        /// Median round trip above the baseline that caused it.
        queueing: Duration,
    },
    /// The link is clear: the rate went up to `fps`.
    Raise {
        /// The new rate.
        fps: f32,
    },
    /// No change (in between, at a bound, nothing acknowledged, or not time yet).
    Hold,
}

/// Picks the frame rate from the round trips at frames' acknowledgements; see the module's documentation.
#[derive(Debug, Clone)]
pub struct RateController {
    max_fps: f32,
    fps: f32,
    started: Instant,
    next_check: Instant,
    /// Checks since the last decision.
    checks: u32,
    /// When the rate was last lowered: frames written before it say nothing of the new rate.
    lowered_at: Option<Instant>,
    /// The rate the link delivered when frames last queued: probes stop just under it.
    ceiling: Option<f32>,
    /// The rate before the last probe up, while that probe's first second runs.
    probing: Option<f32>,
    /// Clear decisions in a row since the last probe.
    clear: u32,
    /// Clear seconds the next probe past the ceiling waits for.
    plateau_seconds: u32,
    /// Round trips at the acknowledgement of the frames written since the last cut and
    /// acknowledged since the last decision.
    samples: Vec<Duration>,
    /// When the frames of the last second were acknowledged (the delivered rate).
    acknowledged: VecDeque<Instant>,
    /// Smallest round trip of each recent second, newest last.
    minima: VecDeque<Duration>,
    current_minimum: Option<Duration>,
}

impl RateController {
    /// Starts at `max_fps` (frames per second, at least [`MIN_FPS`]) at `now`.
    pub fn new(max_fps: f32, now: Instant) -> Self {
        let max_fps = if max_fps.is_finite() {
            max_fps.max(MIN_FPS)
        } else {
            MIN_FPS
        };
        Self {
            max_fps,
            fps: max_fps,
            started: now,
            next_check: now + check_interval(),
            checks: 0,
            lowered_at: None,
            ceiling: None,
            probing: None,
            clear: 0,
            plateau_seconds: PLATEAU_SECONDS,
            samples: Vec::new(),
            acknowledged: VecDeque::new(),
            minima: VecDeque::with_capacity(BASELINE_SECONDS + 1),
            current_minimum: None,
        }
    }

    /// The rate to capture at now.
    pub fn fps(&self) -> f32 {
        self.fps
    }

    /// A frame written at `written` was acknowledged at `acknowledged` (or given up on then),
    /// when the connection's round-trip estimate was `round_trip`.
    pub fn on_delivered(&mut self, written: Instant, acknowledged: Instant, round_trip: Duration) {
        if self.acknowledged.len() == MAX_SAMPLES {
            self.acknowledged.pop_front();
        }
        self.acknowledged.push_back(acknowledged);
        self.current_minimum = Some(
            self.current_minimum
                .map_or(round_trip, |m| m.min(round_trip)),
        );
        if self.lowered_at.is_some_and(|lowered| written < lowered) {
            return;
        }
        if self.samples.len() == MAX_SAMPLES {
            self.samples.remove(0);
        }
        self.samples.push(round_trip);
    }

    /// When [`RateController::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self) -> Instant {
        self.next_check
    }

    /// Checks for queueing, and once a second decides, if due at `now` (else holds).
    pub fn handle_timeout(&mut self, now: Instant) -> Decision {
        if now < self.next_check {
            return Decision::Hold;
        }
        self.next_check = now + check_interval();
        self.checks += 1;
        let decision = self.checks >= CHECKS_PER_DECISION;
        if decision {
            self.checks = 0;
            if let Some(minimum) = self.current_minimum.take() {
                if self.minima.len() == BASELINE_SECONDS {
                    self.minima.pop_front();
                }
                self.minima.push_back(minimum);
            }
        }
        let baseline = self
            .minima
            .iter()
            .chain(&self.current_minimum)
            .min()
            .copied();
        // Between decisions, only several frames count, and not while the queue a cut of
        // the last second left behind may still be draining.
        let settled = self
            .lowered_at
            .is_none_or(|lowered| now.saturating_duration_since(lowered) >= DECISION_INTERVAL);
        let median = if decision || (self.samples.len() >= CHECK_SAMPLES && settled) {
            median(&mut self.samples)
        } else {
            None
        };
        if decision {
            self.samples.clear();
        }
        let (Some(median), Some(baseline)) = (median, baseline) else {
            return Decision::Hold;
        };
        let queueing = median.saturating_sub(baseline);
        if queueing > CONGESTED {
            if !settled {
                return Decision::Hold;
            }
            return self.lower(now, queueing);
        }
        // A probe that makes frames wait is taken back at once, before the queue it builds
        // grows into a cut: a quick one within its first second, one past the ceiling for
        // as long as the rate stays past it.
        let past_ceiling = self.plateau().is_some_and(|plateau| self.fps > plateau);
        if queueing >= CLEAR && (self.probing.is_some() || past_ceiling) {
            let before = self.probing.unwrap_or(self.fps);
            return self.take_back(now, before, queueing);
        }
        if !decision {
            return Decision::Hold;
        }
        // The decision ends the last probe's first second.
        self.probing = None;
        if queueing < CLEAR {
            self.clear = self.clear.saturating_add(1);
            if let Some(fps) = self.probe() {
                self.probing = Some(self.fps);
                self.fps = fps;
                return Decision::Raise { fps };
            }
            return Decision::Hold;
        }
        self.clear = 0;
        if !settled {
            return Decision::Hold;
        }
        // Frames wait a little: a probe past the ceiling is taken back at once, else the
        // rate eases down until they no longer do, before a standing queue forms.
        let fps = match self.plateau() {
            Some(plateau) if self.fps > plateau => plateau,
            _ => (self.fps * EASE).max(MIN_FPS),
        };
        if fps >= self.fps {
            return Decision::Hold;
        }
        self.lowered(now, fps);
        Decision::Lower { fps, queueing }
    }

    /// Frames queue: down below what the link delivered in the last second.
    fn lower(&mut self, now: Instant, queueing: Duration) -> Decision {
        let (delivered, window) = self.delivered(now);
        let fps = (delivered * CUT).min(self.fps).max(MIN_FPS);
        // Less than a tenth of a frame per second is no change worth making: the rate is
        // low enough already, the frames sent before it only have to drain.
        if fps > self.fps - 0.1 {
            self.clear = 0;
            self.lowered_at = Some(now);
            self.samples.clear();
            return Decision::Hold;
        }
        self.lowered(now, fps);
        // A link clearly slower than the ceiling said is a new link: probe it as one.
        if self
            .ceiling
            .is_some_and(|ceiling| delivered < ceiling * SLOWER_LINK)
        {
            self.plateau_seconds = PLATEAU_SECONDS;
        }
        // Within the first second the count is too short (and the first keyframe in it) to
        // tell the link's capacity.
        self.ceiling = (window >= DECISION_INTERVAL).then_some(delivered);
        Decision::Lower { fps, queueing }
    }

    /// A probe up from `before` made frames wait `queueing`: back under it and under the
    /// ceiling (what the link delivered, when no ceiling is known yet), and a little further
    /// while the queue drains.
    fn take_back(&mut self, now: Instant, before: f32, queueing: Duration) -> Decision {
        let (delivered, window) = self.delivered(now);
        if window >= DECISION_INTERVAL && self.ceiling.is_none() {
            self.ceiling = Some(delivered);
        }
        // Under it by as many frames as the queue holds, for a second: the queue drains.
        let drain = delivered * queueing.as_secs_f32() / DECISION_INTERVAL.as_secs_f32();
        let fps =
            (self.plateau().map_or(before, |plateau| before.min(plateau)) - drain).max(MIN_FPS);
        self.lowered(now, fps);
        Decision::Lower { fps, queueing }
    }

    /// Frames acknowledged per second over the last second (or since the start, when
    /// shorter), and that window.
    fn delivered(&mut self, now: Instant) -> (f32, Duration) {
        let window = DECISION_INTERVAL.min(now.saturating_duration_since(self.started));
        while self
            .acknowledged
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) > window)
        {
            self.acknowledged.pop_front();
        }
        if window.is_zero() {
            return (0.0, window);
        }
        (
            self.acknowledged.len() as f32 / window.as_secs_f32(),
            window,
        )
    }

    /// The rate just under the ceiling, when there is one.
    fn plateau(&self) -> Option<f32> {
        self.ceiling.map(|ceiling| ceiling * UNDER_CEILING)
    }

    /// Goes down to `fps`; a probe past the ceiling that failed makes the next one wait
    /// longer.
    fn lowered(&mut self, now: Instant, fps: f32) {
        if self.plateau().is_some_and(|plateau| self.fps > plateau) {
            self.plateau_seconds = (self.plateau_seconds * 2).min(MAX_PLATEAU_SECONDS);
        }
        self.fps = fps;
        self.clear = 0;
        self.probing = None;
        self.lowered_at = Some(now);
        self.samples.clear();
    }

    /// The rate after a clear second, if it goes up: quickly up to just under the ceiling,
    /// then past it in small steps, each after a plateau that stayed clear, until the
    /// ceiling is forgotten (the link got faster) and probes are quick again.
    fn probe(&mut self) -> Option<f32> {
        if self.fps >= self.max_fps {
            return None;
        }
        let quick = (self.fps * PROBE_SHARE).max(PROBE_MIN_STEP);
        let fps = match self.ceiling {
            None => self.fps + quick,
            Some(ceiling) if self.fps < ceiling * UNDER_CEILING => {
                (self.fps + quick).min(ceiling * UNDER_CEILING)
            }
            Some(ceiling) => {
                if self.clear < self.plateau_seconds {
                    return None;
                }
                // The last probe past the ceiling held: the link may have got faster.
                if self.fps > ceiling * UNDER_CEILING {
                    self.plateau_seconds = PLATEAU_SECONDS;
                }
                let fps = self.fps + (ceiling * CAREFUL_SHARE).max(CAREFUL_MIN_STEP);
                if fps > ceiling * PAST_CEILING {
                    self.ceiling = None;
                    self.plateau_seconds = PLATEAU_SECONDS;
                }
                fps
            }
        };
        self.clear = 0;
        Some(fps.min(self.max_fps))
    }
}

fn check_interval() -> Duration {
    DECISION_INTERVAL / CHECKS_PER_DECISION
}

/// The median of `samples` (the upper one of an even count), `None` when empty.
fn median(samples: &mut [Duration]) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let middle = samples.len() / 2;
    let (_, median, _) = samples.select_nth_unstable(middle);
    Some(*median)
}

#[cfg(test)]
#[path = "rate_tests.rs"]
mod tests;
