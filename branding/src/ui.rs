//! The look shared by sosdesk's windows (the end user's app and the technician's viewer):
//! the bundled font (DejaVu Sans, `branding/assets/`, licence alongside), text drawn with
//! it, and plain shapes, all into a 0RGB pixel buffer (one `u32` per pixel, row after row,
//! as softbuffer presents it).
//!
//! Contract: draws only inside the buffer it is given (everything is clipped); a buffer
//! shorter than its stated size is left alone; never allocates more than one bitmap per
//! character and size shown.

use crate::Colour;
use fontdue::{Font, FontSettings, Metrics};
use std::collections::HashMap;

/// DejaVu Sans, the one font of every sosdesk window.
pub const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl Rect {
    /// Whether (`x`, `y`) lies inside.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        x >= f64::from(self.x)
            && y >= f64::from(self.y)
            && x < f64::from(self.x) + f64::from(self.width)
            && y < f64::from(self.y) + f64::from(self.height)
    }
}

impl Colour {
    /// As a 0RGB pixel.
    pub fn pixel(self) -> u32 {
        let [r, g, b] = self.0;
        (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b)
    }
}

/// A 0RGB pixel buffer of `width` x `height` to draw on.
#[derive(Debug)]
pub struct Canvas<'a> {
    pixels: &'a mut [u32],
    width: u32,
    height: u32,
}

impl<'a> Canvas<'a> {
    /// The first `width * height` pixels of `pixels`; `None` when there are fewer.
    pub fn new(pixels: &'a mut [u32], width: u32, height: u32) -> Option<Self> {
        let area = width as usize * height as usize;
        let pixels = pixels.get_mut(..area)?;
        Some(Self {
            pixels,
            width,
            height,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels, row after row.
    pub fn pixels(&mut self) -> &mut [u32] {
        self.pixels
    }

    /// The part of `rect` inside the buffer, as index ranges row by row.
    fn rows(&self, rect: Rect) -> impl Iterator<Item = std::ops::Range<usize>> + use<> {
        let x0 = rect.x.min(self.width) as usize;
        let x1 = rect.x.saturating_add(rect.width).min(self.width) as usize;
        let y0 = rect.y.min(self.height) as usize;
        let y1 = rect.y.saturating_add(rect.height).min(self.height) as usize;
        let stride = self.width as usize;
        (y0..y1).map(move |y| y * stride + x0..y * stride + x1)
    }

    /// Fills `rect` with `color` (0RGB).
    pub fn fill(&mut self, rect: Rect, color: u32) {
        for range in self.rows(rect) {
            self.pixels[range].fill(color);
        }
    }

    /// Puts `color` over `rect` with `alpha` (0..=255) coverage.
    pub fn blend(&mut self, rect: Rect, color: u32, alpha: u8) {
        for range in self.rows(rect) {
            for pixel in &mut self.pixels[range] {
                *pixel = mix(*pixel, color, alpha);
            }
        }
    }

    /// A `thickness`-pixel border just inside `rect`.
    pub fn outline(&mut self, rect: Rect, thickness: u32, color: u32) {
        let t = thickness.min(rect.width / 2).min(rect.height / 2);
        let bottom = rect.y + rect.height.saturating_sub(t);
        let right = rect.x + rect.width.saturating_sub(t);
        for band in [
            Rect { height: t, ..rect },
            Rect {
                y: bottom,
                height: t,
                ..rect
            },
            Rect { width: t, ..rect },
            Rect {
                x: right,
                width: t,
                ..rect
            },
        ] {
            self.fill(band, color);
        }
    }

    /// Fills everything but `keep` with `color`.
    pub fn fill_around(&mut self, keep: Rect, color: u32) {
        let (w, h) = (self.width, self.height);
        let bottom = keep.y.saturating_add(keep.height).min(h);
        let right = keep.x.saturating_add(keep.width).min(w);
        let middle = bottom.saturating_sub(keep.y);
        for band in [
            Rect {
                x: 0,
                y: 0,
                width: w,
                height: keep.y,
            },
            Rect {
                x: 0,
                y: bottom,
                width: w,
                height: h - bottom,
            },
            Rect {
                x: 0,
                y: keep.y,
                width: keep.x,
                height: middle,
            },
            Rect {
                x: right,
                y: keep.y,
                width: w - right,
                height: middle,
            },
        ] {
            self.fill(band, color);
        }
    }
}

/// A decoded logo: 8-bit straight-alpha RGBA, row after row.
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logo({}x{})", self.width, self.height)
    }
}

/// Largest logo side decoded (the branding validator allows 1024).
const MAX_LOGO_SIDE: u32 = 1024;

impl Logo {
    /// Decodes a PNG (any colour type, 8 or 16 bits, palette expanded).
    pub fn decode(png_bytes: &[u8]) -> Result<Self, String> {
        let mut decoder = png::Decoder::new(png_bytes);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder
            .read_info()
            .map_err(|e| format!("the logo is not a PNG: {e}"))?;
        let (width, height) = (reader.info().width, reader.info().height);
        if width == 0 || height == 0 || width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE {
            return Err(format!(
                "the logo is {width}x{height}; at most {MAX_LOGO_SIDE} a side"
            ));
        }
        let mut buffer = vec![0; reader.output_buffer_size()];
        let frame = reader
            .next_frame(&mut buffer)
            .map_err(|e| format!("the logo does not decode: {e}"))?;
        let pixels = buffer.get(..frame.buffer_size()).unwrap_or_default();
        let rgba: Vec<u8> = match frame.color_type {
            png::ColorType::Rgba => pixels.to_vec(),
            png::ColorType::Rgb => pixels
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            png::ColorType::GrayscaleAlpha => pixels
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
            png::ColorType::Grayscale => pixels.iter().flat_map(|&g| [g, g, g, 255]).collect(),
            png::ColorType::Indexed => return Err("the logo's palette was not expanded".into()),
        };
        if rgba.len() != width as usize * height as usize * 4 {
            return Err("the logo's pixels do not match its size".into());
        }
        Ok(Self {
            width,
            height,
            rgba,
        })
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The width it has when drawn `height` pixels high.
    pub fn width_at(&self, height: u32) -> u32 {
        (u64::from(self.width) * u64::from(height) / u64::from(self.height.max(1))) as u32
    }
}

impl Canvas<'_> {
    /// Draws `logo` scaled to `height` pixels high with its top-left corner at (`x`, `y`),
    /// each target pixel the average of the source pixels it covers, blended by alpha.
    pub fn logo(&mut self, logo: &Logo, (x, y): (u32, u32), height: u32) {
        let width = logo.width_at(height);
        for ty in 0..height.min(self.height.saturating_sub(y)) {
            let sy0 = u64::from(ty) * u64::from(logo.height) / u64::from(height);
            let sy1 = (u64::from(ty + 1) * u64::from(logo.height) / u64::from(height)).max(sy0 + 1);
            for tx in 0..width.min(self.width.saturating_sub(x)) {
                let sx0 = u64::from(tx) * u64::from(logo.width) / u64::from(width);
                let sx1 =
                    (u64::from(tx + 1) * u64::from(logo.width) / u64::from(width)).max(sx0 + 1);
                let mut sum = [0u64; 4];
                for sy in sy0..sy1 {
                    for sx in sx0..sx1 {
                        let at = ((sy * u64::from(logo.width) + sx) * 4) as usize;
                        let alpha = u64::from(logo.rgba[at + 3]);
                        for (total, &value) in sum.iter_mut().zip(&logo.rgba[at..at + 3]) {
                            *total += u64::from(value) * alpha;
                        }
                        sum[3] += alpha;
                    }
                }
                let count = (sy1 - sy0) * (sx1 - sx0);
                if sum[3] == 0 {
                    continue;
                }
                let channel = |c: usize| (sum[c] / sum[3]) as u32;
                let color = (channel(0) << 16) | (channel(1) << 8) | channel(2);
                let alpha = (sum[3] / count) as u8;
                let index = ((y + ty) * self.width + x + tx) as usize;
                if let Some(pixel) = self.pixels.get_mut(index) {
                    *pixel = mix(*pixel, color, alpha);
                }
            }
        }
    }
}

/// Rasterizes and caches glyphs of [`FONT`], measures and draws lines of text.
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

    /// Cuts `text` into lines at most `max_width` wide at `px`, breaking between words
    /// (a word wider than the line gets a line of its own) and at line breaks.
    pub fn wrap(&mut self, text: &str, px: u32, max_width: u32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if line.is_empty() || self.width(&candidate, px) <= max_width {
                    line = candidate;
                } else {
                    lines.push(std::mem::replace(&mut line, word.to_string()));
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Draws `text` with its top-left corner at (`x`, `y`) in `color` (0RGB).
    pub fn draw(
        &mut self,
        canvas: &mut Canvas<'_>,
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
            blend_glyph(canvas, (left, top), metrics.width, coverage, color);
            pen += metrics.advance_width;
        }
    }

    /// Draws `text` centred in `rect`.
    pub fn draw_centred(
        &mut self,
        canvas: &mut Canvas<'_>,
        rect: Rect,
        text: &str,
        px: u32,
        color: u32,
    ) {
        let width = self.width(text, px);
        let height = self.line_height(px);
        let x = i64::from(rect.x) + (i64::from(rect.width) - i64::from(width)) / 2;
        let y = i64::from(rect.y) + (i64::from(rect.height) - i64::from(height)) / 2;
        let clamp = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
        self.draw(canvas, (clamp(x), clamp(y)), text, px, color);
    }
}

fn blend_glyph(
    canvas: &mut Canvas<'_>,
    (left, top): (i64, i64),
    width: usize,
    coverage: &[u8],
    color: u32,
) {
    if width == 0 {
        return;
    }
    let (w, h) = (i64::from(canvas.width), i64::from(canvas.height));
    for (row, line) in coverage.chunks_exact(width).enumerate() {
        let y = top + row as i64;
        if y < 0 || y >= h {
            continue;
        }
        for (col, &alpha) in line.iter().enumerate() {
            let x = left + col as i64;
            if alpha == 0 || x < 0 || x >= w {
                continue;
            }
            if let Some(pixel) = canvas.pixels.get_mut((y * w + x) as usize) {
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
        let mut pixels = vec![0u32; 60 * 20];
        let mut canvas = Canvas::new(&mut pixels, 60, 20).unwrap();
        let width = painter.width("Hi", 14);
        assert!(width > 8 && width < 30, "{width}");
        assert!(painter.line_height(14) >= 14);
        painter.draw(&mut canvas, (2, 2), "Hi", 14, 0x00ff_ffff);
        assert!(canvas.pixels().contains(&0x00ff_ffff), "solid strokes");
        // Partly or wholly off the buffer: clipped, no panic.
        painter.draw(&mut canvas, (-5, -8), "Hello", 14, 0x00ff_0000);
        painter.draw(&mut canvas, (55, 15), "Hello", 14, 0x00ff_0000);
        painter.draw(&mut canvas, (500, 500), "é…", 14, 0x00ff_0000);
    }

    #[test]
    fn mixing_is_per_channel() {
        assert_eq!(mix(0x0000_0000, 0x00ff_8040, 255), 0x00ff_8040);
        assert_eq!(mix(0x0012_3456, 0x00ff_ffff, 0), 0x0012_3456);
        assert_eq!(mix(0x0000_0000, 0x00ff_ffff, 128), 0x0080_8080);
    }

    #[test]
    fn shapes_are_clipped_and_short_buffers_refused() {
        let mut pixels = vec![0u32; 4 * 3];
        let mut canvas = Canvas::new(&mut pixels, 4, 3).unwrap();
        canvas.fill(
            Rect {
                x: 2,
                y: 1,
                width: 10,
                height: 10,
            },
            1,
        );
        canvas.outline(
            Rect {
                x: 0,
                y: 0,
                width: 2,
                height: 2,
            },
            1,
            2,
        );
        assert_eq!(pixels, [2, 2, 0, 0, 2, 2, 1, 1, 0, 0, 1, 1]);
        let mut short = vec![0u32; 3];
        assert!(Canvas::new(&mut short, 4, 3).is_none());
    }

    #[test]
    fn fill_around_keeps_the_middle() {
        let mut pixels = vec![0u32; 9];
        let mut canvas = Canvas::new(&mut pixels, 3, 3).unwrap();
        canvas.fill_around(
            Rect {
                x: 1,
                y: 1,
                width: 1,
                height: 1,
            },
            5,
        );
        assert_eq!(pixels, [5, 5, 5, 5, 0, 5, 5, 5, 5]);
    }

    #[test]
    fn long_text_wraps_between_words() {
        let mut painter = TextPainter::new().unwrap();
        let lines = painter.wrap("Only allow this if you contacted Acme yourself", 16, 150);
        assert!(lines.len() >= 2, "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "Only allow this if you contacted Acme yourself"
        );
        for line in &lines {
            assert!(
                painter.width(line, 16) <= 150 || !line.contains(' '),
                "{line}"
            );
        }
        assert_eq!(painter.wrap("a\nb", 16, 500), ["a", "b"]);
    }

    /// A `w`x`h` RGBA PNG of one colour.
    fn png_of(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let data: Vec<u8> = (0..w * h).flat_map(|_| rgba).collect();
        writer.write_image_data(&data).unwrap();
        drop(writer);
        bytes
    }

    #[test]
    fn a_logo_is_decoded_scaled_and_blended() {
        let logo = Logo::decode(&png_of(64, 32, [255, 0, 0, 255])).unwrap();
        assert_eq!(logo.size(), (64, 32));
        assert_eq!(logo.width_at(16), 32);
        let mut pixels = vec![0x00ff_ffffu32; 40 * 20];
        let mut canvas = Canvas::new(&mut pixels, 40, 20).unwrap();
        canvas.logo(&logo, (2, 2), 16);
        assert_eq!(pixels[2 * 40 + 2], 0x00ff_0000);
        assert_eq!(pixels[17 * 40 + 33], 0x00ff_0000);
        assert_eq!(
            pixels[18 * 40 + 34],
            0x00ff_ffff,
            "nothing outside the logo"
        );
        // Half-transparent: blended with what is under it; off the canvas: clipped.
        let ghost = Logo::decode(&png_of(4, 4, [0, 0, 0, 128])).unwrap();
        canvas = Canvas::new(&mut pixels, 40, 20).unwrap();
        canvas.logo(&ghost, (36, 0), 8);
        assert_eq!(pixels[36], 0x007f_7f7f);
        assert!(Logo::decode(b"not a png").is_err());
    }

    #[test]
    fn colours_become_pixels() {
        assert_eq!(Colour([0x12, 0x34, 0x56]).pixel(), 0x0012_3456);
        assert!(
            Rect {
                x: 1,
                y: 1,
                width: 2,
                height: 2
            }
            .contains(2.9, 1.0)
        );
        assert!(
            !Rect {
                x: 1,
                y: 1,
                width: 2,
                height: 2
            }
            .contains(3.0, 1.0)
        );
    }
}
