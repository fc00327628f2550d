//! The gateway repeats its acknowledgements to an app that streams: it sends it a small
//! datagram every 50 ms, in whose packets QUIC bundles the acknowledgements, so that a lost
//! acknowledgement does not leave the app waiting for its own loss probe.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use sos_transport::framing::write_frame;
use sos_transport::wire::FrameHeader;
use std::time::Duration;
use support::Gw;
use support::app::{App, Relay};

/// Datagrams the app receives within `window`.
async fn datagrams_within(app: &App, window: Duration) -> usize {
    let mut count = 0;
    let _ = tokio::time::timeout(window, async {
        while app.connection.read_datagram().await.is_ok() {
            count += 1;
        }
    })
    .await;
    count
}

#[tokio::test]
async fn an_app_gets_acknowledgement_carriers_once_it_streams_and_none_before() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let session = gw.new_session(&tina, None).await;
    let relay = Relay::start(&gw);
    let mut app = App::connect(
        &relay.address,
        &relay.trust,
        session["pin"].as_str().unwrap(),
        None,
    )
    .await;
    app.registered().await;

    // Registered and idle: nothing but keep-alives, so a thousand waiting apps cost nothing.
    assert_eq!(datagrams_within(&app, Duration::from_millis(500)).await, 0);

    // One frame: the carriers start, about twenty a second.
    let mut stream = app.connection.open_uni().await.unwrap();
    let header = FrameHeader {
        seq: 0,
        keyframe: true,
        width: 1280,
        height: 720,
        capture_micros: 0,
    };
    write_frame(&mut stream, &header, &[0; 1000]).await.unwrap();
    let carriers = datagrams_within(&app, Duration::from_secs(1)).await;
    assert!((5..=30).contains(&carriers), "{carriers} in a second");
}
