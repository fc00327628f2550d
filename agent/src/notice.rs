//! What the end user is told, as values, and where it is shown.
//!
//! Contract: every line the end user reads is a [`Notice`]; its `Display` is the exact text.
//! Names that come from the network are sanitised ([`sanitize`]) before they reach a
//! terminal, so a hostile technician name cannot move the cursor or forge a prompt. Notices
//! never contain the PIN.

use sos_transport::wire::EndReason;
use std::fmt;
use std::io::Write;

/// Longest technician or organisation name shown, in characters.
const MAX_NAME_CHARS: usize = 64;

/// One message for the end user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// Before connecting.
    Connecting {
        /// Gateway address as given.
        address: String,
    },
    /// The gateway proved its identity (pinned certificate or system roots).
    Verified,
    /// The PIN was accepted.
    Registered {
        /// Organisation running the gateway (sanitised).
        organisation: String,
    },
    /// Waiting for a technician, with the way out.
    Waiting,
    /// A technician asks for access.
    ConsentPrompt {
        /// The request being asked about (echoed by a window's answer).
        request_id: u64,
        /// Technician's display name (sanitised).
        technician: String,
        /// Technician's organisation (sanitised).
        organisation: String,
        /// Whether control is asked for.
        control: bool,
        /// Seconds before silence counts as no.
        timeout_secs: u64,
    },
    /// A second request arrived while a prompt was open; it was refused.
    ConcurrentRequestRefused {
        /// The technician whose request was refused (sanitised).
        technician: String,
    },
    /// Access granted.
    Granted {
        /// Technician's display name (sanitised).
        technician: String,
        /// Whether mouse and keyboard were allowed too.
        control: bool,
    },
    /// Access denied by the end user.
    Denied,
    /// Nobody answered in time.
    TimedOut {
        /// The timeout that passed.
        timeout_secs: u64,
    },
    /// The end user paused the technician's control.
    ControlPaused,
    /// The end user gave the technician control back.
    ControlResumed,
    /// A line was typed that means nothing now.
    StopHint,
    /// The screen cannot be captured; the technician sees nothing.
    CaptureFailed {
        /// What went wrong.
        detail: String,
    },
    /// The end user stopped the session.
    StoppedByUser,
    /// The gateway ended the session.
    Ended(EndReason),
    /// The connection dropped.
    ConnectionLost,
    /// Trying to reconnect.
    Reconnecting {
        /// Back within this many seconds, the technician keeps the access given (none
        /// when no access was given).
        keep_secs: Option<u64>,
    },
    /// Back after a lost connection, and the access given before stands.
    AccessKept {
        /// Who has it.
        technician: String,
        /// Whether it includes control.
        control: bool,
    },
    /// Reconnected after a loss.
    Reconnected,
    /// Reconnecting failed; the session is over for this app.
    GaveUp {
        /// Why the last attempt failed.
        detail: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Connecting { address } => write!(f, "Connecting to {address}…"),
            Notice::Verified => f.write_str("Verified the gateway's identity."),
            Notice::Registered { organisation } => {
                write!(f, "PIN accepted — connected to {organisation}.")
            }
            Notice::Waiting => f.write_str(
                "Waiting for your technician…\n\
                 Type \"stop\" and Enter (or press Ctrl-C) to end the session.",
            ),
            Notice::ConsentPrompt {
                request_id: _,
                technician,
                organisation,
                control,
                timeout_secs,
            } => {
                let what = if *control { "view and control" } else { "view" };
                write!(
                    f,
                    "Allow {technician} from {organisation} to {what} this computer? [y/N]\n\
                     (Type y and Enter to allow. No answer within {timeout_secs} s counts as no.)"
                )
            }
            Notice::ConcurrentRequestRefused { technician } => write!(
                f,
                "Another request from {technician} arrived while you were deciding; it was refused."
            ),
            Notice::Granted {
                technician,
                control,
            } => {
                write!(f, "Access granted — {technician} can now see your screen.")?;
                if *control {
                    f.write_str("\nThey can also use your mouse and keyboard.")?;
                }
                f.write_str("\nType \"stop\" and Enter (or press Ctrl-C) to end the session.")
            }
            Notice::Denied => f.write_str("Access denied."),
            Notice::ControlPaused => f.write_str(
                "Control paused — your technician can still see your screen but cannot use \
                 your mouse and keyboard until you resume.",
            ),
            Notice::ControlResumed => {
                f.write_str("Control resumed — your technician can use your mouse and keyboard.")
            }
            Notice::TimedOut { timeout_secs } => {
                write!(f, "Access denied (no answer within {timeout_secs} s).")
            }
            Notice::StopHint => {
                f.write_str("Type \"stop\" and Enter (or press Ctrl-C) to end the session.")
            }
            Notice::CaptureFailed { detail } => write!(
                f,
                "Cannot capture the screen ({detail}) — your technician cannot see it; \
                 type \"stop\" to end the session."
            ),
            Notice::StoppedByUser => f.write_str("Session ended: you stopped it."),
            Notice::Ended(reason) => write!(f, "Session ended: {reason}."),
            Notice::ConnectionLost => f.write_str("Connection to the gateway lost."),
            Notice::Reconnecting { keep_secs: None } => {
                f.write_str("Reconnecting… (type \"stop\" and Enter to give up).")
            }
            Notice::Reconnecting {
                keep_secs: Some(secs),
            } => write!(
                f,
                "Reconnecting… (type \"stop\" and Enter to give up). Back within {secs} s, \
                 your technician keeps the access you gave; after that they must ask again."
            ),
            Notice::AccessKept {
                technician,
                control,
            } => {
                write!(
                    f,
                    "Access continues — {technician} can see your screen again (you allowed \
                     it before the connection dropped)."
                )?;
                if *control {
                    f.write_str("\nThey can also use your mouse and keyboard.")?;
                }
                Ok(())
            }
            Notice::Reconnected => f.write_str("Reconnected to the gateway."),
            Notice::GaveUp { detail } => write!(
                f,
                "Could not reconnect ({detail}). The session has ended; start the app again \
                 or ask your technician for a new link."
            ),
        }
    }
}

/// Where notices are shown: the terminal today, a window later.
pub trait Console: Send {
    /// Shows one notice to the end user.
    fn show(&mut self, notice: &Notice);
}

/// Prints notices on standard output, one per line, flushed at once.
#[derive(Debug, Default)]
pub struct StdoutConsole;

impl Console for StdoutConsole {
    fn show(&mut self, notice: &Notice) {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the session: the end user can still stop it.
        let _ = writeln!(out, "{notice}");
        let _ = out.flush();
    }
}

/// Makes a name from the network safe to print: control characters (escape sequences, line
/// breaks) become spaces, and long names are cut.
pub fn sanitize(name: &str) -> String {
    let mut clean: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_NAME_CHARS)
        .collect();
    if name.chars().count() > MAX_NAME_CHARS {
        clean.push('…');
    }
    let trimmed = clean.trim();
    if trimmed.is_empty() {
        "an unnamed technician".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_says_what_is_asked() {
        let mut notice = Notice::ConsentPrompt {
            request_id: 1,
            technician: "Ann".into(),
            organisation: "Acme".into(),
            control: true,
            timeout_secs: 60,
        };
        let text = notice.to_string();
        assert!(
            text.starts_with("Allow Ann from Acme to view and control this computer? [y/N]\n"),
            "{text}"
        );
        assert!(text.contains("60 s"));
        if let Notice::ConsentPrompt { control, .. } = &mut notice {
            *control = false;
        }
        assert!(
            notice
                .to_string()
                .starts_with("Allow Ann from Acme to view this computer? [y/N]")
        );
    }

    #[test]
    fn exact_lines_the_system_test_reads() {
        assert!(
            Notice::Waiting
                .to_string()
                .starts_with("Waiting for your technician…\n")
        );
        assert_eq!(
            Notice::StoppedByUser.to_string(),
            "Session ended: you stopped it."
        );
        assert_eq!(
            Notice::Ended(EndReason::ClosedByTechnician).to_string(),
            "Session ended: the technician closed the session."
        );
        assert!(
            Notice::Granted {
                technician: "Ann".into(),
                control: false
            }
            .to_string()
            .starts_with("Access granted — Ann can now see your screen.")
        );
    }

    #[test]
    fn hostile_names_are_neutralised() {
        assert_eq!(sanitize("Ann\x1b[2J\nAllow? [y/N]"), "Ann [2J Allow? [y/N]");
        assert_eq!(sanitize("\u{7}\u{7}"), "an unnamed technician");
        let long = "x".repeat(500);
        assert_eq!(sanitize(&long).chars().count(), MAX_NAME_CHARS + 1);
    }
}
