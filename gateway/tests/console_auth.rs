//! The console's cookie login through the HTTPS router, in process: the form sets the
//! session and CSRF cookies, the API accepts the cookie, unsafe requests without this
//! login's CSRF header or from a foreign origin are refused, the bearer API is unaffected,
//! and logout revokes the token.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed step fails the test

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use support::{Gw, error};
use tower::ServiceExt;

/// The two cookies a console login set.
struct Login {
    session: String,
    csrf: String,
}

async fn send(gw: &Gw, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = gw.app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into())
}

fn builder(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .extension(axum::extract::ConnectInfo(
            "127.0.0.1:50001".parse::<std::net::SocketAddr>().unwrap(),
        ))
}

/// Set-Cookie values by cookie name.
fn set_cookies(headers: &axum::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| {
            let text = v.to_str().unwrap();
            let (name, _) = text.split_once('=').unwrap();
            (name.to_string(), text.to_string())
        })
        .collect()
}

fn value_of(set_cookie: &str) -> String {
    let (_, rest) = set_cookie.split_once('=').unwrap();
    rest.split(';').next().unwrap().to_string()
}

async fn console_login(
    gw: &Gw,
    email: &str,
    password: &str,
) -> Result<Login, (StatusCode, String)> {
    let req = builder(Method::POST, "/console/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://gw.example:8443")
        .body(Body::from(format!(
            "email={}&password={}",
            email.replace('@', "%40"),
            password.replace(' ', "+")
        )))
        .unwrap();
    let (status, headers, body) = send(gw, req).await;
    if status != StatusCode::SEE_OTHER {
        return Err((status, body));
    }
    assert_eq!(headers[header::LOCATION], "/console");
    let cookies = set_cookies(&headers);
    let find = |name: &str| {
        cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
    };
    let session = find("sosdesk_session");
    let csrf = find("sosdesk_csrf");
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    assert!(!csrf.contains("HttpOnly"), "page script must read {csrf}");
    assert!(csrf.contains("Secure") && csrf.contains("SameSite=Strict"));
    Ok(Login {
        session: value_of(&session),
        csrf: value_of(&csrf),
    })
}

fn with_cookie(b: axum::http::request::Builder, login: &Login) -> axum::http::request::Builder {
    b.header(
        header::COOKIE,
        format!(
            "sosdesk_session={}; sosdesk_csrf={}",
            login.session, login.csrf
        ),
    )
}

#[tokio::test]
async fn cookie_posts_need_the_csrf_header_and_the_gateways_origin() {
    let gw = Gw::new();
    let login = console_login(&gw, "tina@example.com", "password123")
        .await
        .unwrap();

    // Reading with the cookie alone works.
    let req = with_cookie(builder(Method::GET, "/api/v1/me"), &login)
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["email"],
        "tina@example.com"
    );

    // Creating a session without the CSRF header: refused, nothing created.
    let refused = [
        (None, None, "X-CSRF-Token"),
        (Some("wrong".to_string()), None, "does not match"),
        (
            Some(login.csrf.clone()),
            Some("https://evil.example"),
            "another site",
        ),
    ];
    for (csrf, origin, why) in refused {
        let mut b = with_cookie(builder(Method::POST, "/api/v1/sessions"), &login);
        if let Some(csrf) = csrf {
            b = b.header("x-csrf-token", csrf);
        }
        if let Some(origin) = origin {
            b = b.header(header::ORIGIN, origin);
        }
        let (status, _, body) = send(&gw, b.body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{why}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(error(&body).contains(why), "{why}: {body}");
    }
    let tina = gw.login("tina@example.com").await;
    let (_, list) = gw
        .call(Method::GET, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");

    // With this login's CSRF value and the gateway's own origin: created.
    let req = with_cookie(builder(Method::POST, "/api/v1/sessions"), &login)
        .header("x-csrf-token", &login.csrf)
        .header(header::ORIGIN, "https://gw.example:8443")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Another login's CSRF value does not fit this one.
    let other = console_login(&gw, "tom@example.com", "password123")
        .await
        .unwrap();
    let req = with_cookie(builder(Method::POST, "/api/v1/sessions"), &login)
        .header("x-csrf-token", &other.csrf)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&gw, req).await.0, StatusCode::FORBIDDEN);

    // The bearer API needs no CSRF header and ignores the Origin.
    let (status, body) = gw
        .call(Method::POST, "/api/v1/sessions", Some(&tina), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let req = builder(Method::POST, "/api/v1/sessions")
        .header(header::AUTHORIZATION, format!("Bearer {tina}"))
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&gw, req).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn the_event_stream_opens_with_the_cookie() {
    let gw = Gw::new();
    let login = console_login(&gw, "tina@example.com", "password123")
        .await
        .unwrap();
    let req = with_cookie(builder(Method::GET, "/api/v1/events"), &login)
        .body(Body::empty())
        .unwrap();
    let res = gw.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
}

#[tokio::test]
async fn a_wrong_password_sets_no_cookie_and_the_login_limit_applies() {
    let gw = Gw::new();
    let (status, body) = console_login(&gw, "tina@example.com", "wrong password")
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("not accepted"), "{body}");
    for _ in 0..12 {
        let _ = console_login(&gw, "tina@example.com", "wrong password").await;
    }
    let (status, body) = console_login(&gw, "tina@example.com", "password123")
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("too many failed logins"), "{body}");
}

#[tokio::test]
async fn logout_revokes_the_token_and_clears_the_cookies() {
    let gw = Gw::new();
    let login = console_login(&gw, "tina@example.com", "password123")
        .await
        .unwrap();
    // A plain form cannot send the header: the CSRF value comes as a field, and is checked.
    let req = with_cookie(builder(Method::POST, "/console/logout"), &login)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("csrf=forged"))
        .unwrap();
    assert_eq!(send(&gw, req).await.0, StatusCode::FORBIDDEN);
    let req = with_cookie(builder(Method::POST, "/console/logout"), &login)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={}", login.csrf)))
        .unwrap();
    let (status, headers, _) = send(&gw, req).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cleared = set_cookies(&headers);
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(cleared.iter().all(|(_, v)| v.contains("Max-Age=0")));

    let req = with_cookie(builder(Method::GET, "/api/v1/me"), &login)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&gw, req).await.0, StatusCode::UNAUTHORIZED);
    // The console itself sends the browser back to the login form.
    let req = with_cookie(builder(Method::GET, "/console"), &login)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&gw, req).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/console/login");
}

#[tokio::test]
async fn the_root_leads_to_the_console() {
    let gw = Gw::new();
    let (status, headers, _) =
        send(&gw, builder(Method::GET, "/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/console");
    let (status, headers, body) = send(
        &gw,
        builder(Method::GET, "/console/login")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<form method=\"post\" action=\"/console/login\">"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-store, max-age=0");
}

#[tokio::test]
async fn the_api_logout_takes_the_cookie_with_its_csrf_header() {
    let gw = Gw::new();
    let login = console_login(&gw, "tina@example.com", "password123")
        .await
        .unwrap();
    let req = with_cookie(builder(Method::POST, "/api/v1/logout"), &login)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&gw, req).await.0, StatusCode::FORBIDDEN);
    let req = with_cookie(builder(Method::POST, "/api/v1/logout"), &login)
        .header("x-csrf-token", &login.csrf)
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&gw, req).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cleared = set_cookies(&headers);
    assert_eq!(cleared.len(), 2, "{cleared:?}");
    assert!(cleared.iter().all(|(_, v)| v.contains("Max-Age=0")));
    let req = with_cookie(builder(Method::GET, "/api/v1/me"), &login)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&gw, req).await.0, StatusCode::UNAUTHORIZED);

    // A bearer logout sets no cookie.
    let tina = gw.login("tina@example.com").await;
    let req = builder(Method::POST, "/api/v1/logout")
        .header(header::AUTHORIZATION, format!("Bearer {tina}"))
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = send(&gw, req).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(set_cookies(&headers).is_empty());
}
