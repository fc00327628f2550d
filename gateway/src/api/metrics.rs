//! Prometheus metrics in the text exposition format.

use crate::service::Desk;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// `GET /metrics`.
pub async fn metrics(State(desk): State<Arc<Desk>>) -> impl IntoResponse {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP sosdesk_sessions Support sessions by status (deleted excluded)."
    );
    let _ = writeln!(out, "# TYPE sosdesk_sessions gauge");
    let counts = desk.store.count_by_status().unwrap_or_default();
    for status in ["pending", "active", "in_queue", "expired", "closed"] {
        let n = counts
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "sosdesk_sessions{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP sosdesk_live_agents End-user apps connected now."
    );
    let _ = writeln!(out, "# TYPE sosdesk_live_agents gauge");
    let _ = writeln!(out, "sosdesk_live_agents {}", desk.live.agents());
    let _ = writeln!(
        out,
        "# HELP sosdesk_relayed_bytes_total Video bytes relayed to viewers."
    );
    let _ = writeln!(out, "# TYPE sosdesk_relayed_bytes_total counter");
    let _ = writeln!(
        out,
        "sosdesk_relayed_bytes_total {}",
        desk.counters.relayed_bytes.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP sosdesk_refused_actions_total Requests refused by the rules."
    );
    let _ = writeln!(out, "# TYPE sosdesk_refused_actions_total counter");
    let _ = writeln!(
        out,
        "sosdesk_refused_actions_total {}",
        desk.counters.refused_actions.load(Ordering::Relaxed)
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
