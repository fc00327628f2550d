//! Colour conversion between packed BGRA and planar I420 (BT.601, limited range), SIMD via the
//! `yuv` crate.
//!
//! Contract: both directions use the same matrix and range, so a decoded picture comes back in
//! the colours it was captured in; odd sizes are cropped to even (the last column/row is
//! dropped); the alpha channel is ignored on the way in and written as 255 on the way out.

use yuv::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use crate::error::CodecError;
use crate::frame::{BgraFrame, I420Picture};

/// Matrix shared by the encoder and decoder sides.
const MATRIX: YuvStandardMatrix = YuvStandardMatrix::Bt601;
/// Range shared by the encoder and decoder sides (what H.264 decoders assume without VUI).
const RANGE: YuvRange = YuvRange::Limited;

/// BGRA -> I420 (BT.601 limited range, matching what the decoder side converts back with),
/// SIMD via the `yuv` crate; reuses `out`'s buffers, resizing if needed.
///
/// # Errors
/// [`CodecError::FrameTooSmall`] below 2x2 pixels, [`CodecError::StrideTooSmall`] /
/// [`CodecError::BufferTooShort`] when `frame` does not match its own description.
pub fn bgra_to_i420(frame: &BgraFrame<'_>, out: &mut I420Picture) -> Result<(), CodecError> {
    frame.validate()?;
    let (width, height) = (frame.width & !1, frame.height & !1);
    if width == 0 || height == 0 {
        return Err(CodecError::FrameTooSmall {
            width: frame.width,
            height: frame.height,
        });
    }
    let stride = u32::try_from(frame.stride).map_err(|_| CodecError::StrideTooSmall {
        stride: frame.stride,
        width: frame.width,
        needed: frame.width as usize * 4,
    })?;
    out.resize(width, height);
    let (y_stride, uv_stride) = (width, width / 2);
    let (y, u, v) = out.planes_mut();
    let mut planar = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: uv_stride,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: uv_stride,
        width,
        height,
    };
    yuv::bgra_to_yuv420(
        &mut planar,
        frame.data,
        stride,
        RANGE,
        MATRIX,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| CodecError::Conversion(e.to_string()))
}

/// Borrowed planes of a decoded picture, as the decoder hands them out.
pub(crate) struct Planes<'a> {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) y: &'a [u8],
    pub(crate) y_stride: usize,
    pub(crate) u: &'a [u8],
    pub(crate) v: &'a [u8],
    pub(crate) uv_stride: usize,
}

/// I420 -> packed BGRA (stride `width * 4`, A = 255) into `out`, which is resized to fit.
pub(crate) fn i420_to_bgra(planes: &Planes<'_>, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let to_u32 = |stride: usize| {
        u32::try_from(stride).map_err(|_| CodecError::Conversion(format!("stride {stride}")))
    };
    let image = YuvPlanarImage {
        y_plane: planes.y,
        y_stride: to_u32(planes.y_stride)?,
        u_plane: planes.u,
        u_stride: to_u32(planes.uv_stride)?,
        v_plane: planes.v,
        v_stride: to_u32(planes.uv_stride)?,
        width: planes.width,
        height: planes.height,
    };
    let row = planes.width as usize * 4;
    out.clear();
    out.resize(row * planes.height as usize, 0);
    yuv::yuv420_to_bgra(&image, out, to_u32(row)?, RANGE, MATRIX)
        .map_err(|e| CodecError::Conversion(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: u32, height: u32, stride: usize, bgra: [u8; 4]) -> Vec<u8> {
        let mut data = vec![0xEE; stride * height as usize];
        for row in data.chunks_mut(stride) {
            for px in row[..width as usize * 4].chunks_exact_mut(4) {
                px.copy_from_slice(&bgra);
            }
        }
        data
    }

    fn assert_near(actual: &[u8], expected: u8, what: &str) {
        for &value in actual {
            assert!(
                value.abs_diff(expected) <= 2,
                "{what}: got {value}, expected {expected}±2"
            );
        }
    }

    #[test]
    fn solid_colours_give_bt601_limited_values() {
        // (B, G, R) -> (Y, U, V) from the BT.601 limited-range equations.
        let cases = [
            ([0, 0, 0], (16, 128, 128)),
            ([255, 255, 255], (235, 128, 128)),
            ([0, 0, 255], (81, 90, 240)),
            ([0, 255, 0], (145, 54, 34)),
            ([255, 0, 0], (41, 240, 110)),
            ([128, 128, 128], (126, 128, 128)),
        ];
        for ([b, g, r], (y, u, v)) in cases {
            let data = solid(16, 8, 16 * 4 + 12, [b, g, r, 0]);
            let frame = BgraFrame {
                width: 16,
                height: 8,
                stride: 16 * 4 + 12,
                data: &data,
            };
            let mut picture = I420Picture::new(2, 2);
            bgra_to_i420(&frame, &mut picture).unwrap();
            assert_eq!((picture.width(), picture.height()), (16, 8));
            assert_near(picture.y(), y, "Y");
            assert_near(picture.u(), u, "U");
            assert_near(picture.v(), v, "V");
        }
    }

    #[test]
    fn odd_sizes_are_cropped_to_even() {
        let data = solid(7, 5, 7 * 4, [10, 200, 30, 255]);
        let frame = BgraFrame {
            width: 7,
            height: 5,
            stride: 7 * 4,
            data: &data,
        };
        let mut picture = I420Picture::new(0, 0);
        bgra_to_i420(&frame, &mut picture).unwrap();
        assert_eq!((picture.width(), picture.height()), (6, 4));
        assert_eq!(picture.y().len(), 24);
        assert_eq!(picture.u().len(), 6);
    }

    #[test]
    fn too_small_or_malformed_frames_are_errors() {
        let data = [0u8; 64];
        let one_pixel_wide = BgraFrame {
            width: 1,
            height: 4,
            stride: 4,
            data: &data,
        };
        let mut picture = I420Picture::new(2, 2);
        assert_eq!(
            bgra_to_i420(&one_pixel_wide, &mut picture),
            Err(CodecError::FrameTooSmall {
                width: 1,
                height: 4
            })
        );
        let truncated = BgraFrame {
            width: 4,
            height: 8,
            stride: 16,
            data: &data,
        };
        assert!(matches!(
            bgra_to_i420(&truncated, &mut picture),
            Err(CodecError::BufferTooShort { .. })
        ));
    }

    #[test]
    fn round_trip_through_i420_keeps_colours() {
        let data = solid(8, 4, 32, [40, 120, 200, 7]);
        let frame = BgraFrame {
            width: 8,
            height: 4,
            stride: 32,
            data: &data,
        };
        let mut picture = I420Picture::new(8, 4);
        bgra_to_i420(&frame, &mut picture).unwrap();
        let planes = Planes {
            width: 8,
            height: 4,
            y: picture.y(),
            y_stride: picture.y_stride(),
            u: picture.u(),
            v: picture.v(),
            uv_stride: picture.uv_stride(),
        };
        let mut bgra = Vec::new();
        i420_to_bgra(&planes, &mut bgra).unwrap();
        assert_eq!(bgra.len(), 8 * 4 * 4);
        for px in bgra.chunks_exact(4) {
            assert!(px[0].abs_diff(40) <= 2 && px[1].abs_diff(120) <= 2);
            assert!(px[2].abs_diff(200) <= 2);
            assert_eq!(px[3], 255);
        }
    }
}
