//! sosdesk gateway: the Service Desk (sessions, users, rules), its durable store, the
//! HTTPS API and the QUIC relay between end-user apps and technicians.
//!
//! Layout: `domain` holds the rules without IO; `store` (SQLite), `api` (axum) and `relay`
//! (quinn) are thin shells; `service` joins them; `web` serves the end user's link pages and
//! `console` the technicians' web console. The gateway never decodes video.

#![forbid(unsafe_code)]

pub mod api;
pub mod browser;
pub mod cli;
pub mod config;
pub mod console;
pub mod domain;
pub mod relay;
pub mod server;
pub mod service;
pub mod store;
pub mod web;
