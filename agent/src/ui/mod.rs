//! The end user's windows: the main window (join form, progress, how it ended), the
//! permission window and the in-session bar — another front end of the same session state
//! machine as the terminal ([`crate::console`]).
//!
//! Threads: winit owns the main thread ([`app`]); the session runs on a thread of its own
//! inside the tokio runtime ([`run`]). The session shows [`Notice`]s to the windows through
//! the event loop ([`WindowConsole`]); the windows send what the end user clicked as
//! [`Command`]s. The views ([`consent`], [`bar`], [`status`]) are pure and tested without
//! a display; [`paint`] draws them in the branding's look.
//!
//! Contract:
//! - The windows decide nothing: the session state machine answers every request, keeps
//!   the deadline and hands out the grants. A window only reports clicks for the request it
//!   shows.
//! - Deny is the default; no key allows; closing a window denies or stops.
//! - While a window is shown the technician's injected pointer input cannot reach it
//!   ([`crate::shield`]).
//! - Sharing never goes on without the bar: if it cannot be shown, the session stops.
//! - The PIN is never shown in a notice, logged or sent anywhere but in the registration.

pub mod app;
pub mod bar;
pub mod button;
pub mod consent;
pub mod paint;
pub mod status;
pub mod window;

use crate::console::Command;
use crate::join::JoinError;
use crate::notice::{Console, Notice};
use crate::platform::Platform;
use crate::session::Finish;
use crate::shell::{AgentConfig, Report};
use crate::shield::Shield;
use paint::Look;
use sos_transport::Pin;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::mpsc;
use winit::event_loop::EventLoopProxy;

/// What the session tells the windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToUi {
    /// A notice for the end user.
    Notice(Notice),
    /// Ask for what is missing to join (after `error`, when an attempt failed).
    AskJoin {
        /// The gateway known so far.
        gateway: Option<String>,
        /// Whether the gateway is asked for.
        ask_gateway: bool,
        /// Why the last attempt failed.
        error: Option<String>,
    },
    /// The session is over.
    Finished {
        /// How it ended.
        message: String,
        /// Close at once (the end user stopped it).
        close: bool,
    },
}

/// What the join form gives the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joining {
    /// The gateway typed, when it was asked for.
    pub gateway: Option<String>,
    /// The PIN typed.
    pub pin: Pin,
}

/// Shows notices both on standard output (the record of what happened) and in the
/// windows.
pub struct WindowConsole<'a> {
    inner: &'a mut dyn Console,
    proxy: EventLoopProxy<ToUi>,
}

impl<'a> WindowConsole<'a> {
    /// A console echoing to `inner` and the windows behind `proxy`.
    pub fn new(inner: &'a mut dyn Console, proxy: EventLoopProxy<ToUi>) -> Self {
        Self { inner, proxy }
    }
}

impl Console for WindowConsole<'_> {
    fn show(&mut self, notice: &Notice) {
        self.inner.show(notice);
        // The windows may be closing already; the session goes on to its end regardless.
        let _ = self.proxy.send_event(ToUi::Notice(notice.clone()));
    }
}

/// The windows' event loop.
pub type EventLoop = winit::event_loop::EventLoop<ToUi>;

/// The window system, if it answers. Must be called on the main thread, once.
pub fn event_loop() -> Result<EventLoop, String> {
    winit::event_loop::EventLoop::<ToUi>::with_user_event()
        .build()
        .map_err(|e| e.to_string())
}

/// What the windowed app starts from.
pub struct Launch {
    /// The gateway, when known (baked or given); `None`: asked in the form.
    pub gateway: Option<String>,
    /// The PIN, when known (given or found from the link); `None`: asked in the form.
    pub pin: Option<Pin>,
    /// Why the PIN is asked although a link was found (shown above the form).
    pub pin_note: Option<String>,
    /// Builds the configuration for a gateway and a PIN.
    pub config: Box<dyn Fn(String, Pin) -> AgentConfig + Send>,
    /// Seconds a permission question waits (for the window's countdown).
    pub consent_timeout: Duration,
    /// The windows' look.
    pub look: Look,
    /// Where the notices are also printed.
    pub console: Box<dyn Console>,
    /// The guarded rectangles shared with the input thread.
    pub shield: Shield,
}

/// How the windowed app ended.
#[derive(Debug)]
pub enum Ended {
    /// The session ran and finished.
    Ran(Report),
    /// Joining failed and the end user gave up (the last error).
    JoinFailed(JoinError),
    /// The end user closed the app before joining.
    Cancelled,
    /// The windows failed; the session was stopped.
    WindowFailed(String),
}

/// Runs the windows on this (main) thread and the session on another, inside `runtime`;
/// `commands` also carries the stop signals.
pub fn run(
    event_loop: EventLoop,
    launch: Launch,
    platform: Arc<dyn Platform>,
    runtime: tokio::runtime::Handle,
    commands: (mpsc::Sender<Command>, mpsc::Receiver<Command>),
) -> Ended {
    let Launch {
        gateway,
        pin,
        pin_note,
        config,
        consent_timeout,
        look,
        console,
        shield,
    } = launch;
    let (commands_tx, commands_rx) = commands;
    let (joins_tx, joins_rx) = std_mpsc::channel();
    let proxy = event_loop.create_proxy();
    let first = match (&gateway, &pin) {
        (Some(_), Some(_)) => status::StatusView::progress(),
        _ => status::StatusView::form(gateway.clone(), gateway.is_none(), pin_note),
    };
    let ask_gateway = gateway.is_none();
    let session = std::thread::Builder::new()
        .name("sos-session".into())
        .spawn(move || {
            let mut flow = Flow {
                proxy,
                joins: joins_rx,
                commands: commands_rx,
                console,
                ask_gateway,
            };
            runtime.block_on(flow.run(gateway, pin, config, platform))
        });
    let session = match session {
        Ok(session) => session,
        Err(error) => return Ended::WindowFailed(format!("cannot start the session: {error}")),
    };
    let mut app = app::App::new(look, shield, commands_tx, joins_tx, consent_timeout, first);
    let ran = event_loop.run_app(&mut app);
    let failure = app.failure.take().or(ran.err().map(|e| e.to_string()));
    // Closing the windows stopped the session; wait for it to say goodbye to the gateway.
    drop(app);
    let ended = session
        .join()
        .unwrap_or_else(|_| Ended::WindowFailed("the session thread failed".into()));
    match (failure, ended) {
        (Some(failure), Ended::Cancelled) => Ended::WindowFailed(failure),
        (_, ended) => ended,
    }
}

/// The session thread: asks for what is missing, joins, runs, and asks again after a
/// failed join.
struct Flow {
    proxy: EventLoopProxy<ToUi>,
    joins: std_mpsc::Receiver<Option<Joining>>,
    commands: mpsc::Receiver<Command>,
    console: Box<dyn Console>,
    ask_gateway: bool,
}

impl Flow {
    async fn run(
        &mut self,
        mut gateway: Option<String>,
        mut pin: Option<Pin>,
        config: Box<dyn Fn(String, Pin) -> AgentConfig + Send>,
        platform: Arc<dyn Platform>,
    ) -> Ended {
        let mut last_error = None;
        loop {
            let (Some(address), Some(code)) = (gateway.clone(), pin.take()) else {
                let Some(joining) = self.form().await else {
                    // Ctrl-C or SIGTERM while the form was up: the windows close too.
                    let _ = self.proxy.send_event(ToUi::Finished {
                        message: "Closed before joining a session.".to_string(),
                        close: true,
                    });
                    return last_error.map_or(Ended::Cancelled, Ended::JoinFailed);
                };
                if joining.gateway.is_some() {
                    gateway = joining.gateway;
                }
                pin = Some(joining.pin);
                continue;
            };
            let mut console = WindowConsole::new(&mut *self.console, self.proxy.clone());
            let outcome = crate::shell::run(
                config(address.clone(), code),
                platform.clone(),
                &mut console,
                &mut self.commands,
            )
            .await;
            match outcome {
                Ok(report) => {
                    let (message, close) = match report.finish {
                        Finish::Stopped => ("Session ended: you stopped it.".to_string(), true),
                        Finish::Ended(reason) => (format!("Session ended: {reason}."), false),
                        Finish::ConnectionLost => (
                            "The connection to the gateway was lost. The session has ended."
                                .to_string(),
                            false,
                        ),
                    };
                    let _ = self.proxy.send_event(ToUi::Finished { message, close });
                    return Ended::Ran(report);
                }
                Err(error) => {
                    let retry = matches!(
                        error,
                        JoinError::Refused(_)
                            | JoinError::Resolve { .. }
                            | JoinError::Unreachable { .. }
                            | JoinError::Lost(_)
                            | JoinError::NoAnswer
                    );
                    if !retry {
                        // An impostor or a broken gateway: no second try from here.
                        let _ = self.proxy.send_event(ToUi::Finished {
                            message: error.to_string(),
                            close: false,
                        });
                        return Ended::JoinFailed(error);
                    }
                    let _ = self.proxy.send_event(ToUi::AskJoin {
                        gateway: gateway.clone(),
                        ask_gateway: self.ask_gateway,
                        error: Some(error.to_string()),
                    });
                    last_error = Some(error);
                }
            }
        }
    }

    /// Waits for the form (without blocking the runtime); `None` when the end user quit.
    async fn form(&mut self) -> Option<Joining> {
        loop {
            match self.joins.try_recv() {
                Ok(joining) => return joining,
                Err(std_mpsc::TryRecvError::Disconnected) => return None,
                Err(std_mpsc::TryRecvError::Empty) => {}
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                command = self.commands.recv() => {
                    if matches!(command, Some(Command::Stop) | None) {
                        return None;
                    }
                }
            }
        }
    }
}
