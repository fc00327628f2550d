//! `sos`: the end-user app of sosdesk. Joins a support session with a PIN and shares the
//! screen only after the end user allows it. Thin: checks the baked branding ([`branded`]),
//! parses arguments, finds the PIN (from the app's file name in branded builds, else asked
//! for), wires the windows (`sos_agent::ui`) or the terminal to the session, and turns the
//! outcome into an exit code.

mod branded;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use sos_agent::pipeline::PipelineConfig;
use sos_agent::platform::x11::X11Platform;
use sos_agent::preset::PresetError;
use sos_agent::rate::RateControl;
use sos_agent::shield::Shield;
use sos_agent::ui::{self, Ended, Launch, paint::Look};
use sos_agent::{
    AgentConfig, CertFingerprint, Command, Finish, JoinError, Pin, Report, Secret, SessionConfig,
    console, machine,
};
use sos_branding::{Branding, Colours};
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
/// technician asks to see (or control) this computer, you are asked first, in a window (or
/// in the terminal: type y to allow, anything else to refuse). While sharing, a bar at the
/// top of the screen says who can see it; its Stop button (or "stop" and Enter in the
/// terminal, or Ctrl-C) ends the session at once.
#[derive(Debug, Parser)]
#[command(name = "sos", version)]
struct Args {
    /// Gateway address from your technician, as host:port (asked in the window when
    /// missing). Branded builds have their gateway built in and refuse this.
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

    /// How you are asked for permission: in a window (the default when there is a
    /// display) or in this terminal.
    #[arg(long, value_enum)]
    consent: Option<ConsentMode>,

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

    /// Threads encoding each picture (default: one per core, at most 4).
    #[arg(long, hide = true, value_parser = clap::value_parser!(u16).range(1..=16))]
    encoder_threads: Option<u16>,

    /// Whether the frame rate follows the link's delay (`fixed`: always --max-fps, to
    /// compare).
    #[arg(long, hide = true, value_enum, default_value_t = RateMode::Delay)]
    rate_control: RateMode,

    /// Seconds a technician's key or mouse button may stay down before it is released.
    #[arg(long, hide = true, default_value_t = sos_agent::injector::HELD_LIMIT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    held_key_limit_secs: u64,

    /// Seconds to keep reconnecting after the connection drops or the gateway restarts
    /// (0: end at once).
    #[arg(long, hide = true, default_value_t = 600)]
    reconnect_secs: u64,
}

/// How the frame rate is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RateMode {
    /// Fewer frames while they queue on a slow link, more again when it clears.
    Delay,
    /// Always the most frames per second.
    Fixed,
}

/// Ways to ask the end user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ConsentMode {
    /// Ask in a window: Allow or Deny, with a bar while sharing.
    Window,
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
    // The window system first: without it, the terminal asks (and says why).
    let windows = match args.consent {
        Some(ConsentMode::Terminal) => None,
        Some(ConsentMode::Window) | None => open_windows(),
    };
    let asks_gateway = windows.is_some() && branding.is_none() && args.gateway.is_none();
    let target = if asks_gateway {
        branded::Target {
            gateway: String::new(),
            trust: branded::generic_trust(&args.cert_sha256),
            web: None,
        }
    } else {
        match branded::target(
            branding.as_ref(),
            args.gateway.as_deref(),
            &args.cert_sha256,
        ) {
            Ok(target) => target,
            Err(message) => {
                println!("{message}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        }
    };
    if let Some(branding) = &branding {
        println!("{}", branded::banner(branding));
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;

    // The PIN: given, found from the link in the file name, or asked for.
    let given = match args.pin.as_deref().map(|text| Pin::parse(text.trim())) {
        Some(Ok(pin)) => Some(pin),
        Some(Err(e)) => {
            println!("The --pin is not valid: {e}.");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
        None => None,
    };
    let (pin, pin_note) = match given {
        Some(pin) => (Some(pin), None),
        None => match runtime.block_on(branded::pin_from_file_name(&target)) {
            Some(Ok(pin)) => (Some(pin), None),
            Some(Err(error @ PresetError::Untrusted { .. })) => {
                println!("{error}");
                return Ok(ExitCode::from(EXIT_UNREACHABLE));
            }
            Some(Err(error)) => {
                println!("{error}");
                (None, Some(error.to_string()))
            }
            None => (None, None),
        },
    };
    let shield = Shield::default();
    // A download from the session link carries its token in the file name: sent along, it
    // keeps registration open while the gateway refuses PINs from guessers.
    let link = branded::own_token().map(|token| Secret::new(token.expose().to_owned()));
    let config = {
        let trust = target.trust.clone();
        let machine_name = args.name.clone().unwrap_or_else(machine::machine_name);
        let shield = shield.clone();
        let (consent_timeout, max_fps) = (args.consent_timeout_secs, args.max_fps);
        let encoder_threads = args.encoder_threads;
        let rate_control = match args.rate_control {
            RateMode::Delay => RateControl::FollowDelay,
            RateMode::Fixed => RateControl::Fixed,
        };
        let (held, reconnect) = (args.held_key_limit_secs, args.reconnect_secs);
        move |gateway: String, pin: Pin| AgentConfig {
            gateway,
            trust: trust.clone(),
            pin,
            link: link.clone(),
            machine_name: machine_name.clone(),
            os: machine::os_description(),
            session: SessionConfig {
                consent_timeout: Duration::from_secs(consent_timeout),
            },
            pipeline: PipelineConfig {
                max_fps,
                encoder_threads,
                ..PipelineConfig::default()
            },
            rate_control,
            held_key_limit: Duration::from_secs(held),
            reconnect_for: Duration::from_secs(reconnect),
            shield: shield.clone(),
        }
    };
    let platform = Arc::new(X11Platform::default());
    let (commands_tx, commands) = tokio::sync::mpsc::channel::<Command>(16);
    {
        let _inside = runtime.enter();
        console::spawn_signal_handlers(commands_tx.clone());
    }

    let outcome = if let Some(event_loop) = windows {
        let launch = Launch {
            gateway: (!asks_gateway).then(|| target.gateway.clone()),
            pin,
            pin_note,
            config: Box::new(config),
            consent_timeout: Duration::from_secs(args.consent_timeout_secs),
            look: look(branding.as_ref())?,
            console: Box::new(branded::BrandedConsole::new(branding.as_ref())),
            shield,
        };
        let handle = runtime.handle().clone();
        match ui::run(
            event_loop,
            launch,
            platform,
            handle,
            (commands_tx, commands),
        ) {
            Ended::Ran(report) => Ok(report),
            Ended::JoinFailed(error) => Err(error),
            Ended::Cancelled => {
                println!("Closed before joining a session.");
                return Ok(ExitCode::SUCCESS);
            }
            Ended::WindowFailed(failure) => {
                anyhow::bail!(
                    "the app's window failed ({failure}); start it with --consent terminal"
                )
            }
        }
    } else {
        let pin = match pin {
            Some(pin) => pin,
            None => match read_pin() {
                Ok(pin) => pin,
                Err(message) => {
                    println!("{message}");
                    return Ok(ExitCode::from(EXIT_USAGE));
                }
            },
        };
        let config = config(target.gateway.clone(), pin);
        runtime.block_on(async {
            console::spawn_stdin_reader(commands_tx).context("cannot read the terminal")?;
            let mut console = branded::BrandedConsole::new(branding.as_ref());
            let mut commands = commands;
            anyhow::Ok(sos_agent::run(config, platform, &mut console, &mut commands).await)
        })?
    };
    // The stdin thread may still be blocked reading; do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match outcome {
        Ok(report) => finish(&report, started, args.stats.as_deref()),
        Err(error) => {
            println!("{error}");
            Ok(ExitCode::from(join_exit_code(&error)))
        }
    }
}

/// The event loop of the windows, or `None` (with the reason printed) when there is no
/// display to show them on.
fn open_windows() -> Option<ui::EventLoop> {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !has_display {
        println!("No display found (DISPLAY is not set): asking in this terminal instead.");
        return None;
    }
    match ui::event_loop() {
        Ok(event_loop) => Some(event_loop),
        Err(error) => {
            println!("Cannot open a window ({error}): asking in this terminal instead.");
            None
        }
    }
}

/// The branding's look for the windows (the generic one without a branding).
fn look(branding: Option<&Branding>) -> anyhow::Result<Look> {
    Look::new(
        branding.map_or(sos_branding::GENERIC_PRODUCT_NAME, |b| &b.product_name),
        branding.map_or(Colours::GENERIC, |b| b.colours),
        branding.map_or("", |b| &b.consent_text),
        branded::logo_png(),
    )
    .map_err(anyhow::Error::msg)
}

/// Writes the figures and turns how the session ended into the exit status.
fn finish(
    report: &Report,
    started: Instant,
    stats: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let figures = report.stats.report(started);
    tracing::debug!(?figures, "streaming summary");
    if let Some(path) = stats {
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

/// The PIN typed at a prompt when a terminal is attached.
fn read_pin() -> Result<Pin, String> {
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
