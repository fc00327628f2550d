//! End-to-end checks of the public pipeline: BGRA -> I420 -> H.264 -> BGRA.

use crate::convert::{Planes, i420_to_bgra};
use crate::synthetic::desktop;
use crate::{
    BgraFrame, CodecError, Decoder, Encoder, EncoderConfig, I420Picture, bgra_to_i420, psnr_bgra,
};

/// Lowest PSNR accepted anywhere for decoded synthetic desktops.
const MIN_PSNR_DB: f64 = 35.0;
/// Lowest PSNR accepted for the seed-1 desktop keyframes; measured 39.4 dB at 640x360 and
/// 39.8 dB at 1920x1080 (the BGRA -> I420 -> BGRA conversion alone reaches 39.8 / 40.2 dB:
/// one-pixel coloured text loses its chroma in 4:2:0, whatever the bitrate).
const KEYFRAME_MIN_PSNR_DB: f64 = 38.0;
/// Most the H.264 stage may lose on top of the colour conversion.
const MAX_CODEC_LOSS_DB: f64 = 1.5;

fn picture_of(data: &[u8], width: u32, height: u32) -> I420Picture {
    let frame = BgraFrame {
        width,
        height,
        stride: width as usize * 4,
        data,
    };
    let mut picture = I420Picture::new(0, 0);
    bgra_to_i420(&frame, &mut picture).unwrap();
    picture
}

/// NAL unit types in an Annex-B buffer, in order.
fn nal_types(annex_b: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < annex_b.len() {
        if annex_b[i..i + 3] == [0, 0, 1] {
            types.push(annex_b[i + 3] & 0x1F);
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

fn round_trip_psnr(width: u32, height: u32) -> f64 {
    let source = desktop(width, height, 1);
    let stride = width as usize * 4;
    let picture = picture_of(&source, width, height);
    let mut encoder = Encoder::new(EncoderConfig::new(width, height)).unwrap();
    let encoded = encoder.encode(&picture, false).unwrap();
    assert!(encoded.keyframe);
    let mut decoder = Decoder::new().unwrap();
    let decoded = decoder.decode(&encoded.data).unwrap().unwrap();
    assert_eq!((decoded.width, decoded.height), (width, height));
    assert_eq!(decoded.bgra.len(), stride * height as usize);
    assert!(decoded.bgra.chunks_exact(4).all(|px| px[3] == 255));
    let psnr = psnr_bgra(&source, stride, &decoded.bgra, stride, width, height);

    let mut converted = Vec::new();
    let planes = Planes {
        width,
        height,
        y: picture.y(),
        y_stride: picture.y_stride(),
        u: picture.u(),
        v: picture.v(),
        uv_stride: picture.uv_stride(),
    };
    i420_to_bgra(&planes, &mut converted).unwrap();
    let conversion_psnr = psnr_bgra(&source, stride, &converted, stride, width, height);
    println!(
        "{width}x{height}: keyframe {} bytes, PSNR {psnr:.2} dB (conversion alone {conversion_psnr:.2} dB)",
        encoded.data.len()
    );
    assert!(
        psnr >= conversion_psnr - MAX_CODEC_LOSS_DB,
        "H.264 lost {:.2} dB",
        conversion_psnr - psnr
    );
    psnr
}

#[test]
fn round_trip_640x360_keeps_quality() {
    let psnr = round_trip_psnr(640, 360);
    assert!(psnr >= KEYFRAME_MIN_PSNR_DB, "PSNR {psnr:.2} dB");
}

#[test]
fn round_trip_1920x1080_keeps_quality() {
    let psnr = round_trip_psnr(1920, 1080);
    assert!(psnr >= KEYFRAME_MIN_PSNR_DB, "PSNR {psnr:.2} dB");
}

#[test]
fn keyframes_only_first_and_on_request() {
    let (width, height) = (320, 240);
    let source = desktop(width, height, 3);
    let picture = picture_of(&source, width, height);
    let mut encoder = Encoder::new(EncoderConfig::new(width, height)).unwrap();
    let mut decoder = Decoder::new().unwrap();

    let first = encoder.encode(&picture, false).unwrap();
    assert!(first.keyframe);
    assert!(first.data.starts_with(&[0, 0, 0, 1]));
    let types = nal_types(&first.data);
    assert_eq!(&types[..2], &[7, 8], "SPS and PPS lead the IDR: {types:?}");
    assert!(types.contains(&5), "IDR slice present: {types:?}");

    for _ in 0..3 {
        let p = encoder.encode(&picture, false).unwrap();
        assert!(!p.keyframe);
        assert!(p.data.starts_with(&[0, 0, 0, 1]) || p.data.starts_with(&[0, 0, 1]));
        assert!(!nal_types(&p.data).contains(&5));
        assert!(
            p.data.len() < first.data.len() / 4,
            "unchanged P frame is small"
        );
    }

    let forced = encoder.encode(&picture, true).unwrap();
    assert!(forced.keyframe);
    let types = nal_types(&forced.data);
    assert_eq!(
        &types[..2],
        &[7, 8],
        "SPS and PPS lead every IDR: {types:?}"
    );

    // A decoder joining at the forced keyframe can start there.
    let decoded = decoder.decode(&forced.data).unwrap().unwrap();
    let psnr = psnr_bgra(&source, 1280, &decoded.bgra, 1280, width, height);
    assert!(psnr >= MIN_PSNR_DB, "PSNR {psnr:.2} dB");

    let after = encoder.encode(&picture, false).unwrap();
    assert!(!after.keyframe);
}

#[test]
fn p_frames_follow_changes() {
    let (width, height) = (640, 360);
    let mut source = desktop(width, height, 2);
    let mut encoder = Encoder::new(EncoderConfig::new(width, height)).unwrap();
    let mut decoder = Decoder::new().unwrap();
    let first = encoder
        .encode(&picture_of(&source, width, height), false)
        .unwrap();
    decoder.decode(&first.data).unwrap().unwrap();
    // Move a solid 40x40 block (like a dragged icon) across a few frames.
    for step in 0..4usize {
        for y in 100..140usize {
            for x in (50 + step * 30)..(90 + step * 30) {
                source[(y * width as usize + x) * 4..][..3].copy_from_slice(&[0, 200, 255]);
            }
        }
        let encoded = encoder
            .encode(&picture_of(&source, width, height), false)
            .unwrap();
        assert!(!encoded.keyframe);
        let decoded = decoder.decode(&encoded.data).unwrap().unwrap();
        let stride = width as usize * 4;
        let psnr = psnr_bgra(&source, stride, &decoded.bgra, stride, width, height);
        assert!(
            psnr >= KEYFRAME_MIN_PSNR_DB,
            "step {step}: PSNR {psnr:.2} dB"
        );
    }
}

#[test]
fn odd_capture_sizes_are_cropped() {
    let (width, height) = (321, 241);
    let source = desktop(width, height, 9);
    let frame = BgraFrame {
        width,
        height,
        stride: width as usize * 4,
        data: &source,
    };
    let mut picture = I420Picture::new(width, height);
    bgra_to_i420(&frame, &mut picture).unwrap();
    assert_eq!((picture.width(), picture.height()), (320, 240));
    let mut encoder = Encoder::new(EncoderConfig::new(width, height)).unwrap();
    let encoded = encoder.encode(&picture, false).unwrap();
    let decoded = Decoder::new()
        .unwrap()
        .decode(&encoded.data)
        .unwrap()
        .unwrap();
    assert_eq!((decoded.width, decoded.height), (320, 240));
    assert_eq!(decoded.bgra.len(), 320 * 240 * 4);
    let psnr = psnr_bgra(
        &source,
        width as usize * 4,
        &decoded.bgra,
        320 * 4,
        320,
        240,
    );
    assert!(psnr >= MIN_PSNR_DB, "PSNR {psnr:.2} dB");
}

#[test]
fn decoder_survives_garbage_and_recovers() {
    let mut decoder = Decoder::new().unwrap();
    let mut state = 0x1234_5678u32;
    let mut noise = |len: usize| {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect::<Vec<u8>>()
    };
    let mut inputs = vec![vec![0xFF; 64], vec![0, 0, 0, 1], vec![0, 0, 1, 0x65, 0x88]];
    for len in [1, 7, 100, 5000] {
        inputs.push(noise(len));
        for nal_type in [1u8, 5, 7, 8] {
            let mut with_start = vec![0, 0, 0, 1, 0x60 | nal_type];
            with_start.extend(noise(len));
            inputs.push(with_start);
        }
    }
    for input in &inputs {
        match decoder.decode(input) {
            Ok(None) | Err(CodecError::InvalidBitstream(_) | CodecError::FrameTooLarge { .. }) => {}
            // Random bytes may happen to parse; whatever comes out must be self-consistent.
            Ok(Some(f)) => assert_eq!(f.bgra.len(), f.width as usize * f.height as usize * 4),
            Err(other) => panic!("garbage of {} bytes gave {other:?}", input.len()),
        }
    }
    // A real keyframe afterwards still decodes.
    let (width, height) = (160, 96);
    let source = desktop(width, height, 2);
    let mut encoder = Encoder::new(EncoderConfig::new(width, height)).unwrap();
    let encoded = encoder
        .encode(&picture_of(&source, width, height), false)
        .unwrap();
    let decoded = decoder.decode(&encoded.data).unwrap().unwrap();
    assert_eq!((decoded.width, decoded.height), (width, height));
}

#[test]
fn p_frame_without_keyframe_is_not_a_picture() {
    let (width, height) = (160, 96);
    let source = desktop(width, height, 4);
    let picture = picture_of(&source, width, height);
    let mut encoder = Encoder::new(EncoderConfig::new(width, height)).unwrap();
    encoder.encode(&picture, false).unwrap();
    let p = encoder.encode(&picture, false).unwrap();
    let mut decoder = Decoder::new().unwrap();
    assert!(matches!(
        decoder.decode(&p.data),
        Ok(None) | Err(CodecError::InvalidBitstream(_))
    ));
}

#[test]
fn two_threads_cut_a_keyframe_into_slices_that_decode_as_well_as_one() {
    let (width, height) = (1920, 1080);
    let stride = width as usize * 4;
    let source = desktop(width, height, 1);
    let picture = picture_of(&source, width, height);
    let encode = |threads: u16| {
        let config = EncoderConfig {
            threads,
            ..EncoderConfig::new(width, height)
        };
        let encoded = Encoder::new(config)
            .unwrap()
            .encode(&picture, false)
            .unwrap();
        let decoded = Decoder::new()
            .unwrap()
            .decode(&encoded.data)
            .unwrap()
            .unwrap();
        let psnr = psnr_bgra(&source, stride, &decoded.bgra, stride, width, height);
        let slices = nal_types(&encoded.data).iter().filter(|t| **t == 5).count();
        (encoded.data.len(), psnr, slices)
    };
    let (one_bytes, one_psnr, one_slices) = encode(1);
    let (two_bytes, two_psnr, two_slices) = encode(2);
    println!(
        "1080p keyframe: 1 thread {one_bytes} bytes {one_psnr:.2} dB in {one_slices} slice(s); \
         2 threads {two_bytes} bytes {two_psnr:.2} dB in {two_slices} slices"
    );
    assert_eq!(one_slices, 1);
    assert!(two_slices > 1, "{two_slices} slices");
    assert!(
        (two_psnr - one_psnr).abs() < 0.3,
        "{two_psnr:.2} vs {one_psnr:.2} dB"
    );
    assert!(
        two_bytes as f64 <= one_bytes as f64 * 1.03,
        "{two_bytes} vs {one_bytes} bytes"
    );
}
