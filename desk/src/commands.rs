//! `sos-desk login` and `sos-desk session ...`: thin shells over the HTTPS API.
//!
//! Contract: the password is read once and dropped after the login call; the token is
//! written only to the configuration file; a PIN is printed only by `session new` and
//! `session pin`, where the technician asked for it.

use crate::Exit;
use crate::api::{ApiClient, ApiError};
use crate::cli::{LoginArgs, SessionCommand};
use crate::config::DeskConfig;
use crate::output;
use sos_transport::Trust;
use sos_transport::api::{RemoteState, SessionStatus, SessionView};
use sos_transport::redact::Secret;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// How often `session request` looks at the answer.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Failures of `login` and `session` commands other than the API's own.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Reading the password failed.
    #[error("cannot read the password: {0}")]
    Password(std::io::Error),
    /// No terminal to prompt on and no `--password-stdin`.
    #[error("no terminal to ask for the password — pass --password-stdin and pipe it in")]
    NoTerminal,
    /// The password given is empty.
    #[error("the password is empty — type it again or check what is piped in")]
    EmptyPassword,
    /// The login file could not be removed.
    #[error("the token is revoked, but the login file could not be removed: {0}")]
    Forget(std::io::Error),
    /// The end user did not answer in time.
    #[error(
        "no answer from the end user within {seconds} s — the request stays open; check with \
         `sos-desk session show {id}` or ask again"
    )]
    NoAnswer {
        /// Session id.
        id: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The request disappeared without an answer.
    #[error(
        "the request was withdrawn before the end user answered (did their app disconnect?) — \
         check with `sos-desk session show {id}` and ask again"
    )]
    Withdrawn {
        /// Session id.
        id: String,
    },
    /// The session ended while waiting.
    #[error("the session is {status} now — create a new session with `sos-desk session new`")]
    SessionOver {
        /// Its status.
        status: SessionStatus,
    },
}

/// What every command after login needs: the saved configuration and an API client.
#[derive(Debug)]
pub struct LoggedIn {
    /// The saved login.
    pub config: DeskConfig,
    /// Signed-in API client.
    pub api: ApiClient,
    /// How the gateway is trusted (also for QUIC).
    pub trust: Trust,
}

impl LoggedIn {
    /// Loads the login saved at `path`.
    pub fn load(path: &Path) -> Result<Self, crate::DeskError> {
        let config = DeskConfig::load(path)?;
        let trust = config.trust(path)?;
        let url = config.gateway_url(path)?;
        let api = ApiClient::new(url, &trust, Some(config.token.clone()))?;
        Ok(Self { config, api, trust })
    }
}

/// Runs `sos-desk login`.
pub async fn login(
    config_path: &Path,
    args: &LoginArgs,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    let from_stdin = args.password_stdin;
    let password = tokio::task::spawn_blocking(move || read_password(from_stdin))
        .await
        .map_err(|e| CommandError::Password(std::io::Error::other(e.to_string())))??;
    let trust = match args.cert_sha256 {
        Some(fp) => Trust::Pinned(vec![fp]),
        None => Trust::SystemRoots,
    };
    let api = ApiClient::new(args.gateway.clone(), &trust, None)?;
    let answer = api.login(&args.email, &password).await?;
    drop(password);
    let config = DeskConfig {
        gateway: args.gateway.to_string(),
        token: Secret::new(answer.token),
        cert_sha256: args.cert_sha256.map(|fp| fp.to_string()),
    };
    config.save(config_path)?;
    writeln!(out, "Logged in as {} {}", answer.name, answer.email)?;
    Ok(Exit::Success)
}

/// Runs `sos-desk logout`: revokes the token on the gateway, then forgets it here. A token
/// the gateway no longer knows is forgotten all the same.
pub async fn logout(config_path: &Path, out: &mut dyn Write) -> Result<Exit, crate::DeskError> {
    let logged_in = LoggedIn::load(config_path)?;
    match logged_in.api.logout().await {
        Ok(()) | Err(ApiError::Refused { status: 401, .. }) => {}
        Err(error) => return Err(error.into()),
    }
    std::fs::remove_file(config_path).map_err(CommandError::Forget)?;
    writeln!(out, "Logged out; the token no longer works")?;
    Ok(Exit::Success)
}

fn read_password(from_stdin: bool) -> Result<Secret<String>, CommandError> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(CommandError::Password)?;
        line.truncate(line.trim_end_matches(['\r', '\n']).len());
        line
    } else {
        rpassword::prompt_password("Password: ").map_err(|_| CommandError::NoTerminal)?
    };
    if password.is_empty() {
        return Err(CommandError::EmptyPassword);
    }
    Ok(Secret::new(password))
}

/// Runs one `sos-desk session ...` command.
pub async fn session(
    config_path: &Path,
    command: &SessionCommand,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    let api = LoggedIn::load(config_path)?.api;
    match command {
        SessionCommand::New { channel, json } => {
            let session = api.create_session(channel.clone()).await?;
            if *json {
                writeln!(out, "{}", output::session_json(&session, true))?;
            } else {
                write!(out, "{}", output::new_session_text(&session))?;
            }
        }
        SessionCommand::List {
            home,
            channel,
            queue,
            json,
        } => {
            let query: Vec<(&str, &str)> = match (home, channel, queue) {
                (true, _, _) => vec![("scope", "home")],
                (_, Some(c), _) => vec![("channel", c.as_str())],
                (_, _, true) => vec![("scope", "queue")],
                _ => Vec::new(),
            };
            let mut sessions: Vec<SessionView> = api.get_query(&["sessions"], &query).await?;
            if *json {
                sessions.iter_mut().for_each(|s| s.pin = None);
                writeln!(out, "{}", to_json(&sessions))?;
            } else {
                write!(out, "{}", output::session_table(&sessions))?;
            }
        }
        SessionCommand::Show { id, json } => {
            let session = api.session(id).await?;
            print_session(out, &session, *json)?;
        }
        SessionCommand::Request {
            id,
            view_only,
            wait,
            json,
        } => return request(&api, id, !view_only, *wait, *json, out).await,
        SessionCommand::Close { id, json } => {
            let session = api.close_session(id).await?;
            if *json {
                writeln!(out, "{}", output::session_json(&session, false))?;
            } else {
                writeln!(out, "Closed session {}", session.id)?;
            }
        }
        SessionCommand::Pin { id, json } => {
            let pin = api.pin(id).await?;
            if *json {
                writeln!(out, "{}", to_json(&pin))?;
            } else {
                writeln!(out, "{}", output::format_pin(&pin.pin))?;
            }
        }
        SessionCommand::Link { id, json } => {
            let link: sos_transport::api::LinkView = api.get(&["sessions", id, "link"]).await?;
            if *json {
                writeln!(out, "{}", to_json(&link))?;
            } else {
                writeln!(out, "{}", link.link)?;
            }
        }
        other => return crate::manage::session(&api, other, out).await,
    }
    Ok(Exit::Success)
}

fn print_session(out: &mut dyn Write, session: &SessionView, json: bool) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", output::session_json(session, false))
    } else {
        write!(out, "{}", output::session_details(session))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Plain data with string keys always serialises.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Where a permission request stands, read from the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStep {
    /// Still waiting for the end user.
    Wait,
    /// Granted; `control` false means view only.
    Granted {
        /// Whether mouse and keyboard are allowed.
        control: bool,
    },
    /// The end user said no (or did not answer their prompt in time).
    Denied,
    /// The request is gone without an answer.
    Withdrawn,
    /// The session closed or expired.
    Over(SessionStatus),
}

/// Reads a session's permission state after a request was made.
pub fn request_step(session: &SessionView) -> RequestStep {
    if session.status.is_final() {
        return RequestStep::Over(session.status);
    }
    match session.remote {
        RemoteState::Requested => RequestStep::Wait,
        RemoteState::Granted { control } => RequestStep::Granted { control },
        RemoteState::Denied => RequestStep::Denied,
        RemoteState::NotRequested => RequestStep::Withdrawn,
    }
}

async fn request(
    api: &ApiClient,
    id: &str,
    control: bool,
    wait: u64,
    json: bool,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut session = api.request_remote(id, control).await?;
    if wait == 0 {
        if json {
            print_session(out, &session, true)?;
        } else {
            let what = if control {
                "view and control"
            } else {
                "view only"
            };
            writeln!(
                out,
                "Asked the end user for access ({what}); not waiting for the answer"
            )?;
        }
        return Ok(Exit::Success);
    }
    let step = loop {
        match request_step(&session) {
            RequestStep::Wait if Instant::now() >= deadline => {
                return Err(CommandError::NoAnswer {
                    id: id.to_string(),
                    seconds: wait,
                }
                .into());
            }
            RequestStep::Wait => {
                tokio::time::sleep(
                    POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())),
                )
                .await;
                session = api.session(id).await?;
            }
            RequestStep::Withdrawn => {
                return Err(CommandError::Withdrawn { id: id.to_string() }.into());
            }
            RequestStep::Over(status) => return Err(CommandError::SessionOver { status }.into()),
            step @ (RequestStep::Granted { .. } | RequestStep::Denied) => break step,
        }
    };
    if json {
        print_session(out, &session, true)?;
    } else {
        let line = match step {
            RequestStep::Granted { control: true } => "Granted (view and control)",
            RequestStep::Granted { control: false } => "Granted (view only)",
            _ => "Denied by the end user",
        };
        writeln!(out, "{line}")?;
    }
    Ok(match step {
        RequestStep::Granted { .. } => Exit::Success,
        _ => Exit::Failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(status: SessionStatus, remote: RemoteState) -> SessionView {
        SessionView {
            id: "s".into(),
            status,
            link: String::new(),
            pin: None,
            channel: "c".into(),
            assignee: None,
            invited: Vec::new(),
            private: false,
            machine_name: None,
            agent_online: true,
            reconnecting: false,
            remote,
            created_at: 0,
            expires_at: None,
            actions: Vec::new(),
        }
    }

    #[test]
    fn request_steps_follow_the_session() {
        use RemoteState::*;
        let active = SessionStatus::Active;
        assert_eq!(request_step(&session(active, Requested)), RequestStep::Wait);
        assert_eq!(
            request_step(&session(active, Granted { control: false })),
            RequestStep::Granted { control: false }
        );
        assert_eq!(request_step(&session(active, Denied)), RequestStep::Denied);
        assert_eq!(
            request_step(&session(active, NotRequested)),
            RequestStep::Withdrawn
        );
        assert_eq!(
            request_step(&session(SessionStatus::Closed, Requested)),
            RequestStep::Over(SessionStatus::Closed)
        );
    }
}
