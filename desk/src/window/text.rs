//! Text for the overlay and the messages, drawn with the bundled DejaVu Sans Mono
//! (`desk/assets/`, Bitstream Vera licence alongside).
//!
//! Contract: draws into a 0RGB pixel buffer, clipped to it; never allocates more than one
//! bitmap per character and size shown.

use super::viewport::Size;
use fontdue::{Font, FontSettings, Metrics};
use std::collections::HashMap;

const FONT: &[u8] = include_bytes!("../../assets/DejaVuSansMono.ttf");

/// Rasterizes and caches glyphs, and draws lines of text.
pub struct TextPainter {
    font: Font,
    glyphs: HashMap<(char, u32), (Metrics, Vec<u8>)>,
}

impl std::fmt::Debug for TextPainter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextPainter")
            .field("glyphs", &self.glyphs.len())
            .finish_non_exhaustive()
    }
}

impl TextPainter {
    /// Loads the bundled font.
    pub fn new() -> Result<Self, String> {
        let font = Font::from_bytes(FONT, FontSettings::default())
            .map_err(|e| format!("the bundled font does not load: {e}"))?;
        Ok(Self {
            font,
            glyphs: HashMap::new(),
        })
    }

    fn glyph(&mut self, c: char, px: u32) -> &(Metrics, Vec<u8>) {
        let font = &self.font;
        self.glyphs
            .entry((c, px))
            .or_insert_with(|| font.rasterize(c, px as f32))
    }

    /// The height of a line at `px`.
    pub fn line_height(&self, px: u32) -> u32 {
        self.font
            .horizontal_line_metrics(px as f32)
            .map_or(px + px / 4, |m| m.new_line_size.ceil() as u32)
    }

    /// The width of `text` at `px`.
    pub fn width(&mut self, text: &str, px: u32) -> u32 {
        let advance: f32 = text
            .chars()
            .map(|c| self.glyph(c, px).0.advance_width)
            .sum();
        advance.ceil() as u32
    }

    /// Draws `text` with its top-left corner at (`x`, `y`) in `color` (0RGB).
    pub fn draw(
        &mut self,
        pixels: &mut [u32],
        size: Size,
        (x, y): (i32, i32),
        text: &str,
        px: u32,
        color: u32,
    ) {
        let ascent = self
            .font
            .horizontal_line_metrics(px as f32)
            .map_or(px as f32, |m| m.ascent);
        let baseline = y as f32 + ascent;
        let mut pen = x as f32;
        for c in text.chars() {
            let (metrics, coverage) = self.glyph(c, px);
            let left = (pen + metrics.xmin as f32).round() as i64;
            let top = (baseline - metrics.ymin as f32 - metrics.height as f32).round() as i64;
            blend_glyph(pixels, size, (left, top), metrics.width, coverage, color);
            pen += metrics.advance_width;
        }
    }
}

fn blend_glyph(
    pixels: &mut [u32],
    size: Size,
    (left, top): (i64, i64),
    width: usize,
    coverage: &[u8],
    color: u32,
) {
    if width == 0 {
        return;
    }
    for (row, line) in coverage.chunks_exact(width).enumerate() {
        let y = top + row as i64;
        if y < 0 || y >= i64::from(size.height) {
            continue;
        }
        for (col, &alpha) in line.iter().enumerate() {
            let x = left + col as i64;
            if alpha == 0 || x < 0 || x >= i64::from(size.width) {
                continue;
            }
            let index = (y * i64::from(size.width) + x) as usize;
            if let Some(pixel) = pixels.get_mut(index) {
                *pixel = mix(*pixel, color, alpha);
            }
        }
    }
}

/// `over` on top of `under` with `alpha` (0..=255) coverage, per 0RGB channel.
pub fn mix(under: u32, over: u32, alpha: u8) -> u32 {
    let a = u32::from(alpha);
    let channel = |shift: u32| {
        let u = (under >> shift) & 0xff;
        let o = (over >> shift) & 0xff;
        ((o * a + u * (255 - a) + 127) / 255) << shift
    };
    channel(16) | channel(8) | channel(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_inside_the_buffer_only() {
        let mut painter = TextPainter::new().unwrap();
        let size = Size::new(60, 20);
        let mut pixels = vec![0u32; 60 * 20];
        let width = painter.width("Hi", 14);
        assert!(width > 8 && width < 30, "{width}");
        assert!(painter.line_height(14) >= 14);
        painter.draw(&mut pixels, size, (2, 2), "Hi", 14, 0x00ff_ffff);
        assert!(pixels.contains(&0x00ff_ffff), "solid strokes");
        // Partly or wholly off the buffer: clipped, no panic.
        painter.draw(&mut pixels, size, (-5, -8), "Hello", 14, 0x00ff_0000);
        painter.draw(&mut pixels, size, (55, 15), "Hello", 14, 0x00ff_0000);
        painter.draw(&mut pixels, size, (500, 500), "é…", 14, 0x00ff_0000);
    }

    #[test]
    fn mixing_is_per_channel() {
        assert_eq!(mix(0x0000_0000, 0x00ff_8040, 255), 0x00ff_8040);
        assert_eq!(mix(0x0012_3456, 0x00ff_ffff, 0), 0x0012_3456);
        assert_eq!(mix(0x0000_0000, 0x00ff_ffff, 128), 0x0080_8080);
    }
}
