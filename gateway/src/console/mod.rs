//! The technicians' web console: server-rendered pages under `/console`, one small script
//! and one style sheet compiled into the binary, and the cookie login that backs them.
//!
//! Contract:
//! - Every page but the login form needs the console session cookie (see
//!   [`crate::api::cookie`]); without a valid one it redirects to the login form.
//! - Pages carry no secret and no session data beyond the signed-in user's own name: the
//!   script reads sessions from the JSON API, so the rules live in one place (the API tells
//!   which actions are allowed and why not).
//! - Every dynamic text is escaped; pages are never cached, never framed, and load nothing
//!   from elsewhere.
//! - Passwords, tokens and CSRF values never reach the log.

mod admin_pages;
mod pages;

use crate::api::ClientAddr;
use crate::api::cookie::{self, CsrfError};
use crate::service::{Desk, DeskError};
use crate::store::User;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

/// Routes that answer without a console session.
pub const PUBLIC_ROUTES: &[&str] = &["/", "/console/login", "/console/assets/{file}"];

const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// The console's routes, to merge into the API router.
pub fn router() -> Router<Arc<Desk>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(home))
        .route("/console/channels/{name}", get(channel))
        .route("/console/admin/{page}", get(admin))
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", axum::routing::post(logout))
        .route("/console/assets/{file}", get(asset))
}

/// The signed-in user of a page request and their token, from the session cookie.
fn signed_in(desk: &Desk, headers: &HeaderMap) -> Option<(User, String)> {
    let token = cookie::cookie(headers, cookie::SESSION_COOKIE)?;
    let user = desk.authenticate(token).ok()?;
    Some((user, token.to_string()))
}

/// Headers of every console answer: not cached, not framed, no referrer to other sites
/// (within the gateway it is kept: with none at all, browsers send `Origin: null` on form
/// posts, which the origin check rightly refuses).
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, max-age=0"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
             img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    private(response)
}

fn to_login() -> Response {
    private(Redirect::to("/console/login").into_response())
}

/// `GET /console/assets/{file}`: the script and the style sheet.
async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return private((StatusCode::NOT_FOUND, "no such file").into_response()),
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    private(response)
}

/// `GET /console/login`: the login form (or the console, when already signed in).
async fn login_form(State(desk): State<Arc<Desk>>, headers: HeaderMap) -> Response {
    if signed_in(&desk, &headers).is_some() {
        return private(Redirect::to("/console").into_response());
    }
    html(StatusCode::OK, pages::login(&desk.organisation, "", None))
}

/// The login form's fields.
#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

/// `POST /console/login`: the API's password login (same rate limit), its token stored in
/// the session cookie.
async fn login(
    State(desk): State<Arc<Desk>>,
    ClientAddr(from): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(e) = cookie::check_origin(&headers, &desk.public_url) {
        return html(
            StatusCode::FORBIDDEN,
            pages::login(&desk.organisation, &form.email, Some(&e.to_string())),
        );
    }
    let email = form.email.clone();
    let task = {
        let desk = desk.clone();
        tokio::task::spawn_blocking(move || desk.login(&form.email, &form.password, from))
    };
    let refusal = match task.await {
        Ok(Ok((_, token))) => {
            let mut response = Redirect::to("/console").into_response();
            for value in cookie::session_cookies(&desk.keys, &token) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            return private(response);
        }
        Ok(Err(DeskError::Unauthorized)) => (
            StatusCode::FORBIDDEN,
            "E-mail or password not accepted — check both and try again.".to_string(),
        ),
        Ok(Err(DeskError::TooManyRequests(why))) => (StatusCode::TOO_MANY_REQUESTS, why),
        Ok(Err(e)) => {
            tracing::error!("console login failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The gateway could not log you in — see its log.".to_string(),
            )
        }
        Err(e) => {
            tracing::error!("console login task failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The gateway could not log you in — see its log.".to_string(),
            )
        }
    };
    html(
        refusal.0,
        pages::login(&desk.organisation, &email, Some(&refusal.1)),
    )
}

/// The logout form's field: a plain form cannot send the CSRF header.
#[derive(Deserialize)]
struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /console/logout`: revokes the session's token and clears the cookies.
async fn logout(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some(token) = cookie::cookie(&headers, cookie::SESSION_COOKIE) else {
        return to_login();
    };
    let given = headers
        .get(cookie::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .or(form.csrf.as_deref());
    if let Err(e) = cookie::check_unsafe(&desk.keys, &headers, &desk.public_url, token, given) {
        return refused(e);
    }
    // An unknown or already revoked token: the browser is logged out all the same.
    let _ = desk.logout(token);
    let mut response = Redirect::to("/console/login").into_response();
    for value in cookie::cleared_cookies() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    private(response)
}

fn refused(e: CsrfError) -> Response {
    html(StatusCode::FORBIDDEN, pages::refused(&e.to_string()))
}

/// A signed-in page: builds its frame (user, channels, CSRF value) and renders it with
/// `render`; without a login, the login form.
fn page(
    desk: &Desk,
    headers: &HeaderMap,
    place: pages::Place,
    render: impl FnOnce(&pages::Frame<'_>, &User) -> (StatusCode, String),
) -> Response {
    let Some((user, token)) = signed_in(desk, headers) else {
        return to_login();
    };
    let views = desk
        .user_view(&user)
        .and_then(|me| Ok((me, desk.channels(&user)?)));
    let (me, channels) = match views {
        Ok(views) => views,
        Err(e) => {
            tracing::error!("console page failed: {e}");
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::refused("The gateway could not show this page — see its log."),
            );
        }
    };
    let csrf = desk.keys.csrf_value(&token);
    let frame = pages::Frame {
        organisation: &desk.organisation,
        user: &me,
        channels: &channels,
        csrf: &csrf,
        place,
    };
    let (status, body) = render(&frame, &user);
    html(status, body)
}

/// `GET /console`: Home, the sessions assigned to me or I was invited to.
async fn home(State(desk): State<Arc<Desk>>, headers: HeaderMap) -> Response {
    page(&desk, &headers, pages::Place::Home, |frame, _| {
        (StatusCode::OK, pages::sessions(frame))
    })
}

/// `GET /console/channels/{name}`: one channel's sessions (`Private`: mine).
async fn channel(
    State(desk): State<Arc<Desk>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let place = pages::Place::Channel(name.clone());
    page(&desk, &headers, place, |frame, _| {
        if frame.channels.iter().any(|c| c.name == name) {
            (StatusCode::OK, pages::sessions(frame))
        } else {
            let why = format!("You have no channel named {name} — pick one on the left.");
            (
                StatusCode::NOT_FOUND,
                pages::admin(frame, "No such channel", &admin_pages::refused(&why)),
            )
        }
    })
}

/// `GET /console/admin/{page}`: users and roles, channels, licence, downloads. The Service
/// Desk refuses what the user's role may not see; the page says so.
async fn admin(
    State(desk): State<Arc<Desk>>,
    axum::extract::Path(which): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let place = match which.as_str() {
        "users" => pages::Place::Users,
        "channels" => pages::Place::Channels,
        "licence" => pages::Place::Licence,
        "downloads" => pages::Place::Downloads,
        _ => pages::Place::Home,
    };
    page(&desk, &headers, place.clone(), |frame, user| {
        let (title, content) = match place {
            pages::Place::Users => (
                "Users and roles",
                desk.users(user)
                    .and_then(|users| Ok(admin_pages::users(&users, &desk.roles()?))),
            ),
            pages::Place::Channels => (
                "Channels",
                desk.actor(user)
                    .and_then(|actor| {
                        Ok(actor.require(
                            crate::domain::access::Permission::ManageChannels,
                            "managing channels",
                        )?)
                    })
                    .map(|()| admin_pages::channels(frame.channels)),
            ),
            pages::Place::Licence => (
                "Licence",
                desk.licence_view().map(|l| admin_pages::licence(&l)),
            ),
            pages::Place::Downloads => (
                "Downloads",
                Ok(admin_pages::downloads(&crate::web::available_builds(&desk))),
            ),
            _ => (
                "No such page",
                Err(DeskError::NotFound("no such admin page".into())),
            ),
        };
        match content {
            Ok(content) => (StatusCode::OK, pages::admin(frame, title, &content)),
            Err(e) => {
                let status = match e {
                    DeskError::NotFound(_) => StatusCode::NOT_FOUND,
                    DeskError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                    _ => StatusCode::FORBIDDEN,
                };
                let why = match e {
                    DeskError::Internal(e) => {
                        tracing::error!("console page failed: {e}");
                        "The gateway could not show this page — see its log.".to_string()
                    }
                    other => other.to_string(),
                };
                (
                    status,
                    pages::admin(frame, title, &admin_pages::refused(&why)),
                )
            }
        }
    })
}
