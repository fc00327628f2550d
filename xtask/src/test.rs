//! `cargo xtask test` (and `ci`): every check and test, in order, stopping at the first
//! failure.
//!
//! The order puts the cheap checks first. The debug binaries are built before `cargo test`
//! because the system tests in tests/ run them from target/debug; those tests start their
//! own Xvfb, which therefore must be on PATH.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
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

    /// Skip the short fuzzing runs (they run by default, 15 s per target).
    #[arg(long)]
    pub no_fuzz: bool,
}

/// Seconds of fuzzing per target in `cargo xtask test` (the long runs are by hand).
const FUZZ_SECONDS: u32 = 15;

/// The cargo-fuzz targets in fuzz/ (see fuzz/Cargo.toml).
const FUZZ_TARGETS: [&str; 4] = [
    "wire_messages",
    "input_events",
    "branding_config",
    "http_router",
];

/// One step: a cargo command, or the setup.
enum Action {
    Setup,
    Cargo {
        args: Vec<String>,
        env: &'static [(&'static str, &'static str)],
        /// What to do when it fails, besides reading the errors.
        hint: &'static str,
        /// Folders (relative to the workspace) that must exist before it runs.
        folders: Vec<String>,
    },
}

struct Step {
    title: String,
    action: Action,
}

/// A cargo step.
fn cargo_step(
    title: &str,
    args: &[&str],
    env: &'static [(&'static str, &'static str)],
    hint: &'static str,
) -> Step {
    Step {
        title: title.to_string(),
        action: Action::Cargo {
            args: args.iter().map(ToString::to_string).collect(),
            env,
            hint,
            folders: Vec::new(),
        },
    }
}

fn plan(args: &TestArgs) -> Vec<Step> {
    let mut steps = Vec::new();
    if !args.skip_setup {
        steps.push(Step {
            title: "setup".to_string(),
            action: Action::Setup,
        });
    }
    steps.push(cargo_step(
        "format",
        &["fmt", "--all", "--", "--check"],
        &[],
        "run `cargo fmt --all` to format the code",
    ));
    if !args.no_clippy {
        steps.push(cargo_step(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ],
            &[],
            "fix the lints above (warnings count as errors)",
        ));
    }
    if !args.no_doc {
        steps.push(cargo_step(
            "rustdoc",
            &["doc", "--workspace", "--no-deps", "--locked"],
            &[("RUSTDOCFLAGS", "-Dwarnings")],
            "fix the documentation warnings above",
        ));
    }
    steps.push(cargo_step(
        "build binaries",
        &["build", "--workspace", "--bins", "--locked"],
        &[],
        "fix the build errors above",
    ));
    steps.push(cargo_step(
        "tests",
        &["test", "--workspace", "--locked"],
        &[],
        "rerun one test with `cargo test -p <crate> <name>`",
    ));
    if !args.no_fuzz {
        // Short runs on the stable toolchain (no sanitizer); `cargo fuzz run` builds first.
        // The kept crashing inputs (fuzz/regressions/<target>) are replayed first, every
        // time; new corpus entries go to fuzz/corpus/<target> (not kept).
        let time = format!("-max_total_time={FUZZ_SECONDS}");
        for target in FUZZ_TARGETS {
            let corpus = format!("fuzz/corpus/{target}");
            let regressions = format!("fuzz/regressions/{target}");
            let mut step = cargo_step(
                &format!("fuzz {target} ({FUZZ_SECONDS} s)"),
                &[
                    "fuzz",
                    "run",
                    "--sanitizer",
                    "none",
                    "--release",
                    target,
                    &corpus,
                    &regressions,
                    "--",
                    &time,
                ],
                &[],
                "the crashing input is in fuzz/artifacts/: replay it with `cargo fuzz run -s none -O <target> <file>`, fix the bug and keep the input in fuzz/regressions/<target>/",
            );
            if let Action::Cargo { folders, .. } = &mut step.action {
                folders.extend([corpus, regressions]);
            }
            steps.push(step);
        }
    }
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
            Action::Cargo {
                args,
                env,
                hint,
                folders,
            } => {
                for folder in folders {
                    let path = workspace.root.join(folder);
                    std::fs::create_dir_all(&path)
                        .with_context(|| format!("could not create {}", path.display()))?;
                }
                let mut cmd = workspace.cargo();
                cmd.args(args).envs(env.iter().copied());
                report::header(&format!(
                    "[{number}/{total}] {}: {}{}",
                    step.title,
                    env_prefix(env),
                    describe(&cmd)
                ));
                if args.first().map(String::as_str) == Some("test") {
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
        times.push((&step.title, elapsed));
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

    fn titles(args: &TestArgs) -> Vec<String> {
        plan(args).into_iter().map(|step| step.title).collect()
    }

    #[test]
    fn everything_runs_by_default_and_tests_come_last() {
        let args = TestArgs {
            skip_setup: false,
            no_clippy: false,
            no_doc: false,
            no_fuzz: false,
        };
        assert_eq!(
            titles(&args),
            [
                "setup",
                "format",
                "clippy",
                "rustdoc",
                "build binaries",
                "tests",
                "fuzz wire_messages (15 s)",
                "fuzz input_events (15 s)",
                "fuzz branding_config (15 s)",
                "fuzz http_router (15 s)",
            ]
        );
    }

    #[test]
    fn options_only_remove_their_step() {
        let args = TestArgs {
            skip_setup: true,
            no_clippy: true,
            no_doc: true,
            no_fuzz: true,
        };
        assert_eq!(titles(&args), ["format", "build binaries", "tests"]);
    }
}
