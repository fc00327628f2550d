//! The gateway's HTTP router (API, link pages), in process: arbitrary method, path, headers
//! and body, without a token or with a valid one. No panic, never a server error, and
//! without a token only the public routes ever answer 2xx.

#![no_main]

use axum::body::Body;
use axum::http::{Method, Request};
use libfuzzer_sys::fuzz_target;
use sos_gateway::api::{PUBLIC_ROUTES, router};
use sos_gateway::domain::secrets::Keys;
use sos_gateway::service::admin::create_user;
use sos_gateway::service::{Desk, ManualClock};
use sos_gateway::store::Store;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

struct Gateway {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
}

fn gateway() -> &'static Gateway {
    static GATEWAY: OnceLock<Gateway> = OnceLock::new();
    GATEWAY.get_or_init(|| {
        let desk = Arc::new(
            Desk::new(
                Store::in_memory().expect("store"),
                Keys::from_master(&[7; 32]),
                Arc::new(ManualClock::new(1_800_000_000)),
                "https://gw.example:8443".into(),
                "Fuzz Org".into(),
                8444,
                Vec::new(),
            )
            .expect("desk"),
        );
        create_user(&desk, "t@example.com", "Tess", "technician", "password123").expect("user");
        let (_, token) = desk
            .login("t@example.com", "password123", None)
            .expect("login");
        desk.new_session(&desk.authenticate(&token).expect("auth"), None)
            .expect("session");
        Gateway {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            app: router(desk),
            token,
        }
    })
}

/// Whether `path` (the request's path as the router sees it, without query or fragment)
/// matches a public route pattern.
fn public(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    PUBLIC_ROUTES.iter().any(|route| {
        let pattern: Vec<&str> = route.split('/').collect();
        pattern.len() == parts.len()
            && pattern
                .iter()
                .zip(&parts)
                .all(|(p, s)| p.starts_with('{') || p == s)
    })
}

fuzz_target!(|bytes: &[u8]| {
    let gw = gateway();
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.splitn(4, '\n');
    let (Some(first), Some(path)) = (lines.next(), lines.next()) else {
        return;
    };
    let header_line = lines.next().unwrap_or_default();
    let body = lines.next().unwrap_or_default().to_string();
    let mut chars = first.chars();
    let with_token = chars.next().is_some_and(|c| c.is_ascii_digit());
    let method = Method::from_bytes(chars.as_str().trim().as_bytes()).unwrap_or(Method::GET);
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    let mut request = Request::builder().method(method.clone()).uri(path.as_str());
    if let Some((name, value)) = header_line.split_once(':') {
        request = request.header(name.trim(), value.trim());
    }
    if with_token {
        request = request.header("authorization", format!("Bearer {}", gw.token));
    }
    let Ok(request) = request.body(Body::from(body)) else {
        return;
    };
    // What the router matches on: the parsed path (a `#fragment` or `?query` is not part).
    let routed = request.uri().path().to_string();
    let response = gw
        .runtime
        .block_on(gw.app.clone().oneshot(request))
        .expect("the router answers");
    let status = response.status();
    assert!(!status.is_server_error(), "{method} {path}: {status}");
    if !with_token && status.is_success() {
        assert!(
            public(&routed),
            "{method} {path} (path {routed}) answered {status} without a token"
        );
    }
});
