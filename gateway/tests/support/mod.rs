//! The gateway's HTTP API in process, for the API tests: a Service Desk on an in-memory
//! store with five users, a clock the test moves, and requests sent through the router.

// Each test file uses part of the harness.
#![allow(dead_code)]

pub mod app;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sos_gateway::domain::SessionAction;
use sos_gateway::domain::licence;
use sos_gateway::domain::secrets::Keys;
use sos_gateway::relay::live::AgentHandle;
use sos_gateway::service::admin::create_user;
use sos_gateway::service::{Desk, ManualClock};
use sos_gateway::store::Store;
use sos_transport::wire::{DisplayInfo, ToAgent};
use std::sync::Arc;
use tower::ServiceExt;

pub const T0: i64 = 1_800_000_000;

pub struct Gw {
    pub desk: Arc<Desk>,
    pub clock: Arc<ManualClock>,
    pub app: axum::Router,
    pub authority: (String, String),
}

impl Gw {
    pub fn new() -> Self {
        let clock = Arc::new(ManualClock::new(T0));
        let authority = licence::keygen().unwrap();
        let desk = Arc::new(
            Desk::new(
                Store::in_memory().unwrap(),
                Keys::from_master(&[3; 32]),
                clock.clone(),
                "https://gw.example:8443".into(),
                "Example Support".into(),
                8444,
                vec![authority.1.clone()],
            )
            .unwrap(),
        );
        for (email, role) in [
            ("tina@example.com", "technician"),
            ("tom@example.com", "technician"),
            ("ann@example.com", "admin"),
            ("ted@example.com", "technician"),
            ("tess@example.com", "technician"),
        ] {
            create_user(&desk, email, email, role, "password123").unwrap();
        }
        let app = sos_gateway::api::router(desk.clone());
        Self {
            desk,
            clock,
            app,
            authority,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_from(method, path, token, body, "127.0.0.1:50000")
            .await
    }

    /// Like `call`, as sent from the client address `from`.
    pub async fn call_from(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        from: &str,
    ) -> (StatusCode, Value) {
        let from: std::net::SocketAddr = from.parse().unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .extension(axum::extract::ConnectInfo(from));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/login",
                None,
                Some(json!({"email": email, "password": "password123"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn new_session(&self, token: &str, channel: Option<&str>) -> Value {
        let body = channel.map(|c| json!({ "channel": c }));
        let (status, body) = self
            .call(Method::POST, "/api/v1/sessions", Some(token), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Connects a stand-in for the end user's app to the live registry and registers it.
    pub fn connect_agent(&self, id: &str) -> tokio::sync::mpsc::Receiver<ToAgent> {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let display = DisplayInfo {
            index: 0,
            width: 1920,
            height: 1080,
            primary: true,
        };
        assert!(self.desk.live.attach_agent(
            id,
            AgentHandle {
                tx,
                connection_id: 1,
                display,
                monitors: Vec::new(),
                replaced: None,
            }
        ));
        self.desk
            .agent_event(
                id,
                SessionAction::AgentRegistered,
                Some("pc-01"),
                "quic test",
            )
            .unwrap();
        rx
    }
}

pub fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}
