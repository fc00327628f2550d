//! The figures of a load run as people read them: the summary table printed at the end,
//! `load.md` (the same table) and `load.json` (everything, one line per viewer).
//!
//! Contract: a figure that was not measured is shown as `–`, never made up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::probe::CpuShares;
use super::report::{Group, Latency, LoadReport};

fn figure(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| String::from("–"), |v| format!("{v:.decimals$}"))
}

fn latencies(latency: &Latency) -> String {
    format!(
        "{} / {} / {} / {} ms",
        figure(latency.p50_ms, 2),
        figure(latency.p95_ms, 2),
        figure(latency.p99_ms, 2),
        figure(latency.max_ms, 1)
    )
}

fn losses(group: &Group) -> String {
    format!(
        "{} lost of {} ({} of {} viewers missed any; most by one: {})",
        group.frames_lost,
        group.frames_expected,
        group.viewers_with_loss,
        group.viewers,
        group.most_lost
    )
}

fn reasons(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return String::from("none");
    }
    counts
        .iter()
        .map(|(why, n)| format!("{n} × {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The rows of the summary: (what, figure).
pub fn rows(report: &LoadReport) -> Vec<(String, String)> {
    let s = &report.settings;
    let r = &report.rss_mib;
    let mut rows = vec![
        (
            String::from("agents registered / connected at end"),
            format!(
                "{} of {} / {}  (registration {:.1} s; failures: {}; lost: {})",
                report.registered,
                s.agents,
                report.connected_at_end,
                report.setup_seconds.1,
                reasons(&report.register_failures),
                reasons(&report.agents_lost)
            ),
        ),
        (
            String::from("streams × viewers"),
            format!(
                "{} × {} = {} viewers attached, {} connected at end ({} stalled; attach \
                 failures: {}; stopped early: {})",
                s.streams,
                s.viewers_per_stream,
                report.viewers,
                report.viewers_connected_at_end,
                report.stalled_viewers,
                reasons(&report.attach_failures),
                reasons(&report.viewer_failures)
            ),
        ),
        (
            String::from("frame rate per stream (asked / mean / lowest)"),
            format!(
                "{} / {:.1} / {:.1} fps  ({} ticks skipped: 4 frames unacknowledged)",
                s.fps, report.fps.0, report.fps.1, report.ticks_skipped
            ),
        ),
        (
            format!(
                "frames sent / received ({:.0} s window)",
                report.window_seconds
            ),
            format!(
                "{} ({} keyframes) / {} by the {} reading viewers",
                report.frames_sent,
                report.keyframes_sent,
                report.reading.frames_received,
                report.reading.viewers
            ),
        ),
        (
            String::from("frames lost per viewer"),
            losses(&report.reading),
        ),
        (
            String::from("added latency p50 / p95 / p99 / max"),
            latencies(&report.reading.latency),
        ),
        (
            String::from("relayed payload in / out"),
            format!(
                "{:.1} / {:.1} MB/s",
                report.mb_per_second_in, report.mb_per_second_out
            ),
        ),
        (
            String::from("gateway RSS: started / sessions created / agents idle"),
            format!(
                "{} / {} / {} MiB",
                figure(r.empty, 1),
                figure(r.sessions, 1),
                figure(r.idle, 1)
            ),
        ),
        (
            String::from("gateway RSS streaming: start / end / max; peak (VmHWM)"),
            format!(
                "{} / {} / {} MiB; {} MiB",
                figure(r.window_start, 1),
                figure(r.window_end, 1),
                figure(r.window_max, 1),
                figure(report.peak_mib, 1)
            ),
        ),
        (
            String::from("CPU, agents idle: gateway / load generator / softirq / others"),
            cpu(&report.cpu_idle),
        ),
        (
            String::from("CPU, streaming: gateway / load generator / softirq / others"),
            cpu(&report.cpu_window),
        ),
        (
            String::from("UDP datagrams dropped for full buffers: gateway / all"),
            format!(
                "{} / {}",
                figure(report.gateway_socket_drops.map(|n| n as f64), 0),
                figure(report.udp_drops.map(|n| n as f64), 0)
            ),
        ),
    ];
    if report.stalled_viewers > 0 {
        rows.extend([
            (
                String::from("stalled viewers: frames read after stalling"),
                format!(
                    "{} ({} stalled)",
                    report.stalled_frames_read, report.stalled_viewers
                ),
            ),
            (
                String::from("beside a stalled viewer: lost"),
                losses(&report.beside_stalled),
            ),
            (
                String::from("beside a stalled viewer: latency"),
                latencies(&report.beside_stalled.latency),
            ),
            (
                String::from("other sessions: latency"),
                latencies(&report.elsewhere.latency),
            ),
            (
                String::from("payload per viewer: beside a stalled viewer vs others"),
                format!(
                    "{} vs {} MB/s",
                    figure(
                        report
                            .beside_stalled
                            .mb_per_second_each(report.window_seconds),
                        2
                    ),
                    figure(
                        report.elsewhere.mb_per_second_each(report.window_seconds),
                        2
                    )
                ),
            ),
            (
                String::from("keyframes asked / sent per stream: stalled vs others"),
                format!(
                    "{} / {} vs {} / {}",
                    figure(report.keyframe_requests_per_stream.0, 1),
                    figure(report.keyframes_per_stream.0, 1),
                    figure(report.keyframe_requests_per_stream.1, 1),
                    figure(report.keyframes_per_stream.1, 1)
                ),
            ),
        ]);
    }
    rows
}

fn cpu(shares: &CpuShares) -> String {
    format!(
        "{:.0} % / {:.0} % / {:.0} % / {:.0} %  (100 % = one core)",
        shares.gateway_pct, shares.generator_pct, shares.kernel_pct, shares.others_pct
    )
}

/// The summary as aligned text for the terminal.
pub fn table(report: &LoadReport) -> String {
    let rows = rows(report);
    let width = rows
        .iter()
        .map(|(what, _)| what.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (what, value) in rows {
        let _ = writeln!(out, "{what:<width$}  {value}");
    }
    out
}

/// The summary as a Markdown table.
pub fn markdown(report: &LoadReport) -> String {
    let s = &report.settings;
    let mut out = String::from("# sosdesk gateway under load\n\n");
    let _ = writeln!(
        out,
        "{} agents, {} streams × {} viewers at {} fps (P-frames {}–{} KiB, keyframes {} KiB), \
         {} stalled; {} cores shared by the gateway and the load generator.\n",
        s.agents,
        s.streams,
        s.viewers_per_stream,
        s.fps,
        s.frame_kib.0,
        s.frame_kib.1,
        s.keyframe_kib,
        s.stalled,
        s.cores
    );
    out.push_str("| | |\n|---|---|\n");
    for (what, value) in rows(report) {
        let _ = writeln!(out, "| {what} | {} |", value.replace('|', "\\|"));
    }
    if !report.timeline.is_empty() {
        out.push_str(
            "\nThe window second by second (every fifth; load.json has them all): the \
             gateway's RSS, the datagrams its socket dropped for a full receive buffer, and \
             the slowest frame sent in that second.\n\n\
             | second | RSS MiB | dropped | slowest ms |\n|---:|---:|---:|---:|\n",
        );
        let last = report.timeline.len() - 1;
        for (index, sample) in report.timeline.iter().enumerate() {
            if index % 5 == 4 || index == last {
                let _ = writeln!(
                    out,
                    "| {:.0} | {:.1} | {} | {} |",
                    sample.second,
                    sample.rss_kib as f64 / 1024.0,
                    figure(sample.gateway_drops.map(|n| n as f64), 0),
                    figure(sample.worst_ms, 1)
                );
            }
        }
    }
    out
}

/// Writes `load.json` and `load.md` to `out`; returns their paths.
pub fn write(report: &LoadReport, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("could not create {}", out.display()))?;
    let json = out.join("load.json");
    let md = out.join("load.md");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("could not write {}", json.display()))?;
    std::fs::write(&md, markdown(report))
        .with_context(|| format!("could not write {}", md.display()))?;
    Ok(vec![json, md])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::report::Measured;
    use crate::load::report::tests::{sample, settings};

    #[test]
    fn the_table_tells_losses_and_the_stalled_viewer_apart() {
        let report = LoadReport::new(settings(), &sample());
        let text = table(&report);
        assert!(text.contains("1 lost of 12"), "{text}");
        assert!(text.contains("beside a stalled viewer"), "{text}");
        let md = markdown(&report);
        assert!(md.starts_with("# sosdesk gateway under load"));
        assert!(md.contains("| frames lost per viewer |"), "{md}");
        assert!(md.contains("| 2 | 3.0 | – | – |"), "the last second: {md}");
    }

    #[test]
    fn unmeasured_figures_are_dashes() {
        let report = LoadReport::new(settings(), &Measured::default());
        let text = table(&report);
        assert!(text.contains("– / – / – / – ms"), "{text}");
        assert!(!text.contains("NaN"), "{text}");
        assert!(
            !text.contains("beside a stalled viewer"),
            "no viewer stalled: {text}"
        );
    }

    #[test]
    fn both_files_are_written() {
        let out = tempfile::tempdir().unwrap();
        let report = LoadReport::new(settings(), &sample());
        let written = write(&report, out.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
        assert_eq!(json["reading"]["frames_lost"], 1);
        assert!(
            std::fs::read_to_string(&written[1])
                .unwrap()
                .contains("| added latency")
        );
    }
}
