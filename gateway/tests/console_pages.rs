//! The console's pages through the HTTPS router, in process: who may see which page,
//! the headers that keep pages private and scripts local, and escaping of user text.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use sos_gateway::service::admin::create_user;
use support::Gw;
use tower::ServiceExt;

/// GET `path` with the console cookie of `token` (none when None).
async fn page(gw: &Gw, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(token) = token {
        req = req.header(header::COOKIE, format!("sosdesk_session={token}"));
    }
    let res = gw
        .app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into())
}

#[tokio::test]
async fn pages_need_a_login_and_are_private() {
    let gw = Gw::new();
    for path in [
        "/console",
        "/console/channels/Default",
        "/console/admin/users",
        "/console/admin/licence",
    ] {
        let (status, headers, _) = page(&gw, path, None).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(headers[header::LOCATION], "/console/login", "{path}");
        let (status, _, _) = page(&gw, path, Some("not-a-token")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path} with a bad cookie");
    }
    let tina = gw.login("tina@example.com").await;
    let (status, headers, body) = page(&gw, "/console", Some(&tina)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store, max-age=0");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(body.contains("<table id=\"sessions\""), "{body}");
    // Only the gateway's own script and style; no inline script.
    assert!(body.contains("<script src=\"/console/assets/console.js\" defer></script>"));
    assert_eq!(body.matches("<script").count(), 1);

    let (status, headers, script) = page(&gw, "/console/assets/console.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.contains("X-CSRF-Token"));
    let (status, _, _) = page(&gw, "/console/assets/other.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn user_text_is_escaped_and_admin_pages_follow_the_role() {
    let gw = Gw::new();
    create_user(
        &gw.desk,
        "mal@example.com",
        "<img src=x onerror=alert(1)>",
        "technician",
        "password123",
    )
    .unwrap();
    let mal = gw.login("mal@example.com").await;
    let (_, _, body) = page(&gw, "/console", Some(&mal)).await;
    assert!(!body.contains("<img src=x"), "{body}");
    assert!(body.contains("&lt;img src=x onerror=alert(1)&gt;"));

    // A technician: the admin pages say what is missing; no admin links but the public ones.
    assert!(!body.contains("/console/admin/users"));
    let (status, _, body) = page(&gw, "/console/admin/users", Some(&mal)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body.contains("listing users needs the manage_users permission"),
        "{body}"
    );
    let (status, _, _) = page(&gw, "/console/admin/channels", Some(&mal)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, body) = page(&gw, "/console/admin/licence", Some(&mal)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Evaluation"), "{body}");
    let (status, _, _) = page(&gw, "/console/channels/Nowhere", Some(&mal)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An admin sees every user, the escaped name included.
    let ann = gw.login("ann@example.com").await;
    let (status, _, body) = page(&gw, "/console/admin/users", Some(&ann)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("mal@example.com") && body.contains("&lt;img src=x"));
    assert!(!body.contains("<img src=x"));
}
