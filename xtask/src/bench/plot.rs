//! The bench's plots, as PNG: `latency.png` (the cumulative distribution of glass-to-glass
//! latency, one curve per scene and pipeline) and `bytes.png` (kbit/s per scene, a bar per
//! pipeline). Shapes with tiny-skia, labels with the viewer's bundled font.
//!
//! Contract: draws only what was measured; a scene without latencies has no curve.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use sos_branding::ui::{Canvas as TextCanvas, TextPainter};
use tiny_skia::{Paint, PathBuilder, Pixmap, Rect as SkRect, Stroke, StrokeDash, Transform};

use super::report::Bench;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 700;
const LEFT: f32 = 90.0;
const RIGHT: f32 = 300.0;
const TOP: f32 = 60.0;
const BOTTOM: f32 = 70.0;
const LABEL_PX: u32 = 16;
/// One colour per scene, in report order.
const COLOURS: [(u8, u8, u8); 5] = [
    (120, 120, 120),
    (31, 119, 180),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
];

/// The files [`write()`] makes: the live plots when scenes ran, the quality plot when the
/// codec comparison ran.
pub fn files(bench: &Bench, out: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if !bench.scenes.is_empty() {
        files.extend([out.join("latency.png"), out.join("bytes.png")]);
    }
    if !bench.codec.is_empty() {
        files.push(out.join("quality.png"));
    }
    files
}

/// Writes the plots into `out`.
pub fn write(bench: &Bench, out: &Path) -> Result<()> {
    let mut painter = TextPainter::new().map_err(anyhow::Error::msg)?;
    if !bench.scenes.is_empty() {
        let latency = latency(bench, &mut painter)?;
        latency.save(&out.join("latency.png"))?;
        let bytes = bytes(bench, &mut painter)?;
        bytes.save(&out.join("bytes.png"))?;
    }
    if !bench.codec.is_empty() {
        quality(bench, &mut painter)?.save(&out.join("quality.png"))?;
    }
    Ok(())
}

/// How a line is drawn: sosdesk solid, x264 dashed, x11vnc dotted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

impl Dash {
    fn of(pipeline: &str) -> Self {
        match pipeline {
            "sosdesk" => Self::Solid,
            "x264" => Self::Dashed,
            _ => Self::Dotted,
        }
    }
}

/// A picture being drawn: shapes first, then text on top.
struct Canvas {
    pixmap: Pixmap,
    labels: Vec<(f32, f32, String, u32)>,
}

impl Canvas {
    fn new() -> Result<Self> {
        let mut pixmap =
            Pixmap::new(WIDTH, HEIGHT).ok_or_else(|| anyhow!("cannot make a plot canvas"))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        Ok(Self {
            pixmap,
            labels: Vec::new(),
        })
    }

    fn line(&mut self, points: &[(f32, f32)], colour: (u8, u8, u8), width: f32, dash: Dash) {
        let mut builder = PathBuilder::new();
        for (index, &(x, y)) in points.iter().enumerate() {
            if index == 0 {
                builder.move_to(x, y);
            } else {
                builder.line_to(x, y);
            }
        }
        let Some(path) = builder.finish() else {
            return;
        };
        let mut paint = Paint::default();
        paint.set_color_rgba8(colour.0, colour.1, colour.2, 255);
        paint.anti_alias = true;
        let stroke = Stroke {
            width,
            dash: match dash {
                Dash::Solid => None,
                Dash::Dashed => StrokeDash::new(vec![10.0, 6.0], 0.0),
                Dash::Dotted => StrokeDash::new(vec![2.0, 5.0], 0.0),
            },
            ..Stroke::default()
        };
        self.pixmap
            .stroke_path(&path, &paint, &stroke, Transform::identity(), None);
    }

    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, colour: (u8, u8, u8)) {
        let Some(rect) = SkRect::from_xywh(x, y, width.max(0.5), height.max(0.5)) else {
            return;
        };
        let mut paint = Paint::default();
        paint.set_color_rgba8(colour.0, colour.1, colour.2, 255);
        self.pixmap
            .fill_rect(rect, &paint, Transform::identity(), None);
    }

    fn text(&mut self, x: f32, y: f32, text: impl Into<String>, px: u32) {
        self.labels.push((x, y, text.into(), px));
    }

    /// Axes with `ticks` labelled along both.
    fn axes(&mut self, x_ticks: &[(f32, String)], y_ticks: &[(f32, String)]) {
        let (x0, y0) = (LEFT, HEIGHT as f32 - BOTTOM);
        let (x1, y1) = (WIDTH as f32 - RIGHT, TOP);
        for (y, label) in y_ticks {
            self.line(&[(x0, *y), (x1, *y)], (225, 225, 225), 1.0, Dash::Solid);
            self.text(8.0, y - 9.0, label.clone(), LABEL_PX);
        }
        for (x, label) in x_ticks {
            self.text(x - 12.0, y0 + 10.0, label.clone(), LABEL_PX);
        }
        self.line(&[(x0, y1), (x0, y0), (x1, y0)], (0, 0, 0), 1.5, Dash::Solid);
    }

    fn save(self, path: &Path, painter: &mut TextPainter) -> Result<()> {
        // tiny-skia holds premultiplied RGBA; everything is opaque, so it is plain RGBA.
        let mut pixels: Vec<u32> = self
            .pixmap
            .data()
            .chunks_exact(4)
            .map(|p| (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2]))
            .collect();
        if let Some(mut canvas) = TextCanvas::new(&mut pixels, WIDTH, HEIGHT) {
            for (x, y, text, px) in &self.labels {
                painter.draw(&mut canvas, (*x as i32, *y as i32), text, *px, 0x0020_2020);
            }
        }
        let mut pixmap = self.pixmap;
        for (out, pixel) in pixmap.data_mut().chunks_exact_mut(4).zip(&pixels) {
            out.copy_from_slice(&[(pixel >> 16) as u8, (pixel >> 8) as u8, *pixel as u8, 255]);
        }
        pixmap
            .save_png(path)
            .with_context(|| format!("could not write {}", path.display()))
    }
}

/// A canvas with its painter, so that `save` needs no second argument at the call site.
struct Plot<'a> {
    canvas: Canvas,
    painter: &'a mut TextPainter,
}

impl Plot<'_> {
    fn save(self, path: &Path) -> Result<()> {
        self.canvas.save(path, self.painter)
    }
}

fn colour(scene: &str) -> (u8, u8, u8) {
    let index = super::scene::SceneKind::ALL
        .iter()
        .position(|kind| kind.name() == scene)
        .unwrap_or(0);
    COLOURS[index % COLOURS.len()]
}

fn latency<'a>(bench: &Bench, painter: &'a mut TextPainter) -> Result<Plot<'a>> {
    let mut canvas = Canvas::new()?;
    let mut all: Vec<f64> = bench
        .scenes
        .iter()
        .flat_map(|scene| &scene.pipelines)
        .flat_map(|run| run.probe.latency_ms.iter().copied())
        .collect();
    all.sort_by(f64::total_cmp);
    // The axis ends at the 99.5th percentile of everything, so one outlier does not squash
    // the curves.
    let top = super::report::percentile(&all, 99.5)
        .unwrap_or(100.0)
        .max(10.0);
    let step = nice_step(top / 6.0);
    let top = (top / step).ceil() * step;
    let (x0, x1) = (LEFT, WIDTH as f32 - RIGHT);
    let (y0, y1) = (HEIGHT as f32 - BOTTOM, TOP);
    let x_of = |ms: f64| x0 + ((ms / top).min(1.0) as f32) * (x1 - x0);
    let y_of = |fraction: f64| y0 - fraction as f32 * (y0 - y1);
    let x_ticks: Vec<(f32, String)> = (0..=(top / step) as u32)
        .map(|i| {
            (
                x_of(f64::from(i) * step),
                format!("{}", f64::from(i) * step),
            )
        })
        .collect();
    let y_ticks: Vec<(f32, String)> = (0..=4)
        .map(|i| (y_of(f64::from(i) / 4.0), format!("{}%", i * 25)))
        .collect();
    canvas.axes(&x_ticks, &y_ticks);
    canvas.text(
        LEFT,
        16.0,
        "Glass-to-glass latency, cumulative share of frames (solid: sosdesk, dashed: x264, dotted: x11vnc)",
        18,
    );
    canvas.text(
        (x0 + x1) / 2.0 - 60.0,
        HEIGHT as f32 - 32.0,
        "latency (ms)",
        LABEL_PX,
    );
    let mut legend_y = TOP;
    for scene in &bench.scenes {
        for run in &scene.pipelines {
            let mut sorted = run.probe.latency_ms.clone();
            if sorted.is_empty() {
                continue;
            }
            sorted.sort_by(f64::total_cmp);
            let count = sorted.len() as f64;
            let mut points = vec![(x_of(sorted[0]), y_of(0.0))];
            for (index, value) in sorted.iter().enumerate() {
                points.push((x_of(*value), y_of((index + 1) as f64 / count)));
            }
            let dash = Dash::of(&run.pipeline);
            let colour = colour(&scene.scene);
            canvas.line(&points, colour, 2.5, dash);
            let legend_x = WIDTH as f32 - RIGHT + 20.0;
            canvas.line(
                &[
                    (legend_x, legend_y + 10.0),
                    (legend_x + 40.0, legend_y + 10.0),
                ],
                colour,
                2.5,
                dash,
            );
            canvas.text(
                legend_x + 50.0,
                legend_y,
                format!("{} {}", scene.scene, run.pipeline),
                LABEL_PX,
            );
            legend_y += 26.0;
        }
    }
    Ok(Plot { canvas, painter })
}

fn bytes<'a>(bench: &Bench, painter: &'a mut TextPainter) -> Result<Plot<'a>> {
    let mut canvas = Canvas::new()?;
    let top = bench
        .scenes
        .iter()
        .flat_map(|scene| &scene.pipelines)
        .map(|run| run.summary.wire_kbit_s)
        .fold(1.0, f64::max);
    let step = nice_step(top / 5.0);
    let top = (top / step).ceil() * step;
    let (x0, x1) = (LEFT, WIDTH as f32 - RIGHT);
    let (y0, y1) = (HEIGHT as f32 - BOTTOM, TOP);
    let y_of = |kbit: f64| y0 - (kbit / top) as f32 * (y0 - y1);
    let y_ticks: Vec<(f32, String)> = (0..=(top / step) as u32)
        .map(|i| {
            (
                y_of(f64::from(i) * step),
                format!("{}", f64::from(i) * step),
            )
        })
        .collect();
    let slot = (x1 - x0) / bench.scenes.len().max(1) as f32;
    let x_ticks: Vec<(f32, String)> = bench
        .scenes
        .iter()
        .enumerate()
        .map(|(index, scene)| (x0 + slot * (index as f32 + 0.3), scene.scene.clone()))
        .collect();
    canvas.axes(&x_ticks, &y_ticks);
    canvas.text(
        LEFT,
        16.0,
        "Bytes on the wire towards the viewer, kbit/s (dark: sosdesk, light: x264, lightest: x11vnc)",
        18,
    );
    for (index, scene) in bench.scenes.iter().enumerate() {
        let bars = scene.pipelines.len().max(1) as f32;
        let width = slot * 0.7 / bars;
        for (bar, run) in scene.pipelines.iter().enumerate() {
            let (r, g, b) = colour(&scene.scene);
            let colour = match Dash::of(&run.pipeline) {
                Dash::Solid => (r, g, b),
                Dash::Dashed => (r / 2 + 128, g / 2 + 128, b / 2 + 128),
                Dash::Dotted => (r / 4 + 192, g / 4 + 192, b / 4 + 192),
            };
            let x = x0 + slot * index as f32 + slot * 0.15 + width * bar as f32;
            let y = y_of(run.summary.wire_kbit_s);
            canvas.rect(x, y, width - 4.0, y0 - y, colour);
            canvas.text(x, y - 22.0, format!("{:.0}", run.summary.wire_kbit_s), 14);
        }
    }
    Ok(Plot { canvas, painter })
}

/// Rate and quality on identical frames: x264's sweep as a dashed curve per scene, sosdesk
/// as a square; kbit/s on a log scale.
fn quality<'a>(bench: &Bench, painter: &'a mut TextPainter) -> Result<Plot<'a>> {
    let mut canvas = Canvas::new()?;
    let kbit_s = |bytes: u64, frames: usize, fps: f64| {
        bytes as f64 * 8.0 / 1000.0 * fps / frames.max(1) as f64
    };
    let points: Vec<(f64, f64)> = bench
        .codec
        .iter()
        .flat_map(|run| {
            std::iter::once(&run.ours)
                .chain(&run.x264)
                .map(move |e| (kbit_s(e.bytes, e.frames, run.fps), e.psnr_mean_db))
        })
        .filter(|(rate, db)| *rate > 0.0 && db.is_finite())
        .collect();
    let (low, high) = points
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), (rate, _)| {
            (lo.min(*rate), hi.max(*rate))
        });
    let (low, high) = (
        10_f64.powf(low.max(1.0).log10().floor()),
        10_f64.powf(high.max(10.0).log10().ceil()),
    );
    let (db_low, db_high) = points
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), (_, db)| {
            (lo.min(*db), hi.max(*db))
        });
    let (db_low, db_high) = (
        (db_low - 0.5).floor(),
        (db_high + 0.5).ceil().max(db_low + 1.0),
    );
    let (x0, x1) = (LEFT, WIDTH as f32 - RIGHT);
    let (y0, y1) = (HEIGHT as f32 - BOTTOM, TOP);
    let x_of = |rate: f64| {
        x0 + ((rate.max(low).log10() - low.log10()) / (high.log10() - low.log10())) as f32
            * (x1 - x0)
    };
    let y_of = |db: f64| y0 - ((db - db_low) / (db_high - db_low)) as f32 * (y0 - y1);
    let mut x_ticks = Vec::new();
    let mut tick = low;
    while tick <= high * 1.001 {
        x_ticks.push((x_of(tick), format!("{tick}")));
        tick *= 10.0;
    }
    let y_ticks: Vec<(f32, String)> = (db_low as i32..=db_high as i32)
        .map(|db| (y_of(f64::from(db)), format!("{db} dB")))
        .collect();
    canvas.axes(&x_ticks, &y_ticks);
    canvas.text(
        LEFT,
        16.0,
        "Same frames: PSNR against kbit/s (dashed: x264 ultrafast -crf sweep, square: sosdesk)",
        18,
    );
    canvas.text(
        (x0 + x1) / 2.0 - 80.0,
        HEIGHT as f32 - 32.0,
        "kbit/s (log scale)",
        LABEL_PX,
    );
    let mut legend_y = TOP;
    for run in &bench.codec {
        let colour = colour(&run.scene);
        let mut sweep: Vec<(f32, f32)> = run
            .x264
            .iter()
            .map(|e| {
                (
                    x_of(kbit_s(e.bytes, e.frames, run.fps)),
                    y_of(e.psnr_mean_db),
                )
            })
            .collect();
        sweep.sort_by(|a, b| a.0.total_cmp(&b.0));
        canvas.line(&sweep, colour, 2.0, Dash::Dashed);
        for (x, y) in &sweep {
            canvas.rect(x - 2.5, y - 2.5, 5.0, 5.0, colour);
        }
        let (x, y) = (
            x_of(kbit_s(run.ours.bytes, run.ours.frames, run.fps)),
            y_of(run.ours.psnr_mean_db),
        );
        canvas.rect(x - 7.0, y - 7.0, 14.0, 14.0, colour);
        let legend_x = WIDTH as f32 - RIGHT + 20.0;
        canvas.rect(legend_x, legend_y + 3.0, 14.0, 14.0, colour);
        canvas.text(legend_x + 24.0, legend_y, run.scene.clone(), LABEL_PX);
        legend_y += 26.0;
    }
    Ok(Plot { canvas, painter })
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-9);
    let power = 10_f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|factor| factor * power)
        .find(|step| *step >= raw)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(4000.0), 5000.0);
    }
}
