//! The consent step: one question to the end user, one answer, and the grant tokens.
//!
//! Contract:
//! - [`ViewGrant`] and [`ControlGrant`] can be created only here, by [`Prompt::answer`] with a
//!   [`Answer::Allow`]. Streaming needs a `ViewGrant`, input injection needs a
//!   `ControlGrant`, so no pixel leaves and no event is injected without the end user's yes.
//! - A prompt is consumed by its answer: it cannot be answered twice.
//! - Only an explicit `y`/`yes` allows; anything else, silence included, denies.
//! - Pure: no IO and no clock reads; the deadline is computed by the caller from its `now`.

use sos_transport::wire::ConsentDecision;
use std::time::Instant;

/// Proof that the end user allowed a technician to see the screen.
///
/// Not `Clone`, not constructible outside this module: holding one (or a reference to the one
/// the session keeps) is the only way to start streaming.
#[derive(Debug, PartialEq, Eq)]
pub struct ViewGrant {
    request_id: u64,
}

impl ViewGrant {
    /// Id of the consent request this grant answered.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }
}

/// Proof that the end user allowed a technician to use the mouse and keyboard.
///
/// Not `Clone`, not constructible outside this module: input injection takes a reference to
/// one, so view-only grants and ungranted sessions cannot inject.
#[derive(Debug, PartialEq, Eq)]
pub struct ControlGrant {
    request_id: u64,
}

impl ControlGrant {
    /// Id of the consent request this grant answered.
    pub fn request_id(&self) -> u64 {
        self.request_id
    }
}

/// What the end user allowed, for whom.
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    technician: String,
    view: ViewGrant,
    control: Option<ControlGrant>,
}

impl Grant {
    /// Display name of the technician who asked.
    pub fn technician(&self) -> &str {
        &self.technician
    }
    /// The right to stream the screen.
    pub fn view(&self) -> &ViewGrant {
        &self.view
    }
    /// The right to inject input, when the end user allowed control.
    pub fn control(&self) -> Option<&ControlGrant> {
        self.control.as_ref()
    }
}

/// A pending question to the end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Id echoed in the reply.
    pub request_id: u64,
    /// Technician's display name (already sanitised for the terminal).
    pub technician: String,
    /// Technician's organisation (already sanitised for the terminal).
    pub organisation: String,
    /// Whether control (not only viewing) is asked for.
    pub control: bool,
    /// When silence turns into a deny.
    pub deadline: Instant,
}

/// The end user's answer to a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Explicit yes, to everything asked.
    Allow,
    /// Yes to seeing the screen, no to control.
    AllowViewOnly,
    /// Anything but yes.
    Refuse,
    /// No answer before the deadline.
    Silence,
}

/// What an answered prompt produced: the reply for the gateway and, on a yes, the grant.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Reply to send as `FromAgent::ConsentReply`.
    pub decision: ConsentDecision,
    /// The grant, only for [`Answer::Allow`].
    pub grant: Option<Grant>,
}

impl Prompt {
    /// Answers the prompt; the only place grant tokens are created.
    pub fn answer(self, answer: Answer) -> Outcome {
        match answer {
            Answer::Allow | Answer::AllowViewOnly => {
                let control = self.control && answer == Answer::Allow;
                Outcome {
                    decision: ConsentDecision::Grant { control },
                    grant: Some(Grant {
                        technician: self.technician,
                        view: ViewGrant {
                            request_id: self.request_id,
                        },
                        control: control.then_some(ControlGrant {
                            request_id: self.request_id,
                        }),
                    }),
                }
            }
            Answer::Refuse => Outcome {
                decision: ConsentDecision::Deny,
                grant: None,
            },
            Answer::Silence => Outcome {
                decision: ConsentDecision::TimedOut,
                grant: None,
            },
        }
    }
}

/// A button the end user clicked in the permission window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Allow everything asked.
    Allow,
    /// Allow seeing the screen only.
    AllowViewOnly,
    /// Deny.
    Deny,
}

impl From<Choice> for Answer {
    fn from(choice: Choice) -> Self {
        match choice {
            Choice::Allow => Answer::Allow,
            Choice::AllowViewOnly => Answer::AllowViewOnly,
            Choice::Deny => Answer::Refuse,
        }
    }
}

/// What a line typed by the end user means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// `y` or `yes` (any case, surrounding spaces ignored).
    Yes,
    /// `stop`: end the session.
    Stop,
    /// Nothing typed (just Enter).
    Empty,
    /// Anything else.
    Other,
}

/// Classifies one line of terminal input.
pub fn parse_line(line: &str) -> Line {
    let word = line.trim();
    if word.is_empty() {
        Line::Empty
    } else if word.eq_ignore_ascii_case("y") || word.eq_ignore_ascii_case("yes") {
        Line::Yes
    } else if word.eq_ignore_ascii_case("stop") {
        Line::Stop
    } else {
        Line::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(control: bool) -> Prompt {
        Prompt {
            request_id: 7,
            technician: "Ann".into(),
            organisation: "Acme".into(),
            control,
            deadline: Instant::now(),
        }
    }

    #[test]
    fn only_yes_allows() {
        for yes in ["y", "Y", "yes", " YES ", "Yes\r"] {
            assert_eq!(parse_line(yes), Line::Yes, "{yes:?}");
        }
        for other in ["n", "no", "yess", "ye", "y y", "oui", "1"] {
            assert_eq!(parse_line(other), Line::Other, "{other:?}");
        }
        assert_eq!(parse_line("  "), Line::Empty);
        assert_eq!(parse_line("STOP"), Line::Stop);
    }

    #[test]
    fn allow_with_control_creates_both_tokens() {
        let outcome = prompt(true).answer(Answer::Allow);
        assert_eq!(outcome.decision, ConsentDecision::Grant { control: true });
        let grant = outcome.grant.unwrap();
        assert_eq!(grant.view().request_id(), 7);
        assert_eq!(grant.control().map(ControlGrant::request_id), Some(7));
        assert_eq!(grant.technician(), "Ann");
    }

    #[test]
    fn allow_view_only_has_no_control_token() {
        let outcome = prompt(false).answer(Answer::Allow);
        assert_eq!(outcome.decision, ConsentDecision::Grant { control: false });
        assert!(outcome.grant.unwrap().control().is_none());
    }

    #[test]
    fn view_only_answer_to_a_control_request_has_no_control_token() {
        let outcome = prompt(true).answer(Answer::AllowViewOnly);
        assert_eq!(outcome.decision, ConsentDecision::Grant { control: false });
        let grant = outcome.grant.unwrap();
        assert_eq!(grant.view().request_id(), 7);
        assert!(grant.control().is_none());
        assert_eq!(Answer::from(Choice::Deny), Answer::Refuse);
    }

    #[test]
    fn refusal_and_silence_grant_nothing() {
        let refused = prompt(true).answer(Answer::Refuse);
        assert_eq!(refused.decision, ConsentDecision::Deny);
        assert!(refused.grant.is_none());
        let silent = prompt(true).answer(Answer::Silence);
        assert_eq!(silent.decision, ConsentDecision::TimedOut);
        assert!(silent.grant.is_none());
    }
}
