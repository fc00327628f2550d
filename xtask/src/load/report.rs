//! The figures of a load run, computed from what the run measured; [`super::table`] writes
//! and prints them.
//!
//! Contract: pure functions of the measured data; a figure that was not measured is `None`,
//! never made up.

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::Histogram;
use super::probe::CpuShares;
use super::viewer::ViewerResult;

/// What the run was asked to do.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    /// Synthetic agents registered and heartbeating.
    pub agents: usize,
    /// Of which streaming.
    pub streams: usize,
    /// Viewers per stream.
    pub viewers_per_stream: usize,
    /// Streams with one stalled viewer.
    pub stalled: usize,
    /// Frames a second per stream.
    pub fps: u32,
    /// P-frame sizes, KiB.
    pub frame_kib: (usize, usize),
    /// Keyframe size, KiB.
    pub keyframe_kib: usize,
    /// CPU cores of the machine.
    pub cores: usize,
}

/// What one streaming agent counted during the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCount {
    /// Frames sent.
    pub frames: u64,
    /// Of which keyframes.
    pub keyframes: u64,
    /// Payload bytes.
    pub bytes: u64,
    /// Frame ticks skipped for unacknowledged frames.
    pub skipped: u64,
    /// Keyframe requests received.
    pub keyframe_requests: u64,
}

/// Everything a run measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Agents registered.
    pub registered: usize,
    /// Registrations that failed, by reason.
    pub register_failures: BTreeMap<String, u64>,
    /// Seconds to create the sessions.
    pub sessions_seconds: f64,
    /// Seconds to register every agent.
    pub registration_seconds: f64,
    /// Seconds to grant and attach every stream.
    pub streams_seconds: f64,
    /// Registered agents whose connection was open at the end.
    pub connected_at_end: usize,
    /// Agents that lost their session or connection during the run, by reason.
    pub agents_lost: BTreeMap<String, u64>,
    /// Per streaming agent, in stream order.
    pub streams: Vec<StreamCount>,
    /// Per viewer.
    pub viewers: Vec<ViewerResult>,
    /// Viewers that could not attach, by reason.
    pub attach_failures: BTreeMap<String, u64>,
    /// The window's length.
    pub window_seconds: f64,
    /// Gateway RSS (KiB): started, sessions created, every agent registered and idle.
    pub rss_empty: Option<u64>,
    /// After the sessions were created.
    pub rss_sessions: Option<u64>,
    /// After every agent registered, idle.
    pub rss_idle: Option<u64>,
    /// One sample a second during the window.
    pub timeline: Vec<Sample>,
    /// VmHWM at the end, KiB.
    pub hwm: Option<u64>,
    /// CPU while the agents were idle.
    pub cpu_idle: CpuShares,
    /// CPU during the window.
    pub cpu_window: CpuShares,
    /// UDP datagrams dropped for full receive buffers during the window (machine-wide).
    pub udp_drops: Option<u64>,
    /// Of which by the gateway's QUIC socket.
    pub gateway_socket_drops: Option<u64>,
}

/// One second of the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the window opened, at the sample.
    pub second: f64,
    /// Gateway RSS, KiB.
    pub rss_kib: u64,
    /// Datagrams the gateway's socket dropped in the second before.
    pub gateway_drops: Option<u64>,
    /// The slowest trip of the frames sent in that second, milliseconds.
    pub worst_ms: Option<f64>,
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Frames measured.
    pub frames: u64,
    /// Median.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Slowest frame.
    pub max_ms: Option<f64>,
}

impl Latency {
    fn of(histogram: &Histogram) -> Self {
        let ms = |micros: Option<u64>| micros.map(|m| m as f64 / 1000.0);
        Self {
            frames: histogram.count(),
            p50_ms: ms(histogram.quantile(0.50)),
            p95_ms: ms(histogram.quantile(0.95)),
            p99_ms: ms(histogram.quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// A group of viewers that kept reading.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Group {
    /// How many.
    pub viewers: usize,
    /// Frames their agents sent in the window, summed over the viewers.
    pub frames_expected: u64,
    /// Frames they received.
    pub frames_received: u64,
    /// Frames they did not receive.
    pub frames_lost: u64,
    /// Payload bytes they received.
    pub bytes: u64,
    /// Viewers that missed at least one frame.
    pub viewers_with_loss: usize,
    /// The most frames one of them missed.
    pub most_lost: u64,
    /// Their latency.
    pub latency: Latency,
}

impl Group {
    /// Payload MB a second each of them received, on average.
    pub fn mb_per_second_each(&self, seconds: f64) -> Option<f64> {
        (self.viewers > 0)
            .then(|| self.bytes as f64 / self.viewers as f64 / seconds.max(1e-3) / 1e6)
    }
}

/// One viewer's line in load.json.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewerLine {
    /// Stream index.
    pub stream: usize,
    /// Viewer index in the stream.
    pub viewer: usize,
    /// Whether it stalled.
    pub stalled: bool,
    /// Frames received from the window.
    pub frames: u64,
    /// Frames of the window it missed.
    pub lost: u64,
    /// Its latency.
    pub latency: Latency,
    /// Why it stopped early.
    pub failure: Option<String>,
}

/// The report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadReport {
    /// What was asked.
    pub settings: Settings,
    /// Agents registered.
    pub registered: usize,
    /// Registrations that failed, by reason.
    pub register_failures: BTreeMap<String, u64>,
    /// Seconds to create the sessions, register the agents, grant and attach the streams.
    pub setup_seconds: (f64, f64, f64),
    /// Registered agents still connected at the end.
    pub connected_at_end: usize,
    /// Agents that lost their session or connection, by reason.
    pub agents_lost: BTreeMap<String, u64>,
    /// The window's length, seconds.
    pub window_seconds: f64,
    /// Frames the agents sent in the window.
    pub frames_sent: u64,
    /// Of which keyframes.
    pub keyframes_sent: u64,
    /// Mean and lowest frame rate of the streams.
    pub fps: (f64, f64),
    /// Frame ticks the agents skipped for unacknowledged frames.
    pub ticks_skipped: u64,
    /// Into the gateway, MB/s of payload.
    pub mb_per_second_in: f64,
    /// Out of the gateway to the reading viewers, MB/s of payload.
    pub mb_per_second_out: f64,
    /// Viewers attached.
    pub viewers: usize,
    /// Viewers that could not attach, by reason.
    pub attach_failures: BTreeMap<String, u64>,
    /// Viewers whose connection was still open at the end.
    pub viewers_connected_at_end: usize,
    /// Viewers that stopped receiving before the end, by reason.
    pub viewer_failures: BTreeMap<String, u64>,
    /// Every viewer that kept reading.
    pub reading: Group,
    /// Those sharing a session with a stalled viewer.
    pub beside_stalled: Group,
    /// Those in sessions without a stalled viewer.
    pub elsewhere: Group,
    /// Stalled viewers.
    pub stalled_viewers: usize,
    /// Frames the stalled viewers read after stalling (0 by design).
    pub stalled_frames_read: u64,
    /// Keyframe requests per stream during the window: streams with and without a stalled
    /// viewer.
    pub keyframe_requests_per_stream: (Option<f64>, Option<f64>),
    /// Keyframes sent per stream during the window: with and without a stalled viewer.
    pub keyframes_per_stream: (Option<f64>, Option<f64>),
    /// Gateway RSS, MiB: started, sessions created, agents idle, window start, end, max.
    pub rss_mib: RssFigures,
    /// Gateway VmHWM at the end, MiB.
    pub peak_mib: Option<f64>,
    /// CPU with the agents idle.
    pub cpu_idle: CpuShares,
    /// CPU during the window.
    pub cpu_window: CpuShares,
    /// UDP datagrams dropped for full receive buffers during the window, machine-wide.
    pub udp_drops: Option<u64>,
    /// Of which by the gateway's QUIC socket.
    pub gateway_socket_drops: Option<u64>,
    /// One sample a second during the window (RSS in KiB).
    pub timeline: Vec<Sample>,
    /// Every viewer.
    pub per_viewer: Vec<ViewerLine>,
}

/// Gateway RSS at the run's moments, MiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RssFigures {
    /// Just started.
    pub empty: Option<f64>,
    /// Sessions created.
    pub sessions: Option<f64>,
    /// Every agent registered, nobody streaming.
    pub idle: Option<f64>,
    /// Window opened.
    pub window_start: Option<f64>,
    /// Window closed.
    pub window_end: Option<f64>,
    /// Highest sample in the window.
    pub window_max: Option<f64>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn mean(values: &[u64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<u64>() as f64 / values.len() as f64)
}

/// Adds viewer results to a group.
fn group<'a>(viewers: impl Iterator<Item = (&'a ViewerResult, u64)>) -> Group {
    let mut latency = Histogram::default();
    let mut group = Group::default();
    for (viewer, expected) in viewers {
        let lost = expected.saturating_sub(viewer.frames);
        group.viewers += 1;
        group.frames_expected += expected;
        group.frames_received += viewer.frames;
        group.frames_lost += lost;
        group.bytes += viewer.bytes;
        group.viewers_with_loss += usize::from(lost > 0);
        group.most_lost = group.most_lost.max(lost);
        latency.merge(&viewer.latency);
    }
    group.latency = Latency::of(&latency);
    group
}

impl LoadReport {
    /// The figures of a run.
    pub fn new(settings: Settings, measured: &Measured) -> Self {
        let streams = &measured.streams;
        let seconds = measured.window_seconds.max(1e-3);
        let expected =
            |viewer: &ViewerResult| streams.get(viewer.seat.stream).map_or(0, |s| s.frames);
        let stalled_stream = |stream: usize| {
            measured
                .viewers
                .iter()
                .any(|v| v.seat.stalls && v.seat.stream == stream)
        };
        let reading = || {
            measured
                .viewers
                .iter()
                .filter(|v| !v.seat.stalls)
                .map(|v| (v, expected(v)))
        };
        let fps: Vec<f64> = streams.iter().map(|s| s.frames as f64 / seconds).collect();
        let split = |pick: fn(&StreamCount) -> u64| {
            let (with, without): (Vec<_>, Vec<_>) =
                (0..streams.len()).partition(|&stream| stalled_stream(stream));
            let values = |indices: Vec<usize>| -> Vec<u64> {
                indices.into_iter().map(|i| pick(&streams[i])).collect()
            };
            (mean(&values(with)), mean(&values(without)))
        };
        let rss: Vec<u64> = measured.timeline.iter().map(|s| s.rss_kib).collect();
        Self {
            settings,
            registered: measured.registered,
            register_failures: measured.register_failures.clone(),
            setup_seconds: (
                measured.sessions_seconds,
                measured.registration_seconds,
                measured.streams_seconds,
            ),
            connected_at_end: measured.connected_at_end,
            agents_lost: measured.agents_lost.clone(),
            window_seconds: measured.window_seconds,
            frames_sent: streams.iter().map(|s| s.frames).sum(),
            keyframes_sent: streams.iter().map(|s| s.keyframes).sum(),
            fps: (
                fps.iter().sum::<f64>() / fps.len().max(1) as f64,
                fps.iter().copied().reduce(f64::min).unwrap_or(0.0),
            ),
            ticks_skipped: streams.iter().map(|s| s.skipped).sum(),
            mb_per_second_in: streams.iter().map(|s| s.bytes).sum::<u64>() as f64 / seconds / 1e6,
            mb_per_second_out: reading().map(|(v, _)| v.bytes).sum::<u64>() as f64 / seconds / 1e6,
            viewers: measured.viewers.len(),
            attach_failures: measured.attach_failures.clone(),
            viewers_connected_at_end: measured
                .viewers
                .iter()
                .filter(|v| v.connected_at_end)
                .count(),
            viewer_failures: measured
                .viewers
                .iter()
                .filter_map(|v| v.failure.clone())
                .fold(BTreeMap::new(), |mut counts, why| {
                    *counts.entry(why).or_default() += 1;
                    counts
                }),
            reading: group(reading()),
            beside_stalled: group(reading().filter(|(v, _)| stalled_stream(v.seat.stream))),
            elsewhere: group(reading().filter(|(v, _)| !stalled_stream(v.seat.stream))),
            stalled_viewers: measured.viewers.iter().filter(|v| v.seat.stalls).count(),
            stalled_frames_read: measured
                .viewers
                .iter()
                .filter(|v| v.seat.stalls)
                .map(|v| v.frames_after_window_opened)
                .sum(),
            keyframe_requests_per_stream: split(|s| s.keyframe_requests),
            keyframes_per_stream: split(|s| s.keyframes),
            rss_mib: RssFigures {
                empty: measured.rss_empty.map(mib),
                sessions: measured.rss_sessions.map(mib),
                idle: measured.rss_idle.map(mib),
                window_start: rss.first().copied().map(mib),
                window_end: rss.last().copied().map(mib),
                window_max: rss.iter().copied().max().map(mib),
            },
            peak_mib: measured.hwm.map(mib),
            cpu_idle: measured.cpu_idle,
            cpu_window: measured.cpu_window,
            udp_drops: measured.udp_drops,
            gateway_socket_drops: measured.gateway_socket_drops,
            timeline: measured.timeline.clone(),
            per_viewer: measured
                .viewers
                .iter()
                .map(|v| ViewerLine {
                    stream: v.seat.stream,
                    viewer: v.seat.viewer,
                    stalled: v.seat.stalls,
                    frames: v.frames,
                    lost: if v.seat.stalls {
                        0
                    } else {
                        expected(v).saturating_sub(v.frames)
                    },
                    latency: Latency::of(&v.latency),
                    failure: v.failure.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::load::viewer::Seat;

    fn viewer(stream: usize, index: usize, stalls: bool, latencies: &[u64]) -> ViewerResult {
        let mut latency = Histogram::default();
        for &micros in latencies {
            latency.record(micros);
        }
        ViewerResult {
            seat: Seat {
                stream,
                viewer: index,
                stalls,
            },
            frames: latencies.len() as u64,
            bytes: latencies.len() as u64 * 1_000,
            latency,
            frames_after_window_opened: 0,
            failure: None,
            connected_at_end: true,
        }
    }

    /// Settings of the samples.
    pub fn settings() -> Settings {
        Settings {
            agents: 10,
            streams: 2,
            viewers_per_stream: 2,
            stalled: 1,
            fps: 2,
            frame_kib: (5, 20),
            keyframe_kib: 200,
            cores: 2,
        }
    }

    /// Two streams of two viewers, the second viewer of the first stalled; one frame lost.
    pub fn sample() -> Measured {
        Measured {
            registered: 10,
            connected_at_end: 10,
            streams: vec![
                StreamCount {
                    frames: 4,
                    keyframes: 2,
                    bytes: 4_000,
                    skipped: 0,
                    keyframe_requests: 2,
                },
                StreamCount {
                    frames: 4,
                    keyframes: 0,
                    bytes: 4_000,
                    skipped: 1,
                    keyframe_requests: 0,
                },
            ],
            viewers: vec![
                viewer(0, 0, false, &[1_000, 1_000, 1_000, 1_000]),
                viewer(0, 1, true, &[]),
                viewer(1, 0, false, &[2_000, 2_000, 2_000]),
                viewer(1, 1, false, &[3_000, 3_000, 3_000, 3_000]),
            ],
            window_seconds: 2.0,
            timeline: [2_048, 4_096, 3_072]
                .into_iter()
                .enumerate()
                .map(|(second, rss_kib)| Sample {
                    second: second as f64,
                    rss_kib,
                    ..Sample::default()
                })
                .collect(),
            ..Measured::default()
        }
    }

    #[test]
    fn losses_and_latencies_leave_the_stalled_viewer_out() {
        let measured = sample();
        let report = LoadReport::new(settings(), &measured);
        assert_eq!(report.frames_sent, 8);
        assert_eq!(report.fps, (2.0, 2.0));
        assert_eq!(report.reading.viewers, 3);
        assert_eq!(report.reading.frames_lost, 1);
        assert_eq!(report.reading.viewers_with_loss, 1);
        assert_eq!(report.beside_stalled.frames_lost, 0);
        assert_eq!(report.beside_stalled.mb_per_second_each(2.0), Some(0.002));
        assert_eq!(report.beside_stalled.latency.max_ms, Some(1.0));
        assert_eq!(report.elsewhere.latency.max_ms, Some(3.0));
        assert_eq!(report.stalled_viewers, 1);
        assert_eq!(report.keyframe_requests_per_stream, (Some(2.0), Some(0.0)));
        assert_eq!(report.rss_mib.window_max, Some(4.0));
        assert_eq!(report.rss_mib.window_end, Some(3.0));
        assert_eq!(
            report.per_viewer[1].lost, 0,
            "a stalled viewer loses by design"
        );
        assert!((report.mb_per_second_out - 0.0055).abs() < 1e-9);
    }
}
