use super::*;
use crate::window::viewport::{Scaling, Viewport};
use sos_branding::ui::TextPainter;

/// A frame whose pixel (x, y) is 0x00XXYY10 (B = 0x10, G = y, R = x), alpha 255.
fn numbered(width: u32, height: u32) -> DecodedFrame {
    let mut bgra = Vec::new();
    for y in 0..height {
        for x in 0..width {
            bgra.extend_from_slice(&[0x10, y as u8, x as u8, 255]);
        }
    }
    DecodedFrame {
        width,
        height,
        bgra,
    }
}

fn scene<'a>(frame: &'a DecodedFrame, viewport: &Viewport) -> Scene<'a> {
    Scene {
        frame: Some(frame),
        placement: viewport.placement(),
        badge: None,
        overlay: None,
        banner: None,
    }
}

fn rgb(pixel: u32) -> u32 {
    pixel & 0x00ff_ffff
}

#[test]
fn one_to_one_copies_pixels_and_fills_the_bars() {
    let frame = numbered(4, 3);
    let size = Size::new(8, 5);
    let mut viewport = Viewport::new(Size::new(4, 3), size);
    viewport.toggle_scaling();
    assert_eq!(viewport.scaling(), Scaling::Actual);
    let mut pixels = vec![0xdead_beef; 40];
    let mut text = TextPainter::new().unwrap();
    paint(&mut pixels, size, &scene(&frame, &viewport), &mut text);
    // Centred: columns 2..6, rows 1..4.
    for y in 0..5u32 {
        for x in 0..8u32 {
            let got = rgb(pixels[(y * 8 + x) as usize]);
            let inside = (2..6).contains(&x) && (1..4).contains(&y);
            let expected = if inside {
                ((x - 2) << 16) | ((y - 1) << 8) | 0x10
            } else {
                BACKGROUND
            };
            assert_eq!(got, expected, "pixel {x},{y}");
        }
    }
}

#[test]
fn one_to_one_shows_the_scrolled_part_of_a_large_screen() {
    let frame = numbered(10, 10);
    let size = Size::new(4, 4);
    let mut viewport = Viewport::new(Size::new(10, 10), size);
    viewport.toggle_scaling();
    viewport.scroll_by(3, 5);
    let mut pixels = vec![0; 16];
    let mut text = TextPainter::new().unwrap();
    paint(&mut pixels, size, &scene(&frame, &viewport), &mut text);
    assert_eq!(rgb(pixels[0]), (3 << 16) | (5 << 8) | 0x10);
    assert_eq!(rgb(pixels[15]), (6 << 16) | (8 << 8) | 0x10);
}

#[test]
fn fitting_resamples_into_the_picture_rectangle() {
    // A flat colour stays that colour at any scale.
    let mut frame = numbered(64, 32);
    for px in frame.bgra.chunks_exact_mut(4) {
        px.copy_from_slice(&[0x30, 0x60, 0x90, 255]);
    }
    let size = Size::new(20, 20);
    let viewport = Viewport::new(Size::new(64, 32), size);
    let placement = viewport.placement().unwrap();
    assert_eq!((placement.dest.y, placement.dest.height), (5, 10));
    let mut pixels = vec![0; 400];
    let mut text = TextPainter::new().unwrap();
    paint(&mut pixels, size, &scene(&frame, &viewport), &mut text);
    for y in 0..20usize {
        let expected = if (5..15).contains(&y) {
            0x0090_6030
        } else {
            BACKGROUND
        };
        for x in 0..20usize {
            assert_eq!(rgb(pixels[y * 20 + x]), expected, "pixel {x},{y}");
        }
    }
    // A horizontal ramp keeps its order when halved.
    let frame = numbered(200, 100);
    let size = Size::new(100, 50);
    let viewport = Viewport::new(Size::new(200, 100), size);
    let mut pixels = vec![0; 5000];
    paint(&mut pixels, size, &scene(&frame, &viewport), &mut text);
    let red = |x: usize| (pixels[25 * 100 + x] >> 16) & 0xff;
    for x in 1..100 {
        assert!(red(x) > red(x - 1), "ramp at {x}");
        let exact = 2.0 * x as f64 + 0.5;
        assert!((f64::from(red(x)) - exact).abs() <= 1.0, "{x}: {}", red(x));
    }
}

#[test]
fn text_and_boxes_survive_tiny_windows() {
    let frame = numbered(16, 16);
    let mut text = TextPainter::new().unwrap();
    for (w, h) in [(1, 1), (3, 2), (40, 8), (300, 200)] {
        let size = Size::new(w, h);
        let viewport = Viewport::new(Size::new(16, 16), size);
        let scene = Scene {
            frame: Some(&frame),
            placement: viewport.placement(),
            badge: Some("view only".into()),
            overlay: Some(vec!["Display 0: 16x16".into(), "0 fps".into()]),
            banner: Some("Session ended: the session expired\nThis window closes.".into()),
        };
        let mut pixels = vec![0; (w * h) as usize];
        paint(&mut pixels, size, &scene, &mut text);
    }
    // A buffer smaller than the size given is left alone rather than overrun.
    let mut short = vec![7u32; 3];
    let viewport = Viewport::new(Size::new(16, 16), Size::new(4, 4));
    paint(
        &mut short,
        Size::new(4, 4),
        &scene(&frame, &viewport),
        &mut text,
    );
    assert_eq!(short, [7, 7, 7]);
}
