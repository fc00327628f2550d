//! The browser viewer's gateway side, with real sockets on loopback: viewer tickets follow
//! the native viewer's rules and work once, for their user and session, for 30 seconds;
//! the WebSocket and the WebTransport bridges carry the ticket, the relay's messages, the
//! frames as the app sent them, and the page's input to the app.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sos_gateway::browser::ticket::TicketError;
use sos_gateway::browser::webtransport::WebTransport;
use sos_gateway::domain::SessionAction;
use sos_gateway::relay::live::Frame;
use sos_transport::wire::{ConsentDecision, FrameHeader, InputEvent, Press, ToAgent};
use std::sync::Arc;
use std::time::Duration;
use support::{Gw, error};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const WAIT: Duration = Duration::from_secs(10);

/// A session of Tina's with the app connected and control granted.
async fn granted(gw: &Gw) -> (String, String, mpsc::Receiver<ToAgent>) {
    let tina = gw.login("tina@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let id = s["id"].as_str().unwrap().to_string();
    let agent = gw.connect_agent(&id);
    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/request"),
            Some(&tina),
            Some(json!({"control": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    gw.desk
        .agent_event(
            &id,
            SessionAction::ConsentAnswered {
                request_id: 1,
                decision: ConsentDecision::Grant { control: true },
            },
            None,
            "quic test",
        )
        .unwrap();
    gw.desk.live.set_grant(&id, Some(true));
    (id, tina, agent)
}

async fn ticket(gw: &Gw, id: &str, token: &str) -> (StatusCode, Value) {
    gw.call(
        Method::POST,
        &format!("/api/v1/sessions/{id}/viewer-ticket"),
        Some(token),
        None,
    )
    .await
}

#[tokio::test]
async fn viewer_tickets_follow_the_start_remote_rules_and_work_once() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let pending = s["id"].as_str().unwrap();
    let (status, body) = ticket(&gw, pending, &tina).await;
    assert_eq!(status, StatusCode::CONFLICT, "no app, no grant: {body}");

    let (id, tina, _agent) = granted(&gw).await;
    let tom = gw.login("tom@example.com").await;
    let (status, body) = ticket(&gw, &id, &tom).await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
        "not Tom's session: {status} {body}"
    );

    let (status, body) = ticket(&gw, &id, &tina).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["expires_in"], 30);
    assert_eq!(
        body["websocket"],
        format!("/api/v1/sessions/{id}/viewer/ws")
    );
    assert!(
        body["webtransport"].is_null(),
        "no endpoint in this gateway"
    );
    let log = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}/log"),
            Some(&tina),
            None,
        )
        .await
        .1;
    assert!(
        !log.to_string().contains(body["ticket"].as_str().unwrap()),
        "the ticket is not in the audit log"
    );
    let tina_id = gw.desk.authenticate(&tina).unwrap().id;
    let tom_id = gw.desk.authenticate(&tom).unwrap().id;
    let browser = &gw.desk.browser;
    let now = gw.desk.clock.now();
    let issue = || async {
        ticket(&gw, &id, &tina).await.1["ticket"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let t = issue().await;
    assert_eq!(
        browser.redeem(&t, &id, Some(tom_id), now),
        Err(TicketError::Mismatch)
    );
    let t = issue().await;
    assert_eq!(
        browser.redeem(&t, "0123abcd", None, now),
        Err(TicketError::Mismatch)
    );
    let t = issue().await;
    assert_eq!(
        browser.redeem(&t, &id, None, now + 30),
        Err(TicketError::NotValid),
        "expired"
    );
    let t = issue().await;
    assert_eq!(
        browser.redeem(&t, &id, Some(tina_id), now + 29).unwrap().id,
        tina_id
    );
    assert_eq!(
        browser.redeem(&t, &id, Some(tina_id), now + 29),
        Err(TicketError::NotValid),
        "once"
    );

    // Nobody without a login gets one.
    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/viewer-ticket"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", error(&body));
}

/// Serves the gateway's router over plain HTTP on loopback; returns its address.
async fn serve_http(gw: &Gw) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = gw.app.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(addr: std::net::SocketAddr, id: &str, token: &str) -> Socket {
    let mut request = format!("ws://{addr}/api/v1/sessions/{id}/viewer/ws")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// The next text message, parsed.
async fn next_control(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Binary(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn control_of_type(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let message = next_control(socket).await;
        if message["type"] == kind {
            return message;
        }
    }
}

fn frame(seq: u64, keyframe: bool) -> Frame {
    Frame {
        header: FrameHeader {
            seq,
            keyframe,
            width: 1920,
            height: 1080,
            capture_micros: 1_800_000_000_000_000 + seq,
        },
        payload: Bytes::from(vec![0, 0, 0, 1, 0x67, seq as u8]),
    }
}

/// Waits for the app's next input event.
async fn next_input(agent: &mut mpsc::Receiver<ToAgent>) -> InputEvent {
    loop {
        match tokio::time::timeout(WAIT, agent.recv())
            .await
            .unwrap()
            .unwrap()
        {
            ToAgent::Input { event, .. } => return event,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn the_websocket_bridge_carries_frames_input_and_the_end() {
    let gw = Gw::new();
    let (id, tina, mut agent) = granted(&gw).await;
    let addr = serve_http(&gw).await;

    // A ticket of Tina's on a socket logged in as Tom is refused.
    let tom = gw.login("tom@example.com").await;
    let t = ticket(&gw, &id, &tina).await.1["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let mut socket = open_socket(addr, &id, &tom).await;
    socket
        .send(Message::text(
            json!({"type": "ticket", "ticket": t}).to_string(),
        ))
        .await
        .unwrap();
    let refused = next_control(&mut socket).await;
    assert_eq!(refused["type"], "refused", "{refused}");

    let t = ticket(&gw, &id, &tina).await.1["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let mut socket = open_socket(addr, &id, &tina).await;
    socket
        .send(Message::text(
            json!({"type": "ticket", "ticket": t}).to_string(),
        ))
        .await
        .unwrap();
    let accepted = next_control(&mut socket).await;
    assert_eq!(accepted["type"], "accepted", "{accepted}");
    assert_eq!(accepted["control"], true);
    assert_eq!(accepted["display"]["width"], 1920);
    let screen = control_of_type(&mut socket, "screen").await;
    assert_eq!(screen["display"]["height"], 1080);
    let participants = control_of_type(&mut socket, "participants").await;
    assert_eq!(participants["list"][0]["you"], true);

    // The gateway asked the app for a picture; a delta before the keyframe is not sent.
    gw.desk.live.publish_frame(&id, &frame(1, false));
    gw.desk.live.publish_frame(&id, &frame(2, true));
    let bytes = loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Binary(bytes) => break bytes,
            _ => continue,
        }
    };
    assert_eq!(bytes[0], 1, "version");
    assert_eq!(bytes[1], 1, "keyframe");
    assert_eq!(u64::from_be_bytes(bytes[2..10].try_into().unwrap()), 2);
    assert_eq!(
        u64::from_be_bytes(bytes[10..18].try_into().unwrap()),
        1_800_000_000_000_002
    );
    assert_eq!(
        &bytes[26..],
        &[0, 0, 0, 1, 0x67, 2],
        "the frame as the app sent it"
    );

    for message in [
        json!({"type": "pointer", "x": 100, "y": 50}),
        json!({"type": "key", "code": "KeyH", "text": "h", "down": true}),
        json!({"type": "key", "code": "KeyH", "text": "", "down": false}),
    ] {
        socket
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
    }
    assert_eq!(
        next_input(&mut agent).await,
        InputEvent::MouseMove { x: 100, y: 50 }
    );
    assert_eq!(
        next_input(&mut agent).await,
        InputEvent::KeyStroke {
            code: "KeyH".into(),
            text: "h".into(),
            press: Press::Down
        }
    );
    assert!(matches!(
        next_input(&mut agent).await,
        InputEvent::KeyStroke {
            press: Press::Up,
            ..
        }
    ));

    socket
        .send(Message::text(json!({"type": "ping", "id": 7}).to_string()))
        .await
        .unwrap();
    let pong = control_of_type(&mut socket, "pong").await;
    assert_eq!(pong["id"], 7);
    assert!(pong["gateway_micros"].as_u64().unwrap() > 1_700_000_000_000_000);

    // End session closes it for everyone, this page included.
    socket
        .send(Message::text(json!({"type": "end_session"}).to_string()))
        .await
        .unwrap();
    let ended = control_of_type(&mut socket, "ended").await;
    assert_eq!(ended["reason"], "ClosedByTechnician");
    let (_, show) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(show["status"], "closed");
}

#[tokio::test]
async fn the_webtransport_bridge_is_trusted_by_its_certificate_hash_and_carries_frames() {
    let gw = Gw::new();
    let (id, tina, mut agent) = granted(&gw).await;
    let endpoint = Arc::new(
        WebTransport::bind(
            &gw.desk,
            "127.0.0.1:0".parse().unwrap(),
            vec!["localhost".into()],
        )
        .unwrap(),
    );
    let running = tokio::spawn(endpoint.clone().run(gw.desk.clone()));

    let (status, offer) = ticket(&gw, &id, &tina).await;
    assert_eq!(status, StatusCode::OK, "{offer}");
    let wt = &offer["webtransport"];
    assert_eq!(wt["port"], endpoint.local_addr().port());
    assert_eq!(wt["path"], format!("/viewer/{id}"));
    let hash: [u8; 32] = hex::decode(wt["cert_sha256"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();

    // The client checks the certificate as Chromium does for `serverCertificateHashes`:
    // the hash, ECDSA P-256, at most 14 days, valid now.
    let config = wtransport::ClientConfig::builder()
        .with_bind_default()
        .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new(hash)])
        .build();
    let client = wtransport::Endpoint::client(config).unwrap();
    let url = format!("https://127.0.0.1:{}/viewer/{id}", wt["port"]);
    let connection = tokio::time::timeout(WAIT, client.connect(&url))
        .await
        .unwrap()
        .unwrap();
    let (mut send, mut recv) = connection.open_bi().await.unwrap().await.unwrap();
    let write = |value: Value| {
        let body = value.to_string().into_bytes();
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend(body);
        out
    };
    send.write_all(&write(json!({"type": "ticket", "ticket": offer["ticket"]})))
        .await
        .unwrap();
    let mut read = async || -> Value {
        let mut prefix = [0u8; 4];
        recv.read_exact(&mut prefix).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
        recv.read_exact(&mut body).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    };
    let accepted = tokio::time::timeout(WAIT, read()).await.unwrap();
    assert_eq!(accepted["type"], "accepted", "{accepted}");

    gw.desk.live.publish_frame(&id, &frame(5, true));
    let mut stream = tokio::time::timeout(WAIT, connection.accept_uni())
        .await
        .unwrap()
        .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(u64::from_be_bytes(bytes[2..10].try_into().unwrap()), 5);
    assert_eq!(&bytes[26..], &[0, 0, 0, 1, 0x67, 5]);

    send.write_all(&write(
        json!({"type": "button", "button": "left", "down": true}),
    ))
    .await
    .unwrap();
    assert!(matches!(
        next_input(&mut agent).await,
        InputEvent::MouseButton {
            press: Press::Down,
            ..
        }
    ));

    // The ticket worked once: a second connection with it is refused.
    let again = tokio::time::timeout(WAIT, client.connect(&url))
        .await
        .unwrap()
        .unwrap();
    let (mut send2, mut recv2) = again.open_bi().await.unwrap().await.unwrap();
    send2
        .write_all(&write(json!({"type": "ticket", "ticket": offer["ticket"]})))
        .await
        .unwrap();
    let mut prefix = [0u8; 4];
    recv2.read_exact(&mut prefix).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    recv2.read_exact(&mut body).await.unwrap();
    let refused: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(refused["type"], "refused", "{refused}");

    // A client that does not know the hash does not get in.
    let stranger = wtransport::Endpoint::client(
        wtransport::ClientConfig::builder()
            .with_bind_default()
            .with_server_certificate_hashes([wtransport::tls::Sha256Digest::new([0; 32])])
            .build(),
    )
    .unwrap();
    assert!(
        tokio::time::timeout(WAIT, stranger.connect(&url))
            .await
            .unwrap()
            .is_err()
    );
    running.abort();
}

#[tokio::test]
async fn a_page_that_stops_reading_holds_no_other_page_up() {
    let gw = Gw::new();
    let (id, tina, _agent) = granted(&gw).await;
    let addr = serve_http(&gw).await;
    let mut pages = Vec::new();
    for _ in 0..2 {
        let t = ticket(&gw, &id, &tina).await.1["ticket"]
            .as_str()
            .unwrap()
            .to_string();
        let mut socket = open_socket(addr, &id, &tina).await;
        socket
            .send(Message::text(
                json!({"type": "ticket", "ticket": t}).to_string(),
            ))
            .await
            .unwrap();
        assert_eq!(
            control_of_type(&mut socket, "accepted").await["type"],
            "accepted"
        );
        pages.push(socket);
    }
    let mut reading = pages.pop().unwrap();
    let _stalled = pages.pop().unwrap();

    // 40 MB of keyframes, far more than the stalled page's socket buffers hold; the
    // reading page keeps up and gets the last one, and publishing never waits.
    let big = |seq: u64| Frame {
        header: FrameHeader {
            seq,
            keyframe: true,
            width: 1920,
            height: 1080,
            capture_micros: seq,
        },
        payload: Bytes::from(vec![seq as u8; 256 * 1024]),
    };
    let mut last_seen = 0;
    let mut slowest_publish = Duration::ZERO;
    for seq in 1..=160u64 {
        let started = std::time::Instant::now();
        gw.desk.live.publish_frame(&id, &big(seq));
        slowest_publish = slowest_publish.max(started.elapsed());
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(5), reading.next()).await
        {
            if let Message::Binary(bytes) = message {
                last_seen = u64::from_be_bytes(bytes[2..10].try_into().unwrap());
            }
        }
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while last_seen < 160 {
        let message = tokio::time::timeout_at(deadline, reading.next())
            .await
            .expect("the reading page gets the newest frame")
            .unwrap()
            .unwrap();
        if let Message::Binary(bytes) = message {
            last_seen = u64::from_be_bytes(bytes[2..10].try_into().unwrap());
        }
    }
    assert!(
        slowest_publish < Duration::from_millis(50),
        "publishing a frame waited {slowest_publish:?}"
    );
}
