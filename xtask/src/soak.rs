//! `cargo xtask soak`: the 30 % loss run of tests/lossy_link.rs for as long as asked (the
//! test suite runs it for a minute), in release mode, printing the viewer's figures.
//!
//! Contract: builds the binaries the test runs, then runs that one test and nothing else;
//! a failed floor fails the command.

use anyhow::{Result, bail};
use clap::Args;

use crate::proc::{describe, describe_exit, run_step};
use crate::report;
use crate::signals::Shutdown;
use crate::workspace::Workspace;

/// The test that soaks.
const TEST: &str = "thirty_percent_loss_each_way_keeps_the_session_up_at_two_fps";

/// Options of `cargo xtask soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// How long the session runs through the lossy link.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=24 * 60))]
    pub minutes: u64,
}

/// Builds the release binaries and runs the lossy-link soak for `--minutes`.
pub fn run(workspace: &Workspace, args: &SoakArgs, shutdown: &Shutdown) -> Result<()> {
    let seconds = (args.minutes * 60).to_string();
    let mut build = workspace.cargo();
    build.args(["build", "--release", "--locked", "--bins"]);
    build.args(["-p", "sos", "-p", "sos-gateway", "-p", "sos-desk"]);
    let mut test = workspace.cargo();
    test.args([
        "test",
        "--release",
        "--locked",
        "--test",
        "lossy_link",
        TEST,
    ]);
    test.args(["--", "--exact", "--nocapture"]);
    test.env("SOS_LOSSY_SECONDS", &seconds);
    for (title, cmd) in [("build", &mut build), ("soak", &mut test)] {
        report::header(&format!("{title}: {}", describe(cmd)));
        let status = run_step(cmd, shutdown)?;
        if !status.success() {
            bail!("`{}` failed ({})", describe(cmd), describe_exit(status));
        }
    }
    report::note(&format!(
        "the session stayed up for {} min through 30 % loss each way (figures above)",
        args.minutes
    ));
    Ok(())
}
