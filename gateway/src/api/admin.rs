//! Who am I, channels, users, roles and licence routes.

use super::{ApiResult, Auth, counted};
use crate::service::Desk;
use axum::Json;
use axum::extract::{Path, State};
use sos_transport::api::{
    AlertView, ChannelUpdate, ChannelView, ErrorBody, LicenceView, NewChannelRequest,
    NewUserRequest, RoleView, UserView,
};
use std::sync::Arc;

/// The caller and their permissions.
#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
pub async fn me(State(desk): State<Arc<Desk>>, Auth(user): Auth) -> ApiResult<UserView> {
    Ok(Json(counted(&desk, desk.user_view(&user))?))
}

/// Channels the caller may use (their private channel included).
#[utoipa::path(get, path = "/api/v1/channels", security(("bearer" = [])),
    responses((status = 200, body = Vec<ChannelView>)))]
pub async fn channels(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
) -> ApiResult<Vec<ChannelView>> {
    Ok(Json(counted(&desk, desk.channels(&user))?))
}

/// Create a shared channel (needs `manage_channels`).
#[utoipa::path(post, path = "/api/v1/channels", request_body = NewChannelRequest,
    security(("bearer" = [])),
    responses((status = 200, body = ChannelView), (status = 403, body = ErrorBody)))]
pub async fn add_channel(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Json(body): Json<NewChannelRequest>,
) -> ApiResult<ChannelView> {
    Ok(Json(counted(
        &desk,
        desk.add_channel(&user, &body.name, body.expiry_secs),
    )?))
}

/// Change a channel's expiry and members (needs `manage_channels`).
#[utoipa::path(patch, path = "/api/v1/channels/{name}", request_body = ChannelUpdate,
    params(("name" = String, Path, description = "Channel name")), security(("bearer" = [])),
    responses((status = 200, body = ChannelView), (status = 403, body = ErrorBody)))]
pub async fn update_channel(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(name): Path<String>,
    Json(body): Json<ChannelUpdate>,
) -> ApiResult<ChannelView> {
    Ok(Json(counted(
        &desk,
        desk.update_channel(&user, &name, &body),
    )?))
}

/// Every user (needs `manage_users`).
#[utoipa::path(get, path = "/api/v1/users", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = ErrorBody)))]
pub async fn users(State(desk): State<Arc<Desk>>, Auth(user): Auth) -> ApiResult<Vec<UserView>> {
    Ok(Json(counted(&desk, desk.users(&user))?))
}

/// Create a user (needs `manage_users`).
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUserRequest,
    security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 403, body = ErrorBody)))]
pub async fn add_user(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Json(body): Json<NewUserRequest>,
) -> ApiResult<UserView> {
    let created = tokio::task::spawn_blocking(move || {
        desk.add_user(&user, &body.email, &body.name, &body.role, &body.password)
            .inspect_err(|_| {
                desk.counters
                    .refused_actions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            })
    })
    .await
    .map_err(|e| crate::service::DeskError::Internal(e.to_string()))??;
    Ok(Json(created))
}

/// Built-in and custom roles.
#[utoipa::path(get, path = "/api/v1/roles", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>)))]
pub async fn roles(State(desk): State<Arc<Desk>>, Auth(_user): Auth) -> ApiResult<Vec<RoleView>> {
    Ok(Json(counted(&desk, desk.roles())?))
}

/// Create or change a custom role (needs `manage_users`).
#[utoipa::path(post, path = "/api/v1/roles", request_body = RoleView, security(("bearer" = [])),
    responses((status = 200, body = RoleView), (status = 403, body = ErrorBody)))]
pub async fn set_role(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Json(body): Json<RoleView>,
) -> ApiResult<RoleView> {
    Ok(Json(counted(&desk, desk.set_role(&user, &body))?))
}

/// Licence status (evaluation or licensed, seats, expiry, problem).
#[utoipa::path(get, path = "/api/v1/licence", security(("bearer" = [])),
    responses((status = 200, body = LicenceView)))]
pub async fn licence(State(desk): State<Arc<Desk>>, Auth(_user): Auth) -> ApiResult<LicenceView> {
    Ok(Json(counted(&desk, desk.licence_view())?))
}

/// What administrators should know now (needs `manage_users`): PIN registration switched
/// off by guessing, a licence that refuses sessions. Empty when all is well.
#[utoipa::path(get, path = "/api/v1/alerts", security(("bearer" = [])),
    responses((status = 200, body = Vec<AlertView>), (status = 403, body = ErrorBody)))]
pub async fn alerts(State(desk): State<Arc<Desk>>, Auth(user): Auth) -> ApiResult<Vec<AlertView>> {
    Ok(Json(counted(&desk, desk.alerts(&user))?))
}
