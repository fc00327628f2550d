//! `cargo xtask test` (and `ci`): every check and test, in order, stopping at the first
//! failure.
//!
//! The order puts the cheap checks first. The debug binaries are built before `cargo test`
//! because the system tests in tests/ run them from target/debug; those tests start their
//! own Xvfb, which therefore must be on PATH.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Args;

use crate::proc::{self, describe, describe_exit, run_step};
use crate::report;
use crate::setup;
use crate::signals::{Interrupted, Shutdown};
use crate::workspace::Workspace;

/// Options of `cargo xtask test`; by default everything runs.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Do not check or install the system packages first.
    #[arg(long)]
    pub skip_setup: bool,

    /// Skip `cargo clippy` (it runs by default).
    #[arg(long)]
    pub no_clippy: bool,

    /// Skip `cargo doc` (it runs by default).
    #[arg(long)]
    pub no_doc: bool,
}

/// One step: a cargo command, or the setup.
enum Action {
    Setup,
    Cargo {
        args: &'static [&'static str],
        env: &'static [(&'static str, &'static str)],
        /// What to do when it fails, besides reading the errors.
        hint: &'static str,
    },
}

struct Step {
    title: &'static str,
    action: Action,
}

fn plan(args: &TestArgs) -> Vec<Step> {
    let mut steps = Vec::new();
    if !args.skip_setup {
        steps.push(Step {
            title: "setup",
            action: Action::Setup,
        });
    }
    steps.push(Step {
        title: "format",
        action: Action::Cargo {
            args: &["fmt", "--all", "--", "--check"],
            env: &[],
            hint: "run `cargo fmt --all` to format the code",
        },
    });
    if !args.no_clippy {
        steps.push(Step {
            title: "clippy",
            action: Action::Cargo {
                args: &[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--locked",
                    "--",
                    "-D",
                    "warnings",
                ],
                env: &[],
                hint: "fix the lints above (warnings count as errors)",
            },
        });
    }
    if !args.no_doc {
        steps.push(Step {
            title: "rustdoc",
            action: Action::Cargo {
                args: &["doc", "--workspace", "--no-deps", "--locked"],
                env: &[("RUSTDOCFLAGS", "-Dwarnings")],
                hint: "fix the documentation warnings above",
            },
        });
    }
    steps.push(Step {
        title: "build binaries",
        action: Action::Cargo {
            args: &["build", "--workspace", "--bins", "--locked"],
            env: &[],
            hint: "fix the build errors above",
        },
    });
    steps.push(Step {
        title: "tests",
        action: Action::Cargo {
            args: &["test", "--workspace", "--locked"],
            env: &[],
            hint: "rerun one test with `cargo test -p <crate> <name>`",
        },
    });
    steps
}

/// Runs the plan; prints a header and the time of each step, then a summary.
pub fn run(workspace: &Workspace, args: &TestArgs, shutdown: &Shutdown) -> Result<()> {
    let steps = plan(args);
    let total = steps.len();
    let started = Instant::now();
    let mut times: Vec<(&str, Duration)> = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let number = index + 1;
        let step_started = Instant::now();
        match &step.action {
            Action::Setup => {
                report::header(&format!("[{number}/{total}] {}", setup::TITLE));
                setup::install(workspace, shutdown)?;
            }
            Action::Cargo { args, env, hint } => {
                let mut cmd = workspace.cargo();
                cmd.args(*args).envs(env.iter().copied());
                report::header(&format!(
                    "[{number}/{total}] {}: {}{}",
                    step.title,
                    env_prefix(env),
                    describe(&cmd)
                ));
                if args.first() == Some(&"test") {
                    system_test_tools()?;
                }
                cargo(&mut cmd, shutdown).map_err(|error| {
                    if error.downcast_ref::<Interrupted>().is_some() {
                        return error;
                    }
                    error.context(format!(
                        "step {number}/{total} `{}` failed after {}: {hint}, then rerun `cargo xtask test`",
                        step.title,
                        report::duration(step_started.elapsed())
                    ))
                })?;
            }
        }
        let elapsed = step_started.elapsed();
        report::note(&format!(
            "[{number}/{total}] {} ok in {}",
            step.title,
            report::duration(elapsed)
        ));
        times.push((step.title, elapsed));
    }
    // One line, so that cargo test's own closing lines stay at the end of the log.
    let times: Vec<String> = times
        .iter()
        .map(|(title, elapsed)| format!("{title} {}", report::duration(*elapsed)))
        .collect();
    println!();
    println!(
        "==> all {total} steps passed in {} ({})",
        report::duration(started.elapsed()),
        times.join(", ")
    );
    Ok(())
}

fn env_prefix(env: &[(&str, &str)]) -> String {
    env.iter()
        .map(|(key, value)| format!("{key}={value} "))
        .collect()
}

fn cargo(cmd: &mut Command, shutdown: &Shutdown) -> Result<()> {
    let status = run_step(cmd, shutdown)?;
    if !status.success() {
        bail!("`{}` failed ({})", describe(cmd), describe_exit(status));
    }
    Ok(())
}

/// The system tests start Xvfb and drive it with xdotool: say so before they fail.
fn system_test_tools() -> Result<()> {
    let missing: Vec<&str> = ["Xvfb", "xdotool"]
        .into_iter()
        .filter(|tool| proc::which(tool).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "the system tests need {} on PATH; run `cargo xtask setup` (or drop --skip-setup)",
            missing.join(" and ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(args: &TestArgs) -> Vec<&'static str> {
        plan(args).iter().map(|step| step.title).collect()
    }

    #[test]
    fn everything_runs_by_default_and_tests_come_last() {
        let args = TestArgs {
            skip_setup: false,
            no_clippy: false,
            no_doc: false,
        };
        assert_eq!(
            titles(&args),
            [
                "setup",
                "format",
                "clippy",
                "rustdoc",
                "build binaries",
                "tests"
            ]
        );
    }

    #[test]
    fn options_only_remove_their_step() {
        let args = TestArgs {
            skip_setup: true,
            no_clippy: true,
            no_doc: true,
        };
        assert_eq!(titles(&args), ["format", "build binaries", "tests"]);
    }
}
