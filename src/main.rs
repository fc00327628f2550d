//! `sos`: the end-user app of sosdesk. Joins a support session with a PIN and shares the
//! screen only after the end user allows it. Thin: checks the baked branding ([`branded`]),
//! parses arguments, finds the PIN (from the app's file name in branded builds, else asked
//! for), wires the terminal to `sos_agent::run`, and turns the outcome into an exit code.

mod branded;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use sos_agent::pipeline::PipelineConfig;
use sos_agent::platform::x11::X11Platform;
use sos_agent::preset::PresetError;
use sos_agent::{
    AgentConfig, CertFingerprint, Command, Finish, JoinError, Pin, SessionConfig, console, machine,
};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Exit status when the gateway refused the PIN.
const EXIT_REFUSED: u8 = 3;
/// Exit status when the gateway could not be reached or verified.
const EXIT_UNREACHABLE: u8 = 4;
/// Exit status when the connection dropped during the session.
const EXIT_LOST: u8 = 5;
/// Exit status for a bad or missing PIN on the command line.
const EXIT_USAGE: u8 = 2;
/// Exit status when the baked branding does not match its signature.
const EXIT_TAMPERED: u8 = 6;

/// Share your screen with a support technician — only after you allow it.
///
/// Your technician gives you a gateway address and a 9-digit PIN. This app connects to the
/// gateway, checks that it really is your organisation's gateway, and waits. When your
/// technician asks to see (or control) this computer, you are asked first: type y to allow,
/// anything else to refuse. Type "stop" and Enter, or press Ctrl-C, to end at any time.
#[derive(Debug, Parser)]
#[command(name = "sos", version)]
struct Args {
    /// Gateway address from your technician, as host:port. Branded builds have their
    /// gateway built in and refuse this.
    #[arg(long, env = "SOS_GATEWAY", value_name = "HOST:PORT")]
    gateway: Option<String>,

    /// The 9-digit session PIN (spaces and dashes are ignored). Asked for when missing.
    #[arg(long, value_name = "DIGITS")]
    pin: Option<String>,

    /// SHA-256 fingerprint of the gateway's certificate (64 hex digits, colons allowed), as
    /// printed by `sos-gateway serve`. Repeat for a backup certificate. Without it the
    /// gateway must have a certificate trusted by this computer.
    #[arg(long = "cert-sha256", value_name = "HEX")]
    cert_sha256: Vec<CertFingerprint>,

    /// How you are asked for permission.
    #[arg(long, value_enum, default_value_t = ConsentMode::Terminal)]
    consent: ConsentMode,

    /// Name shown to your technician instead of this computer's name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,

    /// Seconds before an unanswered permission question counts as no.
    #[arg(long, hide = true, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    consent_timeout_secs: u64,

    /// Write streaming timings (average ms per frame per stage) as JSON to this file on exit.
    #[arg(long, hide = true, value_name = "FILE")]
    stats: Option<PathBuf>,

    /// Most frames per second.
    #[arg(long, hide = true, default_value_t = 30.0)]
    max_fps: f32,

    /// Seconds a technician's key or mouse button may stay down before it is released.
    #[arg(long, hide = true, default_value_t = sos_agent::injector::HELD_LIMIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    held_key_limit_secs: u64,

    /// Seconds to keep reconnecting after the connection drops or the gateway restarts
    /// (0: end at once).
    #[arg(long, hide = true, default_value_t = 600)]
    reconnect_secs: u64,
}

/// Ways to ask the end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ConsentMode {
    /// Ask in this terminal: type y and Enter to allow.
    Terminal,
}

fn main() -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Before anything else: a changed byte in the baked branding stops the app.
    let branding = match branded::open() {
        Ok(branding) => branding,
        Err(tampered) => {
            println!("{tampered}");
            return Ok(ExitCode::from(EXIT_TAMPERED));
        }
    };
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,enigo=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let ConsentMode::Terminal = args.consent;

    let target = match branded::target(
        branding.as_ref(),
        args.gateway.as_deref(),
        &args.cert_sha256,
    ) {
        Ok(target) => target,
        Err(message) => {
            println!("{message}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if let Some(branding) = &branding {
        println!("{}", branded::banner(branding));
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;

    let found = match args.pin {
        Some(_) => None,
        None => runtime.block_on(branded::pin_from_file_name(&target)),
    };
    let pin = match found {
        Some(Ok(pin)) => Ok(pin),
        Some(Err(error @ PresetError::Untrusted { .. })) => {
            println!("{error}");
            return Ok(ExitCode::from(EXIT_UNREACHABLE));
        }
        Some(Err(error)) => {
            println!("{error}");
            read_pin(None)
        }
        None => read_pin(args.pin.as_deref()),
    };
    let pin = match pin {
        Ok(pin) => pin,
        Err(message) => {
            println!("{message}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let config = AgentConfig {
        gateway: target.gateway.clone(),
        trust: target.trust.clone(),
        pin,
        machine_name: args.name.clone().unwrap_or_else(machine::machine_name),
        os: machine::os_description(),
        session: SessionConfig {
            consent_timeout: Duration::from_secs(args.consent_timeout_secs),
        },
        pipeline: PipelineConfig {
            max_fps: args.max_fps,
            ..PipelineConfig::default()
        },
        held_key_limit: Duration::from_secs(args.held_key_limit_secs),
        shield: sos_agent::shield::Shield::default(),
        reconnect_for: Duration::from_secs(args.reconnect_secs),
    };

    let outcome = runtime.block_on(async {
        let (commands_tx, commands) = tokio::sync::mpsc::channel::<Command>(16);
        console::spawn_stdin_reader(commands_tx.clone()).context("cannot read the terminal")?;
        console::spawn_signal_handlers(commands_tx);
        let platform = Arc::new(X11Platform::default());
        let mut console = branded::BrandedConsole::new(branding.as_ref());
        anyhow::Ok(sos_agent::run(config, platform, &mut console, commands).await)
    })?;
    // The stdin thread may still be blocked reading; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));

    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            println!("{error}");
            return Ok(ExitCode::from(join_exit_code(&error)));
        }
    };
    let figures = report.stats.report(started);
    tracing::debug!(?figures, "streaming summary");
    if let Some(path) = &args.stats {
        figures
            .write_json(path)
            .with_context(|| format!("cannot write the stats to {}", path.display()))?;
    }
    Ok(match report.finish {
        Finish::Stopped | Finish::Ended(_) => ExitCode::SUCCESS,
        Finish::ConnectionLost => ExitCode::from(EXIT_LOST),
    })
}

fn join_exit_code(error: &JoinError) -> u8 {
    match error {
        JoinError::Refused(_) => EXIT_REFUSED,
        _ => EXIT_UNREACHABLE,
    }
}

/// The PIN from the command line, or typed at a prompt when a terminal is attached.
fn read_pin(given: Option<&str>) -> Result<Pin, String> {
    if let Some(text) = given {
        return Pin::parse(text.trim()).map_err(|e| format!("The --pin is not valid: {e}."));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(
            "No PIN given — pass --pin with the 9 digits from your technician.".to_string(),
        );
    }
    for _ in 0..3 {
        print!("Enter the 9-digit PIN from your technician: ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        match stdin.lock().read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => match Pin::parse(line.trim()) {
                Ok(pin) => return Ok(pin),
                Err(e) => println!("That is not a PIN: {e}."),
            },
        }
    }
    Err("No valid PIN entered — ask your technician for the 9 digits.".to_string())
}
