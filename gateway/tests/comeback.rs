//! An end-user app coming back over QUIC with its one-time ticket: the relay's agent side
//! in process, with real QUIC connections from stand-ins for the app.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::http::{Method, StatusCode};
use sos_gateway::relay::live::Technician;
use sos_transport::endpoint;
use sos_transport::framing::{read_message, write_message};
use sos_transport::tls::ServerIdentity;
use sos_transport::wire::{
    AgentHello, ConsentDecision, DisplayInfo, EndReason, FromAgent, Hello, Refusal, Resume,
    ToAgent, ToViewer,
};
use sos_transport::{Pin, Secret, Trust};
use std::time::Duration;
use support::Gw;

/// A stand-in for the end user's app on one QUIC connection.
struct App {
    _endpoint: quinn::Endpoint,
    connection: quinn::Connection,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl App {
    async fn connect(address: &str, trust: &Trust, pin: &str, resume: Option<Resume>) -> Self {
        let (endpoint, connection) = endpoint::connect(address, trust).await.unwrap();
        let (mut send, recv) = connection.open_bi().await.unwrap();
        let hello = Hello::Agent(AgentHello {
            pin: Pin::parse(pin).unwrap(),
            machine_name: "pc-01".into(),
            os: "Linux".into(),
            version: "test".into(),
            displays: vec![DisplayInfo {
                index: 0,
                width: 1280,
                height: 720,
                primary: true,
            }],
            monitors: Vec::new(),
            link: None,
            resume,
        });
        write_message(&mut send, &hello).await.unwrap();
        Self {
            _endpoint: endpoint,
            connection,
            send,
            recv,
        }
    }

    async fn next(&mut self) -> ToAgent {
        tokio::time::timeout(Duration::from_secs(10), read_message(&mut self.recv))
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("a message")
    }

    /// Reads the registration: the ticket to come back with, and whether the grant stood.
    async fn registered(&mut self) -> (Secret<String>, bool) {
        match self.next().await {
            ToAgent::Registered {
                resume: Some(offer),
                resumed,
                ..
            } => {
                assert_eq!(offer.window_secs, 60, "the default window");
                assert_eq!(offer.ticket.expose().len(), 64, "256 bits, hex");
                (offer.ticket, resumed)
            }
            other => panic!("expected the registration first, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_ticket_brings_the_app_back_with_its_grant_once_and_replaces_a_stale_connection() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let session = gw.new_session(&tina, None).await;
    let (id, pin) = (
        session["id"].as_str().unwrap().to_string(),
        session["pin"].as_str().unwrap().to_string(),
    );
    let dir = tempfile::tempdir().unwrap();
    let identity = ServerIdentity::load_or_generate(dir.path(), &["localhost".into()]).unwrap();
    let trust = Trust::Pinned(vec![identity.fingerprint()]);
    let server = endpoint::server("127.0.0.1:0".parse().unwrap(), &identity).unwrap();
    let address = server.local_addr().unwrap().to_string();
    tokio::spawn(sos_gateway::relay::run(gw.desk.clone(), server));

    // Registered by PIN; the technician asks and the end user allows.
    let mut first = App::connect(&address, &trust, &pin, None).await;
    let (ticket, resumed) = first.registered().await;
    assert!(!resumed);
    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/request"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ToAgent::ConsentRequest { request_id, .. } = first.next().await else {
        panic!("expected the consent request");
    };
    let grant = FromAgent::ConsentReply {
        request_id,
        decision: ConsentDecision::Grant { control: true },
    };
    write_message(&mut first.send, &grant).await.unwrap();
    let granted = std::time::Instant::now();
    loop {
        let (_, show) = gw
            .call(
                Method::GET,
                &format!("/api/v1/sessions/{id}"),
                Some(&tina),
                None,
            )
            .await;
        if show["remote"]["state"] == "granted" {
            break;
        }
        assert!(granted.elapsed() < Duration::from_secs(10), "{show}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A technician watches.
    let (viewer_tx, mut viewer_rx) = tokio::sync::mpsc::channel(64);
    let technician = Technician {
        id: 1,
        name: "Tina".into(),
    };
    gw.desk
        .live
        .attach_viewer(&id, true, technician, viewer_tx)
        .unwrap();
    assert_eq!(first.next().await, ToAgent::StartStream);

    // The app lost its path without the gateway noticing: it comes back on a new
    // connection with the ticket, and the old connection is let go.
    let keep = Resume {
        ticket: ticket.clone(),
        keep_consent: true,
    };
    let mut second = App::connect(&address, &trust, &pin, Some(keep.clone())).await;
    let (_next_ticket, resumed) = second.registered().await;
    assert!(resumed, "the end user's answer stands");
    let closed = tokio::time::timeout(Duration::from_secs(10), first.connection.closed())
        .await
        .expect("the stale connection is closed");
    assert!(closed.to_string().contains("replaced"), "{closed}");
    let (_, show) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(show["status"], "active", "{show}");
    assert_eq!(show["remote"]["state"], "granted", "{show}");
    // The stream resumes for the viewer, which stayed.
    assert_eq!(second.next().await, ToAgent::StartStream);
    let mut told = Vec::new();
    while let Ok(message) = viewer_rx.try_recv() {
        told.push(message);
    }
    assert!(
        !told.iter().any(|m| matches!(m, ToViewer::End(_))),
        "{told:?}"
    );

    // Used up: the same ticket again is only a PIN registration, refused while the app
    // is connected.
    let mut third = App::connect(&address, &trust, &pin, Some(keep)).await;
    assert_eq!(
        third.next().await,
        ToAgent::Refused(Refusal::PinNotAccepted)
    );

    // Closing the session still reaches the app that came back.
    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/close"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        second.next().await,
        ToAgent::End(EndReason::ClosedByTechnician)
    );
    let (_, log) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}/log"),
            Some(&tina),
            None,
        )
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"agent_resumed"), "{actions:?}");
    assert_eq!(
        actions.iter().filter(|a| **a == "agent_registered").count(),
        1,
        "{actions:?}"
    );
}
