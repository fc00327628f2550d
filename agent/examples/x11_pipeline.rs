//! Measures the real capture path on `$DISPLAY`: scrap capture, change detection, BGRA to
//! I420 and H.264 encoding, with frames taken as fast as the pipeline produces them.
//!
//! `cargo run --release -p sos-agent --example x11_pipeline -- [seconds] [max_fps] [max_age_ms]`
//! prints the per-stage averages as JSON. Change the screen meanwhile (for example
//! `xsetroot -solid` in a loop) to measure encoding; a still screen measures polling.

use sos_agent::pipeline::{self, Controls, PipelineConfig};
use sos_agent::platform::x11::X11Platform;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let max_fps: f32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(30.0);
    let platform = match args.next().and_then(|a| a.parse().ok()) {
        Some(ms) => X11Platform {
            max_capture_age: Duration::from_millis(ms),
        },
        None => X11Platform::default(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start a runtime: {error}");
            std::process::exit(1);
        }
    };
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel(1);
    let controls = std::sync::Arc::new(Controls::default());
    let handle = runtime.handle().clone();
    let thread_controls = controls.clone();
    let started = Instant::now();
    let capture = std::thread::spawn(move || {
        let config = PipelineConfig {
            max_fps,
            target_bitrate_bps: None,
            monitor: None,
            encoder_threads: None,
        };
        pipeline::run(
            &platform,
            config,
            &thread_controls,
            &frames_tx,
            &handle,
            &AtomicU64::new(0),
        )
    });
    let mut stats = sos_agent::stats::Stats::default();
    runtime.block_on(async {
        let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while let Ok(Some(frame)) = tokio::time::timeout_at(end, frames.recv()).await {
            let now = Instant::now();
            stats.record_sent(
                &frame.timings,
                frame.data.len(),
                frame.header.keyframe,
                Duration::ZERO,
                now,
            );
        }
    });
    controls.stop();
    frames.close();
    match capture.join() {
        Ok((capture_stats, result)) => {
            stats.merge(&capture_stats);
            if let Err(error) = result {
                eprintln!("pipeline failed: {error}");
            }
        }
        Err(_) => eprintln!("the capture thread panicked"),
    }
    let report = stats.report(started);
    match serde_json::to_string_pretty(&report) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("{error}"),
    }
}
