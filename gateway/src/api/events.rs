//! Live updates for the console: a server-sent event per session change the caller may see.

use super::{ApiError, Auth};
use crate::service::Desk;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{Stream, StreamExt};
use std::sync::Arc;
use tokio_stream::wrappers::BroadcastStream;

/// Server-sent events (`text/event-stream`), one `session` event per change with a
/// `SessionEvent` JSON body.
#[utoipa::path(get, path = "/api/v1/events", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream of SessionEvent JSON")))]
pub async fn events(
    State(desk): State<Arc<Desk>>,
    Auth(user): Auth,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let actor = desk.actor(&user)?;
    let stream = BroadcastStream::new(desk.events.subscribe()).filter_map(move |event| {
        let desk = desk.clone();
        let actor = actor.clone();
        async move {
            let event = event.ok()?;
            // Deleted sessions are announced to those who could see them before.
            let visible = desk
                .store
                .session(&event.id)
                .ok()
                .flatten()
                .is_some_and(|row| {
                    let mut s = row.session;
                    s.deleted = false;
                    s.visible_to(&actor)
                });
            if !visible {
                return None;
            }
            let data = serde_json::to_string(&event).ok()?;
            Some(Ok(Event::default().event("session").data(data)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
