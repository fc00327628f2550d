//! `sos-desk`: the technician CLI. Parses the command line and runs it; all logic lives in
//! the `sos_desk` library.

#![forbid(unsafe_code)]

use clap::Parser;
use sos_desk::cli::Cli;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs go to stderr, quiet unless SOS_DESK_LOG asks (e.g. SOS_DESK_LOG=debug).
    let filter = EnvFilter::try_from_env("SOS_DESK_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut stdout = std::io::stdout().lock();
    let result: anyhow::Result<sos_desk::Exit> = sos_desk::run(cli, &mut stdout)
        .await
        .map_err(anyhow::Error::from);
    match result {
        Ok(exit) => exit.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
