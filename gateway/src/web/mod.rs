//! The end user's side of the HTTPS server: the session link page `/s/{token}`, the app
//! download named after the session, and the PIN lookup a branded app makes from the token
//! in its own file name.
//!
//! Contract:
//! - Plain HTML, no JavaScript, every dynamic text escaped; pages are never cached and never
//!   send the link (it carries the token) as a referrer.
//! - An unknown, malformed, expired, closed or deleted token gets the very same answer
//!   (status, body, and no sooner than [`NOT_VALID_FLOOR`]), so tokens cannot be probed.
//! - Read only: opening a link changes no session; only the app's registration does.
//! - Tokens and PINs never reach the log.

pub mod branding;
mod downloads;
mod page;

pub use downloads::{Build, Os, Visitor, available as available_builds};
pub use page::escape;

use crate::service::Desk;
use crate::store::SessionRow;
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sos_branding::LinkToken;
use sos_transport::api::{ErrorBody, PinView};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Routes served here, all public (the token is the credential).
pub const ROUTES: &[&str] = &[
    "/s/{token}",
    "/s/{token}/pin.json",
    "/s/{token}/download/{os}",
];

/// Shortest time before a "not valid" answer, whatever made the link not valid.
pub const NOT_VALID_FLOOR: Duration = Duration::from_millis(200);

/// What the end user is told when a link does not lead to a live session.
pub const NOT_VALID: &str = "This support link is not valid any more. It may have expired or \
    been closed. Ask your technician for a new link.";

/// The link page, the downloads and the PIN lookup, to merge into the API router.
pub fn router() -> Router<Arc<Desk>> {
    Router::new()
        .route("/s/{token}", get(link_page))
        .route("/s/{token}/pin.json", get(link_pin))
        .route("/s/{token}/download/{os}", get(download))
}

/// Where a link leads.
enum Link {
    /// A session that may still be joined, with its PIN.
    Live {
        row: Box<SessionRow>,
        pin: String,
        token: LinkToken,
    },
    /// Anything else, for whatever reason.
    NotValid,
    /// The gateway could not tell (database or key failure; logged).
    Unavailable,
}

/// Looks the token up without changing anything.
fn lookup(desk: &Desk, token: &str) -> Link {
    let Some(token) = LinkToken::parse(token) else {
        return Link::NotValid;
    };
    let id = match desk.store.session_by_link(token.expose()) {
        Ok(Some(id)) => id,
        Ok(None) => return Link::NotValid,
        Err(e) => {
            tracing::error!("link lookup failed: {e}");
            return Link::Unavailable;
        }
    };
    let mut row = match desk.store.session(&id) {
        Ok(Some(row)) if !row.session.deleted => row,
        Ok(_) => return Link::NotValid,
        Err(e) => {
            tracing::error!("link lookup failed: {e}");
            return Link::Unavailable;
        }
    };
    row.session.agent_online = desk.live.agent_online(&id);
    row.session.derive_status();
    // Expiry is applied to this copy only; the Service Desk records it on its next load.
    row.session.tick(desk.clock.now());
    if row.session.status.is_final() {
        return Link::NotValid;
    }
    match desk.keys.open_pin(&row.pin_sealed) {
        Ok(pin) => Link::Live {
            row: Box::new(row),
            pin,
            token,
        },
        Err(e) => {
            tracing::error!(session = %id, "cannot open the PIN for the link page: {e}");
            Link::Unavailable
        }
    }
}

/// Headers of every answer: never cached, never sent on as a referrer.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
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
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
             form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    private(response)
}

/// Waits out the floor, then answers "not valid" (HTML or JSON).
async fn not_valid(started: Instant, look: &page::Look, json: bool) -> Response {
    tokio::time::sleep_until(started + NOT_VALID_FLOOR).await;
    if json {
        let body = ErrorBody {
            error: NOT_VALID.to_string(),
        };
        return private((StatusCode::NOT_FOUND, Json(body)).into_response());
    }
    html(StatusCode::NOT_FOUND, page::not_valid(look))
}

fn unavailable(look: &page::Look) -> Response {
    html(StatusCode::SERVICE_UNAVAILABLE, page::unavailable(look))
}

/// `GET /s/{token}`: the link page.
async fn link_page(
    State(desk): State<Arc<Desk>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let look = page::Look::of(&desk);
    match lookup(&desk, &token) {
        Link::Live { row, pin, token } => {
            let visitor = Visitor::of_user_agent(
                headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            );
            let builds = downloads::available(&desk);
            let details = page::Details {
                token: &token,
                pin: &pin,
                visitor,
                builds: &builds,
                generic_command: page::generic_command(&desk),
                agent_connected: row.session.agent_online,
            };
            html(StatusCode::OK, page::live(&look, &details))
        }
        Link::Unavailable => unavailable(&look),
        Link::NotValid => not_valid(started, &look, false).await,
    }
}

/// `GET /s/{token}/pin.json`: the PIN of the link's session, for a branded app that found
/// the token in its own file name.
async fn link_pin(State(desk): State<Arc<Desk>>, Path(token): Path<String>) -> Response {
    let started = Instant::now();
    match lookup(&desk, &token) {
        Link::Live { pin, .. } => private(Json(PinView { pin }).into_response()),
        Link::Unavailable => {
            let body = ErrorBody {
                error: "the gateway cannot answer right now — try again in a minute".into(),
            };
            private((StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response())
        }
        Link::NotValid => not_valid(started, &page::Look::of(&desk), true).await,
    }
}

/// `GET /s/{token}/download/{os}`: the app for that system, named after the session.
async fn download(
    State(desk): State<Arc<Desk>>,
    Path((token, os)): Path<(String, String)>,
) -> Response {
    let started = Instant::now();
    let look = page::Look::of(&desk);
    let token = match lookup(&desk, &token) {
        Link::Live { token, .. } => token,
        Link::Unavailable => return unavailable(&look),
        Link::NotValid => return not_valid(started, &look, false).await,
    };
    let build = Os::parse(&os).and_then(|os| {
        downloads::available(&desk)
            .into_iter()
            .find(|build| build.os == os)
    });
    let Some(build) = build else {
        return html(StatusCode::NOT_FOUND, page::no_build(&look, &token));
    };
    match downloads::serve(&build, &token).await {
        Ok(response) => private(response),
        Err(e) => {
            tracing::error!(file = %build.path.display(), "cannot serve a download: {e}");
            unavailable(&look)
        }
    }
}

#[cfg(test)]
mod tests;
