//! The agent's session state machine, after registration: waiting, asking, granted, ended.
//!
//! Contract:
//! - Sans-IO: fed with inputs and `now`, it never reads the clock, touches a socket, a thread
//!   or the terminal. After every `handle_*` call, drain [`Session::poll_output`] and wake up
//!   at [`Session::poll_timeout`] to call [`Session::handle_timeout`].
//! - Never asks to stream before the end user granted access: [`Output::StartStreaming`] is
//!   emitted only while a [`Grant`] is held and the gateway asked for the stream, and the
//!   [`ViewGrant`] the stream needs is only reachable through [`Session::view_grant`].
//! - Input is refused (`NoControl`) unless the current grant carries a [`ControlGrant`].
//! - When control ends (denied upgrade, a new grant replacing it, end, stop, lost
//!   connection) or a viewer leaves, it emits [`Output::ReleaseInput`] so no key or button
//!   stays held; input still queued from a viewer that left is refused.
//!
//! - A lost connection leaves the session *away*, holding the grant in force (an open
//!   prompt is dropped). Registered again, the grant comes back only when the gateway says
//!   the comeback kept it; otherwise the session waits for a new request. Nothing streams
//!   or is injected while away.
//!
//! States: `WaitingForTechnician -> Prompting -> Granted | Denied`, `Away` after a lost
//! connection, and `Ended` from any of them.
//! A second request while a prompt is open is refused (so a yes typed for one technician can
//! never land on another's request); a request while granted opens a new prompt and the
//! current grant stays in force until the answer, which replaces it on a yes.

use crate::consent::{Answer, Choice, ControlGrant, Grant, Line, Prompt, ViewGrant, parse_line};
use crate::notice::{Notice, sanitize};
use sos_transport::wire::{
    ConsentDecision, EndReason, FromAgent, InputEvent, InputOutcome, ToAgent,
};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How many departed viewers are remembered (their queued input is refused).
const DEPARTED_MEMORY: usize = 32;

/// Settings of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// How long a prompt waits for an answer before it counts as no.
    pub consent_timeout: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            consent_timeout: Duration::from_secs(60),
        }
    }
}

/// Something the IO shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a message on the control stream.
    Send(FromAgent),
    /// Show a notice to the end user.
    Show(Notice),
    /// Start capturing and streaming (take the grant from [`Session::view_grant`]).
    StartStreaming,
    /// Stop capturing and streaming.
    StopStreaming,
    /// Make the next frame a keyframe.
    Keyframe,
    /// Release every key and mouse button the technician holds.
    ReleaseInput,
    /// The session is over: close the connection and exit.
    Finish(Finish),
}

/// How a session finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The end user stopped it (`FromAgent::Stopped` was queued first).
    Stopped,
    /// The gateway ended it.
    Ended(EndReason),
    /// The connection to the gateway was lost.
    ConnectionLost,
}

/// Observable state, for tests and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Registered, nobody asked yet.
    WaitingForTechnician,
    /// A question is on screen.
    Prompting {
        /// Request being answered.
        request_id: u64,
        /// When silence becomes a deny.
        deadline: Instant,
    },
    /// Access granted.
    Granted {
        /// Whether input is allowed.
        control: bool,
    },
    /// The last request was denied or timed out; another may come.
    Denied,
    /// The connection is lost; the app tries to come back.
    Away {
        /// Whether a grant waits to be kept.
        granted: bool,
    },
    /// Over.
    Ended,
}

/// What [`Session::handle_message`] left for the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Fully handled; drain the outputs.
    Done,
    /// An input event: ask [`Session::input_verdict`] and inject or reply.
    Input {
        /// Viewer connection id to echo.
        viewer: u32,
        /// Sequence number to echo.
        seq: u64,
        /// The event.
        event: InputEvent,
    },
    /// Share another monitor: switch the capture, then answer with what is shared.
    ShareMonitor {
        /// Monitor index.
        monitor: u32,
    },
}

/// Whether an input event may be injected now.
#[derive(Debug, PartialEq, Eq)]
pub enum InputVerdict<'a> {
    /// Inject it with this grant.
    Inject(&'a ControlGrant),
    /// Refuse it with this outcome.
    Refuse(InputOutcome),
}

enum Phase {
    Waiting {
        denied: bool,
    },
    Prompting {
        prompt: Prompt,
        current: Option<Grant>,
    },
    Granted(Grant),
    Away {
        grant: Option<Grant>,
        since: Instant,
    },
    Ended,
}

/// The session after registration. See the module documentation for the contract.
pub struct Session {
    config: SessionConfig,
    phase: Phase,
    stream_requested: bool,
    streaming: bool,
    outputs: VecDeque<Output>,
    /// Viewer connections that left, most recent last (bounded by [`DEPARTED_MEMORY`]).
    departed: VecDeque<u32>,
    /// The end user paused the technician's control (until resumed or a new grant).
    paused: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state())
            .field("stream_requested", &self.stream_requested)
            .field("streaming", &self.streaming)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that just registered; queues the "Waiting" notice.
    pub fn new(config: SessionConfig) -> Self {
        let mut session = Self {
            config,
            phase: Phase::Waiting { denied: false },
            stream_requested: false,
            streaming: false,
            outputs: VecDeque::new(),
            departed: VecDeque::new(),
            paused: false,
        };
        session.outputs.push_back(Output::Show(Notice::Waiting));
        session
    }

    /// Feeds one message from the gateway.
    pub fn handle_message(&mut self, message: ToAgent, now: Instant) -> Handled {
        match message {
            ToAgent::ConsentRequest {
                request_id,
                technician,
                organisation,
                control,
            } => self.on_request(request_id, &technician, &organisation, control, now),
            ToAgent::StartStream => {
                self.stream_requested = true;
                self.update_streaming();
            }
            ToAgent::StopStream => {
                self.stream_requested = false;
                self.update_streaming();
            }
            ToAgent::KeyframeRequest => {
                if self.streaming {
                    self.outputs.push_back(Output::Keyframe);
                }
            }
            ToAgent::Input { viewer, seq, event } => {
                return Handled::Input { viewer, seq, event };
            }
            ToAgent::End(reason) => self.finish(Finish::Ended(reason)),
            ToAgent::ViewerLeft { viewer } => self.on_viewer_left(viewer),
            ToAgent::ControlPassed => {
                if self.grant().and_then(Grant::control).is_some() {
                    self.outputs.push_back(Output::ReleaseInput);
                }
            }
            ToAgent::ShareMonitor { monitor } => return Handled::ShareMonitor { monitor },
            ToAgent::Registered { .. } | ToAgent::Refused(_) => {
                tracing::warn!("ignoring a registration message in a registered session");
            }
        }
        Handled::Done
    }

    /// Feeds one line the end user typed at `now`. A line typed after the prompt's deadline
    /// does not answer it: the prompt times out first.
    pub fn handle_line(&mut self, line: &str, now: Instant) {
        self.handle_timeout(now);
        let line = parse_line(line);
        if matches!(self.phase, Phase::Prompting { .. }) {
            match line {
                Line::Yes => self.answer(Answer::Allow),
                Line::Stop => self.handle_stop(),
                Line::Empty | Line::Other => self.answer(Answer::Refuse),
            }
            return;
        }
        match line {
            Line::Stop => self.handle_stop(),
            Line::Empty => {}
            Line::Yes | Line::Other => {
                if !matches!(self.phase, Phase::Ended) {
                    self.outputs.push_back(Output::Show(Notice::StopHint));
                }
            }
        }
    }

    /// The end user clicked `choice` in the window showing request `request_id` at `now`.
    /// A click for a request that is no longer open (answered, timed out, replaced) answers
    /// nothing; a click after the deadline does not answer it either.
    pub fn handle_choice(&mut self, request_id: u64, choice: Choice, now: Instant) {
        self.handle_timeout(now);
        match &self.phase {
            Phase::Prompting { prompt, .. } if prompt.request_id == request_id => {
                self.answer(choice.into());
            }
            _ => tracing::debug!(request_id, "a click for a request no longer open"),
        }
    }

    /// The end user pauses (`true`) or resumes (`false`) the technician's control. While
    /// paused every input event is refused and nothing stays held.
    pub fn handle_pause(&mut self, paused: bool) {
        if self.paused == paused || matches!(self.phase, Phase::Ended) {
            return;
        }
        self.paused = paused;
        let has_control = self.grant().and_then(Grant::control).is_some();
        if paused && has_control {
            self.outputs.push_back(Output::ReleaseInput);
        }
        self.show(if paused {
            Notice::ControlPaused
        } else {
            Notice::ControlResumed
        });
    }

    /// Whether the end user paused the technician's control.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// The end user wants to stop (typed `stop`, Ctrl-C, SIGTERM). An open prompt is denied.
    pub fn handle_stop(&mut self) {
        if matches!(self.phase, Phase::Prompting { .. }) {
            self.answer_quietly(Answer::Refuse);
        }
        self.finish(Finish::Stopped);
    }

    /// Advances time: an open prompt past its deadline counts as no.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Prompting { prompt, .. } = &self.phase
            && now >= prompt.deadline
        {
            self.answer(Answer::Silence);
        }
    }

    /// The connection to the gateway is gone at `now`: the session is away, holding the
    /// grant in force (an open prompt is dropped; its technician can ask again).
    pub fn handle_connection_lost(&mut self, now: Instant) {
        let grant = match std::mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Granted(grant) => Some(grant),
            Phase::Prompting { current, .. } => current,
            Phase::Waiting { .. } => None,
            away @ Phase::Away { .. } => {
                self.phase = away;
                return;
            }
            Phase::Ended => return,
        };
        let had_control = grant.as_ref().and_then(Grant::control).is_some();
        self.phase = Phase::Away { grant, since: now };
        self.stream_requested = false;
        self.update_streaming();
        if had_control {
            self.outputs.push_back(Output::ReleaseInput);
        }
        self.show(Notice::ConnectionLost);
        self.outputs
            .push_back(Output::Finish(Finish::ConnectionLost));
    }

    /// Whether coming back at `now` may offer to keep the grant: one is held and the
    /// connection was lost less than `window` ago.
    pub fn may_keep_grant(&self, now: Instant, window: Duration) -> bool {
        match &self.phase {
            Phase::Away {
                grant: Some(_),
                since,
            } => now.saturating_duration_since(*since) < window,
            _ => false,
        }
    }

    /// Registered again after a loss (or after the gateway ended the session by shutting
    /// down). With `kept` (the gateway kept the grant this app offered to keep) the grant
    /// is in force again; otherwise it is gone and the session waits for a new request.
    pub fn handle_registered(&mut self, kept: bool) {
        let grant = match std::mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Away { grant, .. } => grant,
            _ => None,
        };
        self.stream_requested = false;
        self.update_streaming();
        match grant {
            Some(grant) if kept => {
                self.show(Notice::AccessKept {
                    technician: grant.technician().to_string(),
                    control: grant.control().is_some(),
                });
                self.phase = Phase::Granted(grant);
                if self.paused {
                    self.show(Notice::ControlPaused);
                }
            }
            _ => {
                self.paused = false;
                self.phase = Phase::Waiting { denied: false };
                self.show(Notice::Waiting);
            }
        }
    }

    /// When [`Session::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Prompting { prompt, .. } => Some(prompt.deadline),
            _ => None,
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The right to stream, while access is granted.
    pub fn view_grant(&self) -> Option<&ViewGrant> {
        self.grant().map(Grant::view)
    }

    /// Whether an input event from `viewer` may be injected now.
    pub fn input_verdict(&self, viewer: u32) -> InputVerdict<'_> {
        if self.paused || self.departed.contains(&viewer) {
            return InputVerdict::Refuse(InputOutcome::NoControl);
        }
        match self.grant().and_then(Grant::control) {
            Some(control) => InputVerdict::Inject(control),
            None => InputVerdict::Refuse(InputOutcome::NoControl),
        }
    }

    /// Whether the shell should be streaming now.
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// The observable state.
    pub fn state(&self) -> State {
        match &self.phase {
            Phase::Waiting { denied: false } => State::WaitingForTechnician,
            Phase::Waiting { denied: true } => State::Denied,
            Phase::Prompting { prompt, .. } => State::Prompting {
                request_id: prompt.request_id,
                deadline: prompt.deadline,
            },
            Phase::Granted(grant) => State::Granted {
                control: grant.control().is_some(),
            },
            Phase::Away { grant, .. } => State::Away {
                granted: grant.is_some(),
            },
            Phase::Ended => State::Ended,
        }
    }

    fn grant(&self) -> Option<&Grant> {
        match &self.phase {
            Phase::Granted(grant) => Some(grant),
            Phase::Prompting {
                current: Some(grant),
                ..
            } => Some(grant),
            _ => None,
        }
    }

    fn on_viewer_left(&mut self, viewer: u32) {
        if !self.departed.contains(&viewer) {
            if self.departed.len() == DEPARTED_MEMORY {
                self.departed.pop_front();
            }
            self.departed.push_back(viewer);
        }
        if self.grant().and_then(Grant::control).is_some() {
            self.outputs.push_back(Output::ReleaseInput);
        }
    }

    fn on_request(
        &mut self,
        request_id: u64,
        technician: &str,
        organisation: &str,
        control: bool,
        now: Instant,
    ) {
        let technician = sanitize(technician);
        let organisation = sanitize(organisation);
        let current = match std::mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Waiting { .. } => None,
            Phase::Granted(grant) => Some(grant),
            away @ Phase::Away { .. } => {
                self.phase = away;
                return;
            }
            Phase::Ended => return,
            Phase::Prompting { prompt, current } => {
                let duplicate = prompt.request_id == request_id;
                self.phase = Phase::Prompting { prompt, current };
                if !duplicate {
                    self.send(FromAgent::ConsentReply {
                        request_id,
                        decision: ConsentDecision::Deny,
                    });
                    self.show(Notice::ConcurrentRequestRefused { technician });
                }
                return;
            }
        };
        self.show(Notice::ConsentPrompt {
            request_id,
            technician: technician.clone(),
            organisation: organisation.clone(),
            control,
            timeout_secs: self.config.consent_timeout.as_secs(),
        });
        self.phase = Phase::Prompting {
            prompt: Prompt {
                request_id,
                technician,
                organisation,
                control,
                deadline: now + self.config.consent_timeout,
            },
            current,
        };
    }

    fn answer(&mut self, answer: Answer) {
        if let Some((technician, control)) = self.answer_quietly(answer) {
            self.show(Notice::Granted {
                technician,
                control,
            });
        } else if answer == Answer::Silence {
            self.show(Notice::TimedOut {
                timeout_secs: self.config.consent_timeout.as_secs(),
            });
        } else {
            self.show(Notice::Denied);
        }
        self.update_streaming();
    }

    /// Answers the open prompt and sends the reply; returns who got what on a grant.
    fn answer_quietly(&mut self, answer: Answer) -> Option<(String, bool)> {
        let Phase::Prompting { prompt, current } = std::mem::replace(&mut self.phase, Phase::Ended)
        else {
            return None;
        };
        let request_id = prompt.request_id;
        let had_control = current.as_ref().and_then(Grant::control).is_some();
        let outcome = prompt.answer(answer);
        self.send(FromAgent::ConsentReply {
            request_id,
            decision: outcome.decision,
        });
        // A new grant starts afresh: what the previous one held is let go.
        let replaced = outcome.grant.is_some();
        if replaced {
            self.paused = false;
        }
        let (granted, next) = match (outcome.grant, current) {
            (Some(grant), _) => {
                let who = (grant.technician().to_string(), grant.control().is_some());
                (Some(who), Phase::Granted(grant))
            }
            (None, Some(previous)) => (None, Phase::Granted(previous)),
            (None, None) => (None, Phase::Waiting { denied: true }),
        };
        self.phase = next;
        let has_control = self.grant().and_then(Grant::control).is_some();
        if had_control && (replaced || !has_control) {
            self.outputs.push_back(Output::ReleaseInput);
        }
        granted
    }

    fn finish(&mut self, finish: Finish) {
        if matches!(self.phase, Phase::Ended) {
            return;
        }
        let had_control = self.grant().and_then(Grant::control).is_some();
        self.phase = Phase::Ended;
        self.update_streaming();
        if had_control {
            self.outputs.push_back(Output::ReleaseInput);
        }
        match finish {
            Finish::Stopped => {
                self.send(FromAgent::Stopped);
                self.show(Notice::StoppedByUser);
            }
            Finish::Ended(reason) => self.show(Notice::Ended(reason)),
            Finish::ConnectionLost => self.show(Notice::ConnectionLost),
        }
        self.outputs.push_back(Output::Finish(finish));
    }

    fn update_streaming(&mut self) {
        let should = self.stream_requested && self.grant().is_some();
        if should != self.streaming {
            self.streaming = should;
            self.outputs.push_back(if should {
                Output::StartStreaming
            } else {
                Output::StopStreaming
            });
        }
    }

    fn send(&mut self, message: FromAgent) {
        self.outputs.push_back(Output::Send(message));
    }

    fn show(&mut self, notice: Notice) {
        self.outputs.push_back(Output::Show(notice));
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "session_input_tests.rs"]
mod input_tests;
