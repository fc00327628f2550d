//! Deterministic synthetic desktop screenshots for tests and benchmarks.
//!
//! Contract: the same arguments always give the same bytes (no randomness from the system, no
//! clock); the picture mixes what real desktops contain — a smooth gradient wallpaper, solid
//! windows and bars, and text-like glyphs with one-pixel strokes (mostly dark on light, some
//! coloured links).

/// Glyph cell width in pixels (glyph plus spacing).
const CELL_WIDTH: usize = 7;
/// Glyph cell height in pixels (line height).
const CELL_HEIGHT: usize = 13;

/// A packed BGRA desktop-like picture of `width` x `height` (stride `width * 4`, A = 255);
/// `seed` varies window placement and text.
#[must_use]
pub fn desktop(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut canvas = Canvas::new(width as usize, height as usize);
    let mut rng = XorShift(seed.wrapping_mul(2_654_435_761).max(1));
    canvas.wallpaper();
    let (w, h) = (canvas.width, canvas.height);
    // Taskbar with a few solid buttons.
    canvas.fill(0, h.saturating_sub(h / 24 + 8), w, h, [40, 36, 32]);
    for i in 0..8 {
        let left = 8 + i * (w / 12).max(1);
        canvas.fill(
            left,
            h.saturating_sub(h / 24 + 4),
            left + w / 14,
            h.saturating_sub(4),
            [90, 80, 70],
        );
    }
    // Overlapping windows with title bars and text; too small a screen shows wallpaper only.
    let windows = if w >= 160 && h >= 120 { 4 } else { 0 };
    for _ in 0..windows {
        // Layout snaps to an 8-pixel grid, as UI toolkits do at 100% scaling.
        let win_w = (w / 3 + rng.below(w / 3 + 1)) & !7;
        let win_h = (h / 3 + rng.below(h / 3 + 1)) & !7;
        let left = rng.below(w.saturating_sub(win_w) + 1) & !7;
        let top = rng.below(h.saturating_sub(win_h + h / 24 + 8) + 1) & !7;
        canvas.window(left, top, win_w, win_h, &mut rng);
    }
    canvas.pixels
}

/// Minimal xorshift generator so the output never depends on anything but the seed.
struct XorShift(u32);

impl XorShift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A value in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.next() as usize % n }
    }
}

struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![255; width * height * 4],
        }
    }

    fn set(&mut self, x: usize, y: usize, [b, g, r]: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 4;
            self.pixels[i..i + 3].copy_from_slice(&[b, g, r]);
        }
    }

    fn fill(&mut self, left: usize, top: usize, right: usize, bottom: usize, colour: [u8; 3]) {
        for y in top..bottom.min(self.height) {
            for x in left..right.min(self.width) {
                self.set(x, y, colour);
            }
        }
    }

    fn wallpaper(&mut self) {
        let span = (self.width + self.height).max(1);
        for y in 0..self.height {
            for x in 0..self.width {
                let t = (x + y) * 255 / span;
                let u = y * 255 / self.height.max(1);
                // Values stay within 0..=255 by construction.
                self.set(
                    x,
                    y,
                    [
                        (200 - t * 120 / 255) as u8,
                        (60 + u / 3) as u8,
                        (30 + t / 2) as u8,
                    ],
                );
            }
        }
    }

    fn window(&mut self, left: usize, top: usize, w: usize, h: usize, rng: &mut XorShift) {
        let (right, bottom) = (left + w, top + h);
        self.fill(left, top, right, bottom, [90, 90, 90]);
        self.fill(left + 1, top + 1, right - 1, bottom - 1, [250, 250, 250]);
        let title = 24.min(h / 4) & !1;
        self.fill(left + 1, top + 1, right - 1, top + title, [235, 235, 235]);
        // Coloured accent line under the title bar.
        self.fill(
            left + 1,
            top + title,
            right - 1,
            top + title + 4,
            [200, 120, 0],
        );
        self.text_line(
            left + 8,
            top + title / 2 - 4,
            right - 40,
            [255, 255, 255],
            rng,
        );
        // Window buttons.
        for i in 0..3 {
            let x = right - 12 - i * 12;
            self.fill(x - 8, top + 6, x, top + title - 6, [60, 60, 220]);
        }
        // Body text: mostly black, some links and highlights.
        let mut y = top + title + 10;
        while y + CELL_HEIGHT < bottom - 4 {
            // Mostly dark text, like documents and terminals; one line in sixteen is a link.
            let colour = match rng.below(16) {
                0 => [190, 90, 20],
                _ => [24, 24, 24],
            };
            let line_end = right - 8 - rng.below(w / 3 + 1);
            self.text_line(left + 8, y, line_end, colour, rng);
            y += CELL_HEIGHT;
        }
    }

    /// Draws pseudo-random 5x8 glyphs with one-pixel strokes, with word gaps.
    fn text_line(
        &mut self,
        left: usize,
        top: usize,
        right: usize,
        colour: [u8; 3],
        rng: &mut XorShift,
    ) {
        let mut x = left;
        while x + CELL_WIDTH <= right {
            if rng.below(7) == 0 {
                x += CELL_WIDTH;
                continue;
            }
            let bits = rng.next();
            for row in 0..8 {
                // Vertical stems on some rows, horizontal bars on others: glyph-like shapes.
                let pattern = match row {
                    0 | 4 | 7 => (bits >> (row * 3)) & 0b11111,
                    _ => ((bits >> row) & 0b10001) | ((bits >> (row + 8)) & 0b00100),
                };
                for col in 0..5 {
                    if pattern & (1 << col) != 0 {
                        self.set(x + col, top + row, colour);
                    }
                }
            }
            x += CELL_WIDTH;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a = desktop(320, 200, 7);
        assert_eq!(a.len(), 320 * 200 * 4);
        assert_eq!(a, desktop(320, 200, 7));
        assert_ne!(a, desktop(320, 200, 8));
        assert!(a.chunks_exact(4).all(|px| px[3] == 255));
    }

    #[test]
    fn small_and_odd_sizes_do_not_panic() {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (2, 3),
            (17, 9),
            (160, 120),
            (161, 121),
            (1000, 120),
        ] {
            for seed in 0..32 {
                assert_eq!(desktop(w, h, seed).len(), w as usize * h as usize * 4);
            }
        }
    }
}
