//! The HTTPS JSON API under `/api/v1`.
//!
//! Every route except `/healthz`, `/api/v1/info` and `/api/v1/login` requires a bearer
//! token; the default is deny. Refusals answer with a status and an [`ErrorBody`] that says
//! why.

use crate::service::{Desk, DeskError};
use crate::store::User;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sos_transport::api::{
    AuditEvent, ErrorBody, GatewayInfo, LoginRequest, LoginResponse, NewSessionRequest, PinView,
    RemoteRequest, SessionView,
};
use std::sync::Arc;

/// The API router.
pub fn router(desk: Arc<Desk>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/info", get(info))
        .route("/api/v1/login", post(login))
        .route("/api/v1/sessions", get(list).post(create))
        .route("/api/v1/sessions/{id}", get(show))
        .route("/api/v1/sessions/{id}/request", post(request_remote))
        .route("/api/v1/sessions/{id}/close", post(close))
        .route("/api/v1/sessions/{id}/pin", get(pin))
        .route("/api/v1/sessions/{id}/log", get(log))
        .fallback(|| async { ApiError(DeskError::NotFound("no such page".into())) })
        .with_state(desk)
}

/// A refused request.
#[derive(Debug)]
pub struct ApiError(DeskError);

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            DeskError::Unauthorized => StatusCode::UNAUTHORIZED,
            DeskError::Forbidden(_) => StatusCode::FORBIDDEN,
            DeskError::NotFound(_) => StatusCode::NOT_FOUND,
            DeskError::Conflict(_) => StatusCode::CONFLICT,
            DeskError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DeskError::Internal(e) => {
                tracing::error!("internal error: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let error = match &self.0 {
            DeskError::Internal(_) => "internal error — see the gateway log".to_string(),
            other => other.to_string(),
        };
        (status, Json(ErrorBody { error })).into_response()
    }
}

/// The authenticated user of a request.
pub struct Auth(pub User);

impl FromRequestParts<Arc<Desk>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, desk: &Arc<Desk>) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError(DeskError::Unauthorized))?;
        Ok(Auth(desk.authenticate(token.trim())?))
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

async fn info(State(desk): State<Arc<Desk>>) -> Json<GatewayInfo> {
    Json(GatewayInfo {
        quic_port: desk.quic_port,
        organisation: desk.organisation.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

async fn login(
    State(desk): State<Arc<Desk>>,
    Json(body): Json<LoginRequest>,
) -> ApiResult<LoginResponse> {
    // argon2 is deliberately slow: keep it off the async workers.
    let (user, token) =
        tokio::task::spawn_blocking(move || desk.login(&body.email, &body.password))
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

async fn list(State(desk): State<Arc<Desk>>, Auth(user): Auth) -> ApiResult<Vec<SessionView>> {
    Ok(Json(desk.list(&user)?))
}

async fn create(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    body: Option<Json<NewSessionRequest>>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    let channel = body.and_then(|Json(b)| b.channel);
    let view = desk.new_session(&user, channel.as_deref())?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn show(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<SessionView> {
    Ok(Json(desk.show(&user, &id)?))
}

async fn request_remote(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
    body: Option<Json<RemoteRequest>>,
) -> ApiResult<SessionView> {
    let control = body.map(|Json(b)| b.control).unwrap_or(true);
    Ok(Json(desk.request_remote(&user, &id, control)?))
}

async fn close(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<SessionView> {
    Ok(Json(desk.close(&user, &id)?))
}

async fn pin(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<PinView> {
    Ok(Json(PinView {
        pin: desk.pin(&user, &id)?,
    }))
}

async fn log(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<Vec<AuditEvent>> {
    desk.session_for(&user, &id)?;
    Ok(Json(desk.store.audit_log(&id).map_err(DeskError::from)?))
}
