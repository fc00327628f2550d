//! Ctrl-C and termination requests, as a value that every wait polls.
//!
//! SIGINT, SIGTERM and SIGHUP never kill xtask in the middle of a step: they only record
//! which signal came. Wait loops call [`Shutdown::check`], return [`Interrupted`], and the
//! process guards then stop the children on the way out. No global state: the handle is
//! passed down.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGKILL, SIGTERM};

/// A signal xtask reacts to or sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, what Ctrl-C sends.
    Interrupt,
    /// SIGTERM, the polite request to stop.
    Terminate,
    /// SIGHUP, the terminal went away.
    Hangup,
    /// SIGKILL, for a child that ignored SIGTERM (xtask cannot receive it).
    Kill,
}

impl Signal {
    /// The signals that only set the flag.
    const HANDLED: [Signal; 3] = [Signal::Interrupt, Signal::Terminate, Signal::Hangup];

    /// The name `kill -s` takes.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "INT",
            Signal::Terminate => "TERM",
            Signal::Hangup => "HUP",
            Signal::Kill => "KILL",
        }
    }

    fn number(self) -> i32 {
        match self {
            Signal::Interrupt => SIGINT,
            Signal::Terminate => SIGTERM,
            Signal::Hangup => SIGHUP,
            Signal::Kill => SIGKILL,
        }
    }

    fn from_flag(flag: usize) -> Option<Signal> {
        Signal::HANDLED
            .into_iter()
            .find(|signal| flag == signal.number() as usize)
    }
}

/// Records the last termination signal received; cheap to clone.
#[derive(Clone, Debug)]
pub struct Shutdown {
    received: Arc<AtomicUsize>,
}

impl Shutdown {
    /// Replaces the default "die at once" action of SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> Result<Self> {
        let received = Arc::new(AtomicUsize::new(0));
        for signal in Signal::HANDLED {
            signal_hook::flag::register_usize(
                signal.number(),
                Arc::clone(&received),
                signal.number() as usize,
            )
            .with_context(|| format!("could not install the SIG{} handler", signal.name()))?;
        }
        Ok(Self { received })
    }

    /// The signal received and not yet taken, if any.
    pub fn requested(&self) -> Option<Signal> {
        Signal::from_flag(self.received.load(Ordering::SeqCst))
    }

    /// Takes the pending signal, so that the next one can be told apart.
    pub fn take(&self) -> Option<Signal> {
        Signal::from_flag(self.received.swap(0, Ordering::SeqCst))
    }

    /// Fails with [`Interrupted`] once a signal came.
    pub fn check(&self) -> Result<()> {
        match self.requested() {
            Some(signal) => Err(Interrupted(signal).into()),
            None => Ok(()),
        }
    }
}

/// The run was stopped by a signal; main exits with 130 for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Interrupted(pub Signal);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interrupted by SIG{}; stopped everything xtask had started",
            self.0.name()
        )
    }
}

impl std::error::Error for Interrupted {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_back_to_signals() {
        for signal in Signal::HANDLED {
            assert_eq!(Signal::from_flag(signal.number() as usize), Some(signal));
        }
        assert_eq!(Signal::from_flag(0), None);
    }
}
