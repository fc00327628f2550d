//! Timing figures of the streaming path: how long each stage takes per frame.
//!
//! Contract: pure accumulation; times are handed in by the pipeline, never read here. The
//! report is what `sos --stats <file>` writes as JSON and what the exit summary logs.

use serde::Serialize;
use std::time::{Duration, Instant};

/// Stage timings of one sent frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameTimings {
    /// Reading the screen (the platform call).
    pub capture: Duration,
    /// Comparing with the previous image.
    pub detect: Duration,
    /// BGRA to I420.
    pub convert: Duration,
    /// H.264 encoding.
    pub encode: Duration,
}

/// Running totals of one or more streaming periods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    frames: u64,
    keyframes: u64,
    bytes: u64,
    polls: u64,
    unchanged_polls: u64,
    capture: Duration,
    detect: Duration,
    convert: Duration,
    encode: Duration,
    send: Duration,
    stream_requested: Option<Instant>,
    first_frame_sent: Option<Instant>,
}

impl Stats {
    /// Records that streaming was asked for at `at` (the first time counts).
    pub fn record_stream_request(&mut self, at: Instant) {
        self.stream_requested.get_or_insert(at);
    }

    /// Records one frame that left the agent at `sent_at` after `send` on the wire.
    pub fn record_sent(
        &mut self,
        timings: &FrameTimings,
        bytes: usize,
        keyframe: bool,
        send: Duration,
        sent_at: Instant,
    ) {
        self.frames += 1;
        self.keyframes += u64::from(keyframe);
        self.bytes += bytes as u64;
        self.capture += timings.capture;
        self.detect += timings.detect;
        self.convert += timings.convert;
        self.encode += timings.encode;
        self.send += send;
        self.first_frame_sent.get_or_insert(sent_at);
    }

    /// Records screen polls, and how many found nothing new.
    pub fn record_polls(&mut self, polls: u64, unchanged: u64) {
        self.polls += polls;
        self.unchanged_polls += unchanged;
    }

    /// Adds another period's totals.
    pub fn merge(&mut self, other: &Stats) {
        self.frames += other.frames;
        self.keyframes += other.keyframes;
        self.bytes += other.bytes;
        self.polls += other.polls;
        self.unchanged_polls += other.unchanged_polls;
        self.capture += other.capture;
        self.detect += other.detect;
        self.convert += other.convert;
        self.encode += other.encode;
        self.send += other.send;
        self.stream_requested = earliest(self.stream_requested, other.stream_requested);
        self.first_frame_sent = earliest(self.first_frame_sent, other.first_frame_sent);
    }

    /// Frames sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.frames
    }

    /// Averages per frame; `started` is when the app started.
    pub fn report(&self, started: Instant) -> StatsReport {
        let avg = |total: Duration| {
            if self.frames == 0 {
                0.0
            } else {
                ms(total) / self.frames as f64
            }
        };
        StatsReport {
            frames_sent: self.frames,
            keyframes_sent: self.keyframes,
            bytes_sent: self.bytes,
            screen_polls: self.polls,
            unchanged_polls: self.unchanged_polls,
            avg_capture_ms: avg(self.capture),
            avg_detect_ms: avg(self.detect),
            avg_convert_ms: avg(self.convert),
            avg_encode_ms: avg(self.encode),
            avg_send_ms: avg(self.send),
            first_frame_after_start_ms: self
                .first_frame_sent
                .map(|sent| ms(sent.saturating_duration_since(started))),
            first_frame_after_stream_request_ms: self
                .first_frame_sent
                .zip(self.stream_requested)
                .map(|(sent, asked)| ms(sent.saturating_duration_since(asked))),
        }
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Averages in milliseconds per sent frame, written by `--stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    /// Frames that left the agent.
    pub frames_sent: u64,
    /// Of which keyframes.
    pub keyframes_sent: u64,
    /// Encoded bytes sent.
    pub bytes_sent: u64,
    /// Screen captures made (sent or not).
    pub screen_polls: u64,
    /// Captures that found the screen unchanged and sent nothing.
    pub unchanged_polls: u64,
    /// Average capture time of a sent frame.
    pub avg_capture_ms: f64,
    /// Average change-detection time of a sent frame.
    pub avg_detect_ms: f64,
    /// Average BGRA to I420 time of a sent frame.
    pub avg_convert_ms: f64,
    /// Average encode time of a sent frame.
    pub avg_encode_ms: f64,
    /// Average time from opening the frame's stream to its acknowledgement.
    pub avg_send_ms: f64,
    /// From app start to the first frame sent.
    pub first_frame_after_start_ms: Option<f64>,
    /// From the first stream request (after consent) to the first frame sent.
    pub first_frame_after_stream_request_ms: Option<f64>,
}

impl StatsReport {
    /// Writes the report as pretty JSON to `path`.
    pub fn write_json(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_and_first_frame() {
        let start = Instant::now();
        let mut stats = Stats::default();
        stats.record_stream_request(start + Duration::from_millis(100));
        let timings = FrameTimings {
            capture: Duration::from_millis(4),
            detect: Duration::from_millis(1),
            convert: Duration::from_millis(2),
            encode: Duration::from_millis(10),
        };
        stats.record_sent(
            &timings,
            1000,
            true,
            Duration::from_millis(1),
            start + Duration::from_millis(150),
        );
        let mut other = Stats::default();
        other.record_sent(
            &FrameTimings {
                encode: Duration::from_millis(20),
                ..timings
            },
            500,
            false,
            Duration::from_millis(3),
            start + Duration::from_millis(400),
        );
        other.record_polls(10, 8);
        stats.merge(&other);
        let report = stats.report(start);
        assert_eq!(report.frames_sent, 2);
        assert_eq!(report.keyframes_sent, 1);
        assert_eq!(report.bytes_sent, 1500);
        assert_eq!(report.unchanged_polls, 8);
        assert!((report.avg_encode_ms - 15.0).abs() < 1e-9);
        assert!((report.avg_send_ms - 2.0).abs() < 1e-9);
        assert_eq!(report.first_frame_after_start_ms, Some(150.0));
        assert_eq!(report.first_frame_after_stream_request_ms, Some(50.0));
        assert_eq!(Stats::default().report(start).avg_capture_ms, 0.0);
    }
}
