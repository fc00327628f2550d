//! sosdesk agent: the end-user side of an attended support session.
//!
//! It joins a session with a PIN over a verified QUIC connection, asks the end user before
//! anything is shared, then streams the screen (capture -> change detection -> I420 ->
//! H.264, one QUIC stream per frame) and injects the technician's input.
//!
//! Contract:
//! - **Never sends a pixel before consent**, and never injects input without consent to
//!   control: streaming needs a [`consent::ViewGrant`] and injection a
//!   [`consent::ControlGrant`], and only the consent step ([`consent::Prompt::answer`]) can
//!   create them. The gateway is not trusted for this.
//! - Fails closed: the gateway is verified by a pinned certificate or the system roots,
//!   never accepted unverified.
//! - The decisions live in the sans-IO [`session::Session`] (no clock reads, no IO); the
//!   [`shell`] only carries them out. Platform code (scrap, enigo) sits behind
//!   [`platform::ScreenSource`] and [`platform::InputSink`].
//! - The PIN is never logged or printed.

#![forbid(unsafe_code)]

pub mod consent;
pub mod console;
pub mod injector;
pub mod input;
pub mod join;
pub mod machine;
pub mod notice;
pub mod pipeline;
pub mod platform;
pub mod preset;
pub mod rate;
pub mod session;
pub mod shell;
pub mod shield;
pub mod stats;
pub mod stream;
pub mod ui;

pub use console::Command;
pub use join::JoinError;
pub use notice::{Console, Notice, StdoutConsole};
pub use session::{Finish, SessionConfig};
pub use shell::{AgentConfig, Report, run};
pub use sos_transport::{CertFingerprint, KeyFingerprint, Pin, PinError, Secret, Trust};

#[cfg(test)]
mod shell_tests;
