//! Tiled change detection, so an unchanged screen is never converted or encoded again.
//!
//! Contract: compares each frame with the previous one tile by tile (exact byte comparison of
//! the visible pixels; stride padding is ignored, alpha is compared like any other byte). The
//! first frame, a size change and a frame that does not match its own description all count
//! as fully changed. Memory is one packed copy of the last frame.

use crate::frame::BgraFrame;

/// Edge length of a square tile, in pixels.
pub const TILE_SIZE: u32 = 64;

/// Result of comparing a frame with the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Tiles whose pixels differ from the previous frame.
    pub changed_tiles: u32,
    /// Tiles covering the frame (edge tiles may be partial).
    pub total_tiles: u32,
}

impl Change {
    /// Whether anything changed at all.
    #[must_use]
    pub fn any(&self) -> bool {
        self.changed_tiles > 0
    }
}

/// Remembers the previous frame and reports which tiles differ from it.
#[derive(Debug, Default)]
pub struct ChangeDetector {
    width: u32,
    height: u32,
    /// Previous frame, packed (stride `width * 4`); empty before the first frame.
    previous: Vec<u8>,
}

impl ChangeDetector {
    /// A detector that has not seen a frame yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Compares `frame` with the previous frame and remembers it for the next call.
    pub fn update(&mut self, frame: &BgraFrame<'_>) -> Change {
        let total_tiles = frame.width.div_ceil(TILE_SIZE) * frame.height.div_ceil(TILE_SIZE);
        if frame.validate().is_err() {
            self.forget();
            return Change {
                changed_tiles: total_tiles,
                total_tiles,
            };
        }
        let row = frame.width as usize * 4;
        let same_size = (frame.width, frame.height) == (self.width, self.height);
        if !same_size || self.previous.is_empty() {
            self.width = frame.width;
            self.height = frame.height;
            self.previous.clear();
            for y in 0..frame.height as usize {
                let start = y * frame.stride;
                self.previous
                    .extend_from_slice(&frame.data[start..start + row]);
            }
            return Change {
                changed_tiles: total_tiles,
                total_tiles,
            };
        }
        // `validate` above guarantees every `y * stride + row` slice below is in bounds, and
        // `previous` holds exactly `height` packed rows of the same width.
        let tile = TILE_SIZE as usize;
        let mut changed_tiles = 0;
        for top in (0..frame.height as usize).step_by(tile) {
            let bottom = (top + tile).min(frame.height as usize);
            for left in (0..row).step_by(tile * 4) {
                let right = (left + tile * 4).min(row);
                let mut changed = false;
                for y in top..bottom {
                    let new = &frame.data[y * frame.stride + left..y * frame.stride + right];
                    let old = &mut self.previous[y * row + left..y * row + right];
                    // Rows above the first difference are equal, so only later rows are copied.
                    if changed || old != new {
                        changed = true;
                        old.copy_from_slice(new);
                    }
                }
                changed_tiles += u32::from(changed);
            }
        }
        Change {
            changed_tiles,
            total_tiles,
        }
    }

    /// Drops the remembered frame so the next one counts as fully changed.
    pub fn forget(&mut self) {
        self.previous.clear();
        self.width = 0;
        self.height = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` x `height` frame with `pad` bytes of stride padding filled with `pad_byte`.
    fn pattern(width: u32, height: u32, pad: usize, pad_byte: u8) -> (Vec<u8>, usize) {
        let stride = width as usize * 4 + pad;
        let mut data = vec![pad_byte; stride * height as usize];
        for (y, row) in data.chunks_mut(stride).enumerate() {
            for (x, px) in row[..width as usize * 4].chunks_exact_mut(4).enumerate() {
                px.copy_from_slice(&[(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8, 255]);
            }
        }
        (data, stride)
    }

    fn frame(data: &[u8], width: u32, height: u32, stride: usize) -> BgraFrame<'_> {
        BgraFrame {
            width,
            height,
            stride,
            data,
        }
    }

    #[test]
    fn first_frame_is_changed_and_identical_frame_is_not() {
        let (data, stride) = pattern(200, 130, 0, 0);
        let mut detector = ChangeDetector::new();
        let first = detector.update(&frame(&data, 200, 130, stride));
        assert_eq!(
            first,
            Change {
                changed_tiles: 12,
                total_tiles: 12
            }
        );
        assert!(first.any());
        let second = detector.update(&frame(&data, 200, 130, stride));
        assert_eq!(
            second,
            Change {
                changed_tiles: 0,
                total_tiles: 12
            }
        );
        assert!(!second.any());
    }

    #[test]
    fn one_pixel_changes_exactly_one_tile() {
        let (mut data, stride) = pattern(200, 130, 0, 0);
        let mut detector = ChangeDetector::new();
        detector.update(&frame(&data, 200, 130, stride));
        // Pixel (130, 70) lies in tile column 2, tile row 1; also check the partial edge tile.
        for (x, y) in [(130usize, 70usize), (199, 129), (0, 0)] {
            data[y * stride + x * 4 + 1] ^= 0xFF;
            let change = detector.update(&frame(&data, 200, 130, stride));
            assert_eq!(change.changed_tiles, 1, "pixel ({x}, {y})");
            let again = detector.update(&frame(&data, 200, 130, stride));
            assert!(!again.any(), "the change was remembered");
        }
    }

    #[test]
    fn stride_padding_is_ignored() {
        let (a, stride) = pattern(100, 70, 24, 0x00);
        let (b, _) = pattern(100, 70, 24, 0xAB);
        let mut detector = ChangeDetector::new();
        detector.update(&frame(&a, 100, 70, stride));
        assert!(!detector.update(&frame(&b, 100, 70, stride)).any());
        // A different stride with the same pixels is no change either.
        let (c, other_stride) = pattern(100, 70, 0, 0);
        assert!(!detector.update(&frame(&c, 100, 70, other_stride)).any());
    }

    #[test]
    fn size_change_counts_as_fully_changed() {
        let (a, stride_a) = pattern(128, 128, 0, 0);
        let (b, stride_b) = pattern(64, 128, 0, 0);
        let mut detector = ChangeDetector::new();
        detector.update(&frame(&a, 128, 128, stride_a));
        let change = detector.update(&frame(&b, 64, 128, stride_b));
        assert_eq!(
            change,
            Change {
                changed_tiles: 2,
                total_tiles: 2
            }
        );
        assert!(!detector.update(&frame(&b, 64, 128, stride_b)).any());
    }

    #[test]
    fn malformed_frame_counts_as_changed_and_resets() {
        let (data, stride) = pattern(64, 64, 0, 0);
        let mut detector = ChangeDetector::new();
        detector.update(&frame(&data, 64, 64, stride));
        let truncated = detector.update(&frame(&data[..100], 64, 64, stride));
        assert_eq!(
            truncated,
            Change {
                changed_tiles: 1,
                total_tiles: 1
            }
        );
        assert!(detector.update(&frame(&data, 64, 64, stride)).any());
    }
}
