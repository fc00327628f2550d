//! Figures of a viewing run: frames, bytes, time to first frame, latency, frame rate.
//!
//! Contract: pure arithmetic on values handed in (times since connecting, latencies
//! measured by the caller); never reads a clock.

use serde::Serialize;
use std::time::Duration;

/// Most latencies kept for the percentiles (8 MiB; over 9 hours at 30 frames a second).
pub const MAX_LATENCY_SAMPLES: usize = 1 << 20;

/// What `--stats` writes, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewStats {
    /// Frames decoded.
    pub frames: u64,
    /// Encoded bytes received (every frame, decoded or dropped).
    pub bytes: u64,
    /// Frames received but dropped (before the first keyframe, after a loss, stale).
    pub dropped: u64,
    /// Size of the last decoded frame.
    pub width: u32,
    /// Size of the last decoded frame.
    pub height: u32,
    /// Milliseconds from the QUIC connection to the first decoded frame.
    pub first_frame_ms: Option<f64>,
    /// Milliseconds from the QUIC connection to the last decoded frame.
    pub last_frame_ms: Option<f64>,
    /// Mean of (decode done - capture time), in milliseconds.
    pub latency_mean_ms: Option<f64>,
    /// Median of the same.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile of the same.
    pub latency_p95_ms: Option<f64>,
    /// Decoded frames per second between the first and the last decoded frame.
    pub fps: Option<f64>,
    /// Longest wait between two decoded frames, in milliseconds: the worst freeze the
    /// technician saw after the first frame.
    pub max_gap_ms: Option<f64>,
}

/// Collects the figures frame by frame.
#[derive(Debug, Clone, Default)]
pub struct StatsCollector {
    frames: u64,
    bytes: u64,
    dropped: u64,
    width: u32,
    height: u32,
    first: Option<Duration>,
    last: Option<Duration>,
    max_gap: Option<Duration>,
    latencies_ms: Vec<f64>,
}

impl StatsCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame of `bytes` encoded bytes arrived.
    pub fn received(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes as u64);
    }

    /// A received frame was dropped without decoding.
    pub fn dropped(&mut self) {
        self.dropped += 1;
    }

    /// A frame of `width` x `height` finished decoding `since_connect` after the connection,
    /// `latency_ms` after its capture.
    pub fn decoded(&mut self, since_connect: Duration, latency_ms: f64, width: u32, height: u32) {
        self.frames += 1;
        self.first.get_or_insert(since_connect);
        if let Some(last) = self.last {
            let gap = since_connect.saturating_sub(last);
            self.max_gap = Some(self.max_gap.map_or(gap, |max| max.max(gap)));
        }
        self.last = Some(since_connect);
        self.width = width;
        self.height = height;
        // A viewer left open all day stops adding samples rather than growing without bound.
        if latency_ms.is_finite() && self.latencies_ms.len() < MAX_LATENCY_SAMPLES {
            self.latencies_ms.push(latency_ms);
        }
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Encoded bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The figures so far.
    pub fn summary(&self) -> ViewStats {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let mean = if sorted.is_empty() {
            None
        } else {
            Some(sorted.iter().sum::<f64>() / sorted.len() as f64)
        };
        let fps = match (self.first, self.last) {
            (Some(first), Some(last)) if self.frames >= 2 && last > first => {
                Some((self.frames - 1) as f64 / (last - first).as_secs_f64())
            }
            _ => None,
        };
        ViewStats {
            frames: self.frames,
            bytes: self.bytes,
            dropped: self.dropped,
            width: self.width,
            height: self.height,
            first_frame_ms: self.first.map(|d| d.as_secs_f64() * 1000.0),
            last_frame_ms: self.last.map(|d| d.as_secs_f64() * 1000.0),
            latency_mean_ms: mean,
            latency_p50_ms: percentile(&sorted, 50.0),
            latency_p95_ms: percentile(&sorted, 95.0),
            fps,
            max_gap_ms: self.max_gap.map(|gap| gap.as_secs_f64() * 1000.0),
        }
    }
}

/// Nearest-rank percentile of ascending `sorted` values: the smallest value with at least
/// `p` percent of the values at or below it. `None` for no values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 95.0), Some(4.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn summary_of_a_run() {
        let mut stats = StatsCollector::new();
        stats.received(1000);
        stats.dropped();
        for (i, latency) in [30.0, 10.0, 20.0, 40.0, 50.0].into_iter().enumerate() {
            stats.received(100);
            // First frame at 250 ms, then one every 100 ms.
            let at = Duration::from_millis(250 + 100 * i as u64);
            stats.decoded(at, latency, 640, 480);
        }
        let summary = stats.summary();
        assert_eq!(summary.frames, 5);
        assert_eq!(summary.bytes, 1500);
        assert_eq!(summary.dropped, 1);
        assert_eq!((summary.width, summary.height), (640, 480));
        assert_eq!(summary.first_frame_ms, Some(250.0));
        assert_eq!(summary.last_frame_ms, Some(650.0));
        assert_eq!(summary.latency_mean_ms, Some(30.0));
        assert_eq!(summary.latency_p50_ms, Some(30.0));
        assert_eq!(summary.latency_p95_ms, Some(50.0));
        let fps = summary.fps.unwrap();
        assert!((fps - 10.0).abs() < 1e-9, "{fps}");
        assert_eq!(summary.max_gap_ms, Some(100.0));
    }

    #[test]
    fn the_longest_gap_between_frames_is_the_worst_freeze() {
        let mut stats = StatsCollector::new();
        for ms in [1000, 1033, 1066, 1900, 1933] {
            stats.decoded(Duration::from_millis(ms), 5.0, 2, 2);
        }
        assert_eq!(stats.summary().max_gap_ms, Some(834.0));
    }

    #[test]
    fn empty_and_single_frame_runs_have_no_rates() {
        let summary = StatsCollector::new().summary();
        assert_eq!(summary.frames, 0);
        assert_eq!(summary.first_frame_ms, None);
        assert_eq!(summary.latency_p50_ms, None);
        assert_eq!(summary.fps, None);
        assert_eq!(summary.max_gap_ms, None);
        let mut one = StatsCollector::new();
        one.decoded(Duration::from_millis(5), f64::NAN, 2, 2);
        let summary = one.summary();
        assert_eq!(summary.fps, None);
        assert_eq!(summary.latency_mean_ms, None, "NaN latencies are ignored");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["frames"], 1);
        assert!(json["fps"].is_null());
    }
}
