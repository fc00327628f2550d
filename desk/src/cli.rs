//! The command line: what the technician types, parsed by clap.
//!
//! Contract: declarations and argument parsers only; running a command lives in
//! [`crate::commands`], [`crate::view`] and [`crate::input`].

use crate::address::{AddressError, GatewayUrl};
use crate::input::{
    ButtonArg, Combo, Drag, Point, WheelSteps, parse_drag, parse_point, parse_wheel,
};
use crate::view::snapshot::{SnapshotFormat, SnapshotFormatError};
use crate::window::viewport::Size;
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
    sos-desk view ID                      # F10 fit/1:1, F11 full screen, F12 status\n  \
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
    /// Sign out: the gateway revokes the token and the local login file is removed.
    Logout,
    /// Create, list, inspect and close support sessions; ask for access.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Watch and control the end user's screen in a window (headless: record frames to a
    /// file).
    View(ViewArgs),
    /// Send mouse and keyboard input to the end user's machine (needs control granted).
    Input(InputArgs),
    /// List channels, create them and manage their members (creating and changing needs
    /// the manage_channels permission).
    #[command(subcommand)]
    Channel(ChannelCommand),
}

/// `sos-desk channel ...`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// List the channels you can use (your private channel included).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a shared channel; you become a member.
    New {
        /// Channel name.
        name: String,
        /// Session expiry: e.g. 30m, 8h, 2d (30 minutes to 7 days).
        #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_duration)]
        expiry: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or change a channel's members and session expiry.
    Members {
        /// Channel name.
        name: String,
        /// Add these members (e-mails, repeatable).
        #[arg(long, value_name = "EMAIL")]
        add: Vec<String>,
        /// Remove these members (e-mails, repeatable).
        #[arg(long, value_name = "EMAIL")]
        remove: Vec<String>,
        /// Change the session expiry, e.g. 30m, 8h, 2d.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expiry: Option<i64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses `30m`, `8h`, `2d` or plain seconds into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: use e.g. 30m, 8h or 2d"))?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("unknown unit in {text:?}: use s, m, h or d")),
    };
    n.checked_mul(factor)
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("{text:?} is not a positive duration"))
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
    /// List the sessions you can see (all of them, or Home, one channel, or the queue).
    #[command(group(ArgGroup::new("scope").args(["home", "channel", "queue"])))]
    List {
        /// Home: sessions assigned to you or that you were invited to.
        #[arg(long)]
        home: bool,
        /// Only this channel (`Private` for your private channel).
        #[arg(long, value_name = "NAME")]
        channel: Option<String>,
        /// Released sessions waiting for a technician.
        #[arg(long)]
        queue: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Assign a session to a technician (take it from the queue with your own e-mail).
    Assign {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// The technician's e-mail.
        email: String,
        /// Print the session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Transfer a session to another technician (needs the release permission) or to
    /// another channel (needs access to it).
    #[command(group(ArgGroup::new("target").required(true).args(["to_user", "to_channel"])))]
    Transfer {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// The new assignee's e-mail.
        #[arg(long, value_name = "EMAIL")]
        to_user: Option<String>,
        /// The channel to move it to.
        #[arg(long, value_name = "NAME")]
        to_channel: Option<String>,
        /// Print the session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Invite another technician to the session (3 technicians at most).
    Invite {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// The technician's e-mail.
        email: String,
        /// Print the session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Release a session to its channel's queue (needs the release permission).
    Release {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// Print the session as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a session: it leaves every list; its audit log is kept.
    Delete {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
    },
    /// Show a session's audit log (who did what, when).
    Log {
        /// Session id.
        #[arg(value_parser = parse_session_id)]
        id: String,
        /// Print JSON.
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
        /// Print `{"link": "..."}`.
        #[arg(long)]
        json: bool,
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
    #[arg(long, value_name = "FILE", requires = "headless")]
    pub record: Option<PathBuf>,
    /// Stop after this many decoded frames.
    #[arg(long, value_name = "N", requires = "headless",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: Option<u64>,
    /// Give up after this many seconds (headless: the whole run; window: connecting).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Keep watching for SECS seconds instead of stopping at --frames; the run succeeds
    /// when at least --frames frames were decoded by then (soak and lossy-link tests).
    #[arg(long, value_name = "SECS", requires = "headless",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: Option<u64>,
    /// Write frame, size and latency figures as JSON to FILE.
    #[arg(long, value_name = "FILE", requires = "headless")]
    pub stats: Option<PathBuf>,
    /// Write the last decoded frame to FILE: binary PPM (.ppm) or raw BGRA with a small
    /// header (.bgra).
    #[arg(long, value_name = "FILE", hide = true, requires = "headless",
          value_parser = parse_snapshot)]
    pub snapshot: Option<PathBuf>,
    /// Share monitor N of the end user's screen (0 is the leftmost; in the window F8 goes
    /// to the next one). Needs control, or nobody else in control; headless, the first
    /// frames may still show the monitor shared before.
    #[arg(long, value_name = "N")]
    pub monitor: Option<u32>,
    /// Open the viewer full screen (F11 toggles).
    #[arg(long, conflicts_with = "headless")]
    pub fullscreen: bool,
    /// Open the window at WIDTHxHEIGHT pixels instead of fitting the screen (tests).
    #[arg(long, value_name = "WxH", hide = true, conflicts_with = "headless")]
    pub window_size: Option<Size>,
}

/// `sos-desk input`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("events")
        .required(true)
        .multiple(true)
        .args(["pointer", "drag", "click", "double_click", "wheel", "text", "key", "hold", "bench", "take_control"])
))]
#[command(group(ArgGroup::new("positions").multiple(true).args(["pointer", "drag"])))]
pub struct InputArgs {
    /// Session id.
    #[arg(value_parser = parse_session_id)]
    pub id: String,
    /// Move the pointer to X,Y in the shared screen's pixels (sent first).
    #[arg(long = "move", value_name = "X,Y", value_parser = parse_point, allow_hyphen_values = true)]
    pub pointer: Option<Point>,
    /// Count --move and --drag positions from the top-left corner of monitor N of the end
    /// user's screen (0 is the leftmost).
    #[arg(long, value_name = "N", requires = "positions")]
    pub display: Option<u32>,
    /// Press the left button at X1,Y1, move to X2,Y2 and release it there.
    #[arg(long, value_name = "X1,Y1:X2,Y2", value_parser = parse_drag, allow_hyphen_values = true)]
    pub drag: Option<Drag>,
    /// Click a mouse button (sent after the move and the drag).
    #[arg(long, value_name = "BUTTON")]
    pub click: Option<ButtonArg>,
    /// Double-click a mouse button (left when not named).
    #[arg(long, value_name = "BUTTON", num_args = 0..=1, default_missing_value = "left")]
    pub double_click: Option<ButtonArg>,
    /// Turn the wheel DX,DY steps: positive DY scrolls down, positive DX right.
    #[arg(long, value_name = "DX,DY", value_parser = parse_wheel, allow_hyphen_values = true)]
    pub wheel: Option<WheelSteps>,
    /// Type this text, whatever the keyboard layouts (sent after the pointer events).
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// Press and release a key or combination: ctrl+c, alt+tab, shift+F10, Return, a; may
    /// repeat.
    #[arg(long, value_name = "COMBO")]
    pub key: Vec<Combo>,
    /// Press a key or combination and leave it down (tests the agent's stuck-key safety).
    #[arg(long, value_name = "COMBO", hide = true)]
    pub hold: Vec<Combo>,
    /// Stay attached this many seconds after sending, so held keys stay held (leaving the
    /// session releases them).
    #[arg(long, value_name = "SECS", hide = true, default_value_t = 0)]
    pub stay: u64,
    /// Take the mouse and keyboard from the technician who has them before sending (one
    /// technician controls at a time; the first to send input while nobody does takes it).
    #[arg(long)]
    pub take_control: bool,
    /// Send N pointer moves one by one and report the round-trip times (p50, p99).
    #[arg(long, value_name = "N", hide = true, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub bench: Option<u32>,
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
        let keys: Vec<String> = args.key.iter().map(Combo::to_string).collect();
        assert_eq!(keys, ["Tab", "Return"]);
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
