//! `sos-desk view ID`: the native viewer, a window showing the end user's screen that the
//! technician can work in.
//!
//! Three parts, three threads: the network task (tokio) receives frames and control
//! messages and sends input ([`session`]); the decoding thread puts each decoded picture in
//! a one-picture [`slot`] and wakes the window; the window (winit on the main thread,
//! softbuffer) shows the newest picture and turns mouse and keyboard into input events. The
//! window's logic is pure and tested without a window ([`viewer`], [`viewport`],
//! [`translate`], [`rates`], [`draw`]); [`app`] is the thin platform shell.
//!
//! Contract: never queues pictures for display (a late one is replaced, never shown after
//! a newer one); sends input only after control was granted, never after the session ended;
//! prints why the session ended (`Session ended: <reason>`) once the window closed.

pub mod app;
pub mod draw;
pub mod rates;
pub mod session;
pub mod slot;
pub mod translate;
pub mod viewer;
pub mod viewport;

use crate::Exit;
use crate::cli::ViewArgs;
use crate::commands::LoggedIn;
use crate::quic::{Attached, attach, close};
use crate::view::ViewError;
use crate::view::sink::Sink;
use app::{App, WindowSettings};
use session::{Notify, SessionEnd, ToWindow};
use slot::FrameSlot;
use sos_transport::wire::ViewerPurpose;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use viewer::Viewer;
use viewport::Size;
use winit::event_loop::EventLoop;

/// Input events waiting for the network task; far more than a person produces while the
/// network keeps up.
const INPUT_QUEUE: usize = 1024;

/// Runs the windowed `sos-desk view`. Must be called on the main thread (winit's rule) of
/// a multi-threaded tokio runtime (the network task runs on its workers meanwhile).
pub async fn run(
    config_path: &Path,
    args: &ViewArgs,
    out: &mut dyn Write,
) -> Result<Exit, crate::DeskError> {
    // The window system first: without a display there is no point in connecting.
    let event_loop = EventLoop::<ToWindow>::with_user_event()
        .build()
        .map_err(|e| ViewError::Window(e.to_string()))?;
    let logged_in = LoggedIn::load(config_path)?;
    let attached = tokio::time::timeout(
        Duration::from_secs(args.timeout),
        attach(
            &logged_in.api,
            &logged_in.trust,
            &logged_in.config.token,
            &args.id,
            ViewerPurpose::Watch,
        ),
    )
    .await
    .map_err(|_| ViewError::AttachTimedOut {
        seconds: args.timeout,
    })?
    .map_err(ViewError::from)?;
    let Attached {
        endpoint,
        connection,
        send,
        recv,
        acceptance,
        connected_at,
    } = attached;
    let shared = acceptance.display;
    tracing::debug!(?shared, control = acceptance.control, "attached");

    let slot = Arc::new(FrameSlot::new());
    let proxy = event_loop.create_proxy();
    let wake = proxy.clone();
    let sink = Sink::new(u64::MAX, None).showing(slot::output(slot.clone(), move || {
        wake.notify(ToWindow::Frame);
    }));
    let (input, input_rx) = mpsc::channel(INPUT_QUEUE);
    if let Some(monitor) = args.monitor {
        // The queue is empty: this fits.
        let _ = input.try_send(session::Outgoing::ShareMonitor(monitor));
    }
    let network = tokio::spawn(session::serve(
        send,
        recv,
        connection.clone(),
        sink,
        connected_at,
        input_rx,
        proxy,
    ));

    let remote = Size::new(shared.width, shared.height);
    let settings = WindowSettings {
        title: format!(
            "sosdesk viewer: session {}{}",
            args.id,
            if acceptance.control {
                ""
            } else {
                " (view only)"
            }
        ),
        size: args.window_size,
        fullscreen: args.fullscreen,
    };
    let viewer = Viewer::new(shared, remote, acceptance.control, args.fullscreen);
    let mut app = App::new(settings, viewer, remote, slot, input).map_err(ViewError::Window)?;
    // The event loop blocks this (main) thread; the network task runs on the workers.
    let ran = tokio::task::block_in_place(|| event_loop.run_app(&mut app));
    let failure = app.failure.take();
    // Closes the input queue: a session still running stops being served.
    drop(app);
    let end = network
        .await
        .unwrap_or_else(|e| SessionEnd::ConnectionLost(format!("the network task failed: {e}")));
    close(&endpoint, &connection).await;
    if let Some(failure) = failure {
        return Err(ViewError::Window(failure).into());
    }
    ran.map_err(|e| ViewError::Window(e.to_string()))?;
    match end {
        SessionEnd::Ended(_) => writeln!(out, "{end}")?,
        SessionEnd::WindowClosed => writeln!(
            out,
            "Viewer closed; the session is still open (`sos-desk session close {}` ends it)",
            args.id
        )?,
        SessionEnd::ConnectionLost(detail) => return Err(ViewError::ConnectionLost(detail).into()),
        SessionEnd::DecoderStopped(detail) => return Err(ViewError::DecoderThread(detail).into()),
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use crate::window::viewport::Size;
    use clap::Parser;

    #[test]
    fn the_window_has_its_own_options() {
        let parse = |line: &[&str]| {
            let mut full = vec!["sos-desk", "view", "s1"];
            full.extend_from_slice(line);
            Cli::try_parse_from(full).map(|cli| match cli.command {
                Command::View(args) => args,
                _ => panic!("not view"),
            })
        };
        let args = parse(&["--fullscreen", "--window-size", "800x600"]).unwrap();
        assert!(args.fullscreen && !args.headless);
        assert_eq!(args.window_size, Some(Size::new(800, 600)));
        for bad in ["800", "0x600", "800x", "axb", "99999x1"] {
            assert!(parse(&["--window-size", bad]).is_err(), "{bad}");
        }
        // Headless options make no sense in a window, and the other way round.
        assert!(parse(&["--frames", "5"]).is_err());
        assert!(parse(&["--record", "a.h264"]).is_err());
        assert!(parse(&["--headless", "--frames", "1", "--fullscreen"]).is_err());
    }
}
