//! Session routes.

use super::{ApiError, ApiResult, Auth, ClientAddr, RequestToken, cookie, counted};
use crate::service::{Desk, DeskError, Scope};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sos_transport::api::{
    AuditEvent, ErrorBody, GatewayInfo, LinkView, LoginRequest, LoginResponse, NewSessionRequest,
    PinView, RemoteRequest, SessionView, TransferRequest, UserRef, ViewerTicket,
};
use std::sync::Arc;

/// What the gateway is and where its QUIC port is.
#[utoipa::path(get, path = "/api/v1/info", responses((status = 200, body = GatewayInfo)))]
pub async fn info(State(desk): State<Arc<Desk>>) -> Json<GatewayInfo> {
    Json(GatewayInfo {
        quic_port: desk.quic_port,
        organisation: desk.organisation.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// Password login; answers an API token. Too many failures from one network answer 429.
#[utoipa::path(post, path = "/api/v1/login", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 403, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn login(
    State(desk): State<Arc<Desk>>,
    ClientAddr(from): ClientAddr,
    Json(body): Json<LoginRequest>,
) -> ApiResult<LoginResponse> {
    // argon2 is deliberately slow: keep it off the async workers.
    let (user, token) =
        tokio::task::spawn_blocking(move || desk.login(&body.email, &body.password, from))
            .await
            .map_err(|e| DeskError::Internal(e.to_string()))?
            .map_err(|e| match e {
                DeskError::Unauthorized => {
                    DeskError::Forbidden("e-mail or password not accepted".into())
                }
                other => other,
            })?;
    Ok(Json(LoginResponse {
        token,
        name: user.name,
        email: user.email,
    }))
}

/// Logout: the token of the request is revoked and never works again; a console session's
/// cookies are cleared.
#[utoipa::path(post, path = "/api/v1/logout", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(desk): State<Arc<Desk>>,
    token: RequestToken,
) -> Result<Response, ApiError> {
    desk.logout(&token.token)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if token.from_cookie {
        for value in cookie::cleared_cookies() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

/// Which sessions to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// `home` (assigned to me or invited), `queue` (released), or absent for all.
    scope: Option<String>,
    /// A channel name (`Private` for mine).
    channel: Option<String>,
}

/// Sessions the caller may see.
#[utoipa::path(get, path = "/api/v1/sessions", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionView>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Vec<SessionView>> {
    let scope = match (q.scope.as_deref(), q.channel) {
        (_, Some(channel)) => Scope::Channel(channel),
        (Some("home"), None) => Scope::Home,
        (Some("queue"), None) => Scope::Queue,
        (None | Some("all"), None) => Scope::All,
        (Some(other), None) => {
            return Err(ApiError(DeskError::BadRequest(format!(
                "unknown scope {other}: use home, queue or all"
            ))));
        }
    };
    Ok(Json(counted(&desk, desk.list(&user, &scope))?))
}

/// New session: a link and a PIN, Pending until the end user's app registers.
#[utoipa::path(post, path = "/api/v1/sessions", request_body = Option<NewSessionRequest>,
    security(("bearer" = [])),
    responses((status = 201, body = SessionView), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    body: Option<Json<NewSessionRequest>>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let channel = body.and_then(|Json(b)| b.channel);
    let view = counted(&desk, desk.new_session(&user, channel.as_deref()))?;
    Ok((StatusCode::CREATED, Json(view)))
}

macro_rules! session_route {
    ($(#[$doc:meta])* $method:ident $name:ident $path:literal => $out:ty, |$desk:ident, $user:ident, $id:ident| $call:expr) => {
        $(#[$doc])*
        #[utoipa::path($method, path = $path, params(("id" = String, Path, description = "Session id")),
            security(("bearer" = [])),
            responses((status = 200, body = $out), (status = 403, body = ErrorBody),
                (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State($desk): State<Arc<Desk>>,
            Auth($user): Auth,
            Path($id): Path<String>,
        ) -> ApiResult<$out> {
            Ok(Json(counted(&$desk, $call)?))
        }
    };
    ($(#[$doc:meta])* $method:ident $name:ident $path:literal $body:ty => $out:ty, |$desk:ident, $user:ident, $id:ident, $b:ident| $call:expr) => {
        $(#[$doc])*
        #[utoipa::path($method, path = $path, params(("id" = String, Path, description = "Session id")),
            request_body = $body, security(("bearer" = [])),
            responses((status = 200, body = $out), (status = 403, body = ErrorBody),
                (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
        pub async fn $name(
            State($desk): State<Arc<Desk>>,
            Auth($user): Auth,
            Path($id): Path<String>,
            $b: Option<Json<$body>>,
        ) -> ApiResult<$out> {
            Ok(Json(counted(&$desk, $call)?))
        }
    };
}

session_route!(
    /// One session.
    get show "/api/v1/sessions/{id}" => SessionView,
    |desk, user, id| desk.show(&user, &id));
session_route!(
    /// Ask the end user for access (the app shows the prompt).
    post request_remote "/api/v1/sessions/{id}/request" RemoteRequest => SessionView,
    |desk, user, id, b| desk.request_remote(&user, &id, b.is_none_or(|Json(b)| b.control)));
session_route!(
    /// Start watching: allowed only after the end user granted access.
    post start_remote "/api/v1/sessions/{id}/start" => SessionView,
    |desk, user, id| desk.start_remote(&user, &id));
session_route!(
    /// A one-time ticket for the browser viewer (30 s, this user and session), after the
    /// same checks as starting to watch; and where to use it.
    post viewer_ticket "/api/v1/sessions/{id}/viewer-ticket" => ViewerTicket,
    |desk, user, id| crate::browser::issue_ticket(&desk, &user, &id));
session_route!(
/// Assign a technician (take from the queue, or transfer: needs `release`).
post assign "/api/v1/sessions/{id}/assign" UserRef => SessionView,
|desk, user, id, b| match b {
    Some(Json(b)) => desk.assign(&user, &id, &b.email),
    None => Err(DeskError::BadRequest("name the technician: {\"email\": ...}".into())),
});
session_route!(
/// Transfer to another assignee (needs `release`) or another channel (needs access).
post transfer "/api/v1/sessions/{id}/transfer" TransferRequest => SessionView,
|desk, user, id, b| match b.map(|Json(b)| (b.to_user, b.to_channel)) {
    Some((Some(email), None)) => desk.assign(&user, &id, &email),
    Some((None, Some(channel))) => desk.transfer_to_channel(&user, &id, &channel),
    _ => Err(DeskError::BadRequest("give exactly one of to_user and to_channel".into())),
});
session_route!(
/// Invite another technician (3 technicians at most).
post invite "/api/v1/sessions/{id}/invite" UserRef => SessionView,
|desk, user, id, b| match b {
    Some(Json(b)) => desk.invite(&user, &id, &b.email),
    None => Err(DeskError::BadRequest("name the technician: {\"email\": ...}".into())),
});
session_route!(
    /// Release to the channel's queue (needs `release`).
    post release "/api/v1/sessions/{id}/release" => SessionView,
    |desk, user, id| desk.release(&user, &id));
session_route!(
    /// Close for good: the PIN and link never work again.
    post close "/api/v1/sessions/{id}/close" => SessionView,
    |desk, user, id| desk.close(&user, &id));
session_route!(
    /// Show the PIN.
    get pin "/api/v1/sessions/{id}/pin" => PinView,
    |desk, user, id| desk.pin(&user, &id).map(|pin| PinView { pin }));
session_route!(
    /// Copy the link.
    get link "/api/v1/sessions/{id}/link" => LinkView,
    |desk, user, id| desk.link(&user, &id).map(|link| LinkView { link }));
session_route!(
    /// The audit log of the session.
    get log "/api/v1/sessions/{id}/log" => Vec<AuditEvent>,
    |desk, user, id| desk.log(&user, &id));

/// Delete the session (kept in the audit log).
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", params(("id" = String, Path, description = "Session id")),
    security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    counted(&desk, desk.delete(&user, &id))?;
    Ok(StatusCode::NO_CONTENT)
}
