//! `cargo xtask load`: the gateway under load. A release `sos-gateway` on loopback with
//! its SQLite in a temporary directory; `--agents` synthetic end-user apps register by PIN
//! and stay connected (QUIC keep-alive); `--streams` of them are granted and stream
//! synthetic frames at `--fps` to `--viewers-per-stream` technicians' viewers each, one of
//! which stalls in `--stalled` sessions. Agents and viewers are QUIC clients in this
//! process ([`agent`], [`viewer`]), on one tokio runtime; the gateway is measured from
//! `/proc` ([`probe`]). Results go to `<out>/load.json` and `<out>/load.md` ([`report`], [`table`]).
//!
//! Contract: the gateway is stopped and the temporary directory removed on every exit path;
//! PINs, tokens and passwords are never printed; the figures are only what this run
//! measured.

mod agent;
mod desk;
mod histogram;
mod probe;
mod report;
mod scenario;
mod stage;
mod table;
mod viewer;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use sos_transport::{CertFingerprint, MAX_FRAME_BYTES, Trust};

use self::report::{LoadReport, Settings};
use self::scenario::{Plan, Target};
use self::stage::FrameShape;
use crate::gateway::{self, Addresses};
use crate::proc::{Output, describe, describe_exit, run_step};
use crate::report as say;
use crate::report::display_path;
use crate::signals::Shutdown;
use crate::stack::TempDir;
use crate::workspace::Workspace;

/// Options of `cargo xtask load`.
#[derive(Clone, Debug, Args)]
pub struct LoadArgs {
    /// Synthetic end-user apps: one session each, created through the API, registered by
    /// PIN on a QUIC connection of their own, then idle but connected (QUIC keep-alive).
    #[arg(long, default_value_t = 1000, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=20_000))]
    pub agents: u64,

    /// How many of the agents are granted access and stream to viewers.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub streams: u64,

    /// Viewers per stream, one technician each (the assignee and up to two invited; the
    /// product allows three).
    #[arg(long, default_value_t = 3, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=3))]
    pub viewers_per_stream: u64,

    /// Frames a second each stream's agent sends (fewer when four frames are still
    /// unacknowledged, as the real app).
    #[arg(long, default_value_t = 30, value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=120))]
    pub fps: u32,

    /// Length of the measuring window, once every stream is attached.
    #[arg(long, default_value_t = 60, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=24 * 3600))]
    pub seconds: u64,

    /// Streams in which the last viewer stops reading when the window opens (keeping its
    /// connection open), to check that the gateway holds only a bounded queue for it and
    /// that the other viewers of the session do not notice.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub stalled: u64,

    /// Smallest P-frame, KiB (sizes are uniform between the two bounds).
    #[arg(long, default_value_t = 5, value_name = "KIB")]
    pub min_frame_kib: usize,

    /// Largest P-frame, KiB.
    #[arg(long, default_value_t = 20, value_name = "KIB")]
    pub max_frame_kib: usize,

    /// Keyframe size, KiB: the first frame of a stream and every frame answering the
    /// gateway's keyframe request.
    #[arg(long, default_value_t = 200, value_name = "KIB")]
    pub keyframe_kib: usize,

    /// Seconds with every agent registered and nobody streaming, for the idle figures.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub idle_seconds: u64,

    /// Where load.json, load.md and the logs go [default: target/sosdesk-load].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Use this sos-gateway binary instead of building the release one.
    #[arg(long, value_name = "PATH")]
    pub gateway: Option<PathBuf>,
}

impl LoadArgs {
    fn check(&self) -> Result<()> {
        if self.streams > self.agents {
            bail!(
                "--streams ({}) cannot exceed --agents ({}): each stream is one agent's",
                self.streams,
                self.agents
            );
        }
        if self.stalled > self.streams {
            bail!(
                "--stalled ({}) cannot exceed --streams ({})",
                self.stalled,
                self.streams
            );
        }
        if self.min_frame_kib == 0 || self.min_frame_kib > self.max_frame_kib {
            bail!("--min-frame-kib must be at least 1 and at most --max-frame-kib");
        }
        if self.max_frame_kib.max(self.keyframe_kib) * 1024 > MAX_FRAME_BYTES {
            bail!(
                "frames are at most {} KiB (the gateway refuses larger ones)",
                MAX_FRAME_BYTES / 1024
            );
        }
        Ok(())
    }

    fn settings(&self) -> Settings {
        Settings {
            agents: self.agents as usize,
            streams: self.streams as usize,
            viewers_per_stream: self.viewers_per_stream as usize,
            stalled: self.stalled as usize,
            fps: self.fps,
            frame_kib: (self.min_frame_kib, self.max_frame_kib),
            keyframe_kib: self.keyframe_kib,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
        }
    }

    fn plan(&self) -> Plan {
        Plan {
            agents: self.agents as usize,
            streams: self.streams as usize,
            viewers_per_stream: self.viewers_per_stream as usize,
            stalled: self.stalled as usize,
            idle_seconds: self.idle_seconds,
            seconds: self.seconds,
            shape: FrameShape {
                fps: self.fps,
                min_bytes: self.min_frame_kib * 1024,
                max_bytes: self.max_frame_kib * 1024,
                keyframe_bytes: self.keyframe_kib * 1024,
            },
        }
    }
}

/// Runs the load, writes the report and prints its table.
pub fn run(workspace: &Workspace, args: &LoadArgs, shutdown: &Shutdown) -> Result<()> {
    let started = Instant::now();
    let out = match &args.out {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("invalid --out directory {}", dir.display()))?,
        None => workspace.root.join("target").join("sosdesk-load"),
    };
    let report = measure(workspace, args, &out, shutdown)?;
    let written = table::write(&report, &out)?;
    say::header(&format!(
        "load complete in {}",
        say::duration(started.elapsed())
    ));
    println!();
    print!("{}", table::table(&report));
    for path in &written {
        say::note(&display_path(path));
    }
    Ok(())
}

/// Starts the gateway, runs the load against it and returns the figures.
fn measure(
    workspace: &Workspace,
    args: &LoadArgs,
    out: &std::path::Path,
    shutdown: &Shutdown,
) -> Result<LoadReport> {
    args.check()?;
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)
        .with_context(|| format!("could not create {}", logs.display()))?;
    let binary = match &args.gateway {
        Some(path) => path.clone(),
        None => {
            build_gateway(workspace, shutdown)?;
            workspace.release_bin("sos-gateway")
        }
    };
    let temp = TempDir::create()?;
    let data = temp.path().join("gateway-data");
    say::header(&format!(
        "load: adding {} technicians, starting the gateway on loopback",
        args.viewers_per_stream
    ));
    let accounts = desk::add_accounts(
        &binary,
        &data,
        args.viewers_per_stream as usize,
        &logs,
        shutdown,
    )?;
    let addresses = Addresses::free_on_loopback()?;
    let mut gateway = gateway::start(
        &binary,
        &data,
        addresses,
        Output::Log(logs.join("gateway.log")),
        shutdown,
    )?;
    say::note(&format!(
        "gateway pid {}, quic {}, log {}",
        gateway.process.id(),
        gateway.banner.quic,
        display_path(&logs.join("gateway.log"))
    ));
    let cert = CertFingerprint::from_str(&gateway.banner.cert_sha256)
        .context("the gateway printed an unusable certificate fingerprint")?;
    let target = Target {
        pid: gateway.process.id(),
        console: addresses.console_url(),
        quic: addresses.quic_address(),
        trust: Trust::Pinned(vec![cert]),
        quic_port: addresses.quic.port(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, usize::from))
        .enable_all()
        .build()
        .context("could not start the load generator's async runtime")?;
    let measured = runtime
        .block_on(scenario::run(&args.plan(), &target, &accounts, shutdown))
        .map_err(|error| {
            error.context(format!(
                "the load run failed; the gateway's log is {}",
                display_path(&logs.join("gateway.log"))
            ))
        })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Some(status) = gateway.process.try_wait()? {
        bail!(
            "the gateway exited during the run ({}); see {}",
            describe_exit(status),
            display_path(&logs.join("gateway.log"))
        );
    }
    gateway.process.stop();
    Ok(LoadReport::new(args.settings(), &measured))
}

/// `cargo build --release --locked -p sos-gateway`: only what the load measures.
fn build_gateway(workspace: &Workspace, shutdown: &Shutdown) -> Result<()> {
    let mut cmd = workspace.cargo();
    cmd.args(["build", "--release", "--locked", "-p", "sos-gateway"]);
    say::header(&format!("load: building the gateway: {}", describe(&cmd)));
    let status = run_step(&mut cmd, shutdown)?;
    if !status.success() {
        bail!(
            "the release build failed ({}); see cargo's errors above",
            describe_exit(status)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(out: &std::path::Path, gateway: PathBuf) -> LoadArgs {
        LoadArgs {
            agents: 20,
            streams: 2,
            viewers_per_stream: 3,
            fps: 10,
            seconds: 3,
            stalled: 1,
            min_frame_kib: 5,
            max_frame_kib: 20,
            keyframe_kib: 200,
            idle_seconds: 1,
            out: Some(out.to_path_buf()),
            gateway: Some(gateway),
        }
    }

    #[test]
    fn impossible_plans_are_refused_before_anything_starts() {
        let out = std::path::Path::new("unused");
        let gateway = PathBuf::from("unused");
        let mut args = small(out, gateway);
        args.streams = 21;
        assert!(args.check().unwrap_err().to_string().contains("--streams"));
        args.streams = 2;
        args.stalled = 3;
        assert!(args.check().unwrap_err().to_string().contains("--stalled"));
        args.stalled = 1;
        args.min_frame_kib = 30;
        assert!(args.check().is_err());
        args.min_frame_kib = 5;
        args.keyframe_kib = 17 * 1024;
        assert!(args.check().is_err());
        args.keyframe_kib = 200;
        assert!(args.check().is_ok());
    }

    /// A small run against the debug gateway (`cargo build -p sos-gateway`, which
    /// `cargo xtask test` does before the tests): every agent registers and stays, the
    /// viewers that read get every frame, the stalled one gets nothing and costs them
    /// nothing, and the report is written.
    #[test]
    fn a_small_run_relays_every_frame_to_the_viewers_that_read() {
        let workspace = Workspace::locate().unwrap();
        let gateway = workspace.target.join("debug").join("sos-gateway");
        assert!(
            gateway.is_file(),
            "{} is missing: build it with `cargo build -p sos-gateway`",
            gateway.display()
        );
        let out = tempfile::tempdir().unwrap();
        let args = small(out.path(), gateway);
        let shutdown = Shutdown::install().unwrap();
        let report = measure(&workspace, &args, out.path(), &shutdown).unwrap();
        assert_eq!(report.registered, 20, "{:?}", report.register_failures);
        assert_eq!(report.connected_at_end, 20, "{:?}", report.agents_lost);
        assert_eq!(report.viewers, 6, "{:?}", report.attach_failures);
        assert_eq!(
            report.viewers_connected_at_end, 6,
            "{:?}",
            report.viewer_failures
        );
        assert_eq!(report.stalled_viewers, 1);
        assert_eq!(report.stalled_frames_read, 0);
        assert_eq!(report.reading.viewers, 5);
        assert!(report.reading.frames_received > 0);
        assert_eq!(report.reading.frames_lost, 0, "{:?}", report.per_viewer);
        assert_eq!(report.beside_stalled.viewers, 2);
        assert!(report.reading.latency.p99_ms.is_some());
        assert!(report.rss_mib.idle.is_some() && report.peak_mib.is_some());
        let written = table::write(&report, out.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
        assert_eq!(json["registered"], 20);
    }
}
