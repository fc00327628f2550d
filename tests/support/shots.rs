//! Screenshots of windows as test artefacts (PNG under `target/test-artefacts/`) and the
//! pixel checks that prove what a window draws.

use std::path::PathBuf;

/// A captured window: packed BGRA, alpha 255.
pub struct Shot {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Pixels.
    pub bgra: Vec<u8>,
}

impl Shot {
    /// The (B, G, R) of pixel (`x`, `y`).
    pub fn bgr(&self, x: u32, y: u32) -> [u8; 3] {
        let at = ((y * self.width + x) * 4) as usize;
        [self.bgra[at], self.bgra[at + 1], self.bgra[at + 2]]
    }

    /// How many pixels of the `w`x`h` area at (`x`, `y`) are within 40 of `rgb` in every
    /// channel (antialiased text edges are not exact).
    pub fn count_near(&self, (x, y, w, h): (u32, u32, u32, u32), rgb: [u8; 3]) -> usize {
        let near = |a: u8, b: u8| a.abs_diff(b) <= 40;
        (y..y + h)
            .flat_map(|row| (x..x + w).map(move |col| (col, row)))
            .filter(|&(col, row)| {
                let [b, g, r] = self.bgr(col, row);
                near(r, rgb[0]) && near(g, rgb[1]) && near(b, rgb[2])
            })
            .count()
    }

    /// Saves the shot as `target/test-artefacts/<name>.png`; returns the path.
    pub fn save(&self, name: &str) -> PathBuf {
        let dir = super::bin_dir()
            .parent()
            .expect("target folder")
            .join("test-artefacts");
        std::fs::create_dir_all(&dir).expect("create target/test-artefacts");
        let mut rgba = Vec::with_capacity(self.bgra.len());
        for px in self.bgra.chunks_exact(4) {
            rgba.extend_from_slice(&[px[2], px[1], px[0], 255]);
        }
        let size = tiny_skia::IntSize::from_wh(self.width, self.height).expect("non-empty shot");
        let pixmap = tiny_skia::Pixmap::from_vec(rgba, size).expect("pixmap of the shot");
        let path = dir.join(format!("{name}.png"));
        pixmap.save_png(&path).expect("write the PNG artefact");
        eprintln!("screenshot: {}", path.display());
        path
    }
}
