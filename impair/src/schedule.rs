//! What happens to each datagram in one direction: dropped, or delivered at a given time.
//!
//! Contract: never reads the clock and never touches a socket; the same seed and the same
//! arrival times give the same decisions.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// How one direction of the link misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Impairment {
    /// Share of datagrams dropped, in percent (values above 100 count as 100).
    pub loss_percent: u8,
    /// One-way delay added to every datagram.
    pub delay: Duration,
    /// Each datagram's delay varies uniformly within `delay ± jitter` (never below zero).
    pub jitter: Duration,
}

impl Impairment {
    /// A clean direction: nothing dropped, nothing delayed.
    pub const NONE: Self = Self {
        loss_percent: 0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
    };

    /// Drops `loss_percent` percent of the datagrams, no delay.
    pub fn loss(loss_percent: u8) -> Self {
        Self {
            loss_percent,
            ..Self::NONE
        }
    }

    /// The same with `delay ± jitter` added to each datagram.
    pub fn delayed(self, delay: Duration, jitter: Duration) -> Self {
        Self {
            delay,
            jitter,
            ..self
        }
    }

    /// True when datagrams pass untouched (the forwarder then sends them at once).
    pub fn is_clean(&self) -> bool {
        self.loss_percent == 0 && self.delay.is_zero() && self.jitter.is_zero()
    }
}

/// The decisions for one direction, datagram after datagram.
#[derive(Debug)]
pub struct Schedule {
    impairment: Impairment,
    random: StdRng,
    last_due: Option<Instant>,
    dropped: u64,
    passed: u64,
}

impl Schedule {
    /// Decisions drawn from a generator seeded with `seed`.
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        Self {
            impairment,
            random: StdRng::seed_from_u64(seed),
            last_due: None,
            dropped: 0,
            passed: 0,
        }
    }

    /// A datagram arrived at `now`: `None` drops it, `Some(due)` delivers it at `due`
    /// (never before an earlier datagram's due time).
    pub fn admit(&mut self, now: Instant) -> Option<Instant> {
        let loss = f64::from(self.impairment.loss_percent.min(100)) / 100.0;
        if loss > 0.0 && self.random.random_bool(loss) {
            self.dropped += 1;
            return None;
        }
        let Impairment { delay, jitter, .. } = self.impairment;
        let delay = if jitter.is_zero() {
            delay
        } else {
            let spread = jitter.as_nanos().saturating_mul(2);
            let spread = u64::try_from(spread).unwrap_or(u64::MAX);
            let offset = Duration::from_nanos(self.random.random_range(0..=spread));
            (delay + offset).saturating_sub(jitter)
        };
        let due = now + delay;
        let due = self.last_due.map_or(due, |last| due.max(last));
        self.last_due = Some(due);
        self.passed += 1;
        Some(due)
    }

    /// Datagrams dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Datagrams let through so far.
    pub fn passed(&self) -> u64 {
        self.passed
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_clean_direction_delivers_everything_at_once() {
        let mut schedule = Schedule::new(Impairment::NONE, 1);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(schedule.admit(now), Some(now));
        }
        assert_eq!((schedule.passed(), schedule.dropped()), (1000, 0));
    }

    #[test]
    fn thirty_percent_loss_drops_about_thirty_percent_and_replays_with_the_seed() {
        let now = Instant::now();
        let run = |seed| {
            let mut schedule = Schedule::new(Impairment::loss(30), seed);
            let kept: Vec<bool> = (0..10_000).map(|_| schedule.admit(now).is_some()).collect();
            (kept, schedule.dropped())
        };
        let (first, dropped) = run(7);
        assert!((2_800..=3_200).contains(&dropped), "{dropped} of 10000");
        assert_eq!(run(7).0, first, "same seed, same drops");
        assert_ne!(run(8).0, first, "another seed, other drops");
    }

    #[test]
    fn everything_is_lost_at_one_hundred_percent_and_above() {
        let mut schedule = Schedule::new(Impairment::loss(250), 3);
        let now = Instant::now();
        assert!((0..100).all(|_| schedule.admit(now).is_none()));
    }

    #[test]
    fn delay_and_jitter_stay_in_range_and_keep_the_order() {
        let impairment =
            Impairment::NONE.delayed(Duration::from_millis(50), Duration::from_millis(10));
        let mut schedule = Schedule::new(impairment, 5);
        let start = Instant::now();
        let mut previous = start;
        let mut spread = (Duration::MAX, Duration::ZERO);
        for step in 0..2_000_u64 {
            let now = start + Duration::from_millis(step);
            let due = schedule.admit(now).unwrap();
            assert!(due >= previous, "delivered in arrival order");
            previous = due;
            let waited = due - now;
            spread = (spread.0.min(waited), spread.1.max(waited));
        }
        assert!(spread.0 >= Duration::from_millis(40), "{spread:?}");
        assert!(spread.1 <= Duration::from_millis(61), "{spread:?}");
        assert!(
            spread.1 - spread.0 >= Duration::from_millis(15),
            "jitter: {spread:?}"
        );
    }
}
