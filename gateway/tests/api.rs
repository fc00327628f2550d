//! The Service Desk through its HTTPS API, in process, with a clock the test moves:
//! every action, the refusals with their reasons, licences and expiry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use sos_gateway::domain::SessionAction;
use sos_gateway::domain::licence::{self, Licence};
use sos_gateway::service::admin::create_user;
use sos_transport::wire::{ConsentDecision, ToAgent};
use support::{Gw, T0, error};
use tower::ServiceExt;

#[tokio::test]
async fn a_session_from_creation_to_close() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["status"], "pending");
    assert_eq!(s["channel"], "Default");
    assert_eq!(s["assignee"], "tina@example.com");
    assert_eq!(s["expires_at"], T0 + 86_400);
    let token = s["link"]
        .as_str()
        .unwrap()
        .strip_prefix("https://gw.example:8443/s/")
        .unwrap();
    assert!(token.len() >= 22, "link token carries >= 128 bits");
    let pin = s["pin"].as_str().unwrap().to_string();

    let (_, shown) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}/pin"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(shown["pin"], pin.as_str());
    let (_, link) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}/link"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(link["link"], s["link"]);
    let (_, listed) = gw
        .call(Method::GET, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert!(listed[0].get("pin").is_none(), "lists never carry the PIN");

    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/request"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error(&body).contains("not connected"), "{body}");

    let mut agent = gw.connect_agent(id);
    let (_, shown) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["machine_name"], "pc-01");

    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/start"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "start needs a grant first: {body}"
    );
    let (status, _) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/request"),
            Some(&tina),
            Some(json!({"control": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    match agent.recv().await.unwrap() {
        ToAgent::ConsentRequest {
            request_id,
            technician,
            organisation,
            control,
        } => {
            assert_eq!(
                (
                    request_id,
                    technician.as_str(),
                    organisation.as_str(),
                    control
                ),
                (1, "tina@example.com", "Example Support", true)
            );
        }
        other => panic!("expected a consent request, got {other:?}"),
    }
    gw.desk
        .agent_event(
            id,
            SessionAction::ConsentAnswered {
                request_id: 1,
                decision: ConsentDecision::Grant { control: true },
            },
            None,
            "quic test",
        )
        .unwrap();
    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/start"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/close"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "closed");
    assert_eq!(
        agent.recv().await.unwrap(),
        ToAgent::End(sos_transport::wire::EndReason::ClosedByTechnician)
    );
    for (method, path) in [
        (Method::GET, format!("/api/v1/sessions/{id}/pin")),
        (Method::POST, format!("/api/v1/sessions/{id}/request")),
        (Method::POST, format!("/api/v1/sessions/{id}/release")),
    ] {
        let (status, body) = gw.call(method, &path, Some(&tina), None).await;
        assert!(
            status == StatusCode::CONFLICT || status == StatusCode::FORBIDDEN,
            "{path}: {status} {body}"
        );
    }
    assert!(
        gw.desk.agent_registering(&pin).unwrap().is_none(),
        "a closed session's PIN never works again"
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
    for expected in [
        "created",
        "show_pin",
        "copy_link",
        "agent_registered",
        "request_remote",
        "consent",
        "start_remote",
        "closed",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}

#[tokio::test]
async fn transfers_releases_and_invitations_follow_the_permissions() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let tom = gw.login("tom@example.com").await;
    let ann = gw.login("ann@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let id = s["id"].as_str().unwrap();
    let url = |what: &str| format!("/api/v1/sessions/{id}/{what}");

    let (status, body) = gw
        .call(
            Method::POST,
            &url("transfer"),
            Some(&tina),
            Some(json!({"to_user": "tom@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error(&body), "transfer needs the release permission");
    let (status, body) = gw
        .call(Method::POST, &url("release"), Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error(&body), "release needs the release permission");

    // The admin releases it; it waits in the queue; Tom takes it.
    let (status, body) = gw
        .call(Method::POST, &url("release"), Some(&ann), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "in_queue");
    let (_, queue) = gw
        .call(
            Method::GET,
            "/api/v1/sessions?scope=queue",
            Some(&tom),
            None,
        )
        .await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    let (status, body) = gw
        .call(
            Method::POST,
            &url("assign"),
            Some(&tom),
            Some(json!({"email": "tom@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["assignee"], "tom@example.com");
    assert_eq!(body["status"], "pending");
    let (_, home) = gw
        .call(Method::GET, "/api/v1/sessions?scope=home", Some(&tom), None)
        .await;
    assert_eq!(home.as_array().unwrap().len(), 1);
    let (_, home) = gw
        .call(
            Method::GET,
            "/api/v1/sessions?scope=home",
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(home.as_array().unwrap().len(), 0);

    // Invitations: two more technicians at most.
    for who in ["tina@example.com", "ted@example.com"] {
        let (status, body) = gw
            .call(
                Method::POST,
                &url("invite"),
                Some(&tom),
                Some(json!({"email": who})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = gw
        .call(
            Method::POST,
            &url("invite"),
            Some(&tom),
            Some(json!({"email": "tess@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(error(&body).contains("at most 3 technicians"), "{body}");
    let (_, home) = gw
        .call(
            Method::GET,
            "/api/v1/sessions?scope=home",
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(
        home[0]["invited"],
        json!(["tina@example.com", "ted@example.com"])
    );

    // Transfer to a channel needs access to it.
    let (status, _) = gw
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(&tom),
            Some(json!({"name": "Tier 2", "expiry_secs": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = gw
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(&ann),
            Some(json!({"name": "Tier 2", "expiry_secs": 3600})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = gw
        .call(
            Method::POST,
            &url("transfer"),
            Some(&tom),
            Some(json!({"to_channel": "Tier 2"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error(&body), "you have no access to this channel");
    let (status, _) = gw
        .call(
            Method::PATCH,
            "/api/v1/channels/Tier%202",
            Some(&ann),
            Some(json!({"add_members": ["tom@example.com"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    gw.clock.advance(100);
    let (status, body) = gw
        .call(
            Method::POST,
            &url("transfer"),
            Some(&tom),
            Some(json!({"to_channel": "Tier 2"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["channel"], "Tier 2");
    assert_eq!(
        body["expires_at"],
        T0 + 100 + 3600,
        "the clock restarts with the channel's expiry"
    );

    // Delete: gone from lists and lookups, kept in the audit log.
    let (status, _) = gw
        .call(
            Method::DELETE,
            &format!("/api/v1/sessions/{id}"),
            Some(&tom),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&tom),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let log = gw.desk.store.audit_log(id).unwrap();
    assert_eq!(log.last().unwrap().action, "deleted");
}

#[tokio::test]
async fn private_sessions_are_seen_by_their_owner_alone() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let ann = gw.login("ann@example.com").await;
    let s = gw.new_session(&tina, Some("Private")).await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["private"], true);
    let (status, _) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not even an admin sees it");
    let (_, all) = gw
        .call(Method::GET, "/api/v1/sessions", Some(&ann), None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 0);
    let (status, body) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/invite"),
            Some(&tina),
            Some(json!({"email": "tom@example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, mine) = gw
        .call(
            Method::GET,
            "/api/v1/sessions?channel=Private",
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn sessions_expire_with_their_channel() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let id = s["id"].as_str().unwrap();
    let pin = s["pin"].as_str().unwrap().to_string();
    gw.clock.advance(86_399);
    let (_, shown) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(shown["status"], "pending");
    gw.clock.advance(1);
    let (_, shown) = gw
        .call(
            Method::GET,
            &format!("/api/v1/sessions/{id}"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(shown["status"], "expired");
    assert!(shown["expires_at"].is_null());
    assert!(gw.desk.agent_registering(&pin).unwrap().is_none());
    let (status, _) = gw
        .call(
            Method::POST,
            &format!("/api/v1/sessions/{id}/close"),
            Some(&tina),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "Expired is final");
}

#[tokio::test]
async fn licences_gate_support_sessions() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let (_, lic) = gw
        .call(Method::GET, "/api/v1/licence", Some(&tina), None)
        .await;
    assert_eq!(lic["mode"], "evaluation");
    assert_eq!(lic["seats"], 5);
    assert_eq!(lic["seats_used"], 5);

    // A sixth technician is over the evaluation's seats.
    create_user(
        &gw.desk,
        "six@example.com",
        "Six",
        "technician",
        "password123",
    )
    .unwrap();
    let (status, body) = gw
        .call(Method::POST, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error(&body).starts_with("licence: 6 technicians"), "{body}");

    // A licence without the SOS feature refuses too; with it and enough seats, allowed.
    let issue = |features: &[&str], seats, days: i64| {
        let signed = licence::issue(
            &gw.authority.0,
            Licence {
                id: "L".into(),
                licensee: "Example".into(),
                features: features.iter().map(|f| f.to_string()).collect(),
                seats,
                issued_at: T0,
                expires_at: T0 + days * 86_400,
            },
        )
        .unwrap();
        serde_json::to_string(&signed).unwrap()
    };
    gw.desk
        .install_licence(&issue(&["unattended"], 10, 365))
        .unwrap();
    let (status, body) = gw
        .call(Method::POST, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error(&body),
        "licence: the licence does not include the sos feature"
    );
    gw.desk.install_licence(&issue(&["sos"], 10, 365)).unwrap();
    gw.new_session(&tina, None).await;
    let tampered = issue(&["sos"], 10, 365).replace("\"seats\":10", "\"seats\":500");
    assert!(
        gw.desk.install_licence(&tampered).is_err(),
        "a tampered licence is refused"
    );

    gw.clock.advance(366 * 86_400);
    let (status, body) = gw
        .call(Method::POST, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error(&body).contains("expired"), "{body}");
}

#[tokio::test]
async fn the_evaluation_ends_after_thirty_days() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    gw.clock.advance(30 * 86_400);
    let (status, body) = gw
        .call(Method::POST, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(error(&body).contains("evaluation has ended"), "{body}");
}

#[tokio::test]
async fn users_roles_and_channels_need_their_permissions() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let ann = gw.login("ann@example.com").await;
    let (status, body) = gw
        .call(Method::GET, "/api/v1/users", Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        error(&body),
        "listing users needs the manage_users permission"
    );
    let (status, _) = gw
        .call(
            Method::POST,
            "/api/v1/roles",
            Some(&ann),
            Some(json!({"name": "lead", "permissions": ["attended_access", "release"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = gw.call(Method::POST, "/api/v1/users", Some(&ann), Some(json!({"email": "lee@example.com", "name": "Lee", "role": "lead", "password": "password123"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["permissions"], json!(["attended_access", "release"]));
    let (status, _) = gw.call(Method::POST, "/api/v1/users", Some(&ann), Some(json!({"email": "x@example.com", "name": "X", "role": "owner", "password": "password123"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only owners create owners");
    let (_, channels) = gw
        .call(Method::GET, "/api/v1/channels", Some(&tina), None)
        .await;
    let names: Vec<&str> = channels
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Default", "Private"]);
    let (status, body) = gw
        .call(
            Method::POST,
            "/api/v1/channels",
            Some(&ann),
            Some(json!({"name": "Night", "expiry_secs": 60})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, metrics) = gw.call(Method::GET, "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("sosdesk_refused_actions_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_event_stream_announces_changes() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let req = Request::builder()
        .uri("/api/v1/events")
        .header("authorization", format!("Bearer {tina}"))
        .body(Body::empty())
        .unwrap();
    let res = gw.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let s = gw.new_session(&tina, None).await;
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.contains("event: session"), "{text}");
    assert!(text.contains(s["id"].as_str().unwrap()), "{text}");
    assert!(text.contains("\"status\":\"pending\""), "{text}");
}

#[tokio::test]
async fn sessions_tell_each_user_which_actions_are_allowed_and_why_not() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let ann = gw.login("ann@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let id = s["id"].as_str().unwrap().to_string();
    let action = |view: &serde_json::Value, name: &str| {
        view["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["action"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {view}"))
    };
    let path = format!("/api/v1/sessions/{id}");
    let (_, mine) = gw.call(Method::GET, &path, Some(&tina), None).await;
    assert_eq!(action(&mine, "close")["allowed"], true);
    let request = action(&mine, "request");
    assert_eq!(request["allowed"], false);
    assert!(error_of(&request).contains("not connected"), "{request}");
    assert_eq!(
        action(&mine, "release")["reason"],
        "release needs the release permission"
    );
    // The admin sees the same session with the permissions of the admin role.
    let (_, theirs) = gw.call(Method::GET, &path, Some(&ann), None).await;
    assert_eq!(action(&theirs, "release")["allowed"], true);

    let _agent = gw.connect_agent(&id);
    let (_, list) = gw
        .call(Method::GET, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(action(&list[0], "request")["allowed"], true, "{list}");
    let (_, closed) = gw
        .call(Method::POST, &format!("{path}/close"), Some(&tina), None)
        .await;
    let pin = action(&closed, "show_pin");
    assert_eq!(pin["allowed"], false);
    assert!(error_of(&pin).contains("Closed"), "{pin}");
}

fn error_of(action: &serde_json::Value) -> &str {
    action["reason"].as_str().unwrap_or_default()
}
