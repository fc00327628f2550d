//! H.264 encoder: a thin, tuned wrapper over OpenH264.
//!
//! Contract: output is Annex-B; every IDR carries SPS and PPS in front of it; IDRs are produced
//! only for the first picture and when the caller asks for one (no periodic keyframes, no
//! scene-change keyframes); frames are never skipped by rate control; the encoder never reads
//! the clock — timestamps are derived from the frame count and `max_fps`.

use openh264::encoder::{
    BitRate, Complexity, Encoder as OpenH264Encoder, EncoderConfig as OpenH264Config, FrameRate,
    FrameType, IntraFramePeriod, QpRange, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSource;
use openh264::{OpenH264API, Timestamp};

use crate::error::CodecError;
use crate::frame::{I420Picture, even_size};

/// Lowest bitrate the default picks, in bits per second.
const MIN_DEFAULT_BITRATE: u32 = 1_000_000;
/// Highest bitrate the default picks, in bits per second.
const MAX_DEFAULT_BITRATE: u32 = 8_000_000;
/// Default bits per pixel per frame; text-heavy desktops need more than camera video.
const DEFAULT_BITS_PER_PIXEL: f64 = 0.1;
/// Frame rate assumed when the configured one is not a positive finite number.
const FALLBACK_FPS: f32 = 30.0;
/// Lowest quantiser the rate control may pick when the budget allows.
const QP_MIN: u8 = 12;
/// Highest quantiser the rate control may pick. At 15 and below H.264's deblocking filter is
/// inactive (its thresholds are zero below index 16); above it the filter smears one-pixel text
/// (measured on the synthetic desktop at 1080p: QP 15 gives 53 dB luma PSNR, QP 16 gives 43 dB,
/// and QP 16+ keyframes also make every following P frame several times larger while the
/// encoder refines the blur). The price: frames with large changes may overshoot the target
/// bitrate, so the pacing layer lowers the frame rate instead of the encoder lowering quality.
const QP_MAX: u8 = 15;
/// Most encoding threads the default picks: past four, a 1080p picture's slices get small
/// and the end user's machine has better use for its cores.
const MAX_DEFAULT_THREADS: u16 = 4;
/// Largest slice, in bytes, when several threads encode a picture: OpenH264 codes slices in
/// parallel and threads only with several slices. This size keeps P-frames in a few slices,
/// so the bytes stay within 1 % of one slice per picture (measured on the bench's scenes),
/// and cuts a 0.5 MB keyframe into several.
const SLICE_BYTES: u32 = 100_000;

/// Settings for [`Encoder::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderConfig {
    /// Picture width in pixels (odd values are cropped to even, like the pictures).
    pub width: u32,
    /// Picture height in pixels (odd values are cropped to even).
    pub height: u32,
    /// Highest frame rate the sender will produce; used for rate control and timestamps.
    pub max_fps: f32,
    /// Average bitrate the rate control aims at, in bits per second.
    pub target_bitrate_bps: u32,
    /// Threads encoding each picture (0 counts as 1). With more than one, pictures are cut
    /// into slices of at most 100 kB coded in parallel.
    pub threads: u16,
}

impl EncoderConfig {
    /// Default settings for a screen of `width` x `height`: 30 fps, a bitrate scaled with the
    /// pixel rate (about 6 Mbit/s at 1920x1080), see [`EncoderConfig::default_bitrate`], and
    /// [`EncoderConfig::default_threads`].
    #[must_use]
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            max_fps: FALLBACK_FPS,
            target_bitrate_bps: Self::default_bitrate(width, height, FALLBACK_FPS),
            threads: Self::default_threads(),
        }
    }

    /// Threads picked by [`EncoderConfig::new`]: one per core, at most 4. On 2 cores, two
    /// threads encode a full-motion 1080p picture in 17.5 ms instead of 23.1 (wall time,
    /// `cargo xtask bench --codec-only`).
    #[must_use]
    pub fn default_threads() -> u16 {
        std::thread::available_parallelism().map_or(1, |cores| {
            u16::try_from(cores.get()).map_or(MAX_DEFAULT_THREADS, |n| n.min(MAX_DEFAULT_THREADS))
        })
    }

    /// Bitrate picked by [`EncoderConfig::new`]: 0.1 bit per pixel per frame, clamped to
    /// 1–8 Mbit/s.
    #[must_use]
    pub fn default_bitrate(width: u32, height: u32, max_fps: f32) -> u32 {
        let fps = sane_fps(max_fps);
        let bits = f64::from(width) * f64::from(height) * f64::from(fps) * DEFAULT_BITS_PER_PIXEL;
        // The clamp keeps the value inside u32, so the cast cannot truncate.
        bits.clamp(
            f64::from(MIN_DEFAULT_BITRATE),
            f64::from(MAX_DEFAULT_BITRATE),
        ) as u32
    }
}

/// One encoded access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// Annex-B bytes (start-code prefixed NAL units); SPS and PPS precede every IDR.
    pub data: Vec<u8>,
    /// Whether this is an IDR picture a decoder can start from.
    pub keyframe: bool,
}

/// H.264 encoder (OpenH264, camera real-time usage, low complexity, one slice per picture or
/// size-limited slices coded by several threads, quantiser capped so text stays sharp).
///
/// `Send`, so it can live on the streaming task; not meant to be shared between threads.
pub struct Encoder {
    inner: OpenH264Encoder,
    width: u32,
    height: u32,
    frame_interval_ms: f64,
    frames: u64,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Builds an encoder for pictures of `config.width` x `config.height` (cropped to even).
    ///
    /// # Errors
    /// [`CodecError::FrameTooSmall`] / [`CodecError::FrameTooLarge`] for unsupported sizes,
    /// [`CodecError::InvalidConfig`] for a zero or oversized bitrate, [`CodecError::Init`] when
    /// OpenH264 refuses to start.
    pub fn new(config: EncoderConfig) -> Result<Self, CodecError> {
        let (width, height) = even_size(config.width, config.height)?;
        if config.target_bitrate_bps == 0 || config.target_bitrate_bps > i32::MAX as u32 {
            return Err(CodecError::InvalidConfig {
                reason: format!(
                    "target bitrate {} bit/s is outside 1..={}",
                    config.target_bitrate_bps,
                    i32::MAX
                ),
            });
        }
        let fps = sane_fps(config.max_fps);
        let threads = config.threads.max(1);
        let settings = OpenH264Config::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(config.target_bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps))
            .skip_frames(false)
            .complexity(Complexity::Low)
            .qp(QpRange::new(QP_MIN, QP_MAX))
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .scene_change_detect(false)
            .background_detection(true)
            .adaptive_quantization(false)
            .num_threads(threads)
            .vui(VuiConfig::bt601());
        let settings = if threads > 1 {
            settings.max_slice_len(SLICE_BYTES)
        } else {
            settings
        };
        let inner = OpenH264Encoder::with_api_config(OpenH264API::from_source(), settings)
            .map_err(|e| CodecError::Init {
                component: "encoder",
                reason: e.to_string(),
            })?;
        tracing::debug!(
            width,
            height,
            fps,
            bitrate_bps = config.target_bitrate_bps,
            threads,
            "H.264 encoder ready"
        );
        Ok(Self {
            inner,
            width,
            height,
            frame_interval_ms: 1000.0 / f64::from(fps),
            frames: 0,
        })
    }

    /// Encodes one picture; `keyframe` forces an IDR. Returns Annex-B bytes (with SPS/PPS
    /// before every IDR) and whether it is a keyframe. The first picture is always an IDR.
    ///
    /// # Errors
    /// [`CodecError::PictureSizeMismatch`] when the picture size differs from the configured
    /// one (build a new encoder), [`CodecError::Encode`] when OpenH264 fails or produces
    /// nothing; `data` of an `Ok` result is never empty.
    pub fn encode(
        &mut self,
        picture: &I420Picture,
        keyframe: bool,
    ) -> Result<EncodedFrame, CodecError> {
        if (picture.width(), picture.height()) != (self.width, self.height) {
            return Err(CodecError::PictureSizeMismatch {
                expected_width: self.width,
                expected_height: self.height,
                actual_width: picture.width(),
                actual_height: picture.height(),
            });
        }
        // The first encode initialises OpenH264, which starts with an IDR anyway; forcing
        // before that would address an uninitialised encoder.
        if keyframe && self.frames > 0 {
            self.inner.force_intra_frame();
        }
        // Saturating float-to-int cast: after ~half a billion years of frames it just stops.
        let timestamp =
            Timestamp::from_millis((self.frames as f64 * self.frame_interval_ms) as u64);
        self.frames += 1;
        let bitstream = self
            .inner
            .encode_at(&PictureSource(picture), timestamp)
            .map_err(|e| CodecError::Encode(e.to_string()))?;
        let frame_type = bitstream.frame_type();
        let mut data = Vec::new();
        bitstream.write_vec(&mut data);
        if data.is_empty() {
            // Frame skipping is disabled, so this means OpenH264 is in a bad state.
            return Err(CodecError::Encode(format!(
                "OpenH264 produced no bytes (frame type {frame_type:?})"
            )));
        }
        Ok(EncodedFrame {
            data,
            keyframe: frame_type == FrameType::IDR,
        })
    }
}

/// Replaces a non-positive or non-finite frame rate with a usable one.
fn sane_fps(fps: f32) -> f32 {
    if fps.is_finite() && fps >= 1.0 {
        fps.min(240.0)
    } else {
        FALLBACK_FPS
    }
}

/// Lends an [`I420Picture`] to OpenH264 without copying.
struct PictureSource<'a>(&'a I420Picture);

impl YUVSource for PictureSource<'_> {
    fn dimensions(&self) -> (usize, usize) {
        (self.0.width() as usize, self.0.height() as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.0.y_stride(), self.0.uv_stride(), self.0.uv_stride())
    }

    fn y(&self) -> &[u8] {
        self.0.y()
    }

    fn u(&self) -> &[u8] {
        self.0.u()
    }

    fn v(&self) -> &[u8] {
        self.0.v()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn encoder_is_send() {
        assert_send::<Encoder>();
    }

    #[test]
    fn default_bitrate_scales_with_pixel_rate_and_is_clamped() {
        assert_eq!(EncoderConfig::new(1920, 1080).target_bitrate_bps, 6_220_800);
        assert_eq!(
            EncoderConfig::default_bitrate(640, 360, 30.0),
            MIN_DEFAULT_BITRATE
        );
        assert_eq!(
            EncoderConfig::default_bitrate(3840, 2160, 60.0),
            MAX_DEFAULT_BITRATE
        );
        assert_eq!(
            EncoderConfig::default_bitrate(1920, 1080, f32::NAN),
            EncoderConfig::default_bitrate(1920, 1080, 30.0)
        );
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(matches!(
            Encoder::new(EncoderConfig::new(1, 1)),
            Err(CodecError::FrameTooSmall { .. })
        ));
        assert!(matches!(
            Encoder::new(EncoderConfig::new(7680, 4320)),
            Err(CodecError::FrameTooLarge { .. })
        ));
        let zero_rate = EncoderConfig {
            target_bitrate_bps: 0,
            ..EncoderConfig::new(64, 64)
        };
        assert!(matches!(
            Encoder::new(zero_rate),
            Err(CodecError::InvalidConfig { .. })
        ));
    }

    #[test]
    fn rejects_picture_of_other_size() {
        let mut encoder = Encoder::new(EncoderConfig::new(64, 64)).unwrap();
        let err = encoder
            .encode(&I420Picture::new(32, 32), false)
            .unwrap_err();
        assert_eq!(
            err,
            CodecError::PictureSizeMismatch {
                expected_width: 64,
                expected_height: 64,
                actual_width: 32,
                actual_height: 32
            }
        );
    }

    #[test]
    fn odd_config_size_matches_cropped_pictures() {
        let mut encoder = Encoder::new(EncoderConfig::new(65, 33)).unwrap();
        let frame = encoder.encode(&I420Picture::new(65, 33), false).unwrap();
        assert!(frame.keyframe);
        assert!(frame.data.starts_with(&[0, 0, 0, 1]) || frame.data.starts_with(&[0, 0, 1]));
    }
}
