//! H.264 decoder: OpenH264 plus the conversion back to packed BGRA.
//!
//! Contract: input is untrusted. Any byte sequence yields `Ok` or an error, never a panic; an
//! access unit larger than [`MAX_ACCESS_UNIT_BYTES`] is refused before OpenH264 sees it, and a
//! decoded picture larger than the encoder can produce is refused before it is converted.

use openh264::decoder::Decoder as OpenH264Decoder;
use openh264::formats::YUVSource;

use crate::convert::{Planes, i420_to_bgra};
use crate::error::CodecError;
use crate::frame::{MAX_LONG_SIDE, MAX_SHORT_SIDE};

/// Largest access unit accepted, in bytes. A lossless-quality 4K IDR stays well below this.
pub const MAX_ACCESS_UNIT_BYTES: usize = 16 * 1024 * 1024;

/// Decoded picture converted back to packed BGRA (B,G,R,A; A=255), stride = width*4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub bgra: Vec<u8>,
}

/// H.264 decoder for the streams [`crate::Encoder`] produces (and other baseline streams).
pub struct Decoder {
    inner: OpenH264Decoder,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").finish_non_exhaustive()
    }
}

impl Decoder {
    /// Creates a decoder waiting for its first keyframe.
    ///
    /// # Errors
    /// [`CodecError::Init`] when OpenH264 refuses to start.
    pub fn new() -> Result<Self, CodecError> {
        let inner = OpenH264Decoder::new().map_err(|e| CodecError::Init {
            component: "decoder",
            reason: e.to_string(),
        })?;
        Ok(Self { inner })
    }

    /// Decodes one Annex-B access unit; `Ok(None)` when the decoder needs more data.
    ///
    /// # Errors
    /// [`CodecError::AccessUnitTooLarge`] above [`MAX_ACCESS_UNIT_BYTES`],
    /// [`CodecError::InvalidBitstream`] for bytes that do not decode (ask for a keyframe), and
    /// [`CodecError::FrameTooLarge`] for pictures larger than any encoder here produces.
    pub fn decode(&mut self, annex_b: &[u8]) -> Result<Option<DecodedFrame>, CodecError> {
        if annex_b.len() > MAX_ACCESS_UNIT_BYTES {
            return Err(CodecError::AccessUnitTooLarge {
                len: annex_b.len(),
                max: MAX_ACCESS_UNIT_BYTES,
            });
        }
        let decoded = self
            .inner
            .decode(annex_b)
            .map_err(|e| CodecError::InvalidBitstream(e.to_string()))?;
        let Some(yuv) = decoded else {
            return Ok(None);
        };
        let (width, height) = yuv.dimensions();
        let (y_stride, uv_stride, _) = yuv.strides();
        let too_large = || CodecError::FrameTooLarge {
            width: u32::try_from(width).unwrap_or(u32::MAX),
            height: u32::try_from(height).unwrap_or(u32::MAX),
            max_width: MAX_LONG_SIDE,
            max_height: MAX_SHORT_SIDE,
        };
        let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
            return Err(too_large());
        };
        if width.max(height) > MAX_LONG_SIDE || width.min(height) > MAX_SHORT_SIDE {
            return Err(too_large());
        }
        if width == 0 || height == 0 {
            return Err(CodecError::InvalidBitstream(format!(
                "decoded picture is {width}x{height}"
            )));
        }
        let planes = Planes {
            width,
            height,
            y: yuv.y(),
            y_stride,
            u: yuv.u(),
            v: yuv.v(),
            uv_stride,
        };
        let mut bgra = Vec::new();
        i420_to_bgra(&planes, &mut bgra).map_err(|e| match e {
            // Planes that do not fit their own size come from a stream OpenH264 misread.
            CodecError::Conversion(reason) => CodecError::InvalidBitstream(reason),
            other => other,
        })?;
        Ok(Some(DecodedFrame {
            width,
            height,
            bgra,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoder_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Decoder>();
    }

    #[test]
    fn oversized_access_unit_is_refused_up_front() {
        let mut decoder = Decoder::new().unwrap();
        let huge = vec![0u8; MAX_ACCESS_UNIT_BYTES + 1];
        assert_eq!(
            decoder.decode(&huge),
            Err(CodecError::AccessUnitTooLarge {
                len: MAX_ACCESS_UNIT_BYTES + 1,
                max: MAX_ACCESS_UNIT_BYTES
            })
        );
    }

    #[test]
    fn empty_input_needs_more_data() {
        let mut decoder = Decoder::new().unwrap();
        assert!(matches!(
            decoder.decode(&[]),
            Ok(None) | Err(CodecError::InvalidBitstream(_))
        ));
    }
}
