//! The HTTPS JSON API under `/api/v1`, its OpenAPI document, the live event stream,
//! `/healthz` and `/metrics`.
//!
//! Every route requires a bearer token or the console's session cookie (see [`cookie`])
//! except those listed in [`PUBLIC_ROUTES`]; the default is deny. Refusals answer with a status and an [`ErrorBody`] that says why.
//! The OpenAPI document is generated from the same handler annotations that build the
//! router, so the two cannot drift apart.

mod admin;
pub mod cookie;
mod events;
mod metrics;
mod sessions;

use crate::service::{Desk, DeskError};
use crate::store::User;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sos_transport::api::ErrorBody;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes that need no token.
pub const PUBLIC_ROUTES: &[&str] = &[
    "/healthz",
    "/metrics",
    "/api/v1/info",
    "/api/v1/login",
    "/api/v1/openapi.json",
    // The end user's link page, its downloads and the PIN lookup: see `crate::web`.
    "/s/{token}",
    "/s/{token}/pin.json",
    "/s/{token}/download/{os}",
    // The console's login form and assets (its pages redirect to the form): see
    // `crate::console`.
    "/",
    "/console/login",
    "/console/assets/{file}",
];

#[derive(OpenApi)]
#[openapi(
    info(title = "sosdesk gateway API", description = "The Service Desk: sessions, channels, users, licence."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API router and its OpenAPI document.
pub fn router(desk: Arc<Desk>) -> Router {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sessions::info))
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::logout))
        .routes(routes!(sessions::list, sessions::create))
        .routes(routes!(sessions::show, sessions::delete))
        .routes(routes!(sessions::request_remote))
        .routes(routes!(sessions::start_remote))
        .routes(routes!(sessions::viewer_ticket))
        .routes(routes!(sessions::assign))
        .routes(routes!(sessions::transfer))
        .routes(routes!(sessions::invite))
        .routes(routes!(sessions::release))
        .routes(routes!(sessions::close))
        .routes(routes!(sessions::pin))
        .routes(routes!(sessions::link))
        .routes(routes!(sessions::log))
        .routes(routes!(admin::me))
        .routes(routes!(admin::channels, admin::add_channel))
        .routes(routes!(admin::update_channel))
        .routes(routes!(admin::users, admin::add_user))
        .routes(routes!(admin::roles, admin::set_role))
        .routes(routes!(admin::licence))
        .routes(routes!(admin::alerts))
        .routes(routes!(events::events))
        .split_for_parts();
    let doc = Arc::new(doc);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::metrics))
        .merge(crate::web::router())
        .merge(crate::console::router())
        .merge(crate::browser::page::router())
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
            DeskError::Forbidden(_) | DeskError::Licence(_) => StatusCode::FORBIDDEN,
            DeskError::NotFound(_) => StatusCode::NOT_FOUND,
            DeskError::Conflict(_) => StatusCode::CONFLICT,
            DeskError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DeskError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
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

/// The authenticated user of a request (bearer token or console cookie).
pub struct Auth(pub User);

impl FromRequestParts<Arc<Desk>> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, desk: &Arc<Desk>) -> Result<Self, ApiError> {
        let token = RequestToken::from_request_parts(parts, desk).await?;
        let mut user = desk.authenticate(&token.token)?;
        user.origin = peer(parts).map_or_else(
            || "https".to_string(),
            |addr| format!("https {}", crate::relay::redact_addr(addr)),
        );
        Ok(Auth(user))
    }
}

/// The API token of a request (`Authorization: Bearer …`).
fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The client's address, when the server recorded it.
fn peer(parts: &Parts) -> Option<std::net::SocketAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0)
}

/// The API token a request carries: the bearer header, else the console's session cookie,
/// whose unsafe requests must pass the CSRF rules of [`cookie`].
pub struct RequestToken {
    /// The token.
    pub token: String,
    /// Whether it came in the console's cookie.
    pub from_cookie: bool,
}

impl FromRequestParts<Arc<Desk>> for RequestToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, desk: &Arc<Desk>) -> Result<Self, ApiError> {
        if let Some(token) = bearer(parts) {
            return Ok(Self {
                token: token.to_string(),
                from_cookie: false,
            });
        }
        let token = cookie::cookie(&parts.headers, cookie::SESSION_COOKIE)
            .ok_or(ApiError(DeskError::Unauthorized))?;
        if cookie::is_unsafe(&parts.method) {
            let given = parts
                .headers
                .get(cookie::CSRF_HEADER)
                .and_then(|v| v.to_str().ok());
            cookie::check_unsafe(&desk.keys, &parts.headers, &desk.public_url, token, given)
                .map_err(|e| ApiError(DeskError::Forbidden(e.to_string())))?;
        }
        Ok(Self {
            token: token.to_string(),
            from_cookie: true,
        })
    }
}

/// The client's address (absent when the server did not record it, as in tests).
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<Arc<Desk>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &Arc<Desk>,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(ClientAddr(peer(parts).map(|a| a.ip())))
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Counts refusals for `/metrics` and passes the result on.
fn counted<T>(desk: &Desk, result: Result<T, DeskError>) -> Result<T, ApiError> {
    result.map_err(|e| {
        if matches!(
            e,
            DeskError::Forbidden(_) | DeskError::Conflict(_) | DeskError::Licence(_)
        ) {
            desk.counters
                .refused_actions
                .fetch_add(1, Ordering::Relaxed);
        }
        ApiError(e)
    })
}
