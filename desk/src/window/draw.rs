//! Drawing a [`Scene`] into the window's pixel buffer (0RGB, one `u32` per pixel, row
//! after row, as softbuffer presents it).
//!
//! Contract: touches only the buffer it is given, clipped to it. The picture goes from the
//! decoded frame straight into the buffer: copied row by row at 1:1, resampled once
//! (tiny-skia, bilinear) otherwise; no intermediate picture. Decoded BGRA bytes are 0RGB
//! words in memory order, so no pixel is converted.

use super::viewer::Scene;
use super::viewport::{Placement, Rect, Size};
use sos_branding::ui::{self, Canvas, TextPainter};
use sos_codec::DecodedFrame;
use tiny_skia::{BlendMode, FilterQuality, PixmapMut, PixmapPaint, PixmapRef, Transform};

/// Around the picture.
pub const BACKGROUND: u32 = 0x001e_1e1e;
const TEXT: u32 = 0x00f0_f0f0;
const BADGE: u32 = 0x00b3_4a00;
const OVERLAY_PX: u32 = 15;
const BANNER_PX: u32 = 20;
const PADDING: u32 = 10;

/// Draws `scene` into `pixels` (`size.width * size.height` of them).
pub fn paint(pixels: &mut [u32], size: Size, scene: &Scene<'_>, text: &mut TextPainter) {
    let Some(mut canvas) = Canvas::new(pixels, size.width, size.height) else {
        return;
    };
    let drawn = match (scene.frame, scene.placement) {
        (Some(frame), Some(placement)) if picture(canvas.pixels(), size, frame, placement) => {
            Some(placement.dest)
        }
        _ => None,
    };
    match drawn {
        Some(dest) => canvas.fill_around(area(dest), BACKGROUND),
        None => canvas.pixels().fill(BACKGROUND),
    }
    if let Some(badge) = scene.badge.as_deref() {
        let width = text.width(badge, OVERLAY_PX) + 2 * PADDING;
        let height = text.line_height(OVERLAY_PX) + PADDING;
        let x = size.width.saturating_sub(width + PADDING);
        let rect = ui::Rect {
            x,
            y: PADDING,
            width,
            height,
        };
        canvas.fill(rect, BADGE);
        let at = (to_i32(x + PADDING), to_i32(PADDING + PADDING / 2));
        text.draw(&mut canvas, at, badge, OVERLAY_PX, TEXT);
    }
    if let Some(lines) = &scene.overlay {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        text_box(&mut canvas, text, &lines, OVERLAY_PX, (PADDING, PADDING));
    }
    if let Some(banner) = &scene.banner {
        let lines: Vec<&str> = banner.lines().collect();
        let (width, height) = box_size(text, &lines, BANNER_PX);
        let at = (
            size.width.saturating_sub(width) / 2,
            size.height.saturating_sub(height) / 2,
        );
        text_box(&mut canvas, text, &lines, BANNER_PX, at);
    }
}

fn area(rect: Rect) -> ui::Rect {
    ui::Rect {
        x: rect.x,
        y: rect.y,
        width: rect.width,
        height: rect.height,
    }
}

/// Puts the frame where `placement` says; `false` when the frame does not match it.
fn picture(pixels: &mut [u32], size: Size, frame: &DecodedFrame, placement: Placement) -> bool {
    let Placement { source, dest } = placement;
    let fits = |at: u32, len: u32, limit: u32| at.checked_add(len).is_some_and(|end| end <= limit);
    if !fits(source.x, source.width, frame.width)
        || !fits(source.y, source.height, frame.height)
        || !fits(dest.x, dest.width, size.width)
        || !fits(dest.y, dest.height, size.height)
        || frame.bgra.len() < frame.width as usize * frame.height as usize * 4
    {
        return false;
    }
    if placement.is_one_to_one() {
        let (row_bytes, frame_stride) = (source.width as usize * 4, frame.width as usize * 4);
        for row in 0..source.height as usize {
            let from = (source.y as usize + row) * frame_stride + source.x as usize * 4;
            let to = (dest.y as usize + row) * size.width as usize + dest.x as usize;
            let target: &mut [u8] =
                bytemuck::cast_slice_mut(&mut pixels[to..to + source.width as usize]);
            target.copy_from_slice(&frame.bgra[from..from + row_bytes]);
        }
        return true;
    }
    let (Some(from), Some(mut to)) = (
        PixmapRef::from_bytes(&frame.bgra, frame.width, frame.height),
        PixmapMut::from_bytes(bytemuck::cast_slice_mut(pixels), size.width, size.height),
    ) else {
        return false;
    };
    let sx = dest.width as f32 / source.width as f32;
    let sy = dest.height as f32 / source.height as f32;
    let transform = Transform::from_row(
        sx,
        0.0,
        0.0,
        sy,
        dest.x as f32 - source.x as f32 * sx,
        dest.y as f32 - source.y as f32 * sy,
    );
    let paint = PixmapPaint {
        opacity: 1.0,
        blend_mode: BlendMode::Source,
        quality: FilterQuality::Bilinear,
    };
    to.draw_pixmap(0, 0, from, &paint, transform, None);
    true
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn box_size(text: &mut TextPainter, lines: &[&str], px: u32) -> (u32, u32) {
    let width = lines.iter().map(|l| text.width(l, px)).max().unwrap_or(0);
    let height = text.line_height(px) * lines.len() as u32;
    (width + 2 * PADDING, height + 2 * PADDING)
}

/// Lines of text on a darkened box with its top-left corner at `at`.
fn text_box(
    canvas: &mut Canvas<'_>,
    text: &mut TextPainter,
    lines: &[&str],
    px: u32,
    at: (u32, u32),
) {
    let (width, height) = box_size(text, lines, px);
    // Darkened so that text on it reads over any picture.
    let rect = ui::Rect {
        x: at.0,
        y: at.1,
        width,
        height,
    };
    canvas.blend(rect, 0, 190);
    let line_height = text.line_height(px);
    for (i, line) in lines.iter().enumerate() {
        let y = at.1 + PADDING + i as u32 * line_height;
        let at = (to_i32(at.0 + PADDING), to_i32(y));
        text.draw(canvas, at, line, px, TEXT);
    }
}

#[cfg(test)]
#[path = "draw_tests.rs"]
mod tests;
