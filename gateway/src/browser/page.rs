//! The browser viewer's routes on the HTTPS server.

use super::websocket;
use crate::service::Desk;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// The WebSocket route, to merge into the API router.
pub fn router() -> Router<Arc<Desk>> {
    Router::new().route("/api/v1/sessions/{id}/viewer/ws", get(websocket::upgrade))
}
