//! `sos-gateway` binary: parse arguments, set up logging, run.

use clap::Parser;
use sos_gateway::cli::{Cli, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,quinn=warn,rustls=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if sos_gateway::cli::wants_json_logs(&cli) {
        builder.json().init();
    } else {
        builder.init();
    }
    run(cli).await
}
