//! What the probe measures on each decoded picture: the timestamp code (glass-to-glass
//! latency, new scene frames), and, for a sample of pictures, the PSNR against the scene's
//! own rendering of that frame, computed on a thread of its own.
//!
//! Contract: a picture whose code does not read is counted as unreadable and gives no
//! latency; only the first picture showing a scene frame gives a latency (repeats of the
//! same screen do not), and the very first picture does not (it shows whatever was on the
//! screen when the viewer joined; time to first frame covers it).

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use super::code::{self, Code};
use super::cpu;
use super::scene::{Scene, SceneKind};
use crate::signals::Shutdown;

/// At most this many PSNR samples per second.
const PSNR_INTERVAL: Duration = Duration::from_millis(250);

/// What a probe run found, written as JSON for the bench.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Length of the measuring window (from the first decoded picture).
    pub window_seconds: f64,
    /// When the probe started to attach or listen (Unix ms).
    pub started_unix_ms: f64,
    /// When the first picture was decoded (Unix ms).
    pub first_frame_unix_ms: Option<f64>,
    /// Pictures decoded in the window.
    pub frames_decoded: u64,
    /// Pictures showing a scene frame not seen before, in the window.
    pub frames_new: u64,
    /// Pictures whose code did not read.
    pub unreadable: u64,
    /// Glass-to-glass latency of each new scene frame, in ms.
    pub latency_ms: Vec<f64>,
    /// sosdesk only: capture on the agent to decoded, from the frame header, in ms.
    pub capture_to_decoded_ms: Vec<f64>,
    /// Echo scene: from the probe sending key `k` to decoding the picture of scene frame
    /// `k` (the character it typed), in ms.
    #[serde(default)]
    pub input_to_pixel_ms: Vec<f64>,
    /// Echo scene: keys sent.
    #[serde(default)]
    pub keys_sent: u64,
    /// PSNR of the sampled pictures against the scene's source, in dB.
    /// A lossless picture is infinitely good: `null` in the JSON, which has no infinity.
    #[serde(with = "lossless_as_null")]
    pub psnr_db: Vec<f64>,
    /// Encoded video bytes received in the window (H.264 payload, without transport).
    pub payload_bytes: u64,
    /// CPU seconds of the viewer in the window (decoding; the PSNR thread excluded).
    pub viewer_cpu_seconds: f64,
}

/// The measuring state, shared by the decoding side and the window timer.
pub struct Meter {
    result: ProbeResult,
    first: Option<Instant>,
    closed: bool,
    last_frame: Option<u32>,
    payload_at_first: u64,
    last_sample: Option<Instant>,
    /// Taken when the window closes, which ends the PSNR thread.
    samples: Option<SyncSender<Sample>>,
    first_seen: Option<mpsc::Sender<()>>,
    /// When each key was sent (Unix ms), key `k` at index `k - 1`.
    keys_sent_ms: Vec<f64>,
}

/// A picture handed to the meter.
pub struct Picture<'a> {
    /// Packed BGRA.
    pub bgra: &'a [u8],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Unix time in microseconds when it was decoded.
    pub decoded_unix_micros: u64,
    /// sosdesk: capture to decoded from the frame header.
    pub capture_to_decoded_ms: Option<f64>,
    /// Encoded bytes received so far, all pictures counted.
    pub payload_total: u64,
}

/// A picture to compare with its source: BGRA, width, height, its code.
type Sample = (Vec<u8>, u32, u32, Code);

/// The running measurement: the meter, its PSNR thread and the first-picture signal.
pub struct Measurement {
    /// Shared with whoever decodes.
    pub meter: Arc<Mutex<Meter>>,
    first_seen: Receiver<()>,
    psnr: JoinHandle<(Vec<f64>, f64)>,
}

impl Measurement {
    /// Starts measuring `kind` (its PSNR thread renders the scene).
    pub fn start(kind: SceneKind, started_unix_ms: f64) -> Result<Self> {
        let (samples, receiver) = mpsc::sync_channel(1);
        let (first_tx, first_seen) = mpsc::channel();
        let psnr = std::thread::Builder::new()
            .name("bench-psnr".into())
            .spawn(move || psnr_thread(kind, &receiver))?;
        let meter = Meter {
            result: ProbeResult {
                started_unix_ms,
                ..ProbeResult::default()
            },
            first: None,
            closed: false,
            last_frame: None,
            payload_at_first: 0,
            last_sample: None,
            samples: Some(samples),
            first_seen: Some(first_tx),
            keys_sent_ms: Vec::new(),
        };
        Ok(Self {
            meter: Arc::new(Mutex::new(meter)),
            first_seen,
            psnr,
        })
    }

    /// Waits for the first picture, prints `measuring`, measures for `seconds`, prints
    /// `done`. `stopped` says the decoding side ended early (an error then).
    pub fn run_window(
        self,
        seconds: f64,
        first_timeout: Duration,
        shutdown: &Shutdown,
        stopped: &dyn Fn() -> bool,
        viewer: ViewerCpu,
    ) -> Result<ProbeResult> {
        let deadline = Instant::now() + first_timeout;
        loop {
            shutdown.check()?;
            match self.first_seen.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => break,
                Err(_) if stopped() => bail!("the viewer stopped before the first picture"),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => bail!(
                    "no picture decoded within {}s: the stream did not start",
                    first_timeout.as_secs()
                ),
            }
        }
        let ticks = cpu::ticks_per_second();
        let cpu_now = || match viewer {
            ViewerCpu::ThisProcess => cpu::this_process_seconds(ticks),
            ViewerCpu::Child(pid) => cpu::process_seconds(pid, ticks),
        };
        let cpu_start = cpu_now();
        println!("measuring");
        let ends = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < ends {
            shutdown.check()?;
            if stopped() {
                bail!("the viewer stopped during the measurement");
            }
            std::thread::sleep(Duration::from_millis(20).min(ends - Instant::now()));
        }
        let mut result = {
            let mut meter = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
            meter.closed = true;
            meter.samples = None;
            meter.result.clone()
        };
        let cpu_end = cpu_now();
        println!("done");
        // The channel is closed: the PSNR thread ends and reports its own CPU time.
        let (psnr_db, psnr_thread_cpu) = self.psnr.join().unwrap_or_default();
        result.psnr_db = psnr_db;
        result.window_seconds = seconds;
        let spent = cpu_end
            .zip(cpu_start)
            .map_or(0.0, |(end, start)| end - start);
        result.viewer_cpu_seconds = match viewer {
            // The PSNR thread's time before the window (one sample at most) is subtracted
            // too: a slight undercount of the viewer, never an overcount.
            ViewerCpu::ThisProcess => (spent - psnr_thread_cpu).max(0.0),
            ViewerCpu::Child(_) => spent,
        };
        Ok(result)
    }
}

/// Whose CPU time is the viewer's.
#[derive(Debug, Clone, Copy)]
pub enum ViewerCpu {
    /// This process, except the PSNR thread.
    ThisProcess,
    /// A decoding child process.
    Child(u32),
}

impl Meter {
    /// Whether the first picture was decoded.
    pub fn started(&self) -> bool {
        self.first.is_some()
    }

    /// Whether the window closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The probe sent the next key (echo scene) at `unix_ms`.
    pub fn key_sent(&mut self, unix_ms: f64) {
        self.keys_sent_ms.push(unix_ms);
        self.result.keys_sent = self.keys_sent_ms.len() as u64;
    }

    /// Measures one decoded picture.
    pub fn picture(&mut self, picture: &Picture<'_>) {
        if self.closed {
            return;
        }
        let now = Instant::now();
        let is_first = self.first.is_none();
        if is_first {
            self.first = Some(now);
            self.payload_at_first = picture.payload_total;
            self.result.first_frame_unix_ms = Some(picture.decoded_unix_micros as f64 / 1000.0);
            if let Some(first) = self.first_seen.take() {
                let _ = first.send(());
            }
        }
        let result = &mut self.result;
        result.frames_decoded += 1;
        result.payload_bytes = picture.payload_total - self.payload_at_first;
        let stride = picture.width as usize * 4;
        let Some(code) = code::read(picture.bgra, stride, picture.width, picture.height) else {
            result.unreadable += 1;
            return;
        };
        if self.last_frame == Some(code.frame) {
            return;
        }
        self.last_frame = Some(code.frame);
        result.frames_new += 1;
        if !is_first {
            let decoded_ms = picture.decoded_unix_micros as f64 / 1000.0;
            let painted = code::unwrap_ms(code.painted_ms, decoded_ms as u64) as f64;
            result.latency_ms.push(decoded_ms - painted);
            if let Some(ms) = picture.capture_to_decoded_ms {
                result.capture_to_decoded_ms.push(ms);
            }
            // Echo: scene frame k shows the character of key k.
            let key = (code.frame as usize).checked_sub(1);
            if let Some(sent) = key.and_then(|k| self.keys_sent_ms.get(k)) {
                result.input_to_pixel_ms.push(decoded_ms - sent);
            }
        }
        if self
            .last_sample
            .is_none_or(|last| now.duration_since(last) >= PSNR_INTERVAL)
        {
            let Some(samples) = &self.samples else {
                return;
            };
            match samples.try_send((picture.bgra.to_vec(), picture.width, picture.height, code)) {
                Ok(()) => self.last_sample = Some(now),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

/// Renders the source of each sampled picture and compares; returns the PSNRs and the
/// thread's own CPU seconds.
fn psnr_thread(kind: SceneKind, samples: &Receiver<Sample>) -> (Vec<f64>, f64) {
    let ticks = cpu::ticks_per_second();
    let mut scenes: Option<Scene> = None;
    let mut source = Vec::new();
    let mut psnr = Vec::new();
    while let Ok((bgra, width, height, code)) = samples.recv() {
        // The decoded picture has the screen's size: the scene is made for it.
        let scene = match &mut scenes {
            Some(scene) if scene.screen().width == width && scene.screen().height == height => {
                scene
            }
            _ => match Scene::new(kind, width, height) {
                Ok(scene) => scenes.insert(scene),
                Err(_) => break,
            },
        };
        scene.render(u64::from(code.frame), &mut source);
        code::paint(&mut source, scene.stride(), width, height, code);
        psnr.push(sos_codec::psnr_bgra(
            &source,
            scene.stride(),
            &bgra,
            scene.stride(),
            width,
            height,
        ));
    }
    (psnr, cpu::this_thread_seconds(ticks).unwrap_or(0.0))
}

/// PSNR lists in JSON: an identical picture's infinite PSNR as `null`, and back.
mod lossless_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        values
            .iter()
            .map(|value| value.is_finite().then_some(*value))
            .collect::<Vec<_>>()
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(deserializer)?
            .into_iter()
            .map(|value| value.unwrap_or(f64::INFINITY))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::ProbeResult;

    #[test]
    fn lossless_pictures_survive_the_json_round_trip() {
        let result = ProbeResult {
            psnr_db: vec![41.5, f64::INFINITY],
            ..ProbeResult::default()
        };
        let json = serde_json::to_string(&result).unwrap();
        let back: ProbeResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back.psnr_db, [41.5, f64::INFINITY]);
    }
}
