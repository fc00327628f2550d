use super::*;
use crate::window::slot::{self, FrameSlot};
use sos_codec::{BgraFrame, Encoder, EncoderConfig, I420Picture, bgra_to_i420, synthetic};
use sos_transport::framing::{read_message, write_frame};
use sos_transport::wire::FrameHeader;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::DuplexStream;

const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;

struct Harness {
    gateway: DuplexStream,
    streams: mpsc::Sender<DuplexStream>,
    input: mpsc::Sender<Outgoing>,
    told: std::sync::mpsc::Receiver<ToWindow>,
    slot: Arc<FrameSlot>,
    viewer: tokio::task::JoinHandle<SessionEnd>,
}

fn start() -> Harness {
    let (ours, gateway) = tokio::io::duplex(1 << 16);
    let (control_recv, control_send) = tokio::io::split(ours);
    let (streams, frames) = mpsc::channel::<DuplexStream>(8);
    let slot = Arc::new(FrameSlot::new());
    let (notify, told) = std::sync::mpsc::channel();
    let wake = notify.clone();
    let sink = Sink::new(u64::MAX, None).showing(slot::output(slot.clone(), move || {
        wake.notify(ToWindow::Frame);
    }));
    let (input, input_rx) = mpsc::channel(16);
    let viewer = tokio::spawn(serve(
        control_send,
        control_recv,
        frames,
        sink,
        Instant::now(),
        input_rx,
        notify,
    ));
    Harness {
        gateway,
        streams,
        input,
        told,
        slot,
        viewer,
    }
}

fn next(told: &std::sync::mpsc::Receiver<ToWindow>) -> ToWindow {
    told.recv_timeout(Duration::from_secs(20))
        .expect("the window is told")
}

async fn send_keyframe(streams: &mpsc::Sender<DuplexStream>, seq: u64) {
    let mut encoder = Encoder::new(EncoderConfig::new(WIDTH, HEIGHT)).unwrap();
    let mut i420 = I420Picture::new(WIDTH, HEIGHT);
    let picture = synthetic::desktop(WIDTH, HEIGHT, 1);
    let frame = BgraFrame {
        width: WIDTH,
        height: HEIGHT,
        stride: WIDTH as usize * 4,
        data: &picture,
    };
    bgra_to_i420(&frame, &mut i420).unwrap();
    let encoded = encoder.encode(&i420, true).unwrap();
    let header = FrameHeader {
        seq,
        keyframe: true,
        width: WIDTH,
        height: HEIGHT,
        capture_micros: 0,
    };
    let (mut ours, theirs) = tokio::io::duplex(4 << 20);
    write_frame(&mut ours, &header, &encoded.data)
        .await
        .unwrap();
    streams.send(theirs).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_reach_the_slot_input_goes_out_and_the_end_comes_back() {
    let mut h = start();
    send_keyframe(&h.streams, 7).await;
    assert_eq!(next(&h.told), ToWindow::Frame);
    let shown = h.slot.take().expect("a picture waits");
    assert_eq!(shown.facts.seq, 7);
    assert_eq!((shown.frame.width, shown.frame.height), (WIDTH, HEIGHT));
    assert!(shown.facts.bytes_total > 0);

    // Input goes out in order with increasing sequence numbers.
    let events = [
        InputEvent::MouseMove { x: 1, y: 2 },
        InputEvent::Text("a".into()),
    ];
    for event in &events {
        h.input.send(Outgoing::Input(event.clone())).await.unwrap();
    }
    for (expected_seq, expected) in (1u64..).zip(&events) {
        let got: Option<FromViewer> = read_message(&mut h.gateway).await.unwrap();
        assert_eq!(
            got,
            Some(FromViewer::Input {
                seq: expected_seq,
                event: expected.clone()
            })
        );
    }

    // A view-only agent drops input: the window hears it once.
    for seq in [1, 2] {
        let result = ToViewer::InputResult {
            seq,
            outcome: InputOutcome::NoControl,
        };
        write_message(&mut h.gateway, &result).await.unwrap();
    }
    assert_eq!(next(&h.told), ToWindow::ControlRefused);

    write_message(
        &mut h.gateway,
        &ToViewer::End(EndReason::ClosedByTechnician),
    )
    .await
    .unwrap();
    let end = h.viewer.await.unwrap();
    assert_eq!(end, SessionEnd::Ended(EndReason::ClosedByTechnician));
    assert_eq!(
        end.to_string(),
        "Session ended: the technician closed the session"
    );
    assert_eq!(next(&h.told), ToWindow::Ended(end));
    assert!(h.told.try_recv().is_err(), "nothing more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_window_stops_quietly_and_a_broken_gateway_is_reported() {
    let h = start();
    drop(h.input);
    assert_eq!(h.viewer.await.unwrap(), SessionEnd::WindowClosed);
    assert!(
        h.told.try_recv().is_err(),
        "the window closed itself: nobody to tell"
    );

    let h = start();
    drop(h.gateway);
    let end = h.viewer.await.unwrap();
    assert!(matches!(end, SessionEnd::ConnectionLost(_)), "{end:?}");
    assert_eq!(next(&h.told), ToWindow::Ended(end));
}
