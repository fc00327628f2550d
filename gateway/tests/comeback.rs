//! An end-user app coming back over QUIC with its one-time ticket: the relay's agent side
//! in process, with real QUIC connections from stand-ins for the app.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::http::{Method, StatusCode};
use sos_gateway::relay::live::Technician;
use sos_transport::framing::write_message;
use sos_transport::wire::{
    ConsentDecision, EndReason, FromAgent, Refusal, Resume, ToAgent, ToViewer,
};
use std::time::Duration;
use support::Gw;
use support::app::{App, Relay};

#[tokio::test]
async fn the_ticket_brings_the_app_back_with_its_grant_once_and_replaces_a_stale_connection() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let session = gw.new_session(&tina, None).await;
    let (id, pin) = (
        session["id"].as_str().unwrap().to_string(),
        session["pin"].as_str().unwrap().to_string(),
    );
    let relay = Relay::start(&gw);
    let (address, trust) = (&relay.address, &relay.trust);

    // Registered by PIN; the technician asks and the end user allows.
    let mut first = App::connect(address, trust, &pin, None).await;
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
    let mut second = App::connect(address, trust, &pin, Some(keep.clone())).await;
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
    let mut third = App::connect(address, trust, &pin, Some(keep)).await;
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
