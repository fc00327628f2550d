//! Command line of `sos-gateway`.

use crate::config::{DEFAULT_DATA, DEFAULT_LISTEN, DEFAULT_QUIC, DEFAULT_WEBTRANSPORT, FileConfig};
use crate::domain::licence::{self, Licence};
use crate::domain::secrets::Keys;
use crate::server::{ServeConfig, serve};
use crate::service::admin::create_user;
use crate::service::{Clock, Desk, SystemClock, load_master_key};
use crate::store::Store;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// sosdesk gateway: the Service Desk API and the relay between end users and technicians.
#[derive(Debug, Parser)]
#[command(name = "sos-gateway", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (gateway.toml); flags given here win over it.
    #[arg(long, global = true, env = "SOS_GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
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
        /// Data folder: database, keys and TLS identity (created if missing) [default: ./sosdesk-data].
        #[arg(long, env = "SOS_GATEWAY_DATA")]
        data: Option<PathBuf>,
        /// HTTPS address for the API (port 0 picks a free port) [default: 0.0.0.0:8443].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// UDP address for QUIC: apps and viewers (port 0 picks a free port) [default: 0.0.0.0:8444].
        #[arg(long)]
        quic: Option<SocketAddr>,
        /// UDP address for WebTransport: the browser viewer (port 0 picks a free port) [default: 0.0.0.0:8445].
        #[arg(long)]
        webtransport: Option<SocketAddr>,
        /// Base URL of session links, e.g. https://support.example.com (default: from --listen).
        #[arg(long)]
        public_url: Option<String>,
        /// Organisation shown to end users in the permission prompt [default: sosdesk].
        #[arg(long)]
        organisation: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Licences: evaluation status, install, and the licence authority's tools.
    Licence {
        #[command(subcommand)]
        command: LicenceCommand,
    },
    /// Branded apps: sign a branding.toml, print the key pins it needs.
    Branding {
        #[command(subcommand)]
        command: BrandingCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BrandingCommand {
    /// Sign a branding.toml with this gateway's branding key (made on first use) and use
    /// its names, colours and logo on the link pages. Writes <FILE>.sig for the build.
    Sign {
        /// Data folder of the gateway.
        #[arg(long, env = "SOS_GATEWAY_DATA")]
        data: Option<PathBuf>,
        /// The branding.toml.
        file: PathBuf,
    },
    /// Print the SHA-256 of this gateway's public key: `key_pins.primary` of branding.toml.
    Pin {
        /// Data folder of the gateway.
        #[arg(long, env = "SOS_GATEWAY_DATA")]
        data: Option<PathBuf>,
    },
    /// Make a spare TLS identity for a later key rotation and print its key pin:
    /// `key_pins.backup` of branding.toml. Keep the folder offline.
    SpareIdentity {
        /// Folder for the spare gateway-cert.pem and gateway-key.pem.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user (with a private channel and membership of the default channel).
    Add {
        /// Data folder of the gateway.
        #[arg(long, env = "SOS_GATEWAY_DATA")]
        data: Option<PathBuf>,
        /// E-mail address (the login name).
        #[arg(long)]
        email: String,
        /// Display name, shown to end users when asking for access.
        #[arg(long)]
        name: String,
        /// Role: owner, admin, technician or a custom role.
        #[arg(long, default_value = "technician")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LicenceCommand {
    /// Show the licence status (or the evaluation period).
    Show {
        /// Data folder of the gateway.
        #[arg(long, env = "SOS_GATEWAY_DATA")]
        data: Option<PathBuf>,
    },
    /// Verify a licence file and install it.
    Install {
        /// Data folder of the gateway.
        #[arg(long, env = "SOS_GATEWAY_DATA")]
        data: Option<PathBuf>,
        /// Trusted licence-authority public key (base64); adds to `licence_keys` in the config.
        #[arg(long = "licence-key")]
        licence_keys: Vec<String>,
        /// The licence file.
        file: PathBuf,
    },
    /// Licence authority: make a new signing key pair.
    Keygen {
        /// Where to write the private key (mode 0600); the public key is printed.
        #[arg(long)]
        out: PathBuf,
    },
    /// Licence authority: sign a licence.
    Issue {
        /// The private key from `licence keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Who the licence is for.
        #[arg(long)]
        licensee: String,
        /// Technician seats (users whose role carries attended access).
        #[arg(long)]
        seats: u32,
        /// Days of validity from now.
        #[arg(long)]
        days: u32,
        /// Features, comma-separated.
        #[arg(long, default_value = "sos", value_delimiter = ',')]
        features: Vec<String>,
        /// Where to write the licence file.
        #[arg(long)]
        out: PathBuf,
    },
}

fn data_dir(flag: Option<PathBuf>, file: &FileConfig) -> PathBuf {
    flag.or_else(|| file.data.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA))
}

/// A Service Desk over the data folder, for offline commands.
fn offline_desk(data: &Path, licence_keys: Vec<String>) -> anyhow::Result<Desk> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create data folder {}", data.display()))?;
    let store = Store::open(data)?;
    let keys = Keys::from_master(&load_master_key(data)?);
    Ok(Desk::new(
        store,
        keys,
        Arc::new(SystemClock),
        String::new(),
        String::new(),
        0,
        licence_keys,
    )?)
}

fn print_licence(view: &sos_transport::api::LicenceView) {
    println!("mode: {}", view.mode);
    if let Some(licensee) = &view.licensee {
        println!("licensee: {licensee}");
    }
    println!("features: {}", view.features.join(", "));
    println!("seats: {} used of {}", view.seats_used, view.seats);
    println!("valid until: {} (unix time)", view.expires_at);
    match &view.problem {
        Some(problem) => println!("support sessions refused: {problem}"),
        None => println!("support sessions allowed"),
    }
}

/// Whether the log should be JSON (flag or config file).
pub fn wants_json_logs(cli: &Cli) -> bool {
    cli.log_json
        || FileConfig::load(cli.config.as_deref())
            .ok()
            .and_then(|f| f.log_json)
            .unwrap_or(false)
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileConfig::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve {
            data,
            listen,
            quic,
            webtransport,
            public_url,
            organisation,
        } => {
            serve(ServeConfig {
                data: data_dir(data, &file),
                listen: listen
                    .or(file.listen)
                    .unwrap_or_else(|| parse_default(DEFAULT_LISTEN)),
                quic: quic
                    .or(file.quic)
                    .unwrap_or_else(|| parse_default(DEFAULT_QUIC)),
                webtransport: webtransport
                    .or(file.webtransport)
                    .unwrap_or_else(|| parse_default(DEFAULT_WEBTRANSPORT)),
                public_url: public_url.or(file.public_url.clone()),
                organisation: organisation
                    .or(file.organisation.clone())
                    .unwrap_or_else(|| "sosdesk".into()),
                licence_keys: file.licence_keys.clone(),
                pin_limits: file.pin_limits.limits()?,
                resume_window: file.resume_window()?,
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
            if !password_stdin {
                bail!("pass --password-stdin and write the password on standard input");
            }
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let desk = offline_desk(&data_dir(data, &file), file.licence_keys.clone())?;
            let user = create_user(&desk, &email, &name, &role, password)?;
            println!("added {} <{}> as {}", user.name, user.email, user.role);
            Ok(())
        }
        Command::Licence { command } => licence_command(command, &file),
        Command::Branding { command } => branding_command(command, &file),
    }
}

fn branding_command(command: BrandingCommand, file: &FileConfig) -> anyhow::Result<()> {
    use crate::web::branding;
    match command {
        BrandingCommand::Sign { data, file: toml } => {
            let data = data_dir(data, file);
            let signed = branding::sign(&data, &toml)?;
            if signed.key_created {
                println!(
                    "made the branding key {}",
                    data.join(branding::KEY_FILE).display()
                );
            }
            println!("signed: {}", signed.signature_path.display());
            println!("branding-public-key: {}", signed.public_key);
            println!(
                "build it with: cargo xtask brand --config {} --out <folder>",
                toml.display()
            );
            if let Some(pin) = signed.gateway_pin {
                let pins = &signed.branding.gateway.key_pins;
                if !pins.iter().any(|p| p.0 == *pin.as_bytes()) {
                    eprintln!(
                        "warning: neither key pin is this gateway's key ({pin}): apps built \
                         from this branding will refuse to connect to this gateway"
                    );
                }
            }
        }
        BrandingCommand::Pin { data } => {
            println!("key-sha256: {}", branding::key_pin(&data_dir(data, file))?);
        }
        BrandingCommand::SpareIdentity { out } => {
            let pin = branding::spare_identity(&out)?;
            println!("spare identity in {} — keep it offline", out.display());
            println!("key-sha256: {pin}");
        }
    }
    Ok(())
}

fn parse_default(text: &str) -> SocketAddr {
    // The defaults are literal socket addresses.
    text.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn licence_command(command: LicenceCommand, file: &FileConfig) -> anyhow::Result<()> {
    match command {
        LicenceCommand::Show { data } => {
            let desk = offline_desk(&data_dir(data, file), file.licence_keys.clone())?;
            print_licence(&desk.licence_view()?);
        }
        LicenceCommand::Install {
            data,
            licence_keys,
            file: path,
        } => {
            let mut keys = file.licence_keys.clone();
            keys.extend(licence_keys);
            if keys.is_empty() {
                bail!(
                    "no trusted licence key: add licence_keys to gateway.toml or pass --licence-key"
                );
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let desk = offline_desk(&data_dir(data, file), keys)?;
            let view = desk.install_licence(&text)?;
            println!("licence installed");
            print_licence(&view);
        }
        LicenceCommand::Keygen { out } => {
            let (private, public) = licence::keygen()?;
            write_private(&out, &private)?;
            println!("private key written to {} — keep it offline", out.display());
            println!("public key (put it in licence_keys of gateway.toml): {public}");
        }
        LicenceCommand::Issue {
            key,
            licensee,
            seats,
            days,
            features,
            out,
        } => {
            let private = std::fs::read_to_string(&key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let now = SystemClock.now();
            let id = hex::encode(crate::domain::secrets::random_bytes::<8>()?);
            let signed = licence::issue(
                &private,
                Licence {
                    id,
                    licensee,
                    features,
                    seats,
                    issued_at: now,
                    expires_at: now + i64::from(days) * 86_400,
                },
            )?;
            std::fs::write(&out, serde_json::to_string_pretty(&signed)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("licence written to {}", out.display());
        }
    }
    Ok(())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot create {} (does it exist already?)", path.display()))
}
