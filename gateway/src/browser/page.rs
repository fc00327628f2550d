//! The viewer page `/console/sessions/{id}/view`, its script and style (embedded, no CDN,
//! no build step), and the WebSocket route.
//!
//! Contract: everything here needs a login (the page sends the signed-out to the console's
//! login form); the page is static (it reads the session id
//! from its own address) and its Content-Security-Policy allows scripts and styles from
//! the gateway only and connections to the gateway's HTTPS and WebTransport ports only.

use super::websocket;
use crate::api::{ApiError, Auth};
use crate::service::Desk;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use std::sync::Arc;

const HTML: &str = include_str!("assets/viewer.html");
const SCRIPT: &str = include_str!("assets/viewer.js");
const STYLE: &str = include_str!("assets/viewer.css");

/// The page, its assets and the WebSocket, to merge into the API router.
pub fn router() -> Router<Arc<Desk>> {
    Router::new()
        .route("/console/sessions/{id}/view", get(page))
        .route("/console/viewer.js", get(script))
        .route("/console/viewer.css", get(style))
        .route("/api/v1/sessions/{id}/viewer/ws", get(websocket::upgrade))
}

fn respond(body: &'static str, content_type: &'static str, csp: HeaderValue) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    response
}

const ASSET_CSP: &str = "default-src 'none'";

async fn page(
    State(desk): State<Arc<Desk>>,
    auth: Result<Auth, ApiError>,
    Path(_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if auth.is_err() {
        return Redirect::to("/console/login").into_response();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let port = desk.browser.webtransport_port();
    respond(HTML, "text/html; charset=utf-8", page_csp(host, port))
}

async fn script(Auth(_): Auth) -> Response {
    respond(
        SCRIPT,
        "text/javascript; charset=utf-8",
        HeaderValue::from_static(ASSET_CSP),
    )
}

async fn style(Auth(_): Auth) -> Response {
    respond(
        STYLE,
        "text/css; charset=utf-8",
        HeaderValue::from_static(ASSET_CSP),
    )
}

/// The name part of a `Host` header (`[::1]` of `[::1]:8443`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split(':').next().unwrap_or(host)
}

/// The page's policy: `connect-src` names the WebTransport port on the host the page was
/// asked from, when that host is a plain name or address.
fn page_csp(host: Option<&str>, webtransport_port: Option<u16>) -> HeaderValue {
    let mut connect = String::from("'self'");
    let name = host.map(host_name);
    if let (Some(name), Some(port)) = (name, webtransport_port)
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b))
    {
        connect.push_str(&format!(" https://{name}:{port}"));
    }
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_webtransport_port_of_the_page_host_only() {
        let csp = |host, port| page_csp(host, port).to_str().unwrap().to_string();
        assert!(
            csp(Some("gw.example:8443"), Some(8445))
                .contains("connect-src 'self' https://gw.example:8445;")
        );
        assert!(csp(Some("127.0.0.1:8443"), Some(9000)).contains("https://127.0.0.1:9000;"));
        assert!(csp(Some("[::1]:8443"), Some(9000)).contains("https://[::1]:9000;"));
        assert!(csp(Some("gw.example"), Some(8445)).contains("https://gw.example:8445;"));
        assert!(csp(Some("evil\"; script-src *"), Some(8445)).contains("connect-src 'self';"));
        assert!(csp(Some("gw.example:8443"), None).contains("connect-src 'self';"));
        assert!(csp(None, Some(1)).contains("script-src 'self';"));
    }
}
