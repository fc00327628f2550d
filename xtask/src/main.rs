//! `cargo xtask`: the developer tasks of sosdesk.
//!
//! Two commands matter: `cargo xtask run` builds and starts a local gateway (or, with
//! `--demo`, plays a whole support session by itself), and `cargo xtask test` runs every
//! check. Both first install the system packages they need, so a fresh Debian machine with
//! only the Rust toolchain is enough.
//!
//! This file only parses the command line and dispatches; each command lives in its module.
//! xtask never leaves a child behind: Ctrl-C and SIGTERM only set a flag ([`signals`]) and
//! every child sits in a guard that stops it on drop ([`proc`]).

// Tests may panic on unexpected errors: that is how they fail.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod bench;
mod brand;
mod demo;
mod gateway;
mod load;
mod output;
mod proc;
mod report;
mod run;
mod setup;
mod signals;
mod soak;
mod stack;
mod test;
mod workspace;
mod xvfb;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::signals::{Interrupted, Shutdown};
use crate::workspace::Workspace;

/// Developer tasks for sosdesk.
///
/// Start with `cargo xtask run --demo` (the whole flow, by itself) or `cargo xtask test`
/// (every check). Both install missing system packages first (apt-get, as root or via sudo).
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    after_help = "Examples:\n  \
        cargo xtask run --demo   play a whole support session by itself, record it, exit\n  \
        cargo xtask run          local gateway in the foreground, with the commands to try\n  \
        cargo xtask test         every check and test (what CI runs)\n  \
        cargo xtask bench --scene typing --no-peers   one scene of the streaming benchmark\n  \
        cargo xtask load         the gateway under load: 1,000 agents, 100 streams x 3 viewers\n  \
        cargo xtask brand --config acme.toml --out dist   a branded end-user app\n  \
        cargo xtask setup        only install the missing system packages"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install the system packages and rustup components the workspace needs (only the
    /// missing ones).
    ///
    /// Checks each Debian package with dpkg-query and installs the missing ones with one
    /// `apt-get update` and one `apt-get install` (through sudo when not root). Installing
    /// nasm also forgets openh264 builds made without it, which would otherwise stay slow.
    Setup,
    /// Build the release binaries and start a local gateway, with a first technician.
    ///
    /// Prints how to log in with sos-desk, create a session, start the end-user app and
    /// watch the screen, then keeps the gateway in the foreground until Ctrl-C. With
    /// `--demo`, runs that whole flow by itself on a virtual X display, records 60 frames
    /// and exits.
    Run(run::RunArgs),
    /// Run every check and test: setup, rustfmt, clippy, rustdoc, build, cargo test.
    ///
    /// Stops at the first failure with a non-zero exit code. The system tests in tests/
    /// start their own Xvfb and run the binaries built in target/debug.
    Test(test::TestArgs),
    /// The same as `test`: what CI runs (.ci/run).
    Ci(test::TestArgs),
    /// Build a branded end-user app from a signed branding.toml.
    ///
    /// Validates the branding, builds `sos` in release mode with it baked in (in
    /// target/branded, leaving the usual build alone), copies it to the output folder under
    /// the product's name, checks that it starts, and prints its size and SHA-256. Sign the
    /// branding first on the gateway: `sos-gateway branding sign branding.toml`.
    Brand(brand::BrandArgs),
    /// The streaming benchmark: glass-to-glass latency, fps, bytes, CPU, PSNR and time to
    /// first frame of sosdesk per scene, next to ffmpeg/x264 on the same scene.
    ///
    /// Starts Xvfb (1920x1080), a gateway, a session and the end-user app, then plays each
    /// scene (idle, typing, scrolling, video, full-motion) with a timestamp code painted in
    /// its corner, watches it through the gateway with a measuring viewer, then through
    /// ffmpeg x11grab -> libx264 ultrafast/zerolatency -> UDP -> ffmpeg. Writes
    /// bench.json, bench.md (tables and ratios to x264) and PNG plots to --out. About
    /// 2 x --seconds + 5 s per scene after the release build.
    Bench(bench::BenchArgs),
    /// The lossy-link soak: a session through 30 % packet loss each way for --minutes
    /// (10 by default), at 1280x720 with a moving scene; fails under 2 decoded fps.
    ///
    /// Builds the release binaries and runs the 30 % loss test of tests/lossy_link.rs for
    /// that long (the test suite runs it for one minute); prints the viewer's figures:
    /// fps, latency percentiles, the longest freeze, and the datagrams dropped each way.
    Soak(soak::SoakArgs),
    /// The gateway under load: added latency, memory and CPU with many agents and streams.
    ///
    /// Builds the release gateway and starts it on loopback with SQLite in a temporary
    /// directory; creates --agents sessions through the API and registers as many
    /// synthetic end-user apps by PIN (QUIC clients in this process, idle but connected);
    /// grants --streams of them to --viewers-per-stream technicians' viewers each and
    /// streams synthetic frames at --fps; in --stalled sessions one viewer stops reading.
    /// Reports frames lost per viewer, the latency the gateway adds (one in-process
    /// monotonic clock stamps each frame when sent and when fully received), the gateway's
    /// RSS and CPU, the load generator's CPU, and what the stalled viewer cost the others.
    /// Writes load.json and load.md to --out.
    Load(load::LoadArgs),
    /// Internal to `bench`: plays a scene on DISPLAY until stopped.
    #[command(hide = true)]
    BenchScene(bench::SceneArgs),
    /// Internal to `bench`: the measuring viewer.
    #[command(hide = true)]
    BenchProbe(bench::probe::ProbeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!();
            eprintln!("xtask: error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            if error.downcast_ref::<Interrupted>().is_some() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    let shutdown = Shutdown::install()?;
    // The bench's own children need no workspace.
    match command {
        Command::BenchScene(args) => return bench::draw::run(args.scene, None, &shutdown),
        Command::BenchProbe(args) => return bench::probe::run(&args, &shutdown),
        _ => {}
    }
    let workspace = Workspace::locate()?;
    match command {
        Command::Setup => setup::run(&workspace, &shutdown),
        Command::Run(args) if args.demo => demo::run(&workspace, &args, &shutdown),
        Command::Run(args) => run::run(&workspace, &args, &shutdown),
        Command::Test(args) | Command::Ci(args) => test::run(&workspace, &args, &shutdown),
        Command::Brand(args) => brand::run(&workspace, &args, &shutdown),
        Command::Bench(args) => bench::run(&workspace, &args, &shutdown),
        Command::Soak(args) => soak::run(&workspace, &args, &shutdown),
        Command::Load(args) => load::run(&workspace, &args, &shutdown),
        Command::BenchScene(_) | Command::BenchProbe(_) => {
            unreachable!("dispatched above")
        }
    }
}
