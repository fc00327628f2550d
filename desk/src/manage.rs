//! `sos-desk session assign|transfer|invite|release|delete|log` and `sos-desk channel ...`:
//! the Service Desk actions beyond creating and watching a session.
//!
//! Contract: thin shells over the HTTPS API; a refusal is the gateway's reason, printed by
//! the caller on stderr with a non-zero exit.

use crate::Exit;
use crate::api::ApiClient;
use crate::cli::{ChannelCommand, SessionCommand};
use crate::commands::LoggedIn;
use crate::output;
use sos_transport::api::{
    AuditEvent, ChannelUpdate, ChannelView, NewChannelRequest, SessionView, TransferRequest,
    UserRef,
};
use std::io::Write;
use std::path::Path;

fn json<T: serde::Serialize>(value: &T) -> String {
    // Plain data with string keys always serialises.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn print_session(
    out: &mut dyn Write,
    session: &SessionView,
    as_json: bool,
    done: &str,
) -> std::io::Result<()> {
    if as_json {
        writeln!(out, "{}", output::session_json(session, false))
    } else {
        writeln!(out, "{done}")?;
        write!(out, "{}", output::session_details(session))
    }
}

/// Runs the session actions that `commands::session` hands over.
pub async fn session(
    api: &ApiClient,
    command: &SessionCommand,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    match command {
        SessionCommand::Assign {
            id,
            email,
            json: as_json,
        } => {
            let body = UserRef {
                email: email.clone(),
            };
            let s: SessionView = api.post(&["sessions", id, "assign"], &body).await?;
            print_session(out, &s, *as_json, &format!("Assigned to {email}"))?;
        }
        SessionCommand::Transfer {
            id,
            to_user,
            to_channel,
            json: as_json,
        } => {
            let body = TransferRequest {
                to_user: to_user.clone(),
                to_channel: to_channel.clone(),
            };
            let s: SessionView = api.post(&["sessions", id, "transfer"], &body).await?;
            let target = to_user
                .as_deref()
                .or(to_channel.as_deref())
                .unwrap_or_default();
            print_session(out, &s, *as_json, &format!("Transferred to {target}"))?;
        }
        SessionCommand::Invite {
            id,
            email,
            json: as_json,
        } => {
            let body = UserRef {
                email: email.clone(),
            };
            let s: SessionView = api.post(&["sessions", id, "invite"], &body).await?;
            print_session(out, &s, *as_json, &format!("Invited {email}"))?;
        }
        SessionCommand::Release { id, json: as_json } => {
            let s: SessionView = api
                .post(&["sessions", id, "release"], &serde_json::json!({}))
                .await?;
            print_session(out, &s, *as_json, "Released to the queue")?;
        }
        SessionCommand::Delete { id } => {
            api.delete(&["sessions", id]).await?;
            writeln!(out, "Deleted session {id} (its audit log is kept)")?;
        }
        SessionCommand::Log { id, json: as_json } => {
            let log: Vec<AuditEvent> = api.get(&["sessions", id, "log"]).await?;
            if *as_json {
                writeln!(out, "{}", json(&log))?;
            } else {
                write!(out, "{}", audit_table(&log))?;
            }
        }
        // The other session commands are handled in `commands`.
        _ => return Ok(Exit::Failure),
    }
    Ok(Exit::Success)
}

/// Runs `sos-desk channel ...`.
pub async fn channel(
    config_path: &Path,
    command: &ChannelCommand,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    let api = LoggedIn::load(config_path)?.api;
    match command {
        ChannelCommand::List { json: as_json } => {
            let channels: Vec<ChannelView> = api.get(&["channels"]).await?;
            if *as_json {
                writeln!(out, "{}", json(&channels))?;
            } else {
                write!(out, "{}", channel_table(&channels))?;
            }
        }
        ChannelCommand::New {
            name,
            expiry,
            json: as_json,
        } => {
            let body = NewChannelRequest {
                name: name.clone(),
                expiry_secs: *expiry,
            };
            let channel: ChannelView = api.post(&["channels"], &body).await?;
            if *as_json {
                writeln!(out, "{}", json(&channel))?;
            } else {
                writeln!(out, "Created channel {}", channel.name)?;
            }
        }
        ChannelCommand::Members {
            name,
            add,
            remove,
            expiry,
            json: as_json,
        } => {
            let channel: ChannelView = if add.is_empty() && remove.is_empty() && expiry.is_none() {
                let all: Vec<ChannelView> = api.get(&["channels"]).await?;
                match all.into_iter().find(|c| c.name.eq_ignore_ascii_case(name)) {
                    Some(c) => c,
                    None => {
                        return Err(crate::api::ApiError::Refused {
                            status: 404,
                            message: format!("no channel named {name} that you can use"),
                        }
                        .into());
                    }
                }
            } else {
                let body = ChannelUpdate {
                    expiry_secs: *expiry,
                    add_members: add.clone(),
                    remove_members: remove.clone(),
                };
                api.patch(&["channels", name], &body).await?
            };
            if *as_json {
                writeln!(out, "{}", json(&channel))?;
            } else {
                writeln!(
                    out,
                    "{} (sessions expire after {})",
                    channel.name,
                    duration(channel.expiry_secs)
                )?;
                for member in &channel.members {
                    writeln!(out, "  {member}")?;
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// `30m`, `8h`, `2d` style text for an expiry.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A readable table of channels.
pub fn channel_table(channels: &[ChannelView]) -> String {
    let mut text = format!("{:<24} {:<8} {}\n", "CHANNEL", "EXPIRY", "MEMBERS");
    for c in channels {
        let members = if c.private {
            "(only you)".to_string()
        } else {
            c.members.len().to_string()
        };
        text.push_str(&format!(
            "{:<24} {:<8} {}\n",
            c.name,
            duration(c.expiry_secs),
            members
        ));
    }
    text
}

/// A readable table of audit events.
pub fn audit_table(events: &[AuditEvent]) -> String {
    let mut text = format!(
        "{:<20} {:<24} {:<18} {:<18} {}\n",
        "WHEN (UTC)", "WHO", "FROM", "WHAT", "DETAIL"
    );
    for e in events {
        text.push_str(&format!(
            "{:<20} {:<24} {:<18} {:<18} {}\n",
            output::format_time(e.at),
            e.actor,
            e.origin,
            e.action,
            e.detail
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_duration;

    #[test]
    fn durations_read_and_print_alike() {
        assert_eq!(parse_duration("30m"), Ok(1800));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert_eq!(parse_duration("90"), Ok(90));
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(duration(1800), "30m");
        assert_eq!(duration(86_400 * 2), "2d");
    }

    #[test]
    fn tables_list_every_row() {
        let channels = vec![
            ChannelView {
                name: "Default".into(),
                expiry_secs: 86_400,
                members: vec!["a@x".into(), "b@x".into()],
                private: false,
            },
            ChannelView {
                name: "Private".into(),
                expiry_secs: 3600,
                members: vec![],
                private: true,
            },
        ];
        let text = channel_table(&channels);
        assert!(text.contains("Default") && text.contains("1d") && text.contains(" 2"));
        assert!(text.contains("(only you)"));
        let log = vec![AuditEvent {
            at: 0,
            actor: "tina@example.com".into(),
            origin: "https 192.0.2.x".into(),
            action: "created".into(),
            detail: "in Default".into(),
        }];
        let text = audit_table(&log);
        assert!(
            text.contains("1970-01-01") && text.contains("https 192.0.2.x"),
            "{text}"
        );
    }
}
