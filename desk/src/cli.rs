//! The command line: what the technician types, parsed by clap.
//!
//! Contract: declarations and argument parsers only; running a command lives in
//! [`crate::commands`], [`crate::view`] and [`crate::input`].

use crate::address::{AddressError, GatewayUrl};
use crate::input::{ButtonArg, Point, parse_point};
use crate::view::snapshot::{SnapshotFormat, SnapshotFormatError};
use clap::{ArgGroup, Args, Parser, Subcommand};
use sos_transport::CertFingerprint;
use std::path::PathBuf;

/// sosdesk technician CLI: create support sessions, ask the end user for access, watch
/// their screen and send input.
#[derive(Debug, Parser)]
#[command(
    name = "sos-desk",
    version,
    propagate_version = true,
    after_help = "A typical support call:\n  \
    sos-desk login --gateway https://desk.example.org:8443 --email you@example.org\n  \
    sos-desk session new                  # read the PIN or send the link to the end user\n  \
    sos-desk session request ID           # the end user grants or denies\n  \
    sos-desk view ID --headless --frames 100 --record call.h264\n  \
    sos-desk input ID --move 200,300 --click left --text hello --key Return\n  \
    sos-desk session close ID"
)]
pub struct Cli {
    /// File keeping the login (gateway, token, pinned certificate); default
    /// $XDG_CONFIG_HOME/sosdesk/desk.json or ~/.config/sosdesk/desk.json.
    #[arg(long, global = true, env = "SOS_DESK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to a gateway and keep the token for the other commands.
    Login(LoginArgs),
    /// Create, list, inspect and close support sessions; ask for access.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Watch the end user's screen (headless: record frames to a file).
    View(ViewArgs),
    /// Send mouse and keyboard input to the end user's machine (needs control granted).
    Input(InputArgs),
}

/// `sos-desk login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Gateway address (https only).
    #[arg(
        long,
        value_name = "URL",
        value_parser = parse_gateway,
        help = "Gateway address, e.g. https://desk.example.org:8443 (https only)"
    )]
    pub gateway: GatewayUrl,
    /// Your e-mail address on the gateway.
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
    /// Pin the gateway's certificate by its SHA-256 fingerprint (64 hex digits, colons
    /// allowed, as printed by `sos-gateway serve`) instead of trusting the system roots.
    #[arg(long, value_name = "HEX")]
    pub cert_sha256: Option<CertFingerprint>,
}

/// `sos-desk session ...`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Create a session; prints its id, PIN and link for the end user.
    New {
        /// Channel to create it in (the default channel when absent).
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
        /// Print the session as JSON (with `id`, `pin`, `link`, `status`).
        #[arg(long)]
        json: bool,
    },
    /// List the sessions you can see.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one session.
    Show {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Ask the end user for access and wait for the answer.
    Request {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// Ask to view only, without mouse and keyboard control.
        #[arg(long)]
        view_only: bool,
        /// Seconds to wait for the end user's answer; 0 returns right after asking.
        #[arg(long, value_name = "SECS", default_value_t = 75)]
        wait: u64,
        /// Print the final session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Close a session for good (the end user needs a new one to reconnect).
    Close {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// Print the closed session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a session's PIN.
    Pin {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// Print `{"pin": "..."}` instead of the grouped digits.
        #[arg(long)]
        json: bool,
    },
    /// Print a session's link for the end user.
    Link {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
    },
}

/// `sos-desk view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Session id.
    #[arg(value_parser = parse_session_id)]
    pub id: String,
    /// Run without a window: receive and decode --frames N frames, record them, then exit.
    #[arg(long, requires = "frames")]
    pub headless: bool,
    /// Append the received H.264 (Annex-B) frames to FILE, starting at the first keyframe,
    /// so ffmpeg/ffplay can play it.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Stop after this many decoded frames.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: Option<u64>,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Write frame, size and latency figures as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub stats: Option<PathBuf>,
    /// Write the last decoded frame to FILE: binary PPM (.ppm) or raw BGRA with a small
    /// header (.bgra).
    #[arg(long, value_name = "FILE", hide = true, value_parser = parse_snapshot)]
    pub snapshot: Option<PathBuf>,
}

/// `sos-desk input`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("events")
        .required(true)
        .multiple(true)
        .args(["pointer", "click", "text", "key"])
))]
pub struct InputArgs {
    /// Session id.
    #[arg(value_parser = parse_session_id)]
    pub id: String,
    /// Move the pointer to X,Y in the shared screen's pixels (sent first).
    #[arg(long = "move", value_name = "X,Y", value_parser = parse_point, allow_hyphen_values = true)]
    pub pointer: Option<Point>,
    /// Click a mouse button (sent after the move).
    #[arg(long, value_name = "BUTTON")]
    pub click: Option<ButtonArg>,
    /// Type this text (sent after the click).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Press and release a key by its X keysym name (Return, Tab, a, F5); may repeat.
    #[arg(long, value_name = "NAME")]
    pub key: Vec<String>,
}

fn parse_gateway(text: &str) -> Result<GatewayUrl, AddressError> {
    GatewayUrl::parse(text)
}

fn parse_snapshot(text: &str) -> Result<PathBuf, SnapshotFormatError> {
    let path = PathBuf::from(text);
    SnapshotFormat::of(&path).map(|_| path)
}

/// A session id as the gateway prints it; refuses what could never be one.
fn parse_session_id(text: &str) -> Result<String, String> {
    let bad = text.is_empty()
        || text == "."
        || text == ".."
        || text.len() > 200
        || text.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad {
        Err("not a session id — copy it from `sos-desk session list`".into())
    } else {
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn input_needs_at_least_one_event() {
        let err = Cli::try_parse_from(["sos-desk", "input", "s1"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let cli = Cli::try_parse_from([
            "sos-desk", "input", "s1", "--move", "10,20", "--key", "Tab", "--key", "Return",
        ])
        .unwrap();
        let Command::Input(args) = cli.command else {
            panic!("not input")
        };
        assert_eq!(args.pointer, Some(Point { x: 10, y: 20 }));
        assert_eq!(args.key, ["Tab", "Return"]);
    }

    #[test]
    fn bad_move_is_a_usage_error() {
        let err = Cli::try_parse_from(["sos-desk", "input", "s1", "--move", "10"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn headless_view_needs_a_frame_count() {
        assert!(Cli::try_parse_from(["sos-desk", "view", "s1", "--headless"]).is_err());
        assert!(
            Cli::try_parse_from(["sos-desk", "view", "s1", "--headless", "--frames", "0"]).is_err()
        );
        let cli = Cli::try_parse_from([
            "sos-desk",
            "view",
            "s1",
            "--headless",
            "--frames",
            "5",
            "--record",
            "a.h264",
        ])
        .unwrap();
        let Command::View(args) = cli.command else {
            panic!("not view")
        };
        assert_eq!(args.frames, Some(5));
        assert_eq!(args.timeout, 30);
    }

    #[test]
    fn login_refuses_plain_http_and_bad_pins() {
        assert!(
            Cli::try_parse_from([
                "sos-desk",
                "login",
                "--gateway",
                "http://gw",
                "--email",
                "a@b"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "sos-desk",
                "login",
                "--gateway",
                "https://gw",
                "--email",
                "a@b",
                "--cert-sha256",
                "abc"
            ])
            .is_err()
        );
    }

    #[test]
    fn session_ids_are_checked() {
        assert!(parse_session_id("abc-123").is_ok());
        assert!(parse_session_id("..").is_err());
        assert!(parse_session_id("a b").is_err());
        assert!(parse_session_id("").is_err());
    }
}
