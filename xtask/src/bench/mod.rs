//! `cargo xtask bench`: the streaming benchmark.
//!
//! Xvfb at 1920x1080, the whole sosdesk stack (gateway, technician, session, the `sos` app
//! with consent given), then for each scene: the scene drawer ([`draw`]) paints
//! deterministic content with a timestamp code ([`code`]) in a corner of every frame; the
//! probe ([`probe`]) watches through the gateway like `sos-desk view`, reads the code back
//! from every decoded picture and compares sampled pictures with the scene's own rendering;
//! then the x264 peer ([`peers`]) runs on the same scene. The bench samples the CPU time of
//! every process over the probe's measuring window and counts the bytes on the wire with
//! forwarders ([`forward`]). Results go to `<out>/bench.json`, `<out>/bench.md` and PNG
//! plots ([`report`], [`plot`]).
//!
//! Contract: every process it starts is stopped on every exit path; the figures come only
//! from what was measured in this run.

pub mod code;
pub mod cpu;
pub mod draw;
mod forward;
mod meter;
mod offline;
mod peers;
mod plot;
pub mod probe;
mod report;
pub mod scene;
mod vnc;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;

use self::forward::TcpRelay;
use self::meter::ProbeResult;
use self::report::{Bench, CpuShare, PipelineRun, SceneRun};
use self::scene::SceneKind;
use crate::proc::{Launch, Output, Process, describe_exit};
use crate::report::display_path;
use crate::run::build_release;
use crate::signals::Shutdown;
use crate::stack::{self, Stack, TempDir};
use crate::workspace::Workspace;
use crate::xvfb::Xvfb;
use crate::{report as say, setup};
use sos_impair::Forwarder;

/// The screen the bench runs at (Xvfb's).
pub(crate) const SIZE: &str = "1920x1080";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attach, first keyframe and a slow first decode.
const MEASURING_TIMEOUT: Duration = Duration::from_secs(45);

/// Options of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenes to run (repeat the option); all of them by default.
    #[arg(long = "scene", value_enum, value_name = "NAME")]
    pub scenes: Vec<SceneKind>,

    /// Seconds measured per scene and pipeline, from the first decoded picture.
    #[arg(long, default_value_t = 10.0, value_name = "N")]
    pub seconds: f64,

    /// Where bench.json, bench.md, the plots and the logs go
    /// [default: target/sosdesk-bench].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Only sosdesk: do not run the peers (ffmpeg/x264 and x11vnc).
    #[arg(long)]
    pub no_peers: bool,

    /// x264's constant quality (-crf) for the peer; lower is better and bigger.
    #[arg(long, default_value_t = 23, value_name = "CRF")]
    pub x264_crf: u8,

    /// Seconds of each moving scene rendered for the codec comparison on identical frames
    /// (sosdesk's encoder against an x264 quality sweep).
    #[arg(long, default_value_t = 3.0, value_name = "N")]
    pub codec_seconds: f64,

    /// Skip the codec comparison on identical frames.
    #[arg(long, conflicts_with = "codec_only")]
    pub no_codec: bool,

    /// Only the codec comparison on identical frames: no X display, no stack, no peers.
    #[arg(long)]
    pub codec_only: bool,

    /// How the `sos` app's frame rate adapts: `delay` follows the link's delay (the
    /// product's default), `fixed` keeps 30 fps whatever the delay, to compare the two.
    #[arg(long, value_enum, default_value_t = RateControl::Delay, value_name = "MODE")]
    pub rate_control: RateControl,

    /// Threads the `sos` app encodes each picture with [default: one per core, at most 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub encoder_threads: Option<u16>,

    /// Do not check or install the system packages first.
    #[arg(long)]
    pub skip_setup: bool,
}

/// The `sos` app's rate control, as its hidden `--rate-control` option names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RateControl {
    /// The frame rate follows the link's delay.
    Delay,
    /// Always the maximum frame rate.
    Fixed,
}

impl RateControl {
    /// The value of the app's option.
    pub fn name(self) -> &'static str {
        match self {
            Self::Delay => "delay",
            Self::Fixed => "fixed",
        }
    }
}

/// Options of the hidden `bench-scene` command.
#[derive(Debug, Args)]
pub struct SceneArgs {
    /// The scene to play.
    #[arg(long, value_enum)]
    pub scene: SceneKind,
}

/// Runs the bench.
pub fn run(workspace: &Workspace, args: &BenchArgs, shutdown: &Shutdown) -> Result<()> {
    if !(args.seconds.is_finite() && args.seconds >= 1.0) {
        bail!("--seconds must be at least 1");
    }
    if !(args.codec_seconds.is_finite() && args.codec_seconds > 0.0 && args.codec_seconds <= 30.0) {
        bail!("--codec-seconds must be more than 0 and at most 30 (the frames stay in memory)");
    }
    if !args.skip_setup {
        setup::run(workspace, shutdown)?;
    }
    if !args.codec_only {
        build_release(workspace, shutdown)?;
    }
    let out = match &args.out {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("invalid --out directory {}", dir.display()))?,
        None => workspace.root.join("target").join("sosdesk-bench"),
    };
    let logs = out.join("logs");
    std::fs::create_dir_all(&logs)
        .with_context(|| format!("could not create {}", logs.display()))?;
    let scenes = if args.scenes.is_empty() {
        SceneKind::ALL.to_vec()
    } else {
        let mut scenes = args.scenes.clone();
        scenes.dedup();
        scenes
    };
    let started = Instant::now();
    let mut bench = if args.codec_only {
        Bench::codec_only(args.seconds)
    } else {
        measure(workspace, args, &scenes, &logs, shutdown).map_err(|error| {
            error.context(format!(
                "the bench failed; every process it started is stopped, logs are in {}",
                display_path(&logs)
            ))
        })?
    };
    if !args.no_codec {
        bench.codec = codec(args, &scenes, shutdown)?;
    }
    let written = report::write(&bench, &out)?;
    plot::write(&bench, &out)?;
    say::header(&format!(
        "bench complete in {}",
        say::duration(started.elapsed())
    ));
    println!();
    println!("{}", report::table(&bench));
    for path in written.iter().chain(&plot::files(&bench, &out)) {
        say::note(&display_path(path));
    }
    Ok(())
}

/// The codec comparison on identical frames, scene by scene.
fn codec(
    args: &BenchArgs,
    scenes: &[SceneKind],
    shutdown: &Shutdown,
) -> Result<Vec<offline::CodecRun>> {
    let (width, height) = SIZE
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .context("the bench's screen size is not WxH")?;
    let mut runs = Vec::new();
    for &kind in scenes.iter().filter(|kind| offline::compared(**kind)) {
        shutdown.check()?;
        say::header(&format!("bench: codec on identical frames, scene {kind}"));
        let run = offline::run(kind, width, height, args.codec_seconds, &mut |step| {
            say::note(step);
        })?;
        say::note(&report::codec_line(&run));
        runs.push(run);
    }
    Ok(runs)
}

/// What every scene needs.
struct Harness<'a> {
    args: &'a BenchArgs,
    stack: &'a Stack,
    display: String,
    temp: &'a Path,
    logs: &'a Path,
    ticks: f64,
    shutdown: &'a Shutdown,
}

fn measure(
    workspace: &Workspace,
    args: &BenchArgs,
    scenes: &[SceneKind],
    logs: &Path,
    shutdown: &Shutdown,
) -> Result<Bench> {
    let temp = TempDir::create()?;
    say::header(&format!("bench: starting a virtual X display ({SIZE}x24)"));
    let mut xvfb = Xvfb::start(&logs.join("xvfb.log"), shutdown)?;
    let display = xvfb.display();
    say::note(&format!("DISPLAY={display}"));
    let agent_stats = temp.path().join("agent-stats.json");
    let agent_stats_arg = agent_stats.to_string_lossy().into_owned();
    let mut agent_args = vec![
        String::from("--stats"),
        agent_stats_arg,
        String::from("--rate-control"),
        args.rate_control.name().to_owned(),
    ];
    if let Some(threads) = args.encoder_threads {
        agent_args.extend([String::from("--encoder-threads"), threads.to_string()]);
    }
    let agent_args: Vec<&str> = agent_args.iter().map(String::as_str).collect();
    let stack = Stack::start(
        workspace,
        temp.path(),
        logs,
        &display,
        &agent_args,
        &mut |index| say::header(&format!("bench: {}", stack::STEPS[index])),
        shutdown,
    )?;
    let context = Harness {
        args,
        stack: &stack,
        display: display.clone(),
        temp: temp.path(),
        logs,
        ticks: cpu::ticks_per_second(),
        shutdown,
    };
    let mut runs = Vec::new();
    for &kind in scenes {
        say::header(&format!("bench: scene {kind}"));
        let run = scene(&context, kind)?;
        for pipeline in &run.pipelines {
            say::note(&report::line(pipeline));
        }
        runs.push(run);
    }
    stack.close(shutdown)?;
    let agent = std::fs::read(&agent_stats)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    xvfb.stop();
    Ok(Bench {
        screen: SIZE.to_owned(),
        seconds: args.seconds,
        x264_crf: args.x264_crf,
        rate_control: args.rate_control.name().to_owned(),
        encoder_threads: args.encoder_threads,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        peers: !args.no_peers,
        scenes: runs,
        agent_stats: agent,
        codec: Vec::new(),
    })
}

/// This program, for the hidden drawer and probe commands.
fn xtask(args: &[&str]) -> Result<Command> {
    let exe = std::env::current_exe().context("cannot find the running xtask binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(args);
    Ok(cmd)
}

fn scene(context: &Harness<'_>, kind: SceneKind) -> Result<SceneRun> {
    let mut cmd = xtask(&["bench-scene", "--scene", kind.name()])?;
    cmd.env("DISPLAY", &context.display)
        .env_remove("WAYLAND_DISPLAY");
    let mut drawer = Launch::new(&format!("scene drawer ({kind})"), cmd)
        .output(Output::Log(context.logs.join(format!("scene-{kind}.log"))))
        .watch_stdout()
        .spawn()?;
    drawer.wait_for_output("`ready`", READY_TIMEOUT, context.shutdown, |line| {
        line.starts_with("ready")
    })?;
    let mut pipelines = vec![sosdesk(context, kind)?];
    // The peers have no input path here: the echo scene is sosdesk's alone.
    if !context.args.no_peers && kind != SceneKind::Echo {
        pipelines.push(x264(context, kind)?);
        pipelines.push(vnc(context, kind)?);
    }
    if let Some(status) = drawer.try_wait()? {
        bail!(
            "the scene drawer stopped during the measurement ({}){}",
            describe_exit(status),
            drawer.tail()
        );
    }
    drawer.stop();
    Ok(SceneRun {
        scene: kind.name().to_owned(),
        scene_fps: kind.fps(),
        pipelines,
    })
}

fn vnc(context: &Harness<'_>, kind: SceneKind) -> Result<PipelineRun> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|socket| socket.local_addr())
        .context("could not find a free TCP port on 127.0.0.1")?
        .port();
    let started_ms = draw::unix_ms() as f64;
    let mut server = Launch::new("x11vnc", vnc::server_command(&context.display, port))
        .output(Output::Log(context.logs.join(format!("x11vnc-{kind}.log"))))
        .spawn()?;
    let server_address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + READY_TIMEOUT;
    while std::net::TcpStream::connect(server_address).is_err() {
        context.shutdown.check()?;
        if let Some(status) = server.try_wait()? {
            bail!(
                "x11vnc stopped at start ({}){}",
                describe_exit(status),
                server.tail()
            );
        }
        if Instant::now() > deadline {
            bail!(
                "x11vnc did not listen within {READY_TIMEOUT:?}{}",
                server.tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let relay = vnc::CountingRelay::start(server_address)?;
    let out = context.temp.join(format!("probe-{kind}-vnc.json"));
    let mut cmd = probe_command(context, kind, &out)?;
    cmd.args(["vnc", "--address", &relay.address().to_string()]);
    let probe = Launch::new("probe (vnc)", cmd)
        .output(Output::Log(
            context.logs.join(format!("probe-{kind}-vnc.log")),
        ))
        .watch_stdout()
        .spawn()?;
    let processes = [("encoder", server.id())];
    let (result, cpu, wire_bytes) = probe_window(context, "vnc", probe, &out, &processes, &|| {
        relay.received()
    })?;
    drop(server);
    drop(relay);
    let first_frame_ms = result.first_frame_unix_ms.map(|first| first - started_ms);
    Ok(PipelineRun::new(
        "x11vnc",
        result,
        wire_bytes,
        cpu,
        first_frame_ms,
    ))
}

/// CPU seconds of each named process.
fn cpu_times(context: &Harness<'_>, processes: &[(&str, u32)]) -> Vec<f64> {
    processes
        .iter()
        .map(|(_, pid)| cpu::process_seconds(*pid, context.ticks).unwrap_or(0.0))
        .collect()
}

/// Starts a probe and waits for its window: `measuring` .. `done`. Returns the CPU shares
/// of `processes` and the bytes `counted` over the window, and the probe's result.
fn probe_window(
    context: &Harness<'_>,
    name: &str,
    mut probe: Process,
    out: &Path,
    processes: &[(&str, u32)],
    counted: &dyn Fn() -> u64,
) -> Result<(ProbeResult, Vec<CpuShare>, u64)> {
    let shutdown = context.shutdown;
    probe.wait_for_output("`measuring`", MEASURING_TIMEOUT, shutdown, |line| {
        line.trim() == "measuring"
    })?;
    let (cpu_start, bytes_start, started) =
        (cpu_times(context, processes), counted(), Instant::now());
    let window = Duration::from_secs_f64(context.args.seconds) + READY_TIMEOUT;
    probe.wait_for_output("`done`", window, shutdown, |line| line.trim() == "done")?;
    let (cpu_end, bytes_end, elapsed) = (
        cpu_times(context, processes),
        counted(),
        started.elapsed().as_secs_f64(),
    );
    match probe.wait_exit(READY_TIMEOUT, shutdown)? {
        Some(status) if status.success() => {}
        Some(status) => bail!(
            "the {name} probe failed ({}){}",
            describe_exit(status),
            probe.tail()
        ),
        None => bail!("the {name} probe did not finish{}", probe.tail()),
    }
    let bytes = std::fs::read(out).with_context(|| format!("could not read {}", out.display()))?;
    let result: ProbeResult = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a probe result", out.display()))?;
    let shares = processes
        .iter()
        .zip(cpu_start.iter().zip(&cpu_end))
        .map(|((process, _), (start, end))| CpuShare {
            process: (*process).to_owned(),
            percent: (end - start) / elapsed * 100.0,
        })
        .chain(std::iter::once(CpuShare {
            process: String::from("viewer"),
            percent: result.viewer_cpu_seconds / result.window_seconds.max(1e-9) * 100.0,
        }))
        .collect();
    Ok((result, shares, bytes_end - bytes_start))
}

fn probe_command(context: &Harness<'_>, kind: SceneKind, out: &Path) -> Result<Command> {
    let seconds = context.args.seconds.to_string();
    let out = out.to_string_lossy().into_owned();
    xtask(&[
        "bench-probe",
        "--scene",
        kind.name(),
        "--seconds",
        &seconds,
        "--out",
        &out,
    ])
}

fn sosdesk(context: &Harness<'_>, kind: SceneKind) -> Result<PipelineRun> {
    let stack = context.stack;
    let gateway: SocketAddr = stack
        .addresses
        .quic_address()
        .parse()
        .context("the gateway's QUIC address is not an IP address")?;
    let forwarder = Forwarder::start(gateway)
        .with_context(|| format!("the bench's UDP forwarder to {gateway} did not start"))?;
    let out = context.temp.join(format!("probe-{kind}-sosdesk.json"));
    let mut cmd = probe_command(context, kind, &out)?;
    cmd.arg("sosdesk")
        .arg("--desk-config")
        .arg(&stack.desk.config)
        .args(["--session", &stack.session.id])
        .args(["--quic", &forwarder.address().to_string()])
        .args(["--typist-quic", &gateway.to_string()]);
    let probe = Launch::new("probe (sosdesk)", cmd)
        .output(Output::Log(
            context.logs.join(format!("probe-{kind}-sosdesk.log")),
        ))
        .watch_stdout()
        .spawn()?;
    let processes = [
        ("agent", stack.agent.id()),
        ("gateway", stack.gateway.process.id()),
    ];
    let (result, cpu, wire_bytes) =
        probe_window(context, "sosdesk", probe, &out, &processes, &|| {
            forwarder.to_client()
        })?;
    let first_frame_ms = result
        .first_frame_unix_ms
        .map(|first| first - result.started_unix_ms);
    Ok(PipelineRun::new(
        "sosdesk",
        result,
        wire_bytes,
        cpu,
        first_frame_ms,
    ))
}

fn x264(context: &Harness<'_>, kind: SceneKind) -> Result<PipelineRun> {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|socket| socket.local_addr())
        .context("could not find a free TCP port on 127.0.0.1")?
        .port();
    let out = context.temp.join(format!("probe-{kind}-x264.json"));
    let mut cmd = probe_command(context, kind, &out)?;
    cmd.args(["x264", "--port", &port.to_string(), "--size", SIZE]);
    let mut probe = Launch::new("probe (x264)", cmd)
        .output(Output::Log(
            context.logs.join(format!("probe-{kind}-x264.log")),
        ))
        .watch_stdout()
        .spawn()?;
    probe.wait_for_output("`listening`", READY_TIMEOUT, context.shutdown, |line| {
        line.trim() == "listening"
    })?;
    // The decoder listens as it starts; the relay connects to it when the encoder comes.
    std::thread::sleep(Duration::from_millis(500));
    let relay = TcpRelay::start(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    let started_ms = draw::unix_ms() as f64;
    let encoder = Launch::new(
        "ffmpeg (x264 encoder)",
        peers::encoder_command(
            &context.display,
            SIZE,
            relay.address(),
            context.args.x264_crf,
        ),
    )
    .output(Output::Log(context.logs.join(format!("x264-{kind}.log"))))
    .spawn()?;
    let processes = [("encoder", encoder.id())];
    let (result, cpu, wire_bytes) =
        probe_window(context, "x264", probe, &out, &processes, &|| {
            relay.carried()
        })?;
    drop(encoder);
    drop(relay);
    let first_frame_ms = result.first_frame_unix_ms.map(|first| first - started_ms);
    Ok(PipelineRun::new(
        "x264",
        result,
        wire_bytes,
        cpu,
        first_frame_ms,
    ))
}
