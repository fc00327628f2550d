//! The measuring viewer (`cargo xtask bench-probe`, started by the bench): watches a
//! pipeline's output, hands every decoded picture to the [`Meter`], and writes what it
//! found as JSON.
//!
//! Two sources: a sosdesk session, watched exactly as `sos-desk view` does (the same
//! `sos-desk` library: login file, QUIC attach, receiving and decoding thread), and the
//! x264 peer, an ffmpeg decoding MPEG-TS from TCP into raw BGRA on its stdout.
//!
//! Contract: prints `measuring` when the first picture is decoded and `done` when the
//! window ends, so the bench samples the other processes' CPU over the same window; stops
//! its decoder child on every exit path.

use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sos_codec::DecodedFrame;
use sos_desk::commands::LoggedIn;
use sos_desk::quic::{close, greet};
use sos_desk::view::sink::{FrameFacts, FrameOutput, Sink};
use sos_desk::view::stream::watch;
use sos_transport::framing::{read_message, write_message};
use sos_transport::wire::{FromViewer, InputEvent, ToViewer, ViewerPurpose};

use super::meter::{Measurement, Meter, Picture, ProbeResult, ViewerCpu};
use super::scene::SceneKind;
use crate::signals::Shutdown;

/// The first picture must come within this.
const FIRST_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of the hidden `bench-probe` command.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The scene on the screen (for the PSNR reference).
    #[arg(long, value_enum)]
    pub scene: SceneKind,
    /// Seconds to measure, from the first decoded picture.
    #[arg(long)]
    pub seconds: f64,
    /// Where to write the JSON result.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// What to watch.
    #[command(subcommand)]
    pub source: Source,
}

/// What the probe watches.
#[derive(Debug, Subcommand)]
pub enum Source {
    /// A sosdesk session, through the gateway.
    Sosdesk {
        /// The `sos-desk` login file (from `sos-desk --config FILE login`).
        #[arg(long, value_name = "FILE")]
        desk_config: PathBuf,
        /// The session id.
        #[arg(long)]
        session: String,
        /// The gateway's QUIC address (or a forwarder in front of it).
        #[arg(long, value_name = "HOST:PORT")]
        quic: String,
        /// The gateway's own QUIC address, for the echo scene's typist (the byte-counting
        /// forwarder serves one client address only); `--quic` when absent.
        #[arg(long, value_name = "HOST:PORT")]
        typist_quic: Option<String>,
    },
    /// The x264 peer: MPEG-TS on a local TCP port, decoded by ffmpeg.
    X264 {
        /// The TCP port to listen on.
        #[arg(long)]
        port: u16,
        /// The picture size.
        #[arg(long, default_value = "1920x1080")]
        size: String,
    },
    /// The VNC peer: an RFB server (x11vnc), read with the bench's RFB client.
    Vnc {
        /// The server's (or a relay's) address.
        #[arg(long, value_name = "HOST:PORT")]
        address: String,
    },
}

/// Runs the probe and writes its result.
pub fn run(args: &ProbeArgs, shutdown: &Shutdown) -> Result<()> {
    let result = match &args.source {
        Source::Sosdesk {
            desk_config,
            session,
            quic,
            typist_quic,
        } => sosdesk(
            args,
            desk_config,
            session,
            quic,
            typist_quic.as_deref().unwrap_or(quic),
            shutdown,
        )?,
        Source::X264 { port, size } => x264(args, *port, size, shutdown)?,
        Source::Vnc { address } => vnc(args, address, shutdown)?,
    };
    let json = serde_json::to_vec(&result)?;
    std::fs::write(&args.out, json)
        .with_context(|| format!("could not write {}", args.out.display()))
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as u64)
        .unwrap_or(0)
}

fn sosdesk(
    args: &ProbeArgs,
    desk_config: &std::path::Path,
    session: &str,
    quic: &str,
    typist_quic: &str,
    shutdown: &Shutdown,
) -> Result<ProbeResult> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("could not start the probe's async runtime")?;
    let measurement = Measurement::start(args.scene, unix_micros() as f64 / 1000.0)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let viewer = runtime.spawn(view(
        desk_config.to_path_buf(),
        session.to_owned(),
        quic.to_owned(),
        measurement.meter.clone(),
        stopped,
    ));
    // The echo scene: a technician typing ten keys a second, on a connection of its own.
    let typist = (args.scene == SceneKind::Echo).then(|| {
        runtime.spawn(typist(
            desk_config.to_path_buf(),
            session.to_owned(),
            typist_quic.to_owned(),
            measurement.meter.clone(),
        ))
    });
    let finished = || viewer.is_finished() || typist.as_ref().is_some_and(|t| t.is_finished());
    let measured = measurement.run_window(
        args.seconds,
        FIRST_TIMEOUT,
        shutdown,
        &finished,
        ViewerCpu::ThisProcess,
    );
    let _ = stop.send(());
    let viewed = runtime
        .block_on(viewer)
        .context("the probe's viewer task failed")?;
    viewed?;
    if let Some(typist) = typist {
        if typist.is_finished() {
            runtime
                .block_on(typist)
                .context("the probe's typist task failed")??;
        } else {
            typist.abort();
        }
    }
    measured
}

/// Keys between two presses of the typist (ten a second, like the typing scene).
const KEY_INTERVAL: Duration = Duration::from_millis(100);

/// Sends a key every [`KEY_INTERVAL`] once the first picture arrived, as a technician
/// typing in the viewer would, and tells the meter when each left. Runs until aborted.
async fn typist(
    desk_config: PathBuf,
    session: String,
    quic: String,
    meter: Arc<Mutex<Meter>>,
) -> Result<()> {
    let logged_in = LoggedIn::load(&desk_config)?;
    let (_endpoint, connection) = sos_transport::endpoint::connect(&quic, &logged_in.trust).await?;
    let (mut send, mut recv) = connection
        .open_bi()
        .await
        .context("the gateway closed the typist's connection")?;
    let accepted = greet(
        &mut send,
        &mut recv,
        &logged_in.config.token,
        &session,
        ViewerPurpose::Input,
    )
    .await?;
    if !accepted.control {
        bail!("the end user did not allow control: the echo scene needs it");
    }
    // Results and the rest are read and dropped, so the gateway never waits on us.
    tokio::spawn(
        async move { while let Ok(Some(_)) = read_message::<_, ToViewer>(&mut recv).await {} },
    );
    let lock = || meter.lock().unwrap_or_else(PoisonError::into_inner);
    while !lock().started() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut tick = tokio::time::interval(KEY_INTERVAL);
    for seq in 1u64.. {
        tick.tick().await;
        if lock().is_closed() {
            return Ok(());
        }
        let key = FromViewer::Input {
            seq,
            event: InputEvent::Text("a".into()),
        };
        let sent_ms = unix_micros() as f64 / 1000.0;
        write_message(&mut send, &key).await?;
        lock().key_sent(sent_ms);
    }
    Ok(())
}

async fn view(
    desk_config: PathBuf,
    session: String,
    quic: String,
    meter: Arc<Mutex<Meter>>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<()> {
    let logged_in = LoggedIn::load(&desk_config)?;
    let (endpoint, connection) = sos_transport::endpoint::connect(&quic, &logged_in.trust).await?;
    let connected_at = tokio::time::Instant::now();
    let (mut send, mut recv) = connection
        .open_bi()
        .await
        .context("the gateway closed the connection")?;
    greet(
        &mut send,
        &mut recv,
        &logged_in.config.token,
        &session,
        ViewerPurpose::Watch,
    )
    .await?;
    let output = FrameOutput::new(move |frame: DecodedFrame, facts: FrameFacts| {
        let decoded_unix_micros = unix_micros();
        meter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .picture(&Picture {
                bgra: &frame.bgra,
                width: frame.width,
                height: frame.height,
                decoded_unix_micros,
                capture_to_decoded_ms: Some(facts.latency_ms),
                payload_total: facts.bytes_total,
            });
    });
    let sink = Sink::new(u64::MAX, None).showing(output);
    // The window ends the watching; this deadline is only a backstop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
    let outcome = tokio::select! {
        outcome = watch(send, recv, connection.clone(), sink, connected_at, deadline) => Some(outcome),
        _ = stop => None,
    };
    close(&endpoint, &connection).await;
    match outcome {
        None => Ok(()),
        Some(Ok(outcome)) => bail!(
            "the video stopped before the window ended: {:?}",
            outcome.end
        ),
        Some(Err(error)) => Err(error.into()),
    }
}

/// A child stopped (and reaped) on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _gone_already = self.0.kill();
        let _reaped = self.0.wait();
    }
}

fn x264(args: &ProbeArgs, port: u16, size: &str, shutdown: &Shutdown) -> Result<ProbeResult> {
    let Some((width, height)) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
    else {
        bail!("--size must be WIDTHxHEIGHT, not {size}");
    };
    let measurement = Measurement::start(args.scene, unix_micros() as f64 / 1000.0)?;
    let mut child = super::peers::decoder_command(port)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context(
            "could not start ffmpeg (the decoder of the x264 peer); run `cargo xtask setup`",
        )?;
    let stdout = child.stdout.take();
    let child = Reaped(child);
    let pid = child.0.id();
    let Some(stdout) = stdout else {
        bail!("internal: ffmpeg's stdout is not a pipe");
    };
    println!("listening");
    let meter = measurement.meter.clone();
    let frame_bytes = width as usize * height as usize * 4;
    let reader = std::thread::Builder::new()
        .name("bench-x264-read".into())
        .spawn(move || {
            let mut stdout = BufReader::with_capacity(frame_bytes, stdout);
            let mut bgra = vec![0_u8; frame_bytes];
            while stdout.read_exact(&mut bgra).is_ok() {
                peer_picture(&meter, &bgra, width, height);
            }
        })?;
    let finished = || reader.is_finished();
    // The viewer of this pipeline is the decoding ffmpeg alone: the probe's own reading
    // and code reading are not counted (for sosdesk they are, a slight handicap).
    let measured = measurement.run_window(
        args.seconds,
        FIRST_TIMEOUT,
        shutdown,
        &finished,
        ViewerCpu::Child(pid),
    );
    drop(child);
    let _ = reader.join();
    measured
}

fn vnc(args: &ProbeArgs, address: &str, shutdown: &Shutdown) -> Result<ProbeResult> {
    let measurement = Measurement::start(args.scene, unix_micros() as f64 / 1000.0)?;
    let stream = std::net::TcpStream::connect(address)
        .with_context(|| format!("could not connect to the VNC server at {address}"))?;
    stream.set_nodelay(true)?;
    // The reading thread ends on a read error; closing the socket at the end unblocks it.
    let closer = stream.try_clone()?;
    let mut client = super::vnc::Client::connect(stream)?;
    let meter = measurement.meter.clone();
    let reader = std::thread::Builder::new()
        .name("bench-vnc-read".into())
        .spawn(move || -> Result<()> {
            loop {
                client.next_update()?;
                peer_picture(&meter, &client.bgra, client.width, client.height);
            }
        })?;
    let finished = || reader.is_finished();
    // The viewer is this process: the RFB client decodes here (the code reading too, as
    // for sosdesk).
    let measured = measurement.run_window(
        args.seconds,
        FIRST_TIMEOUT,
        shutdown,
        &finished,
        ViewerCpu::ThisProcess,
    );
    let _ = closer.shutdown(std::net::Shutdown::Both);
    match reader.join() {
        Ok(Err(error)) if measured.is_err() => Err(error.context("the VNC client stopped")),
        _ => measured,
    }
}

/// Hands a peer's decoded picture to the meter, stamped now (peers send no capture time).
fn peer_picture(meter: &Mutex<Meter>, bgra: &[u8], width: u32, height: u32) {
    let decoded_unix_micros = unix_micros();
    meter
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .picture(&Picture {
            bgra,
            width,
            height,
            decoded_unix_micros,
            capture_to_decoded_ms: None,
            payload_total: 0,
        });
}
