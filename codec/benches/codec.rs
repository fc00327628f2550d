//! Micro-benchmarks of the 1080p media path: conversion, change detection, encoding and
//! decoding of the synthetic desktop, per frame type: keyframe, and P frames for a small
//! change (typing), a 12-pixel scroll and a full change (full motion).
// Benchmark setup failing is a bug in the benchmark; panicking with the cause is the report.
#![allow(clippy::unwrap_used)]
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sos_codec::{
    BgraFrame, ChangeDetector, Decoder, EncodedFrame, Encoder, EncoderConfig, I420Picture,
    bgra_to_i420, synthetic,
};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const STRIDE: usize = WIDTH as usize * 4;

fn frame(data: &[u8]) -> BgraFrame<'_> {
    BgraFrame {
        width: WIDTH,
        height: HEIGHT,
        stride: STRIDE,
        data,
    }
}

fn picture(data: &[u8]) -> I420Picture {
    let mut picture = I420Picture::new(WIDTH, HEIGHT);
    bgra_to_i420(&frame(data), &mut picture).unwrap();
    picture
}

/// The desktop and a copy with a 32x32 block changed (a blinking caret or a clock tick).
fn desktop_pair() -> (Vec<u8>, Vec<u8>) {
    let a = synthetic::desktop(WIDTH, HEIGHT, 1);
    let mut b = a.clone();
    for y in 600..632 {
        for x in 900..932 {
            b[y * STRIDE + x * 4..][..3].copy_from_slice(&[30, 30, 30]);
        }
    }
    (a, b)
}

fn convert(c: &mut Criterion) {
    let (a, _) = desktop_pair();
    let mut out = I420Picture::new(WIDTH, HEIGHT);
    c.bench_function("convert_bgra_to_i420_1080p", |bench| {
        bench.iter(|| bgra_to_i420(black_box(&frame(&a)), &mut out).unwrap());
    });
    let mut detector = ChangeDetector::new();
    detector.update(&frame(&a));
    c.bench_function("change_detect_1080p_unchanged", |bench| {
        bench.iter(|| detector.update(black_box(&frame(&a))));
    });
}

/// The desktop and a copy scrolled up by 12 pixels (one frame of the bench's scrolling
/// scene); alternating them scrolls 12 pixels per frame, up and down.
fn scrolled_pair() -> (Vec<u8>, Vec<u8>) {
    let a = synthetic::desktop(WIDTH, HEIGHT, 1);
    let mut b = a.clone();
    let shift = 12 * STRIDE;
    b[..a.len() - shift].copy_from_slice(&a[shift..]);
    (a, b)
}

/// Two unrelated desktops: every pixel changes (the full-motion case at its worst).
fn unrelated_pair() -> (Vec<u8>, Vec<u8>) {
    (
        synthetic::desktop(WIDTH, HEIGHT, 1),
        synthetic::desktop(WIDTH, HEIGHT, 2),
    )
}

/// Two BGRA pictures a P-frame benchmark alternates.
type Pair = (Vec<u8>, Vec<u8>);

/// The P-frame kinds measured: name and the two pictures alternated.
fn p_frame_kinds() -> [(&'static str, Pair); 3] {
    [
        ("small_change", desktop_pair()),
        ("scroll_12px", scrolled_pair()),
        ("full_change", unrelated_pair()),
    ]
}

fn encode(c: &mut Criterion) {
    let (a, _) = desktop_pair();
    let keyframe = picture(&a);
    let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
    encoder.encode(&keyframe, true).unwrap();
    c.bench_function("encode_1080p_keyframe", |bench| {
        bench.iter(|| encoder.encode(black_box(&keyframe), true).unwrap());
    });
    for (kind, (a, b)) in p_frame_kinds() {
        let pictures = [picture(&a), picture(&b)];
        let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
        encoder.encode(&pictures[0], true).unwrap();
        let mut next = 0;
        c.bench_function(&format!("encode_1080p_p_frame_{kind}"), |bench| {
            bench.iter(|| {
                next ^= 1;
                encoder.encode(black_box(&pictures[next]), false).unwrap()
            });
        });
    }
}

fn decode(c: &mut Criterion) {
    for (kind, (a, b)) in p_frame_kinds() {
        let pictures = [picture(&a), picture(&b)];
        let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
        let keyframe = encoder.encode(&pictures[0], false).unwrap();
        let p_frames: Vec<EncodedFrame> = (1..=64)
            .map(|i| encoder.encode(&pictures[i % 2], false).unwrap())
            .collect();
        if kind == "small_change" {
            let mut decoder = Decoder::new().unwrap();
            c.bench_function("decode_1080p_keyframe", |bench| {
                bench.iter(|| decoder.decode(black_box(&keyframe.data)).unwrap());
            });
        }
        c.bench_function(&format!("decode_1080p_p_frame_{kind}"), |bench| {
            bench.iter_custom(|iterations| {
                let mut decoder = Decoder::new().unwrap();
                let mut spent = Duration::ZERO;
                let mut done = 0;
                while done < iterations {
                    // Restart the reference chain untimed, then time its P frames.
                    decoder.decode(&keyframe.data).unwrap();
                    for p in p_frames.iter().take((iterations - done) as usize) {
                        let start = Instant::now();
                        black_box(decoder.decode(black_box(&p.data)).unwrap());
                        spent += start.elapsed();
                        done += 1;
                    }
                }
                spent
            });
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = convert, encode, decode
}
criterion_main!(benches);
