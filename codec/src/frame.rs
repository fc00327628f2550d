//! Frame types: the borrowed BGRA capture and the owned planar I420 picture.
//!
//! Contract: an [`I420Picture`] always has even, tightly packed planes (`y` is
//! `width * height` bytes, `u` and `v` are `width/2 * height/2` bytes each); nothing in this
//! module allocates more than the size it was asked for.

use crate::error::CodecError;

/// Largest frame side the H.264 encoder accepts (landscape width, or portrait height).
pub(crate) const MAX_LONG_SIDE: u32 = 3840;
/// Largest short side the H.264 encoder accepts.
pub(crate) const MAX_SHORT_SIDE: u32 = 2160;

/// A borrowed BGRA frame as captured (B,G,R,A bytes per pixel, rows `stride` bytes apart,
/// `stride >= width * 4`).
#[derive(Debug, Clone, Copy)]
pub struct BgraFrame<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Distance between the starts of two rows, in bytes.
    pub stride: usize,
    /// Pixel bytes; at least `stride * (height - 1) + width * 4` long.
    pub data: &'a [u8],
}

impl BgraFrame<'_> {
    /// Checks that `data` holds `height` rows of `width` pixels `stride` bytes apart.
    ///
    /// # Errors
    /// [`CodecError::StrideTooSmall`] or [`CodecError::BufferTooShort`].
    pub fn validate(&self) -> Result<(), CodecError> {
        let row = (self.width as usize).saturating_mul(4);
        if self.stride < row {
            return Err(CodecError::StrideTooSmall {
                stride: self.stride,
                width: self.width,
                needed: row,
            });
        }
        let needed = match self.height {
            0 => 0,
            h => self
                .stride
                .saturating_mul(h as usize - 1)
                .saturating_add(row),
        };
        if self.data.len() < needed {
            return Err(CodecError::BufferTooShort {
                needed,
                actual: self.data.len(),
            });
        }
        Ok(())
    }
}

/// Owned planar I420 picture with even width/height (odd capture sizes are cropped to even).
///
/// Planes are tightly packed: the luma stride is `width`, the chroma stride `width / 2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Picture {
    width: u32,
    height: u32,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl I420Picture {
    /// Creates a black picture (limited range: Y=16, U=V=128), cropping odd sizes to even.
    #[must_use]
    pub fn new(width: u32, height: u32) -> Self {
        let mut picture = Self {
            width: 0,
            height: 0,
            y: Vec::new(),
            u: Vec::new(),
            v: Vec::new(),
        };
        picture.resize(width, height);
        picture
    }

    /// Width in pixels (always even).
    #[must_use]
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels (always even).
    #[must_use]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Luma plane, `y_stride() * height()` bytes.
    #[must_use]
    pub fn y(&self) -> &[u8] {
        &self.y
    }

    /// Blue-difference chroma plane, `uv_stride() * height() / 2` bytes.
    #[must_use]
    pub fn u(&self) -> &[u8] {
        &self.u
    }

    /// Red-difference chroma plane, `uv_stride() * height() / 2` bytes.
    #[must_use]
    pub fn v(&self) -> &[u8] {
        &self.v
    }

    /// Bytes between luma rows (equals `width()`).
    #[must_use]
    pub fn y_stride(&self) -> usize {
        self.width as usize
    }

    /// Bytes between chroma rows (equals `width() / 2`).
    #[must_use]
    pub fn uv_stride(&self) -> usize {
        self.width as usize / 2
    }

    /// Mutable access to the Y, U and V planes at once, for writing pictures by hand.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        (&mut self.y, &mut self.u, &mut self.v)
    }

    /// Changes the size (cropped to even), reusing the buffers; contents become black when the
    /// size changes and are kept otherwise.
    pub(crate) fn resize(&mut self, width: u32, height: u32) {
        let (width, height) = (width & !1, height & !1);
        if width == self.width && height == self.height {
            return;
        }
        let luma = width as usize * height as usize;
        self.width = width;
        self.height = height;
        self.y.clear();
        self.y.resize(luma, 16);
        self.u.clear();
        self.u.resize(luma / 4, 128);
        self.v.clear();
        self.v.resize(luma / 4, 128);
    }
}

/// Crops a size to even and checks it against the encoder's limits.
pub(crate) fn even_size(width: u32, height: u32) -> Result<(u32, u32), CodecError> {
    let (even_width, even_height) = (width & !1, height & !1);
    if even_width == 0 || even_height == 0 {
        return Err(CodecError::FrameTooSmall { width, height });
    }
    let (long, short) = (even_width.max(even_height), even_width.min(even_height));
    if long > MAX_LONG_SIDE || short > MAX_SHORT_SIDE {
        return Err(CodecError::FrameTooLarge {
            width,
            height,
            max_width: MAX_LONG_SIDE,
            max_height: MAX_SHORT_SIDE,
        });
    }
    Ok((even_width, even_height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_crops_odd_sizes_and_is_black() {
        let picture = I420Picture::new(5, 3);
        assert_eq!((picture.width(), picture.height()), (4, 2));
        assert_eq!(picture.y().len(), 8);
        assert_eq!(picture.u().len(), 2);
        assert_eq!(picture.v().len(), 2);
        assert!(picture.y().iter().all(|&y| y == 16));
        assert!(picture.u().iter().chain(picture.v()).all(|&c| c == 128));
    }

    #[test]
    fn validate_rejects_short_stride_and_buffer() {
        let data = [0u8; 32];
        let short_stride = BgraFrame {
            width: 4,
            height: 2,
            stride: 12,
            data: &data,
        };
        assert!(matches!(
            short_stride.validate(),
            Err(CodecError::StrideTooSmall { .. })
        ));
        let short_buffer = BgraFrame {
            width: 4,
            height: 3,
            stride: 16,
            data: &data,
        };
        assert_eq!(
            short_buffer.validate(),
            Err(CodecError::BufferTooShort {
                needed: 48,
                actual: 32
            })
        );
        // The last row needs no padding.
        let exact = BgraFrame {
            width: 3,
            height: 2,
            stride: 20,
            data: &data,
        };
        assert_eq!(exact.validate(), Ok(()));
    }

    #[test]
    fn even_size_limits() {
        assert_eq!(even_size(1921, 1081), Ok((1920, 1080)));
        assert_eq!(even_size(1080, 1920), Ok((1080, 1920)));
        assert!(matches!(
            even_size(1, 100),
            Err(CodecError::FrameTooSmall { .. })
        ));
        assert!(matches!(
            even_size(4096, 2160),
            Err(CodecError::FrameTooLarge { .. })
        ));
    }
}
