//! The IO shell around the session state machine: the QUIC control stream, the terminal,
//! the capture pipeline and the input thread, wired together in one loop.
//!
//! Contract: this loop makes no consent decision of its own. It feeds every input to the
//! [`Session`], carries out its outputs in order, and reaches streaming and injection only
//! through the grants the session hands out. It never sends a pixel before consent.

use crate::consent::{Line, parse_line};
use crate::console::Command;
use crate::injector::{InjectResult, Injector};
use crate::input::{Area, Layout};
use crate::join::{self, JoinError, Joined, Registration};
use crate::notice::{Console, Notice};
use crate::pipeline::{PipelineConfig, StreamError};
use crate::platform::Platform;
use crate::rate::RateControl;
use crate::session::{Finish, Handled, InputVerdict, Output, Session, SessionConfig};
use crate::shield::Shield;
use crate::stats::Stats;
use crate::stream::Streamer;
use sos_transport::framing::{self, WireError};
use sos_transport::wire::{DisplayInfo, EndReason, FromAgent, Resume, ToAgent, close_code};
use sos_transport::{Pin, Secret, Trust};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest wait for the stop message to be acknowledged and the close to leave.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Longest time after a lost connection that this app keeps the end user's grant, whatever
/// window the gateway announces.
pub const MAX_RESUME_WINDOW: Duration = Duration::from_secs(300);

/// Everything the agent needs to run.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Gateway `host:port`.
    pub gateway: String,
    /// How to verify the gateway.
    pub trust: Trust,
    /// The session PIN.
    pub pin: Pin,
    /// The session link's token, when the app knows it (its download's file name).
    pub link: Option<Secret<String>>,
    /// Name shown to the technician.
    pub machine_name: String,
    /// Operating system description.
    pub os: String,
    /// Consent settings.
    pub session: SessionConfig,
    /// Capture and encoding settings.
    pub pipeline: PipelineConfig,
    /// Whether the frame rate follows the link's delay.
    pub rate_control: RateControl,
    /// How long to keep trying to reconnect after the connection is lost or the gateway
    /// restarts (zero: end at once).
    pub reconnect_for: Duration,
    /// How long a key or button may stay held before it is released
    /// ([`crate::injector::HELD_LIMIT`] unless testing).
    pub held_key_limit: Duration,
    /// The app's own windows, which injected input must not reach.
    pub shield: Shield,
}

/// How a run ended, with the streaming figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Why the session finished.
    pub finish: Finish,
    /// Streaming figures of the whole run.
    pub stats: Stats,
}

/// Joins the session and runs it to its end. `commands` carries what the end user types and
/// the stop signals; `console` shows every notice.
pub async fn run(
    config: AgentConfig,
    platform: Arc<dyn Platform>,
    console: &mut dyn Console,
    commands: &mut mpsc::Receiver<Command>,
) -> Result<Report, JoinError> {
    let displays = platform.displays();
    let monitors = platform.monitors();
    let shared = monitors.shared.and_then(|i| monitors.get(i));
    let display = displays
        .iter()
        .find(|d| d.primary)
        .or(displays.first())
        .copied();
    let layout = Layout {
        // The captured monitor; without a monitor list, the captured screen at the origin.
        shared: shared.map(Area::from).or_else(|| {
            let display = displays.iter().find(|d| d.primary).or(displays.first())?;
            Some(Area {
                x: 0,
                y: 0,
                width: display.width,
                height: display.height,
            })
        }),
        monitors: monitors.list,
    };
    let registration = Registration {
        gateway: config.gateway.clone(),
        trust: config.trust.clone(),
        pin: config.pin.clone(),
        machine_name: config.machine_name.clone(),
        os: config.os.clone(),
        displays,
        monitors: layout.monitors.clone(),
        link: config.link.clone(),
        resume: None,
    };
    let mut joined = tokio::select! {
        joined = join::join(registration.clone(), console) => joined?,
        () = stop_requested(commands) => {
            console.show(&Notice::StoppedByUser);
            return Ok(Report {
                finish: Finish::Stopped,
                stats: Stats::default(),
            });
        }
    };
    let mut total = Stats::default();
    let mut session = Session::new(config.session);
    // Frame numbers go on across connections: viewers kept through a comeback drop a
    // frame older than one they have.
    let seq = Arc::new(AtomicU64::new(0));
    loop {
        let offer = joined.resume.take();
        let (finish, stats, back) = serve(
            &config,
            Connected {
                platform: platform.clone(),
                layout: layout.clone(),
                display,
                joined,
                session,
                seq: seq.clone(),
            },
            console,
            commands,
        )
        .await;
        session = back;
        total.merge(&stats);
        let reconnect = matches!(
            finish,
            Finish::ConnectionLost | Finish::Ended(EndReason::GatewayShutdown)
        );
        if !reconnect || config.reconnect_for.is_zero() {
            return Ok(Report {
                finish,
                stats: total,
            });
        }
        let window = offer.as_ref().map_or(Duration::ZERO, |offer| {
            Duration::from_secs(offer.window_secs.into()).min(MAX_RESUME_WINDOW)
        });
        let keep_secs = session
            .may_keep_grant(Instant::now(), window)
            .then_some(window.as_secs());
        console.show(&Notice::Reconnecting { keep_secs });
        let comeback = Comeback {
            ticket: offer.map(|offer| offer.ticket),
            window,
            session: &session,
        };
        match rejoin(&registration, &comeback, config.reconnect_for, commands).await {
            Rejoin::Joined(again) => {
                console.show(&Notice::Reconnected);
                session.handle_registered(again.resumed);
                joined = *again;
            }
            Rejoin::Stopped => {
                console.show(&Notice::StoppedByUser);
                return Ok(Report {
                    finish: Finish::Stopped,
                    stats: total,
                });
            }
            Rejoin::GaveUp(error) => {
                console.show(&Notice::GaveUp {
                    detail: error.to_string(),
                });
                return Ok(Report {
                    finish: Finish::ConnectionLost,
                    stats: total,
                });
            }
        }
    }
}

/// One registered connection and what the session carries from one to the next.
struct Connected {
    platform: Arc<dyn Platform>,
    layout: Layout,
    display: Option<DisplayInfo>,
    joined: Joined,
    session: Session,
    seq: Arc<AtomicU64>,
}

/// Runs one connection of the session until it finishes; gives the session back.
async fn serve(
    config: &AgentConfig,
    connected: Connected,
    console: &mut dyn Console,
    commands: &mut mpsc::Receiver<Command>,
) -> (Finish, Stats, Session) {
    let Connected {
        platform,
        layout,
        display,
        joined,
        session,
        seq,
    } = connected;
    let (inject_tx, inject_results) = mpsc::unbounded_channel();
    let injector = match Injector::start(
        platform.clone(),
        layout.clone(),
        config.held_key_limit,
        config.shield.clone(),
        inject_tx,
    ) {
        Ok(injector) => Some(injector),
        Err(error) => {
            tracing::warn!(%error, "cannot start the input thread");
            None
        }
    };
    let (failures_tx, failures) = mpsc::unbounded_channel();
    let Joined {
        endpoint,
        connection,
        send,
        recv,
        ..
    } = joined;
    let shell = Shell {
        session,
        connection,
        send,
        platform,
        pipeline: config.pipeline,
        rate_control: config.rate_control,
        layout,
        display,
        injector,
        streamer: None,
        draining: Vec::new(),
        stats: Stats::default(),
        seq,
        failures_tx,
        protocol_error: false,
    };
    let messages = spawn_reader(recv);
    let result = shell
        .run(console, commands, messages, inject_results, failures)
        .await;
    // Let the close frame leave before going on (or exiting).
    let _ = tokio::time::timeout(CLOSE_WAIT, endpoint.wait_idle()).await;
    result
}

/// How a reconnection attempt ended.
enum Rejoin {
    /// Registered again.
    Joined(Box<Joined>),
    /// The end user stopped while we were trying.
    Stopped,
    /// The gateway refused the PIN (the session ended meanwhile) or time ran out.
    GaveUp(JoinError),
}

/// How this app comes back after a lost connection.
struct Comeback<'a> {
    /// The one-time ticket of the last registration.
    ticket: Option<Secret<String>>,
    /// How long after the loss the grant may be kept.
    window: Duration,
    /// The session, away.
    session: &'a Session,
}

impl Comeback<'_> {
    /// What an attempt at `now` says: the ticket, offering to keep the grant while the
    /// window lasts.
    fn resume(&self, now: Instant) -> Option<Resume> {
        self.ticket.clone().map(|ticket| Resume {
            ticket,
            keep_consent: self.session.may_keep_grant(now, self.window),
        })
    }
}

/// Registers again after the connection was lost or the gateway restarted, retrying with a
/// growing pause until `within` has passed: with the ticket when there is one (then the
/// grant is kept if the gateway agrees, within the window), with the PIN otherwise.
async fn rejoin(
    registration: &Registration,
    comeback: &Comeback<'_>,
    within: Duration,
    commands: &mut mpsc::Receiver<Command>,
) -> Rejoin {
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(250);
    loop {
        let mut quiet = QuietConsole;
        let mut registration = registration.clone();
        registration.resume = comeback.resume(Instant::now());
        let attempt = tokio::select! {
            joined = join::join(registration, &mut quiet) => joined,
            () = stop_requested(commands) => return Rejoin::Stopped,
        };
        match attempt {
            Ok(joined) => return Rejoin::Joined(Box::new(joined)),
            Err(error @ (JoinError::Refused(_) | JoinError::Untrusted { .. })) => {
                return Rejoin::GaveUp(error);
            }
            Err(error) if tokio::time::Instant::now() + pause >= deadline => {
                return Rejoin::GaveUp(error);
            }
            Err(error) => tracing::debug!(%error, "reconnection attempt failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stop_requested(commands) => return Rejoin::Stopped,
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// Shows nothing: reconnection attempts are summarised by one notice.
struct QuietConsole;

impl Console for QuietConsole {
    fn show(&mut self, _notice: &Notice) {}
}

/// Resolves when the end user asks to stop; other lines typed before the session exists
/// are dropped (they cannot answer a question not yet asked).
async fn stop_requested(commands: &mut mpsc::Receiver<Command>) {
    loop {
        match commands.recv().await {
            Some(Command::Stop) => return,
            Some(Command::Line(line)) if parse_line(&line) == Line::Stop => return,
            Some(Command::Line(_) | Command::Answer { .. } | Command::PauseControl(_)) => {}
            None => std::future::pending().await,
        }
    }
}

/// Reads control messages on a task of its own (reading is not cancel-safe, so it must not
/// sit in a `select!`). The channel ends with one error when the stream ends.
fn spawn_reader(mut recv: quinn::RecvStream) -> mpsc::Receiver<Result<ToAgent, WireError>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let message = match framing::read_message::<_, ToAgent>(&mut recv).await {
                Ok(Some(message)) => Ok(message),
                Ok(None) => Err(WireError::Truncated),
                Err(error) => Err(error),
            };
            let end = message.is_err();
            if tx.send(message).await.is_err() || end {
                return;
            }
        }
    });
    rx
}

struct Shell {
    session: Session,
    connection: quinn::Connection,
    send: quinn::SendStream,
    platform: Arc<dyn Platform>,
    pipeline: PipelineConfig,
    rate_control: RateControl,
    /// The monitors and the shared area, as input is mapped.
    layout: Layout,
    /// The picture shared now, as the technicians are told.
    display: Option<DisplayInfo>,
    injector: Option<Injector>,
    streamer: Option<Streamer>,
    draining: Vec<tokio::task::JoinHandle<Stats>>,
    stats: Stats,
    seq: Arc<AtomicU64>,
    failures_tx: mpsc::UnboundedSender<StreamError>,
    protocol_error: bool,
}

impl Shell {
    async fn run(
        mut self,
        console: &mut dyn Console,
        commands: &mut mpsc::Receiver<Command>,
        mut messages: mpsc::Receiver<Result<ToAgent, WireError>>,
        mut inject_results: mpsc::UnboundedReceiver<InjectResult>,
        mut failures: mpsc::UnboundedReceiver<StreamError>,
    ) -> (Finish, Stats, Session) {
        let mut commands_open = true;
        loop {
            // Deadlines are honoured even when a busy branch keeps the timer from firing.
            self.session.handle_timeout(Instant::now());
            while let Some(output) = self.session.poll_output() {
                if let Some(finish) = self.apply(output, console).await {
                    return self.finish(finish).await;
                }
            }
            let deadline = self.session.poll_timeout();
            tokio::select! {
                // What the end user typed goes first, so a line typed before a request
                // arrived is never taken as its answer.
                biased;
                command = commands.recv(), if commands_open => match command {
                    Some(Command::Line(line)) => self.session.handle_line(&line, Instant::now()),
                    Some(Command::Stop) => self.session.handle_stop(),
                    Some(Command::Answer { request_id, choice }) => {
                        self.session.handle_choice(request_id, choice, Instant::now());
                    }
                    Some(Command::PauseControl(paused)) => self.session.handle_pause(paused),
                    None => commands_open = false,
                },
                message = messages.recv() => match message {
                    Some(Ok(message)) => self.on_message(message, console).await,
                    Some(Err(error)) => self.on_stream_end(&error),
                    None => self.session.handle_connection_lost(Instant::now()),
                },
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.session.handle_timeout(Instant::now());
                }
                Some(result) = inject_results.recv() => {
                    self.send_message(&FromAgent::InputResult {
                        viewer: result.viewer,
                        seq: result.seq,
                        outcome: result.outcome,
                    })
                    .await;
                }
                Some(error) = failures.recv() => {
                    console.show(&Notice::CaptureFailed { detail: error.to_string() });
                }
            }
        }
    }

    async fn on_message(&mut self, message: ToAgent, console: &mut dyn Console) {
        let (viewer, seq, event) = match self.session.handle_message(message, Instant::now()) {
            Handled::Done => return,
            Handled::ShareMonitor { monitor } => return self.share_monitor(monitor, console).await,
            Handled::Input { viewer, seq, event } => (viewer, seq, event),
        };
        let outcome = match (self.session.input_verdict(viewer), self.injector.as_mut()) {
            (InputVerdict::Inject(grant), Some(injector)) => {
                injector.inject(grant, viewer, seq, &event)
            }
            (InputVerdict::Inject(_), None) => Some(sos_transport::wire::InputOutcome::Failed),
            (InputVerdict::Refuse(outcome), _) => Some(outcome),
        };
        if let Some(outcome) = outcome {
            self.send_message(&FromAgent::InputResult {
                viewer,
                seq,
                outcome,
            })
            .await;
        }
    }

    /// Switches the capture (and the pointer mapping) to another monitor and tells the
    /// gateway what is shared now; an unknown monitor leaves the sharing as it is.
    async fn share_monitor(&mut self, index: u32, console: &mut dyn Console) {
        let current = self.pipeline.monitor.or(self.display.map(|d| d.index));
        match self
            .layout
            .monitors
            .iter()
            .find(|m| m.index == index)
            .copied()
        {
            Some(monitor) if current != Some(index) => {
                tracing::info!(monitor = index, "sharing another monitor");
                self.pipeline.monitor = Some(index);
                self.layout.shared = Some(Area::from(&monitor));
                if let Some(injector) = self.injector.as_mut() {
                    injector.set_layout(self.layout.clone());
                }
                self.display = Some(DisplayInfo {
                    index,
                    width: monitor.width,
                    height: monitor.height,
                    primary: monitor.primary,
                });
                if self.streamer.is_some() {
                    self.stop_streaming();
                    self.start_streaming(console);
                }
            }
            Some(_) => {}
            None => tracing::info!(monitor = index, "no such monitor; the sharing stays"),
        }
        if let Some(display) = self.display {
            self.send_message(&FromAgent::Sharing { display }).await;
        }
    }

    fn on_stream_end(&mut self, error: &WireError) {
        match error {
            WireError::Malformed(_) | WireError::TooLarge { .. } => {
                tracing::warn!(%error, "the gateway broke the protocol");
                self.protocol_error = true;
            }
            _ => tracing::info!(%error, "control stream ended"),
        }
        self.session.handle_connection_lost(Instant::now());
    }

    async fn apply(&mut self, output: Output, console: &mut dyn Console) -> Option<Finish> {
        match output {
            Output::Send(message) => self.send_message(&message).await,
            Output::Show(notice) => console.show(&notice),
            Output::StartStreaming => self.start_streaming(console),
            Output::StopStreaming => self.stop_streaming(),
            Output::Keyframe => {
                if let Some(streamer) = &self.streamer {
                    streamer.request_keyframe();
                }
            }
            Output::ReleaseInput => {
                if let Some(injector) = &self.injector {
                    injector.release_all();
                }
            }
            Output::Finish(finish) => return Some(finish),
        }
        None
    }

    async fn send_message(&mut self, message: &FromAgent) {
        if let Err(error) = framing::write_message(&mut self.send, message).await {
            tracing::info!(%error, "cannot write to the gateway");
            self.session.handle_connection_lost(Instant::now());
        }
    }

    fn start_streaming(&mut self, console: &mut dyn Console) {
        if self.streamer.is_some() {
            return;
        }
        let Some(grant) = self.session.view_grant() else {
            return;
        };
        self.stats.record_stream_request(Instant::now());
        match Streamer::start(
            grant,
            self.connection.clone(),
            self.platform.clone(),
            self.pipeline,
            self.rate_control,
            self.seq.clone(),
            self.failures_tx.clone(),
        ) {
            Ok(streamer) => self.streamer = Some(streamer),
            Err(error) => console.show(&Notice::CaptureFailed {
                detail: error.to_string(),
            }),
        }
    }

    fn stop_streaming(&mut self) {
        if let Some(streamer) = self.streamer.take() {
            self.draining.push(tokio::spawn(streamer.stop()));
        }
    }

    async fn finish(mut self, finish: Finish) -> (Finish, Stats, Session) {
        self.stop_streaming();
        let injector = self.injector.take();
        if let Finish::Stopped = finish {
            // Give the Stopped message a moment to be acknowledged before closing.
            let _ = self.send.finish();
            let _ = tokio::time::timeout(CLOSE_WAIT, self.send.stopped()).await;
        }
        let (code, reason): (u32, &[u8]) = match finish {
            Finish::Stopped => (close_code::NORMAL, b"stopped by the end user"),
            Finish::Ended(_) => (close_code::NORMAL, b"session ended"),
            Finish::ConnectionLost if self.protocol_error => (close_code::PROTOCOL, b"protocol"),
            Finish::ConnectionLost => (close_code::NORMAL, b"connection lost"),
        };
        self.connection.close(code.into(), reason);
        if let Some(injector) = injector {
            injector.shut_down(CLOSE_WAIT).await;
        }
        for draining in self.draining.drain(..) {
            if let Ok(Ok(stats)) = tokio::time::timeout(CLOSE_WAIT, draining).await {
                self.stats.merge(&stats);
            }
        }
        (finish, self.stats, self.session)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
