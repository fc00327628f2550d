//! The bench scenes: deterministic pictures, a pure function of the scene and its frame
//! number, so that the probe can render the exact source of any frame it decoded.
//!
//! Contract: never reads the clock and never touches X; [`Scene::render`] gives frame `n`
//! from scratch and [`Scene::step`] turns frame `n - 1` into frame `n` with the same pixels,
//! returning the rectangles it changed (what the drawer sends to X). The timestamp code is
//! painted on top by the caller ([`super::code`]).

use std::fmt;

use clap::ValueEnum;
use sos_branding::ui::{Canvas, TextPainter};
pub use sos_desk::window::viewport::Rect;

/// Which scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum SceneKind {
    /// A still desktop: one paint, then nothing changes.
    Idle,
    /// Ten characters per second typed into a text area.
    Typing,
    /// The typing scene driven by the technician: every key the probe sends through
    /// sosdesk (ten per second) types the next character. Measures input to pixel.
    Echo,
    /// A text area scrolling by 12 pixels per frame, 30 frames per second.
    Scrolling,
    /// A 640x360 window of moving video-like content, 30 frames per second.
    Video,
    /// The whole screen changing, 30 frames per second.
    FullMotion,
}

impl SceneKind {
    /// Every scene, in report order.
    pub const ALL: [SceneKind; 6] = [
        Self::Idle,
        Self::Typing,
        Self::Echo,
        Self::Scrolling,
        Self::Video,
        Self::FullMotion,
    ];

    /// The name on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Typing => "typing",
            Self::Echo => "echo",
            Self::Scrolling => "scrolling",
            Self::Video => "video",
            Self::FullMotion => "full-motion",
        }
    }

    /// Frames per second the scene changes at by itself; 0 for a still scene (echo changes
    /// on key presses only).
    pub fn fps(self) -> f64 {
        match self {
            Self::Idle | Self::Echo => 0.0,
            Self::Typing => 10.0,
            Self::Scrolling | Self::Video | Self::FullMotion => 30.0,
        }
    }
}

impl fmt::Display for SceneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

const TYPING_PX: u32 = 18;
const SCROLL_PX: u32 = 16;
const SCROLL_STEP: u64 = 12;
const PADDING: u32 = 12;
const WHITE: u32 = 0x00ff_ffff;
const INK: u32 = 0x0020_2428;
const TYPED: &str = "The quick brown fox jumps over the lazy dog. Support sessions start \
    with consent: the end user reads who asks and why, then allows or refuses. 0123456789 \
    Pack my box with five dozen liquor jugs! ";
const WORDS: &[&str] = &[
    "gateway",
    "session",
    "frame",
    "latency",
    "encoder",
    "viewer",
    "consent",
    "relay",
    "the",
    "a",
    "of",
    "screen",
    "keyboard",
    "mouse",
    "technician",
    "network",
    "packet",
    "stream",
    "decoder",
    "quality",
    "pixel",
    "window",
    "scroll",
    "text",
    "2048",
    "ok",
    "error:",
    "retry",
    "=>",
    "fn",
    "let",
    "match",
    "{",
    "}",
    "(x, y)",
    "42",
    "#[test]",
];

/// A scene on a screen of a given size.
pub struct Scene {
    kind: SceneKind,
    width: u32,
    height: u32,
    background: Vec<u8>,
    painter: TextPainter,
    /// The text area of the text scenes, as 0RGB pixels (what the painter draws on).
    text: Vec<u32>,
    sine: [u8; 256],
}

impl fmt::Debug for Scene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scene")
            .field("kind", &self.kind)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl Scene {
    /// The scene `kind` on a `width` x `height` screen.
    pub fn new(kind: SceneKind, width: u32, height: u32) -> Result<Self, String> {
        let mut sine = [0_u8; 256];
        for (index, value) in sine.iter_mut().enumerate() {
            let angle = index as f64 / 256.0 * std::f64::consts::TAU;
            *value = (127.5 + 127.5 * angle.sin()).round() as u8;
        }
        Ok(Self {
            kind,
            width,
            height,
            background: sos_codec::synthetic::desktop(width, height, 7),
            painter: TextPainter::new()?,
            text: Vec::new(),
            sine,
        })
    }

    /// Bytes per row of the pictures.
    pub fn stride(&self) -> usize {
        self.width as usize * 4
    }

    /// The whole screen.
    pub fn screen(&self) -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: self.width,
            height: self.height,
        }
    }

    /// Frame `n` from scratch into `bgra` (resized to the screen).
    pub fn render(&mut self, n: u64, bgra: &mut Vec<u8>) {
        bgra.clear();
        bgra.extend_from_slice(&self.background);
        match self.kind {
            SceneKind::Idle => {
                let area = self.text_area();
                self.type_page(0, 600);
                self.blit_text(area, area, bgra);
            }
            SceneKind::Typing | SceneKind::Echo => {
                let area = self.text_area();
                let per_page = self.per_page();
                let start = n.saturating_sub(1) / per_page * per_page;
                self.type_page(start, n);
                self.blit_text(area, area, bgra);
            }
            SceneKind::Scrolling => self.scroll(n, bgra),
            SceneKind::Video => self.plasma(self.video_area(), n, 1, bgra),
            SceneKind::FullMotion => self.plasma(self.screen(), n, 2, bgra),
        }
    }

    /// Turns frame `n - 1` (in `bgra`) into frame `n`; returns what changed.
    pub fn step(&mut self, n: u64, bgra: &mut Vec<u8>) -> Vec<Rect> {
        match self.kind {
            SceneKind::Idle => Vec::new(),
            SceneKind::Typing | SceneKind::Echo => {
                let area = self.text_area();
                let per_page = self.per_page();
                let typed = n.saturating_sub(1);
                if n == 0 || typed.is_multiple_of(per_page) || self.text.is_empty() {
                    self.render(n, bgra);
                    return vec![area];
                }
                let cell = self.draw_char(typed);
                self.blit_text(area, cell, bgra);
                vec![cell]
            }
            SceneKind::Scrolling => {
                self.scroll(n, bgra);
                vec![self.scroll_area()]
            }
            SceneKind::Video => {
                let area = self.video_area();
                self.plasma(area, n, 1, bgra);
                vec![area]
            }
            SceneKind::FullMotion => {
                self.plasma(self.screen(), n, 2, bgra);
                vec![self.screen()]
            }
        }
    }

    fn text_area(&self) -> Rect {
        Rect {
            x: self.width / 12,
            y: self.height / 9,
            width: self.width * 2 / 3,
            height: self.height * 2 / 3,
        }
    }

    fn scroll_area(&self) -> Rect {
        Rect {
            x: self.width / 12,
            y: self.height / 18,
            width: self.width * 5 / 6,
            height: self.height * 5 / 6,
        }
    }

    fn video_area(&self) -> Rect {
        let (width, height) = (640.min(self.width), 360.min(self.height));
        Rect {
            x: self.width.saturating_sub(width + self.width / 16),
            y: self.height.saturating_sub(height + self.height / 8),
            width,
            height,
        }
    }

    fn advance(&mut self, px: u32) -> u32 {
        self.painter.width("M", px).max(1)
    }

    /// Characters per page of the typing area.
    fn per_page(&mut self) -> u64 {
        let area = self.text_area();
        let advance = self.advance(TYPING_PX);
        let line = self.painter.line_height(TYPING_PX).max(1);
        let columns = area.width.saturating_sub(2 * PADDING) / advance;
        let rows = area.height.saturating_sub(2 * PADDING) / line;
        u64::from((columns * rows).max(1))
    }

    /// Clears the text area and types characters `start..end` of the text into it.
    fn type_page(&mut self, start: u64, end: u64) {
        let area = self.text_area();
        self.text.clear();
        self.text
            .resize(area.width as usize * area.height as usize, WHITE);
        for index in start..end {
            self.draw_char(index);
        }
    }

    /// Draws the `index`th typed character; returns its cell on the screen.
    fn draw_char(&mut self, index: u64) -> Rect {
        let area = self.text_area();
        let per_page = self.per_page();
        let advance = self.advance(TYPING_PX);
        let line = self.painter.line_height(TYPING_PX).max(1);
        let columns = u64::from((area.width.saturating_sub(2 * PADDING) / advance).max(1));
        let slot = index % per_page;
        let x = PADDING + (slot % columns) as u32 * advance;
        let y = PADDING + (slot / columns) as u32 * line;
        let bytes = TYPED.as_bytes();
        let c = char::from(bytes[(index % bytes.len() as u64) as usize]);
        if let Some(mut canvas) = Canvas::new(&mut self.text, area.width, area.height) {
            self.painter.draw(
                &mut canvas,
                (x as i32, y as i32),
                &c.to_string(),
                TYPING_PX,
                INK,
            );
        }
        // Glyphs may overhang their cell by a pixel or two.
        let left = x.saturating_sub(2);
        let top = y.saturating_sub(2);
        Rect {
            x: area.x + left,
            y: area.y + top,
            width: (advance + 4).min(area.width - left),
            height: (line + 4).min(area.height - top),
        }
    }

    /// Copies `part` (screen coordinates, inside `area`) of the text buffer into `bgra`.
    fn blit_text(&self, area: Rect, part: Rect, bgra: &mut [u8]) {
        let stride = self.stride();
        for y in part.y..part.y + part.height {
            let source = (y - area.y) as usize * area.width as usize + (part.x - area.x) as usize;
            let pixels = &self.text[source..source + part.width as usize];
            let start = y as usize * stride + part.x as usize * 4;
            for (out, pixel) in bgra[start..start + part.width as usize * 4]
                .chunks_exact_mut(4)
                .zip(pixels)
            {
                out.copy_from_slice(&[
                    *pixel as u8,
                    (*pixel >> 8) as u8,
                    (*pixel >> 16) as u8,
                    255,
                ]);
            }
        }
    }

    fn scroll(&mut self, n: u64, bgra: &mut [u8]) {
        let area = self.scroll_area();
        self.text.clear();
        self.text
            .resize(area.width as usize * area.height as usize, WHITE);
        let line = u64::from(self.painter.line_height(SCROLL_PX).max(1));
        let offset = n * SCROLL_STEP;
        let first = offset / line;
        let Some(mut canvas) = Canvas::new(&mut self.text, area.width, area.height) else {
            return;
        };
        let mut index = first;
        loop {
            let y = (index * line) as i64 - offset as i64;
            if y >= i64::from(area.height) {
                break;
            }
            let text = line_text(index);
            self.painter.draw(
                &mut canvas,
                (PADDING as i32, y as i32),
                &text,
                SCROLL_PX,
                INK,
            );
            index += 1;
        }
        self.blit_text(area, area, bgra);
    }

    /// Smooth moving colour waves, like camera video; `scale` widens them.
    fn plasma(&self, area: Rect, n: u64, scale: u32, bgra: &mut [u8]) {
        let stride = self.stride();
        let sine = &self.sine;
        let t = n as usize;
        let wave = |index: usize| usize::from(sine[index & 255]);
        // A bright ball bouncing across the area.
        let ball_x = (wave(t * 3) * area.width as usize / 256) as i64;
        let ball_y = (wave(t * 2 + 64) * area.height as usize / 256) as i64;
        let radius = i64::from(area.height / 8);
        for y in 0..area.height as usize {
            let row_wave = wave(y / scale as usize * 3 / 2 + t * 2);
            let start = (area.y as usize + y) * stride + area.x as usize * 4;
            let row = &mut bgra[start..start + area.width as usize * 4];
            for (x, pixel) in row.chunks_exact_mut(4).enumerate() {
                let xs = x / scale as usize;
                let v =
                    (wave(xs * 2 + t * 3) + row_wave + wave((xs + y / scale as usize) + t * 5)) / 3;
                let (dx, dy) = (x as i64 - ball_x, y as i64 - ball_y);
                if dx * dx + dy * dy < radius * radius {
                    pixel.copy_from_slice(&[40, 220, 250, 255]);
                } else {
                    pixel.copy_from_slice(&[
                        sine[(v + 170) & 255],
                        sine[(v + 85) & 255],
                        sine[(v + t) & 255],
                        255,
                    ]);
                }
            }
        }
    }
}

/// The `index`th line of the scrolling text: words picked by a hash of the index.
fn line_text(index: u64) -> String {
    let mut state = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut text = format!("{index:>6}  ");
    let words = 6 + (state % 12) as usize;
    for _ in 0..words {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
        text.push(' ');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDTH: u32 = 1920;
    const HEIGHT: u32 = 1080;

    #[test]
    fn stepping_gives_the_same_pixels_as_rendering() {
        for kind in SceneKind::ALL {
            let mut drawer = Scene::new(kind, WIDTH, HEIGHT).unwrap();
            let mut reference = Scene::new(kind, WIDTH, HEIGHT).unwrap();
            let mut stepped = Vec::new();
            drawer.render(0, &mut stepped);
            let mut rendered = Vec::new();
            for n in 1..4 {
                drawer.step(n, &mut stepped);
                reference.render(n, &mut rendered);
                assert!(stepped == rendered, "{kind} frame {n}");
            }
        }
    }

    #[test]
    fn a_typing_page_break_repaints_the_area() {
        let mut scene = Scene::new(SceneKind::Typing, WIDTH, HEIGHT).unwrap();
        let per_page = scene.per_page();
        let mut stepped = Vec::new();
        scene.render(per_page, &mut stepped);
        let changed = scene.step(per_page + 1, &mut stepped);
        assert_eq!(changed, vec![scene.text_area()]);
        let mut rendered = Vec::new();
        Scene::new(SceneKind::Typing, WIDTH, HEIGHT)
            .unwrap()
            .render(per_page + 1, &mut rendered);
        assert!(stepped == rendered);
    }

    #[test]
    fn moving_scenes_change_every_frame_and_idle_never() {
        for kind in SceneKind::ALL {
            let mut scene = Scene::new(kind, WIDTH, HEIGHT).unwrap();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            scene.render(5, &mut a);
            scene.render(6, &mut b);
            assert_eq!(a != b, kind != SceneKind::Idle, "{kind}");
        }
    }
}
