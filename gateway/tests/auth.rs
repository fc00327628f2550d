//! Authentication through the HTTPS API, in process: every documented route refuses without
//! a token, path tricks never get past that, password guessing is blocked per network, and a
//! logout revokes the token.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::http::{Method, StatusCode};
use serde_json::json;
use support::{Gw, error};

#[tokio::test]
async fn every_documented_route_refuses_without_a_token() {
    let gw = Gw::new();
    let (status, doc) = gw
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.len() >= 20,
        "the document lists the API: {}",
        paths.len()
    );
    let mut checked = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let public = ["/api/v1/info", "/api/v1/login"].contains(&path.as_str());
            let concrete = path.replace("{id}", "abc").replace("{name}", "Default");
            let (status, body) = gw
                .call(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                    None,
                    Some(json!({})),
                )
                .await;
            if public {
                assert_ne!(status, StatusCode::NOT_FOUND, "{method} {path} exists");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 24);
    let (status, _) = gw.call(Method::GET, "/api/v1/sessions/", None, None).await;
    assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn path_tricks_never_get_past_authentication() {
    let gw = Gw::new();
    let tina = gw.login("tina@example.com").await;
    let s = gw.new_session(&tina, None).await;
    let id = s["id"].as_str().unwrap().to_string();
    let tricks = [
        "/api/v1/sessions/".to_string(),
        "/api/v1//sessions".to_string(),
        "/api/v1/%2e/sessions".to_string(),
        "/api/v1/./sessions".to_string(),
        "/api/v1/info/../sessions".to_string(),
        "/api/v1/login/../sessions".to_string(),
        "/api/v1/%2e%2e/v1/sessions".to_string(),
        "/API/V1/SESSIONS".to_string(),
        "/api/V1/sessions".to_string(),
        "/api/v1/sessions%2f".to_string(),
        format!("/api/v1/sessions/{id}/"),
        format!("/api/v1/sessions/{id}/extra"),
        format!("/api/v1/sessions/{id}%2fpin"),
        format!("/api/v1/sessions/{id}/pin/"),
        format!("/api/v1/info/../sessions/{id}/pin"),
        "/s/../api/v1/sessions".to_string(),
        "/healthz/../api/v1/users".to_string(),
        "/api/v1/users;.json".to_string(),
    ];
    for path in &tricks {
        for method in [Method::GET, Method::POST] {
            let (status, body) = gw.call(method.clone(), path, None, None).await;
            assert!(
                status.is_client_error(),
                "{method} {path} answered {status} without a token: {body}"
            );
            assert!(
                !body.to_string().contains(&id),
                "{method} {path} leaked the session: {body}"
            );
        }
    }
}

#[tokio::test]
async fn password_guessing_is_blocked_per_network_and_a_logout_revokes_the_token() {
    let gw = Gw::new();
    let guess = |from: &'static str, password: &'static str| {
        gw.call_from(
            Method::POST,
            "/api/v1/login",
            None,
            Some(json!({"email": "tina@example.com", "password": password})),
            from,
        )
    };
    for _ in 0..10 {
        let (status, _) = guess("127.0.0.9:40000", "wrong").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Blocked now, even with the right password, and told for how long.
    let (status, body) = guess("127.0.0.9:40001", "password123").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(error(&body).contains("try again in 15 minutes"), "{body}");
    // Another network still logs in.
    let (status, body) = guess("127.0.1.9:40000", "password123").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_string();

    // After the block, the address may try again.
    gw.clock.advance(15 * 60);
    let (status, _) = guess("127.0.0.9:40002", "password123").await;
    assert_eq!(status, StatusCode::OK);

    // Logout: the token never works again, and a second logout is refused.
    let (status, _) = gw
        .call(Method::GET, "/api/v1/sessions", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = gw
        .call(Method::POST, "/api/v1/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, path) in [
        (Method::GET, "/api/v1/sessions"),
        (Method::POST, "/api/v1/logout"),
    ] {
        let (status, _) = gw.call(method, path, Some(&token), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

#[tokio::test]
async fn pin_guessing_across_the_gateway_warns_administrators_until_it_ends() {
    use sos_gateway::domain::ratelimit::{Limits, PinLimiter};
    let gw = Gw::new();
    let admin = gw.login("ann@example.com").await;
    let technician = gw.login("tina@example.com").await;
    let (status, alerts) = gw
        .call(Method::GET, "/api/v1/alerts", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{alerts}");
    assert_eq!(alerts, json!([]), "all is well at first");

    *gw.desk.pin_limiter.lock().unwrap() = PinLimiter::new(Limits {
        global_failures: 30,
        ..Limits::default()
    });
    for n in 0..30_u8 {
        let from = std::net::IpAddr::from([198, 18, n, 7]);
        gw.desk
            .pin_limiter
            .lock()
            .unwrap()
            .failure(from, support::T0);
    }
    let (status, alerts) = gw
        .call(Method::GET, "/api/v1/alerts", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{alerts}");
    assert_eq!(alerts[0]["kind"], "link_only", "{alerts}");
    let message = alerts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("30 wrong PINs reached the gateway within 10 minutes")
            && message.contains("10 more minutes")
            && message.contains("session link"),
        "{message}"
    );
    assert_eq!(alerts[0]["until"], support::T0 + 600);

    let (status, body) = gw
        .call(Method::GET, "/api/v1/alerts", Some(&technician), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only administrators: {body}");

    gw.clock.advance(600);
    let (_, alerts) = gw
        .call(Method::GET, "/api/v1/alerts", Some(&admin), None)
        .await;
    assert_eq!(alerts, json!([]), "the warning ends with the window");
}
