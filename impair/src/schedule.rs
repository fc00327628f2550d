//! What happens to each datagram in one direction: dropped, or delivered at a given time.
//!
//! Contract: never reads the clock and never touches a socket; the same seed and the same
//! arrival times (and sizes) give the same decisions.

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
    /// A bottleneck the datagrams queue for; `None`: as fast as they come.
    pub rate: Option<RateLimit>,
}

/// A bottleneck: a link of `bits_per_second` behind a first-in first-out queue that holds
/// at most `queue` worth of sending time and drops what arrives when it is full (drop-tail),
/// as a home router's uplink does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Capacity of the link.
    pub bits_per_second: u64,
    /// Longest a datagram may wait for the link before it is dropped instead.
    pub queue: Duration,
}

impl Impairment {
    /// A clean direction: nothing dropped, nothing delayed.
    pub const NONE: Self = Self {
        loss_percent: 0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        rate: None,
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

    /// No loss and no delay, but at most `bits_per_second` through a queue of `queue`.
    pub fn rate_limited(bits_per_second: u64, queue: Duration) -> Self {
        Self::NONE.limited(bits_per_second, queue)
    }

    /// The same behind a bottleneck of `bits_per_second` with a queue of `queue`.
    pub fn limited(self, bits_per_second: u64, queue: Duration) -> Self {
        Self {
            rate: Some(RateLimit {
                bits_per_second,
                queue,
            }),
            ..self
        }
    }

    /// True when datagrams pass untouched (the forwarder then sends them at once).
    pub fn is_clean(&self) -> bool {
        self.loss_percent == 0
            && self.delay.is_zero()
            && self.jitter.is_zero()
            && self.rate.is_none()
    }
}

/// The decisions for one direction, datagram after datagram.
#[derive(Debug)]
pub struct Schedule {
    impairment: Impairment,
    random: StdRng,
    last_due: Option<Instant>,
    /// When the bottleneck has sent everything queued so far.
    link_free_at: Option<Instant>,
    dropped: u64,
    overflowed: u64,
    passed: u64,
}

impl Schedule {
    /// Decisions drawn from a generator seeded with `seed`.
    pub fn new(impairment: Impairment, seed: u64) -> Self {
        Self {
            impairment,
            random: StdRng::seed_from_u64(seed),
            last_due: None,
            link_free_at: None,
            dropped: 0,
            overflowed: 0,
            passed: 0,
        }
    }

    /// A datagram of `length` bytes arrived at `now`: `None` drops it, `Some(due)` delivers
    /// it at `due` (never before an earlier datagram's due time).
    ///
    /// Random loss comes first (a lost datagram takes no room in the queue), then the
    /// bottleneck: the datagram waits until the link has sent those queued before it, and
    /// is dropped when that wait would exceed the queue; then the delay and jitter.
    pub fn admit(&mut self, now: Instant, length: usize) -> Option<Instant> {
        let loss = f64::from(self.impairment.loss_percent.min(100)) / 100.0;
        if loss > 0.0 && self.random.random_bool(loss) {
            self.dropped += 1;
            return None;
        }
        let sent = match self.impairment.rate {
            None => now,
            Some(rate) => {
                let start = self.link_free_at.map_or(now, |free| free.max(now));
                if start - now > rate.queue {
                    self.dropped += 1;
                    self.overflowed += 1;
                    return None;
                }
                let sent = start + sending_time(length, rate.bits_per_second);
                self.link_free_at = Some(sent);
                sent
            }
        };
        let Impairment { delay, jitter, .. } = self.impairment;
        let delay = if jitter.is_zero() {
            delay
        } else {
            let spread = jitter.as_nanos().saturating_mul(2);
            let spread = u64::try_from(spread).unwrap_or(u64::MAX);
            let offset = Duration::from_nanos(self.random.random_range(0..=spread));
            (delay + offset).saturating_sub(jitter)
        };
        let due = sent + delay;
        let due = self.last_due.map_or(due, |last| due.max(last));
        self.last_due = Some(due);
        self.passed += 1;
        Some(due)
    }

    /// Datagrams dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Of the datagrams dropped, those that found the bottleneck's queue full.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Datagrams let through so far.
    pub fn passed(&self) -> u64 {
        self.passed
    }
}

/// How long a link of `bits_per_second` takes to send `length` bytes (a zero rate counts as
/// one bit per second: everything past the first datagram overflows).
fn sending_time(length: usize, bits_per_second: u64) -> Duration {
    let bits = u128::from(u64::try_from(length).unwrap_or(u64::MAX)) * 8;
    let nanos = bits * 1_000_000_000 / u128::from(bits_per_second.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
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
            assert_eq!(schedule.admit(now, 1200), Some(now));
        }
        assert_eq!((schedule.passed(), schedule.dropped()), (1000, 0));
    }

    #[test]
    fn thirty_percent_loss_drops_about_thirty_percent_and_replays_with_the_seed() {
        let now = Instant::now();
        let run = |seed| {
            let mut schedule = Schedule::new(Impairment::loss(30), seed);
            let kept: Vec<bool> = (0..10_000)
                .map(|_| schedule.admit(now, 1200).is_some())
                .collect();
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
        assert!((0..100).all(|_| schedule.admit(now, 1200).is_none()));
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
            let due = schedule.admit(now, 1200).unwrap();
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

    #[test]
    fn a_bottleneck_delivers_its_rate_and_drops_what_overflows_its_queue() {
        // 8 Mbit/s offered (1000 bytes a millisecond) into 2 Mbit/s with a 100 ms queue.
        let impairment = Impairment::rate_limited(2_000_000, Duration::from_millis(100));
        let mut schedule = Schedule::new(impairment, 1);
        let start = Instant::now();
        let mut delivered = Vec::new();
        for step in 0..10_000_u64 {
            let now = start + Duration::from_millis(step);
            if let Some(due) = schedule.admit(now, 1000) {
                let waited = due - now;
                // At most the queue plus its own 4 ms on the link.
                assert!(waited <= Duration::from_millis(104), "{waited:?}");
                delivered.push(due);
            }
        }
        assert!(
            delivered
                .windows(2)
                .all(|pair| pair[1] - pair[0] >= Duration::from_millis(4))
        );
        let elapsed = (*delivered.last().unwrap() - start).as_secs_f64();
        let bits_per_second = delivered.len() as f64 * 8000.0 / elapsed;
        assert!(
            (1_950_000.0..=2_000_000.0).contains(&bits_per_second),
            "{bits_per_second}"
        );
        assert_eq!(schedule.dropped(), schedule.overflowed());
        assert_eq!(schedule.passed() + schedule.dropped(), 10_000);
        assert!(
            (7_400..=7_600).contains(&schedule.dropped()),
            "{}",
            schedule.dropped()
        );
    }

    #[test]
    fn below_its_rate_a_bottleneck_only_adds_the_sending_time() {
        let impairment = Impairment::rate_limited(1_000_000, Duration::from_millis(50))
            .delayed(Duration::from_millis(20), Duration::ZERO);
        let mut schedule = Schedule::new(impairment, 1);
        let start = Instant::now();
        for step in 0..1_000_u64 {
            // 500 kbit/s offered: 1250 bytes (10 ms at 1 Mbit/s) every 20 ms.
            let now = start + Duration::from_millis(20 * step);
            let due = schedule.admit(now, 1250).unwrap();
            assert_eq!(due - now, Duration::from_millis(30));
        }
        assert_eq!(schedule.dropped(), 0);
    }

    #[test]
    fn a_full_queue_drains_at_the_link_rate() {
        let impairment = Impairment::rate_limited(800_000, Duration::from_millis(100));
        let mut schedule = Schedule::new(impairment, 1);
        let now = Instant::now();
        // 10 ms per 1000-byte datagram: 11 fit (the first goes at once, 10 wait <= 100 ms).
        let burst: Vec<_> = (0..30).map(|_| schedule.admit(now, 1000)).collect();
        assert_eq!(burst.iter().flatten().count(), 11);
        assert_eq!(schedule.overflowed(), 19);
        // Once drained, the queue takes a new burst.
        let later = now + Duration::from_millis(110);
        assert_eq!(
            schedule.admit(later, 1000),
            Some(later + Duration::from_millis(10))
        );
    }
}
