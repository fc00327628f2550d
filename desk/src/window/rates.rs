//! Live figures for the status overlay: frames per second, latency and bitrate over the
//! last seconds.
//!
//! Contract: pure; times are handed in, never read from a clock. Memory is bounded by the
//! frames of one window ([`WINDOW`]), capped at [`MAX_SAMPLES`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the figures look.
pub const WINDOW: Duration = Duration::from_secs(2);
/// Most frames remembered (far above any frame rate the agent sends).
pub const MAX_SAMPLES: usize = 1024;

/// The figures at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Frames decoded per second.
    pub fps: f64,
    /// Mean of (decoded - captured) in milliseconds, over the window's frames.
    pub latency_ms: Option<f64>,
    /// Encoded bits received per second.
    pub bits_per_second: f64,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    bytes_total: u64,
    latency_ms: f64,
}

/// Remembers the recent frames.
#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    samples: VecDeque<Sample>,
    /// Bytes received up to the newest sample that left the window.
    bytes_before: Option<u64>,
}

impl RateMeter {
    /// An empty meter.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame decoded `at`, when `bytes_total` encoded bytes had arrived in all, `latency_ms`
    /// after its capture (not finite: unknown).
    pub fn record(&mut self, at: Instant, bytes_total: u64, latency_ms: f64) {
        if self.samples.len() == MAX_SAMPLES {
            self.forget_oldest();
        }
        self.samples.push_back(Sample {
            at,
            bytes_total,
            latency_ms,
        });
    }

    fn forget_oldest(&mut self) {
        if let Some(old) = self.samples.pop_front() {
            self.bytes_before = Some(old.bytes_total);
        }
    }

    /// The figures over the [`WINDOW`] before `now`.
    pub fn rates(&mut self, now: Instant) -> Rates {
        while self
            .samples
            .front()
            .is_some_and(|s| now.saturating_duration_since(s.at) > WINDOW)
        {
            self.forget_oldest();
        }
        let seconds = WINDOW.as_secs_f64();
        let latencies: Vec<f64> = self
            .samples
            .iter()
            .map(|s| s.latency_ms)
            .filter(|l| l.is_finite())
            .collect();
        let latency_ms =
            (!latencies.is_empty()).then(|| latencies.iter().sum::<f64>() / latencies.len() as f64);
        let bytes = match (self.samples.back(), self.bytes_before) {
            (Some(newest), Some(before)) => newest.bytes_total.saturating_sub(before),
            // Nothing older is known: count from the first frame in the window on.
            (Some(newest), None) => self.samples.front().map_or(0, |first| {
                newest.bytes_total.saturating_sub(first.bytes_total)
            }),
            (None, _) => 0,
        };
        Rates {
            fps: self.samples.len() as f64 / seconds,
            latency_ms,
            bits_per_second: bytes as f64 * 8.0 / seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_cover_the_last_two_seconds() {
        let start = Instant::now();
        let mut meter = RateMeter::new();
        // 30 frames a second for 3 s, 10 kB each, 40 ms latency.
        for i in 0..90u64 {
            let at = start + Duration::from_millis(i * 1000 / 30);
            meter.record(at, (i + 1) * 10_000, 40.0);
        }
        let now = start + Duration::from_millis(89 * 1000 / 30);
        let rates = meter.rates(now);
        assert!((rates.fps - 30.5).abs() < 1.0, "{rates:?}");
        assert_eq!(rates.latency_ms, Some(40.0));
        let expected = 30.0 * 10_000.0 * 8.0;
        assert!(
            (rates.bits_per_second - expected).abs() / expected < 0.05,
            "{rates:?}"
        );
        // A still screen: the figures fall to nothing.
        let later = meter.rates(now + Duration::from_secs(3));
        assert_eq!(later.fps, 0.0);
        assert_eq!(later.latency_ms, None);
        assert_eq!(later.bits_per_second, 0.0);
    }

    #[test]
    fn unknown_latencies_are_left_out_and_memory_is_capped() {
        let start = Instant::now();
        let mut meter = RateMeter::new();
        meter.record(start, 100, f64::NAN);
        assert_eq!(meter.rates(start).latency_ms, None);
        for i in 0..(MAX_SAMPLES as u64 * 2) {
            meter.record(start, i, 10.0);
        }
        assert_eq!(meter.samples.len(), MAX_SAMPLES);
        assert_eq!(meter.rates(start).latency_ms, Some(10.0));
    }
}
