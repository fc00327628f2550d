//! The viewer's frame handling end to end over in-memory streams: a fake gateway writes
//! real H.264 frames (sos-codec) on one pipe per frame and talks on a control pipe; the
//! viewer's `watch` decodes on its thread, records, measures and stops.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sos_codec::{
    BgraFrame, Encoder, EncoderConfig, I420Picture, bgra_to_i420, psnr_bgra, synthetic,
};
use sos_desk::view::sink::{Recording, Sink};
use sos_desk::view::stream::{WatchEnd, watch};
use sos_transport::framing::{read_message, write_frame, write_message};
use sos_transport::wire::{EndReason, FrameHeader, FromViewer, ToViewer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

struct Encoded {
    header: FrameHeader,
    data: Vec<u8>,
    picture: Vec<u8>,
}

/// Encodes `count` synthetic desktops; frames listed in `keyframes` are forced IDRs.
fn encode(count: u64, keyframes: &[u64]) -> Vec<Encoded> {
    let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
    let mut i420 = I420Picture::new(WIDTH, HEIGHT);
    (0..count)
        .map(|seq| {
            let picture = synthetic::desktop(WIDTH, HEIGHT, seq as u32);
            let frame = BgraFrame {
                width: WIDTH,
                height: HEIGHT,
                stride: WIDTH as usize * 4,
                data: &picture,
            };
            bgra_to_i420(&frame, &mut i420).unwrap();
            let encoded = encoder.encode(&i420, keyframes.contains(&seq)).unwrap();
            let capture_micros = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_micros() as u64;
            Encoded {
                header: FrameHeader {
                    seq,
                    keyframe: encoded.keyframe,
                    width: WIDTH,
                    height: HEIGHT,
                    capture_micros,
                },
                data: encoded.data,
                picture,
            }
        })
        .collect()
}

/// Hands one frame to the viewer on a pipe of its own.
async fn send_frame(streams: &mpsc::Sender<DuplexStream>, frame: &Encoded) {
    let (mut ours, theirs) = tokio::io::duplex(4 << 20);
    write_frame(&mut ours, &frame.header, &frame.data)
        .await
        .unwrap();
    streams.send(theirs).await.unwrap();
}

/// Hands the viewer a stream that breaks in the middle of the header.
async fn send_broken(streams: &mpsc::Sender<DuplexStream>) {
    let (mut ours, theirs) = tokio::io::duplex(1024);
    ours.write_all(&[0, 0, 0, 20, 1, 2]).await.unwrap();
    ours.shutdown().await.unwrap();
    streams.send(theirs).await.unwrap();
}

fn assert_same_bytes(got: &[u8], expected: &[u8]) {
    assert!(
        got == expected,
        "recording differs: {} bytes, expected {}",
        got.len(),
        expected.len()
    );
}

struct Harness {
    control: DuplexStream,
    streams: mpsc::Sender<DuplexStream>,
    viewer: tokio::task::JoinHandle<
        Result<sos_desk::view::stream::WatchOutcome, sos_desk::view::ViewError>,
    >,
}

fn start(frames: u64, record: Option<std::path::PathBuf>, timeout: Duration) -> Harness {
    let (viewer_side, control) = tokio::io::duplex(1 << 16);
    let (streams, stream_rx) = mpsc::channel(64);
    let (recv, send) = tokio::io::split(viewer_side);
    let recording = record.map(|path| Recording::create(path).unwrap());
    let now = Instant::now();
    let viewer = tokio::spawn(watch(
        send,
        recv,
        stream_rx,
        Sink::new(frames, recording),
        now,
        now + timeout,
    ));
    Harness {
        control,
        streams,
        viewer,
    }
}

async fn expect_keyframe_request(control: &mut DuplexStream) {
    let message: FromViewer = tokio::time::timeout(Duration::from_secs(10), read_message(control))
        .await
        .expect("a keyframe request in time")
        .unwrap()
        .unwrap();
    assert_eq!(message, FromViewer::KeyframeRequest);
}

#[tokio::test]
async fn records_from_the_first_keyframe_and_stops_after_n_frames() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("out.h264");
    let frames = encode(8, &[3]);
    assert!(frames[0].header.keyframe && frames[3].header.keyframe);
    assert!(!frames[1].header.keyframe && !frames[4].header.keyframe);

    let h = start(4, Some(record.clone()), Duration::from_secs(30));
    // Joining mid-stream: two P-frames arrive before the IDR the gateway asked for.
    for frame in &frames[1..8] {
        send_frame(&h.streams, frame).await;
    }
    let outcome = h.viewer.await.unwrap().unwrap();
    assert_eq!(outcome.end, WatchEnd::FramesDone);
    let report = outcome.report;
    assert_eq!(report.decoded, 4);
    assert_eq!(report.stats.frames, 4);
    assert_eq!(
        report.stats.dropped, 2,
        "the two P-frames before the keyframe"
    );
    assert_eq!((report.stats.width, report.stats.height), (WIDTH, HEIGHT));
    assert!(report.stats.first_frame_ms.is_some());
    let p50 = report.stats.latency_p50_ms.unwrap();
    assert!((0.0..10_000.0).contains(&p50), "latency {p50} ms");

    // The file holds exactly frames 3..=6, starting with the keyframe.
    let expected: Vec<u8> = frames[3..7].iter().flat_map(|f| f.data.clone()).collect();
    assert_same_bytes(&std::fs::read(&record).unwrap(), &expected);

    // The last decoded picture is frame 6, close to its source.
    let last = report.last_frame.unwrap();
    let stride = WIDTH as usize * 4;
    let psnr = psnr_bgra(
        &last.bgra,
        stride,
        &frames[6].picture,
        stride,
        WIDTH,
        HEIGHT,
    );
    assert!(psnr > 30.0, "PSNR {psnr} dB");
}

#[tokio::test]
async fn a_lost_frame_asks_for_a_keyframe_and_keeps_the_file_playable() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("out.h264");
    let frames = encode(6, &[3]);

    let mut h = start(4, Some(record.clone()), Duration::from_secs(30));
    send_frame(&h.streams, &frames[0]).await;
    send_frame(&h.streams, &frames[1]).await;
    send_broken(&h.streams).await;
    // Frame 2 is gone: the viewer must ask again and drop P-frames until the next IDR.
    expect_keyframe_request(&mut h.control).await;
    for frame in &frames[3..6] {
        send_frame(&h.streams, frame).await;
    }
    let outcome = h.viewer.await.unwrap().unwrap();
    assert_eq!(outcome.end, WatchEnd::FramesDone);
    assert_eq!(outcome.report.decoded, 4);
    // Frames 0, 1, 3 and 4 make the four decoded frames; frame 5 is not needed.
    let expected: Vec<u8> = [0, 1, 3, 4]
        .iter()
        .flat_map(|&i| frames[i].data.clone())
        .collect();
    assert_same_bytes(&std::fs::read(&record).unwrap(), &expected);
}

#[tokio::test]
async fn the_session_ending_stops_watching() {
    let frames = encode(1, &[]);
    let mut h = start(10, None, Duration::from_secs(30));
    send_frame(&h.streams, &frames[0]).await;
    // Give the frame a moment; whether it was decoded before the end is not the point.
    tokio::time::sleep(Duration::from_millis(100)).await;
    write_message(&mut h.control, &ToViewer::End(EndReason::StoppedByUser))
        .await
        .unwrap();
    let outcome = h.viewer.await.unwrap().unwrap();
    assert_eq!(outcome.end, WatchEnd::Ended(EndReason::StoppedByUser));
    assert!(outcome.report.decoded <= 1);
}

#[tokio::test]
async fn silence_times_out_and_a_closed_control_stream_is_a_loss() {
    let h = start(3, None, Duration::from_millis(300));
    let outcome = h.viewer.await.unwrap().unwrap();
    assert_eq!(outcome.end, WatchEnd::TimedOut);
    assert_eq!(outcome.report.decoded, 0);

    let h = start(3, None, Duration::from_secs(30));
    drop(h.control);
    let outcome = h.viewer.await.unwrap().unwrap();
    assert!(
        matches!(outcome.end, WatchEnd::ConnectionLost(_)),
        "{:?}",
        outcome.end
    );
    drop(h.streams);
}
