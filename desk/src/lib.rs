//! sosdesk technician CLI: sign in to a gateway, manage support sessions, ask the end user
//! for access, watch and control their screen in a window (or headless for tests and
//! benchmarks) and send input.
//!
//! Contract:
//! - Never talks to a gateway whose certificate is not verified (pinned or system roots).
//! - Never prints or logs the API token or the password; prints a PIN only where the
//!   technician asked for it (`session new`, `session pin`).
//! - Decoding runs on its own thread and never blocks the network task.
//!
//! Layout: [`cli`] declares the command line, [`config`] keeps the login, [`address`] and
//! [`api`] speak HTTPS, [`quic`] attaches to a session, [`commands`], [`view`], [`window`]
//! and [`input`] run the commands, [`output`] formats what the technician reads.

#![forbid(unsafe_code)]
// Tests may unwrap: a panic is how a test reports a failure.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod address;
pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod input;
pub mod manage;
pub mod output;
pub mod quic;
pub mod view;
pub mod window;

use cli::{Cli, Command};
use std::io::Write;
use std::process::ExitCode;

/// How a command ended, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done (exit 0).
    Success,
    /// The command ran but the outcome is negative: denied, no control, too few frames (1).
    Failure,
    /// The command cannot be used that way (2, as clap does for usage errors).
    Usage,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Failure => ExitCode::from(1),
            Exit::Usage => ExitCode::from(2),
        }
    }
}

/// Every failure a command can end with; each says what happened and what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    /// The saved login.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The HTTPS API.
    #[error(transparent)]
    Api(#[from] api::ApiError),
    /// Login and session commands.
    #[error(transparent)]
    Command(#[from] commands::CommandError),
    /// Attaching over QUIC.
    #[error(transparent)]
    Attach(#[from] quic::AttachError),
    /// Viewing.
    #[error(transparent)]
    View(#[from] view::ViewError),
    /// Sending input.
    #[error(transparent)]
    Input(#[from] input::InputError),
    /// Writing to standard output.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs the parsed command line, writing results to `out` (errors are returned).
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<Exit, DeskError> {
    let config_path = match cli.config {
        Some(path) => path,
        None => config::default_path_from_env()?,
    };
    let exit = match &cli.command {
        Command::Login(args) => commands::login(&config_path, args, out).await?,
        Command::Logout => commands::logout(&config_path, out).await?,
        Command::Session(command) => commands::session(&config_path, command, out).await?,
        Command::View(args) => view::run(&config_path, args, out).await?,
        Command::Input(args) => input::run(&config_path, args, out).await?,
        Command::Channel(command) => manage::channel(&config_path, command, out).await?,
    };
    out.flush()?;
    Ok(exit)
}
