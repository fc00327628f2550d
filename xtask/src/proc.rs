//! Child processes that never outlive xtask's interest in them.
//!
//! [`Process`] owns a spawned child in its own process group and stops it on drop (SIGTERM
//! to the group, SIGKILL after a grace period), so every exit path, errors and Ctrl-C
//! included, tears down what was started. [`run_step`] and [`run_to_end`] run a command to
//! completion while still reacting to Ctrl-C. Signals are sent with the shell's `kill`
//! builtin: no `unsafe`, no extra crate.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::output::{Sink, Watch};
use crate::report;
use crate::signals::{Shutdown, Signal};

/// How often wait loops look at the child, its output and the shutdown flag.
pub const POLL: Duration = Duration::from_millis(100);
/// How long a child gets to stop after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// Lines of a log shown in an error.
const TAIL_LINES: usize = 25;

/// The program a command runs, for messages.
fn program(cmd: &Command) -> String {
    Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_else(|| OsStr::new("?"))
        .to_string_lossy()
        .into_owned()
}

/// The command line, for messages.
pub fn describe(cmd: &Command) -> String {
    std::iter::once(program(cmd))
        .chain(cmd.get_args().map(|arg| arg.to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn spawn_error(cmd: &Command, error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "`{}` not found: {}; build it or run `cargo xtask setup`",
            program(cmd),
            cmd.get_program().to_string_lossy()
        )
    } else {
        anyhow::Error::new(error).context(format!("could not start `{}`", describe(cmd)))
    }
}

/// Sends `signal` to one process, or to a whole process group, with `kill -s`.
fn send_signal(pid: u32, group: bool, signal: Signal) -> Result<()> {
    let target = if group {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let status = Command::new("sh")
        .args(["-c", r#"kill -s "$1" -- "$2" 2>/dev/null"#, "sh"])
        .args([signal.name(), target.as_str()])
        .stdin(Stdio::null())
        .status()
        .context("could not run `sh -c kill` to signal a child")?;
    if !status.success() {
        bail!("could not send SIG{} to process {target}", signal.name());
    }
    Ok(())
}

/// Where a child's stdout and stderr go.
#[derive(Clone, Debug)]
pub enum Output {
    /// Our own terminal.
    Inherit,
    /// A log file (created or truncated), shown in errors.
    Log(PathBuf),
}

/// How to start a [`Process`].
pub struct Launch {
    name: String,
    command: Command,
    output: Output,
    watch_stdout: bool,
    pipe_stdin: bool,
}

impl Launch {
    /// A child called `name` in messages.
    pub fn new(name: &str, command: Command) -> Self {
        Self {
            name: name.to_owned(),
            command,
            output: Output::Inherit,
            watch_stdout: false,
            pipe_stdin: false,
        }
    }

    /// Sends stdout and stderr there.
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Keeps stdout readable with [`Process::wait_for_output`] (still passed on).
    pub fn watch_stdout(mut self) -> Self {
        self.watch_stdout = true;
        self
    }

    /// Gives the child a stdin pipe for [`Process::send`]; otherwise stdin is /dev/null.
    pub fn pipe_stdin(mut self) -> Self {
        self.pipe_stdin = true;
        self
    }

    /// Starts the child in its own process group, so that a terminal's Ctrl-C reaches
    /// only xtask, which then stops the children in order.
    pub fn spawn(mut self) -> Result<Process> {
        let cmd = &mut self.command;
        cmd.process_group(0);
        cmd.stdin(if self.pipe_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let log_file = match &self.output {
            Output::Inherit => None,
            Output::Log(path) => {
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir)
                        .with_context(|| format!("could not create {}", dir.display()))?;
                }
                Some(
                    File::create(path)
                        .with_context(|| format!("could not create {}", path.display()))?,
                )
            }
        };
        let clone = |file: &File| {
            file.try_clone()
                .context("could not duplicate a log file handle")
        };
        match &log_file {
            Some(file) => {
                cmd.stderr(clone(file)?);
                cmd.stdout(if self.watch_stdout {
                    Stdio::piped()
                } else {
                    Stdio::from(clone(file)?)
                });
            }
            None => {
                cmd.stderr(Stdio::inherit());
                cmd.stdout(if self.watch_stdout {
                    Stdio::piped()
                } else {
                    Stdio::inherit()
                });
            }
        }
        let mut child = cmd.spawn().map_err(|error| spawn_error(cmd, error))?;
        let stdin = child.stdin.take();
        let stdout = match child.stdout.take() {
            Some(pipe) => {
                let sink = match log_file {
                    Some(file) => Sink::File(file),
                    None => Sink::Terminal {
                        prefix: String::new(),
                    },
                };
                Some(Watch::spawn(&self.name, pipe, sink)?)
            }
            None => None,
        };
        let log = match self.output {
            Output::Log(path) => Some(path),
            Output::Inherit => None,
        };
        Ok(Process {
            name: self.name,
            child,
            stdin,
            stdout,
            log,
        })
    }
}

/// A running child, stopped when dropped.
pub struct Process {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<Watch>,
    log: Option<PathBuf>,
}

impl Process {
    /// The child's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the child has exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("could not check whether {} is running", self.name))
    }

    /// Sends `signal` to the child's process group, unless it already exited.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        if self.try_wait()?.is_some() {
            return Ok(());
        }
        // Not reaped yet, so the id (and the group id, equal to it) cannot be reused.
        send_signal(self.child.id(), true, signal)
    }

    /// Waits for the next stdout line (or unfinished prompt) that `matches` accepts.
    pub fn wait_for_output(
        &mut self,
        what: &str,
        timeout: Duration,
        shutdown: &Shutdown,
        mut matches: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let Some(watch) = self.stdout.clone() else {
            bail!("internal: {}'s stdout is not watched", self.name);
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = watch.next_match(&mut matches) {
                return Ok(line);
            }
            shutdown.check()?;
            if watch.is_closed() {
                let status = self.wait_exit(Duration::from_secs(2), shutdown)?;
                let status = status.map_or_else(|| String::from("still running"), describe_exit);
                bail!(
                    "{} closed its output ({status}) before printing {what}{}",
                    self.name,
                    self.tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not print {what} within {}{}",
                    self.name,
                    report::duration(timeout),
                    self.tail()
                );
            }
            watch.wait(POLL);
        }
    }

    /// Writes `text` to the child's stdin.
    pub fn send(&mut self, text: &str) -> Result<()> {
        let Some(stdin) = self.stdin.as_mut() else {
            bail!("internal: {}'s stdin is not a pipe", self.name);
        };
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .with_context(|| format!("could not write to {}'s stdin", self.name))
    }

    /// Closes the child's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits up to `timeout` for the child to exit; `None` if it is still running.
    pub fn wait_exit(
        &mut self,
        timeout: Duration,
        shutdown: &Shutdown,
    ) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            shutdown.check()?;
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Everything the child printed on stdout and nobody consumed, once the pipe closed.
    pub fn take_stdout(&mut self) -> String {
        let Some(watch) = self.stdout.clone() else {
            return String::new();
        };
        // The pipe can outlive the child by a moment (or longer, held by a grandchild).
        let deadline = Instant::now() + Duration::from_secs(2);
        while !watch.is_closed() && Instant::now() < deadline {
            watch.wait(POLL);
        }
        watch.drain()
    }

    /// The last lines of the child's log, ready to append to an error message.
    pub fn tail(&self) -> String {
        let Some(path) = &self.log else {
            return String::new();
        };
        let text = fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        let shown = report::display_path(path);
        if lines.is_empty() {
            format!("\n  ({shown} is empty)")
        } else {
            format!(
                "\n  --- last lines of {shown} ---\n  {}",
                lines[start..].join("\n  ")
            )
        }
    }

    /// Stops the child: SIGTERM to its group, SIGKILL after the grace period.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        self.stdin = None;
        let id = self.child.id();
        if send_signal(id, true, Signal::Terminate).is_ok() {
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Some(status);
                }
                std::thread::sleep(POLL);
            }
        }
        // Kill the rest of the group too; the child itself last, through std.
        let _gone_already = send_signal(id, true, Signal::Kill);
        let _gone_already = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// "exit status 1", "killed by signal 9", for messages.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Runs `cmd` with our stdout and stderr (stdin /dev/null) and returns its exit status;
/// stops it and fails with `Interrupted` on Ctrl-C.
///
/// The child stays in our process group: a terminal's Ctrl-C reaches cargo directly, which
/// then stops its own compilers and tests.
pub fn run_step(cmd: &mut Command, shutdown: &Shutdown) -> Result<ExitStatus> {
    cmd.stdin(Stdio::null());
    let mut child = cmd.spawn().map_err(|error| spawn_error(cmd, error))?;
    loop {
        if let Some(status) = child
            .try_wait()
            .with_context(|| format!("could not wait for `{}`", describe(cmd)))?
        {
            return Ok(status);
        }
        if shutdown.requested().is_some() {
            let _gone_already = send_signal(child.id(), false, Signal::Terminate);
            let deadline = Instant::now() + GRACE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(POLL);
            }
            let _gone_already = child.kill();
            let _reaped = child.wait();
            shutdown.check()?;
        }
        std::thread::sleep(POLL);
    }
}

/// Runs a short-lived child to completion: feeds it `stdin`, waits up to `timeout`, and
/// returns its stdout. A failure says what ran and shows the end of its log.
pub fn run_to_end(
    name: &str,
    cmd: Command,
    stdin: Option<&str>,
    output: Output,
    timeout: Duration,
    shutdown: &Shutdown,
) -> Result<String> {
    let line = describe(&cmd);
    let mut launch = Launch::new(name, cmd).output(output).watch_stdout();
    if stdin.is_some() {
        launch = launch.pipe_stdin();
    }
    let mut process = launch.spawn()?;
    if let Some(text) = stdin {
        process.send(text)?;
        process.close_stdin();
    }
    let Some(status) = process.wait_exit(timeout, shutdown)? else {
        bail!(
            "`{line}` did not finish within {}{}",
            report::duration(timeout),
            process.tail()
        );
    };
    let stdout = process.take_stdout();
    if !status.success() {
        let shown = if stdout.trim().is_empty() {
            String::new()
        } else {
            format!("\n  its output: {}", stdout.trim())
        };
        bail!(
            "`{line}` failed ({}){shown}{}",
            describe_exit(status),
            process.tail()
        );
    }
    Ok(stdout)
}

/// The full path of `name` on PATH, like `command -v`.
pub fn which(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_process_is_stopped() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let process = Launch::new("sleep", cmd).spawn().unwrap();
        let id = process.child.id();
        drop(process);
        assert!(!Path::new(&format!("/proc/{id}")).exists());
    }

    #[test]
    fn run_to_end_feeds_stdin_and_returns_stdout() {
        let shutdown = Shutdown::install().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read x; echo got $x"]);
        let out = run_to_end(
            "sh",
            cmd,
            Some("hello\n"),
            Output::Inherit,
            Duration::from_secs(10),
            &shutdown,
        )
        .unwrap();
        assert_eq!(out, "got hello");
    }

    #[test]
    fn failures_name_the_command() {
        let shutdown = Shutdown::install().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let error = run_to_end(
            "sh",
            cmd,
            None,
            Output::Inherit,
            Duration::from_secs(10),
            &shutdown,
        )
        .unwrap_err();
        assert!(error.to_string().contains("exit status 3"), "{error}");
    }
}
