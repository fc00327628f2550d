//! `sos-gateway serve`: opens the store, the TLS identity, the HTTPS API and the QUIC
//! relay, prints where they listen, and shuts down gracefully on SIGTERM or Ctrl-C.

use crate::api;
use crate::browser::webtransport::WebTransport;
use crate::domain::secrets::Keys;
use crate::relay;
use crate::service::{Desk, SystemClock, load_master_key};
use crate::store::Store;
use anyhow::Context;
use sos_transport::endpoint;
use sos_transport::tls::ServerIdentity;
use sos_transport::wire::{EndReason, close_code};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings of a running gateway.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data folder (database, keys, TLS identity).
    pub data: PathBuf,
    /// HTTPS listen address.
    pub listen: SocketAddr,
    /// QUIC listen address.
    pub quic: SocketAddr,
    /// WebTransport (browser viewer) listen address.
    pub webtransport: SocketAddr,
    /// Base URL for links; derived from `listen` when absent.
    pub public_url: Option<String>,
    /// Organisation shown to end users.
    pub organisation: String,
    /// Public keys of the licence authority.
    pub licence_keys: Vec<String>,
    /// Limits on PIN guessing.
    pub pin_limits: crate::domain::ratelimit::Limits,
    /// How long a lost end-user app may come back and keep the end user's grant.
    pub resume_window: std::time::Duration,
}

/// Runs the gateway until a shutdown signal.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data)
        .with_context(|| format!("cannot create data folder {}", config.data.display()))?;
    let mut names = vec!["localhost".to_string()];
    if !config.listen.ip().is_unspecified() {
        names.push(config.listen.ip().to_string());
    }
    let identity = ServerIdentity::load_or_generate(&config.data, &names)?;
    let store = Store::open(&config.data)
        .with_context(|| format!("cannot open the database in {}", config.data.display()))?;
    let master = load_master_key(&config.data)?;
    let keys = Keys::from_master(&master);

    let quic = endpoint::server_with_reset_key(config.quic, &identity, &keys.quic_reset_key())?;
    let quic_addr = quic.local_addr()?;

    let tls = identity.server_config(&[b"http/1.1"])?;
    let handle = axum_server::Handle::new();
    let std_listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("cannot listen on {} (is the port in use?)", config.listen))?;
    std_listener.set_nonblocking(true)?;
    let https_addr = std_listener.local_addr()?;

    let host = if https_addr.ip().is_unspecified() {
        "localhost".to_string()
    } else {
        match https_addr {
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
            SocketAddr::V4(a) => a.ip().to_string(),
        }
    };
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("https://{host}:{}", https_addr.port()));
    let mut desk = Desk::new(
        store,
        keys,
        Arc::new(SystemClock),
        public_url,
        config.organisation.clone(),
        quic_addr.port(),
        config.licence_keys.clone(),
    )?;
    desk.pin_limiter =
        std::sync::Mutex::new(crate::domain::ratelimit::PinLimiter::new(config.pin_limits));
    desk.resume_window = config.resume_window;
    let desk = Arc::new(desk);
    match desk.licence_view() {
        Ok(l) if l.mode == "evaluation" => tracing::warn!(
            "no licence installed: evaluation mode ({} technician seats) until {}",
            l.seats,
            l.expires_at
        ),
        Ok(l) => {
            if let Some(problem) = l.problem {
                tracing::warn!("licence: {problem}");
            }
        }
        Err(e) => tracing::warn!("licence: {e}"),
    }

    let webtransport = Arc::new(WebTransport::bind(&desk, config.webtransport, names)?);
    let webtransport_addr = webtransport.local_addr();

    let app = api::router(desk.clone());
    let server = axum_server::from_tcp_rustls(
        std_listener,
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
    )
    .handle(handle.clone())
    .serve(app.into_make_service_with_connect_info::<SocketAddr>());
    let relay = tokio::spawn(relay::run(desk.clone(), quic.clone()));
    let browser = tokio::spawn(webtransport.clone().run(desk.clone()));

    println!("console: https://{host}:{}", https_addr.port());
    println!("quic: {quic_addr}");
    println!("webtransport: {webtransport_addr}");
    println!("cert-sha256: {}", identity.fingerprint());
    tracing::info!(https = %https_addr, quic = %quic_addr, webtransport = %webtransport_addr, "gateway started");

    let shutdown = {
        let handle = handle.clone();
        let desk = desk.clone();
        let quic = quic.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            desk.live.end_all(EndReason::GatewayShutdown);
            tokio::time::sleep(Duration::from_millis(300)).await;
            quic.close(close_code::SHUTDOWN.into(), b"gateway shutting down");
            // Accepting on a closed WebTransport endpoint is not possible: stop first.
            browser.abort();
            webtransport.close();
            handle.graceful_shutdown(Some(Duration::from_secs(5)));
        }
    };
    tokio::spawn(shutdown);
    server.await.context("HTTPS server failed")?;
    quic.wait_idle().await;
    relay.abort();
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
