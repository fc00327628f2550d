//! Watching a child's standard output while passing it on.
//!
//! A pump thread reads the pipe, copies every byte to a sink (a log file, or our own stdout
//! line by line) and queues the lines for [`Watch::next_match`]. The unfinished last line
//! is matched too, because prompts such as `Allow? [y/N] ` end without a newline. Memory
//! is bounded: at most [`MAX_QUEUED`] lines of [`MAX_LINE`] bytes wait to be read.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

/// Lines kept for a reader that is not reading (the oldest are dropped).
const MAX_QUEUED: usize = 10_000;
/// Longer lines are cut into pieces of this size.
const MAX_LINE: usize = 64 * 1024;

/// Where the watched output goes besides the queue.
pub enum Sink {
    /// Our own stdout, each complete line behind a prefix (possibly empty).
    Terminal {
        /// Written before each line.
        prefix: String,
    },
    /// A log file, byte for byte.
    File(File),
}

/// The reading side of a watched output.
#[derive(Clone)]
pub struct Watch {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    lines: VecDeque<String>,
    partial: Vec<u8>,
    /// The unfinished line already matched: do not report it again once it ends.
    partial_taken: bool,
    closed: bool,
}

impl State {
    fn finish_line(&mut self) -> String {
        let bytes = std::mem::take(&mut self.partial);
        let taken = std::mem::replace(&mut self.partial_taken, false);
        let mut line = String::from_utf8_lossy(&bytes).into_owned();
        if line.ends_with('\r') {
            line.pop();
        }
        if !taken {
            if self.lines.len() == MAX_QUEUED {
                self.lines.pop_front();
            }
            self.lines.push_back(line.clone());
        }
        line
    }
}

impl Watch {
    /// Starts the pump thread for `reader`.
    pub fn spawn(name: &str, reader: impl Read + Send + 'static, sink: Sink) -> Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let pump_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || pump(reader, sink, &pump_shared))
            .with_context(|| format!("could not start the thread reading {name}'s output"))?;
        Ok(Self { shared })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panicking pump leaves a consistent queue behind: keep using it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Consumes queued lines up to and including the first one `matches` accepts; then
    /// tries the unfinished last line.
    pub fn next_match(&self, matches: &mut impl FnMut(&str) -> bool) -> Option<String> {
        let mut state = self.state();
        while let Some(line) = state.lines.pop_front() {
            if matches(&line) {
                return Some(line);
            }
        }
        if !state.partial_taken && !state.partial.is_empty() {
            let partial = String::from_utf8_lossy(&state.partial).into_owned();
            if matches(&partial) {
                state.partial_taken = true;
                return Some(partial);
            }
        }
        None
    }

    /// Whether the pipe reached its end (the child closed it or exited).
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// Sleeps until new output, the end of the pipe, or `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let state = self.state();
        if state.closed || !state.lines.is_empty() {
            return;
        }
        // Whatever woke us, the caller looks again.
        let _wake = self
            .shared
            .changed
            .wait_timeout(state, timeout)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Everything not consumed yet, as text.
    pub fn drain(&self) -> String {
        let mut state = self.state();
        let mut text: Vec<String> = state.lines.drain(..).collect();
        if !state.partial_taken && !state.partial.is_empty() {
            text.push(String::from_utf8_lossy(&state.partial).into_owned());
        }
        text.join("\n")
    }
}

fn pump(mut reader: impl Read, mut sink: Sink, shared: &Shared) {
    let mut buffer = [0_u8; 8192];
    loop {
        let count = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buffer[..count];
        let mut finished = Vec::new();
        {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            for &byte in chunk {
                if byte == b'\n' {
                    finished.push(state.finish_line());
                } else {
                    state.partial.push(byte);
                    if state.partial.len() >= MAX_LINE {
                        finished.push(state.finish_line());
                    }
                }
            }
        }
        shared.changed.notify_all();
        // A sink that fails (full disk, closed terminal) must not stop the child.
        let _ignored = match &mut sink {
            Sink::File(file) => file.write_all(chunk),
            Sink::Terminal { prefix } => write_lines(prefix, &finished),
        };
    }
    let last = {
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let last = if state.partial.is_empty() {
            None
        } else {
            Some(state.finish_line())
        };
        state.closed = true;
        last
    };
    shared.changed.notify_all();
    if let (Sink::Terminal { prefix }, Some(line)) = (&sink, last) {
        let _ignored = write_lines(prefix, &[line]);
    }
}

fn write_lines(prefix: &str, lines: &[String]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    for line in lines {
        writeln!(out, "{prefix}{line}")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch_of(bytes: &'static [u8]) -> Watch {
        let watch = Watch::spawn(
            "test",
            bytes,
            Sink::Terminal {
                prefix: String::from("test | "),
            },
        )
        .unwrap();
        while !watch.is_closed() {
            watch.wait(Duration::from_millis(10));
        }
        watch
    }

    #[test]
    fn finds_lines_in_order_and_consumes_them() {
        let watch = watch_of(b"one\r\nWaiting for technician\nthree\n");
        let mut waiting = |line: &str| line.contains("Waiting");
        assert_eq!(
            watch.next_match(&mut waiting).as_deref(),
            Some("Waiting for technician")
        );
        assert_eq!(watch.drain(), "three");
        assert_eq!(watch.next_match(&mut waiting), None);
    }

    #[test]
    fn matches_a_prompt_without_newline_once() {
        let watch = watch_of(b"Waiting\nAllow access? [y/N] ");
        let mut prompt = |line: &str| line.contains("[y/N]");
        assert_eq!(
            watch.next_match(&mut prompt).as_deref(),
            Some("Allow access? [y/N] ")
        );
        assert_eq!(watch.next_match(&mut prompt), None);
    }
}
