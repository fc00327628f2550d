//! The codec comparison on identical frames: each moving scene rendered in memory, encoded
//! once by sosdesk's encoder (the `sos` app's settings) and by x264 `-preset ultrafast -tune
//! zerolatency` at a sweep of constant qualities, every access unit decoded by the same
//! decoder and compared with its source frame.
//!
//! The live bench measures whole pipelines, where the two sides never see quite the same
//! frames (their captures sample the scene at different moments) and where x264 runs at one
//! quality. Here the input is the same, bit for bit, so the answers are exact: bytes at equal
//! quality (x264's size interpolated at sosdesk's PSNR along its sweep) and encode throughput
//! (frames per CPU second, colour conversion included on both sides: ours converts BGRA to
//! I420 with the `sos` app's converter, ffmpeg with swscale).
//!
//! Contract: reads no clock for the content (the scenes are pure functions of the frame
//! number); every ffmpeg it starts is waited for; a figure it could not measure is `None`.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sos_codec::{BgraFrame, Decoder, Encoder, EncoderConfig, I420Picture, bgra_to_i420, psnr_bgra};

use super::code::{self, Code};
use super::cpu;
use super::scene::{Scene, SceneKind};

/// x264's constant qualities tried on every scene, best first.
pub const CRF_SWEEP: [u8; 8] = [10, 13, 16, 19, 22, 25, 28, 32];

/// One encoder on one scene's frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// `sosdesk` or `x264`.
    pub encoder: String,
    /// x264's -crf; `None` for sosdesk (bitrate control with a quantiser cap).
    pub crf: Option<u8>,
    /// Frames encoded (all of them decoded).
    pub frames: usize,
    /// Bytes of the whole Annex B stream.
    pub bytes: u64,
    /// Mean over frames of the PSNR (B, G, R) of the decoded picture against its source.
    pub psnr_mean_db: f64,
    /// The worst frame's PSNR.
    pub psnr_min_db: f64,
    /// CPU milliseconds per frame, colour conversion and encoding.
    pub cpu_ms_per_frame: f64,
    /// Wall milliseconds per frame.
    pub wall_ms_per_frame: f64,
}

/// One scene: sosdesk and the x264 sweep, with the comparison at equal quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecRun {
    /// The scene's name.
    pub scene: String,
    /// Its frame rate (for kbit/s).
    pub fps: f64,
    /// sosdesk's encoder.
    pub ours: Encoding,
    /// x264 at each CRF of the sweep.
    pub x264: Vec<Encoding>,
    /// Bytes x264 needs for sosdesk's mean PSNR (log-linear between the two sweep points
    /// around it), or a bound when sosdesk's PSNR is outside the sweep.
    pub x264_bytes_at_equal_quality: Option<EqualQuality>,
    /// The sweep point closest to sosdesk's PSNR, for the throughput comparison.
    pub x264_nearest_crf: Option<u8>,
}

/// x264's bytes at sosdesk's quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EqualQuality {
    /// Interpolated inside the sweep.
    Exact(f64),
    /// sosdesk's PSNR is above the sweep's best: x264 needs more than this (its best
    /// point's bytes), assuming size grows with quality.
    MoreThan(f64),
    /// sosdesk's PSNR is below the sweep's worst: x264 needs less than this.
    LessThan(f64),
}

/// sosdesk's bytes over x264's at equal quality; a bound when outside the sweep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ratio {
    /// Exactly this.
    Exact(f64),
    /// At most this.
    AtMost(f64),
    /// At least this.
    AtLeast(f64),
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(value) => write!(f, "{value:.2}x"),
            Self::AtMost(value) => write!(f, "<= {value:.2}x"),
            Self::AtLeast(value) => write!(f, ">= {value:.2}x"),
        }
    }
}

impl CodecRun {
    /// sosdesk's bytes over x264's at equal quality (below 1 is smaller).
    pub fn bytes_ratio(&self) -> Option<Ratio> {
        let ours = self.ours.bytes as f64;
        self.x264_bytes_at_equal_quality.map(|theirs| match theirs {
            EqualQuality::Exact(bytes) => Ratio::Exact(ours / bytes),
            EqualQuality::MoreThan(bytes) => Ratio::AtMost(ours / bytes),
            EqualQuality::LessThan(bytes) => Ratio::AtLeast(ours / bytes),
        })
    }

    /// sosdesk's frames per CPU second over x264's at the nearest CRF (above 1 is faster).
    pub fn throughput_ratio(&self) -> Option<f64> {
        let nearest = self.x264_nearest_crf?;
        let theirs = self.x264.iter().find(|run| run.crf == Some(nearest))?;
        Some(theirs.cpu_ms_per_frame / self.ours.cpu_ms_per_frame)
    }
}

/// The scenes worth comparing: those that change by themselves (idle encodes one frame,
/// echo is typing driven by keys).
pub fn compared(kind: SceneKind) -> bool {
    matches!(
        kind,
        SceneKind::Typing | SceneKind::Scrolling | SceneKind::Video | SceneKind::FullMotion
    )
}

/// Renders `seconds` of `kind` at `width` x `height` and compares the encoders on it;
/// `progress` hears what is being done.
pub fn run(
    kind: SceneKind,
    width: u32,
    height: u32,
    seconds: f64,
    progress: &mut dyn FnMut(&str),
) -> Result<CodecRun> {
    let fps = kind.fps();
    let count = (fps * seconds).ceil().max(2.0) as usize;
    progress(&format!("rendering {count} frames of {kind}"));
    let frames = render(kind, width, height, count)?;
    progress("sosdesk's encoder");
    let ours = sosdesk(&frames, width, height)?;
    let mut x264 = Vec::new();
    for crf in CRF_SWEEP {
        progress(&format!("x264 -crf {crf}"));
        x264.push(x264_at(&frames, width, height, fps, crf)?);
    }
    let x264_bytes_at_equal_quality = equal_quality_bytes(&x264, ours.psnr_mean_db);
    let x264_nearest_crf = x264
        .iter()
        .min_by(|a, b| {
            (a.psnr_mean_db - ours.psnr_mean_db)
                .abs()
                .total_cmp(&(b.psnr_mean_db - ours.psnr_mean_db).abs())
        })
        .and_then(|run| run.crf);
    Ok(CodecRun {
        scene: kind.name().to_owned(),
        fps,
        ours,
        x264,
        x264_bytes_at_equal_quality,
        x264_nearest_crf,
    })
}

/// Frames 0..count of the scene, each with its timestamp code, as in the live bench.
fn render(kind: SceneKind, width: u32, height: u32, count: usize) -> Result<Vec<Vec<u8>>> {
    let mut scene = Scene::new(kind, width, height).map_err(anyhow::Error::msg)?;
    let stride = scene.stride();
    let mut picture = Vec::new();
    scene.render(0, &mut picture);
    let mut frames = Vec::with_capacity(count);
    for n in 0..count as u64 {
        if n > 0 {
            scene.step(n, &mut picture);
        }
        let mut frame = picture.clone();
        let painted_ms = (n as f64 * 1000.0 / kind.fps()) as u32;
        code::paint(
            &mut frame,
            stride,
            width,
            height,
            Code {
                painted_ms,
                frame: n as u32,
            },
        );
        frames.push(frame);
    }
    Ok(frames)
}

/// What decoding a stream gave: per-frame PSNR against the sources.
struct Quality {
    mean_db: f64,
    min_db: f64,
}

fn quality(units: &[Vec<u8>], frames: &[Vec<u8>], width: u32, height: u32) -> Result<Quality> {
    if units.len() != frames.len() {
        bail!(
            "{} pictures in the stream for {} frames sent",
            units.len(),
            frames.len()
        );
    }
    let mut decoder = Decoder::new()?;
    let stride = width as usize * 4;
    let mut scores = Vec::with_capacity(frames.len());
    for (index, (unit, source)) in units.iter().zip(frames).enumerate() {
        let decoded = decoder
            .decode(unit)?
            .with_context(|| format!("access unit {index} gave no picture"))?;
        if (decoded.width, decoded.height) != (width, height) {
            bail!(
                "access unit {index} decoded to {}x{}, not {width}x{height}",
                decoded.width,
                decoded.height
            );
        }
        let score = psnr_bgra(&decoded.bgra, stride, source, stride, width, height);
        // Identical pictures are infinitely good; cap them so that a mean stays a number.
        scores.push(score.min(99.0));
    }
    let mean_db = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
    let min_db = scores.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(Quality { mean_db, min_db })
}

/// sosdesk's encoder with the `sos` app's settings, fed every frame.
fn sosdesk(frames: &[Vec<u8>], width: u32, height: u32) -> Result<Encoding> {
    let ticks = cpu::ticks_per_second();
    let mut encoder = Encoder::new(EncoderConfig::new(width, height))?;
    let mut picture = I420Picture::new(width, height);
    let mut units = Vec::with_capacity(frames.len());
    // The encoder's own threads count too: the whole process, which does nothing else now.
    let cpu_start = cpu::this_process_seconds(ticks).context("no CPU time for this process")?;
    let started = Instant::now();
    for (index, data) in frames.iter().enumerate() {
        let frame = BgraFrame {
            width,
            height,
            stride: width as usize * 4,
            data,
        };
        bgra_to_i420(&frame, &mut picture)?;
        units.push(encoder.encode(&picture, index == 0)?.data);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu::this_process_seconds(ticks).context("no CPU time for this process")? - cpu_start;
    let quality = quality(&units, frames, width, height)?;
    Ok(Encoding {
        encoder: String::from("sosdesk"),
        crf: None,
        frames: frames.len(),
        bytes: units.iter().map(|unit| unit.len() as u64).sum(),
        psnr_mean_db: quality.mean_db,
        psnr_min_db: quality.min_db,
        cpu_ms_per_frame: cpu * 1000.0 / frames.len() as f64,
        wall_ms_per_frame: wall * 1000.0 / frames.len() as f64,
    })
}

/// x264 through ffmpeg (raw BGRA on its stdin, Annex B on its stdout), timed by ffmpeg's own
/// `-benchmark` (user + system CPU and real time of the whole ffmpeg).
fn x264_at(frames: &[Vec<u8>], width: u32, height: u32, fps: f64, crf: u8) -> Result<Encoding> {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-nostats", "-benchmark"])
        .args(["-loglevel", "info"])
        .args(["-f", "rawvideo", "-pix_fmt", "bgra"])
        .args(["-video_size", &format!("{width}x{height}")])
        .args(["-framerate", &fps.to_string(), "-i", "pipe:0"])
        .args(["-fps_mode", "passthrough"])
        .args(super::peers::x264_args(crf))
        .args(["-f", "h264", "pipe:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start ffmpeg (x264); run `cargo xtask setup`")?;
    let mut stdin = child.stdin.take().context("ffmpeg has no stdin")?;
    let mut stdout = child.stdout.take().context("ffmpeg has no stdout")?;
    let mut stderr = child.stderr.take().context("ffmpeg has no stderr")?;
    let (stream, log) = std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut stream = Vec::new();
            stdout.read_to_end(&mut stream).map(|_| stream)
        });
        let logger = scope.spawn(move || {
            let mut log = String::new();
            stderr.read_to_string(&mut log).map(|_| log)
        });
        let written = frames.iter().try_for_each(|frame| stdin.write_all(frame));
        drop(stdin);
        let stream = reader.join();
        let log = logger.join();
        (written.and(stream.unwrap_or_else(|_| Ok(Vec::new()))), log)
    });
    let status = child.wait().context("ffmpeg (x264) did not finish")?;
    let log = log
        .unwrap_or_else(|_| Ok(String::new()))
        .unwrap_or_default();
    if !status.success() {
        bail!(
            "ffmpeg (x264 -crf {crf}) failed: {}",
            log.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
        );
    }
    let stream = stream.context("could not exchange frames with ffmpeg")?;
    let (cpu, wall) = benchmark_times(&log)
        .with_context(|| format!("ffmpeg printed no `bench:` times (x264 -crf {crf})"))?;
    let units = access_units(&stream);
    let quality = quality(&units, frames, width, height)?;
    Ok(Encoding {
        encoder: String::from("x264"),
        crf: Some(crf),
        frames: frames.len(),
        bytes: stream.len() as u64,
        psnr_mean_db: quality.mean_db,
        psnr_min_db: quality.min_db,
        cpu_ms_per_frame: cpu * 1000.0 / frames.len() as f64,
        wall_ms_per_frame: wall * 1000.0 / frames.len() as f64,
    })
}

/// (user + system, real) seconds from ffmpeg's `bench: utime=…s stime=…s rtime=…s` line.
fn benchmark_times(log: &str) -> Option<(f64, f64)> {
    let line = log.lines().find(|line| line.starts_with("bench: utime="))?;
    let field = |name: &str| -> Option<f64> {
        let start = line.find(name)? + name.len();
        let rest = &line[start..];
        rest[..rest.find('s')?].parse().ok()
    };
    Some((field("utime=")? + field("stime=")?, field("rtime=")?))
}

/// Splits an Annex B stream into access units: a new one starts at the first slice of a
/// picture (`first_mb_in_slice` = 0); parameter sets and SEI go with the picture after them.
fn access_units(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut units: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for nal in nal_units(stream) {
        let Some(&header) = nal.first() else {
            continue;
        };
        let kind = header & 0x1f;
        let is_slice = kind == 1 || kind == 5;
        if is_slice && first_mb_is_zero(&nal[1..]) {
            if let Some(done) = current.take() {
                units.push(done);
            }
            current = Some(std::mem::take(&mut pending));
        }
        let target = if is_slice {
            current.get_or_insert_with(Vec::new)
        } else {
            &mut pending
        };
        target.extend_from_slice(&[0, 0, 0, 1]);
        target.extend_from_slice(nal);
    }
    units.extend(current);
    units
}

/// The NAL units of an Annex B stream, without their start codes.
fn nal_units(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut index = 0;
    while index + 3 <= stream.len() {
        if stream[index..index + 3] == [0, 0, 1] {
            starts.push(index + 3);
            index += 3;
        } else {
            index += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(position, &start)| {
            let mut end = starts
                .get(position + 1)
                .map_or(stream.len(), |next| next - 3);
            // A four-byte start code leaves one zero behind; trailing zeros are not data.
            while end > start && stream[end - 1] == 0 {
                end -= 1;
            }
            &stream[start..end]
        })
        .collect()
}

/// Whether a slice header (after the NAL header byte) starts with `first_mb_in_slice` = 0,
/// which in Exp-Golomb is a single 1 bit.
fn first_mb_is_zero(payload: &[u8]) -> bool {
    payload.first().is_some_and(|byte| byte & 0x80 != 0)
}

/// x264's bytes at `psnr` along the sweep: log-linear between the two points around it; a
/// bound from the nearest end when `psnr` is outside the sweep.
fn equal_quality_bytes(sweep: &[Encoding], psnr: f64) -> Option<EqualQuality> {
    let mut points: Vec<(f64, f64)> = sweep
        .iter()
        .filter(|run| run.bytes > 0 && run.psnr_mean_db.is_finite())
        .map(|run| (run.psnr_mean_db, run.bytes as f64))
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (&(worst_db, worst), &(best_db, best)) = (points.first()?, points.last()?);
    if psnr > best_db {
        return Some(EqualQuality::MoreThan(best));
    }
    if psnr < worst_db {
        return Some(EqualQuality::LessThan(worst));
    }
    points.windows(2).find_map(|pair| {
        let ((q0, b0), (q1, b1)) = (pair[0], pair[1]);
        if psnr < q0 || psnr > q1 {
            return None;
        }
        if q1 <= q0 {
            return Some(EqualQuality::Exact(b0.min(b1)));
        }
        let t = (psnr - q0) / (q1 - q0);
        Some(EqualQuality::Exact(
            (b0.ln() + t * (b1.ln() - b0.ln())).exp(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(crf: u8, bytes: u64, psnr: f64) -> Encoding {
        Encoding {
            encoder: String::from("x264"),
            crf: Some(crf),
            frames: 10,
            bytes,
            psnr_mean_db: psnr,
            psnr_min_db: psnr,
            cpu_ms_per_frame: 1.0,
            wall_ms_per_frame: 1.0,
        }
    }

    #[test]
    fn equal_quality_interpolates_sizes_log_linearly_and_bounds_outside_the_sweep() {
        let sweep = [
            point(28, 1_000, 36.0),
            point(16, 100_000, 46.0),
            point(22, 10_000, 41.0),
        ];
        // Half way between 36 and 41 dB in log size: sqrt(1000 * 10000).
        let Some(EqualQuality::Exact(middle)) = equal_quality_bytes(&sweep, 38.5) else {
            panic!("38.5 dB is inside the sweep");
        };
        assert!((middle - 3_162.28).abs() < 0.1, "{middle}");
        assert_eq!(
            equal_quality_bytes(&sweep, 46.0).map(|q| match q {
                EqualQuality::Exact(bytes) => bytes.round(),
                other => panic!("{other:?}"),
            }),
            Some(100_000.0)
        );
        assert_eq!(
            equal_quality_bytes(&sweep, 35.9),
            Some(EqualQuality::LessThan(1_000.0))
        );
        assert_eq!(
            equal_quality_bytes(&sweep, 46.1),
            Some(EqualQuality::MoreThan(100_000.0))
        );
        assert_eq!(equal_quality_bytes(&[], 40.0), None);
    }

    #[test]
    fn streams_split_into_pictures_at_their_first_slice() {
        // SPS, PPS, an IDR in two slices (first_mb 0, then 1), a P slice, a P in two slices.
        let sps = [0x67, 0x42, 0x00];
        let pps = [0x68, 0xce];
        let idr_first = [0x65, 0x88, 0x01];
        let idr_second = [0x65, 0x40, 0x02];
        let p_first = [0x41, 0x9a, 0x03];
        let p_second = [0x41, 0x20, 0x04];
        let mut stream = Vec::new();
        for (nal, long) in [
            (&sps[..], true),
            (&pps[..], false),
            (&idr_first[..], true),
            (&idr_second[..], false),
            (&p_first[..], true),
            (&p_first[..], false),
            (&p_second[..], true),
        ] {
            stream.extend_from_slice(if long {
                &[0, 0, 0, 1][..]
            } else {
                &[0, 0, 1][..]
            });
            stream.extend_from_slice(nal);
        }
        let units = access_units(&stream);
        let nals = |unit: &Vec<u8>| nal_units(unit).iter().map(|nal| nal[0]).collect::<Vec<_>>();
        assert_eq!(units.len(), 3, "{units:?}");
        assert_eq!(nals(&units[0]), [0x67, 0x68, 0x65, 0x65]);
        assert_eq!(nals(&units[1]), [0x41]);
        assert_eq!(nals(&units[2]), [0x41, 0x41]);
    }

    #[test]
    fn ffmpeg_benchmark_lines_give_cpu_and_real_time() {
        let log = "frame=  90\nbench: utime=1.250s stime=0.125s rtime=0.900s\nbench: maxrss=1kB\n";
        assert_eq!(benchmark_times(log), Some((1.375, 0.9)));
        assert_eq!(benchmark_times("no times here"), None);
    }
}
