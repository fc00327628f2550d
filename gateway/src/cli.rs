//! Command line of `sos-gateway`.

use crate::server::{ServeConfig, serve};
use crate::service::{Clock, SystemClock};
use crate::store::{Role, Store};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

/// sosdesk gateway: the Service Desk API, the relay between end users and technicians.
#[derive(Debug, Parser)]
#[command(name = "sos-gateway", version, about, long_about = None)]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: HTTPS API and QUIC relay.
    Serve {
        /// Data folder: database, keys and TLS identity (created if missing).
        #[arg(long, env = "SOS_GATEWAY_DATA", default_value = "./sosdesk-data")]
        data: PathBuf,
        /// HTTPS address for the API and console (port 0 picks a free port).
        #[arg(long, default_value = "0.0.0.0:8443")]
        listen: SocketAddr,
        /// UDP address for QUIC (apps and viewers; port 0 picks a free port).
        #[arg(long, default_value = "0.0.0.0:8444")]
        quic: SocketAddr,
        /// Base URL of session links, e.g. https://support.example.com (default: from --listen).
        #[arg(long)]
        public_url: Option<String>,
        /// Organisation name shown to end users in the permission prompt.
        #[arg(long, default_value = "sosdesk")]
        organisation: String,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user.
    Add {
        /// Data folder of the gateway.
        #[arg(long, env = "SOS_GATEWAY_DATA", default_value = "./sosdesk-data")]
        data: PathBuf,
        /// E-mail address (the login name).
        #[arg(long)]
        email: String,
        /// Display name, shown to end users when asking for access.
        #[arg(long)]
        name: String,
        /// Role: owner, admin or technician.
        #[arg(long, default_value = "technician")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data,
            listen,
            quic,
            public_url,
            organisation,
        } => {
            serve(ServeConfig {
                data,
                listen,
                quic,
                public_url,
                organisation,
            })
            .await
        }
        Command::User {
            command:
                UserCommand::Add {
                    data,
                    email,
                    name,
                    role,
                    password_stdin,
                },
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}: use owner, admin or technician")
            })?;
            if !password_stdin {
                bail!("pass --password-stdin and write the password on standard input");
            }
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 8 {
                bail!("the password must have at least 8 characters");
            }
            if !email.contains('@') {
                bail!("{email:?} is not an e-mail address");
            }
            std::fs::create_dir_all(&data)
                .with_context(|| format!("cannot create data folder {}", data.display()))?;
            let store = Store::open(&data)?;
            let user = store.add_user(&email, &name, role, password, SystemClock.now())?;
            println!(
                "added {} <{}> as {}",
                user.name,
                user.email,
                user.role.as_str()
            );
            Ok(())
        }
    }
}
