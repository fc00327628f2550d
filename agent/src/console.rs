//! The terminal side of the agent: lines typed by the end user and stop signals, as
//! [`Command`]s for the run loop.
//!
//! Contract: end of standard input is not a stop (the app may run with stdin closed); a
//! `stop` line, Ctrl-C and SIGTERM are. A second Ctrl-C or SIGTERM while the session is
//! already ending exits at once with status 130.

use std::io::BufRead;
use tokio::sync::mpsc;

/// Something the end user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A line typed on the terminal (without its line break).
    Line(String),
    /// Ctrl-C, SIGTERM, the Stop button or closing the app.
    Stop,
    /// A button clicked in the permission window shown for `request_id`; a click meant for
    /// a request that is no longer open answers nothing.
    Answer {
        /// The request the window showed.
        request_id: u64,
        /// What was clicked.
        choice: crate::consent::Choice,
    },
    /// Pause (`true`) or resume (`false`) the technician's use of mouse and keyboard.
    PauseControl(bool),
}

/// Reads standard input line by line on a thread of its own and forwards each line.
/// The thread ends quietly at end of input or when the run loop is gone.
pub fn spawn_stdin_reader(commands: mpsc::Sender<Command>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("sos-stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if commands.blocking_send(Command::Line(line)).is_err() {
                    break;
                }
            }
            tracing::debug!("standard input closed; type-to-answer is off");
        })?;
    Ok(())
}

/// Turns Ctrl-C and SIGTERM into [`Command::Stop`]; the second one exits the process.
/// Must be called inside a Tokio runtime.
pub fn spawn_signal_handlers(commands: mpsc::Sender<Command>) {
    tokio::spawn(async move {
        let mut signals = Signals::new();
        let mut stops = 0u32;
        while signals.next().await {
            stops += 1;
            if stops > 1 {
                std::process::exit(130);
            }
            let _ = commands.send(Command::Stop).await;
        }
    });
}

/// Ctrl-C, and SIGTERM where there is such a thing.
struct Signals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        Self {
            #[cfg(unix)]
            terminate: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .ok(),
        }
    }

    /// Waits for the next signal; `false` when signals cannot be received.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        if let Some(terminate) = self.terminate.as_mut() {
            return tokio::select! {
                result = tokio::signal::ctrl_c() => result.is_ok(),
                received = terminate.recv() => received.is_some(),
            };
        }
        tokio::signal::ctrl_c().await.is_ok()
    }
}
