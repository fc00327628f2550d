//! The bench's results: figures per scene and pipeline, `bench.json` (everything, raw
//! latencies included) and `bench.md` (the table, the ratios to the peers and where the
//! targets stand).
//!
//! Contract: pure functions of the measured data; a figure that was not measured is shown
//! as `–`, never made up.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::meter::ProbeResult;
use super::offline::{CodecRun, EqualQuality};

/// A whole bench run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bench {
    /// The screen size.
    pub screen: String,
    /// Seconds measured per scene and pipeline.
    pub seconds: f64,
    /// The x264 peer's -crf.
    pub x264_crf: u8,
    /// The `sos` app's rate control (`delay` or `fixed`).
    #[serde(default)]
    pub rate_control: String,
    /// The `sos` app's encoding threads, when the bench set them (else its default).
    #[serde(default)]
    pub encoder_threads: Option<u16>,
    /// CPU cores of the machine.
    pub cores: usize,
    /// Whether the peers ran.
    pub peers: bool,
    /// Each scene.
    pub scenes: Vec<SceneRun>,
    /// What the `sos` app wrote with `--stats` when it ended (all scenes together).
    pub agent_stats: Option<serde_json::Value>,
    /// The codec comparison on identical frames, per moving scene.
    #[serde(default)]
    pub codec: Vec<CodecRun>,
}

impl Bench {
    /// A run of the codec comparison alone (`--codec-only`): no live scenes.
    pub fn codec_only(seconds: f64) -> Self {
        Self {
            screen: String::from(super::SIZE),
            seconds,
            x264_crf: 0,
            rate_control: String::new(),
            encoder_threads: None,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            peers: false,
            scenes: Vec::new(),
            agent_stats: None,
            codec: Vec::new(),
        }
    }
}

/// One scene, every pipeline on it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SceneRun {
    /// Its name.
    pub scene: String,
    /// How often it changes, per second.
    pub scene_fps: f64,
    /// sosdesk first, then the peers.
    pub pipelines: Vec<PipelineRun>,
}

/// The CPU use of one process over the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuShare {
    /// agent, gateway, viewer, encoder.
    pub process: String,
    /// Percent of one core.
    pub percent: f64,
}

/// One pipeline on one scene.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineRun {
    /// `sosdesk`, `x264` or `x11vnc`.
    pub pipeline: String,
    /// The figures derived from the rest.
    pub summary: Summary,
    /// CPU per process.
    pub cpu: Vec<CpuShare>,
    /// Payload bytes towards the viewer in the window (above UDP or TCP).
    pub wire_bytes: u64,
    /// From attaching (sosdesk) or starting the encoder (x264) to the first picture.
    pub first_frame_ms: Option<f64>,
    /// What the probe measured.
    pub probe: ProbeResult,
}

/// The figures of the table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Glass-to-glass latency percentiles, ms.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile.
    pub latency_p95_ms: Option<f64>,
    /// 99th percentile.
    pub latency_p99_ms: Option<f64>,
    /// New scene frames shown per second.
    pub delivered_fps: f64,
    /// Pictures decoded per second (repeats included).
    pub decoded_fps: f64,
    /// Pictures decoded after the first one (idle: what was encoded for nothing).
    pub frames_after_first: u64,
    /// Bits per second on the wire towards the viewer.
    pub wire_kbit_s: f64,
    /// Mean PSNR of the sampled pictures, dB.
    pub psnr_mean_db: Option<f64>,
    /// Lowest PSNR of the sampled pictures, dB.
    pub psnr_min_db: Option<f64>,
    /// Echo scene: key sent by the technician to its character decoded, percentiles, ms.
    #[serde(default)]
    pub input_to_pixel_ms: [Option<f64>; 3],
}

impl PipelineRun {
    /// Derives the summary.
    pub fn new(
        pipeline: &str,
        probe: ProbeResult,
        wire_bytes: u64,
        cpu: Vec<CpuShare>,
        first_frame_ms: Option<f64>,
    ) -> Self {
        let window = probe.window_seconds.max(1e-9);
        let mut latencies = probe.latency_ms.clone();
        latencies.sort_by(f64::total_cmp);
        let mut input = probe.input_to_pixel_ms.clone();
        input.sort_by(f64::total_cmp);
        let finite: Vec<f64> = probe
            .psnr_db
            .iter()
            .copied()
            .filter(|psnr| psnr.is_finite())
            .collect();
        let summary = Summary {
            latency_p50_ms: percentile(&latencies, 50.0),
            latency_p95_ms: percentile(&latencies, 95.0),
            latency_p99_ms: percentile(&latencies, 99.0),
            delivered_fps: probe.frames_new.saturating_sub(1) as f64 / window,
            decoded_fps: probe.frames_decoded as f64 / window,
            frames_after_first: probe.frames_decoded.saturating_sub(1),
            wire_kbit_s: wire_bytes as f64 * 8.0 / 1000.0 / window,
            psnr_mean_db: (!finite.is_empty())
                .then(|| finite.iter().sum::<f64>() / finite.len() as f64)
                .or_else(|| (!probe.psnr_db.is_empty()).then_some(f64::INFINITY)),
            psnr_min_db: probe.psnr_db.iter().copied().min_by(f64::total_cmp),
            input_to_pixel_ms: [50.0, 95.0, 99.0].map(|p| percentile(&input, p)),
        };
        Self {
            pipeline: pipeline.to_owned(),
            summary,
            cpu,
            wire_bytes,
            first_frame_ms,
            probe,
        }
    }

    fn cpu_of(&self, process: &str) -> Option<f64> {
        self.cpu
            .iter()
            .find(|share| share.process == process)
            .map(|share| share.percent)
    }

    /// CPU of every process of the pipeline together, percent of a core.
    pub fn cpu_total(&self) -> f64 {
        self.cpu.iter().map(|share| share.percent).sum()
    }
}

/// Nearest-rank percentile of sorted values; `None` when there are none.
pub fn percentile(sorted: &[f64], percent: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| String::from("–"), |value| format!("{value:.1}"))
}

fn db(value: Option<f64>) -> String {
    match value {
        None => String::from("–"),
        Some(value) if value.is_infinite() => String::from("lossless"),
        Some(value) => format!("{value:.1}"),
    }
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(ours), Some(theirs)) if theirs > 0.0 && ours.is_finite() && theirs.is_finite() => {
            format!("{:.2}x", ours / theirs)
        }
        _ => String::from("–"),
    }
}

/// One line per pipeline for the terminal while the bench runs.
pub fn line(run: &PipelineRun) -> String {
    let s = &run.summary;
    let input = match s.input_to_pixel_ms {
        [Some(p50), p95, p99] => format!(
            ", input to pixel p50 {} / p95 {} / p99 {} ms ({} keys)",
            ms(Some(p50)),
            ms(p95),
            ms(p99),
            run.probe.keys_sent
        ),
        _ => String::new(),
    };
    format!(
        "{:<8} latency p50 {} / p95 {} / p99 {} ms, {:.1} fps, {:.0} kbit/s, PSNR {} dB, first frame {} ms, CPU {}{input}",
        run.pipeline,
        ms(s.latency_p50_ms),
        ms(s.latency_p95_ms),
        ms(s.latency_p99_ms),
        s.delivered_fps,
        s.wire_kbit_s,
        db(s.psnr_mean_db),
        ms(run.first_frame_ms),
        run.cpu
            .iter()
            .map(|share| format!("{} {:.0}%", share.process, share.percent))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// One line about a codec comparison, for the console.
pub fn codec_line(run: &CodecRun) -> String {
    format!(
        "sosdesk {:.0} kbit/s at {:.1} dB, {:.1} ms CPU per frame; x264 at equal quality: {} (bytes {}), throughput {} (CRF {})",
        run.ours.bytes as f64 * 8.0 / 1000.0 * run.fps / run.ours.frames.max(1) as f64,
        run.ours.psnr_mean_db,
        run.ours.cpu_ms_per_frame,
        run.x264_bytes_at_equal_quality.map_or_else(
            || String::from("–"),
            |theirs| {
                let (prefix, bytes) = match theirs {
                    EqualQuality::Exact(bytes) => ("", bytes),
                    EqualQuality::MoreThan(bytes) => ("> ", bytes),
                    EqualQuality::LessThan(bytes) => ("< ", bytes),
                };
                let kbit_s = bytes * 8.0 / 1000.0 * run.fps / run.ours.frames.max(1) as f64;
                format!("{prefix}{kbit_s:.0} kbit/s")
            }
        ),
        run.bytes_ratio()
            .map_or_else(|| String::from("–"), |ratio| ratio.to_string()),
        times(run.throughput_ratio()),
        run.x264_nearest_crf
            .map_or_else(|| String::from("–"), |crf| crf.to_string()),
    )
}

fn times(value: Option<f64>) -> String {
    value.map_or_else(|| String::from("–"), |value| format!("{value:.2}x"))
}

/// The codec comparison on identical frames: sosdesk, the x264 sweep, the ratios.
fn codec_table(runs: &[CodecRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scene | encoder | frames | kbit/s | PSNR dB (min) | CPU ms/frame | wall ms/frame |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for run in runs {
        for encoding in std::iter::once(&run.ours).chain(&run.x264) {
            let name = encoding.crf.map_or_else(
                || encoding.encoder.clone(),
                |crf| format!("{} -crf {crf}", encoding.encoder),
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.1} ({:.1}) | {:.1} | {:.1} |",
                run.scene,
                name,
                encoding.frames,
                encoding.bytes as f64 * 8.0 / 1000.0 * run.fps / encoding.frames.max(1) as f64,
                encoding.psnr_mean_db,
                encoding.psnr_min_db,
                encoding.cpu_ms_per_frame,
                encoding.wall_ms_per_frame,
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| scene | sosdesk PSNR dB | sosdesk / x264 bytes at equal PSNR | sosdesk / x264 frames per CPU second (CRF) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for run in runs {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {} | {} ({}) |",
            run.scene,
            run.ours.psnr_mean_db,
            run.bytes_ratio()
                .map_or_else(|| String::from("–"), |ratio| ratio.to_string()),
            times(run.throughput_ratio()),
            run.x264_nearest_crf
                .map_or_else(|| String::from("–"), |crf| crf.to_string()),
        );
    }
    out
}

/// The Markdown tables: every figure, then the ratios to the peers, then the codec
/// comparison on identical frames.
pub fn table(bench: &Bench) -> String {
    let mut out = live_table(bench);
    if !bench.codec.is_empty() {
        if !out.is_empty() {
            let _ = writeln!(out);
        }
        out.push_str(&codec_table(&bench.codec));
    }
    out
}

fn live_table(bench: &Bench) -> String {
    let mut out = String::new();
    if bench.scenes.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "| scene | pipeline | p50 ms | p95 ms | p99 ms | fps | decoded/s | kbit/s | PSNR dB (min) | first frame ms | CPU % (sender / gateway / viewer) |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for scene in &bench.scenes {
        for run in &scene.pipelines {
            let s = &run.summary;
            let sender = run.cpu_of("agent").or_else(|| run.cpu_of("encoder"));
            let cpu = [sender, run.cpu_of("gateway"), run.cpu_of("viewer")]
                .iter()
                .map(|value| value.map_or_else(|| String::from("–"), |v| format!("{v:.0}")))
                .collect::<Vec<_>>()
                .join(" / ");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.0} | {} ({}) | {} | {} |",
                scene.scene,
                run.pipeline,
                ms(s.latency_p50_ms),
                ms(s.latency_p95_ms),
                ms(s.latency_p99_ms),
                s.delivered_fps,
                s.decoded_fps,
                s.wire_kbit_s,
                db(s.psnr_mean_db),
                db(s.psnr_min_db),
                ms(run.first_frame_ms),
                cpu,
            );
        }
    }
    let echoes: Vec<(&str, &PipelineRun)> = bench
        .scenes
        .iter()
        .flat_map(|scene| {
            scene
                .pipelines
                .iter()
                .map(|run| (scene.scene.as_str(), run))
        })
        .filter(|(_, run)| run.summary.input_to_pixel_ms[0].is_some())
        .collect();
    if !echoes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| input to pixel (key sent by the technician -> its character decoded) | p50 ms | p95 ms | p99 ms | keys | characters shown |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for (scene, run) in echoes {
            let [p50, p95, p99] = run.summary.input_to_pixel_ms;
            let _ = writeln!(
                out,
                "| {scene} ({}) | {} | {} | {} | {} | {} |",
                run.pipeline,
                ms(p50),
                ms(p95),
                ms(p99),
                run.probe.keys_sent,
                run.probe.input_to_pixel_ms.len(),
            );
        }
    }
    if bench.peers {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| scene | sosdesk / peer | p50 | p99 | fps | bytes | CPU (all processes) |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
        for scene in &bench.scenes {
            let Some(ours) = scene.pipelines.iter().find(|run| run.pipeline == "sosdesk") else {
                continue;
            };
            for theirs in scene
                .pipelines
                .iter()
                .filter(|run| run.pipeline != "sosdesk")
            {
                let (a, b) = (&ours.summary, &theirs.summary);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    scene.scene,
                    theirs.pipeline,
                    ratio(a.latency_p50_ms, b.latency_p50_ms),
                    ratio(a.latency_p99_ms, b.latency_p99_ms),
                    ratio(Some(a.delivered_fps), Some(b.delivered_fps)),
                    ratio(Some(a.wire_kbit_s), Some(b.wire_kbit_s)),
                    ratio(Some(ours.cpu_total()), Some(theirs.cpu_total())),
                );
            }
        }
    }
    out
}

fn markdown(bench: &Bench) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# sosdesk streaming benchmark");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Screen {}, {} s measured per scene and pipeline, {} CPU cores, one host (one clock). \
         Latency is glass to glass: from the moment the scene's frame reached the X server \
         (the time painted in its timestamp code) to the end of its decoding in the viewer. \
         fps counts new scene frames shown; kbit/s is the payload above UDP (sosdesk's QUIC) or TCP (the peer's MPEG-TS) towards the viewer; \
         PSNR compares sampled decoded pictures with the scene's own rendering of the frame \
         they show. The peer is ffmpeg x11grab -> libx264 -preset ultrafast -tune zerolatency \
         -crf {} -> MPEG-TS over TCP (UDP lost x264's keyframe bursts on loopback) -> ffmpeg decoding; the second peer is x11vnc (polling every 5 ms, no deferral) read by the bench's own RFB client with ZRLE, CopyRect and Raw (lossless), bytes counted from server to client. \
         The echo scene is the typing scene driven by the technician: the probe sends a key \
         every 100 ms through sosdesk, the `sos` app injects it, and the scene types the next \
         character as soon as the key reaches the screen; input to pixel runs from sending \
         the key to decoding the picture that shows its character (the peer has no input path). \
         The codec comparison renders each moving scene in memory and gives the very same \
         frames to sosdesk's encoder (the `sos` app's settings) and to x264 ultrafast \
         zerolatency at a sweep of -crf values; one decoder decodes both, PSNR is against the \
         source frames, x264's bytes at sosdesk's PSNR are interpolated (log-linear) along the \
         sweep, and throughput counts frames per CPU second including the colour conversion.",
        bench.screen, bench.seconds, bench.cores, bench.x264_crf
    );
    if bench.rate_control == "fixed" {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "The `sos` app ran with `--rate-control fixed`: its frame rate did not follow the \
             link's delay."
        );
    }
    if let Some(threads) = bench.encoder_threads {
        let _ = writeln!(out);
        let _ = writeln!(out, "The `sos` app ran with `--encoder-threads {threads}`.");
    }
    let _ = writeln!(out);
    out.push_str(&table(bench));
    if !bench.scenes.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "![latency](latency.png)");
        let _ = writeln!(out);
        let _ = writeln!(out, "![bytes](bytes.png)");
    }
    if !bench.codec.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "![quality](quality.png)");
    }
    out
}

/// Writes bench.json and bench.md into `out`; returns their paths.
pub fn write(bench: &Bench, out: &Path) -> Result<Vec<PathBuf>> {
    let json = out.join("bench.json");
    let md = out.join("bench.md");
    std::fs::write(&json, serde_json::to_vec_pretty(bench)?)
        .with_context(|| format!("could not write {}", json.display()))?;
    std::fs::write(&md, markdown(bench))
        .with_context(|| format!("could not write {}", md.display()))?;
    Ok(vec![json, md])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 95.0), Some(95.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[3.0, 9.0], 50.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    fn run(pipeline: &str, latency: Vec<f64>, wire_bytes: u64) -> PipelineRun {
        let probe = ProbeResult {
            window_seconds: 10.0,
            frames_decoded: 101,
            frames_new: 101,
            latency_ms: latency,
            psnr_db: vec![40.0, 44.0, f64::INFINITY],
            ..ProbeResult::default()
        };
        let cpu = vec![CpuShare {
            process: String::from("viewer"),
            percent: 12.0,
        }];
        PipelineRun::new(pipeline, probe, wire_bytes, cpu, Some(250.0))
    }

    #[test]
    fn summaries_and_tables_show_what_was_measured() {
        let ours = run("sosdesk", vec![20.0, 10.0, 30.0], 1_000_000);
        assert_eq!(ours.summary.latency_p50_ms, Some(20.0));
        assert_eq!(ours.summary.delivered_fps, 10.0);
        assert_eq!(ours.summary.wire_kbit_s, 800.0);
        assert_eq!(ours.summary.psnr_mean_db, Some(42.0));
        assert_eq!(ours.summary.psnr_min_db, Some(40.0));
        let theirs = run("x264", vec![40.0], 2_000_000);
        let bench = Bench {
            screen: String::from("1920x1080"),
            seconds: 10.0,
            x264_crf: 23,
            rate_control: String::from("delay"),
            encoder_threads: None,
            cores: 2,
            peers: true,
            scenes: vec![SceneRun {
                scene: String::from("typing"),
                scene_fps: 10.0,
                pipelines: vec![ours, theirs],
            }],
            agent_stats: None,
            codec: Vec::new(),
        };
        let table = table(&bench);
        assert!(
            table.contains("| typing | sosdesk | 20.0 | 30.0 | 30.0 | 10.0 |"),
            "{table}"
        );
        // p50 20 vs 40, bytes 1 MB vs 2 MB.
        assert!(
            table.contains("| typing | x264 | 0.50x | 0.75x | 1.00x | 0.50x | 1.00x |"),
            "{table}"
        );
        // Nothing measured: a dash, not a zero.
        assert!(table.contains("| – / – / 12 |"), "{table}");
        let md = markdown(&bench);
        assert!(md.contains("latency.png") && md.contains("-crf 23"));
    }
}
