//! `sos-desk input --bench N`: how long an input event takes from the technician to the end
//! user's machine and back.
//!
//! Contract: sends N pointer moves one at a time, each only after the previous result came
//! back, and measures send-to-result round trips (technician -> gateway -> agent, injected
//! and synced with the X server -> gateway -> technician). The one-way figure "sent ->
//! injected" is at most the round trip.

use super::{InputError, result_of};
use sos_transport::framing::write_message;
use sos_transport::wire::{DisplayInfo, FromViewer, InputEvent, InputOutcome};
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

/// Round-trip figures of a benchmark run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchReport {
    /// Events measured.
    pub count: usize,
    /// Median round trip.
    pub p50: Duration,
    /// 99th percentile round trip.
    pub p99: Duration,
    /// Slowest round trip.
    pub max: Duration,
}

impl BenchReport {
    /// Figures of a set of round trips (`None` when empty).
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let count = samples.len();
        let at = |p: f64| {
            let rank = ((p * count as f64).ceil() as usize).clamp(1, count);
            samples.get(rank - 1).copied()
        };
        Some(Self {
            count,
            p50: at(0.50)?,
            p99: at(0.99)?,
            max: *samples.last()?,
        })
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "input round trip over {} pointer moves (technician -> agent injected -> technician): \
             p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            self.count,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Sends `count` pointer moves inside `display` and reports the round trips.
pub async fn run<W, R>(
    send: &mut W,
    recv: &mut R,
    count: u32,
    display: DisplayInfo,
    result_timeout: Duration,
    out: &mut dyn Write,
) -> Result<Option<BenchReport>, InputError>
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    let span = |size: u32| i32::try_from(size.clamp(2, 200)).unwrap_or(200);
    let (width, height) = (span(display.width), span(display.height));
    let mut samples = Vec::with_capacity(count as usize);
    for (i, seq) in (0..count).zip(1u64..) {
        let i = i32::try_from(i).unwrap_or(0);
        let event = InputEvent::MouseMove {
            x: i % width,
            y: (i / width) % height,
        };
        let sent = Instant::now();
        write_message(send, &FromViewer::Input { seq, event }).await?;
        let outcome = tokio::time::timeout(result_timeout, result_of(recv, seq))
            .await
            .map_err(|_| InputError::TimedOut {
                label: format!("benchmark move {seq}"),
            })??;
        if outcome != InputOutcome::Applied {
            writeln!(out, "benchmark move {seq}: {outcome}")?;
            return Ok(None);
        }
        samples.push(sent.elapsed());
    }
    let report = BenchReport::of(samples);
    if let Some(report) = &report {
        writeln!(out, "{report}")?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = Duration::from_millis;
        let samples: Vec<Duration> = (1..=100).rev().map(ms).collect();
        let report = BenchReport::of(samples).unwrap();
        assert_eq!(
            (report.p50, report.p99, report.max),
            (ms(50), ms(99), ms(100))
        );
        let one = BenchReport::of(vec![ms(3)]).unwrap();
        assert_eq!((one.p50, one.p99, one.max), (ms(3), ms(3), ms(3)));
        assert!(BenchReport::of(Vec::new()).is_none());
        assert!(one.to_string().contains("p50 3.00 ms"));
    }
}
