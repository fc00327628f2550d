//! The run itself, against a gateway already started: sessions through the API, agents
//! registered and left idle, then streams granted and watched, then the measuring window,
//! with the gateway's memory and CPU read from `/proc` at every step.
//!
//! Contract: every connection it opens is closed before it returns; it fails when the
//! gateway process disappears, and otherwise reports what happened (refusals and
//! disconnects are figures, not errors).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use sos_transport::Trust;
use sos_transport::wire::close_code;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::agent::{self, Agent};
use super::desk::{self, Account, NewSession, Progress, Technician};
use super::probe::{self, CpuMeter};
use super::report::{Measured, Sample, StreamCount};
use super::stage::{FrameShape, Stage};
use super::viewer::{self, Seat, ViewerResult};
use crate::report as say;
use crate::signals::Shutdown;

/// Synthetic agents sharing one client UDP socket (each still its own QUIC connection).
const AGENTS_PER_ENDPOINT: usize = 10;
/// Registrations in progress at once.
const REGISTER_CONCURRENCY: usize = 64;
/// Streams being granted and attached at once.
const STREAM_CONCURRENCY: usize = 8;
/// The longest wait for an agent to be asked for consent after the request.
const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);
/// After the registrations, before the idle figures.
const SETTLE: Duration = Duration::from_secs(2);
/// After the last viewer attached, before the window.
const WARM_UP: Duration = Duration::from_secs(3);
/// After the window, for the frames sent in it to arrive.
const DRAIN: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Agents to register.
    pub agents: usize,
    /// Of which streaming.
    pub streams: usize,
    /// Viewers per stream.
    pub viewers_per_stream: usize,
    /// Streams whose last viewer stalls.
    pub stalled: usize,
    /// Seconds of idle measurement.
    pub idle_seconds: u64,
    /// Seconds of the window.
    pub seconds: u64,
    /// The frames.
    pub shape: FrameShape,
}

/// The gateway under test.
#[derive(Clone, Debug)]
pub struct Target {
    /// Its process id.
    pub pid: u32,
    /// Its HTTPS URL.
    pub console: String,
    /// Its QUIC address.
    pub quic: String,
    /// How to trust it.
    pub trust: Trust,
    /// Its QUIC socket's local port (for its drop count).
    pub quic_port: u16,
}

/// Runs the plan against the target.
pub async fn run(
    plan: &Plan,
    target: &Target,
    accounts: &[Account],
    shutdown: &Shutdown,
) -> Result<Measured> {
    let mut measured = Measured::default();
    let alive = || {
        probe::memory(target.pid)
            .ok_or_else(|| anyhow!("the gateway exited during the run; see its log"))
    };
    measured.rss_empty = Some(alive()?.rss_kib);

    say::header(&format!(
        "load: logging {} technicians in, creating {} sessions through the API",
        accounts.len(),
        plan.agents
    ));
    let technicians = Arc::new(desk::login(&target.console, &target.trust, accounts).await?);
    let mut progress = Progress::new("sessions created", plan.agents);
    let sessions = desk::create_sessions(&technicians[0], plan.agents, &mut |done| {
        progress.update(done);
    })
    .await?;
    measured.sessions_seconds = progress.seconds();
    measured.rss_sessions = Some(alive()?.rss_kib);
    shutdown.check()?;

    say::header(&format!(
        "load: registering {} synthetic agents by PIN (QUIC, {AGENTS_PER_ENDPOINT} per client socket)",
        plan.agents
    ));
    let stage = Arc::new(Stage::new(plan.shape, plan.seconds));
    let (address, host) = sos_transport::endpoint::resolve(&target.quic)
        .await
        .with_context(|| {
            format!(
                "the gateway's QUIC address {} does not resolve",
                target.quic
            )
        })?;
    let gateway = (address, host);
    let (agents, endpoints) = register_all(
        &gateway,
        &target.trust,
        sessions,
        &stage,
        &mut measured,
        shutdown,
    )
    .await?;
    let registered: Vec<&Agent> = agents.iter().flatten().collect();
    measured.registered = registered.len();

    say::header(&format!(
        "load: {} agents idle (QUIC keep-alive only) for {} s",
        registered.len(),
        plan.idle_seconds
    ));
    tokio::time::sleep(SETTLE).await;
    let meter = CpuMeter::start(target.pid);
    sleep_checking(Duration::from_secs(plan.idle_seconds), shutdown).await?;
    measured.cpu_idle = meter.finish();
    measured.rss_idle = Some(alive()?.rss_kib);
    say::note(&format!(
        "gateway RSS {:.1} MiB, CPU {:.1} %",
        measured.rss_idle.unwrap_or(0) as f64 / 1024.0,
        measured.cpu_idle.gateway_pct
    ));

    say::header(&format!(
        "load: {} streams: request, consent, {} viewers each ({} stalling when the window opens)",
        plan.streams, plan.viewers_per_stream, plan.stalled
    ));
    let streamers: Vec<&Agent> = registered.iter().copied().take(plan.streams).collect();
    let mut progress = Progress::new("streams ready", streamers.len());
    let viewers = open_streams(
        plan,
        &streamers,
        &technicians,
        (&gateway, &target.trust),
        &stage,
        &mut measured.attach_failures,
        &mut |done| progress.update(done),
    )
    .await?;
    measured.streams_seconds = progress.seconds();
    tokio::time::sleep(WARM_UP).await;

    say::header(&format!("load: measuring for {} s", plan.seconds));
    stage.open_window();
    let meter = CpuMeter::start(target.pid);
    let drops = probe::udp_receive_buffer_drops();
    let socket_drops = probe::udp_socket_drops(target.quic_port);
    let mut last_drops = socket_drops;
    for second in 1..=plan.seconds {
        sleep_checking(Duration::from_secs(1), shutdown).await?;
        let rss_kib = alive()?.rss_kib;
        let drops = probe::udp_socket_drops(target.quic_port);
        // The frames of the second before last have all had a second to arrive.
        if let Some(sample) = second
            .checked_sub(2)
            .and_then(|index| measured.timeline.get_mut(index as usize))
        {
            sample.worst_ms = stage
                .worst_trip(second as usize - 2)
                .map(|m| m as f64 / 1e3);
        }
        measured.timeline.push(Sample {
            second: stage.window_seconds_so_far(),
            rss_kib,
            gateway_drops: drops
                .zip(last_drops)
                .map(|(now, before)| now.saturating_sub(before)),
            worst_ms: None,
        });
        last_drops = drops;
        if second % 10 == 0 || second == plan.seconds {
            let sent: u64 = streamers
                .iter()
                .map(|a| a.state.counters.frames.load(Ordering::Relaxed))
                .sum();
            let recent = measured.timeline.iter().rev().take(10);
            let dropped: u64 = recent.clone().filter_map(|s| s.gateway_drops).sum();
            let worst = recent.filter_map(|s| s.worst_ms).reduce(f64::max);
            say::note(&format!(
                "{second} s: gateway RSS {:.1} MiB, {sent} frames sent; last 10 s: {dropped} \
                 datagrams dropped by the gateway's socket, slowest frame {}",
                rss_kib as f64 / 1024.0,
                worst.map_or_else(|| String::from("–"), |ms| format!("{ms:.1} ms"))
            ));
        }
    }
    stage.close_window();
    measured.cpu_window = meter.finish();
    measured.udp_drops = drops
        .zip(probe::udp_receive_buffer_drops())
        .map(|(before, after)| after.saturating_sub(before));
    measured.gateway_socket_drops = socket_drops
        .zip(probe::udp_socket_drops(target.quic_port))
        .map(|(before, after)| after.saturating_sub(before));
    measured.window_seconds = stage.window_seconds();
    tokio::time::sleep(DRAIN).await;
    // The last seconds' frames have arrived now.
    for (index, sample) in measured.timeline.iter_mut().enumerate() {
        if sample.worst_ms.is_none() {
            sample.worst_ms = stage.worst_trip(index).map(|m| m as f64 / 1e3);
        }
    }

    for agent in &registered {
        match (agent.connection.close_reason(), agent.state.ended()) {
            (None, None) => measured.connected_at_end += 1,
            (Some(reason), _) => count(&mut measured.agents_lost, &reason.to_string()),
            (None, Some(why)) => count(&mut measured.agents_lost, &why),
        }
    }
    measured.streams = streamers
        .iter()
        .map(|agent| {
            let c = &agent.state.counters;
            StreamCount {
                frames: c.frames.load(Ordering::Relaxed),
                keyframes: c.keyframes.load(Ordering::Relaxed),
                bytes: c.bytes.load(Ordering::Relaxed),
                skipped: c.skipped.load(Ordering::Relaxed),
                keyframe_requests: c.keyframe_requests.load(Ordering::Relaxed),
            }
        })
        .collect();
    stage.stop();
    for handle in viewers {
        measured
            .viewers
            .push(handle.await.context("a viewer task failed")?);
    }
    measured.hwm = Some(alive()?.hwm_kib);
    for agent in &registered {
        agent
            .connection
            .close(close_code::NORMAL.into(), b"load run over");
    }
    // Let the closes reach the gateway, every socket at once.
    let mut closing = JoinSet::new();
    for endpoint in endpoints {
        closing.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
        });
    }
    while closing.join_next().await.is_some() {}
    Ok(measured)
}

fn count(counts: &mut BTreeMap<String, u64>, why: &str) {
    *counts.entry(why.to_owned()).or_default() += 1;
}

async fn sleep_checking(duration: Duration, shutdown: &Shutdown) -> Result<()> {
    let deadline = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < deadline {
        shutdown.check()?;
        tokio::time::sleep_until(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(200)),
        )
        .await;
    }
    Ok(())
}

/// Registers one agent per session; returns the agents (`None` where registration failed,
/// counted in `measured`) and the client endpoints they share.
async fn register_all(
    gateway: &(SocketAddr, String),
    trust: &Trust,
    sessions: Vec<NewSession>,
    stage: &Arc<Stage>,
    measured: &mut Measured,
    shutdown: &Shutdown,
) -> Result<(Vec<Option<Agent>>, Vec<quinn::Endpoint>)> {
    let total = sessions.len();
    let endpoints = (0..total.div_ceil(AGENTS_PER_ENDPOINT))
        .map(|_| sos_transport::endpoint::client(gateway.0, trust))
        .collect::<Result<Vec<_>, _>>()
        .context("could not open the agents' client sockets")?;
    let limit = Arc::new(Semaphore::new(REGISTER_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for (index, session) in sessions.into_iter().enumerate() {
        let endpoint = endpoints[index / AGENTS_PER_ENDPOINT].clone();
        let (address, host) = gateway.clone();
        let limit = limit.clone();
        let stage = stage.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let agent =
                agent::register(&endpoint, (address, &host), session.pin, index, stage).await;
            (index, session.id, agent)
        });
    }
    let mut agents: Vec<Option<Agent>> = (0..total).map(|_| None).collect();
    let mut progress = Progress::new("agents registered", total);
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        shutdown.check()?;
        let (index, id, agent) = joined.context("a registering task failed")?;
        match agent {
            Ok(agent) if agent.session_id == id => agents[index] = Some(agent),
            Ok(agent) => count(
                &mut measured.register_failures,
                &format!("registered to another session ({})", agent.session_id),
            ),
            Err(failure) => count(&mut measured.register_failures, &failure.kind()),
        }
        done += 1;
        progress.update(done);
    }
    measured.registration_seconds = progress.seconds();
    Ok((agents, endpoints))
}

/// Grants and attaches every stream; returns the viewers' tasks.
///
/// The API calls go one after the other on this task (the `sos-desk` invitation writes to
/// an output that stays on one thread); waiting for consent and attaching run in parallel.
async fn open_streams(
    plan: &Plan,
    streamers: &[&Agent],
    technicians: &Arc<Vec<Technician>>,
    (gateway, trust): (&(SocketAddr, String), &Trust),
    stage: &Arc<Stage>,
    failures: &mut BTreeMap<String, u64>,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<JoinHandle<ViewerResult>>> {
    let viewers = plan.viewers_per_stream;
    let limit = Arc::new(Semaphore::new(STREAM_CONCURRENCY));
    let mut tasks = JoinSet::new();
    let mut done = 0;
    for (stream, agent) in streamers.iter().enumerate() {
        let (assignee, others) = technicians.split_at(1);
        let session = agent.session_id.clone();
        if let Err(e) = desk::open_for_viewing(&assignee[0], &others[..viewers - 1], &session).await
        {
            count(failures, &format!("{e:#}"));
            done += 1;
            progress(done);
            continue;
        }
        let limit = limit.clone();
        let technicians = technicians.clone();
        let state = agent.state.clone();
        let gateway = gateway.clone();
        let trust = trust.clone();
        let stage = stage.clone();
        let stalls = stream < plan.stalled;
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let mut watching = Vec::new();
            let mut failures = Vec::new();
            if tokio::time::timeout(CONSENT_TIMEOUT, state.granted.notified())
                .await
                .is_err()
            {
                failures.push(String::from("the agent was not asked for consent in time"));
                return (watching, failures);
            }
            for (viewer, technician) in technicians.iter().take(viewers).enumerate() {
                let seat = Seat {
                    stream,
                    viewer,
                    stalls: stalls && viewer + 1 == viewers,
                };
                let attached =
                    viewer::attach((gateway.0, &gateway.1), &trust, &technician.token, &session)
                        .await;
                match attached {
                    Ok(attached) => {
                        watching.push(tokio::spawn(viewer::watch(attached, seat, stage.clone())));
                    }
                    Err(why) => failures.push(why),
                }
            }
            (watching, failures)
        });
    }
    let mut handles = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (watching, why) = joined.context("a stream-opening task failed")?;
        handles.extend(watching);
        for why in why {
            count(failures, &why);
        }
        done += 1;
        progress(done);
    }
    Ok(handles)
}
